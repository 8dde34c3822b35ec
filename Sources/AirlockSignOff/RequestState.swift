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
    /// Another key of the same approver (a principal they share) already counted for this request:
    /// the quorum counts people, not keys.
    case sameApprover = "approver already counted"
    /// The key stands for the request's own requester, whose decision on it does not count.
    case requester = "requester's own"
    /// It arrived when the request had already expired.
    case afterExpiry = "after expiry"
    /// It arrived after its own `sig_expires`.
    case signatureExpired = "signature expired"
    /// It arrived when the request was already decided, resolved or cancelled.
    case alreadyDecided = "already decided"
    /// The queue's chain is broken, so no approval counts (fail closed).
    case chainBroken = "chain broken"
    /// A security key's or passkey's signature counter did not grow past the last one counted
    /// from that key: a replayed signature, or a cloned authenticator.
    case counterReplayed = "counter not increasing"
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
///
/// A supervisor acting on `.approved` must also check that `request.digest` is the digest of the
/// operation it holds in memory and that `approvals.count` reaches the quorum its own policy
/// requires: approvals are bound to the line's digest, and the line's `quorum` and `scope` are not
/// signed — the line is only as trustworthy as the file.
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
    /// Why the request was cancelled, as the `cancel` line that settled it says (nil when it says
    /// nothing, or the request is not cancelled).
    public internal(set) var cancelReason: String?
    /// Whether the request line's `digest` is the digest of its own operation; when not, no
    /// approval counts.
    public let digestMatches: Bool
}
