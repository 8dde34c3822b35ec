import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Fault injection, end to end: each fault must fail closed (the held operation is not performed),
/// lose no queue line, and be reported in one clear line.
///
/// Already covered elsewhere, and not repeated here:
/// - SignOffTests.killingTheSupervisorFailsClosed: airlock SIGKILLed while a call is held, the file
///   stays and the script does not go on (all configurations). Added here: no process of the
///   sandbox survives, the request line is intact, and approvals that arrive afterwards change nothing.
/// - SignOffTests.heldCallsDoNotMultiply: SIGUSR1 (SA_RESTART) sent 20 times from outside to a held
///   thread, plus the same call from a second thread, make one request. Added here: a SIGALRM storm
///   every millisecond from the held process's own interval timer, running before and during the hold.
/// - AirlockSignOffTests.QueueFileTests: torn-line handling of the queue writer and reader as a
///   library. Added here: the same through the supervisor, the approve CLI and `queue verify`.
@Suite(.serialized)
struct FaultInjectionTests {
    typealias Approvers = SignOffTests.Approvers

    // MARK: - Helpers

    /// The queue of a fixture unless a test says otherwise.
    func defaultQueue(_ fixture: Fixture) -> String { fixture.home + "/.local/state/airlock/queue.jsonl" }

    /// `airlock ARGS --queue QUEUE --approvers APPROVERS` as the test's user (the approver's side).
    func cli(_ fixture: Fixture, _ args: [String], queue: String, approvers: String) throws -> Outcome {
        try airlock(args + ["--queue", queue, "--approvers", approvers],
                    env: ["PATH": "/usr/bin:/bin", "HOME": fixture.root], cwd: fixture.root)
    }

    /// The requests in `queue` (`queue list --json`).
    func requests(_ fixture: Fixture, queue: String, approvers: String, pending: Bool = false) throws -> [[String: Any]] {
        let listed = try cli(fixture, ["queue", "list", "--json"] + (pending ? ["--pending"] : []), queue: queue, approvers: approvers)
        guard listed.status == 0, let rows = try? JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]] else {
            return []
        }
        return rows
    }

    /// Waits for a pending request whose id is not in `seen`.
    func waitForHeld(_ fixture: Fixture, queue: String, approvers: String, excluding seen: Set<String> = [],
                     timeout: Double = 15) throws -> [String: Any]? {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let row = try requests(fixture, queue: queue, approvers: approvers, pending: true)
                .first(where: { !seen.contains($0["id"] as? String ?? "") }) {
                return row
            }
            usleep(100_000)
        }
        return nil
    }

    func approve(_ fixture: Fixture, _ approvers: Approvers, _ id: String, as name: String, queue: String,
                 approversFile: String? = nil) throws -> Outcome {
        try cli(fixture, ["approve", id, "--key", approvers.key(name)], queue: queue, approvers: approversFile ?? approvers.allowedSigners)
    }

    /// `airlock run` of `sh -c SCRIPT` in the workspace, started and left running.
    func startAgent(_ fixture: Fixture, _ script: String, options: [String], env: [String: String] = [:]) throws -> Subprocess {
        try startAirlock(fixture.runArguments(["/bin/sh", "-c", script], options: options),
                         env: fixture.environment(env), cwd: fixture.workspace, user: fixture.config.user)
    }

    /// A profile extending the default with a held call's timeout of `seconds`.
    func shortProfile(_ fixture: Fixture, seconds: Int) throws -> String {
        let path = fixture.root + "/timeout-\(seconds).toml"
        try fixture.write(path, "extends = \"default\"\n[signoff]\ntimeout = \(seconds)\n")
        return path
    }

    func bytes(_ path: String) -> [UInt8] {
        (try? Data(contentsOf: URL(fileURLWithPath: path))).map { [UInt8]($0) } ?? []
    }

    func append(_ path: String, _ data: [UInt8]) throws {
        let fd = open(path, O_WRONLY | O_APPEND)
        guard fd >= 0 else { throw HarnessError("open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard write(fd, data, data.count) == data.count else { throw HarnessError("append to \(path): \(String(cString: strerror(errno)))") }
    }

    /// The queue's lines, each with its newline; a last line without one comes last as is.
    func lines(_ data: [UInt8]) -> [[UInt8]] {
        var result: [[UInt8]] = []
        var current: [UInt8] = []
        for b in data {
            current.append(b)
            if b == 0x0A { result.append(current); current = [] }
        }
        if !current.isEmpty { result.append(current) }
        return result
    }

    /// Pids of every process (other than this one) whose command line contains `tag`.
    func processes(tagged tag: String) -> [pid_t] {
        let me = getpid()
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { pid_t($0) }.filter { pid in
            guard pid != me, let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
            // A zombie has an empty command line: it runs nothing anymore.
            return String(decoding: data.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self).contains(tag)
        }
    }

    /// Waits until no process carries `tag`; returns those still there at the deadline.
    func waitUntilGone(_ tag: String, timeout: Double = 10) -> [pid_t] {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if processes(tagged: tag).isEmpty { return [] }
            usleep(50_000)
        }
        return processes(tagged: tag)
    }

    func waitForFile(_ path: String, timeout: Double = 15) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if FileManager.default.fileExists(atPath: path) { return true }
            usleep(50_000)
        }
        return false
    }

    /// airlock's own messages (lines starting `airlock: `) that contain `needle`.
    func messages(_ outcome: Outcome, containing needle: String) -> [String] {
        outcome.stderrLines.filter { $0.contains(needle) }
    }

    /// A queue with a finished request on it (request, expire, resolve: three lines), written by a
    /// real sandbox whose held unlink of .env expired after a second.
    func seedQueue(_ fixture: Fixture, queue: String, approvers: Approvers) throws {
        try fixture.write(fixture.workspace + "/seed/.env", "SEED=1\n")
        let outcome = try startAgent(fixture, "\(try Binaries.probe()) unlink seed/.env",
                                     options: ["--profile", try shortProfile(fixture, seconds: 1), "--approvers", approvers.allowedSigners],
                                     env: ["AIRLOCK_QUEUE": queue]).wait(timeout: 30)
        #expect(outcome.lines.contains("unlink: errno 1 (EPERM)"), "\(outcome)")
        #expect(lines(bytes(queue)).count == 3, "\(String(decoding: bytes(queue), as: UTF8.self))")
    }

    /// A 64 KiB tmpfs at ROOT/queue-fs (mode 0700), for a queue that can fill.
    func mountSmallTmpfs(_ fixture: Fixture) throws -> String {
        let mountPoint = fixture.root + "/queue-fs"
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: false)
        let mounted = try Subprocess(["/bin/mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", mountPoint],
                                     environment: ["PATH": "/usr/bin:/bin"], directory: "/").wait(timeout: 10)
        guard mounted.status == 0 else { throw HarnessError("mount: \(mounted)") }
        return mountPoint
    }

    /// Unmounts it (before the fixture, which it keeps alive until then, removes the tree).
    func unmount(_ mountPoint: String, _ fixture: Fixture) {
        _ = try? Subprocess(["/bin/umount", "-l", mountPoint], environment: ["PATH": "/usr/bin:/bin"], directory: "/").wait(timeout: 10)
        withExtendedLifetime(fixture) {}
    }

    /// Fills the filesystem of `directory` with a file of its own: every free page taken (what is
    /// left is the slack in the last page of each file). Returns the errno that stopped it.
    func fill(_ directory: String) -> Int32 {
        let filler = open(directory + "/filler", O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
        guard filler >= 0 else { return errno }
        defer { close(filler) }
        let page = [UInt8](repeating: 0x2E, count: 4096)
        while write(filler, page, page.count) > 0 {}
        return errno
    }

    // MARK: - 1. The supervisor killed

    @Test("airlock SIGKILLed while a call is held: the sandbox dies whole, nothing changes, the request line stays and is cancelled at the next approval, which is refused",
          arguments: SandboxConfig.all)
    func supervisorKilledWhileHeld(config: SandboxConfig) throws {
        let fixture = try Fixture(config)
        let approvers = try Approvers(in: fixture.root)
        try fixture.write(fixture.workspace + "/.env", "KEEP=1\n")
        let probe = try Binaries.probe()
        let tag = "tag-\(fixture.unique)"
        // A detached long-lived process (its own session, reparented away from the shell), then a
        // held unlink; whatever survives the supervisor would go on to the second unlink.
        let script = "(setsid \(probe) sleep 120 \(tag) &); \(probe) unlink .env; echo rc=$? > after-\(tag); \(probe) unlink .env; echo second=$? >> after-\(tag)"
        let agent = try startAgent(fixture, script, options: ["--approvers", approvers.allowedSigners])
        guard let held = try waitForHeld(fixture, queue: defaultQueue(fixture), approvers: approvers.allowedSigners) else {
            agent.send(SIGKILL)
            Issue.record("nothing was held: \(agent.wait(timeout: 5))")
            return
        }
        let id = try #require(held["id"] as? String)
        #expect(!processes(tagged: tag).isEmpty, "the tagged sandbox processes are not visible, so their absence proves nothing")
        agent.send(SIGKILL)
        let outcome = agent.wait(timeout: 10)
        #expect(outcome.signal == SIGKILL, "\(outcome)")

        let survivors = waitUntilGone(tag)
        #expect(survivors.isEmpty, "sandbox processes outlived airlock: \(survivors)")
        usleep(300_000)
        #expect(FileManager.default.fileExists(atPath: fixture.workspace + "/.env"), "the held delete happened")
        let after = try? String(contentsOfFile: fixture.workspace + "/after-\(tag)", encoding: .utf8)
        #expect(after == nil || !(after!.contains("=0")), "a call succeeded after airlock died: \(after ?? "")")

        // The request line is intact; the sandbox's lease is free, so the next approval finds the
        // request cancelled and is refused: nothing is approvable once its process is gone.
        let queue = defaultQueue(fixture)
        let verified = try cli(fixture, ["queue", "verify"], queue: queue, approvers: approvers.allowedSigners)
        #expect(verified.status == 0 && verified.stderr.isEmpty, "\(verified)")
        for name in ["alice", "bob"] {
            let approved = try approve(fixture, approvers, id, as: name, queue: queue)
            #expect(approved.status == 1 && approved.stderr.contains("was cancelled (airlock ended without closing it"), "\(approved)")
        }
        usleep(1_000_000)
        #expect(FileManager.default.fileExists(atPath: fixture.workspace + "/.env"), "an approval after airlock died was carried out")
        #expect(processes(tagged: tag).isEmpty)
    }

    @Test("airlock SIGKILLed while nothing is held: every sandbox process dies, no later call goes through",
          arguments: SandboxConfig.all)
    func supervisorKilledWhileIdle(config: SandboxConfig) throws {
        let fixture = try Fixture(config)
        let approvers = try Approvers(in: fixture.root)
        try fixture.write(fixture.workspace + "/.env", "KEEP=1\n")
        let probe = try Binaries.probe()
        let tag = "tag-\(fixture.unique)"
        // The agent waits, truly idle, in an open of a FIFO for reading (no call reaches the
        // supervisor), then tries a protected delete.
        let fifo = fixture.root + "/go-\(tag)"
        try #require(mkfifo(fifo, 0o666) == 0)
        chmod(fifo, 0o666)
        let script = """
            (setsid \(probe) sleep 120 \(tag) &); echo ready > ready-\(tag); \
            read go < \(fifo); \(probe) unlink .env > after-\(tag) 2>&1; echo rc=$? >> after-\(tag)
            """
        let agent = try startAgent(fixture, script, options: ["--approvers", approvers.allowedSigners])
        guard waitForFile(fixture.workspace + "/ready-\(tag)") else {
            agent.send(SIGKILL)
            Issue.record("the agent never got ready: \(agent.wait(timeout: 5))")
            return
        }
        usleep(300_000)
        #expect(processes(tagged: tag).count >= 2, "the tagged sandbox processes are not visible, so their absence proves nothing")
        agent.send(SIGKILL)
        _ = agent.wait(timeout: 10)
        let survivors = waitUntilGone(tag)
        #expect(survivors.isEmpty, "sandbox processes outlived airlock: \(survivors)")
        // Nobody is left reading the FIFO; if someone were, release it and see the delete fail.
        let writer = open(fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC)
        let openError = errno
        if writer >= 0 {
            _ = write(writer, "go\n", 3)
            close(writer)
            usleep(1_000_000)
        }
        #expect(writer < 0 && openError == ENXIO, "a sandbox process still waits on the FIFO")
        #expect(FileManager.default.fileExists(atPath: fixture.workspace + "/.env"))
        let after = try? String(contentsOfFile: fixture.workspace + "/after-\(tag)", encoding: .utf8)
        #expect(after == nil || !after!.contains("unlink: ok"), "a protected call went through after airlock died: \(after ?? "")")
        #expect(bytes(defaultQueue(fixture)).isEmpty, "nothing was held, yet the queue has lines")
    }

    // MARK: - 2. The queue's disk is full

    @Test("the queue's filesystem is full when a request is written: the call fails with EPERM, airlock names the queue file, no committed line is damaged",
          .enabled(if: geteuid() == 0, "mounting a small tmpfs for the queue needs root"),
          arguments: SandboxConfig.all.filter { !$0.asNobody })
    func queueDiskFull(config: SandboxConfig) throws {
        let fixture = try Fixture(config)
        let approvers = try Approvers(in: fixture.root)
        let mountPoint = try mountSmallTmpfs(fixture)
        defer { unmount(mountPoint, fixture) }
        let queue = mountPoint + "/queue.jsonl"
        try seedQueue(fixture, queue: queue, approvers: approvers)
        let before = bytes(queue)

        // Fill the filesystem: only the slack in the queue file's last page is left, and a request
        // for a path this deep is longer than a page, so it cannot be written whole.
        let fillError = fill(mountPoint)
        #expect(fillError == ENOSPC, "the tmpfs did not fill: \(String(cString: strerror(fillError)))")
        var deep = fixture.workspace
        for i in 0..<10 { deep += "/d\(i)" + String(repeating: "x", count: 200) }
        try fixture.write(deep + "/.env", "DEEP=1\n")

        let outcome = try startAgent(fixture, "cd \(deep) && \(try Binaries.probe()) unlink .env; echo rc=$?",
                                     options: ["--approvers", approvers.allowedSigners], env: ["AIRLOCK_QUEUE": queue]).wait(timeout: 30)
        #expect(outcome.lines.contains("unlink: errno 1 (EPERM)"), "the call did not fail with EPERM\n\(outcome)")
        #expect(outcome.lines.contains("rc=1"), "\(outcome)")
        #expect(FileManager.default.fileExists(atPath: deep + "/.env"), "the delete went through although it could not be recorded")
        let said = messages(outcome, containing: queue)
        #expect(said.count == 1 && said.first?.contains("No space left on device") == true && said.first?.hasPrefix("airlock: ") == true,
                "expected one line naming the queue file and the cause\n\(outcome)")

        // What was committed is byte for byte still there; at most a torn (unterminated) tail follows.
        let after = bytes(queue)
        #expect(after.starts(with: before), "committed lines changed")
        let tail = after.dropFirst(before.count)
        #expect(!tail.contains(0x0A), "a partial line was committed: \(String(decoding: tail, as: UTF8.self).prefix(200))")
        let verified = try cli(fixture, ["queue", "verify"], queue: queue, approvers: approvers.allowedSigners)
        #expect(verified.status == 0, "\(verified)")
        #expect(verified.stderrLines.allSatisfy { $0.contains("torn last line") }, "\(verified)")
        #expect(try requests(fixture, queue: queue, approvers: approvers.allowedSigners).count == 1, "the failed request was listed")

        // Space again: the next writer closes the torn tail instead of gluing onto it, and goes on.
        unlink(mountPoint + "/filler")
        try fixture.write(fixture.workspace + "/.env", "A=1\n")
        let next = try startAgent(fixture, "\(try Binaries.probe()) unlink .env",
                                  options: ["--profile", try shortProfile(fixture, seconds: 1), "--approvers", approvers.allowedSigners],
                                  env: ["AIRLOCK_QUEUE": queue]).wait(timeout: 30)
        #expect(next.lines.contains("unlink: errno 1 (EPERM)"), "\(next)")
        #expect(bytes(queue).starts(with: before))
        let reverified = try cli(fixture, ["queue", "verify"], queue: queue, approvers: approvers.allowedSigners)
        #expect(reverified.status == 0 && reverified.stdout.contains("6 events, chain intact"), "\(reverified)")
        let rows = try requests(fixture, queue: queue, approvers: approvers.allowedSigners)
        #expect(rows.count == 2 && rows.allSatisfy { $0["state"] as? String == "resolved" }, "\(rows)")
    }

    @Test("the queue's filesystem is full when an approval is written: approve fails naming the queue, the held call waits on, later approvals count",
          .enabled(if: geteuid() == 0, "mounting a small tmpfs for the queue needs root"),
          arguments: [SandboxConfig.root])
    func approveOnFullDisk(config: SandboxConfig) throws {
        let fixture = try Fixture(config)
        let approvers = try Approvers(in: fixture.root)
        let mountPoint = try mountSmallTmpfs(fixture)
        defer { unmount(mountPoint, fixture) }
        let queue = mountPoint + "/queue.jsonl"
        try fixture.write(fixture.workspace + "/.env", "A=1\n")
        let agent = try startAgent(fixture, "\(try Binaries.probe()) unlink .env",
                                   options: ["--approvers", approvers.allowedSigners], env: ["AIRLOCK_QUEUE": queue])
        let held = try #require(try waitForHeld(fixture, queue: queue, approvers: approvers.allowedSigners))
        let id = try #require(held["id"] as? String)
        #expect(fill(mountPoint) == ENOSPC)
        // The slack of the queue's last page is taken by approvals that do not count (mallory is not
        // listed) until one cannot be written whole.
        var failed: Outcome?
        for _ in 0..<12 where failed == nil {
            // Each lands and counts for nothing (exit 1, "not listed") until one cannot be written.
            let outcome = try approve(fixture, approvers, id, as: "mallory", queue: queue)
            if outcome.status != 0 && !outcome.stderr.contains("counts for nothing: not listed") { failed = outcome }
        }
        let refused = try #require(failed, "the queue never filled")
        #expect(refused.stderrLines.count == 1 && refused.stderr.contains(queue) && refused.stderr.contains("No space left on device"),
                "\(refused)")
        let alice = try approve(fixture, approvers, id, as: "alice", queue: queue)
        #expect(alice.status == 1 && alice.stderrLines.count == 1 && alice.stderr.contains("No space left on device"), "\(alice)")
        usleep(500_000)
        #expect(agent.poll() == nil, "the held call returned while the queue was full")
        #expect(FileManager.default.fileExists(atPath: fixture.workspace + "/.env"))
        let before = bytes(queue)
        let committed = Array(before[..<((before.lastIndex(of: 0x0A) ?? -1) + 1)])

        // Space again: alice and bob sign, their lines close the torn tail, and the delete goes ahead.
        unlink(mountPoint + "/filler")
        for name in ["alice", "bob"] {
            let approved = try approve(fixture, approvers, id, as: name, queue: queue)
            #expect(approved.status == 0, "\(approved)")
        }
        let outcome = agent.wait(timeout: 20)
        #expect(outcome.lines.contains("unlink: ok"), "\(outcome)")
        #expect(!FileManager.default.fileExists(atPath: fixture.workspace + "/.env"))
        #expect(bytes(queue).starts(with: committed), "committed lines changed")
        let verified = try cli(fixture, ["queue", "verify"], queue: queue, approvers: approvers.allowedSigners)
        #expect(verified.status == 0, "\(verified)")
        #expect(verified.stderrLines.allSatisfy { $0.contains("torn line, closed by a later writer, ignored") }, "\(verified)")
    }

    @Test("the queue's filesystem fills after an approval: an operation under the grant that cannot be recorded is not performed",
          .enabled(if: geteuid() == 0, "mounting a small tmpfs for the queue needs root"),
          arguments: [SandboxConfig.root])
    func queueDiskFullUnderGrant(config: SandboxConfig) throws {
        let fixture = try Fixture(config)
        let approvers = try Approvers(in: fixture.root)
        let mountPoint = try mountSmallTmpfs(fixture)
        defer { unmount(mountPoint, fixture) }
        let queue = mountPoint + "/queue.jsonl"
        // Eight files whose resolve lines (~1.2 kB each) cannot all fit in the slack of the queue's last page.
        let deep = "data/" + (0..<4).map { "d\($0)" + String(repeating: "x", count: 200) }.joined(separator: "/")
        let names = (1...8).map { "\(deep)/f\($0)" }
        for name in ["data/a"] + names { try fixture.write(fixture.workspace + "/" + name, "x\n") }
        try fixture.write(fixture.root + "/each.toml", """
            extends = "default"
            [[exec]]
            name = "probe each"
            argv = ["airlock-probe", "each"]
            """)
        // Held at exec; once approved, the process and its children may delete under the workspace
        // (a grant), each delete written to the queue as a resolve line.
        let checks = (["unlink data/a", "sleep 3"] + names.map { "unlink \($0)" }).map { "'\($0)'" }.joined(separator: " ")
        let agent = try startAgent(fixture, "\(try Binaries.probe()) each \(checks)",
                                   options: ["--profile", fixture.root + "/each.toml", "--protect", fixture.workspace + "/data",
                                             "--approvers", approvers.allowedSigners],
                                   env: ["AIRLOCK_QUEUE": queue])
        let held = try #require(try waitForHeld(fixture, queue: queue, approvers: approvers.allowedSigners))
        let id = try #require(held["id"] as? String)
        for name in ["alice", "bob"] { _ = try approve(fixture, approvers, id, as: name, queue: queue) }
        // data/a goes under the grant, on record; then, during the sleep, the disk fills.
        let deadline = Date().addingTimeInterval(10)
        while FileManager.default.fileExists(atPath: fixture.workspace + "/data/a") && Date() < deadline { usleep(20_000) }
        _ = fill(mountPoint)
        let outcome = agent.wait(timeout: 30)
        let queueText = String(decoding: bytes(queue), as: UTF8.self)
        #expect(queueText.contains("under grant: delete \(fixture.workspace)/data/a"), "\(queueText)")
        let unrecorded = names.filter { name in
            !FileManager.default.fileExists(atPath: fixture.workspace + "/" + name)
                && !queueText.contains("under grant: delete \(fixture.workspace)/\(name)\"")
        }
        #expect(unrecorded.isEmpty, "deleted under the grant with no queue line: \(unrecorded.count) of \(names.count)\n\(outcome.stdout)")
        #expect(outcome.stdout.contains("errno 1 (EPERM)"), "no delete was refused although the queue was full\n\(outcome)")
    }

    // MARK: - 3. A torn last line

    @Test("a torn last line, before the run and while a call is held, is closed by the next writer and approvals after it count",
          arguments: [SandboxConfig.root])
    func tornLastLine(config: SandboxConfig) throws {
        let fixture = try Fixture(config)
        let approvers = try Approvers(in: fixture.root)
        let queue = defaultQueue(fixture)
        try seedQueue(fixture, queue: queue, approvers: approvers)
        // A writer that died mid-line: the first half of a real line, no newline.
        let first = lines(bytes(queue))[0]
        let torn = Array(first.prefix(first.count / 2))
        try append(queue, torn)
        let before = bytes(queue)
        let warned = try cli(fixture, ["queue", "verify"], queue: queue, approvers: approvers.allowedSigners)
        #expect(warned.status == 0 && warned.stderr.contains("line 4: torn last line"), "\(warned)")

        try fixture.write(fixture.workspace + "/.env", "A=1\n")
        let agent = try startAgent(fixture, "\(try Binaries.probe()) unlink .env", options: ["--approvers", approvers.allowedSigners])
        guard let held = try waitForHeld(fixture, queue: queue, approvers: approvers.allowedSigners) else {
            agent.send(SIGKILL)
            Issue.record("nothing was held: \(agent.wait(timeout: 5))")
            return
        }
        let id = try #require(held["id"] as? String)
        // The request did not glue onto the torn bytes: they were closed with 0x01 and a newline.
        let afterRequest = bytes(queue)
        #expect(afterRequest.starts(with: before + [0x01, 0x0A]), "the request was glued onto the torn line")

        // Another writer dies mid-line while the call is held; the next approval must still count.
        #expect(try approve(fixture, approvers, id, as: "alice", queue: queue).status == 0)
        try append(queue, Array(lines(bytes(queue)).last!.prefix(40)))
        let second = try approve(fixture, approvers, id, as: "bob", queue: queue)
        #expect(second.status == 0 && second.stdout.contains("approved, 2/2"), "\(second)")
        let outcome = agent.wait(timeout: 20)
        #expect(outcome.lines.contains("unlink: ok"), "\(outcome)")
        #expect(!FileManager.default.fileExists(atPath: fixture.workspace + "/.env"))

        let verified = try cli(fixture, ["queue", "verify"], queue: queue, approvers: approvers.allowedSigners)
        #expect(verified.status == 0, "\(verified)")
        #expect(verified.stderrLines.count == 2 && verified.stderrLines.allSatisfy { $0.contains("torn line, closed by a later writer, ignored") },
                "\(verified)")
        let shown = try cli(fixture, ["queue", "show", id], queue: queue, approvers: approvers.allowedSigners)
        #expect(shown.stdout.contains("state:     resolved (2/2 approvals)"), "\(shown)")
    }

    @Test("the supervisor says so when it finds a torn last line in the queue",
          arguments: [SandboxConfig.root])
    func supervisorWarnsOfATornLine(config: SandboxConfig) throws {
        let fixture = try Fixture(config)
        let approvers = try Approvers(in: fixture.root)
        let queue = defaultQueue(fixture)
        try seedQueue(fixture, queue: queue, approvers: approvers)
        try append(queue, Array(lines(bytes(queue))[0].prefix(50)))
        try fixture.write(fixture.workspace + "/.env", "A=1\n")
        let outcome = try startAgent(fixture, "\(try Binaries.probe()) unlink .env",
                                     options: ["--profile", try shortProfile(fixture, seconds: 1), "--approvers", approvers.allowedSigners]).wait(timeout: 30)
        #expect(outcome.lines.contains("unlink: errno 1 (EPERM)"), "\(outcome)")
        #expect(messages(outcome, containing: "torn").contains { $0.contains(queue) }, "\(outcome)")
    }

    // MARK: - 4. A line edited in the middle

    /// Changes one digit of line `number` (1-based) of `queue` in place: same length.
    func editLine(_ queue: String, _ number: Int) throws {
        var data = bytes(queue)
        let all = lines(data)
        let start = all.prefix(number - 1).reduce(0) { $0 + $1.count }
        let line = all[number - 1]
        // The milliseconds of its "ts": still a valid line, just not the one the chain hashed.
        let text = String(decoding: line, as: UTF8.self)
        let ts = try #require(text.range(of: "\"ts\":\""))
        let offset = text.utf8.distance(from: text.startIndex, to: ts.upperBound) + 20 // "2025-01-01T00:00:00.1"
        let digit = data[start + offset]
        #expect(digit >= 0x30 && digit <= 0x39, "not a digit at the ts milliseconds: \(text)")
        data[start + offset] = digit == 0x39 ? 0x30 : digit + 1
        try Data(data).write(to: URL(fileURLWithPath: queue))
    }

    @Test("a queue edited in the middle before the run: verify fails naming the line, and a call that would be held fails with EPERM at once, saying why, with nothing written",
          arguments: [SandboxConfig.root])
    func editedBeforeTheRun(config: SandboxConfig) throws {
        let fixture = try Fixture(config)
        let approvers = try Approvers(in: fixture.root)
        let queue = defaultQueue(fixture)
        try seedQueue(fixture, queue: queue, approvers: approvers)
        try editLine(queue, 1)
        let verified = try cli(fixture, ["queue", "verify"], queue: queue, approvers: approvers.allowedSigners)
        #expect(verified.status == 1, "\(verified)")
        #expect(verified.stderrLines.count == 1 && verified.stderr.contains("chain broken at line 2: prev does not match the SHA-256 of line 1"),
                "\(verified)")
        let before = try Data(contentsOf: URL(fileURLWithPath: queue))

        try fixture.write(fixture.workspace + "/.env", "A=1\n")
        let started = Date()
        let agent = try startAgent(fixture, "\(try Binaries.probe()) unlink .env",
                                   options: ["--profile", try shortProfile(fixture, seconds: 5), "--approvers", approvers.allowedSigners])
        let outcome = agent.wait(timeout: 20)
        #expect(Date().timeIntervalSince(started) < 3, "the call waited on a queue no approval can count in\n\(outcome)")
        #expect(outcome.lines.contains("unlink: errno 1 (EPERM)"), "\(outcome)")
        #expect(FileManager.default.fileExists(atPath: fixture.workspace + "/.env"))
        let said = messages(outcome, containing: "broken at line 2")
        #expect(said.count == 1 && said.first?.contains(queue) == true && said.first?.contains("new queue file") == true, "\(outcome)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: queue)) == before, "something was written to a broken queue")
    }

    enum QueueEdit: String, CaseIterable, CustomStringConvertible {
        /// One digit changed: the bytes already read change, the file's length does not.
        case sameLength
        /// A byte added inside line 2: everything after it moves.
        case oneByteLonger
        var description: String { rawValue }
    }

    @Test("a queue line edited while a call is held, after the supervisor read it: approvals stop counting, the call ends EPERM",
          arguments: QueueEdit.allCases)
    func editedWhileHeld(edit: QueueEdit) throws {
        let fixture = try Fixture(SandboxConfig.root)
        let approvers = try Approvers(in: fixture.root)
        let queue = defaultQueue(fixture)
        try seedQueue(fixture, queue: queue, approvers: approvers)
        try fixture.write(fixture.workspace + "/.env", "A=1\n")
        let agent = try startAgent(fixture, "\(try Binaries.probe()) unlink .env",
                                   options: ["--profile", try shortProfile(fixture, seconds: 6), "--approvers", approvers.allowedSigners])
        let held = try #require(try waitForHeld(fixture, queue: queue, approvers: approvers.allowedSigners))
        let id = try #require(held["id"] as? String)
        #expect(try approve(fixture, approvers, id, as: "alice", queue: queue).status == 0)
        usleep(700_000) // the supervisor has read everything so far
        switch edit {
        case .sameLength:
            try editLine(queue, 2)
        case .oneByteLonger:
            var all = lines(bytes(queue))
            let text = String(decoding: all[1], as: UTF8.self)
            all[1] = Array(text.replacingOccurrences(of: "\"seq\":2,", with: "\"seq\":2 ,").utf8)
            #expect(all[1].count == text.utf8.count + 1)
            try Data(all.joined()).write(to: URL(fileURLWithPath: queue))
        }
        let verified = try cli(fixture, ["queue", "verify"], queue: queue, approvers: approvers.allowedSigners)
        #expect(verified.status == 1 && verified.stderr.contains("chain broken at line 3"), "\(verified)")
        _ = try approve(fixture, approvers, id, as: "bob", queue: queue)
        let outcome = agent.wait(timeout: 20)
        #expect(outcome.lines.contains("unlink: errno 1 (EPERM)"), "approvals counted on a broken chain\n\(outcome)")
        #expect(FileManager.default.fileExists(atPath: fixture.workspace + "/.env"), "the delete was performed")
        let said = messages(outcome, containing: "no approval counts from now on")
        #expect(said.count == 1 && said.first?.contains(queue) == true, "\(outcome)")
    }

    // MARK: - 5. The approvers file missing or unreadable

    /// Runs `unlink .env` held under `approversFile` with a 4 s timeout, has alice and bob approve
    /// with the same file named, and returns the run and the two approve outcomes.
    func holdAndApprove(_ fixture: Fixture, _ approvers: Approvers, approversFile: String) throws -> (run: Outcome, approvals: [Outcome], id: String) {
        let queue = defaultQueue(fixture)
        try fixture.write(fixture.workspace + "/.env", "A=1\n")
        let agent = try startAgent(fixture, "\(try Binaries.probe()) unlink .env",
                                   options: ["--profile", try shortProfile(fixture, seconds: 4), "--approvers", approversFile])
        guard let held = try waitForHeld(fixture, queue: queue, approvers: approvers.allowedSigners), let id = held["id"] as? String else {
            agent.send(SIGKILL)
            throw HarnessError("nothing was held: \(agent.wait(timeout: 5))")
        }
        let approvals = try ["alice", "bob"].map { try approve(fixture, approvers, id, as: $0, queue: queue, approversFile: approversFile) }
        return (agent.wait(timeout: 20), approvals, id)
    }

    @Test("no approvers file: run starts, says at the hold that the request can only be denied or expire, approvals do not count, the call ends EPERM",
          arguments: [SandboxConfig.root])
    func approversMissing(config: SandboxConfig) throws {
        let fixture = try Fixture(config)
        let approvers = try Approvers(in: fixture.root)
        let missing = fixture.root + "/no-such-allowed_signers"
        let (outcome, approvals, id) = try holdAndApprove(fixture, approvers, approversFile: missing)
        #expect(outcome.lines.contains("unlink: errno 1 (EPERM)"), "\(outcome)")
        #expect(FileManager.default.fileExists(atPath: fixture.workspace + "/.env"))
        #expect(messages(outcome, containing: "no readable approvers file at \(missing): \(id) can only be denied or expire").count == 1, "\(outcome)")
        // approve refuses (see approveWithoutApproversFile): nothing is signed, nothing counted.
        #expect(approvals.allSatisfy { $0.status != 0 && $0.stdout.isEmpty }, "\(approvals)")
        let shown = try cli(fixture, ["queue", "show", id], queue: defaultQueue(fixture), approvers: missing)
        #expect(shown.stdout.contains("state:     resolved (0/2 approvals)") && shown.stdout.contains("resolved:  expired (errno 1)"), "\(shown)")
    }

    @Test("approve with no approvers file fails, naming the file",
          arguments: [SandboxConfig.root])
    func approveWithoutApproversFile(config: SandboxConfig) throws {
        let fixture = try Fixture(config)
        let approvers = try Approvers(in: fixture.root)
        let missing = fixture.root + "/no-such-allowed_signers"
        let (outcome, approvals, _) = try holdAndApprove(fixture, approvers, approversFile: missing)
        #expect(outcome.lines.contains("unlink: errno 1 (EPERM)"), "\(outcome)")
        for approved in approvals {
            #expect(approved.status != 0, "approve with no approvers file succeeded\n\(approved)")
            #expect(approved.stderrLines.count == 1 && approved.stderr.contains(missing), "\(approved)")
        }
    }

    @Test("an approvers file airlock cannot read (mode 000, airlock as uid 65534): approvals do not count, the call ends EPERM, the file is named",
          .enabled(if: geteuid() == 0, "needs root to run airlock as uid 65534"),
          arguments: SandboxConfig.all.filter(\.asNobody))
    func approversUnreadable(config: SandboxConfig) throws {
        let fixture = try Fixture(config)
        let approvers = try Approvers(in: fixture.root)
        chmod(approvers.dir, 0o755)
        chmod(approvers.allowedSigners, 0o000)
        // Root can read the file, so the approvers' side counts both; the supervisor cannot.
        let (outcome, approvals, id) = try holdAndApprove(fixture, approvers, approversFile: approvers.allowedSigners)
        #expect(approvals.allSatisfy { $0.status == 0 }, "\(approvals)")
        #expect(outcome.lines.contains("unlink: errno 1 (EPERM)"), "approvals counted although airlock cannot read the approvers\n\(outcome)")
        #expect(FileManager.default.fileExists(atPath: fixture.workspace + "/.env"))
        #expect(messages(outcome, containing: "no readable approvers file at \(approvers.allowedSigners): \(id)").count == 1, "\(outcome)")
    }

    /// An allowed_signers file whose third line cannot be read.
    func malformApprovers(_ approvers: Approvers) throws {
        try append(approvers.allowedSigners, Array("carol namespaces=\"airlock\" ssh-ed25519 !!!not-base64!!!\n".utf8))
    }

    @Test("an approvers file with a line that cannot be read: no approval counts, the call ends EPERM",
          arguments: [SandboxConfig.root])
    func approversMalformed(config: SandboxConfig) throws {
        let fixture = try Fixture(config)
        let approvers = try Approvers(in: fixture.root)
        try malformApprovers(approvers)
        let (outcome, _, _) = try holdAndApprove(fixture, approvers, approversFile: approvers.allowedSigners)
        #expect(outcome.lines.contains("unlink: errno 1 (EPERM)"), "\(outcome)")
        #expect(FileManager.default.fileExists(atPath: fixture.workspace + "/.env"))
    }

    @Test("an approvers file with a line that cannot be read: airlock and approve name the file and line",
          arguments: [SandboxConfig.root])
    func approversMalformedIsNamed(config: SandboxConfig) throws {
        let fixture = try Fixture(config)
        let approvers = try Approvers(in: fixture.root)
        try malformApprovers(approvers)
        let (outcome, approvals, _) = try holdAndApprove(fixture, approvers, approversFile: approvers.allowedSigners)
        let line = "\(approvers.allowedSigners):3"
        #expect(messages(outcome, containing: line).count == 1, "airlock did not say which approvers line is broken\n\(outcome)")
        #expect(approvals.allSatisfy { $0.stderr.contains(line) }, "\(approvals)")
    }

    // MARK: - 6. A signal storm at a held thread

    @Test("a SIGALRM (SA_RESTART) every millisecond at the held thread, before and during the hold, makes exactly one request",
          arguments: [SandboxConfig.root, SandboxConfig(backend: .landlock, asNobody: false)])
    func alarmStorm(config: SandboxConfig) throws {
        let fixture = try Fixture(config)
        let approvers = try Approvers(in: fixture.root)
        let queue = defaultQueue(fixture)
        try fixture.write(fixture.workspace + "/.env", "A=1\n")
        let agent = try startAgent(fixture, "\(try Binaries.probe()) alarm-storm 1000 .env", options: ["--approvers", approvers.allowedSigners])
        let held = try #require(try waitForHeld(fixture, queue: queue, approvers: approvers.allowedSigners))
        let id = try #require(held["id"] as? String)
        usleep(1_500_000) // 1500 timer expiries at the held thread
        #expect(try requests(fixture, queue: queue, approvers: approvers.allowedSigners).count == 1)
        for name in ["alice", "bob"] { _ = try approve(fixture, approvers, id, as: name, queue: queue) }
        let outcome = agent.wait(timeout: 20)
        // The held wait is killable only (WAIT_KILLABLE_RECV): the handler runs once the call is
        // answered (typically signals=1, the expiries having merged into one pending SIGALRM).
        #expect(outcome.stdout.contains("alarm-storm: ok signals="), "\(outcome)")
        #expect(!FileManager.default.fileExists(atPath: fixture.workspace + "/.env"))
        let rows = try requests(fixture, queue: queue, approvers: approvers.allowedSigners)
        #expect(rows.count == 1 && rows.first?["state"] as? String == "resolved", "one call, one request: \(rows)")
        #expect(try cli(fixture, ["queue", "verify"], queue: queue, approvers: approvers.allowedSigners).status == 0)
    }

    // MARK: - 7. The held process exits and its pid comes back

    @Test("a held process killed, its pid reused by a new process making the same call: the old request is cancelled, its approvals apply to nothing",
          arguments: [SandboxConfig(backend: .landlock, asNobody: false)])
    func pidReuse(config: SandboxConfig) throws {
        let fixture = try Fixture(config)
        let approvers = try Approvers(in: fixture.root)
        let queue = defaultQueue(fixture)
        try fixture.write(fixture.workspace + "/.env", "A=1\n")
        let probe = try Binaries.probe()
        let go = fixture.root + "/go-\(fixture.unique)"
        // Landlock backend: no PID namespace, so the pid the supervisor sees is the one reused here.
        let script = """
            \(probe) unlink .env & p=$!; \
            while [ ! -e \(go) ]; do \(probe) sleep 0.05; done; \
            kill -9 $p; wait $p; echo killed=$?; touch killed-\(fixture.unique); \
            \(probe) fork-until-pid $p 200000 unlink .env
            """
        let agent = try startAgent(fixture, script, options: ["--approvers", approvers.allowedSigners])
        let first = try #require(try waitForHeld(fixture, queue: queue, approvers: approvers.allowedSigners))
        let firstID = try #require(first["id"] as? String)
        let pid = try #require(first["pid"] as? Int)
        #expect(try approve(fixture, approvers, firstID, as: "alice", queue: queue).status == 0)
        FileManager.default.createFile(atPath: go, contents: nil)
        #expect(waitForFile(fixture.workspace + "/killed-\(fixture.unique)"))
        // The second approval races the supervisor noticing the death: either it is refused (the
        // request is cancelled already) or it lands and must be applied to no one.
        let late = try approve(fixture, approvers, firstID, as: "bob", queue: queue)

        // The same pid, the same call: a new request, not the old one's approvals.
        guard let second = try waitForHeld(fixture, queue: queue, approvers: approvers.allowedSigners, excluding: [firstID], timeout: 120) else {
            agent.send(SIGKILL)
            Issue.record("the pid did not come back: \(agent.wait(timeout: 5))")
            return
        }
        let secondID = try #require(second["id"] as? String)
        #expect(second["pid"] as? Int == pid, "\(second) vs \(first)")
        #expect(second["path"] as? String == first["path"] as? String)
        #expect(second["approvals"] as? Int == 0, "\(second)")
        #expect(FileManager.default.fileExists(atPath: fixture.workspace + "/.env"), "the old approval was applied to the new process")
        let shown = try cli(fixture, ["queue", "show", firstID], queue: queue, approvers: approvers.allowedSigners)
        #expect(shown.stdout.contains("state:     cancelled"), "\(shown)\nlate approve: \(late)")

        let denied = try cli(fixture, ["deny", secondID, "--key", approvers.key("alice"), "--reason", "pid reuse"],
                             queue: queue, approvers: approvers.allowedSigners)
        #expect(denied.status == 0, "\(denied)")
        let outcome = agent.wait(timeout: 30)
        #expect(outcome.lines.contains("killed=137"), "\(outcome)")
        #expect(outcome.lines.contains("unlink: errno 1 (EPERM)"), "\(outcome)")
        #expect(outcome.stdout.contains("fork-until-pid: ok forks="), "\(outcome)")
        #expect(FileManager.default.fileExists(atPath: fixture.workspace + "/.env"))
        #expect(try cli(fixture, ["queue", "verify"], queue: queue, approvers: approvers.allowedSigners).status == 0)
    }
}
