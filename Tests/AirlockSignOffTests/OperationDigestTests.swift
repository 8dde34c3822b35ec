import AirlockSignOff
import Foundation
import Testing

@Suite struct OperationDigestTests {
    let expires = Date(timeIntervalSince1970: 1_738_314_902.123)  // 2025-01-31T09:15:02.123Z

    var rename: HeldOperation {
        HeldOperation(kind: .rename, paths: [Array("/w/a".utf8) + [0xFF], Array("/w/b".utf8)], cwd: Array("/w".utf8),
                      exe: "/usr/bin/mv", sandbox: "sbx", rule: "r1", expires: expires)
    }

    @Test func theDigestIsTheDocumentedEncodingComputedIndependently() {
        // Golden values from a few lines of Python implementing the encoding in HeldOperation.digest.
        #expect(rename.digest == "6f6c197d06f0d23b34f2f40d0a357c0b94b2967096873c2bc63c6a81706ffc57")
        let exec = HeldOperation(kind: .exec, argv: [Array("rm".utf8), Array("-rf".utf8)], cwd: Array("/w".utf8),
                                 exe: "/usr/bin/rm", sandbox: "sbx", rule: "r1", expires: expires)
        #expect(exec.digest == "a35690d4624435c194843650808190a524acb704a097a54d732b904b983d5d9e")
    }

    @Test func everyFieldChangesTheDigest() {
        let base = rename
        var variants: [HeldOperation] = []
        var changed = base; changed.kind = .delete; variants.append(changed)
        changed = base; changed.paths[0] = Array("/w/a".utf8) + [0xFE]; variants.append(changed)
        changed = base; changed.paths.swapAt(0, 1); variants.append(changed)
        changed = base; changed.argv = []; variants.append(changed)
        changed = base; changed.cwd = Array("/w/".utf8); variants.append(changed)
        changed = base; changed.exe = "/bin/mv"; variants.append(changed)
        changed = base; changed.sandbox = "sbx2"; variants.append(changed)
        changed = base; changed.rule = "r2"; variants.append(changed)
        changed = base; changed.expires = expires.addingTimeInterval(0.001); variants.append(changed)
        let digests = Set(variants.map(\.digest) + [base.digest])
        #expect(digests.count == variants.count + 1)
    }

    var connect: HeldOperation {
        HeldOperation(kind: .connect, host: "api.example.com", port: 443, cwd: [], exe: "", sandbox: "sbx",
                      rule: "unknown = hold", expires: expires)
    }

    @Test func aConnectDigestIsTheDocumentedEncodingWithHostAndPortAfterTheExpiry() {
        // Golden value from the same few lines of Python, with string(host) uint32(port) appended.
        #expect(connect.digest == "f2939f6d07679b02c5f7628c4bc7f788cfca9a2b6131ea8f3adc74f84e914394")
        var other = connect; other.host = "api.example.org"
        var port = connect; port.port = 8443
        #expect(Set([connect.digest, other.digest, port.digest]).count == 3)
    }

    @Test func aConnectNeedsAHostAndAPortAndNothingElseDoes() throws {
        try connect.validate()
        var noHost = connect; noHost.host = ""
        var badPort = connect; badPort.port = 0
        var withPath = connect; withPath.paths = [Array("/x".utf8)]
        var deleteWithHost = rename; deleteWithHost.kind = .delete; deleteWithHost.paths = [Array("/w/a".utf8)]
        deleteWithHost.host = "example.com"
        for operation in [noHost, badPort, withPath, deleteWithHost] {
            #expect(throws: SignOffError.self, "\(operation)") { try operation.validate() }
        }
        #expect(connect.subject == "api.example.com:443")
        var v6 = connect; v6.host = "::1"
        #expect(v6.subject == "[::1]:443")
    }

    @Test func pathBoundariesCannotBeShiftedBetweenFields() {
        var a = rename, b = rename
        a.paths = [Array("/w/ab".utf8), Array("c".utf8)]
        b.paths = [Array("/w/a".utf8), Array("bc".utf8)]
        #expect(a.digest != b.digest)
    }

    @Test func theSignedStatementIsTheDocumentedText() throws {
        let statement = try DecisionStatement(digest: rename.digest, decision: .approve, sigExpires: expires, id: "k7tq2m")
        #expect(String(decoding: statement.message, as: UTF8.self) ==
            "airlock-decision-v1\n6f6c197d06f0d23b34f2f40d0a357c0b94b2967096873c2bc63c6a81706ffc57\napprove\n2025-01-31T09:15:02.123Z\nk7tq2m\n")
        #expect(throws: SignOffError.self) { try DecisionStatement(digest: "abc\n", decision: .deny, sigExpires: expires, id: "k7tq2m") }
        #expect(throws: SignOffError.self) { try DecisionStatement(digest: rename.digest, decision: .deny, sigExpires: expires, id: "k7\nq2m") }
    }
}

@Suite struct RFC3339Tests {
    @Test(arguments: [
        ("2025-01-31T09:15:02.123Z", 1_738_314_902_123 as Int64),
        ("2025-01-31T09:15:02Z", 1_738_314_902_000),
        ("2025-01-31T10:15:02.1234567+01:00", 1_738_314_902_123),
        ("1970-01-01T00:00:00.000Z", 0),
        ("2024-02-29T23:59:59.999z", 1_709_251_199_999),
    ])
    func timestampsParseToTheRightInstant(text: String, milliseconds: Int64) throws {
        let date = try #require(RFC3339.parse(text))
        #expect(Int64((date.timeIntervalSince1970 * 1000).rounded()) == milliseconds)
    }

    @Test(arguments: ["", "2025-01-31", "2025-02-30T00:00:00Z", "2025-01-31T24:00:00Z", "2025-01-31T09:15:60Z",
                      "2025-01-31 09:15:02Z", "2025-01-31T09:15:02", "2025-01-31T09:15:02.Z", "2025-01-31T09:15:02Zjunk",
                      "2023-02-29T00:00:00Z", "+025-01-31T09:15:02Z"])
    func malformedTimestampsAreRejected(text: String) {
        #expect(RFC3339.parse(text) == nil)
    }

    @Test func formattingIsCanonicalUtcWithMilliseconds() {
        #expect(RFC3339.format(Date(timeIntervalSince1970: 1_738_314_902.1234)) == "2025-01-31T09:15:02.123Z")
        #expect(RFC3339.format(Date(timeIntervalSince1970: -0.001)) == "1969-12-31T23:59:59.999Z")
        for _ in 0..<1000 {
            let date = Date(timeIntervalSince1970: Double(Int64.random(in: 0...4_102_444_800_000)) / 1000)
            #expect(RFC3339.parse(RFC3339.format(date)) == date)
        }
    }
}

@Suite struct RequestIDTests {
    @Test func idsAreSixUnambiguousCharactersAndUniquePerSequenceNumber() {
        var seen = Set<String>()
        for seq in UInt64(1)...200_000 {
            let id = RequestID.forSequence(seq)
            #expect(id.count == 6)
            seen.insert(id)
        }
        #expect(seen.count == 200_000)
        #expect(seen.allSatisfy { !$0.contains(where: "01ilo".contains) })
        #expect(RequestID.forSequence(1) != RequestID.forSequence(2))
        #expect(RequestID.isWellFormed(RequestID.forSequence(887_503_681 + 5)))
        #expect(RequestID.forSequence(887_503_681 + 5) != RequestID.forSequence(5))
    }
}
