import CAirlockShim
import Glibc
import SystemPackage

/// A path argument resolved the way the kernel would for the agent: relative to its own root and
/// its cwd or dirfd, every directory component followed inside its root (openat2 RESOLVE_IN_ROOT,
/// no magic links), the last component kept as given (unlink and rename act on the name).
/// O_PATH, which Glibc's Swift module does not export (it is behind _GNU_SOURCE).
let oPath: Int32 = 0o10_000_000

final class AgentPath {
    /// The agent's absolute path of the target: its resolved parent directory plus the name.
    let canonical: [UInt8]
    let parentCanonical: [UInt8]
    let name: [UInt8]
    let pid: Int32
    /// The parent directory, opened O_PATH in the agent's view (its mounts: read-only where the
    /// agent may not write); opened lazily, when an operation on the path is held or carried out.
    private var parentFD: Int32

    static let resolveInRoot: UInt64 = 0x10
    static let resolveNoMagicLinks: UInt64 = 0x02
    static let resolveNoSymlinks: UInt64 = 0x04

    private init(canonical: [UInt8], parentCanonical: [UInt8], name: [UInt8], pid: Int32, parent: Int32) {
        self.canonical = canonical
        self.parentCanonical = parentCanonical
        self.name = name
        self.pid = pid
        self.parentFD = parent
    }

    deinit { if parentFD >= 0 { close(parentFD) } }

    /// Resolves `bytes` (as read from the agent) against its root and `dirfd`. nil when the path does
    /// not resolve (the call would fail in the kernel too) — the caller lets the kernel say so.
    ///
    /// A bare name relative to a directory fd or the cwd (what `rm -r` does for every file) needs no
    /// walk: the kernel already resolved that directory, and its /proc link is its path in the
    /// agent's view. Anything else is walked with openat2 inside the agent's root.
    ///
    /// Paths through the agent's own /proc magic links (`/proc/self/fd/N`, `/proc/self/cwd/…`,
    /// `/proc/self/root/…`, and so `/dev/stdout`) are named by where those links lead. Any other
    /// magic link, which the walk refuses to follow, throws: the call is denied, never let through
    /// unmatched.
    static func resolve(_ bytes: [UInt8], dirfd: Int32, agent: AgentProcess) throws(AgentProcess.ReadError) -> AgentPath? {
        let slash = UInt8(ascii: "/")
        let dot = UInt8(ascii: ".")
        if !bytes.isEmpty, bytes.first != slash, !bytes.contains(slash), bytes != [dot], bytes != [dot, dot] {
            guard let base = agent.link(dirfd == Intercepted.cwd ? "cwd" : "fd/\(dirfd)"), base.first == slash else { return nil }
            let canonical = (base == [slash] ? [] : base) + [slash] + bytes
            return AgentPath(canonical: canonical, parentCanonical: base, name: bytes, pid: agent.pid, parent: -1)
        }
        var full: [UInt8]
        if bytes.first == slash {
            full = bytes
        } else {
            guard let base = agent.link(dirfd == Intercepted.cwd ? "cwd" : "fd/\(dirfd)"), base.first == slash else { return nil }
            full = base + [slash] + bytes
        }
        if let translated = throughOwnProcLinks(full, agent) { full = translated }
        while full.count > 1 && full.last == slash { full.removeLast() }
        let cut = full.lastIndex(of: slash)!
        var parentPart = Array(full[..<cut])
        var name = Array(full[(cut + 1)...])
        if name.isEmpty || name == [dot] || name == [dot, dot] {
            // The target is a directory named by "." or ".." (or "/" itself): resolve all of it.
            parentPart = full
            name = []
        }
        let parent = openInRoot(pid: agent.pid, parentPart, resolve: resolveInRoot | resolveNoMagicLinks)
        if parent == -ELOOP || parent == -EXDEV { throw .magicLink }
        guard parent >= 0 else { return nil }
        guard let parentCanonical = readLink("/proc/self/fd/\(parent)"), parentCanonical.first == slash else {
            close(parent)
            return nil
        }
        let canonical = name.isEmpty ? parentCanonical : (parentCanonical == [slash] ? [slash] : parentCanonical + [slash]) + name
        return AgentPath(canonical: canonical, parentCanonical: parentCanonical, name: name, pid: agent.pid, parent: parent)
    }

    /// The last component of a path as the call names it (no trailing slash), when it is a plain
    /// name: nil for `.`, `..`, an empty path or one ending in `/`, whose target is another name.
    static func plainLastName(_ bytes: [UInt8]) -> ArraySlice<UInt8>? {
        let slash = UInt8(ascii: "/")
        guard let last = bytes.last, last != slash else { return nil }
        let name = bytes[((bytes.lastIndex(of: slash) ?? -1) + 1)...]
        return name.elementsEqual([UInt8(ascii: ".")]) || name.elementsEqual([UInt8(ascii: "."), UInt8(ascii: ".")]) ? nil : name
    }

    /// `/proc/self|thread-self|PID/{fd/N,cwd,root}[/rest]` of the calling agent itself, as the path the
    /// link leads to in its view; nil for anything else.
    static func throughOwnProcLinks(_ path: [UInt8], _ agent: AgentProcess) -> [UInt8]? {
        let parts = path.split(separator: UInt8(ascii: "/"))
        guard parts.count >= 3, parts[0].elementsEqual("proc".utf8) else { return nil }
        let who = String(decoding: parts[1], as: UTF8.self)
        guard who == "self" || who == "thread-self" || agent.namespacePids().contains(who) else { return nil }
        let base: [UInt8]?
        let rest: ArraySlice<ArraySlice<UInt8>>
        switch String(decoding: parts[2], as: UTF8.self) {
        case "cwd": (base, rest) = (agent.link("cwd"), parts[3...])
        case "root": (base, rest) = ([UInt8(ascii: "/")], parts[3...])
        case "fd" where parts.count >= 4 && Int(String(decoding: parts[3], as: UTF8.self)) != nil:
            (base, rest) = (agent.link("fd/" + String(decoding: parts[3], as: UTF8.self)), parts[4...])
        default: return nil
        }
        // A pipe or socket (`pipe:[…]`) is no path: nothing protected is reached through it.
        guard let base, base.first == UInt8(ascii: "/") else { return nil }
        return rest.reduce(base) { $0 + [UInt8(ascii: "/")] + $1 }
    }

    /// The path with its final symlink followed, as open(2) without O_NOFOLLOW, truncate(2) and
    /// linkat(AT_SYMLINK_FOLLOW) do: the file the kernel would reach, even through a dangling link
    /// (O_CREAT creates the link's target). nil when the links loop (the kernel fails with ELOOP).
    func followingFinalSymlink(_ agent: AgentProcess) throws(AgentProcess.ReadError) -> AgentPath? {
        var current = self
        for _ in 0..<40 {
            guard !current.name.isEmpty else { return current }
            let fd = Self.openInRoot(pid: pid, current.canonical, resolve: Self.resolveInRoot | Self.resolveNoMagicLinks,
                                     directory: false, extraFlags: O_NOFOLLOW)
            guard fd >= 0 else { return current } // nothing there: the kernel reaches this very name
            defer { close(fd) }
            var st = stat()
            guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFLNK else { return current }
            var buffer = [UInt8](repeating: 0, count: 4097)
            let n = buffer.withUnsafeMutableBytes { readlinkat(fd, "", $0.baseAddress!.assumingMemoryBound(to: CChar.self), 4096) }
            guard n > 0 else { return nil }
            let target = Array(buffer[..<n])
            let full = target.first == UInt8(ascii: "/") ? target : current.parentCanonical + [UInt8(ascii: "/")] + target
            guard let next = try Self.resolve(full, dirfd: Intercepted.cwd, agent: agent) else { return nil }
            current = next
        }
        return nil
    }

    /// Opens `path` (absolute, in the agent's view; a directory unless told otherwise) O_PATH inside
    /// the agent's root.
    static func openInRoot(pid: Int32, _ path: [UInt8], resolve: UInt64, directory: Bool = true, extraFlags: Int32 = 0) -> Int32 {
        let slash = UInt8(ascii: "/")
        let root = open("/proc/\(pid)/root", oPath | O_DIRECTORY | O_CLOEXEC)
        guard root >= 0 else { return -1 }
        defer { close(root) }
        let relative = Array(path.drop { $0 == slash })
        return (relative.isEmpty ? [UInt8(ascii: ".")] : relative).withCPath {
            airlock_openat2(root, $0, UInt64(oPath | (directory ? O_DIRECTORY : 0) | O_CLOEXEC | extraFlags), 0, resolve)
        }
    }

    /// Pins the parent directory the agent named (its device and inode), before anything is held or
    /// carried out. Its canonical path has no symlink left to follow.
    func pin() -> Bool {
        if parentFD < 0 {
            parentFD = Self.openInRoot(pid: pid, parentCanonical, resolve: Self.resolveInRoot | Self.resolveNoSymlinks | Self.resolveNoMagicLinks)
        }
        return parentFD >= 0
    }

    /// The same parent directory opened writable-side, on the host, for the supervisor to act in:
    /// by its path with no symlink followed, and only if it is the very directory the agent named
    /// (same device and inode), so a rename or a swap since the hold cannot redirect the operation.
    func hostParent() -> Result<Int32, Errno> {
        let fd = parentCanonical.withCPath {
            airlock_openat2(AT_FDCWD, $0, UInt64(oPath | O_DIRECTORY | O_CLOEXEC), 0, Self.resolveNoSymlinks | Self.resolveNoMagicLinks)
        }
        guard fd >= 0 else { return .failure(Errno(rawValue: -fd)) }
        var a = stat(), b = stat()
        guard pin(), fstat(fd, &a) == 0, fstat(parentFD, &b) == 0, a.st_dev == b.st_dev, a.st_ino == b.st_ino else {
            close(fd)
            return .failure(.notPermitted)
        }
        return .success(fd)
    }
}
