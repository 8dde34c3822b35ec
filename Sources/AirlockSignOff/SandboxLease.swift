import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A running sandbox's claim on its requests: the file `QUEUE.live/SANDBOX`, held under
/// `flock(LOCK_EX)` for as long as the airlock process that supervises the sandbox lives.
///
/// airlock cancels its sandbox's pending requests itself when the sandbox ends, but a SIGKILLed
/// airlock writes nothing. The kernel still drops its lock, and that is what `SandboxLiveness`
/// reads: a lock file nobody holds belongs to a sandbox that has ended.
///
/// The file is made under a temporary name, locked, and only then renamed into place, so no reader
/// ever finds it unlocked while its sandbox runs. Its descriptor is O_CLOEXEC: the agent, and
/// whatever else airlock executes, never inherits the lock (and so can never keep a dead sandbox
/// looking alive).
public final class SandboxLease: Sendable {
    /// The lock file.
    public let path: String
    /// The locked descriptor; -1 once released.
    private let descriptor: Mutex<Int32>

    /// The lease of the sandbox this process supervises, kept for the life of the process.
    public static var current: SandboxLease? {
        get { held.withLock { $0 } }
        set { held.withLock { $0 = newValue } }
    }
    private static let held = Mutex<SandboxLease?>(nil)

    private init(path: String, descriptor: Int32) {
        self.path = path
        self.descriptor = Mutex(descriptor)
    }

    /// The directory of the lock files of the sandboxes writing to `queuePath`.
    public static func directory(forQueue queuePath: String) -> String { queuePath + ".live" }

    /// Creates `QUEUE.live` (0700) if needed and takes the lease of `sandboxID` in it.
    public static func acquire(queuePath: String, sandboxID: String) throws -> SandboxLease {
        guard SandboxLiveness.isLockName(sandboxID) else {
            throw SignOffError(.invalidOperation, "sandbox id \(sandboxID.debugDescription) cannot name a lock file")
        }
        let directory = try makeDirectory(directory(forQueue: queuePath))
        let path = directory + "/" + sandboxID
        // Readers look up sandbox ids only, which never start with a dot.
        let temporary = directory + "/.\(sandboxID).\(getpid()).tmp"
        _ = unlink(temporary)  // left by an acquire that died half-way, with this very pid
        let fd = try LockFile.check("open \(temporary)") {
            open(temporary, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        }
        do {
            _ = try LockFile.check("flock \(temporary)") { flock(fd, LOCK_EX | LOCK_NB) }
            _ = try LockFile.check("rename \(temporary) to \(path)") { rename(temporary, path) }
        } catch {
            _ = unlink(temporary)
            close(fd)
            throw error
        }
        return SandboxLease(path: path, descriptor: fd)
    }

    deinit { release() }

    /// Removes the lock file, then unlocks it: the sandbox closed its requests itself, so no
    /// sweep needs to find it. Releasing twice does nothing; dropping the lease releases it.
    public func release() {
        descriptor.withLock { fd in
            guard fd >= 0 else { return }
            // Unlinked while still locked: a reader that opened it before cannot prove it dead,
            // because it finds the file gone once it holds the lock.
            _ = unlink(path)
            close(fd)
            fd = -1
        }
    }

    /// `path` as a directory: made 0700 if missing, refused if it is anything else (a symlink
    /// included).
    private static func makeDirectory(_ path: String) throws -> String {
        if mkdir(path, 0o700) != 0 && errno != EEXIST {
            throw SignOffError(.io, "mkdir \(path)", errno: errno)
        }
        var info = stat()
        _ = try LockFile.check("lstat \(path)") { lstat(path, &info) }
        guard info.st_mode & S_IFMT == S_IFDIR else { throw SignOffError(.io, "\(path) is not a directory") }
        return path
    }
}

/// Which sandboxes have ended, as their leases prove.
public enum SandboxLiveness {
    /// Whether `id` can name a lock file: 1 to 64 of `A-Z a-z 0-9 _ -`. A sandbox id read from the
    /// queue that is anything else (a path, a dot) is never looked up.
    static func isLockName(_ id: String) -> Bool {
        !id.isEmpty && id.utf8.count <= 64 && id.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"): true
            default: false
            }
        }
    }

    /// Those of `sandboxes` proved to have ended, their lock files removed.
    ///
    /// Proved means: `QUEUE.live/ID` exists and `flock(LOCK_EX|LOCK_NB)` on it succeeds, so the
    /// process that held it is gone. A missing file proves nothing (a request from before leases
    /// existed, a queue copied elsewhere, or a lock file that a concurrent check already removed),
    /// nor does one that cannot be opened.
    public static func ended(_ sandboxes: Set<String>, queuePath: String) -> Set<String> {
        withEnded(sandboxes, queuePath: queuePath) { $0 }
    }

    /// Calls `body` with those of `sandboxes` proved to have ended (see `ended`), holding their
    /// lock files locked meanwhile; removes the files once `body` returns, and leaves them in
    /// place when it throws, so that a later check proves the same again.
    ///
    /// Holding the locks across `body` keeps two concurrent checks from both acting on the same
    /// sandbox: the second finds the file locked, or gone.
    public static func withEnded<T>(_ sandboxes: Set<String>, queuePath: String,
                                    _ body: (Set<String>) throws -> T) rethrows -> T {
        let directory = SandboxLease.directory(forQueue: queuePath)
        var locked: [(id: String, path: String, fd: Int32)] = []
        for id in sandboxes.sorted() where isLockName(id) {
            let path = directory + "/" + id
            if let fd = LockFile.lockIfUnheld(path) { locked.append((id, path, fd)) }
        }
        var succeeded = false
        defer {
            for lock in locked {
                if succeeded { _ = unlink(lock.path) }
                close(lock.fd)
            }
        }
        let result = try body(Set(locked.map(\.id)))
        succeeded = true
        return result
    }
}

/// The few system calls on lock files, `-1`/`errno` turned into a `SignOffError`.
private enum LockFile {
    static func check(_ what: @autoclosure () -> String, _ call: () -> Int32) throws -> Int32 {
        while true {
            let result = call()
            if result != -1 { return result }
            let error = errno
            if error != EINTR { throw SignOffError(.io, what(), errno: error) }
        }
    }

    /// A descriptor of `path` under `flock(LOCK_EX)`, if the file exists, is a regular file, was
    /// not locked by anyone, and was still in place once locked; else nil.
    static func lockIfUnheld(_ path: String) -> Int32? {
        // O_RDONLY is enough for flock; O_NONBLOCK so a FIFO planted there cannot stall the reader.
        guard let fd = try? check("open \(path)", { open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC) }) else {
            return nil
        }
        var opened = stat(), named = stat()
        guard (try? check("flock \(path)", { flock(fd, LOCK_EX | LOCK_NB) })) != nil,
              fstat(fd, &opened) == 0, opened.st_mode & S_IFMT == S_IFREG, opened.st_nlink > 0,
              lstat(path, &named) == 0, named.st_dev == opened.st_dev, named.st_ino == opened.st_ino else {
            close(fd)
            return nil
        }
        return fd
    }
}
