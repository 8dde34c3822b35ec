// airlock-probe: tries one thing an agent might try and says, in one line, whether it worked.
//
//   airlock-probe CHECK [ARGS...]          run one check in this process
//   airlock-probe each 'CHECK ARGS' ...    run each check in a forked child, one line per check;
//                                          a child killed by a signal prints `CHECK: signal N (NAME)`
//
// Output contract (the end-to-end tests parse it):
//   `CHECK: ok`                 the operation succeeded (exit 0); some checks append details
//   `CHECK: errno N (ENAME)`    the operation failed with errno N (exit 1)
//   `CHECK: setup errno N (ENAME) <step>`  a preparatory step failed, the operation was not tried (exit 2)
//   or a check-specific line documented next to the check.
//
// Every "attack" check below was run bare (outside any sandbox) on the development machine
// (Linux 6.18 x86_64, Debian 12, CONFIG_IA32_EMULATION=y, CONFIG_X86_X32_ABI unset, Landlock enabled,
// unprivileged user namespaces allowed, kernel.unprivileged_bpf_disabled=2, perf_event_paranoid=2,
// vm.unprivileged_userfaultfd=0, dev.tty.legacy_tiocsti=1) so that a failure inside the sandbox means
// the sandbox stopped it, not that the probe is broken. "root: ok" / "nobody: ok" below record what
// that bare run printed as root and as uid 65534.
//
// C only, no libraries beyond glibc; raw syscalls where glibc has no wrapper or would get in the way.

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/filter.h>
#include <linux/keyctl.h>
#include <linux/perf_event.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stddef.h>
#include <sys/mman.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#ifndef __x86_64__
#error "airlock-probe targets Linux x86_64"
#endif

// Syscall numbers and constants that older headers may lack (x86_64 values).
#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif
#ifndef SYS_fsopen
#define SYS_fsopen 430
#endif
#ifndef SYS_fsconfig
#define SYS_fsconfig 431
#endif
#ifndef SYS_fsmount
#define SYS_fsmount 432
#endif
#ifndef SYS_fspick
#define SYS_fspick 433
#endif
#ifndef SYS_clone3
#define SYS_clone3 435
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef SYS_io_uring_setup
#define SYS_io_uring_setup 425
#endif
#ifndef SYS_userfaultfd
#define SYS_userfaultfd 323
#endif
#ifndef OPEN_TREE_CLOEXEC
#define OPEN_TREE_CLOEXEC O_CLOEXEC
#endif
#ifndef FSOPEN_CLOEXEC
#define FSOPEN_CLOEXEC 0x00000001
#endif
#ifndef FSPICK_CLOEXEC
#define FSPICK_CLOEXEC 0x00000001
#endif
#ifndef SECCOMP_FILTER_FLAG_NEW_LISTENER
#define SECCOMP_FILTER_FLAG_NEW_LISTENER (1UL << 3)
#endif
#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif
#define X32_SYSCALL_BIT 0x40000000L

// ---------------------------------------------------------------------------------------------
// Output helpers

static const char *errno_name(int e) {
    switch (e) {
#define E(x) case x: return #x;
        E(EPERM) E(ENOENT) E(ESRCH) E(EINTR) E(EIO) E(ENXIO) E(E2BIG) E(ENOEXEC) E(EBADF) E(ECHILD)
        E(EAGAIN) E(ENOMEM) E(EACCES) E(EFAULT) E(EBUSY) E(EEXIST) E(EXDEV) E(ENODEV) E(ENOTDIR)
        E(EISDIR) E(EINVAL) E(ENFILE) E(EMFILE) E(ENOTTY) E(ETXTBSY) E(EFBIG) E(ENOSPC) E(ESPIPE)
        E(EROFS) E(EMLINK) E(EPIPE) E(ERANGE) E(ENAMETOOLONG) E(ENOSYS) E(ENOTEMPTY) E(ELOOP)
        E(EAFNOSUPPORT) E(EPROTONOSUPPORT) E(EOPNOTSUPP)
        E(EUSERS) E(ENOKEY) E(EKEYREVOKED) E(ECONNREFUSED) E(ENETUNREACH) E(EADDRNOTAVAIL) E(ESTALE)
        E(EDQUOT) E(ENOMEDIUM) E(ECANCELED) E(EOWNERDEAD)
#undef E
    default: return "?";
    }
}

static const char *check_name = "probe";

static int ok(void) {
    printf("%s: ok\n", check_name);
    return 0;
}

static int fail(int e) {
    printf("%s: errno %d (%s)\n", check_name, e, errno_name(e));
    return 1;
}

static int setup_fail(int e, const char *step) {
    printf("%s: setup errno %d (%s) %s\n", check_name, e, errno_name(e), step);
    return 2;
}

/// -1/errno convention (glibc wrappers and syscall(2)) → one line.
static int report(long rc) { return rc == -1 ? fail(errno) : ok(); }

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
}

// ---------------------------------------------------------------------------------------------
// Checks. Each returns the process exit status and prints exactly one line (unless noted).

// root: ok, nobody: ok.
static int c_ptrace(int argc, char **argv) {
    (void)argc; (void)argv;
    return report(syscall(SYS_ptrace, 0 /* PTRACE_TRACEME */, 0, 0, 0));
}

// root: ok, nobody: ok.
static int c_process_vm_readv(int argc, char **argv) {
    (void)argc; (void)argv;
    char src[16] = "airlock-probe", dst[16] = {0};
    struct iovec local = {dst, sizeof dst}, remote = {src, sizeof src};
    long n = syscall(SYS_process_vm_readv, getpid(), &local, 1UL, &remote, 1UL, 0UL); // unsigned longs: syscall() is variadic
    return report(n);
}

// root: ok, nobody: ok (writes its own memory).
static int c_process_vm_writev(int argc, char **argv) {
    (void)argc; (void)argv;
    char src[16] = "airlock-probe", dst[16] = {0};
    struct iovec local = {src, sizeof src}, remote = {dst, sizeof dst};
    long n = syscall(SYS_process_vm_writev, getpid(), &local, 1UL, &remote, 1UL, 0UL);
    return report(n);
}

// root: ok, nobody: EPERM (kernel.unprivileged_bpf_disabled=2).
static int c_bpf(int argc, char **argv) {
    (void)argc; (void)argv;
    union bpf_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.map_type = BPF_MAP_TYPE_ARRAY;
    attr.key_size = 4;
    attr.value_size = 4;
    attr.max_entries = 1;
    return report(syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof attr));
}

// root: ok, nobody: ok (user-space-only self-monitoring is allowed at paranoid=2).
static int c_perf_event_open(int argc, char **argv) {
    (void)argc; (void)argv;
    struct perf_event_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.size = sizeof attr;
    attr.type = PERF_TYPE_SOFTWARE;
    attr.config = PERF_COUNT_SW_TASK_CLOCK;
    attr.disabled = 1;
    attr.exclude_kernel = 1;
    attr.exclude_hv = 1;
    return report(syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0));
}

// root: ok, nobody: ok (UFFD_USER_MODE_ONLY is allowed with vm.unprivileged_userfaultfd=0).
static int c_userfaultfd(int argc, char **argv) {
    (void)argc; (void)argv;
    return report(syscall(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY));
}

// root: ok, nobody: ok (kernel.io_uring_disabled=0).
static int c_io_uring_setup(int argc, char **argv) {
    (void)argc; (void)argv;
    unsigned char params[120]; // struct io_uring_params; zeroed means "defaults"
    memset(params, 0, sizeof params);
    return report(syscall(SYS_io_uring_setup, 1, params));
}

// root: ok, nobody: ok.
static int c_keyctl(int argc, char **argv) {
    (void)argc; (void)argv;
    return report(syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_PROCESS_KEYRING, 1));
}

// root: ok, nobody: ok.
static int c_add_key(int argc, char **argv) {
    (void)argc; (void)argv;
    return report(syscall(SYS_add_key, "user", "airlock-probe", "x", 1, KEY_SPEC_PROCESS_KEYRING));
}

// root: ok, nobody: ok. (Sets READ_IMPLIES_EXEC, which the filter must refuse.)
static int c_personality(int argc, char **argv) {
    (void)argc; (void)argv;
    return report(syscall(SYS_personality, (unsigned long)(PER_LINUX | READ_IMPLIES_EXEC)));
}

// root: ok, nobody: ok. A control: PER_LINUX itself must stay allowed.
static int c_personality_linux(int argc, char **argv) {
    (void)argc; (void)argv;
    return report(syscall(SYS_personality, (unsigned long)PER_LINUX));
}

// root: ok, nobody: ok.
static int c_name_to_handle_at(int argc, char **argv) {
    (void)argc; (void)argv;
    struct { struct file_handle h; unsigned char bytes[128]; } fh;
    fh.h.handle_bytes = sizeof fh.bytes;
    int mount_id = 0;
    return report(syscall(SYS_name_to_handle_at, AT_FDCWD, "/", &fh.h, &mount_id, 0));
}

// root: EBADF-free call with a bogus handle — root: ESTALE/EINVAL, nobody: EPERM. The filter answers
// EPERM before the kernel looks at the handle.
static int c_open_by_handle_at(int argc, char **argv) {
    (void)argc; (void)argv;
    struct { struct file_handle h; unsigned char bytes[8]; } fh;
    memset(&fh, 0, sizeof fh);
    fh.h.handle_bytes = 8;
    fh.h.handle_type = 1;
    return report(syscall(SYS_open_by_handle_at, AT_FDCWD, &fh.h, O_RDONLY));
}

// mount [DIR]: a tmpfs on DIR (default: the current directory), detached again at once.
// root: ok, nobody: EPERM.
static int c_mount(int argc, char **argv) {
    const char *target = argc > 1 ? argv[1] : ".";
    long rc = syscall(SYS_mount, "airlock-probe", target, "tmpfs", 0UL, "size=64k");
    if (rc == 0) umount2(target, MNT_DETACH);
    return report(rc);
}

// umount2 PATH: detach whatever is mounted on PATH (e.g. a hidden-path stand-in).
// root on a tmpfs mounted for the purpose: ok; nobody: EPERM.
static int c_umount2(int argc, char **argv) {
    if (argc < 2) return setup_fail(EINVAL, "usage: umount2 PATH");
    return report(syscall(SYS_umount2, argv[1], MNT_DETACH));
}

// root: EINVAL (/ is not a bind target for pivot_root here); the filter answers EPERM first.
static int c_pivot_root(int argc, char **argv) {
    (void)argc; (void)argv;
    return report(syscall(SYS_pivot_root, ".", "."));
}

// open_tree without OPEN_TREE_CLONE needs no privilege — root: ok, nobody: ok.
static int c_open_tree(int argc, char **argv) {
    (void)argc; (void)argv;
    return report(syscall(SYS_open_tree, AT_FDCWD, "/", OPEN_TREE_CLOEXEC));
}

// root: EBADF (no such fds); the filter answers EPERM first.
static int c_move_mount(int argc, char **argv) {
    (void)argc; (void)argv;
    return report(syscall(SYS_move_mount, -1, "", -1, "", 0));
}

// root: ok, nobody: EPERM.
static int c_fsopen(int argc, char **argv) {
    (void)argc; (void)argv;
    return report(syscall(SYS_fsopen, "tmpfs", FSOPEN_CLOEXEC));
}

// root: EBADF; the filter answers EPERM first.
static int c_fsconfig(int argc, char **argv) {
    (void)argc; (void)argv;
    return report(syscall(SYS_fsconfig, -1, 0, NULL, NULL, 0));
}

// root: EBADF; the filter answers EPERM first.
static int c_fsmount(int argc, char **argv) {
    (void)argc; (void)argv;
    return report(syscall(SYS_fsmount, -1, 0, 0));
}

// root: ok, nobody: EPERM.
static int c_fspick(int argc, char **argv) {
    (void)argc; (void)argv;
    return report(syscall(SYS_fspick, AT_FDCWD, "/", FSPICK_CLOEXEC));
}

// root: EINVAL (zero-size attr); the filter answers EPERM first.
static int c_mount_setattr(int argc, char **argv) {
    (void)argc; (void)argv;
    return report(syscall(SYS_mount_setattr, AT_FDCWD, "/", 0, NULL, 0));
}

// root: ok, nobody: EPERM.
static int c_chroot(int argc, char **argv) {
    (void)argc; (void)argv;
    return report(syscall(SYS_chroot, "/"));
}

// root: ok, nobody: ok.
static int c_unshare_user(int argc, char **argv) {
    (void)argc; (void)argv;
    return report(syscall(SYS_unshare, CLONE_NEWUSER));
}

// root: ok, nobody: EPERM.
static int c_unshare_ns(int argc, char **argv) {
    (void)argc; (void)argv;
    return report(syscall(SYS_unshare, CLONE_NEWNS));
}

// The checks below call privileged syscalls with arguments the kernel rejects before it acts (no
// such file, bad fd, bad magic), so that running them bare, even as root, changes nothing. Bare as
// root they fail with something other than EPERM (noted per check); the filter answers EPERM first.

// root: EINVAL (unknown flags); ENOSYS on the development VM (no kexec).
static int c_kexec_load(int argc, char **argv) {
    (void)argc; (void)argv;
    return report(syscall(SYS_kexec_load, 0UL, 0UL, NULL, 0xdead0000UL));
}

// root: EBADF or EINVAL; ENOSYS on the development VM (no kexec).
static int c_kexec_file_load(int argc, char **argv) {
    (void)argc; (void)argv;
    return report(syscall(SYS_kexec_file_load, -1, -1, 0UL, "", 0xdead0000UL));
}

// root: ENOEXEC (not a module image); ENOSYS on the development VM (no modules).
static int c_init_module(int argc, char **argv) {
    (void)argc; (void)argv;
    static const char not_elf[16] = "not a module";
    return report(syscall(SYS_init_module, not_elf, sizeof not_elf, ""));
}

// root: EBADF; ENOSYS on the development VM (no modules).
static int c_finit_module(int argc, char **argv) {
    (void)argc; (void)argv;
    return report(syscall(SYS_finit_module, -1, "", 0));
}

// root: ENOENT (no such module); ENOSYS on the development VM (no modules).
static int c_delete_module(int argc, char **argv) {
    (void)argc; (void)argv;
    return report(syscall(SYS_delete_module, "airlock_probe_no_such_module", O_NONBLOCK));
}

// root: ENOENT.
static int c_acct(int argc, char **argv) {
    (void)argc; (void)argv;
    return report(syscall(SYS_acct, "/nonexistent/airlock-probe/acct"));
}

// root: ENOENT.
static int c_swapon(int argc, char **argv) {
    (void)argc; (void)argv;
    return report(syscall(SYS_swapon, "/nonexistent/airlock-probe/swap", 0));
}

// root: ENOENT.
static int c_swapoff(int argc, char **argv) {
    (void)argc; (void)argv;
    return report(syscall(SYS_swapoff, "/nonexistent/airlock-probe/swap"));
}

// root: EINVAL (magic numbers are wrong, so nothing happens).
static int c_reboot(int argc, char **argv) {
    (void)argc; (void)argv;
    return report(syscall(SYS_reboot, 0, 0, 0, NULL));
}

// root: EBADF.
static int c_io_uring_enter(int argc, char **argv) {
    (void)argc; (void)argv;
    return report(syscall(SYS_io_uring_enter, -1, 0, 0, 0, NULL, 0));
}

// root: EINVAL or EBADF.
static int c_io_uring_register(int argc, char **argv) {
    (void)argc; (void)argv;
    return report(syscall(SYS_io_uring_register, -1, 0, NULL, 0));
}

// root: ENOKEY.
static int c_request_key(int argc, char **argv) {
    (void)argc; (void)argv;
    return report(syscall(SYS_request_key, "user", "airlock-probe:no-such-key", NULL, 0));
}

// root: ok, nobody: EPERM.
static int c_unshare_net(int argc, char **argv) {
    (void)argc; (void)argv;
    return report(syscall(SYS_unshare, CLONE_NEWNET));
}

/// Raw clone(2) with FLAGS; the child exits at once. Prints ok if a child was created.
static int raw_clone_and_reap(unsigned long flags) {
    long pid = syscall(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0);
    if (pid == 0) syscall(SYS_exit_group, 0);
    if (pid > 0) {
        int status;
        waitpid((pid_t)pid, &status, 0);
    }
    return report(pid);
}

// root: ok, nobody: ok.
static int c_clone_newuser(int argc, char **argv) {
    (void)argc; (void)argv;
    return raw_clone_and_reap(CLONE_NEWUSER);
}

// root: ok, nobody: EPERM.
static int c_clone_newns(int argc, char **argv) {
    (void)argc; (void)argv;
    return raw_clone_and_reap(CLONE_NEWNS);
}

// A control: plain fork through raw clone must keep working. root: ok, nobody: ok.
static int c_clone_plain(int argc, char **argv) {
    (void)argc; (void)argv;
    return raw_clone_and_reap(0);
}

// Joins its own UTS namespace. root: ok, nobody: EPERM.
static int c_setns(int argc, char **argv) {
    (void)argc; (void)argv;
    int fd = open("/proc/self/ns/uts", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return setup_fail(errno, "open /proc/self/ns/uts");
    return report(syscall(SYS_setns, fd, CLONE_NEWUTS));
}

// Installs an allow-all filter asking for a notification listener. root: ok, nobody: ok.
static int c_seccomp_listener(int argc, char **argv) {
    (void)argc; (void)argv;
    struct sock_filter allow[] = {BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
    struct sock_fprog prog = {1, allow};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return setup_fail(errno, "PR_SET_NO_NEW_PRIVS");
    return report(syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog));
}

// The same, with garbage in the high 32 bits of the operation (the kernel reads an int): a
// filter comparing all 64 bits would let it through.
static int c_seccomp_listener_highbits(int argc, char **argv) {
    (void)argc; (void)argv;
    struct sock_filter allow[] = {BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
    struct sock_fprog prog = {1, allow};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return setup_fail(errno, "PR_SET_NO_NEW_PRIVS");
    return report(syscall(SYS_seccomp, 0x100000000UL | SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog));
}

// Raw clone3 with no flags; the child exits at once. root: ok, nobody: ok.
static int c_clone3(int argc, char **argv) {
    (void)argc; (void)argv;
    uint64_t args[11]; // struct clone_args (v2, 88 bytes)
    memset(args, 0, sizeof args);
    args[4] = SIGCHLD; // exit_signal
    long pid = syscall(SYS_clone3, args, sizeof args);
    if (pid == 0) syscall(SYS_exit_group, 0);
    if (pid > 0) {
        int status;
        waitpid((pid_t)pid, &status, 0);
    }
    return report(pid);
}

// getpid through the x32 ABI. Bare: ENOSYS on this machine (CONFIG_X86_X32_ABI unset), so all a
// test can demand is that it does not succeed. Prints `x32: ok` only if it returned our pid.
static int c_x32(int argc, char **argv) {
    (void)argc; (void)argv;
    long rc;
    __asm__ volatile("syscall"
                     : "=a"(rc)
                     : "0"(X32_SYSCALL_BIT | SYS_getpid)
                     : "rcx", "r11", "memory");
    if (rc == getpid()) return ok();
    if (rc < 0 && rc > -4096) return fail((int)-rc);
    printf("x32: returned %ld\n", rc);
    return 1;
}

// getpid (i386 number 20) through `int $0x80`. root: ok, nobody: ok (IA32 emulation is on).
static int c_i386(int argc, char **argv) {
    (void)argc; (void)argv;
    long rc;
    __asm__ volatile("int $0x80"
                     : "=a"(rc)
                     : "0"(20L)
                     : "r8", "r9", "r10", "r11", "memory");
    int r = (int)rc; // the i386 ABI returns a 32-bit value
    if (r == getpid()) return ok();
    if (r < 0 && r > -4096) return fail(-r);
    printf("i386: returned %d\n", r);
    return 1;
}

/// The terminal to try: FD if given, else /dev/tty, else stdin.
static int terminal_fd(int argc, char **argv) {
    if (argc > 1) return atoi(argv[1]);
    int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
    return fd >= 0 ? fd : 0;
}

// tiocsti [FD]: pushes "#" into the terminal's input. On a non-tty (tests run with stdin /dev/null)
// the kernel says ENOTTY, so EPERM means the filter answered. On this machine's own controlling tty:
// root: ok, nobody: ok (dev.tty.legacy_tiocsti=1).
static int c_tiocsti(int argc, char **argv) {
    char c = '#';
    return report(ioctl(terminal_fd(argc, argv), TIOCSTI, &c));
}

// tiocsti-high [FD]: the same request with bit 32 set. The kernel only looks at the low 32 bits of
// the command, so bare this behaves exactly like tiocsti; a filter comparing all 64 bits misses it.
static int c_tiocsti_high(int argc, char **argv) {
    char c = '#';
    unsigned long request = (unsigned long)TIOCSTI | 0x100000000UL;
    return report(syscall(SYS_ioctl, terminal_fd(argc, argv), request, &c));
}

// tioclinux [FD]: TIOCLINUX subcode 6 (get shift state). Bare on a non-console: ENOTTY/EINVAL.
static int c_tioclinux(int argc, char **argv) {
    char sub = 6;
    return report(ioctl(terminal_fd(argc, argv), TIOCLINUX, &sub));
}

// tioclinux-high [FD]: as tioclinux with bit 32 of the request set.
static int c_tioclinux_high(int argc, char **argv) {
    char sub = 6;
    unsigned long request = (unsigned long)TIOCLINUX | 0x100000000UL;
    return report(syscall(SYS_ioctl, terminal_fd(argc, argv), request, &sub));
}

/// socket(DOMAIN, TYPE, 0), closed again.
static int try_socket(int domain, int type) {
    int fd = socket(domain, type | SOCK_CLOEXEC, 0);
    if (fd >= 0) close(fd);
    return report(fd);
}

// root: ok, nobody: ok (each of these).
static int c_socket_inet(int argc, char **argv) { (void)argc; (void)argv; return try_socket(AF_INET, SOCK_STREAM); }
// AF_INET with garbage in the high 32 bits of the domain (an int to the kernel).
static int c_socket_inet_highbits(int argc, char **argv) {
    (void)argc; (void)argv;
    long fd = syscall(SYS_socket, 0x100000000UL | AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0) close((int)fd);
    return report(fd);
}
static int c_socket_inet6(int argc, char **argv) { (void)argc; (void)argv; return try_socket(AF_INET6, SOCK_STREAM); }
static int c_socket_udp(int argc, char **argv) { (void)argc; (void)argv; return try_socket(AF_INET, SOCK_DGRAM); }
static int c_socket_unix(int argc, char **argv) { (void)argc; (void)argv; return try_socket(AF_UNIX, SOCK_STREAM); }

/// `socket-of FAMILY TYPE[+nonblock] [PROTOCOL]`: socket(2) of any kind, closed again. FAMILY: inet,
/// inet6, unix, netlink, packet; TYPE: stream, dgram, raw, seqpacket; PROTOCOL a number (0).
/// Bare as root: inet/inet6 stream, dgram and raw (protocol 1 or 58), netlink dgram, packet raw all ok;
/// inet stream 132 (SCTP) and 262 (MPTCP) as the kernel's modules allow.
static int c_socket_of(int argc, char **argv) {
    if (argc < 3) return setup_fail(EINVAL, "usage: socket-of FAMILY TYPE [PROTOCOL]");
    int family = strcmp(argv[1], "inet") == 0 ? AF_INET : strcmp(argv[1], "inet6") == 0 ? AF_INET6
               : strcmp(argv[1], "unix") == 0 ? AF_UNIX : strcmp(argv[1], "netlink") == 0 ? AF_NETLINK
               : strcmp(argv[1], "packet") == 0 ? AF_PACKET : -1;
    const char *t = argv[2];
    int type = strncmp(t, "stream", 6) == 0 ? SOCK_STREAM : strncmp(t, "dgram", 5) == 0 ? SOCK_DGRAM
             : strncmp(t, "raw", 3) == 0 ? SOCK_RAW : strncmp(t, "seqpacket", 9) == 0 ? SOCK_SEQPACKET : -1;
    if (family < 0 || type < 0) return setup_fail(EINVAL, "unknown family or type");
    if (strstr(t, "+nonblock")) type |= SOCK_NONBLOCK;
    int protocol = argc > 3 ? atoi(argv[3]) : 0;
    int fd = socket(family, type | SOCK_CLOEXEC, protocol);
    if (fd < 0) return fail(errno);
    close(fd);
    return ok();
}

static int inet_address(const char *host, int port, struct sockaddr_storage *out, socklen_t *len) {
    memset(out, 0, sizeof *out);
    struct sockaddr_in *v4 = (struct sockaddr_in *)out;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)out;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET; v4->sin_port = htons((uint16_t)port); *len = sizeof *v4;
        return AF_INET;
    }
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6; v6->sin6_port = htons((uint16_t)port); *len = sizeof *v6;
        return AF_INET6;
    }
    return -1;
}

/// `connect-tcp HOST PORT`: a TCP connection to an IP address (no DNS), closed again; on success
/// the first line the peer sends within a second, if any, is appended.
static int c_connect_tcp(int argc, char **argv) {
    if (argc < 3) return setup_fail(EINVAL, "usage: connect-tcp HOST PORT");
    struct sockaddr_storage addr; socklen_t len;
    int family = inet_address(argv[1], atoi(argv[2]), &addr, &len);
    if (family < 0) return setup_fail(EINVAL, "not an IP address");
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return setup_fail(errno, "socket");
    if (connect(fd, (struct sockaddr *)&addr, len) < 0) { int e = errno; close(fd); return fail(e); }
    struct pollfd p = {.fd = fd, .events = POLLIN};
    char buf[128] = {0};
    ssize_t n = poll(&p, 1, 1000) > 0 ? read(fd, buf, sizeof buf - 1) : 0;
    close(fd);
    if (n > 0) {
        buf[strcspn(buf, "\r\n")] = 0;
        printf("%s: ok %s\n", check_name, buf);
        return 0;
    }
    return ok();
}

/// `connect-unix PATH`: a stream connection to the UNIX socket at PATH (`@NAME`: the abstract
/// socket NAME), closed again.
static int c_connect_unix(int argc, char **argv) {
    if (argc < 2) return setup_fail(EINVAL, "usage: connect-unix PATH|@NAME");
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    size_t len = strlen(argv[1]);
    if (len >= sizeof addr.sun_path) return setup_fail(ENAMETOOLONG, "path");
    memcpy(addr.sun_path, argv[1], len);
    if (argv[1][0] == '@') addr.sun_path[0] = 0;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return setup_fail(errno, "socket");
    socklen_t size = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (argv[1][0] == '@' ? 0 : 1));
    int rc = connect(fd, (struct sockaddr *)&addr, size);
    int e = errno;
    close(fd);
    return rc < 0 ? fail(e) : ok();
}

/// `connect-proxy`: `connect-tcp` to the address in AIRLOCK_PROXY (HOST:PORT), where airlock put
/// the proxy in proxy mode.
static int c_connect_proxy(int argc, char **argv) {
    (void)argc; (void)argv;
    const char *proxy = getenv("AIRLOCK_PROXY");
    const char *colon = proxy ? strrchr(proxy, ':') : NULL;
    if (!colon || colon == proxy || (size_t)(colon - proxy) >= 64) return setup_fail(EINVAL, "AIRLOCK_PROXY is not HOST:PORT");
    char host[64];
    memcpy(host, proxy, (size_t)(colon - proxy));
    host[colon - proxy] = 0;
    char *args[] = {"connect-tcp", host, (char *)colon + 1, NULL};
    return c_connect_tcp(3, args);
}

/// `bind-tcp HOST PORT`: a TCP socket bound (and listening) there, closed again.
static int c_bind_tcp(int argc, char **argv) {
    if (argc < 3) return setup_fail(EINVAL, "usage: bind-tcp HOST PORT");
    struct sockaddr_storage addr; socklen_t len;
    int family = inet_address(argv[1], atoi(argv[2]), &addr, &len);
    if (family < 0) return setup_fail(EINVAL, "not an IP address");
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return setup_fail(errno, "socket");
    int rc = bind(fd, (struct sockaddr *)&addr, len);
    if (rc == 0) rc = listen(fd, 1);
    int e = errno;
    close(fd);
    return rc < 0 ? fail(e) : ok();
}

/// Prints up to N bytes, with anything but printable ASCII as \xNN.
static void print_escaped(const unsigned char *bytes, size_t n) {
    for (size_t i = 0; i < n; i++) {
        unsigned char b = bytes[i];
        if (b >= 0x20 && b < 0x7f && b != '\\') putchar(b);
        else printf("\\x%02x", b);
    }
}

// read PATH: `read: ok N bytes: <first 256 bytes, escaped>` or `read: errno N (NAME)`.
static int c_read(int argc, char **argv) {
    if (argc < 2) return setup_fail(EINVAL, "usage: read PATH");
    int fd = open(argv[1], O_RDONLY | O_CLOEXEC);
    if (fd < 0) return fail(errno);
    unsigned char buf[65536];
    size_t total = 0;
    for (;;) {
        ssize_t n = read(fd, buf + total, sizeof buf - total);
        if (n < 0) { if (errno == EINTR) continue; int e = errno; close(fd); return fail(e); }
        if (n == 0 || (total += (size_t)n) == sizeof buf) break;
    }
    close(fd);
    printf("read: ok %zu bytes: ", total);
    print_escaped(buf, total < 256 ? total : 256);
    putchar('\n');
    return 0;
}

// write PATH: creates or appends one line. `write: ok` or `write: errno N (NAME)`.
static int c_write(int argc, char **argv) {
    if (argc < 2) return setup_fail(EINVAL, "usage: write PATH");
    int fd = open(argv[1], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return fail(errno);
    static const char line[] = "written by airlock-probe\n";
    ssize_t n = write(fd, line, sizeof line - 1);
    int e = errno;
    close(fd);
    return n < 0 ? fail(e) : ok();
}

// mkdir PATH. `mkdir: ok` or errno.
static int c_mkdir(int argc, char **argv) {
    if (argc < 2) return setup_fail(EINVAL, "usage: mkdir PATH");
    return report(mkdir(argv[1], 0755));
}

// unlink PATH. `unlink: ok` or errno.
static int c_unlink(int argc, char **argv) {
    if (argc < 2) return setup_fail(EINVAL, "usage: unlink PATH");
    return report(unlink(argv[1]));
}

// link FROM TO: a hard link. `link: ok` or errno.
static int c_link(int argc, char **argv) {
    if (argc < 3) return setup_fail(EINVAL, "usage: link FROM TO");
    return report(link(argv[1], argv[2]));
}

// rename FROM TO. `rename: ok` or errno.
static int c_rename(int argc, char **argv) {
    if (argc < 3) return setup_fail(EINVAL, "usage: rename FROM TO");
    return report(rename(argv[1], argv[2]));
}

// symlink TARGET LINK. `symlink: ok` or errno.
static int c_symlink(int argc, char **argv) {
    if (argc < 3) return setup_fail(EINVAL, "usage: symlink TARGET LINK");
    return report(symlink(argv[1], argv[2]));
}

// list DIR: `list: ok N: name name ...` (without . and ..) or `list: errno N (NAME)`.
static int c_list(int argc, char **argv) {
    if (argc < 2) return setup_fail(EINVAL, "usage: list DIR");
    DIR *d = opendir(argv[1]);
    if (!d) return fail(errno);
    char names[8192] = "";
    size_t used = 0;
    int count = 0;
    struct dirent *e;
    errno = 0;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        count++;
        int n = snprintf(names + used, sizeof names - used, " %s", e->d_name);
        if (n > 0 && (size_t)n < sizeof names - used) used += (size_t)n;
    }
    int err = errno;
    closedir(d);
    if (err) return fail(err);
    printf("list: ok %d:%s\n", count, names);
    return 0;
}

// fds: `fds: 0 1 2` — the open descriptors, from /proc/self/fd, without the one used to list them.
static int c_fds(int argc, char **argv) {
    (void)argc; (void)argv;
    DIR *d = opendir("/proc/self/fd");
    if (!d) return setup_fail(errno, "opendir /proc/self/fd");
    int self = dirfd(d);
    int fds[1024], n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < 1024) {
        if (e->d_name[0] == '.') continue;
        int fd = atoi(e->d_name);
        if (fd != self) fds[n++] = fd;
    }
    closedir(d);
    for (int i = 1; i < n; i++) // insertion sort; readdir order is not numeric
        for (int j = i; j > 0 && fds[j - 1] > fds[j]; j--) { int t = fds[j]; fds[j] = fds[j - 1]; fds[j - 1] = t; }
    printf("fds:");
    for (int i = 0; i < n; i++) {
        char link[64], target[512] = "";
        snprintf(link, sizeof link, "/proc/self/fd/%d", fds[i]);
        ssize_t len = readlink(link, target, sizeof target - 1);
        if (len > 0) target[len] = 0;
        if (fds[i] > 2) printf(" %d=%s", fds[i], target); // name strays, to make a failure useful
        else printf(" %d", fds[i]);
    }
    putchar('\n');
    return 0;
}

/// One-character process state from /proc/PID/stat, 0 if the process does not exist, '?' on error.
static char proc_state(pid_t pid, int *ppid) {
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT || errno == ESRCH ? 0 : '?';
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return 0;
    buf[n] = 0;
    char *close_paren = strrchr(buf, ')');
    if (!close_paren || close_paren[1] == 0) return '?';
    char state = close_paren[2];
    if (ppid) *ppid = atoi(close_paren + 4);
    return state;
}

// orphan: the child exits at once, the grandchild after 100 ms. 600 ms later, is the grandchild
// gone (`orphan: reaped`) or left a zombie (`orphan: zombie (ppid N)`)? Bare on this machine: reaped
// (the host's PID 1 reaps orphans).
static int c_orphan(int argc, char **argv) {
    (void)argc; (void)argv;
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) return setup_fail(errno, "pipe2");
    pid_t child = fork();
    if (child < 0) return setup_fail(errno, "fork");
    if (child == 0) {
        pid_t grandchild = fork();
        if (grandchild == 0) {
            sleep_ms(100);
            _exit(0);
        }
        (void)!write(p[1], &grandchild, sizeof grandchild);
        _exit(0);
    }
    close(p[1]);
    pid_t grandchild = -1;
    (void)!read(p[0], &grandchild, sizeof grandchild);
    close(p[0]);
    waitpid(child, NULL, 0);
    if (grandchild <= 0) return setup_fail(EAGAIN, "grandchild fork");
    sleep_ms(600);
    int ppid = 0;
    char state = proc_state(grandchild, &ppid);
    if (state == 0) { printf("orphan: reaped\n"); return 0; }
    if (state == 'Z') { printf("orphan: zombie (pid %d ppid %d)\n", grandchild, ppid); return 1; }
    printf("orphan: state %c (pid %d ppid %d)\n", state, grandchild, ppid);
    return 1;
}

/// Number of numeric entries in /proc.
static int count_processes(void) {
    DIR *d = opendir("/proc");
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] >= '1' && e->d_name[0] <= '9') n++;
    closedir(d);
    return n;
}

// pid: `pid: ok pid=N ppid=N procself=N processes=N` — procself is what /proc/self points at (it
// equals pid only when /proc belongs to our PID namespace), processes counts /proc entries.
static int c_pid(int argc, char **argv) {
    (void)argc; (void)argv;
    char target[64] = "";
    ssize_t n = readlink("/proc/self", target, sizeof target - 1);
    if (n > 0) target[n] = 0;
    printf("pid: ok pid=%d ppid=%d procself=%s processes=%d\n", getpid(), getppid(),
           n > 0 ? target : "?", count_processes());
    return 0;
}

// sid: `sid: ok` if this process leads its own session, else `sid: no (sid N pid N)`.
static int c_sid(int argc, char **argv) {
    (void)argc; (void)argv;
    pid_t sid = getsid(0), pid = getpid();
    if (sid == pid) return ok();
    printf("sid: no (sid %d pid %d)\n", sid, pid);
    return 1;
}

// tty: can /dev/tty (the controlling terminal) be opened?
static int c_tty(int argc, char **argv) {
    (void)argc; (void)argv;
    int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
    if (fd >= 0) close(fd);
    return report(fd);
}

// cwd: `cwd: ok PATH`.
static int c_cwd(int argc, char **argv) {
    (void)argc; (void)argv;
    char buf[4096];
    if (!getcwd(buf, sizeof buf)) return fail(errno);
    printf("cwd: ok %s\n", buf);
    return 0;
}

// env: one line per variable, `env: NAME=VALUE`.
static int c_env(int argc, char **argv) {
    (void)argc; (void)argv;
    extern char **environ;
    for (char **e = environ; *e; e++) printf("env: %s\n", *e);
    return 0;
}

// environ-scan NEEDLE: looks for NEEDLE in the environment of every process visible in /proc.
// `environ-scan: clean (R of N readable)` or `environ-scan: found in pid P`.
static int c_environ_scan(int argc, char **argv) {
    if (argc < 2) return setup_fail(EINVAL, "usage: environ-scan NEEDLE");
    const char *needle = argv[1];
    size_t needle_len = strlen(needle);
    DIR *d = opendir("/proc");
    if (!d) return setup_fail(errno, "opendir /proc");
    int readable = 0, total = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
        total++;
        char path[300];
        snprintf(path, sizeof path, "/proc/%s/environ", e->d_name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        static char buf[1 << 20];
        size_t used = 0;
        ssize_t n;
        while (used < sizeof buf && (n = read(fd, buf + used, sizeof buf - used)) > 0) used += (size_t)n;
        close(fd);
        if (used > 0) readable++;
        if (memmem(buf, used, needle, needle_len)) {
            printf("environ-scan: found in pid %s\n", e->d_name);
            closedir(d);
            return 1;
        }
    }
    closedir(d);
    printf("environ-scan: clean (%d of %d readable)\n", readable, total);
    return 0;
}

// blockdev PATH: opens the block device holding PATH (via /sys/dev/block/MAJ:MIN/uevent → /dev/NAME)
// and reads its first sector. Bare on the development VM even root gets EPERM (the VM forbids it),
// so no test relies on it; kept for machines where it works.
static int c_blockdev(int argc, char **argv) {
    if (argc < 2) return setup_fail(EINVAL, "usage: blockdev PATH");
    struct stat st;
    if (stat(argv[1], &st) != 0) return setup_fail(errno, "stat");
    char uevent[128], buf[1024], dev[300] = "";
    snprintf(uevent, sizeof uevent, "/sys/dev/block/%u:%u/uevent", major(st.st_dev), minor(st.st_dev));
    int fd = open(uevent, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return setup_fail(errno, "open /sys/dev/block/…/uevent");
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    buf[n > 0 ? n : 0] = 0;
    char *name = strstr(buf, "DEVNAME=");
    if (!name) return setup_fail(ENOENT, "DEVNAME in uevent");
    name += 8;
    name[strcspn(name, "\n")] = 0;
    snprintf(dev, sizeof dev, "/dev/%s", name);
    fd = open(dev, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int first_errno = errno;
        // Also try the node the kernel names by number, in case /dev was rebuilt without names.
        snprintf(dev, sizeof dev, "/dev/block/%u:%u", major(st.st_dev), minor(st.st_dev));
        int fd2 = open(dev, O_RDONLY | O_CLOEXEC);
        if (fd2 < 0) return fail(first_errno);
        fd = fd2;
    }
    unsigned char sector[512];
    n = read(fd, sector, sizeof sector);
    int e = errno;
    close(fd);
    if (n < 0) return fail(e);
    printf("blockdev: ok %s\n", dev);
    return 0;
}

// kill-parent: sends signal 0 to the parent process. `kill-parent: ok`, errno, or
// `kill-parent: no parent visible` when the parent lives outside our PID namespace.
static int c_kill_parent(int argc, char **argv) {
    (void)argc; (void)argv;
    pid_t parent = getppid();
    if (parent == 0) { printf("kill-parent: no parent visible\n"); return 1; }
    return report(kill(parent, 0));
}

// kill PID SIG: kill(PID, SIG) — e.g. signal 0 to a process outside the sandbox. ok or errno.
static int c_kill(int argc, char **argv) {
    if (argc < 3) return setup_fail(EINVAL, "usage: kill PID SIG");
    return report(kill((pid_t)atoi(argv[1]), atoi(argv[2])));
}

// procmem PID: opens /proc/PID/mem for writing (what a debugger, or an attacker, would patch code
// through). root: ok on another root process; nobody: ok on its own processes (yama absent here).
static int c_procmem(int argc, char **argv) {
    if (argc < 2) return setup_fail(EINVAL, "usage: procmem PID");
    char path[64];
    snprintf(path, sizeof path, "/proc/%s/mem", argv[1]);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd >= 0) close(fd);
    return report(fd);
}

// signal N: raise(N). Prints `signal: survived (pid N)` only if the process is still alive after.
static int c_signal(int argc, char **argv) {
    if (argc < 2) return setup_fail(EINVAL, "usage: signal N");
    int sig = atoi(argv[1]);
    fflush(stdout);
    raise(sig);
    sleep_ms(200);
    printf("signal: survived (pid %d)\n", getpid());
    return 1;
}

// exit N: exit with status N, printing nothing.
static int c_exit(int argc, char **argv) {
    return argc > 1 ? atoi(argv[1]) : 0;
}

// sleep SECONDS [TAG...]: sleeps; TAG only marks the command line so a test can find the process.
static int c_sleep(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 1;
    sleep_ms((long)(seconds * 1000));
    return ok();
}

// exec-race N PROGRAM SAFE EVIL [ENOUGH]: up to N times, fork a child whose second thread flips
// argv[1] between SAFE and EVIL (same length) while its first thread execs PROGRAM with it. Prints
// `exec-race: ran-evil K killed M` where K counts children whose PROGRAM printed EVIL (read back
// through a pipe) and M those killed by SIGKILL. Bare, K > 0 proves the race is real. With ENOUGH,
// it stops once K + M reaches it (a busy machine may need many rounds for one hit).
static char race_arg[256];
static const char *race_safe, *race_evil;
static atomic_int race_flipping;

// Each value stays a few microseconds, and the exec waits until the flipping has begun: on a busy
// 2-core machine a thread just created may otherwise not run before the exec ends it.
static void *flip_arg(void *unused) {
    (void)unused;
    size_t len = strlen(race_safe);
    atomic_store(&race_flipping, 1);
    for (unsigned long i = 0;; i++) {
        memcpy(race_arg, (i & 1) ? race_evil : race_safe, len);
        for (volatile int spin = 0; spin < 2000; spin++) {}
    }
    return NULL;
}

static int c_exec_race(int argc, char **argv) {
    if (argc < 5 || strlen(argv[3]) != strlen(argv[4]) || strlen(argv[3]) >= sizeof race_arg) {
        printf("exec-race: usage: exec-race N PROGRAM SAFE EVIL (SAFE and EVIL of equal length)\n");
        return 64;
    }
    int rounds = atoi(argv[1]);
    race_safe = argv[3];
    race_evil = argv[4];
    int enough = argc > 5 ? atoi(argv[5]) : 0;
    int ran_evil = 0, killed = 0;
    for (int i = 0; i < rounds && !(enough > 0 && ran_evil + killed >= enough); i++) {
        int out[2];
        if (pipe(out) < 0) return setup_fail(errno, "pipe");
        pid_t child = fork();
        if (child == 0) {
            dup2(out[1], 1);
            close(out[0]);
            strcpy(race_arg, race_safe);
            pthread_t t;
            pthread_create(&t, NULL, flip_arg, NULL);
            while (!atomic_load(&race_flipping)) {}
            char *args[] = {argv[2], race_arg, NULL};
            execv(argv[2], args);
            _exit(127);
        }
        close(out[1]);
        char buf[512];
        ssize_t n, total = 0;
        while ((n = read(out[0], buf + total, sizeof buf - 1 - (size_t)total)) > 0) total += n;
        buf[total] = 0;
        close(out[0]);
        int status = 0;
        waitpid(child, &status, 0);
        if (strstr(buf, race_evil)) ran_evil++;
        if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) killed++;
    }
    printf("exec-race: ran-evil %d killed %d\n", ran_evil, killed);
    return 0;
}

// unlink-badptr: unlinkat with a path pointer into unmapped memory. Bare, the kernel says EFAULT;
// a supervisor whose read of agent memory fails must deny (EPERM), never let the call through.
static int c_unlink_badptr(int argc, char **argv) {
    (void)argc; (void)argv;
    return syscall(SYS_unlinkat, AT_FDCWD, (const char *)8, 0) < 0 ? fail(errno) : ok();
}

// exec-badarg: execve with an argument pointer into unmapped memory. exec-cutarg: with an argument
// that runs off the end of its page into an unmapped one, unterminated. Bare, EFAULT; under a
// supervisor, whose read of argv fails part-way, EPERM (the exec never runs).
static int exec_with_arg(const char *arg) {
    char *args[] = {"/bin/true", "first", (char *)arg, NULL};
    return syscall(SYS_execve, "/bin/true", args, environ) < 0 ? fail(errno) : ok();
}

static int c_exec_badarg(int argc, char **argv) {
    (void)argc; (void)argv;
    return exec_with_arg((const char *)8);
}

static int c_exec_cutarg(int argc, char **argv) {
    (void)argc; (void)argv;
    long page = sysconf(_SC_PAGESIZE);
    char *two = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (two == MAP_FAILED) return setup_fail(errno, "mmap");
    memset(two, 'a', page);
    if (munmap(two + page, page) < 0) return setup_fail(errno, "munmap");
    return exec_with_arg(two + page - 100); // 100 bytes, no NUL, then nothing mapped
}

// thread-unlink PATH: unlinks PATH from a second thread (system calls name threads, not processes).
static void *unlink_in_thread(void *path) {
    return (void *)(intptr_t)(unlink((const char *)path) < 0 ? errno : 0);
}

static int c_thread_unlink(int argc, char **argv) {
    if (argc < 2) return setup_fail(EINVAL, "usage: thread-unlink PATH");
    pthread_t t;
    void *result = NULL;
    if (pthread_create(&t, NULL, unlink_in_thread, argv[1]) != 0) return setup_fail(errno, "pthread_create");
    pthread_join(t, &result);
    return result ? fail((int)(intptr_t)result) : ok();
}

// alarm-storm USEC PATH: a SIGALRM handler installed with SA_RESTART and an interval timer firing
// every USEC microseconds, then unlink(PATH) from this (the only) thread, so the call is interrupted
// and restarted over and over while it waits. `alarm-storm: ok signals=N` or
// `alarm-storm: errno N (ENAME) signals=N`, N the signals handled meanwhile.
static volatile sig_atomic_t alarms;
static void count_alarm(int sig) { (void)sig; alarms++; }

static int c_alarm_storm(int argc, char **argv) {
    if (argc < 3) return setup_fail(EINVAL, "usage: alarm-storm USEC PATH");
    struct sigaction act;
    memset(&act, 0, sizeof act);
    act.sa_handler = count_alarm;
    act.sa_flags = SA_RESTART;
    sigemptyset(&act.sa_mask);
    if (sigaction(SIGALRM, &act, NULL) < 0) return setup_fail(errno, "sigaction");
    long usec = atol(argv[1]);
    struct itimerval every = {{usec / 1000000, usec % 1000000}, {usec / 1000000, usec % 1000000}};
    if (setitimer(ITIMER_REAL, &every, NULL) < 0) return setup_fail(errno, "setitimer");
    int rc = unlink(argv[2]);
    int e = errno;
    struct itimerval off;
    memset(&off, 0, sizeof off);
    setitimer(ITIMER_REAL, &off, NULL);
    if (rc < 0) printf("alarm-storm: errno %d (%s) signals=%d\n", e, errno_name(e), (int)alarms);
    else printf("alarm-storm: ok signals=%d\n", (int)alarms);
    return rc < 0 ? 1 : 0;
}

static int run_check(int argc, char **argv);

// fork-until-pid PID MAX CHECK [ARGS...]: forks (each child exits at once) until a child gets pid
// PID, at most MAX times; that child runs CHECK ARGS (printing its own line). Then
// `fork-until-pid: ok forks=K status=S` (S the child's exit status, or 128+signal), or
// `fork-until-pid: not-reused forks=K` (exit 3). Reuses the pid of a process that has gone:
// pids are allocated cyclically, so this takes up to pid_max forks.
static int c_fork_until_pid(int argc, char **argv) {
    if (argc < 4) return setup_fail(EINVAL, "usage: fork-until-pid PID MAX CHECK [ARGS...]");
    pid_t target = (pid_t)atoi(argv[1]);
    long max = atol(argv[2]);
    fflush(stdout);
    for (long i = 1; i <= max; i++) {
        pid_t child = fork();
        if (child < 0) {
            if (errno == EAGAIN) { sleep_ms(1); continue; }
            return setup_fail(errno, "fork");
        }
        if (child == 0) {
            if (getpid() != target) _exit(0);
            _exit(run_check(argc - 3, argv + 3));
        }
        int status = 0;
        while (waitpid(child, &status, 0) < 0 && errno == EINTR) {}
        if (child == target) {
            int s = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
            printf("fork-until-pid: ok forks=%ld status=%d\n", i, s);
            return 0;
        }
    }
    printf("fork-until-pid: not-reused forks=%ld\n", max);
    return 3;
}

// exec-layout PROGRAM: execs PROGRAM with an argv laid out to test how it is read: 150 short
// arguments, one of 5,000 bytes, one that straddles a page boundary, and the pointer array itself
// misaligned across a page boundary. Prints each argument after argv[0] on its own line first.
static int c_exec_layout(int argc, char **argv) {
    if (argc < 2) return setup_fail(EINVAL, "usage: exec-layout PROGRAM");
    enum { shorts = 150, total = shorts + 3 };
    long page = sysconf(_SC_PAGESIZE);
    char *strings = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *table = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    static char shortbuf[shorts][8];
    static char longarg[5001];
    if (strings == MAP_FAILED || table == MAP_FAILED) return setup_fail(errno, "mmap");
    char *straddling = strings + page - 20;
    strcpy(straddling, "straddles-a-page-boundary-0123456789");
    memset(longarg, 'x', 5000);
    // The pointer array ends 4 bytes past the first page's end + some: misaligned, across the boundary.
    char **args = (char **)(table + page - 8 * 40 + 4);
    args[0] = argv[1];
    for (int i = 0; i < shorts; i++) {
        snprintf(shortbuf[i], sizeof shortbuf[i], "a%03d", i);
        args[1 + i] = shortbuf[i];
    }
    args[1 + shorts] = longarg;
    args[2 + shorts] = straddling;
    args[total] = NULL;
    for (int i = 1; i < total; i++) printf("%s\n", args[i]);
    fflush(stdout);
    execv(argv[1], args);
    return setup_fail(errno, "execv");
}


// spawn HOW TIMEOUT_MS PROGRAM [ARGS...]: starts PROGRAM as an agent's harness would, HOW being
// posix_spawn (glibc: CLONE_VFORK), vfork, or pipe (fork + exec with a close-on-exec status pipe
// the parent reads until the exec, as Python and Node do), then waits up to TIMEOUT_MS for it and
// SIGKILLs it if it is still running, as a harness's timeout does. Prints when the spawning call
// returned and when the harness had its child back: "spawn: returned R ms; killed|exited N at T ms".
static long ms_since(const struct timespec *t0) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

extern char **environ;

static int c_spawn(int argc, char **argv) {
    if (argc < 4) return setup_fail(EINVAL, "usage: spawn posix_spawn|vfork|pipe TIMEOUT_MS PROGRAM [ARGS...]");
    long timeout = atol(argv[2]);
    char **args = argv + 3;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t pid = -1;
    if (strcmp(argv[1], "posix_spawn") == 0) {
        int rc = posix_spawn(&pid, args[0], NULL, NULL, args, environ);
        if (rc != 0) return fail(rc);
    } else if (strcmp(argv[1], "vfork") == 0) {
        pid = vfork();
        if (pid == 0) { execv(args[0], args); _exit(127); }
    } else if (strcmp(argv[1], "pipe") == 0) {
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0) return setup_fail(errno, "pipe2");
        pid = fork();
        if (pid == 0) {
            execv(args[0], args);
            int e = errno;
            (void)!write(p[1], &e, sizeof e);
            _exit(127);
        }
        close(p[1]);
        int e = 0;
        ssize_t n;
        while ((n = read(p[0], &e, sizeof e)) < 0 && errno == EINTR) {}
        close(p[0]);
        if (n == (ssize_t)sizeof e) { printf("spawn: exec failed errno %d (%s)\n", e, errno_name(e)); }
    } else {
        return setup_fail(EINVAL, "spawn: HOW is posix_spawn, vfork or pipe");
    }
    if (pid < 0) return setup_fail(errno, "spawn");
    long returned = ms_since(&t0);
    int status = 0;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) break;
        if (ms_since(&t0) >= timeout) {
            kill(pid, SIGKILL);
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
            printf("spawn: returned %ld ms; killed at %ld ms\n", returned, ms_since(&t0));
            return 0;
        }
        sleep_ms(10);
    }
    printf("spawn: returned %ld ms; exited %d at %ld ms\n", returned,
           WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), ms_since(&t0));
    return 0;
}

// ---------------------------------------------------------------------------------------------

struct check {
    const char *name;
    int (*run)(int argc, char **argv);
};

static const struct check checks[] = {
    {"exec-race", c_exec_race},
    {"exec-layout", c_exec_layout},
    {"spawn", c_spawn},
    {"thread-unlink", c_thread_unlink},
    {"alarm-storm", c_alarm_storm},
    {"fork-until-pid", c_fork_until_pid},
    {"unlink-badptr", c_unlink_badptr},
    {"exec-badarg", c_exec_badarg},
    {"exec-cutarg", c_exec_cutarg},
    {"ptrace", c_ptrace},
    {"process_vm_readv", c_process_vm_readv},
    {"process_vm_writev", c_process_vm_writev},
    {"bpf", c_bpf},
    {"perf_event_open", c_perf_event_open},
    {"userfaultfd", c_userfaultfd},
    {"io_uring_setup", c_io_uring_setup},
    {"keyctl", c_keyctl},
    {"add_key", c_add_key},
    {"personality", c_personality},
    {"personality-linux", c_personality_linux},
    {"name_to_handle_at", c_name_to_handle_at},
    {"open_by_handle_at", c_open_by_handle_at},
    {"mount", c_mount},
    {"umount2", c_umount2},
    {"pivot_root", c_pivot_root},
    {"open_tree", c_open_tree},
    {"move_mount", c_move_mount},
    {"fsopen", c_fsopen},
    {"fsconfig", c_fsconfig},
    {"fsmount", c_fsmount},
    {"fspick", c_fspick},
    {"mount_setattr", c_mount_setattr},
    {"chroot", c_chroot},
    {"unshare-user", c_unshare_user},
    {"unshare-ns", c_unshare_ns},
    {"clone-newuser", c_clone_newuser},
    {"clone-newns", c_clone_newns},
    {"clone-plain", c_clone_plain},
    {"setns", c_setns},
    {"unshare-net", c_unshare_net},
    {"kexec_load", c_kexec_load},
    {"kexec_file_load", c_kexec_file_load},
    {"init_module", c_init_module},
    {"finit_module", c_finit_module},
    {"delete_module", c_delete_module},
    {"acct", c_acct},
    {"swapon", c_swapon},
    {"swapoff", c_swapoff},
    {"reboot", c_reboot},
    {"io_uring_enter", c_io_uring_enter},
    {"io_uring_register", c_io_uring_register},
    {"request_key", c_request_key},
    {"seccomp-listener", c_seccomp_listener},
    {"seccomp-listener-highbits", c_seccomp_listener_highbits},
    {"socket-inet-highbits", c_socket_inet_highbits},
    {"clone3", c_clone3},
    {"x32", c_x32},
    {"i386", c_i386},
    {"tiocsti", c_tiocsti},
    {"tiocsti-high", c_tiocsti_high},
    {"tiocsti-fd", c_tiocsti},
    {"tioclinux", c_tioclinux},
    {"tioclinux-high", c_tioclinux_high},
    {"socket-inet", c_socket_inet},
    {"socket-inet6", c_socket_inet6},
    {"socket-udp", c_socket_udp},
    {"socket-unix", c_socket_unix},
    {"socket-of", c_socket_of},
    {"connect-tcp", c_connect_tcp},
    {"connect-proxy", c_connect_proxy},
    {"connect-unix", c_connect_unix},
    {"bind-tcp", c_bind_tcp},
    {"read", c_read},
    {"write", c_write},
    {"mkdir", c_mkdir},
    {"unlink", c_unlink},
    {"link", c_link},
    {"rename", c_rename},
    {"symlink", c_symlink},
    {"list", c_list},
    {"fds", c_fds},
    {"orphan", c_orphan},
    {"pid", c_pid},
    {"sid", c_sid},
    {"tty", c_tty},
    {"cwd", c_cwd},
    {"env", c_env},
    {"environ-scan", c_environ_scan},
    {"blockdev", c_blockdev},
    {"kill-parent", c_kill_parent},
    {"kill", c_kill},
    {"procmem", c_procmem},
    {"signal", c_signal},
    {"exit", c_exit},
    {"sleep", c_sleep},
};

static const struct check *find_check(const char *name) {
    for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++)
        if (strcmp(checks[i].name, name) == 0) return &checks[i];
    return NULL;
}

static int run_check(int argc, char **argv) {
    const struct check *c = find_check(argv[0]);
    if (!c) {
        fprintf(stderr, "airlock-probe: unknown check '%s'\n", argv[0]);
        return 64;
    }
    check_name = c->name;
    int status = c->run(argc, argv);
    fflush(stdout);
    return status;
}

static const char *signal_name(int sig) {
    switch (sig) {
    case SIGSYS: return "SIGSYS";
    case SIGKILL: return "SIGKILL";
    case SIGSEGV: return "SIGSEGV";
    case SIGTERM: return "SIGTERM";
    case SIGABRT: return "SIGABRT";
    case SIGILL: return "SIGILL";
    case SIGBUS: return "SIGBUS";
    case SIGTRAP: return "SIGTRAP";
    default: return "?";
    }
}

/// `each 'CHECK ARGS' ...`: each check in its own child so that a kill (SIGSYS) ends only that check.
static int run_each(int count, char **specs) {
    int worst = 0;
    for (int i = 0; i < count; i++) {
        char *copy = strdup(specs[i]);
        char *args[64];
        int n = 0;
        for (char *tok = strtok(copy, " "); tok && n < 63; tok = strtok(NULL, " ")) args[n++] = tok;
        args[n] = NULL;
        if (n == 0) { free(copy); continue; }
        fflush(stdout);
        pid_t pid = fork();
        if (pid < 0) {
            printf("%s: setup errno %d (%s) fork\n", args[0], errno, errno_name(errno));
            worst = 2;
        } else if (pid == 0) {
            _exit(run_check(n, args));
        } else {
            int status = 0;
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
            if (WIFSIGNALED(status)) {
                printf("%s: signal %d (%s)\n", args[0], WTERMSIG(status), signal_name(WTERMSIG(status)));
                if (worst == 0) worst = 1;
            } else if (WEXITSTATUS(status) > worst) {
                worst = WEXITSTATUS(status);
            }
        }
        free(copy);
    }
    fflush(stdout);
    return worst;
}

static void usage(void) {
    fprintf(stderr, "usage: airlock-probe CHECK [ARGS...] | airlock-probe each 'CHECK ARGS' ...\nchecks:");
    for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++) fprintf(stderr, " %s", checks[i].name);
    fputc('\n', stderr);
}

/// `with-filter FILE each ...`: loads the classic BPF program in FILE (8-byte `struct sock_filter`s,
/// as airlock exports it) with no_new_privs, then runs the checks under it: a seccomp filter tested
/// on its own, outside any sandbox.
static int with_filter(const char *file) {
    static struct sock_filter program[4096];
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) { perror(file); return -1; }
    ssize_t n = read(fd, program, sizeof program);
    close(fd);
    if (n <= 0 || n % 8) { fprintf(stderr, "airlock-probe: %s: not a filter\n", file); return -1; }
    struct sock_fprog prog = {.len = (unsigned short)(n / 8), .filter = program};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0) {
        perror("airlock-probe: seccomp");
        return -1;
    }
    return 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc >= 4 && strcmp(argv[1], "with-filter") == 0) {
        if (with_filter(argv[2]) < 0) return 2;
        argc -= 2; argv += 2;
    }
    if (argc < 2) { usage(); return 64; }
    if (strcmp(argv[1], "each") == 0) return run_each(argc - 2, argv + 2);
    return run_check(argc - 1, argv + 1);
}
