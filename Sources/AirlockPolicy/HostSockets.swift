/// A host daemon whose socket the agent may be given (`[sandbox] host_sockets`). By default none
/// is: each hands out more than the sandbox does. Docker's, containerd's and Podman's sockets run
/// containers as their owner (root, for the system daemons: a bind mount of `/` away from the
/// whole host); ssh-agent signs with the operator's keys; the session D-Bus and the user's service
/// manager start programs outside the sandbox (`systemd-run --user`).
public enum HostSocket: String, Sendable, CaseIterable {
    case docker
    case containerd
    case podman
    case sshAgent = "ssh-agent"
    case dbus

    /// The variables that tell clients where this daemon is. They go from the agent's environment
    /// with the socket (`DOCKER_HOST` and `CONTAINER_HOST` only when they name a UNIX socket: a
    /// `tcp://` or `ssh://` daemon is the network layer's business).
    public var variables: [String] {
        switch self {
        case .docker: ["DOCKER_HOST"]
        case .containerd: ["CONTAINERD_ADDRESS"]
        case .podman: ["CONTAINER_HOST"]
        case .sshAgent: ["SSH_AUTH_SOCK", "SSH_AGENT_PID"]
        case .dbus: ["DBUS_SESSION_BUS_ADDRESS"]
        }
    }

    /// The daemon whose variable `name=value` is, if it is one.
    public static func daemon(ofVariable name: String, value: String) -> HostSocket? {
        guard let daemon = allCases.first(where: { $0.variables.contains(name) }) else { return nil }
        switch daemon {
        case .docker, .podman: return value.hasPrefix("unix://") ? daemon : nil
        default: return daemon
        }
    }

    /// Where this daemon's socket may be, for an operator with `environment` and user id `uid`:
    /// the usual places, and what the variables name. Paths are absolute and not resolved; most
    /// will not exist. A location is the socket itself, except `/run/containerd`, the directory of
    /// containerd's sockets (its API, ttrpc and debug sockets and its shims'): nothing else lives
    /// there, so hiding it whole covers the sockets a new containerd adds.
    ///
    /// `$XDG_RUNTIME_DIR` (and `/run/user/UID`, where it is unset or elsewhere) is not hidden
    /// whole: it is where the operator's session keeps its runtime files, and what it holds
    /// beyond these sockets is for the profile to hide (`filesystem.hide`).
    public func locations(environment: [String: String], uid: UInt32) -> [HostSocketLocation] {
        let runtime = HostSocket.runtimeDirectories(environment: environment, uid: uid)
        func usual(_ paths: [String]) -> [HostSocketLocation] {
            paths.map { HostSocketLocation(daemon: self, path: $0, origin: "a usual place") }
        }
        func named(by variable: String, _ path: (String) -> [String]) -> [HostSocketLocation] {
            guard let value = environment[variable] else { return [] }
            return path(value).filter { $0.hasPrefix("/") }.map { HostSocketLocation(daemon: self, path: $0, origin: variable) }
        }
        switch self {
        case .docker:
            return usual(["/var/run/docker.sock", "/run/docker.sock"] + runtime.map { $0 + "/docker.sock" })
                + named(by: "DOCKER_HOST") { HostSocket.unixURLPath($0).map { [$0] } ?? [] }
        case .containerd:
            return usual(["/run/containerd"])
                + named(by: "CONTAINERD_ADDRESS") { [HostSocket.unixURLPath($0) ?? $0] }
        case .podman:
            return usual(["/run/podman/podman.sock"] + runtime.map { $0 + "/podman/podman.sock" })
                + named(by: "CONTAINER_HOST") { HostSocket.unixURLPath($0).map { [$0] } ?? [] }
        case .sshAgent:
            return named(by: "SSH_AUTH_SOCK") { [$0] }
        case .dbus:
            // The user's service manager answers on its private socket the calls the bus carries
            // to it (`systemctl --user` and `systemd-run --user` try that socket first).
            return usual(runtime.flatMap { [$0 + "/bus", $0 + "/systemd/private"] })
                + named(by: "DBUS_SESSION_BUS_ADDRESS") { HostSocket.dbusSocketPaths($0, runtime: runtime) }
        }
    }

    /// `$XDG_RUNTIME_DIR` when it is absolute, and `/run/user/UID`, the usual one, in any case.
    static func runtimeDirectories(environment: [String: String], uid: UInt32) -> [String] {
        var dirs: [String] = []
        if let dir = environment["XDG_RUNTIME_DIR"], dir.hasPrefix("/") { dirs.append(dir) }
        return dirs.appendingUnique(["/run/user/\(uid)"])
    }

    /// The path of a `unix://PATH` address (Docker's and Podman's spelling), or nil.
    static func unixURLPath(_ address: String) -> String? {
        guard address.hasPrefix("unix://") else { return nil }
        let path = String(address.dropFirst("unix://".count))
        return path.isEmpty ? nil : path
    }

    /// The files a D-Bus address list names: each `unix:path=` (percent-escapes decoded), and
    /// `unix:runtime=yes` (`$XDG_RUNTIME_DIR/bus`). `unix:abstract=` names no file (see
    /// docs/network.md for what keeps the agent from those), and `tmpdir=` and `dir=` are only for
    /// servers.
    static func dbusSocketPaths(_ addresses: String, runtime: [String]) -> [String] {
        var paths: [String] = []
        for address in addresses.split(separator: ";") {
            guard address.hasPrefix("unix:") else { continue }
            for pair in address.dropFirst("unix:".count).split(separator: ",") {
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard parts.count == 2 else { continue }
                if parts[0] == "path" {
                    paths.append(dbusUnescape(parts[1]))
                } else if parts[0] == "runtime" && parts[1] == "yes" {
                    paths += runtime.prefix(1).map { $0 + "/bus" }
                }
            }
        }
        return paths
    }

    /// D-Bus address values escape bytes as `%XX`; anything else stands for itself.
    static func dbusUnescape(_ value: Substring) -> String {
        var bytes: [UInt8] = []
        var utf8 = Array(value.utf8)[...]
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "%"), utf8.count >= 2,
               let high = hexValue(utf8[utf8.startIndex]), let low = hexValue(utf8[utf8.startIndex + 1]) {
                bytes.append(high << 4 | low)
                utf8 = utf8.dropFirst(2)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

/// A place where a host daemon's socket may be.
public struct HostSocketLocation: Sendable, Equatable {
    public var daemon: HostSocket
    /// Absolute, as written: the socket, or the directory of the daemon's sockets.
    public var path: String
    /// What named it: `a usual place`, or the variable (`SSH_AUTH_SOCK`).
    public var origin: String

    public init(daemon: HostSocket, path: String, origin: String) {
        self.daemon = daemon
        self.path = path
        self.origin = origin
    }
}
