import Crypto
import Foundation

/// The chain's lines, wherever they are kept: a file (`QueueFile`) or a database (`airlock serve`).
/// Both write each event as the same bytes, so a chain exported from the service is checked
/// offline exactly as a file is (`QueueReader.parse`).
public enum QueueChain {
    /// The line (newline included) that records `event` as number `seq` after the line whose
    /// SHA-256 is `prev`, and the record it reads back as. `torn`: the SHA-256 of marked torn lines
    /// between them (files only).
    public static func line(seq: UInt64, prev: String, torn: String? = nil, at time: Date, _ event: QueueEvent) throws -> (bytes: [UInt8], record: QueueRecord) {
        let line = try QueueLine.serialize(QueueLine(seq: seq, ts: time, prev: prev, torn: torn, event: event)) + [QueueFile.newline]
        guard line.count <= QueueFile.maximumLineLength else {
            throw SignOffError(.invalidOperation, "queue line would be \(line.count) bytes; the limit is \(QueueFile.maximumLineLength)")
        }
        let record = QueueRecord(seq: seq, ts: Date(timeIntervalSince1970: Double(RFC3339.milliseconds(time)) / 1000),
                                 prev: prev, torn: torn, event: event, hash: Hex.encode(SHA256.hash(data: line)), line: nil)
        return (line, record)
    }

    /// The SHA-256 (hex) a chain starts from.
    public static let start = QueueLine.zeroHash
}

/// An event on its way to a queue service, before it has a place in the chain: the fields of its
/// line without `seq`, `ts`, `prev` and `torn`; a request also without `id` and `digest`, which
/// the service gives it from the number it gets (`RequestID`) and from its operation.
public enum QueueWire {
    public static func encode(_ event: QueueEvent) throws -> [UInt8] {
        var line = QueueLine(seq: 0, ts: Date(timeIntervalSince1970: 0), prev: QueueChain.start, torn: nil, event: event)
        (line.seq, line.ts, line.prev) = (nil, nil, nil)
        if case .request = event { (line.id, line.digest) = (nil, nil) }
        if case .audit = event { (line.id, line.digest) = (nil, nil) }
        return try QueueLine.serialize(line)
    }

    /// The `event` field of `bytes`, if they are a JSON object that has one.
    public static func eventName(_ bytes: [UInt8]) -> String? {
        (try? QueueLine.parse(bytes[...]))?.event
    }

    /// The event `bytes` carry, a request numbered `seq`. Throws, naming what is wrong, when they
    /// are not an event's fields, carry envelope fields, or (for a request) an id or a digest.
    public static func decode(_ bytes: [UInt8], seq: UInt64) throws -> QueueEvent {
        var line = try QueueLine.parse(bytes[...])
        if line.seq != nil || line.ts != nil || line.prev != nil || line.torn != nil {
            throw SignOffError(.malformedQueue, "an event sent to the service has no seq, ts, prev or torn: the service places it in the chain")
        }
        let isRequest = line.event == "request" || line.event == "audit"
        if isRequest {
            if line.id != nil || line.digest != nil {
                throw SignOffError(.malformedQueue, "a request sent to the service has no id or digest: the service gives it both")
            }
            line.id = RequestID.forSequence(seq)
            line.digest = String(repeating: "0", count: 64) // replaced below, from the operation
        }
        (line.seq, line.ts, line.prev) = (seq, RFC3339.format(Date()), QueueChain.start)
        let event = try line.queueEvent()
        switch event {
        case .request(let r):
            return .request(try Request(id: r.id, operation: r.operation, pid: r.pid, requester: r.requester, quorum: r.quorum, scope: r.scope))
        case .audit(let r):
            return .audit(try Request(id: r.id, operation: r.operation, pid: r.pid, requester: r.requester, quorum: r.quorum, scope: r.scope))
        default:
            return event
        }
    }
}
