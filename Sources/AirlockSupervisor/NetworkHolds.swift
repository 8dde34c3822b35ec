import AirlockPolicy
import AirlockSignOff
import Foundation
import Glibc
import Synchronization

/// What the sign-off desk answered a held connection.
public enum ConnectionAnswer: Sendable, Equatable {
    /// Approved, now or earlier in this sandbox: the connection goes through.
    case approved(request: String)
    /// Refused; `message` says why and what can be done, in one line.
    case refused(request: String?, message: String)
}

/// The egress proxy's way to the sign-off desk: a connection the network policy holds (`unknown =
/// "hold"`) is handed over here, and the destinations approved in this sandbox are remembered
/// (approve once per host and port, for the sandbox's life).
///
/// The proxy calls it on its own event loop; the desk lives on the supervisor's thread and is never
/// shared. So a held connection is queued here and the supervisor's loop woken through a pipe it
/// polls (as it polls the seccomp listener and the queue watch: one thread, one queue watch); the
/// loop puts it on the desk, and the desk's answer comes back through the connection's closure,
/// which the proxy hops back onto its event loop. A client that goes away pokes the loop the same
/// way, so the desk cancels its request at once.
public final class NetworkHolds: Sendable {
    private struct State {
        /// `host:port` (host normalized) → the request whose approval lets it through.
        var approved: [String: String] = [:]
        var arrivals: [HeldConnection] = []
        /// The supervisor's loop has ended: nothing more can be held.
        var closed = false
    }

    private let state = Mutex(State())
    private let wake: (read: Int32, write: Int32)

    public init() {
        var fds: [Int32] = [-1, -1]
        if pipe(&fds) == 0 {
            for fd in fds {
                _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
                _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            }
        }
        wake = (fds[0], fds[1])
    }

    deinit {
        Glibc.close(wake.read)
        Glibc.close(wake.write)
    }

    /// Readable when the loop has something to do here: a new arrival, or a client gone.
    var descriptor: Int32 { wake.read }

    /// The request whose approval lets `host:port` through in this sandbox, if one did.
    public func approval(host: String, port: Int) -> String? {
        state.withLock { $0.approved[Self.key(HostRule.normalize(host), port)] }
    }

    /// Puts a connection to `host:port`, held by `rule`, before the approvers: a new request, or
    /// the open one for the same host and port. `answered` is called exactly once, on the
    /// supervisor's thread (on the caller's, at once, when the sandbox has ended).
    public func hold(host: String, port: Int, rule: String,
                     answered: @escaping @Sendable (ConnectionAnswer) -> Void) -> HeldConnection {
        admit(HeldConnection(host: HostRule.normalize(host), port: port, rule: rule, holds: self, answered: answered))
    }

    /// Puts a cloud API request the proxy read in clear before the approvers: a new `api` request,
    /// or the open one for the same request (an SDK's retry). `parameters` are shown to approvers.
    /// With `auditOnly` it is written as an audit event and let through at once.
    public func hold(api: APIOperation, host: String, port: Int, rule: String, parameters: [(name: String, value: String)],
                     auditOnly: Bool, answered: @escaping @Sendable (ConnectionAnswer) -> Void) -> HeldConnection {
        admit(HeldConnection(host: HostRule.normalize(host), port: port, rule: rule, holds: self,
                             request: HeldConnection.APIRequestHeld(operation: api, parameters: parameters, auditOnly: auditOnly),
                             answered: answered))
    }

    private func admit(_ connection: HeldConnection) -> HeldConnection {
        let accepted = state.withLock { state in
            guard !state.closed else { return false }
            state.arrivals.append(connection)
            return true
        }
        if accepted {
            poke()
        } else {
            connection.finish(DeskEnding(approved: false, request: nil, message: "the sandbox has ended: \(connection.summary) was refused."))
        }
        return connection
    }

    /// The connections handed over since the last call (the supervisor's thread).
    func takeArrivals() -> [HeldConnection] {
        var buffer = [UInt8](repeating: 0, count: 256)
        while read(wake.read, &buffer, buffer.count) > 0 {}
        return state.withLock { state in
            defer { state.arrivals = [] }
            return state.arrivals
        }
    }

    /// From now on `host:port` goes through without a request (`request` approved it).
    func remember(host: String, port: Int, request: String) {
        state.withLock { $0.approved[Self.key(host, port)] = request }
    }

    /// Wakes the supervisor's loop. A full pipe has woken it already.
    func poke() {
        var one: UInt8 = 1
        _ = write(wake.write, &one, 1)
    }

    /// The supervisor's loop has ended (or never started): what is still queued is refused, and
    /// so is every later hold.
    public func close() {
        let left = state.withLock { state in
            state.closed = true
            defer { state.arrivals = [] }
            return state.arrivals
        }
        for connection in left {
            connection.finish(DeskEnding(approved: false, request: nil, message: "the sandbox has ended: \(connection.summary) was refused."))
        }
    }

    private static func key(_ host: String, _ port: Int) -> String { "\(host) \(port)" }
}

/// A connection the proxy holds, or a cloud API request it read in clear, waiting at the desk.
/// Made on the proxy's event loop, waited for on the supervisor's thread; `cancel` may come from
/// the proxy at any time.
public final class HeldConnection: DeskWaiter, Sendable {
    let host: String
    let port: Int
    let rule: String
    /// The API request, when this is one rather than a connection.
    let request: APIRequestHeld?

    struct APIRequestHeld: Sendable {
        var operation: APIOperation
        var parameters: [(name: String, value: String)]
        var auditOnly: Bool
    }

    /// How long an API request's client may be gone before its request is cancelled: an SDK that
    /// times out closes its connection and retries the same request within seconds (botocore's
    /// backoff is at most 20 s), and the retry must find the request still open.
    static let retryGrace: Duration = .seconds(30)
    private let holds: NetworkHolds
    private let answered: @Sendable (ConnectionAnswer) -> Void

    private struct Status {
        /// Why the client no longer waits, and since when.
        var gone: String?
        var goneAt: ContinuousClock.Instant?
        /// The request whose approval was carried out for it.
        var carriedOut: String?
        var answered = false
    }

    private let status = Mutex(Status())

    init(host: String, port: Int, rule: String, holds: NetworkHolds, request: APIRequestHeld? = nil,
         answered: @escaping @Sendable (ConnectionAnswer) -> Void) {
        self.host = host
        self.port = port
        self.rule = rule
        self.request = request
        self.holds = holds
        self.answered = answered
    }

    /// `host:port`, an IPv6 literal in brackets.
    var subject: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// What waits, as people read it: `connect host:port`, or what the request does.
    var summary: String { request.map { $0.operation.summary } ?? "connect \(subject)" }

    /// The client went away (`reason`: "the client closed the connection"): its request is
    /// cancelled if nothing else waits on it.
    public func cancel(reason: String) {
        status.withLock { status in
            if status.gone == nil { (status.gone, status.goneAt) = (reason, .now) }
        }
        holds.poke()
    }

    /// Lets it through on an approval given before it was held.
    func letThrough(request: String) {
        answer(.approved(request: request))
    }

    // MARK: DeskWaiter

    var process: Int32 { 0 }
    var noun: String { request == nil ? "connection" : "request" }
    var refusal: String { request == nil ? "the connection was refused" : "the request was refused" }
    var scope: [String: JSONValue] {
        guard let request else { return ["destination": .string(subject), "until": .string("the sandbox ends")] }
        var parameters: [String: JSONValue] = [:]
        for p in request.parameters { parameters[p.name] = .string(p.value) }
        return ["request": .string("this one request to \(subject), forwarded once"), "parameters": .object(parameters)]
    }
    var grantSummary: String { request == nil ? "connections to \(subject) until the sandbox ends" : "this one request, forwarded once" }
    var pollDescriptor: Int32 { -1 }
    /// An API request whose client left is looked at until its grace for a retry is over.
    var needsFrequentLooks: Bool { request != nil && status.withLock { $0.gone != nil } }

    func goneReason() -> String? {
        status.withLock { status in
            guard let gone = status.gone, let at = status.goneAt else { return nil }
            if request != nil && ContinuousClock.now - at < Self.retryGrace { return nil }
            return gone
        }
    }

    /// Nothing can be said to a client before its answer: the answer says it all.
    func held(_ request: Request, summary: String, deadline: Date) {}

    func carryOut(request id: String) -> DeskResult {
        // An approved request is forwarded once (by the proxy, on this answer); nothing more is granted.
        if request == nil { holds.remember(host: host, port: port, request: id) }
        status.withLock { $0.carriedOut = id }
        return DeskResult(outcome: .allowed, errno: nil)
    }

    func finish(_ ending: DeskEnding) {
        if ending.approved, let id = status.withLock({ $0.carriedOut }) {
            return answer(.approved(request: id))
        }
        let message = ending.message
            ?? "CANCELLED request \(ending.request ?? "?"): the sandbox ended: \(summary): \(refusal)."
        answer(.refused(request: ending.request, message: message))
    }

    private func answer(_ answer: ConnectionAnswer) {
        let first = status.withLock { status in
            defer { status.answered = true }
            return !status.answered
        }
        if first { answered(answer) }
    }
}
