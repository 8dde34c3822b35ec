import AirlockSignOff
import Foundation

/// The proxy's record: one JSON line per tunnelled connection and per forwarded HTTP request.
///
/// The file is opened with O_APPEND and every line is one write(2), so lines from concurrent
/// connections (and from several proxies on one file) never interleave.
public final class NetworkLog: Sendable {
    private let fd: Int32
    public let path: String

    /// Opens (creating, mode 0600) the log at `path` for appending.
    public init(path: String) throws {
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw NetworkLogError(path: path, errno: errno)
        }
        self.fd = fd
        self.path = path
    }

    deinit { close(fd) }

    /// Appends one entry as a line. A failed write is reported to the caller, never retried halfway.
    @discardableResult
    public func append(_ entry: NetworkLogEntry) -> Bool {
        var line = entry.jsonLine()
        line.append(0x0a)
        let written = line.withUnsafeBytes { bytes in
            var result: Int
            repeat { result = write(fd, bytes.baseAddress, bytes.count) } while result < 0 && errno == EINTR
            return result
        }
        return written == line.count
    }
}

public struct NetworkLogError: Error, CustomStringConvertible {
    public var path: String
    public var errno: Int32
    public var description: String { "cannot open the network log \(path): \(String(cString: strerror(errno)))" }
}

/// One line of the network log.
public struct NetworkLogEntry: Sendable, Equatable {
    public enum Kind: String, Sendable {
        /// A CONNECT tunnel (or a refused CONNECT).
        case connect
        /// A forwarded plain-HTTP request (or a refused one).
        case request
    }

    public var kind: Kind
    public var time: Date
    public var host: String
    public var port: Int
    /// `allow`, `deny`, `hold` (the policy's action), or `error` when the proxy could not carry
    /// out an allowed connection.
    public var decision: String
    /// The rule that decided (`allow github.com`, `unknown = deny`), or the reason for a refusal.
    public var rule: String
    public var method: String?
    public var path: String?
    public var status: Int?
    /// Bytes from the agent to the upstream, and back.
    public var bytesUp: Int
    public var bytesDown: Int
    public var durationMs: Double
    /// A request seen inside a CONNECT tunnel whose TLS the proxy terminated (`[network] inspect`),
    /// or a CONNECT tunnel so inspected.
    public var inspected: Bool
    /// What an inspected cloud API request does (`aws cloudformation DeleteStack stack/x in
    /// us-east-1`), when it was classified.
    public var api: String?
    /// The sign-off request that held it.
    public var request: String?

    public init(
        kind: Kind, time: Date, host: String, port: Int, decision: String, rule: String,
        method: String? = nil, path: String? = nil, status: Int? = nil,
        bytesUp: Int = 0, bytesDown: Int = 0, durationMs: Double = 0, inspected: Bool = false,
        api: String? = nil, request: String? = nil
    ) {
        self.api = api
        self.request = request
        self.inspected = inspected
        self.kind = kind
        self.time = time
        self.host = host
        self.port = port
        self.decision = decision
        self.rule = rule
        self.method = method
        self.path = path
        self.status = status
        self.bytesUp = bytesUp
        self.bytesDown = bytesDown
        self.durationMs = durationMs
    }

    /// The entry as one JSON object with a stable key order (no newline).
    public func jsonLine() -> [UInt8] {
        var fields: [(String, String)] = [
            ("time", Self.quote(Self.timestamp(time))),
            ("kind", Self.quote(kind.rawValue)),
            ("host", Self.quote(host)),
            ("port", String(port)),
        ]
        if let method { fields.append(("method", Self.quote(method))) }
        if let path { fields.append(("path", Self.quote(path))) }
        if let status { fields.append(("status", String(status))) }
        if inspected { fields.append(("inspected", "true")) }
        if let api { fields.append(("api", Self.quote(api))) }
        if let request { fields.append(("request", Self.quote(request))) }
        fields += [
            ("decision", Self.quote(decision)),
            ("rule", Self.quote(rule)),
            ("bytes_up", String(bytesUp)),
            ("bytes_down", String(bytesDown)),
            ("duration_ms", Self.milliseconds(durationMs)),
        ]
        let body = fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",")
        return Array("{\(body)}".utf8)
    }

    /// `durationMs` with three decimals (`12.345`), without a format string to parse per line.
    static func milliseconds(_ value: Double) -> String {
        let micros = Int64((max(0, value) * 1000).rounded())
        let fraction = String(micros % 1000)
        return "\(micros / 1000)." + String(repeating: "0", count: 3 - fraction.count) + fraction
    }

    /// The queue's timestamps (UTC, milliseconds): one canonical spelling, and no formatter to
    /// build for every line.
    static func timestamp(_ date: Date) -> String {
        RFC3339.format(date)
    }

    /// A JSON string literal; control characters escaped, so a hostile host or path cannot
    /// break the line.
    static func quote(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7f || scalar.value == 0x2028 || scalar.value == 0x2029:
                out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
