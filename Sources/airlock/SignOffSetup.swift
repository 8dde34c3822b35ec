import AirlockPolicy
import AirlockSandbox
import AirlockService
import AirlockSignOff
import AirlockSupervisor
import Foundation
import Logging

/// Everything `airlock run` needs for sign-off, resolved before anything starts: the protect rules
/// (profile and --protect), the queue and approvers files, and what the kernel layer must pin.
struct SignOffSetup {
    var rules: [ResolvedProtectRule]
    /// The queue file's path, or the service's URL.
    var queuePath: String
    /// Where held operations are written: the file at `queuePath`, or the service there.
    var queue: any SignOffQueue
    /// With a service: the host's token file (hidden from the agent), and airlock's own state
    /// directory (for the network log).
    var tokenFile: String?
    var stateDirectory: String
    var approversPath: String
    var quorum: Int
    var wait: HoldWait
    var audit: Bool
    /// The supervisor once started, for `finish()`.
    let running = Running()
    final class Running: @unchecked Sendable { var supervisor: Supervisor? }
    /// Where the proxy hands over the connections its policy holds (`unknown = "hold"`, proxy
    /// mode): they wait at the supervisor's desk, on this queue, for these approvers.
    let network: NetworkHolds?
    var profile: Profile
    var kernel: (readOnly: [String], pinned: [String], truncated: Bool)
    var logger: Logger

    init(profile: Profile, request: SandboxRequest, protect: [String], queue: String?, approvers: String?,
         quorum: Int?, wait: HoldWait?, audit: Bool, tokenFile: String? = nil, logger: Logger) throws {
        let env = request.environment
        let home = env["HOME"] ?? "/"
        let here = request.currentDirectory
        var profile = profile
        for path in protect {
            let absolute = expandPath(path, home: home, relativeTo: here)
            guard FileManager.default.fileExists(atPath: absolute) else {
                throw SandboxError("--protect \(path): no such file or directory")
            }
            profile.protect.insert(ProtectRule(name: "--protect \(path)", paths: [absolute, absolute + "/**"]), at: 0)
        }
        let workspace = expandPath(request.workspace ?? here, home: home, relativeTo: here)
        let realWorkspace = URL(fileURLWithPath: workspace).resolvingSymlinksInPath().path
        rules = try resolvedProtectRules(profile: profile, workspace: realWorkspace, home: home)
        let place = { (q: String) in ServiceClient.isURL(q) ? q : expandPath(q, home: home, relativeTo: here) }
        queuePath = queue.map(place)
            ?? (env["AIRLOCK_QUEUE"].flatMap { $0.isEmpty ? nil : $0 })
            ?? profile.queue.map(place)
            ?? QueuePaths.defaultQueue(env)
        stateDirectory = (QueuePaths.defaultQueue(env) as NSString).deletingLastPathComponent
        if ServiceClient.isURL(queuePath) {
            let file = tokenFile.map { expandPath($0, home: home, relativeTo: here) }
                ?? env["AIRLOCK_TOKEN_FILE"].flatMap { $0.isEmpty ? nil : $0 } ?? home + "/.config/airlock/token"
            guard let token = FileManager.default.contents(atPath: file).map({ String(decoding: $0, as: UTF8.self) }), !token.isEmpty else {
                throw SandboxError("--queue \(queuePath): the host's token file \(file) cannot be read (--token-file FILE: what `airlock serve add-host` printed)")
            }
            do { self.queue = try RemoteQueue(url: queuePath, token: token) } catch { throw SandboxError("--queue \(error)") }
            self.tokenFile = file
        } else {
            self.queue = QueueFile(path: queuePath)
            self.tokenFile = nil
        }
        approversPath = approvers.map { expandPath($0, home: home, relativeTo: here) }
            ?? profile.approvers.map { expandPath($0, home: home, relativeTo: here) }
            ?? QueuePaths.defaultApprovers(env)
        self.quorum = quorum ?? profile.quorum
        self.wait = wait ?? profile.wait
        self.audit = audit
        self.profile = profile
        self.logger = logger
        // Held connections, and the cloud API requests `[[api]]` rules hold or audit, wait at the desk.
        let apiHolds = !profile.networkPolicy.inspect.isEmpty && profile.api.contains { $0.action == .hold || $0.action == .audit }
        network = profile.network == .proxy && (profile.networkPolicy.unknown == .hold || apiHolds) ? NetworkHolds() : nil
        // Shadow mode enforces nothing, so nothing is pinned at the kernel layer either.
        kernel = audit ? ([], [], false) : KernelLayer.protectedPaths(rules, writableRoots: [realWorkspace])
        if kernel.truncated {
            logger.warning("more than 200000 files under the protected roots: only those seen first are pinned at the kernel layer")
        }
    }

    var hasRules: Bool { !rules.isEmpty || !profile.exec.isEmpty }

    /// Called before the plan is made: the queue's directory exists (0700) and the file exists
    /// (0600), so the supervisor can watch it and the plan can hide them; so does the network log
    /// in proxy mode.
    func prepare() throws {
        if let remote = queue as? RemoteQueue {
            do { try remote.connect() } catch { throw SandboxError("--queue \(queuePath): \(error)") }
            try FileManager.default.createDirectory(atPath: stateDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } else {
            try Self.prepareQueue(queuePath)
        }
        if let networkLogPath {
            let fd = open(networkLogPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw SandboxError("network log \(networkLogPath): \(String(cString: strerror(errno)))") }
            close(fd)
        }
    }

    /// The proxy's log of connections and requests, beside the queue (proxy mode only).
    var networkLogPath: String? {
        guard profile.network == .proxy else { return nil }
        return (queue is RemoteQueue ? stateDirectory : (queuePath as NSString).deletingLastPathComponent) + "/network.jsonl"
    }

    static func prepareQueue(_ path: String) throws {
        let dir = (path as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        } catch {
            throw SandboxError("queue \(path): cannot create \(dir): \(error.localizedDescription)")
        }
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw SandboxError("queue \(path): \(String(cString: strerror(errno)))") }
        close(fd)
        // The sandboxes' leases (see SandboxLease), made now so the plan can hide the directory.
        let live = SandboxLease.directory(forQueue: path)
        guard mkdir(live, 0o700) == 0 || errno == EEXIST else {
            throw SandboxError("queue \(path): cannot create \(live): \(String(cString: strerror(errno)))")
        }
    }

    /// The kernel layer and hiding: protected paths pinned, airlock's own files out of sight.
    func apply(to request: inout SandboxRequest) {
        request.protectedReadOnly += kernel.readOnly
        request.pinned += kernel.pinned
        // The agent must never read the approvers or read or write the queue, wherever they are.
        // Airlock's own state directory goes entirely; elsewhere (a shared directory) just the files.
        let queueDir = queue is RemoteQueue ? stateDirectory : (queuePath as NSString).deletingLastPathComponent
        let files = queue is RemoteQueue ? [tokenFile ?? ""] : [queuePath, SandboxLease.directory(forQueue: queuePath)]
        let hidden = files + [approversPath] + (networkLogPath.map { [$0] } ?? [])
            + ((queueDir as NSString).lastPathComponent == "airlock" ? [queueDir] : [])
        request.hide += hidden.filter { FileManager.default.fileExists(atPath: $0) }
    }

    static func userName() -> String {
        if let pw = getpwuid(geteuid()), let name = pw.pointee.pw_name { return String(cString: name) }
        return "uid \(geteuid())"
    }

    func supervise(pins: Int32, receiveListener: () -> Int32, plan: SandboxPlan) throws(SandboxError) {
        let (config, classifier) = supervisorConfig(plan: plan, pins: pins)
        // Looked up while the child builds the sandbox, not at the agent's first exec.
        let known = KnownPrograms(names: classifier.programNames, searchPath: plan.environment["PATH"] ?? "")
        known.locate()
        let listener = receiveListener()
        guard listener > 0 else {
            if pins >= 0 { close(pins) }
            return
        }
        try start(Supervisor(listener: listener, config: config, logger: logger, knownPrograms: known, network: network),
                  sandboxID: config.sandboxID, closingOnFailure: [listener, pins])
    }

    /// Held connections with no file or command rule: nothing is intercepted, and the desk's loop
    /// runs without a listener (ending at `finish()`).
    func superviseConnections(plan: SandboxPlan) throws(SandboxError) {
        let (config, _) = supervisorConfig(plan: plan, pins: -1)
        try start(Supervisor(listener: -1, config: config, logger: logger, network: network),
                  sandboxID: config.sandboxID, closingOnFailure: [])
    }

    private func supervisorConfig(plan: SandboxPlan, pins: Int32) -> (SupervisorConfig, ExecClassifier) {
        let workspace = plan.workspace
        let home = plan.home
        let rules = self.rules
        let classifier = ExecClassifier(profile: profile)
        var config = SupervisorConfig(
            sandboxID: String(UUID().uuidString.prefix(8)).lowercased(),
            workspace: workspace, home: home, protect: rules,
            classifyExec: { argv, env, cwd, exe in
                let context = ExecContext(workspace: Array(workspace.utf8), cwd: cwd, home: Array(home.utf8), protectedRules: rules)
                guard let match = classifier.classify(argv: argv, environment: env, executable: exe, context: context) else { return nil }
                return ExecVerdict(rule: match.rule, action: match.action, reason: match.reason, paths: match.paths)
            },
            queuePath: queuePath, approversPath: approversPath, quorum: quorum,
            timeout: TimeInterval(profile.timeoutSeconds), grantWindow: TimeInterval(profile.grantWindowSeconds),
            audit: audit, requester: Self.userName())
        config.queue = queue
        config.operatorArgv = plan.argv.map { Array($0.utf8) }
        if case .seconds(let s) = wait { config.wait = TimeInterval(s) } else { config.wait = nil }
        config.pinSocket = pins
        return (config, classifier)
    }

    private func start(_ supervisor: Supervisor, sandboxID: String, closingOnFailure fds: [Int32]) throws(SandboxError) {
        // Held for the life of this process: if airlock is killed, the kernel drops the lock and
        // the next sweep (GhostSweep) cancels this sandbox's pending requests.
        // A service's sandboxes settle their own requests; one killed leaves them to expire.
        if queue is QueueFile { do {
            SandboxLease.current = try SandboxLease.acquire(queuePath: queuePath, sandboxID: sandboxID)
        } catch {
            for fd in fds where fd >= 0 { close(fd) }
            throw SandboxError("cannot take the sandbox's lease in \(SandboxLease.directory(forQueue: queuePath)): \(error); "
                               + "its requests could outlive airlock, so it does not start")
        } }
        running.supervisor = supervisor
        supervisor.start()
    }

    /// Once the sandbox has ended: its requests still open are cancelled before airlock exits.
    func finish() {
        running.supervisor?.finish()
        network?.close() // never started: a connection still waiting is refused
        SandboxLease.current = nil // released: its requests are closed
    }
}
