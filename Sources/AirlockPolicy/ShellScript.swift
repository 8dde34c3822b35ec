/// What a POSIX shell script would run, read without running it: its simple commands, each with
/// its words, its leading `NAME=value` assignments, what it reads on standard input where the
/// script shows it (a heredoc, a here-string, the command before it in a pipeline), and the
/// scripts nested in it (`$(…)`, backquotes, `<(…)`, `>(…)`).
///
/// This is a lexer with just enough grammar to find simple commands — quotes, backslashes,
/// `;` `&&` `||` `|` `&` newlines, parentheses, redirections, heredocs, reserved words — not a
/// shell. It errs towards seeing more commands than run: both branches of an `if`, the body of a
/// function never called. Expansions are not performed except `~` and `$HOME` (the context's
/// home) and the positional parameters of `sh -c SCRIPT ARG0 ARG1…`; any other expansion makes
/// its word unknown, which a rule about paths counts as a hit (see `ExecTarget`).
struct ShellScript {
    struct Command {
        var words: [CommandWord] = []
        var assignments: [[UInt8]] = []
        /// A heredoc's or here-string's text.
        var input: [UInt8]?
        /// The command whose output this one reads (`a | b`), by index.
        var pipedFrom: Int?
        var nested: [[UInt8]] = []
        /// A redirection (a heredoc) refers to this command by index, so it is kept even if empty.
        var isReferenced = false
        /// The header of a `for`, `case` or `select`, which runs nothing itself.
        var isHeader = false
    }

    var commands: [Command] = []
    /// The budget ran out before the end of the script.
    var exhausted = false

    /// What command `index` reads on standard input as far as the script shows it: its heredoc
    /// or here-string, or the words (and heredoc) of the command piping into it.
    func stdin(of index: Int) -> [UInt8]? {
        let command = commands[index]
        var text = command.input
        if let from = command.pipedFrom {
            let previous = commands[from]
            var piped = previous.input ?? []
            piped += Array(previous.words.dropFirst().map(\.bytes).joined(separator: [UInt8(ascii: " ")]))
            text = (text ?? []) + piped
        }
        return text
    }
}

/// Counts what an analysis may still look at, so that no input — however large or deeply
/// nested — makes the classifier work without bound.
final class ExecBudget {
    private(set) var words: Int
    private(set) var commands: Int
    private(set) var bytes: Int

    init(words: Int, commands: Int, bytes: Int) {
        self.words = words
        self.commands = commands
        self.bytes = bytes
    }

    /// For bytes copied by expansions, which can multiply the input (`$1$1$1…`).
    func spendBytes(_ n: Int) -> Bool {
        bytes -= n
        return bytes >= 0
    }

    func spendWords(_ n: Int) -> Bool {
        words -= n
        return words >= 0
    }

    func spendCommand() -> Bool {
        commands -= 1
        return commands >= 0
    }
}

struct ShellLexer {
    private let input: [UInt8]
    private let home: [UInt8]
    /// `$0`, `$1`, … when known (`sh -c SCRIPT ARG0 ARG1…`); nil when only the running shell knows.
    private let parameters: [CommandWord]?
    /// Their bytes and separators, what expanding `$@` costs.
    private let parametersSize: Int
    /// Only blanks separate words: how `env -S` splits its string.
    private let wordsOnly: Bool
    private let budget: ExecBudget
    private var i = 0

    init(_ input: [UInt8], home: [UInt8], parameters: [CommandWord]?, wordsOnly: Bool = false, budget: ExecBudget) {
        self.input = input
        self.home = home
        self.parameters = parameters
        self.parametersSize = parameters.map { $0.reduce($0.count) { $0 + $1.bytes.count } } ?? 0
        self.wordsOnly = wordsOnly
        self.budget = budget
    }

    // MARK: - Commands

    private enum Redirect {
        case file
        case heredoc(stripTabs: Bool)
        case hereString
    }

    mutating func parse() -> ShellScript {
        var script = ShellScript()
        var current = ShellScript.Command()
        var redirect: Redirect?
        var heredocs: [(delimiter: [UInt8], stripTabs: Bool, command: Int)] = []
        var skipWords = 0
        var pipedFrom: Int?

        func finish(piped: Bool = false) {
            let keep = !current.words.isEmpty || !current.assignments.isEmpty || !current.nested.isEmpty
                || current.input != nil || current.isReferenced
            if keep {
                current.pipedFrom = pipedFrom
                script.commands.append(current)
            }
            pipedFrom = piped && keep ? script.commands.count - 1 : nil
            current = ShellScript.Command()
            skipWords = 0
        }

        while i < input.count {
            let c = input[i]
            if c == UInt8(ascii: "\\") && next == UInt8(ascii: "\n") {
                i += 2
                continue
            }
            if isBlank(c) || (wordsOnly && c == newline) {
                i += 1
                continue
            }
            if !wordsOnly {
                if c == UInt8(ascii: "#") {
                    while i < input.count && input[i] != newline { i += 1 }
                    continue
                }
                if c == newline {
                    i += 1
                    finish()
                    readHeredocBodies(heredocs, into: &script)
                    heredocs = []
                    continue
                }
                if (c == UInt8(ascii: "<") || c == UInt8(ascii: ">")) && next == UInt8(ascii: "(") {
                    i += 2
                    let body = readBalanced()
                    current.nested.append(body)
                    if redirect == nil && !current.isHeader {
                        current.words.append(CommandWord(Array("\(Character(Unicode.Scalar(c)))(…)".utf8), isUnknown: true))
                    }
                    redirect = nil
                    continue
                }
                if let op = readOperator() {
                    switch op {
                    case "|", "|&": finish(piped: true)
                    case "<<", "<<-": redirect = .heredoc(stripTabs: op == "<<-")
                    case "<<<": redirect = .hereString
                    case "<", ">", ">>", "<&", ">&", "<>", ">|", "&>", "&>>": redirect = .file
                    default: finish()
                    }
                    continue
                }
            }

            let word = readWord()
            current.nested += word.nested
            guard budget.spendWords(max(word.words.count, 1)) else {
                script.exhausted = true
                return script
            }
            // `2>file`: the digits name a file descriptor, not an argument.
            if word.isLiteral && !word.text.isEmpty && word.text.allSatisfy(isDigit) && i < input.count
                && (input[i] == UInt8(ascii: "<") || input[i] == UInt8(ascii: ">")) && !wordsOnly
            {
                continue
            }
            if let r = redirect {
                redirect = nil
                switch r {
                case .file: break
                case .heredoc(let stripTabs):
                    heredocs.append((word.text, stripTabs, script.commands.count))
                    current.isReferenced = true
                case .hereString:
                    current.input = (current.input ?? []) + word.text + [newline]
                }
                continue
            }
            if current.isHeader { continue }
            if current.words.isEmpty && !wordsOnly {
                if skipWords > 0 {
                    skipWords -= 1
                    continue
                }
                if word.isLiteral {
                    if skippedReservedWords.contains(word.text) { continue }
                    if headerWords.contains(word.text) {
                        current.isHeader = true
                        continue
                    }
                    if word.text == Array("function".utf8) {
                        skipWords = 1
                        continue
                    }
                }
                if word.isAssignment {
                    current.assignments.append(word.text)
                    continue
                }
            }
            current.words += word.words
        }
        finish()
        return script
    }

    /// After a newline: the bodies of the heredocs opened on the line before it.
    private mutating func readHeredocBodies(_ heredocs: [(delimiter: [UInt8], stripTabs: Bool, command: Int)], into script: inout ShellScript) {
        for heredoc in heredocs {
            var body: [UInt8] = []
            while i < input.count {
                let end = input[i...].firstIndex(of: newline) ?? input.count
                var line = input[i..<end]
                i = min(end + 1, input.count)
                if heredoc.stripTabs { line = line.drop { $0 == UInt8(ascii: "\t") } }
                if line.elementsEqual(heredoc.delimiter) { break }
                body += line + [newline]
            }
            if heredoc.command < script.commands.count {
                script.commands[heredoc.command].input = (script.commands[heredoc.command].input ?? []) + body
            }
        }
    }

    private static let operators: [String] = [
        "<<<", "<<-", "&>>", ";;&", "<<", ">>", "<&", ">&", "<>", ">|", "&&", "||", ";;", ";&", "|&", "&>",
        "<", ">", "|", "&", ";", "(", ")",
    ]

    private mutating func readOperator() -> String? {
        for op in Self.operators where input[i...].starts(with: op.utf8) {
            i += op.utf8.count
            return op
        }
        return nil
    }

    // MARK: - Words

    private struct Word {
        /// Usually one; `"$@"` expands to one per parameter.
        var words: [CommandWord]
        /// The word's bytes after quote removal (for delimiters, reserved words, assignments).
        var text: [UInt8]
        /// No quoting and no expansion anywhere in it.
        var isLiteral: Bool
        /// `NAME=…` with NAME unquoted.
        var isAssignment: Bool
        var nested: [[UInt8]]
    }

    /// Accumulates one word.
    private struct Builder {
        var bytes: [UInt8] = []
        var isUnknown = false
        var globStart: Int?
        /// How many leading bytes came from unquoted, unexpanded characters.
        var literalRun = 0
        var literalOpen = true
        var nested: [[UInt8]] = []

        mutating func literal(_ c: UInt8) {
            bytes.append(c)
            if literalOpen { literalRun += 1 }
        }

        mutating func quoted(_ more: some Sequence<UInt8>) {
            bytes += more
            literalOpen = false
        }

        mutating func unknown(_ text: some Sequence<UInt8>) {
            isUnknown = true
            quoted(text)
        }
    }

    private mutating func readWord() -> Word {
        if let all = readWholeWordParameters() { return all }
        var word = Builder()
        let start = i
        while i < input.count && !endsWord(input[i]) {
            let c = input[i]
            switch c {
            case UInt8(ascii: "\\"):
                if next == newline {
                    i += 2
                } else if i + 1 < input.count {
                    word.quoted([input[i + 1]])
                    i += 2
                } else {
                    word.literal(c)
                    i += 1
                }
            case UInt8(ascii: "'"):
                i += 1
                let end = input[i...].firstIndex(of: c) ?? input.count
                word.quoted(input[i..<end])
                i = min(end + 1, input.count)
            case UInt8(ascii: "\""):
                i += 1
                readDoubleQuoted(into: &word)
            case UInt8(ascii: "$"):
                readDollar(into: &word, quoted: false)
            case UInt8(ascii: "`"):
                readBackquoted(into: &word)
            case UInt8(ascii: "*"), UInt8(ascii: "?"), UInt8(ascii: "["):
                if word.globStart == nil { word.globStart = word.bytes.count }
                word.literal(c)
                i += 1
            case UInt8(ascii: "~") where i == start && !wordsOnly:
                i += 1
                if i >= input.count || input[i] == UInt8(ascii: "/") || endsWord(input[i]) {
                    word.quoted(home)
                } else {
                    word.unknown([c])  // ~user, ~+, ~-
                }
            default:
                word.literal(c)
                i += 1
            }
        }
        let isLiteral = word.literalOpen && !word.isUnknown
        var isAssignment = false
        if let eq = word.bytes.firstIndex(of: UInt8(ascii: "=")), eq > 0, eq < word.literalRun {
            isAssignment = isName(word.bytes[..<eq])
        }
        return Word(
            words: [CommandWord(word.bytes, isUnknown: word.isUnknown, globStart: word.globStart)],
            text: word.bytes, isLiteral: isLiteral, isAssignment: isAssignment, nested: word.nested)
    }

    /// `"$@"`, `$@` or `$*` as a whole word: one word per parameter from `$1`. (`"$*"` is one
    /// word, joined with spaces, like `$1` is: see `expandParameter`.)
    private mutating func readWholeWordParameters() -> Word? {
        for form in ["\"$@\"", "$@", "$*"] {
            let end = i + form.utf8.count
            guard input[i...].starts(with: form.utf8), end >= input.count || endsWord(input[end]) else { continue }
            i = end
            var words = [CommandWord(Array(form.utf8), isUnknown: true)]
            if let parameters, budget.spendBytes(parametersSize) {
                words = Array(parameters.dropFirst())
            }
            return Word(words: words, text: Array(form.utf8), isLiteral: false, isAssignment: false, nested: [])
        }
        return nil
    }

    private mutating func readDoubleQuoted(into word: inout Builder) {
        word.literalOpen = false
        while i < input.count && input[i] != UInt8(ascii: "\"") {
            let c = input[i]
            if c == UInt8(ascii: "\\"), let n = next, Array("$`\"\\\n".utf8).contains(n) {
                if n != newline { word.quoted([n]) }
                i += 2
            } else if c == UInt8(ascii: "$") {
                readDollar(into: &word, quoted: true)
            } else if c == UInt8(ascii: "`") {
                readBackquoted(into: &word)
            } else {
                word.quoted([c])
                i += 1
            }
        }
        i = min(i + 1, input.count)
    }

    private mutating func readDollar(into word: inout Builder, quoted: Bool) {
        let start = i
        i += 1
        guard let c = input[safe: i] else {
            word.literal(UInt8(ascii: "$"))
            return
        }
        switch c {
        case UInt8(ascii: "'") where !quoted:
            i += 1
            word.quoted(readANSIC())
        case UInt8(ascii: "\"") where !quoted:
            i += 1
            readDoubleQuoted(into: &word)
        case UInt8(ascii: "("):
            // `$((…))` arithmetic too: read as a script it is harmless, and may hold a `$(…)`.
            i += 1
            let body = readBalanced()
            word.nested.append(body)
            word.unknown(input[start..<i])
        case UInt8(ascii: "{"):
            i += 1
            let bodyStart = i
            var depth = 1
            while i < input.count {
                if input[i] == UInt8(ascii: "\\") { i += 2; continue }
                if input[i] == UInt8(ascii: "{") { depth += 1 }
                if input[i] == UInt8(ascii: "}") {
                    depth -= 1
                    if depth == 0 { break }
                }
                i += 1
            }
            let body = Array(input[bodyStart..<min(i, input.count)])
            i = min(i + 1, input.count)
            if body.contains(UInt8(ascii: "`")) || body.indices.contains(where: { body[$0] == UInt8(ascii: "$") && body[safe: $0 + 1] == UInt8(ascii: "(") }) {
                word.nested.append(body)
            }
            expandParameter(body, source: input[start..<i], into: &word)
        case _ where isDigit(c) || c == UInt8(ascii: "@") || c == UInt8(ascii: "*"):
            i += 1
            expandParameter([c], source: input[start..<i], into: &word)
        case _ where isNameStart(c):
            while i < input.count && isNameByte(input[i]) { i += 1 }
            expandParameter(Array(input[(start + 1)..<i]), source: input[start..<i], into: &word)
        case UInt8(ascii: "#"), UInt8(ascii: "?"), UInt8(ascii: "$"), UInt8(ascii: "!"), UInt8(ascii: "-"):
            i += 1
            word.unknown(input[start..<i])
        default:
            word.literal(UInt8(ascii: "$"))
        }
    }

    /// `$NAME`, `${NAME}`, `$1`, `$@`: HOME and known positional parameters have values; the
    /// rest are unknown.
    private func expandParameter(_ name: [UInt8], source: ArraySlice<UInt8>, into word: inout Builder) {
        if name == Array("HOME".utf8) {
            word.quoted(home)
        } else if let parameters, !name.isEmpty, name.allSatisfy(isDigit), let n = Int(String(decoding: name.prefix(9), as: UTF8.self)) {
            if n < parameters.count {
                guard budget.spendBytes(parameters[n].bytes.count) else { return word.unknown(source) }
                word.quoted(parameters[n].bytes)
                if parameters[n].isUnknown { word.isUnknown = true }
            } else {
                word.literalOpen = false
            }
        } else if let parameters, name == [UInt8(ascii: "@")] || name == [UInt8(ascii: "*")] {
            guard budget.spendBytes(parametersSize) else { return word.unknown(source) }
            word.quoted(Array(parameters.dropFirst().map(\.bytes).joined(separator: [UInt8(ascii: " ")])))
            if parameters.contains(where: \.isUnknown) { word.isUnknown = true }
        } else {
            word.unknown(source)
        }
    }

    private mutating func readBackquoted(into word: inout Builder) {
        let start = i
        i += 1
        var body: [UInt8] = []
        while i < input.count && input[i] != UInt8(ascii: "`") {
            if input[i] == UInt8(ascii: "\\"), let n = next, Array("`\\$".utf8).contains(n) {
                body.append(n)
                i += 2
            } else {
                body.append(input[i])
                i += 1
            }
        }
        i = min(i + 1, input.count)
        word.nested.append(body)
        word.unknown(input[start..<i])
    }

    /// From just after an opening `(` to its matching `)`, skipping quoted text; the body.
    private mutating func readBalanced() -> [UInt8] {
        let start = i
        var depth = 1
        while i < input.count {
            switch input[i] {
            case UInt8(ascii: "\\"):
                i += 1
            case UInt8(ascii: "'"):
                i = (input[(i + 1)...].firstIndex(of: UInt8(ascii: "'")) ?? input.count)
            case UInt8(ascii: "\""):
                i += 1
                while i < input.count && input[i] != UInt8(ascii: "\"") {
                    if input[i] == UInt8(ascii: "\\") { i += 1 }
                    i += 1
                }
            case UInt8(ascii: "("):
                depth += 1
            case UInt8(ascii: ")"):
                depth -= 1
                if depth == 0 {
                    defer { i += 1 }
                    return Array(input[start..<i])
                }
            default:
                break
            }
            i += 1
        }
        i = input.count
        return Array(input[start...])
    }

    /// The body of `$'…'`, its backslash escapes decoded.
    private mutating func readANSIC() -> [UInt8] {
        var out: [UInt8] = []
        while i < input.count && input[i] != UInt8(ascii: "'") {
            guard input[i] == UInt8(ascii: "\\"), let e = next else {
                out.append(input[i])
                i += 1
                continue
            }
            i += 2
            func number(radix: Int, maxDigits: Int, first: UInt8? = nil) -> UInt32 {
                var digits = first.map { [$0] } ?? []
                while digits.count < maxDigits, let d = input[safe: i], Int(String(Unicode.Scalar(d)), radix: radix) != nil {
                    digits.append(d)
                    i += 1
                }
                return UInt32(String(decoding: digits, as: UTF8.self), radix: radix) ?? 0
            }
            switch e {
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "a"): out.append(0x07)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "e"), UInt8(ascii: "E"): out.append(0x1B)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "v"): out.append(0x0B)
            case UInt8(ascii: "x"): out.append(UInt8(truncatingIfNeeded: number(radix: 16, maxDigits: 2)))
            case UInt8(ascii: "0")...UInt8(ascii: "7"): out.append(UInt8(truncatingIfNeeded: number(radix: 8, maxDigits: 3, first: e)))
            case UInt8(ascii: "u"), UInt8(ascii: "U"):
                let value = number(radix: 16, maxDigits: e == UInt8(ascii: "u") ? 4 : 8)
                out += Array(String(Character(Unicode.Scalar(value) ?? "\u{FFFD}")).utf8)
            case UInt8(ascii: "c"):
                if let c = input[safe: i] {
                    out.append(c & 0x1F)
                    i += 1
                }
            case UInt8(ascii: "\\"), UInt8(ascii: "'"), UInt8(ascii: "\""), UInt8(ascii: "?"): out.append(e)
            default: out += [UInt8(ascii: "\\"), e]
            }
        }
        i = min(i + 1, input.count)
        return out
    }

    // MARK: - Bytes

    private var next: UInt8? { input[safe: i + 1] }

    private func endsWord(_ c: UInt8) -> Bool {
        if isBlank(c) || c == newline { return true }
        return !wordsOnly && Array("|&;<>()".utf8).contains(c)
    }
}

/// Reserved words that only introduce or close what follows; the command after them is what runs.
private let skippedReservedWords: Set<[UInt8]> = Set(
    ["!", "{", "}", "if", "then", "else", "elif", "fi", "do", "done", "while", "until", "esac"].map { Array($0.utf8) })
/// Reserved words whose command is a header that runs nothing (`for x in a b`, `case $x in`).
private let headerWords: Set<[UInt8]> = Set(["for", "case", "select"].map { Array($0.utf8) })

private let newline = UInt8(ascii: "\n")
private func isBlank(_ c: UInt8) -> Bool { c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") }
private func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }
private func isNameStart(_ c: UInt8) -> Bool {
    (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z")) || c == UInt8(ascii: "_")
}
private func isNameByte(_ c: UInt8) -> Bool { isNameStart(c) || isDigit(c) }

/// Whether `bytes` is a shell variable name.
func isName(_ bytes: some Collection<UInt8>) -> Bool {
    guard let first = bytes.first, isNameStart(first) else { return false }
    return bytes.allSatisfy(isNameByte)
}

extension Array {
    subscript(safe index: Int) -> Element? { index >= 0 && index < count ? self[index] : nil }
}
