import AirlockNetwork
import AirlockSignOff
import AirlockSupervisor

/// The supervisor's sign-off desk as the egress proxy sees it: a held connection becomes a
/// `connect` request on the same queue, with the same approvers and quorum, as a held file
/// operation or command (see `NetworkHolds`).
struct ProxySignOff: ConnectionSignOff {
    let holds: NetworkHolds

    func approval(host: String, port: Int) -> String? {
        holds.approval(host: host, port: port)
    }

    func hold(host: String, port: Int, rule: String,
              answered: @escaping @Sendable (ConnectionSignOffAnswer) -> Void) -> any ConnectionSignOffTicket {
        holds.hold(host: host, port: port, rule: rule) { answer in
            switch answer {
            case .approved(let request): answered(.approved(request: request))
            case .refused(let request, let message): answered(.refused(request: request, message: message))
            }
        }
    }
}

extension ProxySignOff: APISignOff {
    func hold(_ hold: APIHold, answered: @escaping @Sendable (ConnectionSignOffAnswer) -> Void) -> any ConnectionSignOffTicket {
        let call = hold.call
        let operation = APIOperation(
            provider: call.provider, service: call.service, operation: call.operation, region: call.region ?? "",
            resources: call.resources, method: hold.method, target: hold.target, requestDigest: hold.requestDigest)
        return holds.hold(api: operation, host: hold.host, port: hold.port, rule: hold.rule, parameters: call.parameters,
                          auditOnly: hold.auditOnly) { answer in
            switch answer {
            case .approved(let request): answered(.approved(request: request))
            case .refused(let request, let message): answered(.refused(request: request, message: message))
            }
        }
    }
}

extension HeldConnection: ConnectionSignOffTicket {}
