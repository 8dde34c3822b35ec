import AirlockSignOff
import Crypto
import Foundation
import Testing

/// Not a timed test: it prints how long replaying a queue takes (the target is 100,000 events in
/// ≤ 1 s in release builds; debug builds replay a tenth). Run with
/// `swift test -c release --filter ReplayBenchmark` for the real figure.
@Suite struct ReplayBenchmarkTests {
    #if DEBUG
    static let events = 10_000
    #else
    static let events = 100_000
    #endif

    @Test func replayingABigQueuePrintsItsTime() throws {
        let directory = try TemporaryDirectory()
        let path = FileManager.default.fileExists(atPath: "/dev/shm")
            ? "/dev/shm/airlock-replay-\(getpid()).jsonl" : directory.file("queue.jsonl")
        let queue = QueueFile(path: path)
        let alice = SoftwareApprover(), bob = SoftwareApprover()
        let approvers = try AllowedSigners(text: "alice \(alice.publicKey)\nbob \(bob.publicKey)\n")
        defer {
            if let keep = ProcessInfo.processInfo.environment["AIRLOCK_BENCH_KEEP"] {
                try? FileManager.default.removeItem(atPath: keep)
                try? FileManager.default.moveItem(atPath: path, toPath: keep)
                try? "alice \(alice.publicKey)\nbob \(bob.publicKey)\n".write(toFile: keep + ".signers", atomically: true, encoding: .utf8)
            }
            try? FileManager.default.removeItem(atPath: path)
        }
        let start = Date()

        // request, approve, approve, resolve: half the events carry a signature to verify.
        var clock = ContinuousClock.now
        for n in 0..<Self.events / 4 {
            let request = try queue.appendRequest(sampleOperation(path: "/work/project/file-\(n)", expires: start.addingTimeInterval(900)),
                                                  pid: 4242, requester: "ops", quorum: 2, at: start)
            try queue.append(.approve(try alice.sign(.approve, on: request)), at: start.addingTimeInterval(1))
            try queue.append(.approve(try bob.sign(.approve, on: request)), at: start.addingTimeInterval(2))
            try queue.append(.resolve(Resolution(id: request.id, outcome: .allowed)), at: start.addingTimeInterval(3))
        }
        let written = ContinuousClock.now - clock
        let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int ?? 0

        clock = ContinuousClock.now
        let cpuBefore = processorTime()
        let log = try QueueReader.read(path)
        let read = ContinuousClock.now - clock
        let state = QueueState.fold(log, approvers: approvers, now: start.addingTimeInterval(10))
        let total = ContinuousClock.now - clock
        let cpu = processorTime() - cpuBefore

        // The CPU time (all threads) alongside the wall time, since a shared machine's load moves the latter.
        print("replay: \(log.records.count) events, \(size / 1024) KiB: read + verify chain \(read), fold \(total - read), total \(total), CPU \(cpu) s on \(ProcessInfo.processInfo.activeProcessorCount) cores (writing them took \(written))")
        #expect(log.verify() == nil)
        #expect(log.records.count == Self.events)
        #expect(state.requests.values.allSatisfy { $0.state == .resolved && $0.approvals.count == 2 })
    }
}

/// CPU seconds this process has used, all threads together.
private func processorTime() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}
