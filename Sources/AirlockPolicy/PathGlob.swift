/// An absolute path pattern, matched against path bytes.
///
/// Syntax, one `/`-separated segment at a time:
/// - `*` matches any run of bytes within a segment (never a `/`), including none and including a
///   leading `.` — for protection, matching a dotfile too is the safe mistake;
/// - `?` matches exactly one byte (so one ASCII character; a multi-byte UTF-8 character needs
///   `*` or several `?`s — bytes are the only unit that exists for non-UTF-8 names);
/// - `**` as a whole segment matches any number of segments, including none: `/w/.git/**`
///   matches `/w/.git` and everything beneath it, `/w/**/.env` matches `/w/.env` too;
/// - every other byte matches itself. There is no escaping and no `[...]` class: `[` is literal.
///
/// Paths are compared as bytes, never as Swift Strings, so a name that is not valid UTF-8 cannot
/// be "repaired" into one that slips past a rule.
public struct PathGlob: Sendable, Hashable, CustomStringConvertible {
    enum Segment: Sendable, Hashable {
        /// `**`
        case anyDepth
        /// A segment matched with `*` and `?`.
        case wildcard([UInt8])
        /// A segment matched byte for byte (from a literal prefix such as the workspace path).
        case literal([UInt8])
    }

    let segments: [Segment]
    /// The pattern as bytes, for messages.
    public let pattern: [UInt8]

    /// Parses an absolute pattern.
    public init(_ pattern: String) throws(ProfileError) {
        try self.init(literalPrefix: [], pattern: Array(pattern.utf8), requireAbsolute: true)
    }

    /// Parses an absolute pattern given as bytes.
    public init(bytes pattern: [UInt8]) throws(ProfileError) {
        try self.init(literalPrefix: [], pattern: pattern, requireAbsolute: true)
    }

    /// A pattern under a directory whose name is taken literally (a workspace called `what?` must
    /// not turn into a wildcard). `prefix` must be absolute; `pattern` is relative to it.
    init(literalPrefix prefix: [UInt8], relativePattern pattern: [UInt8]) throws(ProfileError) {
        try self.init(literalPrefix: normalisePath(prefix), pattern: pattern, requireAbsolute: false)
    }

    private init(literalPrefix prefix: [UInt8], pattern: [UInt8], requireAbsolute: Bool) throws(ProfileError) {
        func fail(_ message: String) -> ProfileError {
            ProfileError(file: "", message: "glob \"\(String(decoding: pattern, as: UTF8.self))\": \(message)")
        }
        if pattern.isEmpty && requireAbsolute { throw fail("a pattern cannot be empty") }
        if pattern.contains(0) || prefix.contains(0) { throw fail("a pattern cannot contain a NUL byte") }
        if requireAbsolute && pattern.first != UInt8(ascii: "/") {
            throw fail("a pattern must be an absolute path")
        }
        var segments = splitPath(prefix).map { Segment.literal(Array($0)) }
        for part in splitPath(pattern) {
            if part.elementsEqual(".".utf8) { continue }
            if part.elementsEqual("..".utf8) { throw fail("\"..\" is not allowed in a pattern") }
            if part.elementsEqual("**".utf8) {
                // `**/**` means no more than `**`; collapsing keeps matching linear.
                if segments.last != .anyDepth { segments.append(.anyDepth) }
                continue
            }
            if part.indices.dropLast().contains(where: { part[$0] == star && part[$0 + 1] == star }) {
                throw fail("\"**\" must be a whole path segment, as in \"a/**/b\"")
            }
            segments.append(.wildcard(Array(part)))
        }
        self.segments = segments
        self.pattern = requireAbsolute ? pattern : normalisePath(prefix + [UInt8(ascii: "/")] + pattern)
    }

    public var description: String { String(decoding: pattern, as: UTF8.self) }

    /// Whether some path whose last name is `lastName` could match: the pattern's last segment
    /// admits it (`**` admits anything). The supervisor asks this for every unlink of an `rm -rf`
    /// before resolving where the name lies.
    public func mayMatch(lastName: some Collection<UInt8>) -> Bool {
        switch segments.last {
        case nil, .anyDepth?: return true
        case .literal(let literal)?: return lastName.elementsEqual(literal)
        case .wildcard(let pattern)?: return wildcardMatches(pattern, lastName)
        }
    }

    /// The same, for a name read in place (a directory entry's): concrete, so that a caller in
    /// another module does not pay for an unspecialised generic call per entry.
    public func mayMatch(lastName: UnsafeRawBufferPointer) -> Bool {
        mayMatch(lastName: lastName[...])
    }

    /// Whether the absolute path `path` matches. Empty segments (`//`, a trailing `/`) are
    /// ignored; `.` and `..` are not interpreted, so pass a resolved path (the supervisor gets one
    /// from the kernel) — a lexical `..` here could only be guessed at, not known.
    public func matches(_ path: [UInt8]) -> Bool {
        guard path.first == UInt8(ascii: "/") else { return false }
        // Reject on the last name first when the pattern's last segment is fixed (`**/.env`).
        var end = path.endIndex
        while end > path.startIndex, path[end - 1] == UInt8(ascii: "/") { end -= 1 }
        let start = path[..<end].lastIndex(of: UInt8(ascii: "/")).map { $0 + 1 } ?? end
        if !mayMatch(lastName: path[start..<end]) { return false }
        let names = splitPath(path)
        // matched[i][j]: segments[i...] match names[j...]. Filled from the end, so each `**`
        // costs one pass instead of the exponential backtracking of a naive recursion.
        let columns = names.count + 1
        var matched = [Bool](repeating: false, count: (segments.count + 1) * columns)
        matched[segments.count * columns + names.count] = true
        for i in segments.indices.reversed() {
            for j in (0...names.count).reversed() {
                let here: Bool
                switch segments[i] {
                case .anyDepth:
                    here = matched[(i + 1) * columns + j] || (j < names.count && matched[i * columns + j + 1])
                case .wildcard(let pattern):
                    here = j < names.count && wildcardMatches(pattern, names[j]) && matched[(i + 1) * columns + j + 1]
                case .literal(let name):
                    here = j < names.count && names[j].elementsEqual(name) && matched[(i + 1) * columns + j + 1]
                }
                matched[i * columns + j] = here
            }
        }
        return matched[0]
    }
}

private let star = UInt8(ascii: "*")
private let question = UInt8(ascii: "?")

private func splitPath(_ path: some Collection<UInt8>) -> [ArraySlice<UInt8>] {
    Array(path).split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true)
}

/// Whether `name` matches `pattern`, where `*` is any run of bytes and `?` one byte. Used for path
/// segments and for environment variable names.
///
/// The classic greedy match with one backtrack point: on a mismatch, let the last `*` swallow one
/// more byte. It is linear in practice and never worse than |pattern| × |name|.
func wildcardMatches(_ pattern: some Collection<UInt8>, _ name: some Collection<UInt8>) -> Bool {
    // Arrays and slices are matched in place: the exec classifier calls this for every rule and
    // every argument of every exec, so a copy per call would dominate.
    let inPlace = pattern.withContiguousStorageIfAvailable { p in
        name.withContiguousStorageIfAvailable { n in wildcardMatchesInPlace(p, n) }
    }
    if let inPlace, let result = inPlace { return result }
    return Array(pattern).withUnsafeBufferPointer { p in Array(name).withUnsafeBufferPointer { n in wildcardMatchesInPlace(p, n) } }
}

private func wildcardMatchesInPlace(_ pattern: UnsafeBufferPointer<UInt8>, _ name: UnsafeBufferPointer<UInt8>) -> Bool {
    var p = 0, n = 0
    var lastStar: (p: Int, n: Int)?
    while n < name.count {
        if p < pattern.count, pattern[p] == star {
            lastStar = (p, n)
            p += 1
        } else if p < pattern.count, pattern[p] == question || pattern[p] == name[n] {
            p += 1
            n += 1
        } else if let star = lastStar {
            p = star.p + 1
            n = star.n + 1
            lastStar = (star.p, star.n + 1)
        } else {
            return false
        }
    }
    while p < pattern.count, pattern[p] == star { p += 1 }
    return p == pattern.count
}
