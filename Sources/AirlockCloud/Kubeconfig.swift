import AirlockPolicy
import Foundation
import Yams

/// Why the operator's kubeconfig could not be read: one line naming the file and what is wrong.
public struct KubeconfigError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The credentials of one kubeconfig user, as the proxy presents them upstream: a bearer token
/// (given, or read from a file at each request, as projected service-account tokens rotate),
/// a user name and password, a client certificate in the TLS handshake, or a token and a
/// certificate together.
public struct KubernetesUser: Sendable {
    public var token: String?
    public var tokenFile: String?
    public var username: String?
    public var password: String?
    /// PEM bytes of the client certificate and its key.
    public var clientCertificate: [UInt8]?
    public var clientKey: [UInt8]?
    /// The `exec` plugin that gives the token (run outside the sandbox).
    public var exec: KubernetesExecPlugin?

    public init(token: String? = nil, tokenFile: String? = nil, username: String? = nil, password: String? = nil,
                clientCertificate: [UInt8]? = nil, clientKey: [UInt8]? = nil, exec: KubernetesExecPlugin? = nil) {
        self.exec = exec
        self.token = token
        self.tokenFile = tokenFile
        self.username = username
        self.password = password
        self.clientCertificate = clientCertificate
        self.clientKey = clientKey
    }

    /// The `Authorization` header's value upstream, or nil when the client certificate alone
    /// authenticates. A token file is read now: it may have been rotated since the last request.
    public func authorization() throws(APIClassificationError) -> String? {
        if let token { return "Bearer " + token }
        if let exec { return "Bearer " + (try exec.token()) }
        if let tokenFile {
            guard let text = try? String(contentsOfFile: tokenFile, encoding: .utf8) else {
                throw APIClassificationError("the kubeconfig's tokenFile \(tokenFile) cannot be read")
            }
            return "Bearer " + text.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        if let username, let password { return "Basic " + Data("\(username):\(password)".utf8).base64EncodedString() }
        return nil
    }
}

/// One kubeconfig context the broker can stand in for: its cluster (where the API server is and
/// how its certificate is checked), its user's credentials and its default namespace.
public struct KubernetesContext: Sendable {
    public var name: String
    /// The API server's host (a name or an address, no brackets) and port.
    public var serverHost: String
    public var serverPort: Int
    /// PEM bytes of the roots the server's certificate is checked against; nil: the host's roots.
    public var certificateAuthority: [UInt8]?
    public var insecureSkipTLSVerify: Bool
    /// The name the server's certificate is checked for (and sent as SNI), when not its host.
    public var tlsServerName: String?
    public var namespace: String?
    public var user: KubernetesUser

    /// `host:port` as a `Host` header names the server.
    public var authority: String {
        (serverHost.contains(":") ? "[\(serverHost)]" : serverHost) + ":\(serverPort)"
    }
}

/// The operator's kubeconfig, read outside the sandbox the way kubectl reads it: the files in
/// `KUBECONFIG` (a `:`-separated list, missing files skipped; the first file to name a cluster,
/// user or context, or to set `current-context`, wins), else `~/.kube/config`. Paths in a file are
/// relative to that file's directory.
public struct Kubeconfig: Sendable {
    /// Every context the broker can stand in for, in the order of the files.
    public var contexts: [KubernetesContext]
    public var currentContext: String?
    /// Contexts left out, each with why (an exec or auth-provider plugin, a proxy of its own…).
    public var skipped: [String]
    /// Every file read, the kubeconfigs and the certificates, keys and tokens they name: hidden
    /// from the agent.
    public var files: [String]
    /// The kubeconfig files, for a log line.
    public var sources: [String]

    /// Nil when there is no kubeconfig at all; throws on one that cannot be read or is malformed.
    public static func load(environment: [String: String], home: String) throws(KubeconfigError) -> Kubeconfig? {
        let paths = Self.paths(environment: environment, home: home)
        var documents: [(path: String, node: Node)] = []
        for path in paths {
            guard FileManager.default.fileExists(atPath: path) else { continue }
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw KubeconfigError("kubeconfig \(path): cannot be read")
            }
            let node: Node?
            do { node = try Yams.compose(yaml: text) } catch {
                throw KubeconfigError("kubeconfig \(path): not YAML: \("\(error)".split(separator: "\n").joined(separator: " "))")
            }
            guard let node else { continue }
            guard node.mapping != nil else { throw KubeconfigError("kubeconfig \(path): not a mapping of clusters, users and contexts") }
            documents.append((path, node))
        }
        guard !documents.isEmpty else { return nil }
        return try merge(documents, environment: environment)
    }

    /// The files kubectl would read, whether they exist or not.
    public static func paths(environment: [String: String], home: String) -> [String] {
        if let list = environment["KUBECONFIG"], !list.isEmpty {
            return list.split(separator: ":").map(String.init).filter { !$0.isEmpty }
        }
        return [home + "/.kube/config"]
    }

    /// The merged view of `documents`: kubectl's first-wins rule, per name.
    static func merge(_ documents: [(path: String, node: Node)], environment: [String: String]) throws(KubeconfigError) -> Kubeconfig {
        var clusters: [String: (path: String, node: Node)] = [:]
        var users: [String: (path: String, node: Node)] = [:]
        var contexts: [(name: String, path: String, node: Node)] = []
        var seenContexts = Set<String>()
        var current: String?
        for (path, document) in documents {
            func named(_ key: String) throws(KubeconfigError) -> [(String, Node)] {
                guard let list = document[key] else { return [] }
                guard let items = list.sequence else { throw KubeconfigError("kubeconfig \(path): `\(key)` is not a list") }
                var out: [(String, Node)] = []
                for item in items {
                    guard let name = item["name"]?.string, !name.isEmpty else {
                        throw KubeconfigError("kubeconfig \(path): an entry of `\(key)` has no name")
                    }
                    guard let body = item[String(key.dropLast())], body.mapping != nil else {
                        throw KubeconfigError("kubeconfig \(path): \(key.dropLast()) \"\(name)\" has no `\(key.dropLast())` mapping")
                    }
                    out.append((name, body))
                }
                return out
            }
            for (name, body) in try named("clusters") where clusters[name] == nil { clusters[name] = (path, body) }
            for (name, body) in try named("users") where users[name] == nil { users[name] = (path, body) }
            for (name, body) in try named("contexts") where !seenContexts.contains(name) {
                seenContexts.insert(name)
                contexts.append((name, path, body))
            }
            if current == nil, let value = document["current-context"]?.string, !value.isEmpty { current = value }
        }

        var result = Kubeconfig(contexts: [], currentContext: current, skipped: [], files: documents.map(\.path),
                                sources: documents.map(\.path))
        for (name, path, body) in contexts {
            guard let clusterName = body["cluster"]?.string, let cluster = clusters[clusterName] else {
                result.skipped.append("context \"\(name)\" (\(path)): its cluster \"\(body["cluster"]?.string ?? "")\" is not defined")
                continue
            }
            let userName = body["user"]?.string ?? ""
            guard let user = userName.isEmpty ? (path, Node.mapping(Node.Mapping([]))) : users[userName] else {
                result.skipped.append("context \"\(name)\" (\(path)): its user \"\(userName)\" is not defined")
                continue
            }
            do {
                let context = try Self.context(name, namespace: body["namespace"]?.string, cluster: cluster, user: user,
                                               environment: environment, files: &result.files)
                result.contexts.append(context)
            } catch let skip as Skip {
                result.skipped.append("context \"\(name)\": \(skip.why)")
            } catch let error as KubeconfigError {
                throw error
            } catch {
                throw KubeconfigError("kubeconfig \(path): context \"\(name)\": \(error)")
            }
        }
        return result
    }

    /// A context airlock cannot stand in for, and why.
    struct Skip: Error { var why: String }

    static func context(_ name: String, namespace: String?, cluster: (path: String, node: Node), user: (path: String, node: Node),
                        environment: [String: String], files: inout [String]) throws -> KubernetesContext {
        func field(_ entry: (path: String, node: Node), _ key: String) -> String? {
            entry.node[key]?.string.flatMap { $0.isEmpty ? nil : $0 }
        }
        func resolve(_ file: String, _ entry: (path: String, node: Node)) -> String {
            file.hasPrefix("/") ? file : (entry.path as NSString).deletingLastPathComponent + "/" + file
        }
        /// The PEM bytes of `KEY-data` (base64) or of the file `KEY` names.
        func pem(_ entry: (path: String, node: Node), _ key: String, _ files: inout [String]) throws -> [UInt8]? {
            if let data = field(entry, key + "-data") {
                guard let bytes = Data(base64Encoded: data, options: .ignoreUnknownCharacters) else {
                    throw KubeconfigError("kubeconfig \(entry.path): `\(key)-data` is not base64")
                }
                return Array(bytes)
            }
            guard let file = field(entry, key) else { return nil }
            let path = resolve(file, entry)
            guard let bytes = FileManager.default.contents(atPath: path) else {
                throw KubeconfigError("kubeconfig \(entry.path): `\(key)` \(path) cannot be read")
            }
            files.append(path)
            return Array(bytes)
        }

        if user.node["auth-provider"] != nil {
            throw Skip(why: "its user authenticates with an auth-provider plugin, which kubectl no longer runs either (use the provider's exec plugin, or a token)")
        }
        if field(cluster, "proxy-url") != nil {
            throw Skip(why: "its cluster is reached through a proxy-url of its own, which airlock does not follow")
        }
        guard let server = field(cluster, "server"), let url = URLComponents(string: server), url.scheme == "https",
              let host = url.host, !host.isEmpty else {
            throw Skip(why: "its cluster's server \"\(field(cluster, "server") ?? "")\" is not an https:// URL")
        }
        guard url.path.isEmpty || url.path == "/" else {
            throw Skip(why: "its cluster's server \(server) has a path, which airlock does not forward under")
        }
        var kubeUser = KubernetesUser(
            token: field(user, "token"), username: field(user, "username"), password: field(user, "password"),
            clientCertificate: try pem(user, "client-certificate", &files), clientKey: try pem(user, "client-key", &files))
        if let exec = user.node["exec"] {
            kubeUser.exec = try plugin(exec, user: user, cluster: cluster, environment: environment)
        }
        if kubeUser.token == nil, let file = field(user, "tokenFile") {
            kubeUser.tokenFile = resolve(file, user)
            files.append(kubeUser.tokenFile!)
        }
        if (kubeUser.clientCertificate == nil) != (kubeUser.clientKey == nil) {
            throw KubeconfigError("kubeconfig \(user.path): a client certificate needs its key, and a key its certificate")
        }
        let hostName = host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
        return KubernetesContext(
            name: name, serverHost: hostName, serverPort: url.port ?? 443,
            certificateAuthority: try pem(cluster, "certificate-authority", &files),
            insecureSkipTLSVerify: cluster.node["insecure-skip-tls-verify"]?.bool ?? false,
            tlsServerName: field(cluster, "tls-server-name"), namespace: namespace.flatMap { $0.isEmpty ? nil : $0 },
            user: kubeUser)
    }

    /// The user's `exec` plugin, as client-go reads it.
    static func plugin(_ exec: Node, user: (path: String, node: Node), cluster: (path: String, node: Node),
                       environment: [String: String]) throws -> KubernetesExecPlugin {
        guard let command = exec["command"]?.string, !command.isEmpty else {
            throw KubeconfigError("kubeconfig \(user.path): an exec plugin without a command")
        }
        guard let apiVersion = exec["apiVersion"]?.string, !apiVersion.isEmpty else {
            throw KubeconfigError("kubeconfig \(user.path): the exec plugin \(command) has no apiVersion")
        }
        if exec["interactiveMode"]?.string == "Always" {
            throw Skip(why: "its exec plugin \(command) must ask for input (interactiveMode: Always), which airlock cannot give it")
        }
        var env: [String: String] = [:]
        for entry in exec["env"]?.sequence.map(Array.init) ?? [] {
            guard let name = entry["name"]?.string, let value = entry["value"]?.string else {
                throw KubeconfigError("kubeconfig \(user.path): an env entry of the exec plugin \(command) lacks a name or value")
            }
            env[name] = value
        }
        // As client-go: a relative path with a slash is relative to the kubeconfig's directory.
        let directory = URL(fileURLWithPath: (user.path as NSString).deletingLastPathComponent, isDirectory: true)
        let resolved = command.contains("/") && !command.hasPrefix("/")
            ? URL(fileURLWithPath: command, relativeTo: directory).standardizedFileURL.path : command
        return KubernetesExecPlugin(command: resolved, arguments: exec["args"]?.sequence?.compactMap(\.string) ?? [],
                                    environment: env, apiVersion: apiVersion, source: user.path, operatorEnvironment: environment)
    }
}

// MARK: - The agent's kubeconfig

/// What the agent holds instead of the operator's kubeconfig: every context the broker stands in
/// for, each pointing at a name of its own under `domain` (inspected, and routed by the proxy to
/// the real server), through the proxy, trusting Airlock's CA, with a placeholder token.
public enum AgentKubeconfig {
    /// The names the agent's contexts point at: no real host has them, and the Airlock CA may
    /// issue for them (`*.kubernetes.airlock.internal` is inspected whenever the broker is on).
    public static let domain = "kubernetes.airlock.internal"

    /// A host name for each context, in order: the context's name in lowercase letters, digits
    /// and dashes, made unique, under `domain`.
    public static func hosts(for contexts: [KubernetesContext]) -> [String] {
        var used = Set<String>()
        return contexts.map { context in
            var label = ""
            for c in context.name.lowercased().unicodeScalars {
                let keep = ("a"..."z").contains(c) || ("0"..."9").contains(c)
                if keep { label.unicodeScalars.append(c) } else if !label.hasSuffix("-") && !label.isEmpty { label += "-" }
            }
            while label.hasSuffix("-") { label.removeLast() }
            label = String(label.prefix(40))
            while label.hasSuffix("-") { label.removeLast() }
            if label.isEmpty { label = "context" }
            var name = label, n = 2
            while used.contains(name) {
                name = "\(label)-\(n)"
                n += 1
            }
            used.insert(name)
            return name + "." + domain
        }
    }

    /// The kubeconfig's text (YAML).
    public static func text(contexts: [(context: KubernetesContext, host: String)], current: String?, proxyURL: String,
                            caPEM: String, placeholder: String) throws -> String {
        let ca = Data(caPEM.utf8).base64EncodedString()
        var clusters: [[String: Any]] = [], users: [[String: Any]] = [], entries: [[String: Any]] = []
        for (context, host) in contexts {
            clusters.append(["name": context.name, "cluster": [
                "server": "https://" + host, "certificate-authority-data": ca, "proxy-url": proxyURL] as [String: Any]])
            users.append(["name": context.name, "user": ["token": placeholder]])
            var entry: [String: Any] = ["cluster": context.name, "user": context.name]
            if let namespace = context.namespace { entry["namespace"] = namespace }
            entries.append(["name": context.name, "context": entry])
        }
        var config: [String: Any] = ["apiVersion": "v1", "kind": "Config", "preferences": [String: Any](),
                                     "clusters": clusters, "users": users, "contexts": entries]
        // Only the operator's own current context: never another cluster in its place.
        if let current, contexts.contains(where: { $0.context.name == current }) { config["current-context"] = current }
        return "# Written by airlock: the operator's contexts, through airlock's proxy, which holds the real credentials.\n"
            + (try Yams.dump(object: config, sortKeys: true))
    }
}
