// The C surface of Airlock: raw syscalls glibc does not wrap (or wraps as variadic functions Swift
// cannot call), and the code that runs between fork and exec, where a multithreaded Swift process may
// only make async-signal-safe system calls. Everything else lives in Swift.
#ifndef AIRLOCK_SHIM_H
#define AIRLOCK_SHIM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct sock_filter;

// ---- Landlock (uapi constants, defined here because Debian 12's headers predate ABI 4-7) ----
#define AIRLOCK_LL_FS_EXECUTE      (1ULL << 0)
#define AIRLOCK_LL_FS_WRITE_FILE   (1ULL << 1)
#define AIRLOCK_LL_FS_READ_FILE    (1ULL << 2)
#define AIRLOCK_LL_FS_READ_DIR     (1ULL << 3)
#define AIRLOCK_LL_FS_REMOVE_DIR   (1ULL << 4)
#define AIRLOCK_LL_FS_REMOVE_FILE  (1ULL << 5)
#define AIRLOCK_LL_FS_MAKE_CHAR    (1ULL << 6)
#define AIRLOCK_LL_FS_MAKE_DIR     (1ULL << 7)
#define AIRLOCK_LL_FS_MAKE_REG     (1ULL << 8)
#define AIRLOCK_LL_FS_MAKE_SOCK    (1ULL << 9)
#define AIRLOCK_LL_FS_MAKE_FIFO    (1ULL << 10)
#define AIRLOCK_LL_FS_MAKE_BLOCK   (1ULL << 11)
#define AIRLOCK_LL_FS_MAKE_SYM     (1ULL << 12)
#define AIRLOCK_LL_FS_REFER        (1ULL << 13) // ABI 2
#define AIRLOCK_LL_FS_TRUNCATE     (1ULL << 14) // ABI 3
#define AIRLOCK_LL_FS_IOCTL_DEV    (1ULL << 15) // ABI 5
#define AIRLOCK_LL_NET_BIND_TCP    (1ULL << 0)  // ABI 4
#define AIRLOCK_LL_NET_CONNECT_TCP (1ULL << 1)  // ABI 4
#define AIRLOCK_LL_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0) // ABI 6
#define AIRLOCK_LL_SCOPE_SIGNAL    (1ULL << 1)  // ABI 6

/// The Landlock ABI version the running kernel offers, or -errno (-EOPNOTSUPP: disabled at boot,
/// -ENOSYS: not built in).
int airlock_landlock_abi(void);

// ---- seccomp ----
/// seccomp(SECCOMP_SET_MODE_FILTER, flags, prog) on the calling thread. Returns the listener fd when
/// flags ask for one, 0 otherwise, -errno on failure. The caller must have set no_new_privs.
int airlock_seccomp_load(const struct sock_filter *filter, unsigned short len, unsigned int flags);

// ---- small wrappers Swift cannot call directly (variadic in glibc) ----
int airlock_prctl_no_new_privs(void);
int airlock_pidfd_open(pid_t pid);
int airlock_pidfd_send_signal(int pidfd, int sig);
int airlock_clone3_probe(void);
int airlock_memfd(const char *name); // memfd_create(name, MFD_CLOEXEC), or -1 with errno // returns -errno of an invalid clone3 call (ENOSYS when filtered)

/// Proves seccomp user notification works here: a child installs `filter` (which must notify on
/// getppid) with a new listener and calls getppid; this process answers 4242 through the listener.
/// Returns 0 when the child saw the answer, -errno of the step that failed (-EBUSY: a listener
/// already exists in this process tree, so airlock cannot add its own).
int airlock_probe_user_notification(const struct sock_filter *filter, unsigned short len);

// ---- the supervisor's side of seccomp user notification ----

/// One notification, flattened (struct seccomp_notif).
struct airlock_notification {
    uint64_t id;
    uint32_t pid;
    uint32_t flags;
    int32_t nr;
    uint32_t arch;
    uint64_t instruction_pointer;
    uint64_t args[6];
};

/// SECCOMP_IOCTL_NOTIF_RECV. Returns 0 or -errno.
int airlock_notif_recv(int listener, struct airlock_notification *out);
/// SECCOMP_IOCTL_NOTIF_SEND: `error` is 0 or a *negative* errno; `cont` answers
/// SECCOMP_USER_NOTIF_FLAG_CONTINUE (the kernel runs the call itself). Returns 0 or -errno
/// (-ENOENT: the caller is gone).
int airlock_notif_send(int listener, uint64_t id, int64_t val, int32_t error, int cont);
/// SECCOMP_IOCTL_NOTIF_ID_VALID: 0 while the notification is still pending, -ENOENT when not.
int airlock_notif_id_valid(int listener, uint64_t id);
/// SECCOMP_IOCTL_NOTIF_ADDFD with SECCOMP_ADDFD_FLAG_SEND: installs `fd` in the caller and returns
/// its number as the syscall's result, atomically. Returns the new fd number or -errno.
int airlock_notif_addfd_send(int listener, uint64_t id, int fd, int cloexec);
/// SECCOMP_IOCTL_NOTIF_SET_FLAGS(SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP). Returns 0 or -errno.
int airlock_notif_sync_wakeup(int listener);

/// process_vm_readv of one range. Returns bytes read or -errno.
ssize_t airlock_read_memory(pid_t pid, uint64_t address, void *buffer, size_t length);
/// Reads `count` (at most AIRLOCK_READ_PIECES_MAX) pieces of a process's memory in one call, piece i
/// (`lengths[i]` bytes at `addresses[i]`) after piece i-1 in `buffer`. Returns the bytes read or
/// -errno: the first page that cannot be read ends the read, so a piece within one page comes
/// whole or not at all.
#define AIRLOCK_READ_PIECES_MAX 64
ssize_t airlock_read_memory_pieces(pid_t pid, const uint64_t *addresses, const size_t *lengths, size_t count,
                                   void *buffer);
/// openat2(2). Returns the fd or -errno.
int airlock_openat2(int dirfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve);
/// renameat2(2). Returns 0 or -errno.
int airlock_renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned flags);
/// pidfd_getfd(2). Returns the fd or -errno.
int airlock_pidfd_getfd(int pidfd, int targetfd);
/// ptrace(2) (variadic in glibc). Returns the result, or -1 with errno.
long airlock_ptrace(int request, pid_t pid, uint64_t addr, uint64_t data);
/// For a tracee stopped at PTRACE_EVENT_EXEC, before its new image ran an instruction: writes
/// `exit_group(status)` over the instructions at its program counter (its own copy-on-write page)
/// and detaches, so it ends with `status` having run nothing of the program. x86_64 and aarch64;
/// returns 0 or -errno (-ENOSYS elsewhere), after which the caller must still end the tracee.
int airlock_exit_at_exec_stop(pid_t pid, int status);
/// fallocate(2), returning 0 or -1 with errno.
int airlock_fallocate(int fd, int mode, int64_t offset, int64_t length);
/// Receives one fd sent with SCM_RIGHTS (the agent's listener). Returns it, 0 on EOF, or -errno.
int airlock_receive_fd(int sock);

// ---- spawning the sandbox ----

/// One Landlock path rule: `access` is granted beneath `path`. A path that does not exist is skipped.
struct airlock_landlock_rule {
    const char *path;
    uint64_t access;
};

/// Everything the child needs, prepared by the parent (Swift) before the clone. All memory is owned by
/// the parent and stays valid until airlock_spawn returns.
struct airlock_spawn_config {
    // Namespaces. 0: no namespaces (the Landlock-only backend).
    int use_namespaces;
    int new_network;          // also a new network namespace (no network at all, or only the proxy's loopback)
    uint32_t outside_uid;     // the operator's ids, mapped to themselves inside
    uint32_t outside_gid;

    // The mount plan (namespaces only). Paths are absolute, normalised, and exist on the host.
    const char *const *writable; size_t n_writable; // bound read-write, parents before children
    const char *const *readonly; size_t n_readonly; // forced read-only inside writable paths
    const char *const *pinned;   size_t n_pinned;   // bound onto themselves: a mount point cannot be removed or renamed
    const char *const *hidden;   size_t n_hidden;   // replaced by empty read-only stand-ins
    const uint8_t *hidden_is_dir;

    // Landlock: ABI 0 means "do not apply" (the caller decided that is acceptable).
    int landlock_abi;
    uint64_t ll_handled_fs, ll_handled_net, ll_scoped;
    const struct airlock_landlock_rule *ll_rules; size_t n_ll_rules;
    uint16_t ll_connect_port; // with AIRLOCK_LL_NET_CONNECT_TCP handled: the one port TCP may connect to (0: none)

    // seccomp, loaded last before exec.
    const struct sock_filter *filter; unsigned short filter_len;
    unsigned int seccomp_flags;
    int listener_socket;      // with SECCOMP_FILTER_FLAG_NEW_LISTENER: the listener is sent here (SCM_RIGHTS)
    int pin_socket;           // namespaces: init answers airlock_pin_request on it (-1: none)

    // Proxy mode, namespaces backend (-1: not): init brings up loopback in the new network namespace,
    // listens on 127.0.0.1:proxy_port and sends that socket here (SCM_RIGHTS) before the agent exists.
    int proxy_socket;
    uint16_t proxy_port;
    // Proxy mode, Landlock-only: airlock's listening socket on the host, which init inherits at the
    // clone and closes at once, so that the socket dies with the proxy (-1: none).
    int host_proxy_fd;

    // The agent.
    const char *cwd;
    const char *path;         // resolved executable
    char *const *argv;
    char *const *envp;
    int init_death_signal;    // delivered to the sandbox init when airlock dies
};

/// Asks the sandbox's init (namespaces backend) to pin a protected file that appeared after the
/// start, as the start-up pins do: bound onto itself, so that it cannot be removed or renamed, and
/// read-only if `readonly`. Only if `path`, resolved in the sandbox without following any symlink,
/// is still the file `dev`/`ino`; nothing is done where the file is already read-only, or already
/// a mount point when only that is asked. Sent as one SOCK_SEQPACKET message; the answer is an
/// int32_t: 0 or an errno (ESTALE: not that file any more).
struct airlock_pin_request {
    uint64_t dev, ino;
    uint32_t readonly;
    char path[4096];
};

/// Sends `request` on `sock` and waits up to `timeout_ms` for init's answer. Returns 0 or -errno.
int airlock_pin(int sock, const struct airlock_pin_request *request, int timeout_ms);

/// Why the sandbox could not be started: the step that failed, errno, and the path or detail involved.
struct airlock_spawn_error {
    int32_t step;
    int32_t err;
    char detail[512];
};

enum airlock_spawn_step {
    AIRLOCK_STEP_NONE = 0,
    AIRLOCK_STEP_PIPE, AIRLOCK_STEP_CLONE, AIRLOCK_STEP_PARENT_GONE, AIRLOCK_STEP_UID_MAP,
    AIRLOCK_STEP_MOUNT_PRIVATE, AIRLOCK_STEP_CLONE_TREE, AIRLOCK_STEP_READONLY_ROOT, AIRLOCK_STEP_PROC,
    AIRLOCK_STEP_DEV, AIRLOCK_STEP_TMP, AIRLOCK_STEP_BIND_WRITABLE, AIRLOCK_STEP_BIND_READONLY,
    AIRLOCK_STEP_HIDE, AIRLOCK_STEP_FORK_AGENT, AIRLOCK_STEP_SETSID, AIRLOCK_STEP_CHDIR,
    AIRLOCK_STEP_LANDLOCK, AIRLOCK_STEP_CAPS, AIRLOCK_STEP_NO_NEW_PRIVS, AIRLOCK_STEP_SECCOMP,
    AIRLOCK_STEP_SEND_LISTENER, AIRLOCK_STEP_CLOSE_FDS, AIRLOCK_STEP_EXEC,
    AIRLOCK_STEP_LOOPBACK, AIRLOCK_STEP_PROXY_SOCKET, AIRLOCK_STEP_SEND_PROXY,
};

/// A started sandbox: its init process (outside pid), the pipe that reports a failed start (EOF once
/// the agent has exec'd) and the pipe on which init reports the agent's wait status when it ends.
struct airlock_sandbox {
    pid_t init_pid;
    int error_fd;
    int status_fd;
};

/// Clones the sandbox init, which builds the view and starts the agent. Returns 0, or -1 with `err`
/// filled when the clone itself failed. Failures inside the child arrive on `error_fd`.
int airlock_spawn(const struct airlock_spawn_config *cfg, struct airlock_sandbox *out,
                  struct airlock_spawn_error *err);

/// Blocks until the agent has exec'd (returns 0) or the start failed (returns -1, `err` filled).
int airlock_spawn_wait_exec(int error_fd, struct airlock_spawn_error *err);

#endif
