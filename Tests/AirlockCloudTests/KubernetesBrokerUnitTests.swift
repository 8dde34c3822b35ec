@testable import AirlockCloud
import AirlockPolicy
import Foundation
import Testing

/// The operator's kubeconfig as the broker reads it, the agent's kubeconfig it writes, and the
/// credentials it swaps on the way upstream (Kubernetes, Google Cloud, Azure).
@Suite struct KubernetesBrokerUnitTests {
    /// A directory of its own holding kubeconfig files.
    final class Directory {
        let path: String

        init(_ files: [String: String]) throws {
            path = FileManager.default.temporaryDirectory.appendingPathComponent("airlock-kube-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: path + "/.kube", withIntermediateDirectories: true)
            for (name, text) in files { try text.write(toFile: path + "/" + name, atomically: true, encoding: .utf8) }
        }

        deinit { try? FileManager.default.removeItem(atPath: path) }

        func load(_ environment: [String: String] = [:]) throws -> Kubeconfig? {
            try Kubeconfig.load(environment: environment, home: path)
        }
    }

    static let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

    @Test func readsTokensFilesAndDataRelativeToTheirFile() throws {
        let dir = try Directory([
            ".kube/config": """
                apiVersion: v1
                clusters:
                - name: c
                  cluster: {server: "https://10.0.0.1:6443", certificate-authority: ca.pem, tls-server-name: api.internal}
                - name: v6
                  cluster: {server: "https://[fd00::1]", certificate-authority-data: \(Data(Self.pem.utf8).base64EncodedString())}
                users:
                - {name: t, user: {token: abc}}
                - {name: f, user: {tokenFile: tok}}
                - {name: b, user: {username: u, password: p}}
                contexts:
                - {name: one, context: {cluster: c, user: t, namespace: team}}
                - {name: two, context: {cluster: c, user: f}}
                - {name: three, context: {cluster: v6, user: b}}
                current-context: two
                """,
            ".kube/ca.pem": Self.pem,
            ".kube/tok": "file-token\n",
        ])
        let config = try #require(try dir.load())
        #expect(config.contexts.map(\.name) == ["one", "two", "three"])
        #expect(config.currentContext == "two")
        #expect(config.skipped.isEmpty)
        let one = config.contexts[0]
        #expect(one.serverHost == "10.0.0.1" && one.serverPort == 6443 && one.tlsServerName == "api.internal" && one.namespace == "team")
        #expect(one.certificateAuthority == Array(Self.pem.utf8))
        #expect(try one.user.authorization() == "Bearer abc")
        #expect(try config.contexts[1].user.authorization() == "Bearer file-token")
        let three = config.contexts[2]
        #expect(three.serverHost == "fd00::1" && three.serverPort == 443 && three.authority == "[fd00::1]:443")
        #expect(three.certificateAuthority == Array(Self.pem.utf8))
        #expect(try three.user.authorization() == "Basic " + Data("u:p".utf8).base64EncodedString())
        // Everything read is hidden from the agent: the kubeconfig, the CA and the token file.
        #expect(Set(config.files) == Set([".kube/config", ".kube/ca.pem", ".kube/tok"].map { dir.path + "/" + $0 }))
    }

    @Test func kubeconfigListFirstNameWins() throws {
        let dir = try Directory([
            "a": """
                clusters: [{name: c, cluster: {server: "https://a.example"}}]
                users: [{name: u, user: {token: from-a}}]
                contexts: [{name: x, context: {cluster: c, user: u}}]
                """,
            "b": """
                clusters: [{name: c, cluster: {server: "https://b.example"}}]
                users: [{name: u, user: {token: from-b}}]
                contexts: [{name: x, context: {cluster: c, user: u}}, {name: y, context: {cluster: c, user: u}}]
                current-context: y
                """,
        ])
        let config = try #require(try dir.load(["KUBECONFIG": "\(dir.path)/missing:\(dir.path)/a::\(dir.path)/b"]))
        #expect(config.contexts.map(\.name) == ["x", "y"])
        #expect(config.contexts.allSatisfy { $0.serverHost == "a.example" })
        #expect(try config.contexts[1].user.authorization() == "Bearer from-a")
        #expect(config.currentContext == "y")
        #expect(config.sources == [dir.path + "/a", dir.path + "/b"])
    }

    @Test func interactivePluginsAuthProvidersProxiesAndPlainHTTPAreLeftOutWithAReason() throws {
        let dir = try Directory([".kube/config": """
            clusters:
            - {name: ok, cluster: {server: "https://k.example"}}
            - {name: proxied, cluster: {server: "https://k.example", proxy-url: "http://corp:3128"}}
            - {name: plain, cluster: {server: "http://k.example:8080"}}
            users:
            - {name: exec, user: {exec: {command: aws, apiVersion: client.authentication.k8s.io/v1beta1, interactiveMode: Always}}}
            - {name: gcp, user: {auth-provider: {name: gcp}}}
            - {name: t, user: {token: x}}
            contexts:
            - {name: eks, context: {cluster: ok, user: exec}}
            - {name: gke, context: {cluster: ok, user: gcp}}
            - {name: p, context: {cluster: proxied, user: t}}
            - {name: h, context: {cluster: plain, user: t}}
            - {name: nocluster, context: {cluster: gone, user: t}}
            - {name: fine, context: {cluster: ok, user: t}}
            """])
        let config = try #require(try dir.load())
        #expect(config.contexts.map(\.name) == ["fine"])
        #expect(config.skipped.count == 5)
        #expect(config.skipped[0].hasPrefix("context \"eks\": its exec plugin aws must ask for input"), "\(config.skipped)")
        #expect(config.skipped[1].hasPrefix("context \"gke\": its user authenticates with an auth-provider plugin"), "\(config.skipped)")
        #expect(config.skipped[2].contains("proxy-url"), "\(config.skipped)")
        #expect(config.skipped[3].contains("is not an https:// URL"), "\(config.skipped)")
        #expect(config.skipped[4].contains("cluster \"gone\" is not defined"), "\(config.skipped)")
    }

    @Test func badFilesAreOneLineErrorsNamingTheFile() throws {
        let dir = try Directory([
            ".kube/config": "clusters: [unclosed\n",
            "list": "clusters: {name: c}\n",
            "nocert": """
                clusters: [{name: c, cluster: {server: "https://k.example", certificate-authority: /nonexistent/ca.pem}}]
                users: [{name: u, user: {token: t}}]
                contexts: [{name: x, context: {cluster: c, user: u}}]
                """,
            "halfcert": """
                clusters: [{name: c, cluster: {server: "https://k.example"}}]
                users: [{name: u, user: {client-certificate-data: \(Data(Self.pem.utf8).base64EncodedString())}}]
                contexts: [{name: x, context: {cluster: c, user: u}}]
                """,
        ])
        func error(_ env: [String: String]) -> String {
            do { _ = try dir.load(env); return "no error" } catch { return "\(error)" }
        }
        let yaml = error([:])
        #expect(yaml.hasPrefix("kubeconfig \(dir.path)/.kube/config: not YAML") && !yaml.contains("\n"), "\(yaml)")
        #expect(error(["KUBECONFIG": dir.path + "/list"]) == "kubeconfig \(dir.path)/list: `clusters` is not a list")
        #expect(error(["KUBECONFIG": dir.path + "/nocert"]) == "kubeconfig \(dir.path)/nocert: `certificate-authority` /nonexistent/ca.pem cannot be read")
        #expect(error(["KUBECONFIG": dir.path + "/halfcert"]) == "kubeconfig \(dir.path)/halfcert: a client certificate needs its key, and a key its certificate")
        #expect(try Directory([:]).load() == nil, "no kubeconfig at all is no error")
    }

    @Test func agentKubeconfigHoldsOnlyThePlaceholderAndAirlocksCA() throws {
        let contexts = [
            KubernetesContext(name: "Prod Admin@eu", serverHost: "10.0.0.1", serverPort: 6443, certificateAuthority: nil,
                              insecureSkipTLSVerify: false, tlsServerName: nil, namespace: "web", user: KubernetesUser(token: "REAL")),
            KubernetesContext(name: "prod-admin-eu", serverHost: "k.example", serverPort: 443, certificateAuthority: nil,
                              insecureSkipTLSVerify: false, tlsServerName: nil, namespace: nil, user: KubernetesUser(token: "REAL")),
            KubernetesContext(name: "@@@", serverHost: "k.example", serverPort: 443, certificateAuthority: nil,
                              insecureSkipTLSVerify: false, tlsServerName: nil, namespace: nil, user: KubernetesUser(token: "REAL")),
        ]
        let hosts = AgentKubeconfig.hosts(for: contexts)
        #expect(hosts == ["prod-admin-eu.kubernetes.airlock.internal", "prod-admin-eu-2.kubernetes.airlock.internal",
                          "context.kubernetes.airlock.internal"])
        let text = try AgentKubeconfig.text(contexts: Array(zip(contexts, hosts)), current: "prod-admin-eu", proxyURL: "http://127.0.0.1:3128",
                                            caPEM: Self.pem, placeholder: "airlock-placeholder-x")
        #expect(!text.contains("REAL") && !text.contains("10.0.0.1"))
        // Every cluster goes through the proxy.
        #expect(text.components(separatedBy: "proxy-url: http://127.0.0.1:3128\n").count == 4, "\(text)")
        // Read back as the operator's kubeconfig would be (less the proxy, which the broker does
        // not follow): the same contexts, pointing at the proxy's names.
        let dir = try Directory([".kube/config": text.replacingOccurrences(of: "    proxy-url: http://127.0.0.1:3128\n", with: "")])
        let read = try #require(try dir.load())
        #expect(read.contexts.map(\.name) == contexts.map(\.name))
        #expect(read.currentContext == "prod-admin-eu")
        #expect(read.contexts.map(\.serverHost) == hosts)
        #expect(read.contexts.allSatisfy { $0.user.token == "airlock-placeholder-x" && $0.certificateAuthority == Array(Self.pem.utf8) })
        #expect(read.contexts[0].namespace == "web")
        // Not the operator's current context: none at all, never another cluster in its place.
        let other = try AgentKubeconfig.text(contexts: Array(zip(contexts, hosts)), current: "eks", proxyURL: "http://p:1",
                                             caPEM: Self.pem, placeholder: "x")
        #expect(!other.contains("current-context"))
    }

    static func request(_ host: String, _ headers: [(String, String)]) -> APIRequest {
        APIRequest(method: "DELETE", host: host, target: "/api/v1/namespaces/prod", headers: [("Host", host)] + headers)
    }

    @Test func theBrokerSwapsThePlaceholderAndNamesTheRealServer() throws {
        let context = KubernetesContext(name: "prod", serverHost: "10.0.0.1", serverPort: 6443, certificateAuthority: nil,
                                        insecureSkipTLSVerify: false, tlsServerName: nil, namespace: nil, user: KubernetesUser(token: "REAL"))
        let host = "prod.kubernetes.airlock.internal"
        let broker = CredentialBroker(kubernetes: [host: KubernetesUpstream(context: context, placeholder: "PH")])
        let classified = try #require(try APIClassifier(kubernetesHosts: [host: "prod"]).classify(Self.request(host, [])))
        #expect(classified.call.summary == "kubernetes core delete namespaces/prod in prod")

        let prepared = try broker.prepare(Self.request(host, [("authorization", "Bearer PH")]), classified, now: Date())
        #expect(prepared.values("host") == ["10.0.0.1:6443"])
        #expect(prepared.values("authorization") == ["Bearer REAL"])
        // No credentials sent: none added.
        #expect(try broker.prepare(Self.request(host, []), classified, now: Date()).values("authorization").isEmpty)
        // Credentials of the agent's own, or two of them: refused, never forwarded.
        for headers in [[("Authorization", "Bearer stolen")], [("Authorization", "Bearer PH"), ("Authorization", "Bearer PH")],
                        [("Authorization", "Basic UEg6")]] {
            #expect(throws: APIClassificationError.self) { try broker.prepare(Self.request(host, headers), classified, now: Date()) }
        }
        // A client certificate alone: the placeholder is dropped, nothing put in its place.
        let certOnly = CredentialBroker(kubernetes: [host: KubernetesUpstream(context: KubernetesContext(
            name: "prod", serverHost: "k.example", serverPort: 443, certificateAuthority: nil, insecureSkipTLSVerify: false,
            tlsServerName: nil, namespace: nil, user: KubernetesUser(clientCertificate: [1], clientKey: [2])), placeholder: "PH")])
        let dropped = try certOnly.prepare(Self.request(host, [("Authorization", "Bearer PH")]), classified, now: Date())
        #expect(dropped.values("authorization").isEmpty && dropped.values("host") == ["k.example:443"])
    }

    @Test func bearerTokensForGoogleCloudAndAzure() throws {
        let broker = CredentialBroker(bearer: [
            "gcp": BearerToken(token: "ya29.REAL", placeholder: "PH", source: "GOOGLE_OAUTH_ACCESS_TOKEN"),
            "azure": BearerToken(token: "eyREAL", placeholder: "PH", source: "AZURE_ACCESS_TOKEN"),
        ])
        let gcp = APIRequest(method: "DELETE", host: "compute.googleapis.com",
                             target: "/compute/v1/projects/p/zones/z/instances/vm", headers: [("Authorization", "Bearer PH")])
        let classified = try #require(try APIClassifier().classify(gcp))
        #expect(try broker.prepare(gcp, classified, now: Date()).values("authorization") == ["Bearer ya29.REAL"])
        var foreign = gcp
        foreign.headers = [("Authorization", "Bearer ya29.agents-own")]
        #expect(throws: APIClassificationError.self) { try broker.prepare(foreign, classified, now: Date()) }
        let azure = APIRequest(method: "POST", host: "management.azure.com",
                               target: "/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/virtualMachines/vm/deallocate?api-version=2024-03-01",
                               headers: [("authorization", "Bearer PH")])
        let azureCall = try #require(try APIClassifier().classify(azure))
        #expect(try broker.prepare(azure, azureCall, now: Date()).values("authorization") == ["Bearer eyREAL"])
        // Anonymous requests stay anonymous (public buckets): nothing of the operator's is added.
        var anonymous = gcp
        anonymous.headers = []
        #expect(try broker.prepare(anonymous, classified, now: Date()).values("authorization").isEmpty)
    }

    /// An exec plugin (a shell script) that prints an ExecCredential with the token `token-N` for
    /// its Nth run, expiring `expiry` (nil: no expiry), or fails with `fail`.
    static func plugin(in dir: Directory, expiry: String?, fail: Bool = false) throws -> KubernetesExecPlugin {
        let expires = expiry.map { ",\"expirationTimestamp\":\"\($0)\"" } ?? ""
        let script = """
            #!/bin/sh
            [ "$1 $REGION" = "get-token eu-west-1" ] && [ -n "$KUBERNETES_EXEC_INFO" ] || { echo "bad invocation" >&2; exit 3; }
            \(fail ? "echo 'error: no SSO session' >&2; exit 1" : "")
            echo run >> "\(dir.path)/runs"
            n=$(wc -l < "\(dir.path)/runs")
            printf '{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","status":{"token":"token-%s"\(expires)}}' "$n"
            """
        try script.write(toFile: dir.path + "/plugin", atomically: true, encoding: .utf8)
        chmod(dir.path + "/plugin", 0o755)
        let config = try #require(try dir.load(["KUBECONFIG": dir.path + "/config"]))
        return try #require(config.contexts.first?.user.exec)
    }

    static func directoryWithPlugin() throws -> Directory {
        try Directory(["config": """
            clusters: [{name: c, cluster: {server: "https://k.example"}}]
            users: [{name: u, user: {exec: {command: ./plugin, args: [get-token], env: [{name: REGION, value: eu-west-1}],
                                            apiVersion: client.authentication.k8s.io/v1}}}]
            contexts: [{name: x, context: {cluster: c, user: u}}]
            """])
    }

    @Test func anExecPluginsTokenIsKeptUntilItExpires() throws {
        let dir = try Self.directoryWithPlugin()
        let plugin = try Self.plugin(in: dir, expiry: "2030-01-01T00:00:00Z")
        #expect(plugin.command == dir.path + "/plugin")
        #expect(throws: APIClassificationError.self) { try plugin.token() }
        let expiry = try plugin.fetch(now: Date(timeIntervalSince1970: 0))
        #expect(expiry == ISO8601DateFormatter().date(from: "2030-01-01T00:00:00Z"))
        #expect(try plugin.token(now: Date(timeIntervalSince1970: 0)) == "token-1")
        #expect(try KubernetesUser(exec: plugin).authorization() == "Bearer token-1")
        // Past its expiry the token is not presented: the request is refused, naming the plugin.
        let late = ISO8601DateFormatter().date(from: "2030-01-01T00:00:01Z")!
        #expect(throws: APIClassificationError.self) { try plugin.token(now: late) }
        try plugin.fetch()
        #expect(try plugin.token(now: Date()) == "token-2")
    }

    @Test func aTokenWithoutExpiryIsAskedForAgainAfterFifteenMinutes() throws {
        let dir = try Self.directoryWithPlugin()
        let plugin = try Self.plugin(in: dir, expiry: nil)
        let now = Date()
        #expect(try plugin.fetch(now: now) == now.addingTimeInterval(15 * 60))
    }

    @Test func aFailingPluginIsAOneLineErrorWithWhatItSaid() throws {
        let dir = try Self.directoryWithPlugin()
        let plugin = try Self.plugin(in: dir, expiry: nil, fail: true)
        do {
            try plugin.fetch()
            Issue.record("a failing plugin gave a token")
        } catch {
            #expect(error.message == "the kubeconfig's exec plugin \(dir.path)/plugin (\(dir.path)/config) failed (status 1): error: no SSO session")
        }
        do {
            _ = try plugin.token()
            Issue.record("a failing plugin's token was presented")
        } catch {
            #expect(error.message.hasSuffix("gave no usable token: the kubeconfig's exec plugin \(dir.path)/plugin (\(dir.path)/config) failed (status 1): error: no SSO session"))
        }
    }
}
