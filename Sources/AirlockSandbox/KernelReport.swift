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

    public static func probe(workspace: String) -> KernelReport {
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
        let verdict = namespaces.ok ? "namespaces + \(layers) + seccomp filter"
            : landlockOnly.ok ? "landlock-only filesystem view (ABI \(abi ?? 0)) + seccomp filter"
            : "refuses to run: no confinement available (only with --allow-unconfined)"
        return KernelReport(kernel: kernel, libseccomp: libseccompVersion, seccompUserNotification: notify,
                            landlock: landlock, landlockABI: abi, namespacesBackend: namespaces,
                            landlockBackend: landlockOnly, verdict: verdict)
    }

    /// Starts a real sandbox with `backend` running true(1).
    static func tryBackend(_ backend: Backend, workspace: String) -> Check {
        var request = SandboxRequest(profile: Profile(name: "doctor"), command: ["true"],
                                     environment: ["PATH": "/usr/bin:/bin", "HOME": "/nonexistent"],
                                     currentDirectory: workspace)
        request.backend = backend
        do {
            let status = try Sandbox.run(SandboxPlan(request), logger: Logger(label: "doctor") { _ in SwiftLogNoOpLogHandler() })
            return status == 0 ? Check(ok: true, detail: "a sandbox ran true(1)") : Check(ok: false, detail: "true(1) exited \(status)")
        } catch {
            return Check(ok: false, detail: error.message)
        }
    }
}
