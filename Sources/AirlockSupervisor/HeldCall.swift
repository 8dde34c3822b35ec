import AirlockSignOff
import CAirlockShim
import Foundation
import Glibc
import SystemPackage

/// A system call blocked in the kernel, or a command stopped after its exec, waiting at the
/// sign-off desk; how it is carried out once approved and answered in every case.
final class HeldCall: DeskWaiter {
    unowned let supervisor: Supervisor
    let agent: AgentProcess
    let perform: () -> Supervisor.Answer
    /// What the caller's process and descendants may then do (none: nothing beyond the call).
    let grant: Grant?
    /// A command held after its exec: the process, stopped at PTRACE_EVENT_EXEC under our ptrace,
    /// by the id it has there, and a pidfd that turns readable when it dies. Approval lets it run;
    /// anything else kills it before its first instruction.
    let stopped: (pid: Int32, pidfd: Int32)?
    /// What `carryOut` produced; a call never carried out is refused.
    private var result = Supervisor.Answer.error(.notPermitted)

    init(_ supervisor: Supervisor, agent: AgentProcess, perform: @escaping () -> Supervisor.Answer, grant: Grant? = nil,
         stopped: (pid: Int32, pidfd: Int32)? = nil) {
        self.supervisor = supervisor
        self.agent = agent
        self.perform = perform
        self.grant = grant
        self.stopped = stopped
    }

    /// The process the agent reads the output of: told what became of its call.
    var process: Int32 { stopped?.pid ?? ExecVerifier.threadGroup(of: agent.pid) ?? agent.pid }

    var noun: String { stopped == nil ? "call" : "command" }

    var refusal: String {
        stopped == nil ? "the call failed with EPERM" : "the command ended before it started (exit 126)"
    }

    var scope: [String: JSONValue] {
        var scope: [String: JSONValue] = [
            "pid": .integer(Int64(process)), "process_and_descendants": .bool(true),
            "window_seconds": .integer(Int64(supervisor.config.grantWindow)),
        ]
        if let grant {
            scope["roots"] = .array(grant.roots.map { .string($0.shown) })
            scope["kinds"] = .array(grant.kinds.sorted { $0.rawValue < $1.rawValue }.map { .string($0.rawValue) })
        }
        return scope
    }

    var grantSummary: String {
        grant.map { g in
            "\(g.kinds.map(\.rawValue).sorted().joined(separator: ",")) under \(g.roots.isEmpty ? "nothing" : g.roots.map(\.shown).joined(separator: ", ")) for pid \(process) and descendants"
        } ?? "nothing beyond the call"
    }

    var pollDescriptor: Int32 { stopped?.pidfd ?? -1 }

    var needsFrequentLooks: Bool { stopped != nil }

    /// A command stopped at its exec that was killed (or has a signal pending that would end it)
    /// is ended and its death notice taken.
    func goneReason() -> String? {
        guard let stopped else { return agent.stillWaiting() ? nil : "the held process ended" }
        var ended = ExecVerifier.reapIfEnded(stopped.pid)
        if !ended && ExecVerifier.fatalSignalPending(stopped.pid) {
            ExecVerifier.end(stopped.pid)
            ended = true
        }
        if ended && stopped.pidfd >= 0 { close(stopped.pidfd) }
        return ended ? "the held process ended" : nil
    }

    func held(_ request: Request, summary: String, deadline: Date) {
        let needs = "request \(request.id) needs \(request.quorum) approval\(request.quorum == 1 ? "" : "s")"
        let until = RFC3339.format(request.operation.expires)
        let waits = deadline < request.operation.expires
            ? "up to \(Int((deadline.timeIntervalSinceNow).rounded())) s" : "until \(until)"
        let retry = deadline < request.operation.expires
            ? " The request stays open until \(until); once it is approved, the same \(noun) made again goes through." : ""
        if stopped != nil {
            tell("HELD \(summary): \(needs). The command is stopped before it starts: it runs if approved, waiting \(waits); otherwise it ends with status 126.\(retry)")
        } else {
            tell("HELD \(summary): \(needs). The call waits \(waits) for approval, then fails with EPERM.\(retry)")
        }
    }

    func carryOut(request id: String) -> DeskResult {
        result = perform()
        if result.outcome == .allowed, var grant {
            grant.requestID = id
            grant.expires = Date().addingTimeInterval(supervisor.config.grantWindow)
            supervisor.grants.append(grant)
        }
        return DeskResult(outcome: result.outcome, errno: result.errno)
    }

    /// Answers the call; a command stopped at its exec runs when approved and is killed on
    /// anything else.
    func finish(_ ending: DeskEnding) {
        if let message = ending.message { tell(message) }
        let answer = ending.approved ? result : .error(.notPermitted)
        guard let stopped else { return supervisor.answer(agent, answer) }
        if answer.outcome == .allowed { ExecVerifier.release(stopped.pid) } else { ExecVerifier.refuse(stopped.pid) }
        if stopped.pidfd >= 0 { close(stopped.pidfd) }
    }

    /// One line on the held process's own stderr: the agent reads its tool's output, not airlock's.
    /// Nothing when that stderr is not open for writing, or is airlock's own stderr (file or
    /// terminal), which shows the operator's notice already. Never blocks the supervisor: a pipe or
    /// terminal is written through a non-blocking description of our own (a full pipe loses the line).
    func tell(_ message: String) {
        let pidfd = airlock_pidfd_open(process)
        guard pidfd >= 0 else { return }
        defer { close(pidfd) }
        let fd = airlock_pidfd_getfd(pidfd, 2)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var theirs = stat(), ours = stat()
        guard fstat(fd, &theirs) == 0 else { return }
        if fstat(2, &ours) == 0 {
            let sameFile = theirs.st_dev == ours.st_dev && theirs.st_ino == ours.st_ino
            let sameTerminal = theirs.st_mode & S_IFMT == S_IFCHR && ours.st_mode & S_IFMT == S_IFCHR && theirs.st_rdev == ours.st_rdev
            if sameFile || sameTerminal { return }
        }
        let flags = fcntl(fd, F_GETFL)
        guard flags >= 0, flags & O_ACCMODE != O_RDONLY else { return }
        let line = Array("airlock: \(message)\n".utf8)
        if theirs.st_mode & S_IFMT == S_IFREG {
            _ = write(fd, line, line.count) // as the process itself would: at its offset
            return
        }
        let own = open("/proc/self/fd/\(fd)", O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)
        if own >= 0 {
            _ = write(own, line, line.count)
            close(own)
        } else {
            _ = send(fd, line, line.count, Int32(MSG_DONTWAIT) | Int32(MSG_NOSIGNAL)) // a socket
        }
    }
}
