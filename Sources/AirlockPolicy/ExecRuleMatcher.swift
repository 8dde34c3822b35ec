/// An `ExecRule` compiled to byte patterns, and how it decides whether one simple command
/// matches — and, if it does, says why in words.
struct CompiledExecRule: Sendable {
    let rule: ExecRule
    /// nil for a rule with an empty `argv`, which matches nothing.
    let executable: WordPattern?
    let words: [WordStep]
    let flags: [OptionEntry]
    let allFlags: [OptionEntry]
    let unless: [OptionEntry]
    let args: [WordPattern]
    let targets: [ExecTarget]
    let sql: [SQLPattern]
    let env: [EnvPattern]

    init(_ rule: ExecRule) {
        self.rule = rule
        executable = rule.argv.first.map(WordPattern.init)
        words = rule.argv.dropFirst().map { $0 == "**" ? .anyWords : .word(WordPattern($0)) }
        flags = rule.flags.map(OptionEntry.init)
        allFlags = rule.allFlags.map(OptionEntry.init)
        unless = rule.unless.map(OptionEntry.init)
        args = rule.args.map(WordPattern.init)
        targets = rule.targets.sorted()
        sql = rule.sql.map(SQLPattern.init)
        env = rule.env.map(EnvPattern.init)
    }

    /// Why `command` matches this rule ("rm with -r on / (the filesystem root)"), or nil, and for a
    /// rule with `targets`, where all its path arguments land (nil when one is unknown).
    /// `names` and `tokens` are the command's, computed once for all rules.
    func reason(for command: SimpleCommand, names: [[UInt8]], tokens: [ArgumentToken], places: TargetPlaces) -> (String, [[UInt8]]?)? {
        guard let executable, let name = names.first(where: executable.matches) else { return nil }
        guard let (end, matched) = matchWords(tokens) else { return nil }
        for entry in unless where entry.firstOption(in: tokens) != nil || entry.matchesPositional(tokens) { return nil }

        var clauses: [String] = []
        if !flags.isEmpty {
            guard let found = flags.lazy.compactMap({ $0.firstOption(in: tokens) }).first else { return nil }
            clauses.append("with " + displayWord(found.display))
        }
        if !allFlags.isEmpty {
            var shown: [String] = []
            for entry in allFlags {
                guard let found = entry.firstOption(in: tokens) else { return nil }
                shown.append(displayWord(found.display))
            }
            clauses.append("with " + shown.joined(separator: " and "))
        }
        let positional = tokens[end...].filter { !$0.isOption }.map(\.word)
        if !args.isEmpty {
            guard let arg = positional.first(where: { word in !word.isUnknown && args.contains { $0.matches(word.bytes) } }) else { return nil }
            clauses.append("with argument " + displayWord(arg.bytes))
        }
        var paths: [[UInt8]]?
        if !targets.isEmpty {
            guard let hit = target(of: positional, command: command, places: places) else { return nil }
            clauses.append(hit)
            paths = landings(of: positional, command: command, places: places)
        }
        if !sql.isEmpty {
            guard let statement = destructiveStatement(tokens: tokens, stdin: command.stdin) else { return nil }
            let text = Array(statement.split(whereSeparator: { $0 == 0x20 || ($0 >= 0x09 && $0 <= 0x0D) }).joined(separator: [0x20]))
            clauses.append("running " + displayWord(Array(text.prefix(80))) + (text.count > 80 ? "…" : ""))
        }
        if !env.isEmpty {
            guard let entry = command.environment.first(where: { entry in env.contains { $0.matches(entry) } }) else { return nil }
            clauses.append("with " + displayWord(entry) + " in its environment")
        }
        let subject = ([name] + matched.map { tokens[$0].word.bytes }).map(displayWord).joined(separator: " ")
        return (([subject] + clauses).joined(separator: " "), paths)
    }

    /// Where every path argument lands, or nil if one cannot be told.
    private func landings(of positional: [CommandWord], command: SimpleCommand, places: TargetPlaces) -> [[UInt8]]? {
        guard !command.unknownArguments else { return nil }
        var paths: [[UInt8]] = []
        for word in positional {
            guard let landing = places.landing(of: word, cwd: command.cwd) else { continue }
            guard landing.path != nil else { return nil }
            paths.append(landing.place)
        }
        return paths
    }

    /// Matches the rule's words against the positional arguments, in order. An argument right
    /// after an option may be that option's value (`git -C dir push`, `kubectl -n prod delete`)
    /// and may be skipped; any other argument must be the next word. Returns where the matched
    /// words end and which tokens they were; the earliest complete match wins.
    ///
    /// A forward simulation over the states "k words matched", so it is linear in the arguments
    /// whatever the rule says.
    private func matchWords(_ tokens: [ArgumentToken]) -> (end: Int, matched: [Int])? {
        var states: [Int: [Int]] = [0: []]
        func close(_ states: inout [Int: [Int]]) {
            for step in words.indices {
                if case .anyWords = words[step], let path = states[step], states[step + 1] == nil { states[step + 1] = path }
            }
        }
        close(&states)
        if let done = states[words.count] { return (0, done) }
        var mayBeValue = false
        for (index, token) in tokens.enumerated() {
            if token.isOption {
                mayBeValue = token.mayTakeNextAsValue
                continue
            }
            var next: [Int: [Int]] = [:]
            for (step, path) in states.sorted(by: { $0.key > $1.key }) {
                if step < words.count {
                    switch words[step] {
                    case .anyWords:
                        if next[step] == nil { next[step] = path }
                    case .word(let pattern):
                        if !token.word.isUnknown && pattern.matches(token.word.bytes) && next[step + 1] == nil {
                            next[step + 1] = path + [index]
                        }
                    }
                }
                if mayBeValue && next[step] == nil { next[step] = path }
            }
            close(&next)
            if let done = next[words.count] { return (index + 1, done) }
            guard !next.isEmpty else { return nil }
            states = next
            mayBeValue = false
        }
        return nil
    }

    /// The first argument that lands on one of the rule's targets, described.
    private func target(of positional: [CommandWord], command: SimpleCommand, places: TargetPlaces) -> String? {
        for word in positional {
            guard let landing = places.landing(of: word, cwd: command.cwd),
                let target = targets.first(where: landing.targets.contains)
            else { continue }
            return landing.describe(target, places: places)
        }
        return command.unknownArguments ? "on arguments it reads from its input" : nil
    }

    /// The first statement in an argument (or an option's `=value`) or in the standard input
    /// that matches the rule's `sql`.
    private func destructiveStatement(tokens: [ArgumentToken], stdin: [UInt8]?) -> ArraySlice<UInt8>? {
        var texts = tokens.map(\.word.bytes)
        for token in tokens where token.isOption {
            if let eq = token.word.bytes.firstIndex(of: UInt8(ascii: "=")) { texts.append(Array(token.word.bytes[(eq + 1)...])) }
        }
        if let stdin { texts.append(stdin) }
        for text in texts {
            for statement in sqlStatements(text) where sql.contains(where: { $0.matches(statement) }) {
                return statement.text
            }
        }
        return nil
    }
}
