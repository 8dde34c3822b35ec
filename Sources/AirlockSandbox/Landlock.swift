import AirlockPolicy
import CAirlockShim
import Glibc
import SystemPackage

/// Landlock, as far as airlock uses it: which ABI the kernel offers, and the path rules for a view.
public enum Landlock {
    /// The kernel's Landlock ABI version, or nil when Landlock is unavailable (and why).
    public static func abi() -> Result<Int, Errno> {
        let abi = airlock_landlock_abi()
        return abi < 0 ? .failure(Errno(-abi)) : .success(Int(abi))
    }

    static let execute: UInt64 = 1 << 0
    static let writeFile: UInt64 = 1 << 1
    static let readFile: UInt64 = 1 << 2
    static let readDir: UInt64 = 1 << 3
    static let removeDir: UInt64 = 1 << 4
    static let removeFile: UInt64 = 1 << 5
    static let makeAll: UInt64 = 0b1111111 << 6 // MAKE_CHAR … MAKE_SYM
    static let refer: UInt64 = 1 << 13
    static let truncate: UInt64 = 1 << 14
    static let ioctlDev: UInt64 = 1 << 15

    static let read = execute | readFile | readDir
    static let everything: UInt64 = (1 << 16) - 1

    /// The filesystem rights ABI `abi` can restrict: all we know of that it knows.
    static func handledFS(abi: Int) -> UInt64 {
        var rights: UInt64 = (1 << 13) - 1
        if abi >= 2 { rights |= refer }
        if abi >= 3 { rights |= truncate }
        if abi >= 5 { rights |= ioctlDev }
        return rights
    }

    static let bindTCP: UInt64 = 1 << 0
    static let connectTCP: UInt64 = 1 << 1

    /// Network rights (TCP bind/connect, ABI 4) handled under `confinement`: handled with no rule
    /// means no TCP at all; proxy mode then allows connecting to the proxy's port alone (see
    /// `airlock_spawn_config.ll_connect_port`). With a network namespace, proxy mode leaves TCP to
    /// the namespace, which holds nothing but loopback, so the agent can still serve itself there.
    static func handledNet(abi: Int, network: NetworkMode, confinement: Confinement) -> UInt64 {
        guard abi >= 4 else { return 0 }
        switch network {
        case .open: return 0
        case .none: return bindTCP | connectTCP
        case .proxy: return confinement == .namespaces ? 0 : bindTCP | connectTCP
        }
    }

    /// Scopes (ABI 6): no signals to, and no abstract unix sockets of, processes outside the sandbox.
    static func scoped(abi: Int) -> UInt64 { abi >= 6 ? 0b11 : 0 }

    public struct Rule: Equatable, Sendable {
        public var path: String
        public var access: UInt64
    }

    /// Rules granting `access` beneath `root` except beneath any `excluded` path. Landlock grants only
    /// ever add up down a tree, so an exclusion is carved out: every directory on the way from `root`
    /// to an excluded path gets just `onTheWay` (rights that cannot reach what is excluded in a harmful
    /// way), and each of its other entries gets the full `access`. Symlinks are skipped: what they
    /// point to is covered, or not, where it lives.
    static func carve(_ root: String, access: UInt64, excluding excluded: [String], onTheWay: UInt64) -> [Rule] {
        if excluded.contains(where: { $0 == root }) { return [] }
        let prefix = root == "/" ? "/" : root + "/"
        guard excluded.contains(where: { $0.hasPrefix(prefix) }) else {
            return [Rule(path: root, access: access)]
        }
        var rules = onTheWay == 0 ? [] : [Rule(path: root, access: onTheWay)]
        for name in directoryEntries(root) {
            let child = prefix + name
            var st = stat()
            guard lstat(child, &st) == 0, st.st_mode & S_IFMT != S_IFLNK else { continue }
            rules += carve(child, access: access, excluding: excluded, onTheWay: onTheWay)
        }
        return rules
    }

    static func directoryEntries(_ path: String) -> [String] {
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}
