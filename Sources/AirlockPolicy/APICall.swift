/// One HTTP request to a cloud API as the proxy read it in clear (an inspected host), before any
/// classification: the exact bytes the proxy would forward.
public struct APIRequest: Sendable, Equatable {
    /// `GET`, `POST`, … as sent.
    public var method: String
    /// The host the tunnel was opened to (lowercase, no port), and its port.
    public var host: String
    public var port: Int
    /// The request target as sent: the raw path, percent-encoding kept, then `?` and the raw query.
    public var target: String
    /// Header names and values in the order sent; names compare case-insensitively.
    public var headers: [(name: String, value: String)]
    /// The whole body (the proxy reads it before deciding).
    public var body: [UInt8]

    public init(method: String, host: String, port: Int = 443, target: String,
                headers: [(name: String, value: String)], body: [UInt8] = []) {
        self.method = method
        self.host = host
        self.port = port
        self.target = target
        self.headers = headers
        self.body = body
    }

    /// Every value of the header `name` (case-insensitive), in order.
    public func values(_ name: String) -> [String] {
        headers.filter { $0.name.lowercased() == name.lowercased() }.map(\.value)
    }

    /// The raw path (before `?`), percent-encoding kept.
    public var rawPath: Substring { target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)[0] }

    /// The raw query (after the first `?`), or nil when there is none.
    public var rawQuery: Substring? {
        guard let index = target.firstIndex(of: "?") else { return nil }
        return target[target.index(after: index)...]
    }

    public static func == (a: APIRequest, b: APIRequest) -> Bool {
        a.method == b.method && a.host == b.host && a.port == b.port && a.target == b.target
            && a.headers.map(\.name) == b.headers.map(\.name) && a.headers.map(\.value) == b.headers.map(\.value)
            && a.body == b.body
    }
}

/// What a cloud API request does, as the classifiers read it: the input of `[[api]]` rules.
public struct APICall: Sendable, Equatable {
    /// `aws`, `kubernetes`, `gcp` or `azure`.
    public var provider: String
    /// AWS: botocore's service name (`cloudformation`, `s3`, `dynamodb`); Kubernetes: the API
    /// group (`core` for the legacy group, `apps`, …); Google Cloud: the API (`compute`,
    /// `storage`, `sqladmin`); Azure: the resource provider (`Microsoft.Compute`).
    public var service: String
    /// AWS: the operation as the service names it (`DeleteStack`); Kubernetes: the verb (`get`,
    /// `list`, `create`, `update`, `patch`, `delete`, `deletecollection`, `watch`); Google Cloud
    /// and Azure: `get`, `list`, `create`, `update`, `delete`, or the custom method's name
    /// (`stop`, `deallocate`, `powerOff`).
    public var operation: String
    /// The region or location, when the request names one (AWS: the SigV4 scope's region).
    public var region: String?
    /// The resources the request names, most significant first, each as people read it
    /// (`stack/prod-env`, `bucket/logs/key/a.txt`, `namespaces/prod/deployments/web`,
    /// `projects/p/zones/z/instances/vm1`).
    public var resources: [String]
    /// What the request's content adds beyond its operation, for rules that look inside:
    /// `partiql-delete`, `partiql-update`, `batch-delete`, `expire-objects`, `write-object`,
    /// `scale-to-zero`, `dry-run`, …
    public var effects: [String]
    /// The request's parameters as people read them, secrets redacted, for `queue show`.
    public var parameters: [(name: String, value: String)]

    public init(provider: String, service: String, operation: String, region: String? = nil,
                resources: [String] = [], effects: [String] = [], parameters: [(name: String, value: String)] = []) {
        self.provider = provider
        self.service = service
        self.operation = operation
        self.region = region
        self.resources = resources
        self.effects = effects
        self.parameters = parameters
    }

    /// One line for people: `aws cloudformation DeleteStack stack/prod-env in us-east-1`.
    public var summary: String {
        var s = "\(provider) \(service) \(operation)"
        if !resources.isEmpty { s += " " + resources.joined(separator: ", ") }
        if let region { s += " in \(region)" }
        return s
    }

    public static func == (a: APICall, b: APICall) -> Bool {
        a.provider == b.provider && a.service == b.service && a.operation == b.operation && a.region == b.region
            && a.resources == b.resources && a.effects == b.effects
            && a.parameters.map(\.name) == b.parameters.map(\.name) && a.parameters.map(\.value) == b.parameters.map(\.value)
    }
}

/// The AWS requests whose signature the credential broker cannot make again with the operator's
/// credentials: refused unless a profile's `[network] forward_as_signed` names their kind.
public enum UnresignableRequest: String, Sendable, CaseIterable, Hashable {
    /// A presigned URL: the signature is in the query (`X-Amz-Signature`).
    case presigned
    /// SigV4a (multi-region) signatures.
    case sigv4a
    /// aws-chunked uploads whose every chunk is signed (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD`).
    case signedChunks = "signed-chunks"
}

/// Why a request could not be classified: the proxy refuses it (a request it cannot classify is
/// never passed through blind), and the message is the refusal's one line.
public struct APIClassificationError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
