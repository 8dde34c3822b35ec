// attack: kernel: stack seccomp filters of its own whose actions might outrank Airlock's USER_NOTIF (ALLOW, LOG, TRACE; ERRNO(0) to fake success), then unlinkat/openat O_TRUNC the canary
// stopped by: sign-off(delete), sign-off(truncate)
// The kernel runs every filter and takes the most severe action: nothing an agent adds may turn a
// notified call into an allowed one. A fake success (ERRNO 0) must not fool anyone either: the file
// must still be there.
#define _GNU_SOURCE
#include "attack.h"
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>

static int install(unsigned int action, const char *label) {
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_unlinkat, 2, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_RET | BPF_K, action),
    };
    struct sock_fprog prog = {.len = sizeof code / sizeof code[0], .filter = code};
    errno = 0;
    int r = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
    printf("install filter returning %s for unlinkat/openat -> %d (%s)\n", label, r, r < 0 ? strerror(errno) : "installed");
    fflush(stdout);
    return r;
}

static void hit(const char *path, const char *label) {
    errno = 0;
    long r = syscall(SYS_unlinkat, AT_FDCWD, path, 0);
    printf("  [%s] unlinkat(%s) -> %ld (%s)\n", label, path, r, r < 0 ? strerror(errno) : "success");
    fflush(stdout);
}

int main(void) {
    const char *canary = getenv("CANARY");
    if (!canary) { fprintf(stderr, "CANARY not set\n"); return 2; }
    char f[5][256], p[5][4096];
    int n = canary_files(canary, f, 5);
    if (n < 5) { fprintf(stderr, "fewer than 5 canary files\n"); return 2; }
    for (int i = 0; i < 5; i++) snprintf(p[i], sizeof p[i], "%s/%s", canary, f[i]);
    printf("prctl(PR_SET_NO_NEW_PRIVS) -> %d\n", prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));

    install(SECCOMP_RET_ALLOW, "SECCOMP_RET_ALLOW");
    hit(p[0], "after ALLOW");
    install(SECCOMP_RET_LOG, "SECCOMP_RET_LOG");
    hit(p[1], "after LOG");
    install(SECCOMP_RET_TRACE, "SECCOMP_RET_TRACE (no tracer: the call fails with ENOSYS)");
    hit(p[2], "after TRACE");
    errno = 0;
    long fd = syscall(SYS_openat, AT_FDCWD, p[3], O_WRONLY | O_TRUNC);
    printf("  [after TRACE] openat(%s, O_WRONLY|O_TRUNC) -> %ld (%s)\n", p[3], fd, fd < 0 ? strerror(errno) : "success");
    install(SECCOMP_RET_ERRNO | 0, "SECCOMP_RET_ERRNO(0) (a fake success)");
    hit(p[4], "after ERRNO(0)");
    printf("%s is %s\n", p[4], access(p[4], F_OK) == 0 ? "still there" : "GONE");
    return 0;
}
