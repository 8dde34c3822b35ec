import AirlockSignOff
import Foundation
import Testing

/// Changes of the approvers list as signed events in the chain, and who counts: real keys,
/// real `ssh-keygen -Y sign` signatures, a real queue file.
@Suite struct ApproverChangeTests {
    let directory: TemporaryDirectory
    let queue: QueueFile
    let alice: TestKey, bob: TestKey, carol: TestKey, dave: TestKey
    /// The approvers file: alice, bob and carol.
    let anchor: AllowedSigners
    let start = Date()

    init() throws {
        directory = try TemporaryDirectory()
        queue = QueueFile(path: directory.file("queue.jsonl"))
        alice = try TestKey(in: directory, name: "alice")
        bob = try TestKey(in: directory, name: "bob")
        carol = try TestKey(in: directory, name: "carol")
        dave = try TestKey(in: directory, name: "dave")
        anchor = try AllowedSigners(text: [alice.allowedSignersLine(principal: "alice"), bob.allowedSignersLine(principal: "bob"),
                                           carol.allowedSignersLine(principal: "carol")].joined(separator: "\n"))
    }

    /// alice, bob and dave: carol out, dave in.
    var proposedList: String {
        [alice.allowedSignersLine(principal: "alice"), bob.allowedSignersLine(principal: "bob"),
         dave.allowedSignersLine(principal: "dave")].joined(separator: "\n") + "\n"
    }

    func at(_ seconds: TimeInterval) -> Date { start.addingTimeInterval(seconds) }

    func proposal(_ list: String? = nil, quorum: Int = 2, requester: String = "admin", at seconds: TimeInterval = 0) throws -> Request {
        let operation = HeldOperation(kind: .approvers, approvers: list ?? proposedList, cwd: [], exe: "", sandbox: "airlock serve",
                                      rule: "approvers", expires: at(900))
        return try queue.appendRequest(operation, pid: 0, requester: requester, quorum: quorum, at: at(seconds))
    }

    func request(_ path: String, at seconds: TimeInterval) throws -> Request {
        try queue.appendRequest(sampleOperation(path: path, expires: at(900)), pid: 7, requester: "ops", quorum: 2, at: at(seconds))
    }

    func decide(_ request: Request, by key: TestKey, _ decision: Decision = .approve, at seconds: TimeInterval) throws {
        let signed = try SignedDecision.sign(decision, on: request, sigExpires: request.operation.expires, keyFile: key.privateKeyFile)
        try queue.append(decision == .approve ? .approve(signed) : .deny(signed), at: at(seconds))
    }

    func folded(checks: SignatureChecks = .unsettled) throws -> QueueState {
        QueueState.fold(try QueueReader.read(queue.path), approvers: anchor, now: at(100), checks: checks)
    }

    @Test("a proposed list approved by two approvers in force is in force from the approval that completed it: the added key counts after it, the removed key no longer does, and what the removed key approved before it stays counted")
    func anApprovedChangeIsInForceFromItsLine() throws {
        let earlier = try request("/work/a", at: 1)
        try decide(earlier, by: carol, at: 2)                   // carol is still listed here
        let change = try proposal(at: 3)
        try decide(change, by: alice, at: 4)
        #expect(try folded().approverChanges.isEmpty, "one approval changed the list")
        try decide(change, by: bob, at: 5)
        let later = try request("/work/b", at: 6)
        try decide(later, by: dave, at: 7)
        try decide(later, by: carol, at: 8)
        try decide(earlier, by: carol, at: 9)                   // a second one, after the change

        let state = try folded()
        #expect(state.requests[change.id]?.state == .approved)
        #expect(state.approverChanges.map(\.id) == [change.id] && state.approverChanges.first?.line == 5)
        #expect(state.approvers?.entries.map(\.key.fingerprint) == [alice, bob, dave].map(\.publicKey.fingerprint))
        let after = try #require(state.requests[later.id])
        #expect(after.approvals.map(\.signer) == [dave.publicKey.fingerprint], "\(after.rejected)")
        #expect(after.rejected.map(\.reason) == [.notListed] && after.rejected.first?.signer == carol.publicKey.fingerprint)
        let before = try #require(state.requests[earlier.id])
        #expect(before.approvals.map(\.signer) == [carol.publicKey.fingerprint])
        #expect(before.rejected.map(\.reason) == [.notListed])
    }

    @Test("a change needs two approvals whatever quorum its line states, and only keys in force count: one approval and the proposed key's own leave the list as it was")
    func aChangeNeedsTwoApproversInForce() throws {
        let change = try proposal(quorum: 1)
        try decide(change, by: alice, at: 1)
        try decide(change, by: dave, at: 2)
        let probe = try request("/work/c", at: 3)
        try decide(probe, by: dave, at: 4)
        let state = try folded()
        let proposed = try #require(state.requests[change.id])
        #expect(proposed.state == .pending && proposed.quorum == 2 && proposed.approvals.count == 1)
        #expect(proposed.rejected.map(\.reason) == [.notListed])
        #expect(state.approverChanges.isEmpty)
        #expect(state.requests[probe.id]?.approvals.isEmpty == true && state.requests[probe.id]?.rejected.map(\.reason) == [.notListed])
    }

    @Test("without an approvers file no change can come into force: nobody is listed to approve it")
    func noApproversFileNoChange() throws {
        let change = try proposal()
        try decide(change, by: alice, at: 1)
        try decide(change, by: bob, at: 2)
        let state = QueueState.fold(try QueueReader.read(queue.path), approvers: nil, now: at(100))
        #expect(state.approverChanges.isEmpty && state.approvers == nil)
        #expect(state.requests[change.id]?.rejected.map(\.reason) == [.noApprovers, .noApprovers])
    }

    @Test("one valid deny denies a change, and the list stays")
    func aDeniedChangeChangesNothing() throws {
        let change = try proposal()
        try decide(change, by: alice, at: 1)
        try decide(change, by: carol, .deny, at: 2)
        try decide(change, by: bob, at: 3)
        let state = try folded()
        #expect(state.requests[change.id]?.state == .denied && state.approverChanges.isEmpty)
        #expect(state.approvers?.entries.count == 3)
    }

    @Test("the requester's own approval does not count, of a change or of any request")
    func theRequestersOwnApprovalDoesNotCount() throws {
        let change = try proposal(requester: "alice")
        try decide(change, by: alice, at: 1)
        try decide(change, by: bob, at: 2)
        let state = try folded()
        let proposed = try #require(state.requests[change.id])
        #expect(proposed.state == .pending && proposed.approvals.map(\.principals) == [["bob"]])
        #expect(proposed.rejected.map(\.reason) == [.requester] && proposed.rejected.first?.detail.contains("alice asked") == true)
    }

    @Test("one approver with two listed keys counts once: the quorum counts people, not keys")
    func oneApproverWithTwoKeysCountsOnce() throws {
        let anchor = try AllowedSigners(text: [alice.allowedSignersLine(principal: "alice"), dave.allowedSignersLine(principal: "alice,alice@laptop"),
                                               bob.allowedSignersLine(principal: "bob")].joined(separator: "\n"))
        let held = try request("/work/d", at: 1)
        try decide(held, by: alice, at: 2)
        try decide(held, by: dave, at: 3)
        var state = QueueState.fold(try QueueReader.read(queue.path), approvers: anchor, now: at(100)).requests[held.id]
        #expect(state?.state == .pending && state?.approvals.count == 1)
        #expect(state?.rejected.map(\.reason) == [.sameApprover] && state?.rejected.first?.detail.contains("alice approved this request already") == true)
        try decide(held, by: bob, at: 4)
        state = QueueState.fold(try QueueReader.read(queue.path), approvers: anchor, now: at(100)).requests[held.id]
        #expect(state?.state == .approved)
    }

    @Test("the signatures on a settled change are checked all the same: approvals whose signature is another key's do not change the list, even after a resolve line")
    func aSettledChangeIsStillChecked() throws {
        let change = try proposal()
        // Lines that claim alice and bob, signed by carol over another decision: a fold that took a
        // settled request's signers at their word would count them.
        let forged = try SignedDecision.sign(.approve, on: change, sigExpires: change.operation.expires.addingTimeInterval(-1), keyFile: carol.privateKeyFile)
        for (seconds, key) in [(1.0, alice), (2.0, bob)] {
            var line = forged
            line.signer = key.publicKey.fingerprint
            line.sigExpires = change.operation.expires
            try queue.append(.approve(line), at: at(seconds))
        }
        try queue.append(.resolve(Resolution(id: change.id, outcome: .allowed)), at: at(3))
        let probe = try request("/work/e", at: 4)
        try decide(probe, by: dave, at: 5)
        for checks in [SignatureChecks.unsettled, .all] {
            let state = try folded(checks: checks)
            #expect(state.approverChanges.isEmpty && state.requests[change.id]?.approvals.isEmpty == true)
            #expect(state.requests[probe.id]?.approvals.isEmpty == true)
        }
    }

    @Test("an approvers operation carries a readable list with a key and nothing else, and its digest binds the list's bytes")
    func theOperationsShape() throws {
        func operation(_ list: String?, paths: [[UInt8]] = [], kind: OperationKind = .approvers) -> HeldOperation {
            HeldOperation(kind: kind, paths: paths, approvers: list, cwd: [], exe: "", sandbox: "s", rule: "approvers", expires: at(60))
        }
        #expect(throws: SignOffError.self) { try operation(nil).validate() }
        #expect(throws: SignOffError.self) { try operation("# nobody\n").validate() }
        #expect(throws: SignOffError.self) { try operation("alice not-a-key\n").validate() }
        #expect(throws: SignOffError.self) { try operation(proposedList, paths: [Array("/x".utf8)]).validate() }
        #expect(throws: SignOffError.self) { try operation(proposedList, paths: [Array("/x".utf8)], kind: .delete).validate() }
        try operation(proposedList).validate()
        #expect(operation(proposedList).digest != operation(proposedList + "# one more line\n").digest)
        #expect(operation(proposedList).subject == "the approvers list: alice, bob, dave (3 keys)")
        // Read back from the queue, it is the same operation.
        let change = try proposal()
        let read = try QueueReader.read(queue.path).records.first?.event
        #expect(read == .request(change))
    }

    @Test("the changes a list makes, as approvers read them")
    func theDiff() throws {
        let lines = ApproversDiff.lines(from: anchor, to: proposedList)
        #expect(lines.count == 4)
        #expect(lines.filter { $0.hasPrefix("= ") }.count == 2)
        #expect(lines.contains("+ dave ssh-ed25519 \(dave.publicKey.fingerprint)"))
        #expect(lines.contains("- carol ssh-ed25519 \(carol.publicKey.fingerprint)"))
    }
}
