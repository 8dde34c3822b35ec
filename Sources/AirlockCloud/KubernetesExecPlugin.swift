import AirlockPolicy
import Foundation
import Synchronization

/// A kubeconfig user's `exec` credential plugin (`aws eks get-token`, `gke-gcloud-auth-plugin`,
/// `kubelogin`), run by airlock outside the sandbox, as the operator, the way kubectl runs it:
/// its stdout is an `ExecCredential` whose `status.token` (valid until `expirationTimestamp`) the
/// proxy presents upstream. The token is fetched before the sandbox starts and fetched again in
/// the background a minute before it expires, so no request waits for the plugin.
public final class KubernetesExecPlugin: Sendable {
    public let command: String
    public let arguments: [String]
    /// The plugin's own variables (the kubeconfig's `env`), added to the operator's environment.
    public let environment: [String: String]
    public let apiVersion: String
    /// The kubeconfig file that names it, for messages.
    public let source: String

    private struct Credential {
        var token: String
        var expires: Date?
    }

    private let state = Mutex<(credential: Credential?, error: String?)>((nil, nil))
    /// The environment airlock itself was started with, the plugin's base.
    private let operatorEnvironment: [String: String]
    /// How long before its expiry a token is replaced; a token without an expiry is replaced
    /// after `unexpiringLifetime`.
    static let margin: TimeInterval = 60
    static let unexpiringLifetime: TimeInterval = 15 * 60
    /// The longest a plugin may run (one that asks for input it cannot get fails rather than hangs).
    static let timeout: TimeInterval = 60

    public init(command: String, arguments: [String], environment: [String: String], apiVersion: String, source: String,
                operatorEnvironment: [String: String]) {
        self.command = command
        self.arguments = arguments
        self.environment = environment
        self.apiVersion = apiVersion
        self.source = source
        self.operatorEnvironment = operatorEnvironment
    }

    /// The plugin's current token: the one fetched last, or, when there is none usable (the
    /// background fetch failed), a refusal naming the plugin and its error.
    public func token(now: Date = Date()) throws(APIClassificationError) -> String {
        let (credential, error) = state.withLock { $0 }
        if let credential, credential.expires.map({ now < $0 }) ?? true { return credential.token }
        throw APIClassificationError("the kubeconfig's exec plugin \(command) (\(source)) gave no usable token: \(error ?? "its token expired")")
    }

    /// Runs the plugin now and keeps its token; throws with the plugin's error.
    @discardableResult
    public func fetch(now: Date = Date()) throws(KubeconfigError) -> Date? {
        do {
            let credential = try run(now: now)
            state.withLock { $0 = (credential, nil) }
            return credential.expires
        } catch {
            state.withLock { $0.error = error.message }
            throw error
        }
    }

    /// Fetches again a minute before each expiry, on a thread of its own, for as long as the
    /// process lives. A failed fetch is tried again every 30 s (the old token serves until it expires).
    public func refreshInBackground(firstExpiry: Date?) {
        let thread = Thread { [self] in
            var expiry = firstExpiry
            while true {
                let next = (expiry ?? Date().addingTimeInterval(Self.unexpiringLifetime)).addingTimeInterval(-Self.margin)
                Thread.sleep(until: max(next, Date().addingTimeInterval(1)))
                do { expiry = try fetch() } catch {
                    expiry = Date().addingTimeInterval(Self.margin + 30)
                }
            }
        }
        thread.name = "airlock kubernetes exec plugin"
        thread.start()
    }

    private func run(now: Date) throws(KubeconfigError) -> Credential {
        let what = "the kubeconfig's exec plugin \(command) (\(source))"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [command] + arguments
        var env = operatorEnvironment.merging(environment) { _, plugin in plugin }
        env["KUBERNETES_EXEC_INFO"] = #"{"apiVersion":"\#(apiVersion)","kind":"ExecCredential","spec":{"interactive":false}}"#
        process.environment = env
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch {
            throw KubeconfigError("\(what) could not start: \(error.localizedDescription)")
        }
        let killer = DispatchWorkItem { process.terminate() }
        DispatchQueue.global().asyncAfter(deadline: .now() + Self.timeout, execute: killer)
        let stdout = output.fileHandleForReading.readDataToEndOfFile()
        let stderr = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        killer.cancel()
        guard process.terminationReason == .exit, process.terminationStatus == 0 else {
            let said = String(decoding: stderr, as: UTF8.self).split(separator: "\n").last.map(String.init) ?? ""
            throw KubeconfigError("\(what) failed (status \(process.terminationStatus))\(said.isEmpty ? "" : ": " + said)")
        }
        guard let object = try? JSONSerialization.jsonObject(with: stdout) as? [String: Any],
              object["kind"] as? String == "ExecCredential", let status = object["status"] as? [String: Any] else {
            throw KubeconfigError("\(what) did not print an ExecCredential")
        }
        guard let token = status["token"] as? String, !token.isEmpty else {
            throw KubeconfigError("\(what) gave no token (a client certificate from a plugin is not supported)")
        }
        var expires: Date?
        if let text = status["expirationTimestamp"] as? String {
            let plain = ISO8601DateFormatter(), fractional = ISO8601DateFormatter()
            fractional.formatOptions.insert(.withFractionalSeconds)
            guard let date = plain.date(from: text) ?? fractional.date(from: text) else {
                throw KubeconfigError("\(what): expirationTimestamp \"\(text)\" is not an RFC 3339 time")
            }
            expires = date
        }
        // A token without an expiry is used for a while and then asked for again, as a rotated one may be.
        return Credential(token: token, expires: expires ?? now.addingTimeInterval(Self.unexpiringLifetime))
    }
}
