import Foundation

/// An approval or denial that counts.
public struct CountedDecision: Equatable, Sendable {
    /// The fingerprint of the key that signed it.
    public let signer: String
    /// The approvers-file principals that key stands for.
    public let principals: [String]
    public let reason: String?
    public let ts: Date
    public let line: Int?
    /// Whether the signature was checked cryptographically. False only for decisions on settled
    /// requests folded with `SignatureChecks.unsettled`, whose state no signature can change.
    public let signatureVerified: Bool
}

/// Which signatures a fold checks cryptographically.
public enum SignatureChecks: Sendable {
    /// Those on requests not yet settled by a `resolve` or `cancel` line: every signature that can
    /// still change a request's state. Decisions on settled requests get every other check, and
    /// count with `signatureVerified == false`. What the supervisor replays with.
    case unsettled
    /// Every signature, for an audit of the whole file (`airlock queue verify`).
    case all
}

/// Why an approve or deny line counted for nothing.
public enum RejectionReason: String, Sendable {
    /// The line carries no signature.
    case unsigned
    /// The signature could not be read, names another key than `signer`, or does not verify over
    /// this request's digest, id, the decision and its expiry.
    case badSignature = "bad signature"
    /// The signature was made for another namespace than `airlock`.
    case namespace
    /// No approvers file, so no key is listed.
    case noApprovers = "no approvers file"
    /// The key is not in the approvers file for namespace `airlock` at the time of the line.
    case notListed = "not listed"
    /// The line names another digest than the request's, or the request's digest does not match
    /// its own operation.
    case wrongDigest = "wrong digest"
    /// The key already counted for this request.
    case duplicateKey = "duplicate key"
    /// It arrived when the request had already expired.
    case afterExpiry = "after expiry"
    /// It arrived after its own `sig_expires`.
    case signatureExpired = "signature expired"
    /// It arrived when the request was already decided, resolved or cancelled.
    case alreadyDecided = "already decided"
    /// The queue's chain is broken, so no approval counts (fail closed).
    case chainBroken = "chain broken"
}

/// An approve or deny line that counted for nothing, and why.
public struct RejectedDecision: Equatable, Sendable {
    public let decision: Decision
    /// The key's fingerprint when the signature could be read, else the line's `signer` field.
    public let signer: String
    public let reason: RejectionReason
    public let detail: String
    public let line: Int?
}

/// One request and what the queue says about it.
public struct RequestState: Sendable {
    public enum State: String, Sendable {
        case pending, approved, denied, expired, resolved, cancelled
    }

    public var id: String { request.id }
    public internal(set) var state: State
    public let request: Request
    /// The request's quorum, at least 1.
    public let quorum: Int
    /// Counted approvals, one per distinct key, in arrival order.
    public internal(set) var approvals: [CountedDecision] = []
    public internal(set) var denial: CountedDecision?
    public internal(set) var rejected: [RejectedDecision] = []
    public internal(set) var resolution: Resolution?
    /// Whether the request line's `digest` is the digest of its own operation; when not, no
    /// approval counts.
    public let digestMatches: Bool
}

/// The state of every request: the fold of the queue's events.
///
/// Folding takes the whole `QueueLog`, not bare events, so the chain's state cannot be left out:
/// when the chain is broken anywhere (a torn last line is not a break), no approval counts and no
/// request becomes approved. A valid deny still denies — failing closed.
public struct QueueState: Sendable {
    public let requests: [String: RequestState]
    /// Request ids in the order their requests were written.
    public let order: [String]
    /// Shadow-mode events, in order.
    public let audits: [Request]
    /// The chain break that stops every approval from counting, if any.
    public let chainBreak: ChainBreak?
    /// Events that name no known request, second requests with an id already used.
    public let warnings: [QueueWarning]

    /// Whether approvals can count at all.
    public var approvalsCount: Bool { chainBreak == nil }

    /// Folds `log` against the approvers file (nil: unreadable or absent, so no key is listed);
    /// pending requests whose expiry is past `now` are expired.
    ///
    /// An approval counts only if: it is signed; the signature reads, is in namespace `airlock` and
    /// is by a key the approvers file lists for `airlock` at the line's time; it verifies over the
    /// statement built from the request line's digest and id (never the approve line's); the line
    /// arrived before the request expired and before its own `sig_expires`; its key has not counted
    /// already; the request is still pending; and the chain is intact. Quorum distinct keys approve
    /// the request; one valid deny denies it.
    ///
    /// Checking an Ed25519 signature costs tens of microseconds, so by default (`checks:
    /// .unsettled`) signatures on requests that a `resolve` or `cancel` line has settled are not
    /// checked: their state no longer depends on them, and a replay of a long queue would otherwise
    /// spend seconds re-proving history.
    public static func fold(_ log: QueueLog, approvers: AllowedSigners?, now: Date,
                            checks: SignatureChecks = .unsettled) -> QueueState {
        var settled = Set<String>()
        if checks == .unsettled {
            for record in log.records {
                switch record.event {
                case .resolve(let resolution): settled.insert(resolution.id)
                case .cancel(let id): settled.insert(id)
                default: break
                }
            }
        }
        var folder = Folder(approvers: approvers, chainBroken: log.chainBreak != nil, settled: settled)
        for record in log.records { folder.apply(record) }
        for (id, state) in folder.requests where state.state == .pending && now >= state.request.operation.expires {
            folder.requests[id]?.state = .expired
        }
        return QueueState(requests: folder.requests, order: folder.order, audits: folder.audits,
                          chainBreak: log.chainBreak, warnings: folder.warnings)
    }
}

private enum Verdict {
    case counts(CountedDecision)
    case rejected(RejectedDecision)
}

/// The fold, one event at a time.
private struct Folder {
    let approvers: AllowedSigners?
    let chainBroken: Bool
    /// Requests whose decisions' signatures are not checked cryptographically.
    let settled: Set<String>
    var requests: [String: RequestState] = [:]
    var order: [String] = []
    var audits: [Request] = []
    var warnings: [QueueWarning] = []

    init(approvers: AllowedSigners?, chainBroken: Bool, settled: Set<String>) {
        self.approvers = approvers
        self.chainBroken = chainBroken
        self.settled = settled
    }

    mutating func apply(_ record: QueueRecord) {
        let id = record.event.requestID
        if case .request(let request) = record.event {
            guard requests[id] == nil else {
                return warn(record, "second request with id \(id) ignored")
            }
            requests[id] = RequestState(state: .pending, request: request, quorum: max(1, request.quorum),
                                        digestMatches: request.digest == request.operation.digest)
            order.append(id)
            return
        }
        if case .audit(let request) = record.event { return audits.append(request) }
        guard var state = requests[id] else {
            return warn(record, "\(record.event.name) for unknown request \(id) ignored")
        }
        defer { requests[id] = state }
        switch record.event {
        case .approve(let decision), .deny(let decision):
            switch evaluate(decision, record: record, state: state) {
            case .rejected(let rejection):
                state.rejected.append(rejection)
            case .counts(let counted) where decision.decision == .deny:
                state.denial = counted
                state.state = .denied
            case .counts(let counted):
                state.approvals.append(counted)
                if state.approvals.count >= state.quorum { state.state = .approved }
            }
        case .expire:
            if state.state == .pending { state.state = .expired }
        case .cancel:
            // Settles the request whatever came before, unless the agent was already answered.
            if state.state != .resolved { state.state = .cancelled }
        case .resolve(let resolution):
            state.resolution = resolution
            state.state = .resolved
        case .request, .audit:
            break
        }
    }

    private mutating func warn(_ record: QueueRecord, _ message: String) {
        warnings.append(QueueWarning(line: record.line ?? 0, message: message))
    }

    /// Whether `decision` counts for `state`'s request; the cheap checks first, the signature last.
    private func evaluate(_ decision: SignedDecision, record: QueueRecord,
                          state: RequestState) -> Verdict {
        func reject(_ reason: RejectionReason, _ detail: String, signer: String = decision.signer) -> Verdict {
            .rejected(RejectedDecision(decision: decision.decision, signer: signer, reason: reason, detail: detail, line: record.line))
        }
        let request = state.request
        guard state.state == .pending else { return reject(.alreadyDecided, "the request was already \(state.state.rawValue)") }
        guard let armored = decision.signature else { return reject(.unsigned, "the line has no signature") }
        guard decision.digest == request.digest else { return reject(.wrongDigest, "signed for digest \(decision.digest.prefix(12))…, the request's is \(request.digest.prefix(12))…") }
        guard state.digestMatches else { return reject(.wrongDigest, "the request line's digest does not match its operation") }
        guard record.ts < request.operation.expires else { return reject(.afterExpiry, "arrived \(RFC3339.format(record.ts)), the request expired \(RFC3339.format(request.operation.expires))") }
        guard record.ts <= decision.sigExpires else { return reject(.signatureExpired, "arrived \(RFC3339.format(record.ts)), the signature expired \(RFC3339.format(decision.sigExpires))") }
        if decision.decision == .approve && chainBroken { return reject(.chainBroken, "the queue's chain is broken; run `airlock queue verify`") }

        let signature: SSHSignature
        do { signature = try SSHSignature.parse(armored: armored) } catch {
            return reject(.badSignature, "\(error)")
        }
        let key = signature.publicKey.fingerprint
        guard decision.signer.isEmpty || decision.signer == key else {
            return reject(.badSignature, "the line names signer \(decision.signer) but the signature is by \(key)", signer: key)
        }
        guard signature.namespace == SSHSignature.airlockNamespace else {
            return reject(.namespace, "signed in namespace \"\(signature.namespace)\"", signer: key)
        }
        guard let approvers else { return reject(.noApprovers, "no approvers file", signer: key) }
        let principals = approvers.principals(for: signature.publicKey, namespace: SSHSignature.airlockNamespace, at: record.ts)
        guard !principals.isEmpty else { return reject(.notListed, "\(key) is not in \(approvers.file) for namespace airlock", signer: key) }
        if decision.decision == .approve, state.approvals.contains(where: { $0.signer == key }) {
            return reject(.duplicateKey, "\(key) already approved this request", signer: key)
        }
        let verify = !settled.contains(request.id)
        if verify {
            do {
                let statement = try request.statement(decision.decision, sigExpires: decision.sigExpires)
                try signature.verify(message: statement.message)
            } catch {
                return reject(.badSignature, "\(error)", signer: key)
            }
        }
        return .counts(CountedDecision(signer: key, principals: principals, reason: decision.reason, ts: record.ts,
                                       line: record.line, signatureVerified: verify))
    }
}
