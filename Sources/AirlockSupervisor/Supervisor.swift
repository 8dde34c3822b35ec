import AirlockPolicy
import AirlockSignOff
import CAirlockShim
import Foundation
import Glibc
import Logging
import SystemPackage

/// What the supervisor enforces for one sandbox.
public struct SupervisorConfig: Sendable {
    public var sandboxID: String
    public var workspace: String
    public var home: String
    public var protect: [ResolvedProtectRule]
    /// Classifies a command line about to be exec'd: nil when no rule matches.
    public var classifyExec: @Sendable (_ argv: [[UInt8]], _ env: [[UInt8]], _ cwd: [UInt8], _ exe: [UInt8]) -> ExecVerdict?
    public var queuePath: String
    /// The queue the desk writes to and reads from: the file at `queuePath`, or a service.
    public var queue: any SignOffQueue
    public var approversPath: String
    public var quorum: Int
    public var timeout: TimeInterval
    /// How long a held call blocks before it fails with EPERM, its request left open (nil: until
    /// the request expires).
    public var wait: TimeInterval? = 20
    public var grantWindow: TimeInterval
    /// Shadow mode: nothing is held; each would-be hold is written as an audit event and allowed.
    public var audit: Bool
    public var requester: String
    /// The command line the operator gave `airlock run`: the sandbox's first exec, never held.
    public var operatorArgv: [[UInt8]] = []
    /// A socket to the sandbox's init, which pins protected files that appear later (namespaces
    /// backend); -1: none can be pinned after the start.
    public var pinSocket: Int32 = -1

    public init(sandboxID: String, workspace: String, home: String, protect: [ResolvedProtectRule],
                classifyExec: @escaping @Sendable ([[UInt8]], [[UInt8]], [UInt8], [UInt8]) -> ExecVerdict?,
                queuePath: String, approversPath: String, quorum: Int, timeout: TimeInterval,
                grantWindow: TimeInterval, audit: Bool, requester: String) {
        self.sandboxID = sandboxID
        self.workspace = workspace
        self.home = home
        self.protect = protect
        self.classifyExec = classifyExec
        self.queuePath = queuePath
        self.queue = QueueFile(path: queuePath)
        self.approversPath = approversPath
        self.quorum = quorum
        self.timeout = timeout
        self.grantWindow = grantWindow
        self.audit = audit
        self.requester = requester
    }
}

/// A command rule's verdict on an exec.
public struct ExecVerdict: Sendable {
    public var rule: String
    public var action: ProtectAction
    public var reason: String
    /// What an approval lets the command change (see `ExecMatch.paths`); nil: the workspace.
    public var paths: [[UInt8]]?
    public init(rule: String, action: ProtectAction, reason: String, paths: [[UInt8]]? = nil) {
        self.rule = rule
        self.action = action
        self.reason = reason
        self.paths = paths
    }
}

/// The seccomp notify loop, and the thread the sign-off desk lives on. One thread receives every
/// intercepted call, decides, and answers; held calls wait at the desk (`SignOffDesk`) until the
/// queue file says approved, denied or expired, beside the connections the egress proxy holds
/// (`NetworkHolds`). If this process dies, the kernel fails every held and later intercepted call
/// (the listener closes): fail closed.
public final class Supervisor: @unchecked Sendable {
    /// The seccomp notify listener; -1 when nothing is intercepted and the loop serves the desk
    /// alone (connections held by the proxy, with no file or command rule).
    let listener: Int32
    let config: SupervisorConfig
    let logger: Logger
    /// Every held operation of this sandbox, of every layer, waits here.
    let desk: SignOffDesk
    /// Connections the proxy holds, handed over from its event loop (nil: none are held).
    let network: NetworkHolds?
    var grants: [Grant] = []
    let knownPrograms: KnownPrograms
    var startupPagesReleased = false
    /// Whether the agent's own first exec (the operator's command) has been seen.
    var operatorCommandSeen = false
    /// Written by `finish()` to end the loop; `done` is signalled once the loop has closed out.
    let wake: (read: Int32, write: Int32) = {
        var fds: [Int32] = [-1, -1]
        if pipe(&fds) == 0 { fds.forEach { _ = fcntl($0, F_SETFD, FD_CLOEXEC) } } // airlock forks nothing after the sandbox
        return (fds[0], fds[1])
    }()
    let done = DispatchSemaphore(value: 0)
    var started = false
    /// How many calls of each kind (by syscall number) came to the supervisor: said with --verbose
    /// at the end, so a slow workload shows what it paid for.
    var intercepted: [Int32: Int] = [:]

    /// What the blocked call is told.
    enum Answer {
        case value(Int64)
        case error(Errno)
        /// Let the kernel run the call (only where the kernel layer already makes it harmless, or
        /// for an exec, which cannot be emulated and is verified after the fact).
        case proceed
        /// An fd the supervisor opened, installed in the agent as the call's result.
        case fd(Int32, cloexec: Bool)
        /// An exec: let it run under ptrace and kill it if its command line is not `argv` anymore or
        /// the program is not `executable` (nil: nothing existed to run, so nothing may).
        case exec(argv: [[UInt8]], executable: ExecutableIdentity?)
    }

    /// `listener`: the seccomp notify listener, or -1 when nothing is intercepted (the loop then
    /// serves `network` alone and ends at `finish()`). `knownPrograms`: the programs the exec
    /// rules name, whose renamed copies are classified as them (none: names only). `network`:
    /// where the proxy hands over the connections it holds.
    public init(listener: Int32, config: SupervisorConfig, logger: Logger,
                knownPrograms: KnownPrograms = KnownPrograms(names: [], searchPath: ""), network: NetworkHolds? = nil) {
        self.listener = listener
        self.config = config
        self.logger = logger
        self.desk = SignOffDesk(config: SignOffDesk.Configuration(
            queuePath: config.queuePath, approversPath: config.approversPath, quorum: config.quorum,
            wait: config.wait, requester: config.requester), queue: config.queue, logger: logger)
        self.knownPrograms = knownPrograms
        self.network = network
    }

    /// Starts the loop on its own thread; it ends when the last sandboxed process has gone (with a
    /// listener), or at `finish()`.
    public func start() {
        started = true
        let thread = Thread { [self] in loop() }
        thread.name = "airlock-supervisor"
        thread.start()
    }

    /// Called once the sandbox has ended: every request of it still open is cancelled ("the
    /// sandbox ended"). Returns once that is written, or after `timeout` seconds.
    public func finish(timeout: Double = 5) {
        guard started else { return }
        var one: UInt8 = 1
        _ = write(wake.write, &one, 1)
        _ = done.wait(timeout: .now() + timeout)
    }

    func loop() {
        if listener >= 0 { _ = airlock_notif_sync_wakeup(listener) } // a latency hint; older kernels lack it
        // One array for the whole loop: every unlink of an `rm -rf` passes through here.
        var fds: [pollfd] = []
        fds.reserveCapacity(8)
        while true {
            fds.removeAll(keepingCapacity: true)
            fds.append(pollfd(fd: listener, events: Int16(POLLIN), revents: 0))
            fds.append(pollfd(fd: desk.queueWatch, events: Int16(POLLIN), revents: 0))
            fds.append(pollfd(fd: wake.read, events: Int16(POLLIN), revents: 0))
            fds.append(pollfd(fd: network?.descriptor ?? -1, events: Int16(POLLIN), revents: 0))
            // Commands stopped at their exec: their pidfds say at once when a harness kills one.
            for fd in desk.waiterDescriptors { fds.append(pollfd(fd: fd, events: Int16(POLLIN), revents: 0)) }
            // Start-up pages go back once the sandbox has run a second, or once something is held
            // (waiting for people): a short run never pays for it. A stopped command's signals
            // (a harness's SIGTERM) are looked for every 0.1 s: the kernel tells the tracer nothing.
            let timeout: Int32 = desk.needsFrequentLooks ? 100 : desk.isHolding ? 500 : startupPagesReleased ? -1 : 1000
            let ready = poll(&fds, nfds_t(fds.count), timeout)
            if ready < 0 && errno == EINTR { continue }
            if fds[2].revents & Int16(POLLIN) != 0 { break } // finish(): the sandbox has ended
            if fds[0].revents & Int16(POLLIN) != 0 {
                var n = airlock_notification()
                if airlock_notif_recv(listener, &n) == 0 { handle(n) }
            } else if listener >= 0 && fds[0].revents & Int16(POLLHUP | POLLERR | POLLNVAL) != 0 {
                break // no process is left under the filter
            }
            if fds[1].revents & Int16(POLLIN) != 0 { desk.queueWritten() }
            if fds[3].revents & Int16(POLLIN) != 0, let network {
                for connection in network.takeArrivals() { holdConnection(connection) }
            }
            if desk.isHolding && !grants.isEmpty { // expired grants go while people are waited for, as before
                let now = Date()
                grants.removeAll { $0.expires <= now }
            }
            desk.look()
            if !startupPagesReleased && (ready == 0 || desk.isHolding) {
                startupPagesReleased = true
                Self.releaseStartupPages()
            }
        }
        if !intercepted.isEmpty {
            let counts = intercepted.sorted { $0.value > $1.value }.map { "\(Intercepted.names[$0.key] ?? "call \($0.key)") \($0.value)" }
            logger.debug("intercepted \(intercepted.values.reduce(0, +)) calls: \(counts.joined(separator: ", "))")
        }
        desk.closeOut("the sandbox ended")
        network?.close() // a connection held from now on is refused at once
        if listener >= 0 { close(listener) }
        done.signal()
    }

    /// Start-up (argument parsing, the TOML profile, the sandbox plan) touched much of airlock's
    /// large static binary; the supervisor needs a small part of it. Its read-only pages are clean
    /// and backed by the file, so they are handed back to the kernel (MADV_PAGEOUT): whatever the
    /// supervisor uses faults back in from the page cache. Nothing private is touched.
    static func releaseStartupPages() {
        guard let exe = readLink("/proc/self/exe"), let maps = ExecVerifier.readSmallFileFully("/proc/self/maps") else { return }
        for line in maps.split(separator: UInt8(ascii: "\n")) {
            let fields = line.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: true)
            guard fields.count >= 6, Array(fields[5...].joined(separator: [UInt8(ascii: " ")])) == exe,
                  fields[1].first == UInt8(ascii: "r"), fields[1].dropFirst().first == UInt8(ascii: "-") else { continue }
            let range = fields[0].split(separator: UInt8(ascii: "-")).compactMap { UInt(String(decoding: $0, as: UTF8.self), radix: 16) }
            guard range.count == 2, range[1] > range[0] else { continue }
            _ = madvise(UnsafeMutableRawPointer(bitPattern: range[0]), Int(range[1] - range[0]), 21 /* MADV_PAGEOUT */)
        }
    }

    // MARK: - Answering

    func answer(_ agent: AgentProcess, _ answer: Answer) {
        let rc: Int32
        switch answer {
        case .value(let v): rc = airlock_notif_send(listener, agent.notification, v, 0, 0)
        case .error(let e): rc = airlock_notif_send(listener, agent.notification, 0, Self.responseError(e), 0)
        case .proceed: rc = airlock_notif_send(listener, agent.notification, 0, 0, 1)
        case .exec(let argv, let executable):
            rc = runExec(agent, argv: argv, executable: executable, hold: false).rc
        case .fd(let fd, let cloexec):
            rc = airlock_notif_addfd_send(listener, agent.notification, fd, cloexec ? 1 : 0)
            close(fd)
        }
        if rc < 0 && rc != -ENOENT { logger.warning("answering pid \(agent.pid): \(Errno(rawValue: -rc))") }
    }

    /// Lets an exec proceed and checks it after the exec (see `ExecVerifier`); with `hold`, a
    /// verified exec is left stopped before its first instruction and its id returned.
    func runExec(_ agent: AgentProcess, argv: [[UInt8]], executable: ExecutableIdentity?, hold: Bool) -> (rc: Int32, stopped: Int32?) {
        var sent: Int32 = 0
        let outcome = ExecVerifier.run(tid: agent.pid, expected: argv, executable: executable, hold: hold) {
            sent = airlock_notif_send(listener, agent.notification, 0, 0, 1)
        }
        switch outcome {
        case .verified, .failedExec: return (sent, nil)
        case .stopped(let pid): return (sent, pid)
        case .mismatch(let why):
            logger.warning("killed pid \(agent.pid): \(why)")
            return (sent, nil)
        case .untraceable(let e):
            logger.error("cannot trace pid \(agent.pid) to verify its exec (\(e)); denying it")
            return (airlock_notif_send(listener, agent.notification, 0, Self.responseError(.notPermitted), 0), nil)
        }
    }

    /// The kernel takes a *negative* errno in seccomp_notif_resp.error: a sign slip would turn a
    /// denial into a success, so it is made in exactly one place (and unit-tested).
    static func responseError(_ e: Errno) -> Int32 { -e.rawValue }

    // MARK: - Deciding

    func handle(_ n: airlock_notification) {
        intercepted[n.nr, default: 0] += 1
        let agent = AgentProcess(pid: Int32(bitPattern: n.pid), listener: listener, notification: n.id)
        let a = n.args
        guard let call = Intercepted(nr: n.nr, args: (a.0, a.1, a.2, a.3, a.4, a.5)) else {
            return answer(agent, .error(.noFunction))
        }
        do {
            try decide(call, agent)
        } catch {
            // A read of the agent's memory failed, was partial, or the call went away: deny.
            logger.debug("denied \(Intercepted.names[n.nr] ?? "call \(n.nr)") of pid \(agent.pid): \(error)")
            answer(agent, .error(.notPermitted))
        }
    }

    func decide(_ call: Intercepted, _ agent: AgentProcess) throws(AgentProcess.ReadError) {
        switch call {
        case .delete(let p, let removeDirectory):
            let bytes = try agent.readCString(at: p.address)
            // The hot path of every `rm -rf`: a name no delete rule can end in needs no resolving.
            if noRuleCanEnd(bytes, operation: .delete) { return answer(agent, .proceed) }
            guard let target = try AgentPath.resolve(bytes, dirfd: p.dirfd, agent: agent) else { return answer(agent, .proceed) }
            try fileOperation(.delete, [target], agent) {
                self.inHost(target) { dir in target.name.withCPath { unlinkat(dir, $0, removeDirectory ? AT_REMOVEDIR : 0) } }
            }
        case .rename(let from, let to, let flags):
            guard let source = try resolve(from, agent), let destination = try resolve(to, agent) else {
                return answer(agent, .proceed)
            }
            try fileOperation(.rename, [source, destination], agent) {
                self.inHost(source, destination) { src, dst in
                    let rc = source.name.withCPath { s in destination.name.withCPath { d in airlock_renameat2(src, s, dst, d, flags) } }
                    if rc < 0 { errno = -rc; return -1 }
                    return 0
                }
            }
        case .link(let from, let to, let flags):
            guard let source = try resolve(from, agent, follow: flags & AT_SYMLINK_FOLLOW != 0),
                  let destination = try resolve(to, agent) else {
                return answer(agent, .proceed)
            }
            // A new name for a file: rules see a write (an alias to write through, or the protected
            // name created); approvers see the link, both names.
            try fileOperation(.write, [source, destination], held: .link, agent) {
                self.inHost(source, destination) { src, dst in
                    source.name.withCPath { s in destination.name.withCPath { d in linkat(src, s, dst, d, flags) } }
                }
            }
        case .truncatePath(let p, let length):
            guard let target = try resolve(p, agent, follow: true) else { return answer(agent, .proceed) }
            try fileOperation(.truncate, [target], agent) {
                self.openInHost(target, flags: O_WRONLY | O_NOFOLLOW | O_CLOEXEC, mode: 0) { fd in ftruncate(fd, Int(length)) }
            }
        case .truncateFD(let fd, let length):
            guard let target = try resolveFD(fd, agent, operation: .truncate) else { return answer(agent, .proceed) }
            try fileOperation(.truncate, [target], agent) { self.withAgentFD(agent, fd) { ftruncate($0, Int(length)) } }
        case .fallocate(let fd, let mode, let offset, let length):
            guard let target = try resolveFD(fd, agent, operation: .truncate) else { return answer(agent, .proceed) }
            try fileOperation(.truncate, [target], agent) { self.withAgentFD(agent, fd) { airlock_fallocate($0, mode, offset, length) } }
        case .open(let p, let flags, let mode):
            try openCall(p, flags: flags, mode: mode, agent)
        case .openHow(let p, let how, let size):
            guard size >= 24 else { return answer(agent, .error(.invalidArgument)) }
            var fields = (UInt64(0), UInt64(0), UInt64(0))
            let n = withUnsafeMutableBytes(of: &fields) { airlock_read_memory(agent.pid, how, $0.baseAddress, 24) }
            guard n == 24, agent.stillWaiting() else { return answer(agent, .error(.notPermitted)) }
            // Resolve flags of openat2 are the agent's own restrictions: honoured by letting the
            // kernel run unprotected opens; protected ones are opened by us without following links.
            try openCall(p, flags: Int32(truncatingIfNeeded: fields.0), mode: UInt32(truncatingIfNeeded: fields.1), agent)
        case .exec(let p, let argvAddress, let envpAddress, let flags):
            try execCall(p, argvAddress, envpAddress, emptyPath: flags & 0x1000 != 0 /* AT_EMPTY_PATH */, agent)
        case .metadata(let p, let follow, let name):
            let bytes = try agent.readCString(at: p.address)
            // A name no write rule can end in needs no resolving, unless a final symlink may lead on.
            if !follow && noRuleCanEnd(bytes, operation: .write) { return answer(agent, .proceed) }
            let path = try AgentPath.resolve(bytes, dirfd: p.dirfd, agent: agent)
            guard let target = follow ? try path?.followingFinalSymlink(agent) : path else { return answer(agent, .proceed) }
            refuseOnProtected(name, target, agent, Self.metadataRefusal)
        case .metadataFD(let fd, let name):
            guard let target = try resolveFD(fd, agent, operation: .write) else { return answer(agent, .proceed) }
            refuseOnProtected(name, target, agent, Self.metadataRefusal)
        case .create(let p, let name):
            let bytes = try agent.readCString(at: p.address)
            if noRuleCanEnd(bytes, operation: .write) { return answer(agent, .proceed) }
            guard let target = try AgentPath.resolve(bytes, dirfd: p.dirfd, agent: agent) else { return answer(agent, .proceed) }
            refuseOnProtected(name, target, agent, "no directory, symlink or device node is made at a protected path under airlock")
        }
    }

    /// Whether the path names a plain last component that no rule for `operation` can end in: then
    /// the call needs no resolving (for a call that does not follow a final symlink).
    func noRuleCanEnd(_ bytes: [UInt8], operation: FileOperation) -> Bool {
        guard let name = AgentPath.plainLastName(bytes) else { return false }
        return !config.protect.contains { $0.mayMatch(lastName: name, operation: operation) }
    }

    static let metadataRefusal = "the mode, owner and extended attributes of a protected file are not changed under airlock"

    /// `call` on `target` (chmod, chown, an extended attribute; mkdir, mknod, symlink), refused with
    /// EPERM when a rule guards its contents, with a warning saying `why`. Refused, not held: a
    /// request could not say which mode, owner or link target it asks for. Audited in audit mode;
    /// let through under a grant (an approved command may fix up the modes of what it changes).
    func refuseOnProtected(_ call: String, _ target: AgentPath, _ agent: AgentProcess, _ why: String) {
        guard let rule = config.protect.firstMatch(target.canonical, operation: .write), rule.action != .allow else {
            return answer(agent, .proceed)
        }
        if config.audit || rule.action == .audit {
            writeAudit(kind: .write, paths: [target.canonical], argv: nil, rule: rule.name, agent)
            return answer(agent, .proceed)
        }
        if grants.contains(where: { $0.covers(pid: agent.pid, path: target.canonical, kind: .write) }) {
            return answer(agent, .proceed)
        }
        pinLate([target])
        logger.warning("denied \(call) of \(target.canonical.shown) to pid \(agent.pid) [rule \(rule.name)]: \(why)")
        answer(agent, .error(.notPermitted))
    }

    func openCall(_ p: PathArgument, flags: Int32, mode: UInt32, _ agent: AgentProcess) throws(AgentProcess.ReadError) {
        let writes = flags & O_ACCMODE != O_RDONLY
        let truncates = flags & O_TRUNC != 0
        guard writes || truncates, let target = try resolve(p, agent, follow: flags & O_NOFOLLOW == 0) else {
            return answer(agent, .proceed)
        }
        let createMode = flags & O_CREAT != 0 ? mode & ~agent.umask() & 0o7777 : 0
        try fileOperation(truncates ? .truncate : .write, [target], agent) {
            let fd = self.openInHostFD(target, flags: (flags | O_NOFOLLOW) & ~O_CLOEXEC, mode: createMode)
            switch fd {
            case .success(let fd): return .fd(fd, cloexec: flags & O_CLOEXEC != 0)
            case .failure(let e): return .error(e)
            }
        }
    }

    /// The path argument as the kernel will take it; `follow`: the call follows a final symlink.
    func resolve(_ p: PathArgument, _ agent: AgentProcess, follow: Bool = false) throws(AgentProcess.ReadError) -> AgentPath? {
        let bytes = try agent.readCString(at: p.address)
        let path = try AgentPath.resolve(bytes, dirfd: p.dirfd, agent: agent)
        return follow ? try path?.followingFinalSymlink(agent) : path
    }

    /// The file an fd of the agent's is open on, unless no rule for `operation` can end in its
    /// name: then nil, as for a pipe or socket (the call needs no more looking at: every fchmod and
    /// fchown of an archive's extraction comes here).
    func resolveFD(_ fd: Int32, _ agent: AgentProcess, operation: FileOperation) throws(AgentProcess.ReadError) -> AgentPath? {
        guard let path = agent.link("fd/\(fd)"), path.first == UInt8(ascii: "/"),
              !noRuleCanEnd(path, operation: operation) else { return nil }
        return try AgentPath.resolve(path, dirfd: Intercepted.cwd, agent: agent)
    }

    /// A file operation on `targets`: let the kernel run it unless a protect rule covers one of the
    /// targets; then deny, audit, or hold it (or carry it out at once under a grant).
    func fileOperation(_ operation: FileOperation, _ targets: [AgentPath], held kind: OperationKind? = nil,
                       _ agent: AgentProcess, perform: @escaping () -> Answer) throws(AgentProcess.ReadError) {
        // Unprotected targets: the kernel runs the call. Safe although the agent may rewrite the path
        // after this read: everything protected is also read-only at the kernel layer.
        guard let (target, rule) = targets.lazy.compactMap({ t in
            self.config.protect.firstMatch(t.canonical, operation: operation).map { (t, $0) }
        }).first else {
            return answer(agent, .proceed)
        }
        let kind = kind ?? OperationKind(operation)
        // Pin the directories the agent named now: what is approved later is this very directory.
        guard targets.allSatisfy({ $0.pin() }) else {
            logger.debug("denied \(kind.rawValue) of pid \(agent.pid): a directory it names could not be opened")
            return answer(agent, .error(.notPermitted))
        }
        let carriedOut = perform
        let perform = { [self] () -> Answer in
            let answer = carriedOut()
            if answer.outcome == .allowed && operation != .delete { pinLate(targets) }
            return answer
        }
        switch rule.action {
        case .allow: return answer(agent, .proceed)
        case .deny:
            logger.debug("denied \(kind.rawValue) \(targets.map(\.canonical.shown).joined(separator: " -> ")) of pid \(agent.pid) [rule \(rule.name)]")
            pinLate(targets)
            return answer(agent, .error(.notPermitted))
        case .audit, .hold:
            if config.audit || rule.action == .audit {
                writeAudit(kind: kind, paths: targets.map(\.canonical), argv: nil, rule: rule.name, agent)
                return answer(agent, .proceed)
            }
        }
        if let grant = grants.first(where: { $0.covers(pid: agent.pid, path: target.canonical, kind: kind) }) {
            let call = HeldCall(self, agent: agent, perform: perform)
            _ = desk.carryOut(grant.requestID, detail: "under grant: \(kind.rawValue) \(target.canonical.shown)", [call])
            return call.finish(DeskEnding(approved: true, request: grant.requestID, message: nil))
        }
        // A protected file that appeared after the start (from outside the sandbox) is pinned at the
        // first call on it that is refused or held: a path swap cannot reach it from then on.
        pinLate(targets)
        let root = rule.globs.first { $0.matches(target.canonical) }.map(\.literalPrefix) ?? target.canonical
        let grant = Grant(requestID: "", pid: agent.pid, start: AgentProcess.parentAndStart(agent.pid)?.start ?? 0,
                          roots: [root], kinds: [kind], expires: .distantFuture)
        desk.hold(heldOperation(kind, paths: targets.map(\.canonical), argv: nil, rule: rule.name, agent),
                  summary: "\(kind.rawValue) \(targets.map(\.canonical.shown).joined(separator: " -> "))",
                  HeldCall(self, agent: agent, perform: perform, grant: grant))
    }

    func execCall(_ p: PathArgument, _ argvAddress: UInt64, _ envpAddress: UInt64, emptyPath: Bool,
                  _ agent: AgentProcess) throws(AgentProcess.ReadError) {
        let path = try agent.readCString(at: p.address)
        let argv = try agent.readStringArray(at: argvAddress)
        if !operatorCommandSeen {
            // The first exec in the sandbox is the command the operator typed: theirs to run. Nothing
            // of the agent's has run yet (the caller is airlock's own single-threaded child, exec'ing
            // an argv airlock prepared), so nothing can rewrite it: no check after the exec either.
            operatorCommandSeen = true
            if argv == config.operatorArgv { return answer(agent, .proceed) }
        }
        let env = try agent.readStringArray(at: envpAddress)
        let cwd = agent.link("cwd") ?? []
        // What the kernel will run, named by the path or, for execveat(fd, "", AT_EMPTY_PATH), by the
        // fd (a memfd, an O_PATH fd): the programs the exec may end up running, checked after it.
        let executable: ExecutableIdentity?
        let name: [UInt8]
        if let link = path.isEmpty && emptyPath ? "fd/\(p.dirfd)" : ExecutableIdentity.ownProcLink(named: path, agent) {
            executable = ExecutableIdentity(procLink: link, agent, known: knownPrograms)
            name = agent.link(link) ?? []
        } else {
            executable = try AgentPath.resolve(path, dirfd: p.dirfd, agent: agent)?.followingFinalSymlink(agent)
                .flatMap { ExecutableIdentity(path: $0, agent, known: knownPrograms) }
            name = path
        }
        // A shell tries every PATH entry: only an executable that exists can run, so only then ask.
        // (If one appears in between, the exec is killed: nothing was classified.)
        guard let executable else { return answer(agent, .exec(argv: argv, executable: nil)) }
        let run = Answer.exec(argv: argv, executable: executable)
        // A renamed copy of a program the rules name is classified as that program.
        let classifiedName = executable.recognised.map { Array($0.utf8) } ?? name
        guard let verdict = config.classifyExec(argv, env, cwd, classifiedName) else { return answer(agent, run) }
        switch verdict.action {
        case .allow: return answer(agent, run)
        case .deny:
            logger.debug("denied exec \(argv.map(\.shown).joined(separator: " ")) of pid \(agent.pid) [rule \(verdict.rule)]")
            return answer(agent, .error(.notPermitted))
        case .audit, .hold:
            if config.audit || verdict.action == .audit {
                writeAudit(kind: .exec, paths: [], argv: argv, rule: verdict.rule, agent)
                return answer(agent, run)
            }
        }
        let operation = heldOperation(.exec, paths: [], argv: argv, rule: verdict.rule, agent)
        // The exec happens now and the new program is held stopped before its first instruction:
        // the exec releases whoever waits for it (a vfork parent, posix_spawn, an exec-status
        // pipe), so a held command never holds its spawner, and a harness's timeout can kill it.
        let (rc, stopped) = runExec(agent, argv: argv, executable: executable, hold: true)
        if rc < 0 && rc != -ENOENT { logger.warning("answering pid \(agent.pid): \(Errno(rawValue: -rc))") }
        guard let pid = stopped else { return } // the exec failed or was killed: nothing to hold
        let grant = Grant(requestID: "", pid: pid, start: AgentProcess.parentAndStart(pid)?.start ?? 0,
                          roots: verdict.paths ?? [Array(config.workspace.utf8)], kinds: Grant.commandKinds,
                          expires: .distantFuture)
        desk.hold(operation, summary: "exec \(argv.map(\.shown).joined(separator: " ")) (\(verdict.reason))",
                  HeldCall(self, agent: agent, perform: { .value(0) }, grant: grant, stopped: (pid, airlock_pidfd_open(pid))))
    }

    // MARK: - Holding

    func heldOperation(_ kind: OperationKind, paths: [[UInt8]], argv: [[UInt8]]?, rule: String, _ agent: AgentProcess) -> HeldOperation {
        HeldOperation(kind: kind, paths: paths, argv: argv, cwd: agent.link("cwd") ?? [], exe: executableIdentity(agent.pid),
                      sandbox: config.sandboxID, rule: rule, expires: Date().addingTimeInterval(config.timeout))
    }

    func writeAudit(kind: OperationKind, paths: [[UInt8]], argv: [[UInt8]]?, rule: String, _ agent: AgentProcess) {
        desk.audit(heldOperation(kind, paths: paths, argv: argv, rule: rule, agent), pid: agent.pid)
    }

    /// A connection the proxy holds: let through at once if an approval in this sandbox covers its
    /// host and port already (or in shadow mode, audited), else put on the desk.
    func holdConnection(_ connection: HeldConnection) {
        guard let network, connection.goneReason() == nil else { // the client left before it was held
            return connection.finish(DeskEnding(approved: false, request: nil, message: nil))
        }
        if let held = connection.request {
            let operation = HeldOperation(kind: .api, host: connection.host, port: connection.port, api: held.operation,
                                          cwd: [], exe: "", sandbox: config.sandboxID, rule: connection.rule,
                                          expires: Date().addingTimeInterval(config.timeout))
            if config.audit || held.auditOnly {
                desk.audit(operation, pid: 0)
                return connection.letThrough(request: "audit")
            }
            return desk.hold(operation, summary: held.operation.summary, connection)
        }
        if let id = network.approval(host: connection.host, port: connection.port) { return connection.letThrough(request: id) }
        let operation = HeldOperation(kind: .connect, host: connection.host, port: connection.port, cwd: [], exe: "",
                                      sandbox: config.sandboxID, rule: connection.rule,
                                      expires: Date().addingTimeInterval(config.timeout))
        if config.audit {
            desk.audit(operation, pid: 0)
            network.remember(host: connection.host, port: connection.port, request: "audit")
            return connection.letThrough(request: "audit")
        }
        desk.hold(operation, summary: "connect \(operation.subject)", connection)
    }

    // MARK: - Acting for the agent

    /// Runs `body` with the target's parent directory opened on the host side (verified to be the
    /// directory the agent named); a -1 return is the call's failure with errno.
    func inHost(_ target: AgentPath, _ body: (Int32) -> Int32) -> Answer {
        switch target.hostParent() {
        case .failure(let e): return .error(e)
        case .success(let dir):
            defer { close(dir) }
            return body(dir) < 0 ? .error(Errno(rawValue: errno)) : .value(0)
        }
    }

    func inHost(_ a: AgentPath, _ b: AgentPath, _ body: (Int32, Int32) -> Int32) -> Answer {
        switch (a.hostParent(), b.hostParent()) {
        case (.success(let x), .success(let y)):
            defer { close(x); close(y) }
            return body(x, y) < 0 ? .error(Errno(rawValue: errno)) : .value(0)
        case (.failure(let e), let other), (let other, .failure(let e)):
            if case .success(let fd) = other { close(fd) }
            return .error(e)
        }
    }

    func openInHostFD(_ target: AgentPath, flags: Int32, mode: UInt32) -> Result<Int32, Errno> {
        switch target.hostParent() {
        case .failure(let e): return .failure(e)
        case .success(let dir):
            defer { close(dir) }
            let fd = target.name.withCPath {
                airlock_openat2(dir, $0, UInt64(UInt32(bitPattern: flags)), UInt64(mode),
                                AgentPath.resolveNoSymlinks | AgentPath.resolveNoMagicLinks | 0x08 /* BENEATH */)
            }
            return fd < 0 ? .failure(Errno(rawValue: -fd)) : .success(fd)
        }
    }

    func openInHost(_ target: AgentPath, flags: Int32, mode: UInt32, _ body: (Int32) -> Int32) -> Answer {
        switch openInHostFD(target, flags: flags, mode: mode) {
        case .failure(let e): return .error(e)
        case .success(let fd):
            defer { close(fd) }
            return body(fd) < 0 ? .error(Errno(rawValue: errno)) : .value(0)
        }
    }

    /// Pins what an approved operation left at a protected path (the file it wrote, created, or
    /// renamed or linked there), or a protected file a call was refused or held on (one that
    /// appeared from outside after the start), as the files that existed at the start are pinned: bound onto
    /// itself in the sandbox, read-only where the rule guards contents. Without it, a thread that
    /// rewrites a path after the notifier read it could reach the new file. Namespaces backend
    /// only; a pin that fails is said, and the notifier still holds every call it sees.
    func pinLate(_ targets: [AgentPath]) {
        guard config.pinSocket >= 0 else { return }
        for target in targets {
            guard let readOnly = KernelLayer.pinKind(target.canonical, config.protect) else { continue }
            guard case .success(let dir) = target.hostParent() else { continue }
            var st = stat()
            let found = target.name.withCPath { fstatat(dir, $0, &st, AT_SYMLINK_NOFOLLOW) } == 0
            close(dir)
            guard found, st.st_mode & S_IFMT == S_IFREG || st.st_mode & S_IFMT == S_IFDIR else { continue }
            var request = airlock_pin_request()
            request.dev = UInt64(st.st_dev)
            request.ino = UInt64(st.st_ino)
            request.readonly = readOnly ? 1 : 0
            let path = target.canonical
            guard path.count < MemoryLayout.size(ofValue: request.path) else { continue }
            withUnsafeMutableBytes(of: &request.path) { buffer in
                buffer.copyBytes(from: path)
                buffer[path.count] = 0
            }
            let rc = airlock_pin(config.pinSocket, &request, 1000)
            if rc < 0 {
                logger.warning("\(path.shown): could not be pinned at the kernel layer (\(Errno(rawValue: -rc))); the notifier still holds calls on it")
            }
        }
    }

    /// Runs `body` on a duplicate of the agent's own fd (pidfd_getfd).
    func withAgentFD(_ agent: AgentProcess, _ fd: Int32, _ body: (Int32) -> Int32) -> Answer {
        let pidfd = airlock_pidfd_open(agent.pid)
        guard pidfd >= 0 else { return .error(Errno(rawValue: -pidfd)) }
        defer { close(pidfd) }
        let mine = airlock_pidfd_getfd(pidfd, fd)
        guard mine >= 0 else { return .error(Errno(rawValue: -mine)) }
        defer { close(mine) }
        return body(mine) < 0 ? .error(Errno(rawValue: errno)) : .value(0)
    }

    func executableIdentity(_ pid: Int32) -> String {
        var st = stat()
        let path = readLink("/proc/\(pid)/exe")?.shown ?? "?"
        guard stat("/proc/\(pid)/exe", &st) == 0 else { return path }
        return "\(path) (dev \(st.st_dev) ino \(st.st_ino))"
    }
}

extension Supervisor.Answer {
    var outcome: Resolution.Outcome {
        if case .error = self { return .error }
        return .allowed
    }
    var errno: Int32? {
        if case .error(let e) = self { return e.rawValue }
        return nil
    }
}

extension OperationKind {
    init(_ operation: FileOperation) {
        switch operation {
        case .delete: self = .delete
        case .rename: self = .rename
        case .truncate: self = .truncate
        case .write: self = .write
        }
    }
}

extension PathGlob {
    /// The part of the pattern before its first wildcard segment: the root a grant covers.
    var literalPrefix: [UInt8] {
        let slash = UInt8(ascii: "/")
        var prefix: [UInt8] = []
        for segment in pattern.split(separator: slash) {
            if segment.contains(UInt8(ascii: "*")) || segment.contains(UInt8(ascii: "?")) { break }
            prefix += [slash] + segment
        }
        return prefix.isEmpty ? [slash] : prefix
    }
}
