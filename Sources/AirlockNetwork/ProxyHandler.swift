import AirlockPolicy
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL

/// What every connection's handler shares: the policy, the log and how to reach upstreams.
struct ProxyConfiguration: Sendable {
    var policy: NetworkPolicy
    var log: NetworkLog?
    var logger: Logger
    var connector: UpstreamConnector
    var headTimeout: TimeAmount
    /// TLS inspection for the policy's `inspect` hosts; nil when nothing is inspected.
    var inspection: InspectionTLS?
    /// Where a connection the policy holds (`unknown = "hold"`) waits for sign-off; nil: such a
    /// connection is refused (never let through).
    var signOff: (any ConnectionSignOff)?
    /// What becomes of the cloud API requests read in clear: classified, decided by `[[api]]`
    /// rules, held, signed again. Nil: inspected requests are forwarded as sent.
    var api: APIGate?
    /// Inspected hosts that are routed elsewhere (the Kubernetes broker's names), by host.
    var routes: [String: UpstreamRoute] = [:]
    /// Longest request head (request line and headers) accepted.
    static let maxHeadBytes = 64 * 1024
}

/// Names of the handlers the proxy removes when a CONNECT becomes a tunnel.
enum HandlerName {
    static let headGuard = "airlock.head-guard"
    static let decoder = "airlock.http-decoder"
    static let encoder = "airlock.http-encoder"
}

/// One client connection: reads one request head, decides, then either becomes a byte tunnel
/// (CONNECT) or forwards one plain-HTTP request and closes (`Connection: close` on every
/// response, so one connection carries one request in this increment).
final class ProxyHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private enum State {
        case awaitingHead
        /// A CONNECT head was allowed; its `.end` comes next.
        case connectHead(RequestTarget, NetworkDecision)
        /// The decoder is gone: what arrives now are raw bytes for the tunnel, kept until it opens.
        case tunnelConnecting(pending: [NIOAny])
        /// The glue is in place; pending bytes go to it when this handler leaves the pipeline.
        case tunnelReady(pending: [NIOAny])
        case forwarding(ForwardedRequest)
        /// Held for sign-off: nothing is answered until people decide; what the client sends
        /// meanwhile is kept for when it goes through.
        case holding(HeldAdmission)
        /// A response that ends the connection was sent; everything else is dropped.
        case closing
    }

    private let config: ProxyConfiguration
    private var state: State = .awaitingHead
    private var headTimer: Scheduled<Void>?
    private var requestVersion: HTTPVersion = .http1_1
    private var context: ChannelHandlerContext?
    /// A read held back while the upstream of a forwarded request could not take more.
    private var pendingRead = false
    /// The request head being decided on, kept while a hold waits; and the hold's approval, once
    /// given, which lets the same head through when it is decided again.
    private var head: HTTPRequestHead?
    private var approvedHold: String?

    init(config: ProxyConfiguration) {
        self.config = config
    }

    // MARK: Lifecycle

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { armHeadTimer(context: context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        headTimer?.cancel()
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        armHeadTimer(context: context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        headTimer?.cancel()
        if case .forwarding(let request) = state {
            request.clientGone()
        }
        if case .holding(let held) = state {
            held.ticket?.cancel(reason: "the client closed the connection")
        }
        state = .closing
        context.fireChannelInactive()
    }

    /// A client that has not sent a whole request head in time is told so and closed.
    private func armHeadTimer(context: ChannelHandlerContext) {
        guard headTimer == nil else { return }
        let timeout = config.headTimeout
        headTimer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [self] in
            guard case .awaitingHead = state else { return }
            let seconds = Double(timeout.nanoseconds) / 1e9
            refuse(ProxyRefusal(
                status: .requestTimeout, decision: "error", rule: "head timeout",
                message: "request head not received within \(String(format: "%g", seconds)) s: closing"),
                   context: context)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, case .inputClosed = event {
            switch state {
            case .holding(let held):
                // A client that stops sending while its CONNECT or request is held has gone.
                held.ticket?.cancel(reason: "the client closed the connection")
                state = .closing
                context.close(promise: nil)
            case .awaitingHead, .connectHead, .closing:
                state = .closing
                context.close(promise: nil)
            default:
                break
            }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        switch state {
        case .awaitingHead, .connectHead:
            if error is HeadTooLarge || (error as? HTTPParserError) == .headerOverflow {
                refuse(ProxyRefusal(
                    status: .requestHeaderFieldsTooLarge, decision: "error", rule: "malformed",
                    message: "request head larger than \(ProxyConfiguration.maxHeadBytes / 1024) KiB: refused"),
                       context: context)
            } else if let parserError = error as? HTTPParserError {
                refuse(ProxyRefusal(
                    status: .badRequest, decision: "error", rule: "malformed",
                    message: "malformed request (\(parserError)): refused"), context: context)
            } else {
                state = .closing
                context.close(promise: nil)
            }
        case .forwarding(let request):
            request.clientFailed(error)
        case .holding(let held):
            held.ticket?.cancel(reason: "the client's connection failed (\(error))")
            state = .closing
            context.close(promise: nil)
        case .tunnelConnecting, .tunnelReady, .closing:
            state = .closing
            context.close(promise: nil)
        }
    }

    // MARK: Backpressure (forwarded requests; tunnels have their own in GlueHandler)

    func read(context: ChannelHandlerContext) {
        if case .forwarding(let request) = state, !request.upstreamWritable {
            pendingRead = true
            return
        }
        // A held request's body is kept up to a limit; past it the client waits (and a client
        // that leaves then is noticed when the hold ends).
        if case .holding(let held) = state, held.keptBytes > HeldAdmission.keptLimit {
            pendingRead = true
            return
        }
        context.read()
    }

    /// Called when the upstream can take more of the request body.
    func resumeReading() {
        guard pendingRead, let context else { return }
        pendingRead = false
        context.read()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if case .forwarding(let request) = state, context.channel.isWritable {
            request.clientBecameWritable()
        }
        context.fireChannelWritabilityChanged()
    }

    // MARK: Reading the request

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch state {
        case .tunnelConnecting(var pending):
            // Not HTTP any more (the decoder is gone): do not unwrap.
            state = .closing
            pending.append(data)
            state = .tunnelConnecting(pending: pending)
            return
        case .tunnelReady(var pending):
            state = .closing
            pending.append(data)
            state = .tunnelReady(pending: pending)
            return
        case .closing:
            return
        case .holding(let held):
            held.keep(unwrapInboundIn(data))
            return
        case .awaitingHead, .connectHead, .forwarding:
            break
        }
        let part = unwrapInboundIn(data)
        switch (state, part) {
        case (.awaitingHead, .head(let head)):
            headTimer?.cancel()
            self.head = head
            received(head, context: context)
        case (.connectHead(let target, let decision), .end):
            state = .tunnelConnecting(pending: [])
            // Bytes the client sent after the CONNECT head (a TLS ClientHello, often) come out of
            // the decoder as raw buffers when it leaves (`.forwardBytes`).
            context.pipeline.syncOperations.removeHandler(name: HandlerName.decoder, promise: nil)
            openTunnel(to: target, decision: decision, context: context)
        case (.connectHead, .body):
            refuse(ProxyRefusal(status: .badRequest, decision: "error", rule: "malformed",
                                message: "a CONNECT request must not carry a body: refused"), context: context)
        case (.forwarding(let request), .body(let buffer)):
            request.clientBody(buffer)
        case (.forwarding(let request), .end):
            request.clientEnd()
        default:
            break
        }
    }

    private func received(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        requestVersion = head.version
        if let problem = Self.framingProblem(head.headers) {
            refuse(ProxyRefusal(status: .badRequest, decision: "error", rule: "malformed",
                                message: "\(problem): refused"), context: context)
            return
        }
        if head.method == .CONNECT {
            guard let target = RequestTarget(authority: head.uri) else {
                refuse(ProxyRefusal(status: .badRequest, decision: "error", rule: "malformed",
                                    message: "CONNECT needs host:port, got \"\(head.uri.prefix(200))\": refused"),
                       context: context)
                return
            }
            guard let decision = admit(target, kind: .connect, method: nil, path: nil, context: context) else { return }
            state = .connectHead(target, decision)
            return
        }
        if head.uri.hasPrefix("/") || head.uri == "*" {
            refuse(ProxyRefusal(
                status: .methodNotAllowed, decision: "error", rule: "not a proxy request",
                message: "this is Airlock's egress proxy: send absolute-form requests (http://host/path) or CONNECT, not \"\(head.uri.prefix(200))\""),
                   context: context)
            return
        }
        let url: AbsoluteURL
        switch AbsoluteURL.parse(head.uri) {
        case .success(let parsed): url = parsed
        case .failure(let refusal):
            refuse(refusal, context: context)
            return
        }
        guard let decision = admit(url.target, kind: .request, method: head.method.rawValue, path: url.path, context: context) else {
            return
        }
        let request = ForwardedRequest(
            clientHead: head, url: url, decision: decision, config: config, client: context, owner: self)
        state = .forwarding(request)
        request.start()
    }

    /// Asks the policy. Returns the decision when the connection may go ahead now; refuses (and
    /// logs) a deny. A hold returns nil and waits for sign-off (`hold`): once approved, the same
    /// head is decided again, goes ahead, and what the client sent meanwhile follows it.
    private func admit(
        _ target: RequestTarget, kind: NetworkLogEntry.Kind, method: String?, path: String?,
        context: ChannelHandlerContext
    ) -> NetworkDecision? {
        let decision = config.policy.decide(host: target.host, port: target.port)
        let place = display(target.host, target.port)
        let refusal: ProxyRefusal
        switch decision.action {
        case .allow:
            return decision
        case .deny:
            refusal = ProxyRefusal(status: .forbidden, decision: "deny", rule: decision.description,
                                   message: "connection to \(place) refused by rule \"\(decision)\"")
        case .hold:
            // Approved, for this connection or earlier in this sandbox (once per host and port): it
            // goes ahead with what `unknown` gives a host, which opens no reserved address.
            if approvedHold != nil || config.signOff?.approval(host: target.host, port: target.port) != nil {
                var approved = decision
                approved.action = .allow
                return approved
            }
            guard let signOff = config.signOff, let head else {
                refusal = ProxyRefusal(
                    status: .forbidden, decision: "deny", rule: decision.description,
                    message: "connection to \(place) is held for sign-off by rule \"\(decision)\", and this proxy has no sign-off queue: refused")
                break
            }
            hold(HeldAdmission(head: head, target: target, kind: kind, method: method, path: path, decision: decision),
                 signOff: signOff, context: context)
            return nil
        }
        config.log?.append(NetworkLogEntry(
            kind: kind, time: Date(), host: target.host, port: target.port, decision: refusal.decision,
            rule: refusal.rule, method: method, path: path, status: Int(refusal.status.code)))
        refuse(refusal, context: context)
        return nil
    }

    /// Keeps the client waiting, unanswered, while people decide. The host's addresses are checked
    /// first, as the connection after an approval would check them: one that could never be
    /// reached on `unknown`'s authority (loopback, private, metadata: only an allow rule naming the
    /// host opens those) is refused now, and nobody is asked.
    private func hold(_ held: HeldAdmission, signOff: any ConnectionSignOff, context: ChannelHandlerContext) {
        state = .holding(held)
        let target = held.target, decision = held.decision
        config.log?.append(NetworkLogEntry(
            kind: held.kind, time: held.time, host: target.host, port: target.port, decision: "hold",
            rule: decision.description, method: held.method, path: held.path))
        let name = HostRule.normalize(target.host)
        let port = target.port
        let checked: EventLoopFuture<Void>
        if ReservedAddress.metadataNames.contains(name) {
            checked = context.eventLoop.makeFailedFuture(ProxyRefusal(
                status: .forbidden, decision: "deny", rule: "cloud instance metadata",
                message: "connection to \(display(target.host, port)) refused: \(name) is a cloud instance-metadata service"))
        } else {
            checked = config.connector.threadPool.runIfActive(eventLoop: context.eventLoop) {
                try UpstreamConnector.resolve(host: name, port: port)
            }.flatMapErrorThrowing { error in
                throw ProxyRefusal(status: .badGateway, decision: "error", rule: "dns",
                                   message: "cannot resolve \(target.host): \(error)")
            }.flatMapThrowing { addresses in
                _ = try UpstreamConnector.check(addresses, host: target.host, port: port, decision: decision)
            }
        }
        let bound = NIOLoopBound((self, held), eventLoop: context.eventLoop)
        checked.assumeIsolated().whenComplete { [self] result in
            guard case .holding(let current) = state, current === held else { return } // the client has gone
            switch result {
            case .failure(let error):
                let refusal = error as? ProxyRefusal ?? ProxyRefusal(
                    status: .badGateway, decision: "error", rule: "dns", message: "cannot resolve \(target.host): \(error)")
                config.log?.append(NetworkLogEntry(
                    kind: held.kind, time: Date(), host: target.host, port: port, decision: refusal.decision,
                    rule: refusal.rule, method: held.method, path: held.path, status: Int(refusal.status.code),
                    durationMs: held.began.millisecondsSince))
                refuse(refusal, context: context)
            case .success:
                held.ticket = signOff.hold(host: target.host, port: port, rule: decision.description) { answer in
                    bound.eventLoop.execute { bound.value.0.answered(bound.value.1, answer) }
                }
            }
        }
    }

    /// The desk's answer to a held connection, back on the event loop.
    private func answered(_ held: HeldAdmission, _ answer: ConnectionSignOffAnswer) {
        guard case .holding(let current) = state, current === held, let context else { return } // the client has gone
        let target = held.target
        switch answer {
        case .approved(let request):
            config.log?.append(NetworkLogEntry(
                kind: held.kind, time: Date(), host: target.host, port: target.port, decision: "allow",
                rule: "\(held.decision): request \(request) approved", method: held.method, path: held.path,
                durationMs: held.began.millisecondsSince))
            approvedHold = request
            state = .awaitingHead
            received(held.head, context: context)
            for part in held.kept { channelRead(context: context, data: NIOAny(part)) }
            resumeReading()
        case .refused(let request, let message):
            let refusal = ProxyRefusal(status: .forbidden, decision: "deny",
                                       rule: "\(held.decision)\(request.map { ": request \($0)" } ?? "")", message: message)
            config.log?.append(NetworkLogEntry(
                kind: held.kind, time: Date(), host: target.host, port: target.port, decision: refusal.decision,
                rule: refusal.rule, method: held.method, path: held.path, status: Int(refusal.status.code),
                durationMs: held.began.millisecondsSince))
            refuse(refusal, context: context)
        }
    }

    /// A request whose length is ambiguous is refused before any byte is forwarded: with both
    /// Content-Length and Transfer-Encoding, proxy and upstream may disagree on where it ends.
    static func framingProblem(_ headers: HTTPHeaders) -> String? {
        let lengths = headers["content-length"]
        let encodings = headers["transfer-encoding"]
        if !lengths.isEmpty && !encodings.isEmpty {
            return "both Content-Length and Transfer-Encoding in one request (request smuggling)"
        }
        if Set(lengths.flatMap { $0.split(separator: ",").map { String($0.trimmingSpacesAndTabs) } }).count > 1 {
            return "conflicting Content-Length headers"
        }
        if !encodings.isEmpty {
            let codings = encodings.flatMap { $0.split(separator: ",") }
                .map { $0.trimmingSpacesAndTabs.lowercased() }
            if codings != ["chunked"] {
                return "Transfer-Encoding other than a single \"chunked\" (\(encodings.joined(separator: ", ")))"
            }
        }
        return nil
    }

    // MARK: Tunnels

    private func openTunnel(to target: RequestTarget, decision: NetworkDecision, context: ChannelHandlerContext) {
        let began = ContinuousClock.now
        let time = Date()
        let inspection = config.inspection.flatMap { config.policy.inspects(host: target.host, port: target.port) ? $0 : nil }
        let connected = if let inspection {
            InspectedSession.connectUpstream(
                target: target, decision: decision, config: config, tls: inspection, on: context.eventLoop)
        } else {
            config.connector.connect(
                host: target.host, port: target.port, decision: decision, on: context.eventLoop, halfClosure: true,
                channelInitializer: { $0.eventLoop.makeSucceededVoidFuture() })
        }
        connected.assumeIsolated().whenComplete { [self] result in
            switch result {
            case .success(let upstream):
                guard context.channel.isActive else {
                    upstream.close(promise: nil)
                    return
                }
                if let inspection {
                    inspect(upstream, tls: inspection, target: target, decision: decision, began: began, time: time, context: context)
                } else {
                    glue(upstream, target: target, decision: decision, began: began, time: time, context: context)
                }
            case .failure(let error):
                let refusal = error as? ProxyRefusal ?? ProxyRefusal(
                    status: .badGateway, decision: "error", rule: "connect",
                    message: "cannot connect to \(display(target.host, target.port)): \(error)")
                config.log?.append(NetworkLogEntry(
                    kind: .connect, time: time, host: target.host, port: target.port,
                    decision: refusal.decision, rule: refusal.rule, status: Int(refusal.status.code),
                    durationMs: began.millisecondsSince))
                config.logger.debug("CONNECT refused", metadata: ["target": "\(display(target.host, target.port))", "reason": "\(refusal.message)"])
                refuse(refusal, context: context)
            }
        }
    }

    /// Answers the CONNECT with 200 and takes the HTTP handlers out of the client's pipeline:
    /// what follows is the tunnel's bytes.
    private func established(context: ChannelHandlerContext) {
        // NIO's encoder would add chunked framing to a 200 without a length; a CONNECT reply has
        // no body, and clients accept the explicit zero.
        var headers = HTTPHeaders()
        headers.add(name: "Content-Length", value: "0")
        let head = HTTPResponseHead(
            version: requestVersion, status: .custom(code: 200, reasonPhrase: "Connection Established"),
            headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)

        let pipeline = context.pipeline.syncOperations
        pipeline.removeHandler(name: HandlerName.encoder, promise: nil)
        pipeline.removeHandler(name: HandlerName.headGuard, promise: nil)
    }

    /// An inspected tunnel: the client's TLS ends here, with a leaf for the host from Airlock's
    /// CA, and its requests go to `InspectedSession`, which carries them over `upstream`.
    private func inspect(
        _ upstream: Channel, tls: InspectionTLS, target: RequestTarget, decision: NetworkDecision,
        began: ContinuousClock.Instant, time: Date, context: ChannelHandlerContext
    ) {
        let serverContext: NIOSSLContext
        do {
            serverContext = try tls.serverContext(for: HostRule.normalize(target.host))
        } catch {
            upstream.close(promise: nil)
            refuse(ProxyRefusal(status: .internalServerError, decision: "error", rule: "inspection",
                                message: "cannot make a certificate for \(target.host): \(error)"), context: context)
            return
        }
        established(context: context)
        // Accepted for tunnels, whose directions end separately; TLS that reads EOF is over.
        context.channel.setOption(ChannelOptions.allowRemoteHalfClosure, value: false).whenFailure { _ in }
        var limits = NIOHTTPDecoderLimitConfiguration()
        limits.maxHeaderFieldSize = ProxyConfiguration.maxHeadBytes
        limits.maxHeaderListSize = ProxyConfiguration.maxHeadBytes
        let pipeline = context.pipeline.syncOperations
        do {
            try pipeline.addHandler(NIOSSLServerHandler(context: serverContext))
            try pipeline.addHandler(ByteToMessageHandler(HTTPRequestDecoder(
                leftOverBytesStrategy: .dropBytes, limitConfiguration: limits)))
            try pipeline.addHandler(HTTPResponseEncoder())
            try pipeline.addHandler(HTTPServerPipelineHandler())
            try pipeline.addHandler(InspectedSession(
                target: target, decision: decision, config: config, tls: tls, upstream: upstream))
        } catch {
            upstream.close(promise: nil)
            context.close(promise: nil)
            return
        }
        let log = config.log
        context.channel.closeFuture.assumeIsolated().whenComplete { _ in
            log?.append(NetworkLogEntry(
                kind: .connect, time: time, host: target.host, port: target.port, decision: "allow",
                rule: decision.description, status: 200, durationMs: began.millisecondsSince, inspected: true))
        }
        if case .tunnelConnecting(let pending) = state {
            state = .tunnelReady(pending: pending)
        }
        pipeline.removeHandler(context: context, promise: nil)
    }

    private func glue(
        _ upstream: Channel, target: RequestTarget, decision: NetworkDecision, began: ContinuousClock.Instant,
        time: Date, context: ChannelHandlerContext
    ) {
        established(context: context)
        let pipeline = context.pipeline.syncOperations

        let (clientSide, upstreamSide) = GlueHandler.matchedPair()
        do {
            try pipeline.addHandler(clientSide)
            try upstream.pipeline.syncOperations.addHandler(upstreamSide)
        } catch {
            upstream.close(promise: nil)
            context.close(promise: nil)
            return
        }
        let log = config.log
        context.channel.closeFuture.and(upstream.closeFuture).assumeIsolated().whenComplete { _ in
            log?.append(NetworkLogEntry(
                kind: .connect, time: time, host: target.host, port: target.port, decision: "allow",
                rule: decision.description, status: 200, bytesUp: clientSide.bytesRead,
                bytesDown: upstreamSide.bytesRead, durationMs: began.millisecondsSince))
        }
        if case .tunnelConnecting(let pending) = state {
            state = .tunnelReady(pending: pending)
        }
        pipeline.removeHandler(context: context, promise: nil)
    }

    /// Leaving the pipeline after a tunnel opened: the bytes that arrived while it was opening go
    /// to the glue now, in order.
    func removeHandler(context: ChannelHandlerContext, removalToken: ChannelHandlerContext.RemovalToken) {
        if case .tunnelReady(let pending) = state {
            state = .tunnelReady(pending: [])
            for data in pending { context.fireChannelRead(data) }
            if !pending.isEmpty { context.fireChannelReadComplete() }
        }
        context.leavePipeline(removalToken: removalToken)
    }

    // MARK: Responses

    func refuse(_ refusal: ProxyRefusal, context: ChannelHandlerContext) {
        if case .closing = state { return }
        state = .closing
        headTimer?.cancel()
        config.logger.debug("refused", metadata: ["status": "\(refusal.status.code)", "reason": "\(refusal.message)"])
        context.refuse(refusal, version: requestVersion)
    }

    /// Called by `ForwardedRequest` when it is done with the client connection.
    func forwardingEnded() {
        state = .closing
        resumeReading()
    }

    var clientVersion: HTTPVersion { requestVersion }
}

/// Raised by `HeadSizeGuard`.
struct HeadTooLarge: Error {}

/// Counts the bytes of the request head before the HTTP decoder sees them, and fails the
/// connection once the head passes the limit without ending (a blank line). After the head it
/// passes everything through.
final class HeadSizeGuard: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let limit: Int
    private var seen = 0
    private var done = false
    private var failed = false
    /// 0: inside a line; 1: just after LF; 2: after LF CR.
    private var lineState = 0

    init(limit: Int) {
        self.limit = limit
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if failed { return }
        if done {
            context.fireChannelRead(data)
            return
        }
        let buffer = unwrapInboundIn(data)
        let ended: Int? = buffer.withUnsafeReadableBytes { bytes in
            for (index, byte) in bytes.enumerated() {
                switch byte {
                case 0x0a:
                    if lineState != 0 { return index + 1 }
                    lineState = 1
                case 0x0d:
                    lineState = lineState == 1 ? 2 : 0
                default:
                    lineState = 0
                }
            }
            return nil
        }
        if let ended, seen + ended <= limit {
            done = true
        } else {
            seen += buffer.readableBytes
            if seen > limit {
                failed = true
                context.fireErrorCaught(HeadTooLarge())
                return
            }
        }
        context.fireChannelRead(data)
    }
}

extension ContinuousClock.Instant {
    var millisecondsSince: Double {
        let elapsed = ContinuousClock.now - self
        return Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
    }
}
