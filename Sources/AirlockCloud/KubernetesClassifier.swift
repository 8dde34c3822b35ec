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
