import AirlockPolicy
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Airlock's egress proxy: an HTTP/1.1 forward proxy (CONNECT tunnels and absolute-form plain-HTTP
/// requests) that lets through only what the `NetworkPolicy` allows, resolves names itself, and
/// never connects to loopback, private or metadata addresses on a wildcard's authority.
///
/// Refusals are HTTP responses whose body is one line naming Airlock and the rule or the reason;
/// nothing is dropped silently.
public final class EgressProxy: Sendable {
    private let listeningSocket: Int32
    private let configuration: ProxyConfiguration
    private let group: MultiThreadedEventLoopGroup
    private let resolverPool: NIOThreadPool
    private let state = Mutex<RunState>(.idle)

    private enum RunState {
        case idle
        case running(Channel)
        case stopped
    }

    /// - Parameters:
    ///   - listeningSocket: a TCP socket already bound and listening (in the sandbox's network
    ///     namespace, typically). The proxy owns it from `start()` on and closes it in `stop()`.
    ///   - policy: which hosts may be reached.
    ///   - log: where each connection and request is recorded; nil for none.
    ///   - logger: diagnostics (refusals at debug level, failures at warning).
    ///   - inspection: the CA and TLS contexts for the policy's `inspect` hosts; nil to tunnel all.
    ///   - signOff: where a connection the policy holds (`unknown = "hold"`) waits for approval;
    ///     nil: such a connection is refused.
    ///   - api: classification, `[[api]]` rules, holds and re-signing of the requests read in
    ///     clear; nil: they are forwarded as sent.
    ///   - routes: inspected hosts that are not real ones, each with where it goes (the names of
    ///     the agent's kubeconfig).
    ///   - headTimeout: how long a client may take to send its request head before it is closed.
    ///   - connectTimeout: how long a TCP connect to an upstream may take.
    public init(
        listeningSocket: Int32, policy: NetworkPolicy, log: NetworkLog?, logger: Logger,
        inspection: InspectionTLS? = nil, signOff: (any ConnectionSignOff)? = nil, api: APIGate? = nil,
        routes: [String: UpstreamRoute] = [:], headTimeout: Duration = .seconds(30), connectTimeout: Duration = .seconds(10)
    ) {
        self.listeningSocket = listeningSocket
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        self.resolverPool = NIOThreadPool(numberOfThreads: 2)
        self.configuration = ProxyConfiguration(
            policy: policy, log: log, logger: logger,
            connector: UpstreamConnector(threadPool: resolverPool, connectTimeout: connectTimeout.timeAmount),
            headTimeout: headTimeout.timeAmount, inspection: inspection, signOff: signOff, api: api, routes: routes)
    }

    /// Starts accepting on the listening socket. Returns once the proxy is accepting.
    public func start() throws {
        try state.withLock { state in
            guard case .idle = state else { throw EgressProxyError.alreadyStarted }
            Self.raiseDescriptorLimit()
            resolverPool.start()
            let configuration = self.configuration
            let channel = try ServerBootstrap(group: group)
                .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
                .childChannelOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let pipeline = channel.pipeline.syncOperations
                        var limits = NIOHTTPDecoderLimitConfiguration()
                        limits.maxHeaderFieldSize = ProxyConfiguration.maxHeadBytes
                        limits.maxHeaderListSize = ProxyConfiguration.maxHeadBytes
                        try pipeline.addHandler(
                            HeadSizeGuard(limit: ProxyConfiguration.maxHeadBytes), name: HandlerName.headGuard)
                        try pipeline.addHandler(
                            ByteToMessageHandler(HTTPRequestDecoder(
                                leftOverBytesStrategy: .forwardBytes, limitConfiguration: limits)),
                            name: HandlerName.decoder)
                        try pipeline.addHandler(HTTPResponseEncoder(), name: HandlerName.encoder)
                        try pipeline.addHandler(ProxyHandler(config: configuration))
                    }
                }
                .withBoundSocket(listeningSocket)
                .wait()
            state = .running(channel)
        }
    }

    /// Closes the listening socket and every connection, and stops the proxy's threads. The
    /// sandbox's network ends with it. Must not be called from the proxy's own event loop.
    public func stop() {
        let previous = state.withLock { state -> RunState in
            let previous = state
            state = .stopped
            return previous
        }
        switch previous {
        case .running(let channel):
            try? channel.close().wait()
        case .idle:
            _ = Glibc.close(listeningSocket)
        case .stopped:
            return
        }
        try? group.syncShutdownGracefully()
        try? resolverPool.syncShutdownGracefully()
    }

    /// Each proxied connection holds two descriptors (three while a tunnel opens): the default
    /// soft limit of 1,024 would refuse connections from the 500th on. The hard limit is what the
    /// operator allows; raise the soft one to it.
    static func raiseDescriptorLimit() {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    }

    /// The local address the proxy accepts on, once started.
    public var localAddress: SocketAddress? {
        state.withLock { state in
            if case .running(let channel) = state { return channel.localAddress }
            return nil
        }
    }
}

public enum EgressProxyError: Error, CustomStringConvertible {
    case alreadyStarted

    public var description: String {
        switch self {
        case .alreadyStarted: "the egress proxy was already started"
        }
    }
}

extension Duration {
    var timeAmount: TimeAmount {
        let (seconds, attoseconds) = components
        return .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
