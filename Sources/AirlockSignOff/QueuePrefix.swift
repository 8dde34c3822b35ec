#if canImport(Glibc)
import Glibc
#endif
import Crypto

/// The bytes of a queue file read so far, as a running SHA-256. Committed lines are never rewritten
/// (a torn tail is closed by appending), so the file's first `count` bytes must hash the same on
/// every later check: comparing that is how a reader that reads incrementally notices an edit to
/// lines it has already read, at the cost of one sequential hash, not a parse and chain check.
public struct QueuePrefix {
    /// Made on the first append: a sandbox that never reads its queue never pays for SHA256's
    /// type metadata (1% of a start).
    private var hasher: SHA256?
    public private(set) var count = 0

    public init() {}

    public mutating func append(_ bytes: some Sequence<UInt8>) {
        let chunk = Array(bytes)
        if hasher == nil { hasher = SHA256() }
        hasher!.update(data: chunk)
        count += chunk.count
    }

    /// Whether the file at `path` still begins with exactly the bytes appended here.
    public func isIntact(in path: String) throws -> Bool {
        try FileIO.closing(try FileIO.open(path, O_RDONLY)) { fd in
            var check = SHA256()
            var offset = 0
            while offset < count {
                let chunk = try FileIO.read(fd, count: min(1 << 20, count - offset), at: offset, path: path)
                if chunk.isEmpty { return false } // shorter than what was read: cut
                check.update(data: chunk)
                offset += chunk.count
            }
            return check.finalize() == (hasher ?? SHA256()).finalize()
        }
    }
}
