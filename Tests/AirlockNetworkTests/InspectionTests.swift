import AirlockCloud
import AirlockNetwork
import AirlockPolicy
import Crypto
import Foundation
import Logging
import NIOCore
import Testing
import X509

/// A scratch directory removed on deinit.
final class Scratch {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("airlock-tls-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// An HTTP/1.1 keep-alive HTTPS server (python3) with a certificate for `localhost` from a test
/// CA of its own (the `upstream_ca` of the tests), answering every request with one line naming
/// the method, path, Host and body length it received.
final class KeepAliveHTTPSServer {
    let scratch: Scratch
    let process = Process()
    let port: Int
    var caPath: String { scratch.path + "/test-ca.pem" }

    init() throws {
        scratch = try Scratch()
        let dir = scratch.path
        for step in [
            ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
             "-subj", "/CN=Airlock test upstream CA", "-keyout", dir + "/test-ca.key", "-out", dir + "/test-ca.pem"],
            ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=localhost",
             "-keyout", dir + "/server.key", "-out", dir + "/server.csr"],
            ["x509", "-req", "-in", dir + "/server.csr", "-CA", dir + "/test-ca.pem", "-CAkey", dir + "/test-ca.key",
             "-CAcreateserial", "-days", "1", "-extfile", dir + "/ext.cnf", "-out", dir + "/server.pem"],
        ] {
            try "subjectAltName=DNS:localhost\n".write(toFile: dir + "/ext.cnf", atomically: true, encoding: .utf8)
            let made = try run("/usr/bin/openssl", step)
            guard made.status == 0 else { throw TestFailure("openssl \(step[0]): \(made.stderr)") }
        }
        let script = """
            import http.server, ssl, sys, time
            class Handler(http.server.BaseHTTPRequestHandler):
                protocol_version = "HTTP/1.1"
                def answer(self):
                    length = int(self.headers.get("Content-Length") or 0)
                    received = b""
                    while len(received) < length:
                        received += self.rfile.read(min(16384, length - len(received)))
                        if self.path.startswith("/slow"):
                            time.sleep(0.005)
                    auth = "".join(" auth=" + value for value in self.headers.get_all("Authorization") or [])
                    body = ("%s %s host=%s body=%d%s\\n" % (self.command, self.path, self.headers.get("Host"), len(received), auth)).encode()
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                do_GET = do_POST = do_PUT = do_DELETE = answer
                def log_message(self, *args):
                    pass
            server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(sys.argv[1], sys.argv[2])
            server.socket = context.wrap_socket(server.socket, server_side=True)
            print(server.server_address[1], flush=True)
            server.serve_forever()
            """
        port = try startPythonServer(process, script: script, in: dir, arguments: [dir + "/server.pem", dir + "/server.key"])
    }

    func stop() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}

/// A proxy that inspects `localhost` with a CA made in a scratch state directory.
final class InspectingProxy {
    let scratch: Scratch
    let fixture: ProxyFixture
    let tls: InspectionTLS
    let bundle: String

    init(allow: [String] = ["localhost"], inspect: [String] = ["localhost"], upstreamCA: [String],
         api: ((InspectionTLS) -> APIGate)? = nil, routes: [String: UpstreamRoute] = [:]) throws {
        scratch = try Scratch()
        let policy = try NetworkPolicy(allow: allow, inspect: inspect)
        let ca = try InspectionCA.loadOrCreate(domains: policy.inspectedDomains, stateDirectory: scratch.path + "/state")
        tls = try InspectionTLS(ca: ca, upstreamCA: upstreamCA)
        bundle = try tls.writeBundle(upstreamCA: [], in: scratch.path + "/cache")
        fixture = try ProxyFixture(policy: policy, inspection: tls, api: api?(tls), routes: routes)
    }

    func stop() { fixture.stop() }
}

@Suite(.serialized) struct InspectionTests {
    @Test func theCAIsMadeOnceWithCriticalNameConstraintsExcludingEveryAddressAndAKeyOnlyItsOwnerReads() throws {
        let scratch = try Scratch()
        let state = scratch.path + "/state"
        let first = try InspectionCA.loadOrCreate(domains: ["amazonaws.com", "googleapis.com"], stateDirectory: state)
        let again = try InspectionCA.loadOrCreate(domains: ["googleapis.com", "amazonaws.com"], stateDirectory: state)
        #expect(first.certificatePEM == again.certificatePEM)
        let other = try InspectionCA.loadOrCreate(domains: ["amazonaws.com"], stateDirectory: state)
        #expect(other.certificatePEM != first.certificatePEM)

        var info = stat()
        #expect(stat(first.directory + "/ca-key.pem", &info) == 0)
        #expect(info.st_mode & 0o777 == 0o600)
        #expect(stat(state + "/ca", &info) == 0)
        #expect(info.st_mode & 0o777 == 0o700)

        let constraints = try #require(first.certificate.extensions.first { $0.oid == .X509ExtensionID.nameConstraints })
        #expect(constraints.critical)
        try first.certificatePEM.write(toFile: scratch.path + "/ca.pem", atomically: true, encoding: .utf8)
        let text = try run("/usr/bin/openssl", ["x509", "-in", scratch.path + "/ca.pem", "-noout", "-text"]).stdout
        #expect(text.contains("DNS:amazonaws.com"))
        #expect(text.contains("DNS:googleapis.com"))
        #expect(text.contains("IP:0.0.0.0/0.0.0.0"))
        #expect(text.contains("IP:0:0:0:0:0:0:0:0/0:0:0:0:0:0:0:0"))
        #expect(text.contains("CA:TRUE, pathlen:0"))

        // A key someone else could read is not used.
        chmod(first.directory + "/ca-key.pem", 0o644)
        #expect(throws: InspectionCAError.self) {
            _ = try InspectionCA.loadOrCreate(domains: ["amazonaws.com", "googleapis.com"], stateDirectory: state)
        }
    }

    @Test func concurrentFirstUsesAgreeOnOneCA() async throws {
        let scratch = try Scratch()
        let state = scratch.path + "/state"
        let pems = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<8 {
                group.addTask { try InspectionCA.loadOrCreate(domains: ["example.org"], stateDirectory: state).certificatePEM }
            }
            return try await group.reduce(into: Set<String>()) { $0.insert($1) }
        }
        #expect(pems.count == 1)
        let left = try FileManager.default.contentsOfDirectory(atPath: state + "/ca")
        #expect(left.count == 1, "\(left)")
    }

    @Test func aLeafForAnInspectedHostVerifiesAndOneOutsideTheConstraintsIsRefusedByOpenSSL() throws {
        let scratch = try Scratch()
        let ca = try InspectionCA.loadOrCreate(domains: ["amazonaws.com"], stateDirectory: scratch.path + "/state")
        try ca.certificatePEM.write(toFile: scratch.path + "/ca.pem", atomically: true, encoding: .utf8)
        let key = P256.Signing.PrivateKey()
        for (host, ok) in [("cloudformation.us-east-1.amazonaws.com", true), ("amazonaws.com", true),
                           ("github.com", false), ("amazonaws.com.evil.example", false)] {
            let leaf = try ca.issue(host: host, key: key.publicKey)
            let path = scratch.path + "/\(host).pem"
            try leaf.serializeAsPEM().pemString.write(toFile: path, atomically: true, encoding: .utf8)
            let verified = try run("/usr/bin/openssl", ["verify", "-CAfile", scratch.path + "/ca.pem", "-verify_hostname", host, path])
            if ok {
                #expect(verified.status == 0, "\(host): \(verified.stdout) \(verified.stderr)")
            } else {
                #expect(verified.status != 0, "\(host) verified")
                #expect((verified.stdout + verified.stderr).contains("permitted subtree violation"), "\(verified.stderr)")
            }
        }
    }

    @Test func inspectedRequestsAreSeenInClearOverOneKeptAliveConnectionAndLogged() throws {
        let server = try KeepAliveHTTPSServer()
        defer { server.stop() }
        let proxy = try InspectingProxy(upstreamCA: [server.caPath])
        defer { proxy.stop() }
        let base = "https://localhost:\(server.port)"
        let result = try run("/usr/bin/curl", [
            "-sS", "--max-time", "20", "-x", "http://127.0.0.1:\(proxy.fixture.port)", "--cacert", proxy.bundle,
            "-w", "connects=%{num_connects}\n", base + "/one", base + "/two?x=1",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("GET /one host=localhost:\(server.port) body=0"))
        #expect(result.stdout.contains("GET /two?x=1 host=localhost:\(server.port) body=0"))
        #expect(result.stdout.contains("connects=1\nGET") && result.stdout.hasSuffix("connects=0\n"), "\(result.stdout)")

        let lines = try proxy.fixture.logLines(atLeast: 2)
        let requests = lines.filter { $0["kind"] as? String == "request" }
        #expect(requests.map { $0["path"] as? String } == ["/one", "/two?x=1"])
        #expect(requests.allSatisfy { $0["inspected"] as? Bool == true && $0["status"] as? Int == 200 && $0["method"] as? String == "GET" })
    }

    @Test func aLargeBodyGoesThroughAnInspectedTunnelWhole() throws {
        let server = try KeepAliveHTTPSServer()
        defer { server.stop() }
        let proxy = try InspectingProxy(upstreamCA: [server.caPath])
        defer { proxy.stop() }
        let body = proxy.scratch.path + "/body"
        try Data(repeating: 0x61, count: 4 * 1024 * 1024).write(to: URL(fileURLWithPath: body))
        let result = try run("/usr/bin/curl", [
            "-sS", "--max-time", "30", "-x", "http://127.0.0.1:\(proxy.fixture.port)", "--cacert", proxy.bundle,
            "-X", "PUT", "--data-binary", "@" + body, "https://localhost:\(server.port)/big",
        ])
        #expect(result.stdout == "PUT /big host=localhost:\(server.port) body=\(4 * 1024 * 1024)\n", "\(result.stderr)")
    }

    @Test func anUploadToAnUpstreamThatReadsSlowlyIsPacedNotStalled() throws {
        let server = try KeepAliveHTTPSServer()
        defer { server.stop() }
        let proxy = try InspectingProxy(upstreamCA: [server.caPath])
        defer { proxy.stop() }
        let body = proxy.scratch.path + "/body"
        try Data(repeating: 0x62, count: 4 * 1024 * 1024).write(to: URL(fileURLWithPath: body))
        let result = try run("/usr/bin/curl", [
            "-sS", "--max-time", "60", "-x", "http://127.0.0.1:\(proxy.fixture.port)", "--cacert", proxy.bundle,
            "-X", "PUT", "--data-binary", "@" + body, "https://localhost:\(server.port)/slow",
        ])
        #expect(result.stdout == "PUT /slow host=localhost:\(server.port) body=\(4 * 1024 * 1024)\n", "\(result.stderr)")
    }

    @Test func aRequestNamingAnotherHostInsideTheTunnelGets421() throws {
        let server = try KeepAliveHTTPSServer()
        defer { server.stop() }
        let proxy = try InspectingProxy(upstreamCA: [server.caPath])
        defer { proxy.stop() }
        let result = try run("/usr/bin/curl", [
            "-sS", "--max-time", "20", "-x", "http://127.0.0.1:\(proxy.fixture.port)", "--cacert", proxy.bundle,
            "-H", "Host: evil.example", "-w", "\n%{http_code}", "https://localhost:\(server.port)/",
        ])
        #expect(result.stdout.hasSuffix("\n421"), "\(result.stdout) \(result.stderr)")
        #expect(result.stdout.contains("airlock: the tunnel was opened to localhost:\(server.port) but the request names Host \"evil.example\""))
    }

    @Test func anUpstreamWhoseCertificateNoTrustedRootVouchesForIsRefusedAt502() throws {
        let server = try KeepAliveHTTPSServer()
        defer { server.stop() }
        let proxy = try InspectingProxy(upstreamCA: [])
        defer { proxy.stop() }
        let result = try run("/usr/bin/curl", [
            "-sS", "--max-time", "20", "-x", "http://127.0.0.1:\(proxy.fixture.port)", "--cacert", proxy.bundle,
            "https://localhost:\(server.port)/",
        ])
        #expect(result.status != 0)
        #expect(result.stderr.contains("502"), "\(result.stderr)")
        let lines = try proxy.fixture.logLines(atLeast: 1)
        #expect(lines.first?["rule"] as? String == "upstream tls", "\(lines)")
    }

    @Test func aHostThatIsNotInspectedIsTunnelledUntouched() throws {
        let server = try KeepAliveHTTPSServer()
        defer { server.stop() }
        let proxy = try InspectingProxy(inspect: ["*.amazonaws.com"], upstreamCA: [])
        defer { proxy.stop() }
        // The client sees the upstream's own certificate, which only the test CA vouches for.
        let result = try run("/usr/bin/curl", [
            "-sS", "--max-time", "20", "-x", "http://127.0.0.1:\(proxy.fixture.port)", "--cacert", server.caPath,
            "https://localhost:\(server.port)/plain",
        ])
        #expect(result.stdout == "GET /plain host=localhost:\(server.port) body=0\n", "\(result.stderr)")
        let lines = try proxy.fixture.logLines(atLeast: 1)
        #expect(lines.allSatisfy { $0["kind"] as? String == "connect" && $0["inspected"] == nil }, "\(lines)")
    }

    @Test func aRoutedGoogleCloudRequestGetsTheOperatorsTokenInPlaceOfThePlaceholderAndOtherTokensAreRefused() throws {
        let server = try KeepAliveHTTPSServer()
        defer { server.stop() }
        // storage.googleapis.com is routed to the test server (as the broker routes its Kubernetes
        // names), so the request is classified as Google Cloud's without leaving the machine.
        let route = try UpstreamRoute(host: "localhost", port: server.port,
                                      certificateAuthority: Array(try Data(contentsOf: URL(fileURLWithPath: server.caPath))))
        let broker = CredentialBroker(bearer: ["gcp": BearerToken(token: "ya29.REAL", placeholder: "PH", source: "GOOGLE_OAUTH_ACCESS_TOKEN")])
        let proxy = try InspectingProxy(
            allow: ["storage.googleapis.com"], inspect: ["*.googleapis.com"], upstreamCA: [],
            api: { _ in APIGate(classifier: APIClassifier(), rules: APIRuleMatcher(rules: []), broker: broker, signOff: nil) },
            routes: ["storage.googleapis.com": route])
        defer { proxy.stop() }
        let url = "https://storage.googleapis.com/storage/v1/b/logs/o/a.txt"
        let swapped = try curl(proxyPort: proxy.fixture.port, url, extra: ["--cacert", proxy.bundle, "-H", "Authorization: Bearer PH"])
        #expect(swapped.status == 200 && swapped.body == "GET /storage/v1/b/logs/o/a.txt host=storage.googleapis.com body=0 auth=Bearer ya29.REAL\n",
                "\(swapped)")
        let anonymous = try curl(proxyPort: proxy.fixture.port, url, extra: ["--cacert", proxy.bundle])
        #expect(anonymous.body == "GET /storage/v1/b/logs/o/a.txt host=storage.googleapis.com body=0\n", "\(anonymous)")
        let foreign = try curl(proxyPort: proxy.fixture.port, url, extra: ["--cacert", proxy.bundle, "-H", "Authorization: Bearer ya29.agents-own"])
        #expect(foreign.status == 403 && foreign.body.contains("airlock: gcp storage get") && foreign.body.contains("other than the placeholder token"),
                "\(foreign)")
    }

    @Test func anAbsurdSNIGetsTheLeafOfTheTunnelsHostAndTheProxyServesTheNextClient() throws {
        let server = try KeepAliveHTTPSServer()
        defer { server.stop() }
        let proxy = try InspectingProxy(upstreamCA: [server.caPath])
        defer { proxy.stop() }
        let absurd = String(repeating: "x", count: 63) + "." + String(repeating: "y", count: 63) + ".invalid"
        let handshake = try run("/usr/bin/openssl", [
            "s_client", "-proxy", "127.0.0.1:\(proxy.fixture.port)", "-connect", "localhost:\(server.port)",
            "-servername", absurd, "-CAfile", proxy.bundle, "-verify_hostname", "localhost", "-brief",
        ])
        #expect(handshake.stderr.contains("Verification: OK"), "\(handshake.stderr)")
        let result = try run("/usr/bin/curl", [
            "-sS", "--max-time", "20", "-x", "http://127.0.0.1:\(proxy.fixture.port)", "--cacert", proxy.bundle,
            "https://localhost:\(server.port)/after",
        ])
        #expect(result.stdout == "GET /after host=localhost:\(server.port) body=0\n", "\(result.stderr)")
    }

    @Test(arguments: ["*", "10.0.0.1", "[::1]", "*.com", "localhost:443"])
    func inspectRefusesPatternsAConstrainedCACannotServe(pattern: String) {
        if pattern == "localhost:443" {
            #expect(throws: Never.self) { _ = try HostRule(inspecting: pattern) }
        } else {
            #expect(throws: NetworkPolicyError.self) { _ = try HostRule(inspecting: pattern) }
        }
    }
}
