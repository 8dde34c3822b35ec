#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Where a sandbox's sign-off desk writes its requests and reads the decisions: the queue file on
/// this machine (`QueueFile`), or a team's `airlock serve` (`RemoteQueue`, in AirlockService).
/// Either way the desk reads the same chain of lines, checks it as it reads, and counts approvals
/// itself against its own approvers file.
public protocol SignOffQueue: Sendable {
    /// The file's path or the service's URL, for messages and the approve/deny commands shown.
    var location: String { get }
    /// Where reading starts: the file's first byte, or the service's head when the sandbox started
    /// (what came before holds nothing of this sandbox's).
    func startTail() throws -> QueueTail
    @discardableResult
    func appendRequest(_ operation: HeldOperation, pid: Int32, requester: String, quorum: Int,
                       scope: JSONValue?, audit: Bool) throws -> Request
    /// Appends `event` (a decision's settlement: cancel, resolve, expire).
    func record(_ event: QueueEvent) throws
    /// The lines before `startTail()` that change the approvers list (requests of kind `approvers`
    /// and what was appended about them), folded before anything read after it: none for a file,
    /// read from its first line; the service's, read when the sandbox connected.
    func approverChanges() throws -> [QueueRecord]
    /// What was appended after `tail`, and the bytes read.
    func readAppended(from tail: QueueTail) throws -> (log: QueueLog, bytes: [UInt8])
    /// Whether the bytes read so far (`prefix`) are still the queue's first bytes; when not, where
    /// the chain shows the break, if it does.
    func isIntact(_ prefix: QueuePrefix) throws -> (intact: Bool, breakAt: ChainBreak?)
    /// A descriptor that turns readable when something may have been appended, made at the first
    /// hold (-1: none; the desk looks at intervals anyway).
    func watch() -> Int32
    /// Reads what the watch said, so it does not say it again.
    func drainWatch(_ descriptor: Int32)
}

extension QueueFile: SignOffQueue {
    public var location: String { path }

    public func startTail() throws -> QueueTail { .start }

    public func approverChanges() throws -> [QueueRecord] { [] }

    public func appendRequest(_ operation: HeldOperation, pid: Int32, requester: String, quorum: Int,
                              scope: JSONValue?, audit: Bool) throws -> Request {
        try appendRequest(operation, pid: pid, requester: requester, quorum: quorum, scope: scope, audit: audit, at: nil)
    }

    public func record(_ event: QueueEvent) throws {
        try append(event, at: nil)
    }

    public func readAppended(from tail: QueueTail) throws -> (log: QueueLog, bytes: [UInt8]) {
        try QueueReader.readAppended(path, from: tail)
    }

    public func isIntact(_ prefix: QueuePrefix) throws -> (intact: Bool, breakAt: ChainBreak?) {
        if try prefix.isIntact(in: path) { return (true, nil) }
        return (false, (try? QueueReader.read(path))?.chainBreak)
    }

    /// An inotify watch of the file's writes.
    public func watch() -> Int32 {
        let fd = inotify_init1(Int32(IN_CLOEXEC))
        if fd >= 0 { _ = inotify_add_watch(fd, path, UInt32(IN_MODIFY)) }
        return fd
    }

    public func drainWatch(_ descriptor: Int32) {
        var buffer = [UInt8](repeating: 0, count: 4096)
        _ = read(descriptor, &buffer, buffer.count)
    }
}

extension QueueTail {
    /// Reading from after line `seq`, whose SHA-256 is `hash`, at `offset` 0 of what is read next.
    public static func after(seq: UInt64, hash: String) -> QueueTail {
        QueueTail(offset: 0, seq: seq, hash: hash, line: Int(seq), skipped: [])
    }
}
