import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// A client of `airlock serve`, for the CLI (queue commands, approve, deny) and, next, the
/// sandboxes: one request per connection, the whole response read, on NIO's HTTP/1.1 codec
/// (TLS by swift-nio-ssl against the system's roots, or `caFile`).
public struct ServiceClient: Sendable {
    public let base: URL
    let token: String
    let caFile: String?

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    public struct Response: Sendable {
        public var status: Int
        public var body: [UInt8]

        /// The service's own message for an error (`{"error":{"message":…}}`), or the body.
        public var message: String {
            struct Shape: Decodable { struct Inner: Decodable { var message: String }; var error: Inner }
            if let shape = try? JSONDecoder().decode(Shape.self, from: Data(body)) { return shape.error.message }
            return String(decoding: body.prefix(500), as: UTF8.self)
        }
    }

    /// `url`: `http://HOST:PORT/` or `https://…`; `token`: the bearer token `airlock serve add-host`
    /// or `add-approver` printed (empty: none is sent, as to a webhook). An empty `path` in `send`
    /// means `url` itself, its query included.
    /// `caFile` (default: `$AIRLOCK_CA_FILE`) is the PEM file of the certificates an https service's
    /// chain must lead to, instead of the system's roots.
    public init(url: String, token: String, caFile: String? = ProcessInfo.processInfo.environment["AIRLOCK_CA_FILE"].flatMap { $0.isEmpty ? nil : $0 }) throws {
        guard let base = URL(string: url), let scheme = base.scheme, ["http", "https"].contains(scheme), base.host != nil else {
            throw Failure(description: "\(url): not an http:// or https:// URL of an airlock serve")
        }
        if let caFile, !FileManager.default.isReadableFile(atPath: caFile) {
            throw Failure(description: "the CA file \(caFile) ($AIRLOCK_CA_FILE) cannot be read")
        }
        self.base = base
        self.token = token.trimmingCharacters(in: .whitespacesAndNewlines)
        self.caFile = caFile
    }

    /// Whether `queue` names a service rather than a file.
    public static func isURL(_ queue: String) -> Bool {
        queue.hasPrefix("http://") || queue.hasPrefix("https://")
    }

    /// Sends one request and returns the response, whatever its status; throws when there is no
    /// response (cannot connect, TLS fails, `timeout` passes).
    public func send(_ method: HTTPMethod, _ path: String, body: [UInt8]? = nil, timeout: TimeAmount = .seconds(30)) throws -> Response {
        let host = base.host!, tls = base.scheme == "https"
        let port = base.port ?? (tls ? 443 : 80)
        let group = MultiThreadedEventLoopGroup.singleton
        let sslContext = try tls ? Self.context(caFile: caFile) : nil
        let promise = group.next().makePromise(of: Response.self)
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(.seconds(10))
            .channelInitializer { channel in
                do {
                    if let sslContext {
                        try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: sslContext, serverHostname: host))
                    }
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(Collector(promise: promise))
                    return channel.eventLoop.makeSucceededVoidFuture()
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }
        let channel: Channel
        do { channel = try bootstrap.connect(host: host, port: port).wait() } catch {
            promise.fail(error) // nothing will answer it
            throw Failure(description: "cannot reach \(base.absoluteString): \(error)")
        }
        defer { channel.close(promise: nil) }
        let timedOut = NIOLockedValueBox(false)
        let timer = channel.eventLoop.scheduleTask(in: timeout) {
            timedOut.withLockedValue { $0 = true }
            channel.close(promise: nil)
        }
        defer { timer.cancel() }
        var headers = HTTPHeaders([("Host", port == (tls ? 443 : 80) ? host : "\(host):\(port)"), ("Connection", "close")])
        if !token.isEmpty { headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let body { headers.add(name: "Content-Length", value: String(body.count)); headers.add(name: "Content-Type", value: "application/json") }
        let prefix = base.path.hasSuffix("/") ? String(base.path.dropLast()) : base.path
        let query = base.query.map { "?" + $0 } ?? ""
        let uri = path.isEmpty ? (base.path.isEmpty ? "/" : base.path) + query : prefix + path
        channel.write(HTTPClientRequestPart.head(HTTPRequestHead(version: .http1_1, method: method, uri: uri, headers: headers)), promise: nil)
        if let body { channel.write(HTTPClientRequestPart.body(.byteBuffer(ByteBuffer(bytes: body))), promise: nil) }
        channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        do { return try promise.futureResult.wait() } catch _ where timedOut.withLockedValue({ $0 }) {
            throw Failure(description: "\(base.absoluteString) did not answer \(method) \(path) within \(timeout.nanoseconds / 1_000_000_000) s")
        } catch let failure as Failure { throw failure } catch {
            throw Failure(description: "\(method) \(base.absoluteString.dropLast(base.path.hasSuffix("/") ? 1 : 0))\(path): \(error)")
        }
    }

    /// Like `send`, but a status other than 2xx is an error carrying the service's message.
    public func expect(_ method: HTTPMethod, _ path: String, body: [UInt8]? = nil, timeout: TimeAmount = .seconds(30)) throws -> [UInt8] {
        let response = try send(method, path, body: body, timeout: timeout)
        guard (200..<300).contains(response.status) else {
            throw Failure(description: "\(base.host ?? "") answered \(response.status): \(response.message)")
        }
        return response.body
    }

    static func context(caFile: String?) throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        if let caFile { configuration.trustRoots = .file(caFile) }
        do { return try NIOSSLContext(configuration: configuration) } catch {
            throw Failure(description: "TLS set-up\(caFile.map { " with \($0)" } ?? ""): \(error)")
        }
    }

    /// Reads one response whole.
    final class Collector: ChannelInboundHandler {
        typealias InboundIn = HTTPClientResponsePart
        var promise: EventLoopPromise<Response>?
        var status = 0
        var body: [UInt8] = []

        init(promise: EventLoopPromise<Response>) { self.promise = promise }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head): status = Int(head.status.code)
            case .body(let buffer): body += buffer.readableBytesView
            case .end:
                promise?.succeed(Response(status: status, body: body))
                promise = nil
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            promise?.fail(Failure(description: "the service closed the connection before its answer ended"))
            promise = nil
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            promise?.fail(error)
            promise = nil
            context.close(promise: nil)
        }
    }
}
