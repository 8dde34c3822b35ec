import AirlockPolicy
import Foundation
import Testing
@testable import AirlockSandbox
#if canImport(Glibc)
import Glibc
#endif

/// Network modes: in proxy mode the agent's only way out is the proxy's socket.
@Suite struct NetworkModeTests {
    /// Sockets proxy mode refuses: UDP (QUIC, DNS tunnels), raw, SCTP and MPTCP (which Landlock's
    /// TCP rules do not see), other protocols on a stream, netlink and packet.
    static let refusedInProxyMode = [
        "socket-of inet dgram", "socket-of inet6 dgram", "socket-of inet dgram+nonblock", "socket-of inet dgram 17",
        "socket-of inet raw 1", "socket-of inet6 raw 58", "socket-of inet stream 132", "socket-of inet seqpacket 132",
        "socket-of inet stream 262", "socket-of inet6 stream 262", "socket-of inet stream 17",
        "socket-of netlink raw 0", "socket-of netlink dgram 0", "socket-of packet raw 0", "socket-of packet dgram 0",
    ]
    /// Sockets proxy mode keeps: plain TCP (to reach the proxy) and local ones.
    static let keptInProxyMode = [
        "socket-of inet stream", "socket-of inet6 stream", "socket-of inet stream+nonblock", "socket-of inet stream 6",
        "socket-of inet6 stream 6", "socket-of unix stream", "socket-of unix dgram", "socket-of unix seqpacket",
    ]

    /// Runs probe checks bare, as this user, under `filter` alone (no sandbox): the filter's own verdicts.
    func underFilter(_ filter: SeccompFilter, _ checks: [String]) throws -> ProbeRun {
        let scratch = try makeTemporaryDirectory(prefix: "airlock-e2e-filter-")
        defer { removeTree(scratch) }
        let file = scratch + "/filter.bpf"
        let bytes = filter.program.withUnsafeBytes { Data($0) }
        try bytes.write(to: URL(fileURLWithPath: file))
        let process = try Subprocess([try Binaries.probe(), "with-filter", file, "each"] + checks,
                                     environment: ["PATH": "/usr/bin:/bin"], directory: scratch)
        return ProbeRun(checks: checks, outcome: process.wait(timeout: 30))
    }

    @Test("Proxy mode's filter refuses UDP, raw, SCTP, MPTCP, netlink and packet sockets with EPERM, and keeps TCP and UNIX sockets",
          arguments: [DenyAction.errno, .kill])
    func proxyModeFilter(denyAction: DenyAction) throws {
        let filter = try SeccompFilter(denyAction: denyAction, network: .proxy)
        let checks = Self.refusedInProxyMode + Self.keptInProxyMode + ["socket-inet-highbits"]
        let run = try underFilter(filter, checks)
        #expect(run.complete, "\(run)")
        for check in Self.refusedInProxyMode {
            // EPERM even when the profile kills: a resolver trying UDP is no attack in this mode.
            #expect(run[check].isErrno(EPERM), "\(check) → \(run[check]), expected EPERM\n\(run)")
        }
        for check in Self.keptInProxyMode + ["socket-inet-highbits"] {
            #expect(run[check].isOK, "\(check) → \(run[check])\n\(run)")
        }
    }

    @Test("The sockets proxy mode refuses can be made unconfined as root, so their refusal means something",
          .enabled(if: geteuid() == 0))
    func refusedSocketsWorkBare() throws {
        let process = try Subprocess([try Binaries.probe(), "each"] + Self.refusedInProxyMode,
                                     environment: ["PATH": "/usr/bin:/bin"], directory: "/")
        let run = ProbeRun(checks: Self.refusedInProxyMode, outcome: process.wait(timeout: 30))
        #expect(run.complete, "\(run)")
        // SCTP needs its module, and UDP or SCTP on a stream is no protocol at all: the kernel's
        // own answer there is never EPERM, so the filter's EPERM is still its own.
        let kernelMayRefuse = ["socket-of inet stream 132", "socket-of inet seqpacket 132", "socket-of inet stream 17",
                               "socket-of inet stream 262", "socket-of inet6 stream 262"]
        for check in Self.refusedInProxyMode {
            if kernelMayRefuse.contains(check) {
                #expect(!run[check].isErrno(EPERM), "bare \(check) → \(run[check])\n\(run)")
            } else {
                #expect(run[check].isOK, "bare \(check) → \(run[check])\n\(run)")
            }
        }
    }

    @Test("The none and open modes' filters are unchanged: none refuses every IP and packet socket, open none")
    func noneAndOpenFilters() throws {
        let checks = ["socket-of inet stream", "socket-of inet6 stream", "socket-of inet dgram", "socket-of packet raw 0",
                      "socket-of unix stream"]
        let none = try underFilter(try SeccompFilter(denyAction: .errno, network: .none), checks)
        for check in checks.dropLast() { #expect(none[check].isErrno(EPERM), "\(check) → \(none[check])\n\(none)") }
        #expect(none["socket-of unix stream"].isOK, "\(none)")
        let open = try underFilter(try SeccompFilter(denyAction: .errno, network: .open), checks)
        for check in checks where check != "socket-of packet raw 0" || geteuid() == 0 {
            #expect(open[check].isOK, "\(check) → \(open[check])\n\(open)")
        }
    }

    @Test("Without Landlock's TCP rules (ABI < 4) proxy mode has no backend but namespaces, and says why",
          arguments: [nil, 1, 3])
    func proxyModeNeedsLandlockTCP(abi: Int?) {
        let refusal = Sandbox.proxyModeRefusal(landlockABI: abi)
        #expect(refusal?.contains("refusing to run with a direct route out") == true)
        #expect(abi == nil || refusal?.contains("cannot confine TCP") == true, "\(refusal ?? "")")
        #expect(Sandbox.proxyModeRefusal(landlockABI: 4) == nil)
    }

    @Test("Landlock handles TCP in none mode, and in proxy mode only where there is no network namespace")
    func landlockNetworkRights() {
        #expect(Landlock.handledNet(abi: 4, network: .none, confinement: .landlock) == 0b11)
        #expect(Landlock.handledNet(abi: 4, network: .proxy, confinement: .landlock) == 0b11)
        #expect(Landlock.handledNet(abi: 7, network: .proxy, confinement: .namespaces) == 0)
        #expect(Landlock.handledNet(abi: 7, network: .open, confinement: .landlock) == 0)
        #expect(Landlock.handledNet(abi: 3, network: .none, confinement: .landlock) == 0)
    }

    // MARK: - Real sandboxes

    /// A profile file in `f` that extends the default one with `network = "proxy"`.
    static func proxyProfile(_ f: Fixture) throws -> String {
        let profile = f.root + "/proxy.toml"
        try f.write(profile, "extends = \"default\"\n[sandbox]\nnetwork = \"proxy\"\n")
        return profile
    }

    @Test("doctor starts a proxy-mode sandbox on each backend and gets the proxy's listening socket",
          arguments: SandboxConfig.namespaces)
    func doctorTriesProxyMode(config: SandboxConfig) throws {
        let f = try Fixture(config)
        let outcome = try airlock(["doctor", "--json"], env: f.environment(), cwd: f.workspace, user: config.user, timeout: 60)
        let report = try JSONSerialization.jsonObject(with: Data(outcome.stdout.utf8)) as? [String: Any]
        let namespaces = report?["proxyModeNamespaces"] as? [String: Any]
        let landlock = report?["proxyModeLandlock"] as? [String: Any]
        #expect(namespaces?["ok"] as? Bool == true, "\(outcome)")
        let abi = report?["landlockABI"] as? Int ?? 0
        #expect(landlock?["ok"] as? Bool == (abi >= 4), "\(outcome)")
        if abi >= 4 {
            let detail = landlock?["detail"] as? String ?? ""
            #expect(detail.contains("confined by port alone") && detail.contains("named UNIX sockets"), "\(detail)")
        }
        #expect((report?["proxyModeVerdict"] as? String)?.contains("network namespace") == true, "\(outcome)")
    }

    @Test("In proxy mode the agent reaches the proxy and nothing else: no direct TCP, no UDP, raw, netlink or packet sockets",
          arguments: SandboxConfig.all)
    func onlyTheProxy(config: SandboxConfig) throws {
        let f = try Fixture(config)
        let server = try LoopbackServer()
        let direct = ["connect-tcp 127.0.0.1 \(server.port)", "connect-tcp ::1 \(server.port)", "connect-tcp 1.1.1.1 443"]
        let checks = ["connect-proxy"] + direct + ["bind-tcp 127.0.0.1 0"] + Self.refusedInProxyMode
            + ["socket-of inet stream", "socket-of unix stream"]
        // The server answers outside the sandbox, so its refusal inside is the sandbox's.
        let bare = try f.bare(["connect-tcp 127.0.0.1 \(server.port)"])
        #expect(bare["connect-tcp 127.0.0.1 \(server.port)"].isOK, "\(bare)")

        let run = try f.probe(checks, options: ["--profile", try Self.proxyProfile(f)])
        #expect(run.complete, "\(run)")
        #expect(run["connect-proxy"].isOK, "\(run)")
        for check in direct {
            let expected: [Int32] = config.backend == .namespaces ? [ECONNREFUSED, ENETUNREACH, EADDRNOTAVAIL] : [EACCES]
            #expect(expected.contains { run[check].isErrno($0) }, "\(check) → \(run[check])\n\(run)")
        }
        // Namespaces: a server of the agent's own on its loopback harms no one. Landlock-only: the
        // host's loopback is shared, so no bind at all.
        #expect(config.backend == .namespaces ? run["bind-tcp 127.0.0.1 0"].isOK : run["bind-tcp 127.0.0.1 0"].isErrno(EACCES),
                "\(run)")
        for check in Self.refusedInProxyMode {
            #expect(run[check].isErrno(EPERM), "\(check) → \(run[check])\n\(run)")
        }
        #expect(run["socket-of inet stream"].isOK && run["socket-of unix stream"].isOK, "\(run)")
    }
}

/// A TCP server on the host's loopback (127.0.0.1 and ::1, one port) that nobody accepts on: a
/// connection to it succeeds unconfined, through the kernel's backlog.
final class LoopbackServer {
    let port: Int
    private var fds: [Int32] = []

    init() throws {
        let v4 = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var a4 = sockaddr_in()
        a4.sin_family = sa_family_t(AF_INET)
        a4.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &a4) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(v4, $0, length) == 0 && listen(v4, 16) == 0 && getsockname(v4, $0, &length) == 0 }
        }
        guard v4 >= 0, bound else { throw HarnessError("loopback server: \(String(cString: strerror(errno)))") }
        fds.append(v4)
        port = Int(UInt16(bigEndian: a4.sin_port))
        let v6 = socket(AF_INET6, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var a6 = sockaddr_in6()
        a6.sin6_family = sa_family_t(AF_INET6)
        a6.sin6_port = UInt16(port).bigEndian
        a6.sin6_addr = in6addr_loopback
        let bound6 = withUnsafePointer(to: &a6) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(v6, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) == 0 && listen(v6, 16) == 0 }
        }
        if v6 >= 0 { fds.append(v6) }
        _ = bound6
    }

    deinit { fds.forEach { close($0) } }
}
