private let slash = UInt8(ascii: "/")
private let tilde = UInt8(ascii: "~")
private let dot = UInt8(ascii: ".")

/// Expands a path written in a profile: `~` and `~/x` with `home`, a relative path joined to
/// `base`, and `.`, `..` and repeated slashes removed lexically.
///
/// Lexical, not resolved on disk: a profile is policy text, and the sandbox opens the result
/// itself (refusing symlinks where it matters), so this must not depend on what exists now.
/// `~user` is not expanded (it is rejected when a profile is loaded); here it is just a relative
/// name.
public func expandPath(_ p: String, home: String, relativeTo base: String) -> String {
    String(decoding: expandPath(Array(p.utf8), home: Array(home.utf8), relativeTo: Array(base.utf8)), as: UTF8.self)
}

/// The byte form of `expandPath(_:home:relativeTo:)`, for paths that need not be UTF-8.
public func expandPath(_ p: [UInt8], home: [UInt8], relativeTo base: [UInt8]) -> [UInt8] {
    if p == [tilde] { return normalisePath(home) }
    if p.starts(with: [tilde, slash]) { return normalisePath(home + p.dropFirst(1)) }
    if p.first == slash { return normalisePath(p) }
    return normalisePath(base + [slash] + p)
}

/// Removes empty and `.` segments and resolves `..` against the segment before it; an absolute
/// path stays absolute (`/..` is `/`), a relative one keeps the `..`s it cannot resolve.
func normalisePath(_ p: [UInt8]) -> [UInt8] {
    let absolute = p.first == slash
    var kept: [ArraySlice<UInt8>] = []
    for segment in p.split(separator: slash, omittingEmptySubsequences: true) {
        if segment.elementsEqual([dot]) { continue }
        if segment.elementsEqual([dot, dot]) {
            if let last = kept.last, !last.elementsEqual([dot, dot]) {
                kept.removeLast()
                continue
            }
            if absolute { continue }
        }
        kept.append(segment)
    }
    let joined = Array(kept.joined(separator: [slash]))
    if absolute { return [slash] + joined }
    return joined.isEmpty ? [dot] : joined
}

/// Why `p`, written in a profile as a path, cannot be used; nil when it can.
func pathProblem(_ p: String) -> String? {
    if p.isEmpty { return "a path cannot be empty" }
    if p.utf8.contains(0) { return "a path cannot contain a NUL character" }
    if p.hasPrefix("~") && p != "~" && !p.hasPrefix("~/") {
        return "\"~user\" paths are not supported (got \"\(p)\"); write the path out in full"
    }
    return nil
}
