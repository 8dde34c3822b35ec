import AirlockSignOff
import Crypto
import Foundation
import Synchronization

/// The chain as the service last read it, parsed, so that listing requests costs parsing only the
/// lines appended since (parsing was most of a list's time: 1.3 s of 1.35 s for 10,000 requests in a
/// debug build). The cache is never trusted blindly: each read first asks PostgreSQL for the
/// SHA-256 of the cached lines' bytes, and any difference (a row edited or forged behind the
/// service's back) throws the cache away and reads the whole chain again, so what the page and
/// the API show is always the fold of what the database holds now.
final class ChainCache: Sendable {
    // Unchecked for `SHA256` only: a value type (copy-on-write over its context) that swift-crypto
    // does not mark Sendable; a copy is never mutated by two threads.
    private struct Parsed: @unchecked Sendable {
        var records: [QueueRecord] = []
        var warnings: [QueueWarning] = []
        var chainBreak: ChainBreak?
        var tail: QueueTail = .start
        /// SHA-256 over every cached line's bytes, in order.
        var digest = SHA256()
    }

    private let parsed = Mutex(Parsed())

    /// The whole chain as a log, and the number of its last line.
    func log(_ store: PostgresQueueStore) async throws -> (seq: UInt64, log: QueueLog) {
        var known = parsed.withLock { $0 }
        if known.tail.seq > 0 {
            let cached = known.digest.finalize().map { String(format: "%02x", $0) }.joined()
            if try await store.digest(through: known.tail.seq) != cached {
                known = Parsed()
                parsed.withLock { $0 = Parsed() }
            }
        }
        let (head, _) = try await store.head()
        if head > known.tail.seq {
            let bytes = try await store.lines(after: known.tail.seq, limit: Int(head - known.tail.seq))
            let more = QueueReader.parse(bytes, from: known.tail)
            known.records += more.records
            known.warnings += more.warnings
            known.chainBreak = known.chainBreak ?? more.chainBreak
            known.tail = more.tail
            known.digest.update(data: bytes)
            let extended = known
            // Another reader may have got further meanwhile: keep the longer.
            parsed.withLock { if $0.tail.seq < extended.tail.seq { $0 = extended } }
        }
        return (known.tail.seq, QueueLog(records: known.records, warnings: known.warnings, chainBreak: known.chainBreak, tail: known.tail))
    }
}
