import AirlockSignOff
import Foundation
import Glibc
import Logging

/// Someone waiting at the sign-off desk for people to decide: a system call blocked in the kernel,
/// a command stopped after its exec (`HeldCall`), a connection the egress proxy holds
/// (`HeldConnection`) and, next, an HTTP request. The desk writes the queue, reads the decisions
/// and says how each wait ends; each waiter knows how it is answered and told.
///
/// Everything here is called on the desk's thread (the supervisor's), never concurrently.
protocol DeskWaiter: AnyObject {
    /// The process the request names; 0 when none is known (a connection).
    var process: Int32 { get }
    /// What waits, in the agent's words: "call", "command", "connection".
    var noun: String { get }
    /// What became of it when it was not let through: "the call failed with EPERM".
    var refusal: String { get }
    /// What an approval lets happen beyond this one operation: the request's `scope` (shown to
    /// approvers) and the same in a few words for the operator's notice.
    var scope: [String: JSONValue] { get }
    var grantSummary: String { get }
    /// Why it no longer waits (its process ended, its client closed the connection), or nil while
    /// it still does. May take note of the ending (reap a stopped command).
    func goneReason() -> String?
    /// A descriptor that turns readable when the waiter goes away (a pidfd), or -1.
    var pollDescriptor: Int32 { get }
    /// Whether it must be looked at every 0.1 s: a stopped command's pending signals are not
    /// reported to anyone.
    var needsFrequentLooks: Bool { get }
    /// Put on a request: tells the agent what is held and what happens next, if it can be told.
    func held(_ request: Request, summary: String, deadline: Date)
    /// Approved: carries the operation out (its `resolve` line is written already) and says how
    /// that went. What an approval grants beyond the operation starts here.
    func carryOut(request id: String) -> DeskResult
    /// Ends the wait.
    func finish(_ ending: DeskEnding)
}

/// How an approved operation went when it was carried out.
struct DeskResult {
    var outcome: Resolution.Outcome
    /// The errno of a failed operation.
    var errno: Int32?
}

/// How a wait ended.
struct DeskEnding {
    /// Approved and carried out: the waiter answers with what `carryOut` produced. Otherwise it is
    /// refused.
    var approved: Bool
    /// The request it waited on, when one was written.
    var request: String?
    /// One line for the agent: what happened and what it can do next. Nil when there is no one
    /// left to read it (the sandbox ended).
    var message: String?
}

/// The sign-off desk: held operations of every layer become requests on the queue file, wait there
/// for people, and are settled on approve, deny, expiry, the end of their wait, the end of their
/// waiter, a broken queue and the end of the sandbox.
///
/// Confined to one thread: the supervisor's loop calls it, and watches the queue file for it (one
/// inotify watch, made at the first hold). Other threads reach it only through that loop (see
/// `NetworkHolds`).
final class SignOffDesk {
    struct Configuration {
        var queuePath: String
        var approversPath: String
        var quorum: Int
        /// How long a waiter waits before it is refused, its request left open (nil: until expiry).
        var wait: TimeInterval?
        var requester: String
    }

    let config: Configuration
    let logger: Logger
    let queue: any SignOffQueue

    /// Open requests by id; several identical operations may wait on one.
    private(set) var pending: [String: Held] = [:]
    /// The queue as read so far: where to continue, the records of requests held here, and any
    /// break in the chain seen (which stays: no approval counts after it).
    private var queueTail: QueueTail?
    private var heldRecords: [QueueRecord] = []
    private var heldIDs = Set<String>()
    /// The requests that change the approvers list: their lines are kept with the held ones, so
    /// the fold counts every decision against the list in force at its line.
    private var approverChangeIDs = Set<String>()
    /// Operations whose request could not be written, as far as the desk could tell (a service
    /// that did not answer in time may still have written it): a request line for one of these
    /// that shows up later is taken up, or cancelled if the call was asked for again meanwhile.
    private var unconfirmed: [(operation: HeldOperation, summary: String)] = []
    private(set) var chainBreak: ChainBreak?
    /// A running hash of the queue bytes read so far: an edit to them is caught before any approval
    /// is acted on.
    private var queuePrefix = QueuePrefix()
    /// Problems already reported (queue warnings, an unreadable approvers file): each said once.
    private var reported = Set<String>()
    /// Approvals arrive as queue writes: watched only once something is held, because closing an
    /// inotify instance costs the kernel an RCU grace period (~15 ms) at every exit.
    private(set) var queueWatch: Int32 = -1
    private var queueChanged = true

    /// A request of this sandbox that is not settled yet. It outlives its waiters: a waiter whose
    /// wait is over leaves it open, and the same operation made again joins it.
    struct Held {
        var request: Request
        var summary: String
        var waiters: [Seat]
        /// Approved while nobody waited: said once, and the next same operation goes through.
        var approvedNoted = false
    }

    struct Seat {
        var waiter: any DeskWaiter
        /// When it stops waiting and is refused, its request left open.
        var deadline: Date
    }

    init(config: Configuration, queue: any SignOffQueue, logger: Logger) {
        self.config = config
        self.logger = logger
        self.queue = queue
    }

    var isHolding: Bool { !pending.isEmpty }

    /// Descriptors that turn readable when a waiter goes away (pidfds), for the loop's poll.
    var waiterDescriptors: [Int32] {
        pending.values.flatMap { $0.waiters.map(\.waiter.pollDescriptor) }.filter { $0 >= 0 }
    }

    var needsFrequentLooks: Bool {
        pending.values.contains { $0.waiters.contains { $0.waiter.needsFrequentLooks } }
    }

    // MARK: - The loop's part

    /// The queue watch saw a write.
    func queueWritten() {
        queue.drainWatch(queueWatch)
        queueChanged = true
    }

    /// Called at every turn of the loop: watches the queue once something is held (or its writing
    /// was not confirmed), and settles what can be settled.
    func look() {
        if queueWatch < 0 && (!pending.isEmpty || !unconfirmed.isEmpty) {
            queueWatch = queue.watch()
            queueChanged = true
        }
        // A request this desk could not confirm may be written yet: read on, to take it up.
        if !unconfirmed.isEmpty && queueChanged && chainBreak == nil { try? readAppended() }
        if !pending.isEmpty { // after the watch exists: no write falls between
            reevaluate(queueChanged: queueChanged)
            queueChanged = false
        }
    }

    /// Cancels every request still open, ending whatever still waits on one; the desk is closed.
    func closeOut(_ reason: String) {
        for (id, held) in pending {
            for seat in held.waiters { seat.waiter.finish(DeskEnding(approved: false, request: id, message: nil)) }
            record(.cancel(id: id, reason: reason))
        }
        pending = [:]
        if queueWatch >= 0 && queue is QueueFile { close(queueWatch) } // a service's watch is its own
        queueWatch = -1
    }

    // MARK: - Holding

    /// Puts `waiter` on a request for `operation`: the open one for the same operation (a retry
    /// after its wait ran out, another thread's identical call, the same connection again), else
    /// a new one written to the queue.
    func hold(_ operation: HeldOperation, summary: String, _ waiter: any DeskWaiter) {
        // What was appended since the last look first: a request of this sandbox's written late is
        // taken up before a new one is asked for (and a queue broken before the run is known
        // before writing to it).
        if chainBreak == nil { try? readAppended() }
        if let id = pending.first(where: { $0.value.request.operation.sameCall(operation) })?.key, let held = pending[id] {
            let deadline = deadline(expires: held.request.operation.expires)
            pending[id]!.waiters.append(Seat(waiter: waiter, deadline: deadline))
            reevaluate() // approved already: it goes through now
            if pending[id]?.waiters.contains(where: { $0.waiter === waiter }) == true {
                waiter.held(held.request, summary: held.summary, deadline: deadline)
            }
            return
        }
        if let broken = chainBreak {
            logger.error("denied \(summary): no approval can count in a broken queue (its line \(broken.line))")
            return waiter.finish(DeskEnding(approved: false, request: nil,
                                            message: "DENIED \(summary): the sign-off queue is broken, so nothing can be approved; \(waiter.refusal)."))
        }
        let request: Request
        do {
            request = try queue.appendRequest(operation, pid: waiter.process, requester: config.requester,
                                              quorum: config.quorum, scope: .object(waiter.scope), audit: false)
        } catch {
            // Nothing is lost silently: if the request cannot be written, the operation is refused.
            // A file's append that failed wrote nothing whole; a service's may still land.
            if !(queue is QueueFile) {
                unconfirmed.removeAll { Date() >= $0.operation.expires }
                unconfirmed.append((operation, summary))
            }
            logger.error("cannot write to the queue \(config.queuePath): \(error); denying \(summary)")
            return waiter.finish(DeskEnding(approved: false, request: nil,
                                            message: "DENIED \(summary): the sign-off queue cannot be written; \(waiter.refusal)."))
        }
        let deadline = deadline(expires: operation.expires)
        pending[request.id] = Held(request: request, summary: summary, waiters: [Seat(waiter: waiter, deadline: deadline)])
        if access(config.approversPath, R_OK) != 0 {
            logger.warning("no readable approvers file at \(config.approversPath): \(request.id) can only be denied or expire")
        }
        let queueFlags = "--queue \(Self.quoted(config.queuePath)) --approvers \(Self.quoted(config.approversPath))"
        logger.warning("HELD \(request.id): \(summary) [rule \(operation.rule)] needs \(config.quorum) approval\(config.quorum == 1 ? "" : "s"); grant on approval: \(waiter.grantSummary). Approve: airlock approve \(request.id) \(queueFlags)  Deny: airlock deny \(request.id) \(queueFlags) --reason TEXT")
        waiter.held(request, summary: summary, deadline: deadline)
    }

    /// When a waiter held now stops waiting: after `wait`, never after its request's expiry.
    func deadline(expires: Date) -> Date {
        guard let wait = config.wait else { return expires }
        return min(expires, Date().addingTimeInterval(wait))
    }

    /// Shadow mode: `operation` is written as an audit event, and nothing waits.
    func audit(_ operation: HeldOperation, pid: Int32) {
        do {
            _ = try queue.appendRequest(operation, pid: pid, requester: config.requester, quorum: config.quorum, scope: nil, audit: true)
        } catch {
            logger.error("cannot write an audit event to \(config.queuePath): \(error)")
        }
    }

    // MARK: - Deciding

    /// Re-reads the queue and settles every waiter whose request has an outcome, or whose wait is
    /// over. `queueChanged`: something was written since the last look, so the bytes read before
    /// are checked again too.
    func reevaluate(queueChanged: Bool = false) {
        let now = Date()
        let state: QueueState
        do {
            try readAppended()
            if chainBreak == nil && queueChanged { _ = wholeQueueVerifies() }
            if chainBreak != nil { return failAll("the sign-off queue is broken") }
            let approvers: AllowedSigners?
            do { approvers = try AllowedSigners(contentsOf: config.approversPath) } catch {
                // An unreadable file was reported at the hold; a malformed one is said here, once.
                if access(config.approversPath, R_OK) == 0 {
                    reportOnce("approvers file \(config.approversPath): \(error); no approval counts")
                }
                approvers = nil
            }
            let log = QueueLog(records: heldRecords, warnings: [], chainBreak: chainBreak, tail: queueTail ?? .start)
            state = QueueState.fold(log, approvers: approvers, now: now)
        } catch {
            return failAll("the sign-off queue \(config.queuePath) cannot be read (\(error))")
        }
        for (id, held) in pending {
            var live: [Seat] = []
            var gone: [String] = []
            for seat in held.waiters {
                if let reason = seat.waiter.goneReason() { gone.append(reason) } else { live.append(seat) }
            }
            pending[id]?.waiters = live
            // A process killed while it waited (a harness's timeout, Ctrl-C), a client that closed
            // its connection: nobody is left to carry the operation out for, and nothing may be
            // approved for a waiter that is gone.
            if live.isEmpty, let reason = gone.first {
                pending[id] = nil
                let who = held.waiters.map(\.waiter.process).filter { $0 > 0 }
                logger.warning("cancelled \(id): \(reason)\(who.isEmpty ? "" : " (pid \(who.map(String.init).joined(separator: ", ")))")")
                record(.cancel(id: id, reason: reason))
                continue
            }
            let current = state.requests[id]
            // Approved only if the line still describes the operation held here (the request line's
            // quorum is not signed, and an edit to the last line leaves the chain intact) and our own
            // quorum of distinct keys signed it.
            let approved = current?.state == .approved && current?.digestMatches == true
                && current?.request.digest == held.request.digest && (current?.approvals.count ?? 0) >= config.quorum
            // Each outcome is written to the queue before the waiter is answered.
            if approved && live.isEmpty {
                if !held.approvedNoted {
                    pending[id]?.approvedNoted = true
                    logger.warning("APPROVED \(id): \(held.summary) goes ahead when the agent makes the same \(["connect": "connection", "api": "request"][held.request.operation.kind.rawValue] ?? "call") again")
                }
            } else if approved && wholeQueueVerifies() {
                let (results, recorded) = carryOut(id, detail: held.summary, live.map(\.waiter))
                // Exec answers run the exec (and its verification): they can only come last.
                for (waiter, result) in results {
                    let message = result.outcome == .allowed ? "APPROVED request \(id): \(held.summary) goes ahead."
                        : "APPROVED request \(id), but \(held.summary) could not be carried out: \(result.errno.map { String(cString: strerror($0)) } ?? "failed")."
                    waiter.finish(DeskEnding(approved: true, request: id, message: message))
                }
                // Its resolve could not be written (the queue out of reach): nothing was done, and
                // the approved request stays here, so that the agent's next try of the same call
                // carries it out (writing the resolve then) instead of asking anew.
                if recorded { pending[id] = nil } else { pending[id]?.waiters = [] }
            } else if approved {
                return failAll("the sign-off queue was changed in place")
            } else if current?.state == .denied {
                if !live.isEmpty { record(.resolve(Resolution(id: id, outcome: .denied, errno: EPERM, detail: held.summary))) }
                let by = current?.denial.map { d in
                    "by \(d.principals.joined(separator: ", "))\(d.reason.map { ": \($0)" } ?? "")"
                } ?? ""
                for seat in live {
                    seat.waiter.finish(DeskEnding(approved: false, request: id,
                                                  message: "DENIED request \(id) \(by): \(held.summary): \(seat.waiter.refusal)."))
                }
                pending[id] = nil
            } else if now >= held.request.operation.expires {
                record(.expire(id: id))
                if !live.isEmpty { record(.resolve(Resolution(id: id, outcome: .expired, errno: EPERM, detail: held.summary))) }
                for seat in live {
                    seat.waiter.finish(DeskEnding(approved: false, request: id,
                                                  message: "EXPIRED request \(id): not approved by \(RFC3339.format(held.request.operation.expires)): \(held.summary): \(seat.waiter.refusal)."))
                }
                pending[id] = nil
            } else {
                // The wait is over for some: they are refused now, and the request stays open for a retry.
                let approvals = "\(current?.approvals.count ?? 0)/\(config.quorum) approvals"
                let until = RFC3339.format(held.request.operation.expires)
                for seat in live where now >= seat.deadline {
                    let waiter = seat.waiter
                    let who = waiter.process > 0 ? "pid \(waiter.process)" : "a \(waiter.noun)"
                    logger.warning("\(id): \(who) stopped waiting after \(config.wait.map { "\(Int($0)) s" } ?? "its wait") (\(approvals)); the request stays open until \(until)")
                    waiter.finish(DeskEnding(approved: false, request: id,
                                             message: "NOT APPROVED YET: request \(id) has \(approvals): \(held.summary): \(waiter.refusal). The request stays open until \(until); once it is approved, the same \(waiter.noun) made again goes through."))
                }
                pending[id]?.waiters = live.filter { now < $0.deadline }
            }
        }
        heldIDs = Set(pending.keys)
        heldRecords.removeAll { !heldIDs.contains($0.event.requestID) && !approverChangeIDs.contains($0.event.requestID) }
    }

    /// No approval can count any more (a broken or unreadable queue): every waiter is refused now,
    /// told why, instead of waiting out its expiry.
    func failAll(_ reason: String) {
        guard !pending.isEmpty else { return }
        let waiting = pending.values.reduce(0) { $0 + $1.waiters.count }
        logger.error("\(waiting) held operation\(waiting == 1 ? "" : "s") refused: \(reason), so no approval can count")
        for (id, held) in pending {
            for seat in held.waiters {
                seat.waiter.finish(DeskEnding(approved: false, request: id,
                                              message: "FAILED request \(id): \(reason), so nothing can be approved: \(held.summary): \(seat.waiter.refusal)."))
            }
        }
        pending = [:]
        heldIDs = []
        heldRecords.removeAll { !approverChangeIDs.contains($0.event.requestID) }
    }

    /// Carries out an approved operation for its waiters, write-ahead: the `resolve` line is written
    /// first, so nothing the agent is told has happened is missing from the queue (if the line
    /// cannot be written, nothing is done and the waiters are refused). An operation that then
    /// fails gets a second `resolve` with its errno.
    /// `recorded`: the `resolve` line was written (else nothing was done).
    func carryOut(_ id: String, detail: String, _ waiters: [any DeskWaiter]) -> (results: [(any DeskWaiter, DeskResult)], recorded: Bool) {
        guard record(.resolve(Resolution(id: id, outcome: .allowed, detail: detail))) else {
            return (waiters.map { ($0, DeskResult(outcome: .error, errno: EPERM)) }, false)
        }
        let results = waiters.map { ($0, $0.carryOut(request: id)) }
        if let failed = results.first(where: { $0.1.outcome != .allowed })?.1 {
            record(.resolve(Resolution(id: id, outcome: failed.outcome, errno: failed.errno, detail: detail)))
        }
        return (results, true)
    }

    // MARK: - The queue

    /// Reads what was appended to the queue since the last read (the whole file the first time):
    /// a long queue is replayed once, not on every approval.
    private func readAppended() throws {
        if queueTail == nil {
            let tail = try queue.startTail()
            let before = try queue.approverChanges()
            heldRecords = before
            approverChangeIDs = Set(before.map(\.event.requestID))
            queueTail = tail
        }
        let tail = queueTail!
        let (log, bytes) = try queue.readAppended(from: tail)
        guard !bytes.isEmpty else { return }
        queuePrefix.append(bytes.prefix(log.tail.offset - tail.offset))
        for warning in log.warnings { reportOnce("the queue \(config.queuePath): \(warning)") }
        if chainBreak == nil, let broken = log.chainBreak {
            chainBreak = broken
            reportOnce("the queue \(config.queuePath) is broken at \(broken): no approval counts from now on, and held calls fail at once; start over with a new queue file (airlock run --queue NEW ...)")
        }
        if !unconfirmed.isEmpty { takeUpUnconfirmed(log.records) }
        heldIDs.formUnion(pending.keys)
        for record in log.records {
            if case .request(let request) = record.event, request.operation.kind == .approvers { approverChangeIDs.insert(request.id) }
        }
        heldRecords += log.records.filter { heldIDs.contains($0.event.requestID) || approverChangeIDs.contains($0.event.requestID) }
        queueTail = log.tail
    }

    /// A request this desk thought unwritten, found written after all: held again (with nobody
    /// waiting: the agent's next try of the call joins it), or cancelled when the call was asked
    /// for again meanwhile, so that no request is left open with nobody to carry it out.
    private func takeUpUnconfirmed(_ records: [QueueRecord]) {
        for line in records {
            guard case .request(let request) = line.event, pending[request.id] == nil, !heldIDs.contains(request.id),
                  let asked = unconfirmed.first(where: { $0.operation.sandbox == request.operation.sandbox && $0.operation.sameCall(request.operation) })
            else { continue }
            if let again = pending.first(where: { $0.value.request.operation.sameCall(request.operation) })?.key {
                logger.warning("cancelling \(request.id): written after all, though the queue did not say so in time; \(again) asks for the same")
                record(.cancel(id: request.id, reason: "written after its sandbox had given up on it; \(again) asks for the same"))
            } else {
                logger.warning("HELD \(request.id): \(asked.summary): written after all, though the queue did not say so in time; the next try goes on it")
                pending[request.id] = Held(request: request, summary: asked.summary, waiters: [])
            }
        }
    }

    /// Appends `event`; false (and one line saying why) when it could not be written.
    @discardableResult
    func record(_ event: QueueEvent) -> Bool {
        do { try queue.record(event) } catch {
            logger.error("cannot write \(event.name) for \(event.requestID) to \(config.queuePath): \(error)")
            return false
        }
        return true
    }

    private func reportOnce(_ message: String) {
        if reported.insert(message).inserted { logger.error("\(message)") }
    }

    /// Before anything is carried out on an approval: the bytes read earlier are still the file's
    /// first bytes (the chain was checked as they were read; an edit in place of them shows here).
    private func wholeQueueVerifies() -> Bool {
        do {
            if chainBreak != nil { return false }
            let (intact, broken) = try queue.isIntact(queuePrefix)
            guard intact else {
                // Where, if the chain shows it (a consistent rewrite of history does not).
                chainBreak = broken ?? ChainBreak(line: 1, reason: "lines already read were rewritten")
                reportOnce("the queue \(config.queuePath) was changed in place (\(broken.map(\.description) ?? "lines already read were rewritten")): no approval counts from now on, and held calls fail at once; start over with a new queue file (airlock run --queue NEW ...)")
                return false
            }
            return true
        } catch {
            reportOnce("reading the queue \(config.queuePath): \(error); no approval counts")
            return false
        }
    }

    /// A path as a shell reads it back: the operator copies the notice's commands.
    static func quoted(_ s: String) -> String {
        if !s.isEmpty && s.allSatisfy({ $0.isLetter || $0.isNumber || "-_./=:,+@%".contains($0) }) { return s }
        return "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}

extension HeldOperation {
    /// The same operation again (expiry aside): same kind, targets, command line, host and port,
    /// cwd, caller's program and rule.
    func sameCall(_ other: HeldOperation) -> Bool {
        kind == other.kind && paths == other.paths && argv == other.argv && host == other.host && port == other.port && api == other.api
            && cwd == other.cwd && exe == other.exe && rule == other.rule
    }
}
