import Synchronization

/// botocore's operation table (Generated/AWSOperationTable.swift, written by scripts/aws-operations):
/// every AWS service botocore knows, how its requests name their operation, and which input members
/// name the resources an operation acts on. The services are read on first use; each service's
/// operations when it is first asked for them.
public struct AWSOperationTable: Sendable {
    public let services: [AWSService]
    private let indexBySigningName: [String: [Int]]

    /// The table compiled into airlock.
    public static let botocore = AWSOperationTable(parsing: source)

    /// The services whose requests are signed for `signingName` (the SigV4 scope's service): one
    /// name may be shared (`s3`: s3 and s3control; `rds`: rds, docdb and neptune).
    public func services(signingName: String) -> [AWSService] {
        (indexBySigningName[signingName] ?? []).map { services[$0] }
    }

    /// The service botocore names `name`.
    public func service(named name: String) -> AWSService? {
        services.first { $0.name == name }
    }

    /// One text per service: its line, then its operations' lines.
    init(parsing source: [String]) {
        services = source.map(AWSService.init(text:))
        var index: [String: [Int]] = [:]
        for (i, service) in services.enumerated() {
            for name in service.signingNames { index[name, default: []].append(i) }
        }
        indexBySigningName = index
    }
}

/// One botocore service model: its wire protocols and its operations.
public final class AWSService: Sendable {
    /// botocore's name (`cloudformation`, `s3control`).
    public let name: String
    /// The SigV4 scope's service (`metadata.signingName`, else `endpointPrefix`).
    public var signingName: String { signingNames[0] }
    /// That, then the other signing names the service's endpoint rules use for some requests
    /// (s3: `s3express`, `s3-object-lambda`, `s3-outposts`).
    public let signingNames: [String]
    /// Every protocol the service speaks, in the model's order.
    public let protocols: [AWSProtocol]
    /// `X-Amz-Target`'s prefix (json) and the service name in a CBOR path.
    public let targetPrefix: String?
    public let jsonVersion: String?
    /// A JSON service that still takes the query protocol's `Action=` requests (SQS).
    public let queryCompatible: Bool
    public let endpointPrefix: String
    /// The query protocol's `Version=`.
    public let apiVersion: String
    /// The count the script wrote, which the tests hold `operations.count` to.
    public let declaredOperationCount: Int

    private let text: String
    private let parsed = Mutex<Operations?>(nil)

    private struct Operations {
        var list: [AWSOperation]
        var indexByName: [String: Int]
    }

    init(text: String) {
        self.text = text
        let line = text.utf8.split(separator: UInt8(ascii: "\n"), maxSplits: 1)[0]
        let header = line.split(separator: UInt8(ascii: " ")).map { Substring($0) }
        func optional(_ field: Substring) -> String? { field == "-" ? nil : String(field) }
        name = String(header[0].dropFirst())
        signingNames = header[1].split(separator: ",").map(String.init)
        protocols = header[2].split(separator: ",").map {
            guard let p = AWSProtocol(rawValue: String($0)) else { fatalError("AWS operation table: protocol \($0)") }
            return p
        }
        targetPrefix = optional(header[3])
        jsonVersion = optional(header[4])
        queryCompatible = header[5] == "1"
        endpointPrefix = String(header[6])
        apiVersion = String(header[7])
        declaredOperationCount = Int(header[8]) ?? -1
    }

    private func withOperations<T>(_ body: (Operations) -> T) -> T {
        parsed.withLock { parsed in
            if parsed == nil {
                let rest = isREST
                // Split as bytes: splitting by Characters is many times slower.
                let list = text.utf8.split(separator: UInt8(ascii: "\n")).dropFirst().map { line in
                    AWSOperation(fields: line.split(separator: UInt8(ascii: " ")).map { Substring($0) }, rest: rest)
                }
                parsed = Operations(list: list, indexByName: Dictionary(list.enumerated().map { ($1.name, $0) },
                                                                       uniquingKeysWith: { a, _ in a }))
            }
            return body(parsed!)
        }
    }

    /// Every operation, by name.
    public var operations: [AWSOperation] { withOperations(\.list) }

    /// Whether requests name their operation by method and URI (rest-json, rest-xml).
    public var isREST: Bool { protocols.contains(.restJSON) || protocols.contains(.restXML) }

    /// Whether the service reads the query protocol's `Action=` (query, ec2, or query-compatible JSON).
    public var readsAction: Bool { protocols.contains(.query) || protocols.contains(.ec2) || queryCompatible }

    /// The operation named exactly `name` (AWS compares operation names case-sensitively).
    public func operation(named name: some StringProtocol) -> AWSOperation? {
        withOperations { operations in operations.indexByName[String(name)].map { operations.list[$0] } }
    }

    /// The operation an `X-Amz-Target` value (`targetPrefix.OperationName`) names, when the prefix
    /// is this service's and the service speaks JSON.
    public func operation(target: some StringProtocol) -> AWSOperation? {
        guard protocols.contains(.json), let targetPrefix, let dot = target.lastIndex(of: "."),
              target[..<dot] == targetPrefix else { return nil }
        return operation(named: target[target.index(after: dot)...])
    }

    /// The operation a Smithy RPC v2 CBOR path (`/service/{targetPrefix}/operation/{Name}`) names.
    public func operation(cborPath path: some StringProtocol) -> AWSOperation? {
        guard protocols.contains(.cbor), let (prefix, name) = AWSService.cborPath(path), prefix == targetPrefix else {
            return nil
        }
        return operation(named: name)
    }

    /// The service and operation names of a CBOR path, when it has that shape.
    public static func cborPath(_ path: some StringProtocol) -> (service: String, operation: String)? {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 5, parts[0].isEmpty, parts[1] == "service", parts[3] == "operation",
              !parts[2].isEmpty, !parts[4].isEmpty else { return nil }
        return (String(parts[2]), String(parts[4]))
    }

    /// Every operation whose method and URI template the request fits (REST services), aliases left
    /// out: the request is read as their primary, which fits equally.
    func matches(_ request: AWSRESTRequest) -> [AWSRESTMatch] {
        operations.compactMap { operation in
            guard let http = operation.http, http.primary == nil, http.method == request.method,
                  http.headers.allSatisfy(request.headerNames.contains),
                  http.template.query.allSatisfy({ request.satisfies($0) }),
                  let labels = http.template.match(request.segments) else { return nil }
            return AWSRESTMatch(operation: operation, labels: labels)
        }
    }
}

/// One operation: its name, its HTTP binding (REST services) and the input members that name resources.
public struct AWSOperation: Sendable {
    public let name: String
    public let http: AWSHTTPBinding?
    public let members: [AWSMember]

    init(fields: [Substring], rest: Bool) {
        name = String(fields[0])
        var http: AWSHTTPBinding?
        if rest {
            let flags = fields.dropFirst(3)
            http = AWSHTTPBinding(method: String(fields[1]), template: AWSURITemplate(fields[2]),
                                  headers: flags.filter { $0.hasPrefix("!") }.map { String($0.dropFirst()) },
                                  primary: flags.first { $0.hasPrefix("@") }.map { String($0.dropFirst()) })
        }
        self.http = http
        let tokens = fields.dropFirst(http == nil ? 1 : 3).filter { $0.first != "!" && $0.first != "@" }
        members = tokens.map { token in
            let parts = token.split(separator: "=", maxSplits: 1)
            let name = String(parts[0])
            let wire = parts.count == 2 ? String(parts[1]) : name
            if wire.hasPrefix("?") { return AWSMember(name: name, wire: String(wire.dropFirst()), location: .query) }
            if http?.template.labels.contains(wire) == true { return AWSMember(name: name, wire: wire, location: .label) }
            return AWSMember(name: name, wire: wire, location: .body)
        }
    }
}

/// How a REST operation is called.
public struct AWSHTTPBinding: Sendable {
    public let method: String
    public let template: AWSURITemplate
    /// Required headers that tell the operation apart from one with the same template (lowercase).
    public let headers: [String]
    /// Set when the operation is a wire alias: requests are read as this operation.
    public let primary: String?

    /// How specific the binding is, for choosing among those a request fits: more literal path
    /// segments first, then more required query keys and headers, then single-segment labels over
    /// greedy ones.
    var specificity: [Int] {
        var literals = 0, labels = 0
        for segment in template.segments {
            // A trailing slash is no literal: `/flows/{id}/` is no more specific than `/flows/{id}`.
            if case .literal(let text) = segment, !text.isEmpty { literals += 1 }
            if case .label = segment { labels += 1 }
        }
        return [literals, template.query.count + headers.count, labels]
    }
}

/// An input member that names a resource, and where its value is on the wire.
public struct AWSMember: Sendable, Equatable {
    public enum Location: Sendable { case label, query, body }
    /// The member's name in the model (`HostedZoneId`).
    public let name: String
    /// Its name on the wire: the URI label, query key, form key or JSON key (`Id`, `InstanceId`).
    public let wire: String
    public let location: Location
}

/// A REST requestUri: path segments (literals, `{Label}`, greedy `{Label+}`) and the query keys a
/// request must carry (`?lifecycle`, `?list-type=2`, `?uploadId`).
public struct AWSURITemplate: Sendable, CustomStringConvertible {
    public enum Segment: Sendable, Equatable {
        case literal(String)
        case label(String)
        case greedy(String)
    }
    public let segments: [Segment]
    /// Each key and, for `key=value`, the value it must have.
    public let query: [(key: String, value: String?)]
    public let description: String

    init(_ text: some StringProtocol) {
        description = String(text)
        let parts = text.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        segments = parts[0].dropFirst().split(separator: "/", omittingEmptySubsequences: false).map { s in
            guard s.first == "{", s.last == "}" else { return .literal(String(s)) }
            let name = s.dropFirst().dropLast()
            return name.last == "+" ? .greedy(String(name.dropLast())) : .label(String(name))
        }
        query = parts.count < 2 ? [] : parts[1].split(separator: "&").map { pair in
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return (String(kv[0]), kv.count == 2 ? String(kv[1]) : nil)
        }
    }

    /// The wire names of the labels, in path order.
    public var labels: [String] {
        segments.compactMap {
            switch $0 {
            case .literal: nil
            case .label(let name), .greedy(let name): name
            }
        }
    }

    /// The label values when `path` (decoded segments, after the leading `/`) fits the template.
    /// A label takes one non-empty segment, a greedy label one or more, joined by `/`. Without a
    /// greedy label a trailing `/` on either side is not significant (S3's `/bucket/` is the bucket);
    /// with one, it belongs to the value (the key `dir/`).
    func match(_ path: [String]) -> [String: String]? {
        var template = segments, path = path
        if !segments.contains(where: { if case .greedy = $0 { true } else { false } }) {
            if template.last == .literal("") { template.removeLast() }
            if path.last == "" { path.removeLast() }
        }
        var labels: [String: String] = [:]
        return AWSURITemplate.match(template[...], path[...], &labels) ? labels : nil
    }

    private static func match(_ template: ArraySlice<Segment>, _ path: ArraySlice<String>,
                              _ labels: inout [String: String]) -> Bool {
        guard let first = template.first else { return path.isEmpty }
        switch first {
        case .literal(let text):
            return path.first == text && match(template.dropFirst(), path.dropFirst(), &labels)
        case .label(let name):
            guard let value = path.first, !value.isEmpty else { return false }
            labels[name] = value
            return match(template.dropFirst(), path.dropFirst(), &labels)
        case .greedy(let name):
            // The longest capture that lets the rest of the template fit.
            let rest = template.dropFirst()
            for end in stride(from: path.endIndex, to: path.startIndex, by: -1) {
                let value = path[path.startIndex..<end].joined(separator: "/")
                guard !value.isEmpty else { continue }
                var inner = labels
                if match(rest, path[end...], &inner) {
                    labels = inner
                    labels[name] = value
                    return true
                }
            }
            return false
        }
    }
}

/// What a REST request offers the templates: decoded path segments, query and header names.
struct AWSRESTRequest {
    var method: String
    var segments: [String]
    /// Decoded query keys and every value each was given.
    var query: [String: [String]]
    var headerNames: Set<String>

    func satisfies(_ key: (key: String, value: String?)) -> Bool {
        guard let values = query[key.key] else { return false }
        guard let value = key.value else { return true }
        return values.allSatisfy { $0 == value }
    }
}

struct AWSRESTMatch {
    var operation: AWSOperation
    /// Label wire name → decoded value.
    var labels: [String: String]
}
