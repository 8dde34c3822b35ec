import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Destructive cloud API calls held end to end: boto3, the AWS CLI and curl in a real sandbox, the
/// inspecting proxy, the real queue and two approvers signing with ssh-keygen, and moto's server
/// over TLS on the host's loopback standing in for AWS. moto checks every signature: the test makes
/// the operator's IAM user (allowed everything), its keys and the stacks to delete, then turns
/// authentication on. The operator's keys are in airlock's own environment only; the agent holds
/// the placeholders airlock gives it, which moto does not know, so every call that works was signed
/// again by the proxy.
@Suite(.serialized, .enabled(if: ProjectVenv.exists, ProjectVenv.missing))
struct CloudAPIHoldTests {
    let signOff = SignOffTests()

    /// The namespaces backend as root, and the Landlock-only backend as uid 65534 (as the current
    /// user when the tests do not run as root).
    static let configs: [SandboxConfig] = [SandboxConfig.namespaces.first, SandboxConfig.landlock.last].compactMap { $0 }

    static let rule = "AWS delete or purge"

    /// What the proxy calls the deletion of `stack`, in the queue, the network log and its refusals.
    static func deletion(of stack: String) -> String { "aws cloudformation DeleteStack stack/\(stack) in us-east-1" }

    /// One test's cloud and desk: moto behind TLS, the operator's keys, approvers, and a profile in
    /// proxy mode that inspects localhost.
    final class Cloud: @unchecked Sendable {
        let fixture: Fixture
        let approvers: SignOffTests.Approvers
        let moto: MotoServer
        private let ca: TestCA
        /// The operator's access key id and secret: moto's, for its admin user.
        let keyID: String
        let secret: String
        let profile: String
        var endpoint: String { "https://localhost:\(moto.port)" }

        /// `stacks` are made (one SNS topic each) before authentication is turned on.
        init(_ config: SandboxConfig, stacks: [String], wait: String = "10m") throws {
            let f = try Fixture(config)
            try ProjectVenv.check(for: config)
            fixture = f
            approvers = try SignOffTests.Approvers(in: f.root)
            ca = try TestCA.make(in: f.root + "/upstream-ca")
            moto = try MotoServer(certificate: try ca.issue(for: "DNS:localhost", in: f.root + "/upstream-ca"), scratch: f.root)
            try CloudScripts.operatorScript.write(toFile: f.root + "/" + CloudScripts.operatorFile, atomically: true, encoding: .utf8)
            try f.write(f.workspace + "/" + CloudScripts.agentFile, CloudScripts.agentScript)
            let made = try Self.host(f, ca, moto.port, ["setup"] + stacks)
            let keys = try #require(made.lines.first { $0.hasPrefix("operator: ") }, "\(made)").split(separator: " ")
            try #require(keys.count == 3, "\(made)")
            (keyID, secret) = (String(keys[1]), String(keys[2]))
            profile = f.root + "/cloud.toml"
            try f.write(profile, """
                extends = "default"
                [sandbox]
                network = "proxy"
                [network]
                allow = ["localhost", "127.0.0.1"]
                inspect = ["localhost"]
                upstream_ca = ["\(ca.certificate)"]
                [signoff]
                quorum = 2
                wait = "\(wait)"
                """)
        }

        private static func host(_ f: Fixture, _ ca: TestCA, _ port: Int, _ args: [String]) throws -> Outcome {
            // HOME is the scratch directory: no ~/.aws of anyone's is read.
            try runOnHost([ProjectVenv.python, f.root + "/" + CloudScripts.operatorFile, args[0], "https://localhost:\(port)", ca.certificate]
                          + args.dropFirst(), in: f.root, env: ["PATH": "/usr/bin:/bin", "HOME": f.root], timeout: 60)
        }

        /// Runs the operator's script on the host, outside any sandbox and any proxy.
        func onHost(_ args: [String]) throws -> Outcome { try Self.host(fixture, ca, moto.port, args) }

        /// The stack's status as the operator sees it (`CREATE_COMPLETE`), or `gone`.
        func stackStatus(_ name: String) throws -> String {
            let line = try onHost(["stack", keyID, secret, name]).lines.first ?? ""
            if line.hasPrefix("stack: \(name) error ValidationError") && line.hasSuffix("does not exist") { return "gone" }
            return line.replacingOccurrences(of: "stack: \(name) ", with: "")
        }

        /// The requests moto received since authentication was turned on, as "Action KEYID".
        func recorded() throws -> [String] {
            try onHost(["recorded"]).lines.filter { $0.hasPrefix("recorded: ") }.map { String($0.dropFirst(10)) }
        }

        /// `airlock run` in proxy mode with the operator's keys, region and endpoint in its own
        /// environment (`--cloud-credentials broker`, the default), running `script`.
        func startAgent(_ script: String) throws -> Subprocess {
            try startAirlock(
                fixture.runArguments(["/bin/sh", "-c", "unset NO_PROXY no_proxy\n" + script],
                                     options: ["--profile", profile, "--approvers", approvers.allowedSigners]),
                env: fixture.environment(["AWS_ACCESS_KEY_ID": keyID, "AWS_SECRET_ACCESS_KEY": secret,
                                          "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": endpoint]),
                cwd: fixture.workspace, user: fixture.config.user)
        }

        /// The command line that runs the agent's script (`CloudScripts.agentScript`) with `args`.
        func agent(_ args: String) -> String { "\(ProjectVenv.python) \(CloudScripts.agentFile) \(args)" }
    }

    /// The next pending request (other than `seen`); none within a minute kills the agent.
    func held(_ cloud: Cloud, _ agent: Subprocess, excluding seen: Set<String> = []) throws -> [String: Any]? {
        if let row = try signOff.waitForHeld(cloud.fixture, cloud.approvers, timeout: 60, excluding: seen) { return row }
        agent.send(SIGKILL)
        Issue.record("no request was held: \(agent.wait(timeout: 10))")
        return nil
    }

    func rows(_ cloud: Cloud) throws -> [[String: Any]] {
        let listed = try signOff.queueCLI(cloud.fixture, cloud.approvers, ["queue", "list", "--json"])
        return (try? JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]]) ?? []
    }

    /// The network log's requests whose `api` is an operation of `name`.
    func logged(_ cloud: Cloud, _ name: String) throws -> [[String: Any]] {
        try LoggedTraffic(cloud.fixture).entries.filter { ($0["api"] as? String)?.contains(" \(name) ") == true }
    }

    /// `s` as the agent's scan takes it: each byte XOR 0x5A, in hex, so that the string itself is
    /// in no argument or variable of the agent's.
    static func encoded(_ s: String) -> String {
        s.utf8.map { String(format: "%02x", $0 ^ 0x5A) }.joined()
    }

    @Test("boto3 in the sandbox holds only placeholder keys, which moto refuses, yet its describe_stacks passes moto's signature check; its delete_stack is held as an api request, goes through after two approvals and not before, and the stack is gone",
          arguments: configs)
    func approvedDeletionGoesThrough(config: SandboxConfig) throws {
        let cloud = try Cloud(config, stacks: ["doomed"])
        let f = cloud.fixture
        let script = """
            echo "agent keys: $AWS_ACCESS_KEY_ID $AWS_SECRET_ACCESS_KEY"
            env | sed 's/^/env: /'
            \(cloud.agent("scan \(Self.encoded(cloud.secret)) \(Self.encoded(cloud.keyID))"))
            \(cloud.agent("describe doomed"))
            \(cloud.agent("delete doomed 600 1"))
            \(cloud.agent("describe doomed"))
            """
        let agent = try cloud.startAgent(script)
        guard let row = try held(cloud, agent) else { return }
        let id = try #require(row["id"] as? String)
        #expect(row["kind"] as? String == "api" && row["host"] as? String == "localhost" && row["port"] as? Int == cloud.moto.port, "\(row)")
        #expect(row["rule"] as? String == Self.rule, "\(row)")
        let listed = try signOff.queueCLI(f, cloud.approvers, ["queue", "list"])
        #expect(listed.lines.contains { $0.hasPrefix(id) && $0.contains(" api ") && $0.contains(Self.deletion(of: "doomed")) }, "\(listed)")
        let shown = try signOff.queueCLI(f, cloud.approvers, ["queue", "show", id])
        #expect(shown.lines.contains("operation: api \(Self.deletion(of: "doomed"))"), "\(shown)")
        #expect(shown.lines.contains { $0.trimmingCharacters(in: .whitespaces) == "StackName = doomed" }, "\(shown)")

        // Held: nothing reached moto, and one approval is not enough.
        #expect(try !cloud.recorded().contains { $0.hasPrefix("DeleteStack ") })
        #expect(try signOff.approve(f, cloud.approvers, id, as: "alice").status == 0)
        usleep(1_500_000)
        #expect(agent.poll() == nil, "the call returned on one approval")
        #expect(try cloud.stackStatus("doomed") == "CREATE_COMPLETE")
        #expect(try signOff.approve(f, cloud.approvers, id, as: "bob").status == 0)
        let outcome = agent.wait(timeout: 90)
        #expect(outcome.status == 0, "\(outcome)\nnetwork log: \((try? logged(cloud, "DeleteStack")) ?? [])\nmoto: \(cloud.moto.tail())")

        // The agent held placeholders, and nothing of the operator's keys.
        let agentKeys = try #require(outcome.lines.first { $0.hasPrefix("agent keys: ") }, "\(outcome)").split(separator: " ")
        try #require(agentKeys.count == 4, "\(outcome)")
        let (placeholderID, placeholderSecret) = (String(agentKeys[2]), String(agentKeys[3]))
        #expect(placeholderID.hasPrefix("AKIAAIRLOCK") && placeholderID.utf8.count == 20, "\(placeholderID)")
        #expect(placeholderSecret.utf8.count == 40 && placeholderSecret != cloud.secret, "\(placeholderSecret)")
        #expect(outcome.lines.contains("env: AWS_SECRET_ACCESS_KEY=\(placeholderSecret)"), "\(outcome)")
        #expect(!outcome.stdout.contains(cloud.secret) && !outcome.stderr.contains(cloud.secret), "\(outcome)")
        #expect(!outcome.stdout.contains(cloud.keyID), "\(outcome)")
        #expect(outcome.lines.contains("found: nothing"), "\(outcome)")
        let scanned = outcome.lines.first { $0.hasPrefix("scanned: ") } ?? ""
        #expect(!scanned.hasPrefix("scanned: 0 environments") && !scanned.contains(" 0 memories") && !scanned.hasSuffix(" 0 files"), "\(outcome)")

        // moto took the proxy's signatures, made with the operator's key.
        #expect(outcome.lines.contains("describe: doomed CREATE_COMPLETE"), "\(outcome)")
        #expect(outcome.lines.contains("delete: ok attempts=1"), "\(outcome)")
        #expect(outcome.lines.contains("describe: error ValidationError status=400 attempts=1"), "\(outcome)")
        #expect(try cloud.stackStatus("doomed") == "gone")
        // Everything moto received was signed with the operator's key (the test's own checks too).
        let recorded = try cloud.recorded()
        #expect(recorded.filter { $0.hasPrefix("DeleteStack ") } == ["DeleteStack \(cloud.keyID)"], "\(recorded)")
        #expect(recorded.filter { $0.hasPrefix("DescribeStacks ") }.count >= 2, "\(recorded)")
        #expect(recorded.allSatisfy { $0.hasSuffix(" \(cloud.keyID)") }, "\(recorded)")

        // Around the proxy, straight to moto, the placeholders open nothing.
        let direct = try cloud.onHost(["direct", placeholderID, placeholderSecret])
        #expect(direct.lines == ["direct: error InvalidClientTokenId"], "\(direct)")

        let deletions = try logged(cloud, "DeleteStack")
        #expect(deletions.count == 1, "\(deletions)")
        #expect(deletions.first?["request"] as? String == id && deletions.first?["status"] as? Int == 200, "\(deletions)")
        #expect(deletions.first?["api"] as? String == Self.deletion(of: "doomed"), "\(deletions)")
        #expect(deletions.first?["rule"] as? String == "api \(Self.rule)", "\(deletions)")
        let all = try rows(cloud)
        #expect(all.count == 1 && all.first?["state"] as? String == "resolved", "\(all)")
    }

    @Test("a denied delete_stack fails in boto3 with AccessDenied naming airlock, the request and the reason, after one attempt; the AWS CLI and curl signing by hand with the placeholder keys are held and denied alike; moto never sees a DeleteStack and the stack stays",
          arguments: configs)
    func deniedDeletionsFail(config: SandboxConfig) throws {
        let cloud = try Cloud(config, stacks: ["kept"])
        let f = cloud.fixture
        let script = """
            \(cloud.agent("delete kept"))
            \(ProjectVenv.bin("aws")) cloudformation delete-stack --stack-name kept; echo "cli: $?"
            curl -sS --max-time 120 --aws-sigv4 aws:amz:us-east-1:cloudformation --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \\
                -d 'Action=DeleteStack&StackName=kept&Version=2010-05-15' -w '\\ncurl: %{http_code}\\n' "$AWS_ENDPOINT_URL/"
            \(cloud.agent("describe kept"))
            """
        let agent = try cloud.startAgent(script)
        var ids: [String] = []
        var execID: String?
        for client in ["boto3", "the aws CLI", "curl"] {
            if client == "the aws CLI" {
                // The command line is held first, by the exec catalogue; approved, its request is
                // decided again by the [[api]] rules.
                guard let row = try held(cloud, agent, excluding: Set(ids)) else { return }
                execID = row["id"] as? String
                #expect(row["kind"] as? String == "exec" && row["rule"] as? String == "aws delete", "\(row)")
                #expect((row["argv"] as? [String]).map { Array($0.dropFirst()) } == ["cloudformation", "delete-stack", "--stack-name", "kept"], "\(row)")
                for name in ["alice", "bob"] { #expect(try signOff.approve(f, cloud.approvers, execID ?? "", as: name).status == 0) }
            }
            guard let row = try held(cloud, agent, excluding: Set(ids + [execID].compactMap { $0 })) else { return }
            let id = try #require(row["id"] as? String)
            ids.append(id)
            #expect(row["kind"] as? String == "api" && row["rule"] as? String == Self.rule, "\(client): \(row)")
            let listed = try signOff.queueCLI(f, cloud.approvers, ["queue", "list", "--pending"])
            #expect(listed.lines.contains { $0.hasPrefix(id) && $0.contains(Self.deletion(of: "kept")) }, "\(client): \(listed)")
            let denied = try signOff.queueCLI(f, cloud.approvers, ["deny", id, "--key", cloud.approvers.key("alice"), "--reason", "not from \(client)"])
            #expect(denied.status == 0, "\(denied)")
        }
        let outcome = agent.wait(timeout: 90)
        try #require(ids.count == 3)
        func refusal(_ i: Int, _ client: String) -> String {
            "airlock: DENIED request \(ids[i]) by alice: not from \(client): \(Self.deletion(of: "kept")): the request was refused."
        }
        // boto3: the error, raised after its one attempt (a 403 AccessDenied is not retried).
        #expect(outcome.lines.contains("delete: error AccessDenied status=403 attempts=1"), "\(outcome)")
        #expect(outcome.lines.contains("delete: message: \(refusal(0, "boto3"))"), "\(outcome)")
        #expect(outcome.stderr.contains("An error occurred (AccessDenied) when calling the DeleteStack operation: \(refusal(1, "the aws CLI"))"),
                "\(outcome)")
        // 255 from AWS CLI v1, 254 from v2: a service error.
        #expect(outcome.lines.contains("cli: 255") || outcome.lines.contains("cli: 254"), "\(outcome)")
        // curl: the query protocol's own error document.
        #expect(outcome.stdout.contains("<Code>AccessDenied</Code><Message>\(refusal(2, "curl"))</Message>"), "\(outcome)")
        #expect(outcome.stdout.contains("<RequestId>\(ids[2])</RequestId>"), "\(outcome)")
        #expect(outcome.lines.contains("curl: 403"), "\(outcome)")
        #expect(outcome.lines.contains("describe: kept CREATE_COMPLETE"), "\(outcome)")

        #expect(try cloud.stackStatus("kept") == "CREATE_COMPLETE")
        let recorded = try cloud.recorded()
        #expect(!recorded.contains { $0.hasPrefix("DeleteStack ") }, "\(recorded)")
        #expect(!recorded.isEmpty && recorded.allSatisfy { $0 == "DescribeStacks \(cloud.keyID)" }, "\(recorded)")
        // One line per client: boto3 asked once.
        let deletions = try logged(cloud, "DeleteStack")
        #expect(deletions.compactMap { $0["request"] as? String } == ids, "\(deletions)")
        #expect(deletions.allSatisfy { $0["status"] as? Int == 403 && $0["decision"] as? String == "hold" }, "\(deletions)")
        let all = try rows(cloud)
        #expect(all.compactMap { $0["id"] as? String } == [ids[0], execID ?? "", ids[1], ids[2]], "\(all)")
        #expect(all.allSatisfy { $0["state"] as? String == "resolved" }, "\(all)")
    }

    @Test("with wait = \"expiry\", boto3 retrying after 5-second read timeouts joins the one held request each time; two approvals about 12 s later return success, and the stack is deleted exactly once",
          arguments: [SandboxConfig.namespaces.first].compactMap { $0 })
    func retriesJoinTheHeldRequest(config: SandboxConfig) throws {
        let cloud = try Cloud(config, stacks: ["retried"], wait: "expiry")
        let f = cloud.fixture
        let agent = try cloud.startAgent(cloud.agent("delete retried 5 12"))
        guard let row = try held(cloud, agent) else { return }
        let heldAt = Date()
        let id = try #require(row["id"] as? String)
        while Date() < heldAt.addingTimeInterval(12), agent.poll() == nil { usleep(200_000) }
        #expect(agent.poll() == nil, "the call ended before the approval: \(agent.currentStdout())")
        let before = try rows(cloud)
        #expect(before.count == 1 && before.first?["state"] as? String == "pending", "the retries made requests of their own\n\(before)")
        let timedOut = try logged(cloud, "DeleteStack")
        #expect(timedOut.count >= 2, "fewer than two attempts timed out while held\n\(timedOut)")
        for name in ["alice", "bob"] { #expect(try signOff.approve(f, cloud.approvers, id, as: name).status == 0) }
        let outcome = agent.wait(timeout: 60)
        let result = try #require(outcome.lines.first { $0.hasPrefix("delete: ") }, "\(outcome)")
        let attempts = Int(result.split(separator: "=").last ?? "") ?? 0
        #expect(result.hasPrefix("delete: ok attempts=") && attempts >= 3, "\(outcome)")

        #expect(try cloud.stackStatus("retried") == "gone")
        let recorded = try cloud.recorded()
        #expect(recorded.filter { $0.hasPrefix("DeleteStack ") } == ["DeleteStack \(cloud.keyID)"], "\(recorded)")
        let all = try rows(cloud)
        #expect(all.count == 1 && all.first?["id"] as? String == id && all.first?["state"] as? String == "resolved", "\(all)")
        // Each attempt is a line: those the client gave up on (499), and the one answered.
        let deletions = try logged(cloud, "DeleteStack")
        #expect(deletions.count == attempts, "\(deletions)")
        #expect(deletions.filter { $0["status"] as? Int == 200 }.count == 1, "\(deletions)")
        let abandoned = deletions.filter { $0["status"] as? Int == 499 }
        #expect(abandoned.count == attempts - 1, "\(deletions)")
        // Those attempts were held, never allowed: the log must not say otherwise.
        #expect(abandoned.allSatisfy { $0["decision"] as? String == "hold" }, "\(abandoned)")
    }

    @Test("a delete_stack not approved within the wait fails in boto3 with AccessDenied saying the request stays open; made again once two approved, the same call goes through without a new request, and the stack is deleted once",
          arguments: [SandboxConfig.namespaces.first].compactMap { $0 })
    func notApprovedYetThenMadeAgain(config: SandboxConfig) throws {
        let cloud = try Cloud(config, stacks: ["later"], wait: "3s")
        let f = cloud.fixture
        let script = """
            \(cloud.agent("delete later"))
            while [ ! -e go ]; do sleep 0.1; done
            \(cloud.agent("delete later"))
            """
        let agent = try cloud.startAgent(script)
        guard let row = try held(cloud, agent) else { return }
        let id = try #require(row["id"] as? String)
        #expect(waitUntil(timeout: 60) { agent.currentStdout().contains("delete: message:") || agent.poll() != nil }, "\(agent.currentStdout())")
        #expect(try cloud.stackStatus("later") == "CREATE_COMPLETE")
        for name in ["alice", "bob"] { #expect(try signOff.approve(f, cloud.approvers, id, as: name).status == 0) }
        try f.write(f.workspace + "/go", "")
        let outcome = agent.wait(timeout: 60)
        // The first call: refused after its wait, after one attempt, saying what happens next.
        #expect(outcome.lines.contains("delete: error AccessDenied status=403 attempts=1"), "\(outcome)")
        let message = outcome.lines.first { $0.hasPrefix("delete: message: ") } ?? ""
        #expect(message.hasPrefix("delete: message: airlock: NOT APPROVED YET: request \(id) has 0/2 approvals: \(Self.deletion(of: "later"))"), "\(outcome)")
        #expect(message.contains("once it is approved, the same request made again goes through"), "\(outcome)")
        // The second: the same request, approved meanwhile, forwarded once.
        #expect(outcome.lines.contains("delete: ok attempts=1"),
                "\(outcome)\nnetwork log: \((try? logged(cloud, "DeleteStack")) ?? [])\nqueue: \((try? rows(cloud)) ?? [])\nmoto: \(cloud.moto.tail())")
        #expect(try cloud.stackStatus("later") == "gone")
        let recorded = try cloud.recorded()
        #expect(recorded.filter { $0.hasPrefix("DeleteStack ") } == ["DeleteStack \(cloud.keyID)"], "\(recorded)")
        let all = try rows(cloud)
        #expect(all.count == 1 && all.first?["id"] as? String == id && all.first?["state"] as? String == "resolved", "\(all)")
    }

    @Test("held for three minutes, boto3's delete_stack and the AWS CLI's delete-stack with their default timeouts (60 s reads, three attempts) wait it out in their first attempt (the proxy's interim 100 Continue every 20 s restarts their read timeout), and two approvals then return success to both; each stack is deleted once",
          arguments: [SandboxConfig.namespaces.first].compactMap { $0 })
    func threeMinuteHoldWithDefaultTimeouts(config: SandboxConfig) throws {
        let cloud = try Cloud(config, stacks: ["boto", "cli"], wait: "10m")
        let f = cloud.fixture
        let script = """
            \(cloud.agent("delete boto")) > boto.out 2>&1 &
            \(ProjectVenv.bin("aws")) cloudformation delete-stack --stack-name cli > cli.out 2>&1; echo "cli: $?" >> cli.out
            wait
            cat boto.out cli.out
            """
        let agent = try cloud.startAgent(script)
        // The CLI's command line is held first, at its exec (the exec catalogue): approved at once.
        var api: [String: String] = [:] // stack → request id
        var seen: Set<String> = []
        let heldAt = Date()
        while api.count < 2 && Date() < heldAt.addingTimeInterval(90) {
            guard let row = try held(cloud, agent, excluding: seen) else { return }
            let id = try #require(row["id"] as? String)
            seen.insert(id)
            if row["kind"] as? String == "exec" {
                for name in ["alice", "bob"] { #expect(try signOff.approve(f, cloud.approvers, id, as: name).status == 0) }
            } else if let stack = ["boto", "cli"].first(where: { row["api"] as? String == Self.deletion(of: $0) }) {
                api[stack] = id
            } else {
                Issue.record("held: \(row)")
            }
        }
        try #require(Set(api.keys) == ["boto", "cli"], "\(api)")
        // Three minutes: without the interim responses each client would have given up (three
        // attempts of 60 s); with them neither has even timed out.
        while Date() < heldAt.addingTimeInterval(185), agent.poll() == nil { usleep(500_000) }
        #expect(agent.poll() == nil, "a client gave up within three minutes: \(agent.currentStdout())")
        let pending = try rows(cloud).filter { $0["kind"] as? String == "api" }
        #expect(pending.count == 2 && pending.allSatisfy { $0["state"] as? String == "pending" }, "\(pending)")
        #expect(try logged(cloud, "DeleteStack").isEmpty, "an attempt ended while held")
        for id in api.values {
            for name in ["alice", "bob"] { #expect(try signOff.approve(f, cloud.approvers, id, as: name).status == 0) }
        }
        let outcome = agent.wait(timeout: 120)
        #expect(outcome.lines.contains("delete: ok attempts=1"), "\(outcome)")
        #expect(outcome.lines.contains("cli: 0"), "\(outcome)")
        #expect(try logged(cloud, "DeleteStack").map { $0["status"] as? Int } == [200, 200], "\(outcome)")
        for stack in ["boto", "cli"] { #expect(try cloud.stackStatus(stack) == "gone", "\(stack)") }
        let recorded = try cloud.recorded()
        #expect(recorded.filter { $0.hasPrefix("DeleteStack ") }.count == 2, "\(recorded)")
        let all = try rows(cloud).filter { $0["kind"] as? String == "api" }
        #expect(all.count == 2 && all.allSatisfy { $0["state"] as? String == "resolved" }, "\(all)")
    }

    @Test("two identical delete_stack calls made at once (two SDK calls, two invocation ids) join one held request; two approvals forward it once, and both calls get its response",
          arguments: [SandboxConfig.namespaces.first].compactMap { $0 })
    func concurrentIdenticalCallsShareOneForward(config: SandboxConfig) throws {
        let cloud = try Cloud(config, stacks: ["both"])
        let f = cloud.fixture
        let agent = try cloud.startAgent(cloud.agent("delete-concurrently both"))
        guard let row = try held(cloud, agent) else { return }
        let id = try #require(row["id"] as? String)
        // Both calls are in (each a line of the network log only once answered): wait for the
        // second to reach the proxy, which its log line at the end will show.
        usleep(3_000_000)
        let pending = try rows(cloud)
        #expect(pending.count == 1, "the second call made a request of its own\n\(pending)")
        for name in ["alice", "bob"] { #expect(try signOff.approve(f, cloud.approvers, id, as: name).status == 0) }
        let outcome = agent.wait(timeout: 60)
        #expect(outcome.lines.filter { $0.hasPrefix("delete: ") } == ["delete: ok attempts=1", "delete: ok attempts=1"], "\(outcome)")
        let recorded = try cloud.recorded()
        #expect(recorded.filter { $0.hasPrefix("DeleteStack ") } == ["DeleteStack \(cloud.keyID)"], "\(recorded)")
        let deletions = try logged(cloud, "DeleteStack")
        #expect(deletions.count == 2 && deletions.allSatisfy { $0["request"] as? String == id && $0["status"] as? Int == 200 }, "\(deletions)")
        #expect(try cloud.stackStatus("both") == "gone")
    }

    @Test("a second delete_stack of the same stack, made by a new boto3 call after the first was approved and the stack made again, is held again, not answered with the first call's response",
          arguments: [SandboxConfig.namespaces.first].compactMap { $0 })
    func laterIdenticalCallIsAskedAgain(config: SandboxConfig) throws {
        let cloud = try Cloud(config, stacks: ["twice"])
        let f = cloud.fixture
        let script = """
            \(cloud.agent("delete twice"))
            while [ ! -e go ]; do sleep 0.1; done
            \(cloud.agent("delete twice"))
            """
        let agent = try cloud.startAgent(script)
        guard let row = try held(cloud, agent) else { return }
        let first = try #require(row["id"] as? String)
        for name in ["alice", "bob"] { #expect(try signOff.approve(f, cloud.approvers, first, as: name).status == 0) }
        #expect(waitUntil(timeout: 60) { agent.currentStdout().contains("delete: ok") || agent.poll() != nil }, "\(agent.currentStdout())")
        #expect(try cloud.stackStatus("twice") == "gone")
        try cloud.onHost(["create", cloud.keyID, cloud.secret, "twice"])
        try f.write(f.workspace + "/go", "")
        // The second call: held (then denied here), or answered at once.
        var second: String?
        _ = waitUntil(timeout: 30) {
            second = (try? signOff.waitForHeld(f, cloud.approvers, timeout: 0.5, excluding: [first]))?["id"] as? String
            return second != nil || agent.poll() != nil
        }
        if let second {
            #expect(try signOff.queueCLI(f, cloud.approvers, ["deny", second, "--key", cloud.approvers.key("alice"), "--reason", "once is enough"]).status == 0)
        }
        let outcome = agent.wait(timeout: 60)
        #expect(try cloud.stackStatus("twice") == "CREATE_COMPLETE")
        let recorded = try cloud.recorded()
        #expect(recorded.filter { $0.hasPrefix("DeleteStack ") }.count == 1, "\(recorded)")
        // A new call (a new amz-sdk-invocation-id) is never answered with an earlier call's response.
        #expect(second != nil, "the second call was not held\n\(outcome)")
        #expect(outcome.lines.filter { $0.hasPrefix("delete: ok") || $0.hasPrefix("delete: error") } == ["delete: ok attempts=1", "delete: error AccessDenied status=403 attempts=1"],
                "\(outcome)")
    }
}

/// The Python of these tests: the operator's side on the host, the agent's in the sandbox.
enum CloudScripts {
    static let operatorFile = "cloud_operator.py"
    static let agentFile = "cloud_agent.py"

    /// `setup|create|stack|direct|recorded ENDPOINT CA ARGS…`: makes the operator's user, keys and
    /// stacks and turns authentication and moto's request recorder on; makes a stack again; reads a
    /// stack's status; calls moto with given keys; lists the requests recorded ("recorded: Action
    /// KEYID").
    static let operatorScript = #"""
        import base64, json, ssl, sys, urllib.parse, urllib.request
        import boto3
        from botocore.exceptions import ClientError

        command, endpoint, ca = sys.argv[1:4]
        args = sys.argv[4:]

        def client(service, key_id="bootstrap", secret="bootstrap"):
            return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1", verify=ca,
                                aws_access_key_id=key_id, aws_secret_access_key=secret)

        def moto_api(path, body=None):
            request = urllib.request.Request(endpoint + "/moto-api/" + path, data=body, method="GET" if body is None else "POST",
                                             headers={"Content-Type": "text/plain"})
            with urllib.request.urlopen(request, context=ssl.create_default_context(cafile=ca), timeout=30) as response:
                return response.read().decode()

        if command == "setup":
            iam = client("iam")
            iam.create_user(UserName="operator")
            policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
            iam.put_user_policy(UserName="operator", PolicyName="admin", PolicyDocument=json.dumps(policy))
            key = iam.create_access_key(UserName="operator")["AccessKey"]
            cloudformation = client("cloudformation", key["AccessKeyId"], key["SecretAccessKey"])
            template = json.dumps({"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}})
            for name in args:
                cloudformation.create_stack(StackName=name, TemplateBody=template)
            moto_api("reset-auth", b"0")
            moto_api("recorder/reset-recording", b"")
            moto_api("recorder/start-recording", b"")
            print("operator:", key["AccessKeyId"], key["SecretAccessKey"])
        elif command == "create":
            key_id, secret, name = args
            template = json.dumps({"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}})
            client("cloudformation", key_id, secret).create_stack(StackName=name, TemplateBody=template)
            print("created:", name)
        elif command == "stack":
            key_id, secret, name = args
            try:
                stack = client("cloudformation", key_id, secret).describe_stacks(StackName=name)["Stacks"][0]
                print("stack:", stack["StackName"], stack["StackStatus"])
            except ClientError as error:
                print("stack:", name, "error", error.response["Error"]["Code"], error.response["Error"]["Message"])
        elif command == "direct":
            key_id, secret = args
            try:
                client("cloudformation", key_id, secret).describe_stacks()
                print("direct: ok")
            except ClientError as error:
                print("direct: error", error.response["Error"]["Code"])
        elif command == "recorded":
            for line in moto_api("recorder/download-recording").splitlines():
                entry = json.loads(line)
                body = base64.b64decode(entry["body"]) if entry.get("body_encoded") else (entry.get("body") or "").encode()
                action = urllib.parse.parse_qs(body.decode(errors="replace")).get("Action", ["?"])[0]
                authorization = entry["headers"].get("Authorization", "")
                key_id = authorization.split("Credential=", 1)[1].split("/", 1)[0] if "Credential=" in authorization else "-"
                print("recorded:", action, key_id)

        """#

    /// `describe STACK`, `delete STACK [READ_TIMEOUT MAX_ATTEMPTS]` with boto3 as the agent would
    /// write it (the environment's region, endpoint and keys), printing the outcome and botocore's
    /// attempts; `scan HEX…` looks for the XOR-encoded strings in every environment, command line
    /// and other process's memory it can read, and for the first of them in the files of its home, its workspace and
    /// (written in the last hour) its temporary directories. (The key id is in moto's recording,
    /// under /var/tmp; the secret never leaves the operator's side.)
    static let agentScript = #"""
        import os, subprocess, sys, time
        import boto3
        from botocore.config import Config
        from botocore.exceptions import ClientError

        def cloudformation(read_timeout=None, attempts=None):
            settings = {}
            if read_timeout:
                settings["read_timeout"] = read_timeout
                settings["retries"] = {"max_attempts": attempts, "mode": "standard"}
            return boto3.client("cloudformation", config=Config(**settings))

        def report(label, call):
            try:
                response = call()
                print(label, "ok", "attempts=%d" % (response["ResponseMetadata"].get("RetryAttempts", 0) + 1), flush=True)
                return response
            except ClientError as error:
                metadata = error.response["ResponseMetadata"]
                print(label, "error", error.response["Error"].get("Code"), "status=%s" % metadata.get("HTTPStatusCode"),
                      "attempts=%d" % (metadata.get("RetryAttempts", 0) + 1))
                print(label, "message:", error.response["Error"].get("Message"), flush=True)
            except Exception as error:
                print(label, "failed", type(error).__name__, error, flush=True)

        def scan(encoded):
            needles = [bytes(b ^ 0x5A for b in bytes.fromhex(h)) for h in encoded]
            found = []
            def look(where, data, needles=needles):
                if any(n in data for n in needles):
                    found.append(where)
            look("os.environ", "\n".join("%s=%s" % item for item in os.environ.items()).encode())
            look("env", subprocess.run(["env"], capture_output=True).stdout)
            environments = memories = 0
            for pid in os.listdir("/proc"):
                if not pid.isdigit():
                    continue
                for name in ("environ", "cmdline"):
                    try:
                        with open("/proc/%s/%s" % (pid, name), "rb") as f:
                            data = f.read()
                    except OSError:
                        continue
                    environments += name == "environ"
                    look("/proc/%s/%s" % (pid, name), data)
                # Every other process's memory it may read (the proxy's holds the operator's keys).
                if int(pid) == os.getpid():
                    continue
                try:
                    with open("/proc/%s/maps" % pid) as f:
                        regions = f.read().splitlines()
                    with open("/proc/%s/mem" % pid, "rb", buffering=0) as mem:
                        memories += 1
                        for region in regions:
                            fields = region.split()
                            start, end = (int(x, 16) for x in fields[0].split("-"))
                            if not fields[1].startswith("r") or end - start > 64 << 20:
                                continue
                            try:
                                mem.seek(start)
                                look("/proc/%s/mem" % pid, mem.read(end - start))
                            except (OSError, ValueError, OverflowError):
                                continue
                except OSError:
                    continue
            files = 0
            recent = time.time() - 3600
            for root, everything in ((os.environ["HOME"], True), (os.getcwd(), True), ("/tmp", False), ("/var/tmp", False),
                                     ("/run", False), ("/dev/shm", False)):
                for directory, _, names in os.walk(root):
                    for name in names:
                        path = os.path.join(directory, name)
                        try:
                            st = os.lstat(path)
                            if not os.path.isfile(path) or os.path.islink(path) or st.st_size > 4 << 20:
                                continue
                            if not everything and st.st_mtime < recent:
                                continue
                            with open(path, "rb") as f:
                                data = f.read()
                        except OSError:
                            continue
                        files += 1
                        look(path, data, needles[:1])
            print("scanned: %d environments, %d memories, %d files" % (environments, memories, files))
            print("found:", ", ".join(found) or "nothing", flush=True)

        command, args = sys.argv[1], sys.argv[2:]
        if command == "describe":
            response = report("describe:", lambda: cloudformation().describe_stacks(StackName=args[0]))
            if response:
                print("describe:", args[0], response["Stacks"][0]["StackStatus"])
        elif command == "delete":
            timeout, attempts = (int(args[1]), int(args[2])) if len(args) > 1 else (None, None)
            report("delete:", lambda: cloudformation(timeout, attempts).delete_stack(StackName=args[0]))
        elif command == "scan":
            scan(args)
        elif command == "delete-concurrently":
            import threading
            clients = [cloudformation(), cloudformation()]
            threads = [threading.Thread(target=report, args=("delete:", lambda c=c: c.delete_stack(StackName=args[0]))) for c in clients]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()

        """#
}
