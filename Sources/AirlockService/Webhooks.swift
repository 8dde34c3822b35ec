import AirlockSignOff
import Foundation
import Logging

/// Notifications: each line the service appends is posted as JSON to every `--webhook` URL, in the
/// shape Slack's (and Mattermost's, Rocket.Chat's) incoming webhooks accept, `{"text": …}` with a
/// link to the request's page, plus an `airlock` object with the event's fields for other receivers.
///
/// Delivery never holds up the queue: each URL has its own thread and a bounded backlog; a post is
/// tried three times (after 1 s and 4 s) and then logged as lost. A notification is a convenience,
/// never part of a decision: the chain is the record.
public final class Webhooks: Sendable {
    private let targets: [Target]

    public init(urls: [String], logger: Logger) throws {
        targets = try urls.map { try Target(url: $0, logger: logger) }
    }

    /// Queues the notification for `record`, with links under `origin`.
    func notify(_ record: QueueRecord, origin: String) {
        guard !targets.isEmpty else { return }
        let body = Self.payload(record, origin: origin)
        for target in targets { target.enqueue(body) }
    }

    static func payload(_ record: QueueRecord, origin: String) -> [UInt8] {
        let id = record.event.requestID
        let url = "\(origin)/r/\(id)"
        let link = "<\(url)|\(slack(id))>"
        let text: String
        var fields: [String: Any] = ["event": record.event.name, "id": id, "seq": Int(record.seq), "url": url]
        switch record.event {
        case .request(let request):
            let op = request.operation
            fields["what"] = op.subject
            fields["requester"] = request.requester
            fields["expires"] = RFC3339.format(op.expires)
            text = "Airlock holds \(slack(op.subject)) (rule \(slack(op.rule))) for sign-off: asked by \(slack(request.requester)) from sandbox \(slack(op.sandbox)), \(request.quorum) approvals needed by \(RFC3339.format(op.expires)). Review and sign: \(link)"
        case .approve(let decision), .deny(let decision):
            let who = decision.principal ?? decision.signer
            fields["by"] = who
            if let reason = decision.reason { fields["reason"] = reason }
            text = "\(slack(who)) \(decision.decision == .approve ? "approved" : "denied") request \(link)\(decision.reason.map { ": \(slack($0))" } ?? "")"
        case .resolve(let resolution):
            fields["outcome"] = resolution.outcome.rawValue
            text = "Request \(link) resolved: \(resolution.outcome.rawValue)"
        case .cancel(_, let reason):
            text = "Request \(link) cancelled\(reason.map { ": \(slack($0))" } ?? "")"
        case .expire:
            text = "Request \(link) expired without enough approvals"
        case .audit(let request):
            text = "Airlock (shadow mode) would have held \(slack(request.operation.subject)): \(link)"
        }
        let object: [String: Any] = ["text": text, "airlock": fields]
        return Array((try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data())
    }

    /// Slack's escaping for message text: `&`, `<` and `>` only.
    static func slack(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }

    /// One URL: its thread, its backlog.
    final class Target: @unchecked Sendable {
        static let backlog = 1000
        let client: ServiceClient
        let url: String
        let logger: Logger
        let condition = NSCondition()
        var queued: [[UInt8]] = []  // guarded by condition

        init(url: String, logger: Logger) throws {
            client = try ServiceClient(url: url, token: "")
            self.url = url
            self.logger = logger
            let thread = Thread { [self] in run() }
            thread.name = "airlock-webhook"
            thread.start()
        }

        func enqueue(_ body: [UInt8]) {
            condition.lock()
            defer { condition.unlock() }
            guard queued.count < Self.backlog else {
                logger.error("webhook \(url): \(Self.backlog) notifications waiting already; this one is dropped")
                return
            }
            queued.append(body)
            condition.signal()
        }

        private func run() {
            while true {
                condition.lock()
                while queued.isEmpty { condition.wait() }
                let body = queued.removeFirst()
                condition.unlock()
                deliver(body)
            }
        }

        private func deliver(_ body: [UInt8]) {
            var failure = ""
            for (attempt, pause) in [0, 1, 4].enumerated() {
                if pause > 0 { Thread.sleep(forTimeInterval: Double(pause)) }
                do {
                    let response = try client.send(.POST, "", body: body, timeout: .seconds(10))
                    if (200..<300).contains(response.status) { return }
                    failure = "answered \(response.status): \(response.message)"
                } catch {
                    failure = "\(error)"
                }
                logger.debug("webhook \(url): attempt \(attempt + 1) failed: \(failure)")
            }
            logger.error("webhook \(url): a notification is lost after 3 attempts: \(failure)")
        }
    }
}
