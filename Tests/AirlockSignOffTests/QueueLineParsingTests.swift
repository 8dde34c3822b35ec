import AirlockSignOff
import Foundation
import Testing

/// What the reader accepts as a queue line: strict JSON, so no two readers can disagree on a line.
@Suite struct QueueLineParsingTests {
    let zeros = String(repeating: "0", count: 64)

    /// A one-line queue holding `json`, parsed.
    func read(_ json: String) -> QueueLog {
        QueueReader.parse(Array((json + "\n").utf8))
    }

    func cancel(_ extra: String = "", id: String = "abcdef") -> String {
        #"{"event":"cancel","id":"\#(id)","prev":"\#(zeros)","seq":1,"ts":"2025-01-31T09:15:02.123Z"\#(extra)}"#
    }

    @Test func aWellFormedLineIsRead() {
        let log = read(cancel())
        #expect(log.verify() == nil)
        #expect(log.records.first?.event == .cancel(id: "abcdef", reason: nil))
    }

    @Test(arguments: [
        #","seq":1"#,                 // a key twice: which one would another reader take?
        ",",                           // trailing comma
        ",\"x\":\"a\u{01}b\"",         // raw control character in a string
        ",\"x\":\"a\u{7F}\u{01}\\n\"",    // …also after an escape
        #","x":"\ud800""#,             // lone surrogate
        #","x":01"#,                   // leading zero
        #","x":tru"#,
        "} {",                         // two values
        #","x":"#,
    ])
    func aLineThatIsNotStrictJsonBreaksTheChain(extra: String) {
        let log = read(cancel(extra))
        #expect(log.verify()?.line == 1)
        #expect(log.records.isEmpty)
    }

    @Test func nestingIsBounded() {
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        #expect(read(cancel(#","scope":\#(deep)"#)).verify()?.line == 1)
    }

    @Test func escapesAndUnicodeAreDecoded() throws {
        let log = read(cancel(id: #"ab\u0063d\/\u00e9\ud83d\ude00"#))
        #expect(log.records.first?.event.requestID == "abcd/é😀")
        let invalidUTF8 = Array(cancel(id: "ab").utf8).split(separator: UInt8(ascii: "b"), maxSplits: 1)
        let bytes = Array(invalidUTF8[0]) + [UInt8(ascii: "b"), 0xFF] + Array(invalidUTF8[1]) + [0x0A]
        #expect(QueueReader.parse(bytes).verify()?.line == 1)
    }

    @Test func unknownKeysAreIgnoredSoNewerWritersDoNotBreakOlderReaders() {
        let log = read(cancel(#","future":{"a":[1,2.5,true,null]}"#))
        #expect(log.verify() == nil)
        #expect(log.records.count == 1)
    }

    @Test func aLineWithAGoodEnvelopeButAnUnreadableEventIsAWarningNotABreak() {
        let log = read(#"{"event":"approve","id":"abcdef","prev":"\#(zeros)","seq":1,"ts":"2025-01-31T09:15:02.123Z"}"#)
        #expect(log.verify() == nil)
        #expect(log.records.isEmpty)
        #expect(log.warnings.first?.message.contains("digest") == true)
    }

    @Test func wrongTypesInTheEnvelopeBreakTheChain() {
        #expect(read(cancel().replacingOccurrences(of: #""seq":1"#, with: #""seq":"1""#)).verify() != nil)
        #expect(read(cancel().replacingOccurrences(of: #""seq":1"#, with: #""seq":-1"#)).verify() != nil)
        #expect(read(cancel().replacingOccurrences(of: zeros, with: "00")).verify() != nil)
    }

    @Test func garbageBytesNeverCrashTheReader() {
        var generator = SystemRandomNumberGenerator()
        let seed = Array((cancel() + "\n" + cancel(id: "bcdefg") + "\n").utf8)
        for _ in 0..<3000 {
            var bytes = seed
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            }
            _ = QueueReader.parse(bytes)
            _ = QueueReader.parse((0..<Int.random(in: 0..<64, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) })
        }
    }
}

@Suite struct SignatureCheckModeTests {
    @Test func signaturesOnSettledRequestsAreCheckedOnlyWhenAskedForAll() throws {
        let directory = try TemporaryDirectory()
        let queue = QueueFile(path: directory.file("queue.jsonl"))
        let alice = SoftwareApprover(), bob = SoftwareApprover()
        let approvers = try AllowedSigners(text: "alice \(alice.publicKey)\nbob \(bob.publicKey)\n")
        let settled = try queue.appendRequest(sampleOperation(path: "/a"), pid: 1, requester: "ops", quorum: 2)
        let open = try queue.appendRequest(sampleOperation(path: "/b"), pid: 1, requester: "ops", quorum: 2)
        for request in [settled, open] {
            try queue.append(.approve(try alice.sign(.approve, on: request)))
            var forged = try bob.sign(.approve, on: request)
            forged.sigExpires = forged.sigExpires.addingTimeInterval(-1)  // no longer what bob signed
            try queue.append(.approve(forged))
        }
        try queue.append(.resolve(Resolution(id: settled.id, outcome: .denied, errno: 1)))
        let log = try QueueReader.read(queue.path)

        let replay = QueueState.fold(log, approvers: approvers, now: Date())
        #expect(replay.requests[open.id]?.approvals.map(\.signatureVerified) == [true])
        #expect(replay.requests[open.id]?.rejected.map(\.reason) == [.badSignature])
        #expect(replay.requests[settled.id]?.state == .resolved)
        #expect(replay.requests[settled.id]?.approvals.map(\.signatureVerified) == [false, false])

        let audit = QueueState.fold(log, approvers: approvers, now: Date(), checks: .all)
        #expect(audit.requests[settled.id]?.approvals.map(\.signatureVerified) == [true])
        #expect(audit.requests[settled.id]?.rejected.map(\.reason) == [.badSignature])
    }

    @Test func aQueueLongEnoughToBeFoldedInParallelGivesTheSameVerdicts() throws {
        let directory = try TemporaryDirectory()
        let queue = QueueFile(path: directory.file("queue.jsonl"))
        let alice = SoftwareApprover(), bob = SoftwareApprover()
        let approvers = try AllowedSigners(text: "alice \(alice.publicKey)\nbob \(bob.publicKey)\n")
        var forgedIDs: Set<String> = []
        for n in 0..<300 {
            let request = try queue.appendRequest(sampleOperation(path: "/f\(n)"), pid: 1, requester: "ops", quorum: 2)
            try queue.append(.approve(try alice.sign(.approve, on: request)))
            var approval = try bob.sign(.approve, on: request)
            if n % 7 == 3 {
                approval.sigExpires = approval.sigExpires.addingTimeInterval(-1)
                forgedIDs.insert(request.id)
            }
            try queue.append(.approve(approval))
        }
        let state = QueueState.fold(try QueueReader.read(queue.path), approvers: approvers, now: Date())
        #expect(state.requests.count == 300)
        for (id, request) in state.requests {
            #expect(request.state == (forgedIDs.contains(id) ? .pending : .approved))
        }
    }
}

@Suite struct Base64Tests {
    @Test func bytesWrittenAsBase64MatchFoundationAndReadBack() throws {
        let directory = try TemporaryDirectory()
        let queue = QueueFile(path: directory.file("queue.jsonl"))
        for length in 0..<40 {
            var operation = sampleOperation()
            operation.cwd = [0xFF] + (0..<length).map { _ in UInt8.random(in: 0...255) }
            let request = try queue.appendRequest(operation, pid: 1, requester: "ops", quorum: 2)
            let text = try String(contentsOfFile: queue.path, encoding: .utf8)
            let lastLine = try #require(text.split(separator: "\n").last)
            let encoded = try #require(lastLine.firstRange(of: #""cwd":{"b64":""#).map { lastLine[$0.upperBound...].prefix { $0 != "\"" } })
            #expect(Data(base64Encoded: String(encoded)).map { [UInt8]($0) } == operation.cwd)
            guard case .request(let read)? = try QueueReader.read(queue.path).records.last?.event else { Issue.record("no request"); return }
            #expect(read.operation.cwd == operation.cwd)
            #expect(read.digest == request.digest)
        }
    }

    @Test func base64ThatIsNotCanonicalAndPaddedIsRejected() {
        #expect(QueueBytesProbe.decode("QQ==") == [0x41])
        #expect(QueueBytesProbe.decode("") == [])
        for text in ["QR==", "QQ", "Q===", "QUJD\\n", "QU JD", "QUJ=RA==", "****"] {
            #expect(QueueBytesProbe.decode(text) == nil, "\(text)")
        }
    }
}

/// Decodes base64 through the reader's public behaviour: a request whose `cwd` is `{"b64": …}`.
enum QueueBytesProbe {
    static func decode(_ base64: String) -> [UInt8]? {
        let zeros = String(repeating: "0", count: 64)
        let line = #"{"cwd":{"b64":"\#(base64)"},"digest":"\#(zeros)","event":"request","exe":"e","expires":"2025-01-31T09:15:02.123Z","id":"abcdef","kind":"delete","path":"/p","pid":1,"prev":"\#(zeros)","quorum":2,"requester":"r","rule":"r","sandbox":"s","seq":1,"ts":"2025-01-31T09:15:02.123Z"}"#
        guard case .request(let request)? = QueueReader.parse(Array((line + "\n").utf8)).records.first?.event else { return nil }
        return request.operation.cwd
    }
}
