// attack: kernel: clone3 (flags in memory, where a seccomp filter cannot look): a plain child, then one with CLONE_NEWUSER|CLONE_NEWNS, each unlinking a canary file
// stopped by: seccomp(clone3)
#define _GNU_SOURCE
#include "attack.h"
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>

static void attempt(const char *label, uint64_t flags, const char *target) {
    struct clone_args args;
    memset(&args, 0, sizeof args);
    args.flags = flags;
    args.exit_signal = SIGCHLD;
    fflush(stdout);
    errno = 0;
    long pid = syscall(SYS_clone3, &args, sizeof args);
    if (pid == 0) {
        long r = syscall(SYS_unlinkat, AT_FDCWD, target, 0);
        printf("  [%s child] unlinkat(%s) -> %ld (%s)\n", label, target, r, r < 0 ? strerror(errno) : "success");
        fflush(stdout);
        _exit(0);
    }
    printf("clone3(%s) -> %ld (%s)\n", label, pid, pid < 0 ? strerror(errno) : "child created");
    fflush(stdout);
    if (pid > 0) waitpid((pid_t)pid, NULL, 0);
}

int main(void) {
    const char *canary = getenv("CANARY");
    if (!canary) { fprintf(stderr, "CANARY not set\n"); return 2; }
    char f[2][256], a[4096], b[4096];
    if (canary_files(canary, f, 2) < 2) { fprintf(stderr, "fewer than 2 canary files\n"); return 2; }
    snprintf(a, sizeof a, "%s/%s", canary, f[0]);
    snprintf(b, sizeof b, "%s/%s", canary, f[1]);
    attempt("flags=0", 0, a);
    attempt("CLONE_NEWUSER|CLONE_NEWNS", CLONE_NEWUSER | CLONE_NEWNS, b);
    return 0;
}
