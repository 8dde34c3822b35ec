import AirlockPolicy
import Foundation

/// Profile text through the real loader: the bytes become a file (the loader's only entry point
/// reads files; that is also where the NUL and UTF-8 checks live) in a scratch directory, looked
/// up with `profiles/` as the search path, so `extends = "default"` builds on the shipped one.
public enum ProfileFuzz {
    static let loader = ProfileLoader(searchPaths: [FuzzPaths.profiles])
    static let file = FuzzPaths.scratch + "/input.toml"
    static let printed = FuzzPaths.scratch + "/printed.toml"

    static func run(_ data: [UInt8]) -> [String] {
        // Known, not Airlock's to fix here: see `hitsTableHeaderAssertion`.
        if hitsTableHeaderAssertion(data) || hitsArrayValueAssertion(data) { return [] }
        writeFile(file, data)
        let profile: Profile
        do {
            profile = try loader.load(file)
        } catch {
            // Every failure must be a ProfileError naming the file (typed throws say so); a
            // message that names no file or no reason would leave the operator guessing.
            let text = "\(error)"
            return text.isEmpty ? ["a ProfileError with an empty description"] : []
        }
        var broken: [String] = []

        // Documented: toTOML() loads back to an equal profile (apart from name and sources).
        let toml = profile.toTOML()
        writeFile(printed, Array(toml.utf8))
        do {
            var again = try loader.load(printed)
            again.name = profile.name
            again.sources = profile.sources
            if again != profile {
                broken.append("toTOML() does not load back to an equal profile:\n\(toml)\n-- loads back as --\n\(again.toTOML())")
            }
        } catch {
            broken.append("toTOML() output does not load: \(error)\n\(toml)")
        }

        // A loaded profile must be usable: its protect rules resolve and its exec rules compile.
        do {
            let rules = try resolvedProtectRules(profile: profile, workspace: "/work/ws", home: "/home/agent")
            for rule in rules {
                _ = rule.matches(Array("/work/ws/.git".utf8), operation: .delete)
                _ = rule.matches(Array("/work/ws/a/prod.tfstate".utf8), operation: .write)
            }
            let classifier = ExecClassifier(profile: profile)
            let context = ExecContext(workspace: Array("/work/ws".utf8), cwd: Array("/work/ws".utf8),
                                      home: Array("/home/agent".utf8), protectedRules: rules)
            for line in [["rm", "-rf", "/work/ws"], ["terraform", "destroy"], ["sh", "-c", "git push --force"]] {
                _ = classifier.classify(argv: line.map { Array($0.utf8) }, environment: [], context: context)
            }
        } catch {
            broken.append("a loaded profile's protect rules do not resolve: \(error)")
        }
        return broken
    }

    /// Whether the text has a table header whose key starts with a character that is neither a
    /// bare-key character nor a quote (`[.a]`, `[ =x]`, `[[[1]]]`, `[é]`): the toml++ bundled with
    /// TOMLKit 0.6.0 then fails the assertion `is_bare_key_character(*cp) ||
    /// is_string_delimiter(*cp)` in `parser::parse_key()` and aborts the process (SIGABRT, exit
    /// 134) instead of reporting a parse error — in debug and release builds alike, since SwiftPM
    /// compiles CTOML with assertions on. Fixed upstream by marzer/tomlplusplus#301 (a check in
    /// `parse_table_header` before `parse_key`). Over-approximates (a `[` opening a line inside a
    /// multi-line array or string counts too): the fuzzer skips these and goes on exploring.
    public static func hitsTableHeaderAssertion(_ data: [UInt8]) -> Bool {
        func isKeyStart(_ c: UInt8) -> Bool {
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
                || c == UInt8(ascii: "_") || c == UInt8(ascii: "-") || c == UInt8(ascii: "\"") || c == UInt8(ascii: "'")
                || c == UInt8(ascii: "]")
        }
        func isBlank(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 }
        for line in data.split(separator: 0x0A, omittingEmptySubsequences: true) {
            var i = line.startIndex
            while i < line.endIndex, isBlank(line[i]) { i += 1 }
            guard i < line.endIndex, line[i] == UInt8(ascii: "[") else { continue }
            i += 1
            if i < line.endIndex, line[i] == UInt8(ascii: "[") { i += 1 }
            while i < line.endIndex, isBlank(line[i]) { i += 1 }
            // A header cut by the end of the line (`[` then a newline) reaches parse_key too.
            guard i < line.endIndex else { return true }
            if !isKeyStart(line[i]) { return true }
        }
        return false
    }

    /// Whether a `}` stands where an array expects a value (`a = [}`, `a = [1, }`, `[\n}`): the same
    /// toml++ then fails `!is_value_terminator(*cp)` in `parser::parse_value()` and aborts. Looks
    /// at the bytes before each `}` skipping blanks and newlines, once as written and once with
    /// `#` comments removed; over-approximates (strings are not parsed).
    public static func hitsArrayValueAssertion(_ data: [UInt8]) -> Bool {
        func check(_ bytes: [UInt8]) -> Bool {
            var last: UInt8 = 0
            for c in bytes {
                if c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D { continue }
                if c == UInt8(ascii: "}") && (last == UInt8(ascii: "[") || last == UInt8(ascii: ",")) { return true }
                last = c
            }
            return false
        }
        guard data.contains(UInt8(ascii: "}")) else { return false }
        if check(data) { return true }
        var stripped: [UInt8] = []
        var inComment = false
        for c in data {
            if c == UInt8(ascii: "#") { inComment = true }
            if c == 0x0A { inComment = false }
            if !inComment { stripped.append(c) }
        }
        return check(stripped)
    }
}
