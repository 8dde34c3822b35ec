import AirlockPolicy
import Glibc

/// A host daemon's socket (or directory of sockets) found on this host, which the sandbox hides
/// because the profile does not expose that daemon (`host_sockets`).
public struct HiddenHostSocket: Sendable, Equatable, CustomStringConvertible {
    public var daemon: HostSocket
    /// Resolved: the socket, or the directory of the daemon's sockets (`/run/containerd`).
    public var path: String
    /// What named it: `a usual place`, or a variable.
    public var origin: String

    public var description: String {
        "\(daemon.rawValue) (\(path)\(origin.hasPrefix("a usual") ? "" : ", from \(origin)"))"
    }
}

/// Hiding a socket. The namespaces backend puts an empty read-only file (or, for a directory, an
/// empty tmpfs) in its place, as for any hidden path: connect() then fails (EACCES: it needs write
/// access, and there is no socket there). The Landlock-only backend cannot: Landlock (up to ABI 7
/// at least) does not mediate connect() to a named UNIX socket, so a socket its read rules leave
/// out is still connectable by its name. That backend therefore refuses a plan in which a socket
/// it was asked to hide is one the agent could connect to (see `landlockSocketRefusal`).
extension SandboxPlan {
    /// The sockets of the daemons `exposed` leaves out that exist here, resolved, each once. A
    /// path that an exposed daemon's location also names stays visible (DOCKER_HOST pointing at
    /// Podman's socket, with podman exposed).
    static func hiddenHostSockets(exposed: [HostSocket], environment: [String: String], uid: uid_t) -> [HiddenHostSocket] {
        let exposedPaths = exposed.flatMap { $0.locations(environment: environment, uid: uid) }.compactMap { realPath($0.path) }
        var found: [HiddenHostSocket] = []
        for daemon in HostSocket.allCases where !exposed.contains(daemon) {
            for location in daemon.locations(environment: environment, uid: uid) {
                guard let path = realPath(location.path), !found.contains(where: { $0.path == path }),
                      !exposedPaths.contains(where: { isWithin($0, path) }) else { continue }
                found.append(HiddenHostSocket(daemon: daemon, path: path, origin: location.origin))
            }
        }
        return found
    }

    /// Why the Landlock-only backend cannot run this plan, or nil: a socket the plan hides (a host
    /// daemon's, or a hidden path that is a socket) that the agent could connect to, Landlock or
    /// not. Sockets inside a hidden directory are not looked for (but those of a daemon's
    /// directory, such as `/run/containerd`, are).
    public var landlockSocketRefusal: String? {
        Self.landlockSocketRefusal(hostSockets: hostSockets, hiddenPaths: hidden.map(\.path))
    }

    static func landlockSocketRefusal(hostSockets: [HiddenHostSocket], hiddenPaths: [String]) -> String? {
        let daemonSockets = hostSockets.flatMap { socket in
            connectableSockets(at: socket.path).map { (socket.daemon, $0 == socket.path ? socket.description : "\(socket.daemon.rawValue) (\($0))") }
        }
        let reachable = daemonSockets.map(\.1) + hiddenPaths.filter { path in
            !hostSockets.contains { $0.path == path } && isSocket(path) && connectable(path)
        }.map { "the hidden path \($0)" }
        guard !reachable.isEmpty else { return nil }
        let daemons = HostSocket.allCases.filter { daemon in daemonSockets.contains { $0.0 == daemon } }
        let expose = daemons.isEmpty ? "" : ", or give the agent \(daemons.count == 1 ? "this socket" : "these sockets") knowingly with [sandbox] host_sockets = [\(daemons.map { "\"\($0.rawValue)\"" }.joined(separator: ", "))]"
        return "the landlock-only backend cannot hide a host daemon's socket (Landlock does not mediate connect() to a named UNIX socket), and the agent could connect to \(reachable.joined(separator: ", ")): refusing to run with it reachable; use the namespaces backend\(expose)"
    }

    /// `path` if it is a socket the agent could connect to, or the sockets beneath it that are
    /// (a daemon's runtime directory: a few levels, a few hundred entries at most).
    static func connectableSockets(at path: String, depth: Int = 4) -> [String] {
        var st = stat()
        guard lstat(path, &st) == 0 else { return [] }
        switch st.st_mode & S_IFMT {
        case S_IFSOCK:
            return connectable(path) ? [path] : []
        case S_IFDIR where depth > 0:
            return Landlock.directoryEntries(path).prefix(512).flatMap { connectableSockets(at: path + "/" + $0, depth: depth - 1) }
        default:
            return []
        }
    }

    static func isSocket(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && st.st_mode & S_IFMT == S_IFSOCK
    }

    /// Whether the agent could connect(2) to the socket at `path`: that takes search permission on
    /// every directory above it and write permission on the socket, and the Landlock-only agent
    /// keeps airlock's user and groups. It keeps no capability, though, and access(2) counts root's
    /// CAP_DAC_OVERRIDE: for root every socket is taken as connectable (the daemons' own are
    /// root's anyway).
    static func connectable(_ path: String) -> Bool {
        geteuid() == 0 || faccessat(AT_FDCWD, path, W_OK, AT_EACCESS) == 0
    }
}
