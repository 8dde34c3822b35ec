import AirlockCloud
import AirlockNetwork
import AirlockPolicy
import AirlockSandbox
import Foundation
import Logging

/// What `--cloud-credentials` makes of the operator's cloud credentials, read outside the sandbox:
/// the broker that gives them to the requests the proxy lets through, the variables the agent gets
/// instead (placeholders, or with `pass` the real ones), the files the agent must not read, and
/// the Kubernetes contexts the proxy stands in for.
struct CredentialSetup {
    var broker = CredentialBroker()
    var variables: [String: String] = [:]
    /// Credential files named outside the profile's hidden directories (`AWS_SHARED_CREDENTIALS_FILE`,
    /// a kubeconfig in `KUBECONFIG`, the certificates and tokens it names…).
    var hidden: [String] = []
    /// The agent's kubeconfig, once the proxy's address is known; nil without Kubernetes contexts.
    var kubernetes: KubernetesBrokerSetup?
    /// What the operator is told (`report`), once the rest of the command line is known to be good:
    /// a run refused for bad input says one line.
    var messages: [(level: Logger.Level, text: String)] = []

    /// Operator's variables that name bearer tokens, by provider, in the order they are looked for.
    static let bearerVariables: [(provider: String, names: [String])] = [
        ("gcp", ["GOOGLE_OAUTH_ACCESS_TOKEN"]),
        ("azure", ["AZURE_ACCESS_TOKEN"]),
    ]

    init(_ choice: CloudCredentials, profile: Profile, environment env: [String: String], home: String) {
        func value(_ name: String) -> String? { env[name].flatMap { $0.isEmpty ? nil : $0 } }
        if choice == .pass {
            for name in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "KUBECONFIG"]
                + Self.bearerVariables.flatMap(\.names) {
                variables[name] = env[name]
            }
            return
        }
        // Files the operator's clients would read the credentials from, wherever they are.
        hidden = ["AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE", "GOOGLE_APPLICATION_CREDENTIALS"].compactMap(value)
        let kubeconfig: Kubeconfig?
        let brokering = choice == .broker && profile.network == .proxy
        do { kubeconfig = try Kubeconfig.load(environment: env, home: home) } catch {
            if brokering { messages.append((.warning, "\(error); the agent gets no Kubernetes credentials, real or placeholder")) }
            kubeconfig = nil
        }
        // The files kubectl would read, even one that cannot be parsed, and what they name.
        hidden += Kubeconfig.paths(environment: env, home: home) + (kubeconfig?.files ?? [])
        guard brokering else { return }
        broker.forwardAsSigned = Set(profile.forwardAsSigned)
        let placeholder = CredentialBroker.placeholderToken()

        if !profile.networkPolicy.inspect.isEmpty {
            let found: (credentials: AWSCredentials, region: String?, source: String)?
            do { found = try AWSCredentialSource.load(environment: env, home: home) } catch {
                // Without usable credentials the agent gets none at all: less access, never more.
                messages.append((.warning, "AWS credentials: \(error); the agent gets no AWS credentials, real or placeholder"))
                found = nil
            }
            if let found {
                let keys = AWSCredentialSource.placeholder()
                broker.aws = found.credentials
                broker.awsPlaceholderKeyID = keys.accessKeyID
                variables["AWS_ACCESS_KEY_ID"] = keys.accessKeyID
                variables["AWS_SECRET_ACCESS_KEY"] = keys.secretAccessKey
                if let region = found.region {
                    variables["AWS_REGION"] = env["AWS_REGION"] ?? region
                    variables["AWS_DEFAULT_REGION"] = env["AWS_DEFAULT_REGION"] ?? region
                }
                messages.append((.info, "AWS credentials from \(found.source) stay outside the sandbox; the agent holds placeholder keys (\(keys.accessKeyID)) and the proxy signs what it lets through"))
            }
            for (provider, names) in Self.bearerVariables {
                guard let name = names.first(where: { value($0) != nil }), let token = value(name) else { continue }
                broker.bearer[provider] = BearerToken(token: token, placeholder: placeholder, source: name)
                for name in names { variables[name] = placeholder }
                messages.append((.info, "the \(provider) token in \(name) stays outside the sandbox; the agent holds a placeholder, which the proxy replaces"))
            }
        }

        if var kubeconfig {
            // Exec plugins give their first token now, before anything starts, then refresh it
            // in the background; one that fails leaves its context out.
            kubeconfig.contexts = kubeconfig.contexts.filter { context in
                guard let plugin = context.user.exec else { return true }
                do {
                    plugin.refreshInBackground(firstExpiry: try plugin.fetch())
                    return true
                } catch {
                    kubeconfig.skipped.append("context \"\(context.name)\": \(error)")
                    return false
                }
            }
            for skipped in kubeconfig.skipped { messages.append((.warning, "kubeconfig: \(skipped): the agent does not get it")) }
            if !kubeconfig.contexts.isEmpty {
                let setup = KubernetesBrokerSetup(kubeconfig: kubeconfig, placeholder: placeholder)
                for (host, context) in zip(setup.hosts, kubeconfig.contexts) {
                    broker.kubernetes[host] = KubernetesUpstream(context: context, placeholder: placeholder)
                }
                kubernetes = setup
                messages.append((.info, "Kubernetes contexts \(kubeconfig.contexts.map(\.name).joined(separator: ", ")) from \(kubeconfig.sources.joined(separator: ":")) stay outside the sandbox; the agent's kubeconfig reaches them through the proxy with a placeholder token"))
            }
        }
    }

    func report(to logger: Logger) {
        for (level, text) in messages { logger.log(level: level, "\(text)") }
    }

    /// The network policy with the broker's Kubernetes names allowed and inspected.
    func policy(_ policy: NetworkPolicy) -> NetworkPolicy {
        guard let kubernetes else { return policy }
        var policy = policy
        for host in kubernetes.hosts {
            if let rule = try? HostRule(host) { policy.allow.append(rule) }
        }
        if let rule = try? HostRule(inspecting: "*." + AgentKubeconfig.domain) { policy.inspect.append(rule) }
        return policy
    }
}

/// The Kubernetes side of the broker: a name for each context, and the agent's kubeconfig, written
/// where the sandbox can read it once the proxy's address is known, and removed when the run ends.
struct KubernetesBrokerSetup {
    let kubeconfig: Kubeconfig
    let placeholder: String
    /// The name each context is reached by, in the order of `kubeconfig.contexts`.
    let hosts: [String]

    init(kubeconfig: Kubeconfig, placeholder: String) {
        self.kubeconfig = kubeconfig
        self.placeholder = placeholder
        hosts = AgentKubeconfig.hosts(for: kubeconfig.contexts)
    }

    /// The proxy's routes to the real servers. Throws on a cluster whose TLS material cannot be used.
    func routes() throws(SandboxError) -> [String: UpstreamRoute] {
        var routes: [String: UpstreamRoute] = [:]
        for (host, context) in zip(hosts, kubeconfig.contexts) {
            do { routes[host] = try UpstreamRoute(context) } catch {
                throw SandboxError("kubeconfig context \"\(context.name)\": its certificate authority or client certificate cannot be used for TLS: \(error)")
            }
        }
        return routes
    }

    /// Writes the agent's kubeconfig (readable by the sandbox, holding nothing secret) as `path`.
    func write(to path: String, proxyURL: String, caPEM: String) throws {
        let text = try AgentKubeconfig.text(contexts: Array(zip(kubeconfig.contexts, hosts)), current: kubeconfig.currentContext,
                                            proxyURL: proxyURL, caPEM: caPEM, placeholder: placeholder)
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let temporary = path + ".writing"
        guard FileManager.default.createFile(atPath: temporary, contents: Data(text.utf8), attributes: [.posixPermissions: 0o644]),
              rename(temporary, path) == 0 else {
            throw SandboxError("cannot write the agent's kubeconfig \(path)")
        }
    }
}
