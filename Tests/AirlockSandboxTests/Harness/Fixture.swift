import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The user the tests run as owns everything; "nobody" is the unprivileged developer.
let nobody: uid_t = 65534

/// One way of running the sandbox: a backend, as root or as an unprivileged user.
struct SandboxConfig: Sendable, CustomTestStringConvertible {
    enum Backend: String, Sendable {
        case namespaces
        case landlock
    }

    var backend: Backend
    /// Run airlock as uid/gid 65534 through setpriv (only possible when the tests run as root).
    var asNobody: Bool

    var user: uid_t? { asNobody ? nobody : nil }
    var testDescription: String {
        "\(backend.rawValue) as \(asNobody ? "uid 65534" : geteuid() == 0 ? "root" : "the current user")"
    }

    /// Every configuration this machine can run: both backends, as root and as uid 65534 when the
    /// tests run as root, else both backends as the current user.
    static let all: [SandboxConfig] = {
        let users = geteuid() == 0 ? [false, true] : [false]
        return [Backend.namespaces, .landlock].flatMap { b in users.map { SandboxConfig(backend: b, asNobody: $0) } }
    }()
    static let namespaces = all.filter { $0.backend == .namespaces }
    static let landlock = all.filter { $0.backend == .landlock }
    static let root = SandboxConfig(backend: .namespaces, asNobody: false)
}

/// Runs `airlock ARGS` (as `user` when given, through setpriv) with exactly `env`, in `cwd`.
func airlock(
    _ args: [String], env: [String: String], cwd: String, user: uid_t? = nil,
    timeout: Double = 30, stdin: String = "/dev/null", extraDescriptors: [Int32] = []
) throws -> Outcome {
    let process = try startAirlock(args, env: env, cwd: cwd, user: user, stdin: stdin, extraDescriptors: extraDescriptors)
    return process.wait(timeout: timeout)
}

/// Starts `airlock ARGS` and returns at once (for tests that signal it).
func startAirlock(
    _ args: [String], env: [String: String], cwd: String, user: uid_t? = nil,
    stdin: String = "/dev/null", extraDescriptors: [Int32] = []
) throws -> Subprocess {
    try Subprocess(asUser(user, [try Binaries.airlock()] + args), environment: env, directory: cwd,
                   stdin: stdin, extraDescriptors: extraDescriptors)
}

/// `argv`, run as `user` through setpriv when given.
func asUser(_ user: uid_t?, _ argv: [String]) -> [String] {
    guard let user else { return argv }
    return ["/usr/bin/setpriv", "--reuid=\(user)", "--regid=\(user)", "--clear-groups", "--"] + argv
}

/// A fresh world for one test: a workspace, a HOME full of planted secrets, a writable directory
/// outside the workspace, all owned by the configuration's user. Removed on deinit. Never touches
/// the real HOME.
final class Fixture: @unchecked Sendable {
    let config: SandboxConfig
    /// /var/tmp/airlock-e2e-XXXXXX: holds everything below, mode 0755.
    let root: String
    /// The agent's workspace (root/workspace).
    let workspace: String
    /// The operator's HOME as airlock sees it (root/home), with secrets planted.
    let home: String
    /// A directory outside the workspace, writable by the user when not sandboxed (root/outside).
    let outside: String
    /// A unique string inside every planted secret; it must never appear in the agent's output.
    let secret: String
    /// A unique string for names (markers, tags).
    let unique: String

    /// The hidden directories of the default profile, each with one planted file (relative to HOME).
    static let hiddenDirectories: [(dir: String, file: String)] = [
        (".ssh", "id_ed25519"),
        (".aws", "credentials"),
        (".kube", "config"),
        (".config/gcloud", "application_default_credentials.json"),
        (".azure", "msal_token_cache.json"),
        (".docker", "config.json"),
        (".gnupg", "private-keys-v1.d/0123456789ABCDEF.key"),
        // Airlock's own state: its queue and approvers must never be visible to the agent.
        (".local/state/airlock", "planted-secret"),
        (".config/airlock", "allowed_signers"),
    ]
    /// The hidden files of the default profile (relative to HOME).
    static let hiddenFiles = [".netrc", ".git-credentials"]

    var sshKey: String { home + "/.ssh/id_ed25519" }
    var awsCredentials: String { home + "/.aws/credentials" }

    /// `workspaceUnder`: a directory to make the workspace in instead of `root` (such as /tmp).
    /// `workspaceIsHome`: the workspace is HOME itself, as when an operator runs airlock from `~`.
    init(_ config: SandboxConfig, workspaceUnder parent: String? = nil, workspaceIsHome: Bool = false) throws {
        if config.asNobody { try Binaries.usableByNobody.get() }
        self.config = config
        unique = UUID().uuidString.lowercased()
        secret = "AIRLOCK-E2E-SECRET-\(unique)"
        root = try makeTemporaryDirectory(prefix: "airlock-e2e-")
        chmod(root, 0o755)
        home = root + "/home"
        if workspaceIsHome {
            workspace = home
        } else if let parent {
            workspace = try makeTemporaryDirectory(prefix: "airlock-e2e-ws-", under: parent)
        } else {
            workspace = root + "/workspace"
        }
        outside = root + "/outside"
        let fm = FileManager.default
        for dir in [workspace, home, outside] {
            try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
            chmod(dir, 0o755)
        }
        for (dir, file) in Self.hiddenDirectories {
            try write(home + "/" + dir + "/" + file, "secret material \(secret) in ~/\(dir)/\(file)\n", mode: 0o600)
        }
        try write(sshKey, "-----BEGIN OPENSSH PRIVATE KEY-----\n\(secret)\n-----END OPENSSH PRIVATE KEY-----\n", mode: 0o600)
        try write(awsCredentials, "[default]\naws_access_key_id = AKIA\(unique.prefix(8))\naws_secret_access_key = \(secret)\n", mode: 0o600)
        for file in Self.hiddenFiles {
            try write(home + "/" + file, "machine example.com login me password \(secret)\n", mode: 0o600)
        }
        try write(home + "/.bashrc", "# an ordinary dotfile, readable in the sandbox\n", mode: 0o644)
        try write(outside + "/existing.txt", "outside the workspace\n", mode: 0o644)
        try write(workspace + "/README", "the workspace\n", mode: 0o644)
        if let user = config.user {
            for dir in [workspace, home, outside] { try chownTree(dir, to: user) }
        }
    }

    deinit { removeTree(root); if !workspace.hasPrefix(root + "/") { removeTree(workspace) } }

    /// The environment airlock is started with: nothing from the test process, HOME the fake one.
    func environment(_ extra: [String: String] = [:]) -> [String: String] {
        var env = [
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": home,
            "LANG": "C.UTF-8",
            "FOO": "bar",
            "SHELL": "/bin/sh",
            // The sign-off queue of this fixture, never the machine's.
            "AIRLOCK_QUEUE": home + "/.local/state/airlock/queue.jsonl",
        ]
        env.merge(extra) { _, new in new }
        return env
    }

    /// `airlock run --backend B OPTIONS -- COMMAND`, from `cwd` (default the workspace).
    func run(
        _ command: [String], options: [String] = [], env: [String: String] = [:], cwd: String? = nil,
        timeout: Double = 30, stdin: String = "/dev/null", extraDescriptors: [Int32] = []
    ) throws -> Outcome {
        try airlock(runArguments(command, options: options), env: environment(env), cwd: cwd ?? workspace,
                    user: config.user, timeout: timeout, stdin: stdin, extraDescriptors: extraDescriptors)
    }

    func runArguments(_ command: [String], options: [String] = []) -> [String] {
        ["run", "--backend", config.backend.rawValue] + options + ["--"] + command
    }

    /// Runs each probe check (`"read /x"`) in the sandbox; one verdict per check, in order.
    func probe(_ checks: [String], options: [String] = [], env: [String: String] = [:], cwd: String? = nil) throws -> ProbeRun {
        let outcome = try run([try Binaries.probe(), "each"] + checks, options: options, env: env, cwd: cwd)
        return ProbeRun(checks: checks, outcome: outcome)
    }

    /// Runs one check as the sandboxed command itself (not in a forked child, as `probe` does): for
    /// checks about the agent process, such as `sid` and `pid`.
    func probeDirectly(_ check: String, options: [String] = [], env: [String: String] = [:], cwd: String? = nil) throws -> ProbeRun {
        let argv = check.split(separator: " ").map(String.init)
        let outcome = try run([try Binaries.probe()] + argv, options: options, env: env, cwd: cwd)
        return ProbeRun(checks: [check], outcome: outcome)
    }

    /// The same checks without airlock, as the same user, to show that they succeed unconfined.
    func bare(_ checks: [String], cwd: String? = nil) throws -> ProbeRun {
        let process = try Subprocess(asUser(config.user, [try Binaries.probe(), "each"] + checks),
                                     environment: environment(), directory: cwd ?? workspace)
        return ProbeRun(checks: checks, outcome: process.wait(timeout: 30))
    }

    /// Creates `path` (and any missing parents, mode 0755) with `contents`, owned by the configuration's user.
    func write(_ path: String, _ contents: String, mode: mode_t = 0o644) throws {
        var missing: [String] = []
        var dir = (path as NSString).deletingLastPathComponent
        while !FileManager.default.fileExists(atPath: dir) {
            missing.append(dir)
            dir = (dir as NSString).deletingLastPathComponent
        }
        for dir in missing.reversed() {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false)
            chmod(dir, 0o755)
            if let user = config.user { chown(dir, user, user) }
        }
        try contents.write(toFile: path, atomically: false, encoding: .utf8)
        chmod(path, mode)
        if let user = config.user { chown(path, user, user) }
    }
}

/// chown -R, not following symlinks.
func chownTree(_ path: String, to user: uid_t) throws {
    guard lchown(path, user, user) == 0 else { throw HarnessError("lchown \(path): \(String(cString: strerror(errno)))") }
    var st = stat()
    guard lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else { return }
    for entry in try FileManager.default.contentsOfDirectory(atPath: path) {
        try chownTree(path + "/" + entry, to: user)
    }
}
