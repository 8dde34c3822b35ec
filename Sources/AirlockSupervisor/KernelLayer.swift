import AirlockPolicy
import AirlockSignOff
import Glibc

/// The kernel's half of protection: what the mount plan must make unwritable so that a protected
/// path stays safe even when the agent rewrites a path between the supervisor's read and the
/// kernel's (the notifier asks; the kernel enforces).
public enum KernelLayer {
    /// Existing paths matching the protect rules, found by walking the literal roots of their globs
    /// (at most `limit` entries): paths whose rule guards their contents (write or truncate) become
    /// read-only binds; paths guarded only against delete/rename are bound onto themselves (a mount
    /// point cannot be unlinked or renamed). The writable roots are mount points already.
    public static func protectedPaths(_ rules: [ResolvedProtectRule], writableRoots: [String], limit: Int = 200_000)
        -> (readOnly: [String], pinned: [String], truncated: Bool)
    {
        var readOnly: [String] = [], pinned: [String] = []
        var seen = 0
        var truncated = false
        let active = rules.filter { $0.action == .hold || $0.action == .deny }
        // Each tree is walked once, for every glob rooted in it (the default profile's three
        // workspace globs would otherwise walk the workspace three times).
        var roots: [(root: [UInt8], globs: [PathGlob])] = []
        for glob in active.flatMap(\.globs).sorted(by: { $0.literalPrefix.count < $1.literalPrefix.count }) {
            if let i = roots.firstIndex(where: { Grant.isWithin(glob.literalPrefix, $0.root) }) {
                roots[i].globs.append(glob)
            } else {
                roots.append((glob.literalPrefix, [glob]))
            }
        }
        var candidates = Set<[UInt8]>()
        for (root, globs) in roots {
            walk(root, depthLimit: 64) { path in
                seen += 1
                if seen > limit { truncated = true; return false }
                if globs.contains(where: { $0.matches(path) }) { candidates.insert(path) }
                return true
            }
        }
        for path in candidates.sorted(by: { $0.count < $1.count }) {
            let string = String(decoding: path, as: UTF8.self)
            guard Array(string.utf8) == path, !writableRoots.contains(string) else { continue }
            if pinKind(path, active) == true { readOnly.append(string) } else { pinned.append(string) }
        }
        // A path inside a read-only bind needs no bind of its own.
        readOnly = readOnly.filter { p in !readOnly.contains { $0 != p && Grant.isWithin(Array(p.utf8), Array($0.utf8)) } }
        return (readOnly, pinned, truncated)
    }

    /// How `path` is pinned: nil when no holding or denying rule protects it, true when one guards
    /// its contents (write or truncate: a read-only bind), false when only its name (a bind onto
    /// itself, which cannot be deleted or renamed).
    static func pinKind(_ path: [UInt8], _ rules: [ResolvedProtectRule]) -> Bool? {
        let protecting = rules.filter { ($0.action == .hold || $0.action == .deny) && $0.globs.contains { $0.matches(path) } }
        guard !protecting.isEmpty else { return nil }
        return protecting.contains { $0.operations.contains(.write) || $0.operations.contains(.truncate) }
    }

    /// Calls `visit` on `path` and everything beneath it (not following symlinks) until it returns
    /// false; returns false once stopped.
    @discardableResult
    static func walk(_ path: [UInt8], depthLimit: Int, _ visit: ([UInt8]) -> Bool) -> Bool {
        var st = stat()
        guard path.withCPath({ lstat($0, &st) }) == 0 else { return true }
        return walk(path, isDirectory: st.st_mode & S_IFMT == S_IFDIR, depthLimit: depthLimit, visit)
    }

    /// The recursion: the directory entry's own type says what to descend into, so a tree costs one
    /// getdents per directory rather than one stat per file.
    private static func walk(_ path: [UInt8], isDirectory: Bool, depthLimit: Int, _ visit: ([UInt8]) -> Bool) -> Bool {
        guard visit(path) else { return false }
        guard isDirectory, depthLimit > 0, let dir = path.withCPath({ opendir($0) }) else { return true }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { Array($0.prefix { $0 != 0 }) }
            if name == [UInt8(ascii: ".")] || name == [UInt8(ascii: "."), UInt8(ascii: ".")] { continue }
            let child = (path == [UInt8(ascii: "/")] ? path : path + [UInt8(ascii: "/")]) + name
            let descend: Bool
            switch Int32(entry.pointee.d_type) {
            case Int32(DT_DIR): descend = true
            case Int32(DT_UNKNOWN):
                var st = stat()
                guard child.withCPath({ lstat($0, &st) }) == 0 else { continue }
                descend = st.st_mode & S_IFMT == S_IFDIR
            default: descend = false
            }
            if !walk(child, isDirectory: descend, depthLimit: depthLimit - 1, visit) { return false }
        }
        return true
    }
}
