import TOMLKit

/// Reads one parsed profile file into a `ProfileLayer`, checking every key, type and value, and
/// turning each problem into a `ProfileError` that points at the line.
///
/// Unknown keys are errors rather than warnings: a misspelt `hidee` would otherwise leave the
/// user's secrets visible while they believe them hidden.
struct ProfileDecoder {
    typealias Path = [TOMLSourceMap.Component]

    /// The schema: which keys each table may hold. (`environment.set` holds any names.)
    static let rootKeys = ["extends", "description", "sandbox", "network", "seccomp", "filesystem", "environment", "signoff", "protect", "exec", "api"]
    static let sectionKeys: [String: [String]] = [
        "sandbox": ["backend", "network", "allow_unconfined", "host_sockets"],
        "network": ["allow", "deny", "unknown", "inspect", "upstream_ca", "forward_as_signed"],
        "seccomp": ["deny_action"],
        "filesystem": ["read_write", "read_only", "hide"],
        "environment": ["pass", "drop", "set"],
        "signoff": ["quorum", "timeout", "wait", "grant_window", "approvers", "queue"],
    ]
    static let protectKeys = ["name", "paths", "operations", "action"]

    let file: String
    /// The directory of `file`, against which `approvers` and `queue` are resolved.
    let directory: String
    let text: String

    func decode(_ root: TOMLTable) throws(ProfileError) -> ProfileLayer {
        var layer = ProfileLayer(text: text)
        let top = try Fields(root, at: [], allowed: Self.rootKeys, decoder: self)
        if let v = top["extends"] {
            let value = try path(v, at: [.key("extends")])
            layer.extends = value
        }
        if let v = top["description"] { layer.summary = try string(v, at: [.key("description")]) }

        if let s = try section("sandbox", in: top) {
            if let v = s["backend"] { layer.backend = try choice(v, at: s.path + [.key("backend")]) }
            if let v = s["network"] { layer.network = try networkMode(v, at: s.path + [.key("network")]) }
            if let v = s["allow_unconfined"] { layer.allowUnconfined = try bool(v, at: s.path + [.key("allow_unconfined")]) }
            if let v = s["host_sockets"] { layer.hostSockets = try hostSockets(v, at: s.path + [.key("host_sockets")]) }
        }
        if let s = try section("network", in: top) {
            if let v = s["allow"] { layer.networkAllow = try hostRules(v, at: s.path + [.key("allow")]) }
            if let v = s["deny"] { layer.networkDeny = try hostRules(v, at: s.path + [.key("deny")]) }
            if let v = s["unknown"] { layer.networkUnknown = try choice(v, at: s.path + [.key("unknown")]) }
            if let v = s["inspect"] { layer.networkInspect = try inspectRules(v, at: s.path + [.key("inspect")]) }
            if let v = s["upstream_ca"] {
                // Relative to this profile file, like `extends`; `~` is expanded by the caller.
                layer.upstreamCA = try paths(v, at: s.path + [.key("upstream_ca")]).map { p in
                    p.hasPrefix("~") ? p : expandPath(p, home: "", relativeTo: directory)
                }
            }
            if let v = s["forward_as_signed"] {
                let at = s.path + [.key("forward_as_signed")]
                for name in try strings(v, at: at) {
                    guard let kind = UnresignableRequest(rawValue: name) else {
                        throw error(at, "expected kinds among \(list(UnresignableRequest.self)), got \"\(name)\"")
                    }
                    if !layer.forwardAsSigned.contains(kind) { layer.forwardAsSigned.append(kind) }
                }
            }
        }
        if let s = try section("seccomp", in: top), let v = s["deny_action"] {
            layer.denyAction = try choice(v, at: s.path + [.key("deny_action")])
        }
        if let s = try section("filesystem", in: top) {
            if let v = s["read_write"] { layer.readWrite = try paths(v, at: s.path + [.key("read_write")]) }
            if let v = s["read_only"] { layer.readOnly = try paths(v, at: s.path + [.key("read_only")]) }
            if let v = s["hide"] { layer.hide = try paths(v, at: s.path + [.key("hide")]) }
        }
        if let s = try section("environment", in: top) {
            if let v = s["pass"] { layer.envPass = try variableNames(v, at: s.path + [.key("pass")]) }
            if let v = s["drop"] { layer.envDrop = try variableNames(v, at: s.path + [.key("drop")]) }
            if let v = s["set"] { layer.envSet = try variables(v, at: s.path + [.key("set")]) }
        }
        if let s = try section("signoff", in: top) {
            if let v = s["quorum"] {
                let at = s.path + [.key("quorum")]
                let quorum = try int(v, at: at)
                guard quorum >= 1 else { throw error(at, "must be at least 1, got \(quorum)") }
                layer.quorum = quorum
            }
            if let v = s["timeout"] { layer.timeoutSeconds = try duration(v, at: s.path + [.key("timeout")]) }
            if let v = s["wait"] {
                let at = s.path + [.key("wait")]
                layer.wait = v.string == "expiry" ? .expiry : .seconds(try duration(v, at: at))
            }
            if let v = s["grant_window"] { layer.grantWindowSeconds = try duration(v, at: s.path + [.key("grant_window")]) }
            if let v = s["approvers"] { layer.approvers = try ownFile(v, at: s.path + [.key("approvers")]) }
            if let v = s["queue"] { layer.queue = try ownFile(v, at: s.path + [.key("queue")]) }
        }
        if let v = top["protect"] { layer.protect = try protectRules(v) }
        if let v = top["exec"] { layer.exec = try execRules(v) }
        if let v = top["api"] { layer.api = try apiRules(v) }
        return layer
    }

    // MARK: - Sections

    private func section(_ name: String, in top: Fields) throws(ProfileError) -> Fields? {
        guard let v = top[name] else { return nil }
        let at: Path = [.key(name)]
        return try Fields(try table(v, at: at), at: at, allowed: Self.sectionKeys[name]!, decoder: self)
    }

    private func protectRules(_ v: TOMLValueConvertible) throws(ProfileError) -> [ProtectRule] {
        let at: Path = [.key("protect")]
        guard let array = v.array, array.allSatisfy({ $0.type == .table }) else {
            throw error(at, "expected [[protect]] tables, got \(describe(v))")
        }
        var rules: [ProtectRule] = []
        for (index, element) in array.enumerated() {
            let fields = try Fields(element.table!, at: at + [.index(index)], allowed: Self.protectKeys, decoder: self)
            func key(_ name: String) -> Path { fields.path + [.key(name)] }
            guard let pathsValue = fields["paths"] else {
                throw error(key("paths"), "a protect rule needs \"paths\", an array of globs")
            }
            var rule = ProtectRule(paths: try strings(pathsValue, at: key("paths")))
            guard !rule.paths.isEmpty else { throw error(key("paths"), "a protect rule needs at least one path") }
            for pattern in rule.paths {
                // Resolve against stand-ins to check the syntax now, not when the sandbox starts.
                do throws(ProfileError) {
                    _ = try resolvedGlob(pattern, workspace: Array("/workspace".utf8), home: Array("/home".utf8))
                } catch {
                    throw self.error(key("paths"), error.message)
                }
            }
            if let v = fields["name"] { rule.name = try string(v, at: key("name")) }
            if let v = fields["operations"] {
                let names = try strings(v, at: key("operations"))
                var operations = Set<FileOperation>()
                for name in names {
                    guard let op = FileOperation(rawValue: name) else {
                        throw error(key("operations"), "expected operations among \(list(FileOperation.self)), got \"\(name)\"")
                    }
                    operations.insert(op)
                }
                guard !operations.isEmpty else {
                    throw error(key("operations"), "an empty list would protect nothing; leave the key out for all four")
                }
                rule.operations = operations
            }
            if let v = fields["action"] { rule.action = try choice(v, at: key("action")) }
            rules.append(rule)
        }
        return rules
    }

    // MARK: - Values

    func string(_ v: TOMLValueConvertible, at: Path) throws(ProfileError) -> String {
        guard let s = v.string else { throw error(at, "expected a string, got \(describe(v))") }
        return s
    }

    func bool(_ v: TOMLValueConvertible, at: Path) throws(ProfileError) -> Bool {
        guard let b = v.bool else { throw error(at, "expected true or false, got \(describe(v))") }
        return b
    }

    func int(_ v: TOMLValueConvertible, at: Path) throws(ProfileError) -> Int {
        guard let i = v.int else { throw error(at, "expected an integer, got \(describe(v))") }
        return i
    }

    func table(_ v: TOMLValueConvertible, at: Path) throws(ProfileError) -> TOMLTable {
        guard let t = v.table else { throw error(at, "expected a table, got \(describe(v))") }
        return t
    }

    func strings(_ v: TOMLValueConvertible, at: Path) throws(ProfileError) -> [String] {
        guard let array = v.array else { throw error(at, "expected an array of strings, got \(describe(v))") }
        var result: [String] = []
        for element in array {
            guard let s = element.string else {
                throw error(at, "expected an array of strings, got an array containing \(describe(element))")
            }
            result.append(s)
        }
        return result
    }

    func choice<E: RawRepresentable & CaseIterable>(_ v: TOMLValueConvertible, at: Path) throws(ProfileError)
        -> E where E.RawValue == String
    {
        let s = try string(v, at: at)
        guard let value = E(rawValue: s) else { throw error(at, "expected one of \(list(E.self)), got \"\(s)\"") }
        return value
    }

    /// Host patterns for the proxy (`github.com`, `*.github.com`, `pypi.org:443`), each checked.
    private func hostRules(_ v: TOMLValueConvertible, at: Path) throws(ProfileError) -> [String] {
        let all = try strings(v, at: at)
        for pattern in all {
            do { _ = try HostRule(pattern) } catch { throw self.error(at, error.description) }
        }
        return all
    }

    private func inspectRules(_ v: TOMLValueConvertible, at: Path) throws(ProfileError) -> [String] {
        let all = try strings(v, at: at)
        for pattern in all {
            do { _ = try HostRule(inspecting: pattern) } catch { throw self.error(at, error.description) }
        }
        return all
    }

    /// Host daemons by name, each once, in the order written.
    private func hostSockets(_ v: TOMLValueConvertible, at: Path) throws(ProfileError) -> [HostSocket] {
        var result: [HostSocket] = []
        for name in try strings(v, at: at) {
            guard let daemon = HostSocket(rawValue: name) else {
                throw error(at, "expected names among \(list(HostSocket.self)), got \"\(name)\"")
            }
            if !result.contains(daemon) { result.append(daemon) }
        }
        return result
    }

    /// A network mode by name, or the boolean that predates the modes: true is open, false none.
    private func networkMode(_ v: TOMLValueConvertible, at: Path) throws(ProfileError) -> NetworkMode {
        if let b = v.bool { return b ? .open : .none }
        guard v.string != nil else {
            throw error(at, "expected one of \(list(NetworkMode.self)) (or true, false), got \(describe(v))")
        }
        return try choice(v, at: at)
    }

    private func path(_ v: TOMLValueConvertible, at: Path) throws(ProfileError) -> String {
        let p = try string(v, at: at)
        if let problem = pathProblem(p) { throw error(at, problem) }
        return p
    }

    private func paths(_ v: TOMLValueConvertible, at: Path) throws(ProfileError) -> [String] {
        let all = try strings(v, at: at)
        for p in all {
            if let problem = pathProblem(p) { throw error(at, problem) }
        }
        return all
    }

    /// A path to one of Airlock's own files: relative means relative to this profile file, like
    /// `extends`, so it is resolved now; `~` is kept for the caller to expand.
    private func ownFile(_ v: TOMLValueConvertible, at: Path) throws(ProfileError) -> String {
        let p = try path(v, at: at)
        return p.hasPrefix("~") ? p : expandPath(p, home: "", relativeTo: directory)
    }

    private func variableNames(_ v: TOMLValueConvertible, at: Path) throws(ProfileError) -> [String] {
        let names = try strings(v, at: at)
        for name in names where name.isEmpty || name.contains("=") {
            throw error(at, "\"\(name)\" is not a variable name or pattern")
        }
        return names
    }

    private func variables(_ v: TOMLValueConvertible, at: Path) throws(ProfileError) -> [String: String] {
        var result: [String: String] = [:]
        for (name, value) in try table(v, at: at) {
            guard !name.isEmpty, !name.contains("=") else {
                throw error(at + [.key(name)], "\"\(name)\" is not a variable name")
            }
            result[name] = try string(value, at: at + [.key(name)])
        }
        return result
    }

    private func duration(_ v: TOMLValueConvertible, at: Path) throws(ProfileError) -> Int {
        let seconds: Int?
        if let i = v.int {
            seconds = i
        } else if let s = v.string {
            seconds = Durations.seconds(s)
            guard seconds != nil else {
                throw error(at, "expected a duration such as \"90s\", \"15m\", \"1h30m\" or integer seconds, got \"\(s)\"")
            }
        } else {
            throw error(at, "expected a duration (\"15m\" or integer seconds), got \(describe(v))")
        }
        guard let seconds, seconds > 0, seconds <= Durations.maximum else {
            throw error(at, "must be more than 0 seconds and at most 365 days")
        }
        return seconds
    }

    // MARK: - Errors

    func error(_ at: Path, _ message: String) -> ProfileError {
        ProfileError(file: file, line: TOMLSourceMap(text: text).line(of: at), key: TOMLSourceMap.dotted(at), message: message)
    }

    func describe(_ v: TOMLValueConvertible) -> String {
        switch v.type {
        case .string: "string"
        case .int: "integer"
        case .double: "float"
        case .bool: "boolean"
        case .array: "array"
        case .table: "table"
        case .date: "date"
        case .time: "time"
        case .dateTime: "date-time"
        }
    }

    func list<E: RawRepresentable & CaseIterable>(_: E.Type) -> String where E.RawValue == String {
        E.allCases.map(\.rawValue).joined(separator: ", ")
    }
}

/// A table whose keys have been checked against the schema.
struct Fields {
    let table: TOMLTable
    let path: ProfileDecoder.Path

    init(_ table: TOMLTable, at path: ProfileDecoder.Path, allowed: [String], decoder: ProfileDecoder) throws(ProfileError) {
        for key in table.keys where !allowed.contains(key) {
            var message = "unknown key"
            if let near = closest(to: key, in: allowed) { message += "; did you mean \"\(near)\"?" }
            throw decoder.error(path + [.key(key)], message)
        }
        self.table = table
        self.path = path
    }

    subscript(key: String) -> TOMLValueConvertible? { table[key] }
}

/// The allowed key within two edits of `key`, for "did you mean".
private func closest(to key: String, in allowed: [String]) -> String? {
    allowed.map { ($0, editDistance(key, $0)) }.filter { $0.1 <= 2 }.min { $0.1 < $1.1 }?.0
}

/// Levenshtein distance over characters.
private func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    guard !a.isEmpty else { return b.count }
    var previous = Array(0...b.count)
    for i in 1...a.count {
        var current = [i] + Array(repeating: 0, count: b.count)
        for j in b.indices {
            current[j + 1] = min(previous[j + 1] + 1, current[j] + 1, previous[j] + (a[i - 1] == b[j] ? 0 : 1))
        }
        previous = current
    }
    return previous[b.count]
}
