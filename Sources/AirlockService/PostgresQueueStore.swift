import AirlockSignOff
import Crypto
import Foundation
import Logging
import Synchronization
import NIOCore
import PostgresNIO

/// The sign-off queue in PostgreSQL: the same chain of lines a queue file holds, one row per line,
/// byte for byte (`QueueChain`), so an export is verified offline exactly as a file is.
///
/// **One order.** Every append runs in one transaction that first locks the chain head
/// (`SELECT … FOR UPDATE` on its single row), numbers and chains the new line to the head, inserts
/// it (`seq` is the primary key: two writers can never both write line N) and moves the head.
///
/// **Decided once.** Under the same lock the append folds the lines already written about the
/// event's request (`request_id` is indexed) and refuses an event the request's state does not
/// allow: a second resolve, an approval of a request no longer pending, a cancel of one settled.
/// So concurrent approvers and concurrent sandboxes cannot both settle a request, and what the
/// chain says happened happened once. Rows are never updated or deleted.
public final class PostgresQueueStore: Sendable {
    let client: PostgresClient
    let logger: Logger
    /// Told of every line committed by this process (waiters of `GET /v1/events` wake on it).
    let appended = AppendSignal()

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// Makes the tables if they are not there yet (idempotent; run at every start).
    public func migrate() async throws {
        try await client.withTransaction(logger: logger) { db in
            // Two services starting at once on an empty database: one makes the tables.
            try await db.query("SELECT pg_advisory_xact_lock(7100731)", logger: logger)
            try await db.query("""
                CREATE TABLE IF NOT EXISTS airlock_events (
                    seq BIGINT PRIMARY KEY CHECK (seq > 0),
                    request_id TEXT NOT NULL,
                    writer TEXT NOT NULL,
                    line BYTEA NOT NULL)
                """, logger: logger)
            try await db.query("CREATE INDEX IF NOT EXISTS airlock_events_request ON airlock_events (request_id)", logger: logger)
            // The requests that propose a new approvers list: every decision is counted against
            // the list in force, so their lines are read with every request's.
            try await db.query("CREATE TABLE IF NOT EXISTS airlock_approver_changes (request_id TEXT PRIMARY KEY)", logger: logger)
            try await db.query("""
                CREATE TABLE IF NOT EXISTS airlock_chain_head (
                    one BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),
                    seq BIGINT NOT NULL,
                    hash TEXT NOT NULL)
                """, logger: logger)
            let start = QueueChain.start
            try await db.query("INSERT INTO airlock_chain_head (one, seq, hash) VALUES (TRUE, 0, \(start)) ON CONFLICT DO NOTHING", logger: logger)
            try await db.query("""
                CREATE TABLE IF NOT EXISTS airlock_principals (
                    name TEXT PRIMARY KEY,
                    kind TEXT NOT NULL CHECK (kind IN ('host', 'approver')),
                    token_sha256 TEXT NOT NULL UNIQUE,
                    owner TEXT,
                    created TIMESTAMPTZ NOT NULL DEFAULT now())
                """, logger: logger)
            try await db.query("""
                CREATE TABLE IF NOT EXISTS airlock_passkeys (
                    credential_id TEXT PRIMARY KEY,
                    approver TEXT NOT NULL REFERENCES airlock_principals (name),
                    public_key TEXT NOT NULL,
                    created TIMESTAMPTZ NOT NULL DEFAULT now())
                """, logger: logger)
        }
    }

    /// Why an event was not appended: the request's state does not allow it.
    public struct Refusal: Error, CustomStringConvertible {
        public var description: String
        public init(_ description: String) { self.description = description }
    }

    /// What the chain holds about one request when an event about it is appended.
    public struct History: Sendable {
        /// The request's own lines and those of every change of the approvers list, in order
        /// (not consecutive: read with `chained: false`), so that folding them counts each decision
        /// against the list in force at its line.
        public var log: QueueLog
        /// Who appended its request line.
        public var writer: String?
    }

    /// Appends, as `writer`, the event `build` makes from its line's number and from the lines
    /// already written about request `id` (nil: a new request, no history), all under the chain
    /// head's lock; `build` throws to refuse (a `Refusal` says why to the caller).
    public func append(
        writer: String, about id: String?,
        _ build: @escaping @Sendable (_ seq: UInt64, _ history: History) throws -> QueueEvent
    ) async throws -> QueueRecord {
        let record: QueueRecord
        let arrived = ContinuousClock.now
        do {
            record = try await bounded { try await self.appendTransaction(writer: writer, about: id, since: arrived, build) }
        } catch let error as PostgresTransactionError {
            // The closure's own refusal passes through as it was thrown; the database's failures
            // say what failed.
            if let thrown = error.closureError, !(thrown is PSQLError) { throw thrown }
            throw error
        }
        appended.signal()
        return record
    }

    private func appendTransaction(
        writer: String, about id: String?, since arrived: ContinuousClock.Instant,
        _ build: @Sendable (_ seq: UInt64, _ history: History) throws -> QueueEvent
    ) async throws -> QueueRecord {
        let logger = self.logger
        return try await client.withTransaction(logger: logger) { db -> QueueRecord in
            let head = try await db.query("SELECT seq, hash FROM airlock_chain_head FOR UPDATE", logger: logger)
            // A caller bounds its wait (a sandbox: 5 s): a line written after it gave up would
            // be one it believes unwritten. Too late, nothing is written and it hears so.
            guard ContinuousClock.now - arrived < Self.appendDeadline else { throw TooSlow() }
            var last: (seq: Int64, hash: String)?
            for try await row in head.decode((Int64, String).self) { last = row }
            guard let last else { throw Refusal("the database has no chain head: run `airlock serve` once to make its tables") }
            let seq = UInt64(last.seq) + 1
            var history = History(log: QueueReader.parse([]), writer: nil)
            if let id { history = try await Self.history(of: id, in: db, logger: logger) }
            let event = try build(seq, history)
            let (line, record) = try QueueChain.line(seq: seq, prev: last.hash, at: Date(), event)
            let requestID = event.requestID
            try await db.query("INSERT INTO airlock_events (seq, request_id, writer, line) VALUES (\(Int64(seq)), \(requestID), \(writer), \(ByteBuffer(bytes: line)))", logger: logger)
            if case .request(let request) = event, request.operation.kind == .approvers {
                try await db.query("INSERT INTO airlock_approver_changes (request_id) VALUES (\(requestID))", logger: logger)
            }
            let hash = record.hash
            try await db.query("UPDATE airlock_chain_head SET seq = \(Int64(seq)), hash = \(hash)", logger: logger)
            return record
        }
    }

    /// The lines written about request `id` (and about the changes of the approvers list), and
    /// who wrote its request.
    public func history(of id: String) async throws -> History {
        try await bounded {
            try await self.client.withConnection { db in try await Self.history(of: id, in: db, logger: self.logger) }
        }
    }

    static func history(of id: String, in db: PostgresConnection, logger: Logger) async throws -> History {
        let rows = try await db.query("""
            SELECT line, writer, request_id FROM airlock_events
            WHERE request_id = \(id) OR request_id IN (SELECT request_id FROM airlock_approver_changes) ORDER BY seq
            """, logger: logger)
        var bytes: [UInt8] = []
        var writer: String?
        for try await (line, by, about) in rows.decode((ByteBuffer, String, String).self) {
            if writer == nil, about == id { writer = by }
            bytes += line.readableBytesView
        }
        return History(log: QueueReader.parse(bytes, chained: false), writer: writer)
    }

    /// The lines of every change of the approvers list (its request and what was appended about
    /// it), in order: what a sandbox that follows the chain from its head folds first.
    public func approverChangeLines() async throws -> [UInt8] {
        try await bounded {
            let rows = try await self.client.query("SELECT line FROM airlock_events WHERE request_id IN (SELECT request_id FROM airlock_approver_changes) ORDER BY seq", logger: self.logger)
            var bytes: [UInt8] = []
            for try await (line) in rows.decode(ByteBuffer.self) { bytes += line.readableBytesView }
            return bytes
        }
    }

    /// How long one operation may wait for the database: the pool waits for a connection while
    /// PostgreSQL is down, and a caller must hear that soon rather than in a minute.
    public static let deadline: Duration = .seconds(10)

    /// How long after it arrived an append may still be written: under the 5 s a sandbox waits.
    public static let appendDeadline: Duration = .seconds(4)

    public struct TooSlow: Error, CustomStringConvertible {
        public var description: String { "the queue's database took longer than \(PostgresQueueStore.appendDeadline.components.seconds) s to take the line" }
    }

    public struct Unreachable: Error, CustomStringConvertible {
        public var description: String { "the queue's database did not answer within \(PostgresQueueStore.deadline.components.seconds) s" }
    }

    /// `body`, given up (and cancelled) after `deadline`. Not a task group: leaving one waits for
    /// every child, and a call stuck in the pool's wait for a connection (seen after PostgreSQL
    /// was stopped under load) would hold its HTTP request, and the service's shutdown, for ever.
    func bounded<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let race = Race<T>()
        return try await withCheckedThrowingContinuation { continuation in
            race.start(continuation, body, deadline: Self.deadline)
        }
    }

    /// The lines after line `seq`, in order, at most `limit` of them: exactly the bytes a queue
    /// file would hold from that point.
    public func lines(after seq: UInt64, limit: Int) async throws -> [UInt8] {
        try await bounded {
            let rows = try await self.client.query("SELECT line FROM airlock_events WHERE seq > \(Int64(seq)) ORDER BY seq LIMIT \(limit)", logger: self.logger)
            var bytes: [UInt8] = []
            for try await (line) in rows.decode(ByteBuffer.self) { bytes += line.readableBytesView }
            return bytes
        }
    }

    /// The SHA-256 (hex) of the bytes of lines 1 to `seq`, concatenated in order, as PostgreSQL
    /// computes it from the rows.
    public func digest(through seq: UInt64) async throws -> String? {
        try await bounded {
            let rows = try await self.client.query("SELECT encode(sha256(string_agg(line, ''::bytea ORDER BY seq)), 'hex') FROM airlock_events WHERE seq <= \(Int64(seq))", logger: self.logger)
            for try await (digest) in rows.decode(String?.self) { return digest }
            return nil
        }
    }

    /// The number of the last line and its SHA-256.
    public func head() async throws -> (seq: UInt64, hash: String) {
        try await bounded {
            let rows = try await self.client.query("SELECT seq, hash FROM airlock_chain_head", logger: self.logger)
            for try await (seq, hash) in rows.decode((Int64, String).self) { return (UInt64(seq), hash) }
            throw Refusal("the database has no chain head")
        }
    }

    // MARK: - Principals

    public enum PrincipalKind: String, Sendable {
        case host, approver
    }

    public struct Principal: Sendable, Equatable {
        public var name: String
        public var kind: PrincipalKind
        /// A host's operator: the approvers' principal its requests are made in the name of,
        /// whose own approval of them does not count.
        public var owner: String?
    }

    /// Registers `name` and returns its new token (shown once; only its SHA-256 is kept).
    public func addPrincipal(_ name: String, kind: PrincipalKind, owner: String? = nil) async throws -> String {
        var random = SystemRandomNumberGenerator()
        let token = "airlock_" + (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &random)) }.joined()
        let digest = Self.digest(token)
        do {
            try await client.query("INSERT INTO airlock_principals (name, kind, token_sha256, owner) VALUES (\(name), \(kind.rawValue), \(digest), \(owner))", logger: logger)
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
            throw Refusal("a principal named \(name.debugDescription) exists already")
        }
        return token
    }

    /// Who holds `token`, if anyone.
    public func principal(token: String) async throws -> Principal? {
        let digest = Self.digest(token)
        return try await bounded {
            let rows = try await self.client.query("SELECT name, kind, owner FROM airlock_principals WHERE token_sha256 = \(digest)", logger: self.logger)
            for try await (name, kind, owner) in rows.decode((String, String, String?).self) {
                return PrincipalKind(rawValue: kind).map { Principal(name: name, kind: $0, owner: owner) }
            }
            return nil
        }
    }

    // MARK: - Passkeys

    /// A WebAuthn credential an approver registered in the page. Registering it lets the page
    /// offer it and turn its assertions into SSHSIGs; it counts only once its key is in the
    /// approvers list in force (the file, or a change approved in the chain).
    public struct Passkey: Sendable {
        /// The credential id, base64url.
        public var id: String
        public var approver: String
        public var publicKey: SSHPublicKey
    }

    public func addPasskey(_ passkey: Passkey) async throws {
        let key = passkey.publicKey.description
        do {
            try await bounded {
                try await self.client.query("INSERT INTO airlock_passkeys (credential_id, approver, public_key) VALUES (\(passkey.id), \(passkey.approver), \(key))", logger: self.logger)
            }
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
            throw Refusal("the credential \(passkey.id) is registered already")
        }
    }

    /// The passkeys `approver` registered, or the one with credential id `id`.
    public func passkeys(of approver: String? = nil, id: String? = nil) async throws -> [Passkey] {
        try await bounded {
            let rows = try await self.client.query("""
                SELECT credential_id, approver, public_key FROM airlock_passkeys
                WHERE (\(approver)::TEXT IS NULL OR approver = \(approver)) AND (\(id)::TEXT IS NULL OR credential_id = \(id))
                ORDER BY created
                """, logger: self.logger)
            var found: [Passkey] = []
            for try await (id, approver, key) in rows.decode((String, String, String).self) {
                found.append(Passkey(id: id, approver: approver, publicKey: try SSHPublicKey(line: key)))
            }
            return found
        }
    }

    static func digest(_ token: String) -> String {
        SHA256.hash(data: Array(token.utf8)).map { String(format: "%02x", $0) }.joined()
    }
}

/// The first of a call and its deadline to finish answers; the other is cancelled.
final class Race<T: Sendable>: Sendable {
    private let state = Mutex<(continuation: CheckedContinuation<T, any Error>?, tasks: [Task<Void, Never>])>((nil, []))

    func start(_ continuation: CheckedContinuation<T, any Error>, _ body: @escaping @Sendable () async throws -> T, deadline: Duration) {
        state.withLock { $0.continuation = continuation }
        let work = Task { do { self.finish(.success(try await body())) } catch { self.finish(.failure(error)) } }
        let timer = Task { if (try? await Task.sleep(for: deadline)) != nil { self.finish(.failure(PostgresQueueStore.Unreachable())) } }
        let finished = state.withLock { s -> Bool in
            s.tasks = [work, timer]
            return s.continuation == nil
        }
        if finished { work.cancel(); timer.cancel() }
    }

    private func finish(_ result: Result<T, any Error>) {
        let (waiting, tasks) = state.withLock { s in
            defer { s.continuation = nil }
            return (s.continuation, s.continuation == nil ? [] : s.tasks)
        }
        guard let waiting else { return }
        for task in tasks { task.cancel() }
        waiting.resume(with: result)
    }
}

/// Wakes everyone waiting for the next append.
final class AppendSignal: Sendable {
    private struct Waiters {
        var generation: UInt64 = 0
        var waiting: [UInt64: CheckedContinuation<Void, Never>] = [:]
        var next: UInt64 = 0
    }

    private let state = Mutex(Waiters())

    /// Changes at every append: read it before looking for lines, wait with it after finding none.
    var generation: UInt64 { state.withLock { $0.generation } }

    func signal() {
        let woken = state.withLock { s in
            s.generation &+= 1
            defer { s.waiting = [:] }
            return Array(s.waiting.values)
        }
        for w in woken { w.resume() }
    }

    /// Returns once an append came after `generation` was read, or after `timeout`.
    func wait(since generation: UInt64, timeout: Duration) async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let id: UInt64? = state.withLock { s in
                guard s.generation == generation else { return nil }
                s.next &+= 1
                s.waiting[s.next] = c
                return s.next
            }
            guard let id else { return c.resume() }
            Task {
                try? await Task.sleep(for: timeout)
                self.state.withLock { $0.waiting.removeValue(forKey: id) }?.resume()
            }
        }
    }
}
