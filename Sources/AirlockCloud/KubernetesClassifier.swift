import AirlockPolicy

/// Reads a request to a Kubernetes API server the way the server's own request-info parser
/// does: the verb from the method and the path's shape, the API group as the service, and the
/// object as `namespaces/NS/RESOURCE/NAME[/SUBRESOURCE]`.
///
/// Where the server and a naive reading could disagree, the classifier errs towards holding:
/// a dry run is only recognised in the form the server honours, and a scale it cannot read is
/// taken to be to zero.
public enum KubernetesClassifier {
    /// Non-resource paths that only describe the server (`/version`, `/openapi/v2`, `/healthz/etcd`).
    static let discoveryRoots: Set<String> = ["version", "healthz", "livez", "readyz", "openapi", ".well-known", "openid", "metrics"]

    public static func classify(_ request: APIRequest) throws(APIClassificationError) -> APICall {
        let segments = try RequestParts.segments(of: request, allowingSlash: false, provider: "Kubernetes")
        let query = RequestParts.query(of: request)
        func unreadable(_ why: String) -> APIClassificationError {
            APIClassificationError("Kubernetes: cannot read \(request.method) \(request.rawPath): \(why)")
        }

        // Group and version, then the rest; anything shorter is discovery.
        let group: String, version: String, rest: ArraySlice<String>
        switch segments.first {
        case "api"? where segments.count > 2:
            (group, version, rest) = ("core", segments[1], segments[2...])
        case "apis"? where segments.count > 3:
            (group, version, rest) = (segments[1], segments[2], segments[3...])
        case nil, "api"?, "apis"?:
            return try discovery(request, segments)
        case let root? where discoveryRoots.contains(root):
            return try discovery(request, segments)
        default:
            throw unreadable("not a Kubernetes API path")
        }

        // `/api/v1/watch/...`: the old spelling of a watch, which the server still routes.
        var parts = rest
        var watchPrefix = false
        if parts.first == "watch" {
            guard parts.count > 1, ["GET", "HEAD"].contains(request.method) else { throw unreadable("a watch path takes GET") }
            parts = parts.dropFirst()
            watchPrefix = true
        } else if parts.first == "proxy" {
            throw unreadable("the /proxy/ path prefix is not served any more")
        }
        // `namespaces/NS/RESOURCE/...` is a namespaced object; `namespaces/NS`, `namespaces/NS/status`
        // and `namespaces/NS/finalize` are the namespace object itself and its subresources.
        var namespace: String?
        var object = parts
        if parts.first == "namespaces", parts.count > 1 {
            namespace = parts[parts.startIndex + 1]
            if parts.count > 2, !["status", "finalize"].contains(parts[parts.startIndex + 2]) {
                object = parts.dropFirst(2)
            }
        }
        let items = Array(object)
        let resource = items[0]
        let name = items.count > 1 ? items[1] : nil
        let subresource = items.count > 2 ? items[2] : nil

        let verb: String
        switch request.method {
        case _ where watchPrefix: verb = "watch"
        case "GET", "HEAD": verb = name != nil ? "get" : (query.contains { $0.name == "watch" && isGoTrue($0.value) } ? "watch" : "list")
        case "POST": verb = "create"
        case "PUT": verb = "update"
        case "PATCH": verb = "patch"
        case "DELETE": verb = name == nil ? "deletecollection" : "delete"
        default: throw unreadable("the API server serves no \(request.method) requests")
        }

        var effects: [String] = []
        if isDryRun(request, query: query) { effects.append("dry-run") }
        if verb == "update" || verb == "patch", setsReplicasToZero(request.body, subresource: subresource) {
            effects.append("scale-to-zero")
        }

        var parameters: [(name: String, value: String)] = [
            ("apiVersion", group == "core" ? version : "\(group)/\(version)"),
            ("resource", resource + (subresource.map { "/" + $0 } ?? "")),
        ]
        if let namespace { parameters.append(("namespace", namespace)) }
        if let name { parameters.append(("name", name)) }
        for selector in ["labelSelector", "fieldSelector"] {
            if let value = query.last(where: { $0.name == selector })?.value { parameters.append((selector, value)) }
        }
        return APICall(provider: "kubernetes", service: group, operation: verb, resources: [parts.joined(separator: "/")],
                       effects: effects, parameters: parameters)
    }

    /// A path that only describes the server: readable, never changed.
    private static func discovery(_ request: APIRequest, _ segments: [String]) throws(APIClassificationError) -> APICall {
        guard ["GET", "HEAD"].contains(request.method) else {
            throw APIClassificationError("Kubernetes: \(request.method) \(request.rawPath) is not a request the API server serves")
        }
        let path = segments.joined(separator: "/")
        return APICall(provider: "kubernetes", service: "discovery", operation: "get", resources: path.isEmpty ? [] : [path])
    }

    /// Whether the server will only pretend. A DELETE with a body takes its options from the body
    /// and ignores the query, so a `?dryRun=All` beside a body is no dry run at all; every other
    /// request takes `dryRun` from the query, where the only value the server accepts is `All`.
    private static func isDryRun(_ request: APIRequest, query: [(name: String, value: String)]) -> Bool {
        if request.method == "DELETE", !request.body.isEmpty {
            // Older servers matched option names regardless of case; every spelling must agree.
            guard case .object(let members)? = BodyJSON(request.body) else { return false }
            let dryRuns = members.filter { $0.name.lowercased() == "dryrun" }
            return !dryRuns.isEmpty && dryRuns.allSatisfy { member in
                guard member.name == "dryRun", case .array(let values) = member.value, !values.isEmpty else { return false }
                return values.allSatisfy { $0 == .string("All") }
            }
        }
        let dryRuns = query.filter { $0.name == "dryRun" }
        return !dryRuns.isEmpty && dryRuns.allSatisfy { $0.value == "All" }
    }

    /// Whether an update or patch sets `spec.replicas` to zero, in any of the shapes the server
    /// takes: the object or a merge patch (`{"spec":{"replicas":0}}`), or a JSON patch
    /// (`[{"op":"replace","path":"/spec/replicas","value":0}]`). Every duplicate member counts,
    /// since servers differ in which one wins. A body that is not JSON (YAML, protobuf) sent to
    /// the `scale` subresource counts as zero: it can say nothing else of interest.
    static func setsReplicasToZero(_ body: [UInt8], subresource: String?) -> Bool {
        guard let json = BodyJSON(body) else { return subresource == "scale" }
        if json.values(at: ["spec", "replicas"]).contains(where: \.isZero) { return true }
        guard case .array(let operations) = json else { return false }
        return operations.contains { operation in
            let targets = operation.values(at: ["path"]).contains { value in
                if case .string(let path) = value { return path.lowercased() == "/spec/replicas" } else { return false }
            }
            guard targets else { return false }
            let ops = operation.values(at: ["op"]).compactMap { value -> String? in
                if case .string(let op) = value { return op.lowercased() } else { return nil }
            }
            // `copy` and `move` bring a value from elsewhere in the object, which may be zero.
            if ops.contains(where: { $0 == "copy" || $0 == "move" }) { return true }
            return ops.contains(where: { $0 == "add" || $0 == "replace" }) && operation.values(at: ["value"]).contains(where: \.isZero)
        }
    }

    /// What Go's `strconv.ParseBool` reads as true, which is how the server reads `watch=`.
    private static func isGoTrue(_ value: String) -> Bool {
        ["1", "t", "T", "true", "TRUE", "True"].contains(value)
    }
}

// MARK: - Reading requests (shared by the classifiers)

/// The pieces of a request target that the Kubernetes, Google Cloud and Azure classifiers read alike.
enum RequestParts {
    /// The raw path's segments, each percent-decoded exactly once. A request whose path could be
    /// read two ways is refused rather than guessed at: an empty segment (`//`, a trailing `/`),
    /// `.` or `..` (raw or decoded, which a server might resolve), a malformed escape, bytes that
    /// are not UTF-8, and — unless `allowingSlash`, for names such as Cloud Storage's objects
    /// that may hold one — a `%2F`, which a server that decodes before splitting reads as two
    /// segments. `/` alone has no segments.
    static func segments(of request: APIRequest, allowingSlash: Bool, provider: String) throws(APIClassificationError) -> [String] {
        let raw = request.rawPath
        func refuse(_ why: String) -> APIClassificationError {
            APIClassificationError("\(provider): cannot read the path \(raw): \(why)")
        }
        guard raw.hasPrefix("/") else { throw refuse("it does not start with /") }
        if raw == "/" { return [] }
        var segments: [String] = []
        for piece in raw.utf8.dropFirst().split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false) {
            guard let bytes = percentDecoded(piece, plusIsSpace: false) else { throw refuse("a malformed %-escape") }
            guard let segment = String(validating: bytes, as: UTF8.self) else { throw refuse("a segment that is not UTF-8") }
            if segment.isEmpty { throw refuse("an empty segment") }
            if segment == "." || segment == ".." { throw refuse("a \(segment) segment") }
            if !allowingSlash && segment.contains("/") { throw refuse("an encoded / in \"\(segment)\"") }
            segments.append(segment)
        }
        return segments
    }

    /// The raw query's `name=value` pairs decoded as Go's `net/url` (and most servers) read them:
    /// `+` is a space, and a pair with a malformed escape or a `;` is dropped, as Go drops it.
    static func query(of request: APIRequest) -> [(name: String, value: String)] {
        guard let raw = request.rawQuery else { return [] }
        return raw.utf8.split(separator: UInt8(ascii: "&")).compactMap { piece in
            guard !piece.contains(UInt8(ascii: ";")) else { return nil }
            let equals = piece.firstIndex(of: UInt8(ascii: "=")) ?? piece.endIndex
            let value = equals == piece.endIndex ? piece[equals...] : piece[piece.index(after: equals)...]
            guard let name = percentDecoded(piece[..<equals], plusIsSpace: true), let value = percentDecoded(value, plusIsSpace: true),
                  let nameText = String(validating: name, as: UTF8.self), let valueText = String(validating: value, as: UTF8.self)
            else { return nil }
            return (nameText, valueText)
        }
    }

    /// `%XX` decoded once; a `%` without two hex digits after it makes it nil, or with
    /// `keepingMalformed` (as AWS reads a request, and signs one) stays as it is.
    static func percentDecoded(_ bytes: some Collection<UInt8>, plusIsSpace: Bool, keepingMalformed: Bool = false) -> [UInt8]? {
        let bytes = Array(bytes)
        var out: [UInt8] = []
        var i = 0
        while i < bytes.count {
            switch bytes[i] {
            case UInt8(ascii: "%"):
                guard i + 2 < bytes.count, let high = hexDigit(bytes[i + 1]), let low = hexDigit(bytes[i + 2]) else {
                    guard keepingMalformed else { return nil }
                    out.append(bytes[i])
                    i += 1
                    continue
                }
                out.append(high << 4 | low)
                i += 3
            case UInt8(ascii: "+") where plusIsSpace:
                out.append(UInt8(ascii: " "))
                i += 1
            default:
                out.append(bytes[i])
                i += 1
            }
        }
        return out
    }

    static func hexDigit(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

/// A JSON request body. Objects keep every member in order, duplicate names included, so that a
/// check can look at every value some server might take: JSON parsers differ on which duplicate
/// wins, and the one that matters is upstream's, not ours.
indirect enum BodyJSON: Equatable {
    case object([Member])
    case array([BodyJSON])
    case string(String)
    /// The number as written (`0`, `-0.0`, `1e3`).
    case number(String)
    case bool(Bool)
    case null

    struct Member: Equatable {
        var name: String
        var value: BodyJSON
    }

    /// Deeper than this is refused: no request body worth reading nests so far, and the parser recurses.
    static let maximumDepth = 128

    /// nil when `bytes` is not one JSON value (surrounded by whitespace at most).
    init?(_ bytes: [UInt8]) {
        var reader = BodyJSONReader(bytes: bytes)
        guard let value = reader.value(depth: 0) else { return nil }
        reader.skipWhitespace()
        guard reader.index == bytes.count else { return nil }
        self = value
    }

    /// Every value at `path` from here, following every member whose name matches each step
    /// regardless of case (servers have matched field names both ways).
    func values(at path: [String]) -> [BodyJSON] {
        guard let step = path.first else { return [self] }
        guard case .object(let members) = self else { return [] }
        return members.filter { $0.name.lowercased() == step.lowercased() }.flatMap { $0.value.values(at: Array(path.dropFirst())) }
    }

    /// A number equal to zero however it is written (`0`, `-0`, `0.0`, `0e7`).
    var isZero: Bool {
        guard case .number(let text) = self else { return false }
        return Double(text) == 0
    }
}

/// A strict recursive-descent reader of RFC 8259 JSON.
private struct BodyJSONReader {
    let bytes: [UInt8]
    var index = 0

    mutating func skipWhitespace() {
        while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
    }

    mutating func value(depth: Int) -> BodyJSON? {
        guard depth < BodyJSON.maximumDepth else { return nil }
        skipWhitespace()
        guard index < bytes.count else { return nil }
        switch bytes[index] {
        case UInt8(ascii: "{"):
            index += 1
            var members: [BodyJSON.Member] = []
            skipWhitespace()
            if consume("}") { return .object(members) }
            repeat {
                skipWhitespace()
                guard let name = string() else { return nil }
                skipWhitespace()
                guard consume(":"), let value = value(depth: depth + 1) else { return nil }
                members.append(.init(name: name, value: value))
                skipWhitespace()
            } while consume(",")
            return consume("}") ? .object(members) : nil
        case UInt8(ascii: "["):
            index += 1
            var elements: [BodyJSON] = []
            skipWhitespace()
            if consume("]") { return .array(elements) }
            repeat {
                guard let element = value(depth: depth + 1) else { return nil }
                elements.append(element)
                skipWhitespace()
            } while consume(",")
            return consume("]") ? .array(elements) : nil
        case UInt8(ascii: "\""):
            return string().map(BodyJSON.string)
        case UInt8(ascii: "t"):
            return literal("true") ? .bool(true) : nil
        case UInt8(ascii: "f"):
            return literal("false") ? .bool(false) : nil
        case UInt8(ascii: "n"):
            return literal("null") ? .null : nil
        default:
            return number()
        }
    }

    private mutating func consume(_ character: Unicode.Scalar) -> Bool {
        guard index < bytes.count, bytes[index] == UInt8(ascii: character) else { return false }
        index += 1
        return true
    }

    private mutating func literal(_ word: String) -> Bool {
        let expected = Array(word.utf8)
        guard bytes.count - index >= expected.count, Array(bytes[index..<index + expected.count]) == expected else { return false }
        index += expected.count
        return true
    }

    private mutating func number() -> BodyJSON? {
        let start = index
        func digits() -> Int {
            let from = index
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
            return index - from
        }
        _ = consume("-")
        let integer = index
        let count = digits()
        guard count > 0, count == 1 || bytes[integer] != UInt8(ascii: "0") else { return nil }
        if consume(".") { guard digits() > 0 else { return nil } }
        if consume("e") || consume("E") {
            if !consume("+") { _ = consume("-") }
            guard digits() > 0 else { return nil }
        }
        return .number(String(decoding: bytes[start..<index], as: UTF8.self))
    }

    /// A string at `index` (which holds its opening quote), escapes decoded; nil when malformed.
    private mutating func string() -> String? {
        guard consume("\"") else { return nil }
        var out: [UInt8] = []
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            switch byte {
            case UInt8(ascii: "\""):
                return String(validating: out, as: UTF8.self)
            case UInt8(ascii: "\\"):
                guard index < bytes.count else { return nil }
                let escape = bytes[index]
                index += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(escape)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    guard var scalar = hex4() else { return nil }
                    if (0xD800..<0xDC00).contains(scalar) {
                        // A high surrogate must be followed by an escaped low one.
                        guard consume("\\"), consume("u"), let low = hex4(), (0xDC00..<0xE000).contains(low) else { return nil }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let unicode = Unicode.Scalar(scalar) else { return nil }
                    out += Array(String(Character(unicode)).utf8)
                default:
                    return nil
                }
            case 0x00..<0x20:
                return nil
            default:
                out.append(byte)
            }
        }
        return nil
    }

    private mutating func hex4() -> UInt32? {
        guard bytes.count - index >= 4 else { return nil }
        var value: UInt32 = 0
        for byte in bytes[index..<index + 4] {
            guard let digit = RequestParts.hexDigit(byte) else { return nil }
            value = value << 4 | UInt32(digit)
        }
        index += 4
        return value
    }
}
