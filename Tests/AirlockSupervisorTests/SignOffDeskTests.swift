import AirlockSignOff
@testable import AirlockSupervisor
import Foundation
import Glibc
import Logging
import Synchronization
import Testing

/// The sign-off desk without a kernel: waiters of the tests' own, a real queue file, real keys
/// signing with ssh-keygen. The desk's sandboxes are end-to-end in HoldTests and HeldConnectionTests.
@Suite(.serialized)
struct SignOffDeskTests {
    /// A queue, an allowed_signers file with alice and bob, and their keys.
    final class World: @unchecked Sendable {
        let dir: String
        var queue: String { dir + "/queue.jsonl" }
        var approvers: String { dir + "/allowed_signers" }

        init() throws {
            var template = Array("/tmp/airlock-desk-test-XXXXXX".utf8CString)
            dir = try #require(template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }.map { String(cString: $0) })
            var lines: [String] = []
            for name in ["alice", "bob"] {
                let made = Process()
                made.executableURL = URL(fileURLWithPath: "/usr/bin/ssh-keygen")
                made.arguments = ["-q", "-t", "ed25519", "-N", "", "-C", name, "-f", dir + "/" + name]
                try made.run()
                made.waitUntilExit()
                let pub = try String(contentsOfFile: dir + "/\(name).pub", encoding: .utf8).split(separator: " ")
                lines.append("\(name) namespaces=\"airlock\" \(pub[0]) \(pub[1])")
            }
            try lines.joined(separator: "\n").appending("\n").write(toFile: approvers, atomically: true, encoding: .utf8)
            _ = FileManager.default.createFile(atPath: queue, contents: nil)
        }

        deinit { try? FileManager.default.removeItem(atPath: dir) }

        func desk(wait: TimeInterval? = 20) -> SignOffDesk {
            SignOffDesk(config: .init(queuePath: queue, approversPath: approvers, quorum: 2, wait: wait, requester: "ops"),
                        queue: QueueFile(path: queue), logger: Logger(label: "airlock.test.desk"))
        }

        func request(_ id: String) throws -> Request {
            let state = QueueState.fold(try QueueReader.read(queue), approvers: nil, now: Date())
            return try #require(state.requests[id]?.request)
        }

        func decide(_ decision: Decision, _ id: String, as name: String, reason: String? = nil) throws {
            let request = try request(id)
            let signed = try SignedDecision.sign(decision, on: request, sigExpires: request.operation.expires,
                                                 reason: reason, keyFile: dir + "/" + name)
            try QueueFile(path: queue).append(decision == .approve ? .approve(signed) : .deny(signed))
        }

        var events: [QueueEvent] { (try? QueueReader.read(queue).records.map(\.event)) ?? [] }
    }

    /// A waiter of the test's own: says what the desk did to it.
    final class Waiter: DeskWaiter {
        var gone: String?
        var told: [String] = []
        var carried: [String] = []
        var ending: DeskEnding?
        var process: Int32 { 4242 }
        var noun: String { "thing" }
        var refusal: String { "the thing was refused" }
        var scope: [String: JSONValue] { ["test": .bool(true)] }
        var grantSummary: String { "nothing" }
        var pollDescriptor: Int32 { -1 }
        var needsFrequentLooks: Bool { false }
        func goneReason() -> String? { gone }
        func held(_ request: Request, summary: String, deadline: Date) { told.append("HELD \(request.id)") }
        func carryOut(request id: String) -> DeskResult {
            carried.append(id)
            return DeskResult(outcome: .allowed, errno: nil)
        }
        func finish(_ ending: DeskEnding) { self.ending = ending }
    }

    func operation(_ path: String = "/w/.env") -> HeldOperation {
        HeldOperation(kind: .delete, paths: [Array(path.utf8)], cwd: Array("/w".utf8), exe: "/usr/bin/rm",
                      sandbox: "sbx", rule: "dotenv", expires: Date().addingTimeInterval(900))
    }

    func onlyRequestID(_ world: World) throws -> String {
        let ids = world.events.compactMap { event -> String? in
            if case .request(let request) = event { return request.id }
            return nil
        }
        #expect(ids.count == 1, "\(world.events)")
        return try #require(ids.first)
    }

    @Test("the same operation held twice is one request; two approvals carry it out for both waiters, the resolve line written before")
    func sameOperationJoinsAndApprovalCarriesOutForAll() throws {
        let world = try World()
        let desk = world.desk()
        let first = Waiter(), second = Waiter()
        desk.hold(operation(), summary: "delete /w/.env", first)
        desk.hold(operation(), summary: "delete /w/.env", second)
        let id = try onlyRequestID(world)
        #expect(first.told == ["HELD \(id)"] && second.told == ["HELD \(id)"])
        try world.decide(.approve, id, as: "alice")
        desk.reevaluate(queueChanged: true)
        #expect(first.ending == nil, "one approval of two carried it out")
        try world.decide(.approve, id, as: "bob")
        desk.reevaluate(queueChanged: true)
        #expect(first.carried == [id] && second.carried == [id])
        #expect(first.ending?.approved == true && first.ending?.message == "APPROVED request \(id): delete /w/.env goes ahead.")
        #expect(second.ending?.approved == true)
        #expect(world.events.last == .resolve(Resolution(id: id, outcome: .allowed, detail: "delete /w/.env")))
        #expect(!desk.isHolding)
    }

    @Test("a deny ends every waiter refused, told the request, who denied and why")
    func denyRefusesNamingWhoAndWhy() throws {
        let world = try World()
        let desk = world.desk()
        let waiter = Waiter()
        desk.hold(operation(), summary: "delete /w/.env", waiter)
        let id = try onlyRequestID(world)
        try world.decide(.deny, id, as: "alice", reason: "keep it")
        desk.reevaluate(queueChanged: true)
        #expect(waiter.carried.isEmpty)
        #expect(waiter.ending?.approved == false && waiter.ending?.request == id)
        #expect(waiter.ending?.message == "DENIED request \(id) by alice: keep it: delete /w/.env: the thing was refused.")
    }

    @Test("a waiter whose wait is over is refused and its request stays pending; approved later, the same operation goes through at once")
    func waitOverLeavesTheRequestOpenForARetry() throws {
        let world = try World()
        let desk = world.desk(wait: 0.2)
        let waiter = Waiter()
        desk.hold(operation(), summary: "delete /w/.env", waiter)
        let id = try onlyRequestID(world)
        usleep(300_000)
        desk.reevaluate()
        let message = try #require(waiter.ending?.message)
        #expect(waiter.ending?.approved == false)
        #expect(message.hasPrefix("NOT APPROVED YET: request \(id) has 0/2 approvals: delete /w/.env: the thing was refused. The request stays open until "))
        #expect(message.hasSuffix("; once it is approved, the same thing made again goes through."))
        #expect(desk.isHolding, "the request is still open")
        try world.decide(.approve, id, as: "alice")
        try world.decide(.approve, id, as: "bob")
        desk.reevaluate(queueChanged: true)
        #expect(waiter.carried.isEmpty, "nobody waits: nothing is carried out")
        let retry = Waiter()
        desk.hold(operation(), summary: "delete /w/.env", retry)
        #expect(retry.carried == [id] && retry.ending?.approved == true)
        #expect(retry.told.isEmpty, "a retry that goes through at once is not told it is held")
        #expect(try onlyRequestID(world) == id, "the retry made no second request")
    }

    @Test("a request whose every waiter went away is cancelled with the waiter's reason; closing the desk cancels the rest, 'the sandbox ended'")
    func goneWaitersAndTheEndCancel() throws {
        let world = try World()
        let desk = world.desk()
        let leaving = Waiter(), staying = Waiter()
        desk.hold(operation("/w/a/.env"), summary: "delete /w/a/.env", leaving)
        desk.hold(operation("/w/b/.env"), summary: "delete /w/b/.env", staying)
        let ids = world.events.compactMap { event -> String? in
            if case .request(let request) = event { return request.id }
            return nil
        }
        leaving.gone = "the client closed the connection"
        desk.reevaluate()
        #expect(world.events.last == .cancel(id: ids[0], reason: "the client closed the connection"))
        #expect(leaving.ending == nil, "a waiter that went away is not answered")
        desk.closeOut("the sandbox ended")
        #expect(world.events.last == .cancel(id: ids[1], reason: "the sandbox ended"))
        #expect(staying.ending?.approved == false && staying.ending?.message == nil)
        #expect(!desk.isHolding)
    }

    @Test("connect operations join by host and port only, and their requests print as connect host:port")
    func connectOperationsJoinByDestination() throws {
        let world = try World()
        let desk = world.desk()
        func connect(_ host: String, _ port: Int) -> HeldOperation {
            HeldOperation(kind: .connect, host: host, port: port, cwd: [], exe: "", sandbox: "sbx", rule: "unknown = hold",
                          expires: Date().addingTimeInterval(900))
        }
        desk.hold(connect("api.example.com", 443), summary: "connect api.example.com:443", Waiter())
        desk.hold(connect("api.example.com", 443), summary: "connect api.example.com:443", Waiter())
        desk.hold(connect("api.example.com", 80), summary: "connect api.example.com:80", Waiter())
        desk.hold(connect("[::1]", 443), summary: "connect [::1]:443", Waiter())
        let requests = world.events.compactMap { event -> Request? in
            if case .request(let request) = event { return request }
            return nil
        }
        #expect(requests.map(\.operation.subject) == ["api.example.com:443", "api.example.com:80", "[::1]:443"])
    }
}

/// The proxy's way to the desk across threads: a connection held from another thread reaches the
/// supervisor's loop (no listener), waits for two approvals, is let through, and its destination
/// is remembered; after `finish()` a hold is refused at once.
@Suite(.serialized)
struct NetworkHoldsTests {
    final class Answers: Sendable {
        let answers = Mutex<[ConnectionAnswer]>([])
        func add(_ answer: ConnectionAnswer) { answers.withLock { $0.append(answer) } }
        func wait(for count: Int, seconds: Double = 10) -> [ConnectionAnswer] {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline {
                let seen = answers.withLock { $0 }
                if seen.count >= count { return seen }
                usleep(20_000)
            }
            return answers.withLock { $0 }
        }
    }

    func supervisor(_ world: SignOffDeskTests.World, _ holds: NetworkHolds, wait: TimeInterval = 20, audit: Bool = false) -> Supervisor {
        var config = SupervisorConfig(
            sandboxID: "sbx-net", workspace: "/w", home: "/h", protect: [], classifyExec: { _, _, _, _ in nil },
            queuePath: world.queue, approversPath: world.approvers, quorum: 2, timeout: 900, grantWindow: 600,
            audit: audit, requester: "ops")
        config.wait = wait
        return Supervisor(listener: -1, config: config, logger: Logger(label: "airlock.test.net"), network: holds)
    }

    func pendingConnect(_ world: SignOffDeskTests.World, excluding seen: Set<String> = []) -> Request? {
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            for event in world.events {
                if case .request(let request) = event, !seen.contains(request.id) { return request }
            }
            usleep(20_000)
        }
        return nil
    }

    @Test("a held connection is a connect request; two approvals let it through and later ones to the same host and port; another port is asked again")
    func approvalLetsTheDestinationThroughForTheSandboxsLife() throws {
        let world = try SignOffDeskTests.World()
        let holds = NetworkHolds()
        let supervisor = supervisor(world, holds)
        supervisor.start()
        let answers = Answers()
        let ticket = holds.hold(host: "API.Example.com.", port: 443, rule: "unknown = hold") { answers.add($0) }
        let request = try #require(pendingConnect(world))
        #expect(request.operation.kind == .connect && request.operation.host == "api.example.com" && request.operation.port == 443)
        #expect(request.operation.rule == "unknown = hold" && request.operation.sandbox == "sbx-net" && request.pid == 0)
        #expect(answers.wait(for: 1, seconds: 0.5).isEmpty, "answered before anyone approved")
        try world.decide(.approve, request.id, as: "alice")
        try world.decide(.approve, request.id, as: "bob")
        #expect(answers.wait(for: 1) == [.approved(request: request.id)])
        #expect(holds.approval(host: "api.example.com", port: 443) == request.id)
        #expect(holds.approval(host: "api.example.com", port: 80) == nil)
        _ = ticket
        _ = holds.hold(host: "api.example.com", port: 80, rule: "unknown = hold") { answers.add($0) }
        let other = try #require(pendingConnect(world, excluding: [request.id]))
        #expect(other.operation.port == 80)
        supervisor.finish()
        let all = answers.wait(for: 2)
        #expect(all.count == 2)
        if case .refused(let id, let message)? = all.last {
            #expect(id == other.id && message.contains("the sandbox ended"), "\(message)")
        } else {
            Issue.record("the waiting connection was not refused at the end: \(all)")
        }
        #expect(world.events.last == .cancel(id: other.id, reason: "the sandbox ended"))
        // The desk is closed: a hold now is refused at once.
        _ = holds.hold(host: "late.example.com", port: 443, rule: "unknown = hold") { answers.add($0) }
        guard case .refused(nil, let late)? = answers.wait(for: 3).last else {
            Issue.record("a hold after the end was not refused at once"); return
        }
        #expect(late.contains("the sandbox has ended"))
    }

    @Test("in shadow mode a held connection goes through at once, written as an audit line once per host and port")
    func shadowModeAuditsOncePerDestination() throws {
        let world = try SignOffDeskTests.World()
        let holds = NetworkHolds()
        let supervisor = supervisor(world, holds, audit: true)
        supervisor.start()
        defer { supervisor.finish() }
        let answers = Answers()
        _ = holds.hold(host: "api.example.com", port: 443, rule: "unknown = hold") { answers.add($0) }
        #expect(answers.wait(for: 1) == [.approved(request: "audit")])
        #expect(holds.approval(host: "api.example.com", port: 443) == "audit")
        let audits = world.events.compactMap { event -> Request? in
            if case .audit(let request) = event { return request }
            return nil
        }
        #expect(audits.count == 1 && audits.first?.operation.kind == .connect && audits.first?.operation.subject == "api.example.com:443",
                "\(world.events)")
        #expect(!world.events.contains { if case .request = $0 { true } else { false } }, "shadow mode held something")
    }

    @Test("a client that goes away while its connection is held cancels the request: 'the client closed the connection'")
    func aClientThatLeavesCancelsItsRequest() throws {
        let world = try SignOffDeskTests.World()
        let holds = NetworkHolds()
        let supervisor = supervisor(world, holds)
        supervisor.start()
        defer { supervisor.finish() }
        let ticket = holds.hold(host: "198.51.100.7", port: 8080, rule: "unknown = hold") { _ in }
        let request = try #require(pendingConnect(world))
        ticket.cancel(reason: "the client closed the connection")
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline, world.events.last != .cancel(id: request.id, reason: "the client closed the connection") {
            usleep(20_000)
        }
        #expect(world.events.last == .cancel(id: request.id, reason: "the client closed the connection"))
    }

}

extension SignOffDeskTests {
    /// A queue whose request appends are not confirmed (as a service that answered too late):
    /// the append throws, and its line lands in the file when the test says so.
    final class UnconfirmedQueue: SignOffQueue, @unchecked Sendable {
        let file: QueueFile
        var late: [HeldOperation] = []
        var losing = true
        init(_ path: String) { file = QueueFile(path: path) }
        var location: String { "http://service.example/" }
        func startTail() throws -> QueueTail { .start }
        func approverChanges() throws -> [QueueRecord] { [] }
        func appendRequest(_ operation: HeldOperation, pid: Int32, requester: String, quorum: Int, scope: JSONValue?, audit: Bool) throws -> Request {
            guard losing else { return try file.appendRequest(operation, pid: pid, requester: requester, quorum: quorum, scope: scope, audit: audit) }
            late.append(operation)
            throw SignOffError(.invalidOperation, "the service did not answer within 5 s")
        }
        /// The service writes what it had taken (after the sandbox gave up).
        func land() throws {
            for operation in late { try file.appendRequest(operation, pid: 4242, requester: "ops", quorum: 2, scope: nil, audit: false) }
            late = []
        }
        func record(_ event: QueueEvent) throws { try file.record(event) }
        func readAppended(from tail: QueueTail) throws -> (log: QueueLog, bytes: [UInt8]) { try file.readAppended(from: tail) }
        func isIntact(_ prefix: QueuePrefix) throws -> (intact: Bool, breakAt: ChainBreak?) { try file.isIntact(prefix) }
        func watch() -> Int32 { -1 }
        func drainWatch(_ descriptor: Int32) {}
    }

    func desk(_ world: World, _ queue: UnconfirmedQueue) -> SignOffDesk {
        SignOffDesk(config: .init(queuePath: queue.location, approversPath: world.approvers, quorum: 2, wait: 20, requester: "ops"),
                    queue: queue, logger: Logger(label: "airlock.test.desk"))
    }

    @Test("a request written after the desk gave up on it is taken up: the next try of the call waits on it, approved it goes ahead, no second request")
    func lateRequestIsTakenUp() throws {
        let world = try World()
        let queue = UnconfirmedQueue(world.queue)
        let desk = desk(world, queue)
        let first = Waiter()
        desk.hold(operation(), summary: "delete /w/.env", first)
        #expect(first.ending?.approved == false && first.ending?.message?.contains("cannot be written") == true, "\(String(describing: first.ending))")
        try queue.land()
        queue.losing = false
        desk.look()
        let id = try onlyRequestID(world)
        #expect(desk.isHolding, "the late request was not taken up")
        let second = Waiter()
        desk.hold(operation(), summary: "delete /w/.env", second)
        #expect(second.told == ["HELD \(id)"], "\(second.told)")
        try world.decide(.approve, id, as: "alice")
        try world.decide(.approve, id, as: "bob")
        desk.reevaluate(queueChanged: true)
        #expect(second.carried == [id] && second.ending?.approved == true)
        #expect(try onlyRequestID(world) == id)
    }

    @Test("a request written after the desk gave up on it, when the call was asked for again meanwhile, is cancelled: none is left open")
    func lateRequestAfterARetryIsCancelled() throws {
        let world = try World()
        let queue = UnconfirmedQueue(world.queue)
        let desk = desk(world, queue)
        desk.hold(operation(), summary: "delete /w/.env", Waiter())
        queue.losing = false
        let again = Waiter()
        desk.hold(operation(), summary: "delete /w/.env", again)
        let asked = try onlyRequestID(world)
        queue.losing = true
        try queue.land()
        desk.look()
        desk.reevaluate(queueChanged: true)
        let cancels = world.events.compactMap { event -> String? in if case .cancel(let id, _) = event { return id } else { return nil } }
        let requests = world.events.compactMap { event -> String? in if case .request(let r) = event { return r.id } else { return nil } }
        #expect(requests.count == 2 && cancels == requests.filter { $0 != asked }, "\(world.events)")
        #expect(again.told == ["HELD \(asked)"] && again.ending == nil)
    }
}
