/// OpenSSH's pattern lists (ssh_config(5) PATTERNS), as allowed_signers uses them for principals
/// and `namespaces=`: comma-separated globs where `*` matches any run of characters and `?` one
/// character; a pattern starting with `!` excludes, and one matching exclusion defeats any match.
struct PatternList: Equatable, Sendable {
    private let patterns: [(negated: Bool, glob: [Character])]

    init(_ list: String) {
        patterns = list.split(separator: ",", omittingEmptySubsequences: true).map { item in
            item.hasPrefix("!") ? (true, Array(item.dropFirst())) : (false, Array(item))
        }
    }

    static func == (a: PatternList, b: PatternList) -> Bool {
        a.patterns.elementsEqual(b.patterns) { $0.negated == $1.negated && $0.glob == $1.glob }
    }

    /// The exact patterns, for showing which principals a key stands for.
    var items: [String] { patterns.map { ($0.negated ? "!" : "") + String($0.glob) } }

    func matches(_ name: String) -> Bool {
        let text = Array(name)
        var found = false
        for pattern in patterns where Self.glob(pattern.glob[...], text[...]) {
            if pattern.negated { return false }
            found = true
        }
        return found
    }

    /// Iterative glob match with single-star backtracking: linear in practice, never exponential.
    private static func glob(_ pattern: ArraySlice<Character>, _ text: ArraySlice<Character>) -> Bool {
        var p = pattern.startIndex, t = text.startIndex
        var star: (p: Int, t: Int)?
        while t < text.endIndex {
            if p < pattern.endIndex, pattern[p] == "?" || pattern[p] == text[t] {
                p += 1; t += 1
            } else if p < pattern.endIndex, pattern[p] == "*" {
                star = (p, t); p += 1
            } else if let s = star {
                p = s.p + 1; t = s.t + 1; star = (s.p, s.t + 1)
            } else {
                return false
            }
        }
        while p < pattern.endIndex, pattern[p] == "*" { p += 1 }
        return p == pattern.endIndex
    }
}
