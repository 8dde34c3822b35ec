/// Which kernel mechanism builds the agent's filesystem view.
public enum Backend: String, Sendable, CaseIterable {
    /// Namespaces where the kernel allows them, else Landlock alone.
    case auto
    /// User and mount namespaces with bind mounts (plus Landlock as a second layer).
    case namespaces
    /// Landlock alone: works in containers without user namespaces or CAP_SYS_ADMIN.
    case landlock
}

/// How the agent reaches the network.
public enum NetworkMode: String, Sendable, CaseIterable {
    /// Only through Airlock's proxy: a network namespace holding only loopback (namespaces backend),
    /// or Landlock TCP rules that allow connecting to the proxy's port alone (Landlock-only backend);
    /// either way the seccomp filter refuses UDP, raw, netlink and packet sockets.
    case proxy
    /// The host's network, unfiltered (`network = true`).
    case open
    /// No network at all (`network = false`): a network namespace with nothing in it, Landlock TCP
    /// rules with no port allowed, and no AF_INET/AF_INET6/AF_PACKET sockets.
    case none
}

/// What the seccomp filter does to a syscall no agent needs.
public enum DenyAction: String, Sendable, CaseIterable {
    /// Fail the call with EPERM: tools degrade gracefully.
    case errno
    /// Kill the process: louder, for when any attempt should stop the run.
    case kill
}

/// What happens to a destructive operation on a protected path.
public enum ProtectAction: String, Sendable, CaseIterable {
    /// Block the syscall and ask for sign-off; go ahead only after a quorum approves.
    case hold
    /// Fail with EPERM at once.
    case deny
    /// Let it through (an exception carved out of a broader rule).
    case allow
    /// Let it through and record it in the queue file.
    case audit
}

/// The destructive file operations a protect rule can guard.
public enum FileOperation: String, Sendable, CaseIterable, Comparable {
    /// unlink, unlinkat, rmdir.
    case delete
    /// rename, renameat, renameat2 (either end).
    case rename
    /// truncate, ftruncate, and opens with O_TRUNC.
    case truncate
    /// Opens for writing and anything else that changes the file's bytes.
    case write

    /// Declaration order, so sets print the same way every time.
    public static func < (a: FileOperation, b: FileOperation) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

/// One `[[protect]]` table as written in a profile: patterns are still relative to the workspace
/// (or `~`), see `resolvedProtectRules(profile:workspace:home:)`.
public struct ProtectRule: Sendable, Equatable {
    public var name: String?
    /// Path globs (`*`, `**`, `?`; see `PathGlob`). Relative ones are relative to the workspace.
    public var paths: [String]
    public var operations: Set<FileOperation>
    public var action: ProtectAction

    public init(
        name: String? = nil, paths: [String],
        operations: Set<FileOperation> = Set(FileOperation.allCases), action: ProtectAction = .hold
    ) {
        self.name = name
        self.paths = paths
        self.operations = operations
        self.action = action
    }
}

/// The effective policy for one sandbox run: every file of an `extends` chain merged.
///
/// Paths are kept as written (`~/.ssh`, `.git`, `/run/secrets`): relative filesystem and protect
/// paths are relative to the workspace, which is only known when the sandbox starts; expand them
/// with `expandPath(_:home:relativeTo:)`. Only `approvers` and `queue`, which describe Airlock's
/// own files rather than the agent's view, are resolved against the profile file when loaded.
public struct Profile: Sendable, Equatable {
    /// The profile name (`default`) or file path it was loaded by.
    public var name: String
    /// The files merged, base first.
    public var sources: [String]
    /// The top-level `description` (named so as not to clash with `CustomStringConvertible`).
    public var summary: String?

    // [sandbox]
    public var backend: Backend
    /// `network = "proxy" | "open" | "none"` (or true for open, false for none).
    public var network: NetworkMode
    /// `[network]`: which hosts the proxy lets the agent reach (proxy mode).
    public var networkAllow: [String]
    public var networkDeny: [String]
    public var networkUnknown: UnknownHostAction
    /// `[network] inspect`: hosts whose TLS the proxy terminates to see each request.
    public var networkInspect: [String]
    /// `[network] upstream_ca`: PEM files trusted for upstream TLS besides the host's roots.
    public var upstreamCA: [String]
    /// `[network] forward_as_signed`: the AWS requests the broker cannot sign again that are
    /// forwarded as the agent signed them (after the `[[api]]` rules decided), instead of refused.
    public var forwardAsSigned: [UnresignableRequest]
    /// The `[network]` rules as the proxy takes them (each pattern was checked at load).
    public var networkPolicy: NetworkPolicy {
        (try? NetworkPolicy(allow: networkAllow, deny: networkDeny, unknown: networkUnknown, inspect: networkInspect))
            ?? NetworkPolicy(allow: [], deny: [], unknown: .deny)
    }
    /// Run even when no confinement layer is available. Never the default.
    public var allowUnconfined: Bool
    /// `host_sockets`: the host daemons whose sockets the agent may reach (and whose variables it
    /// keeps). Every other one found is hidden like a secret. Default: none.
    public var hostSockets: [HostSocket]
    // [seccomp]
    public var denyAction: DenyAction

    // [filesystem]
    /// Writable paths besides the workspace.
    public var readWrite: [String]
    /// Paths forced read-only, even inside the workspace or a `readWrite` path.
    public var readOnly: [String]
    /// Paths replaced by empty read-only stand-ins.
    public var hide: [String]

    // [environment]
    /// Names (exact or `*`/`?` globs) always passed, even when they match `envDrop`.
    public var envPass: [String]
    /// Name globs to drop from the agent's environment.
    public var envDrop: [String]
    /// Variables set in the agent's environment, after dropping.
    public var envSet: [String: String]

    // [signoff]
    /// Distinct approvers needed to let a held operation go ahead.
    public var quorum: Int
    /// How long a held request waits for a quorum before it expires (and the call fails).
    public var timeoutSeconds: Int
    /// How long a granted approval stays usable.
    public var grantWindowSeconds: Int
    /// How long a held call stays blocked before it fails with EPERM (its request stays open).
    public var wait: HoldWait
    /// Path of an OpenSSH `allowed_signers` file (absolute, or starting with `~`).
    public var approvers: String?
    /// Path of the sign-off queue file (absolute, or starting with `~`).
    public var queue: String?
    /// Protect rules, parent profiles' first.
    public var protect: [ProtectRule]
    /// Exec rules, parent profiles' first (see `ExecClassifier`).
    public var exec: [ExecRule]
    /// API rules, parent profiles' first (see `APIRuleMatcher`).
    public var api: [APIRule]

    /// A profile with every setting at its default: what an empty profile file means.
    public init(name: String = "", sources: [String] = []) {
        self.name = name
        self.sources = sources
        self.summary = nil
        self.backend = .auto
        self.network = .open
        self.networkAllow = []
        self.networkDeny = []
        // The open internet, as `open` mode gives; loopback, private and metadata addresses
        // stay refused unless named.
        self.networkUnknown = .allow
        self.networkInspect = []
        self.upstreamCA = []
        self.forwardAsSigned = []
        self.allowUnconfined = false
        self.hostSockets = []
        self.denyAction = .errno
        self.readWrite = []
        self.readOnly = []
        self.hide = []
        self.envPass = []
        self.envDrop = []
        self.envSet = [:]
        self.quorum = 2
        self.timeoutSeconds = 15 * 60
        self.grantWindowSeconds = 10 * 60
        self.wait = .seconds(20)
        self.approvers = nil
        self.queue = nil
        self.protect = []
        self.exec = []
        self.api = []
    }
}

/// How long a held call blocks: a bound in seconds, or until its request expires.
public enum HoldWait: Equatable, Sendable, CustomStringConvertible {
    case seconds(Int)
    case expiry

    /// `"expiry"`, or a duration as profiles write it ("20s", "2m", 45).
    public init?(_ text: String) {
        if text == "expiry" { self = .expiry; return }
        guard let seconds = Durations.seconds(text) ?? Int(text), seconds > 0, seconds <= Durations.maximum else { return nil }
        self = .seconds(seconds)
    }

    public var description: String {
        switch self {
        case .expiry: "expiry"
        case .seconds(let s): Durations.format(s)
        }
    }
}
