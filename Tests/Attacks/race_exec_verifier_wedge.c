// attack: race: a child's execve fails, and it execs again at once: the post-exec check mistakes the second (held, unanswered) execve for the first and waits forever, while the parent deletes the canary
// stopped by: sign-off(delete)
// The supervisor lets every exec run under ptrace and waits for its outcome, judging "still in
// execve" from /proc/TID/syscall. A second execve right after a failed one blocks in the notifier
// that only the (now waiting) supervisor can answer. The parent then tries to destroy the canary
// while nothing answers: fail-closed means its calls must never succeed.
#define _GNU_SOURCE
#include "attack.h"
#include <sys/wait.h>

extern char **environ;

int main(void) {
    const char *canary = getenv("CANARY");
    if (!canary) { fprintf(stderr, "CANARY not set\n"); return 2; }
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        char *args[] = {"true", NULL};
        long r1 = syscall(SYS_execve, "/nonexistent-airlock-attack/a", args, environ);
        int e1 = errno;
        long r2 = syscall(SYS_execve, "/nonexistent-airlock-attack/b", args, environ);
        int e2 = errno;
        printf("child: execve #1 -> %ld (%s), execve #2 -> %ld (%s)\n", r1, strerror(e1), r2, strerror(e2));
        fflush(stdout);
        _exit(0);
    }
    sleep(1);
    char path[4096];
    char names[4][256];
    int n = canary_files(canary, names, 4);
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/%s", canary, names[i]);
        errno = 0;
        long rc = syscall(SYS_unlinkat, AT_FDCWD, path, 0);
        printf("parent: unlinkat(%s) -> %ld (%s)\n", path, rc, rc < 0 ? strerror(errno) : "success");
        fflush(stdout);
    }
    int status;
    waitpid(pid, &status, 0);
    printf("child ended: status 0x%x\n", status);
    return 0;
}
