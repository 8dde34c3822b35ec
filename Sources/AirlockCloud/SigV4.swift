import AirlockPolicy
import Crypto
import Foundation
import Synchronization

/// AWS credentials: the operator's real ones (outside the sandbox only) or the placeholders the
/// agent holds. Printing them never shows the secret or the session token.
public struct AWSCredentials: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var accessKeyID: String
    public var secretAccessKey: String
    public var sessionToken: String?

    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
    }

    public var description: String {
        "AWSCredentials(\(accessKeyID), secret redacted\(sessionToken == nil ? "" : ", session token redacted"))"
    }

    public var debugDescription: String { description }

    /// `dump()` and other reflection see the access key id only.
    public var customMirror: Mirror { Mirror(self, children: ["accessKeyID": accessKeyID], displayStyle: .struct) }
}

/// Why a request's SigV4 signature could not be read; the proxy refuses the request with this line.
public struct SigV4Error: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A signature's credential scope: whose key, which day (`yyyymmdd`), which region and service.
public struct SigV4Scope: Sendable, Equatable, CustomStringConvertible {
    public var accessKeyID: String
    public var date: String
    public var region: String
    public var service: String

    public init(accessKeyID: String, date: String, region: String, service: String) {
        self.accessKeyID = accessKeyID
        self.date = date
        self.region = region
        self.service = service
    }

    /// Reads `AKID/20261203/us-east-1/s3/aws4_request`, a `Credential=` or `X-Amz-Credential` value.
    public init(credential: String) throws(SigV4Error) {
        let parts = credential.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 5, parts[4] == "aws4_request" else {
            throw SigV4Error("SigV4 credential \(SigV4.quoted(credential)) is not KEY/DATE/REGION/SERVICE/aws4_request")
        }
        guard parts[1].utf8.count == 8, parts[1].utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
            throw SigV4Error("SigV4 credential \(SigV4.quoted(credential)) has no yyyymmdd date")
        }
        guard [parts[0], parts[2], parts[3]].allSatisfy({ !$0.isEmpty && !$0.utf8.contains(where: SigV4.isWhitespace) }) else {
            throw SigV4Error("SigV4 credential \(SigV4.quoted(credential)) has an empty or blank key, region or service")
        }
        self.init(accessKeyID: parts[0], date: parts[1], region: parts[2], service: parts[3])
    }

    public var description: String { "\(accessKeyID)/\(date)/\(region)/\(service)/aws4_request" }
}

/// The SigV4 signature a request arrived with, from its `Authorization` header or, presigned, from
/// its query.
public struct SigV4Signature: Sendable, Equatable {
    public var scope: SigV4Scope
    /// Lowercase header names, as the signature lists them.
    public var signedHeaders: [String]
    /// 64 lowercase hex digits.
    public var signature: String
    /// Whether it came from the query (a presigned URL) rather than the Authorization header.
    public var presigned: Bool

    public init(scope: SigV4Scope, signedHeaders: [String], signature: String, presigned: Bool) {
        self.scope = scope
        self.signedHeaders = signedHeaders
        self.signature = signature
        self.presigned = presigned
    }

    /// The signature `request` carries; nil when it carries none. A malformed one, two
    /// `Authorization` headers, or a header and a presigned query together (AWS accepts only one
    /// way of signing per request) throw.
    public static func of(_ request: APIRequest) throws(SigV4Error) -> SigV4Signature? {
        let headers = request.values("authorization")
        let query = SigV4.queryPairs(request.rawQuery ?? "")
        let presigned = query.contains { presignedNames.contains(String(decoding: $0.name, as: UTF8.self)) }
        switch (headers.count, presigned) {
        case (0, false): return nil
        case (1, false): return try SigV4Signature(authorization: headers[0])
        case (0, true): return try SigV4Signature(presignedQuery: request.rawQuery ?? "")
        case (_, true): throw SigV4Error("the request is signed both in its Authorization header and in its query")
        default: throw SigV4Error("the request has \(headers.count) Authorization headers")
        }
    }

    private static let presignedNames: Set = ["X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-SignedHeaders", "X-Amz-Signature"]

    /// Reads `AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`, tolerating what
    /// clients differ in: blanks around the commas and the order of the three.
    public init(authorization: String) throws(SigV4Error) {
        let value = SigV4.trimmingWhitespace(authorization[...])
        let algorithm = value.prefix { !SigV4.isWhitespace($0.asciiValue ?? 0) }
        guard algorithm == SigV4.algorithm else {
            let what = algorithm.isEmpty ? "empty" : SigV4.quoted(algorithm)
            throw SigV4Error("Authorization scheme \(what) is not \(SigV4.algorithm)")
        }
        var fields: [String: String] = [:]
        for part in value.dropFirst(algorithm.count).split(separator: ",", omittingEmptySubsequences: false) {
            let field = SigV4.trimmingWhitespace(part)
            guard let equals = field.firstIndex(of: "=") else {
                throw SigV4Error("Authorization component \(SigV4.quoted(field)) is not NAME=VALUE")
            }
            let name = String(field[..<equals]), fieldValue = String(field[field.index(after: equals)...])
            guard ["Credential", "SignedHeaders", "Signature"].contains(name) else {
                throw SigV4Error("Authorization has an unknown component \(SigV4.quoted(name))")
            }
            guard fields.updateValue(fieldValue, forKey: name) == nil else {
                throw SigV4Error("Authorization names \(name) twice")
            }
        }
        try self.init(credential: fields["Credential"], signedHeaders: fields["SignedHeaders"], signature: fields["Signature"],
                      presigned: false, origin: "Authorization")
    }

    /// Reads a presigned request's `X-Amz-Algorithm`, `X-Amz-Credential` (percent-encoded),
    /// `X-Amz-SignedHeaders` and `X-Amz-Signature` from its raw query.
    public init(presignedQuery: Substring) throws(SigV4Error) {
        var fields: [String: String] = [:]
        for (name, value) in SigV4.queryPairs(presignedQuery) {
            let name = String(decoding: name, as: UTF8.self)
            guard SigV4Signature.presignedNames.contains(name) else { continue }
            guard fields.updateValue(String(decoding: value, as: UTF8.self), forKey: name) == nil else {
                throw SigV4Error("the query names \(name) twice")
            }
        }
        guard fields["X-Amz-Algorithm"] == SigV4.algorithm else {
            throw SigV4Error("presigned query's X-Amz-Algorithm \(SigV4.quoted(fields["X-Amz-Algorithm"] ?? "")) is not \(SigV4.algorithm)")
        }
        try self.init(credential: fields["X-Amz-Credential"], signedHeaders: fields["X-Amz-SignedHeaders"],
                      signature: fields["X-Amz-Signature"], presigned: true, origin: "presigned query")
    }

    private init(credential: String?, signedHeaders: String?, signature: String?, presigned: Bool, origin: String) throws(SigV4Error) {
        guard let credential, let signedHeaders, let signature else {
            let missing = [("Credential", credential), ("SignedHeaders", signedHeaders), ("Signature", signature)].filter { $0.1 == nil }
            throw SigV4Error("\(origin) lacks \(missing.map(\.0).joined(separator: " and "))")
        }
        let names = signedHeaders.split(separator: ";", omittingEmptySubsequences: false).map(String.init)
        guard names.allSatisfy({ !$0.isEmpty && $0.utf8.allSatisfy(SigV4.isLowercaseTokenByte) }) else {
            throw SigV4Error("\(origin) SignedHeaders \(SigV4.quoted(signedHeaders)) is not lowercase header names separated by ;")
        }
        guard signature.utf8.count == 64, signature.utf8.allSatisfy({ SigV4.hexDigits.contains($0) }) else {
            throw SigV4Error("\(origin) Signature \(SigV4.quoted(signature)) is not 64 lowercase hex digits")
        }
        self.init(scope: try SigV4Scope(credential: credential), signedHeaders: names, signature: signature, presigned: presigned)
    }
}

/// AWS Signature Version 4, as botocore computes it: the proxy re-signs a request the agent signed
/// with placeholder keys.
public enum SigV4 {
    public static let algorithm = "AWS4-HMAC-SHA256"

    /// The signing names botocore signs with S3SigV4Auth (botocore/handlers.py, S3_SIGNING_NAMES),
    /// which signs the path as sent; every other service's path is normalised and encoded again.
    static let s3SigningNames: Set = ["s3", "s3-object-lambda", "s3-outposts", "s3express"]

    /// `request` signed with `credentials` at `date`: `Authorization`, `X-Amz-Date` and, when the
    /// credentials have one, `X-Amz-Security-Token` replace any the agent sent (an agent's token goes
    /// when the credentials have none). Signed: the headers the agent's own signature signed, and
    /// host, x-amz-date, x-amz-security-token, x-amz-content-sha256 and content-type when present.
    /// The payload hash is the request's `x-amz-content-sha256` when it has one (S3's hex,
    /// `UNSIGNED-PAYLOAD`, …), else `payloadHash` when the caller already hashed the body, else the
    /// body's SHA-256.
    public static func sign(_ request: APIRequest, credentials: AWSCredentials, region: String, service: String, date: Date,
                            payloadHash: String? = nil) -> APIRequest {
        let timestamp = amzDate(date)
        var signed = request
        signed.headers.removeAll { ["authorization", "x-amz-date", "x-amz-security-token"].contains($0.name.lowercased()) }
        signed.headers.append((name: "X-Amz-Date", value: timestamp))
        if let token = credentials.sessionToken {
            signed.headers.append((name: "X-Amz-Security-Token", value: token))
        }

        // An agent's signature that cannot be read leaves the fixed set; the proxy refuses such a
        // request before it gets here.
        let agentSigned = request.values("authorization").count == 1
            ? (try? SigV4Signature(authorization: request.values("authorization")[0]))?.signedHeaders ?? [] : []
        let present = Set(signed.headers.map { $0.name.lowercased() }).union(["host"])
        let names = Set(agentSigned + ["host", "x-amz-date", "x-amz-security-token", "x-amz-content-sha256", "content-type"])
            .intersection(present).subtracting(["authorization"]).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }

        let canonical = canonicalRequest(signed, signedHeaders: names, service: service, payloadHash: payloadHash)
        let scope = SigV4Scope(accessKeyID: credentials.accessKeyID, date: String(timestamp.prefix(8)), region: region, service: service)
        let stringToSign = [algorithm, timestamp, "\(scope.date)/\(region)/\(service)/aws4_request",
                            hex(SHA256.hash(data: Array(canonical.utf8)))].joined(separator: "\n")
        let key = signingKey(credentials.secretAccessKey, scope)
        let signature = hex(HMAC<SHA256>.authenticationCode(for: Array(stringToSign.utf8), using: key))
        signed.headers.append((name: "Authorization",
                               value: "\(algorithm) Credential=\(scope), SignedHeaders=\(names.joined(separator: ";")), Signature=\(signature)"))
        return signed
    }

    /// The key of a scope (four HMACs from the secret), derived once per secret, day, region and
    /// service, as AWS's SDKs keep it.
    static func signingKey(_ secret: String, _ scope: SigV4Scope) -> SymmetricKey {
        let name = "\(scope.date) \(scope.region) \(scope.service) \(secret)"
        if let bytes = signingKeys.withLock({ $0[name] }) { return SymmetricKey(data: bytes) }
        var key = SymmetricKey(data: Array("AWS4\(secret)".utf8))
        for part in [scope.date, scope.region, scope.service, "aws4_request"] {
            key = SymmetricKey(data: HMAC<SHA256>.authenticationCode(for: Array(part.utf8), using: key))
        }
        let bytes = key.withUnsafeBytes { Array($0) }
        signingKeys.withLock { keys in
            if keys.count >= 64 { keys.removeAll() }
            keys[name] = bytes
        }
        return key
    }

    private static let signingKeys = Mutex<[String: [UInt8]]>([:])

    /// The canonical request over `signedHeaders` (lowercase, sorted).
    static func canonicalRequest(_ request: APIRequest, signedHeaders: [String], service: String, payloadHash: String?) -> String {
        let path = s3SigningNames.contains(service)
            ? String(request.rawPath)
            : percentEncode(Array(removingDotSegments(String(request.rawPath)).utf8), keepingSlash: true)
        let query = queryPairs(request.rawQuery ?? "")
            .map { (name: percentEncode($0.name, keepingSlash: false), value: percentEncode($0.value, keepingSlash: false)) }
            .sorted { $0.name == $1.name ? $0.value.utf8.lexicographicallyPrecedes($1.value.utf8) : $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
            .map { "\($0.name)=\($0.value)" }
            .joined(separator: "&")
        let headers = signedHeaders.map { name in
            var values = request.values(name)
            if name == "host" && values.isEmpty {
                values = [request.port == 443 ? request.host : "\(request.host):\(request.port)"]
            }
            return "\(name):\(values.map(collapsingWhitespace).joined(separator: ","))\n"
        }
        let payload = request.values("x-amz-content-sha256").first ?? payloadHash ?? hex(SHA256.hash(data: request.body))
        return [request.method, path, query, headers.joined(), signedHeaders.joined(separator: ";"), payload].joined(separator: "\n")
    }

    /// The raw query's `name=value` pairs, percent-decoded (`+` stays a plus, as AWS reads it); a
    /// name without `=` has an empty value; empty pieces (`a=1&&b=2`) are no pairs.
    static func queryPairs(_ query: Substring) -> [(name: [UInt8], value: [UInt8])] {
        query.utf8.split(separator: UInt8(ascii: "&")).map { piece in
            let equals = piece.firstIndex(of: UInt8(ascii: "=")) ?? piece.endIndex
            let value = equals == piece.endIndex ? piece[equals...] : piece[piece.index(after: equals)...]
            return (percentDecode(piece[..<equals]), percentDecode(value))
        }
    }

    /// RFC 3986 §5.2.4 as botocore applies it (utils.remove_dot_segments): empty segments go too,
    /// so `//a//` is `/a/`.
    static func removingDotSegments(_ path: String) -> String {
        var segments: [Substring] = []
        for segment in path.split(separator: "/", omittingEmptySubsequences: true) where segment != "." {
            if segment == ".." { _ = segments.popLast() } else { segments.append(segment) }
        }
        let leading = path.isEmpty || path.hasPrefix("/") ? "/" : ""
        let trailing = path.hasSuffix("/") && !segments.isEmpty ? "/" : ""
        return leading + segments.joined(separator: "/") + trailing
    }

    /// Every byte but RFC 3986's unreserved (and `/` when kept) as `%XX`, upper-case: what botocore's
    /// `quote(safe='/~')` does to a path, so a `%` already there is encoded again.
    static func percentEncode(_ bytes: some Sequence<UInt8>, keepingSlash: Bool) -> String {
        var out: [UInt8] = []
        for byte in bytes {
            if isUnreserved(byte) || (keepingSlash && byte == UInt8(ascii: "/")) {
                out.append(byte)
            } else {
                out += [UInt8(ascii: "%"), upperHexDigits[Int(byte >> 4)], upperHexDigits[Int(byte & 0xF)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// `%XX` decoded; a `%` not followed by two hex digits is kept as it is.
    static func percentDecode(_ bytes: some Collection<UInt8>) -> [UInt8] {
        RequestParts.percentDecoded(bytes, plusIsSpace: false, keepingMalformed: true) ?? Array(bytes)
    }

    /// The agent's text in an error line: quoted, control characters escaped so it cannot forge a line.
    static func quoted(_ text: some StringProtocol) -> String { String(reflecting: String(text)) }

    static func trimmingWhitespace(_ text: Substring) -> Substring {
        guard let first = text.utf8.firstIndex(where: { !isWhitespace($0) }),
              let last = text.utf8.lastIndex(where: { !isWhitespace($0) }) else { return text[text.endIndex...] }
        return text[first..<text.utf8.index(after: last)]
    }

    /// Leading and trailing blanks gone and inner runs of them (newlines of a folded header too) one space.
    static func collapsingWhitespace(_ value: String) -> String {
        value.utf8.split(whereSeparator: isWhitespace).map { String(decoding: $0, as: UTF8.self) }.joined(separator: " ")
    }

    /// `yyyyMMdd'T'HHmmss'Z'` in UTC.
    static func amzDate(_ date: Date) -> String {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var t = tm()
        gmtime_r(&seconds, &t)
        func pad(_ n: Int32, _ width: Int) -> String {
            let digits = String(n)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return pad(t.tm_year + 1900, 4) + pad(t.tm_mon + 1, 2) + pad(t.tm_mday, 2) + "T"
            + pad(t.tm_hour, 2) + pad(t.tm_min, 2) + pad(t.tm_sec, 2) + "Z"
    }

    static func hex(_ bytes: some Sequence<UInt8>) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for byte in bytes {
            out.append(hexDigits[Int(byte >> 4)])
            out.append(hexDigits[Int(byte & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    static let hexDigits = Array("0123456789abcdef".utf8)
    static let upperHexDigits = Array("0123456789ABCDEF".utf8)

    static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"): true
        default: false
        }
    }

    static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || (0x09...0x0D).contains(byte)
    }

    /// A byte of an HTTP header name (RFC 9110 token), lowercase.
    static func isLowercaseTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
        default: "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }
}
