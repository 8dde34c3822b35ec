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

    /// Makes or loads the inspection CA and writes the sandbox's CA bundle; throws (before
    /// anything starts) on a CA that cannot be made or an `upstream_ca` that cannot be read.
    init(profile: Profile, environment env: [String: String], cloudCredentials: CloudCredentials, logPath: String?,
         logger: Logger) throws(SandboxError) {
        self.policy = profile.networkPolicy
        self.logPath = logPath
        self.logger = logger
        self.rules = APIRuleMatcher(profile: profile)
        let home = env["HOME"] ?? "/"
        var broker = CredentialBroker()
        var variables: [String: String] = [:]
        switch cloudCredentials {
        case .none:
            break
        case .pass:
            for name in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"] { variables[name] = env[name] }
        case .broker:
            guard profile.network == .proxy, !policy.inspect.isEmpty else { break }
            let found: (credentials: AWSCredentials, region: String?, source: String)?
            do { found = try AWSCredentialSource.load(environment: env, home: home) } catch {
                // Without usable credentials the agent gets none at all: less access, never more.
                logger.warning("AWS credentials: \(error); the agent gets no AWS credentials, real or placeholder")
                found = nil
            }
            if let found {
                let placeholder = AWSCredentialSource.placeholder()
                broker = CredentialBroker(aws: found.credentials, awsPlaceholderKeyID: placeholder.accessKeyID)
                variables["AWS_ACCESS_KEY_ID"] = placeholder.accessKeyID
                variables["AWS_SECRET_ACCESS_KEY"] = placeholder.secretAccessKey
                if let region = found.region {
                    variables["AWS_REGION"] = env["AWS_REGION"] ?? region
                    variables["AWS_DEFAULT_REGION"] = env["AWS_DEFAULT_REGION"] ?? region
                }
                logger.info("AWS credentials from \(found.source) stay outside the sandbox; the agent holds placeholder keys (\(placeholder.accessKeyID)) and the proxy signs what it lets through")
            }
        }
        self.broker = broker
        self.credentialVariables = variables
        guard profile.network == .proxy, !policy.inspect.isEmpty else {
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
    }

    /// Airlock's own files the agent must not see: the CA and its key.
    var hidden: [String] { inspection.map { [$0.ca.directory] } ?? [] }

    /// What the sandbox's environment gets in proxy mode: the proxy, and the CA bundle under every
    /// name clients read one by.
    var variables: @Sendable (String, Int) -> [String: String] {
        let bundlePath = self.bundlePath
        return { host, port in
            var variables = Self.proxyVariables(host: host, port: port)
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
        let api = inspection.map { _ in APIGate(classifier: APIClassifier(), rules: rules, broker: broker, signOff: signOff) }
        let proxy = EgressProxy(listeningSocket: listeningSocket, policy: policy, log: log, logger: logger,
                                inspection: inspection, signOff: signOff, api: api)
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
    }
}

/// `--cloud-credentials`: what the agent holds of the operator's cloud credentials.
enum CloudCredentials: String, CaseIterable, ExpressibleByArgument {
    /// Placeholders; the proxy signs each request it lets through with the real ones.
    case broker
    /// The operator's own AWS keys, in the agent's environment; requests go upstream as the agent signed them.
    case pass
    /// None at all.
    case none
}
