import AirlockSignOff
import Foundation

/// What an approval lets the approved job finish: the requesting process and its descendants may
/// have operations of `kinds` under `roots` carried out (each still by the supervisor, each still
/// written to the queue) until the process ends or the window closes. Never wider.
struct Grant {
    var requestID: String
    var pid: Int32
    /// The process's start time: a reused pid is not the approved process.
    var start: UInt64
    /// A file rule's literal root; for a command, the paths its arguments name, or the workspace
    /// when they cannot be told.
    var roots: [[UInt8]]
    var kinds: Set<OperationKind>
    var expires: Date

    /// What an approved command may have carried out for it: operations on files, and execs
    /// (never a connection: that is granted per host and port, see `NetworkHolds`).
    static let commandKinds: Set<OperationKind> = [.delete, .rename, .truncate, .write, .link, .exec]

    func covers(pid: Int32, path: [UInt8], kind: OperationKind, now: Date = Date()) -> Bool {
        guard now < expires, kinds.contains(kind), roots.contains(where: { Self.isWithin(path, $0) }) else { return false }
        return isSelfOrDescendant(pid)
    }

    static func isWithin(_ path: [UInt8], _ root: [UInt8]) -> Bool {
        let slash = UInt8(ascii: "/")
        return path == root || root == [slash] || path.starts(with: root + [slash])
    }

    func isSelfOrDescendant(_ candidate: Int32) -> Bool {
        var current = ExecVerifier.threadGroup(of: candidate) ?? candidate
        for _ in 0..<64 {
            guard let (ppid, start) = AgentProcess.parentAndStart(current) else { return false }
            if current == pid { return start == self.start }
            if ppid <= 1 { return false }
            current = ppid
        }
        return false
    }
}

/// Where the queue and the approvers live unless the profile or a flag says otherwise.
public enum QueuePaths {
    /// $AIRLOCK_QUEUE; else /var/lib/airlock/queue.jsonl for root; else
    /// $XDG_STATE_HOME/airlock/queue.jsonl (~/.local/state/airlock/queue.jsonl).
    public static func defaultQueue(_ env: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let path = env["AIRLOCK_QUEUE"], !path.isEmpty { return path }
        return stateDirectory(env) + "/queue.jsonl"
    }

    /// Airlock's own state (the queue by default, the inspection CA): /var/lib/airlock for root,
    /// else $XDG_STATE_HOME/airlock (~/.local/state/airlock).
    public static func stateDirectory(_ env: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if geteuid() == 0 { return "/var/lib/airlock" }
        let state = env["XDG_STATE_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? (env["HOME"] ?? "/") + "/.local/state"
        return state + "/airlock"
    }

    /// Files Airlock makes for the sandbox to read (the CA bundle of inspection): /var/cache/airlock
    /// for root, else $XDG_CACHE_HOME/airlock (~/.cache/airlock).
    public static func cacheDirectory(_ env: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if geteuid() == 0 { return "/var/cache/airlock" }
        let cache = env["XDG_CACHE_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? (env["HOME"] ?? "/") + "/.cache"
        return cache + "/airlock"
    }

    /// The approvers' allowed_signers: /etc/airlock/allowed_signers for root, else
    /// $XDG_CONFIG_HOME/airlock/allowed_signers (~/.config/airlock/allowed_signers).
    public static func defaultApprovers(_ env: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if geteuid() == 0 { return "/etc/airlock/allowed_signers" }
        let config = env["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? (env["HOME"] ?? "/") + "/.config"
        return config + "/airlock/allowed_signers"
    }
}
