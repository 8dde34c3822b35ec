/// Shapes of TOML text that make the toml++ inside TOMLKit 0.6.0 abort the process (a failed
/// assertion, SIGABRT) instead of reporting a parse error; found by fuzzing. The loader refuses them
/// first, with the line, so bad input gets an error message and never a crash. Both checks
/// over-approximate a little (strings are not parsed); no sensible profile has these shapes.
public enum TOMLAbortShapes {
    /// Whether the text has a table header whose key starts with a character that is neither a
    /// bare-key character nor a quote (`[.a]`, `[ =x]`, `[[[1]]]`, `[é]`): the toml++ bundled with
    /// TOMLKit 0.6.0 then fails the assertion `is_bare_key_character(*cp) ||
    /// is_string_delimiter(*cp)` in `parser::parse_key()` and aborts the process (SIGABRT, exit
    /// 134) instead of reporting a parse error — in debug and release builds alike, since SwiftPM
    /// compiles CTOML with assertions on. Fixed upstream by marzer/tomlplusplus#301 (a check in
    /// `parse_table_header` before `parse_key`). Over-approximates (a `[` opening a line inside a
    /// multi-line array or string counts too): the fuzzer skips these and goes on exploring.
    public static func tableHeaderAbortLine(_ data: [UInt8]) -> Int? {
        func isKeyStart(_ c: UInt8) -> Bool {
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
                || c == UInt8(ascii: "_") || c == UInt8(ascii: "-") || c == UInt8(ascii: "\"") || c == UInt8(ascii: "'")
                || c == UInt8(ascii: "]")
        }
        func isBlank(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 }
        for (number, line) in data.split(separator: 0x0A, omittingEmptySubsequences: false).enumerated() {
            var i = line.startIndex
            while i < line.endIndex, isBlank(line[i]) { i += 1 }
            guard i < line.endIndex, line[i] == UInt8(ascii: "[") else { continue }
            i += 1
            if i < line.endIndex, line[i] == UInt8(ascii: "[") { i += 1 }
            while i < line.endIndex, isBlank(line[i]) { i += 1 }
            // A header cut by the end of the line (`[` then a newline) reaches parse_key too.
            guard i < line.endIndex, isKeyStart(line[i]) else { return number + 1 }
        }
        return nil
    }

    /// Whether a `}` stands where an array expects a value (`a = [}`, `a = [1, }`, `[\n}`): the same
    /// toml++ then fails `!is_value_terminator(*cp)` in `parser::parse_value()` and aborts. Looks
    /// at the bytes before each `}` skipping blanks and newlines, once as written and once with
    /// `#` comments removed; over-approximates (strings are not parsed).
    public static func arrayValueAbortLine(_ data: [UInt8]) -> Int? {
        func check(_ bytes: [UInt8]) -> Int? {
            var last: UInt8 = 0
            var line = 1
            for c in bytes {
                if c == 0x0A { line += 1 }
                if c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D { continue }
                if c == UInt8(ascii: "}") && (last == UInt8(ascii: "[") || last == UInt8(ascii: ",")) { return line }
                last = c
            }
            return nil
        }
        guard data.contains(UInt8(ascii: "}")) else { return nil }
        if let line = check(data) { return line }
        var stripped: [UInt8] = []
        var inComment = false
        for c in data {
            if c == UInt8(ascii: "#") { inComment = true }
            if c == 0x0A { inComment = false }
            if !inComment || c == 0x0A { stripped.append(c) }
        }
        return check(stripped)
    }
}
