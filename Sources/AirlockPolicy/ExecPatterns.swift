/// The patterns of an `[[exec]]` rule, compiled to bytes. Each one is a list of alternatives
/// separated by `|`; an alternative is a byte glob (`*`, `?`, see `wildcardMatches`).
///
/// Compiling never fails, so that a rule built in code cannot crash the classifier; the loader
/// rejects what would be surprising (see the `problem` functions) with a file:line:key error.

private let bar = UInt8(ascii: "|")
private let dash = UInt8(ascii: "-")
private let equals = UInt8(ascii: "=")

/// Alternatives of one pattern, each as bytes.
private func alternatives(_ text: String) -> [[UInt8]] {
    Array(text.utf8).split(separator: bar, omittingEmptySubsequences: false).map(Array.init)
}

/// A pattern for one word: `"terraform|tofu"`, `"delete-*"`.
struct WordPattern: Sendable {
    let alternatives: [[UInt8]]

    init(_ text: String) { alternatives = AirlockPolicy.alternatives(text) }

    func matches(_ word: some Collection<UInt8>) -> Bool {
        alternatives.contains { wildcardMatches($0, word) }
    }

    /// Why `text` cannot be a word pattern; nil when it can.
    static func problem(_ text: String) -> String? {
        if text.utf8.contains(0) { return "a pattern cannot contain a NUL character" }
        if AirlockPolicy.alternatives(text).contains(where: \.isEmpty) {
            return "\"\(text)\" has an empty alternative (a \"|\" at an end or doubled)"
        }
        return nil
    }
}

/// One element of a rule's `argv` after the executable: a word, or `**` for any number of them.
enum WordStep: Sendable {
    case word(WordPattern)
    case anyWords
}

/// One option alternative: `-r`, `--force`, `--grace-period=0`, `-destroy`, `--`.
struct FlagPattern: Sendable {
    enum Form: Sendable {
        /// `--`, the end of options.
        case endOfOptions
        /// `-x`: found in any bundle of short options (`-rf`).
        case short(UInt8)
        /// `--name`, a glob over the name.
        case long([UInt8])
        /// `-name`, one dash and several letters, a glob over the whole name.
        case singleDashWord([UInt8])
    }

    let form: Form
    /// The value glob after `=`, when the pattern gives one.
    let value: [UInt8]?
    /// The alternative as written.
    let text: [UInt8]

    init(_ alt: [UInt8]) {
        text = alt
        let eq = alt.firstIndex(of: equals)
        let name = Array(alt[..<(eq ?? alt.endIndex)])
        value = eq.map { Array(alt[($0 + 1)...]) }
        if name == [dash, dash] && value == nil {
            form = .endOfOptions
        } else if name.starts(with: [dash, dash]) {
            form = .long(Array(name.dropFirst(2)))
        } else if name.count == 2 {
            form = .short(name[1])
        } else {
            form = .singleDashWord(Array(name.dropFirst()))
        }
    }

    /// Whether this pattern matches the option token at `index` (whose next token may be the
    /// value, for a pattern with a value).
    func matches(_ tokens: [ArgumentToken], at index: Int) -> Bool {
        let token = tokens[index]
        guard token.isOption else { return false }
        let bytes = token.word.bytes
        let next: [UInt8]? = index + 1 < tokens.count && !tokens[index + 1].isOption ? tokens[index + 1].word.bytes : nil
        let eq = bytes.firstIndex(of: equals)
        let attached = eq.map { Array(bytes[($0 + 1)...]) }
        func valueMatches(_ given: [UInt8]?) -> Bool {
            guard let value else { return true }
            guard let given = given ?? next else { return false }
            return wildcardMatches(value, given)
        }
        switch form {
        case .endOfOptions:
            return bytes == [dash, dash]
        case .long(let name):
            guard bytes.count > 2, bytes[1] == dash else { return false }
            return wildcardMatches(name, bytes[2..<(eq ?? bytes.endIndex)]) && valueMatches(attached)
        case .short(let letter):
            guard bytes[1] != dash else { return false }
            if value == nil { return bytes[1..<(eq ?? bytes.endIndex)].contains(letter) }
            guard bytes[1] == letter else { return false }
            var rest = Array(bytes.dropFirst(2))
            if rest.first == equals { rest.removeFirst() }
            return valueMatches(rest.isEmpty ? nil : rest)
        case .singleDashWord(let name):
            guard bytes[1] != dash else { return false }
            return wildcardMatches(name, bytes[1..<(eq ?? bytes.endIndex)]) && valueMatches(attached)
        }
    }

    /// What to call the option in a reason: the pattern when it is plain, else the token.
    func display(_ tokens: [ArgumentToken], at index: Int) -> [UInt8] {
        let plain = !text.contains(UInt8(ascii: "*")) && !text.contains(UInt8(ascii: "?"))
        return plain ? text : tokens[index].word.bytes
    }
}

/// One entry of `flags`, `all_flags` or `unless`: alternatives of options, or (in `unless`
/// only) of positional-argument globs.
struct OptionEntry: Sendable {
    let flags: [FlagPattern]
    let positional: [[UInt8]]

    init(_ text: String) {
        let alts = alternatives(text)
        flags = alts.filter { $0.first == dash }.map(FlagPattern.init)
        positional = alts.filter { $0.first != dash }
    }

    /// The first option token this entry matches (index and how to show it), if any.
    func firstOption(in tokens: [ArgumentToken]) -> (index: Int, display: [UInt8])? {
        for index in tokens.indices {
            if let flag = flags.first(where: { $0.matches(tokens, at: index) }) {
                return (index, flag.display(tokens, at: index))
            }
        }
        return nil
    }

    func matchesPositional(_ tokens: [ArgumentToken]) -> Bool {
        tokens.contains { token in
            !token.isOption && positional.contains { wildcardMatches($0, token.word.bytes) }
        }
    }

    /// Why `text` cannot be an option pattern; `positionalAllowed` for `unless`.
    static func problem(_ text: String, positionalAllowed: Bool) -> String? {
        if let problem = WordPattern.problem(text) { return problem }
        for alt in alternatives(text) {
            if alt.first == dash {
                if alt.count < 2 { return "\"-\" alone is not an option" }
                if alt.starts(with: [dash, dash, dash]) { return "\"\(String(decoding: alt, as: UTF8.self))\" has three dashes" }
            } else if !positionalAllowed {
                return "\"\(String(decoding: alt, as: UTF8.self))\" is not an option: options start with \"-\" (positional arguments go in \"args\")"
            }
        }
        return nil
    }
}

/// One entry of `env`: `NAME=VALUE` globs, or `NAME` alone for "is set".
struct EnvPattern: Sendable {
    let name: [UInt8]
    let value: [UInt8]?

    init(_ text: String) {
        let bytes = Array(text.utf8)
        let eq = bytes.firstIndex(of: equals)
        name = Array(bytes[..<(eq ?? bytes.endIndex)])
        value = eq.map { Array(bytes[($0 + 1)...]) }
    }

    func matches(_ entry: [UInt8]) -> Bool {
        guard let eq = entry.firstIndex(of: equals), wildcardMatches(name, entry[..<eq]) else { return false }
        return value.map { wildcardMatches($0, entry[(eq + 1)...]) } ?? true
    }

    static func problem(_ text: String) -> String? {
        if text.utf8.contains(0) { return "a pattern cannot contain a NUL character" }
        if text.isEmpty || text.hasPrefix("=") { return "\"\(text)\" needs a variable name (or name glob) before \"=\"" }
        return nil
    }
}

/// Why the `argv` of a rule cannot be used; nil when it can.
func argvProblem(_ argv: [String]) -> String? {
    guard let first = argv.first else { return "a rule needs \"argv\" with at least the executable's name" }
    if first == "**" { return "the first element names the executable and cannot be \"**\"" }
    if first.contains("/") { return "the executable is matched by its basename: write \"\(first.split(separator: "/").last ?? "")\", not a path" }
    for element in argv where element != "**" {
        if let problem = WordPattern.problem(element) { return problem }
    }
    return nil
}
