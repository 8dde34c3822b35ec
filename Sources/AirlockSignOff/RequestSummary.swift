import Foundation

extension RequestState {
    /// The request as `airlock queue list --json` and the service's `GET /v1/requests` show it.
    public var summaryObject: [String: Any] {
        let op = request.operation
        var o: [String: Any] = ["id": id, "state": state.rawValue, "kind": op.kind.rawValue, "approvals": approvals.count,
                                "quorum": quorum, "rule": op.rule, "pid": Int(request.pid), "expires": "\(op.expires)"]
        if state == .cancelled, let cancelReason { o["cancel_reason"] = cancelReason }
        if let argv = op.argv {
            o["argv"] = argv.map { String(decoding: $0, as: UTF8.self) }
        } else if let host = op.host, let port = op.port {
            o["host"] = host
            o["port"] = port
            if let api = op.api { o["api"] = api.summary }
        } else {
            o["path"] = op.paths.first.map { String(decoding: $0, as: UTF8.self) } ?? ""
            if op.paths.count > 1 { o["path2"] = String(decoding: op.paths[1], as: UTF8.self) }
        }
        return o
    }
}
