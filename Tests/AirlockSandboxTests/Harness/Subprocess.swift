import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// How a finished subprocess ended, with what it printed.
struct Outcome: CustomStringConvertible, Sendable {
    var argv: [String]
    /// The exit status, or 128+N when it died of signal N (the shell's convention).
    var status: Int32
    /// The signal that ended it, if one did.
    var signal: Int32?
    var stdout: String
    var stderr: String
    /// The process had to be killed because it ran past its deadline.
    var timedOut: Bool

    /// Lines of standard output, without a terminal's carriage returns.
    var lines: [String] {
        // \r\n (a terminal's line end) is one Character in Swift, so split on any newline.
        stdout.split(whereSeparator: \.isNewline).map(String.init)
    }

    /// Non-empty lines of standard error.
    var stderrLines: [String] {
        stderr.split(whereSeparator: \.isNewline).map(String.init)
            .filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
    }

    var description: String {
        let how = timedOut ? "timed out" : signal.map { "killed by signal \($0)" } ?? "exited \(status)"
        return """
            $ \(argv.map(shellQuoted).joined(separator: " "))
            → \(how)
            --- stdout ---
            \(stdout)--- stderr ---
            \(stderr)--------------
            """
    }
}

func shellQuoted(_ s: String) -> String {
    if !s.isEmpty && s.allSatisfy({ $0.isLetter || $0.isNumber || "-_./=:,+@%".contains($0) }) { return s }
    return "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
}

/// A running subprocess whose output goes to files (no pipes: nothing can block on a full pipe, and
/// a stray descendant holding the output open cannot hang the test).
final class Subprocess: @unchecked Sendable {
    let pid: pid_t
    let argv: [String]
    private let outPath: String
    private let errPath: String
    private var finished: Outcome?

    /// Starts `argv[0]` (an absolute path) with exactly `environment`, in `directory`, with stdin from
    /// `stdin` (default /dev/null). `extraDescriptors` are additional descriptor numbers (≥ 3) to
    /// leave open in the child, each on a file of its own; every other descriptor is closed.
    init(
        _ argv: [String], environment: [String: String], directory: String,
        stdin: String = "/dev/null", extraDescriptors: [Int32] = []
    ) throws {
        precondition(argv.first?.hasPrefix("/") == true, "the program must be an absolute path: \(argv)")
        self.argv = argv
        let scratch = try makeTemporaryDirectory(prefix: "airlock-e2e-io-")
        outPath = scratch + "/stdout"
        errPath = scratch + "/stderr"

        var opened: [Int32] = []
        defer { opened.forEach { _ = close($0) } }
        func openFile(_ path: String, _ flags: Int32) throws -> Int32 {
            let fd = open(path, flags | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw HarnessError("open \(path): \(String(cString: strerror(errno)))") }
            opened.append(fd)
            return fd
        }
        let inFD = try openFile(stdin, O_RDONLY)
        let outFD = try openFile(outPath, O_WRONLY | O_CREAT | O_TRUNC)
        let errFD = try openFile(errPath, O_WRONLY | O_CREAT | O_TRUNC)
        let extraSources = try extraDescriptors.map { _ in try openFile("/dev/null", O_RDONLY) }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        guard SpawnExtensions.addChdir(&actions, directory) == 0 else {
            throw HarnessError("posix_spawn_file_actions_addchdir_np failed")
        }
        posix_spawn_file_actions_adddup2(&actions, inFD, 0)
        posix_spawn_file_actions_adddup2(&actions, outFD, 1)
        posix_spawn_file_actions_adddup2(&actions, errFD, 2)
        for (source, target) in zip(extraSources, extraDescriptors) {
            posix_spawn_file_actions_adddup2(&actions, source, target)
        }
        // Close everything else the test process has open (other tests' files included).
        let keep = Set(extraDescriptors)
        let highest = (extraDescriptors.max() ?? 2)
        for fd in Int32(3)...max(highest, 3) where !keep.contains(fd) {
            posix_spawn_file_actions_addclose(&actions, fd)
        }
        _ = SpawnExtensions.addCloseFrom(&actions, highest + 1)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // Default signal dispositions and an empty mask, whatever the test runner set.
        var all = sigset_t()
        sigfillset(&all)
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let cArgv = argv.map { strdup($0) } + [nil]
        let cEnv = environment.sorted { $0.key < $1.key }.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            cArgv.forEach { free($0) }
            cEnv.forEach { free($0) }
        }
        var child: pid_t = 0
        let rc = posix_spawn(&child, argv[0], &actions, &attributes, cArgv, cEnv)
        guard rc == 0 else {
            throw HarnessError("posix_spawn \(argv[0]): \(String(cString: strerror(rc)))")
        }
        pid = child
    }

    /// Sends `signal` to the process (not its descendants).
    func send(_ signal: Int32) {
        if finished == nil { kill(pid, signal) }
    }

    /// What it has written to stderr so far.
    func currentStderr() -> String {
        (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
    }

    /// What it has written to stdout so far.
    func currentStdout() -> String {
        (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
    }

    /// Whether the process has ended; reaps it if so.

    func poll() -> Outcome? {
        if let finished { return finished }
        var status: Int32 = 0
        let rc = waitpid(pid, &status, WNOHANG)
        guard rc == pid else { return nil }
        finished = outcome(status: status, timedOut: false)
        return finished
    }

    /// Waits up to `timeout` seconds for the process to end; past that it is killed (SIGKILL) and the
    /// outcome says `timedOut`.
    func wait(timeout: Double = 30) -> Outcome {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let done = poll() { return done }
            usleep(5_000)
        }
        if let done = poll() { return done }
        kill(pid, SIGKILL)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        finished = outcome(status: status, timedOut: true)
        return finished!
    }

    private func outcome(status: Int32, timedOut: Bool) -> Outcome {
        let signalled = (status & 0x7f) != 0 && (status & 0x7f) != 0x7f
        let signal: Int32? = signalled ? status & 0x7f : nil
        let code: Int32 = signal.map { 128 + $0 } ?? ((status >> 8) & 0xff)
        let out = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
        let err = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
        removeTree((outPath as NSString).deletingLastPathComponent)
        return Outcome(argv: argv, status: code, signal: signal, stdout: out, stderr: err, timedOut: timedOut)
    }

    deinit {
        if finished == nil {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
            removeTree((outPath as NSString).deletingLastPathComponent)
        }
    }
}

/// glibc's `posix_spawn_file_actions_addchdir_np` and `…_addclosefrom_np`, which Swift's Glibc module
/// does not import (they are behind `__USE_GNU`), looked up at run time.
private enum SpawnExtensions {
    typealias AddChdir = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32
    typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32

    static let chdirFunction: AddChdir? = symbol("posix_spawn_file_actions_addchdir_np")
    static let closeFromFunction: AddCloseFrom? = symbol("posix_spawn_file_actions_addclosefrom_np")

    static func addChdir(_ actions: UnsafeMutablePointer<posix_spawn_file_actions_t>, _ path: String) -> Int32 {
        guard let f = chdirFunction else { return ENOSYS }
        return f(actions, path)
    }

    static func addCloseFrom(_ actions: UnsafeMutablePointer<posix_spawn_file_actions_t>, _ from: Int32) -> Int32 {
        guard let f = closeFromFunction else { return ENOSYS }
        return f(actions, from)
    }

    private static func symbol<T>(_ name: String) -> T? {
        guard let handle = dlopen(nil, RTLD_NOW), let p = dlsym(handle, name) else { return nil }
        return unsafeBitCast(p, to: T.self)
    }
}

struct HarnessError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A fresh directory under /var/tmp (not /tmp: the namespaces backend gives the agent a private /tmp,
/// and tests that are not about /tmp should not depend on how the workspace and /tmp interact).
func makeTemporaryDirectory(prefix: String, under parent: String = "/var/tmp") throws -> String {
    var template = Array("\(parent)/\(prefix)XXXXXX".utf8CString)
    guard let p = mkdtemp(&template) else {
        throw HarnessError("mkdtemp under \(parent): \(String(cString: strerror(errno)))")
    }
    return String(cString: p)
}

/// rm -rf, without following symlinks.
func removeTree(_ path: String) {
    try? FileManager.default.removeItem(atPath: path)
}
