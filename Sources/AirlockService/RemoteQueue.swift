import AirlockSignOff
import Foundation
import Glibc
import NIOHTTP1
import Synchronization

/// A sandbox's queue on a team's `airlock serve`: requests and their settlement are appended with
/// the host's token (`POST /v1/events`); the chain is followed from where it stood when the
/// sandbox started by a long poll on a thread of its own (`GET /v1/events?after=SEQ&wait=…`),
/// which keeps the lines in memory and wakes the desk through a pipe. The desk reads and checks
/// those lines as it reads a file, and counts approvals itself against its own approvers file and
/// the changes of the list approved in the chain (read at the start, `GET /v1/approvers`): the
/// service is trusted to keep the chain, not to say what was approved.
///
/// The service out of reach: appends fail (the desk refuses the operation, saying so), the poll
/// tries again every second from the last line it has, and held operations wait out their wait or
/// expiry, failing closed. Nothing is decided twice: the service refuses a second settlement.
public final class RemoteQueue: SignOffQueue, @unchecked Sendable {
    public let location: String
    let client: ServiceClient
    /// How long an append may take: the desk's thread waits for it.
    static let appendTimeout: Int64 = 5

    private struct Followed {
        var bytes: [UInt8] = []
        var start: (seq: UInt64, hash: String)?
        /// The lines of the approvers list's changes up to `start`.
        var approverChanges: [QueueRecord] = []
        var polling = false
        var closed = false
    }

    private let followed = Mutex(Followed())
    private let wake: (read: Int32, write: Int32)

    public init(url: String, token: String) throws {
        client = try ServiceClient(url: url, token: token)
        location = url
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw ServiceClient.Failure(description: "pipe: \(String(cString: strerror(errno)))") }
        for fd in fds {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        }
        wake = (fds[0], fds[1])
    }

    deinit {
        followed.withLock { $0.closed = true }
        close(wake.read)
        close(wake.write)
    }

    /// Checks that the service answers and takes the token as a host's, and notes where the chain
    /// stands and the changes of the approvers list up to there: `airlock run` calls it before
    /// anything starts, so a typo is one clear line, and a sandbox counts decisions against the
    /// list in force from its first hold.
    public func connect() throws {
        let body = try client.expect(.GET, "/v1/head", timeout: .seconds(Self.appendTimeout))
        struct Head: Decodable { var seq: UInt64; var hash: String; var principal: String; var kind: String }
        guard let head = try? JSONDecoder().decode(Head.self, from: Data(body)) else {
            throw ServiceClient.Failure(description: "\(location) is not an airlock serve (GET /v1/head answered \(String(decoding: body.prefix(200), as: UTF8.self)))")
        }
        guard head.kind == "host" else {
            throw ServiceClient.Failure(description: "the token is \(head.principal)'s, an \(head.kind)'s: a sandbox needs a host's token (airlock serve add-host)")
        }
        let changes = try client.expect(.GET, "/v1/approvers", timeout: .seconds(Self.appendTimeout))
        let log = QueueReader.parse(changes, chained: false)
        if let problem = log.chainBreak ?? log.warnings.first.map({ ChainBreak(line: $0.line, reason: $0.message) }) {
            throw ServiceClient.Failure(description: "\(location): the changes of the approvers list (GET /v1/approvers) cannot be read: \(problem)")
        }
        followed.withLock {
            $0.start = (head.seq, head.hash)
            $0.approverChanges = log.records.filter { $0.seq <= head.seq }
        }
    }

    public func approverChanges() throws -> [QueueRecord] {
        if followed.withLock({ $0.start }) == nil { try connect() }
        return followed.withLock { $0.approverChanges }
    }

    public func startTail() throws -> QueueTail {
        if followed.withLock({ $0.start }) == nil { try connect() }
        let start = followed.withLock { $0.start }!
        return .after(seq: start.seq, hash: start.hash)
    }

    public func appendRequest(_ operation: HeldOperation, pid: Int32, requester: String, quorum: Int,
                              scope: JSONValue?, audit: Bool) throws -> Request {
        let draft = try Request(id: "pending", operation: operation, pid: pid, requester: requester, quorum: quorum, scope: scope)
        let record = try post(audit ? .audit(draft) : .request(draft))
        return try Request(id: record.id, operation: operation, pid: pid, requester: requester, quorum: quorum, scope: scope)
    }

    public func record(_ event: QueueEvent) throws {
        _ = try post(event)
    }

    private struct Posted: Decodable { var seq: UInt64; var id: String; var hash: String }

    private func post(_ event: QueueEvent) throws -> Posted {
        let answer = try client.send(.POST, "/v1/events", body: try QueueWire.encode(event), timeout: .seconds(Self.appendTimeout))
        guard answer.status == 200, let posted = try? JSONDecoder().decode(Posted.self, from: Data(answer.body)) else {
            throw ServiceClient.Failure(description: "\(location) refused the \(event.name) (\(answer.status)): \(answer.message)")
        }
        return posted
    }

    public func readAppended(from tail: QueueTail) throws -> (log: QueueLog, bytes: [UInt8]) {
        let bytes = followed.withLock { f in f.bytes.count > tail.offset ? Array(f.bytes[tail.offset...]) : [] }
        return (QueueReader.parse(bytes, from: tail), bytes)
    }

    /// The lines are kept here as they came: what was read cannot change under the desk.
    public func isIntact(_ prefix: QueuePrefix) throws -> (intact: Bool, breakAt: ChainBreak?) { (true, nil) }

    /// Starts the long poll (once) and returns the pipe it writes to at each new line.
    public func watch() -> Int32 {
        let start = followed.withLock { f -> Bool in
            defer { f.polling = true }
            return !f.polling
        }
        if start {
            let thread = Thread { [weak self] in self?.follow() }
            thread.name = "airlock-queue-follow"
            thread.start()
        }
        return wake.read
    }

    public func drainWatch(_ descriptor: Int32) {
        var buffer = [UInt8](repeating: 0, count: 256)
        while read(descriptor, &buffer, buffer.count) > 0 {}
    }

    /// The poll: lines after the last one, as they come; the service out of reach is retried
    /// every second from the same line.
    private func follow() {
        var tail = followed.withLock { f in f.start.map { QueueTail.after(seq: $0.seq, hash: $0.hash) } } ?? .start
        while !followed.withLock({ $0.closed }) {
            do {
                let bytes = try client.expect(.GET, "/v1/events?after=\(tail.seq)&wait=25", timeout: .seconds(40))
                guard !bytes.isEmpty else { continue }
                let log = QueueReader.parse(bytes, from: QueueTail.after(seq: tail.seq, hash: tail.hash))
                tail = .after(seq: log.tail.seq, hash: log.tail.hash)
                followed.withLock { $0.bytes += bytes }
                var one: UInt8 = 1
                _ = write(wake.write, &one, 1)
            } catch {
                sleep(1) // the service out of reach: held operations wait out their wait or expiry
            }
        }
    }
}
