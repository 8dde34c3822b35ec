// Thin wrappers for syscalls without a glibc wrapper Swift can call.
#define _GNU_SOURCE
#include "airlock_shim.h"

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define LANDLOCK_CREATE_RULESET_VERSION (1U << 0)

int airlock_landlock_abi(void) {
    long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
    return abi < 0 ? -errno : (int)abi;
}

int airlock_seccomp_load(const struct sock_filter *filter, unsigned short len, unsigned int flags) {
    struct sock_fprog prog = {.len = len, .filter = (struct sock_filter *)filter};
    long rc = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
    return rc < 0 ? -errno : (int)rc;
}

int airlock_prctl_no_new_privs(void) {
    return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ? -errno : 0;
}

int airlock_pidfd_open(pid_t pid) {
    long fd = syscall(SYS_pidfd_open, pid, 0);
    return fd < 0 ? -errno : (int)fd;
}

int airlock_pidfd_send_signal(int pidfd, int sig) {
    return syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) < 0 ? -errno : 0;
}

int airlock_clone3_probe(void) {
    // A clone3 with a NULL argument: EFAULT/EINVAL when the kernel sees it, ENOSYS when filtered.
    return syscall(SYS_clone3, NULL, 0) < 0 ? -errno : 0;
}

int airlock_memfd(const char *name) { return memfd_create(name, MFD_CLOEXEC); }
