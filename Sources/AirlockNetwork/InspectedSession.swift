import AirlockCloud
import AirlockPolicy
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import NIOTLS

/// The inside of an inspected CONNECT tunnel: the client's TLS is terminated with a leaf from
/// Airlock's CA, each HTTP/1.1 request is read in clear, checked, logged and carried to the
/// upstream over a TLS connection of the proxy's own (verified against the host's roots and
/// `upstream_ca`), and its response carried back. Both connections are kept alive across requests;
/// `HTTPServerPipelineHandler` before this handler serialises pipelined requests, so exactly one
/// request is in flight at a time.
///
/// Every request must name the host the tunnel was opened to (its Host header): a tunnel to an
/// allowed host cannot be used to reach another one behind the same address (domain fronting).
final class InspectedSession: ChannelDuplexHandler, UpstreamResponseSink {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private let target: RequestTarget
    private let decision: NetworkDecision
    private let config: ProxyConfiguration
    private let tls: InspectionTLS
    private var context: ChannelHandlerContext?

    /// The proxy's connection to the upstream; nil before the first request needs a new one.
    private var upstream: Channel?
    private var connecting = false
    private var exchange: Exchange?
    /// Parts of the current request that arrived before the upstream was ready.
    private var buffered: [HTTPClientRequestPart] = []
    private var pendingRead = false
    private var closing = false
    /// Closes a connection that carries no request for `idleTimeout` (also one stuck in a
    /// partial request head): both TLS sessions' memory is given back.
    private var idleTimer: Scheduled<Void>?
    static let idleTimeout: TimeAmount = .seconds(300)

    /// The request being read whole before it is decided on (`config.api`): its head, then body.
    private var gated: (head: HTTPRequestHead, body: ByteBuffer)?
    /// Its place at the sign-off desk while people decide.
    private var ticket: (any ConnectionSignOffTicket)?
    /// While a botocore client's request is held: an interim response now and then (see `keepWaiting`).
    private var interims: RepeatedTask?
    static let interimInterval: TimeAmount = .seconds(20)

    /// One request and its response, for the log and for framing decisions.
    private struct Exchange {
        var method: HTTPMethod
        var path: String
        var time = Date()
        var began = ContinuousClock.now
        var clientWantsClose: Bool
        var version: HTTPVersion
        var status: Int?
        var finalHeadSent = false
        var upstreamWantsClose = false
        var requestEnded = false
        /// The head went upstream: an upstream that closes now owes a response.
        var sent = false
        var bytesUp = 0
        var bytesDown = 0
        /// What the request does, when it was classified, and the sign-off request that held it.
        var api: String?
        var request: String?
        var rule: String?
        /// `hold` while (and once) the request waited for people, for a line logged at any point.
        var decision: String?
    }

    init(target: RequestTarget, decision: NetworkDecision, config: ProxyConfiguration, tls: InspectionTLS, upstream: Channel) {
        self.target = target
        self.decision = decision
        self.config = config
        self.tls = tls
        self.upstream = upstream
    }

    /// The pipeline of an upstream connection: TLS verified for the host, HTTP/1.1 client codec
    /// forwarding informational responses (a `100 Continue` the client waits for).
    static func upstreamInitializer(host: String, tls: InspectionTLS) -> @Sendable (Channel) -> EventLoopFuture<Void> {
        { channel in
            channel.eventLoop.makeCompletedFuture {
                let handler = try NIOSSLClientHandler(context: tls.upstreamContext(), serverHostname: host)
                try channel.pipeline.syncOperations.addHandler(handler)
                try addHTTPClient(to: channel)
            }
        }
    }

    /// HTTP/1.1 client codec, forwarding informational responses (a `100 Continue` the client waits for).
    static func addHTTPClient(to channel: Channel) throws {
        try channel.pipeline.syncOperations.addHandler(HTTPRequestEncoder())
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(HTTPResponseDecoder(
            leftOverBytesStrategy: .dropBytes, informationalResponseStrategy: .forward)))
    }

    /// Connects to the upstream and waits for its TLS handshake, so that a certificate the host's
    /// roots do not vouch for is reported to the client as such, before any request. A host the
    /// proxy routes (`ProxyConfiguration.routes`) is reached where and as its route says.
    static func connectUpstream(
        target: RequestTarget, decision: NetworkDecision, config: ProxyConfiguration, tls: InspectionTLS,
        on eventLoop: EventLoop
    ) -> EventLoopFuture<Channel> {
        let route = config.routes[HostRule.normalize(target.host)]
        return config.connector.connect(
            host: route?.host ?? target.host, port: route?.port ?? target.port, decision: decision, on: eventLoop,
            channelInitializer: route?.initializer() ?? upstreamInitializer(host: HostRule.normalize(target.host), tls: tls)
        ).flatMap { channel in
            let promise = eventLoop.makePromise(of: Channel.self)
            do {
                try channel.pipeline.syncOperations.addHandler(HandshakeWatcher(promise: promise, channel: channel))
            } catch {
                promise.fail(error)
            }
            return promise.futureResult.flatMapErrorThrowing { error in
                channel.close(promise: nil)
                throw ProxyRefusal(
                    status: .badGateway, decision: "error", rule: "upstream tls",
                    message: route.map { "TLS to \(display($0.host, $0.port)) (\(target.host)) failed: \(error) (verified as the kubeconfig's cluster says)" }
                        ?? "TLS to \(display(target.host, target.port)) failed: \(error) (upstream certificates are verified against the host's roots and [network] upstream_ca)")
            }
        }
    }

    // MARK: Lifecycle

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if let upstream { attach(upstream) }
        armIdleTimer()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        idleTimer?.cancel()
        interims?.cancel()
        self.context = nil
    }

    private func armIdleTimer() {
        idleTimer?.cancel()
        guard let context else { return }
        idleTimer = context.eventLoop.assumeIsolated().scheduleTask(in: Self.idleTimeout) { [self] in
            if exchange == nil { closeAll() }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        closing = true
        idleTimer?.cancel()
        interims?.cancel()
        ticket?.cancel(reason: "the client closed the connection")
        ticket = nil
        if let exchange {
            // The client left in the middle of an exchange: 499, as servers log it.
            log(exchange, status: exchange.status ?? 499)
            self.exchange = nil
        }
        upstream?.close(promise: nil)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if exchange == nil || exchange?.finalHeadSent == false, let parserError = error as? HTTPParserError {
            respond(ProxyRefusal(status: .badRequest, decision: "error", rule: "malformed",
                                 message: "malformed request (\(parserError)): refused"))
            return
        }
        closeAll()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, case .inputClosed = event, exchange == nil {
            closeAll()
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func closeAll() {
        guard !closing else { return }
        closing = true
        upstream?.close(promise: nil)
        context?.close(promise: nil)
    }

    // MARK: Backpressure

    func read(context: ChannelHandlerContext) {
        // A request read whole before it is decided on is read regardless of the upstream.
        if exchange != nil, gated == nil, upstream?.isWritable != true {
            pendingRead = true
            return
        }
        context.read()
    }

    private func resumeReading() {
        guard pendingRead, let context else { return }
        pendingRead = false
        context.read()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { relay?.resumeReading() }
        context.fireChannelWritabilityChanged()
    }

    var clientWritable: Bool { context?.channel.isWritable ?? false }

    private weak var relay: UpstreamRelay?

    func upstreamBecameWritable() {
        resumeReading()
    }

    // MARK: From the client

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        switch unwrapInboundIn(data) {
        case .head(let head):
            received(head)
        case .body(var buffer):
            guard exchange != nil else { return }
            exchange?.bytesUp += buffer.readableBytes
            if gated != nil {
                guard gated!.body.readableBytes + buffer.readableBytes <= APIGate.bodyLimit else {
                    return respond(ProxyRefusal(
                        status: .payloadTooLarge, decision: "deny", rule: "body limit",
                        message: "\(target.host): a request body longer than \(APIGate.bodyLimit >> 20) MiB cannot be read whole, and a request to a cloud API is decided on its whole body: refused (upload large objects in parts)"))
                }
                gated!.body.writeBuffer(&buffer)
                return
            }
            send(.body(.byteBuffer(buffer)))
        case .end:
            guard exchange != nil else { return }
            exchange?.requestEnded = true
            if let gated {
                self.gated = nil
                return decide(gated.head, body: gated.body)
            }
            send(.end(nil))
        }
    }

    private func received(_ head: HTTPRequestHead) {
        idleTimer?.cancel()
        var exchange = Exchange(
            method: head.method, path: head.uri, clientWantsClose: !head.isKeepAlive, version: head.version)
        if let problem = ProxyHandler.framingProblem(head.headers) {
            self.exchange = exchange
            respond(ProxyRefusal(status: .badRequest, decision: "error", rule: "malformed", message: "\(problem): refused"))
            return
        }
        guard head.uri.hasPrefix("/") else {
            self.exchange = exchange
            respond(ProxyRefusal(status: .badRequest, decision: "error", rule: "malformed",
                                 message: "inside a tunnel to \(display(target.host, target.port)) requests are origin-form (/path), not \"\(head.uri.prefix(200))\": refused"))
            return
        }
        let hosts = head.headers["host"]
        guard hosts.count == 1, let named = RequestTarget.split(hosts[0]),
              HostRule.normalize(named.host) == HostRule.normalize(target.host), (named.port ?? 443) == target.port else {
            self.exchange = exchange
            respond(ProxyRefusal(
                status: .misdirectedRequest, decision: "deny", rule: "host mismatch",
                message: "the tunnel was opened to \(display(target.host, target.port)) but the request names Host \"\(hosts.joined(separator: ", ").prefix(200))\": refused"))
            return
        }
        var headers = HopByHop.removing(from: head.headers)
        if !head.headers["transfer-encoding"].isEmpty {
            headers.add(name: "Transfer-Encoding", value: "chunked")
        }
        exchange.path = head.uri
        self.exchange = exchange
        let forwarded = HTTPRequestHead(version: .http1_1, method: head.method, uri: head.uri, headers: headers)
        if config.api != nil {
            var whole = forwarded
            if head.headers["expect"].contains(where: { $0.lowercased() == "100-continue" }) {
                // The body is read here before anything goes upstream: the client is told to send
                // it now (else it waits a second for a 100 the upstream never gets the chance to
                // send), and the upstream gets the whole request, with nothing to continue.
                if let length = head.headers["content-length"].first.flatMap(Int.init), length > APIGate.bodyLimit {
                    return respond(ProxyRefusal(
                        status: .payloadTooLarge, decision: "deny", rule: "body limit",
                        message: "\(target.host): a request body longer than \(APIGate.bodyLimit >> 20) MiB cannot be read whole, and a request to a cloud API is decided on its whole body: refused (upload large objects in parts)"))
                }
                whole.headers.remove(name: "expect")
                context?.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .continue))), promise: nil)
            }
            gated = (whole, context?.channel.allocator.buffer(capacity: 0) ?? ByteBuffer())
            return
        }
        self.exchange?.sent = true
        send(.head(forwarded))
    }

    // MARK: Cloud API requests

    /// The whole request is in: classify, decide, and forward, hold or refuse it.
    private func decide(_ head: HTTPRequestHead, body: ByteBuffer) {
        let request = APIRequest(
            method: head.method.rawValue, host: HostRule.normalize(target.host), port: target.port, target: head.uri,
            headers: head.headers.map { ($0.name, $0.value) }, body: Array(body.readableBytesView))
        decide(request, objectExists: nil)
    }

    private func decide(_ request: APIRequest, objectExists: Bool?) {
        guard let gate = config.api, let context else { return }
        switch gate.verdict(for: request, objectExists: objectExists) {
        case .probe(let head):
            // Whether the object exists decides between a new object and an overwrite: 404 says
            // new; anything else (200, 403, an error) counts as an overwrite.
            let session = NIOLoopBound(self, eventLoop: context.eventLoop)
            OneShotForward.send(head, target: target, decision: decision, config: config, tls: tls, on: context.eventLoop)
                .whenComplete { result in
                    let absent = (try? result.get())?.status == .notFound
                    session.value.decide(request, objectExists: !absent)
                }
        case .pass(let request):
            forward(request)
        case .forward(let prepared, let classified, let rule, let audit):
            exchange?.api = classified.call.summary
            exchange?.rule = rule.map { "api \($0)" }
            if audit, let signOff = gate.signOff {
                _ = signOff.hold(hold(request, classified, rule: rule ?? "", auditOnly: true)) { _ in }
            }
            forward(prepared)
        case .refuse(let response, let classified, let rule):
            exchange?.api = classified?.call.summary
            respond(response, decision: "deny", rule: "api \(rule)")
        case .hold(let request, let classified, let rule):
            exchange?.api = classified.call.summary
            exchange?.rule = "api \(rule)"
            holdRequest(request, classified, rule: rule, gate: gate)
        }
    }

    private func hold(_ request: APIRequest, _ classified: ClassifiedRequest, rule: String, auditOnly: Bool) -> APIHold {
        APIHold(call: classified.call, host: request.host, port: request.port, method: request.method, target: request.target,
                requestDigest: request.canonicalDigest, rule: rule, auditOnly: auditOnly)
    }

    /// Waits for people; forwards once approved (once, whoever waits for it: this client or its
    /// retry), else answers in the API's own error shape.
    private func holdRequest(_ request: APIRequest, _ classified: ClassifiedRequest, rule: String, gate: APIGate) {
        guard let context else { return }
        let held = hold(request, classified, rule: rule, auditOnly: false)
        exchange?.decision = "hold"
        let loop = context.eventLoop
        let session = NIOLoopBound(self, eventLoop: loop)
        let deliver: HeldResponses.Deliver = { result in
            loop.execute { session.value.deliver(result) }
        }
        // Forwarded already for an earlier attempt of the same call (an SDK's retry after its read
        // timeout): never for another call that happens to be identical.
        let attempt = HeldResponses.key(held.requestDigest, invocation: request.values("amz-sdk-invocation-id").first)
        if gate.responses.join(attempt: attempt, deliver) { return }
        guard let signOff = gate.signOff else {
            return respond(gate.refusal(classified, message: "airlock: HELD by rule \"\(rule)\": \(classified.call.summary): there is no sign-off desk in this run, so the request was refused", requestID: nil),
                           decision: "hold", rule: "api \(rule)")
        }
        let (target, decision, config, tls) = (self.target, self.decision, self.config, self.tls)
        if Self.givesUpOnSilence(request) { keepWaiting(context) }
        ticket = signOff.hold(held) { answer in
            switch answer {
            case .approved(let id):
                loop.execute { session.value.exchange?.request = id }
                // One approval, one forward: identical calls that joined the request share it.
                gate.responses.forwardOnce(id, attempt: attempt, on: loop, start: {
                    // Signed now, with the operator's credentials: the approval may come minutes later.
                    let prepared: APIRequest
                    do { prepared = try gate.broker.prepare(request, classified, now: Date()) } catch {
                        return loop.makeFailedFuture(ProxyRefusal(status: .forbidden, decision: "error", rule: "credentials", message: "\(error)"))
                    }
                    return OneShotForward.send(prepared, target: target, decision: decision, config: config, tls: tls, on: loop)
                }, deliver: deliver)
            case .refused(let id, let message):
                loop.execute {
                    let me = session.value
                    me.ticket = nil
                    me.exchange?.request = id
                    me.respond(gate.refusal(classified, message: "airlock: \(message)", requestID: id), decision: "hold", rule: "api \(rule)")
                }
            }
        }
    }

    /// botocore (boto3, the AWS CLI) gives up on a request whose response has not begun within its
    /// read timeout (60 s) after its attempts (three, in its default retry mode): a request held
    /// longer fails with a ReadTimeoutError that says nothing of the hold, and the approval then
    /// finds nobody waiting. Its HTTP client reads an interim response (`100 Continue`, which a
    /// client must accept unasked, RFC 9110 §15.2) as a line of the response and skips it, and each
    /// line read restarts the timeout. Other clients are left alone: Go's, for one, takes at most
    /// five interim responses, and its SDKs set no read timeout.
    static func givesUpOnSilence(_ request: APIRequest) -> Bool {
        request.values("user-agent").contains { $0.lowercased().contains("botocore/") }
    }

    /// Sends `100 Continue` every `interimInterval` until the held request is answered or ends.
    private func keepWaiting(_ context: ChannelHandlerContext) {
        let session = NIOLoopBound(self, eventLoop: context.eventLoop)
        interims = context.eventLoop.scheduleRepeatedTask(initialDelay: Self.interimInterval, delay: Self.interimInterval) { task in
            let me = session.value
            guard let context = me.context, !me.closing, me.ticket != nil, let exchange = me.exchange, !exchange.finalHeadSent else {
                return task.cancel()
            }
            context.writeAndFlush(me.wrapOutboundOut(.head(HTTPResponseHead(version: exchange.version, status: .continue))), promise: nil)
        }
    }

    /// The response of a held request, forwarded once approved.
    private func deliver(_ result: Result<CapturedResponse, ProxyRefusal>) {
        ticket = nil
        guard let context, !closing, let exchange else { return }
        switch result {
        case .failure(let refusal):
            respond(refusal)
        case .success(let response):
            self.exchange = nil
            var answered = exchange
            answered.bytesDown = response.body.readableBytes
            log(answered, status: Int(response.status.code))
            closing = true
            var headers = response.headers
            headers.replaceOrAdd(name: "Content-Length", value: String(response.body.readableBytes))
            headers.replaceOrAdd(name: "Connection", value: "close")
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: exchange.version, status: response.status, headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(response.body))), promise: nil)
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
        }
    }

    /// Sends a whole request (as decided on) upstream.
    private func forward(_ request: APIRequest) {
        exchange?.sent = true
        let (head, body) = Self.requestParts(request)
        send(.head(head))
        if body.readableBytes > 0 { send(.body(.byteBuffer(body))) }
        send(.end(nil))
    }

    /// The head and body of `request` as sent upstream: framed by Content-Length (the body is whole).
    static func requestParts(_ request: APIRequest) -> (HTTPRequestHead, ByteBuffer) {
        var headers = HTTPHeaders(request.headers.filter {
            let name = $0.name.lowercased()
            return name != "transfer-encoding" && name != "content-length"
        })
        if !request.body.isEmpty || !["GET", "HEAD", "DELETE", "OPTIONS"].contains(request.method) {
            headers.add(name: "Content-Length", value: String(request.body.count))
        }
        let head = HTTPRequestHead(version: .http1_1, method: HTTPMethod(rawValue: request.method), uri: request.target, headers: headers)
        return (head, ByteBuffer(bytes: request.body))
    }

    private func send(_ part: HTTPClientRequestPart) {
        if let upstream, upstream.isActive, buffered.isEmpty, !connecting {
            // Flushed at once: unflushed bytes count against writability, which would never return.
            upstream.writeAndFlush(part, promise: nil)
            return
        }
        buffered.append(part)
        if !connecting && (upstream == nil || upstream?.isActive == false) { reconnect() }
    }

    /// A new upstream connection, when the last one was closed by the upstream between requests.
    private func reconnect() {
        guard let context else { return }
        connecting = true
        upstream = nil
        Self.connectUpstream(target: target, decision: decision, config: config, tls: tls, on: context.eventLoop)
            .assumeIsolated().whenComplete { [self] result in
                connecting = false
                switch result {
                case .success(let channel):
                    guard !closing else {
                        channel.close(promise: nil)
                        return
                    }
                    attach(channel)
                    for part in buffered { channel.write(part, promise: nil) }
                    buffered = []
                    channel.flush()
                    resumeReading()
                case .failure(let error):
                    buffered = []
                    respond(error as? ProxyRefusal ?? ProxyRefusal(
                        status: .badGateway, decision: "error", rule: "connect",
                        message: "cannot connect to \(display(target.host, target.port)): \(error)"))
                }
            }
    }

    private func attach(_ channel: Channel) {
        let relay = UpstreamRelay(sink: self)
        do {
            try channel.pipeline.syncOperations.addHandler(relay)
        } catch {
            channel.close(promise: nil)
            return
        }
        self.relay = relay
        upstream = channel
    }

    // MARK: From the upstream

    func upstreamPart(_ part: HTTPClientResponsePart, from channel: Channel) {
        guard let context, channel === upstream, var exchange else { return }
        switch part {
        case .head(let head):
            if head.status.code < 200 {
                if head.status == .continue || head.status.code == 103 {
                    context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(
                        version: exchange.version, status: head.status, headers: HopByHop.removing(from: head.headers)))), promise: nil)
                }
                return
            }
            exchange.status = Int(head.status.code)
            exchange.finalHeadSent = true
            exchange.upstreamWantsClose = !head.isKeepAlive
            var headers = HopByHop.removing(from: head.headers)
            if exchange.clientWantsClose { headers.add(name: "Connection", value: "close") }
            self.exchange = exchange
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: exchange.version, status: head.status, headers: headers))),
                          promise: nil)
        case .body(let buffer):
            exchange.bytesDown += buffer.readableBytes
            self.exchange = exchange
            context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        case .end:
            self.exchange = nil
            log(exchange, status: exchange.status ?? 0)
            if exchange.upstreamWantsClose || !exchange.requestEnded {
                // The upstream answered before the request ended, or will close: not reusable.
                upstream = nil
                channel.close(promise: nil)
            }
            let endsClient = exchange.clientWantsClose || !exchange.requestEnded
            // Set before the write: writing `.end` lets the pipeline handler deliver the next
            // request at once, which must find the connection closing.
            if endsClient { closing = true } else { armIdleTimer() }
            let clientChannel = context.channel
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
                if endsClient { clientChannel.close(promise: nil) }
            }
            resumeReading()
        }
    }

    func upstreamClosed(_ channel: Channel) {
        guard channel === upstream else { return }
        upstream = nil
        guard let exchange, exchange.sent, !connecting else { return }
        if exchange.finalHeadSent {
            // The response was cut short: closing is the only honest signal left.
            log(exchange, status: exchange.status ?? 0)
            self.exchange = nil
            closeAll()
        } else {
            respond(ProxyRefusal(status: .badGateway, decision: "error", rule: "upstream",
                                 message: "\(display(target.host, target.port)) closed the connection without a response"))
        }
    }

    // MARK: Ending

    /// Answers the current request with a refusal and ends the client connection: whatever the
    /// client sends after a refused request cannot be trusted to be framed as we think.
    private func respond(_ refusal: ProxyRefusal) {
        guard let context, !closing else { return }
        closing = true
        if let exchange {
            log(exchange, status: Int(refusal.status.code), decision: refusal.decision, rule: refusal.rule)
            self.exchange = nil
        }
        upstream?.close(promise: nil)
        config.logger.debug("refused", metadata: ["status": "\(refusal.status.code)", "reason": "\(refusal.message)"])
        context.refuse(refusal)
    }

    /// Answers the current request in the API's own error shape and ends the client connection.
    private func respond(_ response: APIErrorResponse, decision: String, rule: String) {
        guard let context, !closing else { return }
        closing = true
        ticket = nil
        if let exchange {
            log(exchange, status: response.status, decision: decision, rule: rule)
            self.exchange = nil
        }
        upstream?.close(promise: nil)
        var headers = HTTPHeaders(response.headers.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
        headers.add(name: "Content-Length", value: String(response.body.count))
        headers.add(name: "Connection", value: "close")
        let head = HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: response.status), headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: response.body)))), promise: nil)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
            channel.close(mode: .output, promise: nil)
            channel.eventLoop.scheduleTask(in: .seconds(2)) { channel.close(promise: nil) }
        }
    }

    private func log(_ exchange: Exchange, status: Int, decision: String? = nil, rule: String? = nil) {
        config.log?.append(NetworkLogEntry(
            kind: .request, time: exchange.time, host: target.host, port: target.port,
            decision: decision ?? exchange.decision ?? "allow", rule: rule ?? exchange.rule ?? self.decision.description, method: exchange.method.rawValue, path: exchange.path,
            status: status, bytesUp: exchange.bytesUp, bytesDown: exchange.bytesDown,
            durationMs: exchange.began.millisecondsSince, inspected: true, api: exchange.api, request: exchange.request))
    }
}

/// Completes `promise` with the channel once its TLS handshake is done, or fails it.
final class HandshakeWatcher: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private var promise: EventLoopPromise<Channel>?
    private let channel: Channel

    init(promise: EventLoopPromise<Channel>, channel: Channel) {
        self.promise = promise
        self.channel = channel
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSUserEvent, case .handshakeCompleted = event {
            promise?.succeed(channel)
            promise = nil
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        promise?.fail(error)
        promise = nil
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise?.fail(ChannelError.inputClosed)
        promise = nil
        context.fireChannelInactive()
    }
}
