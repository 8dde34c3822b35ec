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

    /// Seizes `tid`, lets the held execve run (`proceed`), and waits for its outcome.
    static func run(tid: Int32, expected argv: [[UInt8]], proceed: () -> Void) -> Outcome {
        guard airlock_ptrace(seize, tid, 0, optionTraceExec | optionExitKill) == 0 else {
            return .untraceable(Errno(rawValue: errno))
        }
        proceed()
        // After a successful exec from a non-leader thread, the thread carries the leader's id.
        let tgid = threadGroup(of: tid) ?? tid
        let ids = tgid == tid ? [tid] : [tid, tgid]
        // One stop of the tracee: the exec (verify), its end, or a signal to pass on (nil: go on).
        func handle(_ id: Int32, _ status: Int32) -> Outcome? {
            guard status & 0xff == 0x7f else { return .failedExec } // it ended before the exec completed
            if status >> 16 == eventExec {
                let result = compare(pid: id, expected: argv)
                if result != .verified { kill(id, SIGKILL) }
                _ = airlock_ptrace(detach, id, 0, 0)
                return result
            }
            let signal = (status >> 8) & 0xff
            _ = airlock_ptrace(cont, id, 0, signal == SIGTRAP ? 0 : UInt64(signal))
            return nil
        }
        func poll() -> Outcome? {
            for id in ids {
                var status: Int32 = 0
                if waitpid(id, &status, Int32(__WALL) | WNOHANG) > 0, let outcome = handle(id, status) { return outcome }
            }
            return nil
        }
        var pause: UInt32 = 20
        while true {
            if let outcome = poll() { return outcome }
            // No stop: still inside execve (keep waiting, however long it takes), or it failed and
            // the thread went on, having run nothing that was not classified: let go of it.
            if !ids.contains(where: inExecve) {
                if let outcome = poll() { return outcome } // the stop landed between the two looks
                detachRunning(tid)
                return .failedExec
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

    static func inExecve(_ tid: Int32) -> Bool {
        guard let text = readSmallFile("/proc/\(tid)/syscall"), let first = text.split(separator: 32).first else { return false }
        let nr = Int32(String(decoding: first, as: UTF8.self))
        return nr == Intercepted.numbers["execve"] || nr == Intercepted.numbers["execveat"]
    }

    static func detachRunning(_ tid: Int32) {
        guard airlock_ptrace(interrupt, tid, 0, 0) == 0 else { return }
        var status: Int32 = 0
        _ = waitpid(tid, &status, Int32(__WALL))
        _ = airlock_ptrace(detach, tid, 0, 0)
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
