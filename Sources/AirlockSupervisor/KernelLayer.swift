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
        var budget = limit
        for (root, globs) in roots {
            let complete = walk(root, depthLimit: 64, budget: &budget,
                                named: { name in globs.contains { $0.mayMatch(lastName: name) } }) { path in
                if globs.contains(where: { $0.matches(path) }) { candidates.insert(path) }
            }
            if !complete { truncated = true; break }
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

    /// Calls `visit` on `path` and on everything beneath it (not following symlinks) whose name
    /// `named` admits; a name it rejects costs no path (most files of a tree, for rules such as
    /// `**/.env`), though directories are still descended. Every entry counts against `budget`;
    /// returns false when the budget ran out before the end.
    static func walk(_ path: [UInt8], depthLimit: Int, budget: inout Int,
                     named: (UnsafeRawBufferPointer) -> Bool = { _ in true }, _ visit: ([UInt8]) -> Void) -> Bool {
        var st = stat()
        guard path.withCPath({ lstat($0, &st) }) == 0 else { return true }
        budget -= 1
        guard budget >= 0 else { return false }
        visit(path)
        guard st.st_mode & S_IFMT == S_IFDIR else { return true }
        return walkBeneath(path, depthLimit: depthLimit, budget: &budget, named: named, visit)
    }

    /// The recursion: the directory entry's own type says what to descend into, so a tree costs one
    /// getdents per directory rather than one stat per file.
    private static func walkBeneath(_ path: [UInt8], depthLimit: Int, budget: inout Int,
                                    named: (UnsafeRawBufferPointer) -> Bool, _ visit: ([UInt8]) -> Void) -> Bool {
        guard depthLimit > 0, let dir = path.withCPath({ opendir($0) }) else { return true }
        defer { closedir(dir) }
        let prefix = path == [UInt8(ascii: "/")] ? path : path + [UInt8(ascii: "/")]
        while let entry = readdir(dir) {
            var type = Int32(entry.pointee.d_type)
            var dots = false, wanted = false
            var child: [UInt8] = []
            // The name is looked at in place; a path is built only for what is visited or descended.
            withUnsafeBytes(of: entry.pointee.d_name) { raw in
                let name = UnsafeRawBufferPointer(rebasing: raw[..<(raw.firstIndex(of: 0) ?? raw.count)])
                let dot = UInt8(ascii: ".")
                dots = name.first == dot && (name.count == 1 || (name.count == 2 && name[1] == dot))
                guard !dots else { return }
                wanted = named(name)
                if wanted || type == Int32(DT_DIR) || type == Int32(DT_UNKNOWN) { child = prefix + name }
            }
            if dots { continue }
            budget -= 1
            guard budget >= 0 else { return false }
            if child.isEmpty { continue } // a file its name rules out
            if type == Int32(DT_UNKNOWN) {
                var st = stat()
                guard child.withCPath({ lstat($0, &st) }) == 0 else { continue }
                type = st.st_mode & S_IFMT == S_IFDIR ? Int32(DT_DIR) : Int32(DT_REG)
            }
            if wanted { visit(child) }
            if type == Int32(DT_DIR), !walkBeneath(child, depthLimit: depthLimit - 1, budget: &budget, named: named, visit) {
                return false
            }
        }
        return true
    }
}
