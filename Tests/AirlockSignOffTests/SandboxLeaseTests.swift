import AirlockSignOff
import Foundation
import Testing

/// Leases, liveness and the sweep that cancels the requests a killed airlock left pending; and the
/// reason a `cancel` line carries.
@Suite struct SandboxLeaseTests {
    let directory: TemporaryDirectory
    let queue: QueueFile
    let start = Date()

    init() throws {
        directory = try TemporaryDirectory()
        queue = QueueFile(path: directory.file("queue.jsonl"))
    }

    var live: String { SandboxLease.directory(forQueue: queue.path) }

    func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

    /// An empty file: as a lock file, one that nobody holds.
    func touch(_ path: String) throws { try Data().write(to: URL(fileURLWithPath: path)) }

    func request(sandbox: String, path: String = "/work/ws/.env", expiresIn: TimeInterval = 900) throws -> Request {
        let operation = HeldOperation(kind: .delete, paths: [Array(path.utf8)], cwd: Array("/work/ws".utf8), exe: "/usr/bin/rm",
                                      sandbox: sandbox, rule: "dotenv files", expires: start.addingTimeInterval(expiresIn))
        return try queue.appendRequest(operation, pid: 42, requester: "ops", quorum: 2, at: start)
    }

    func folded() throws -> QueueState {
        QueueState.fold(try QueueReader.read(queue.path), approvers: nil, now: Date())
    }

    /// A process of its own holding `flock(LOCK_EX)` on `path`, as an airlock holds its lease: the
    /// shell opens the file, flock(1) locks that open file, and the shell becomes `sleep`, the one
    /// process left holding it.
    func holdLockInAnotherProcess(_ path: String) throws -> Process {
        let ready = directory.file("ready-\(UUID().uuidString)")
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/bin/sh")
        holder.arguments = ["-c", #"exec 9>"$1" && /usr/bin/flock 9 && : > "$2" && exec sleep 30"#, "sh", path, ready]
        try holder.run()
        let deadline = Date().addingTimeInterval(10)
        while !exists(ready) && holder.isRunning && Date() < deadline { usleep(10_000) }
        guard exists(ready) else {
            holder.terminate()
            throw TestFailure("the lock holder never took the lock")
        }
        return holder
    }

    // MARK: - Liveness

    @Test("a sandbox whose lease is held has not ended; once released it leaves nothing behind")
    func heldLeaseIsAlive() throws {
        let lease = try SandboxLease.acquire(queuePath: queue.path, sandboxID: "a1b2c3d4")
        #expect(lease.path == live + "/a1b2c3d4")
        var info = stat()
        #expect(stat(live, &info) == 0 && info.st_mode & 0o777 == 0o700)
        #expect(SandboxLiveness.ended(["a1b2c3d4"], queuePath: queue.path).isEmpty)
        #expect(exists(lease.path), "a check of a live sandbox removed its lock file")
        // The agent must never inherit the lock: its descriptor is closed on exec.
        let fds = try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")
        let leaseFD = try #require(fds.first { (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\($0)")) == lease.path })
        let fdinfo = try String(contentsOfFile: "/proc/self/fdinfo/\(leaseFD)", encoding: .utf8)
        let flags = try #require(fdinfo.split(separator: "\n").first { $0.hasPrefix("flags:") }.flatMap { Int($0.dropFirst(6).trimmingCharacters(in: .whitespaces), radix: 8) })
        #expect(flags & Int(O_CLOEXEC) != 0, "\(fdinfo)")
        lease.release()
        lease.release()
        #expect(try FileManager.default.contentsOfDirectory(atPath: live).isEmpty)
        #expect(SandboxLiveness.ended(["a1b2c3d4"], queuePath: queue.path).isEmpty)
    }

    @Test("a lock held by another process is alive; SIGKILLed, it proves its sandbox ended and the check removes the file")
    func killedHolderIsEnded() throws {
        try FileManager.default.createDirectory(atPath: live, withIntermediateDirectories: true)
        let path = live + "/deadbeef"
        let holder = try holdLockInAnotherProcess(path)
        #expect(SandboxLiveness.ended(["deadbeef"], queuePath: queue.path).isEmpty)
        #expect(exists(path))
        kill(holder.processIdentifier, SIGKILL)
        holder.waitUntilExit()
        #expect(SandboxLiveness.ended(["deadbeef", "otherone"], queuePath: queue.path) == ["deadbeef"])
        #expect(!exists(path), "the lock file of an ended sandbox was left")
        #expect(SandboxLiveness.ended(["deadbeef"], queuePath: queue.path).isEmpty, "proved ended twice")
    }

    @Test("a sandbox with no lock file, or an id that is not a plain name, is never taken for ended")
    func unknownIsNotEnded() throws {
        #expect(SandboxLiveness.ended(["a1b2c3d4"], queuePath: queue.path).isEmpty)  // no .live at all
        try FileManager.default.createDirectory(atPath: live, withIntermediateDirectories: true)
        #expect(SandboxLiveness.ended(["a1b2c3d4"], queuePath: queue.path).isEmpty)
        // An unlocked file outside the directory, named through the id: never looked up, never removed.
        try touch(directory.file("victim"))
        try touch(live + "/.hidden")
        #expect(SandboxLiveness.ended(["../victim", "", ".hidden", "."], queuePath: queue.path).isEmpty)
        #expect(exists(directory.file("victim")) && exists(live + "/.hidden"))
        #expect(throws: SignOffError.self) { try SandboxLease.acquire(queuePath: queue.path, sandboxID: "../victim") }
    }

    @Test("a check whose work fails leaves the lock files, so a later check proves the same again")
    func failedWorkKeepsTheProof() throws {
        try FileManager.default.createDirectory(atPath: live, withIntermediateDirectories: true)
        try touch(live + "/deadbeef")  // nobody holds it
        #expect(throws: TestFailure.self) {
            try SandboxLiveness.withEnded(["deadbeef"], queuePath: queue.path) { ended in
                #expect(ended == ["deadbeef"])
                // While one check holds the proof, another cannot act on the same sandbox.
                #expect(SandboxLiveness.ended(["deadbeef"], queuePath: queue.path).isEmpty)
                throw TestFailure("the queue cannot be written")
            }
        }
        #expect(exists(live + "/deadbeef"))
        #expect(SandboxLiveness.ended(["deadbeef"], queuePath: queue.path) == ["deadbeef"])
    }

    // MARK: - The sweep

    @Test("a sweep cancels the pending requests of ended sandboxes, with the reason, and no others")
    func sweepCancelsGhosts() throws {
        let lease = try SandboxLease.acquire(queuePath: queue.path, sandboxID: "alive001")
        defer { lease.release() }
        try touch(live + "/dead0001")  // its airlock was killed
        let ghost = try request(sandbox: "dead0001")
        let expired = try request(sandbox: "dead0001", path: "/work/ws/b.env", expiresIn: -1)
        let running = try request(sandbox: "alive001")
        let unknown = try request(sandbox: "old00001")

        let swept = GhostSweep.sweep(queuePath: queue.path, state: try folded())
        #expect(swept.cancelled == [ghost.id])
        #expect(swept.writeError == nil)
        let reason = "airlock ended without closing it (sandbox dead0001)"
        #expect(swept.state.requests[ghost.id]?.state == .cancelled)
        #expect(swept.state.requests[ghost.id]?.cancelReason == reason)
        #expect(!exists(live + "/dead0001"))
        #expect(exists(lease.path))

        let after = try folded()
        #expect(after.requests[ghost.id]?.state == .cancelled)
        #expect(after.requests[ghost.id]?.cancelReason == reason)
        #expect(after.requests[expired.id]?.state == .expired)
        #expect(after.requests[running.id]?.state == .pending)
        #expect(after.requests[unknown.id]?.state == .pending)

        let again = GhostSweep.sweep(queuePath: queue.path, state: after)
        #expect(again.cancelled.isEmpty)
        #expect(try QueueReader.read(queue.path).records.count == 5)
    }

    @Test("a sweep that cannot write the queue still shows the requests cancelled, and leaves the proof for a later sweep")
    func sweepWithoutWriteAccess() throws {
        try FileManager.default.createDirectory(atPath: live, withIntermediateDirectories: true)
        try touch(live + "/dead0001")
        let ghost = try request(sandbox: "dead0001")
        let state = try folded()
        // Root writes any file, so make the queue unwritable another way: it is now a directory.
        try FileManager.default.removeItem(atPath: queue.path)
        try FileManager.default.createDirectory(atPath: queue.path, withIntermediateDirectories: false)

        let swept = GhostSweep.sweep(queuePath: queue.path, state: state)
        #expect(swept.writeError != nil)
        #expect(swept.cancelled == [ghost.id])
        #expect(swept.state.requests[ghost.id]?.state == .cancelled)
        #expect(swept.state.requests[ghost.id]?.cancelReason == "airlock ended without closing it (sandbox dead0001)")
        #expect(exists(live + "/dead0001"))
    }

    // MARK: - The cancel line

    @Test("a cancel's reason is written on its line and kept by the fold")
    func cancelReasonRoundTrips() throws {
        let held = try request(sandbox: "a1b2c3d4")
        try queue.append(.cancel(id: held.id, reason: "the held process ended"))
        try queue.append(.cancel(id: held.id, reason: "the sandbox ended"))
        let log = try QueueReader.read(queue.path)
        #expect(log.verify() == nil)
        #expect(log.records[1].event == .cancel(id: held.id, reason: "the held process ended"))
        let text = try String(contentsOfFile: queue.path, encoding: .utf8)
        #expect(text.contains(#""event":"cancel","id":"\#(held.id)","prev""#) && text.contains(#""reason":"the held process ended""#))
        let state = QueueState.fold(log, approvers: nil, now: start)
        #expect(state.requests[held.id]?.state == .cancelled)
        #expect(state.requests[held.id]?.cancelReason == "the held process ended", "a second cancel replaced the first one's reason")
    }

    @Test("a cancel line without a reason, as older versions wrote it, still reads")
    func cancelWithoutReasonReads() throws {
        let held = try request(sandbox: "a1b2c3d4")
        try queue.append(.cancel(id: held.id, reason: nil))
        let text = try String(contentsOfFile: queue.path, encoding: .utf8)
        #expect(!text.contains("reason"))
        let log = try QueueReader.read(queue.path)
        #expect(log.records.last?.event == .cancel(id: held.id, reason: nil))
        let state = QueueState.fold(log, approvers: nil, now: start)
        #expect(state.requests[held.id]?.state == .cancelled)
        #expect(state.requests[held.id]?.cancelReason == nil)
    }
}
