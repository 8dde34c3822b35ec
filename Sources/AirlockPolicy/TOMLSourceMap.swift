/// What the loader needs to know about a profile's text that TOMLKit's API does not say: on
/// which line each table and key is written (for error messages), and which strings escape a NUL
/// (TOMLKit hands strings over as C strings, where `"\u0000"` would silently cut a path short).
///
/// A line-by-line scan, enough for the TOML people write by hand: table headers, dotted and
/// quoted keys, and strings (so that a `=` or `#` inside a multi-line string is not mistaken for
/// anything). It reads text that TOMLKit has already accepted, so it need not diagnose anything.
struct TOMLSourceMap {
    /// One step of a path into the document: a key, or the n-th table of an array of tables.
    enum Component: Hashable, Sendable {
        case key(String)
        case index(Int)
    }

    /// Each table header and key assignment, with its 1-based line and full path.
    private(set) var entries: [(line: Int, path: [Component])] = []
    /// The lines holding a string with an escaped NUL (`\u0000`, `\U00000000`).
    private(set) var nulEscapeLines: [Int] = []

    init(text: String) {
        var table: [Component] = []
        var arrayTableCounts: [[Component]: Int] = [:]
        var openMultiline: UInt8?  // the quote byte of a multi-line string still open
        for (offset, lineText) in text.utf8.split(separator: newline, omittingEmptySubsequences: false).enumerated() {
            let line = offset + 1
            let bytes = Array(lineText)
            if openMultiline == nil {
                var reader = KeyReader(bytes: bytes)
                switch reader.readStatement() {
                case .table(let keys):
                    table = keys.map(Component.key)
                    entries.append((line, table))
                case .arrayTable(let keys):
                    let name = keys.map(Component.key)
                    let index = arrayTableCounts[name, default: 0]
                    arrayTableCounts[name] = index + 1
                    table = name + [.index(index)]
                    entries.append((line, table))
                case .assignment(let keys):
                    entries.append((line, table + keys.map(Component.key)))
                case nil:
                    break
                }
            }
            if scanStrings(bytes, open: &openMultiline) { nulEscapeLines.append(line) }
        }
    }

    /// The line where `path` is written: that of the longest written prefix of `path` (its own
    /// assignment, else the inline table or section holding it), else that of the first section
    /// beneath it; nil if the text never mentions it.
    func line(of path: [Component]) -> Int? {
        var best: (line: Int, length: Int)?
        for entry in entries where entry.path.count <= path.count && path.starts(with: entry.path) {
            if entry.path.count > (best?.length ?? -1) { best = (entry.line, entry.path.count) }
        }
        if let best, best.length > 0 { return best.line }
        return entries.first { $0.path.starts(with: path) }?.line
    }

    /// `path` as a user writes it: `filesystem.hide`, `environment.set."MY VAR"`. Array indices
    /// are left out — the line says which table.
    static func dotted(_ path: [Component]) -> String {
        path.compactMap { component -> String? in
            guard case .key(let key) = component else { return nil }
            let bare = !key.isEmpty && key.utf8.allSatisfy(isBareKeyByte)
            return bare ? key : "\"" + key.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        }.joined(separator: ".")
    }

    /// Follows the strings on one line, carrying an unclosed multi-line string over to the next;
    /// returns whether one of them escapes a NUL.
    private func scanStrings(_ b: [UInt8], open: inout UInt8?) -> Bool {
        var sawNul = false
        var i = 0
        func triple(_ q: UInt8, at k: Int) -> Bool { k + 2 < b.count && b[k] == q && b[k + 1] == q && b[k + 2] == q }
        // Reads the body of a string from `i` to its closing quote(s); false if the line ends first.
        func body(quote q: UInt8, multiline: Bool) -> Bool {
            while i < b.count {
                if q == doubleQuote && b[i] == backslash {
                    if isNulEscape(b, at: i) { sawNul = true }
                    i += 2
                } else if multiline ? triple(q, at: i) : b[i] == q {
                    i += multiline ? 3 : 1
                    // Up to two more quotes just before the closing three belong to the string.
                    while multiline && i < b.count && b[i] == q { i += 1 }
                    return true
                } else {
                    i += 1
                }
            }
            return false
        }
        if let q = open {
            guard body(quote: q, multiline: true) else { return sawNul }
            open = nil
        }
        while i < b.count {
            let c = b[i]
            if c == hash { break }
            if c == doubleQuote || c == singleQuote {
                let multiline = triple(c, at: i)
                i += multiline ? 3 : 1
                if !body(quote: c, multiline: multiline) {
                    if multiline { open = c }
                    break
                }
            } else {
                i += 1
            }
        }
        return sawNul
    }

    private func isNulEscape(_ b: [UInt8], at i: Int) -> Bool {
        guard i + 1 < b.count else { return false }
        let digits = b[i + 1] == UInt8(ascii: "u") ? 4 : b[i + 1] == UInt8(ascii: "U") ? 8 : 0
        guard digits > 0, i + 1 + digits < b.count else { return false }
        return b[(i + 2)...(i + 1 + digits)].allSatisfy { $0 == UInt8(ascii: "0") }
    }
}

private let newline = UInt8(ascii: "\n")
private let hash = UInt8(ascii: "#")
private let doubleQuote = UInt8(ascii: "\"")
private let singleQuote = UInt8(ascii: "'")
private let backslash = UInt8(ascii: "\\")

private func isBareKeyByte(_ c: UInt8) -> Bool {
    (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
        || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || c == UInt8(ascii: "_") || c == UInt8(ascii: "-")
}

/// Reads what a line starts with: a `[table]` or `[[array]]` header, or a `key =`.
private struct KeyReader {
    enum Statement {
        case table([String])
        case arrayTable([String])
        case assignment([String])
    }

    let bytes: [UInt8]
    var i = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    mutating func readStatement() -> Statement? {
        skipSpace()
        if accept("[") {
            let array = accept("[")
            guard let keys = readDottedKey(), accept("]"), !array || accept("]") else { return nil }
            return array ? .arrayTable(keys) : .table(keys)
        }
        guard let keys = readDottedKey(), accept("=") else { return nil }
        return .assignment(keys)
    }

    private mutating func readDottedKey() -> [String]? {
        var keys: [String] = []
        repeat {
            skipSpace()
            guard let key = readSimpleKey() else { return nil }
            keys.append(key)
            skipSpace()
        } while accept(".")
        return keys
    }

    private mutating func readSimpleKey() -> String? {
        if accept("'") {
            let start = i
            while i < bytes.count && bytes[i] != singleQuote { i += 1 }
            guard i < bytes.count else { return nil }
            defer { i += 1 }
            return String(decoding: bytes[start..<i], as: UTF8.self)
        }
        if accept("\"") { return readBasicKey() }
        let start = i
        while i < bytes.count && isBareKeyByte(bytes[i]) { i += 1 }
        return i > start ? String(decoding: bytes[start..<i], as: UTF8.self) : nil
    }

    /// A "quoted" key with its escapes decoded, so it compares equal to the key TOMLKit reports.
    private mutating func readBasicKey() -> String? {
        var decoded: [UInt8] = []
        while i < bytes.count {
            let c = bytes[i]
            i += 1
            if c == doubleQuote { return String(decoding: decoded, as: UTF8.self) }
            guard c == backslash, i < bytes.count else {
                decoded.append(c)
                continue
            }
            let escape = bytes[i]
            i += 1
            switch escape {
            case UInt8(ascii: "n"): decoded.append(0x0A)
            case UInt8(ascii: "t"): decoded.append(0x09)
            case UInt8(ascii: "r"): decoded.append(0x0D)
            case UInt8(ascii: "b"): decoded.append(0x08)
            case UInt8(ascii: "f"): decoded.append(0x0C)
            case UInt8(ascii: "u"), UInt8(ascii: "U"):
                let count = escape == UInt8(ascii: "u") ? 4 : 8
                guard i + count <= bytes.count,
                    let value = UInt32(String(decoding: bytes[i..<(i + count)], as: UTF8.self), radix: 16),
                    let scalar = Unicode.Scalar(value)
                else { return nil }
                decoded += Array(String(Character(scalar)).utf8)
                i += count
            default: decoded.append(escape)
            }
        }
        return nil
    }

    private mutating func skipSpace() {
        while i < bytes.count && (bytes[i] == UInt8(ascii: " ") || bytes[i] == UInt8(ascii: "\t")) { i += 1 }
    }

    private mutating func accept(_ c: Unicode.Scalar) -> Bool {
        guard i < bytes.count && bytes[i] == UInt8(ascii: c) else { return false }
        i += 1
        return true
    }
}
