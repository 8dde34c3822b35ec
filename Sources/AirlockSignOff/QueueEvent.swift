import Foundation

/// A held operation waiting for sign-off, as the `request` (or, in shadow mode, `audit`) line
/// records it.
public struct Request: Equatable, Sendable {
    /// Short and easy to type; see `RequestID`.
    public var id: String
    /// The digest as the line states it. `operation.digest` recomputes it from the line's fields; a
    /// request whose two disagree counts no approval.
    public var digest: String
    public var operation: HeldOperation
    public var pid: Int32
    /// The operator's user name.
    public var requester: String
    /// How many distinct approvers' keys must approve.
    public var quorum: Int
    /// What an approval grants, free-form (root, kinds, pid, …): shown to approvers; not part of
    /// the digest.
    public var scope: JSONValue?

    /// A request for `operation`, its digest computed from it. Throws if the operation's shape is
    /// not one the queue can carry.
    public init(id: String, operation: HeldOperation, pid: Int32, requester: String, quorum: Int,
                scope: JSONValue? = nil) throws {
        try operation.validate()
        self.init(id: id, digest: operation.digest, operation: operation, pid: pid,
                  requester: requester, quorum: quorum, scope: scope)
    }

    /// A request exactly as a line states it, digest included; for reading the queue.
    init(id: String, digest: String, operation: HeldOperation, pid: Int32, requester: String,
         quorum: Int, scope: JSONValue?) {
        self.id = id
        self.digest = digest
        self.operation = operation
        self.pid = pid
        self.requester = requester
        self.quorum = quorum
        self.scope = scope
    }

    /// The statement an approver signs to `decide` on this request.
    public func statement(_ decision: Decision, sigExpires: Date) throws -> DecisionStatement {
        try DecisionStatement(digest: digest, decision: decision, sigExpires: sigExpires, id: id)
    }
}

/// An approver's signed `approve` or `deny` line.
public struct SignedDecision: Equatable, Sendable {
    public var id: String
    /// The digest of the request as the approver saw it. Verification always uses the digest on
    /// the request line; this one must merely agree.
    public var digest: String
    public var decision: Decision
    /// The signing key's fingerprint, for people reading the file; the key inside `signature` is
    /// what counts.
    public var signer: String
    public var principal: String?
    public var reason: String?
    /// Until when the signature is valid, at millisecond precision like every queue time.
    public var sigExpires: Date {
        get { Date(timeIntervalSince1970: Double(sigExpiresMilliseconds) / 1000) }
        set { sigExpiresMilliseconds = RFC3339.milliseconds(newValue) }
    }
    private var sigExpiresMilliseconds: Int64
    /// The armored SSHSIG signature over `DecisionStatement.message`; nil on an unsigned line,
    /// which counts for nothing.
    public var signature: String?

    public init(id: String, digest: String, decision: Decision, signer: String, principal: String? = nil,
                reason: String? = nil, sigExpires: Date, signature: String?) {
        self.id = id
        self.digest = digest
        self.decision = decision
        self.signer = signer
        self.principal = principal
        self.reason = reason
        self.sigExpiresMilliseconds = RFC3339.milliseconds(sigExpires)
        self.signature = signature
    }

    /// Signs `decision` on `request` with `keyFile` through `ssh-keygen -Y sign` (see
    /// `SSHSignature.sign`), valid until `sigExpires` — normally the request's own expiry.
    public static func sign(_ decision: Decision, on request: Request, sigExpires: Date,
                            reason: String? = nil, principal: String? = nil, keyFile: String) throws -> SignedDecision {
        let statement = try request.statement(decision, sigExpires: sigExpires)
        let armored = try SSHSignature.sign(message: statement.message, keyFile: keyFile)
        let signer = try SSHSignature.parse(armored: armored).publicKey.fingerprint
        return SignedDecision(id: request.id, digest: request.digest, decision: decision, signer: signer,
                              principal: principal, reason: reason, sigExpires: sigExpires, signature: armored)
    }
}

/// What the agent was told: the `resolve` line.
public struct Resolution: Equatable, Sendable {
    public enum Outcome: String, Codable, Sendable {
        case allowed, denied, expired, error
    }

    public var id: String
    public var outcome: Outcome
    /// The errno the agent's call returned, when it failed.
    public var errno: Int32?
    public var detail: String?

    public init(id: String, outcome: Outcome, errno: Int32? = nil, detail: String? = nil) {
        self.id = id
        self.outcome = outcome
        self.errno = errno
        self.detail = detail
    }
}

/// One event of the sign-off queue.
public indirect enum QueueEvent: Equatable, Sendable {
    case request(Request)
    /// Shadow mode: what would have been held, allowed and recorded.
    case audit(Request)
    case approve(SignedDecision)
    case deny(SignedDecision)
    case expire(id: String)
    case resolve(Resolution)
    /// The request can no longer be carried out (its process ended, its sandbox ended, airlock was
    /// killed): nothing is left to approve. `reason` says which, for the people reading the queue.
    case cancel(id: String, reason: String?)

    /// The `event` field of the line.
    public var name: String {
        switch self {
        case .request: "request"
        case .audit: "audit"
        case .approve: "approve"
        case .deny: "deny"
        case .expire: "expire"
        case .resolve: "resolve"
        case .cancel: "cancel"
        }
    }

    /// The id of the request the event is about.
    public var requestID: String {
        switch self {
        case .request(let request), .audit(let request): request.id
        case .approve(let decision), .deny(let decision): decision.id
        case .expire(let id), .cancel(let id, _): id
        case .resolve(let resolution): resolution.id
        }
    }
}

/// One line of the queue: an event and the envelope that chains it to the line before.
public struct QueueRecord: Equatable, Sendable {
    public var seq: UInt64
    /// When the writer appended it (under the lock), millisecond precision.
    public var ts: Date
    /// SHA-256 hex of the previous committed line, newline included; 64 zeros for the first.
    public var prev: String
    /// SHA-256 hex of the torn lines between the previous committed line and this one, if any.
    public var torn: String?
    public var event: QueueEvent
    /// SHA-256 hex of this line's bytes, newline included: the next line's `prev`.
    public var hash: String
    /// 1-based line number in the file, when the record was read from one.
    public var line: Int?
}
