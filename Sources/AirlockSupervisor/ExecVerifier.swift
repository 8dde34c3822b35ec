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
        /// Verified and left stopped at PTRACE_EVENT_EXEC (asked with `hold`), by the id the
        /// process has there: `release` or `end` it.
        case stopped(Int32)
    }

    static let eventStop: Int32 = 128

    /// Seizes `tid`, lets the held execve run (`proceed`), and waits for its outcome.
    ///
    /// An interrupt is requested at once: it is taken at the thread's next return to user space, so
    /// a successful exec reports PTRACE_EVENT_EXEC first (and detaching drops the interrupt), while a
    /// failed one stops in the interrupt before the thread runs another instruction — before it can
    /// make its next call (a shell trying the next PATH entry), which only this thread could answer.
    ///
    /// `hold`: a verified exec is not let go but left stopped before its first instruction. The
    /// exec itself has released whoever waited for it (a vfork parent, an exec-status pipe), so a
    /// held command no longer holds its spawner.
    static func run(tid: Int32, expected argv: [[UInt8]], executable: ExecutableIdentity?, hold: Bool = false,
                    proceed: () -> Void) -> Outcome {
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
                // One thread to watch (the usual exec): block until it stops, which the interrupt
                // makes certain. Two (a non-leader's exec reports under the leader's id): poll both.
                guard waitpid(id, &status, Int32(__WALL) | (ids.count == 1 ? 0 : WNOHANG)) > 0 else {
                    if ids.count == 1 && errno == EINTR { continue }
                    if ids.count == 1 { return .failedExec } // not ours to wait for any more: gone
                    continue
                }
                guard status & 0xff == 0x7f else { return .failedExec } // it ended before any exec
                switch status >> 16 {
                case eventExec:
                    // Before the new image runs an instruction: is it what was classified?
                    var result = compare(pid: id, expected: argv)
                    if result == .verified, !(executable?.ran(in: id) ?? false) {
                        result = .mismatch(executable == nil ? "nothing was there to run when the exec was checked"
                                                              : "the program run is not the one checked")
                    }
                    if result != .verified {
                        end(id)
                    } else if hold {
                        return .stopped(id)
                    } else {
                        release(id)
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

    /// Lets a process stopped at its exec run.
    static func release(_ pid: Int32) {
        _ = airlock_ptrace(detach, pid, 0, 0)
    }

    /// Ends a process stopped at its exec with status 126, as a shell reports a command it could
    /// not execute, before the program ran an instruction (`airlock_exit_at_exec_stop`); killed
    /// where that cannot be done.
    static func refuse(_ pid: Int32) {
        if airlock_exit_at_exec_stop(pid, 126) != 0 { end(pid) }
    }

    /// Kills a process stopped under our ptrace before it runs anything; as its tracer we take its
    /// death notice, which hands it back to its real parent.
    static func end(_ pid: Int32) {
        kill(pid, SIGKILL)
        var ended: Int32 = 0
        while waitpid(pid, &ended, Int32(__WALL)) == pid && ended & 0xff == 0x7f {}
    }

    /// Whether a process stopped at its exec has ended (a harness's SIGKILL); its death notice is
    /// taken at once, or its real parent, waiting for it, would wait on.
    static func reapIfEnded(_ pid: Int32) -> Bool {
        var status: Int32 = 0
        let rc = waitpid(pid, &status, Int32(__WALL) | WNOHANG)
        if rc == 0 { return false }
        return rc == pid ? status & 0xff != 0x7f : true // an error: not ours any more, so gone
    }

    /// Whether a signal that would end the process is waiting for it: not blocked, not ignored,
    /// and one whose default action ends a process (after an exec every handler is the default).
    /// A process stopped at its exec takes no signal until it runs, so the supervisor delivers
    /// the end itself.
    static func fatalSignalPending(_ pid: Int32) -> Bool {
        guard let status = readSmallFile("/proc/\(pid)/status") else { return false }
        var masks: [String: UInt64] = [:]
        for line in status.split(separator: UInt8(ascii: "\n")) {
            let parts = line.split(separator: UInt8(ascii: ":"), maxSplits: 1)
            guard parts.count == 2 else { continue }
            let key = String(decoding: parts[0], as: UTF8.self)
            guard ["SigPnd", "ShdPnd", "SigBlk", "SigIgn"].contains(key) else { continue }
            masks[key] = UInt64(String(decoding: parts[1].filter { $0 != 9 && $0 != 32 }, as: UTF8.self), radix: 16)
        }
        let pending = (masks["SigPnd"] ?? 0) | (masks["ShdPnd"] ?? 0)
        let live = pending & ~(masks["SigBlk"] ?? 0) & ~(masks["SigIgn"] ?? 0)
        // SIGCHLD, SIGCONT, SIGURG, SIGWINCH are ignored by default; the stop signals stop.
        let harmless = [SIGCHLD, SIGCONT, SIGURG, SIGWINCH, SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU]
            .reduce(UInt64(0)) { $0 | (1 << UInt64($1 - 1)) }
        return live & ~harmless != 0
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
        // A thread-group leader is its own group, and pidfd_open (without PIDFD_THREAD) opens only
        // leaders: two cheap syscalls on every exec, rather than the kernel writing out the status.
        let pidfd = airlock_pidfd_open(tid)
        if pidfd >= 0 {
            close(pidfd)
            return tid
        }
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

/// Which files an exec may end up running, by device and inode: the executable itself and, for a
/// `#!` script, its interpreter (the kernel runs that with the script as an argument). Compared with
/// /proc/PID/exe at PTRACE_EVENT_EXEC, so a path swapped between the check and the kernel's lookup
/// (a thread flipping the filename, a symlink flipped) cannot run another program unchecked.
/// A binfmt_misc handler does not match: such an exec is killed (fail closed).
struct ExecutableIdentity {
    var files: [FileID]

    /// The program the exec should run, when it is (a copy of) one the exec rules name: what the
    /// command line is classified as.
    var recognised: String?

    /// A file by device and inode, and its ctime: a write to it between the check and the exec
    /// (a script's text, a copied program's bytes) makes it another file.
    struct FileID: Equatable {
        var device: UInt64
        var inode: UInt64
        var changed: timespec
        init?(fd: Int32) {
            var st = stat()
            guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG else { return nil }
            device = UInt64(st.st_dev)
            inode = UInt64(st.st_ino)
            changed = st.st_ctim
        }
        static func == (a: FileID, b: FileID) -> Bool {
            a.device == b.device && a.inode == b.inode && a.changed.tv_sec == b.changed.tv_sec && a.changed.tv_nsec == b.changed.tv_nsec
        }
    }

    /// What the agent's own /proc link `link` (`fd/N`: execveat with AT_EMPTY_PATH or a path through
    /// /proc/self/fd; `exe`: a program re-executing itself) leads to.
    init?(procLink link: String, _ agent: AgentProcess, known: KnownPrograms? = nil) {
        let opened = open("/proc/\(agent.pid)/\(link)", O_RDONLY | O_CLOEXEC)
        if opened >= 0 {
            defer { close(opened) }
            self.init(opened: opened, agent, known: known)
            return
        }
        // Execute-only: no script can be read from it, so it is the program itself.
        let handle = open("/proc/\(agent.pid)/\(link)", oPath | O_CLOEXEC)
        guard handle >= 0 else { return nil }
        defer { close(handle) }
        guard let id = FileID(fd: handle) else { return nil }
        self.init(files: [id], recognised: known?.program(of: handle))
    }

    /// The caller's own /proc link a path names (`/proc/self/exe`, `/proc/self/fd/N`, `/dev/fd/N`,
    /// also by its own pid): the kernel runs the file behind the link, whatever name the link shows
    /// (a memfd's `/memfd:x (deleted)` names nothing that exists), so that file is what is checked.
    static func ownProcLink(named path: [UInt8], _ agent: AgentProcess) -> String? {
        var parts = path.split(separator: UInt8(ascii: "/")).map { String(decoding: $0, as: UTF8.self) }
        if parts.first == "dev", parts.count == 3, parts[1] == "fd" { parts = ["proc", "self", "fd", parts[2]] }
        guard parts.count >= 3, parts[0] == "proc",
              parts[1] == "self" || parts[1] == "thread-self" || agent.namespacePids().contains(parts[1]) else { return nil }
        if parts.count == 3 && parts[2] == "exe" { return "exe" }
        if parts.count == 4 && parts[2] == "fd", let fd = Int32(parts[3]), fd >= 0 { return "fd/\(fd)" }
        return nil
    }

    /// The file at `path` (its final symlink already followed), in the agent's view.
    init?(path: AgentPath, _ agent: AgentProcess, known: KnownPrograms? = nil) {
        let fd = AgentPath.openInRoot(pid: agent.pid, path.canonical, resolve: AgentPath.resolveInRoot | AgentPath.resolveNoMagicLinks,
                                      directory: false)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        let readable = open("/proc/self/fd/\(fd)", O_RDONLY | O_CLOEXEC)
        if readable >= 0 {
            defer { close(readable) }
            self.init(opened: readable, agent, known: known)
        } else {
            // Execute-only: no script can be read from it, so it is the program itself.
            guard let id = FileID(fd: fd) else { return nil }
            self.init(files: [id], recognised: known?.program(of: fd))
        }
    }

    init(files: [FileID], recognised: String? = nil) {
        self.files = files
        self.recognised = recognised
    }

    private init?(opened fd: Int32, _ agent: AgentProcess, known: KnownPrograms?) {
        guard let id = FileID(fd: fd) else { return nil }
        self.init(files: [id] + Self.interpreters(of: fd, agent, depth: 4), recognised: known?.program(of: fd))
    }

    /// The chain of `#!` interpreters the kernel would follow from the open file `fd` (as many
    /// levels as it does: an interpreter may itself be a script, a pyenv shim for one).
    private static func interpreters(of fd: Int32, _ agent: AgentProcess, depth: Int) -> [FileID] {
        var head = [UInt8](repeating: 0, count: 256)
        let n = head.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard depth > 0, n > 2, head[0] == UInt8(ascii: "#"), head[1] == UInt8(ascii: "!") else { return [] }
        let line = head[2..<n].prefix { $0 != UInt8(ascii: "\n") }
        guard let interpreter = line.split(whereSeparator: { $0 == 32 || $0 == 9 }).first.map(Array.init),
              let resolved = try? AgentPath.resolve(interpreter, dirfd: Intercepted.cwd, agent: agent)?.followingFinalSymlink(agent) else { return [] }
        let handle = AgentPath.openInRoot(pid: agent.pid, resolved.canonical, resolve: AgentPath.resolveInRoot | AgentPath.resolveNoMagicLinks,
                                          directory: false)
        guard handle >= 0 else { return [] }
        defer { close(handle) }
        guard let id = FileID(fd: handle) else { return [] }
        let readable = open("/proc/self/fd/\(handle)", O_RDONLY | O_CLOEXEC)
        guard readable >= 0 else { return [id] }
        defer { close(readable) }
        return [id] + interpreters(of: readable, agent, depth: depth - 1)
    }

    /// Whether the process `pid` now runs one of these files.
    func ran(in pid: Int32) -> Bool {
        let fd = open("/proc/\(pid)/exe", oPath | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        guard let id = FileID(fd: fd) else { return false }
        return files.contains(id)
    }
}
