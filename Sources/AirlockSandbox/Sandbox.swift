import AirlockPolicy
import CAirlockShim
import Glibc
import Logging
import SystemPackage

/// Starting a sandbox and staying with it until the agent ends.
public enum Sandbox {
    /// The signals airlock passes on to the agent (through the sandbox's init).
    public static let forwardedSignals: [Int32] = [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH]

    /// Blocks the forwarded signals and SIGCHLD in the calling thread, so that they wait for
    /// `run`'s sigwaitinfo loop. Call it first thing, before any other thread exists, so every
    /// thread inherits the mask.
    public static func blockSignals() {
        var set = signalSet()
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    static func signalSet() -> sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        for sig in forwardedSignals + [SIGCHLD] { sigaddset(&set, sig) }
        return set
    }

    /// What actually confines a running sandbox, for -v and `doctor`.
    public struct Layers: Sendable, CustomStringConvertible {
        public var confinement: Confinement
        public var landlockABI: Int?
        public var network: NetworkMode
        public var description: String {
            let ownNetwork = network != .open && confinement == .namespaces
            var parts = [confinement == .namespaces ? "namespaces (user, mount, pid, ipc, uts, cgroup\(ownNetwork ? ", net" : ""))"
                         : confinement == .landlock ? "landlock-only filesystem view" : "NO filesystem confinement"]
            parts.append(landlockABI.map { "landlock ABI \($0)" } ?? "no landlock")
            parts.append("seccomp filter")
            switch network {
            case .open: break
            case .none: parts.append("no network")
            case .proxy: parts.append(confinement == .namespaces ? "network only through the proxy (loopback only)"
                                      : "network only through the proxy (Landlock TCP rules)")
            }
            return parts.joined(separator: " + ")
        }
    }

    /// Proxy mode: receives the proxy's listening socket (a TCP socket on 127.0.0.1, already
    /// listening; the callee owns it from then on and accepts on it) and its port, once, as soon as
    /// the sandbox's init exists; whatever the agent connects before the proxy accepts waits in the
    /// backlog. Namespaces backend: the socket lives in the sandbox's network namespace, where it is
    /// the only way out, and init made it before the agent existed. Landlock-only backend: airlock
    /// made it on the host's loopback, and Landlock lets the agent connect to that port alone. The
    /// agent finds it in `AIRLOCK_PROXY` (and whatever `SandboxPlan.proxyEnvironment` adds).
    public typealias Proxy = (_ listeningFD: Int32, _ port: Int) -> Void

    /// Runs the plan's command in a sandbox and returns the exit status `airlock run` should exit
    /// with: the agent's, 128+N for a death by signal N.
    ///
    /// The first SIGINT, SIGTERM or SIGHUP is passed on and starts `stopTimeout`; if the agent is
    /// still there when it is over, or when a second one arrives, the whole sandbox is killed and
    /// the status is 128+N of that first signal.
    ///
    /// With `supervise`, destructive calls are sent to a seccomp notify listener. `supervise` runs
    /// while the sandbox is being built: it prepares, then calls the function it is given, which
    /// waits for the listener (a negative value: the sandbox failed before it had one, and the
    /// failure is reported from the sandbox). The agent's exec, itself a notified call, waits for
    /// the supervisor, so preparing before asking overlaps the sandbox's set-up instead of
    /// following it. `pins` (namespaces backend; -1 otherwise) is a socket to the sandbox's init for
    /// `airlock_pin_request`s, which the supervisor owns from then on.
    public typealias Supervise = (_ pins: Int32, _ receiveListener: () -> Int32) throws(SandboxError) -> Void

    public static func run(_ plan: SandboxPlan, stopTimeout: Duration = .seconds(10), logger: Logger,
                           supervise: Supervise? = nil, proxy: Proxy? = nil) throws(SandboxError) -> Int32 {
        if plan.network == .proxy && proxy == nil {
            throw SandboxError("network = \"proxy\": proxy mode needs the proxy, and none was started")
        }
        let filter = try SeccompFilter(denyAction: plan.denyAction, network: plan.network, intercept: supervise != nil)
        let abi = try? plan.landlockABI.get()

        var choices: [Confinement]
        switch plan.backend {
        case .namespaces: choices = [.namespaces]
        case .landlock: choices = [.landlock]
        case .auto: choices = [.namespaces, .landlock]
        }
        if abi == nil {
            choices.removeAll { $0 == .landlock }
            if plan.backend == .landlock {
                guard plan.allowUnconfined else {
                    throw SandboxError("the landlock backend was asked for but Landlock is unavailable (\(plan.landlockABI)); refusing to run unconfined without --allow-unconfined")
                }
            }
        }
        // Without a network namespace only Landlock's TCP rules keep the agent to the proxy: never
        // fall back to a sandbox with a direct route out.
        let proxyRefusal = plan.network == .proxy ? proxyModeRefusal(landlockABI: abi) : nil
        // Nor to one where a host daemon's socket it was to hide stays connectable.
        let socketRefusal = choices.contains(.landlock) ? plan.landlockSocketRefusal : nil
        let refusals = [proxyRefusal, socketRefusal].compactMap { $0 }
        let landlockRefusal = refusals.isEmpty ? nil : refusals.joined(separator: "; ")
        if let landlockRefusal {
            choices.removeAll { $0 == .landlock }
            guard !choices.isEmpty else { throw SandboxError(landlockRefusal) }
        }
        // Unconfined, nothing would keep the agent to the proxy either.
        if plan.allowUnconfined && plan.network != .proxy { choices.append(.unconfined) }

        var lastError: SandboxError?
        for (index, confinement) in choices.enumerated() {
            let layers = Layers(confinement: confinement, landlockABI: confinement == .unconfined ? nil : abi,
                                network: plan.network)
            do {
                let started = try start(plan, confinement: confinement, landlockABI: layers.landlockABI, filter: filter,
                                        supervise: supervise, proxy: proxy)
                if index > 0 || confinement == .unconfined {
                    // Never silently weaker: say what is in force when it is not the first choice.
                    logger.warning("\(lastError.map { "\($0.message); " } ?? "")running with \(layers)")
                } else {
                    logger.info("sandbox: \(layers); workspace \(plan.workspace) writable")
                }
                return started.wait(stopTimeout: stopTimeout)
            } catch {
                lastError = error.error
                guard error.namespacesUnavailable, index + 1 < choices.count else {
                    if error.namespacesUnavailable, let landlockRefusal { throw SandboxError("\(error.error.message); \(landlockRefusal)") }
                    throw error.error
                }
            }
        }
        throw lastError ?? SandboxError("no confinement is available here (user namespaces and Landlock are both unavailable); refusing to run without --allow-unconfined")
    }

    /// Why proxy mode cannot be kept without a network namespace on this kernel, or nil when
    /// Landlock's TCP rules (ABI 4) can keep it.
    public static func proxyModeRefusal(landlockABI: Int?) -> String? {
        guard let abi = landlockABI else {
            return "network = \"proxy\" needs a network namespace or Landlock's TCP rules, and this kernel offers neither here (Landlock is unavailable): refusing to run with a direct route out"
        }
        guard abi >= 4 else {
            return "network = \"proxy\" needs a network namespace or Landlock's TCP rules (ABI 4), and this kernel cannot confine TCP without one (Landlock ABI \(abi)): refusing to run with a direct route out"
        }
        return nil
    }

    struct StartError: Error {
        var error: SandboxError
        /// The kernel refused the namespaces themselves (not the plan): another backend may do.
        var namespacesUnavailable: Bool
    }

    /// The signal that makes init end the whole sandbox. Namespaces: init is pid 1 of the pid
    /// namespace, and the kernel kills everything when it dies. Otherwise init must kill the tree
    /// itself, on a signal that is never one of the forwarded ones.
    static func initDeathSignal(_ confinement: Confinement) -> Int32 {
        confinement == .namespaces ? SIGKILL : SIGRTMIN_AIRLOCK
    }

    struct Started {
        var sandbox: airlock_sandbox
        var confinement: Confinement
        var privateTmp: String?

        /// The operator's ways of saying stop (Ctrl-C, `docker stop`, a closed terminal).
        static let stopSignals: Set<Int32> = [SIGINT, SIGTERM, SIGHUP]

        /// Forwards signals to init until the agent's status arrives, or until the grace period that
        /// the first stop signal starts is over; returns airlock's exit status.
        func wait(stopTimeout: Duration) -> Int32 {
            var set = signalSet()
            var info = siginfo_t()
            var stopping: (signal: Int32, deadline: ContinuousClock.Instant)?
            while true {
                let sig: Int32
                if let stopping {
                    var timeout = timespec(ContinuousClock.now.duration(to: stopping.deadline))
                    sig = sigtimedwait(&set, &info, &timeout)
                    if sig < 0 && errno == EAGAIN {
                        printError("the agent did not end within \(stopTimeout) of \(Self.name(stopping.signal)); killing the sandbox")
                        return killSandbox(status: 128 + stopping.signal)
                    }
                } else {
                    sig = sigwaitinfo(&set, &info)
                }
                if sig == SIGCHLD {
                    var status: Int32 = 0
                    let reaped = waitpid(sandbox.init_pid, &status, WNOHANG)
                    guard reaped == sandbox.init_pid else { continue }
                    if let privateTmp { removeTree(privateTmp) }
                    return Self.agentStatus(statusFD: sandbox.status_fd, initStatus: status)
                } else if let stopping, Self.stopSignals.contains(sig) {
                    return killSandbox(status: 128 + stopping.signal)
                } else if sig > 0 {
                    if Self.stopSignals.contains(sig) { stopping = (sig, .now + stopTimeout) }
                    kill(sandbox.init_pid, sig)
                }
            }
        }

        /// Kills everything in the sandbox and reaps init; `status`, unless the agent ended first.
        func killSandbox(status: Int32) -> Int32 {
            let deathSignal = initDeathSignal(confinement)
            kill(sandbox.init_pid, deathSignal)
            var initStatus: Int32 = 0
            var set = sigset_t()
            sigemptyset(&set)
            sigaddset(&set, SIGCHLD)
            var info = siginfo_t()
            let deadline = ContinuousClock.now + .seconds(2)
            while waitpid(sandbox.init_pid, &initStatus, WNOHANG) != sandbox.init_pid {
                var timeout = timespec(ContinuousClock.now.duration(to: deadline))
                if sigtimedwait(&set, &info, &timeout) < 0 && errno == EAGAIN {
                    if deathSignal != SIGKILL {
                        // init is stuck killing the tree: never hang on it, though what it has not
                        // killed yet may outlive airlock.
                        printError("the sandbox's init did not end within 2s of its death signal; killing it")
                        kill(sandbox.init_pid, SIGKILL)
                    }
                    waitpid(sandbox.init_pid, &initStatus, 0)
                    break
                }
            }
            if let privateTmp { removeTree(privateTmp) }
            // init exits 0 only once it has reported the agent's status: the agent ended first.
            if initStatus == 0 { return Self.agentStatus(statusFD: sandbox.status_fd, initStatus: initStatus) }
            close(sandbox.status_fd)
            return status
        }

        static func name(_ signal: Int32) -> String {
            switch signal {
            case SIGINT: "SIGINT"
            case SIGTERM: "SIGTERM"
            case SIGHUP: "SIGHUP"
            default: "signal \(signal)"
            }
        }

        static func agentStatus(statusFD: Int32, initStatus: Int32) -> Int32 {
            var status: Int32 = 0
            let n = read(statusFD, &status, MemoryLayout<Int32>.size)
            close(statusFD)
            guard n == MemoryLayout<Int32>.size else {
                // init ended without reporting (killed from outside): airlock failed to keep it.
                let how = initStatus & 0x7f != 0 ? "was killed by signal \(initStatus & 0x7f)" : "exited with \((initStatus >> 8) & 0xff)"
                printError("the sandbox init \(how) before the agent ended")
                return 125
            }
            let signal = status & 0x7f
            return signal == 0 ? (status >> 8) & 0xff : 128 + signal
        }
    }

    static func start(_ plan: SandboxPlan, confinement: Confinement, landlockABI: Int?,
                      filter: SeccompFilter, supervise: Supervise?, proxy: Proxy?) throws(StartError) -> Started {
        var privateTmp: String?
        if confinement != .namespaces {
            do { privateTmp = try makePrivateTmp() } catch { throw StartError(error: error, namespacesUnavailable: false) }
        }
        // Proxy mode, Landlock-only: airlock makes the proxy's socket on the host's loopback now, on
        // a port the kernel picks (the agent's environment names it), and Landlock keeps the agent's
        // TCP to that port. It is handed over once the sandbox's init exists: connections made
        // before the proxy accepts wait in the backlog.
        var hostProxy: (fd: Int32, port: UInt16)?
        var hostProxyHandedOver = false
        if plan.network == .proxy, proxy != nil, confinement != .namespaces {
            do { hostProxy = try ProxySocket.listenOnHostLoopback() } catch {
                if let privateTmp { removeTree(privateTmp) }
                throw StartError(error: error, namespacesUnavailable: false)
            }
        }
        defer { if let hostProxy, !hostProxyHandedOver { close(hostProxy.fd) } }
        var environment = plan.environment
        if let privateTmp { environment["TMPDIR"] = privateTmp }
        if plan.network == .proxy {
            let port = Int(hostProxy?.port ?? plan.proxyPort)
            environment["AIRLOCK_PROXY"] = "127.0.0.1:\(port)"
            environment.merge(plan.proxyEnvironment("127.0.0.1", port)) { _, proxy in proxy }
        }
        let rules: [Landlock.Rule]
        do { rules = try plan.landlockRules(confinement, privateTmp: privateTmp) } catch {
            if let privateTmp { removeTree(privateTmp) }
            throw StartError(error: error, namespacesUnavailable: false)
        }

        let strings = CStrings()
        defer { strings.free() }
        let writable = strings.array(plan.writable)
        let readOnly = strings.array(plan.readOnly + plan.protectedReadOnly)
        let pinned = strings.array(plan.pinned)
        let hidden = strings.array(plan.hidden.map(\.path))
        let hiddenIsDir = plan.hidden.map { UInt8($0.isDirectory ? 1 : 0) }
        let llRules = rules.map { airlock_landlock_rule(path: strings.string($0.path), access: $0.access) }
        let argv = strings.array(plan.argv)
        let envp = strings.array(environment.map { "\($0.key)=\($0.value)" }.sorted())

        var cfg = airlock_spawn_config()
        cfg.use_namespaces = confinement == .namespaces ? 1 : 0
        cfg.new_network = plan.network == .open ? 0 : 1
        cfg.outside_uid = geteuid()
        cfg.outside_gid = getegid()
        cfg.n_writable = plan.writable.count
        cfg.n_readonly = plan.readOnly.count + plan.protectedReadOnly.count
        cfg.n_pinned = plan.pinned.count
        cfg.n_hidden = plan.hidden.count
        if let abi = landlockABI {
            cfg.landlock_abi = Int32(abi)
            cfg.ll_handled_fs = Landlock.handledFS(abi: abi)
            cfg.ll_handled_net = Landlock.handledNet(abi: abi, network: plan.network, confinement: confinement)
            cfg.ll_scoped = Landlock.scoped(abi: abi)
            cfg.n_ll_rules = llRules.count
        }
        cfg.filter_len = UInt16(filter.program.count)
        var sockets: [Int32] = [-1, -1]
        if supervise != nil {
            guard socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &sockets) == 0 else {
                throw StartError(error: SandboxError("socketpair: \(Errno(errno))"), namespacesUnavailable: false)
            }
            // NEW_LISTENER | WAIT_KILLABLE_RECV: once the supervisor has read a call, only a fatal
            // signal interrupts it, so a signal to a held thread never makes a duplicate request.
            cfg.seccomp_flags = (1 << 3) | (1 << 5)
        }
        defer { for fd in sockets where fd >= 0 { close(fd) } }
        cfg.listener_socket = sockets[1]
        // Namespaces: protected files that appear later are pinned by init, on the supervisor's word.
        var pins: [Int32] = [-1, -1]
        if supervise != nil && confinement == .namespaces {
            guard socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pins) == 0 else {
                throw StartError(error: SandboxError("socketpair: \(Errno(errno))"), namespacesUnavailable: false)
            }
        }
        var pinsHandedOver = false
        defer { for fd in pins where fd >= 0 && !(pinsHandedOver && fd == pins[0]) { close(fd) } }
        cfg.pin_socket = pins[1]
        cfg.init_death_signal = initDeathSignal(confinement)

        // Proxy mode, namespaces: init makes the proxy's socket inside the new network namespace and
        // sends it here.
        var proxySockets: [Int32] = [-1, -1]
        defer { for fd in proxySockets where fd >= 0 { close(fd) } }
        cfg.proxy_socket = -1
        if plan.network == .proxy, proxy != nil, confinement == .namespaces {
            guard socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &proxySockets) == 0 else {
                throw StartError(error: SandboxError("socketpair: \(Errno(errno))"), namespacesUnavailable: false)
            }
            cfg.proxy_socket = proxySockets[1]
            cfg.proxy_port = plan.proxyPort
        }
        cfg.ll_connect_port = hostProxy?.port ?? 0
        cfg.host_proxy_fd = hostProxy?.fd ?? -1

        var sandbox = airlock_sandbox()
        var err = airlock_spawn_error()
        var rc = plan.cwd.withCString { cwd in
            plan.executable.withCString { path in
                hiddenIsDir.withUnsafeBufferPointer { hiddenIsDir in
                    llRules.withUnsafeBufferPointer { llRules in
                        filter.program.withUnsafeBytes { program in
                            cfg.writable = CStrings.constant(writable)
                            cfg.readonly = CStrings.constant(readOnly)
                            cfg.pinned = CStrings.constant(pinned)
                            cfg.hidden = CStrings.constant(hidden)
                            cfg.hidden_is_dir = hiddenIsDir.baseAddress
                            cfg.ll_rules = llRules.baseAddress
                            cfg.filter = OpaquePointer(program.baseAddress)
                            cfg.cwd = cwd
                            cfg.path = path
                            cfg.argv = UnsafePointer(argv)
                            cfg.envp = UnsafePointer(envp)
                            guard airlock_spawn(&cfg, &sandbox, &err) == 0 else { return Int32(-1) }
                            return 0
                        }
                    }
                }
            }
        }
        var superviseError: SandboxError?
        if rc == 0, let hostProxy, let proxy {
            hostProxyHandedOver = true
            proxy(hostProxy.fd, Int(hostProxy.port))
        }
        if rc == 0, proxySockets[0] >= 0, let proxy {
            close(proxySockets[1])
            proxySockets[1] = -1
            let fd = airlock_receive_fd(proxySockets[0])
            if fd > 0 {
                proxy(fd, Int(plan.proxyPort))
            } else {
                // EOF or an error: init failed before it sent the socket, and says why on the error
                // pipe. Never let an agent run without its proxy.
                rc = -1
                if airlock_spawn_wait_exec(sandbox.error_fd, &err) == 0 {
                    err.step = Int32(AIRLOCK_STEP_SEND_PROXY.rawValue)
                    err.err = fd < 0 ? -fd : EPIPE
                    withUnsafeMutableBytes(of: &err.detail) { $0.copyBytes(from: Array("recvmsg".utf8) + [0]) }
                }
            }
        }
        if rc == 0, let supervise {
            close(sockets[1])
            sockets[1] = -1
            let socket = sockets[0]
            close(pins[1])
            pins[1] = -1
            pinsHandedOver = true
            do { try supervise(pins[0]) { airlock_receive_fd(socket) } } catch { superviseError = error; rc = -1 }
        }
        if rc == 0 { rc = airlock_spawn_wait_exec(sandbox.error_fd, &err) }
        if rc != 0 {
            if sandbox.init_pid > 0 {
                kill(sandbox.init_pid, SIGKILL)
                var status: Int32 = 0
                waitpid(sandbox.init_pid, &status, 0)
                close(sandbox.status_fd)
                close(sandbox.error_fd)
            }
            if let privateTmp { removeTree(privateTmp) }
            if let superviseError { throw StartError(error: superviseError, namespacesUnavailable: false) }
            throw StartError(error: describe(err, plan: plan), namespacesUnavailable: namespaceSteps.contains(err.step))
        }
        close(sandbox.error_fd)
        return Started(sandbox: sandbox, confinement: confinement, privateTmp: privateTmp)
    }

    /// Steps whose failure means this kernel or container does not give us the namespaces at all.
    static let namespaceSteps: Set<Int32> = [
        Int32(AIRLOCK_STEP_CLONE.rawValue), Int32(AIRLOCK_STEP_UID_MAP.rawValue),
        Int32(AIRLOCK_STEP_MOUNT_PRIVATE.rawValue), Int32(AIRLOCK_STEP_READONLY_ROOT.rawValue),
        Int32(AIRLOCK_STEP_PROC.rawValue),
    ]

    static func describe(_ err: airlock_spawn_error, plan: SandboxPlan) -> SandboxError {
        let detail = withUnsafeBytes(of: err.detail) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let reason = Errno(err.err)
        let step: String
        switch airlock_spawn_step(rawValue: UInt32(err.step)) {
        case AIRLOCK_STEP_EXEC:
            let code: Int32 = err.err == ENOENT ? 127 : 126
            return SandboxError("\(plan.argv[0]): \(reason)", exitCode: code)
        case AIRLOCK_STEP_CLONE: step = "creating the sandbox's namespaces"
        case AIRLOCK_STEP_UID_MAP: step = "mapping user ids in the user namespace"
        case AIRLOCK_STEP_MOUNT_PRIVATE, AIRLOCK_STEP_READONLY_ROOT: step = "making the host read-only"
        case AIRLOCK_STEP_CLONE_TREE, AIRLOCK_STEP_BIND_WRITABLE: step = "binding a writable path"
        case AIRLOCK_STEP_BIND_READONLY: step = "binding a read-only path"
        case AIRLOCK_STEP_PROC: step = "mounting /proc"
        case AIRLOCK_STEP_DEV: step = "building /dev"
        case AIRLOCK_STEP_TMP: step = "mounting the private /tmp"
        case AIRLOCK_STEP_HIDE: step = "hiding a path"
        case AIRLOCK_STEP_LANDLOCK: step = "applying Landlock"
        case AIRLOCK_STEP_SECCOMP: step = "loading the seccomp filter"
        case AIRLOCK_STEP_CAPS: step = "dropping capabilities"
        case AIRLOCK_STEP_CHDIR: step = "entering the working directory"
        case AIRLOCK_STEP_LOOPBACK: step = "bringing up loopback"
        case AIRLOCK_STEP_PROXY_SOCKET: step = "creating the proxy's socket"
        case AIRLOCK_STEP_SEND_PROXY: step = "passing the proxy's socket to airlock"
        default: step = "starting the sandbox (step \(err.step))"
        }
        return SandboxError("\(step): \(detail): \(reason)")
    }

    static func makePrivateTmp() throws(SandboxError) -> String {
        var template = Array("/tmp/airlock-XXXXXX".utf8CString)
        guard let dir = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw SandboxError("creating a private temporary directory in /tmp: \(Errno(errno))")
        }
        return String(cString: dir)
    }

    static func removeTree(_ path: String) {
        // nftw is not callable with a Swift closure capturing state; a plain recursive walk suffices.
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        if st.st_mode & S_IFMT == S_IFDIR {
            for name in Landlock.directoryEntries(path) { removeTree(path + "/" + name) }
            rmdir(path)
        } else {
            unlink(path)
        }
    }
}

/// SIGRTMIN+3 (glibc reserves the first two real-time signals for itself).
let SIGRTMIN_AIRLOCK: Int32 = 34 + 3

extension timespec {
    /// A timeout for sigtimedwait; a duration already past is zero (poll once).
    init(_ duration: Duration) {
        let (seconds, attoseconds) = max(duration, .zero).components
        self.init(tv_sec: Int(seconds), tv_nsec: Int(attoseconds / 1_000_000_000))
    }
}

/// C strings that live until `free()`: the spawn configuration points into them.
final class CStrings {
    private var owned: [UnsafeMutablePointer<CChar>] = []
    private var arrays: [UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>] = []

    func string(_ s: String) -> UnsafePointer<CChar> {
        let p = strdup(s)!
        owned.append(p)
        return UnsafePointer(p)
    }

    /// A NULL-terminated array of C strings.
    func array(_ strings: [String]) -> UnsafeMutablePointer<UnsafeMutablePointer<CChar>?> {
        let a = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: strings.count + 1)
        for (i, s) in strings.enumerated() {
            let p = strdup(s)!
            owned.append(p)
            a[i] = p
        }
        a[strings.count] = nil
        arrays.append(a)
        return a
    }

    static func constant(_ a: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> UnsafePointer<UnsafePointer<CChar>?> {
        UnsafeRawPointer(a).assumingMemoryBound(to: UnsafePointer<CChar>?.self)
    }

    func free() {
        owned.forEach { Glibc.free($0) }
        arrays.forEach { $0.deallocate() }
    }
}

/// One line on stderr, as airlock prints everything it says to the operator.
public func printError(_ message: String) {
    let line = Array("airlock: \(message)\n".utf8)
    _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
}
