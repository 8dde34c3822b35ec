import AirlockCloud
import NIOCore
import NIOSSL

/// An inspected host that is not a real one: a name the agent's kubeconfig points at, which the
/// proxy routes to the cluster's API server, with that cluster's TLS (its CA, its server name, the
/// user's client certificate). The agent never holds any of it.
public struct UpstreamRoute: Sendable {
    /// Where the connection goes: the real server's host (a name or an address) and port.
    public let host: String
    public let port: Int
    /// The name sent as SNI and checked against the server's certificate; nil for a server known
    /// by its address, whose certificate is checked against the address connected to.
    let serverName: String?
    let context: NIOSSLContext

    /// The route to `host`:`port` over TLS verified against `certificateAuthority` (PEM; nil: the
    /// host's roots) for `tlsServerName` (nil: the host, or for an address the address itself),
    /// or not at all with `insecure`; presenting `clientCertificate` and `clientKey` (PEM) when
    /// given. Throws on TLS material that cannot be used.
    public init(host: String, port: Int, tlsServerName: String? = nil, certificateAuthority: [UInt8]? = nil, insecure: Bool = false,
                clientCertificate: [UInt8]? = nil, clientKey: [UInt8]? = nil) throws {
        self.host = host
        self.port = port
        let isAddress = host.contains(":") || host.allSatisfy { $0.isNumber || $0 == "." }
        serverName = tlsServerName ?? (isAddress ? nil : host)
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        tls.applicationProtocols = ["http/1.1"]
        tls.certificateVerification = insecure ? .none : .fullVerification
        if let certificateAuthority {
            tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(certificateAuthority))
        }
        if let clientCertificate, let clientKey {
            tls.certificateChain = try NIOSSLCertificate.fromPEMBytes(clientCertificate).map { .certificate($0) }
            tls.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: clientKey, format: .pem))
        }
        context = try NIOSSLContext(configuration: tls)
    }

    /// The route to `cluster`'s API server, as its kubeconfig says.
    public init(_ cluster: KubernetesContext) throws {
        try self.init(host: cluster.serverHost, port: cluster.serverPort, tlsServerName: cluster.tlsServerName,
                      certificateAuthority: cluster.certificateAuthority, insecure: cluster.insecureSkipTLSVerify,
                      clientCertificate: cluster.user.clientCertificate, clientKey: cluster.user.clientKey)
    }

    /// The pipeline of a connection to the server: TLS as the cluster's kubeconfig says, then HTTP/1.1.
    func initializer() -> @Sendable (Channel) -> EventLoopFuture<Void> {
        let (context, serverName) = (self.context, self.serverName)
        return { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: context, serverHostname: serverName))
                try InspectedSession.addHTTPClient(to: channel)
            }
        }
    }
}
