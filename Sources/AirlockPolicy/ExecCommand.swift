/// One word of a command line, as bytes, with what a shell script leaves unknown about it.
struct CommandWord: Sendable, Equatable {
    /// The word's bytes; for a word with an unknown expansion, its text as written (`$dir`).
    var bytes: [UInt8]
    /// The word holds an expansion only the running shell knows (`$dir`, `$(pwd)`).
    var isUnknown = false
    /// Where the first unquoted glob character is: the shell will expand the word to names.
    var globStart: Int? = nil

    init(_ bytes: [UInt8], isUnknown: Bool = false, globStart: Int? = nil) {
        self.bytes = bytes
        self.isUnknown = isUnknown
        self.globStart = globStart
    }
}

/// A simple command as the classifier sees it once wrappers are looked through: its words and
/// the circumstances that decide what they mean.
struct SimpleCommand: Sendable {
    var words: [CommandWord]
    /// The executable the kernel was asked to run, when known (only for the command line itself).
    var executable: [UInt8]?
    /// `NAME=VALUE` entries, only those some rule's `env` could match.
    var environment: [[UInt8]]
    /// nil once a `cd` to a place only the running shell knows has been seen.
    var cwd: [UInt8]?
    /// What the command reads on its standard input, where a script shows it.
    var stdin: [UInt8]?
    /// More arguments will be appended that cannot be seen (xargs reads them from its input).
    var unknownArguments = false
    /// The wrappers looked through to reach this command, outermost first.
    var via: [String]

    /// The names the command is known by: its first word's basename and, for the command line
    /// itself, the basename of the executable actually run (argv[0] is the caller's choice).
    var names: [[UInt8]] {
        var names: [[UInt8]] = []
        if let first = words.first, !first.isUnknown { names.append(basename(first.bytes)) }
        if let executable, !names.contains(basename(executable)) { names.append(basename(executable)) }
        return names
    }

    /// The arguments after the command name, split into options and positional arguments.
    var arguments: [ArgumentToken] { ArgumentToken.split(words.dropFirst()) }

    /// A copy running `words` instead, reached through `wrapper`.
    func running(_ words: some Collection<CommandWord>, through wrapper: String) -> SimpleCommand {
        var inner = self
        inner.words = Array(words)
        inner.executable = nil
        inner.via.append(wrapper)
        return inner
    }
}

/// An argument with its role: an option (`-rf`, `--force=x`, the first `--`) or positional.
struct ArgumentToken: Sendable {
    let word: CommandWord
    let isOption: Bool

    /// Everything after the first `--` is positional; `-` alone is positional (standard input).
    static func split(_ words: some Collection<CommandWord>) -> [ArgumentToken] {
        var tokens: [ArgumentToken] = []
        var ended = false
        for word in words {
            let option = !ended && word.bytes.count >= 2 && word.bytes[0] == UInt8(ascii: "-")
            if option && word.bytes == Array("--".utf8) { ended = true }
            tokens.append(ArgumentToken(word: word, isOption: option))
        }
        return tokens
    }

    /// Whether the positional argument after this one may be this option's value: an option
    /// without an attached `=value`, other than `--`.
    var mayTakeNextAsValue: Bool {
        isOption && !word.bytes.contains(UInt8(ascii: "=")) && word.bytes != Array("--".utf8)
    }
}

/// The last `/`-separated component (the whole thing if there is no `/`).
func basename(_ path: [UInt8]) -> [UInt8] {
    guard let slash = path.lastIndex(of: UInt8(ascii: "/")) else { return path }
    return Array(path[(slash + 1)...])
}

/// Bytes for a person to read: left bare when they are plain, else quoted as a shell would read
/// them back, with `$'…'` and `\xNN` escapes for control characters and bytes that are not
/// UTF-8. Lossless, so two different arguments never look the same.
func displayWord(_ bytes: [UInt8]) -> String {
    let plain = !bytes.isEmpty && bytes.allSatisfy { b in
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || Array("-_./:=+,@%^".utf8).contains(b)
    }
    if plain { return String(decoding: bytes, as: UTF8.self) }
    guard let text = String(validating: bytes, as: UTF8.self), !text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
        return "$'" + escaped(bytes) + "'"
    }
    return "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
}

/// `$'…'` contents: valid UTF-8 kept, everything else as `\xNN`.
private func escaped(_ bytes: [UInt8]) -> String {
    var out = ""
    var i = 0
    while i < bytes.count {
        let b = bytes[i]
        let length = b < 0x80 ? 1 : b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC2 ? 2 : 0
        if length > 1, i + length <= bytes.count, let s = String(validating: bytes[i..<(i + length)], as: UTF8.self) {
            out += s
            i += length
            continue
        }
        switch b {
        case UInt8(ascii: "'"): out += "\\'"
        case UInt8(ascii: "\\"): out += "\\\\"
        case UInt8(ascii: "\n"): out += "\\n"
        case UInt8(ascii: "\t"): out += "\\t"
        case 0x20..<0x7F: out.unicodeScalars.append(Unicode.Scalar(b))
        default:
            let hex = String(b, radix: 16, uppercase: true)
            out += "\\x" + (hex.count == 1 ? "0" : "") + hex
        }
        i += 1
    }
    return out
}

/// A command line for a person to read.
func displayCommand(_ words: [[UInt8]]) -> String {
    words.map(displayWord).joined(separator: " ")
}
