// attack: race: a thread flips unlinkat's path buffer between a harmless name and a canary file, many times
// stopped by: sign-off(delete)
// known gap: landlock: nothing is pinned in the Landlock-only backend, so a path swapped after the notifier read it reaches the file (README, Not done yet)
// The supervisor reads the path, then the kernel reads it again: if the buffer says "harmless" at the
// first read and names the canary at the second, only the kernel layer stands in the way.
#define _GNU_SOURCE
#include "attack.h"
#include <pthread.h>
#include <stdatomic.h>

static char buf[4096];
static char harmless[4096], target[4][4096];
static atomic_int stop, which;

static void *flipper(void *arg) {
    (void)arg;
    while (!atomic_load(&stop)) {
        strcpy(buf, harmless);
        strcpy(buf, target[atomic_load(&which)]);
    }
    return NULL;
}

int main(void) {
    const char *canary = getenv("CANARY");
    if (!canary) { fprintf(stderr, "CANARY not set\n"); return 2; }
    snprintf(harmless, sizeof harmless, "harmless-decoy-file-with-a-long-enough-name");
    char names[4][256];
    if (canary_files(canary, names, 4) < 4) { fprintf(stderr, "fewer than 4 canary files\n"); return 2; }
    for (int i = 0; i < 4; i++) snprintf(target[i], sizeof target[i], "%s/%s", canary, names[i]);
    strcpy(buf, harmless);
    pthread_t t;
    pthread_create(&t, NULL, flipper, NULL);

    long tries = 0, ok = 0, counts[256] = {0};
    double deadline = now() + 4.0;
    while (now() < deadline) {
        int gone = 0;
        struct stat st;
        for (int i = 0; i < 4; i++) gone += lstat(target[i], &st) < 0;
        if (gone == 4) break;
        atomic_store(&which, (int)(tries % 4));
        close(open(harmless, O_WRONLY | O_CREAT, 0644)); // something harmless to delete
        long rc = syscall(SYS_unlinkat, AT_FDCWD, buf, 0);
        tries++;
        if (rc == 0) ok++; else counts[errno & 255]++;
    }
    atomic_store(&stop, 1);
    pthread_join(t, NULL);
    printf("unlinkat with a flipping path: %ld tries, %ld succeeded (decoy or canary)\n", tries, ok);
    for (int e = 0; e < 256; e++) if (counts[e]) printf("  errno %d (%s): %ld\n", e, strerror(e), counts[e]);
    for (int i = 0; i < 4; i++) {
        struct stat st;
        printf("%s: %s\n", target[i], lstat(target[i], &st) == 0 ? "still there" : "GONE");
    }
    return 0;
}
