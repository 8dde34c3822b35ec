import TOMLKit

extension ProfileDecoder {
    static let execKeys = ["name", "argv", "flags", "all_flags", "unless", "args", "targets", "sql", "env", "action"]

    /// The `[[exec]]` tables, each checked as far as can be without a command to match.
    func execRules(_ v: TOMLValueConvertible) throws(ProfileError) -> [ExecRule] {
        let at: Path = [.key("exec")]
        guard let array = v.array, array.allSatisfy({ $0.type == .table }) else {
            throw error(at, "expected [[exec]] tables, got \(describe(v))")
        }
        var rules: [ExecRule] = []
        for (index, element) in array.enumerated() {
            let fields = try Fields(element.table!, at: at + [.index(index)], allowed: Self.execKeys, decoder: self)
            func key(_ name: String) -> Path { fields.path + [.key(name)] }

            guard let nameValue = fields["name"] else {
                throw error(key("name"), "an exec rule needs a \"name\", which approvers are shown")
            }
            let name = try string(nameValue, at: key("name"))
            if name.allSatisfy(\.isWhitespace) { throw error(key("name"), "a rule name cannot be blank") }
            if name.hasPrefix("airlock:") { throw error(key("name"), "names starting with \"airlock:\" are Airlock's own") }
            if rules.contains(where: { $0.name == name }) {
                throw error(key("name"), "another exec rule in this file is already named \"\(name)\"")
            }
            guard let argvValue = fields["argv"] else {
                throw error(key("argv"), "an exec rule needs \"argv\": the executable's name, then any subcommand words")
            }
            let argv = try strings(argvValue, at: key("argv"))
            if let problem = argvProblem(argv) { throw error(key("argv"), problem) }

            var rule = ExecRule(name: name, argv: argv)
            if let v = fields["flags"] { rule.flags = try checked(v, at: key("flags")) { OptionEntry.problem($0, positionalAllowed: false) } }
            if let v = fields["all_flags"] { rule.allFlags = try checked(v, at: key("all_flags")) { OptionEntry.problem($0, positionalAllowed: false) } }
            if let v = fields["unless"] { rule.unless = try checked(v, at: key("unless")) { OptionEntry.problem($0, positionalAllowed: true) } }
            if let v = fields["args"] { rule.args = try checked(v, at: key("args"), WordPattern.problem) }
            if let v = fields["sql"] { rule.sql = try checked(v, at: key("sql"), SQLPattern.problem) }
            if let v = fields["env"] { rule.env = try checked(v, at: key("env"), EnvPattern.problem) }
            if let v = fields["targets"] {
                for name in try strings(v, at: key("targets")) {
                    guard let target = ExecTarget(rawValue: name) else {
                        throw error(key("targets"), "expected targets among \(list(ExecTarget.self)), got \"\(name)\"")
                    }
                    if !rule.targets.contains(target) { rule.targets.append(target) }
                }
            }
            if let v = fields["action"] { rule.action = try choice(v, at: key("action")) }
            rules.append(rule)
        }
        return rules
    }

    /// An array of strings, each of which `problem` accepts.
    private func checked(_ v: TOMLValueConvertible, at: Path, _ problem: (String) -> String?) throws(ProfileError) -> [String] {
        let all = try strings(v, at: at)
        for s in all {
            if let message = problem(s) { throw error(at, message) }
        }
        return all
    }
}
