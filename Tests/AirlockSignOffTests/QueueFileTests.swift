import AirlockSignOff
import Crypto
import Foundation
import Testing

/// Errors collected from several threads.
private final class Failures: @unchecked Sendable {
    private let lock = NSLock()
    private var errors: [String] = []
    func add(_ error: Error) { lock.withLock { errors.append("\(error)") } }
    var all: [String] { lock.withLock { errors } }
}

@Suite struct QueueFileTests {
    let directory: TemporaryDirectory
    let queue: QueueFile

    init() throws {
        directory = try TemporaryDirectory()
        queue = QueueFile(path: directory.file("queue.jsonl"))
    }

    func bytes() throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: queue.path))) }
    func lines() throws -> [[UInt8]] { try bytes().split(separator: 0x0A, omittingEmptySubsequences: false).map(Array.init) }
    func appendRaw(_ raw: [UInt8]) throws {
        let handle = try #require(FileHandle(forWritingAtPath: queue.path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(raw))
        try handle.close()
    }
    func rewrite(_ lines: [[UInt8]]) throws {
        try Data(Array(lines.joined(separator: [0x0A]))).write(to: URL(fileURLWithPath: queue.path))
    }

    @Test func appendedLinesAreNumberedAndChainedByTheHashOfTheLineBeforeIncludingItsNewline() throws {
        let request = try queue.appendRequest(sampleOperation(), pid: 42, requester: "ops", quorum: 2)
        try queue.append(.expire(id: request.id))
        try queue.append(.resolve(Resolution(id: request.id, outcome: .expired, errno: 1, detail: "expired")))

        let raw = try lines()
        #expect(raw.count == 4 && raw[3].isEmpty, "three lines, each ending in a newline")
        let log = try QueueReader.read(queue.path)
        #expect(log.verify() == nil)
        #expect(log.warnings.isEmpty)
        #expect(log.records.map(\.seq) == [1, 2, 3])
        #expect(log.records[0].prev == String(repeating: "0", count: 64))
        for index in 1..<3 {
            let expected = SHA256.hash(data: raw[index - 1] + [0x0A]).map { String(format: "%02x", $0) }.joined()
            #expect(log.records[index].prev == expected)
        }
        #expect(log.records[0].event == .request(request))
        #expect(request.id == RequestID.forSequence(1))
        #expect(request.digest == sampleOperation(expires: request.operation.expires).digest)
    }

    @Test func theFileIsCreatedReadableOnlyByItsOwner() throws {
        try queue.append(.cancel(id: "abcdef", reason: nil))
        let mode = try FileManager.default.attributesOfItem(atPath: queue.path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }

    @Test func twoWritersAppendingAtOnceLoseNothingAndTheChainVerifies() throws {
        // Two threads, each append opening the file itself: each has its own open file description,
        // so flock excludes the other writer exactly as it would another process.
        let path = queue.path
        let group = DispatchGroup()
        let failures = Failures()
        for writer in 0..<2 {
            group.enter()
            Thread {
                for n in 0..<200 {
                    do { try QueueFile(path: path).append(.cancel(id: "w\(writer)n\(n)", reason: nil)) } catch { failures.add(error) }
                }
                group.leave()
            }.start()
        }
        group.wait()
        #expect(failures.all.isEmpty, "\(failures.all)")
        let log = try QueueReader.read(path)
        #expect(log.verify() == nil)
        #expect(log.records.count == 400)
        #expect(log.records.map(\.seq) == Array(1...400))
        let ids = Set(log.records.map(\.event.requestID))
        #expect(ids.count == 400)
    }

    @Test func aTornLastLineIsIgnoredWithAWarningAndTheNextAppendStillVerifies() throws {
        try queue.append(.cancel(id: "aaaaaa", reason: nil))
        try appendRaw(Array(#"{"event":"cancel","id":"bbbbbb","prev":"0000"#.utf8))  // crash mid-write

        var log = try QueueReader.read(queue.path)
        #expect(log.verify() == nil)
        #expect(log.records.count == 1)
        #expect(log.warnings.count == 1)
        #expect(log.warnings.first?.line == 2)
        #expect(log.warnings.first?.message.contains("torn") == true)

        let record = try queue.append(.cancel(id: "cccccc", reason: nil))
        #expect(record.seq == 2, "the torn line took no sequence number")
        #expect(record.torn != nil)
        let raw = try lines()
        #expect(raw.count == 4, "the torn line stays a line of its own: line 2")
        #expect(raw[1].last == 0x01)
        log = try QueueReader.read(queue.path)
        #expect(log.verify() == nil)
        #expect(log.records.map(\.event.requestID) == ["aaaaaa", "cccccc"])
        #expect(log.records.map(\.line) == [1, 3])
        #expect(log.warnings.map(\.line) == [2])
    }

    @Test func aTornLineThatIsCompleteJsonExceptItsNewlineIsStillNeverCounted() throws {
        try queue.append(.cancel(id: "aaaaaa", reason: nil))
        let intact = try bytes()
        let second = try queue.append(.cancel(id: "bbbbbb", reason: nil))
        // Cut the second line just before its newline, as a crash between write and fsync may.
        try Data(Array(try bytes().dropLast())).write(to: URL(fileURLWithPath: queue.path))
        #expect(try bytes().count > intact.count)
        let third = try queue.append(.cancel(id: "cccccc", reason: nil))
        #expect(third.seq == second.seq, "the cut line was never committed")
        let log = try QueueReader.read(queue.path)
        #expect(log.verify() == nil)
        #expect(log.records.map(\.event.requestID) == ["aaaaaa", "cccccc"])
    }

    @Test func aWriterCutOffWhileClosingATornLineLeavesAFileTheNextWriterRepairs() throws {
        try queue.append(.cancel(id: "aaaaaa", reason: nil))
        try appendRaw(Array(#"{"seq":2,"#.utf8))
        try appendRaw([0x01, 0x0A] + Array(#"{"seq":2,"ts""#.utf8))  // the repairing write, cut too
        #expect(try QueueReader.read(queue.path).verify() == nil)
        try queue.append(.cancel(id: "dddddd", reason: nil))
        let log = try QueueReader.read(queue.path)
        #expect(log.verify() == nil)
        #expect(log.records.map(\.event.requestID) == ["aaaaaa", "dddddd"])
        #expect(log.records.map(\.seq) == [1, 2])
    }

    @Test func aLineEditedInTheMiddleBreaksTheChainThereAndVerifyNamesIt() throws {
        for id in ["aaaaaa", "bbbbbb", "cccccc", "dddddd"] { try queue.append(.cancel(id: id, reason: nil)) }
        var raw = try lines()
        raw[1] = Array(String(decoding: raw[1], as: UTF8.self).replacingOccurrences(of: "bbbbbb", with: "zzzzzz").utf8)
        try rewrite(raw)
        let broken = try #require(try QueueReader.read(queue.path).verify())
        #expect(broken.line == 3)
        #expect(broken.reason.contains("line 2"))
    }

    @Test func aRemovedLineBreaksTheChainWhereTheGapIs() throws {
        for id in ["aaaaaa", "bbbbbb", "cccccc", "dddddd"] { try queue.append(.cancel(id: id, reason: nil)) }
        var raw = try lines()
        raw.remove(at: 2)
        try rewrite(raw)
        let broken = try #require(try QueueReader.read(queue.path).verify())
        #expect(broken.line == 3)
        #expect(broken.reason.contains("seq is 4, expected 3"))
    }

    @Test func badJsonInTheMiddleIsABreakNotATornLine() throws {
        for id in ["aaaaaa", "bbbbbb", "cccccc"] { try queue.append(.cancel(id: id, reason: nil)) }
        var raw = try lines()
        raw.insert(Array("{not json".utf8), at: 1)
        try rewrite(raw)
        let broken = try #require(try QueueReader.read(queue.path).verify())
        #expect(broken.line == 2)
        #expect(broken.reason.contains("not a queue line"))
        // And the writer refuses to chain onto a last line it cannot read.
        try appendRaw(Array("garbage\n".utf8))
        let error = #expect(throws: SignOffError.self) { try queue.append(.cancel(id: "eeeeee", reason: nil)) }
        #expect(error?.code == .malformedQueue)
    }

    @Test func aFakeTornLineInsertedInTheMiddleBreaksTheChain() throws {
        for id in ["aaaaaa", "bbbbbb"] { try queue.append(.cancel(id: id, reason: nil)) }
        var raw = try lines()
        raw.insert([0x78, 0x01], at: 1)
        try rewrite(raw)
        let broken = try #require(try QueueReader.read(queue.path).verify())
        #expect(broken.line == 3)
    }

    @Test func nonUtf8AndControlCharacterPathsRoundTripAsBytesAndChangeTheDigest() throws {
        let latin1: [UInt8] = Array("/work/project/caf".utf8) + [0xE9]  // "café" in Latin-1
        let escape: [UInt8] = Array("/work/project/\u{1B}[2Jx".utf8)
        let newline: [UInt8] = Array("/work/a\nb".utf8)
        for path in [latin1, escape, newline] {
            var operation = sampleOperation()
            operation.paths = [path]
            let request = try queue.appendRequest(operation, pid: 1, requester: "ops", quorum: 2)
            var repaired = operation
            repaired.paths = [Array(String(decoding: path, as: UTF8.self).utf8)]
            if repaired.paths != operation.paths { #expect(repaired.digest != request.digest) }
            let lastLine = try #require(try lines().dropLast().last)
            #expect(String(decoding: lastLine, as: UTF8.self).contains(#""path":{"b64":"#))
        }
        let log = try QueueReader.read(queue.path)
        #expect(log.verify() == nil)
        let paths = log.records.compactMap { record -> [UInt8]? in
            if case .request(let request) = record.event { return request.operation.paths.first } else { return nil }
        }
        #expect(paths == [latin1, escape, newline])
        for record in log.records {
            guard case .request(let request) = record.event else { continue }
            #expect(request.digest == request.operation.digest)
        }
    }

    @Test func plainPathsAndArgvAreWrittenAsReadableStrings() throws {
        var operation = sampleOperation()
        operation.kind = .exec
        operation.paths = []
        operation.argv = ["terraform", "destroy", "-auto-approve"].map { Array($0.utf8) }
        try queue.appendRequest(operation, pid: 7, requester: "ops", quorum: 2, scope: .object(["root": .string("/work")]))
        let text = String(decoding: try bytes(), as: UTF8.self)
        #expect(text.contains(#""argv":["terraform","destroy","-auto-approve"]"#))
        #expect(text.contains(#""cwd":"/work/project""#))
        #expect(text.contains(#""scope":{"root":"/work"}"#))
        let log = try QueueReader.read(queue.path)
        guard case .request(let request) = log.records.first?.event else { Issue.record("no request"); return }
        #expect(request.operation == operation)
    }

    @Test(arguments: [OperationKind.rename, .link])
    func anOperationOfTheWrongShapeIsRefused(kind: OperationKind) {
        var operation = sampleOperation()
        operation.kind = kind
        #expect(throws: SignOffError.self) { try queue.appendRequest(operation, pid: 1, requester: "ops", quorum: 2) }
    }

    @Test func aLinkCarriesBothNamesAndReadsBackAsWritten() throws {
        var operation = sampleOperation()
        operation.kind = .link
        operation.paths = [Array("/work/project/.env".utf8), Array("/work/project/alias".utf8)]
        let request = try queue.appendRequest(operation, pid: 3, requester: "ops", quorum: 2)
        let text = String(decoding: try bytes(), as: UTF8.self)
        #expect(text.contains(#""kind":"link""#) && text.contains(#""path2":"/work/project/alias""#))
        let log = try QueueReader.read(queue.path)
        guard case .request(let read) = log.records.first?.event else { Issue.record("no request"); return }
        #expect(read.operation == operation && read.digest == request.digest)
        var renamed = operation
        renamed.kind = .rename
        #expect(renamed.digest != operation.digest)
    }

    @Test func aConnectCarriesItsHostAndPortAndReadsBackAsWritten() throws {
        let operation = HeldOperation(kind: .connect, host: "api.example.com", port: 443, cwd: [], exe: "",
                                      sandbox: "sbx-1", rule: "unknown = hold", expires: Date().addingTimeInterval(900))
        let request = try queue.appendRequest(operation, pid: 0, requester: "ops", quorum: 2)
        let text = String(decoding: try bytes(), as: UTF8.self)
        #expect(text.contains(#""host":"api.example.com""#) && text.contains(#""kind":"connect""#) && text.contains(#""port":443"#))
        #expect(!text.contains(#""path""#) && !text.contains(#""argv""#))
        let log = try QueueReader.read(queue.path)
        guard case .request(let read) = log.records.first?.event else { Issue.record("no request"); return }
        #expect(read.operation == operation && read.digest == request.digest)
    }

    @Test func readingAMissingQueueIsAnError() {
        let error = #expect(throws: SignOffError.self) { try QueueReader.read(directory.file("absent.jsonl")) }
        #expect(error?.code == .io)
    }
}
