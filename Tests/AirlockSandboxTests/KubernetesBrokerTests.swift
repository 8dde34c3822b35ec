import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The Kubernetes broker end to end: the Kubernetes Python client in a real sandbox, reading the
/// kubeconfig airlock gives it, against an API server of the test's own (HTTPS on the host's
/// 127.0.0.1, known by its address, with its own CA) that takes the operator's token or client
/// certificate and nothing else. The operator's kubeconfig, CA, token file, certificate and key
/// lie outside ~/.kube, named by KUBECONFIG alone.
@Suite(.serialized, .enabled(if: ProjectVenv.exists, ProjectVenv.missing))
struct KubernetesBrokerTests {
    let signOff = SignOffTests()

    static let configs = CloudAPIHoldTests.configs

    /// One test's cluster and desk: the API server, the operator's kubeconfig with a token context
    /// (`prod`, the current one), a client-certificate context (`Staging Cert`), an exec-plugin
    /// context (`eks`), an auth-provider context airlock cannot stand in for (`gke`), approvers,
    /// and a profile in proxy mode.
    final class Cluster: @unchecked Sendable {
        let fixture: Fixture
        let approvers: SignOffTests.Approvers
        let server: Subprocess
        let port: Int
        /// The operator's token, and the directory of the operator's files.
        let token: String
        let operatorDirectory: String
        let profile: String

        init(_ config: SandboxConfig) throws {
            let f = try Fixture(config)
            try ProjectVenv.check(for: config)
            fixture = f
            approvers = try SignOffTests.Approvers(in: f.root)
            operatorDirectory = f.root + "/operator"
            let ca = try TestCA.make(in: operatorDirectory)
            let leaf = try ca.issue(for: "IP:127.0.0.1", in: f.root + "/server")
            let client = try ca.issue(for: "DNS:operator.example", in: operatorDirectory)
            token = "operator-token-\(f.unique)"
            try f.write(operatorDirectory + "/token", token + "\n", mode: 0o600)
            let digest = try runOnHost(["/bin/sh", "-c", "printf %s \"$0\" | sha256sum | cut -d' ' -f1", token], in: f.root).stdout
                .trimmingCharacters(in: .whitespacesAndNewlines)
            let server = try Subprocess(["/usr/bin/python3", KubernetesBrokerTests.serverScript, digest, leaf.certificate, leaf.key, ca.certificate],
                                        environment: ["PATH": "/usr/bin:/bin"], directory: f.root)
            self.server = server
            var port: Int?
            _ = waitUntil(timeout: 30) {
                port = server.currentStderr().split(separator: "\n").first.flatMap { Int($0.replacingOccurrences(of: "listening on ", with: "")) }
                return port != nil || server.poll() != nil
            }
            guard let port else { throw HarnessError("the API server did not start: \(server.currentStderr())") }
            self.port = port
            // Relative paths, as kubeconfigs often have: relative to the kubeconfig's directory.
            try f.write(operatorDirectory + "/kubeconfig", """
                apiVersion: v1
                kind: Config
                clusters:
                - name: local
                  cluster:
                    server: https://127.0.0.1:\(port)
                    certificate-authority: test-ca.pem
                users:
                - name: token-user
                  user:
                    tokenFile: token
                - name: cert-user
                  user:
                    client-certificate: DNS-operator.example.pem
                    client-key: DNS-operator.example.key
                - name: eks-user
                  user:
                    exec:
                      apiVersion: client.authentication.k8s.io/v1beta1
                      command: ./get-token
                      args: [eks, get-token, --cluster-name, prod]
                      env: [{name: CLUSTER, value: prod}]
                - name: gke-user
                  user:
                    auth-provider: {name: gcp}
                contexts:
                - name: prod
                  context: {cluster: local, user: token-user, namespace: default}
                - name: Staging Cert
                  context: {cluster: local, user: cert-user}
                - name: eks
                  context: {cluster: local, user: eks-user}
                - name: gke
                  context: {cluster: local, user: gke-user}
                current-context: prod
                """, mode: 0o600)
            // The exec plugin, as `aws eks get-token` would answer: run by airlock outside the
            // sandbox, counting its runs.
            try f.write(operatorDirectory + "/get-token", #"""
                #!/bin/sh
                dir=$(dirname "$0")
                [ -n "$KUBERNETES_EXEC_INFO" ] && [ "$CLUSTER $*" = "prod eks get-token --cluster-name prod" ] || exit 3
                echo run >> "$dir/plugin-runs"
                printf '{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"token":"%s","expirationTimestamp":"2099-01-01T00:00:00Z"}}\n' "$(cat "$dir/token")"
                """#, mode: 0o700)
            if let user = config.user { try chownTree(operatorDirectory, to: user) }
            try f.write(f.workspace + "/" + CloudScripts.agentFile, CloudScripts.agentScript)
            try f.write(f.workspace + "/kube_agent.py", KubernetesBrokerTests.agentScript)
            profile = f.root + "/kube.toml"
            try f.write(profile, """
                extends = "default"
                [sandbox]
                network = "proxy"
                [signoff]
                quorum = 2
                wait = "10m"
                """)
        }

        deinit {
            server.send(SIGKILL)
            _ = server.wait(timeout: 10)
        }

        /// The requests the server received: "METHOD PATH AUTH HOST", AUTH one of token, cert,
        /// placeholder, other, none.
        var requests: [String] {
            server.currentStderr().split(separator: "\n").filter { $0.hasPrefix("request ") }.map { String($0.dropFirst(8)) }
        }

        var namespaces: [String] {
            server.currentStderr().split(separator: "\n").filter { $0.hasPrefix("deleted ") }.map { String($0.dropFirst(8)) }
        }

        func startAgent(_ script: String, options: [String] = []) throws -> Subprocess {
            try startAirlock(
                fixture.runArguments(["/bin/sh", "-c", script],
                                     options: ["--profile", profile, "--approvers", approvers.allowedSigners] + options),
                env: fixture.environment(["KUBECONFIG": operatorDirectory + "/kubeconfig"]),
                cwd: fixture.workspace, user: fixture.config.user)
        }

        func kube(_ args: String) -> String { "\(ProjectVenv.python) kube_agent.py \(args)" }
    }

    @Test("the agent's kubeconfig reaches the token, client-certificate and exec-plugin contexts through the proxy with a placeholder token, the server sees only the operator's token or client certificate, and nothing of the operator's kubeconfig, token or key is readable in the sandbox; delete_namespace is held, goes through after two approvals and not before; a denied one fails with a 403 Status naming airlock",
          arguments: configs)
    func kubernetesClientThroughTheBroker(config: SandboxConfig) throws {
        let cluster = try Cluster(config)
        let f = cluster.fixture
        let operatorFiles = ["kubeconfig", "token", "DNS-operator.example.key"].map { cluster.operatorDirectory + "/" + $0 }
        let script = """
            echo "KUBECONFIG=$KUBECONFIG"
            grep -c 'airlock-placeholder-' "$KUBECONFIG"
            for file in \(operatorFiles.joined(separator: " ")); do
                if [ -n "$(head -c 1 "$file" 2>/dev/null)" ]; then echo "readable: $file"; fi
            done
            \(ProjectVenv.python) \(CloudScripts.agentFile) scan \(CloudAPIHoldTests.encoded(cluster.token))
            \(cluster.kube("contexts"))
            \(cluster.kube("list prod"))
            \(cluster.kube("list 'Staging Cert'"))
            \(cluster.kube("list eks"))
            kubectl --context eks get namespaces -o name | sed 's/^/kubectl: /'
            \(cluster.kube("delete prod doomed"))
            \(cluster.kube("delete 'Staging Cert' keep"))
            \(cluster.kube("list prod"))
            """
        let agent = try cluster.startAgent(script)
        guard let row = try signOff.waitForHeld(f, cluster.approvers, timeout: 90) else {
            agent.send(SIGKILL)
            Issue.record("no request was held: \(agent.wait(timeout: 10))\nserver: \(cluster.requests)")
            return
        }
        let id = try #require(row["id"] as? String)
        #expect(row["kind"] as? String == "api" && row["host"] as? String == "prod.kubernetes.airlock.internal", "\(row)")
        let shown = try signOff.queueCLI(f, cluster.approvers, ["queue", "show", id])
        #expect(shown.lines.contains("operation: api kubernetes core delete namespaces/doomed in prod"), "\(shown)")

        // Held: nothing reached the server, and one approval is not enough.
        #expect(!cluster.requests.contains { $0.hasPrefix("DELETE ") }, "\(cluster.requests)")
        #expect(try signOff.approve(f, cluster.approvers, id, as: "alice").status == 0)
        usleep(1_500_000)
        #expect(cluster.namespaces.isEmpty, "deleted on one approval")
        #expect(try signOff.approve(f, cluster.approvers, id, as: "bob").status == 0)

        // The second deletion, through the client-certificate context: denied.
        guard let second = try signOff.waitForHeld(f, cluster.approvers, timeout: 90, excluding: [id]) else {
            agent.send(SIGKILL)
            Issue.record("the second deletion was not held: \(agent.wait(timeout: 10))\nserver: \(cluster.requests)")
            return
        }
        let secondID = try #require(second["id"] as? String)
        #expect(second["host"] as? String == "staging-cert.kubernetes.airlock.internal", "\(second)")
        let denied = try signOff.queueCLI(f, cluster.approvers, ["deny", secondID, "--key", cluster.approvers.key("alice"), "--reason", "keep staging"])
        #expect(denied.status == 0, "\(denied)")

        let outcome = agent.wait(timeout: 90)
        #expect(outcome.status == 0, "\(outcome)")
        let kubeconfig = String((outcome.lines.first { $0.hasPrefix("KUBECONFIG=") } ?? "").dropFirst(11))
        #expect(kubeconfig.hasSuffix(".yaml") && kubeconfig.contains("/kubeconfig-"), "\(outcome)")
        #expect(!FileManager.default.fileExists(atPath: kubeconfig), "the agent's kubeconfig outlived the run")
        #expect(outcome.lines.contains("3"), "the three users of the agent's kubeconfig hold the placeholder: \(outcome)")
        #expect(!outcome.lines.contains { $0.hasPrefix("readable: ") }, "\(outcome)")
        #expect(outcome.lines.contains("found: nothing"), "\(outcome)")
        #expect(!outcome.stdout.contains(cluster.token), "\(outcome)")
        #expect(outcome.lines.contains("contexts: Staging Cert, eks, prod; current prod"), "\(outcome)")
        #expect(outcome.stderr.contains("context \"gke\": its user authenticates with an auth-provider plugin"), "\(outcome)")
        let lists = outcome.lines.filter { $0.hasPrefix("namespaces: ") }
        #expect(lists == ["namespaces: default doomed keep", "namespaces: default doomed keep", "namespaces: default doomed keep",
                          "namespaces: default keep"], "\(outcome)")
        // kubectl (Go's client) reads the same kubeconfig: proxy-url, Airlock's CA, the placeholder.
        #expect(outcome.lines.filter { $0.hasPrefix("kubectl: ") } == ["kubectl: namespace/default", "kubectl: namespace/doomed", "kubectl: namespace/keep"],
                "\(outcome)")
        // The plugin ran once, outside the sandbox, before the agent started.
        #expect((try? String(contentsOfFile: cluster.operatorDirectory + "/plugin-runs", encoding: .utf8)) == "run\n")
        #expect(outcome.lines.contains("deleted doomed"), "\(outcome)")
        let refusal = outcome.lines.first { $0.hasPrefix("refused 403 ") } ?? ""
        #expect(refusal == "refused 403 Status airlock: DENIED request \(secondID) by alice: keep staging: kubernetes core delete namespaces/keep in Staging Cert: the request was refused.", "\(outcome)")

        // The server saw the operator's credentials on every request, never the placeholder, and
        // the deletion once.
        let requests = cluster.requests
        #expect(!requests.isEmpty && requests.allSatisfy { $0.contains(" token ") || $0.contains(" cert ") }, "\(requests)")
        #expect(requests.filter { $0.hasPrefix("GET /api/v1/namespaces ") }.map { $0.split(separator: " ")[2] } == ["token", "cert", "token", "token"], "\(requests)")
        #expect(requests.contains { $0.hasPrefix("GET /api/v1/namespaces?limit=500 token ") }, "kubectl's list: \(requests)")
        #expect(requests.filter { $0.hasPrefix("DELETE ") } == ["DELETE /api/v1/namespaces/doomed token 127.0.0.1:\(cluster.port)"], "\(requests)")
        #expect(cluster.namespaces == ["doomed"])
    }

    @Test("with --cloud-credentials none the agent gets no kubeconfig and cannot read the operator's", arguments: configs)
    func noneGivesNothing(config: SandboxConfig) throws {
        let cluster = try Cluster(config)
        let agent = try cluster.startAgent("""
            echo "KUBECONFIG=${KUBECONFIG:-unset}"
            for file in \(cluster.operatorDirectory)/kubeconfig \(cluster.operatorDirectory)/token; do
                if [ -n "$(head -c 1 "$file" 2>/dev/null)" ]; then echo "readable: $file"; fi
            done
            """, options: ["--cloud-credentials", "none"])
        let outcome = agent.wait(timeout: 60)
        #expect(outcome.status == 0, "\(outcome)")
        #expect(outcome.lines == ["KUBECONFIG=unset"], "\(outcome)")
        #expect(cluster.requests.isEmpty)
    }

    /// The API server (scripts/bench.d/kubeapi.py, shared with the benchmark).
    static let serverScript = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("scripts/bench.d/kubeapi.py").path

    /// `contexts`: the contexts of the agent's kubeconfig; `list CONTEXT`: the namespaces;
    /// `delete CONTEXT NAME`: delete_namespace, printing the Status of a refusal.
    static let agentScript = #"""
        import json, sys
        from kubernetes import client, config
        from kubernetes.client.rest import ApiException

        command, args = sys.argv[1], sys.argv[2:]
        if command == "contexts":
            contexts, current = config.list_kube_config_contexts()
            print("contexts: %s; current %s" % (", ".join(sorted(c["name"] for c in contexts)), current["name"]), flush=True)
            sys.exit(0)
        config.load_kube_config(context=args[0])
        v1 = client.CoreV1Api()
        try:
            if command == "list":
                print("namespaces:", " ".join(n.metadata.name for n in v1.list_namespace().items), flush=True)
            elif command == "delete":
                v1.delete_namespace(args[1])
                print("deleted", args[1], flush=True)
        except ApiException as error:
            body = json.loads(error.body)
            print("refused", error.status, body["kind"], body["message"], flush=True)
        """#
}
