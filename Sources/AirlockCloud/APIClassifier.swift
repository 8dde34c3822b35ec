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
    /// Hosts (lowercase) that are Kubernetes API servers.
    public var kubernetesHosts: Set<String>

    public init(kubernetesHosts: Set<String> = []) {
        self.kubernetesHosts = kubernetesHosts
    }

    static let azureHosts: Set<String> = ["management.azure.com", "management.usgovcloudapi.net", "management.chinacloudapi.cn"]

    public func classify(_ request: APIRequest) throws(APIClassificationError) -> ClassifiedRequest? {
        if let aws = try AWSClassifier.classify(request) { return ClassifiedRequest(call: aws.call, aws: aws) }
        let host = request.host.lowercased()
        if kubernetesHosts.contains(host) { return ClassifiedRequest(call: try KubernetesClassifier.classify(request)) }
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

    public init(aws: AWSCredentials? = nil, awsPlaceholderKeyID: String? = nil) {
        self.aws = aws
        self.awsPlaceholderKeyID = awsPlaceholderKeyID
    }

    /// Whether requests are signed again here.
    public var signs: Bool { aws != nil }

    /// The request as it goes upstream. Throws, with the refusal's one line, for a request that
    /// cannot be signed again safely.
    public func prepare(_ request: APIRequest, _ classified: ClassifiedRequest?, now: Date) throws(APIClassificationError) -> APIRequest {
        guard let real = aws, let signed = classified?.aws else { return request }
        let what = classified.map { $0.call.summary } ?? request.method
        if signed.presigned {
            throw APIClassificationError("\(what): a presigned URL carries its signature in the query; airlock signs requests with the operator's credentials and cannot sign this one again (presign with airlock's placeholder keys is meaningless): refused")
        }
        if signed.sigv4a {
            throw APIClassificationError("\(what): signed with SigV4a (multi-region), which airlock cannot sign again: refused (use a regional endpoint)")
        }
        if signed.streamingPayload {
            throw APIClassificationError("\(what): an aws-chunked upload with signed chunks cannot be signed again: refused (send it with an unsigned payload or in one part)")
        }
        if let placeholder = awsPlaceholderKeyID, signed.signing.accessKeyID != placeholder {
            throw APIClassificationError("\(what): signed with access key \(signed.signing.accessKeyID), not the placeholder airlock gave the agent (\(placeholder)): refused (run with --cloud-credentials pass to send the agent's own signatures)")
        }
        return SigV4.sign(request, credentials: real, region: signed.signing.region, service: signed.signing.service, date: now)
    }
}
