import AirlockSignOff
import Foundation
import Testing

/// The two-person rule, with real keys and real `ssh-keygen -Y sign` signatures.
@Suite struct QueueStateTests {
    let directory: TemporaryDirectory
    let queue: QueueFile
    let alice: TestKey
    let bob: TestKey
    let mallory: TestKey  // has a key, is not an approver
    let approvers: AllowedSigners
    let start = Date()

    init() throws {
        directory = try TemporaryDirectory()
        queue = QueueFile(path: directory.file("queue.jsonl"))
        alice = try TestKey(in: directory, name: "alice")
        bob = try TestKey(in: directory, name: "bob")
        mallory = try TestKey(in: directory, name: "mallory")
        approvers = try AllowedSigners(text: """
            alice@example.org \(alice.publicKeyLine)
            bob@example.org namespaces="airlock,git" \(bob.publicKeyLine)
            """)
    }

    func request(_ path: String = "/work/project/.git", quorum: Int = 2, expiresIn: TimeInterval = 900) throws -> Request {
        try queue.appendRequest(sampleOperation(path: path, expires: start.addingTimeInterval(expiresIn)),
                                pid: 4242, requester: "ops", quorum: quorum, at: start)
    }

    @discardableResult
    func decide(_ request: Request, by key: TestKey, _ decision: Decision = .approve,
                after seconds: TimeInterval = 1, sigExpires: Date? = nil) throws -> SignedDecision {
        let signed = try SignedDecision.sign(decision, on: request, sigExpires: sigExpires ?? request.operation.expires,
                                             reason: "looked at it", keyFile: key.privateKeyFile)
        try append(signed, after: seconds)
        return signed
    }

    func append(_ signed: SignedDecision, after seconds: TimeInterval = 1) throws {
        let event: QueueEvent = signed.decision == .approve ? .approve(signed) : .deny(signed)
        try queue.append(event, at: start.addingTimeInterval(seconds))
    }

    func state(of request: Request, approvers: AllowedSigners? = nil, at now: Date? = nil) throws -> RequestState {
        let log = try QueueReader.read(queue.path)
        let folded = QueueState.fold(log, approvers: approvers ?? self.approvers, now: now ?? start.addingTimeInterval(10))
        return try #require(folded.requests[request.id])
    }

    @Test func twoDistinctListedKeysApprove() throws {
        let held = try request()
        try decide(held, by: alice)
        #expect(try state(of: held).state == .pending)
        try decide(held, by: bob)
        let result = try state(of: held)
        #expect(result.state == .approved)
        #expect(result.approvals.map(\.signer) == [alice.publicKey.fingerprint, bob.publicKey.fingerprint])
        #expect(result.approvals.map(\.principals) == [["alice@example.org"], ["bob@example.org"]])
        #expect(result.rejected.isEmpty)
    }

    @Test func theSameKeyTwiceCountsOnce() throws {
        let held = try request()
        try decide(held, by: alice)
        try decide(held, by: alice, after: 2)
        let result = try state(of: held)
        #expect(result.state == .pending)
        #expect(result.approvals.count == 1)
        #expect(result.rejected.map(\.reason) == [.duplicateKey])
    }

    @Test func aKeyNotInTheApproversFileCountsForNothing() throws {
        let held = try request()
        try decide(held, by: alice)
        try decide(held, by: mallory)
        let result = try state(of: held)
        #expect(result.state == .pending)
        #expect(result.approvals.count == 1)
        #expect(result.rejected.map(\.reason) == [.notListed])
        #expect(result.rejected.first?.signer == mallory.publicKey.fingerprint)
    }

    @Test func aKeyListedOnlyForOtherNamespacesCountsForNothing() throws {
        let gitOnly = try AllowedSigners(text: "alice@example.org namespaces=\"git\" \(alice.publicKeyLine)\n")
        let held = try request(quorum: 1)
        try decide(held, by: alice)
        #expect(try state(of: held, approvers: gitOnly).rejected.map(\.reason) == [.notListed])
    }

    @Test func aSignatureOverAnotherRequestsDigestCountsForNothing() throws {
        let held = try request("/work/project/.git")
        let other = try request("/work/project/scratch")
        // Alice approved the harmless request; her signature is copied onto the dangerous one.
        let genuine = try SignedDecision.sign(.approve, on: other, sigExpires: other.operation.expires, keyFile: alice.privateKeyFile)
        var replayed = genuine
        replayed.id = held.id
        try append(replayed)
        replayed.digest = held.digest  // even claiming the right digest does not help
        try append(replayed, after: 2)
        try decide(held, by: bob, after: 3)
        let result = try state(of: held)
        #expect(result.state == .pending)
        #expect(result.approvals.map(\.signer) == [bob.publicKey.fingerprint])
        #expect(result.rejected.map(\.reason) == [.wrongDigest, .badSignature])
    }

    @Test func anApprovalAfterExpiryCountsForNothing() throws {
        let held = try request(expiresIn: 60)
        try decide(held, by: alice, after: 30)
        try decide(held, by: bob, after: 61, sigExpires: start.addingTimeInterval(3600))
        let result = try state(of: held, at: start.addingTimeInterval(120))
        #expect(result.state == .expired)
        #expect(result.approvals.count == 1)
        #expect(result.rejected.map(\.reason) == [.afterExpiry])
    }

    @Test func anApprovalArrivingAfterItsOwnSignatureExpiredCountsForNothing() throws {
        let held = try request()
        try decide(held, by: alice, after: 30, sigExpires: start.addingTimeInterval(10))
        #expect(try state(of: held).rejected.map(\.reason) == [.signatureExpired])
    }

    @Test func anUnsignedLineCountsForNothing() throws {
        let held = try request(quorum: 1)
        try append(SignedDecision(id: held.id, digest: held.digest, decision: .approve,
                                  signer: alice.publicKey.fingerprint, sigExpires: held.operation.expires, signature: nil))
        let result = try state(of: held)
        #expect(result.state == .pending)
        #expect(result.rejected.map(\.reason) == [.unsigned])
    }

    @Test func aSignatureMadeForAnotherNamespaceCountsForNothing() throws {
        let held = try request(quorum: 1)
        let statement = try held.statement(.approve, sigExpires: held.operation.expires)
        let messageFile = directory.file("statement")
        try Data(statement.message).write(to: URL(fileURLWithPath: messageFile))
        try run("/usr/bin/ssh-keygen", ["-Y", "sign", "-q", "-n", "git", "-f", bob.privateKeyFile, messageFile])
        try append(SignedDecision(id: held.id, digest: held.digest, decision: .approve, signer: bob.publicKey.fingerprint,
                                  sigExpires: held.operation.expires,
                                  signature: try String(contentsOfFile: messageFile + ".sig", encoding: .utf8)))
        #expect(try state(of: held).rejected.map(\.reason) == [.namespace])
    }

    @Test func anApproveSignatureCannotBeUsedAsADenyOrTheOtherWayRound() throws {
        let held = try request(quorum: 1)
        var flipped = try SignedDecision.sign(.deny, on: held, sigExpires: held.operation.expires, keyFile: alice.privateKeyFile)
        flipped.decision = .approve
        try append(flipped)
        #expect(try state(of: held).rejected.map(\.reason) == [.badSignature])
    }

    @Test func oneValidDenyDenies() throws {
        let held = try request()
        try decide(held, by: alice)
        try decide(held, by: bob, .deny, after: 2)
        try decide(held, by: alice, after: 3)
        let result = try state(of: held)
        #expect(result.state == .denied)
        #expect(result.denial?.signer == bob.publicKey.fingerprint)
        #expect(result.rejected.map(\.reason) == [.alreadyDecided])
    }

    @Test func aDenyWithABadSignatureCountsForNothing() throws {
        let held = try request(quorum: 1)
        var tampered = try SignedDecision.sign(.deny, on: held, sigExpires: held.operation.expires, keyFile: bob.privateKeyFile)
        tampered.sigExpires = held.operation.expires.addingTimeInterval(1)  // no longer what was signed
        try append(tampered)
        try decide(held, by: mallory, .deny, after: 2)
        let result = try state(of: held)
        #expect(result.state == .pending)
        #expect(result.rejected.map(\.reason) == [.badSignature, .notListed])
        try decide(held, by: alice, after: 3)
        #expect(try state(of: held).state == .approved)
    }

    @Test func aSoloProfileNeedsOneApproval() throws {
        let held = try request(quorum: 1)
        try decide(held, by: alice)
        #expect(try state(of: held).state == .approved)
    }

    @Test func aQuorumBelowOneIsTreatedAsOne() throws {
        let held = try request(quorum: 0)
        let pending = try state(of: held)
        #expect(pending.state == .pending)
        #expect(pending.quorum == 1)
        try decide(held, by: alice)
        #expect(try state(of: held).state == .approved)
    }

    @Test func withoutAnApproversFileNothingCounts() throws {
        let held = try request(quorum: 1)
        try decide(held, by: alice)
        let log = try QueueReader.read(queue.path)
        let folded = QueueState.fold(log, approvers: nil, now: start)
        #expect(folded.requests[held.id]?.state == .pending)
        #expect(folded.requests[held.id]?.rejected.map(\.reason) == [.noApprovers])
    }

    @Test func aBrokenChainMakesNoApprovalCount() throws {
        let held = try request()
        try decide(held, by: alice)
        try decide(held, by: bob, after: 2)
        try queue.append(.cancel(id: "zzzzzz", reason: nil), at: start.addingTimeInterval(3))
        // Someone edits the first line (the request): its hash no longer matches line 2's prev.
        var text = try String(contentsOfFile: queue.path, encoding: .utf8)
        text = text.replacingOccurrences(of: #""requester":"ops""#, with: #""requester":"someone""#)
        try text.write(toFile: queue.path, atomically: true, encoding: .utf8)

        let log = try QueueReader.read(queue.path)
        #expect(log.verify()?.line == 2)
        let folded = QueueState.fold(log, approvers: approvers, now: start.addingTimeInterval(10))
        #expect(!folded.approvalsCount)
        let result = try #require(folded.requests[held.id])
        #expect(result.state == .pending)
        #expect(result.approvals.isEmpty)
        #expect(result.rejected.map(\.reason) == [.chainBroken, .chainBroken])
    }

    @Test func expiryResolutionAndCancellationShowInTheState() throws {
        let expiring = try request("/a", expiresIn: 5)
        let expired = try request("/b")
        let resolved = try request("/c", quorum: 1)
        let cancelled = try request("/d")
        try queue.append(.expire(id: expired.id))
        try decide(resolved, by: bob)
        try queue.append(.resolve(Resolution(id: resolved.id, outcome: .allowed)))
        try queue.append(.cancel(id: cancelled.id, reason: nil))
        try queue.append(.approve(SignedDecision(id: "nonexistent", digest: expired.digest, decision: .approve,
                                                 signer: "", sigExpires: start, signature: nil)))
        let folded = QueueState.fold(try QueueReader.read(queue.path), approvers: approvers, now: start.addingTimeInterval(10))
        #expect(folded.order == [expiring.id, expired.id, resolved.id, cancelled.id])
        #expect(folded.requests[expiring.id]?.state == .expired)
        #expect(folded.requests[expired.id]?.state == .expired)
        #expect(folded.requests[resolved.id]?.state == .resolved)
        #expect(folded.requests[resolved.id]?.resolution?.outcome == .allowed)
        #expect(folded.requests[resolved.id]?.approvals.count == 1)
        #expect(folded.requests[cancelled.id]?.state == .cancelled)
        #expect(folded.warnings.count == 1)
    }

    @Test func aPasskeysCounterMustGrowFromOneCountedSignatureToTheNext() throws {
        let passkey = SoftwarePasskey()
        let approvers = try AllowedSigners(text: passkey.allowedSignersLine(principal: "carol@example.org") + "\n")
        let first = try request("/a", quorum: 1), second = try request("/b", quorum: 1), third = try request("/c", quorum: 1)
        try append(try passkey.sign(.approve, on: first, counter: 7))
        try append(try passkey.sign(.approve, on: second, counter: 7), after: 2)
        try append(try passkey.sign(.approve, on: third, counter: 8), after: 3)
        #expect(try state(of: first, approvers: approvers).state == .approved)
        let replayed = try state(of: second, approvers: approvers)
        #expect(replayed.state == .pending)
        #expect(replayed.rejected.map(\.reason) == [.counterReplayed])
        #expect(try state(of: third, approvers: approvers).state == .approved)
    }
}
