import Crypto
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Appends events to the sign-off queue file: append-only JSON Lines, each line chained to the one
/// before by `prev`, the SHA-256 of that line's bytes including its newline.
///
/// An append opens the file (O_APPEND, created 0600), takes `flock(LOCK_EX)`, reads back to the
/// last committed line to number and chain the new one, writes the whole line with one write(2),
/// fsyncs, and closes (which unlocks). Each append opens the file afresh, so every writer — thread,
/// process or sandbox — has its own open file description and the lock excludes them all.
///
/// **Torn lines.** A writer that crashed mid-write leaves a last line without a newline. The next
/// writer does not glue onto it: its single write starts with the byte 0x01 and a newline, which
/// closes the torn line and marks it — no JSON text can contain a raw 0x01, so a marked line can
/// never be read as an event. The new line chains (`prev`, `seq`) to the last committed line
/// before the torn one, and its `torn` field is the SHA-256 of every byte of the marked lines in
/// between, so the chain still covers every byte of the file. Only appends, never a truncation:
/// the file may be `chattr +a`.
///
/// **What the chain proves.** An edited, removed or inserted line breaks the chain at the next
/// committed line; an edit of the very last line has no successor to betray it. That is why the
/// chain is not the only defence: approvals are signatures over the request's digest, and the
/// fold recomputes each request's digest from its own fields, so an edited line can make an
/// approval count for nothing but never make one count.
public struct QueueFile: Sendable {
    public let path: String
    /// Longer lines are refused (a command line that long cannot be shown to an approver anyway).
    public static let maximumLineLength = 1 << 20
    /// The byte that closes a torn line, followed by a newline.
    static let tornMarker: UInt8 = 0x01
    static let newline: UInt8 = 0x0A

    public init(path: String) {
        self.path = path
    }

    /// Appends `event`, stamped with `time` (the clock under the lock when nil), and returns the
    /// record as written.
    @discardableResult
    public func append(_ event: QueueEvent, at time: Date? = nil) throws -> QueueRecord {
        try append(at: time) { _ in event }
    }

    /// Appends a request (or, with `audit`, an audit event) for `operation`. Its id comes from the
    /// line's sequence number, so it is unique in the file.
    @discardableResult
    public func appendRequest(_ operation: HeldOperation, pid: Int32, requester: String, quorum: Int,
                              scope: JSONValue? = nil, audit: Bool = false, at time: Date? = nil) throws -> Request {
        try operation.validate()
        let record = try append(at: time) { seq in
            let request = try Request(id: RequestID.forSequence(seq), operation: operation, pid: pid,
                                      requester: requester, quorum: quorum, scope: scope)
            return audit ? .audit(request) : .request(request)
        }
        switch record.event {
        case .request(let request), .audit(let request): return request
        default: preconditionFailure("appendRequest wrote a \(record.event.name) event")
        }
    }

    /// Appends the event `makeEvent` builds from the line's sequence number, which is known only
    /// once the lock is held.
    @discardableResult
    public func append(at time: Date? = nil, _ makeEvent: (_ seq: UInt64) throws -> QueueEvent) throws -> QueueRecord {
        let fd = try FileIO.open(path, O_RDWR | O_APPEND | O_CREAT, mode: 0o600)
        return try FileIO.closing(fd) { fd in
            try FileIO.lockExclusive(fd, path: path)
            defer { FileIO.unlock(fd) }
            let size = try FileIO.regularFileSize(fd, path: path)
            if size == 0 { try syncDirectory() }
            let tail = try readTail(fd, size: size)

            guard tail.lastSeq < UInt64(Int64.max) else {
                throw SignOffError(.malformedQueue, "\(path): the last line's seq \(tail.lastSeq) leaves no room for another")
            }
            let seq = tail.lastSeq + 1
            let event = try makeEvent(seq)
            var skipped = tail.skipped
            var prefix: [UInt8] = []
            if tail.endsTorn { prefix = [Self.tornMarker, Self.newline] }
            skipped += prefix
            let torn = skipped.isEmpty ? nil : Hex.encode(SHA256.hash(data: skipped))
            let (line, record) = try QueueChain.line(seq: seq, prev: tail.lastHash, torn: torn, at: time ?? Date(), event)
            try FileIO.write(fd, prefix + line, path: path)
            try FileIO.fsync(fd, path: path)
            return record
        }
    }

    /// Where the file ends: the last committed line's seq and hash, the bytes of marked torn lines
    /// after it and of a torn last line, if any.
    struct Tail {
        var lastSeq: UInt64 = 0
        var lastHash = QueueLine.zeroHash
        var skipped: [UInt8] = []
        var endsTorn = false
    }

    /// Reads backwards from the end, in growing windows, until it reaches a committed line.
    private func readTail(_ fd: Int32, size: Int) throws -> Tail {
        var window = 4096
        while true {
            let start = max(0, size - window)
            let bytes = try FileIO.read(fd, count: size - start, at: start, path: path)
            if let tail = try Self.tail(of: bytes[...], reachesFileStart: start == 0) { return tail }
            guard window < 8 * Self.maximumLineLength else {
                throw SignOffError(.malformedQueue, "\(path): no complete line in the last \(window) bytes; run `airlock queue verify`")
            }
            window *= 4
        }
    }

    /// The tail of the file given its last bytes; nil when they do not reach back far enough.
    static func tail(of bytes: ArraySlice<UInt8>, reachesFileStart: Bool) throws -> Tail? {
        var tail = Tail()
        var end = bytes.endIndex
        let fragmentStart = bytes.lastIndex(of: newline).map { $0 + 1 } ?? bytes.startIndex
        if fragmentStart == bytes.startIndex && !reachesFileStart { return nil }
        tail.endsTorn = fragmentStart < end
        var skippedLines: [ArraySlice<UInt8>] = [bytes[fragmentStart..<end]]
        end = fragmentStart
        while end > bytes.startIndex {
            let start = bytes[..<(end - 1)].lastIndex(of: newline).map { $0 + 1 } ?? bytes.startIndex
            if start == bytes.startIndex && !reachesFileStart { return nil }
            let line = bytes[start..<end]
            end = start
            if isMarkedTorn(line) {
                skippedLines.insert(line, at: 0)
                continue
            }
            do {
                (tail.lastSeq, _, _, _) = try QueueLine.parse(line.dropLast()).envelope()
            } catch {
                throw SignOffError(.malformedQueue, "the last committed line is not a queue line, so the next one cannot be chained to it; run `airlock queue verify`")
            }
            tail.lastHash = Hex.encode(SHA256.hash(data: Array(line)))
            break
        }
        tail.skipped = Array(skippedLines.joined())
        return tail
    }

    /// A complete line (newline included) that a later writer closed as torn.
    static func isMarkedTorn(_ line: ArraySlice<UInt8>) -> Bool {
        line.count >= 2 && line[line.endIndex - 2] == tornMarker
    }

    /// fsync the directory, so a newly created queue file survives a crash.
    private func syncDirectory() throws {
        let directory = (path as NSString).deletingLastPathComponent
        let fd = try FileIO.open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY)
        try FileIO.closing(fd) { try FileIO.fsync($0, path: directory) }
    }
}
