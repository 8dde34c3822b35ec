import AirlockSignOff
import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import NIOSSL
import Logging
import NIOCore
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// The HTTP API of `airlock serve` (docs/serve.md): sandbox hosts append their requests and read
/// the chain; approvers read it and add signed decisions. Every endpoint first checks who calls
/// (a bearer token, `PostgresQueueStore.principal`) and refuses the wrong kind of principal before
/// it reads anything else.
public struct SignOffService: Sendable {
    public let store: PostgresQueueStore
    /// The approvers' allowed_signers file, read at every decision: where the list in force starts;
    /// the changes approved in the chain replace it from their line on (`QueueState.fold`).
    public let approversPath: String
    /// Where the page is served from, as browsers name it: its host is the passkeys' relying party.
    public let origin: ServiceOrigin
    let challenges = RegistrationChallenges()
    let chain = ChainCache()
    let webhooks: Webhooks?
    let logger: Logger

    /// The longest body an endpoint reads: one queue line's worth.
    static let bodyLimit = QueueFile.maximumLineLength
    /// The most lines one `GET /v1/events` returns; the client asks again from the last.
    static let pageLines = 2000
    /// The longest a `GET /v1/events` waits for a new line.
    static let longestWait = 60.0

    public init(store: PostgresQueueStore, approversPath: String, origin: ServiceOrigin, webhooks: Webhooks? = nil, logger: Logger) {
        self.store = store
        self.webhooks = webhooks
        self.approversPath = approversPath
        self.origin = origin
        self.logger = logger
    }

    public func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: LogRequestsMiddleware(.debug))
        router.add(middleware: DatabaseErrors())
        router.post("/v1/events") { request, context in try await appendEvent(request, context) }
        router.get("/v1/events") { request, context in try await events(request, context) }
        router.get("/v1/export") { request, context in try await export(request, context) }
        router.get("/v1/head") { request, context in try await head(request, context) }
        router.get("/v1/approvers") { request, context in try await approverChanges(request, context) }
        router.get("/v1/requests") { request, context in try await requests(request, context) }
        router.post("/v1/requests/:id/:decision") { request, context in try await decide(request, context) }
        addPage(to: router)
        return router
    }

    // MARK: - Who calls

    /// Who calls: the bearer token of a host or an approver, or the page's session cookie (an
    /// approver's token; a POST carried by it must come from the page's own origin).
    func caller(_ request: Request, allowed: Set<PostgresQueueStore.PrincipalKind>, for what: String) async throws -> PostgresQueueStore.Principal {
        let token: String
        if let header = request.headers[.authorization] {
            guard header.hasPrefix("Bearer "), header.count > 7 else {
                throw HTTPError(.unauthorized, message: "\(what): the Authorization header is not \"Bearer TOKEN\"")
            }
            token = String(header.dropFirst(7))
        } else if let cookie = request.cookies[Self.sessionCookie]?.value, !cookie.isEmpty {
            if request.method != .get && request.method != .head {
                guard request.headers[.origin] == origin.value else {
                    throw HTTPError(.forbidden, message: "\(what): a request carrying the page's session must come from the page (\(origin.value)), not from \(request.headers[.origin] ?? "no origin")")
                }
            }
            token = cookie
        } else {
            throw HTTPError(.unauthorized, message: "\(what): no Authorization: Bearer token (a host's or an approver's, from `airlock serve add-host` or `add-approver`)")
        }
        guard let principal = try await store.principal(token: token) else {
            throw HTTPError(.unauthorized, message: "\(what): the bearer token is not one this service issued")
        }
        guard allowed.contains(principal.kind) else {
            let may = allowed.map(\.rawValue).sorted().joined(separator: " or ")
            throw HTTPError(.forbidden, message: "\(what): \(principal.name) is \(Self.article(principal.kind.rawValue)); only \(Self.article(may)) may do this")
        }
        return principal
    }

    static func article(_ noun: String) -> String {
        ("aeiou".contains(noun.first ?? "x") ? "an " : "a ") + noun
    }

    func body(_ request: Request, _ what: String) async throws -> [UInt8] {
        var request = request
        do {
            return Array(try await request.collectBody(upTo: Self.bodyLimit).readableBytesView)
        } catch {
            throw HTTPError(.contentTooLarge, message: "\(what): the body is longer than \(Self.bodyLimit) bytes")
        }
    }

    func approvers() -> AllowedSigners? {
        try? AllowedSigners(contentsOf: approversPath)
    }

    // MARK: - Hosts

    /// `POST /v1/events`: a host appends a request (numbered and stamped here, in the name of the
    /// host's owner), or a cancel, resolve or expiry of a request it made.
    func appendEvent(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let what = "POST /v1/events"
        let host = try await caller(request, allowed: [.host], for: what)
        let bytes = try await body(request, what)
        if let name = QueueWire.eventName(bytes), name == "approve" || name == "deny" {
            throw HTTPError(.forbidden, message: "\(what): \(host.name) is a host; approvals and denials go to POST /v1/requests/ID/approve or /deny, signed by an approver")
        }
        let sent: QueueEvent
        do { sent = try QueueWire.decode(bytes, seq: 0) } catch {
            throw HTTPError(.badRequest, message: "\(what): the body is not an event (a queue line's fields without seq, ts and prev): \(error)")
        }
        let isRequest: Bool
        switch sent {
        case .request(let r), .audit(let r):
            guard r.operation.kind != .approvers else {
                throw HTTPError(.forbidden, message: "\(what): \(host.name) is a host; a new approvers list is proposed by the service's administrator (airlock serve propose-approvers)")
            }
            isRequest = true
        default: isRequest = false
        }
        let approvers = approvers()
        let record: QueueRecord
        do {
            record = try await refusingConflicts(what) {
                try await store.append(writer: host.name, about: isRequest ? nil : sent.requestID) { seq, history in
                    switch try QueueWire.decode(bytes, seq: seq) {
                    case .request(var r): r.requester = host.owner ?? host.name; return .request(r)
                    case .audit(var r): r.requester = host.owner ?? host.name; return .audit(r)
                    case let event:
                        try Self.hostMay(event, history: history, host: host.name, approvers: approvers)
                        return event
                    }
                }
            }
        } catch let already as AlreadyRecorded {
            return try Self.json(["seq": Int(already.record.seq), "id": already.record.event.requestID, "hash": already.record.hash, "already": true])
        }
        webhooks?.notify(record, origin: origin.value)
        return try Self.json(["seq": Int(record.seq), "id": record.event.requestID, "hash": record.hash])
    }

    /// Whether `host` may append `event` (a cancel, resolve or expire) to its request's `history`:
    /// each settles a request once, and only as its state allows.
    static func hostMay(_ event: QueueEvent, history: PostgresQueueStore.History, host: String, approvers: AllowedSigners?) throws {
        let id = event.requestID
        guard let state = QueueState.fold(history.log, approvers: approvers, now: Date()).requests[id] else {
            throw PostgresQueueStore.Refusal("there is no request \(id)")
        }
        guard history.writer == host else {
            throw PostgresQueueStore.Refusal("request \(id) is not \(host)'s: a host settles only its own requests")
        }
        let now = state.state.rawValue
        switch event {
        case .resolve(let resolution) where state.state == .resolved && state.resolution?.outcome == resolution.outcome
                                            && state.resolution?.errno == resolution.errno:
            // The same resolve again: a sandbox whose wait for the answer ran out tries again.
            guard let line = history.log.records.last(where: { if case .resolve(let r) = $0.event { r.id == id } else { false } }) else {
                throw PostgresQueueStore.Refusal("request \(id) is resolved, but its resolve line is not found")
            }
            throw AlreadyRecorded(record: line)
        case .resolve(let resolution):
            let allowedIn: RequestState.State = switch resolution.outcome {
            case .allowed: .approved
            case .denied: .denied
            case .expired: .expired
            case .error: .resolved
            }
            guard state.state == allowedIn, resolution.outcome != .error || state.resolution?.outcome == .allowed else {
                throw PostgresQueueStore.Refusal("request \(id) is \(now)\(state.resolution.map { " (\($0.outcome.rawValue))" } ?? ""): it cannot be resolved as \(resolution.outcome.rawValue)")
            }
        case .cancel:
            guard state.state != .resolved, state.state != .cancelled else {
                throw PostgresQueueStore.Refusal("request \(id) is \(now) already")
            }
        case .expire:
            let expired = history.log.records.contains { if case .expire = $0.event { true } else { false } }
            guard state.state == .expired, !expired else {
                throw PostgresQueueStore.Refusal("request \(id) is \(now)\(expired ? " (its expiry is on record)" : ""), not due to expire (at \(RFC3339.format(state.request.operation.expires)))")
            }
        default:
            throw PostgresQueueStore.Refusal("a host appends requests, cancels, resolves and expiries only")
        }
    }

    /// Runs `body`, a store's refusal becoming 409 and a malformed event 400, each naming `what`.
    func refusingConflicts<T>(_ what: String, _ body: () async throws -> T) async throws -> T {
        do { return try await body() } catch let refusal as PostgresQueueStore.Refusal {
            throw HTTPError(.conflict, message: "\(what): \(refusal)")
        } catch let error as SignOffError {
            throw HTTPError(.badRequest, message: "\(what): \(error)")
        }
    }

    /// `GET /v1/events?after=SEQ&wait=SECONDS`: the lines after `SEQ` as the file would hold them;
    /// with none yet, waits up to `wait` seconds for one.
    func events(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        _ = try await caller(request, allowed: [.host, .approver], for: "GET /v1/events")
        let query = request.uri.queryParameters
        guard let after = query["after"].map({ UInt64(String($0)) }) ?? 0 else {
            throw HTTPError(.badRequest, message: "GET /v1/events: after must be a line number (0 for the start)")
        }
        let wait = query["wait"].map { Double(String($0)) } ?? 0
        guard let wait, wait >= 0, wait <= Self.longestWait else {
            throw HTTPError(.badRequest, message: "GET /v1/events: wait must be a number of seconds from 0 to \(Int(Self.longestWait))")
        }
        let deadline = ContinuousClock.now + .milliseconds(Int(wait * 1000))
        while true {
            let generation = store.appended.generation
            let lines = try await store.lines(after: after, limit: Self.pageLines)
            // Stopping: answer now rather than hold the shutdown for the rest of the wait.
            if !lines.isEmpty || ContinuousClock.now >= deadline || Task.isShuttingDownGracefully {
                return Self.lines(lines)
            }
            await store.appended.wait(since: generation, timeout: min(deadline - ContinuousClock.now, .seconds(1)))
        }
    }

    /// `GET /v1/head`: where the chain stands (a sandbox follows it from there), and who asks.
    func head(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let caller = try await caller(request, allowed: [.host, .approver], for: "GET /v1/head")
        let (seq, hash) = try await store.head()
        return try Self.json(["seq": Int(seq), "hash": hash, "principal": caller.name, "kind": caller.kind.rawValue])
    }

    /// `GET /v1/approvers`: the lines of every change of the approvers list, in order; a sandbox
    /// that follows the chain from its head folds them first, so it counts decisions against the
    /// list in force rather than its own file's alone.
    func approverChanges(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        _ = try await caller(request, allowed: [.host, .approver], for: "GET /v1/approvers")
        return Self.lines(try await store.approverChangeLines())
    }

    /// `GET /v1/export`: the whole chain, for `airlock queue verify` offline.
    func export(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        _ = try await caller(request, allowed: [.host, .approver], for: "GET /v1/export")
        return Self.lines(try await store.lines(after: 0, limit: Int.max))
    }

    // MARK: - Approvers

    /// `GET /v1/requests?state=pending`: the requests, each as `airlock queue list --json` shows it.
    func requests(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        _ = try await caller(request, allowed: [.approver], for: "GET /v1/requests")
        let wanted = request.uri.queryParameters["state"].map(String.init)
        if let wanted, RequestState.State(rawValue: wanted) == nil {
            throw HTTPError(.badRequest, message: "GET /v1/requests: unknown state \(wanted.debugDescription) (pending, approved, denied, expired, resolved, cancelled)")
        }
        let (_, state) = try await folded()
        let listed = state.order.compactMap { state.requests[$0] }.filter { wanted == nil || $0.state.rawValue == wanted }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return Response(status: .ok, headers: [.contentType: "application/json"],
                        body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(listed.map(\.summary)))))
    }

    struct SignedBody: Decodable {
        /// An armored SSHSIG (`airlock approve`)…
        var signature: String?
        /// … or a WebAuthn assertion from the page, by a passkey the caller registered.
        var webauthn: Assertion?
        var sig_expires: String
        var reason: String?
    }

    struct Assertion: Decodable {
        var credential_id: String
        var authenticator_data: String
        var client_data_json: String
        var signature: String
    }

    /// `GET /v1/requests/ID/challenge?decision=approve|deny`: what the page asks the passkey to
    /// sign, the SSHSIG to-be-signed blob of the decision statement `airlock approve` would sign,
    /// with the expiry it names and the caller's passkeys.
    func decisionChallenge(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let id = try context.parameters.require("id")
        let what = "GET /v1/requests/\(id)/challenge"
        let approver = try await caller(request, allowed: [.approver], for: what)
        guard let decision = request.uri.queryParameters["decision"].flatMap({ Decision(rawValue: String($0)) }) else {
            throw HTTPError(.badRequest, message: "\(what): decision must be approve or deny")
        }
        guard RequestID.isWellFormed(id) else { throw HTTPError(.notFound, message: "\(what): \(id.debugDescription) is not a request id") }
        let history = try await store.history(of: id)
        guard let state = QueueState.fold(history.log, approvers: approvers(), now: Date()).requests[id] else {
            throw HTTPError(.notFound, message: "\(what): there is no request \(id)")
        }
        guard state.state == .pending else { throw HTTPError(.conflict, message: "\(what): request \(id) is \(state.state.rawValue), not pending") }
        let passkeys = try await store.passkeys(of: approver.name)
        guard !passkeys.isEmpty else {
            throw HTTPError(.conflict, message: "\(what): \(approver.name) has no passkey registered here: register one at /passkeys")
        }
        // Good for ten minutes (whole seconds: the statement spells the time out), never past the request.
        let expires = Date(timeIntervalSince1970: min(state.request.operation.expires, Date().addingTimeInterval(600)).timeIntervalSince1970.rounded(.down))
        let statement = try state.request.statement(decision, sigExpires: expires)
        return try Self.json(["challenge": WebAuthn.base64url(WebAuthn.challenge(for: statement.message)),
                              "sig_expires": RFC3339.format(expires), "rp_id": origin.rpID,
                              "credentials": passkeys.map(\.id)])
    }

    /// The armored SSHSIG a decision's body carries: the CLI's as sent, or the page's assertion
    /// turned into one with the caller's registered passkey.
    func armoredSignature(_ signed: SignedBody, by approver: PostgresQueueStore.Principal, _ what: String) async throws -> String {
        switch (signed.signature, signed.webauthn) {
        case (let armored?, nil):
            return armored
        case (nil, let assertion?):
            guard let authenticatorData = WebAuthn.base64urlDecode(assertion.authenticator_data),
                  let clientData = WebAuthn.base64urlDecode(assertion.client_data_json),
                  let der = WebAuthn.base64urlDecode(assertion.signature) else {
                throw HTTPError(.badRequest, message: "\(what): the assertion's fields must be base64url")
            }
            guard let passkey = try await store.passkeys(id: assertion.credential_id).first, passkey.approver == approver.name else {
                throw HTTPError(.forbidden, message: "\(what): the credential \(assertion.credential_id) is not a passkey \(approver.name) registered here")
            }
            do {
                return try WebAuthn.signature(key: passkey.publicKey, authenticatorData: authenticatorData, clientDataJSON: clientData,
                                              derSignature: der, origin: origin.value).armored
            } catch {
                throw HTTPError(.badRequest, message: "\(what): the assertion cannot be read: \(error)")
            }
        default:
            throw HTTPError(.badRequest, message: "\(what): the body must carry an SSH signature or a WebAuthn assertion (it has \(signed.signature == nil ? "neither" : "both"))")
        }
    }

    /// `POST /v1/requests/ID/approve` or `/deny`: an approver's SSHSIG over the decision statement
    /// (`airlock approve` makes it). Refused unless it counts: a signature that does not verify, a
    /// key not listed, the requester approving their own request, a request no longer pending.
    func decide(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let id = try context.parameters.require("id")
        let what = "POST /v1/requests/\(id)/\(context.parameters.get("decision") ?? "")"
        let approver = try await caller(request, allowed: [.approver], for: what)
        guard let decision = context.parameters.get("decision").flatMap(Decision.init(rawValue:)) else {
            throw HTTPError(.notFound, message: "\(what): the decision is approve or deny")
        }
        guard RequestID.isWellFormed(id) else { throw HTTPError(.notFound, message: "\(what): \(id.debugDescription) is not a request id") }
        let bytes = try await body(request, what)
        var signed: SignedBody
        do { signed = try JSONDecoder().decode(SignedBody.self, from: Data(bytes)) } catch {
            throw HTTPError(.badRequest, message: "\(what): the body is not {\"signature\": ARMORED SSHSIG or \"webauthn\": ASSERTION, \"sig_expires\": RFC 3339, \"reason\": TEXT?}: \(error)")
        }
        signed.signature = try await armoredSignature(signed, by: approver, what)
        let sent = signed
        guard let sigExpires = RFC3339.parse(signed.sig_expires) else {
            throw HTTPError(.badRequest, message: "\(what): sig_expires \(signed.sig_expires.debugDescription) is not an RFC 3339 time")
        }
        let fingerprint: String
        do { fingerprint = try SSHSignature.parse(armored: signed.signature ?? "").publicKey.fingerprint } catch {
            throw HTTPError(.badRequest, message: "\(what): the signature cannot be read: \(error)")
        }
        guard let approvers = approvers() else {
            throw HTTPError(.serviceUnavailable, message: "\(what): the service's approvers file \(approversPath) cannot be read, so no decision can count")
        }
        let record: QueueRecord
        do {
            record = try await refusingConflicts(what) {
                try await store.append(writer: approver.name, about: id) { seq, history in
                    try Self.counts(decision, sent, fingerprint: fingerprint, sigExpires: sigExpires, id: id, seq: seq,
                                    history: history, approvers: approvers)
                }
            }
        } catch let already as AlreadyRecorded {
            return try Self.json(["seq": Int(already.record.seq), "id": id, "hash": already.record.hash, "already": true])
        }
        webhooks?.notify(record, origin: origin.value)
        await settleApproversChange(id, approvers: approvers)
        return try Self.json(["seq": Int(record.seq), "id": id, "hash": record.hash])
    }

    /// A change of the approvers list whose quorum is complete is in force already (the fold says
    /// so at the approval's line); its `resolve` line settles it for readers of the queue. If
    /// that cannot be written now, the request stays approved, which changes nothing.
    func settleApproversChange(_ id: String, approvers: AllowedSigners) async {
        do {
            let record = try await store.append(writer: "airlock serve", about: id) { _, history in
                let state = QueueState.fold(history.log, approvers: approvers, now: Date())
                guard let request = state.requests[id], request.request.operation.kind == .approvers, request.state == .approved,
                      let change = state.approverChanges.last(where: { $0.id == id }) else {
                    throw PostgresQueueStore.Refusal("not an approved change of the approvers")
                }
                return .resolve(Resolution(id: id, outcome: .allowed, detail: "the approvers list is in force from line \(change.line.map(String.init) ?? "?")"))
            }
            webhooks?.notify(record, origin: origin.value)
        } catch is PostgresQueueStore.Refusal {
        } catch {
            logger.warning("request \(id) changed the approvers list, but its resolve could not be written: \(error)")
        }
    }

    /// What was sent is on record already: this key's approval (its signature good), or this
    /// host's resolve with the same outcome. A retry after an answer that was lost (the connection
    /// dropped as the line was committed, or the caller's wait ran out just before) is told so,
    /// and nothing is written.
    struct AlreadyRecorded: Error {
        var record: QueueRecord
    }

    /// The decision line to append, if it counts: folded with the request's lines (and the changes
    /// of the approvers list), the new line must be counted; the fold refuses the requester's own.
    /// An approval by a key already counted for the request is `AlreadyRecorded`, not appended.
    static func counts(_ decision: Decision, _ signed: SignedBody, fingerprint: String, sigExpires: Date, id: String, seq: UInt64,
                       history: PostgresQueueStore.History, approvers: AllowedSigners) throws -> QueueEvent {
        let before = QueueState.fold(history.log, approvers: approvers, now: Date())
        guard let state = before.requests[id] else { throw PostgresQueueStore.Refusal("there is no request \(id)") }
        if decision == .approve, let counted = state.approvals.first(where: { $0.signer == fingerprint }),
           let statement = try? state.request.statement(decision, sigExpires: sigExpires),
           (try? SSHSignature.parse(armored: signed.signature ?? "").verify(message: statement.message)) != nil,
           let line = history.log.records.first(where: { $0.line == counted.line }) {
            throw AlreadyRecorded(record: line)
        }
        let principals = before.approvers?.principals(forFingerprint: fingerprint, namespace: SSHSignature.airlockNamespace, at: Date()) ?? []
        let line = SignedDecision(id: id, digest: state.request.digest, decision: decision, signer: fingerprint,
                                  principal: principals.first, reason: signed.reason, sigExpires: sigExpires, signature: signed.signature)
        let event: QueueEvent = decision == .approve ? .approve(line) : .deny(line)
        // Folded as it will be read: the line, numbered, after the request's own.
        let (_, record) = try QueueChain.line(seq: seq, prev: QueueChain.start, at: Date(), event)
        let log = QueueLog(records: history.log.records + [record], warnings: [], chainBreak: nil)
        guard let after = QueueState.fold(log, approvers: approvers, now: Date()).requests[id] else {
            throw PostgresQueueStore.Refusal("there is no request \(id)")
        }
        if let rejected = after.rejected.last, after.rejected.count > state.rejected.count {
            throw PostgresQueueStore.Refusal("the \(decision.rawValue) would count for nothing: \(rejected.reason.rawValue)\(rejected.detail.isEmpty ? "" : " (\(rejected.detail))")")
        }
        return event
    }

    // MARK: - Responses

    /// The database's failures (PostgreSQL down, restarting, refusing) as 503 with what failed:
    /// the caller tries again; nothing was appended.
    struct DatabaseErrors: RouterMiddleware {
        typealias Context = BasicRequestContext

        /// What a caller should do after a failure that may have come after the commit.
        static func retry(_ request: Request) -> String {
            request.method == .get ? "try again"
                : "the line was not written, or its answer was lost on the way: trying again is safe (a decision counted already is answered as such)"
        }

        func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
            do { return try await next(request, context) } catch let error as PSQLError {
                throw HTTPError(.serviceUnavailable, message: "\(request.method) \(request.uri.path): the queue's database failed: \(error.serverInfo?[.message] ?? "\(error.code)"); \(Self.retry(request))")
            } catch let error as PostgresQueueStore.Unreachable {
                throw HTTPError(.serviceUnavailable, message: "\(request.method) \(request.uri.path): \(error); \(Self.retry(request))")
            } catch let error as PostgresQueueStore.TooSlow {
                throw HTTPError(.serviceUnavailable, message: "\(request.method) \(request.uri.path): \(error); nothing was written, try again")
            } catch let error as PostgresTransactionError {
                throw HTTPError(.serviceUnavailable, message: "\(request.method) \(request.uri.path): the queue's database failed: \(String(reflecting: error).prefix(300)); \(Self.retry(request))")
            } catch let error as HTTPError {
                throw error
            } catch {
                // The pool's own errors (its circuit breaker open while PostgreSQL is down).
                throw HTTPError(.serviceUnavailable, message: "\(request.method) \(request.uri.path): the queue's database cannot be reached (\(String(reflecting: error).prefix(300))); nothing was written, try again")
            }
        }
    }

    static func lines(_ bytes: [UInt8]) -> Response {
        Response(status: .ok, headers: [.contentType: "application/jsonl"], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    static func json(_ object: Any) throws -> Response {
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// `airlock serve`: the service on `host:port`, its queue in the database at `database`.
public enum SignOffServer {
    /// `origin` nil: `http://localhost:PORT` (`https://` with `tls`) once the port is known.
    public static func run(database: DatabaseURL, host: String, port: Int, approversPath: String, origin configured: String?,
                           webhooks: [String] = [], tls: (certificate: String, key: String)? = nil, logger: Logger,
                           onRunning: @escaping @Sendable (Int, String) async -> Void) async throws {
        var server: HTTPServerBuilder = .http1()
        if let tls {
            do {
                let chain = try NIOSSLCertificate.fromPEMFile(tls.certificate).map { NIOSSLCertificateSource.certificate($0) }
                let key = try NIOSSLPrivateKey(file: tls.key, format: .pem)
                server = try .tls(.http1(), tlsConfiguration: .makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key)))
            } catch {
                throw DatabaseURLError(message: "--tls-cert \(tls.certificate) --tls-key \(tls.key): cannot be used: \(error)")
            }
        }
        let client = PostgresClient(configuration: database.configuration, backgroundLogger: logger)
        let store = PostgresQueueStore(client: client, logger: logger)
        let scheme = tls == nil ? "http" : "https"
        let origin = ServiceOrigin(configured ?? "\(scheme)://localhost:\(port)")
        let service = SignOffService(store: store, approversPath: approversPath, origin: origin,
                                     webhooks: webhooks.isEmpty ? nil : try Webhooks(urls: webhooks, logger: logger), logger: logger)
        var app = Application(
            router: service.router(),
            server: server,
            configuration: .init(address: .hostname(host, port: port), serverName: "airlock"),
            services: [client],
            onServerRunning: { channel in
                let bound = channel.localAddress?.port ?? port
                if configured == nil { origin.set("\(scheme)://localhost:\(bound)") }
                await onRunning(bound, origin.value)
            },
            logger: logger)
        app.beforeServerStarts {
            do { try await store.migrate() } catch {
                throw DatabaseURLError(message: "cannot prepare the database \(database): \(String(reflecting: error))")
            }
        }
        // SIGTERM or SIGINT: requests in flight get 10 s to end (a long poll ends at once), then
        // everything is cancelled; a stop never hangs on a stuck call.
        var configuration = ServiceGroupConfiguration(services: [app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        configuration.maximumGracefulShutdownDuration = .seconds(10)
        configuration.maximumCancellationDuration = .seconds(5)
        try await ServiceGroup(configuration: configuration).run()
    }

    /// Appends a request for `operation` (an approvers list) in `requester`'s name, unless another
    /// change of the approvers is pending; returns it and the list in force (from `anchor`, the
    /// service's approvers file, and the changes approved in the chain).
    public static func proposeApprovers(_ operation: HeldOperation, requester: String, quorum: Int, anchor: AllowedSigners,
                                        database: DatabaseURL, logger: Logger) async throws -> (AirlockSignOff.Request, AllowedSigners?) {
        let client = PostgresClient(configuration: database.configuration, backgroundLogger: logger)
        return try await withThrowingTaskGroup(of: (AirlockSignOff.Request, AllowedSigners?)?.self) { group in
            group.addTask { await client.run(); return nil }
            defer { group.cancelAll() }
            let store = PostgresQueueStore(client: client, logger: logger)
            try await store.migrate()
            let draft = try AirlockSignOff.Request(id: "pending", operation: operation, pid: 0, requester: requester, quorum: quorum)
            let record = try await store.append(writer: "administrator", about: draft.id) { seq, history in
                let state = QueueState.fold(history.log, approvers: anchor, now: Date())
                if let open = state.order.compactMap({ state.requests[$0] }).first(where: { $0.state == .pending }) {
                    throw PostgresQueueStore.Refusal("request \(open.id) proposes a new approvers list already, until \(RFC3339.format(open.request.operation.expires)): let the approvers decide on it first")
                }
                return .request(try AirlockSignOff.Request(id: RequestID.forSequence(seq), operation: operation, pid: 0, requester: requester, quorum: quorum))
            }
            guard case .request(let request) = record.event else { throw PostgresQueueStore.Refusal("not a request") }
            let inForce = QueueState.fold(try await store.history(of: request.id).log, approvers: anchor, now: Date()).approvers
            return (request, inForce)
        }
    }

    /// Registers a host or an approver in the database and returns its token.
    public static func addPrincipal(database: DatabaseURL, name: String, kind: PostgresQueueStore.PrincipalKind, owner: String?,
                                    logger: Logger) async throws -> String {
        let client = PostgresClient(configuration: database.configuration, backgroundLogger: logger)
        return try await withThrowingTaskGroup(of: String?.self) { group in
            group.addTask { await client.run(); return nil }
            let store = PostgresQueueStore(client: client, logger: logger)
            defer { group.cancelAll() }
            try await store.migrate()
            return try await store.addPrincipal(name, kind: kind, owner: owner)
        }
    }
}

/// The page's origin, `https://HOST[:PORT]` (or `http://localhost:PORT` on loopback), set once the
/// service knows its port. Its host is the relying party id of every passkey registered here.
public final class ServiceOrigin: Sendable {
    private let current: Mutex<String>

    public init(_ origin: String) { current = Mutex(origin) }

    func set(_ origin: String) { current.withLock { $0 = origin } }

    public var value: String { current.withLock { $0 } }
    public var isSecure: Bool { value.hasPrefix("https://") }
    /// The host, without scheme or port.
    public var rpID: String {
        let rest = value.drop { $0 != "/" }.dropFirst(2)
        return String(rest.prefix { $0 != ":" && $0 != "/" })
    }

    /// nil, or what is wrong with `origin` as one: a scheme and a host name (WebAuthn takes no IP
    /// address), a port, no path; http only for localhost.
    public static func problem(_ origin: String) -> String? {
        let probe = ServiceOrigin(origin)
        let host = probe.rpID
        guard origin.hasPrefix("https://") || origin.hasPrefix("http://localhost") else {
            return "must be https://HOST[:PORT] (or http://localhost:PORT)"
        }
        guard !host.isEmpty, host.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." }), host.contains(where: \.isLetter),
              !origin.dropFirst(origin.hasPrefix("https://") ? 8 : 7).contains("/") else {
            return "must name a host (a DNS name, not an IP address) and no path"
        }
        return nil
    }
}

/// The challenges handed to `navigator.credentials.create`, one per approver, each good once for
/// five minutes.
final class RegistrationChallenges: Sendable {
    private let issued = Mutex<[String: (bytes: [UInt8], until: Date)]>([:])

    func issue(for approver: String) -> [UInt8] {
        var random = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &random) }
        issued.withLock { $0[approver] = (bytes, Date().addingTimeInterval(300)) }
        return bytes
    }

    func take(_ bytes: [UInt8], for approver: String) -> Bool {
        issued.withLock { all in
            guard let found = all[approver], found.bytes == bytes, found.until > Date() else { return false }
            all[approver] = nil
            return true
        }
    }
}
