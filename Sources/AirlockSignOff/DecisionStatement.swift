import Foundation

/// An approver's decision on one request.
public enum Decision: String, Codable, Sendable {
    case approve, deny
}

/// What an approver signs: the decision on one request, bound to that request's digest and id, and
/// valid until `sigExpires`.
///
/// The message is
///
///     "airlock-decision-v1\n" digest "\n" decision "\n" sig_expires "\n" id "\n"
///
/// Every field has a fixed alphabet without newlines (64 hex digits; `approve` or `deny`; canonical
/// RFC 3339; the id alphabet), which `init` checks, so the text splits back into its fields one way
/// only. It is signed in the SSHSIG namespace `airlock`, so it cannot be confused with a signature
/// made for git or anything else.
public struct DecisionStatement: Equatable, Sendable {
    public let digest: String
    public let decision: Decision
    public let sigExpires: Date
    public let id: String

    public init(digest: String, decision: Decision, sigExpires: Date, id: String) throws {
        guard Hex.isDigest(digest) else {
            throw SignOffError(.invalidOperation, "digest must be 64 lowercase hex digits")
        }
        guard RequestID.isWellFormed(id) else {
            throw SignOffError(.invalidOperation, "\(id.debugDescription) is not a request id")
        }
        self.digest = digest
        self.decision = decision
        self.sigExpires = sigExpires
        self.id = id
    }

    public var message: [UInt8] {
        Array("airlock-decision-v1\n\(digest)\n\(decision.rawValue)\n\(RFC3339.format(sigExpires))\n\(id)\n".utf8)
    }
}
