import Foundation

/// A request as `airlock queue list --json` and the service's `GET /v1/requests` show it: what it
/// would do, its state and approvals so far. Encodable (absent fields are left out), because the
/// service lists tens of thousands of these and JSONEncoder is several times quicker at it than
/// building dictionaries for JSONSerialization.
public struct RequestSummary: Encodable, Sendable {
    public var id: String
    public var state: String
    public var kind: String
    public var approvals: Int
    public var quorum: Int
    public var rule: String
    public var pid: Int
    public var expires: String
    public var cancel_reason: String?
    public var argv: [String]?
    public var host: String?
    public var port: Int?
    public var api: String?
    public var path: String?
    public var path2: String?
}

extension RequestState {
    public var summary: RequestSummary {
        let op = request.operation
        var s = RequestSummary(id: id, state: state.rawValue, kind: op.kind.rawValue, approvals: approvals.count, quorum: quorum,
                               rule: op.rule, pid: Int(request.pid), expires: "\(op.expires)")
        if state == .cancelled { s.cancel_reason = cancelReason }
        if let argv = op.argv {
            s.argv = argv.map { String(decoding: $0, as: UTF8.self) }
        } else if let host = op.host, let port = op.port {
            s.host = host
            s.port = Int(port)
            s.api = op.api?.summary
        } else {
            s.path = op.paths.first.map { String(decoding: $0, as: UTF8.self) } ?? ""
            if op.paths.count > 1 { s.path2 = String(decoding: op.paths[1], as: UTF8.self) }
        }
        return s
    }
}
