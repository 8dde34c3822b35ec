import AirlockPolicy
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// Opens the proxy's connection to an upstream host: resolves the name itself, checks every
/// address it got, and connects only to those checked addresses.
///
/// Resolving and connecting in one place is what closes DNS rebinding: the addresses checked are
/// the `SocketAddress`es handed to `connect`, never a name resolved a second time.
struct UpstreamConnector: Sendable {
    let threadPool: NIOThreadPool
    let connectTimeout: TimeAmount

    /// Connects to `host`:`port` on `eventLoop`, after `decision` allowed the host.
    /// Fails with a `ProxyRefusal` (403 for a reserved address, 502 for DNS or connect failure).
    func connect(
        host: String, port: Int, decision: NetworkDecision, on eventLoop: EventLoop, halfClosure: Bool = false,
        channelInitializer: @escaping @Sendable (Channel) -> EventLoopFuture<Void>
    ) -> EventLoopFuture<Channel> {
        let name = HostRule.normalize(host)
        if ReservedAddress.metadataNames.contains(name) && !decision.namesHostExactly {
            return eventLoop.makeFailedFuture(ProxyRefusal(
                status: .forbidden, decision: "deny", rule: "cloud instance metadata",
                message: "connection to \(display(host, port)) refused: \(name) is a cloud instance-metadata service"))
        }
        let resolved = threadPool.runIfActive(eventLoop: eventLoop) {
            try Self.resolve(host: name, port: port)
        }
        return resolved.flatMapErrorThrowing { error in
            throw ProxyRefusal(
                status: .badGateway, decision: "error", rule: "dns",
                message: "cannot resolve \(host): \(error)")
        }.flatMapThrowing { addresses -> [SocketAddress] in
            try Self.check(addresses, host: host, port: port, decision: decision)
        }.flatMap { addresses in
            self.connect(to: addresses[...], host: host, port: port, on: eventLoop, halfClosure: halfClosure,
                         lastError: nil, channelInitializer: channelInitializer)
        }
    }

    private func connect(
        to addresses: ArraySlice<SocketAddress>, host: String, port: Int, on eventLoop: EventLoop, halfClosure: Bool,
        lastError: Error?, channelInitializer: @escaping @Sendable (Channel) -> EventLoopFuture<Void>
    ) -> EventLoopFuture<Channel> {
        guard let address = addresses.first else {
            return eventLoop.makeFailedFuture(ProxyRefusal(
                status: .badGateway, decision: "error", rule: "connect",
                message: "cannot connect to \(display(host, port)): \(lastError.map { "\($0)" } ?? "no address")"))
        }
        return ClientBootstrap(group: eventLoop)
            .connectTimeout(connectTimeout)
            .channelOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                // Half-closure is for byte tunnels, whose two directions end separately; a TLS or
                // HTTP connection that reads EOF is over.
                channel.setOption(ChannelOptions.allowRemoteHalfClosure, value: halfClosure).flatMap {
                    channelInitializer(channel)
                }
            }
            .connect(to: address)
            .flatMapError { error in
                self.connect(to: addresses.dropFirst(), host: host, port: port, on: eventLoop, halfClosure: halfClosure,
                             lastError: error, channelInitializer: channelInitializer)
            }
    }

    /// Refuses the whole name if any address it resolves to is reserved and the rule does not
    /// name the host exactly, or if any is a metadata address: a name that mixes a public address
    /// with 127.0.0.1 is an attack, not a fallback.
    static func check(
        _ addresses: [ResolvedAddress], host: String, port: Int, decision: NetworkDecision
    ) throws -> [SocketAddress] {
        guard !addresses.isEmpty else {
            throw ProxyRefusal(status: .badGateway, decision: "error", rule: "dns",
                               message: "cannot resolve \(host): no addresses")
        }
        for resolved in addresses {
            guard let reserved = resolved.reserved else { continue }
            let shown = resolved.address.ipAddress ?? "?"
            let isLiteral = HostRule.normalize(host) == shown
            let what = isLiteral ? "\(shown) is" : "\(host) resolves to \(shown),"
            if reserved.refusedEvenWhenNamed {
                throw ProxyRefusal(
                    status: .forbidden, decision: "deny", rule: reserved.rawValue,
                    message: "connection to \(display(host, port)) refused: \(what) a \(reserved.rawValue) address, never reachable through the proxy")
            }
            if !decision.namesHostExactly {
                throw ProxyRefusal(
                    status: .forbidden, decision: "deny", rule: reserved.rawValue,
                    message: "connection to \(display(host, port)) refused: \(what) a \(reserved.rawValue) address, reachable only when an allow rule names \"\(HostRule.normalize(host))\" itself (decided by \"\(decision)\")")
            }
        }
        return addresses.map(\.address)
    }

    struct ResolvedAddress: Sendable {
        var address: SocketAddress
        var reserved: ReservedAddress?
    }

    /// getaddrinfo(3), every TCP address of `host`, each classified from its raw bytes.
    static func resolve(host: String, port: Int) throws -> [ResolvedAddress] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0 else {
            throw ResolveError(message: String(cString: gai_strerror(status)))
        }
        defer { freeaddrinfo(list) }
        var result: [ResolvedAddress] = []
        var cursor = list
        while let entry = cursor?.pointee {
            defer { cursor = entry.ai_next }
            guard let raw = entry.ai_addr else { continue }
            switch entry.ai_family {
            case AF_INET:
                let sin = raw.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee }
                let bytes = withUnsafeBytes(of: sin.sin_addr) { Array($0) }
                result.append(ResolvedAddress(address: SocketAddress(sin, host: host),
                                              reserved: ReservedAddress.classify(bytes)))
            case AF_INET6:
                let sin6 = raw.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee }
                let bytes = withUnsafeBytes(of: sin6.sin6_addr) { Array($0) }
                result.append(ResolvedAddress(address: SocketAddress(sin6, host: host),
                                              reserved: ReservedAddress.classify(bytes)))
            default:
                continue
            }
        }
        return result
    }

    struct ResolveError: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }
}

/// `host:port`, with brackets around an IPv6 literal.
func display(_ host: String, _ port: Int) -> String {
    host.contains(":") && !host.hasPrefix("[") ? "[\(host)]:\(port)" : "\(host):\(port)"
}
