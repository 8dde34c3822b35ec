import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Real clients inside a real sandbox in proxy mode, against the tests' own servers on the host's
/// loopback (plain HTTP, and HTTPS with a certificate of the test's own): what gets through the
/// proxy, what it refuses and says why, and what it writes down.
@Suite(.serialized)
struct ProxyClientTests {
    /// python3's http.server (HTTP) and an ssl-wrapped one (HTTPS, a self-signed certificate for
    /// 127.0.0.1) serving `dir` on the host's loopback.
    final class Upstreams: @unchecked Sendable {
        let http: Subprocess
        let https: Subprocess
        let httpPort: Int
        let httpsPort: Int
        let certificate: String

        init(serving dir: String, scratch: String) throws {
            certificate = scratch + "/upstream.pem"
            let key = scratch + "/upstream.key"
            let made = try Subprocess(["/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                                       "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                                       "-keyout", key, "-out", certificate],
                                      environment: ["PATH": "/usr/bin:/bin"], directory: scratch).wait(timeout: 30)
            guard made.status == 0 else { throw HarnessError("openssl: \(made)") }
            chmod(certificate, 0o644)
            httpPort = try Self.freePort()
            httpsPort = try Self.freePort()
            http = try Subprocess(["/usr/bin/python3", "-m", "http.server", "\(httpPort)", "--bind", "127.0.0.1", "--directory", dir],
                                  environment: ["PATH": "/usr/bin:/bin"], directory: scratch)
            let script = """
                import http.server, ssl, functools, sys
                handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[2])
                server = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), handler)
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                context.load_cert_chain(sys.argv[3], sys.argv[4])
                server.socket = context.wrap_socket(server.socket, server_side=True)
                server.serve_forever()
                """
            https = try Subprocess(["/usr/bin/python3", "-c", script, "\(httpsPort)", dir, certificate, key],
                                   environment: ["PATH": "/usr/bin:/bin"], directory: scratch)
            for port in [httpPort, httpsPort] {
                guard waitUntil(timeout: 10, { Self.accepts(port) }) else { throw HarnessError("upstream on \(port) did not start") }
            }
        }

        deinit {
            http.send(SIGKILL)
            https.send(SIGKILL)
            _ = http.wait(timeout: 5)
            _ = https.wait(timeout: 5)
        }

        static func freePort() throws -> Int {
            let server = try LoopbackServer()
            return server.port // closed on return: free again, and unlikely to be taken in between
        }

        static func accepts(_ port: Int) -> Bool {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(fd) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
            address.sin_port = UInt16(port).bigEndian
            return withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
            }
        }
    }

    @Test("in proxy mode curl (HTTP and HTTPS through CONNECT) and Python's urllib reach an allowed host; a denied host and the metadata address get a refusal naming the rule; a direct connection fails; each connection is in the network log, which the agent cannot read",
          arguments: SandboxConfig.all)
    func clientsGoThroughTheProxy(config: SandboxConfig) throws {
        let f = try Fixture(config)
        try f.write(f.workspace + "/hello.txt", "hello through airlock\n")
        let upstreams = try Upstreams(serving: f.workspace, scratch: f.root)
        try FileManager.default.copyItem(atPath: upstreams.certificate, toPath: f.workspace + "/upstream.pem")
        if let user = config.user { chown(f.workspace + "/upstream.pem", user, user) }
        let profile = f.root + "/proxy.toml"
        try f.write(profile, """
            extends = "default"
            [sandbox]
            network = "proxy"
            [network]
            allow = ["127.0.0.1"]
            deny = ["*.example.com"]
            """)
        let log = f.home + "/.local/state/airlock/network.jsonl"
        let h = upstreams.httpPort, s = upstreams.httpsPort
        let script = """
            curl -s --noproxy '' http://127.0.0.1:\(h)/hello.txt
            curl -s --noproxy '' --cacert upstream.pem https://127.0.0.1:\(s)/hello.txt
            NO_PROXY= no_proxy= python3 -c 'import urllib.request; print("urllib:", urllib.request.urlopen("http://127.0.0.1:\(h)/hello.txt").read().decode().strip())'
            curl -s --noproxy '' -w ' %{http_code}\\n' http://www.example.com/
            curl -s --noproxy '' -w ' %{http_code}\\n' http://169.254.169.254/latest/meta-data/
            curl -s --max-time 5 http://127.0.0.1:\(h)/hello.txt; echo "direct: $?"
            cat \(log) >/dev/null 2>&1; echo "log read: $?"
            """
        let outcome = try f.run(["/bin/sh", "-c", script], options: ["--profile", profile], timeout: 60)
        let lines = outcome.lines
        #expect(lines.filter { $0 == "hello through airlock" }.count == 2, "HTTP and HTTPS through the proxy\n\(outcome)")
        #expect(lines.contains("urllib: hello through airlock"), "\(outcome)")
        // Each refusal: one line naming Airlock and the rule, then curl's status code.
        #expect(lines.contains { $0.hasPrefix("airlock: ") && $0.contains("refused by rule \"deny *.example.com\"") }, "\(outcome)")
        #expect(lines.contains { $0.hasPrefix("airlock: ") && $0.contains("169.254.169.254") && $0.contains("metadata") }, "\(outcome)")
        #expect(lines.filter { $0 == " 403" }.count == 2, "\(outcome)")
        #expect(lines.contains { $0.hasPrefix("direct: ") && $0 != "direct: 0" }, "a direct connection got through\n\(outcome)")
        #expect(lines.contains { $0.hasPrefix("log read: ") && $0 != "log read: 0" }, "the agent read the network log\n\(outcome)")
        #expect(outcome.status == 0, "\(outcome)")

        let entries = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
            .compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(entries.contains { $0["kind"] as? String == "request" && $0["port"] as? Int == h && $0["status"] as? Int == 200 }, "\(entries)")
        #expect(entries.contains { $0["kind"] as? String == "connect" && $0["port"] as? Int == s && $0["decision"] as? String == "allow" }, "\(entries)")
        #expect(entries.contains { $0["host"] as? String == "www.example.com" && $0["decision"] as? String == "deny" }, "\(entries)")
    }

    @Test("the inspection CA's key is not readable in the sandbox by any path, even under a profile that hides nothing; the CA bundle is, and holds no key",
          arguments: SandboxConfig.all)
    func theCAKeyIsHiddenFromTheAgent(config: SandboxConfig) throws {
        let f = try Fixture(config)
        let profile = f.root + "/inspect-only.toml"
        try f.write(profile, """
            [sandbox]
            network = "proxy"
            [network]
            inspect = ["example.org"]
            """)
        let made = try f.run(["/bin/true"], options: ["--profile", profile], timeout: 60)
        #expect(made.status == 0, "\(made)")
        let state = config.asNobody ? f.home + "/.local/state/airlock" : "/var/lib/airlock"
        let digest = try Subprocess(["/bin/sh", "-c", "printf example.org | sha256sum | cut -c1-16"],
                                    environment: ["PATH": "/usr/bin:/bin"], directory: f.root).wait(timeout: 10).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let directory = state + "/ca/" + digest
        #expect(FileManager.default.fileExists(atPath: directory + "/ca-key.pem"), "no CA at \(directory)")
        let script = """
            cat \(directory)/ca-key.pem >/dev/null 2>&1; echo "key: $?"
            cat /proc/self/root\(directory)/ca-key.pem >/dev/null 2>&1; echo "via root: $?"
            cat /proc/1/root\(directory)/ca-key.pem >/dev/null 2>&1; echo "via init: $?"
            ls -A \(directory) 2>/dev/null | wc -l | sed 's/^/entries: /'
            grep -c 'BEGIN CERTIFICATE' "$SSL_CERT_FILE" | sed 's/^/certificates: /'
            grep -c 'PRIVATE KEY' "$SSL_CERT_FILE" | sed 's/^/keys: /'
            """
        let outcome = try f.run(["/bin/sh", "-c", script], options: ["--profile", profile], timeout: 60)
        let lines = outcome.lines
        for name in ["key", "via root", "via init"] {
            #expect(lines.contains { $0.hasPrefix(name + ": ") && $0 != name + ": 0" }, "\(name)\n\(outcome)")
        }
        // The namespaces backend mounts an empty stand-in over it; Landlock's rules, which grant
        // listing on the way to a hidden path, let its names show but never its contents.
        if config.backend == .namespaces { #expect(lines.contains("entries: 0"), "\(outcome)") }
        #expect(lines.contains { $0.hasPrefix("certificates: ") && $0 != "certificates: 0" }, "\(outcome)")
        #expect(lines.contains("keys: 0"), "\(outcome)")
    }
}
