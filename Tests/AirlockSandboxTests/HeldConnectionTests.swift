import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Held connections end to end (`[network] unknown = "hold"`): a real sandbox in proxy mode, curl
/// inside it, the real queue and two approvers signing with ssh-keygen.
///
/// Where the upstream lives: the proxy never opens a loopback or private address on `unknown`'s
/// authority (only an allow rule naming the host does, and a named host is not held), so a held
/// test upstream must have an ordinary address. Each test makes a network namespace of its own
/// holding only `lo`, with 198.51.100.7 (TEST-NET-2, documentation only) added to that `lo`; the
/// upstreams and airlock (so its proxy) run inside it (`ip netns exec`). Nothing of the host's
/// network changes, and the address is reachable from nowhere else. Needs root, as `ip netns` does.
@Suite(.serialized, .enabled(if: geteuid() == 0, "a network namespace of the test's own needs root"))
struct HeldConnectionTests {
    let signOff = SignOffTests()
    static let address = "198.51.100.7"

    /// The namespace and the upstreams in it: HTTP on 8080 (GET: a file; POST: echoes the body)
    /// and HTTPS on 8443 (a certificate of the test's own for the address).
    final class Upstream: @unchecked Sendable {
        let namespace: String
        let server: Subprocess
        let certificate: String
        let httpPort = 8080
        let httpsPort = 8443

        init(scratch: String) throws {
            namespace = "airlock-hold-" + String(UUID().uuidString.prefix(8)).lowercased()
            for argv in [["netns", "add", namespace], ["-n", namespace, "link", "set", "lo", "up"],
                         ["-n", namespace, "addr", "add", "\(HeldConnectionTests.address)/32", "dev", "lo"]] {
                let done = try Subprocess(["/usr/sbin/ip"] + argv, environment: ["PATH": "/usr/sbin:/usr/bin:/bin"],
                                          directory: scratch).wait(timeout: 10)
                guard done.status == 0 else { throw HarnessError("ip \(argv.joined(separator: " ")): \(done)") }
            }
            certificate = scratch + "/upstream.pem"
            let key = scratch + "/upstream.key"
            let made = try Subprocess(["/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                                       "-subj", "/CN=\(HeldConnectionTests.address)",
                                       "-addext", "subjectAltName=IP:\(HeldConnectionTests.address)",
                                       "-keyout", key, "-out", certificate],
                                      environment: ["PATH": "/usr/bin:/bin"], directory: scratch).wait(timeout: 30)
            guard made.status == 0 else { throw HarnessError("openssl: \(made)") }
            chmod(certificate, 0o644)
            let script = """
                import http.server, ssl, sys, threading
                class Handler(http.server.BaseHTTPRequestHandler):
                    def reply(self, body):
                        self.send_response(200)
                        self.send_header("Content-Length", str(len(body)))
                        self.end_headers()
                        self.wfile.write(body)
                    def do_GET(self):
                        self.reply(b"hello through airlock\\n")
                    def do_POST(self):
                        self.reply(b"echo: " + self.rfile.read(int(self.headers["Content-Length"])) + b"\\n")
                address = sys.argv[1]
                plain = http.server.ThreadingHTTPServer((address, 8080), Handler)
                secure = http.server.ThreadingHTTPServer((address, 8443), Handler)
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                context.load_cert_chain(sys.argv[2], sys.argv[3])
                secure.socket = context.wrap_socket(secure.socket, server_side=True)
                threading.Thread(target=secure.serve_forever, daemon=True).start()
                print("serving", flush=True)
                plain.serve_forever()
                """
            server = try Subprocess(["/usr/sbin/ip", "netns", "exec", namespace, "/usr/bin/python3", "-c", script,
                                     HeldConnectionTests.address, certificate, key],
                                    environment: ["PATH": "/usr/bin:/bin"], directory: scratch)
            guard waitUntil(timeout: 20, { self.server.currentStdout().contains("serving") }) else {
                throw HarnessError("the upstream did not start: \(server.poll().map(\.description) ?? server.currentStderr())")
            }
        }

        deinit {
            server.send(SIGKILL)
            _ = server.wait(timeout: 5)
            _ = try? Subprocess(["/usr/sbin/ip", "netns", "del", namespace], environment: ["PATH": "/usr/sbin:/usr/bin:/bin"],
                                directory: "/").wait(timeout: 10)
        }

        /// `airlock ARGS` inside the namespace, as the configuration's user.
        func startAirlock(_ fixture: Fixture, _ args: [String]) throws -> Subprocess {
            try Subprocess(["/usr/sbin/ip", "netns", "exec", namespace] + asUser(fixture.config.user, [try Binaries.airlock()] + args),
                           environment: fixture.environment(), directory: fixture.workspace)
        }
    }

    /// The test's world: fixture, approvers, upstream, and a profile in proxy mode holding every
    /// host no rule names.
    func world(_ config: SandboxConfig) throws -> (Fixture, SignOffTests.Approvers, Upstream, String) {
        let fixture = try Fixture(config)
        let approvers = try SignOffTests.Approvers(in: fixture.root)
        let upstream = try Upstream(scratch: fixture.root)
        try FileManager.default.copyItem(atPath: upstream.certificate, toPath: fixture.workspace + "/upstream.pem")
        if let user = config.user { chown(fixture.workspace + "/upstream.pem", user, user) }
        let profile = fixture.root + "/hold.toml"
        try fixture.write(profile, """
            extends = "default"
            [sandbox]
            network = "proxy"
            [network]
            unknown = "hold"
            """)
        return (fixture, approvers, upstream, profile)
    }

    func agent(_ fixture: Fixture, _ approvers: SignOffTests.Approvers, _ upstream: Upstream, profile: String,
               wait: String, _ script: String) throws -> Subprocess {
        try upstream.startAirlock(fixture, fixture.runArguments(
            ["/bin/sh", "-c", script],
            options: ["--profile", profile, "--approvers", approvers.allowedSigners, "--wait", wait]))
    }

    func rows(_ fixture: Fixture, _ approvers: SignOffTests.Approvers) throws -> [[String: Any]] {
        let listed = try signOff.queueCLI(fixture, approvers, ["queue", "list", "--json"])
        return (try? JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]]) ?? []
    }

    /// Waits until request `id` is in `state`.
    func waitForState(_ fixture: Fixture, _ approvers: SignOffTests.Approvers, _ id: String, _ state: String) throws -> [String: Any]? {
        let deadline = Date().addingTimeInterval(15)
        while Date() < deadline {
            if let row = try rows(fixture, approvers).first(where: { $0["id"] as? String == id }), row["state"] as? String == state {
                return row
            }
            usleep(100_000)
        }
        return nil
    }

    @Test("a connection to a host no rule names is held as a connect request; two approvals let it through, body and all; later connections to that host and port need no new request; another port is asked again; a held loopback host is refused at once",
          arguments: SandboxConfig.all)
    func approvedConnectionsGoThrough(config: SandboxConfig) throws {
        let (fixture, approvers, upstream, profile) = try world(config)
        let a = Self.address
        let script = """
            curl -sS -d payload-\(fixture.unique) http://\(a):8080/echo; echo "first=$?"
            curl -sS http://\(a):8080/hello.txt; echo "again=$?"
            curl -sS --cacert upstream.pem https://\(a):8443/hello.txt; echo "tls=$?"
            curl -s --noproxy '' -w ' %{http_code}\\n' http://127.0.0.1:8080/; echo "loopback=$?"
            """
        let agent = try agent(fixture, approvers, upstream, profile: profile, wait: "60s", script)
        guard let held = try signOff.heldOrKill(fixture, approvers, agent) else { return }
        let id = try #require(held["id"] as? String)
        #expect(held["kind"] as? String == "connect" && held["host"] as? String == a && held["port"] as? Int == 8080, "\(held)")
        #expect(held["rule"] as? String == "unknown = hold", "\(held)")
        let shown = try signOff.queueCLI(fixture, approvers, ["queue", "show", id])
        #expect(shown.stdout.contains("operation: connect \(a):8080"), "\(shown)")
        #expect(shown.stdout.contains("destination: \(a):8080, until: the sandbox ends"), "\(shown)")
        #expect(agent.poll() == nil, "the agent went on before the approval")
        for name in ["alice", "bob"] { #expect(try signOff.approve(fixture, approvers, id, as: name).status == 0) }
        // The HTTPS connection goes to another port: a request of its own.
        let tls = try #require(try signOff.waitForHeld(fixture, approvers, excluding: [id]), "\(agent.poll().map(\.description) ?? "")")
        let tlsID = try #require(tls["id"] as? String)
        #expect(tls["kind"] as? String == "connect" && tls["port"] as? Int == 8443, "\(tls)")
        for name in ["alice", "bob"] { #expect(try signOff.approve(fixture, approvers, tlsID, as: name).status == 0) }
        let outcome = agent.wait(timeout: 60)
        #expect(outcome.lines.contains("echo: payload-\(fixture.unique)"), "the held request's body did not arrive\n\(outcome)")
        #expect(outcome.lines.contains("first=0") && outcome.lines.contains("again=0") && outcome.lines.contains("tls=0"), "\(outcome)")
        #expect(outcome.lines.filter { $0 == "hello through airlock" }.count == 2, "\(outcome)")
        #expect(outcome.lines.contains { $0.hasPrefix("airlock: ") && $0.contains("127.0.0.1:8080") && $0.contains("loopback") }, "\(outcome)")
        #expect(outcome.lines.contains(" 403"), "\(outcome)")
        let all = try rows(fixture, approvers)
        #expect(all.count == 2, "a connection made a second request, or the loopback host was put to the approvers\n\(all)")
        #expect(all.allSatisfy { $0["state"] as? String == "resolved" }, "\(all)")
        let log = try String(contentsOfFile: fixture.home + "/.local/state/airlock/network.jsonl", encoding: .utf8)
        #expect(log.contains(#""decision":"hold""#) && log.contains("request \(id) approved"), "\(log)")
    }

    @Test("a held connection whose client gives up is cancelled, 'the client closed the connection'; the next is a new request, and a deny answers it with a 403 naming the request, who denied and why",
          arguments: SandboxConfig.all)
    func clientGivingUpCancelsAndADenyRefuses(config: SandboxConfig) throws {
        let (fixture, approvers, upstream, profile) = try world(config)
        let a = Self.address
        let script = """
            curl -sS --max-time 2 http://\(a):8080/hello.txt; echo "gave up=$?"
            while [ ! -e go ]; do sleep 0.1; done
            curl -s -w ' %{http_code}\\n' http://\(a):8080/hello.txt; echo "denied=$?"
            """
        let agent = try agent(fixture, approvers, upstream, profile: profile, wait: "60s", script)
        guard let first = try signOff.heldOrKill(fixture, approvers, agent) else { return }
        let firstID = try #require(first["id"] as? String)
        let cancelled = try waitForState(fixture, approvers, firstID, "cancelled")
        #expect(cancelled?["cancel_reason"] as? String == "the client closed the connection", "\(String(describing: cancelled))")
        try fixture.write(fixture.workspace + "/go", "")
        let second = try #require(try signOff.waitForHeld(fixture, approvers, excluding: [firstID]), "\(agent.poll().map(\.description) ?? "")")
        let id = try #require(second["id"] as? String)
        let denied = try signOff.queueCLI(fixture, approvers, ["deny", id, "--key", approvers.key("alice"), "--reason", "not this host"])
        #expect(denied.status == 0, "\(denied)")
        let outcome = agent.wait(timeout: 30)
        #expect(outcome.lines.contains { $0.hasPrefix("gave up=") && $0 != "gave up=0" }, "\(outcome)")
        // The 403's body, then curl's status code on a line of its own.
        let denial = "airlock: DENIED request \(id) by alice: not this host: connect \(a):8080: the connection was refused."
        #expect(outcome.lines.firstIndex(of: denial).map { outcome.lines.dropFirst($0 + 1).first == " 403" } == true, "\(outcome)")
        #expect(!outcome.lines.contains("hello through airlock"), "\(outcome)")
        // The deny was answered, and the answer written down (a resolve line settles the request).
        let resolved = try waitForState(fixture, approvers, id, "resolved")
        let all = try rows(fixture, approvers)
        #expect(resolved != nil, "\(all)")
    }

    @Test("a held connection not approved within --wait gets a 403 saying its request stays pending, and made again after two approvals goes through without a new request",
          arguments: SandboxConfig.all)
    func waitOverThenRetryAfterApproval(config: SandboxConfig) throws {
        let (fixture, approvers, upstream, profile) = try world(config)
        let a = Self.address
        let script = """
            curl -s -w ' %{http_code}\\n' http://\(a):8080/hello.txt; echo "first=$?"
            while [ ! -e go ]; do sleep 0.1; done
            curl -sS http://\(a):8080/hello.txt; echo "second=$?"
            """
        let started = Date()
        let agent = try agent(fixture, approvers, upstream, profile: profile, wait: "2s", script)
        guard let held = try signOff.heldOrKill(fixture, approvers, agent) else { return }
        let id = try #require(held["id"] as? String)
        let refusedBy = Date().addingTimeInterval(15)
        while Date() < refusedBy, !agent.currentStdout().contains("first=") { usleep(100_000) }
        #expect(Date().timeIntervalSince(started) < 15, "the held connection was not refused after its wait")
        #expect(try waitForState(fixture, approvers, id, "pending") != nil, "the request did not stay pending")
        for name in ["alice", "bob"] { #expect(try signOff.approve(fixture, approvers, id, as: name).status == 0) }
        try fixture.write(fixture.workspace + "/go", "")
        let outcome = agent.wait(timeout: 30)
        let refusal = try #require(outcome.lines.first { $0.hasPrefix("airlock: NOT APPROVED YET: request \(id) has 0/2 approvals: connect \(a):8080") }, "\(outcome)")
        #expect(refusal.contains("The request stays open until ") && refusal.hasSuffix("once it is approved, the same connection made again goes through."), "\(refusal)")
        #expect(outcome.lines.contains(" 403"), "\(outcome)")
        #expect(outcome.lines.contains("hello through airlock") && outcome.lines.contains("second=0"), "\(outcome)")
        let all = try rows(fixture, approvers)
        #expect(all.count == 1 && all.first?["state"] as? String == "resolved", "\(all)")
    }
}
