import AirlockNetwork
import AirlockPolicy
import Foundation
import Logging
import Synchronization
import Testing

/// A sign-off desk of the tests' own: records each hold and answers when the test says.
final class FakeDesk: ConnectionSignOff {
    final class Ticket: ConnectionSignOffTicket {
        let cancelled = Mutex<String?>(nil)
        func cancel(reason: String) { cancelled.withLock { $0 = $0 ?? reason } }
    }

    struct Hold: Sendable {
        var host: String
        var port: Int
        var rule: String
        var answer: @Sendable (ConnectionSignOffAnswer) -> Void
        var ticket: Ticket
    }

    let holds = Mutex<[Hold]>([])
    let approved = Mutex<[String: String]>([:])

    func approval(host: String, port: Int) -> String? { approved.withLock { $0["\(host):\(port)"] } }

    func hold(host: String, port: Int, rule: String,
              answered: @escaping @Sendable (ConnectionSignOffAnswer) -> Void) -> any ConnectionSignOffTicket {
        let ticket = Ticket()
        holds.withLock { $0.append(Hold(host: host, port: port, rule: rule, answer: answered, ticket: ticket)) }
        return ticket
    }

    func waitForHold(_ count: Int = 1, seconds: Double = 10) -> Hold? {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let hold = holds.withLock({ $0.count >= count ? $0[count - 1] : nil }) { return hold }
            usleep(20_000)
        }
        return nil
    }
}

/// The proxy's half of held connections (`unknown = "hold"`), against a fake desk: the client
/// waits unanswered, gets the desk's refusal as a 403, an approval is asked for once per
/// destination, and a client that leaves cancels its hold. The desk itself is tested in AirlockSupervisorTests, and both together
/// in a real sandbox in HeldConnectionTests.
@Suite(.serialized) struct HeldConnectionProxyTests {
    /// TEST-NET-2: not a reserved address for the proxy. The proxy never connects to it in these
    /// tests (the fake desk approves nothing that would go out): where the tests run, such an
    /// address may well be answered by something. Approved connections that go through are
    /// tested in a network namespace of their own (HeldConnectionTests).
    static let unroutable = "198.51.100.7"

    func fixture(signOff: (any ConnectionSignOff)?) throws -> (proxy: EgressProxy, port: Int, log: String) {
        let (fd, port) = try makeListeningSocket()
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("airlock-hold-\(UUID().uuidString).jsonl").path
        let proxy = EgressProxy(
            listeningSocket: fd, policy: try NetworkPolicy(allow: [], unknown: .hold), log: try NetworkLog(path: log),
            logger: Logger(label: "airlock.test.hold"), signOff: signOff, connectTimeout: .milliseconds(500))
        try proxy.start()
        return (proxy, port, log)
    }

    func logEntries(_ path: String, atLeast count: Int) -> [[String: Any]] {
        let deadline = Date().addingTimeInterval(5)
        var entries: [[String: Any]] = []
        repeat {
            let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
            entries = text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            if entries.count >= count { break }
            usleep(20_000)
        } while Date() < deadline
        return entries
    }

    @Test("a held CONNECT is answered nothing until the desk answers; refused, it gets a 403 whose body is the desk's line; the log says hold, then deny naming the request")
    func heldThenRefused() throws {
        let desk = FakeDesk()
        let (proxy, port, log) = try fixture(signOff: desk)
        defer { proxy.stop(); try? FileManager.default.removeItem(atPath: log) }
        let client = try RawClient(port: port, timeoutSeconds: 1)
        client.send("CONNECT \(Self.unroutable):443 HTTP/1.1\r\nHost: \(Self.unroutable):443\r\n\r\n")
        let hold = try #require(desk.waitForHold())
        #expect(hold.host == Self.unroutable && hold.port == 443 && hold.rule == "unknown = hold")
        #expect(client.read(until: "\r\n\r\n").isEmpty, "the proxy answered a held CONNECT")
        hold.answer(.refused(request: "k7tq2m", message: "DENIED request k7tq2m by alice: not this host: connect \(Self.unroutable):443: the connection was refused."))
        let response = (client.readToEOF() ?? "")
        #expect(response.hasPrefix("HTTP/1.1 403 "), "\(response)")
        #expect(response.hasSuffix("\r\n\r\nairlock: DENIED request k7tq2m by alice: not this host: connect \(Self.unroutable):443: the connection was refused.\n"), "\(response)")
        let entries = logEntries(log, atLeast: 2)
        #expect(entries.map { $0["decision"] as? String } == ["hold", "deny"], "\(entries)")
        #expect(entries.last?["rule"] as? String == "unknown = hold: request k7tq2m" && entries.last?["status"] as? Int == 403, "\(entries)")
    }

    @Test("a destination approved earlier in the sandbox is not held again, and its approval opens no loopback address: the address check refuses it, nobody is asked")
    func approvedBeforeIsNotAskedAgainAndOpensNoReservedAddress() throws {
        let desk = FakeDesk()
        desk.approved.withLock { $0["127.0.0.1:22"] = "k7tq2m" }
        let (proxy, port, log) = try fixture(signOff: desk)
        defer { proxy.stop(); try? FileManager.default.removeItem(atPath: log) }
        let client = try RawClient(port: port, timeoutSeconds: 10)
        client.send("CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n")
        let response = client.readToEOF() ?? ""
        #expect(response.hasPrefix("HTTP/1.1 403 "), "\(response)")
        #expect(response.contains("127.0.0.1 is a loopback address, reachable only when an allow rule names \"127.0.0.1\" itself (decided by \"unknown = hold\")"), "\(response)")
        #expect(desk.holds.withLock { $0.isEmpty }, "an approved destination was held again")
        let entries = logEntries(log, atLeast: 1)
        #expect(!entries.contains { $0["decision"] as? String == "hold" }, "\(entries)")
    }

    @Test("a client that closes its connection while held cancels its hold, saying so")
    func clientLeavingCancels() throws {
        let desk = FakeDesk()
        let (proxy, port, log) = try fixture(signOff: desk)
        defer { proxy.stop(); try? FileManager.default.removeItem(atPath: log) }
        let client = try RawClient(port: port, timeoutSeconds: 1)
        client.send("CONNECT \(Self.unroutable):443 HTTP/1.1\r\nHost: \(Self.unroutable):443\r\n\r\n")
        let hold = try #require(desk.waitForHold())
        shutdown(client.fd, Int32(SHUT_RDWR))
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline, hold.ticket.cancelled.withLock({ $0 }) == nil { usleep(20_000) }
        #expect(hold.ticket.cancelled.withLock { $0 } == "the client closed the connection")
    }

    @Test("a held host that resolves to loopback is refused at once, as its connection would be after an approval, and nobody is asked")
    func reservedAddressesAreRefusedBeforeAnyoneIsAsked() throws {
        let desk = FakeDesk()
        let (proxy, port, log) = try fixture(signOff: desk)
        defer { proxy.stop(); try? FileManager.default.removeItem(atPath: log) }
        for target in ["127.0.0.1:22", "localhost:22", "metadata.google.internal:80"] {
            let client = try RawClient(port: port, timeoutSeconds: 10)
            client.send("CONNECT \(target) HTTP/1.1\r\nHost: \(target)\r\n\r\n")
            let response = (client.readToEOF() ?? "")
            #expect(response.hasPrefix("HTTP/1.1 403 "), "\(target): \(response)")
            #expect(response.contains("loopback") || response.contains("metadata"), "\(target): \(response)")
        }
        #expect(desk.holds.withLock { $0.isEmpty })
    }

    @Test("with no sign-off desk, a held connection is refused with a 403 naming the rule, never let through")
    func noDeskRefuses() throws {
        let (proxy, port, log) = try fixture(signOff: nil)
        defer { proxy.stop(); try? FileManager.default.removeItem(atPath: log) }
        let client = try RawClient(port: port, timeoutSeconds: 10)
        client.send("CONNECT \(Self.unroutable):443 HTTP/1.1\r\nHost: \(Self.unroutable):443\r\n\r\n")
        let response = (client.readToEOF() ?? "")
        #expect(response.hasPrefix("HTTP/1.1 403 "), "\(response)")
        #expect(response.contains("airlock: connection to \(Self.unroutable):443 is held for sign-off by rule \"unknown = hold\", and this proxy has no sign-off queue: refused"), "\(response)")
    }
}
