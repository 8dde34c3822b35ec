/// An entry of a rule's `sql`: the words a destructive statement starts with, such as
/// `"DROP DATABASE|SCHEMA|TABLE"` or `"DELETE FROM * !WHERE"`.
///
/// Words are separated by spaces and compared case-insensitively (ASCII); each is a glob with
/// `|` alternatives. A word written `!WORD` is not part of the start: it says that no later word
/// of the statement matches WORD. This is a reading of statement shapes, not an SQL parser: it is
/// meant to catch `psql -c 'DROP TABLE users'`, not a determined attempt to hide one.
struct SQLPattern: Sendable {
    struct Step: Sendable {
        let negated: Bool
        let alternatives: [[UInt8]]

        func matches(_ word: [UInt8]) -> Bool { alternatives.contains { wildcardMatches($0, word) } }
    }

    let steps: [Step]

    init(_ text: String) {
        steps = text.split(separator: " ").map { part in
            let negated = part.hasPrefix("!")
            let body = lowercasedASCII(Array((negated ? part.dropFirst() : part[...]).utf8))
            return Step(negated: negated, alternatives: body.split(separator: UInt8(ascii: "|"), omittingEmptySubsequences: false).map(Array.init))
        }
    }

    func matches(_ statement: SQLStatement) -> Bool {
        let start = steps.filter { !$0.negated }
        guard !start.isEmpty, statement.words.count >= start.count else { return false }
        for (step, word) in zip(start, statement.words) where !step.matches(word) { return false }
        let rest = statement.words.dropFirst(start.count)
        return !steps.contains { step in step.negated && rest.contains(where: step.matches) }
    }

    static func problem(_ text: String) -> String? {
        let parts = text.split(separator: " ")
        guard let first = parts.first else { return "an SQL pattern needs at least one word" }
        if first.hasPrefix("!") { return "\"\(text)\" starts with a negated word; say what the statement starts with first" }
        for part in parts {
            if let problem = WordPattern.problem(String(part.hasPrefix("!") ? part.dropFirst() : part[...])) { return problem }
            if part == "!" { return "\"!\" must be followed by a word" }
        }
        return nil
    }
}

/// One statement of a text: its words, lowercased, and the text for messages.
struct SQLStatement: Sendable {
    var words: [[UInt8]] = []
    var text: ArraySlice<UInt8> = []
}

/// Splits `text` into statements at `;`, skipping `--` and `/* */` comments. A `'string'`
/// becomes the one-byte word `'`, so that no keyword pattern matches inside it; `"quoted"` and
/// `` `quoted` `` identifiers become their contents. `(`, `)`, `,` and `=` are words of their own.
func sqlStatements(_ text: [UInt8]) -> [SQLStatement] {
    var statements: [SQLStatement] = []
    var current = SQLStatement()
    var start: Int?
    var i = 0
    func finish(at end: Int) {
        if let s = start, !current.words.isEmpty {
            current.text = text[s..<end]
            statements.append(current)
        }
        current = SQLStatement()
        start = nil
    }
    func word(_ bytes: some Collection<UInt8>, from: Int) {
        if start == nil { start = from }
        current.words.append(lowercasedASCII(Array(bytes)))
    }
    while i < text.count {
        let c = text[i]
        let next: UInt8? = i + 1 < text.count ? text[i + 1] : nil
        switch c {
        case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"), 0x0B, 0x0C:
            i += 1
        case UInt8(ascii: "-") where next == UInt8(ascii: "-"):
            while i < text.count && text[i] != UInt8(ascii: "\n") { i += 1 }
        case UInt8(ascii: "/") where next == UInt8(ascii: "*"):
            i += 2
            while i < text.count && !(text[i] == UInt8(ascii: "*") && i + 1 < text.count && text[i + 1] == UInt8(ascii: "/")) { i += 1 }
            i += 2
        case UInt8(ascii: ";"):
            finish(at: i)
            i += 1
        case UInt8(ascii: "'"), UInt8(ascii: "\""), UInt8(ascii: "`"):
            let from = i
            i += 1
            let bodyStart = i
            while i < text.count {
                if text[i] == c {
                    // A doubled quote is an escaped quote inside the string.
                    if i + 1 < text.count && text[i + 1] == c { i += 2; continue }
                    break
                }
                i += 1
            }
            word(c == UInt8(ascii: "'") ? [c] : Array(text[bodyStart..<min(i, text.count)]), from: from)
            i += 1
        case UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: ","), UInt8(ascii: "="):
            word([c], from: i)
            i += 1
        default:
            let from = i
            while i < text.count && !sqlSeparators.contains(text[i]) { i += 1 }
            word(text[from..<i], from: from)
        }
    }
    finish(at: text.count)
    return statements
}

private let sqlSeparators: Set<UInt8> = Set(" \t\n\r;'\"`(),=".utf8).union([0x0B, 0x0C])

func lowercasedASCII(_ bytes: [UInt8]) -> [UInt8] {
    bytes.map { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") ? $0 + 32 : $0 }
}
