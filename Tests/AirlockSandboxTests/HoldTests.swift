import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// How a hold behaves for an agent and its operator (docs/holds.md): real harnesses with real
/// timeouts, the bounded wait and its retry, the lines the agent reads, a broken queue, the
/// operator's notice copied and run.
@Suite(.serialized)
struct HoldTests {
    let signOff = SignOffTests()

    /// A harness that runs `rm -rf data` (or deletes in it) with a 2 s timeout and prints when it
    /// had control back.
    struct Harness: CustomTestStringConvertible, Sendable {
        var name: String
        var argv: @Sendable () throws -> [String]
        var testDescription: String { name }

        static let all: [Harness] = [
            Harness(name: "Python subprocess.run(shell=True, timeout=2)") {
                ["/usr/bin/python3", "-c", """
                    import subprocess, time
                    t = time.monotonic()
                    try:
                        subprocess.run("rm -rf data", shell=True, timeout=2)
                        print("harness: returned at %d ms" % ((time.monotonic() - t) * 1000))
                    except subprocess.TimeoutExpired:
                        print("harness: timed out at %d ms" % ((time.monotonic() - t) * 1000))
                    """]
            },
            Harness(name: "Node execSync(timeout: 2000)") {
                ["/usr/bin/node", "-e", """
                    const t = Date.now();
                    try { require("child_process").execSync("rm -rf data", {timeout: 2000, stdio: "inherit"}); console.log("harness: returned at " + (Date.now() - t) + " ms"); }
                    catch (e) { console.log("harness: " + (e.signal || e.code) + " at " + (Date.now() - t) + " ms"); }
                    """]
            },
            Harness(name: "Python thread, join(timeout=2), the delete held in the thread") {
                ["/usr/bin/python3", "-c", """
                    import os, threading, time
                    t = time.monotonic()
                    worker = threading.Thread(target=lambda: os.unlink("data/precious"), daemon=True)
                    worker.start()
                    worker.join(timeout=2)
                    print("harness: %s at %d ms" % ("timed out" if worker.is_alive() else "returned", (time.monotonic() - t) * 1000), flush=True)
                    os._exit(0)
                    """]
            },
            Harness(name: "C posix_spawn") { [try Binaries.probe(), "spawn", "posix_spawn", "2000", "/bin/rm", "-rf", "data"] },
            Harness(name: "C vfork + exec") { [try Binaries.probe(), "spawn", "vfork", "2000", "/bin/rm", "-rf", "data"] },
            Harness(name: "C fork + exec with an exec-status pipe") { [try Binaries.probe(), "spawn", "pipe", "2000", "/bin/rm", "-rf", "data"] },
        ]
    }

    func request(_ fixture: Fixture, _ approvers: SignOffTests.Approvers, _ id: String) throws -> [String: Any]? {
        let listed = try signOff.queueCLI(fixture, approvers, ["queue", "list", "--json"])
        let rows = try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]]
        return rows?.first { $0["id"] as? String == id }
    }

    func onlyRequest(_ fixture: Fixture, _ approvers: SignOffTests.Approvers) throws -> [String: Any]? {
        let listed = try signOff.queueCLI(fixture, approvers, ["queue", "list", "--json"])
        let rows = try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]]
        #expect(rows?.count == 1, "\(listed)")
        return rows?.first
    }

    @Test("a held command does not hold its spawner: each harness's 2 s timeout fires, kills it and returns within 3 s; the request is cancelled and nothing protected changes",
          arguments: SandboxConfig.all, Harness.all)
    func harnessTimeoutsEndHeldCommands(config: SandboxConfig, harness: Harness) throws {
        let fixture = try Fixture(config)
        let approvers = try SignOffTests.Approvers(in: fixture.root)
        try fixture.write(fixture.workspace + "/data/precious", "keep me\n")
        let started = Date()
        // The harness's stderr is its own (as an agent's tool output is), not airlock's.
        let outcome = try fixture.run(["/bin/sh", "-c", "exec \"$@\" 2>harness.err", "sh"] + (try harness.argv()),
                                      options: ["--protect", "data", "--approvers", approvers.allowedSigners, "--wait", "60s"], timeout: 30)
        let elapsed = Date().timeIntervalSince(started)
        let line = try #require(outcome.lines.first { $0.hasPrefix("harness:") || $0.hasPrefix("spawn:") }, "\(outcome)")
        let ms = line.split(separator: " ").compactMap { Int($0) }.last ?? Int.max
        #expect(!line.contains("returned at") && !line.contains("exited"), "the command ran to its end\n\(outcome)")
        #expect(ms >= 1900 && ms <= 3000, "the harness had control back at \(ms) ms\n\(outcome)")
        if line.hasPrefix("spawn:") {
            // The spawning call itself returned at once, not when the hold ended.
            let returned = line.split(separator: " ").compactMap { Int($0) }.first ?? Int.max
            #expect(returned < 1000, "the spawner returned after \(returned) ms\n\(outcome)")
        }
        #expect(elapsed < 15, "airlock ran \(elapsed) s\n\(outcome)")
        #expect(FileManager.default.fileExists(atPath: fixture.workspace + "/data/precious"), "\(outcome)")
        let held = try #require(try onlyRequest(fixture, approvers))
        #expect(held["kind"] as? String == (harness.name.contains("thread") ? "delete" : "exec"), "\(held)")
        #expect(held["state"] as? String == "cancelled", "\(held)\n\(outcome)")
        // The agent was told, on the held command's stderr.
        let told = (try? String(contentsOfFile: fixture.workspace + "/harness.err", encoding: .utf8)) ?? ""
        #expect(told.contains("airlock: HELD ") && told.contains("needs 2 approvals"), "\(told)\n\(outcome)")
    }

    @Test("a held delete fails with EPERM after --wait, its request stays pending, and after two approvals the same delete made again goes through without new ones; another delete is not covered",
          arguments: SandboxConfig.all)
    func boundedWaitThenRetryAfterApproval(config: SandboxConfig) throws {
        let fixture = try Fixture(config)
        let approvers = try SignOffTests.Approvers(in: fixture.root)
        try fixture.write(fixture.workspace + "/.env", "A=1\n")
        try fixture.write(fixture.workspace + "/sub/.env", "B=2\n")
        // The agent tries, is refused after the wait, waits for the go-ahead (a file the test
        // writes), then tries again and tries another protected file.
        let script = """
            rm .env 2>err1; echo "first=$?"
            while [ ! -e go ]; do sleep 0.1; done
            rm .env 2>err2; echo "second=$?"
            rm sub/.env 2>err3; echo "other=$?"
            """
        let agent = try signOff.startAgent(fixture, approvers, script, options: ["--wait", "1s"])
        guard let held = try signOff.heldOrKill(fixture, approvers, agent) else { return }
        let id = try #require(held["id"] as? String)
        // The first call fails after about a second, long before any approval.
        #expect(waitUntil(timeout: 5) { (try? String(contentsOfFile: fixture.workspace + "/err1", encoding: .utf8))?.contains("Operation not permitted") == true })
        #expect(try request(fixture, approvers, id)?["state"] as? String == "pending")
        #expect(try signOff.approve(fixture, approvers, id, as: "alice").status == 0)
        #expect(try signOff.approve(fixture, approvers, id, as: "bob").status == 0)
        try fixture.write(fixture.workspace + "/go", "")
        // The other file's request: a new one, which nobody approves; it fails after its wait.
        let outcome = agent.wait(timeout: 20)
        #expect(outcome.lines.contains("first=1"), "\(outcome)")
        #expect(outcome.lines.contains("second=0"), "\(outcome)")
        #expect(outcome.lines.contains("other=1"), "\(outcome)")
        #expect(!FileManager.default.fileExists(atPath: fixture.workspace + "/.env"))
        #expect(FileManager.default.fileExists(atPath: fixture.workspace + "/sub/.env"))
        let listed = try signOff.queueCLI(fixture, approvers, ["queue", "list", "--json"])
        let rows = try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]] ?? []
        #expect(rows.count == 2, "\(listed)")
        #expect(rows.first { $0["id"] as? String == id }?["state"] as? String == "resolved", "\(listed)")
        #expect(rows.first { $0["id"] as? String != id }?["path"] as? String == fixture.workspace + "/sub/.env", "\(listed)")
        // Ended with the sandbox: nothing is left approvable.
        #expect(rows.first { $0["id"] as? String != id }?["state"] as? String == "cancelled", "\(listed)")
    }

    @Test("an approved delete whose resolve line cannot be written (the queue file made immutable) is refused and done nothing, and its request stays approved: the agent's next try goes ahead on it, with no new request")
    func resolveNotWrittenKeepsTheApprovedRequest() throws {
        let fixture = try Fixture(.root)
        let approvers = try SignOffTests.Approvers(in: fixture.root)
        try fixture.write(fixture.workspace + "/.env", "A=1\n")
        let queue = signOff.queuePath(fixture)
        func chattr(_ flag: String) throws -> Outcome {
            try Subprocess(["/usr/bin/chattr", flag, queue], environment: [:], directory: "/").wait(timeout: 10)
        }
        defer { _ = try? chattr("-i") }
        let script = """
            rm .env 2>err1; echo "first=$?"
            while [ ! -e go ]; do sleep 0.1; done
            rm .env 2>err2; echo "second=$?"
            while [ ! -e go2 ]; do sleep 0.1; done
            rm .env 2>err3; echo "third=$?"
            """
        let agent = try signOff.startAgent(fixture, approvers, script, options: ["--wait", "1s"])
        guard let held = try signOff.heldOrKill(fixture, approvers, agent) else { return }
        let id = try #require(held["id"] as? String)
        #expect(waitUntil(timeout: 5) { (try? String(contentsOfFile: fixture.workspace + "/err1", encoding: .utf8))?.contains("Operation not permitted") == true })
        #expect(try signOff.approve(fixture, approvers, id, as: "alice").status == 0)
        #expect(try signOff.approve(fixture, approvers, id, as: "bob").status == 0)
        // Even root cannot write to it now: the resolve cannot be written, so the delete must not happen.
        try #require(try chattr("+i").status == 0)
        try fixture.write(fixture.workspace + "/go", "")
        // The shell makes err2 before rm runs: wait for what rm wrote to it.
        #expect(waitUntil(timeout: 10) { (try? String(contentsOfFile: fixture.workspace + "/err2", encoding: .utf8))?.isEmpty == false })
        #expect(FileManager.default.fileExists(atPath: fixture.workspace + "/.env"), "deleted with no resolve on record")
        try #require(try chattr("-i").status == 0)
        try fixture.write(fixture.workspace + "/go2", "")
        let outcome = agent.wait(timeout: 20)
        #expect(outcome.lines.contains("first=1") && outcome.lines.contains("second=1") && outcome.lines.contains("third=0"), "\(outcome)")
        #expect(!FileManager.default.fileExists(atPath: fixture.workspace + "/.env"))
        let listed = try signOff.queueCLI(fixture, approvers, ["queue", "list", "--json"])
        let rows = try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]] ?? []
        #expect(rows.count == 1 && rows.first?["id"] as? String == id && rows.first?["state"] as? String == "resolved", "\(listed)")
        let verified = try signOff.queueCLI(fixture, approvers, ["queue", "verify"])
        #expect(verified.status == 0, "\(verified)")
    }

    @Test("a held command not approved within --wait ends with status 126 having run nothing, and runs when made again after two approvals",
          arguments: SandboxConfig.all)
    func heldCommandEnds126ThenRunsOnRetry(config: SandboxConfig) throws {
        let fixture = try Fixture(config)
        let approvers = try SignOffTests.Approvers(in: fixture.root)
        try fixture.write(fixture.workspace + "/data/precious", "keep me\n")
        let script = """
            rm -rf data 2>told; echo "first=$?"; ls data
            while [ ! -e go ]; do sleep 0.1; done
            rm -rf data; echo "second=$?"
            """
        let agent = try signOff.startAgent(fixture, approvers, script, options: ["--protect", "data", "--wait", "1s"])
        guard let held = try signOff.heldOrKill(fixture, approvers, agent) else { return }
        let id = try #require(held["id"] as? String)
        #expect(held["kind"] as? String == "exec")
        #expect(waitUntil(timeout: 5) { (try? String(contentsOfFile: fixture.workspace + "/told", encoding: .utf8))?.contains("NOT APPROVED YET") == true })
        #expect(try signOff.approve(fixture, approvers, id, as: "alice").status == 0)
        #expect(try signOff.approve(fixture, approvers, id, as: "bob").status == 0)
        try fixture.write(fixture.workspace + "/go", "")
        let outcome = agent.wait(timeout: 20)
        #expect(outcome.lines.contains("first=126"), "\(outcome)")
        #expect(outcome.lines.contains("precious"), "the held rm ran before approval\n\(outcome)")
        #expect(outcome.lines.contains("second=0"), "\(outcome)")
        #expect(!FileManager.default.fileExists(atPath: fixture.workspace + "/data"))
        let told = try String(contentsOfFile: fixture.workspace + "/told", encoding: .utf8)
        #expect(told.contains("the command ended before it started (exit 126)"), "\(told)")
        #expect(try request(fixture, approvers, id)?["state"] as? String == "resolved")
    }

    @Test("a command held stopped after its exec cannot be rewritten while it waits: its parent cannot open its memory for writing",
          arguments: SandboxConfig.all)
    func stoppedCommandsMemoryIsNotWritable(config: SandboxConfig) throws {
        let fixture = try Fixture(config)
        let approvers = try SignOffTests.Approvers(in: fixture.root)
        try fixture.write(fixture.workspace + "/data/precious", "keep me\n")
        let outcome = try fixture.run(["/usr/bin/python3", "-c", """
            import subprocess, time
            child = subprocess.Popen(["rm", "-rf", "data"], stderr=subprocess.DEVNULL)
            time.sleep(1)
            for mode in ("r+b",):
                try:
                    open("/proc/%d/mem" % child.pid, mode).close()
                    print("mem %s: opened" % mode)
                except OSError as e:
                    print("mem %s: %s" % (mode, e.strerror))
            child.kill()
            """], options: ["--protect", "data", "--approvers", approvers.allowedSigners, "--wait", "60s"])
        #expect(outcome.lines.contains { $0.hasPrefix("mem r+b:") && !$0.hasSuffix("opened") }, "\(outcome)")
        #expect(try onlyRequest(fixture, approvers)?["state"] as? String == "cancelled")
        #expect(FileManager.default.fileExists(atPath: fixture.workspace + "/data/precious"))
    }

    @Test("the held process's own stderr gets the held line, then the outcome line; not when it is airlock's own stderr or open read-only",
          arguments: SandboxConfig.all)
    func agentIsToldOnItsStderr(config: SandboxConfig) throws {
        let fixture = try Fixture(config)
        let approvers = try SignOffTests.Approvers(in: fixture.root)
        try fixture.write(fixture.workspace + "/.env", "A=1\n")
        try fixture.write(fixture.workspace + "/prod.tfstate", "{}\n")
        try fixture.write(fixture.workspace + "/sub/.env", "B=2\n")
        try fixture.write(fixture.workspace + "/readonly", "")
        // One call denied (to a file the agent reads), one that shares airlock's stderr, one whose
        // stderr is open for reading only.
        let agent = try signOff.startAgent(fixture, approvers, "rm .env 2>told; echo rm=$?; rm sub/.env 2<readonly; echo ro=$?; : > prod.tfstate; echo trunc=$?")
        guard let first = try signOff.heldOrKill(fixture, approvers, agent) else { return }
        let id = try #require(first["id"] as? String)
        #expect(try signOff.queueCLI(fixture, approvers, ["deny", id, "--key", approvers.key("alice"), "--reason", "not today"]).status == 0)
        guard let second = try signOff.waitForHeld(fixture, approvers, excluding: [id]), let id2 = second["id"] as? String else {
            agent.send(SIGKILL)
            Issue.record("no second hold: \(agent.wait(timeout: 5))")
            return
        }
        #expect(try signOff.queueCLI(fixture, approvers, ["deny", id2, "--key", approvers.key("bob"), "--reason", "no"]).status == 0)
        var id3 = ""
        if let third = try signOff.waitForHeld(fixture, approvers, excluding: [id, id2]), let found = third["id"] as? String {
            id3 = found
            #expect(try signOff.queueCLI(fixture, approvers, ["deny", id3, "--key", approvers.key("bob"), "--reason", "no"]).status == 0)
        } else {
            Issue.record("no third hold")
        }
        let outcome = agent.wait(timeout: 20)
        #expect(outcome.lines.contains("ro=1"), "\(outcome)")
        #expect(try String(contentsOfFile: fixture.workspace + "/readonly", encoding: .utf8).isEmpty, "written to a read-only stderr")
        #expect(outcome.lines.contains("rm=1"), "\(outcome)")
        let told = try String(contentsOfFile: fixture.workspace + "/told", encoding: .utf8)
            .split(separator: "\n").map(String.init).filter { $0.hasPrefix("airlock: ") }
        #expect(told.count == 2, "\(told)")
        #expect(told.first?.hasPrefix("airlock: HELD delete \(fixture.workspace)/.env: request \(id) needs 2 approvals") == true, "\(told)")
        #expect(told.last?.hasPrefix("airlock: DENIED request \(id) by alice: not today") == true, "\(told)")
        #expect(told.last?.contains("failed with EPERM") == true, "\(told)")
        // The truncate's process shares airlock's stderr: only the operator's notice is there.
        #expect(!outcome.stderr.contains("airlock: HELD truncate"), "\(outcome)")
        #expect(outcome.stderr.contains("HELD \(id3):"), "\(outcome)")
    }

    @Test("a forged queue line while a call is held fails the call within a second, with the reason, on the operator's terminal and the agent's stderr",
          arguments: [SandboxConfig.root, SandboxConfig.landlock[0]])
    func forgedLineFailsHeldCallsNow(config: SandboxConfig) throws {
        let fixture = try Fixture(config)
        let approvers = try SignOffTests.Approvers(in: fixture.root)
        try fixture.write(fixture.workspace + "/.env", "A=1\n")
        let agent = try signOff.startAgent(fixture, approvers, "rm .env 2>told; echo rm=$?; sleep 0.2; rm .env; echo again=$?",
                                           options: ["--wait", "expiry"])
        guard try signOff.heldOrKill(fixture, approvers, agent) != nil else { return }
        let forged = #"{"seq":99,"ts":"2026-01-01T00:00:00.000Z","prev":"0000","event":"approve","id":"x"}"# + "\n"
        let handle = try #require(FileHandle(forWritingAtPath: signOff.queuePath(fixture)))
        handle.seekToEndOfFile()
        let forgedAt = Date()
        handle.write(Data(forged.utf8))
        try handle.close()
        #expect(waitUntil(timeout: 3) { (try? String(contentsOfFile: fixture.workspace + "/told", encoding: .utf8))?.contains("FAILED") == true })
        let took = Date().timeIntervalSince(forgedAt)
        #expect(took < 1.0, "the held call failed \(took) s after the forged line")
        let outcome = agent.wait(timeout: 10)
        #expect(outcome.lines.contains("rm=1"), "\(outcome)")
        #expect(outcome.lines.contains("again=1"), "later holds fail at once\n\(outcome)")
        #expect(outcome.stderr.contains("is broken at line"), "\(outcome)")
        #expect(outcome.stderr.contains("new queue file"), "\(outcome)")
        let told = try String(contentsOfFile: fixture.workspace + "/told", encoding: .utf8)
        #expect(told.contains("broken"), "\(told)")
        #expect(FileManager.default.fileExists(atPath: fixture.workspace + "/.env"))
    }

    @Test("the HELD notice's approve commands, copied and run as printed with a non-default queue and approvers file, approve",
          arguments: [SandboxConfig.root])
    func noticeCommandsWorkAsPrinted(config: SandboxConfig) throws {
        let fixture = try Fixture(config)
        let approvers = try SignOffTests.Approvers(in: fixture.root)
        try fixture.write(fixture.workspace + "/.env", "A=1\n")
        let queue = fixture.root + "/elsewhere/my queue.jsonl"
        let agent = try startAirlock(fixture.runArguments(["/bin/sh", "-c", "rm .env; echo rm=$?"],
                                                          options: ["--queue", queue, "--approvers", approvers.allowedSigners]),
                                     env: fixture.environment(), cwd: fixture.workspace, user: config.user)
        var command: String?
        _ = waitUntil(timeout: 15) {
            command = agent.currentStderr().split(separator: "\n").compactMap { line -> String? in
                guard let r = line.range(of: "Approve: ") else { return nil }
                return String(line[r.upperBound...]).components(separatedBy: "  Deny:").first
            }.first
            return command != nil
        }
        let printed = try #require(command, "no notice: \(agent.currentStderr())")
        #expect(printed.hasPrefix("airlock approve "), "\(printed)")
        // Run exactly what was printed, by a shell, from another directory, with a HOME whose
        // defaults are elsewhere; only the key is the approver's own.
        for name in ["alice", "bob"] {
            let ran = try Subprocess(["/bin/sh", "-c", "\(printed) --key \(approvers.key(name))"],
                                     environment: ["PATH": "\(try Binaries.directory()):/usr/bin:/bin", "HOME": fixture.root + "/nowhere"],
                                     directory: "/").wait(timeout: 30)
            #expect(ran.status == 0, "\(ran)")
        }
        let outcome = agent.wait(timeout: 15)
        #expect(outcome.lines.contains("rm=0"), "\(outcome)")
        #expect(!FileManager.default.fileExists(atPath: fixture.workspace + "/.env"))
    }

    @Test("SIGTERM to airlock while a call is held ends the sandbox within the grace period with exit 143, and the request is cancelled",
          arguments: SandboxConfig.all)
    func sigtermWithAHeldCallCancelsIt(config: SandboxConfig) throws {
        let fixture = try Fixture(config)
        let approvers = try SignOffTests.Approvers(in: fixture.root)
        try fixture.write(fixture.workspace + "/.env", "A=1\n")
        // The agent's shell ignores SIGTERM: only the grace period ends it.
        let agent = try signOff.startAgent(fixture, approvers, "trap '' TERM; rm .env; echo rm=$?",
                                           options: ["--wait", "expiry", "--stop-timeout", "2s"])
        guard let held = try signOff.heldOrKill(fixture, approvers, agent) else { return }
        let id = try #require(held["id"] as? String)
        let start = Date()
        agent.send(SIGTERM)
        let outcome = agent.wait(timeout: 15)
        let took = Date().timeIntervalSince(start)
        #expect(outcome.status == 143, "\(outcome)")
        #expect(took >= 1.5 && took < 6, "airlock ended \(took) s after SIGTERM\n\(outcome)")
        #expect(!outcome.lines.contains("rm=0"), "\(outcome)")
        #expect(FileManager.default.fileExists(atPath: fixture.workspace + "/.env"))
        let after = try #require(try request(fixture, approvers, id))
        #expect(after["state"] as? String == "cancelled", "\(after)\n\(outcome)")
        let approve = try signOff.approve(fixture, approvers, id, as: "alice")
        #expect(approve.status == 1 && approve.stderr.contains("cancelled"), "\(approve)")
    }
}
