import AirlockPolicy
import Glibc
import SystemPackage

/// What the operator asked for: a profile, the command line's overrides, and the command.
public struct SandboxRequest: Sendable {
    public var profile: Profile
    public var command: [String]
    public var workspace: String?
    /// `--rw`, `--ro`, `--hide`: relative to the current directory, like any path on a command line.
    public var readWrite: [String] = []
    public var readOnly: [String] = []
    /// Bound onto themselves (namespaces backend): the entry cannot be removed or renamed (EBUSY),
    /// its contents stay as writable as before. Absolute paths; missing ones are skipped.
    public var pinned: [String] = []
    /// Read-only binds that back sign-off's protected paths (namespaces backend). Absolute paths.
    public var protectedReadOnly: [String] = []
    public var hide: [String] = []
    public var envPass: [String] = []
    public var backend: Backend?
    public var allowUnconfined = false
    public var environment: [String: String]
    public var currentDirectory: String

    public init(profile: Profile, command: [String], environment: [String: String], currentDirectory: String) {
        self.profile = profile
        self.command = command
        self.environment = environment
        self.currentDirectory = currentDirectory
    }
}

/// How the filesystem view is enforced.
public enum Confinement: String, Sendable {
    /// User, mount, PID, IPC, UTS and cgroup namespaces build the view; Landlock adds a second layer.
    case namespaces
    /// Landlock alone (containers without CAP_SYS_ADMIN, user namespaces disabled).
    case landlock
    /// No filesystem confinement (only with --allow-unconfined); the seccomp filter still applies.
    case unconfined
}

/// A validated, fully resolved sandbox: every path absolute, real and existing, every conflict
/// refused. Building one starts nothing.
public struct SandboxPlan: Sendable {
    public var backend: Backend
    public var allowUnconfined: Bool
    public var landlockABI: Result<Int, Errno>
    public var workspace: String
    public var cwd: String
    /// Writable trees, workspace included, parents before children.
    public var writable: [String]
    public var readOnly: [String]
    public var protectedReadOnly: [String]
    public var pinned: [String]
    /// Existing hidden paths (resolved), and whether each is a directory. Host daemons' sockets
    /// the profile does not expose are among them.
    public var hidden: [(path: String, isDirectory: Bool)]
    /// The host daemons' sockets found here that the profile does not expose (`host_sockets`),
    /// hidden like the secrets; their variables are dropped from the agent's environment.
    public var hostSockets: [HiddenHostSocket]
    public var executable: String
    public var argv: [String]
    public var environment: [String: String]
    public var network: NetworkMode
    /// Proxy mode, namespaces backend: the port the proxy listens on inside the sandbox, at
    /// 127.0.0.1. (The Landlock-only backend listens on the host's loopback, on a port the kernel
    /// picks.)
    public var proxyPort: UInt16 = SandboxPlan.defaultProxyPort
    public static let defaultProxyPort: UInt16 = 3128
    /// Proxy mode: variables for the agent's environment (HTTP_PROXY and the like), given the
    /// proxy's address as the agent reaches it, which the Landlock-only backend knows only when the
    /// sandbox starts. `AIRLOCK_PROXY=HOST:PORT` is always set in proxy mode.
    public var proxyEnvironment: @Sendable (_ host: String, _ port: Int) -> [String: String] = { _, _ in [:] }
    public var denyAction: DenyAction
    public var home: String

    public init(_ request: SandboxRequest) throws(SandboxError) {
        let profile = request.profile
        let env = request.environment
        let home = env["HOME"] ?? "/"
        self.home = home
        let here = request.currentDirectory
        guard let command = request.command.first, !command.isEmpty else {
            throw SandboxError("no command given: usage is airlock run [options] -- COMMAND [ARGS...]")
        }

        let workspacePath = expandPath(request.workspace ?? here, home: home, relativeTo: here)
        let workspace = try Self.existingDirectory(workspacePath, what: "workspace")
        self.workspace = workspace
        var cwd = workspace
        if (here + "/").hasPrefix(workspace + "/") {
            // The agent starts where the operator stands; never silently somewhere else.
            guard let real = Self.realPath(here) else {
                throw SandboxError("current directory \(here): \(Errno(errno)); cannot start the agent there")
            }
            cwd = real
        }
        self.cwd = cwd

        func resolve(_ paths: [String], base: String, origin: String) throws(SandboxError) -> [String] {
            var out: [String] = []
            for path in paths {
                let absolute = expandPath(path, home: home, relativeTo: base)
                guard let real = Self.realPath(absolute) else {
                    throw SandboxError("\(origin) \(path): \(Errno(errno))")
                }
                out.append(real)
            }
            return out
        }
        let profileOrigin = "profile \(profile.name):"
        let rw = try resolve(profile.readWrite, base: workspace, origin: "\(profileOrigin) filesystem.read_write")
            + resolve(request.readWrite, base: here, origin: "--rw")
        let ro = try resolve(profile.readOnly, base: workspace, origin: "\(profileOrigin) filesystem.read_only")
            + resolve(request.readOnly, base: here, origin: "--ro")
        let hostSockets = Self.hiddenHostSockets(exposed: profile.hostSockets, environment: env, uid: getuid())
        self.hostSockets = hostSockets
        // A hidden path that does not exist has nothing to hide.
        let hide = (profile.hide.map { expandPath($0, home: home, relativeTo: workspace) }
            + request.hide.map { expandPath($0, home: home, relativeTo: here) }).compactMap(Self.realPath)
            + hostSockets.map(\.path)

        for path in rw where ro.contains(path) {
            throw SandboxError("\(path) is named both writable (--rw/read_write) and read-only (--ro/read_only)")
        }
        if rw.contains("/") || workspace == "/" {
            throw SandboxError("refusing to make / writable: name the directories the agent may change")
        }
        for path in [workspace] + rw {
            if let h = hide.first(where: { Self.isWithin(path, $0) }) {
                throw SandboxError("\(path) is writable but lies in the hidden path \(h)")
            }
        }
        let writable = Self.unique([workspace] + rw).sorted { $0.count < $1.count }
        self.writable = writable
        let readOnly = Self.unique(ro).filter { path in writable.contains { Self.isWithin(path, $0) } }
        self.readOnly = readOnly
        protectedReadOnly = Self.unique(request.protectedReadOnly.compactMap(Self.realPath)).filter { path in
            !readOnly.contains(path) && writable.contains { Self.isWithin(path, $0) }
        }
        pinned = Self.unique(request.pinned.compactMap(Self.realPath)).filter { path in
            !writable.contains(path) && !readOnly.contains(path) && writable.contains { Self.isWithin(path, $0) }
        }
        hidden = Self.unique(hide).map { path in
            var st = stat()
            return (path, stat(path, &st) == 0 && st.st_mode & S_IFMT == S_IFDIR)
        }

        backend = request.backend ?? profile.backend
        allowUnconfined = request.allowUnconfined || profile.allowUnconfined
        landlockABI = Landlock.abi()
        network = profile.network
        denyAction = profile.denyAction
        var environment = EnvironmentFilter.filter(env, profile: profile, extraPass: request.envPass)
        environment["AIRLOCK_SANDBOX"] = "1"
        self.environment = environment
        executable = try Self.resolveCommand(command, path: environment["PATH"], cwd: cwd)
        argv = request.command
    }

    /// The Landlock rules for this view under `confinement`; `privateTmp` is the landlock backend's
    /// stand-in for a private /tmp.
    func landlockRules(_ confinement: Confinement, privateTmp: String?) throws(SandboxError) -> [Landlock.Rule] {
        let device = Landlock.read | Landlock.writeFile | Landlock.truncate | Landlock.ioctlDev
        switch confinement {
        case .unconfined:
            return []
        case .namespaces:
            // The mounts already make everything outside the writable trees read-only and hidden
            // paths empty; Landlock repeats the first half of that in a second, independent layer.
            return [Landlock.Rule(path: "/", access: Landlock.read)]
                + writable.map { Landlock.Rule(path: $0, access: Landlock.everything) }
                + [Landlock.Rule(path: "/tmp", access: Landlock.everything),
                   Landlock.Rule(path: "/dev/shm", access: Landlock.everything),
                   Landlock.Rule(path: "/dev", access: device)]
                + Self.redirectionRules()
        case .landlock:
            // Landlock only ever adds rights down a tree: inside a writable tree nothing can be taken
            // away again, so a hidden or read-only path there cannot be enforced. Refuse, rather
            // than run with it exposed.
            for tree in writable {
                if let inner = (hidden.map(\.path) + readOnly).first(where: { $0 != tree && Self.isWithin($0, tree) }) {
                    throw SandboxError("the landlock backend cannot keep \(inner) \(readOnly.contains(inner) ? "read-only" : "hidden") inside the writable \(tree); use the namespaces backend, or a workspace that does not contain it")
                }
            }
            var rules = Landlock.carve("/", access: Landlock.read, excluding: hidden.map(\.path), onTheWay: Landlock.readDir)
            rules += writable.map { Landlock.Rule(path: $0, access: Landlock.everything) }
            for node in ["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty",
                         "/dev/ptmx", "/dev/pts"] {
                rules.append(Landlock.Rule(path: node, access: device))
            }
            rules.append(Landlock.Rule(path: "/dev/shm", access: Landlock.everything))
            if let privateTmp { rules.append(Landlock.Rule(path: privateTmp, access: Landlock.everything)) }
            return rules + Self.redirectionRules()
        }
    }

    /// The operator's redirections: a regular file on stdin, stdout or stderr may be reopened by
    /// name (`/dev/stdout`, `tee /dev/stderr`) with the access its descriptor already gives, and no
    /// more (a file opened only for writing is not made readable). The rule names the file through
    /// the agent's own descriptor, so it is that very file wherever it lives.
    static func redirectionRules() -> [Landlock.Rule] {
        (Int32(0)...2).compactMap { fd in
            var st = stat()
            let flags = fcntl(fd, F_GETFL)
            guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG, flags >= 0 else { return nil }
            let mode = flags & O_ACCMODE
            let access = (mode != O_WRONLY ? Landlock.readFile : 0) | (mode != O_RDONLY ? Landlock.writeFile | Landlock.truncate : 0)
            return Landlock.Rule(path: "/proc/self/fd/\(fd)", access: access)
        }
    }

    // MARK: - Helpers

    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    static func existingDirectory(_ path: String, what: String) throws(SandboxError) -> String {
        guard let real = realPath(path) else { throw SandboxError("\(what) \(path): \(Errno(errno))") }
        var st = stat()
        guard stat(real, &st) == 0, st.st_mode & S_IFMT == S_IFDIR else {
            throw SandboxError("\(what) \(path): not a directory")
        }
        guard access(real, R_OK | X_OK) == 0 else { throw SandboxError("\(what) \(path): \(Errno(errno))") }
        return real
    }

    static func isWithin(_ path: String, _ dir: String) -> Bool {
        path == dir || dir == "/" || path.hasPrefix(dir + "/")
    }

    static func unique(_ paths: [String]) -> [String] {
        var seen = Set<String>()
        return paths.filter { seen.insert($0).inserted }
    }

    /// Finds COMMAND as execvp(3) would, failing like env(1): 127 when not found, 126 when found but
    /// not executable.
    static func resolveCommand(_ name: String, path: String?, cwd: String) throws(SandboxError) -> String {
        func check(_ candidate: String) -> Int32? {
            var st = stat()
            guard stat(candidate, &st) == 0 else { return nil }
            return st.st_mode & S_IFMT == S_IFREG && access(candidate, X_OK) == 0 ? 0 : 126
        }
        if name.contains("/") {
            let full = name.hasPrefix("/") ? name : cwd + "/" + name
            switch check(full) {
            case 0: return full
            case nil: throw SandboxError("\(name): no such file or directory", exitCode: 127)
            default: throw SandboxError("\(name): not an executable file", exitCode: 126)
            }
        }
        var denied: String?
        for dir in (path ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":", omittingEmptySubsequences: false) {
            let candidate = (dir.isEmpty ? cwd : String(dir)) + "/" + name
            switch check(candidate) {
            case 0: return candidate
            case nil: continue
            default: denied = denied ?? candidate
            }
        }
        if let denied { throw SandboxError("\(denied): not an executable file", exitCode: 126) }
        throw SandboxError("\(name): command not found", exitCode: 127)
    }
}
