import Foundation
import AirlockPolicy

/// An inspected request as classified: what it does, and for AWS how it was signed and spoken.
public struct ClassifiedRequest: Sendable {
    public var call: APICall
    public var aws: AWSClassification?

    public init(call: APICall, aws: AWSClassification? = nil) {
        self.call = call
        self.aws = aws
    }
}

/// Picks the provider of an inspected request and classifies it. AWS is recognised by its
/// signature, wherever it is sent (custom and VPC endpoints included); Kubernetes by the API
/// servers the broker knows; Google Cloud and Azure by their API hosts. Anything else is no
/// cloud API the rules know (nil).
public struct APIClassifier: Sendable {
    /// Hosts (lowercase) that are Kubernetes API servers, each with the name people know its
    /// cluster by (the kubeconfig context), reported as the request's `region`.
    public var kubernetesHosts: [String: String]

    public init(kubernetesHosts: [String: String] = [:]) {
        self.kubernetesHosts = kubernetesHosts
    }

    static let azureHosts: Set<String> = ["management.azure.com", "management.usgovcloudapi.net", "management.chinacloudapi.cn"]

    public func classify(_ request: APIRequest) throws(APIClassificationError) -> ClassifiedRequest? {
        if let aws = try AWSClassifier.classify(request) { return ClassifiedRequest(call: aws.call, aws: aws) }
        let host = request.host.lowercased()
        if let cluster = kubernetesHosts[host] {
            var call = try KubernetesClassifier.classify(request)
            call.region = cluster
            return ClassifiedRequest(call: call)
        }
        if host.hasSuffix(".googleapis.com") { return ClassifiedRequest(call: try GoogleCloudClassifier.classify(request)) }
        if Self.azureHosts.contains(host) { return ClassifiedRequest(call: try AzureClassifier.classify(request)) }
        return nil
    }
}

/// The operator's cloud credentials, held by the proxy and never by the agent: each AWS request
/// the policy lets through (or people approved) is signed again with them, after the decision.
public struct CredentialBroker: Sendable {
    /// The operator's AWS credentials; nil: requests go upstream signed as the agent signed them.
    public var aws: AWSCredentials?
    /// The access key id of the placeholder the agent holds.
    public var awsPlaceholderKeyID: String?
    /// The API servers the agent's kubeconfig points at, by the host name it gives each.
    public var kubernetes: [String: KubernetesUpstream]
    /// Bearer tokens added to Google Cloud (`gcp`) and Azure (`azure`) requests, by provider.
    public var bearer: [String: BearerToken]
    /// The requests that cannot be signed again which go upstream as the agent signed them
    /// (`[network] forward_as_signed`); the others are refused.
    public var forwardAsSigned: Set<UnresignableRequest>

    public init(aws: AWSCredentials? = nil, awsPlaceholderKeyID: String? = nil,
                kubernetes: [String: KubernetesUpstream] = [:], bearer: [String: BearerToken] = [:],
                forwardAsSigned: Set<UnresignableRequest> = []) {
        self.forwardAsSigned = forwardAsSigned
        self.aws = aws
        self.awsPlaceholderKeyID = awsPlaceholderKeyID
        self.kubernetes = kubernetes
        self.bearer = bearer
    }

    /// A bearer token of the agent's that opens nothing: what it holds for Kubernetes, Google
    /// Cloud and Azure, swapped by the proxy for the operator's. New and random on every call.
    public static func placeholderToken() -> String {
        var random = SystemRandomNumberGenerator()
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789")
        return "airlock-placeholder-" + String((0..<32).map { _ in alphabet[Int(random.next(upperBound: UInt(alphabet.count)))] })
    }

    /// Whether any request is given the operator's credentials here.
    public var signs: Bool { aws != nil || !kubernetes.isEmpty || !bearer.isEmpty }

    /// The request as it goes upstream. Throws, with the refusal's one line, for a request that
    /// cannot be given the operator's credentials safely.
    public func prepare(_ request: APIRequest, _ classified: ClassifiedRequest?, now: Date) throws(APIClassificationError) -> APIRequest {
        if let upstream = kubernetes[request.host.lowercased()] {
            return try upstream.prepare(request, what: classified?.call.summary ?? request.method)
        }
        if let provider = classified?.call.provider, let token = bearer[provider] {
            return try token.prepare(request, what: classified?.call.summary ?? request.method)
        }
        guard let real = aws, let signed = classified?.aws else { return request }
        let what = classified.map { $0.call.summary } ?? request.method
        let unresignable: (kind: UnresignableRequest, why: String)? =
            signed.presigned ? (.presigned, "a presigned URL carries its signature in the query; airlock signs requests with the operator's credentials and cannot sign this one again (presign with airlock's placeholder keys is meaningless)")
            : signed.sigv4a ? (.sigv4a, "signed with SigV4a (multi-region), which airlock cannot sign again (use a regional endpoint)")
            : signed.streamingPayload ? (.signedChunks, "an aws-chunked upload with signed chunks cannot be signed again (send it with an unsigned payload or in one part)")
            : nil
        if let unresignable {
            if forwardAsSigned.contains(unresignable.kind) { return request }
            throw APIClassificationError("\(what): \(unresignable.why): refused ([network] forward_as_signed = [\"\(unresignable.kind.rawValue)\"] sends such requests as the agent signed them)")
        }
        if let placeholder = awsPlaceholderKeyID, signed.signing.accessKeyID != placeholder {
            throw APIClassificationError("\(what): signed with access key \(signed.signing.accessKeyID), not the placeholder airlock gave the agent (\(placeholder)): refused (run with --cloud-credentials pass to send the agent's own signatures)")
        }
        return SigV4.sign(request, credentials: real, region: signed.signing.region, service: signed.signing.service, date: now)
    }

    /// The request's credentials, given the placeholder the agent holds: nil when it sends none,
    /// and a refusal when it sends any other (credentials of its own, which airlock never adds to).
    static func presented(_ request: APIRequest, placeholder: String, what: String, to whom: String) throws(APIClassificationError) -> Bool {
        let values = request.values("authorization")
        guard !values.isEmpty else { return false }
        guard values.count == 1, values[0] == "Bearer " + placeholder else {
            throw APIClassificationError("\(what): sent to \(whom) with credentials other than the placeholder token airlock gave the agent: refused (run with --cloud-credentials pass to send the agent's own)")
        }
        return true
    }
}

/// A Kubernetes API server as the broker reaches it for one context of the agent's kubeconfig:
/// the agent's placeholder token is swapped for the operator's credentials, and the request names
/// the real server. (The client certificate, when the context has one, is presented by the
/// proxy's TLS connection to the server.)
public struct KubernetesUpstream: Sendable {
    public var context: KubernetesContext
    public var placeholder: String

    public init(context: KubernetesContext, placeholder: String) {
        self.context = context
        self.placeholder = placeholder
    }

    func prepare(_ request: APIRequest, what: String) throws(APIClassificationError) -> APIRequest {
        let presented = try CredentialBroker.presented(request, placeholder: placeholder, what: what, to: "Kubernetes context \"\(context.name)\"")
        var prepared = request
        prepared.headers = request.headers.compactMap { header in
            switch header.name.lowercased() {
            case "authorization": return nil
            case "host": return (header.name, context.authority)
            default: return header
            }
        }
        if presented, let authorization = try context.user.authorization() {
            prepared.headers.append(("Authorization", authorization))
        }
        return prepared
    }
}

/// An OAuth bearer token of the operator's (Google Cloud, Azure), which the agent holds a
/// placeholder of.
public struct BearerToken: Sendable {
    public var token: String
    public var placeholder: String
    /// Where the token came from, for refusals and log lines (`GOOGLE_OAUTH_ACCESS_TOKEN`).
    public var source: String

    public init(token: String, placeholder: String, source: String) {
        self.token = token
        self.placeholder = placeholder
        self.source = source
    }

    func prepare(_ request: APIRequest, what: String) throws(APIClassificationError) -> APIRequest {
        guard try CredentialBroker.presented(request, placeholder: placeholder, what: what, to: request.host) else { return request }
        var prepared = request
        prepared.headers = request.headers.map { $0.name.lowercased() == "authorization" ? ($0.name, "Bearer " + token) : $0 }
        return prepared
    }
}
