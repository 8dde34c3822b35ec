// The sandbox's first two processes, which run between a fork of the (multithreaded) airlock process
// and the agent's exec. Only async-signal-safe system calls are made here: no malloc, no stdio, no
// locks, no Swift. The parent prepared every path, rule and filter in `struct airlock_spawn_config`.
//
//   airlock ──clone(new user/mount/pid/ipc/uts/cgroup[/net] namespaces)──▶ init (pid 1 inside)
//      init: uid/gid maps, the mount plan, then clone ──▶ agent
//      agent: setsid, Landlock, drop capabilities, no_new_privs, seccomp (last), close fds, execve
//      init: forwards signals to the agent, reaps orphans, reports the agent's wait status, exits
//
// With the Landlock-only backend (no namespaces) init is a child subreaper instead of pid 1 and kills
// the agent's whole tree when it ends or when airlock dies.
#define _GNU_SOURCE
#include "airlock_shim.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

// ---- new mount API and Landlock (uapi values; Debian 12's headers lack some) ----
#define OPEN_TREE_CLONE_ 1
#define AT_RECURSIVE_ 0x8000
#define MOVE_MOUNT_F_EMPTY_PATH_ 0x00000004
#define MOVE_MOUNT_T_EMPTY_PATH_ 0x00000040
#define RESOLVE_NO_MAGICLINKS_ 0x02
#define RESOLVE_NO_SYMLINKS_ 0x04
struct open_how_ { uint64_t flags, mode, resolve; };
#define MOUNT_ATTR_RDONLY_ 0x00000001
#define MOUNT_ATTR_NOSUID_ 0x00000002
#define MOUNT_ATTR_NODEV_ 0x00000004
#define MOUNT_ATTR_NOEXEC_ 0x00000008
#define FSOPEN_CLOEXEC_ 0x00000001
#define FSCONFIG_SET_STRING_ 1
#define FSCONFIG_CMD_CREATE_ 6
#define FSMOUNT_CLOEXEC_ 0x00000001
#define LANDLOCK_RULE_PATH_BENEATH_ 1
#define LANDLOCK_RULE_NET_PORT_ 2
#define CLOSE_RANGE_CLOEXEC_ (1U << 2)

struct mount_attr_ { uint64_t attr_set, attr_clr, propagation, userns_fd; };
struct landlock_ruleset_attr_ { uint64_t handled_access_fs, handled_access_net, scoped; };
struct landlock_path_beneath_attr_ { uint64_t allowed_access; int32_t parent_fd; } __attribute__((packed));
struct landlock_net_port_attr_ { uint64_t allowed_access; uint64_t port; };

// Landlock rights that apply to a file (not a directory): adding others on a file is EINVAL.
#define LL_FILE_RIGHTS (AIRLOCK_LL_FS_EXECUTE | AIRLOCK_LL_FS_WRITE_FILE | AIRLOCK_LL_FS_READ_FILE | \
                        AIRLOCK_LL_FS_TRUNCATE | AIRLOCK_LL_FS_IOCTL_DEV)

#define MAX_TREES 256

static int forwarded_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};

// ---- async-signal-safe helpers ----

static size_t str_copy(char *dst, size_t cap, const char *src) {
    size_t i = 0;
    for (; src && src[i] && i + 1 < cap; i++) dst[i] = src[i];
    dst[i] = 0;
    return i;
}

static size_t utoa(char *buf, uint64_t v) {
    char tmp[24]; size_t n = 0;
    do { tmp[n++] = (char)('0' + v % 10); v /= 10; } while (v);
    for (size_t i = 0; i < n; i++) buf[i] = tmp[n - 1 - i];
    buf[n] = 0;
    return n;
}

static int write_all(int fd, const void *buf, size_t len) {
    const char *p = buf;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0) { if (errno == EINTR) continue; return -1; }
        p += n; len -= (size_t)n;
    }
    return 0;
}

static void report(int fd, int step, int err, const char *detail) {
    struct airlock_spawn_error e = {.step = step, .err = err};
    str_copy(e.detail, sizeof e.detail, detail);
    write_all(fd, &e, sizeof e);
}

__attribute__((noreturn)) static void die(int fd, int step, const char *detail) {
    report(fd, step, errno, detail);
    _exit(125);
}

static pid_t raw_fork(void) {
    // Not glibc's fork(): its atfork handlers may take locks other (now absent) threads held.
    return (pid_t)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
}

// ---- namespaces and the mount plan ----

static int write_file(const char *path, const char *data) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = write_all(fd, data, strlen(data));
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

static void map_ids(const struct airlock_spawn_config *cfg, int errfd) {
    char line[64]; size_t n;
    if (write_file("/proc/self/setgroups", "deny") < 0 && errno != ENOENT) die(errfd, AIRLOCK_STEP_UID_MAP, "/proc/self/setgroups");
    n = utoa(line, cfg->outside_uid); line[n++] = ' '; n += utoa(line + n, cfg->outside_uid);
    line[n++] = ' '; line[n++] = '1'; line[n++] = '\n'; line[n] = 0;
    if (write_file("/proc/self/uid_map", line) < 0) die(errfd, AIRLOCK_STEP_UID_MAP, "/proc/self/uid_map");
    n = utoa(line, cfg->outside_gid); line[n++] = ' '; n += utoa(line + n, cfg->outside_gid);
    line[n++] = ' '; line[n++] = '1'; line[n++] = '\n'; line[n] = 0;
    if (write_file("/proc/self/gid_map", line) < 0) die(errfd, AIRLOCK_STEP_UID_MAP, "/proc/self/gid_map");
}

static int open_tree_(int dfd, const char *path, unsigned flags) {
    return (int)syscall(SYS_open_tree, dfd, path, flags | OPEN_TREE_CLONE_ | O_CLOEXEC);
}

static int attach(int tree, const char *target) {
    return (int)syscall(SYS_move_mount, tree, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH_);
}

static int set_attr(int dfd, const char *path, unsigned flags, uint64_t set) {
    struct mount_attr_ attr = {.attr_set = set};
    return (int)syscall(SYS_mount_setattr, dfd, path, flags, &attr, sizeof attr);
}

// mkdir -p for a mount point; a leaf that is not a directory is created as an empty file.
static int make_mount_point(const char *path, int leaf_is_dir) {
    char buf[4096];
    size_t len = str_copy(buf, sizeof buf, path);
    if (len >= sizeof buf - 1) { errno = ENAMETOOLONG; return -1; }
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != 0) continue;
        char saved = buf[i]; buf[i] = 0;
        int last = (i == len);
        if (last && !leaf_is_dir) {
            int fd = open(buf, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
            if (fd < 0 && errno != EEXIST && errno != EISDIR && errno != EROFS) return -1;
            if (fd >= 0) close(fd);
        } else if (mkdir(buf, 0755) < 0 && errno != EEXIST && errno != EROFS) {
            return -1;
        }
        buf[i] = saved;
    }
    return 0;
}

// A fresh tmpfs, detached; read-only if asked. Returns the mount fd.
static int detached_tmpfs(const char *mode, int readonly) {
    int fs = (int)syscall(SYS_fsopen, "tmpfs", FSOPEN_CLOEXEC_);
    if (fs < 0) return -1;
    if (syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING_, "mode", mode, 0) < 0 ||
        syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING_, "size", "4k", 0) < 0 ||
        syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE_, NULL, NULL, 0) < 0) { close(fs); return -1; }
    unsigned attrs = MOUNT_ATTR_NOSUID_ | MOUNT_ATTR_NODEV_ | MOUNT_ATTR_NOEXEC_ | (readonly ? MOUNT_ATTR_RDONLY_ : 0);
    int mnt = (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC_, attrs);
    int saved = errno;
    close(fs);
    errno = saved;
    return mnt;
}

static void bind_onto_itself(int errfd, const char *path, int step, int missing_ok, int readonly) {
    int t = open_tree_(AT_FDCWD, path, AT_RECURSIVE_);
    if (t < 0) { if (missing_ok && errno == ENOENT) return; die(errfd, step, path); }
    uint64_t attrs = MOUNT_ATTR_NOSUID_ | MOUNT_ATTR_NODEV_ | (readonly ? MOUNT_ATTR_RDONLY_ : 0);
    if (set_attr(t, "", AT_EMPTY_PATH | AT_RECURSIVE_, attrs) < 0 || attach(t, path) < 0) die(errfd, step, path);
    close(t);
}

static const char *device_nodes[] = {"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty"};
#define N_DEVICES (sizeof device_nodes / sizeof device_nodes[0])

static void build_view(const struct airlock_spawn_config *cfg, int errfd) {
    if (cfg->n_writable > MAX_TREES) { errno = E2BIG; die(errfd, AIRLOCK_STEP_CLONE_TREE, "too many writable paths"); }
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) die(errfd, AIRLOCK_STEP_MOUNT_PRIVATE, "/");

    // Take detached copies of what stays writable before the host becomes read-only and before /tmp
    // and /dev are covered (a workspace may live under /tmp).
    int trees[MAX_TREES];
    for (size_t i = 0; i < cfg->n_writable; i++) {
        trees[i] = open_tree_(AT_FDCWD, cfg->writable[i], AT_RECURSIVE_);
        if (trees[i] < 0) die(errfd, AIRLOCK_STEP_CLONE_TREE, cfg->writable[i]);
        if (set_attr(trees[i], "", AT_EMPTY_PATH | AT_RECURSIVE_, MOUNT_ATTR_NOSUID_ | MOUNT_ATTR_NODEV_) < 0)
            die(errfd, AIRLOCK_STEP_CLONE_TREE, cfg->writable[i]);
    }
    int devices[N_DEVICES];
    for (size_t i = 0; i < N_DEVICES; i++) devices[i] = open_tree_(AT_FDCWD, device_nodes[i], 0);

    // The whole host, read-only, no set-uid, no device nodes.
    if (set_attr(AT_FDCWD, "/", AT_RECURSIVE_, MOUNT_ATTR_RDONLY_ | MOUNT_ATTR_NOSUID_ | MOUNT_ATTR_NODEV_) < 0)
        die(errfd, AIRLOCK_STEP_READONLY_ROOT, "/");

    // A /proc for the new pid namespace, with the kernel's knobs read-only.
    if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) die(errfd, AIRLOCK_STEP_PROC, "/proc");
    static const char *proc_readonly[] = {"/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus", "/proc/fs"};
    for (size_t i = 0; i < sizeof proc_readonly / sizeof proc_readonly[0]; i++)
        bind_onto_itself(errfd, proc_readonly[i], AIRLOCK_STEP_PROC, 1, 1);

    // A minimal /dev.
    if (mount("tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=64k") < 0) die(errfd, AIRLOCK_STEP_DEV, "/dev");
    for (size_t i = 0; i < N_DEVICES; i++) {
        if (devices[i] < 0) continue;
        if (make_mount_point(device_nodes[i], 0) < 0 || attach(devices[i], device_nodes[i]) < 0)
            die(errfd, AIRLOCK_STEP_DEV, device_nodes[i]);
        close(devices[i]);
    }
    if (mkdir("/dev/pts", 0755) < 0 ||
        mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620") < 0)
        die(errfd, AIRLOCK_STEP_DEV, "/dev/pts");
    if (mkdir("/dev/shm", 01777) < 0 ||
        mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") < 0)
        die(errfd, AIRLOCK_STEP_DEV, "/dev/shm");
    if (symlink("pts/ptmx", "/dev/ptmx") < 0 || symlink("/proc/self/fd", "/dev/fd") < 0 ||
        symlink("/proc/self/fd/0", "/dev/stdin") < 0 || symlink("/proc/self/fd/1", "/dev/stdout") < 0 ||
        symlink("/proc/self/fd/2", "/dev/stderr") < 0)
        die(errfd, AIRLOCK_STEP_DEV, "/dev symlinks");
    if (set_attr(AT_FDCWD, "/dev", 0, MOUNT_ATTR_RDONLY_) < 0) die(errfd, AIRLOCK_STEP_DEV, "/dev");

    // A private /tmp.
    if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") < 0) die(errfd, AIRLOCK_STEP_TMP, "/tmp");

    // The writable trees back in place (parents first), then what is forced read-only inside them.
    for (size_t i = 0; i < cfg->n_writable; i++) {
        struct stat st;
        if (fstat(trees[i], &st) < 0 || make_mount_point(cfg->writable[i], S_ISDIR(st.st_mode)) < 0 ||
            attach(trees[i], cfg->writable[i]) < 0)
            die(errfd, AIRLOCK_STEP_BIND_WRITABLE, cfg->writable[i]);
        close(trees[i]);
    }
    for (size_t i = 0; i < cfg->n_readonly; i++)
        bind_onto_itself(errfd, cfg->readonly[i], AIRLOCK_STEP_BIND_READONLY, 0, 1);
    for (size_t i = 0; i < cfg->n_pinned; i++)
        bind_onto_itself(errfd, cfg->pinned[i], AIRLOCK_STEP_BIND_READONLY, 1, 0);

    // Hidden paths: an empty read-only directory, or an empty read-only file, in their place.
    int file_source = -1;
    for (size_t i = 0; i < cfg->n_hidden; i++) {
        const char *path = cfg->hidden[i];
        struct stat st;
        if (lstat(path, &st) < 0 && errno == ENOENT) continue; // not in this view at all (e.g. under the private /tmp)
        int standin;
        if (cfg->hidden_is_dir[i]) {
            standin = detached_tmpfs("0755", 1);
        } else {
            if (file_source < 0) {
                file_source = detached_tmpfs("0755", 0);
                if (file_source < 0) die(errfd, AIRLOCK_STEP_HIDE, path);
                int fd = openat(file_source, "empty", O_WRONLY | O_CREAT | O_CLOEXEC, 0444);
                if (fd < 0) die(errfd, AIRLOCK_STEP_HIDE, path);
                close(fd);
            }
            standin = open_tree_(file_source, "empty", 0);
            if (standin >= 0 && set_attr(standin, "", AT_EMPTY_PATH, MOUNT_ATTR_RDONLY_ | MOUNT_ATTR_NOEXEC_) < 0) standin = -1;
        }
        if (standin < 0 || attach(standin, path) < 0) die(errfd, AIRLOCK_STEP_HIDE, path);
        close(standin);
    }
    if (file_source >= 0) close(file_source);
}

// ---- the agent's own confinement ----

static void apply_landlock(const struct airlock_spawn_config *cfg, int errfd) {
    struct landlock_ruleset_attr_ attr = {
        .handled_access_fs = cfg->ll_handled_fs,
        .handled_access_net = cfg->ll_handled_net,
        .scoped = cfg->ll_scoped,
    };
    size_t size = cfg->landlock_abi >= 6 ? 24 : cfg->landlock_abi >= 4 ? 16 : 8;
    int ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, size, 0);
    if (ruleset < 0) die(errfd, AIRLOCK_STEP_LANDLOCK, "landlock_create_ruleset");
    for (size_t i = 0; i < cfg->n_ll_rules; i++) {
        const struct airlock_landlock_rule *rule = &cfg->ll_rules[i];
        int fd = open(rule->path, O_PATH | O_CLOEXEC);
        if (fd < 0) {
            if (errno == ENOENT) continue;
            die(errfd, AIRLOCK_STEP_LANDLOCK, rule->path);
        }
        struct stat st;
        if (fstat(fd, &st) < 0) die(errfd, AIRLOCK_STEP_LANDLOCK, rule->path);
        uint64_t access = rule->access & cfg->ll_handled_fs;
        if (!S_ISDIR(st.st_mode)) access &= LL_FILE_RIGHTS;
        struct landlock_path_beneath_attr_ beneath = {.allowed_access = access, .parent_fd = fd};
        if (access && syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH_, &beneath, 0) < 0)
            die(errfd, AIRLOCK_STEP_LANDLOCK, rule->path);
        close(fd);
    }
    if ((cfg->ll_handled_net & AIRLOCK_LL_NET_CONNECT_TCP) && cfg->ll_connect_port) {
        struct landlock_net_port_attr_ port = {.allowed_access = AIRLOCK_LL_NET_CONNECT_TCP, .port = cfg->ll_connect_port};
        if (syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_NET_PORT_, &port, 0) < 0)
            die(errfd, AIRLOCK_STEP_LANDLOCK, "the proxy's port");
    }
    if (syscall(SYS_landlock_restrict_self, ruleset, 0) < 0) die(errfd, AIRLOCK_STEP_LANDLOCK, "landlock_restrict_self");
    close(ruleset);
}

static void drop_capabilities(int errfd) {
    // Without permitted capabilities and with no_new_privs, no exec can bring any back (not even for
    // uid 0); the bounding set is cleared too where we may.
    for (int cap = 0; cap < 64; cap++) prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    if (syscall(SYS_capset, &hdr, data) < 0) die(errfd, AIRLOCK_STEP_CAPS, "capset");
}

static void send_fd(int sock, int fd, int errfd, int step) {
    char byte = 0;
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    union { struct cmsghdr hdr; char buf[CMSG_SPACE(sizeof(int))]; } control;
    memset(&control, 0, sizeof control);
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof control.buf};
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
    ssize_t n;
    do { n = sendmsg(sock, &msg, MSG_NOSIGNAL); } while (n < 0 && errno == EINTR);
    if (n != 1) die(errfd, step, "sendmsg");
}

// Proxy mode (namespaces): the new network namespace gets loopback, up, and the proxy's listening
// socket on it, which goes to airlock before the agent exists. The namespace has no other interface,
// so that socket is the agent's only way out.
static void listen_for_proxy(const struct airlock_spawn_config *cfg, int errfd) {
    int ctl = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (ctl < 0) die(errfd, AIRLOCK_STEP_LOOPBACK, "socket");
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    str_copy(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
    if (ioctl(ctl, SIOCGIFFLAGS, &ifr) < 0) die(errfd, AIRLOCK_STEP_LOOPBACK, "lo");
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(ctl, SIOCSIFFLAGS, &ifr) < 0) die(errfd, AIRLOCK_STEP_LOOPBACK, "lo");
    close(ctl);

    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) die(errfd, AIRLOCK_STEP_PROXY_SOCKET, "socket");
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons(cfg->proxy_port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) die(errfd, AIRLOCK_STEP_PROXY_SOCKET, "bind 127.0.0.1");
    if (listen(fd, 1024) < 0) die(errfd, AIRLOCK_STEP_PROXY_SOCKET, "listen");
    send_fd(cfg->proxy_socket, fd, errfd, AIRLOCK_STEP_SEND_PROXY);
    close(fd);
}

__attribute__((noreturn)) static void agent_main(const struct airlock_spawn_config *cfg, int errfd) {
    if (setsid() < 0) die(errfd, AIRLOCK_STEP_SETSID, "setsid");
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < 65; sig++) sigaction(sig, &dfl, NULL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);

    if (chdir(cfg->cwd) < 0) die(errfd, AIRLOCK_STEP_CHDIR, cfg->cwd);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) die(errfd, AIRLOCK_STEP_NO_NEW_PRIVS, "prctl");
    if (cfg->landlock_abi > 0) apply_landlock(cfg, errfd);
    drop_capabilities(errfd);

    int listener = airlock_seccomp_load(cfg->filter, cfg->filter_len, cfg->seccomp_flags);
    if (listener < 0) { errno = -listener; die(errfd, AIRLOCK_STEP_SECCOMP, "seccomp"); }
    if (listener > 0) { send_fd(cfg->listener_socket, listener, errfd, AIRLOCK_STEP_SEND_LISTENER); close(listener); }

    // Nothing of airlock's reaches the agent: every fd above stdio closes at exec (the error pipe too,
    // which is how the parent learns the exec happened).
    if (syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC_) < 0) die(errfd, AIRLOCK_STEP_CLOSE_FDS, "close_range");
    execve(cfg->path, cfg->argv, cfg->envp);
    int saved = errno;
    report(errfd, AIRLOCK_STEP_EXEC, saved, cfg->path);
    _exit(saved == ENOENT ? 127 : 126);
}

// ---- late pins (init, on the supervisor's request) ----

static int pin_late(const struct airlock_pin_request *r) {
    struct open_how_ how = {.flags = O_PATH | O_NOFOLLOW | O_CLOEXEC, .resolve = RESOLVE_NO_SYMLINKS_ | RESOLVE_NO_MAGICLINKS_};
    int fd = (int)syscall(SYS_openat2, AT_FDCWD, r->path, &how, sizeof how);
    if (fd < 0) return errno;
    int err = 0;
    struct stat st;
    struct statfs fs;
    struct statx stx;
    if (fstat(fd, &st) < 0 || fstatfs(fd, &fs) < 0 ||
        statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx) < 0) {
        err = errno;
    } else if ((uint64_t)st.st_dev != r->dev || (uint64_t)st.st_ino != r->ino) {
        err = ESTALE;
    } else if ((fs.f_flags & ST_RDONLY) || (!r->readonly && (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT))) {
        err = 0; // the kernel already refuses what the pin would
    } else {
        int tree = (int)syscall(SYS_open_tree, fd, "", AT_EMPTY_PATH | OPEN_TREE_CLONE_ | O_CLOEXEC);
        uint64_t attrs = MOUNT_ATTR_NOSUID_ | MOUNT_ATTR_NODEV_ | (r->readonly ? MOUNT_ATTR_RDONLY_ : 0);
        if (tree < 0 || set_attr(tree, "", AT_EMPTY_PATH, attrs) < 0 ||
            syscall(SYS_move_mount, tree, "", fd, "", MOVE_MOUNT_F_EMPTY_PATH_ | MOVE_MOUNT_T_EMPTY_PATH_) < 0)
            err = errno;
        if (tree >= 0) close(tree);
    }
    close(fd);
    return err;
}

static void answer_pin(int sock) {
    struct airlock_pin_request r;
    ssize_t n = recv(sock, &r, sizeof r, MSG_DONTWAIT);
    if (n <= 0) return;
    int32_t err = EINVAL;
    if ((size_t)n == sizeof r && memchr(r.path, 0, sizeof r.path) && r.path[0] == '/') err = pin_late(&r);
    send(sock, &err, sizeof err, MSG_NOSIGNAL | MSG_DONTWAIT);
}

int airlock_pin(int sock, const struct airlock_pin_request *request, int timeout_ms) {
    // An answer that came after an earlier request timed out must not pass for this one's.
    int32_t stale;
    while (recv(sock, &stale, sizeof stale, MSG_DONTWAIT) > 0) {}
    if (send(sock, request, sizeof *request, MSG_NOSIGNAL) != (ssize_t)sizeof *request) return -errno;
    struct pollfd p = {.fd = sock, .events = POLLIN};
    int ready;
    do { ready = poll(&p, 1, timeout_ms); } while (ready < 0 && errno == EINTR);
    if (ready == 0) return -ETIMEDOUT;
    int32_t err;
    ssize_t n = recv(sock, &err, sizeof err, 0);
    if (n != (ssize_t)sizeof err) return n < 0 ? -errno : -EPROTO;
    return -err;
}

// ---- init ----

static void ignore_signal(int sig) { (void)sig; }

// Landlock-only backend: SIGKILL every descendant (orphans are reparented to us, the subreaper).
static void kill_descendants(void) {
    char path[64] = "/proc/self/task/";
    size_t n = 16;
    n += utoa(path + n, (uint64_t)getpid());
    str_copy(path + n, sizeof path - n, "/children");
    for (int round = 0; round < 1000000; round++) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        char buf[4096];
        ssize_t len = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
        if (fd >= 0) close(fd);
        if (len <= 0) {
            if (waitpid(-1, NULL, WNOHANG) <= 0) return; // no children left, none to reap
            continue;
        }
        buf[len] = 0;
        uint64_t pid = 0; int in_number = 0;
        for (ssize_t i = 0; i <= len; i++) {
            if (buf[i] >= '0' && buf[i] <= '9') { pid = pid * 10 + (uint64_t)(buf[i] - '0'); in_number = 1; }
            else if (in_number) { kill((pid_t)pid, SIGKILL); pid = 0; in_number = 0; }
        }
        // Wait for one of them to die before looking again: a SIGKILLed child may take a while to
        // be scheduled and exit on a loaded machine, and only when it has exited are its own
        // children reparented to us, to be killed in the next round. (Spinning a fixed number of
        // rounds instead could give up while a dying child still had children, which would then
        // outlive the sandbox.) airlock bounds the whole by killing init after 2 s.
        if (waitpid(-1, NULL, 0) < 0 && errno == ECHILD) return;
        while (waitpid(-1, NULL, WNOHANG) > 0) {}
    }
}

// The next signal for init; pin requests are answered while it waits.
static int next_signal(int sigfd, const sigset_t *set, int *pinsock) {
    if (sigfd < 0) {
        siginfo_t info;
        return sigwaitinfo(set, &info);
    }
    for (;;) {
        struct pollfd p[2] = {{.fd = sigfd, .events = POLLIN}, {.fd = *pinsock, .events = POLLIN}};
        if (poll(p, *pinsock >= 0 ? 2 : 1, -1) < 0) continue;
        if (*pinsock >= 0 && (p[1].revents & POLLIN)) {
            answer_pin(*pinsock);
        } else if (*pinsock >= 0 && (p[1].revents & (POLLHUP | POLLERR | POLLNVAL))) {
            close(*pinsock);
            *pinsock = -1;
        }
        struct signalfd_siginfo info;
        if ((p[0].revents & POLLIN) && read(sigfd, &info, sizeof info) == (ssize_t)sizeof info) return (int)info.ssi_signo;
    }
}

__attribute__((noreturn)) static void init_main(const struct airlock_spawn_config *cfg, int errfd, int statusfd,
                                                  int lifeline) {
    prctl(PR_SET_PDEATHSIG, cfg->init_death_signal, 0, 0, 0);
    // A connection queued on a socket only the sandbox still holds would wait for ever: the
    // proxy's socket must die with the proxy, so that its death refuses connections.
    if (cfg->host_proxy_fd >= 0) close(cfg->host_proxy_fd);
    struct pollfd pfd = {.fd = lifeline, .events = POLLIN};
    if (poll(&pfd, 1, 0) > 0 && (pfd.revents & POLLHUP)) { errno = ESRCH; die(errfd, AIRLOCK_STEP_PARENT_GONE, "airlock"); }

    // Signals to forward are blocked (the parent blocked them too) and taken with sigwaitinfo. They
    // get a real handler because pid 1 of a namespace never receives a signal left at SIG_DFL.
    sigset_t set;
    sigemptyset(&set);
    struct sigaction act;
    memset(&act, 0, sizeof act);
    act.sa_handler = ignore_signal;
    for (size_t i = 0; i < sizeof forwarded_signals / sizeof forwarded_signals[0]; i++) {
        sigaddset(&set, forwarded_signals[i]);
        sigaction(forwarded_signals[i], &act, NULL);
    }
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, cfg->init_death_signal);
    sigaction(SIGCHLD, &act, NULL);
    if (cfg->init_death_signal != SIGKILL) sigaction(cfg->init_death_signal, &act, NULL);
    sigprocmask(SIG_BLOCK, &set, NULL);
    // Reporting to an airlock that is gone must not kill init before it has cleaned up.
    struct sigaction ign;
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &ign, NULL);

    if (cfg->use_namespaces) {
        map_ids(cfg, errfd);
        build_view(cfg, errfd);
        if (cfg->proxy_socket >= 0) listen_for_proxy(cfg, errfd);
    } else if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) {
        die(errfd, AIRLOCK_STEP_FORK_AGENT, "PR_SET_CHILD_SUBREAPER");
    }

    pid_t agent = raw_fork();
    if (agent < 0) die(errfd, AIRLOCK_STEP_FORK_AGENT, "clone");
    if (agent == 0) agent_main(cfg, errfd);
    close(errfd);
    if (cfg->listener_socket >= 0) close(cfg->listener_socket);
    if (cfg->proxy_socket >= 0) close(cfg->proxy_socket);

    int pinsock = cfg->pin_socket;
    int sigfd = signalfd(-1, &set, SFD_CLOEXEC);
    for (;;) {
        int sig = next_signal(sigfd, &set, &pinsock);
        if (sig < 0) continue;
        if (sig == SIGCHLD) {
            int status; pid_t pid;
            while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
                if (pid != agent) continue;
                if (!cfg->use_namespaces) kill_descendants();
                write_all(statusfd, &status, sizeof status);
                _exit(0); // in a pid namespace, the kernel kills everything left when pid 1 exits
            }
        } else if (sig == cfg->init_death_signal) {
            // A signal of its own, never forwarded: airlock (the thread that made us) is gone. An
            // agent able to send it (Landlock ABI < 6) can only end its own sandbox this way.
            kill_descendants();
            _exit(125);
        } else {
            kill(agent, sig);
        }
    }
}

int airlock_spawn(const struct airlock_spawn_config *cfg, struct airlock_sandbox *out,
                  struct airlock_spawn_error *err) {
    int errpipe[2], statuspipe[2], lifeline[2];
    memset(err, 0, sizeof *err);
    if (pipe2(errpipe, O_CLOEXEC) < 0) goto pipe_failed;
    if (pipe2(statuspipe, O_CLOEXEC) < 0) { close(errpipe[0]); close(errpipe[1]); goto pipe_failed; }
    if (pipe2(lifeline, O_CLOEXEC) < 0) {
        close(errpipe[0]); close(errpipe[1]); close(statuspipe[0]); close(statuspipe[1]);
        goto pipe_failed;
    }
    unsigned long flags = SIGCHLD;
    if (cfg->use_namespaces)
        flags |= CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP |
                 (cfg->new_network ? CLONE_NEWNET : 0);
    pid_t pid = (pid_t)syscall(SYS_clone, flags, 0, 0, 0, 0);
    if (pid == 0) {
        close(errpipe[0]); close(statuspipe[0]); close(lifeline[1]);
        init_main(cfg, errpipe[1], statuspipe[1], lifeline[0]);
    }
    int saved = errno;
    close(errpipe[1]); close(statuspipe[1]); close(lifeline[0]);
    if (pid < 0) {
        close(errpipe[0]); close(statuspipe[0]); close(lifeline[1]);
        err->step = AIRLOCK_STEP_CLONE; err->err = saved;
        str_copy(err->detail, sizeof err->detail, "clone");
        return -1;
    }
    // The lifeline's write end stays open (close-on-exec) for as long as airlock lives: init checks it
    // once, to catch airlock dying before PR_SET_PDEATHSIG took effect.
    out->init_pid = pid;
    out->error_fd = errpipe[0];
    out->status_fd = statuspipe[0];
    return 0;

pipe_failed:
    err->step = AIRLOCK_STEP_PIPE; err->err = errno;
    str_copy(err->detail, sizeof err->detail, "pipe2");
    return -1;
}

int airlock_spawn_wait_exec(int error_fd, struct airlock_spawn_error *err) {
    memset(err, 0, sizeof *err);
    size_t got = 0;
    while (got < sizeof *err) {
        ssize_t n = read(error_fd, (char *)err + got, sizeof *err - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += (size_t)n;
    }
    return got == sizeof *err ? -1 : 0;
}
