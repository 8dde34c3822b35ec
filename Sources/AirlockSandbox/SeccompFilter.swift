import AirlockPolicy
import CAirlockShim
import CSeccomp
import Glibc
import SystemPackage

/// The seccomp filter the agent runs under, built with libseccomp for the native architecture only and
/// exported as classic BPF so the sandbox child can load it with a raw seccomp(2) (flags libseccomp
/// 2.5.4 cannot set, such as SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, stay in our hands).
public struct SeccompFilter: Sendable {
    /// The filter program: `struct sock_filter` instructions, 8 bytes each.
    public let program: [UInt64]

    /// What the filter denies, by syscall name. Each entry is checked at build time: a name libseccomp
    /// does not know is an error, never a silently missing rule.
    static let deniedSyscalls = [
        "ptrace", "process_vm_readv", "process_vm_writev", "bpf", "perf_event_open", "userfaultfd",
        "io_uring_setup", "io_uring_enter", "io_uring_register", "kexec_load", "kexec_file_load",
        "init_module", "finit_module", "delete_module", "keyctl", "add_key", "request_key",
        "name_to_handle_at", "open_by_handle_at", "mount", "umount2", "pivot_root", "open_tree",
        "move_mount", "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr", "chroot", "setns",
        "acct", "swapon", "swapoff", "reboot",
    ]

    /// Namespace flags refused to clone and unshare (CLONE_NEW*).
    static let namespaceFlags: [UInt64] = [
        0x0000_0080, // CLONE_NEWTIME
        0x0002_0000, // CLONE_NEWNS
        0x0200_0000, // CLONE_NEWCGROUP
        0x0400_0000, // CLONE_NEWUTS
        0x0800_0000, // CLONE_NEWIPC
        0x1000_0000, // CLONE_NEWUSER
        0x2000_0000, // CLONE_NEWPID
        0x4000_0000, // CLONE_NEWNET
    ]

    /// Terminal ioctls that inject input or hijack the console (CVE-2019-10063: compared on the low 32
    /// bits, since the kernel truncates the request to an unsigned int).
    static let deniedIoctls: [UInt64] = [0x5412 /* TIOCSTI */, 0x541C /* TIOCLINUX */]

    /// Calls that can destroy, sent to the supervisor (SECCOMP_RET_USER_NOTIF) when sign-off is on;
    /// also open/openat when they write or truncate (`notifiedOpenFlags`), and fallocate in its destructive modes: the rest
    /// never leaves the kernel.
    public static let notifiedSyscalls = [
        "unlink", "unlinkat", "rmdir", "rename", "renameat", "renameat2", "truncate", "ftruncate",
        "link", "linkat", "creat", "openat2", "execve", "execveat",
        // A protected file's mode, owner and extended attributes (chmod 000 makes it as good as gone).
        "chmod", "fchmod", "fchmodat", "fchmodat2", "chown", "fchown", "lchown", "fchownat",
        "setxattr", "lsetxattr", "fsetxattr", "setxattrat", "removexattr", "lremovexattr", "fremovexattr",
        "removexattrat",
        // A new directory, symlink or device node at a protected name (a symlink planted where the
        // state file will be written).
        "mkdir", "mkdirat", "mknod", "mknodat", "symlink", "symlinkat",
    ]

    /// The open flags the filter looks at: O_WRONLY, O_RDWR, O_TRUNC, O_CREAT, O_EXCL.
    static let openFlagMask: UInt64 = 0o1 | 0o2 | 0o1000 | 0o100 | 0o200

    /// The values of those flags (under `openFlagMask`) whose opens are sent to the supervisor: an
    /// open that writes or truncates, unless it is an exclusive create (O_CREAT|O_EXCL), which the
    /// kernel runs only when nothing, not even a dangling symlink, has the name: it makes a new
    /// file and cannot touch an existing one. (An archive's extraction is one of these per file.)
    /// Every value is listed, one masked equality each, so that no two rules of the filter
    /// could disagree.
    static let notifiedOpenFlags: [UInt64] = (0...openFlagMask).filter { flags in
        let exclusiveCreate: UInt64 = 0o100 | 0o200
        return flags & ~openFlagMask == 0 && flags & (0o1 | 0o2 | 0o1000) != 0 && flags & exclusiveCreate != exclusiveCreate
    }

    /// System calls newer than libseccomp 2.5.4, by the number they have on every architecture since
    /// the unified numbering of Linux 5.1.
    static let unifiedNumbers: [String: Int32] = ["fchmodat2": 452, "setxattrat": 463, "removexattrat": 466]

    /// The native number of a system call, or nil when neither libseccomp nor `unifiedNumbers` knows it.
    public static func number(of name: String) -> Int32? {
        let nr = seccomp_syscall_resolve_name(name)
        return nr != __NR_SCMP_ERROR ? nr : unifiedNumbers[name]
    }

    public init(denyAction: DenyAction, network: NetworkMode, intercept: Bool = false) throws(SandboxError) {
        let deny: UInt32 = denyAction == .kill ? 0x8000_0000 /* KILL_PROCESS */ : Self.errnoAction(EPERM)
        guard let ctx = seccomp_init(0x7fff_0000 /* ALLOW */) else {
            throw SandboxError("libseccomp: seccomp_init failed")
        }
        defer { seccomp_release(ctx) }
        // Only the native ABI: x32 and i386 system calls hit the bad-architecture action.
        try Self.check(seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, deny), "setting the bad-architecture action")
        try Self.check(seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0), "clearing the no_new_privs attribute")

        for name in Self.deniedSyscalls {
            try Self.add(ctx, deny, name, [])
        }
        // clone3 passes its flags in memory a filter cannot read: ENOSYS makes libc fall back to clone.
        try Self.add(ctx, Self.errnoAction(ENOSYS), "clone3", [])
        for flag in Self.namespaceFlags {
            try Self.add(ctx, deny, "clone", [Self.masked(0, flag, flag)])
            try Self.add(ctx, deny, "unshare", [Self.masked(0, flag, flag)])
        }
        // personality: PER_LINUX only. (libseccomp cannot compare one argument twice in a rule, so
        // the query value 0xffffffff is refused too; nothing common asks it.)
        try Self.add(ctx, deny, "personality", [scmp_arg_cmp(arg: 0, op: SCMP_CMP_NE, datum_a: 0, datum_b: 0)])
        for request in Self.deniedIoctls {
            try Self.add(ctx, deny, "ioctl", [Self.masked(1, 0xffff_ffff, request)])
        }
        // A second notify listener in the tree would let the agent answer for itself (and fail ours).
        try Self.add(ctx, deny, "seccomp", [
            // The kernel reads an int operation: only the low 32 bits count (high garbage must not
            // slip past an equality on all 64).
            Self.masked(0, 0xffff_ffff, 1), // SECCOMP_SET_MODE_FILTER
            Self.masked(1, 8, 8), // SECCOMP_FILTER_FLAG_NEW_LISTENER
        ])
        switch network {
        case .open:
            break
        case .none:
            for family: UInt64 in [2 /* AF_INET */, 10 /* AF_INET6 */, 17 /* AF_PACKET */] {
                try Self.add(ctx, deny, "socket", [Self.masked(0, 0xffff_ffff, family)]) // an int, as above
            }
        case .proxy:
            try Self.addProxyModeSocketRules(ctx)
        }
        if intercept {
            let notify: UInt32 = 0x7fc0_0000
            for name in Self.notifiedSyscalls { try Self.add(ctx, notify, name, []) }
            for flags in Self.notifiedOpenFlags {
                try Self.add(ctx, notify, "open", [Self.masked(1, Self.openFlagMask, flags)])
                try Self.add(ctx, notify, "openat", [Self.masked(2, Self.openFlagMask, flags)])
            }
            // FALLOC_FL_PUNCH_HOLE, COLLAPSE_RANGE, ZERO_RANGE, INSERT_RANGE
            for bit: UInt64 in [0x02, 0x08, 0x10, 0x20] {
                try Self.add(ctx, notify, "fallocate", [Self.masked(1, bit, bit)])
            }
        }
        program = try Self.export(ctx)
    }

    /// Proxy mode: of the IP sockets only plain TCP may be made, the kind the proxy's port (and,
    /// without a network namespace, Landlock's TCP rules) confine. UDP (QUIC, DNS tunnels), raw
    /// sockets, SCTP and MPTCP (which Landlock's TCP rules do not cover), netlink and packet sockets
    /// fail with EPERM, whatever the profile's deny action: a resolver trying UDP is an ordinary
    /// event in this mode, not an attack worth killing for.
    static func addProxyModeSocketRules(_ ctx: scmp_filter_ctx) throws(SandboxError) {
        let refuse = errnoAction(EPERM)
        for family: UInt64 in [16 /* AF_NETLINK */, 17 /* AF_PACKET */] {
            try add(ctx, refuse, "socket", [masked(0, 0xffff_ffff, family)])
        }
        for family: UInt64 in [2 /* AF_INET */, 10 /* AF_INET6 */] {
            let isFamily = masked(0, 0xffff_ffff, family)
            // The kernel takes the type's low 4 bits (SOCK_TYPE_MASK); the rest are SOCK_NONBLOCK,
            // SOCK_CLOEXEC or invalid. Every type but SOCK_STREAM (1) is refused.
            for type: UInt64 in 0...15 where type != 1 {
                try add(ctx, refuse, "socket", [isFamily, masked(1, 0xf, type)])
            }
            // A stream socket with protocol 0 or IPPROTO_TCP only: anything above 6 in all 64 bits,
            // or 1…5 in the low 32 the kernel reads, is another protocol (or garbage) and refused.
            let isStream = masked(1, 0xf, 1)
            try add(ctx, refuse, "socket", [isFamily, isStream, scmp_arg_cmp(arg: 2, op: SCMP_CMP_GT, datum_a: 6, datum_b: 0)])
            for proto: UInt64 in 1...5 {
                try add(ctx, refuse, "socket", [isFamily, isStream, masked(2, 0xffff_ffff, proto)])
            }
        }
    }

    /// A filter that only sends getppid to a notify listener: what `doctor` installs to prove that
    /// user notification works here.
    public static func userNotificationProbe() throws(SandboxError) -> SeccompFilter {
        guard let ctx = seccomp_init(0x7fff_0000 /* ALLOW */) else {
            throw SandboxError("libseccomp: seccomp_init failed")
        }
        defer { seccomp_release(ctx) }
        try add(ctx, 0x7fc0_0000 /* NOTIFY */, "getppid", [])
        return SeccompFilter(program: try export(ctx))
    }

    private init(program: [UInt64]) { self.program = program }

    static func errnoAction(_ code: Int32) -> UInt32 { 0x0005_0000 | (UInt32(code) & 0xffff) }

    static func masked(_ arg: UInt32, _ mask: UInt64, _ value: UInt64) -> scmp_arg_cmp {
        scmp_arg_cmp(arg: arg, op: SCMP_CMP_MASKED_EQ, datum_a: mask, datum_b: value)
    }

    static func check(_ rc: Int32, _ what: String) throws(SandboxError) {
        if rc < 0 { throw SandboxError("libseccomp: \(what): \(Errno(-rc))") }
    }

    static func add(_ ctx: scmp_filter_ctx, _ action: UInt32, _ name: String, _ args: [scmp_arg_cmp]) throws(SandboxError) {
        guard let nr = number(of: name) else {
            throw SandboxError("libseccomp \(libseccompVersion) does not know the system call \(name)")
        }
        let rc = args.withUnsafeBufferPointer {
            seccomp_rule_add_exact_array(ctx, action, nr, UInt32($0.count), $0.baseAddress)
        }
        try check(rc, "adding the rule for \(name)")
    }

    static func export(_ ctx: scmp_filter_ctx) throws(SandboxError) -> [UInt64] {
        let fd = airlock_memfd("airlock-seccomp")
        guard fd >= 0 else { throw SandboxError("memfd_create: \(Errno(errno))") }
        defer { close(fd) }
        try check(seccomp_export_bpf(ctx, fd), "exporting the filter")
        let size = lseek(fd, 0, SEEK_END)
        guard size > 0, size % 8 == 0, size / 8 <= 4096 else {
            throw SandboxError("libseccomp exported a filter of \(size) bytes")
        }
        var program = [UInt64](repeating: 0, count: Int(size / 8))
        let got = program.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard got == size else { throw SandboxError("reading the exported filter: \(Errno(errno))") }
        return program
    }
}

/// The libseccomp library version in use, e.g. "2.5.4".
public var libseccompVersion: String {
    guard let v = seccomp_version() else { return "unknown" }
    return "\(v.pointee.major).\(v.pointee.minor).\(v.pointee.micro)"
}
