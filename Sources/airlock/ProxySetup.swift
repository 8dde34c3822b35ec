import AirlockNetwork
import AirlockPolicy
import AirlockSandbox
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

    init(policy: NetworkPolicy, logPath: String?, logger: Logger) {
        self.policy = policy
        self.logPath = logPath
        self.logger = logger
    }

    /// Both spellings, as clients differ (curl reads only lowercase `http_proxy`); loopback is
    /// the sandbox's own. Node reads the variables from version 24 with NODE_USE_ENV_PROXY.
    @Sendable static func variables(host: String, port: Int) -> [String: String] {
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
        let proxy = EgressProxy(listeningSocket: listeningSocket, policy: policy, log: log, logger: logger)
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
