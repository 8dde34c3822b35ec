import Crypto
import Foundation

/// What a held operation does, for the digest approvers sign.
public enum OperationKind: String, Codable, Sendable, CaseIterable {
    case delete, rename, truncate, write, exec
    /// A hard link: a second name for a file (the source, then the new name).
    case link
    /// A connection through the egress proxy to a host the network policy holds (`unknown =
    /// "hold"`): `host` and `port`, no path, no argv.
    case connect
    /// A cloud API request the egress proxy read in clear and holds (`[[api]]` rules): `host`,
    /// `port` and `api`, no path, no argv.
    case api
    /// A change of the approvers list itself: `approvers` is the whole new list (allowed_signers
    /// text), in force from the line whose approval completes its quorum (`QueueState.fold`).
    case approvers
}

/// A held cloud API request, as approvers decide on it: what it does (the classification) and
/// exactly which request it is (`requestDigest`, over the canonical request, body included).
public struct APIOperation: Equatable, Sendable {
    /// `aws`, `kubernetes`, `gcp`, `azure`.
    public var provider: String
    public var service: String
    public var operation: String
    /// Empty when the request names none.
    public var region: String
    public var resources: [String]
    public var method: String
    /// The request target as sent: raw path, then `?` and the raw query.
    public var target: String
    /// SHA-256, lowercase hex, of the canonical request (method, host, port, target, the headers
    /// that carry meaning, body): an SDK's retry of the same request has the same digest, any
    /// other request another.
    public var requestDigest: String

    public init(provider: String, service: String, operation: String, region: String, resources: [String],
                method: String, target: String, requestDigest: String) {
        self.provider = provider
        self.service = service
        self.operation = operation
        self.region = region
        self.resources = resources
        self.method = method
        self.target = target
        self.requestDigest = requestDigest
    }

    /// `aws cloudformation DeleteStack stack/prod-env in us-east-1`.
    public var summary: String {
        var s = "\(provider) \(service) \(operation)"
        if !resources.isEmpty { s += " " + resources.joined(separator: ", ") }
        if !region.isEmpty { s += " in \(region)" }
        return s
    }
}

/// A held operation, exactly: what the approvers are asked to allow.
///
/// Its `digest` is what every approval signs, so an approval can never be carried over to another
/// operation — another path, another command line, another sandbox, another rule or the same
/// operation asked again later (the expiry differs).
public struct HeldOperation: Equatable, Sendable {
    public var kind: OperationKind
    /// The target path; for `rename` and `link`, the source then the target. Empty for `exec`.
    public var paths: [[UInt8]]
    /// The command line, for `exec`; nil otherwise.
    public var argv: [[UInt8]]?
    /// The host and port asked for, for `connect` (as the client named the host: a name or an
    /// address literal); nil otherwise.
    public var host: String?
    public var port: Int?
    /// What the held API request does and which one it is, for `api`; nil otherwise.
    public var api: APIOperation?
    /// The proposed approvers list, allowed_signers text, for `approvers`; nil otherwise.
    public var approvers: String?
    public var cwd: [UInt8]
    /// The executable's identity as the supervisor established it (path, device and inode, hash…).
    public var exe: String
    /// The sandbox that asked.
    public var sandbox: String
    /// The policy rule that held it.
    public var rule: String
    /// When the request expires, kept at millisecond precision (the precision the queue writes),
    /// so an operation read back from the queue equals the one written.
    public var expires: Date {
        get { Date(timeIntervalSince1970: Double(expiresMilliseconds) / 1000) }
        set { expiresMilliseconds = RFC3339.milliseconds(newValue) }
    }
    private var expiresMilliseconds: Int64

    public init(kind: OperationKind, paths: [[UInt8]] = [], argv: [[UInt8]]? = nil, host: String? = nil,
                port: Int? = nil, api: APIOperation? = nil, approvers: String? = nil, cwd: [UInt8], exe: String,
                sandbox: String, rule: String, expires: Date) {
        self.kind = kind
        self.paths = paths
        self.argv = argv
        self.host = host
        self.port = port
        self.api = api
        self.approvers = approvers
        self.cwd = cwd
        self.exe = exe
        self.sandbox = sandbox
        self.rule = rule
        self.expiresMilliseconds = RFC3339.milliseconds(expires)
    }

    /// Checks the shape the queue can carry: one path for delete, truncate and write; two for
    /// rename and link; argv (and no path) for exec; a host and a port (and neither path nor
    /// argv) for connect; the same and the request (`api`) for api; a host or port for nothing
    /// else; a readable list with at least one key (and nothing else) for approvers.
    public func validate() throws {
        let ok: Bool
        guard approvers == nil || kind == .approvers else {
            throw SignOffError(.invalidOperation, "only an approvers operation carries an approvers list")
        }
        let noTarget = host == nil && port == nil && api == nil
        let destination = paths.isEmpty && argv == nil && !(host ?? "").isEmpty && (host ?? "").utf8.count <= 255
            && (1...65535).contains(port ?? 0)
        switch kind {
        case .delete, .truncate, .write: ok = paths.count == 1 && argv == nil && noTarget
        case .rename, .link: ok = paths.count == 2 && argv == nil && noTarget
        case .exec: ok = paths.isEmpty && !(argv ?? []).isEmpty && noTarget
        case .connect: ok = destination && api == nil
        case .api:
            ok = destination && api.map { !$0.provider.isEmpty && !$0.operation.isEmpty && Hex.isDigest($0.requestDigest) } == true
        case .approvers: ok = paths.isEmpty && argv == nil && noTarget && approvers != nil
        }
        guard ok else {
            let needs = switch kind {
            case .exec: "argv and no path"
            case .rename, .link: "two paths"
            case .connect: "a host and a port from 1 to 65535, and no path or argv"
            case .api: "a host, a port from 1 to 65535, a provider, an operation and a request digest, and no path or argv"
            case .delete, .truncate, .write: "one path"
            case .approvers: "the new list, and no path, argv, host or port"
            }
            throw SignOffError(.invalidOperation, "a \(kind.rawValue) operation needs \(needs), got \(paths.count) path(s), \(argv.map { "\($0.count) argv element(s)" } ?? "no argv")\(host.map { ", host \($0.debugDescription)" } ?? "")\(port.map { ", port \($0)" } ?? "")")
        }
        if let approvers, try AllowedSigners(text: approvers, file: "the proposed approvers list").entries.isEmpty {
            throw SignOffError(.invalidOperation, "the proposed approvers list has no key Airlock can verify")
        }
    }

    /// What the operation is about, as people read it: the path (`a -> b` for two), the command
    /// line, or `host:port` (an IPv6 literal in brackets).
    public var subject: String {
        if let api { return api.summary }
        if let approvers {
            let entries = (try? AllowedSigners(text: approvers))?.entries ?? []
            var names: [String] = []
            for name in entries.flatMap(\.principals) where !names.contains(name) { names.append(name) }
            return "the approvers list: \(names.joined(separator: ", ")) (\(entries.count) key\(entries.count == 1 ? "" : "s"))"
        }
        if let host, let port {
            return host.contains(":") && !host.hasPrefix("[") ? "[\(host)]:\(port)" : "\(host):\(port)"
        }
        if let argv { return argv.map { String(decoding: $0, as: UTF8.self) }.joined(separator: " ") }
        return paths.map { String(decoding: $0, as: UTF8.self) }.joined(separator: " -> ")
    }

    /// SHA-256, lowercase hex, of the canonical encoding:
    ///
    ///     string("airlock-op-v1") string(kind)
    ///     uint32(count(paths)) string(path)…
    ///     byte(0) | byte(1) uint32(count(argv)) string(arg)…
    ///     string(cwd) string(exe) string(sandbox) string(rule) string(RFC 3339 of expires, ms, UTC)
    ///     and, for `connect` and `api` only: string(host) uint32(port)
    ///     and, for `api` only: string(provider) string(service) string(operation) string(region)
    ///     uint32(count(resources)) string(resource)… string(method) string(target) string(request digest)
    ///     and, for `approvers` only: string(the new list's text)
    ///
    /// where `string(x)` is a big-endian uint32 length then the bytes (the SSH wire encoding), so
    /// no two different operations share an encoding, whatever bytes their paths hold. The kind
    /// comes first and decides the layout, so the `connect` tail is never confused with anything,
    /// and every other kind's encoding (so every digest already in a queue) is unchanged.
    public var digest: String {
        var writer = SSHWireWriter()
        writer.write(text: "airlock-op-v1")
        writer.write(text: kind.rawValue)
        writer.write(uint32: UInt32(paths.count))
        for path in paths { writer.write(string: path) }
        if let argv {
            writer.write(byte: 1)
            writer.write(uint32: UInt32(argv.count))
            for argument in argv { writer.write(string: argument) }
        } else {
            writer.write(byte: 0)
        }
        writer.write(string: cwd)
        writer.write(text: exe)
        writer.write(text: sandbox)
        writer.write(text: rule)
        writer.write(text: RFC3339.format(expires))
        if kind == .connect || kind == .api {
            writer.write(text: host ?? "")
            writer.write(uint32: UInt32(clamping: port ?? 0))
        }
        if kind == .api, let api {
            for field in [api.provider, api.service, api.operation, api.region] { writer.write(text: field) }
            writer.write(uint32: UInt32(api.resources.count))
            for resource in api.resources { writer.write(text: resource) }
            for field in [api.method, api.target, api.requestDigest] { writer.write(text: field) }
        }
        if kind == .approvers { writer.write(text: approvers ?? "") }
        return Hex.encode(SHA256.hash(data: writer.bytes))
    }
}
