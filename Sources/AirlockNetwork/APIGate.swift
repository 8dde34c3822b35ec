import AirlockCloud
import AirlockPolicy
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization

/// A cloud API request the `[[api]]` rules hold, as the sign-off desk takes it.
public struct APIHold: Sendable {
    public var call: APICall
    public var host: String
    public var port: Int
    public var method: String
    public var target: String
    /// `APIRequest.canonicalDigest`: an SDK's retry of the request is the same request.
    public var requestDigest: String
    public var rule: String
    /// Written as an audit event; nothing waits (`action = "audit"`).
    public var auditOnly: Bool
}

/// Where a held API request waits for people: the same desk, queue and approvers as held files,
/// commands and connections. `airlock run` wires the supervisor's desk in.
public protocol APISignOff: Sendable {
    /// Puts the request before the approvers: a new `api` request, or the open one for the same
    /// request (an SDK's retry). `answered` is called exactly once, on any thread.
    func hold(_ hold: APIHold, answered: @escaping @Sendable (ConnectionSignOffAnswer) -> Void) -> any ConnectionSignOffTicket
}

/// What the proxy does with each request it reads in clear: classify it, decide by the
/// `[[api]]` rules, hold it for sign-off, and sign it again with the operator's credentials
/// (`CredentialBroker`) only once it may go.
public struct APIGate: Sendable {
    public var classifier: APIClassifier
    public var rules: APIRuleMatcher
    public var broker: CredentialBroker
    public var signOff: (any APISignOff)?
    /// Held requests forwarded once, and their responses for the retries that come after.
    let responses = HeldResponses()
    /// The longest request body read before deciding: the body is classified and signed, so it is
    /// read whole. S3 uploads above this size go in parts (the CLIs' default part is 8 MiB).
    public static let bodyLimit = 64 << 20

    public init(classifier: APIClassifier, rules: APIRuleMatcher, broker: CredentialBroker, signOff: (any APISignOff)?) {
        self.classifier = classifier
        self.rules = rules
        self.broker = broker
        self.signOff = signOff
    }

    enum Verdict {
        /// Not a cloud API the rules know: forwarded as sent.
        case pass(APIRequest)
        /// Allowed (or audited): forwarded as prepared.
        case forward(APIRequest, ClassifiedRequest, rule: String?, audit: Bool)
        case refuse(APIErrorResponse, ClassifiedRequest?, rule: String)
        /// Held: prepared again when it may go, so its signature is fresh.
        case hold(APIRequest, ClassifiedRequest, rule: String)
        /// The decision turns on whether the object the request writes exists: ask with this
        /// request (a HEAD, signed with the operator's credentials), then decide again saying.
        case probe(APIRequest)
    }

    /// The decision on one request, before anything is sent or asked. `objectExists`: what the
    /// probe found (nil before it was asked; true also when it could not tell).
    func verdict(for request: APIRequest, now: Date = Date(), objectExists: Bool? = nil) -> Verdict {
        let classified: ClassifiedRequest
        do {
            guard var c = try classifier.classify(request) else { return .pass(request) }
            if c.call.effects.contains("write-object") {
                if objectExists == true { c.call.effects.append("overwrite") }
                if objectExists == nil, let probe = existenceProbe(request, c, now: now) { return .probe(probe) }
            }
            classified = c
        } catch {
            return .refuse(APIErrorResponse.refusal(
                provider: Self.provider(guessedFrom: request), awsProtocol: nil, status: 403,
                message: "airlock: \(request.method) \(request.target.prefix(200)) refused: \(error.message) (a request airlock cannot classify is never passed through)",
                requestID: nil), nil, rule: "unclassified")
        }
        let decided = rules.decide(classified.call)
        let action = decided?.action ?? .allow
        let ruleName = decided?.rule.name
        if action == .deny {
            return .refuse(refusal(classified, message: "airlock: DENIED by rule \"\(ruleName ?? "")\": \(classified.call.summary): the request was refused", requestID: nil),
                           classified, rule: ruleName ?? "")
        }
        let prepared: APIRequest
        do {
            prepared = try broker.prepare(request, classified, now: now)
        } catch {
            return .refuse(refusal(classified, message: "airlock: \(error.message)", requestID: nil), classified, rule: "credentials")
        }
        if action == .hold { return .hold(request, classified, rule: ruleName ?? "") }
        return .forward(prepared, classified, rule: ruleName, audit: action == .audit)
    }

    /// A HEAD of the object `request` writes, when the rules decide an overwrite otherwise than a
    /// new object: signed with the operator's credentials, or unsigned (the store then says 403,
    /// which counts as "exists") when airlock holds none.
    func existenceProbe(_ request: APIRequest, _ classified: ClassifiedRequest, now: Date) -> APIRequest? {
        var overwriting = classified.call
        overwriting.effects.append("overwrite")
        let plain = rules.decide(classified.call), over = rules.decide(overwriting)
        guard plain?.rule.name != over?.rule.name || plain?.action != over?.action else { return nil }
        let host = request.values("host").first ?? request.host
        var head = APIRequest(method: "HEAD", host: request.host, port: request.port, target: String(request.rawPath),
                              headers: [("Host", host), ("X-Amz-Content-SHA256", "UNSIGNED-PAYLOAD")])
        if let real = broker.aws, let scope = classified.aws?.signing {
            head = SigV4.sign(head, credentials: real, region: scope.region, service: scope.service, date: now)
        }
        return head
    }

    func refusal(_ classified: ClassifiedRequest, message: String, requestID: String?) -> APIErrorResponse {
        APIErrorResponse.refusal(provider: classified.call.provider, awsProtocol: classified.aws?.protocol,
                                 message: message, requestID: requestID)
    }

    /// For a request that could not be classified: AWS if it is signed like one.
    static func provider(guessedFrom request: APIRequest) -> String {
        let auth = request.values("authorization").first ?? ""
        if auth.hasPrefix("AWS4-") || request.target.contains("X-Amz-Credential") { return "aws" }
        return "unknown"
    }
}

/// A complete upstream response, kept so that a held request is forwarded once whoever waits
/// for it: the client that asked, or its retry when that client gave up.
struct CapturedResponse: Sendable {
    var status: HTTPResponseStatus
    var headers: HTTPHeaders
    var body: ByteBuffer
    /// The longest response kept; a longer one fails the forward (held calls answer briefly).
    static let limit = 16 << 20
}

/// The held requests that were forwarded (or are being), by sign-off request: an approval
/// forwards its request once, whoever waits for it (identical calls that joined the request
/// while it was pending share that one response), and the attempts of one call find it again.
final class HeldResponses: Sendable {
    typealias Deliver = @Sendable (Result<CapturedResponse, ProxyRefusal>) -> Void

    private enum Entry {
        case inFlight([Deliver])
        case done(Result<CapturedResponse, ProxyRefusal>, until: ContinuousClock.Instant)
    }

    private struct Table {
        /// By sign-off request id.
        var entries: [String: Entry] = [:]
        /// Attempt keys (`key(_:invocation:)`) to the request id their call was forwarded under.
        var attempts: [String: String] = [:]

        /// Adds `deliver` to the waiters of request `id`'s forward under way, or returns the
        /// response of one done and still kept; nil when there is neither.
        mutating func attach(_ deliver: @escaping Deliver, to id: String) -> Joined? {
            switch entries[id] {
            case .inFlight(var waiting):
                waiting.append(deliver)
                entries[id] = .inFlight(waiting)
                return .waiting
            case .done(let result, let until) where ContinuousClock.now < until:
                return .done(result)
            default:
                return nil
            }
        }
    }

    private enum Joined {
        case waiting
        case done(Result<CapturedResponse, ProxyRefusal>)

        /// Hands a response that is already there to `deliver` (a waiter is answered later).
        func settle(_ deliver: Deliver) {
            if case .done(let result) = self { deliver(result) }
        }
    }

    private let table = Mutex(Table())
    /// How long a retry still gets the response of a request forwarded for an earlier attempt.
    static let kept: Duration = .seconds(15 * 60)

    /// Whose response is shared beyond the sign-off request: the attempts of one call. An SDK
    /// names its call in `amz-sdk-invocation-id`, the same in every retry and new for every call;
    /// a request without one finds only a forward of its own sign-off request.
    static func key(_ digest: String, invocation: String?) -> String? {
        guard let invocation, !invocation.isEmpty else { return nil }
        return digest + " " + invocation
    }

    /// Gives `deliver` the response of the call whose attempt key is `attempt`, forwarded
    /// already or under way; false when there is none.
    func join(attempt: String?, _ deliver: @escaping Deliver) -> Bool {
        guard let attempt else { return false }
        let joined: Joined? = table.withLock { table in
            guard let id = table.attempts[attempt] else { return nil }
            let joined = table.attach(deliver, to: id)
            if joined == nil { table.attempts[attempt] = nil }
            return joined
        }
        joined?.settle(deliver)
        return joined != nil
    }

    /// Starts the one forward of sign-off request `id` (unless it is under way or done) and
    /// delivers its response to `deliver` and to every waiter that joins meanwhile; `attempt`
    /// (the call's attempt key) finds it later. Called on the desk's thread: the forward is
    /// registered at once (a retry arriving now joins it), and started on `loop`, where every
    /// connection the proxy makes is made.
    func forwardOnce(_ id: String, attempt: String?, on loop: EventLoop,
                     start: @escaping @Sendable () -> EventLoopFuture<CapturedResponse>, deliver: @escaping Deliver) {
        let joined: Joined? = table.withLock { table in
            if let attempt { table.attempts[attempt] = id }
            let joined = table.attach(deliver, to: id)
            if joined == nil { table.entries[id] = .inFlight([deliver]) }
            return joined
        }
        if let joined { return joined.settle(deliver) }
        loop.execute { self.started(id, start()) }
    }

    /// Delivers the forward's outcome to everyone waiting for request `id`, and keeps it.
    private func started(_ id: String, _ forward: EventLoopFuture<CapturedResponse>) {
        forward.whenComplete { outcome in
            let result: Result<CapturedResponse, ProxyRefusal> = outcome.mapError { error in
                error as? ProxyRefusal ?? ProxyRefusal(status: .badGateway, decision: "error", rule: "forward",
                                                       message: "the approved request could not be forwarded: \(error)")
            }
            let waiting: [Deliver] = self.table.withLock { table in
                defer {
                    let now = ContinuousClock.now
                    table.entries = table.entries.filter { if case .done(_, let until) = $0.value { return now < until } else { return true } }
                    table.entries[id] = .done(result, until: now + Self.kept)
                    table.attempts = table.attempts.filter { table.entries[$0.value] != nil }
                }
                if case .inFlight(let waiting) = table.entries[id] { return waiting }
                return []
            }
            for d in waiting { d(result) }
        }
    }
}

/// Sends one request upstream on a connection of its own and collects the whole response: how an
/// approved held request is forwarded, independent of the client that asked (which may have gone
/// and come back as a retry).
enum OneShotForward {
    /// How long the forward may take, connecting and TLS included: past it the client is told,
    /// and nothing waits on it any more.
    static let timeout: TimeAmount = .minutes(3)

    static func send(
        _ request: APIRequest, target: RequestTarget, decision: NetworkDecision, config: ProxyConfiguration,
        tls: InspectionTLS, on eventLoop: EventLoop
    ) -> EventLoopFuture<CapturedResponse> {
        let promise = eventLoop.makePromise(of: CapturedResponse.self)
        let timer = eventLoop.scheduleTask(in: timeout) {
            promise.fail(ProxyRefusal(status: .gatewayTimeout, decision: "error", rule: "forward",
                                      message: "the approved request was forwarded to \(target.host):\(target.port), which did not answer within \(timeout.nanoseconds / 1_000_000_000) s; it may have taken effect there"))
        }
        InspectedSession.connectUpstream(target: target, decision: decision, config: config, tls: tls, on: eventLoop)
            .whenComplete { connected in
                switch connected {
                case .failure(let error):
                    promise.fail(error)
                case .success(let channel):
                    // Whatever ends the forward (its response, an error, the timeout) closes its connection.
                    promise.futureResult.whenComplete { _ in channel.close(promise: nil) }
                    do {
                        try channel.pipeline.syncOperations.addHandler(ResponseCollector(promise: promise))
                    } catch {
                        return promise.fail(error)
                    }
                    let (head, body) = InspectedSession.requestParts(request)
                    channel.write(HTTPClientRequestPart.head(head), promise: nil)
                    if body.readableBytes > 0 { channel.write(HTTPClientRequestPart.body(.byteBuffer(body)), promise: nil) }
                    channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
                }
            }
        promise.futureResult.whenComplete { _ in timer.cancel() }
        return promise.futureResult
    }
}

/// Collects one response (informational ones skipped) into a `CapturedResponse`.
final class ResponseCollector: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart

    private var promise: EventLoopPromise<CapturedResponse>?
    private var head: HTTPResponseHead?
    private var body = ByteBuffer()

    init(promise: EventLoopPromise<CapturedResponse>) {
        self.promise = promise
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            if h.status.code >= 200 { head = h }
        case .body(var buffer):
            guard head != nil else { return }
            if body.readableBytes + buffer.readableBytes > CapturedResponse.limit {
                fail(ProxyRefusal(status: .badGateway, decision: "error", rule: "forward",
                                  message: "the approved request was forwarded, but its response is longer than \(CapturedResponse.limit >> 20) MiB and was cut"))
                context.close(promise: nil)
                return
            }
            body.writeBuffer(&buffer)
        case .end:
            guard let head else { return }
            promise?.succeed(CapturedResponse(status: head.status, headers: HopByHop.removing(from: head.headers), body: body))
            promise = nil
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(ProxyRefusal(status: .badGateway, decision: "error", rule: "forward",
                          message: "the approved request was forwarded, but the upstream closed the connection before its response ended"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        fail(ProxyRefusal(status: .badGateway, decision: "error", rule: "forward",
                          message: "the approved request was forwarded, but the response failed: \(error)"))
        context.close(promise: nil)
    }

    private func fail(_ refusal: ProxyRefusal) {
        promise?.fail(refusal)
        promise = nil
    }
}
