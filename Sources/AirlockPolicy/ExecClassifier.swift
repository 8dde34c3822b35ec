/// Where a command runs: what its path arguments are resolved against and compared with.
public struct ExecContext: Sendable, Equatable {
    /// The workspace, absolute, as the kernel names it.
    public var workspace: [UInt8]
    /// The working directory of the process calling execve.
    public var cwd: [UInt8]
    /// The home directory, for `~`, `$HOME` and the `home` target.
    public var home: [UInt8]
    /// The profile's protect rules, for the `protected` target.
    public var protectedRules: [ResolvedProtectRule]

    public init(workspace: [UInt8], cwd: [UInt8], home: [UInt8], protectedRules: [ResolvedProtectRule] = []) {
        self.workspace = workspace
        self.cwd = cwd
        self.home = home
        self.protectedRules = protectedRules
    }
}

/// The rule that decides a command line, and why.
public struct ExecMatch: Sendable, Equatable {
    /// The rule's name (`ExecClassifier.unclassifiableRule` when the command line was too
    /// complex to read to the end).
    public var rule: String
    public var action: ProtectAction
    /// For people: "rm with -r on /work/ws (the workspace root)".
    public var reason: String
    /// The simple command that matched, after wrappers were looked through.
    public var command: [[UInt8]]
    /// The wrappers looked through to reach it, outermost first: `["sh -c", "sudo"]`.
    public var via: [String]
    /// Where the path arguments of the held commands land (globs as the directory they expand in),
    /// which is what an approval of the command line lets it change; nil when that cannot be told
    /// from the command line: a held command whose rule does not look at paths (`terraform
    /// destroy`), or an argument only the running shell knows.
    public var paths: [[UInt8]]?

    public init(rule: String, action: ProtectAction, reason: String, command: [[UInt8]], via: [String], paths: [[UInt8]]? = nil) {
        self.rule = rule
        self.action = action
        self.reason = reason
        self.command = command
        self.via = via
        self.paths = paths
    }
}

/// Decides whether a command line about to be executed matches the profile's `[[exec]]` rules.
///
/// Pure: bytes in, decision out, no system calls. It reads the command line the way the shells
/// and wrappers in it would — `sh -c` scripts, `env`, `sudo`, `xargs`, `timeout`, `nice`,
/// `nohup`, `exec`, `command`, `npx` and more (see `ExecWrappers.swift`) — and classifies every
/// simple command it finds. It is a tripwire for the commands an agent ordinarily runs, not a
/// boundary: a program can destroy without ever exec'ing a recognisable command line, which is
/// why protected files are guarded in the kernel and credentials are hidden.
///
/// Each simple command is decided by the first rule that matches it, in profile order (parents'
/// rules first), so an `allow` rule placed before a broader one exempts the commands it matches.
/// Of all the simple commands on the line, the most severe decision wins: deny, then hold, then
/// audit.
public struct ExecClassifier: Sendable {
    /// How many wrappers and nested scripts deep the classifier looks before it holds the command
    /// line as too complex.
    public static let maximumDepth = 16
    /// Simple commands, words and expanded bytes one command line may make the classifier look
    /// at; beyond them the command line is held as too complex. Far beyond any real command line
    /// (the kernel caps one argument at 128 KiB), near enough that no input makes it slow.
    public static let maximumCommands = 10_000
    public static let maximumWords = 262_144
    public static let maximumExpansionBytes = 16 << 20
    /// The rule name of a command line held because it could not be read to the end.
    public static let unclassifiableRule = "airlock: unclassifiable"

    let rules: [CompiledExecRule]
    /// The variable-name globs of every rule's `env`, without repeats.
    private let environmentNames: [[UInt8]]

    public init(rules: [ExecRule]) {
        self.rules = rules.map(CompiledExecRule.init)
        var names: [[UInt8]] = []
        for pattern in self.rules.flatMap(\.env) where !names.contains(pattern.name) { names.append(pattern.name) }
        self.environmentNames = names
    }

    /// The program names the rules match literally (`rm`, `terraform`, `tofu` of `terraform|tofu`;
    /// not globs): the programs a renamed copy of must still be recognised.
    public var programNames: [String] {
        var names: [String] = []
        for pattern in rules.compactMap(\.executable) {
            for name in pattern.alternatives where !name.contains(UInt8(ascii: "*")) && !name.contains(UInt8(ascii: "?")) {
                let text = String(decoding: name, as: UTF8.self)
                if !names.contains(text) { names.append(text) }
            }
        }
        return names
    }

    /// The classifier for a profile's `[[exec]]` rules.
    public init(profile: Profile) {
        self.init(rules: profile.exec)
    }

    /// The rule that decides `argv` (executed with `environment`, `NAME=VALUE` entries), or nil
    /// when none does or only `allow` rules match. `executable` is the path the kernel was asked
    /// to run, when known: argv[0] is the caller's choice, so a rule matches either basename.
    public func classify(
        argv: [[UInt8]], environment: [[UInt8]], executable: [UInt8]? = nil, context: ExecContext
    ) -> ExecMatch? {
        analyse(argv: argv, environment: environment, executable: executable, context: context).decision
    }

    /// A few lines for people (`airlock policy explain`): each simple command found, the wrappers
    /// looked through to reach it, the rule that matches it and why, and the decision.
    public func explain(
        argv: [[UInt8]], environment: [[UInt8]], executable: [UInt8]? = nil, context: ExecContext
    ) -> String {
        let analysis = analyse(argv: argv, environment: environment, executable: executable, context: context)
        var out = "command: " + displayCommand(argv) + "\n"
        if let executable, argv.first.map(basename) != basename(executable) {
            out += "executable: " + displayWord(executable) + "\n"
        }
        for (number, step) in analysis.steps.enumerated() {
            out += "\(number + 1). " + displayCommand(step.command.words.map(\.bytes)) + "\n"
            if !step.command.via.isEmpty { out += "   via " + step.command.via.joined(separator: ", then ") + "\n" }
            if let match = step.match {
                out += "   rule \"\(match.rule)\" (\(match.action.rawValue)): \(match.reason)\n"
            } else {
                out += "   no rule matches\n"
            }
        }
        if let incomplete = analysis.incomplete { out += "stopped: \(incomplete)\n" }
        out += "decision: "
        if let decision = analysis.decision {
            let what = switch decision.action {
            case .hold: "hold for sign-off"
            case .deny: "deny (the exec fails with EPERM)"
            case .audit: "audit (it runs, and is recorded)"
            case .allow: "allow"
            }
            out += "\(what), by rule \"\(decision.rule)\": \(decision.reason)\n"
        } else if let allowed = analysis.steps.first(where: { $0.match?.action == .allow })?.match {
            out += "it runs (rule \"\(allowed.rule)\" allows \(allowed.reason))\n"
        } else {
            out += argv.isEmpty ? "nothing to run\n" : "no rule matches; it runs\n"
        }
        return out
    }

    func analyse(argv: [[UInt8]], environment: [[UInt8]], executable: [UInt8]?, context: ExecContext) -> ExecAnalysis {
        var walk = ExecWalk(classifier: self, context: context)
        walk.analysis.commandLine = argv
        let command = SimpleCommand(
            words: argv.map { CommandWord($0) }, executable: executable,
            environment: environment.filter(mayMatchEnvironment), cwd: normalisePath(context.cwd), via: [])
        walk.visit(command, depth: 0)
        return walk.analysis
    }

    /// The rules, in profile order, whose executable pattern matches one of `names`: the only
    /// ones worth trying on a command known by them.
    func candidates(named names: [[UInt8]]) -> [Int] {
        rules.indices.filter { index in rules[index].executable.map { names.contains(where: $0.matches) } ?? false }
    }

    /// The first of `candidates` (see `candidates(named:)`) that matches `command`.
    func firstMatch(_ command: SimpleCommand, candidates: [Int], places: TargetPlaces) -> ExecMatch? {
        guard !candidates.isEmpty else { return nil }
        let names = command.names
        let tokens = command.arguments
        for compiled in candidates.lazy.map({ rules[$0] }) {
            if let (reason, paths) = compiled.reason(for: command, names: names, tokens: tokens, places: places) {
                return ExecMatch(
                    rule: compiled.rule.name, action: compiled.rule.action, reason: reason,
                    command: command.words.map(\.bytes), via: command.via, paths: paths)
            }
        }
        return nil
    }

    /// Whether some rule's `env` could match this `NAME=VALUE` entry: the classifier keeps only
    /// those, so that a large environment costs nothing per command.
    func mayMatchEnvironment(_ entry: [UInt8]) -> Bool {
        let name = entry[..<(entry.firstIndex(of: UInt8(ascii: "=")) ?? entry.endIndex)]
        return environmentNames.contains { wildcardMatches($0, name) }
    }
}
