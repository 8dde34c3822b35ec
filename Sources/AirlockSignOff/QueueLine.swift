import Foundation

/// A queue line as JSON: every field any event uses, all optional, so one parse reads any line and
/// the conversion to `QueueEvent` says precisely what a line lacks.
///
/// Written with JSONEncoder, keys sorted (it does not keep declaration order), so the same event
/// always becomes the same bytes; read with `JSONParser`, which is strict and fast. Keys this
/// version does not know are ignored, so a newer writer's extra fields do not break the chain.
struct QueueLine: Encodable {
    var seq: UInt64?
    var ts: String?
    var prev: String?
    var torn: String?
    var event: String?
    var id: String?
    var digest: String?
    // request, audit
    var kind: OperationKind?
    var path: QueueBytes?
    var path2: QueueBytes?
    var argv: [QueueBytes]?
    // connect
    var host: String?
    var port: Int?
    // api
    var provider: String?
    var service: String?
    var operation: String?
    var region: String?
    var resources: [String]?
    var method: String?
    var target: String?
    var requestSHA256: String?
    // approvers
    var approvers: String?
    var cwd: QueueBytes?
    var pid: Int32?
    var exe: String?
    var sandbox: String?
    var rule: String?
    var requester: String?
    var quorum: Int?
    var expires: String?
    var scope: JSONValue?
    // approve, deny
    var decision: Decision?
    var signer: String?
    var principal: String?
    // approve, deny, cancel
    var reason: String?
    var sigExpires: String?
    var signature: String?
    // resolve
    var outcome: Resolution.Outcome?
    var errno: Int32?
    var detail: String?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case seq, ts, prev, torn, event, id, digest, kind, path, path2, argv, host, port,
             provider, service, operation, region, resources, method, target, requestSHA256 = "request_sha256",
             approvers, cwd, pid, exe, sandbox, rule,
             requester, quorum, expires, scope, decision, signer, principal, reason,
             sigExpires = "sig_expires", signature, outcome, errno, detail
    }

    static let zeroHash = String(repeating: "0", count: 64)

    /// Key text to field, hashed once rather than compared against every name in turn.
    private static let fieldsByKey = Dictionary(uniqueKeysWithValues: CodingKeys.allCases.map { ($0.rawValue, $0) })

    /// The JSON text of a line, without its newline.
    static func serialize(_ line: QueueLine) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return [UInt8](try encoder.encode(line))
    }

    /// Reads one line's JSON text (without its newline). Throws when it is not a JSON object, has a
    /// key twice, or a known field has the wrong type.
    static func parse(_ bytes: ArraySlice<UInt8>) throws -> QueueLine {
        var line = QueueLine()
        for (key, value) in try JSONParser.parseObject(bytes) {
            try line.set(key, value)
        }
        return line
    }

    private init() {}

    private mutating func set(_ key: String, _ value: JSONValue) throws {
        var wrongType: SignOffError { SignOffError(.malformedQueue, "line has a \(key) of the wrong type") }
        func text() throws -> String {
            guard case .string(let text) = value else { throw wrongType }
            return text
        }
        func integer() throws -> Int64 {
            guard case .integer(let number) = value else { throw wrongType }
            return number
        }
        func int32() throws -> Int32 {
            guard let exact = Int32(exactly: try integer()) else { throw wrongType }
            return exact
        }
        func bytes(_ value: JSONValue) throws -> QueueBytes {
            guard let bytes = QueueBytes(json: value) else { throw wrongType }
            return bytes
        }
        func named<T: RawRepresentable<String>>(_ type: T.Type) throws -> T {
            let raw = try text()
            guard let named = T(rawValue: raw) else { throw SignOffError(.malformedQueue, "line has an unknown \(key) \(raw.debugDescription)") }
            return named
        }
        guard let field = Self.fieldsByKey[key] else { return }  // a newer writer's field
        switch field {
        case .seq:
            guard let exact = UInt64(exactly: try integer()) else { throw wrongType }
            seq = exact
        case .ts: ts = try text()
        case .prev: prev = try text()
        case .torn: torn = try text()
        case .event: event = try text()
        case .id: id = try text()
        case .digest: digest = try text()
        case .kind: kind = try named(OperationKind.self)
        case .path: path = try bytes(value)
        case .path2: path2 = try bytes(value)
        case .argv:
            guard case .array(let elements) = value else { throw wrongType }
            argv = try elements.map(bytes)
        case .host: host = try text()
        case .port:
            guard let exact = Int(exactly: try integer()) else { throw wrongType }
            port = exact
        case .provider: provider = try text()
        case .service: service = try text()
        case .operation: operation = try text()
        case .region: region = try text()
        case .resources:
            guard case .array(let elements) = value else { throw wrongType }
            resources = try elements.map { element in
                guard case .string(let text) = element else { throw wrongType }
                return text
            }
        case .method: method = try text()
        case .target: target = try text()
        case .requestSHA256: requestSHA256 = try text()
        case .approvers: approvers = try text()
        case .cwd: cwd = try bytes(value)
        case .pid: pid = try int32()
        case .exe: exe = try text()
        case .sandbox: sandbox = try text()
        case .rule: rule = try text()
        case .requester: requester = try text()
        case .quorum: quorum = Int(try integer())
        case .expires: expires = try text()
        case .scope: scope = value
        case .decision: decision = try named(Decision.self)
        case .signer: signer = try text()
        case .principal: principal = try text()
        case .reason: reason = try text()
        case .sigExpires: sigExpires = try text()
        case .signature: signature = try text()
        case .outcome: outcome = try named(Resolution.Outcome.self)
        case .errno: errno = try int32()
        case .detail: detail = try text()
        }
    }

    init(seq: UInt64, ts: Date, prev: String, torn: String?, event: QueueEvent) {
        self.seq = seq
        self.ts = RFC3339.format(ts)
        self.prev = prev
        self.torn = torn
        self.event = event.name
        self.id = event.requestID
        switch event {
        case .request(let request), .audit(let request):
            let operation = request.operation
            digest = request.digest
            kind = operation.kind
            path = operation.paths.first.map(QueueBytes.init)
            path2 = operation.paths.dropFirst().first.map(QueueBytes.init)
            argv = operation.argv?.map(QueueBytes.init)
            host = operation.host
            port = operation.port
            if let api = operation.api {
                provider = api.provider
                service = api.service
                self.operation = api.operation
                region = api.region
                resources = api.resources
                method = api.method
                target = api.target
                requestSHA256 = api.requestDigest
            }
            approvers = operation.approvers
            cwd = QueueBytes(operation.cwd)
            pid = request.pid
            exe = operation.exe
            sandbox = operation.sandbox
            rule = operation.rule
            requester = request.requester
            quorum = request.quorum
            expires = RFC3339.format(operation.expires)
            scope = request.scope
        case .approve(let signed), .deny(let signed):
            digest = signed.digest
            decision = signed.decision
            signer = signed.signer
            principal = signed.principal
            reason = signed.reason
            sigExpires = RFC3339.format(signed.sigExpires)
            signature = signed.signature
        case .resolve(let resolution):
            outcome = resolution.outcome
            errno = resolution.errno
            detail = resolution.detail
        case .cancel(_, let why):
            reason = why
        case .expire:
            break
        }
    }

    /// The envelope, checked: every line must have these, or the chain cannot be followed.
    func envelope() throws -> (seq: UInt64, ts: Date, prev: String, event: String) {
        guard let seq else { throw malformed("has no seq") }
        guard let ts, let date = RFC3339.parse(ts) else { throw malformed("has no RFC 3339 ts") }
        guard let prev, Hex.isDigest(prev) else { throw malformed("has no prev of 64 hex digits") }
        guard let event else { throw malformed("has no event") }
        if let torn, !Hex.isDigest(torn) { throw malformed("has a torn field that is not 64 hex digits") }
        return (seq, date, prev, event)
    }

    /// The event the line records. Throws when a field the event needs is missing or malformed.
    func queueEvent() throws -> QueueEvent {
        let (_, _, _, name) = try envelope()
        func need<T>(_ value: T?, _ field: String) throws -> T {
            guard let value else { throw malformed("\(name.debugDescription) line has no \(field)") }
            return value
        }
        let id = try need(id, "id")
        switch name {
        case "request", "audit":
            let expires = try need(expires.flatMap(RFC3339.parse), "RFC 3339 expires")
            if path == nil, path2 != nil { throw malformed("\(name.debugDescription) line has path2 but no path") }
            var api: APIOperation?
            if kind == .api {
                api = APIOperation(
                    provider: try need(provider, "provider"), service: try need(service, "service"),
                    operation: try need(operation, "operation"), region: region ?? "", resources: resources ?? [],
                    method: try need(method, "method"), target: try need(target, "target"),
                    requestDigest: try need(requestSHA256, "request_sha256"))
            }
            let operation = HeldOperation(
                kind: try need(kind, "kind"), paths: [path, path2].compactMap { $0?.bytes },
                argv: argv?.map(\.bytes), host: host, port: port, api: api, approvers: approvers, cwd: try need(cwd, "cwd").bytes, exe: try need(exe, "exe"),
                sandbox: try need(sandbox, "sandbox"), rule: try need(rule, "rule"), expires: expires)
            try operation.validate()
            let request = Request(id: id, digest: try need(digest, "digest"), operation: operation,
                                  pid: try need(pid, "pid"), requester: try need(requester, "requester"),
                                  quorum: try need(quorum, "quorum"), scope: scope)
            return name == "request" ? .request(request) : .audit(request)
        case "approve", "deny":
            let signed = SignedDecision(
                id: id, digest: try need(digest, "digest"), decision: try need(decision, "decision"),
                signer: signer ?? "", principal: principal, reason: reason,
                sigExpires: try need(sigExpires.flatMap(RFC3339.parse), "RFC 3339 sig_expires"),
                signature: signature)
            guard signed.decision.rawValue == name else {
                throw malformed("\(name.debugDescription) line has decision \(signed.decision.rawValue)")
            }
            return name == "approve" ? .approve(signed) : .deny(signed)
        case "resolve":
            return .resolve(Resolution(id: id, outcome: try need(outcome, "outcome"), errno: errno, detail: detail))
        case "expire":
            return .expire(id: id)
        case "cancel":
            return .cancel(id: id, reason: reason)
        default:
            throw malformed("has unknown event \(name.debugDescription)")
        }
    }

    private func malformed(_ why: String) -> SignOffError {
        SignOffError(.malformedQueue, "line \(why)")
    }
}
