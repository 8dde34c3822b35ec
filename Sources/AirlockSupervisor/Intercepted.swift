import AirlockSandbox
import CSeccomp
import Glibc

/// A path argument of an intercepted call: the directory fd it is relative to, and where the
/// bytes are in the agent's memory.
struct PathArgument {
    var dirfd: Int32
    var address: UInt64
}

/// What an intercepted call would do, decoded from its syscall number and raw arguments.
enum Intercepted {
    case delete(PathArgument, removeDirectory: Bool)
    case rename(from: PathArgument, to: PathArgument, flags: UInt32)
    case truncatePath(PathArgument, length: Int64)
    case truncateFD(fd: Int32, length: Int64)
    case fallocate(fd: Int32, mode: Int32, offset: Int64, length: Int64)
    case link(from: PathArgument, to: PathArgument, flags: Int32)
    case open(PathArgument, flags: Int32, mode: UInt32)
    /// openat2: flags, mode and resolve live in a struct open_how in the agent's memory.
    case openHow(PathArgument, how: UInt64, size: UInt64)
    case exec(PathArgument, argv: UInt64, envp: UInt64, flags: Int32)
    /// chmod, chown and extended attributes, on a path (`follow`: through a final symlink) or an fd.
    case metadata(PathArgument, follow: Bool, call: String)
    case metadataFD(fd: Int32, call: String)
    /// mkdir, mknod, symlink: a new name that is not a regular file opened for writing.
    case create(PathArgument, call: String)

    static let cwd: Int32 = -100 // AT_FDCWD
    static let noFollow: Int32 = 0x100 // AT_SYMLINK_NOFOLLOW

    /// Syscall numbers for this architecture, from libseccomp (never hard-coded per ABI).
    static let numbers: [String: Int32] = {
        var table: [String: Int32] = [:]
        for name in SeccompFilter.notifiedSyscalls + ["open", "openat", "fallocate"] {
            table[name] = SeccompFilter.number(of: name)
        }
        return table
    }()

    static let names: [Int32: String] = Dictionary(uniqueKeysWithValues: numbers.map { ($1, $0) })

    init?(nr: Int32, args a: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)) {
        func fd(_ v: UInt64) -> Int32 { Int32(truncatingIfNeeded: v) }
        func path(_ dirfd: Int32, _ address: UInt64) -> PathArgument { PathArgument(dirfd: dirfd, address: address) }
        guard let name = Self.names[nr] else { return nil }
        switch name {
        case "unlink": self = .delete(path(Self.cwd, a.0), removeDirectory: false)
        case "rmdir": self = .delete(path(Self.cwd, a.0), removeDirectory: true)
        case "unlinkat": self = .delete(path(fd(a.0), a.1), removeDirectory: a.2 & 0x200 != 0) // AT_REMOVEDIR
        case "rename": self = .rename(from: path(Self.cwd, a.0), to: path(Self.cwd, a.1), flags: 0)
        case "renameat": self = .rename(from: path(fd(a.0), a.1), to: path(fd(a.2), a.3), flags: 0)
        case "renameat2": self = .rename(from: path(fd(a.0), a.1), to: path(fd(a.2), a.3), flags: UInt32(truncatingIfNeeded: a.4))
        case "truncate": self = .truncatePath(path(Self.cwd, a.0), length: Int64(bitPattern: a.1))
        case "ftruncate": self = .truncateFD(fd: fd(a.0), length: Int64(bitPattern: a.1))
        case "fallocate": self = .fallocate(fd: fd(a.0), mode: fd(a.1), offset: Int64(bitPattern: a.2), length: Int64(bitPattern: a.3))
        case "link": self = .link(from: path(Self.cwd, a.0), to: path(Self.cwd, a.1), flags: 0)
        case "linkat": self = .link(from: path(fd(a.0), a.1), to: path(fd(a.2), a.3), flags: fd(a.4))
        case "open": self = .open(path(Self.cwd, a.0), flags: fd(a.1), mode: UInt32(truncatingIfNeeded: a.2))
        case "openat": self = .open(path(fd(a.0), a.1), flags: fd(a.2), mode: UInt32(truncatingIfNeeded: a.3))
        case "creat": self = .open(path(Self.cwd, a.0), flags: O_CREAT | O_WRONLY | O_TRUNC, mode: UInt32(truncatingIfNeeded: a.1))
        case "openat2": self = .openHow(path(fd(a.0), a.1), how: a.2, size: a.3)
        case "execve": self = .exec(path(Self.cwd, a.0), argv: a.1, envp: a.2, flags: 0)
        case "execveat": self = .exec(path(fd(a.0), a.1), argv: a.2, envp: a.3, flags: fd(a.4))
        case "chmod", "chown", "setxattr", "removexattr": self = .metadata(path(Self.cwd, a.0), follow: true, call: name)
        case "lchown", "lsetxattr", "lremovexattr": self = .metadata(path(Self.cwd, a.0), follow: false, call: name)
        case "fchmod", "fchown", "fsetxattr", "fremovexattr": self = .metadataFD(fd: fd(a.0), call: name)
        // fchmodat has no flags argument (the C library's AT_SYMLINK_NOFOLLOW is done in user space).
        case "fchmodat": self = .metadata(path(fd(a.0), a.1), follow: true, call: name)
        case "fchmodat2": self = .metadata(path(fd(a.0), a.1), follow: fd(a.3) & Self.noFollow == 0, call: name)
        case "fchownat": self = .metadata(path(fd(a.0), a.1), follow: fd(a.4) & Self.noFollow == 0, call: name)
        case "setxattrat", "removexattrat": self = .metadata(path(fd(a.0), a.1), follow: fd(a.2) & Self.noFollow == 0, call: name)
        case "mkdir", "mknod": self = .create(path(Self.cwd, a.0), call: name)
        case "mkdirat", "mknodat": self = .create(path(fd(a.0), a.1), call: name)
        case "symlink": self = .create(path(Self.cwd, a.1), call: name)
        case "symlinkat": self = .create(path(fd(a.1), a.2), call: name)
        default: return nil
        }
    }
}
