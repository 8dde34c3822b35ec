import Foundation
import Synchronization
import Testing

/// `airlock serve` end to end: the real binary serving on loopback, its queue in a real PostgreSQL
/// (`PostgresServer`), curl as the sandbox hosts' and approvers' HTTP client, `airlock approve`
/// signing with ssh-keygen, and `airlock queue verify` checking the exported chain offline.
@Suite(.serialized)
struct ServiceTests {
    /// A running service with its own database: one host (owned by carol), two approvers' tokens
    /// (alice, bob) and their keys, mallory's unlisted key, carol's listed key.
    final class Service: @unchecked Sendable {
        let root: String
        let database: String
        let approvers: SignOffTests.Approvers
        let process: Subprocess
        let url: String
        var tokens: [String: String] = [:]

        /// `options`: more of `airlock serve`'s options.
        init(options: [String] = []) throws {
            let server = try PostgresServer.shared.get()
            root = try makeTemporaryDirectory(prefix: "airlock-serve-")
            database = try server.database()
            approvers = try SignOffTests.Approvers(in: root, extra: ["carol"])
            // uid 65534's sandboxes read the approvers file too.
            for dir in [root, approvers.dir] { chmod(dir, 0o755) }
            chmod(approvers.allowedSigners, 0o644)
            for (name, kind) in [("laptop", "host"), ("alice", "approver"), ("bob", "approver")] {
                let added = try Self.cli(["serve", kind == "host" ? "add-host" : "add-approver", name, "--database", database]
                                         + (kind == "host" ? ["--owner", "carol"] : []), in: root)
                guard added.status == 0, let token = added.lines.last, token.hasPrefix("airlock_") else { throw HarnessError("add \(name): \(added)") }
                tokens[name] = token
                try token.write(toFile: root + "/\(name).token", atomically: true, encoding: .utf8)
            }
            process = try Subprocess([try Binaries.airlock(), "serve", "--database", database, "--listen", "127.0.0.1:0",
                                      "--approvers", approvers.allowedSigners] + options,
                                     environment: ["PATH": "/usr/bin:/bin", "HOME": root], directory: root)
            var listening: String?
            for _ in 0..<100 where listening == nil {
                listening = process.currentStdout().split(separator: "\n").first { $0.hasPrefix("airlock serve: listening on ") }
                    .flatMap { $0.split(separator: " ").dropFirst(4).first.map(String.init)?.trimmingCharacters(in: CharacterSet(charactersIn: ",")) }
                if listening == nil { usleep(100_000) }
                if let ended = process.poll() { throw HarnessError("airlock serve ended: \(ended)") }
            }
            guard let listening else { throw HarnessError("airlock serve did not start: \(process.currentStderr())") }
            url = listening
        }

        deinit {
            process.send(SIGTERM)
            _ = process.wait(timeout: 10)
            removeTree(root)
        }

        static func cli(_ args: [String], in root: String) throws -> Outcome {
            try airlock(args, env: ["PATH": "/usr/bin:/bin", "HOME": root], cwd: root, timeout: 60)
        }

        /// `airlock ARGS --queue URL --token-file (name's) --approvers FILE`.
        func queueCLI(_ args: [String], as name: String = "alice") throws -> Outcome {
            try Self.cli(args + ["--queue", url, "--token-file", root + "/\(name).token", "--approvers", approvers.allowedSigners], in: root)
        }

        /// curl: the status and the body.
        func curl(_ method: String, _ path: String, token: String?, body: String? = nil, bodyFile: String? = nil) throws -> (status: Int, body: String) {
            var argv = ["/usr/bin/curl", "-sS", "-X", method, "-o", "-", "-w", "\n%{http_code}", url + path]
            if let token { argv += ["-H", "Authorization: Bearer \(token)"] }
            if let body { argv += ["--data-binary", body] }
            if let bodyFile { argv += ["--data-binary", "@" + bodyFile] }
            let out = try Subprocess(argv, environment: ["PATH": "/usr/bin:/bin"], directory: root).wait(timeout: 60)
            let text = out.stdout
            guard let cut = text.lastIndex(of: "\n"), let status = Int(text[text.index(after: cut)...]) else {
                throw HarnessError("curl: \(out)")
            }
            return (status, String(text[..<cut]))
        }

        /// The host appends a request to remove `path`; its id.
        func request(_ path: String, expires: Date = Date().addingTimeInterval(600), as host: String = "laptop") throws -> String {
            let made = try curl("POST", "/v1/events", token: tokens[host], body: Self.requestEvent(path, expires: expires))
            guard made.status == 200, let id = (try? JSONSerialization.jsonObject(with: Data(made.body.utf8)) as? [String: Any])?["id"] as? String else {
                throw HarnessError("request: \(made)")
            }
            return id
        }

        static func requestEvent(_ path: String, expires: Date) -> String {
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            let event: [String: Any] = [
                "event": "request", "kind": "delete", "path": path, "cwd": "/srv", "exe": "/usr/bin/rm (dev 1 ino 2)",
                "expires": formatter.string(from: expires), "pid": 4242, "quorum": 2, "requester": "whoever",
                "rule": "protected", "sandbox": "0badcafe",
            ]
            return String(decoding: try! JSONSerialization.data(withJSONObject: event, options: [.sortedKeys]), as: UTF8.self)
        }

        /// `queue export` from the service, and `queue verify` of the file it wrote (offline).
        func exportAndVerify() throws -> (exported: Outcome, verified: Outcome) {
            let exported = try queueCLI(["queue", "export"])
            try exported.stdout.write(toFile: root + "/exported.jsonl", atomically: true, encoding: .utf8)
            return (exported, try Self.cli(["queue", "verify", "--queue", root + "/exported.jsonl", "--approvers", approvers.allowedSigners], in: root))
        }

        func list() throws -> [[String: Any]] {
            let listed = try queueCLI(["queue", "list", "--json"])
            return (try? JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]]) ?? []
        }

        func state(_ id: String) throws -> String? {
            try list().first { $0["id"] as? String == id }?["state"] as? String
        }
    }

    @Test("a host's request is listed for approvers; approvals by alice and bob through `airlock approve --queue URL` make it approved (alice's retried approval writes nothing); the host resolves it once; the exported chain verifies offline, byte for byte what the service holds")
    func requestApproveResolveExport() throws {
        let s = try Service()
        let id = try s.request("/srv/prod.db")
        let pending = try s.curl("GET", "/v1/requests?state=pending", token: s.tokens["alice"])
        #expect(pending.status == 200 && pending.body.contains("\"id\":\"\(id)\"") && pending.body.contains("/srv/prod.db"), "\(pending)")

        let first = try s.queueCLI(["approve", id, "--key", s.approvers.key("alice")])
        #expect(first.status == 0 && first.stdout.contains("pending, 1/2 approvals"), "\(first)")
        #expect(try s.state(id) == "pending")
        // Approving again (a retry after an answer lost on the way) is told it counts already, and
        // writes nothing (the export below has four lines).
        let retried = try s.queueCLI(["approve", id, "--key", s.approvers.key("alice")])
        #expect(retried.status == 0 && retried.stdout.contains("pending, 1/2 approvals"), "\(retried)")
        let second = try s.queueCLI(["approve", id, "--key", s.approvers.key("bob")], as: "bob")
        #expect(second.status == 0 && second.stdout.contains("approved, 2/2 approvals"), "\(second)")
        #expect(try s.state(id) == "approved")

        let resolve = #"{"event":"resolve","id":"\#(id)","outcome":"allowed","detail":"rm /srv/prod.db"}"#
        let resolved = try s.curl("POST", "/v1/events", token: s.tokens["laptop"], body: resolve)
        #expect(resolved.status == 200, "\(resolved)")
        // The same resolve again (a sandbox whose wait for the answer ran out) is told it is on
        // record, and nothing is written; another outcome is refused.
        let again = try s.curl("POST", "/v1/events", token: s.tokens["laptop"], body: resolve)
        #expect(again.status == 200 && again.body.contains("\"already\":true"), "\(again)")
        let other = try s.curl("POST", "/v1/events", token: s.tokens["laptop"], body: resolve.replacingOccurrences(of: "allowed", with: "denied"))
        #expect(other.status == 409 && other.body.contains("resolved") && other.body.contains(id), "\(other)")
        #expect(try s.state(id) == "resolved")

        // The export is the chain as a file holds it: verify reads it offline, and it is exactly
        // the lines the database holds, in order.
        let (exported, verified) = try s.exportAndVerify()
        #expect(exported.status == 0, "\(exported)")
        #expect(verified.status == 0 && verified.stdout.contains("4 events, chain intact"), "\(verified)")
        let rows = try PostgresServer.shared.get().psql(String(s.database.split(separator: "/").last!),
                                                        "SELECT encode(sha256(string_agg(line, ''::bytea ORDER BY seq)), 'hex') FROM airlock_events")
        let summed = try Subprocess(["/usr/bin/sha256sum", s.root + "/exported.jsonl"], environment: [:], directory: s.root).wait()
        let digest = String(summed.stdout.prefix(64))
        #expect(rows.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == digest, "\(rows)\n\(exported)")
        let lines = exported.lines
        #expect(lines.count == 4 && lines[0].contains("\"requester\":\"carol\"") && lines[1].contains("\"event\":\"approve\""), "\(lines)")
    }

    @Test("the requester's own approval does not count: carol asked (through her host), so her signature is refused and nothing is written")
    func noSelfApproval() throws {
        let s = try Service()
        let id = try s.request("/srv/own.db")
        let own = try s.queueCLI(["approve", id, "--key", s.approvers.key("carol")])
        #expect(own.status == 1 && own.stderr.contains("carol asked for request \(id)") && own.stderr.contains("does not count"), "\(own)")
        let unlisted = try s.queueCLI(["approve", id, "--key", s.approvers.key("mallory")])
        #expect(unlisted.status == 1 && unlisted.stderr.contains("not listed"), "\(unlisted)")
        let exported = try s.queueCLI(["queue", "export"])
        #expect(exported.lines.count == 1, "a refused decision was written: \(exported)")
    }

    @Test("every endpoint refuses the wrong caller and bad input with a clear error: no token, an unknown token, a host approving, an approver appending, malformed JSON, an oversized body, an unknown request, another host's request")
    func badInputAndWrongPrincipals() throws {
        let s = try Service()
        let id = try s.request("/srv/a")
        let cases: [(String, String, String?, String?, Int, String)] = [
            ("POST", "/v1/events", nil, Service.requestEvent("/x", expires: Date().addingTimeInterval(60)), 401, "no Authorization"),
            ("GET", "/v1/export", "airlock_00", nil, 401, "not one this service issued"),
            ("POST", "/v1/requests/\(id)/approve", s.tokens["laptop"], "{}", 403, "laptop is a host; only an approver may do this"),
            ("POST", "/v1/events", s.tokens["alice"], Service.requestEvent("/x", expires: Date().addingTimeInterval(60)), 403, "alice is an approver; only a host may do this"),
            ("GET", "/v1/requests", s.tokens["laptop"], nil, 403, "only an approver"),
            ("POST", "/v1/events", s.tokens["laptop"], "{\"event\":", 400, "the body is not an event"),
            ("POST", "/v1/events", s.tokens["laptop"], #"{"event":"request","kind":"delete"}"#, 400, "has no"),
            ("POST", "/v1/events", s.tokens["laptop"], #"{"event":"resolve","id":"zzzzzz","outcome":"allowed"}"#, 409, "there is no request zzzzzz"),
            ("POST", "/v1/events", s.tokens["laptop"], #"{"event":"approve","id":"\#(id)"}"#, 403, "laptop is a host; approvals and denials go to"),
            ("POST", "/v1/requests/\(id)/approve", s.tokens["alice"], "{bad", 400, "the body is not"),
            ("POST", "/v1/requests/\(id)/approve", s.tokens["alice"], #"{"signature":"x","sig_expires":"2030-01-01T00:00:00Z"}"#, 400, "cannot be read"),
            ("POST", "/v1/requests/zzzzzz/approve", s.tokens["alice"], #"{"signature":"x","sig_expires":"soon"}"#, 400, "not an RFC 3339 time"),
            ("POST", "/v1/requests/\(id)/maybe", s.tokens["alice"], "{}", 404, "approve or deny"),
            ("GET", "/v1/events?after=-1", s.tokens["alice"], nil, 400, "after must be a line number"),
            ("GET", "/v1/events?wait=9999", s.tokens["alice"], nil, 400, "wait must be"),
            ("GET", "/v1/requests?state=sleeping", s.tokens["alice"], nil, 400, "unknown state"),
            // The page's endpoints.
            ("POST", "/v1/passkeys/challenge", s.tokens["laptop"], nil, 403, "only an approver"),
            ("POST", "/v1/passkeys", s.tokens["alice"], "{}", 400, "credential_id, public_key"),
            ("POST", "/v1/passkeys", s.tokens["alice"], #"{"credential_id":"AA","public_key":"AA","authenticator_data":"AA","client_data_json":"e30"}"#, 400, "not a registration of the challenge"),
            ("GET", "/v1/requests/\(id)/challenge?decision=approve", s.tokens["laptop"], nil, 403, "only an approver"),
            ("GET", "/v1/requests/\(id)/challenge?decision=perhaps", s.tokens["alice"], nil, 400, "approve or deny"),
            ("GET", "/v1/requests/zzzzzz/challenge?decision=approve", s.tokens["alice"], nil, 404, "there is no request zzzzzz"),
            ("GET", "/v1/requests/\(id)/challenge?decision=approve", s.tokens["alice"], nil, 409, "no passkey registered"),
            ("POST", "/v1/requests/\(id)/approve", s.tokens["alice"], #"{"webauthn":{"credential_id":"nope","authenticator_data":"AA","client_data_json":"AA","signature":"AA"},"sig_expires":"2030-01-01T00:00:00Z"}"#, 403, "not a passkey alice registered"),
            ("POST", "/v1/requests/\(id)/approve", s.tokens["alice"], #"{"sig_expires":"2030-01-01T00:00:00Z"}"#, 400, "it has neither"),
        ]
        for (method, path, token, body, status, message) in cases {
            let answer = try s.curl(method, path, token: token, body: body)
            #expect(answer.status == status && answer.body.contains(message), "\(method) \(path) \(body ?? ""): \(answer)")
            #expect(answer.body.hasPrefix("{\"error\":{\"message\":"), "not the JSON error shape: \(answer)")
        }
        // The page's session cookie carries no POST from another origin.
        let forged = try Subprocess(["/usr/bin/curl", "-sS", "-o", "-", "-w", "\n%{http_code}", "-X", "POST", "-H", "Cookie: airlock_session=\(s.tokens["alice"]!)",
                                     "-H", "Origin: https://evil.example", s.url + "/v1/passkeys/challenge"],
                                    environment: ["PATH": "/usr/bin:/bin"], directory: s.root).wait(timeout: 30)
        #expect(forged.stdout.hasSuffix("\n403") && forged.stdout.contains("must come from the page"), "\(forged)")
        // Larger than a queue line may be.
        let big = s.root + "/big.json"
        try Data(repeating: UInt8(ascii: " "), count: (1 << 20) + 10).write(to: URL(fileURLWithPath: big))
        let oversized = try s.curl("POST", "/v1/events", token: s.tokens["laptop"], bodyFile: big)
        #expect(oversized.status == 413 && oversized.body.contains("longer than"), "\(oversized)")

        // Another host cannot settle laptop's request.
        let other = try Service.cli(["serve", "add-host", "ci-runner", "--owner", "bob", "--database", s.database], in: s.root)
        let cancel = #"{"event":"cancel","id":"\#(id)","reason":"not mine"}"#
        let foreign = try s.curl("POST", "/v1/events", token: other.lines.last, body: cancel)
        #expect(foreign.status == 409 && foreign.body.contains("not ci-runner's"), "\(foreign)")
        let exported = try s.queueCLI(["queue", "export"])
        #expect(exported.lines.count == 1, "something refused was written: \(exported)")
    }

    @Test("a row edited in the database breaks the exported chain at that line, and the approvals after it count for nothing")
    func editedRowIsCaught() throws {
        let s = try Service()
        let id = try s.request("/srv/edited")
        for name in ["alice", "bob"] { #expect(try s.queueCLI(["approve", id, "--key", s.approvers.key(name)], as: name).status == 0) }
        #expect(try s.state(id) == "approved")
        // The service's own list (its parsed chain cached) says so too, before the edit…
        func served() throws -> String {
            try s.curl("GET", "/v1/requests", token: s.tokens["alice"]).body
        }
        #expect(try served().contains("\"state\":\"approved\""))
        let db = String(s.database.split(separator: "/").last!)
        let edit = try PostgresServer.shared.get().psql(db, "UPDATE airlock_events SET line = convert_to(replace(convert_from(line, 'UTF8'), '/srv/edited', '/srv/other!'), 'UTF8') WHERE seq = 1")
        #expect(edit.status == 0, "\(edit)")
        let (_, verified) = try s.exportAndVerify()
        #expect(verified.status == 1 && verified.stderr.contains("chain broken at line 2"), "\(verified)")
        #expect(try s.state(id) == "pending", "an approval counted in a broken chain")
        // …and not after it: the cache is checked against the rows, not trusted.
        let after = try served()
        #expect(after.contains("/srv/other!") && after.contains("\"state\":\"pending\"") && !after.contains("approved"), "\(after)")
    }

    @Test("hosts appending at once and two hosts racing to resolve one approved request: every line numbered once in one chain, and exactly one resolve written")
    func concurrentAppendsAndOneResolve() throws {
        let s = try Service()
        let ids = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 16) { i in
            if let id = try? s.request("/srv/c\(i)") { ids.withLock { $0.append(id) } }
        }
        #expect(ids.withLock { Set($0).count } == 16)
        let id = ids.withLock { $0[0] }
        for name in ["alice", "bob"] { #expect(try s.queueCLI(["approve", id, "--key", s.approvers.key(name)], as: name).status == 0) }
        let resolve = #"{"event":"resolve","id":"\#(id)","outcome":"allowed"}"#
        let statuses = Mutex<[Int]>([])
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            if let answer = try? s.curl("POST", "/v1/events", token: s.tokens["laptop"], body: resolve) { statuses.withLock { $0.append(answer.status) } }
        }
        // Each is answered 200 (the first written, the others told it is on record); one line.
        #expect(statuses.withLock { $0 } == Array(repeating: 200, count: 8), "\(statuses.withLock { $0 })")
        let (exported, verified) = try s.exportAndVerify()
        #expect(verified.status == 0 && verified.stdout.contains("19 events, chain intact"), "\(verified)")
        #expect(exported.lines.filter { $0.contains("\"event\":\"resolve\"") }.count == 1)
    }

    /// Runs the agent's `script` in a sandbox of `config` whose queue is the service `s`, with the
    /// host's token in a file the agent must not read.
    func startSandbox(_ s: Service, _ fixture: Fixture, _ script: String, token: String? = nil, options: [String] = []) throws -> Subprocess {
        let tokenFile = fixture.home + "/.config/airlock/token"
        try fixture.write(tokenFile, token ?? s.tokens["laptop"]!, mode: 0o600)
        return try startAirlock(fixture.runArguments(["/bin/sh", "-c", script],
                                                     options: ["--queue", s.url, "--approvers", s.approvers.allowedSigners] + options),
                                env: fixture.environment(), cwd: fixture.workspace, user: fixture.config.user)
    }

    func pendingOrKill(_ s: Service, _ agent: Subprocess) throws -> String? {
        for _ in 0..<150 {
            if let row = try s.list().first(where: { $0["state"] as? String == "pending" }), let id = row["id"] as? String { return id }
            if let ended = agent.poll() { Issue.record("the agent ended before anything was held: \(ended)"); return nil }
            usleep(100_000)
        }
        agent.send(SIGKILL)
        Issue.record("nothing was held: \(agent.wait(timeout: 10))")
        return nil
    }

    @Test("a sandbox whose queue is the service holds a delete there: the agent waits, two approvers approve through the service, the delete goes ahead, the host writes its resolve, and the token file is out of the agent's sight",
          arguments: [SandboxConfig.root] + SandboxConfig.landlock.filter(\.asNobody))
    func sandboxHoldsOnTheService(config: SandboxConfig) throws {
        let s = try Service()
        let fixture = try Fixture(config)
        try fixture.write(fixture.workspace + "/.env", "TOKEN=precious\n")
        if let user = config.user { try chownTree(fixture.workspace, to: user) }
        let agent = try startSandbox(s, fixture, "cat ~/.config/airlock/token >/dev/null 2>&1; echo token=$?; rm .env; echo rm=$?")
        guard let id = try pendingOrKill(s, agent) else { return }
        let rows = try s.list()
        #expect(rows.count == 1 && rows.first?["path"] as? String == fixture.workspace + "/.env", "\(rows)")
        #expect(try s.queueCLI(["approve", id, "--key", s.approvers.key("alice")]).status == 0)
        usleep(500_000)
        #expect(agent.poll() == nil && FileManager.default.fileExists(atPath: fixture.workspace + "/.env"), "deleted on one approval")
        #expect(try s.queueCLI(["approve", id, "--key", s.approvers.key("bob")], as: "bob").status == 0)
        let outcome = agent.wait(timeout: 20)
        #expect(outcome.lines.contains("rm=0") && outcome.lines.contains("token=1"), "\(outcome)")
        #expect(!FileManager.default.fileExists(atPath: fixture.workspace + "/.env"))
        #expect(try s.state(id) == "resolved")
        let exported = try s.queueCLI(["queue", "export"])
        #expect(exported.lines.filter { $0.contains("\"event\":\"resolve\"") && $0.contains("\"outcome\":\"allowed\"") }.count == 1, "\(exported)")
    }

    @Test("an append the database cannot take within 4 s (the chain head locked for 7 s) is refused and never written later, so the sandbox's 5 s wait and the chain agree: the agent's next try makes the only request",
          arguments: [SandboxConfig.root])
    func slowAppendIsNotWrittenLate(config: SandboxConfig) throws {
        let s = try Service()
        let fixture = try Fixture(config)
        try fixture.write(fixture.workspace + "/.env", "TOKEN=precious\n")
        let server = try PostgresServer.shared.get()
        let db = String(s.database.split(separator: "/").last!)
        let locker = try Subprocess(["/usr/bin/psql", "-X", "-q", "-h", "127.0.0.1", "-p", "\(server.port)", "-U", "airlock", "-d", db,
                                     "-c", "BEGIN; SELECT seq FROM airlock_chain_head FOR UPDATE; SELECT pg_sleep(7); COMMIT;"],
                                    environment: ["PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"], directory: "/")
        usleep(300_000)
        let agent = try startSandbox(s, fixture, "rm .env; echo first=$?; while [ ! -e go ]; do sleep 0.1; done; rm .env; echo second=$?")
        #expect(locker.wait(timeout: 20).status == 0)
        usleep(1_000_000)
        #expect(try s.list().isEmpty, "a line was written after its sandbox had given up on it")
        try fixture.write(fixture.workspace + "/go", "")
        guard let id = try pendingOrKill(s, agent) else { return }
        for name in ["alice", "bob"] { #expect(try s.queueCLI(["approve", id, "--key", s.approvers.key(name)], as: name).status == 0) }
        let outcome = agent.wait(timeout: 20)
        #expect(outcome.lines.contains("first=1") && outcome.lines.contains("second=0"), "\(outcome)")
        #expect(!FileManager.default.fileExists(atPath: fixture.workspace + "/.env"))
        let rows = try s.list()
        #expect(rows.count == 1 && rows.first?["id"] as? String == id && rows.first?["state"] as? String == "resolved", "\(rows)")
    }

    @Test("the approvers list changes only through the chain: a proposal from the administrator, approved by two approvers in force; after it the removed key is refused, the added key counts at the service, at a sandbox that held across the change and at one started after it (neither one's own file lists it), and verify names the change",
          arguments: [SandboxConfig.root])
    func approversChangeThroughTheChain(config: SandboxConfig) throws {
        let s = try Service()
        func pub(_ name: String) throws -> String {
            let fields = try String(contentsOfFile: s.approvers.key(name) + ".pub", encoding: .utf8).split(separator: " ")
            return "\(name) namespaces=\"airlock\" \(fields[0]) \(fields[1])"
        }
        // A sandbox holding a delete while the list changes: it follows the change as it lands.
        let running = try Fixture(config)
        try running.write(running.workspace + "/.env", "TOKEN=precious\n")
        let first = try startSandbox(s, running, "rm .env; echo rm=$?")
        guard let firstHeld = try pendingOrKill(s, first) else { return }
        // bob out, mallory in.
        let proposed = s.root + "/proposed_signers"
        try [pub("alice"), pub("carol"), pub("mallory")].joined(separator: "\n").appending("\n").write(toFile: proposed, atomically: true, encoding: .utf8)
        func propose(_ file: String, _ extra: [String] = []) throws -> Outcome {
            try Service.cli(["serve", "propose-approvers", file, "--database", s.database, "--approvers", s.approvers.allowedSigners, "--as", "admin"] + extra, in: s.root)
        }
        let made = try propose(proposed)
        guard made.status == 0, let id = made.stdout.split(separator: " ").dropFirst(3).first.map(String.init)?.trimmingCharacters(in: CharacterSet(charactersIn: ",")) else {
            Issue.record("propose-approvers: \(made)"); return
        }
        #expect(made.stdout.contains("+ mallory ssh-ed25519 SHA256:") && made.stdout.contains("- bob ssh-ed25519 SHA256:") && made.stdout.contains("= alice"), "\(made)")
        let again = try propose(proposed)
        #expect(again.status != 0 && again.stderr.contains("request \(id) proposes a new approvers list already"), "\(again)")
        #expect(try propose(proposed, ["--quorum", "1"]).stderr.contains("at least 2 approvals"))
        #expect(try propose(s.root + "/nonexistent").status != 0)
        // A host cannot propose one.
        let list = String(decoding: try JSONSerialization.data(withJSONObject: try String(contentsOfFile: proposed, encoding: .utf8), options: .fragmentsAllowed), as: UTF8.self)
        let byHost = try s.curl("POST", "/v1/events", token: s.tokens["laptop"], body: #"{"event":"request","kind":"approvers","approvers":\#(list),"cwd":"","exe":"","expires":"2099-01-01T00:00:00.000Z","pid":1,"quorum":2,"requester":"x","rule":"approvers","sandbox":"s"}"#)
        #expect(byHost.status == 403 && byHost.body.contains("proposed by the service's administrator"), "\(byHost)")

        let shown = try s.queueCLI(["queue", "show", id])
        #expect(shown.stdout.contains("+ mallory") && shown.stdout.contains("- bob"), "\(shown)")
        // The proposed key cannot vote itself in; one approver in force is not enough.
        let own = try s.queueCLI(["approve", id, "--key", s.approvers.key("mallory")])
        #expect(own.status == 1 && own.stderr.contains("not listed"), "\(own)")
        #expect(try s.queueCLI(["approve", id, "--key", s.approvers.key("alice")]).stdout.contains("pending, 1/2 approvals"))
        let second = try s.queueCLI(["approve", id, "--key", s.approvers.key("bob")], as: "bob")
        #expect(second.status == 0 && second.stdout.contains("2/2 approvals"), "\(second)")
        #expect(try s.state(id) == "resolved", "the service settles an approved change")

        // A sandbox started now, its own approvers file the old one (bob, no mallory).
        let fixture = try Fixture(config)
        try fixture.write(fixture.workspace + "/.env", "TOKEN=precious\n")
        let agent = try startSandbox(s, fixture, "rm .env; echo rm=$?")
        var held: String?
        for _ in 0..<150 where held == nil {
            held = try s.list().first { $0["state"] as? String == "pending" && $0["id"] as? String != firstHeld }?["id"] as? String
            if held == nil { usleep(100_000) }
        }
        guard let held else { agent.send(SIGKILL); Issue.record("nothing held: \(agent.wait(timeout: 10))"); return }
        let removed = try s.queueCLI(["approve", held, "--key", s.approvers.key("bob")], as: "bob")
        #expect(removed.status == 1 && removed.stderr.contains("not listed") && removed.stderr.contains("the approvers list of request \(id)"), "\(removed)")
        #expect(try s.queueCLI(["approve", held, "--key", s.approvers.key("alice")]).status == 0)
        #expect(try s.queueCLI(["approve", held, "--key", s.approvers.key("mallory")]).status == 0)
        let outcome = agent.wait(timeout: 20)
        #expect(outcome.lines.contains("rm=0"), "the sandbox did not count mallory's approval: \(outcome)")
        #expect(!FileManager.default.fileExists(atPath: fixture.workspace + "/.env"))
        #expect(try s.queueCLI(["approve", firstHeld, "--key", s.approvers.key("alice")]).status == 0)
        #expect(try s.queueCLI(["approve", firstHeld, "--key", s.approvers.key("mallory")]).status == 0)
        let firstOutcome = first.wait(timeout: 20)
        #expect(firstOutcome.lines.contains("rm=0"), "the running sandbox did not count mallory's approval: \(firstOutcome)")

        let (exported, verified) = try s.exportAndVerify()
        #expect(exported.status == 0 && verified.status == 0, "\(verified)")
        #expect(verified.stdout.contains("approvers list changed by request \(id) at line 4, approved by alice and bob: 3 key(s) in force from there"), "\(verified)")
    }

    @Test("a sandbox asked to use a service it cannot use does not start, and says why in one line: nothing listening, an approver's token, a token the service never issued",
          arguments: [SandboxConfig.root])
    func unusableServiceRefusesToStart(config: SandboxConfig) throws {
        let s = try Service()
        let fixture = try Fixture(config)
        let closed = "http://127.0.0.1:\(PostgresServer.freePort())/"
        let cases: [(url: String, token: String, says: String)] = [
            (closed, s.tokens["laptop"]!, "cannot reach"),
            (s.url, s.tokens["alice"]!, "a sandbox needs a host's token"),
            (s.url, "airlock_nope", "not one this service issued"),
        ]
        for c in cases {
            try fixture.write(fixture.home + "/.config/airlock/token", c.token, mode: 0o600)
            let run = try airlock(fixture.runArguments(["/bin/echo", "started"], options: ["--queue", c.url, "--approvers", s.approvers.allowedSigners]),
                                  env: fixture.environment(), cwd: fixture.workspace, user: config.user)
            #expect(run.status == 125 && !run.stdout.contains("started") && run.stderrLines.count == 1
                    && run.stderr.contains("--queue") && run.stderr.contains(c.says), "\(run)")
        }
        #expect(try s.list().isEmpty)
    }

    @Test("PostgreSQL restarted while a delete is held: approving meanwhile fails with a clear error and writes nothing; once it is back, the approvals land, the sandbox's follow resumes where it was, the delete goes ahead once and the chain verifies",
          arguments: [SandboxConfig.root])
    func databaseRestartWhileHeld(config: SandboxConfig) throws {
        let s = try Service()
        let server = try PostgresServer.shared.get()
        let fixture = try Fixture(config)
        try fixture.write(fixture.workspace + "/.env", "TOKEN=precious\n")
        let agent = try startSandbox(s, fixture, "rm .env; echo rm=$?", options: ["--wait", "120"])
        guard let id = try pendingOrKill(s, agent) else { return }
        #expect(try s.queueCLI(["approve", id, "--key", s.approvers.key("alice")]).status == 0)

        try server.stop()
        defer { try? server.start() } // the other tests share it
        let down = try s.queueCLI(["queue", "list"])
        #expect(down.status == 1 && down.stderr.contains("503") && down.stderr.contains("database"), "\(down)")
        try server.start()

        // The pool reconnects within seconds; bob tries until the service can read again.
        var second: Outcome?
        for _ in 0..<60 {
            let tried = try s.queueCLI(["approve", id, "--key", s.approvers.key("bob")], as: "bob")
            if tried.status == 0 { second = tried; break }
            #expect(tried.stderr.contains("database") || tried.stderr.contains("503"), "\(tried)")
            sleep(1)
        }
        #expect(second?.stdout.contains("approved, 2/2 approvals") == true, "\(String(describing: second))")
        let outcome = agent.wait(timeout: 60)
        #expect(outcome.lines.contains("rm=0"), "\(outcome)")
        #expect(!FileManager.default.fileExists(atPath: fixture.workspace + "/.env"))
        let (_, verified) = try s.exportAndVerify()
        #expect(verified.status == 0 && verified.stdout.contains("4 events, chain intact"), "\(verified)")
    }

    @Test("`airlock queue watch --queue URL` prints each event as it lands on the service, following the long poll")
    func watchFollowsTheService() throws {
        let s = try Service()
        let first = try s.request("/srv/before")
        let watch = try Subprocess([try Binaries.airlock(), "queue", "watch", "--queue", s.url, "--token-file", s.root + "/alice.token"],
                                   environment: ["PATH": "/usr/bin:/bin", "HOME": s.root], directory: s.root)
        defer { watch.send(SIGKILL); _ = watch.wait(timeout: 5) }
        let second = try s.request("/srv/after")
        var lines: [String] = []
        for _ in 0..<100 {
            lines = watch.currentStdout().split(separator: "\n").map(String.init)
            if lines.count >= 2 { break }
            usleep(100_000)
        }
        #expect(lines.count == 2 && lines[0].hasPrefix("1 request \(first) delete /srv/before")
                && lines[1].hasPrefix("2 request \(second) delete /srv/after"), "\(lines)\n\(watch.currentStderr())")
    }

    @Test("each new request and decision is posted to every --webhook as Slack-compatible JSON linking to the request's page; a webhook that cannot be reached holds up nothing")
    func webhooksNotify() throws {
        let root = try makeTemporaryDirectory(prefix: "airlock-hook-")
        defer { removeTree(root) }
        // The receiver: a real HTTP server that keeps each body it is sent, one per line.
        let receiver = try Subprocess(["/usr/bin/python3", "-c", """
            import http.server, sys
            class Hook(http.server.BaseHTTPRequestHandler):
                def do_POST(self):
                    body = self.rfile.read(int(self.headers["Content-Length"]))
                    with open(sys.argv[1], "ab") as f: f.write(self.path.encode() + b" " + self.headers.get("Content-Type", "").encode() + b" " + body + b"\\n")
                    self.send_response(200); self.end_headers(); self.wfile.write(b"ok")
                def log_message(self, *args): pass
            server = http.server.HTTPServer(("127.0.0.1", 0), Hook)
            print(server.server_port, flush=True)
            server.serve_forever()
            """, root + "/received"], environment: ["PATH": "/usr/bin:/bin"], directory: root)
        defer { receiver.send(SIGTERM); _ = receiver.wait(timeout: 10) }
        var port: String?
        for _ in 0..<50 where port == nil {
            port = receiver.currentStdout().split(separator: "\n").first.map(String.init)
            if port == nil { usleep(100_000) }
        }
        let hook = "http://127.0.0.1:\(try #require(port, "\(receiver.currentStderr())"))/services/T0/B0?x=1"
        let s = try Service(options: ["--webhook", "http://127.0.0.1:1/nothing-listens", "--webhook", hook])
        let id = try s.request("/srv/hooked.db")
        let approved = try s.queueCLI(["approve", id, "--key", s.approvers.key("alice"), "--reason", "fine <by> me"])
        #expect(approved.status == 0, "\(approved)")
        var received: [String] = []
        for _ in 0..<100 where received.count < 2 {
            received = ((try? String(contentsOfFile: root + "/received", encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
            if received.count < 2 { usleep(100_000) }
        }
        try #require(received.count == 2, "\(received)")
        let bodies = received.map { line -> [String: Any] in
            #expect(line.hasPrefix("/services/T0/B0?x=1 application/json {"), "\(line)")
            return (try? JSONSerialization.jsonObject(with: Data(line.drop { $0 != "{" }.utf8)) as? [String: Any]) ?? [:]
        }
        let page = s.url.replacingOccurrences(of: "127.0.0.1", with: "localhost") + "/r/\(id)"
        let request = try #require(bodies[0]["text"] as? String), approval = try #require(bodies[1]["text"] as? String)
        #expect(request.contains("/srv/hooked.db") && request.contains("asked by carol") && request.contains("<\(page)|\(id)>"), "\(request)")
        #expect(approval.hasPrefix("alice approved request <\(page)|\(id)>") && approval.hasSuffix("fine &lt;by&gt; me"), "\(approval)")
        #expect((bodies[1]["airlock"] as? [String: Any])?["event"] as? String == "approve", "\(bodies[1])")
    }

    @Test("with --tls-cert and --tls-key the service speaks HTTPS: curl and airlock's own client reach it through a CA file, refuse it without one; off loopback it needs TLS and --origin")
    func tls() throws {
        let dir = try makeTemporaryDirectory(prefix: "airlock-tls-")
        defer { removeTree(dir) }
        let made = try Subprocess(["/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                                   "-keyout", dir + "/key.pem", "-out", dir + "/cert.pem", "-days", "2", "-subj", "/CN=localhost",
                                   "-addext", "subjectAltName=DNS:localhost"], environment: ["PATH": "/usr/bin:/bin"], directory: dir).wait(timeout: 30)
        try #require(made.status == 0, "\(made)")
        let s = try Service(options: ["--tls-cert", dir + "/cert.pem", "--tls-key", dir + "/key.pem"])
        #expect(s.url.hasPrefix("https://127.0.0.1:"), "\(s.url)")
        let url = s.url.replacingOccurrences(of: "127.0.0.1", with: "localhost")
        func curl(_ extra: [String]) throws -> Outcome {
            try Subprocess(["/usr/bin/curl", "-sS", "-H", "Authorization: Bearer \(s.tokens["alice"]!)"] + extra,
                           environment: ["PATH": "/usr/bin:/bin"], directory: dir).wait(timeout: 30)
        }
        let trusted = try curl(["--cacert", dir + "/cert.pem", url + "/v1/head"])
        #expect(trusted.status == 0 && trusted.stdout.contains("\"principal\":\"alice\""), "\(trusted)")
        #expect(try curl([url + "/v1/head"]).status != 0, "curl trusted a self-signed certificate")
        #expect(try curl([s.url.replacingOccurrences(of: "https://", with: "http://") + "/v1/head"]).stdout.contains("alice") == false)

        let listArgs = ["queue", "list", "--queue", url + "/", "--token-file", s.root + "/alice.token", "--approvers", s.approvers.allowedSigners]
        let withCA = try airlock(listArgs, env: ["PATH": "/usr/bin:/bin", "HOME": s.root, "AIRLOCK_CA_FILE": dir + "/cert.pem"], cwd: s.root, timeout: 60)
        #expect(withCA.status == 0, "\(withCA)")
        let withoutCA = try airlock(listArgs, env: ["PATH": "/usr/bin:/bin", "HOME": s.root], cwd: s.root, timeout: 60)
        #expect(withoutCA.status != 0 && withoutCA.stderr.lowercased().contains("certificate"), "\(withoutCA)")
        let missingCA = try airlock(listArgs, env: ["PATH": "/usr/bin:/bin", "HOME": s.root, "AIRLOCK_CA_FILE": dir + "/nope.pem"], cwd: s.root, timeout: 60)
        #expect(missingCA.status != 0 && missingCA.stderr.contains("nope.pem") && missingCA.stderr.contains("cannot be read"), "\(missingCA)")

        // Off loopback: plain HTTP is refused, and TLS needs the page's address.
        let database = try PostgresServer.shared.get().database()
        let serve = ["serve", "--database", database, "--listen", "0.0.0.0:0", "--approvers", s.approvers.allowedSigners]
        let plain = try airlock(serve, env: ["PATH": "/usr/bin:/bin", "HOME": s.root], cwd: s.root, timeout: 30)
        #expect(plain.status != 0 && plain.stderr.contains("loopback only"), "\(plain)")
        let noOrigin = try airlock(serve + ["--tls-cert", dir + "/cert.pem", "--tls-key", dir + "/key.pem"], env: ["PATH": "/usr/bin:/bin", "HOME": s.root], cwd: s.root, timeout: 30)
        #expect(noOrigin.status != 0 && noOrigin.stderr.contains("--origin https://HOST"), "\(noOrigin)")
    }

    @Test("SIGTERM stops the service promptly even while a sandbox's long poll is waiting: the poll is answered (empty) instead of holding the shutdown for its whole wait")
    func shutdownAnswersLongPolls() throws {
        let s = try Service()
        let head = try s.curl("GET", "/v1/head", token: s.tokens["laptop"])
        let seq = (try? JSONSerialization.jsonObject(with: Data(head.body.utf8)) as? [String: Any])?["seq"] as? Int ?? -1
        let poll = try Subprocess(["/usr/bin/curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Authorization: Bearer \(s.tokens["laptop"]!)",
                                   s.url + "/v1/events?after=\(seq)&wait=60"], environment: ["PATH": "/usr/bin:/bin"], directory: s.root)
        usleep(500_000)
        #expect(poll.poll() == nil, "the long poll returned before anything was appended")
        s.process.send(SIGTERM)
        let stopped = s.process.wait(timeout: 20)
        #expect(!stopped.timedOut && stopped.status == 0, "\(stopped)")
        let polled = poll.wait(timeout: 20)
        #expect(polled.stdout == "200", "\(polled)")
    }
}
