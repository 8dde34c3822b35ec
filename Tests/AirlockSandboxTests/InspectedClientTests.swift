import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Real clients inside a real sandbox in proxy mode, each reaching an HTTPS server of the test's own
/// on the host's loopback through the inspecting proxy. The server is `localhost`, allowed and
/// inspected, its certificate from a test CA the profile names as `upstream_ca`. The clients get
/// nothing but the environment airlock sets (the proxy variables, the CA bundle under every name),
/// less NO_PROXY, which names loopback as the sandbox's own; the network log must show each
/// request in clear.
@Suite(.serialized)
struct InspectedClientTests {
    @Test("curl and Python's urllib reach an inspected host through the proxy, each request logged in clear; the certificate the proxy presents is good for the tunnel's host only; a client ignoring the proxy variables gets no connection",
          arguments: SandboxConfig.all)
    func curlAndURLLib(config: SandboxConfig) throws {
        let f = try Fixture(config)
        let ca = try TestCA.make(in: f.root + "/upstream-ca")
        let server = try HTTPSFileServer(f, certificate: try ca.issue(for: "DNS:localhost", in: f.root + "/upstream-ca"))
        let p = server.port
        let script = """
            unset NO_PROXY no_proxy
            curl -sS --max-time 60 'https://localhost:\(p)/hello.txt?client=curl'
            /usr/bin/python3 -c 'import sys, urllib.request; print("urllib:", urllib.request.urlopen(sys.argv[1], timeout=60).read().decode().strip())' 'https://localhost:\(p)/hello.txt?client=urllib'
            curl -sS --max-time 60 --connect-to github.com:\(p):localhost:\(p) 'https://github.com:\(p)/hello.txt?client=other-name'; echo "other name: $?"
            curl -sS --max-time 60 --noproxy '*' 'https://localhost:\(p)/hello.txt?client=direct'; echo "direct: $?"
            """
        let outcome = try f.run(["/bin/sh", "-c", script], options: ["--profile", try inspectingProfile(f, upstreamCA: ca)], timeout: 180)
        #expect(outcome.lines.filter { $0 == "hello through airlock" }.count == 1, "curl\n\(outcome)")
        #expect(outcome.lines.contains("urllib: hello through airlock"), "\(outcome)")
        // curl asked for github.com inside a tunnel to localhost: the proxy's leaf names the
        // tunnel's host whatever the SNI says, and curl checks the name (60: the peer's certificate).
        #expect(outcome.lines.contains("other name: 60"), "\(outcome)")
        #expect(outcome.stderr.contains("no alternative certificate subject name matches target host name 'github.com'"), "\(outcome)")
        // No route but the proxy: ECONNREFUSED in the namespaces backend's own network namespace,
        // EACCES from Landlock's TCP rules in the other (curl: 7, could not connect).
        #expect(outcome.lines.contains("direct: 7"), "\(outcome)")

        let log = try LoggedTraffic(f)
        #expect(log.inspected(port: p) == ["GET /hello.txt?client=curl", "GET /hello.txt?client=urllib"], "\(log)")
        #expect(log.requestsNotInspected(port: p).isEmpty, "\(log)")
        #expect(server.requests.contains("GET /hello.txt?client=curl 200"), "\(server.requests)")
        #expect(!server.requests.contains("client=direct") && !server.requests.contains("client=other-name"), "\(server.requests)")
    }

    @Test("requests and pip (installing a wheel from an HTTPS simple index) work unchanged through the inspecting proxy, each request logged in clear",
          .enabled(if: ProjectVenv.exists, ProjectVenv.missing), arguments: SandboxConfig.all)
    func requestsAndPip(config: SandboxConfig) throws {
        let f = try Fixture(config)
        try ProjectVenv.check(for: config)
        let ca = try TestCA.make(in: f.root + "/upstream-ca")
        let server = try HTTPSFileServer(f, certificate: try ca.issue(for: "DNS:localhost", in: f.root + "/upstream-ca"))
        let wheel = try SimpleIndex.make(in: server.directory, scratch: f.root)
        let p = server.port, python = ProjectVenv.python
        let script = """
            unset NO_PROXY no_proxy
            \(python) -c 'import sys, requests; r = requests.get(sys.argv[1], timeout=60); print("requests:", r.status_code, r.text.strip())' 'https://localhost:\(p)/hello.txt?client=requests'
            \(python) -m pip install --no-cache-dir --disable-pip-version-check --index-url https://localhost:\(p)/simple/ --target site \(SimpleIndex.project)
            PYTHONPATH=site \(python) -c 'import \(SimpleIndex.module) as m; print("imported:", m.MESSAGE)'
            """
        let outcome = try f.run(["/bin/sh", "-c", script], options: ["--profile", try inspectingProfile(f, upstreamCA: ca)], timeout: 300)
        #expect(outcome.lines.contains("requests: 200 hello through airlock"), "\(outcome)")
        #expect(outcome.lines.contains("Successfully installed \(SimpleIndex.project)-1.0"), "\(outcome)")
        #expect(outcome.lines.contains("imported: \(SimpleIndex.message)"), "\(outcome)")
        #expect(outcome.status == 0, "\(outcome)")

        let log = try LoggedTraffic(f)
        let seen = log.inspected(port: p)
        #expect(seen.contains("GET /hello.txt?client=requests"), "\(log)")
        #expect(seen.contains("GET /simple/\(SimpleIndex.project)/"), "\(log)")
        #expect(seen.contains("GET /packages/\(wheel)"), "\(log)")
        #expect(log.requestsNotInspected(port: p).isEmpty, "\(log)")
    }

    @Test("git clones over HTTPS (the dumb protocol) through the inspecting proxy, each request logged in clear",
          arguments: SandboxConfig.all)
    func gitClone(config: SandboxConfig) throws {
        let f = try Fixture(config)
        let ca = try TestCA.make(in: f.root + "/upstream-ca")
        let server = try HTTPSFileServer(f, certificate: try ca.issue(for: "DNS:localhost", in: f.root + "/upstream-ca"))
        try makeBareRepository(at: server.directory + "/repo.git", scratch: f.root)
        let script = """
            unset NO_PROXY no_proxy
            git clone -q https://localhost:\(server.port)/repo.git clone && cat clone/README && git -C clone log --format='commit: %s'
            """
        let outcome = try f.run(["/bin/sh", "-c", script], options: ["--profile", try inspectingProfile(f, upstreamCA: ca)], timeout: 180)
        #expect(outcome.lines == ["cloned through airlock", "commit: the one commit"], "\(outcome)")
        #expect(outcome.status == 0, "\(outcome)")

        let log = try LoggedTraffic(f)
        let seen = log.inspected(port: server.port)
        #expect(seen.first == "GET /repo.git/info/refs?service=git-upload-pack", "\(log)")
        #expect(seen.contains("GET /repo.git/HEAD"), "\(log)")
        #expect(seen.contains { $0.hasPrefix("GET /repo.git/objects/") }, "\(log)")
        #expect(log.requestsNotInspected(port: server.port).isEmpty, "\(log)")
    }

    @Test("Node's https.get and fetch ignore the proxy variables before Node 24 and so get no connection; Node's https over a CONNECT it asks the proxy for itself works, trusting NODE_EXTRA_CA_CERTS, and is logged in clear",
          arguments: SandboxConfig.all)
    func node(config: SandboxConfig) throws {
        let f = try Fixture(config)
        let ca = try TestCA.make(in: f.root + "/upstream-ca")
        let server = try HTTPSFileServer(f, certificate: try ca.issue(for: "DNS:localhost", in: f.root + "/upstream-ca"))
        let version = try runOnHost(["/usr/bin/node", "--version"], in: f.root).stdout
        let major = Int(version.dropFirst().prefix { $0.isNumber }) ?? 0
        try f.write(f.workspace + "/client.js", NodeClient.script)
        let outcome = try f.run(["/bin/sh", "-c", "unset NO_PROXY no_proxy; node client.js \(server.port)"],
                                options: ["--profile", try inspectingProfile(f, upstreamCA: ca)], timeout: 180)
        let log = try LoggedTraffic(f)
        let seen = log.inspected(port: server.port)
        if major >= 24 {
            // NODE_USE_ENV_PROXY=1, which airlock sets, makes both use the proxy.
            #expect(outcome.lines.contains("https.get: 200 hello through airlock"), "Node \(version)\n\(outcome)")
            #expect(outcome.lines.contains("fetch: 200 hello through airlock"), "Node \(version)\n\(outcome)")
        } else {
            let refused = config.backend == .namespaces ? "ECONNREFUSED" : "EACCES"
            #expect(outcome.lines.contains("https.get: error \(refused)"), "Node \(version)\n\(outcome)")
            #expect(outcome.lines.contains("fetch: error \(refused)"), "Node \(version)\n\(outcome)")
            #expect(!seen.contains { $0.contains("client=node-https-get") || $0.contains("client=node-fetch") }, "\(log)")
            #expect(!server.requests.contains("client=node-https-get") && !server.requests.contains("client=node-fetch"), "\(server.requests)")
        }
        #expect(outcome.lines.contains("https over CONNECT: 200 hello through airlock"), "\(outcome)")
        #expect(seen.contains("GET /hello.txt?client=node-connect"), "\(log)")
        #expect(log.requestsNotInspected(port: server.port).isEmpty, "\(log)")
    }

    @Test("awscli and boto3 work against moto's server behind TLS through the inspecting proxy, each S3, SQS and CloudFormation call logged in clear",
          .enabled(if: ProjectVenv.exists, ProjectVenv.missing), arguments: SandboxConfig.all)
    func awsCLIAndBoto3(config: SandboxConfig) throws {
        let f = try Fixture(config)
        try ProjectVenv.check(for: config)
        let ca = try TestCA.make(in: f.root + "/upstream-ca")
        let moto = try MotoServer(certificate: try ca.issue(for: "DNS:localhost", in: f.root + "/upstream-ca"), scratch: f.root)
        try f.write(f.workspace + "/payload.txt", "payload through airlock\n")
        try f.write(f.workspace + "/cloud.py", """
            import json, boto3
            sqs = boto3.client("sqs")
            sqs.create_queue(QueueName="from-boto3")
            cloudformation = boto3.client("cloudformation")
            template = {"Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "from-cloudformation"}}}}
            cloudformation.create_stack(StackName="airlock-stack", TemplateBody=json.dumps(template))
            stack = cloudformation.describe_stacks(StackName="airlock-stack")["Stacks"][0]
            print("stack:", stack["StackName"], stack["StackStatus"])
            for url in sorted(sqs.list_queues()["QueueUrls"]):
                print("queue:", url.rsplit("/", 1)[-1])

            """)
        // No credentials in the command: airlock reads the fixture's ~/.aws/credentials outside
        // the sandbox, gives the agent placeholder keys, and signs each request again itself.
        let aws = ProjectVenv.bin("aws")
        let script = """
            unset NO_PROXY no_proxy
            export AWS_DEFAULT_REGION=us-east-1 AWS_ENDPOINT_URL=https://localhost:\(moto.port)
            \(aws) s3 mb s3://airlock-bucket
            \(aws) s3 cp --only-show-errors payload.txt s3://airlock-bucket/dir/payload.txt && echo uploaded
            \(aws) s3 ls s3://airlock-bucket/dir/
            \(aws) s3 cp s3://airlock-bucket/dir/payload.txt -
            \(ProjectVenv.python) cloud.py
            """
        let outcome = try f.run(["/bin/sh", "-c", script], options: ["--profile", try inspectingProfile(f, upstreamCA: ca)], timeout: 420)
        #expect(outcome.lines.contains("make_bucket: airlock-bucket"), "\(outcome)")
        #expect(outcome.lines.contains("uploaded"), "\(outcome)")
        #expect(outcome.lines.contains { $0.hasSuffix(" 24 payload.txt") }, "\(outcome)")
        #expect(outcome.lines.contains("payload through airlock"), "\(outcome)")
        #expect(outcome.lines.contains("stack: airlock-stack CREATE_COMPLETE"), "\(outcome)")
        #expect(outcome.lines.contains("queue: from-boto3") && outcome.lines.contains("queue: from-cloudformation"), "\(outcome)")
        #expect(outcome.status == 0, "\(outcome)")

        let log = try LoggedTraffic(f)
        let seen = log.inspected(port: moto.port)
        // S3 by path (a custom endpoint); the query services by POST /.
        #expect(seen.contains("PUT /airlock-bucket"), "\(log)")
        #expect(seen.contains("PUT /airlock-bucket/dir/payload.txt"), "\(log)")
        #expect(seen.contains { $0.hasPrefix("GET /airlock-bucket?list-type=2&prefix=dir%2F") }, "\(log)")
        #expect(seen.contains("GET /airlock-bucket/dir/payload.txt"), "\(log)")
        // create_queue, create_stack, describe_stacks, list_queues.
        #expect(seen.filter { $0 == "POST /" }.count >= 4, "\(log)")
        #expect(log.requestsNotInspected(port: moto.port).isEmpty, "\(log)")
    }

    @Test("a certificate from Airlock's own CA for a name outside its constraints (a host it does not inspect, an address) is refused by curl with the sandbox's CA bundle; one for an inspected domain is accepted",
          arguments: SandboxConfig.all)
    func nameConstraints(config: SandboxConfig) throws {
        let f = try Fixture(config)
        // The shipped inspect list only (cloud APIs): localhost and 127.0.0.1 are tunnelled
        // untouched, so curl sees the servers' own certificates.
        let profile = f.root + "/constraints.toml"
        try f.write(profile, """
            extends = "default"
            [sandbox]
            network = "proxy"
            [network]
            allow = ["localhost", "127.0.0.1"]
            """)
        let first = try f.run(["/bin/sh", "-c", "echo \"$SSL_CERT_FILE\""], options: ["--profile", profile], timeout: 120)
        let bundlePath = try #require(first.lines.first.flatMap { $0.isEmpty ? nil : $0 }, "\(first)")
        let bundle = try String(contentsOfFile: bundlePath, encoding: .utf8)
        // Its key, as if it had leaked: the test (root) reads it from airlock's state directory.
        let state = config.asNobody ? f.home + "/.local/state/airlock" : "/var/lib/airlock"
        let directories = try FileManager.default.contentsOfDirectory(atPath: state + "/ca").map { state + "/ca/" + $0 }
        let airlockCA = try #require(directories.first { dir in
            (try? String(contentsOfFile: dir + "/ca.pem", encoding: .utf8)).map { bundle.contains($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? false
        }, "no CA under \(state)/ca is in \(bundlePath)")
        let ca = TestCA(certificate: airlockCA + "/ca.pem", key: airlockCA + "/ca-key.pem")
        let leaves = f.root + "/leaves"
        let outside = try HTTPSFileServer(f, certificate: try ca.issue(for: "DNS:localhost", in: leaves))
        let address = try HTTPSFileServer(f, certificate: try ca.issue(for: "IP:127.0.0.1", in: leaves))
        let inside = try HTTPSFileServer(f, certificate: try ca.issue(for: "DNS:s3.amazonaws.com", in: leaves))
        let script = """
            unset NO_PROXY no_proxy
            curl -sS --max-time 60 https://localhost:\(outside.port)/hello.txt; echo "outside: $?"
            curl -sS --max-time 60 https://127.0.0.1:\(address.port)/hello.txt; echo "address: $?"
            curl -sS --max-time 60 --connect-to s3.amazonaws.com:\(inside.port):localhost:\(inside.port) https://s3.amazonaws.com:\(inside.port)/hello.txt; echo "inside: $?"
            """
        let outcome = try f.run(["/bin/sh", "-c", script], options: ["--profile", profile], timeout: 180)
        #expect(outcome.lines.contains("outside: 60") && outcome.lines.contains("address: 60"), "\(outcome)")
        #expect(outcome.stderr.contains("SSL certificate problem: permitted subtree violation"), "\(outcome)")
        #expect(outcome.stderr.contains("SSL certificate problem: excluded subtree violation"), "\(outcome)")
        #expect(outcome.lines.contains("hello through airlock") && outcome.lines.contains("inside: 0"), "\(outcome)")
        #expect(outside.requests.isEmpty && address.requests.isEmpty, "\(outside.requests)\(address.requests)")
        #expect(inside.requests.contains("GET /hello.txt 200"), "\(inside.requests)")
    }
}

/// The tools' virtualenv ($AIRLOCK_VENV, else /var/tmp/airlock-venv-UID, as scripts/lib/deps.sh's
/// `airlock_venv` says): scripts/test puts the Python clients there (requests, awscli, boto3, moto).
/// Not in the checkout, whose /tmp or home directory the sandbox may not show.
enum ProjectVenv {
    static let path = ProcessInfo.processInfo.environment["AIRLOCK_VENV"].flatMap { $0.isEmpty ? nil : $0 }
        ?? "/var/tmp/airlock-venv-\(geteuid())"
    static var python: String { path + "/bin/python" }
    static func bin(_ name: String) -> String { path + "/bin/" + name }
    static var exists: Bool { FileManager.default.isExecutableFile(atPath: python) }
    static let missing: Comment = "no virtualenv at \(path): scripts/test makes it (ensure_python_tools in scripts/lib/deps.sh)"

    /// Throws unless the tools are installed and, for uid 65534, every directory above the venv is
    /// searchable and every file in it readable by others (the sandbox sees the host read-only).
    static func check(for config: SandboxConfig) throws {
        for tool in ["aws", "moto_server"] where !FileManager.default.isExecutableFile(atPath: bin(tool)) {
            throw HarnessError("\(bin(tool)) is missing: run scripts/test, which installs the pinned Python tools into \(path)")
        }
        guard config.asNobody else { return }
        var dir = (path as NSString).deletingLastPathComponent
        while dir != "/" {
            var st = stat()
            guard stat(dir, &st) == 0, st.st_mode & 0o001 != 0 else {
                throw HarnessError("\(dir) is not searchable by others, so uid 65534 cannot use \(path)")
            }
            dir = (dir as NSString).deletingLastPathComponent
        }
        let unreadable = try runOnHost(["/usr/bin/find", path, "(", "!", "-perm", "-o=r", "-o", "-type", "d", "!", "-perm", "-o=x", ")",
                                        "-print", "-quit"], in: "/").stdout
        guard unreadable.isEmpty else {
            throw HarnessError("\(unreadable.trimmingCharacters(in: .newlines)) is not readable by others, so uid 65534 cannot use \(path)")
        }
    }
}

/// A certificate authority and the leaves it signs, made with openssl: a test CA of its own (the
/// upstreams' `upstream_ca`), or Airlock's, given its files.
struct TestCA {
    let certificate: String
    let key: String

    /// A new P-256 CA in `dir`, its certificate readable by anyone (airlock reads it as the
    /// configuration's user).
    static func make(in dir: String) throws -> TestCA {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        chmod(dir, 0o755)
        let ca = TestCA(certificate: dir + "/test-ca.pem", key: dir + "/test-ca.key")
        try runOnHost(["/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
                      "-subj", "/CN=Airlock tests upstream CA", "-keyout", ca.key, "-out", ca.certificate], in: dir)
        chmod(ca.certificate, 0o644)
        return ca
    }

    /// A leaf for `subjectAltName` ("DNS:localhost", "IP:127.0.0.1"), its files in `dir`. Nothing
    /// is written beside the CA (a random serial, no serial file).
    func issue(for subjectAltName: String, in dir: String) throws -> (certificate: String, key: String) {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let name = subjectAltName.replacingOccurrences(of: ":", with: "-")
        let leaf = (certificate: dir + "/\(name).pem", key: dir + "/\(name).key")
        try "subjectAltName=\(subjectAltName)\n".write(toFile: dir + "/\(name).ext", atomically: true, encoding: .utf8)
        try runOnHost(["/usr/bin/openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/O=Airlock tests",
                      "-keyout", leaf.key, "-out", dir + "/\(name).csr"], in: dir)
        try runOnHost(["/usr/bin/openssl", "x509", "-req", "-in", dir + "/\(name).csr", "-CA", certificate, "-CAkey", key,
                      "-set_serial", "0x" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(30),
                      "-days", "1", "-extfile", dir + "/\(name).ext", "-out", leaf.certificate], in: dir)
        return leaf
    }
}

/// The profile of these tests: proxy mode, `localhost` allowed and inspected, `ca` trusted upstream.
func inspectingProfile(_ f: Fixture, upstreamCA ca: TestCA) throws -> String {
    let path = f.root + "/inspecting.toml"
    try f.write(path, """
        extends = "default"
        [sandbox]
        network = "proxy"
        [network]
        allow = ["localhost"]
        inspect = ["localhost"]
        upstream_ca = ["\(ca.certificate)"]
        """)
    return path
}

/// python3's file server over HTTPS (HTTP/1.1, kept alive) on the host's 127.0.0.1, on a port the
/// kernel picks, serving a directory of its own that holds `hello.txt`; it writes each request
/// ("GET /path 200") on its stderr.
final class HTTPSFileServer {
    let directory: String
    let port: Int
    private let process: Subprocess

    static let script = """
        import functools, http.server, ssl, sys
        class Handler(http.server.SimpleHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            def log_request(self, code="-", size="-"):
                sys.stderr.write("request %s %s %s\\n" % (self.command, self.path, int(code)))
        directory, certificate, key = sys.argv[1:4]
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=directory))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certificate, key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        sys.stderr.write("listening on %d\\n" % server.server_address[1])
        server.serve_forever()
        """

    init(_ f: Fixture, certificate: (certificate: String, key: String)) throws {
        directory = try makeTemporaryDirectory(prefix: "www-", under: f.root)
        try "hello through airlock\n".write(toFile: directory + "/hello.txt", atomically: true, encoding: .utf8)
        let process = try Subprocess(["/usr/bin/python3", "-c", Self.script, directory, certificate.certificate, certificate.key],
                                     environment: ["PATH": "/usr/bin:/bin"], directory: f.root)
        self.process = process
        var port: Int?
        _ = waitUntil(timeout: 30) {
            port = process.currentStderr().split(separator: "\n").first.flatMap { Int($0.replacingOccurrences(of: "listening on ", with: "")) }
            return port != nil || process.poll() != nil
        }
        guard let port else { throw HarnessError("the HTTPS server did not start: \(process.currentStderr())") }
        self.port = port
    }

    /// The requests it has answered, one a line ("GET /path 200").
    var requests: String {
        process.currentStderr().split(separator: "\n").filter { $0.hasPrefix("request ") }.map { $0.dropFirst(8) }.joined(separator: "\n")
    }

    deinit {
        process.send(SIGKILL)
        _ = process.wait(timeout: 10)
    }
}

/// moto's server (every AWS service it mocks, on one port) over HTTPS on the host's 127.0.0.1.
final class MotoServer {
    let port: Int
    private let process: Subprocess

    init(certificate: (certificate: String, key: String), scratch: String) throws {
        let port = try ProxyClientTests.Upstreams.freePort()
        let process = try Subprocess([ProjectVenv.bin("moto_server"), "-H", "127.0.0.1", "-p", "\(port)",
                                      "--ssl-cert", certificate.certificate, "--ssl-key", certificate.key],
                                     environment: ["PATH": "/usr/bin:/bin", "HOME": scratch], directory: scratch)
        self.port = port
        self.process = process
        guard waitUntil(timeout: 120, { ProxyClientTests.Upstreams.accepts(port) || process.poll() != nil }),
              process.poll() == nil else {
            throw HarnessError("moto_server did not start on \(port): \(process.currentStderr())")
        }
    }

    deinit {
        process.send(SIGKILL)
        _ = process.wait(timeout: 10)
    }

    /// The last lines moto logged (a line per request it answered): for failure messages.
    func tail(_ count: Int = 20) -> String {
        process.currentStderr().split(separator: "\n").suffix(count).joined(separator: "\n")
    }
}

/// A PEP 503 simple index in a served directory: one project with one pure-Python wheel, built
/// here by writing the wheel's zip.
enum SimpleIndex {
    static let project = "airlock-probe-pkg"
    static let module = "airlock_probe_pkg"
    static let message = "installed through airlock"

    /// Writes `simple/` and `packages/` under `directory`; returns the wheel's file name.
    static func make(in directory: String, scratch: String) throws -> String {
        let script = """
            import base64, hashlib, os, sys, zipfile
            root, name, project, message = sys.argv[1:5]
            wheel = "%s-1.0-py3-none-any.whl" % name
            info = "%s-1.0.dist-info" % name
            files = {
                "%s/__init__.py" % name: ("MESSAGE = %r\\n" % message).encode(),
                info + "/METADATA": ("Metadata-Version: 2.1\\nName: %s\\nVersion: 1.0\\n" % project).encode(),
                info + "/WHEEL": b"Wheel-Version: 1.0\\nGenerator: airlock-tests\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n",
            }
            def digest(data):
                return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record = "".join("%s,%s,%d\\n" % (path, digest(data), len(data)) for path, data in files.items())
            files[info + "/RECORD"] = (record + info + "/RECORD,,\\n").encode()
            os.makedirs(root + "/packages")
            with zipfile.ZipFile(root + "/packages/" + wheel, "w") as archive:
                for path, data in files.items():
                    archive.writestr(path, data)
            sha256 = hashlib.sha256(open(root + "/packages/" + wheel, "rb").read()).hexdigest()
            os.makedirs(root + "/simple/" + project)
            with open(root + "/simple/index.html", "w") as index:
                index.write('<!DOCTYPE html><html><body><a href="%s/">%s</a></body></html>\\n' % (project, project))
            with open(root + "/simple/%s/index.html" % project, "w") as index:
                index.write('<!DOCTYPE html><html><body><a href="../../packages/%s#sha256=%s">%s</a></body></html>\\n' % (wheel, sha256, wheel))
            print(wheel)
            """
        let made = try runOnHost(["/usr/bin/python3", "-c", script, directory, module, project, message], in: scratch)
        return made.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// A bare repository at `path` with one commit (README), ready to be served as static files
/// (git update-server-info: the dumb HTTP protocol).
func makeBareRepository(at path: String, scratch: String) throws {
    let work = scratch + "/repository-source"
    let env = ["PATH": "/usr/bin:/bin", "HOME": scratch, "GIT_CONFIG_NOSYSTEM": "1"]
    try runOnHost(["/usr/bin/git", "init", "-q", "-b", "main", work], in: scratch, env: env)
    try "cloned through airlock\n".write(toFile: work + "/README", atomically: true, encoding: .utf8)
    try runOnHost(["/usr/bin/git", "add", "README"], in: work, env: env)
    try runOnHost(["/usr/bin/git", "-c", "user.name=Airlock tests", "-c", "user.email=tests@airlock.invalid", "commit", "-q", "-m", "the one commit"],
                 in: work, env: env)
    try runOnHost(["/usr/bin/git", "clone", "-q", "--bare", work, path], in: scratch, env: env)
    try runOnHost(["/usr/bin/git", "update-server-info"], in: path, env: env)
}

/// Node clients of the upstream on the port given as argument: `https.get` and `fetch` left to
/// Node's own handling of the proxy variables, then `https` over a tunnel it asks the proxy for
/// with CONNECT (HTTPS_PROXY), trusting what Node trusts (NODE_EXTRA_CA_CERTS included).
enum NodeClient {
    static let script = """
        const http = require("http"), https = require("https"), tls = require("tls");
        const port = Number(process.argv[2]);
        const url = (client) => `https://localhost:${port}/hello.txt?client=${client}`;
        function read(response, label, done) {
          let body = "";
          response.on("data", (chunk) => (body += chunk));
          response.on("end", () => { console.log(`${label}: ${response.statusCode} ${body.trim()}`); done(); });
        }
        function httpsGet() {
          return new Promise((done) => {
            https.get(url("node-https-get"), (response) => read(response, "https.get", done))
              .on("error", (error) => { console.log(`https.get: error ${error.code}`); done(); });
          });
        }
        async function viaFetch() {
          try {
            const response = await fetch(url("node-fetch"));
            console.log(`fetch: ${response.status} ${(await response.text()).trim()}`);
          } catch (error) {
            console.log(`fetch: error ${error.cause ? error.cause.code : error.message}`);
          }
        }
        function overConnect() {
          return new Promise((done) => {
            const proxy = new URL(process.env.HTTPS_PROXY);
            const connect = http.request({ host: proxy.hostname, port: proxy.port, method: "CONNECT",
                                           path: `localhost:${port}`, headers: { Host: `localhost:${port}` } });
            connect.on("connect", (response, socket) => {
              if (response.statusCode !== 200) { console.log(`CONNECT: ${response.statusCode}`); socket.destroy(); return done(); }
              https.get({ host: "localhost", port, path: "/hello.txt?client=node-connect",
                          createConnection: () => tls.connect({ socket, servername: "localhost" }) },
                        (response) => read(response, "https over CONNECT", () => { socket.destroy(); done(); }))
                .on("error", (error) => { console.log(`https over CONNECT: error ${error.code || error.message}`); done(); });
            });
            connect.on("error", (error) => { console.log(`CONNECT: error ${error.code}`); done(); });
            connect.end();
          });
        }
        (async () => { await httpsGet(); await viaFetch(); await overConnect(); })();

        """
}

/// The network log of a fixture's run (JSON Lines beside its queue).
struct LoggedTraffic: CustomStringConvertible {
    let entries: [[String: Any]]
    let text: String

    init(_ f: Fixture) throws {
        text = try String(contentsOfFile: f.home + "/.local/state/airlock/network.jsonl", encoding: .utf8)
        entries = text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    /// The requests to localhost:`port` the proxy saw in clear, as "METHOD PATH", in the order logged.
    func inspected(port: Int) -> [String] {
        requests(port: port).filter { $0["inspected"] as? Bool == true }.map { "\($0["method"] ?? "?") \($0["path"] ?? "?")" }
    }

    /// Requests to localhost:`port` logged without `"inspected": true`.
    func requestsNotInspected(port: Int) -> [[String: Any]] {
        requests(port: port).filter { $0["inspected"] as? Bool != true }
    }

    private func requests(port: Int) -> [[String: Any]] {
        entries.filter { $0["kind"] as? String == "request" && $0["host"] as? String == "localhost" && $0["port"] as? Int == port }
    }

    var description: String { "network log:\n" + text }
}

/// Runs `argv` on the host (outside any sandbox) as the test's user; throws unless it exits 0.
@discardableResult
func runOnHost(_ argv: [String], in directory: String, env: [String: String] = ["PATH": "/usr/bin:/bin"], timeout: Double = 120) throws -> Outcome {
    let outcome = try Subprocess(argv, environment: env, directory: directory).wait(timeout: timeout)
    guard outcome.status == 0 else { throw HarnessError("\(outcome)") }
    return outcome
}
