import TOMLKit

extension ProfileDecoder {
    static let apiKeys = ["name", "provider", "service", "operation", "resources", "effects", "unless_effects", "action"]

    /// The Kubernetes API server's verbs: an operation without wildcards must be one of them.
    static let kubernetesVerbs = ["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"]

    /// The `[[api]]` tables, each checked as far as can be without a request to match.
    func apiRules(_ v: TOMLValueConvertible) throws(ProfileError) -> [APIRule] {
        let at: Path = [.key("api")]
        guard let array = v.array, array.allSatisfy({ $0.type == .table }) else {
            throw error(at, "expected [[api]] tables, got \(describe(v))")
        }
        var rules: [APIRule] = []
        for (index, element) in array.enumerated() {
            let fields = try Fields(element.table!, at: at + [.index(index)], allowed: Self.apiKeys, decoder: self)
            func key(_ name: String) -> Path { fields.path + [.key(name)] }

            guard let nameValue = fields["name"] else {
                throw error(key("name"), "an api rule needs a \"name\", which approvers are shown")
            }
            let name = try string(nameValue, at: key("name"))
            if name.allSatisfy(\.isWhitespace) { throw error(key("name"), "a rule name cannot be blank") }
            if name.hasPrefix("airlock:") { throw error(key("name"), "names starting with \"airlock:\" are Airlock's own") }
            if rules.contains(where: { $0.name == name }) {
                throw error(key("name"), "another api rule in this file is already named \"\(name)\"")
            }
            // Required, so that a rule's reach is always written down: "*" for every provider.
            guard let providerValue = fields["provider"] else {
                throw error(key("provider"), "an api rule needs \"provider\": \(providerChoices), or \"*\" for all")
            }
            let providers = try globs(providerValue, at: key("provider"))
            let alternatives = providers.flatMap { $0.split(separator: "|", omittingEmptySubsequences: false).map(String.init) }
            for alternative in alternatives where alternative != "*" && APIProvider(rawValue: alternative) == nil {
                throw error(key("provider"), "expected providers among \(providerChoices) or \"*\", got \"\(alternative)\"")
            }

            var rule = APIRule(name: name, provider: providers)
            if let v = fields["service"] { rule.service = try globs(v, at: key("service")) }
            if let v = fields["operation"] {
                rule.operation = try globs(v, at: key("operation"))
                let operations = rule.operation.flatMap { $0.split(separator: "|").map(String.init) }
                if let problem = operationProblem(operations, providers: alternatives) { throw error(key("operation"), problem) }
            }
            if let v = fields["resources"] { rule.resources = try globs(v, at: key("resources")) }
            if let v = fields["effects"] {
                rule.effects = try effectNames(v, at: key("effects"))
                if rule.effects.isEmpty { throw error(key("effects"), emptyList) }
            }
            if let v = fields["unless_effects"] { rule.unlessEffects = try effectNames(v, at: key("unless_effects")) }
            if let v = fields["action"] { rule.action = try choice(v, at: key("action")) }
            rules.append(rule)
        }
        return rules
    }

    private var providerChoices: String { list(APIProvider.self) }
    private var emptyList: String { "an empty list matches nothing; leave the key out to match any" }

    /// A string or an array of strings, each a glob with `|` alternatives.
    private func globs(_ v: TOMLValueConvertible, at: Path) throws(ProfileError) -> [String] {
        let all = try stringOrStrings(v, at: at)
        if all.isEmpty { throw error(at, emptyList) }
        for pattern in all {
            if let problem = WordPattern.problem(pattern) { throw error(at, problem) }
        }
        return all
    }

    /// Effects as the classifiers name them: lower case, digits and dashes (`dry-run`).
    private func effectNames(_ v: TOMLValueConvertible, at: Path) throws(ProfileError) -> [String] {
        let all = try stringOrStrings(v, at: at)
        for effect in all {
            let wellFormed = effect.first.map { ("a"..."z").contains($0) } == true
                && effect.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }
            if !wellFormed {
                throw error(at, "expected effect names such as \"dry-run\" (lower-case letters, digits and \"-\"), got \"\(effect)\"")
            }
        }
        return all
    }

    private func stringOrStrings(_ v: TOMLValueConvertible, at: Path) throws(ProfileError) -> [String] {
        if let s = v.string { return [s] }
        guard v.array != nil else { throw error(at, "expected a string or an array of strings, got \(describe(v))") }
        return try strings(v, at: at)
    }

    /// Operation names that could never match the rule's providers, which would otherwise fail
    /// silently (nothing held): a lower-case AWS operation, a Kubernetes verb that does not exist.
    private func operationProblem(_ operations: [String], providers: [String]) -> String? {
        func only(_ provider: APIProvider) -> Bool { providers.allSatisfy { $0 == provider.rawValue } }
        for operation in operations {
            if only(.aws), let first = operation.unicodeScalars.first, ("a"..."z").contains(first) {
                return "AWS operations are compared as AWS names them, with a capital (\"DeleteStack\"): \"\(operation)\" would never match"
            }
            let literal = !operation.contains("*") && !operation.contains("?")
            if only(.kubernetes), literal, !Self.kubernetesVerbs.contains(operation.lowercased()) {
                return "expected Kubernetes verbs among \(Self.kubernetesVerbs.joined(separator: ", ")), got \"\(operation)\""
            }
        }
        return nil
    }
}
