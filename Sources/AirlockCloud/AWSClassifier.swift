import AirlockPolicy
import Foundation

/// An AWS request as the proxy must judge it: what it does, and how it was signed.
public struct AWSClassification: Sendable, Equatable {
    /// provider `aws`, botocore's service name, the operation as the service names it.
    public var call: APICall
    /// The protocol the request was read in.
    public var `protocol`: AWSProtocol
    /// The credential scope the request was signed for. For SigV4a, whose scope has no region,
    /// `region` is `X-Amz-Region-Set` as sent (`*`, `us-east-1,us-west-2`), empty when absent.
    public var signing: SigV4Scope
    /// Signed in the query string (`X-Amz-Credential=`): a URL anyone holding it can replay.
    public var presigned: Bool
    /// Signed with SigV4a (`AWS4-ECDSA-P256-SHA256`), which the proxy cannot re-sign.
    public var sigv4a: Bool
    /// A signed aws-chunked body (`x-amz-content-sha256: STREAMING-AWS4-…`): each chunk carries a
    /// signature chained to the original one, so the request cannot be re-signed.
    public var streamingPayload: Bool
}

/// Reads an AWS request the way the service will: which service (the SigV4 scope, never the host
/// name, which custom and VPC endpoints change), which operation (by the service's protocols), the
/// resources it names and what its content adds (`effects`).
///
/// Exactness: the operation must be the one the service runs, so every way a request could name
/// one is read, and a request that names more than one, or names one in a way the table cannot
/// place, is refused (thrown), never guessed:
/// - the readings are `X-Amz-Target` (json), `Action=` in the query string or a form body (query,
///   ec2, and query-compatible JSON), the CBOR path, and method + URI template (REST), each only for
///   services that speak that protocol; two readings, even agreeing, are refused;
/// - a parameter given more than once with different values, in the query string, the form body or
///   across both (keys compared case-insensitively), is refused; so is a repeated `X-Amz-Target` or
///   `Authorization`, and a JSON or CBOR body that names a key twice;
/// - operation names compare case-sensitively; an unknown one is refused;
/// - several services share a signing name (`rds`: rds, docdb, neptune): among the services that
///   have the operation, the query `Version=` decides, then the host when it carries the service's
///   endpoint prefix as labels (`s3-control`, `query.timestream`), then (REST) the most specific
///   template; what is left must be one operation, of the service named like the signing name
///   when there are several (rds for docdb's identical DeleteDBCluster), else the request is refused.
///
/// REST paths are split, then each segment decoded (as Smithy servers do); a path with an encoded
/// `/` must read as the same operation when decoded first, and `.`/`..` segments are refused
/// outside S3. S3 takes the bucket from a virtual-hosted host (the proxy has checked that the Host
/// header names the tunnel's host). A body the operation's resources or effects depend on must be
/// readable: content-encoded or aws-chunked, malformed, or (XML) carrying a DTD, it is refused.
///
/// Resources read `kind/value`, the kind being the member's name without its `Name`/`Id`/`Arn`/…
/// suffix, in kebab case (`StackName` → `stack/prod`, `DBInstanceIdentifier` → `db-instance/db1`,
/// `QueueUrl` → `queue/https://…`); a REST request's URI labels make one path-like resource in
/// template order (`bucket/logs/key/a.txt`).
public enum AWSClassifier {
    /// nil when the request carries no AWS signature at all (no SigV4 `Authorization`, no
    /// `X-Amz-Credential` in the query); throws when it is signed but cannot be classified exactly.
    public static func classify(_ request: APIRequest) throws(APIClassificationError) -> AWSClassification? {
        try classify(request, table: .botocore)
    }

    static func classify(_ request: APIRequest, table: AWSOperationTable) throws(APIClassificationError) -> AWSClassification? {
        let parts = AWSRequestParts(request)
        guard let signature = try AWSSignature(request, parts) else { return nil }
        try parts.validate(request)
        let scope = signature.scope
        let services = table.services(signingName: scope.service)
        guard !services.isEmpty else {
            throw APIClassificationError("aws: unknown service \"\(scope.service)\" in the signature's scope")
        }
        let reading = try read(request, parts, services: services, signingName: scope.service)
        let streaming = try single(request.values("x-amz-content-sha256"), "x-amz-content-sha256")
            .map { $0.hasPrefix("STREAMING-") && $0 != "STREAMING-UNSIGNED-PAYLOAD-TRAILER" } ?? false
        let call = try describe(reading, request, parts, framed: streaming || parts.contentEncoded, region: scope.region)
        return AWSClassification(call: call, protocol: reading.protocol, signing: scope,
                                 presigned: signature.presigned, sigv4a: signature.sigv4a, streamingPayload: streaming)
    }

    /// The header's one value, trimmed; nil when absent; refused when repeated.
    static func single(_ values: [String], _ name: String) throws(APIClassificationError) -> String? {
        guard values.count <= 1 else { throw APIClassificationError("aws: \(name) is given \(values.count) times") }
        return values.first.map { String($0.trimmingSpacesAndTabs) }
    }
}

// MARK: - The request's parts

/// The request decoded once: path segments, query and form parameters, the media type.
struct AWSRequestParts {
    var segments: [String]
    /// The raw path had an encoded `/` (`%2F`): servers that decode before splitting see more segments.
    var encodedSlash: Bool
    var query: [(key: String, value: String)]
    var mediaType: String
    var contentEncoded: Bool

    init(_ request: APIRequest) {
        let rawPath = request.rawPath
        segments = rawPath.dropFirst().split(separator: "/", omittingEmptySubsequences: false).map { percentDecode($0) }
        encodedSlash = rawPath.lowercased().contains("%2f")
        query = request.rawQuery.map { formDecode($0) } ?? []
        let contentType = request.values("content-type").first ?? ""
        mediaType = contentType.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false)[0]
            .trimmingSpacesAndTabs.lowercased()
        contentEncoded = request.values("content-encoding").contains { value in
            value.split(separator: ",").contains { $0.trimmingSpacesAndTabs.lowercased() != "identity" }
        }
    }

    /// What a signed request must also be for its parts to be read as the service reads them.
    func validate(_ request: APIRequest) throws(APIClassificationError) {
        guard request.rawPath.first == "/" else {
            throw APIClassificationError("aws: the request target \(request.rawPath.prefix(100)) is not a path")
        }
        _ = try AWSClassifier.single(request.values("content-type"), "Content-Type")
    }

    /// Whether a query service would read the body as form parameters: anything not declared JSON or CBOR.
    var bodyIsForm: Bool {
        !(mediaType.contains("json") || mediaType == "application/cbor")
    }

    /// Every value given to `key` in the query string, key compared case-insensitively.
    func queryValues(_ key: String) -> [String] {
        query.filter { $0.key.lowercased() == key.lowercased() }.map(\.value)
    }
}

/// `+` as space and `%XX` as a byte, as form bodies and query strings are read; a malformed escape
/// is kept as written (an operation name so spelled is then unknown, and refused).
fileprivate func formDecode(_ text: Substring) -> [(key: String, value: String)] {
    text.split(separator: "&").map { pair in
        let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
        return (percentDecode(kv[0], plusIsSpace: true), kv.count == 2 ? percentDecode(kv[1], plusIsSpace: true) : "")
    }
}

fileprivate func percentDecode(_ text: Substring, plusIsSpace: Bool = false) -> String {
    guard text.contains("%") || (plusIsSpace && text.contains("+")) else { return String(text) }
    let bytes = RequestParts.percentDecoded(text.utf8, plusIsSpace: plusIsSpace, keepingMalformed: true) ?? Array(text.utf8)
    return String(decoding: bytes, as: UTF8.self)
}

// MARK: - The signature

/// Where and how the request is signed.
struct AWSSignature {
    var scope: SigV4Scope
    var presigned: Bool
    var sigv4a: Bool

    static let sigv4 = "AWS4-HMAC-SHA256"
    static let sigv4a = "AWS4-ECDSA-P256-SHA256"

    init?(_ request: APIRequest, _ parts: AWSRequestParts) throws(APIClassificationError) {
        let header = try AWSClassifier.single(request.values("authorization"), "Authorization")
        var fromHeader: (algorithm: String, credential: String)?
        if let header {
            let scheme = String(header.prefix { $0 != " " })
            if scheme == AWSSignature.sigv4 || scheme == AWSSignature.sigv4a {
                fromHeader = (scheme, try AWSSignature.credential(inAuthorization: header.dropFirst(scheme.count)))
            } else if scheme.hasPrefix("AWS4") {
                throw APIClassificationError("aws: unknown signing algorithm \(scheme.prefix(60))")
            } else if scheme == "AWS" {
                throw APIClassificationError("aws: SigV2 signatures (Authorization: AWS …) are not supported")
            }
        }
        let credentials = Set(parts.queryValues("X-Amz-Credential"))
        var fromQuery: (algorithm: String, credential: String)?
        if !credentials.isEmpty {
            guard credentials.count == 1, let algorithm = try AWSSignature.one(parts.queryValues("X-Amz-Algorithm"), "X-Amz-Algorithm"),
                  algorithm == AWSSignature.sigv4 || algorithm == AWSSignature.sigv4a else {
                throw APIClassificationError("aws: the presigned URL's X-Amz-Algorithm or X-Amz-Credential is missing, repeated or unknown")
            }
            fromQuery = (algorithm, credentials.first!)
        } else if !parts.queryValues("AWSAccessKeyId").isEmpty {
            throw APIClassificationError("aws: SigV2 query signatures (AWSAccessKeyId=) are not supported")
        }
        // A query API might take SigV4's parameters in a form body too; no client sends them there.
        if parts.mediaType == "application/x-www-form-urlencoded" {
            let keys = Set(formDecode(Substring(decoding: request.body, as: UTF8.self)).map { $0.key.lowercased() })
            if keys.contains("x-amz-credential") || keys.contains("awsaccesskeyid") {
                throw APIClassificationError("aws: a signature in the form body is not supported")
            }
        }
        if fromHeader != nil, fromQuery != nil {
            throw APIClassificationError("aws: the request is signed both in the Authorization header and in the query")
        }
        guard let (algorithm, credential) = fromHeader ?? fromQuery else { return nil }
        presigned = fromQuery != nil
        sigv4a = algorithm == AWSSignature.sigv4a
        let fields = credential.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard fields.count == (sigv4a ? 4 : 5), fields.last == "aws4_request", !fields.dropLast().contains("") else {
            throw APIClassificationError("aws: malformed credential scope \"\(credential.prefix(120))\"")
        }
        var region = sigv4a ? "" : fields[2]
        if sigv4a {
            let sets = request.values("x-amz-region-set") + parts.queryValues("X-Amz-Region-Set")
            region = try AWSClassifier.single(sets, "X-Amz-Region-Set") ?? ""
        }
        scope = SigV4Scope(accessKeyID: fields[0], date: fields[1], region: region, service: fields[sigv4a ? 2 : 3])
    }

    /// `Credential=` of an Authorization header's parameters (after the algorithm).
    private static func credential(inAuthorization text: Substring) throws(APIClassificationError) -> String {
        var credentials: [String] = []
        for parameter in text.split(separator: ",") {
            let kv = parameter.trimmingSpacesAndTabs.split(separator: "=", maxSplits: 1)
            if kv.count == 2, kv[0].lowercased() == "credential" { credentials.append(String(kv[1])) }
        }
        guard let credential = try one(credentials, "Credential") else {
            throw APIClassificationError("aws: the Authorization header has no Credential")
        }
        return credential
    }

    private static func one(_ values: [String], _ name: String) throws(APIClassificationError) -> String? {
        guard Set(values).count <= 1 else { throw APIClassificationError("aws: \(name) is given more than once") }
        return values.first
    }
}

// MARK: - The operation

/// The operation one reading of the request found.
struct AWSReading {
    var service: AWSService
    var operation: AWSOperation
    var `protocol`: AWSProtocol
    /// REST: label wire name → decoded value.
    var labels: [String: String] = [:]
    /// Query: the form parameters, query string and body together.
    var form: [(key: String, value: String)] = []
}

extension AWSClassifier {
    /// The one operation the request names: see the type's comment for the rules.
    static func read(_ request: APIRequest, _ parts: AWSRequestParts, services: [AWSService],
                     signingName: String) throws(APIClassificationError) -> AWSReading {
        let service = services.map(\.name).joined(separator: "/")
        var readings: [[AWSReading]] = []

        if let target = try single(request.values("x-amz-target"), "X-Amz-Target") {
            let found = services.compactMap { s in s.operation(target: target).map { AWSReading(service: s, operation: $0, protocol: .json) } }
            if found.isEmpty {
                let prefix = target.lastIndex(of: ".").map { String(target[..<$0]) } ?? target
                if services.contains(where: { $0.protocols.contains(.json) && $0.targetPrefix == prefix }) {
                    throw APIClassificationError("aws: unknown operation \(target.prefix(100)) for service \(service)")
                }
                throw APIClassificationError("aws: X-Amz-Target \(target.prefix(100)) is not an operation of service \(service)")
            }
            readings.append(found)
        }

        if services.contains(where: \.readsAction) {
            var form = parts.query
            // The media type tells a JSON or CBOR body from a form only to a service that speaks
            // those; a query-only service may read any body as a form.
            let speaksMore = services.contains { $0.protocols.contains(.json) || $0.protocols.contains(.cbor) }
            if parts.bodyIsForm || !speaksMore, !request.body.isEmpty {
                if parts.contentEncoded { throw APIClassificationError("aws: the form body is content-encoded: cannot read it") }
                form += formDecode(Substring(decoding: request.body, as: UTF8.self))
            }
            if form.contains(where: { $0.key.lowercased() == "action" }) {
                form = try singleValued(form)
                let action = form.first { $0.key.lowercased() == "action" }!.value
                let version = form.first { $0.key.lowercased() == "version" }?.value
                var found = services.filter(\.readsAction).compactMap { s in
                    s.operation(named: action).map {
                        AWSReading(service: s, operation: $0, protocol: s.protocols.contains(.ec2) ? .ec2 : .query, form: form)
                    }
                }
                if found.isEmpty { throw APIClassificationError("aws: unknown operation \(action.prefix(100)) for service \(service)") }
                if let version, found.contains(where: { $0.service.apiVersion == version }) {
                    found = found.filter { $0.service.apiVersion == version }
                }
                readings.append(found)
            }
        }

        if services.contains(where: { $0.protocols.contains(.cbor) }),
           parts.segments.count == 4, parts.segments[0] == "service", parts.segments[2] == "operation" {
            let path = "/" + parts.segments.joined(separator: "/")
            let found = services.compactMap { s in s.operation(cborPath: path).map { AWSReading(service: s, operation: $0, protocol: .cbor) } }
            if found.isEmpty {
                throw APIClassificationError("aws: \(path.prefix(200)) is not an operation of service \(service)")
            }
            readings.append(found)
        }

        if services.contains(where: \.isREST) {
            let found = restReadings(request, parts, services: services)
            if !found.isEmpty { readings.append(found) }
        }

        guard readings.count <= 1 else {
            let names = readings.map { "\($0[0].operation.name) (\($0[0].protocol.rawValue))" }
            throw APIClassificationError("aws: the request names more than one operation: \(names.joined(separator: ", "))")
        }
        guard let found = readings.first else {
            throw APIClassificationError("aws: no operation of service \(service) matches \(request.method) \(request.rawPath.prefix(200))")
        }
        let reading = try choose(found, host: request.host, signingName: signingName)
        if reading.protocol == .restJSON || reading.protocol == .restXML {
            try checkPath(reading, request, parts, services: services)
        }
        return reading
    }

    /// The form parameters with each key once; refused when a key (compared case-insensitively)
    /// has two different values, as the service would read only one of them.
    static func singleValued(_ form: [(key: String, value: String)]) throws(APIClassificationError) -> [(key: String, value: String)] {
        var seen: [String: String] = [:]
        var result: [(key: String, value: String)] = []
        for (key, value) in form {
            if let earlier = seen[key.lowercased()] {
                guard earlier == value else {
                    throw APIClassificationError("aws: parameter \(key.prefix(100)) is given different values (\(earlier.prefix(60)), \(value.prefix(60)))")
                }
                continue
            }
            seen[key.lowercased()] = value
            result.append((key, value))
        }
        return result
    }

    /// Every REST operation the method and URI fit, over the services that speak REST.
    static func restReadings(_ request: APIRequest, _ parts: AWSRequestParts, services: [AWSService],
                             decodeFirst: Bool = false) -> [AWSReading] {
        var query: [String: [String]] = [:]
        for (key, value) in parts.query { query[key, default: []].append(value) }
        let headerNames = Set(request.headers.map { $0.name.lowercased() })
        var segments = parts.segments
        if decodeFirst {
            segments = percentDecode(request.rawPath).dropFirst().split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        }
        return services.filter(\.isREST).flatMap { service in
            var path = segments
            if service.name == "s3", let bucket = s3Bucket(host: request.host) { path = [bucket] + path }
            let rest = AWSRESTRequest(method: request.method, segments: path, query: query, headerNames: headerNames)
            let protocolName: AWSProtocol = service.protocols.contains(.restXML) ? .restXML : .restJSON
            return service.matches(rest).map { AWSReading(service: service, operation: $0.operation, protocol: protocolName, labels: $0.labels) }
        }
    }

    /// What the path must also satisfy once the operation is chosen: no dot segments outside S3
    /// (S3 keeps them in keys, other front ends may resolve them), and, when an encoded `/` is
    /// in the path, the same operation when the path is decoded before it is split.
    static func checkPath(_ reading: AWSReading, _ request: APIRequest, _ parts: AWSRequestParts,
                          services: [AWSService]) throws(APIClassificationError) {
        if reading.service.name != "s3", parts.segments.contains(where: { $0 == "." || $0 == ".." }) {
            throw APIClassificationError("aws: the path \(request.rawPath.prefix(200)) has . or .. segments")
        }
        guard parts.encodedSlash else { return }
        let other = restReadings(request, parts, services: [reading.service], decodeFirst: true)
        if other.contains(where: { $0.operation.name != reading.operation.name }) {
            throw APIClassificationError("aws: the path \(request.rawPath.prefix(200)) names \(reading.operation.name) or, decoded, another operation")
        }
    }

    /// The bucket of an S3 virtual-hosted-style host (`logs.s3.us-east-1.amazonaws.com`,
    /// `logs.s3-accelerate.amazonaws.com`, `a.b.s3.dualstack.…`, access points, S3 Express, VPC
    /// endpoints): the labels before the last S3 endpoint label (a bucket may be called `s3.x`),
    /// less a `vpce-…` label. nil for path style (`s3.amazonaws.com`) and for hosts without such a
    /// label: a custom endpoint is taken to be path style. S3 Control and Object Lambda hosts begin
    /// with an account or a route, not a bucket.
    static func s3Bucket(host: String) -> String? {
        let labels = host.split(separator: ".")
        guard var end = labels.lastIndex(where: { label in
            label == "s3" || label.hasPrefix("s3express-")
                || (label.hasPrefix("s3-") && !label.hasPrefix("s3-control") && !label.hasPrefix("s3-object-lambda"))
        }) else { return nil }
        if end > 0, labels[end - 1].hasPrefix("vpce-") { end -= 1 }
        return end > 0 ? labels[..<end].joined(separator: ".") : nil
    }

    /// One reading out of several services' candidates (see the type's comment).
    static func choose(_ candidates: [AWSReading], host: String, signingName: String) throws(APIClassificationError) -> AWSReading {
        var left = candidates
        if left.count > 1 {
            // The endpoint prefix nearest the domain: in `s3-control.s3.amazonaws.com` the bucket is
            // called s3-control and the service is s3.
            let hostLabels = host.split(separator: ".")
            let positions = left.map { hostLabels.lastPosition(of: $0.service.endpointPrefix.split(separator: ".")) }
            if let nearest = positions.compactMap({ $0 }).max() {
                left = zip(left, positions).filter { $0.1 == nearest }.map(\.0)
            }
        }
        if left.count > 1, let best = left.compactMap({ $0.operation.http?.specificity }).max(by: { $0.lexicographicallyPrecedes($1) }) {
            left = left.filter { $0.operation.http?.specificity == best }
        }
        if left.count > 1, Set(left.map(\.operation.name)).count == 1,
           let named = left.first(where: { $0.service.name == signingName }) {
            left = [named]
        }
        guard left.count == 1 else {
            let names = left.map { "\($0.service.name) \($0.operation.name)" + ($0.operation.http.map { " \($0.template)" } ?? "") }
            throw APIClassificationError("aws: the request fits more than one operation equally: \(names.joined(separator: ", "))")
        }
        return left[0]
    }
}

private extension Array where Element == Substring {
    /// Where `labels` last occur in these host labels, as a run.
    func lastPosition(of labels: [Substring]) -> Int? {
        guard !labels.isEmpty, labels.count <= count else { return nil }
        return (0...(count - labels.count)).last { Array(self[$0..<($0 + labels.count)]) == labels }
    }
}

// MARK: - Resources, parameters, effects

extension AWSClassifier {
    /// The call: the reading's operation with the resources, parameters and effects of its content.
    /// `framed`: the body is content-encoded or aws-chunked, so it cannot be read as sent; an
    /// operation whose resources or effects are in the body is then refused.
    static func describe(_ reading: AWSReading, _ request: APIRequest, _ parts: AWSRequestParts, framed: Bool,
                         region: String) throws(APIClassificationError) -> APICall {
        let operation = reading.operation
        let service = reading.service.name
        var resources: [String] = []
        var parameters: [(name: String, value: String)] = []
        let bodyMembers = operation.members.filter { $0.location == .body }

        if let template = operation.http?.template {
            var path: [String] = []
            for wire in template.labels {
                guard let value = reading.labels[wire] else { continue }
                let name = operation.members.first { $0.location == .label && $0.wire == wire }?.name ?? wire
                path += [resourceKind(name), value]
                parameters.append((name, value))
            }
            if !path.isEmpty { resources.append(path.joined(separator: "/")) }
            for member in operation.members where member.location == .query {
                for (key, value) in parts.query where key == member.wire { resources.append("\(resourceKind(member.name))/\(value)") }
            }
            parameters += parts.query.filter { !isSigningParameter($0.key) }.map { ($0.key, $0.value) }
        }

        var form: [(key: String, value: String)] = []
        var object: [String: AWSBodyValue] = [:]
        switch reading.protocol {
        case .query, .ec2:
            form = reading.form.filter { !["action", "version"].contains($0.key.lowercased()) && !isSigningParameter($0.key) }
            parameters += form.map { ($0.key, $0.value) }
            for member in bodyMembers {
                for value in formValues(form, member.wire) { resources.append("\(resourceKind(member.name))/\(value)") }
            }
        case .json, .cbor, .restJSON:
            let needed = reading.protocol != .restJSON || !bodyMembers.isEmpty
            if !request.body.isEmpty, needed || parts.mediaType.contains("json") {
                if framed {
                    guard !needed else { throw APIClassificationError("aws: the body of \(operation.name) is content-encoded or aws-chunked: cannot read it") }
                } else if let value = try? (reading.protocol == .cbor ? AWSCBORReader.read(request.body) : readJSON(request.body)),
                          case .object(let members) = value {
                    object = members
                } else if needed {
                    throw APIClassificationError("aws: the body of \(operation.name) is not a \(reading.protocol == .cbor ? "CBOR" : "JSON") object with each key once")
                }
            }
            parameters += object.sorted { $0.key < $1.key }.map { ($0.key, $0.value.rendered) }
            for member in bodyMembers {
                for value in object[member.wire]?.strings ?? [] { resources.append("\(resourceKind(member.name))/\(value)") }
            }
        case .restXML:
            break
        }

        var effects: [String] = []
        switch (service, operation.name) {
        case ("dynamodb", "ExecuteStatement"):
            effects += partiqlEffects([object["Statement"]])
        case ("dynamodb", "BatchExecuteStatement"):
            effects += partiqlEffects(object["Statements"]?.elements.map { $0.member("Statement") } ?? [])
        case ("dynamodb", "ExecuteTransaction"):
            effects += partiqlEffects(object["TransactStatements"]?.elements.map { $0.member("Statement") } ?? [])
        case ("dynamodb", "BatchWriteItem"):
            if case .object(let tables)? = object["RequestItems"] {
                resources += tables.keys.sorted().map { "table/\($0)" }
                if tables.values.contains(where: { $0.elements.contains { $0.member("DeleteRequest") != nil } }) {
                    effects.append("batch-delete")
                }
            }
        case ("dynamodb", "UpdateTable"):
            if object["DeletionProtectionEnabled"]?.isFalse == true { effects.append("protection-off") }
        case ("s3", "PutBucketLifecycleConfiguration"), ("s3", "PutBucketLifecycle"):
            let elements = try xmlElements(request.body, framed: framed, operation: operation.name)
            if elements.contains(where: { $0.name == "Expiration" || $0.name == "NoncurrentVersionExpiration" }) {
                effects.append("expire-objects")
            }
        case ("s3", "DeleteObjects"):
            let bucket = resources.first ?? "bucket/?"
            resources += try xmlElements(request.body, framed: framed, operation: operation.name)
                .filter { $0.name == "Key" }.map { "\(bucket)/key/\($0.text)" }
        case ("s3", "PutObject"), ("s3", "CopyObject"), ("s3", "CompleteMultipartUpload"):
            effects.append("write-object")
        case ("ec2", "ModifyInstanceAttribute"):
            let attribute = formValue(form, "Attribute")?.lowercased()
            if formValue(form, "DisableApiTermination.Value")?.lowercased() == "false"
                || (attribute == "disableapitermination" && formValue(form, "Value")?.lowercased() == "false") {
                effects.append("protection-off")
            }
        case ("rds", "ModifyDBInstance"), ("rds", "ModifyDBCluster"), ("docdb", "ModifyDBInstance"),
             ("docdb", "ModifyDBCluster"), ("neptune", "ModifyDBInstance"), ("neptune", "ModifyDBCluster"):
            if formValue(form, "DeletionProtection")?.lowercased() == "false" { effects.append("protection-off") }
        default:
            break
        }
        if service == "ec2", formValue(form, "DryRun")?.lowercased() == "true" { effects.append("dry-run") }

        var seenResources = Set<String>(), seenEffects = Set<String>()
        return APICall(provider: "aws", service: service, operation: operation.name, region: region,
                       resources: resources.filter { seenResources.insert($0).inserted },
                       effects: effects.filter { seenEffects.insert($0).inserted },
                       parameters: parameters.prefix(200).map { shown($0.name, $0.value) })
    }

    /// `StackName` → `stack`, `DBInstanceIdentifier` → `db-instance`, `QueueUrl` → `queue`,
    /// `Bucket` → `bucket`; a member named only `Id` or `name` keeps its name.
    static func resourceKind(_ member: String) -> String {
        var base = Substring(member)
        for suffix in ["Identifiers", "Identifier", "Names", "Name", "Arns", "ARNs", "Arn", "ARN",
                       "Ids", "IDs", "Id", "ID", "Urls", "Url", "URL"] where base.hasSuffix(suffix) && base.count > suffix.count {
            base = base.dropLast(suffix.count)
            break
        }
        let characters = Array(base)
        var kind = ""
        for (i, c) in characters.enumerated() {
            if i > 0, c.isUppercase {
                let previous = characters[i - 1]
                let next = i + 1 < characters.count ? characters[i + 1] : nil
                if previous.isLowercase || previous.isNumber || (previous.isUppercase && next?.isLowercase == true) { kind += "-" }
            }
            kind += c.lowercased()
        }
        return kind
    }

    /// A query-protocol member's values: `Name`, or the list forms `Name.1`, `Name.member.1`; keys
    /// compared case-insensitively, as the single-value rule does, so no spelling hides a resource.
    static func formValues(_ form: [(key: String, value: String)], _ wire: String) -> [String] {
        let wire = wire.lowercased()
        return form.filter { key, _ in
            let key = key.lowercased()
            guard key != wire else { return true }
            guard key.hasPrefix(wire + ".") else { return false }
            let rest = key.dropFirst(wire.count + 1).split(separator: ".", omittingEmptySubsequences: false)
            return rest.count <= 2 && rest.last!.allSatisfy(\.isNumber) && !rest.last!.isEmpty
        }.map(\.value)
    }

    /// The form parameter's value, key compared case-insensitively (as the single-value rule does).
    static func formValue(_ form: [(key: String, value: String)], _ key: String) -> String? {
        form.first { $0.key.lowercased() == key.lowercased() }?.value
    }

    static func isSigningParameter(_ key: String) -> Bool {
        ["x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-expires", "x-amz-signedheaders",
         "x-amz-signature", "x-amz-security-token", "x-amz-region-set"].contains(key.lowercased())
    }

    /// A parameter as `queue show` prints it: secrets redacted, long values cut.
    static func shown(_ name: String, _ value: String) -> (name: String, value: String) {
        let lowered = name.lowercased().filter { $0 != "-" && $0 != "_" }
        let secret = ["password", "passphrase", "secret", "token", "privatekey", "credential", "sessionkey",
                      "apikey", "authkey", "signature", "customerkey"].contains { lowered.contains($0) }
        if secret { return (name, "<redacted>") }
        return (name, value.count > 200 ? value.prefix(200) + "…" : value)
    }

    /// `partiql-delete` / `partiql-update` for statements that begin so, after whitespace and comments.
    static func partiqlEffects(_ statements: [AWSBodyValue?]) -> [String] {
        statements.compactMap { statement in
            guard case .string(let text)? = statement else { return nil }
            var rest = Substring(text)
            while true {
                rest = rest.drop { $0.isWhitespace }
                if rest.hasPrefix("--") {
                    rest = rest.drop { $0 != "\n" && $0 != "\r" }
                } else if rest.hasPrefix("/*") {
                    guard let end = rest.range(of: "*/") else { return nil }
                    rest = rest[end.upperBound...]
                } else {
                    break
                }
            }
            switch rest.prefix(while: \.isLetter).uppercased() {
            case "DELETE": return "partiql-delete"
            case "UPDATE": return "partiql-update"
            default: return nil
            }
        }
    }
}

// MARK: - Bodies

/// A JSON or CBOR value, as far as classification looks into it.
indirect enum AWSBodyValue: Equatable {
    case string(String)
    case number(String)
    case bool(Bool)
    case null
    case bytes(Int)
    case array([AWSBodyValue])
    case object([String: AWSBodyValue])

    /// A string, or each string of an array of strings.
    var strings: [String] {
        switch self {
        case .string(let s): [s]
        case .array(let items): items.compactMap { if case .string(let s) = $0 { s } else { nil } }
        default: []
        }
    }

    var elements: [AWSBodyValue] { if case .array(let items) = self { items } else { [] } }

    func member(_ key: String) -> AWSBodyValue? { if case .object(let members) = self { members[key] } else { nil } }

    /// `false`, and what a lenient service might take for it (`0`, `"false"`).
    var isFalse: Bool {
        switch self {
        case .bool(let b): !b
        case .number(let n): Double(n) == 0
        case .string(let s): s.lowercased() == "false"
        default: false
        }
    }

    /// Compact JSON-like text for people.
    var rendered: String {
        switch self {
        case .string(let s): s
        case .number(let n): n
        case .bool(let b): b ? "true" : "false"
        case .null: "null"
        case .bytes(let count): "<\(count) bytes>"
        case .array(let items): "[" + items.map(\.quoted).joined(separator: ",") + "]"
        case .object(let members): "{" + members.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\($0.value.quoted)" }.joined(separator: ",") + "}"
        }
    }

    private var quoted: String { if case .string(let s) = self { "\"\(s)\"" } else { rendered } }
}

/// The body as JSON, refused when any object in it names a key twice: parsers disagree on which
/// value counts.
fileprivate func readJSON(_ body: [UInt8]) throws(APIClassificationError) -> AWSBodyValue {
    guard let json = BodyJSON(body) else { throw APIClassificationError("aws: the body is not JSON") }
    if json.namesAMemberTwice { throw APIClassificationError("aws: the JSON body names a key twice") }
    func value(_ json: BodyJSON) -> AWSBodyValue {
        switch json {
        case .string(let s): .string(s)
        case .number(let n): .number(n)
        case .bool(let b): .bool(b)
        case .null: .null
        case .array(let a): .array(a.map(value))
        case .object(let members): .object(Dictionary(members.map { ($0.name, value($0.value)) }) { first, _ in first })
        }
    }
    return value(json)
}

/// The elements of an S3 XML body (local names, prefixes dropped) with the text each begins with,
/// entities and CDATA resolved. A DTD is refused: its entities could add elements unseen here.
fileprivate func xmlElements(_ body: [UInt8], framed: Bool, operation: String) throws(APIClassificationError) -> [(name: String, text: String)] {
    guard !framed else { throw APIClassificationError("aws: the body of \(operation) is content-encoded or aws-chunked: cannot read it") }
    let text = String(decoding: body, as: UTF8.self)
    guard !text.contains("<!DOCTYPE"), !text.contains("<!ENTITY") else {
        throw APIClassificationError("aws: the XML body of \(operation) has a DTD")
    }
    var elements: [(name: String, text: String)] = []
    var rest = Substring(text)
    func skip(past end: String) { rest = rest.range(of: end).map { rest[$0.upperBound...] } ?? "" }
    while let open = rest.firstIndex(of: "<") {
        rest = rest[open...]
        if rest.hasPrefix("<!--") { skip(past: "-->"); continue }
        if rest.hasPrefix("<![CDATA[") { skip(past: "]]>"); continue }
        if rest.hasPrefix("<?") { skip(past: "?>"); continue }
        if rest.hasPrefix("</") || rest.hasPrefix("<!") { skip(past: ">"); continue }
        let name = rest.dropFirst().prefix { !$0.isWhitespace && $0 != ">" && $0 != "/" }
        let local = String(name.split(separator: ":").last ?? "")
        // The tag's end, stepping over quoted attribute values.
        var quote: Character?
        var end = rest.endIndex
        for index in rest.indices.dropFirst() {
            let c = rest[index]
            if let q = quote { if c == q { quote = nil } } else if c == "\"" || c == "'" { quote = c } else if c == ">" { end = index; break }
        }
        guard end < rest.endIndex else { break }
        let selfClosing = rest[rest.index(before: end)] == "/"
        rest = rest[rest.index(after: end)...]
        var content = ""
        while !selfClosing {
            let stop = rest.firstIndex(of: "<") ?? rest.endIndex
            content += xmlUnescape(rest[..<stop])
            rest = rest[stop...]
            guard rest.hasPrefix("<![CDATA[") else { break }
            let inner = rest.dropFirst(9)
            let close = inner.range(of: "]]>")
            content += inner[..<(close?.lowerBound ?? inner.endIndex)]
            rest = close.map { inner[$0.upperBound...] } ?? ""
        }
        elements.append((local, content))
    }
    return elements
}

private func xmlUnescape(_ text: Substring) -> String {
    guard text.contains("&") else { return String(text) }
    var result = ""
    var rest = text
    while let amp = rest.firstIndex(of: "&") {
        result += rest[..<amp]
        rest = rest[amp...]
        guard let semicolon = rest.firstIndex(of: ";") else { break }
        let entity = rest[rest.index(after: amp)..<semicolon]
        let named = ["amp": "&", "lt": "<", "gt": ">", "quot": "\"", "apos": "'"][String(entity)]
        var numeric: String?
        if entity.hasPrefix("#x") || entity.hasPrefix("#X"), let v = UInt32(entity.dropFirst(2), radix: 16) {
            numeric = Unicode.Scalar(v).map { String($0) }
        } else if entity.hasPrefix("#"), let v = UInt32(entity.dropFirst()) {
            numeric = Unicode.Scalar(v).map { String($0) }
        }
        if let replacement = named ?? numeric {
            result += replacement
            rest = rest[rest.index(after: semicolon)...]
        } else {
            result += "&"
            rest = rest.dropFirst()
        }
    }
    return result + rest
}

/// Smithy RPC v2 CBOR bodies (RFC 8949), as far as classification needs: maps with text keys
/// (each once), arrays, text, numbers, booleans, null; byte strings are counted, tags unwrapped.
struct AWSCBORReader {
    private let bytes: [UInt8]
    private var i = 0

    static func read(_ bytes: [UInt8]) throws(APIClassificationError) -> AWSBodyValue {
        var reader = AWSCBORReader(bytes: bytes)
        let value = try reader.value(depth: 0)
        guard reader.i == bytes.count else { throw APIClassificationError("aws: bytes after the CBOR body's value") }
        return value
    }

    private init(bytes: [UInt8]) { self.bytes = bytes }

    private static let malformed = APIClassificationError("aws: malformed CBOR body")
    private static let breakByte: UInt8 = 0xff

    private mutating func byte() throws(APIClassificationError) -> UInt8 {
        guard i < bytes.count else { throw AWSCBORReader.malformed }
        defer { i += 1 }
        return bytes[i]
    }

    /// The head's argument; nil for an indefinite length.
    private mutating func argument(_ info: UInt8) throws(APIClassificationError) -> UInt64? {
        switch info {
        case 0..<24: return UInt64(info)
        case 24...27:
            var value: UInt64 = 0
            for _ in 0..<(1 << (info - 24)) { value = value << 8 | UInt64(try byte()) }
            return value
        case 31: return nil
        default: throw AWSCBORReader.malformed
        }
    }

    /// A definite count, bounded by the bytes left (each item takes at least one).
    private mutating func count(_ info: UInt8) throws(APIClassificationError) -> Int? {
        guard let n = try argument(info) else { return nil }
        guard n <= UInt64(bytes.count - i) else { throw AWSCBORReader.malformed }
        return Int(n)
    }

    private mutating func atBreak() -> Bool {
        guard i < bytes.count, bytes[i] == AWSCBORReader.breakByte else { return false }
        i += 1
        return true
    }

    private mutating func string(_ major: UInt8, _ info: UInt8) throws(APIClassificationError) -> [UInt8] {
        guard let n = try count(info) else {
            var all: [UInt8] = []
            while !atBreak() {
                let head = try byte()
                guard head >> 5 == major, head & 0x1f != 31 else { throw AWSCBORReader.malformed }
                all += try string(major, head & 0x1f)
            }
            return all
        }
        defer { i += n }
        return Array(bytes[i..<(i + n)])
    }

    private mutating func value(depth: Int) throws(APIClassificationError) -> AWSBodyValue {
        guard depth < 64 else { throw APIClassificationError("aws: the CBOR body nests too deeply") }
        let head = try byte()
        let major = head >> 5, info = head & 0x1f
        switch major {
        case 0:
            guard let n = try argument(info) else { throw AWSCBORReader.malformed }
            return .number(String(n))
        case 1:
            guard let n = try argument(info) else { throw AWSCBORReader.malformed }
            return .number(n == .max ? "-18446744073709551616" : "-\(n + 1)")
        case 2:
            return .bytes(try string(major, info).count)
        case 3:
            guard let text = String(bytes: try string(major, info), encoding: .utf8) else { throw AWSCBORReader.malformed }
            return .string(text)
        case 4:
            var items: [AWSBodyValue] = []
            if let n = try count(info) {
                for _ in 0..<n { items.append(try value(depth: depth + 1)) }
            } else {
                while !atBreak() { items.append(try value(depth: depth + 1)) }
            }
            return .array(items)
        case 5:
            var members: [String: AWSBodyValue] = [:]
            let n = try count(info)
            var read = 0
            while n.map({ read < $0 }) ?? !atBreak() {
                guard case .string(let key) = try value(depth: depth + 1) else {
                    throw APIClassificationError("aws: a CBOR map key is not text")
                }
                guard members.updateValue(try value(depth: depth + 1), forKey: key) == nil else {
                    throw APIClassificationError("aws: the CBOR body names a key twice")
                }
                read += 1
            }
            return .object(members)
        case 6:
            guard try argument(info) != nil else { throw AWSCBORReader.malformed }
            return try value(depth: depth + 1)
        default:
            switch info {
            case 20: return .bool(false)
            case 21: return .bool(true)
            case 22, 23: return .null
            case 25:
                let half = UInt16(try byte()) << 8 | UInt16(try byte())
                return .number(String(halfFloat(half)))
            case 26:
                guard let bits = try argument(info) else { throw AWSCBORReader.malformed }
                return .number(String(Double(Float(bitPattern: UInt32(bits)))))
            case 27:
                guard let bits = try argument(info) else { throw AWSCBORReader.malformed }
                return .number(String(Double(bitPattern: bits)))
            default:
                throw AWSCBORReader.malformed
            }
        }
    }
}

/// An IEEE 754 half-precision value, computed (Float16 is not on every Linux architecture).
private func halfFloat(_ bits: UInt16) -> Double {
    let sign: Double = bits & 0x8000 == 0 ? 1 : -1
    let exponent = Int(bits >> 10 & 0x1f), fraction = Double(bits & 0x3ff)
    switch exponent {
    case 0: return sign * fraction * 0x1p-24
    case 31: return fraction == 0 ? sign * .infinity : .nan
    default: return sign * (1 + fraction / 1024) * Double(sign: .plus, exponent: exponent - 15, significand: 1)
    }
}
