import AirlockPolicy
import Foundation
import NIOCore
import NIOHTTP1

/// One plain-HTTP request carried to its upstream on a connection of its own, and its response
/// carried back. Lives on the client channel's event loop, as does the upstream channel.
final class ForwardedRequest: UpstreamResponseSink {
    private let url: AbsoluteURL
    private let method: HTTPMethod
    private let decision: NetworkDecision
    private let config: ProxyConfiguration
    private let client: ChannelHandlerContext
    private weak var owner: ProxyHandler?
    private let time = Date()
    private let began = ContinuousClock.now

    private var upstream: Channel?
    /// Parts that arrived before the upstream connection was ready.
    private var buffered: [HTTPClientRequestPart] = []
    private var responseStarted = false
    private var finished = false
    private var status: Int?
    private var bytesUp = 0
    private var bytesDown = 0

    init(
        clientHead: HTTPRequestHead, url: AbsoluteURL, decision: NetworkDecision, config: ProxyConfiguration,
        client: ChannelHandlerContext, owner: ProxyHandler
    ) {
        self.url = url
        self.method = clientHead.method
        self.decision = decision
        self.config = config
        self.client = client
        self.owner = owner
        var headers = HopByHop.removing(from: clientHead.headers)
        // The request line named the host; the Host header must agree with what was decided on.
        headers.replaceOrAdd(name: "Host", value: url.authority)
        headers.add(name: "Connection", value: "close")
        if !clientHead.headers["transfer-encoding"].isEmpty {
            headers.add(name: "Transfer-Encoding", value: "chunked")
        }
        let head = HTTPRequestHead(version: .http1_1, method: clientHead.method, uri: url.path, headers: headers)
        buffered.append(.head(head))
    }

    func start() {
        let initializer: @Sendable (Channel) -> EventLoopFuture<Void> = { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHTTPClientHandlers()
            }
        }
        config.connector.connect(
            host: url.target.host, port: url.target.port, decision: decision, on: client.eventLoop,
            channelInitializer: initializer
        ).assumeIsolated().whenComplete { [self] result in
            switch result {
            case .success(let channel):
                guard !finished, client.channel.isActive else {
                    channel.close(promise: nil)
                    return
                }
                do {
                    let relay = UpstreamRelay(sink: self)
                    self.relay = relay
                    try channel.pipeline.syncOperations.addHandler(relay)
                } catch {
                    channel.close(promise: nil)
                    fail(ProxyRefusal(status: .badGateway, decision: "error", rule: "connect",
                                      message: "cannot set up the connection to \(display(url.target.host, url.target.port))"))
                    return
                }
                upstream = channel
                for part in buffered { channel.write(part, promise: nil) }
                buffered = []
                channel.flush()
                owner?.resumeReading()
            case .failure(let error):
                fail(error as? ProxyRefusal ?? ProxyRefusal(
                    status: .badGateway, decision: "error", rule: "connect",
                    message: "cannot connect to \(display(url.target.host, url.target.port)): \(error)"))
            }
        }
    }

    // MARK: Backpressure

    /// Whether the client may be read from: the upstream is connected and can take more.
    var upstreamWritable: Bool { upstream?.isWritable ?? false }

    /// Whether the upstream may be read from: the client can take more of the response.
    var clientWritable: Bool { client.channel.isWritable }

    private weak var relay: UpstreamRelay?

    func clientBecameWritable() {
        relay?.resumeReading()
    }

    func upstreamBecameWritable() {
        owner?.resumeReading()
    }

    // MARK: From the client

    func clientBody(_ buffer: ByteBuffer) {
        bytesUp += buffer.readableBytes
        // Flushed at once: unflushed bytes count against writability, which would then never return.
        send(.body(.byteBuffer(buffer)), flush: true)
    }

    func clientEnd() {
        send(.end(nil), flush: true)
    }

    private func send(_ part: HTTPClientRequestPart, flush: Bool) {
        guard !finished else { return }
        if let upstream {
            if flush { upstream.writeAndFlush(part, promise: nil) } else { upstream.write(part, promise: nil) }
        } else {
            buffered.append(part)
        }
    }

    func clientGone() {
        guard !finished else { return }
        finish(status: status ?? 499)
        upstream?.close(promise: nil)
    }

    func clientFailed(_ error: Error) {
        if !responseStarted, let parserError = error as? HTTPParserError {
            fail(ProxyRefusal(status: .badRequest, decision: "error", rule: "malformed",
                              message: "malformed request (\(parserError)): refused"))
        } else {
            clientGone()
            client.close(promise: nil)
        }
    }

    // MARK: From the upstream

    func upstreamPart(_ part: HTTPClientResponsePart, from channel: Channel) {
        guard !finished else { return }
        switch part {
        case .head(let head):
            responseStarted = true
            status = Int(head.status.code)
            var headers = HopByHop.removing(from: head.headers)
            headers.add(name: "Connection", value: "close")
            let version = owner?.clientVersion ?? .http1_1
            client.write(NIOAny(HTTPServerResponsePart.head(
                HTTPResponseHead(version: version, status: head.status, headers: headers))), promise: nil)
        case .body(let buffer):
            bytesDown += buffer.readableBytes
            client.writeAndFlush(NIOAny(HTTPServerResponsePart.body(.byteBuffer(buffer))), promise: nil)
        case .end:
            // Finished before writing: the write may close the client at once, re-entering here.
            finish(status: status ?? 0)
            upstream?.close(promise: nil)
            let channel = client.channel
            client.writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil))).whenComplete { _ in
                channel.close(promise: nil)
            }
        }
    }

    func upstreamClosed(_ channel: Channel) {
        guard !finished else { return }
        if responseStarted {
            // The response was cut short: closing is the only honest signal left.
            finish(status: status ?? 0)
            client.close(promise: nil)
        } else {
            fail(ProxyRefusal(status: .badGateway, decision: "error", rule: "upstream",
                              message: "\(display(url.target.host, url.target.port)) closed the connection without a response"))
        }
    }

    // MARK: Ending

    private func fail(_ refusal: ProxyRefusal) {
        guard !finished else { return }
        finish(status: Int(refusal.status.code), decision: refusal.decision, rule: refusal.rule)
        upstream?.close(promise: nil)
        if responseStarted {
            client.close(promise: nil)
        } else {
            client.refuse(refusal, version: owner?.clientVersion ?? .http1_1)
        }
    }

    private func finish(status: Int, decision: String = "allow", rule: String? = nil) {
        finished = true
        owner?.forwardingEnded()
        config.log?.append(NetworkLogEntry(
            kind: .request, time: time, host: url.target.host, port: url.target.port, decision: decision,
            rule: rule ?? self.decision.description, method: method.rawValue, path: url.path, status: status,
            bytesUp: bytesUp, bytesDown: bytesDown, durationMs: began.millisecondsSince))
    }
}

/// Who takes an upstream connection's responses: a forwarded plain-HTTP request, or an inspected
/// session. All on the client channel's event loop.
protocol UpstreamResponseSink: AnyObject {
    /// Whether the client can take more of the response now.
    var clientWritable: Bool { get }
    func upstreamPart(_ part: HTTPClientResponsePart, from channel: Channel)
    func upstreamClosed(_ channel: Channel)
    /// The upstream can take more of the request body: the client may be read again.
    func upstreamBecameWritable()
}

/// On an upstream channel: hands each response part to its sink, and reads only as fast as the
/// client takes the response.
final class UpstreamRelay: ChannelDuplexHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = HTTPClientRequestPart

    private weak var sink: (any UpstreamResponseSink)?
    private var context: ChannelHandlerContext?
    private var pendingRead = false

    init(sink: any UpstreamResponseSink) {
        self.sink = sink
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func read(context: ChannelHandlerContext) {
        if sink?.clientWritable ?? true {
            context.read()
        } else {
            pendingRead = true
        }
    }

    /// Called when the client can take more of the response.
    func resumeReading() {
        guard pendingRead, let context else { return }
        pendingRead = false
        context.read()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { sink?.upstreamBecameWritable() }
        context.fireChannelWritabilityChanged()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        sink?.upstreamPart(unwrapInboundIn(data), from: context.channel)
    }

    func channelInactive(context: ChannelHandlerContext) {
        sink?.upstreamClosed(context.channel)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}
