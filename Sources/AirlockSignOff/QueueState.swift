import Foundation

/// Which signatures a fold checks cryptographically.
public enum SignatureChecks: Sendable {
    /// Those on requests not yet settled by a `resolve` or `cancel` line: every signature that can
    /// still change a request's state. What the supervisor replays with. Decisions on settled
    /// requests are not even read: their `signer` field is taken at its word (it must still be
    /// listed, and every other check applies) and they count with `signatureVerified == false` —
    /// a record of history, never a reason to allow anything.
    case unsettled
    /// Every signature, for an audit of the whole file (`airlock queue verify`).
    case all
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
    /// The approvers list in force after the last line: the file's, or the last change approved.
    public let approvers: AllowedSigners?
    /// The approved changes of the approvers list, in order: each is in force from its line on.
    public let approverChanges: [ApproversChange]

    /// Whether approvals can count at all.
    public var approvalsCount: Bool { chainBreak == nil }

    /// Folds `log` against the approvers file (nil: unreadable or absent, so no key is listed);
    /// pending requests whose expiry is past `now` are expired.
    ///
    /// **The approvers list in force.** The file is where the list starts; the chain changes it.
    /// A request of kind `approvers` proposes a whole new list; once the approvals of at least two
    /// (or its quorum, if higher) of the approvers in force at each approval's line count, the
    /// proposed list is in force from that line on, for every decision after it. Decisions before
    /// it were counted against the list of their time and stay counted. Signatures on approvers
    /// requests are always checked: the list in force rests on them.
    ///
    /// An approval counts only if: it is signed; the signature reads, is in namespace `airlock` and
    /// is by a key the approvers file lists for `airlock` at the line's time; it verifies over the
    /// statement built from the request line's digest and id (never the approve line's); the line
    /// arrived before the request expired and before its own `sig_expires`; its key, and no other
    /// key of an approver it stands for, has not counted already; it is not the requester's; the
    /// request is still pending; and the chain is intact. Quorum distinct keys approve
    /// the request; one valid deny denies it.
    ///
    /// Checking an Ed25519 signature costs tens of microseconds, so by default (`checks:
    /// .unsettled`) signatures on requests that a `resolve` or `cancel` line has settled are not
    /// checked: their state no longer depends on them, and a replay of a long queue would otherwise
    /// spend seconds re-proving history.
    public static func fold(_ log: QueueLog, approvers: AllowedSigners?, now: Date,
                            checks: SignatureChecks = .unsettled) -> QueueState {
        // Which request each decision is about (the first request line with its id: later ones are
        // ignored), and which requests are settled.
        var firstRequests: [String: Request] = [:]
        var settledIDs = Set<String>()
        for record in log.records {
            switch record.event {
            case .request(let request) where firstRequests[request.id] == nil: firstRequests[request.id] = request
            // Only a line after the request settles it (the fold ignores one before it), else a
            // `resolve` written ahead for a predictable id would exempt forged approvals from checks.
            case .resolve(let resolution) where firstRequests[resolution.id] != nil: settledIDs.insert(resolution.id)
            case .cancel(let id, _) where firstRequests[id] != nil: settledIDs.insert(id)
            default: break
            }
        }
        let requests = firstRequests, settled = settledIDs
        let needsCrypto: @Sendable (String) -> Bool = { id in
            checks == .all || !settled.contains(id) || requests[id]?.operation.kind == .approvers
        }
        // Reading and verifying signatures is the expensive part and each is independent: do it
        // up front, over all cores, then fold in order.
        let signatures = log.records.parallelMap { record -> SignatureCheck? in
            switch record.event {
            case .approve(let decision), .deny(let decision):
                return SignatureCheck(decision, request: requests[decision.id], verify: needsCrypto(decision.id))
            default:
                return nil
            }
        }
        var folder = Folder(approvers: approvers, chainBroken: log.chainBreak != nil)
        folder.requests.reserveCapacity(requests.count)
        for (record, signature) in zip(log.records, signatures) { folder.apply(record, signature) }
        for (id, state) in folder.requests where state.state == .pending && now >= state.request.operation.expires {
            folder.requests[id]?.state = .expired
        }
        return QueueState(requests: folder.requests, order: folder.order, audits: folder.audits,
                          chainBreak: log.chainBreak, warnings: folder.warnings, approvers: folder.approvers,
                          approverChanges: folder.changes)
    }
}

/// What became of a decision's signature in the parallel pass.
private enum SignatureCheck: Sendable {
    case unsigned
    case unreadable(SignOffError)
    /// Read; `verified` is nil when there was nothing to verify it against (no such request, or
    /// another namespace, which the fold rejects anyway).
    case read(SSHSignature, verified: Bool?)
    /// A settled request under `SignatureChecks.unsettled`: not read at all, the line's `signer`
    /// is taken at its word.
    case unchecked

    init(_ decision: SignedDecision, request: Request?, verify: Bool) {
        guard let armored = decision.signature else { self = .unsigned; return }
        guard verify else { self = .unchecked; return }
        let signature: SSHSignature
        do {
            signature = try SSHSignature.parse(armored: armored)
        } catch {
            self = .unreadable(error as? SignOffError ?? SignOffError(.malformedSignature, "\(error)"))
            return
        }
        guard let request, signature.namespace == SSHSignature.airlockNamespace else {
            self = .read(signature, verified: nil)
            return
        }
        let statement = try? request.statement(decision.decision, sigExpires: decision.sigExpires)
        self = .read(signature, verified: statement.map { (try? signature.verify(message: $0.message)) != nil } ?? false)
    }
}

/// An approved change of the approvers list.
public struct ApproversChange: Sendable {
    /// The approvers request.
    public let id: String
    /// The line of the approval that completed its quorum: the list is in force after it.
    public let line: Int?
    public let ts: Date
    public let approvers: AllowedSigners
}

private enum Verdict {
    case counts(CountedDecision)
    case rejected(RejectedDecision)
}

/// The fold, one event at a time.
private struct Folder {
    /// The list in force at the line being folded.
    var approvers: AllowedSigners?
    var changes: [ApproversChange] = []
    let chainBroken: Bool
    var requests: [String: RequestState] = [:]
    var order: [String] = []
    var audits: [Request] = []
    var warnings: [QueueWarning] = []
    /// The highest signature counter counted from each FIDO key (by fingerprint), in line order.
    var counters: [String: UInt32] = [:]

    init(approvers: AllowedSigners?, chainBroken: Bool) {
        self.approvers = approvers
        self.chainBroken = chainBroken
    }

    mutating func apply(_ record: QueueRecord, _ signature: SignatureCheck?) {
        let id = record.event.requestID
        if case .request(let request) = record.event {
            guard requests[id] == nil else {
                return warn(record, "second request with id \(id.debugDescription) ignored")
            }
            // A change of the approvers needs two of them at least, whatever the line says.
            let least = request.operation.kind == .approvers ? 2 : 1
            requests[id] = RequestState(state: .pending, request: request, quorum: max(least, request.quorum),
                                        digestMatches: request.digest == request.operation.digest)
            order.append(id)
            return
        }
        if case .audit(let request) = record.event { return audits.append(request) }
        guard var state = requests[id] else {
            return warn(record, "\(record.event.name) for unknown request \(id.debugDescription) ignored")
        }
        defer { requests[id] = state }
        switch record.event {
        case .approve(let decision), .deny(let decision):
            switch evaluate(decision, signature ?? .unsigned, record: record, state: state) {
            case .rejected(let rejection):
                state.rejected.append(rejection)
            case .counts(let counted) where decision.decision == .deny:
                noteCounter(signature, counted)
                state.denial = counted
                state.state = .denied
            case .counts(let counted):
                noteCounter(signature, counted)
                state.approvals.append(counted)
                if state.approvals.count >= state.quorum {
                    state.state = .approved
                    if state.request.operation.kind == .approvers { changeApprovers(state.request, record) }
                }
            }
        case .expire:
            if state.state == .pending { state.state = .expired }
        case .cancel(_, let reason):
            // Settles the request whatever came before, unless the agent was already answered; a
            // second cancel (two sweeps racing) keeps the first one's reason.
            if state.state != .resolved && state.state != .cancelled {
                state.state = .cancelled
                state.cancelReason = reason
            }
        case .resolve(let resolution):
            state.resolution = resolution
            state.state = .resolved
        case .request, .audit:
            break
        }
    }

    /// `request`'s list is in force from `record` on. `validate` read it when the line was parsed,
    /// so it reads again; were it not to, the list in force stays and the fold says so.
    private mutating func changeApprovers(_ request: Request, _ record: QueueRecord) {
        do {
            let list = try AllowedSigners(text: request.operation.approvers ?? "", file: "the approvers list of request \(request.id)")
            approvers = list
            changes.append(ApproversChange(id: request.id, line: record.line, ts: record.ts, approvers: list))
        } catch {
            warn(record, "the approvers list of request \(request.id) cannot be read (\(error)); the list in force stays")
        }
    }

    private mutating func noteCounter(_ signature: SignatureCheck?, _ counted: CountedDecision) {
        if case .read(let read, true) = signature, let counter = read.authenticatorCounter {
            counters[counted.signer] = max(counters[counted.signer] ?? 0, counter)
        }
    }

    private mutating func warn(_ record: QueueRecord, _ message: String) {
        warnings.append(QueueWarning(line: record.line ?? 0, message: message))
    }

    /// Whether `decision` counts for `state`'s request; the order of the checks only decides which
    /// reason a decision that fails several is given.
    private func evaluate(_ decision: SignedDecision, _ check: SignatureCheck, record: QueueRecord,
                          state: RequestState) -> Verdict {
        func reject(_ reason: RejectionReason, _ detail: String, signer: String = decision.signer) -> Verdict {
            .rejected(RejectedDecision(decision: decision.decision, signer: signer, reason: reason, detail: detail, line: record.line))
        }
        let request = state.request
        guard state.state == .pending else { return reject(.alreadyDecided, "the request was already \(state.state.rawValue)") }
        if case .unsigned = check { return reject(.unsigned, "the line has no signature") }
        guard decision.digest == request.digest else { return reject(.wrongDigest, "signed for digest \(decision.digest.prefix(12))…, the request's is \(request.digest.prefix(12))…") }
        guard state.digestMatches else { return reject(.wrongDigest, "the request line's digest does not match its operation") }
        guard record.ts < request.operation.expires else { return reject(.afterExpiry, "arrived \(RFC3339.format(record.ts)), the request expired \(RFC3339.format(request.operation.expires))") }
        guard record.ts <= decision.sigExpires else { return reject(.signatureExpired, "arrived \(RFC3339.format(record.ts)), the signature expired \(RFC3339.format(decision.sigExpires))") }
        if decision.decision == .approve && chainBroken { return reject(.chainBroken, "the queue's chain is broken; run `airlock queue verify`") }
        guard let approvers else { return reject(.noApprovers, "") }

        let signer: String
        let verified: Bool
        switch check {
        case .unsigned:
            return reject(.unsigned, "the line has no signature")
        case .unreadable(let error):
            return reject(.badSignature, "\(error)")
        case .read(let signature, let result):
            signer = signature.publicKey.fingerprint
            guard decision.signer.isEmpty || decision.signer == signer else {
                return reject(.badSignature, "the line names signer \(decision.signer.debugDescription) but the signature is by \(signer)", signer: signer)
            }
            guard signature.namespace == SSHSignature.airlockNamespace else {
                return reject(.namespace, "signed in namespace \(signature.namespace.debugDescription)", signer: signer)
            }
            guard result == true else {
                return reject(.badSignature, "the signature does not verify over this request's digest, id, decision and expiry", signer: signer)
            }
            // An authenticator counts its signatures; one that does not (always 0) is let be.
            if let counter = signature.authenticatorCounter, let last = counters[signer], counter <= last, counter != 0 || last != 0 {
                return reject(.counterReplayed, "signature counter \(counter), but \(last) was counted from this key already", signer: signer)
            }
            verified = true
        case .unchecked:
            signer = decision.signer
            verified = false
        }
        let principals = approvers.principals(forFingerprint: signer, namespace: SSHSignature.airlockNamespace, at: record.ts)
        guard !principals.isEmpty else {
            return reject(.notListed, "\(signer) is not in \(approvers.file) for namespace airlock", signer: signer)
        }
        if principals.contains(request.requester) {
            return reject(.requester, "\(signer) is \(request.requester)'s key, and \(request.requester) asked for request \(request.id): a requester's own \(decision.decision.rawValue) does not count", signer: signer)
        }
        if decision.decision == .approve, state.approvals.contains(where: { $0.signer == signer }) {
            return reject(.duplicateKey, "\(signer) already approved this request", signer: signer)
        }
        if decision.decision == .approve, let earlier = state.approvals.first(where: { !Set($0.principals).isDisjoint(with: principals) }) {
            let shared = principals.filter(earlier.principals.contains).joined(separator: ",")
            return reject(.sameApprover, "\(shared) approved this request already, with \(earlier.signer): one approver counts once, whatever keys they hold", signer: signer)
        }
        return .counts(CountedDecision(signer: signer, principals: principals, reason: decision.reason, ts: record.ts,
                                       line: record.line, signatureVerified: verified))
    }
}
