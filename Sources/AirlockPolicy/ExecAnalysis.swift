/// Every simple command a command line runs, as far as can be told without running it, each with
/// the rule that decides it.
struct ExecAnalysis {
    struct Step {
        var command: SimpleCommand
        var match: ExecMatch?
    }

    var steps: [Step] = []
    /// Why the analysis stopped before the end, when it did.
    var incomplete: String?
    /// The command line as given, for a decision about it as a whole.
    var commandLine: [[UInt8]] = []

    /// The most severe match — deny, then hold, then audit, the first of equals — or nil when
    /// nothing but `allow` rules (or nothing at all) matched. A command line that could not be
    /// read to the end is held: what was not read could be anything.
    var decision: ExecMatch? {
        var candidates = steps.compactMap(\.match)
        if let incomplete {
            candidates.append(ExecMatch(
                rule: ExecClassifier.unclassifiableRule, action: .hold, reason: "too complex to classify: " + incomplete,
                command: commandLine, via: []))
        }
        guard let worst = candidates.max(by: { severity($0.action) < severity($1.action) }) else { return nil }
        guard worst.action != .allow else { return nil }
        var decision = candidates.first { $0.action == worst.action }!
        // What approving it lets the command line change: the paths of every held command, if all
        // are known.
        let held = candidates.filter { $0.action == .hold }
        decision.paths = held.isEmpty || held.contains { $0.paths == nil } ? nil : held.flatMap { $0.paths! }
        return decision
    }
}

private func severity(_ action: ProtectAction) -> Int {
    switch action {
    case .allow: 0
    case .audit: 1
    case .hold: 2
    case .deny: 3
    }
}

/// Walks a command line through its wrappers and scripts, classifying each simple command.
struct ExecWalk {
    let classifier: ExecClassifier
    let places: TargetPlaces
    let budget = ExecBudget(
        words: ExecClassifier.maximumWords, commands: ExecClassifier.maximumCommands, bytes: ExecClassifier.maximumExpansionBytes)
    var analysis = ExecAnalysis()
    /// `ExecClassifier.candidates(named:)` by command names: a script runs the same few commands
    /// many times.
    private var candidates: [[[UInt8]]: [Int]] = [:]

    init(classifier: ExecClassifier, context: ExecContext) {
        self.classifier = classifier
        self.places = TargetPlaces(context)
    }

    mutating func visit(_ command: SimpleCommand, depth: Int) {
        guard analysis.incomplete == nil else { return }
        guard depth <= ExecClassifier.maximumDepth else {
            analysis.incomplete = "wrappers and scripts nest more than \(ExecClassifier.maximumDepth) deep"
            return
        }
        guard !command.words.isEmpty else { return }
        guard budget.spendCommand() else {
            analysis.incomplete = "more than \(ExecClassifier.maximumCommands) commands"
            return
        }
        let names = command.names
        let candidates = self.candidates[names] ?? classifier.candidates(named: names)
        self.candidates[names] = candidates
        analysis.steps.append(.init(command: command, match: classifier.firstMatch(command, candidates: candidates, places: places)))
        let inner = command.innerCommands(home: places.home, budget: budget, keep: classifier.mayMatchEnvironment)
        for next in inner {
            switch next {
            case .command(let command): visit(command, depth: depth + 1)
            case .script(let text, let parameters, let base): visitScript(text, parameters: parameters, base: base, depth: depth + 1)
            }
        }
    }

    mutating func visitScript(_ text: [UInt8], parameters: [CommandWord]?, base: SimpleCommand, depth: Int) {
        guard analysis.incomplete == nil else { return }
        guard depth <= ExecClassifier.maximumDepth else {
            analysis.incomplete = "wrappers and scripts nest more than \(ExecClassifier.maximumDepth) deep"
            return
        }
        var lexer = ShellLexer(text, home: places.home, parameters: parameters, budget: budget)
        let script = lexer.parse()

        // Every assignment anywhere in the script is taken to be in every command's environment:
        // more than the shell would pass, but it needs no data flow and misses nothing.
        var environment = base.environment
        for command in script.commands {
            var assignments = command.assignments
            if let first = command.words.first, declarationBuiltins.contains(first.bytes) {
                assignments += command.words.dropFirst().filter(isAssignment).map(\.bytes)
            }
            environment += assignments.filter(classifier.mayMatchEnvironment)
        }

        var cwd = base.cwd
        for (index, parsed) in script.commands.enumerated() {
            var command = base
            command.words = parsed.words
            command.environment = environment
            command.cwd = cwd
            command.stdin = script.stdin(of: index)
            visit(command, depth: depth)
            for nested in parsed.nested {
                visitScript(nested, parameters: parameters, base: command.running([], through: "$(…)"), depth: depth + 1)
            }
            if let first = parsed.words.first, first.bytes == Array("cd".utf8) || first.bytes == Array("pushd".utf8) {
                cwd = directoryAfterCD(parsed.words.dropFirst(), from: cwd)
            }
        }
        if script.exhausted && analysis.incomplete == nil {
            analysis.incomplete = "more than \(ExecClassifier.maximumWords) words or \(ExecClassifier.maximumExpansionBytes) bytes of expansions"
        }
    }

    /// Where `cd ARGS` leaves the shell: home without an argument, nowhere known after `cd -` or
    /// an expansion.
    private func directoryAfterCD(_ arguments: ArraySlice<CommandWord>, from cwd: [UInt8]?) -> [UInt8]? {
        let operands = arguments.drop { $0.bytes.count >= 2 && $0.bytes.first == UInt8(ascii: "-") && $0.bytes != Array("--".utf8) }
            .drop { $0.bytes == Array("--".utf8) }
        guard let target = operands.first else { return places.home }
        if target.bytes == [UInt8(ascii: "-")] { return nil }
        return resolveDirectory(target, from: cwd)
    }
}

/// Builtins whose `NAME=value` arguments set variables.
private let declarationBuiltins: Set<[UInt8]> = Set(["export", "declare", "typeset", "local", "readonly"].map { Array($0.utf8) })
