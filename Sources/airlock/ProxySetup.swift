import AirlockCloud
import AirlockNetwork
import AirlockPolicy
import AirlockSandbox
import AirlockSupervisor
import ArgumentParser
import Foundation
import Logging

/// Proxy mode for `airlock run`: the variables that send the agent's clients to the proxy, and the
/// proxy itself, started on the listening socket the sandbox hands over and stopped once the
/// sandbox has ended. If the proxy cannot start, the agent has no network at all: never a direct
/// route.
final class ProxySetup: @unchecked Sendable {
    let policy: NetworkPolicy
    let logPath: String?
    let logger: Logger
    private var proxy: EgressProxy?
    /// Where connections the policy holds wait for approval (the supervisor's desk); nil when the
    /// policy holds nothing.
    var signOff: ProxySignOff?
    /// TLS inspection, when the policy inspects any host: the CA (made on first use in Airlock's
    /// state directory), and the bundle of roots the sandbox's clients are pointed at.
    let inspection: InspectionTLS?
    let bundlePath: String?
    /// The `[[api]]` rules and the operator's credentials, for the requests read in clear.
    let rules: APIRuleMatcher
    let broker: CredentialBroker
    /// Variables the agent gets for the cloud's credentials: placeholders, or the operator's own
    /// with `--cloud-credentials pass`.
    let credentialVariables: [String: String]
    private let credentials: CredentialSetup
    /// Files holding the operator's credentials outside the profile's hidden paths.
    let credentialFiles: [String]
    /// The Kubernetes contexts the proxy stands in for, and where the agent's kubeconfig is written.
    let kubernetes: KubernetesBrokerSetup?
    let kubeconfigPath: String
    /// Where the proxy sends the agent's Kubernetes names: each context's API server.
    let routes: [String: UpstreamRoute]

    /// Makes or loads the inspection CA and writes the sandbox's CA bundle; throws (before
    /// anything starts) on a CA that cannot be made or an `upstream_ca` that cannot be read.
    init(profile: Profile, environment env: [String: String], cloudCredentials: CloudCredentials, logPath: String?,
         logger: Logger) throws(SandboxError) {
        self.logPath = logPath
        self.logger = logger
        self.rules = APIRuleMatcher(profile: profile)
        let home = env["HOME"] ?? "/"
        let credentials = CredentialSetup(cloudCredentials, profile: profile, environment: env, home: home)
        self.credentials = credentials
        self.broker = credentials.broker
        self.credentialVariables = credentials.variables
        self.credentialFiles = credentials.hidden
        self.kubernetes = credentials.kubernetes
        self.policy = credentials.policy(profile.networkPolicy)
        kubeconfigPath = QueuePaths.cacheDirectory(env) + "/kubeconfig-\(getpid()).yaml"
        guard profile.network == .proxy, !policy.inspect.isEmpty else {
            routes = [:]
            inspection = nil
            bundlePath = nil
            return
        }
        let upstreamCA = profile.upstreamCA.map { expandPath($0, home: home, relativeTo: "/") }
        do {
            let ca = try InspectionCA.loadOrCreate(domains: policy.inspectedDomains, stateDirectory: QueuePaths.stateDirectory(env))
            let inspection = try InspectionTLS(ca: ca, upstreamCA: upstreamCA)
            self.inspection = inspection
            bundlePath = try inspection.writeBundle(upstreamCA: upstreamCA, in: QueuePaths.cacheDirectory(env))
        } catch let error as InspectionCAError {
            throw SandboxError("TLS inspection: \(error)")
        } catch {
            throw SandboxError("TLS inspection: \(error)")
        }
        routes = try kubernetes?.routes() ?? [:]
    }

    /// Tells the operator where the cloud credentials came from and what the agent does not get:
    /// called once the sandbox's plan is made (bad input says one line, nothing more).
    func reportCredentials() {
        credentials.report(to: logger)
    }

    /// Files the agent must not see: Airlock's CA and its key, and the operator's credentials
    /// wherever their variables put them.
    var hidden: [String] { (inspection.map { [$0.ca.directory] } ?? []) + credentialFiles }

    /// What the sandbox's environment gets in proxy mode: the proxy, and the CA bundle under every
    /// name clients read one by.
    /// With Kubernetes contexts to stand in for, it writes the agent's kubeconfig (which names
    /// the proxy) and points `KUBECONFIG` at it.
    var variables: @Sendable (String, Int) -> [String: String] {
        let bundlePath = self.bundlePath
        let kubernetes = self.kubernetes, kubeconfigPath = self.kubeconfigPath, caPEM = inspection?.ca.certificatePEM
        let logger = self.logger
        return { host, port in
            var variables = Self.proxyVariables(host: host, port: port)
            if let kubernetes, let caPEM {
                do {
                    try kubernetes.write(to: kubeconfigPath, proxyURL: "http://\(host):\(port)", caPEM: caPEM)
                    variables["KUBECONFIG"] = kubeconfigPath
                } catch {
                    logger.warning("\(error): the agent gets no Kubernetes contexts")
                }
            }
            if let bundlePath {
                // OpenSSL's default, curl, requests, botocore, git, pip, Node, gcloud and Google's
                // Python and gRPC libraries.
                for name in ["SSL_CERT_FILE", "CURL_CA_BUNDLE", "REQUESTS_CA_BUNDLE", "AWS_CA_BUNDLE", "GIT_SSL_CAINFO",
                             "PIP_CERT", "NODE_EXTRA_CA_CERTS", "CLOUDSDK_CORE_CUSTOM_CA_CERTS_FILE", "HTTPLIB2_CA_CERTS",
                             "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH"] {
                    variables[name] = bundlePath
                }
            }
            return variables
        }
    }

    /// Both spellings, as clients differ (curl reads only lowercase `http_proxy`); loopback is
    /// the sandbox's own. Node reads the variables from version 24 with NODE_USE_ENV_PROXY.
    static func proxyVariables(host: String, port: Int) -> [String: String] {
        let url = "http://\(host):\(port)"
        var variables = ["NODE_USE_ENV_PROXY": "1"]
        for name in ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"] {
            variables[name] = url
            variables[name.lowercased()] = url
        }
        variables["NO_PROXY"] = "localhost,127.0.0.1,::1"
        variables["no_proxy"] = variables["NO_PROXY"]
        return variables
    }

    /// Called by the sandbox with the proxy's listening socket (owned from here on).
    func serve(_ listeningSocket: Int32, _ port: Int) {
        var log: NetworkLog?
        if let logPath {
            do { log = try NetworkLog(path: logPath) } catch {
                logger.warning("network log \(logPath): \(error); connections are not logged")
            }
        }
        let clusters = Dictionary(uniqueKeysWithValues: broker.kubernetes.map { ($0.key, $0.value.context.name) })
        let api = inspection.map { _ in
            APIGate(classifier: APIClassifier(kubernetesHosts: clusters), rules: rules, broker: broker, signOff: signOff)
        }
        let proxy = EgressProxy(listeningSocket: listeningSocket, policy: policy, log: log, logger: logger,
                                inspection: inspection, signOff: signOff, api: api, routes: routes)
        do {
            try proxy.start()
            self.proxy = proxy
        } catch {
            printError("the proxy could not start (\(error)): the agent has no network")
            proxy.stop()
        }
    }

    func stop() {
        proxy?.stop()
        if kubernetes != nil { unlink(kubeconfigPath) }
    }
}

/// `--cloud-credentials`: what the agent holds of the operator's cloud credentials.
enum CloudCredentials: String, CaseIterable, ExpressibleByArgument {
    /// Placeholders; the proxy signs each request it lets through with the real ones.
    case broker
    /// The operator's own keys and tokens (AWS, `KUBECONFIG`, Google Cloud and Azure tokens), in the
    /// agent's environment; requests go upstream as the agent signed them.
    case pass
    /// None at all.
    case none
}
