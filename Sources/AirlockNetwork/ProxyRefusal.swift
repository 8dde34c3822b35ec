import NIOCore
import NIOHTTP1

/// Why the proxy will not carry a request, as the HTTP response the client gets.
///
/// The body is one line that names Airlock and the rule or the reason, so that whatever the agent
/// prints of the failure tells its operator where to look:
/// `airlock: connection to evil.example:443 refused by rule "deny *.example"`.
struct ProxyRefusal: Error, CustomStringConvertible {
    var status: HTTPResponseStatus
    /// For the log: `deny`, `hold` or `error`.
    var decision: String
    /// For the log: the rule, or a one-word reason (`dns`, `connect`, `malformed`).
    var rule: String
    /// The sentence after `airlock: `.
    var message: String

    var description: String { "airlock: \(message)" }

    var body: String { description + "\n" }
}

extension ChannelHandlerContext {
    /// Writes `refusal` as a complete response with `Connection: close`, then shuts the output
    /// and closes fully once the client closes or after two seconds. Closing at once could reset
    /// the connection over request bytes still unread and lose the response on the way.
    func refuse(_ refusal: ProxyRefusal, version: HTTPVersion = .http1_1) {
        let body = ByteBuffer(string: refusal.body)
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
        headers.add(name: "Content-Length", value: String(body.readableBytes))
        headers.add(name: "Connection", value: "close")
        headers.add(name: "Proxy-Agent", value: "airlock")
        let head = HTTPResponseHead(version: version, status: refusal.status, headers: headers)
        write(NIOAny(HTTPServerResponsePart.head(head)), promise: nil)
        write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(body))), promise: nil)
        let channel = self.channel
        writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil))).whenComplete { _ in
            channel.close(mode: .output, promise: nil)
            channel.eventLoop.scheduleTask(in: .seconds(2)) { channel.close(promise: nil) }
        }
    }
}
