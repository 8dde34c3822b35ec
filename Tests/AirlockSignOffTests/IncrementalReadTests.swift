import AirlockSignOff
import Foundation
import Testing

/// The supervisor reads only what was appended since its last read; that must see exactly what a
/// full read sees, breaks included.
@Suite struct IncrementalReadTests {
    let directory: TemporaryDirectory
    let queue: QueueFile

    init() throws {
        directory = try TemporaryDirectory()
        queue = QueueFile(path: directory.file("queue.jsonl"))
    }

    func bytes() throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: queue.path))) }

    @Test func readingInTwoPiecesGivesTheSameRecordsAsOneRead() throws {
        let first = try queue.appendRequest(sampleOperation(path: "/w/a"), pid: 1, requester: "ops", quorum: 2)
        try queue.append(.expire(id: first.id))
        let head = try bytes()
        let second = try queue.appendRequest(sampleOperation(path: "/w/b"), pid: 2, requester: "ops", quorum: 2)
        try queue.append(.cancel(id: second.id, reason: nil))
        let all = try bytes()

        let whole = QueueReader.parse(all)
        let part1 = QueueReader.parse(head)
        let part2 = QueueReader.parse(Array(all[part1.tail.offset...]), from: part1.tail)
        #expect(whole.chainBreak == nil && part1.chainBreak == nil && part2.chainBreak == nil)
        #expect((part1.records + part2.records).map(\.hash) == whole.records.map(\.hash))
        #expect((part1.records + part2.records).map(\.line) == whole.records.map(\.line))
        #expect(part2.tail == whole.tail)
        #expect(part2.tail.offset == all.count)
    }

    @Test func readAppendedReadsTheFileFromTheTailOnly() throws {
        let first = try queue.appendRequest(sampleOperation(path: "/w/a"), pid: 1, requester: "ops", quorum: 2)
        let head = try QueueReader.read(queue.path)
        try queue.append(.expire(id: first.id))
        let (more, bytes) = try QueueReader.readAppended(queue.path, from: head.tail)
        let whole = try QueueReader.read(queue.path)
        #expect(bytes == Array(try self.bytes()[head.tail.offset...]))
        #expect((head.records + more.records).map(\.hash) == whole.records.map(\.hash))
        #expect(more.tail == whole.tail && more.chainBreak == nil)
        let (none, nothing) = try QueueReader.readAppended(queue.path, from: whole.tail)
        #expect(none.records.isEmpty && nothing.isEmpty && none.tail == whole.tail)
    }

    @Test func aTornLastLineIsLeftForTheNextRead() throws {
        try queue.append(.cancel(id: "aaaaaa", reason: nil))
        var raw = try bytes()
        raw += Array(#"{"event":"cancel","id":"bbbb"#.utf8) // a writer cut off mid-line
        let log = QueueReader.parse(raw)
        #expect(log.records.count == 1)
        #expect(log.tail.offset < raw.count, "the torn bytes must be read again next time")
    }

    @Test func aLineThatDoesNotChainToWhatWasReadBeforeIsABreak() throws {
        try queue.append(.cancel(id: "aaaaaa", reason: nil))
        let head = try bytes()
        try queue.append(.cancel(id: "bbbbbb", reason: nil))
        let all = try bytes()
        let part1 = QueueReader.parse(head)
        // The appended part read as if it followed a different line than the one it chains to.
        var wrongTail = part1.tail
        wrongTail.hash = String(repeating: "f", count: 64)
        let part2 = QueueReader.parse(Array(all[part1.tail.offset...]), from: wrongTail)
        #expect(part2.chainBreak?.line == 2)
    }
}
