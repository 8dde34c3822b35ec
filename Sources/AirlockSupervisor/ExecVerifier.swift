import CAirlockShim
import Glibc
import SystemPackage

/// Exec is checked again after the exec. argv lives in memory the agent can rewrite (a sibling
/// thread, a CLONE_VM peer, a shared mapping) between the supervisor's read and the kernel's, so the
/// supervisor lets the exec proceed under ptrace and, at PTRACE_EVENT_EXEC — before the new image
/// runs an instruction — compares the new command line with the one it classified. A mismatch is
/// SIGKILLed. All ptrace calls come from the supervisor's thread (the tracer is a thread).
enum ExecVerifier {
    static let seize: Int32 = 0x4206, interrupt: Int32 = 0x4207, detach: Int32 = 17, cont: Int32 = 7
    static let optionTraceExec: UInt64 = 1 << 4, optionExitKill: UInt64 = 1 << 20
    static let eventExec: Int32 = 4

    enum Outcome: Equatable {
        case verified, failedExec, mismatch(String), untraceable(Errno)
    }

    static let eventStop: Int32 = 128

    /// Seizes `tid`, lets the held execve run (`proceed`), and waits for its outcome.
    ///
    /// An interrupt is requested at once: it is taken at the thread's next return to user space, so
    /// a successful exec reports PTRACE_EVENT_EXEC first (and detaching drops the interrupt), while a
    /// failed one stops in the interrupt before the thread runs another instruction — before it can
    /// make its next call (a shell trying the next PATH entry), which only this thread could answer.
    static func run(tid: Int32, expected argv: [[UInt8]], proceed: () -> Void) -> Outcome {
        guard airlock_ptrace(seize, tid, 0, optionTraceExec | optionExitKill) == 0 else {
            return .untraceable(Errno(rawValue: errno))
        }
        proceed()
        guard airlock_ptrace(interrupt, tid, 0, 0) == 0 else {
            // It is gone already (killed during the exec): nothing runs.
            return .failedExec
        }
        // After a successful exec from a non-leader thread, the thread carries the leader's id.
        let tgid = threadGroup(of: tid) ?? tid
        let ids = tgid == tid ? [tid] : [tid, tgid]
        var pause: UInt32 = 20
        while true {
            for id in ids {
                var status: Int32 = 0
                guard waitpid(id, &status, Int32(__WALL) | WNOHANG) > 0 else { continue }
                guard status & 0xff == 0x7f else { return .failedExec } // it ended before any exec
                switch status >> 16 {
                case eventExec:
                    // Before the new image runs an instruction: is it what was classified?
                    let result = compare(pid: id, expected: argv)
                    if result == .verified {
                        _ = airlock_ptrace(detach, id, 0, 0)
                    } else {
                        // Killed in the stop; as its tracer we take its death notice, which hands it
                        // back to its real parent.
                        kill(id, SIGKILL)
                        var ended: Int32 = 0
                        while waitpid(id, &ended, Int32(__WALL)) == id && ended & 0xff == 0x7f {}
                    }
                    return result
                case eventStop:
                    // The interrupt landed and no exec came: the execve failed, nothing new runs.
                    _ = airlock_ptrace(detach, id, 0, 0)
                    return .failedExec
                default:
                    // A signal-delivery stop: pass the signal on and keep waiting.
                    let signal = (status >> 8) & 0xff
                    _ = airlock_ptrace(cont, id, 0, signal == SIGTRAP || signal == SIGSTOP ? 0 : UInt64(signal))
                }
            }
            usleep(pause)
            pause = min(pause * 2, 1000)
        }
    }

    static func compare(pid: Int32, expected: [[UInt8]]) -> Outcome {
        guard let cmdline = readSmallFileFully("/proc/\(pid)/cmdline") else { return .mismatch("unreadable command line") }
        var actual = cmdline.split(separator: 0, omittingEmptySubsequences: false).map(Array.init)
        if actual.last == [] { actual.removeLast() }
        if actual == expected { return .verified }
        // A script: the kernel runs its interpreter with the script's path and the same arguments.
        if expected.count >= 1, actual.count >= expected.count, Array(actual.suffix(expected.count - 1)) == Array(expected.dropFirst()) {
            return .verified
        }
        return .mismatch("the command line changed during exec: now \(actual.map(\.shown).joined(separator: " "))")
    }

    static func threadGroup(of tid: Int32) -> Int32? {
        guard let status = readSmallFile("/proc/\(tid)/status") else { return nil }
        for line in status.split(separator: UInt8(ascii: "\n")) where line.starts(with: Array("Tgid:".utf8)) {
            return Int32(String(decoding: line.dropFirst(5).filter { $0 != 9 && $0 != 32 }, as: UTF8.self))
        }
        return nil
    }

    static func readSmallFileFully(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { return n < 0 ? nil : out }
            out += buffer[..<n]
            if out.count > 4 << 20 { return out }
        }
    }
}
