/// Where a path argument lands, for rules with `targets`.
///
/// Resolution is lexical — the argument joined to the working directory, `.` and `..` removed —
/// because the classifier must not touch the filesystem. A symlink can therefore make an argument
/// land elsewhere than it seems; that is why protected paths are also unwritable in the kernel
/// and their file operations intercepted: this check is the early, readable warning.
struct Landing: Sendable {
    /// The absolute path as resolved (with its glob, if it has one); nil when only the running
    /// shell knows it.
    var path: [UInt8]?
    var targets: Set<ExecTarget>
    /// The protect rule that makes it `protected`.
    var protectRule: String?
    var isGlob = false

    /// An argument only the running shell knows (`$dir`, `$(pwd)`) could be anything.
    static let unknown = Landing(path: nil, targets: Set(ExecTarget.allCases))

    /// "on / (the filesystem root)".
    func describe(_ target: ExecTarget, places: TargetPlaces) -> String {
        guard let path else { return "on a path only the running shell knows" }
        let shown = "on " + displayWord(path)
        let glob = isGlob ? "a glob in " : ""
        switch target {
        case .root: return shown + " (\(glob)the filesystem root)"
        case .home: return shown + " (\(glob)your home directory)"
        case .workspaceRoot:
            let exact = normalisePath(place) == places.workspace
            return shown + (exact ? " (\(glob)the workspace root)" : " (\(glob)a directory containing the workspace)")
        case .protected: return shown + " (protected by rule \"\(protectRule ?? "")\")"
        case .outsideWorkspace: return shown + " (outside the workspace)"
        }
    }

    /// The directory a glob expands in, or the path itself.
    var place: [UInt8] {
        guard let path, isGlob else { return path ?? [] }
        return globDirectory(path)
    }
}

/// What path arguments are compared with, prepared once per command line.
struct TargetPlaces: Sendable {
    struct Protected: Sendable {
        let name: String
        let globs: [PathGlob]
        let fixedPrefixes: [[UInt8]]
    }

    let workspace: [UInt8]
    let home: [UInt8]
    /// The protect rules that hold, deny or audit something (not `allow` exceptions).
    let protected: [Protected]

    init(_ context: ExecContext) {
        workspace = normalisePath(context.workspace)
        home = normalisePath(context.home)
        protected = context.protectedRules.filter { $0.action != .allow }.map {
            Protected(name: $0.name, globs: $0.globs, fixedPrefixes: $0.globs.map(\.fixedPrefix))
        }
    }

    /// Where `word`, an argument of a command running in `cwd`, lands; nil for an empty argument.
    func landing(of word: CommandWord, cwd: [UInt8]?) -> Landing? {
        if word.isUnknown { return .unknown }
        guard !word.bytes.isEmpty else { return nil }
        var path = word.bytes
        if path.first != slash {
            guard let cwd else { return .unknown }
            path = cwd + [slash] + path
        }
        path = normalisePath(path)
        // A glob counts as the directory it expands in: `rm -rf *` at the top of the workspace
        // empties the workspace.
        let isGlob = word.globStart != nil
        let place = isGlob ? globDirectory(path) : path

        var targets = Set<ExecTarget>()
        if place == [slash] { targets.insert(.root) }
        if place == home { targets.insert(.home) }
        if isWithin(workspace, place) { targets.insert(.workspaceRoot) }
        if !isWithin(place, workspace) { targets.insert(.outsideWorkspace) }
        var protectRule: String?
        // The workspace itself has its own target: `cp x .` at the top must not count as
        // writing a protected path just because the default profile protects the workspace root.
        if !targets.contains(.workspaceRoot) {
            protectRule = protected.first { rule in
                rule.fixedPrefixes.contains { isWithin($0, place) } || rule.globs.contains { $0.matches(place) }
            }?.name
            if protectRule != nil { targets.insert(.protected) }
        }
        return Landing(path: path, targets: targets, protectRule: protectRule, isGlob: isGlob)
    }
}

/// Whether `path` is `ancestor` or beneath it (both normalised).
func isWithin(_ path: [UInt8], _ ancestor: [UInt8]) -> Bool {
    ancestor == [slash] || path == ancestor || path.starts(with: ancestor + [slash])
}

/// The directory part before the first segment holding a glob character.
private func globDirectory(_ path: [UInt8]) -> [UInt8] {
    let firstGlob = path.firstIndex { $0 == UInt8(ascii: "*") || $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "[") } ?? path.count
    guard let end = path[..<firstGlob].lastIndex(of: slash), end > 0 else { return [slash] }
    return Array(path[..<end])
}

private let slash = UInt8(ascii: "/")

extension PathGlob {
    /// The leading segments without wildcards, as a path: deleting any directory at or above it
    /// deletes what the glob protects (`/w/.git` for `/w/.git/**`, `/w` for `/w/**/.env`).
    var fixedPrefix: [UInt8] {
        var names: [[UInt8]] = []
        loop: for segment in segments {
            switch segment {
            case .literal(let name): names.append(name)
            case .wildcard(let name) where !name.contains(UInt8(ascii: "*")) && !name.contains(UInt8(ascii: "?")): names.append(name)
            default: break loop
            }
        }
        return [slash] + Array(names.joined(separator: [slash]))
    }
}
