/// Decides a classified cloud API request by the profile's `[[api]]` rules: the first rule that
/// matches decides, parents' rules first, so a child profile cannot weaken its parent.
public struct APIRuleMatcher: Sendable {
    private let rules: [CompiledAPIRule]

    public init(profile: Profile) {
        self.init(rules: profile.api)
    }

    public init(rules: [APIRule]) {
        self.rules = rules.map(CompiledAPIRule.init)
    }

    /// The rule that decides `call` and what it says; nil when no rule matches (the request goes
    /// through unrecorded).
    public func decide(_ call: APICall) -> (rule: APIRule, action: ProtectAction)? {
        for compiled in rules {
            if case .matches = compiled.verdict(call) { return (compiled.rule, compiled.rule.action) }
        }
        return nil
    }

    /// A few lines for people (`airlock policy explain`): the call as classified, each rule that
    /// matches it (or would, but for an effect it excludes) and why, and the decision.
    public func explain(_ call: APICall) -> String {
        var out = "call: \(call.summary)\n"
        if !call.effects.isEmpty { out += "effects: \(call.effects.joined(separator: ", "))\n" }
        var decider: APIRule?
        for compiled in rules {
            let rule = compiled.rule
            switch compiled.verdict(call) {
            case .noMatch:
                continue
            case .matches(let reason):
                let role = decider == nil ? "" : " (also matches; the rule above decides)"
                out += "rule \"\(rule.name)\" (\(rule.action.rawValue))\(role): \(reason)\n"
                if decider == nil { decider = rule }
            case .excluded(let reason, let effect):
                out += "rule \"\(rule.name)\" (\(rule.action.rawValue)) does not apply: \(reason), but the call is \(effect)\n"
            }
        }
        out += "decision: "
        guard let decider else { return out + "no rule matches; it goes through\n" }
        let what = switch decider.action {
        case .hold: "hold for sign-off"
        case .deny: "deny (the request is refused)"
        case .audit: "audit (it goes through, and is recorded)"
        case .allow: "allow (it goes through)"
        }
        return out + "\(what), by rule \"\(decider.name)\"\n"
    }
}

/// An `APIRule` with its patterns compiled, and how it judges one call.
struct CompiledAPIRule: Sendable {
    enum Verdict {
        case noMatch
        /// Every condition holds; `reason` says which of the call's values met which pattern.
        case matches(reason: String)
        /// Every condition holds but `unless_effects`, which names `effect`, one of the call's.
        case excluded(reason: String, effect: String)
    }

    let rule: APIRule
    private let provider: [APIPattern]
    private let service: [APIPattern]
    private let operation: [APIPattern]
    private let resources: [APIPattern]

    init(_ rule: APIRule) {
        self.rule = rule
        provider = rule.provider.map(APIPattern.init)
        service = rule.service.map(APIPattern.init)
        operation = rule.operation.map(APIPattern.init)
        resources = rule.resources.map(APIPattern.init)
    }

    func verdict(_ call: APICall) -> Verdict {
        let provider = call.provider.lowercased()
        guard self.provider.contains(where: { $0.matches(provider, ignoringCase: true) }) else { return .noMatch }
        var clauses: [String] = []

        /// Whether some value meets some pattern of `patterns` (none stated: yes), noting which.
        func holds(_ key: String, _ patterns: [APIPattern], _ values: [String], ignoringCase: Bool) -> Bool {
            guard !patterns.isEmpty else { return true }
            for value in values {
                if let pattern = patterns.first(where: { $0.matches(value, ignoringCase: ignoringCase) }) {
                    clauses.append("\(key) \(value) matches \"\(pattern.text)\"")
                    return true
                }
            }
            return false
        }
        // AWS reads operation names as written; see `APIRule` for why the others ignore case.
        guard holds("service", service, [call.service], ignoringCase: true),
              holds("operation", operation, [call.operation], ignoringCase: provider != APIProvider.aws.rawValue),
              holds("resource", resources, call.resources, ignoringCase: provider == APIProvider.azure.rawValue)
        else { return .noMatch }
        if !rule.effects.isEmpty {
            guard let effect = call.effects.first(where: rule.effects.contains) else { return .noMatch }
            clauses.append("effect \(effect)")
        }
        let reason = clauses.isEmpty ? "every \(call.provider) call" : clauses.joined(separator: ", ")
        if let effect = call.effects.first(where: rule.unlessEffects.contains) {
            return .excluded(reason: reason, effect: effect)
        }
        return .matches(reason: reason)
    }
}

/// One entry of a rule's glob list (alternatives separated by `|`), with its case-folded twin.
private struct APIPattern: Sendable {
    let text: String
    private let exact: WordPattern
    private let folded: WordPattern

    init(_ text: String) {
        self.text = text
        exact = WordPattern(text)
        folded = WordPattern(text.lowercased())
    }

    func matches(_ value: String, ignoringCase: Bool) -> Bool {
        ignoringCase ? folded.matches(value.lowercased().utf8) : exact.matches(value.utf8)
    }
}
