#if canImport(Glibc)
import Glibc
#endif

/// The system calls the queue file needs, one thin wrapper each, in one place.
///
/// Each wrapper retries on EINTR where the call is restartable and turns `-1`/`errno` into a
/// `SignOffError` with code `.io` naming the call and the path.
enum FileIO {
    /// Runs `call` until it does not fail with EINTR.
    private static func retrying<T: BinaryInteger>(_ what: @autoclosure () -> String, _ call: () -> T) throws -> T {
        while true {
            let result = call()
            if result != -1 { return result }
            let error = Glibc.errno
            if error != EINTR { throw SignOffError(.io, what(), errno: error) }
        }
    }

    /// open(2) with O_CLOEXEC always added; `mode` is used when O_CREAT creates the file.
    static func open(_ path: String, _ flags: Int32, mode: mode_t = 0o600) throws -> Int32 {
        try retrying("open \(path)") { Glibc.open(path, flags | O_CLOEXEC, mode) }
    }

    static func close(_ fd: Int32) {
        // Linux releases the descriptor even when close fails with EINTR, so never retry.
        _ = Glibc.close(fd)
    }

    /// Runs `body` with `fd`, then closes it whatever happens.
    static func closing<T>(_ fd: Int32, _ body: (Int32) throws -> T) rethrows -> T {
        defer { close(fd) }
        return try body(fd)
    }

    /// fstat(2); throws unless `fd` is a regular file, so a FIFO or device is never taken for a queue.
    static func regularFileSize(_ fd: Int32, path: String) throws -> Int {
        var info = stat()
        _ = try retrying("fstat \(path)") { fstat(fd, &info) }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw SignOffError(.io, "\(path) is not a regular file")
        }
        return Int(info.st_size)
    }

    /// Reads `count` bytes at `offset` with pread(2), fewer only at the end of the file.
    static func read(_ fd: Int32, count: Int, at offset: Int, path: String) throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            let n = try buffer.withUnsafeMutableBytes { raw in
                try retrying("read \(path)") {
                    pread(fd, raw.baseAddress! + filled, count - filled, off_t(offset + filled))
                }
            }
            if n == 0 { break }
            filled += n
        }
        buffer.removeLast(count - filled)
        return buffer
    }

    /// Writes all of `bytes` with write(2): one call unless the kernel takes fewer bytes.
    static func write(_ fd: Int32, _ bytes: [UInt8], path: String) throws {
        var written = 0
        while written < bytes.count {
            let n = try bytes.withUnsafeBytes { raw in
                try retrying("write \(path)") { Glibc.write(fd, raw.baseAddress! + written, bytes.count - written) }
            }
            written += n
        }
    }

    static func fsync(_ fd: Int32, path: String) throws {
        _ = try retrying("fsync \(path)") { Glibc.fsync(fd) }
    }

    /// flock(2) LOCK_EX, waiting as long as another writer holds it. The lock belongs to the open
    /// file description, so two opens of the queue in one process exclude each other too.
    static func lockExclusive(_ fd: Int32, path: String) throws {
        _ = try retrying("flock \(path)") { flock(fd, LOCK_EX) }
    }

    static func unlock(_ fd: Int32) {
        _ = flock(fd, LOCK_UN)
    }

    /// The whole file, read from its start.
    static func readAll(_ path: String) throws -> [UInt8] {
        try closing(try open(path, O_RDONLY)) { fd in
            let size = try regularFileSize(fd, path: path)
            var bytes = try read(fd, count: size, at: 0, path: path)
            // The file may have grown since fstat; take what is there now.
            while true {
                let more = try read(fd, count: 64 * 1024, at: bytes.count, path: path)
                if more.isEmpty { return bytes }
                bytes += more
            }
        }
    }
}
