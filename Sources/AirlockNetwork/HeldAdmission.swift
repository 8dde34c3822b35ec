import AirlockPolicy
import Foundation
import NIOCore
import NIOHTTP1

/// A connection the policy holds (`unknown = "hold"`), as the proxy keeps it while people decide:
/// the head to decide again once approved, what the client sends meanwhile, and its place at the
/// sign-off desk. Lives on the client channel's event loop.
final class HeldAdmission {
    let head: HTTPRequestHead
    let target: RequestTarget
    let kind: NetworkLogEntry.Kind
    let method: String?
    let path: String?
    let decision: NetworkDecision
    let time = Date()
    let began = ContinuousClock.now
    /// Its place at the desk, once the host's addresses were checked and it was handed over.
    var ticket: (any ConnectionSignOffTicket)?
    /// What the client sent after the head (a CONNECT's end; a request's body and end), in order.
    private(set) var kept: [HTTPServerRequestPart] = []
    private(set) var keptBytes = 0
    /// Beyond this much of a held request's body the client is not read from until the hold ends.
    static let keptLimit = 1 << 20

    init(head: HTTPRequestHead, target: RequestTarget, kind: NetworkLogEntry.Kind, method: String?, path: String?,
         decision: NetworkDecision) {
        self.head = head
        self.target = target
        self.kind = kind
        self.method = method
        self.path = path
        self.decision = decision
    }

    func keep(_ part: HTTPServerRequestPart) {
        if case .body(let buffer) = part { keptBytes += buffer.readableBytes }
        kept.append(part)
    }
}
