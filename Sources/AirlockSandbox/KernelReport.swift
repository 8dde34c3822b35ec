import AirlockPolicy
import CAirlockShim
import Glibc
import Logging
import SystemPackage

/// What this kernel and environment allow, found by trying each thing for real: `airlock doctor`.
public struct KernelReport: Codable, Sendable {
    public struct Check: Codable, Sendable {
        public var ok: Bool
        public var detail: String
    }
    public var kernel: String
    public var libseccomp: String
    public var seccompUserNotification: Check
    public var landlock: Check
    public var landlockABI: Int?
    public var namespacesBackend: Check
    public var landlockBackend: Check
    /// What `airlock run` with the default profile (backend auto) will use.
    public var verdict: String
    /// `network = "proxy"` on each backend, tried for real: a sandbox started and handed over the
    /// proxy's listening socket. The Landlock-only check's detail says what that backend cannot close.
    public var proxyModeNamespaces: Check
    public var proxyModeLandlock: Check
    /// What `network = "proxy"` (backend auto) will use.
    public var proxyModeVerdict: String
    /// Host daemons' sockets (`host_sockets`) found for an operator with this environment, and
    /// what each backend does with them; not ok when `airlock run` would refuse to run here.
    public var hostSockets: Check

    /// `environment`: the operator's, where the variables naming daemons' sockets are found.
    public static func probe(workspace: String, environment: [String: String] = [:]) -> KernelReport {
        var name = utsname()
        uname(&name)
        let kernel = withUnsafeBytes(of: name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }

        let notify: Check
        do {
            let filter = try SeccompFilter.userNotificationProbe()
            let rc = filter.program.withUnsafeBytes {
                airlock_probe_user_notification(OpaquePointer($0.baseAddress), UInt16(filter.program.count))
            }
            switch rc {
            case 0: notify = Check(ok: true, detail: "a filter with a notify listener was installed in a child and answered")
            case -EBUSY: notify = Check(ok: false, detail: "a notify listener already exists in this process tree (EBUSY): airlock is running inside another supervisor's filter, so it cannot add its own")
            case -EPERM: notify = Check(ok: false, detail: "a seccomp filter over this process forbids a new notify listener (EPERM): airlock is running inside a sandbox, so it cannot supervise one of its own")
            default: notify = Check(ok: false, detail: "\(Errno(-rc))")
            }
        } catch {
            notify = Check(ok: false, detail: error.message)
        }

        let abi = try? Landlock.abi().get()
        let landlock = switch Landlock.abi() {
        case .success(let v): Check(ok: true, detail: "ABI \(v)")
        case .failure(let e): Check(ok: false, detail: e == .notSupported ? "disabled at boot (EOPNOTSUPP)" : "\(e)")
        }

        let namespaces = tryBackend(.namespaces, workspace: workspace)
        let landlockOnly = tryBackend(.landlock, workspace: workspace)
        let layers = abi.map { "landlock ABI \($0)" } ?? "no landlock"
        let sockets = SandboxPlan.hiddenHostSockets(exposed: [], environment: environment, uid: getuid())
        let socketRefusal = SandboxPlan.landlockSocketRefusal(hostSockets: sockets, hiddenPaths: [])
        let hostSockets = hostSocketsCheck(sockets, refusal: socketRefusal, abi: abi, namespaces: namespaces.ok)
        let verdict = namespaces.ok ? "namespaces + \(layers) + seccomp filter"
            : landlockOnly.ok ? socketRefusal.map { _ in "refuses to run: the landlock-only backend cannot hide the host daemons' sockets found here (see host daemons' sockets; host_sockets exposes them knowingly)" }
                ?? "landlock-only filesystem view (ABI \(abi ?? 0)) + seccomp filter"
            : "refuses to run: no confinement available (only with --allow-unconfined)"
        var proxyNamespaces = tryBackend(.namespaces, workspace: workspace, network: .proxy)
        if proxyNamespaces.ok {
            proxyNamespaces.detail = "a new network namespace holding only loopback; the proxy listens inside at 127.0.0.1:\(SandboxPlan.defaultProxyPort) (\(proxyNamespaces.detail))"
        }
        var proxyLandlock: Check
        if let refusal = Sandbox.proxyModeRefusal(landlockABI: abi) {
            proxyLandlock = Check(ok: false, detail: "closes nothing: \(refusal)")
        } else {
            proxyLandlock = tryBackend(.landlock, workspace: workspace, network: .proxy)
            if proxyLandlock.ok {
                proxyLandlock.detail = "Landlock TCP rules (ABI \(abi ?? 0)): connect to the proxy's port only, no bind (\(proxyLandlock.detail)). Not closed: TCP is confined by port alone (any host's port of that number, though the proxy's is on the host's 127.0.0.1 and picked at random); named UNIX sockets are not covered by the TCP rules (a host daemon's: see host daemons' sockets)\((abi ?? 0) >= 6 ? "" : ", nor abstract UNIX sockets (scoped only from Landlock ABI 6)")"
            }
        }
        let proxyVerdict = namespaces.ok && proxyNamespaces.ok ? "a network namespace holding only loopback + the seccomp socket filter"
            : landlockOnly.ok && proxyLandlock.ok ? "Landlock TCP rules (ABI \(abi ?? 0)) + the seccomp socket filter"
            : "refuses to run: neither a network namespace nor Landlock's TCP rules are available"
        return KernelReport(kernel: kernel, libseccomp: libseccompVersion, seccompUserNotification: notify,
                            landlock: landlock, landlockABI: abi, namespacesBackend: namespaces,
                            landlockBackend: landlockOnly, verdict: verdict, proxyModeNamespaces: proxyNamespaces,
                            proxyModeLandlock: proxyLandlock, proxyModeVerdict: proxyVerdict, hostSockets: hostSockets)
    }

    /// What becomes of the host daemons' sockets `found` here, said plainly for each backend.
    static func hostSocketsCheck(_ found: [HiddenHostSocket], refusal: String?, abi: Int?, namespaces: Bool) -> Check {
        let names = HostSocket.allCases.map(\.rawValue).joined(separator: ", ")
        var detail = found.isEmpty ? "none of \(names) found (usual places and variables)"
            : "found: " + found.map(\.description).joined(separator: ", ")
        detail += "; the namespaces backend hides them unless the profile's host_sockets names them"
        detail += "; the landlock-only backend cannot hide a named UNIX socket (Landlock\(abi.map { " ABI \($0)" } ?? "") does not mediate connect() to one) and refuses to run while one it should hide is connectable"
        detail += refusal == nil ? "" : " (as here)"
        detail += ", but sockets it does not know of, or inside a hidden directory, stay connectable there"
        detail += (abi ?? 0) >= 6
            ? "; abstract UNIX sockets (a D-Bus at unix:abstract=) are closed by Landlock's scoping (ABI 6) on both backends"
            : "; abstract UNIX sockets (a D-Bus at unix:abstract=) are closed on this kernel only by the namespaces backend's network namespace, in proxy and none modes (Landlock scopes them from ABI 6)"
        return Check(ok: refusal == nil || namespaces, detail: detail)
    }

    /// Starts a real sandbox with `backend` running true(1). In proxy mode the proxy's socket must
    /// arrive listening, on 127.0.0.1, before the agent ends.
    static func tryBackend(_ backend: Backend, workspace: String, network: NetworkMode = .open) -> Check {
        var profile = Profile(name: "doctor")
        profile.network = network
        // What the kernel allows, whatever daemons run here (reported apart, as `hostSockets`).
        profile.hostSockets = HostSocket.allCases
        var request = SandboxRequest(profile: profile, command: ["true"],
                                     environment: ["PATH": "/usr/bin:/bin", "HOME": "/nonexistent"],
                                     currentDirectory: workspace)
        request.backend = backend
        var received: String?
        let proxy: Sandbox.Proxy = { fd, port in
            received = listeningOnLoopback(fd, port: port)
            close(fd)
        }
        do {
            let status = try Sandbox.run(SandboxPlan(request), logger: Logger(label: "doctor") { _ in SwiftLogNoOpLogHandler() },
                                         proxy: network == .proxy ? proxy : nil)
            guard status == 0 else { return Check(ok: false, detail: "true(1) exited \(status)") }
            guard network == .proxy else { return Check(ok: true, detail: "a sandbox ran true(1)") }
            guard let received else { return Check(ok: false, detail: "the sandbox ran without handing over the proxy's socket") }
            return received.isEmpty ? Check(ok: true, detail: "a sandbox ran true(1) and handed over the proxy's listening socket")
                : Check(ok: false, detail: received)
        } catch {
            return Check(ok: false, detail: error.message)
        }
    }

    /// "" when `fd` is a TCP socket listening on 127.0.0.1:`port`, else what it is not.
    static func listeningOnLoopback(_ fd: Int32, port: Int) -> String {
        var listening: Int32 = 0
        var size = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &size) == 0, listening == 1 else {
            return "the proxy's socket is not listening"
        }
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0, address.sin_family == sa_family_t(AF_INET),
              UInt32(bigEndian: address.sin_addr.s_addr) == 0x7f00_0001, Int(UInt16(bigEndian: address.sin_port)) == port else {
            return "the proxy's socket is not on 127.0.0.1:\(port)"
        }
        return ""
    }
}
