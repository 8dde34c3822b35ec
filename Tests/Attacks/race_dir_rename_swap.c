// attack: race: a thread exchanges a workspace directory with the canary directory (renameat2 RENAME_EXCHANGE race-d <-> protected) while unlinking race-d/NAME
// stopped by: sign-off(rename)
// known gap: landlock: nothing is pinned in the Landlock-only backend, so a path swapped after the notifier read it reaches the file (README, Not done yet)
// The supervisor resolves race-d/NAME to the decoy; by the time the kernel walks race-d, the name may
// belong to the canary directory. Renaming the canary directory is itself an attack on its name.
#define _GNU_SOURCE
#include "attack.h"
#include <libgen.h>
#include <pthread.h>
#include <stdatomic.h>

static atomic_int stop;
static atomic_long swaps, swap_errs[256];
static char canary_dir[4096];

static void *flipper(void *arg) {
    (void)arg;
    while (!atomic_load(&stop)) {
        if (syscall(SYS_renameat2, AT_FDCWD, "race-d", AT_FDCWD, canary_dir, RENAME_EXCHANGE) == 0) atomic_fetch_add(&swaps, 1);
        else atomic_fetch_add(&swap_errs[errno & 255], 1);
    }
    return NULL;
}

int main(void) {
    const char *c = getenv("CANARY");
    if (!c) { fprintf(stderr, "CANARY not set\n"); return 2; }
    snprintf(canary_dir, sizeof canary_dir, "%s", c);
    mkdir("race-d", 0755);
    pthread_t t;
    pthread_create(&t, NULL, flipper, NULL);
    char files[4][256], names[4][300];
    if (canary_files(canary_dir, files, 4) < 4) { fprintf(stderr, "fewer than 4 canary_dir files\n"); return 2; }
    for (int i = 0; i < 4; i++) snprintf(names[i], sizeof names[i], "race-d/%s", files[i]);
    long tries = 0, ok = 0, counts[256] = {0};
    double deadline = now() + 4.0;
    while (now() < deadline) {
        int i = (int)(tries % 4);
        long rc = syscall(SYS_unlinkat, AT_FDCWD, names[i], 0);
        tries++;
        if (rc == 0) ok++; else counts[errno & 255]++;
    }
    atomic_store(&stop, 1);
    pthread_join(t, NULL);
    printf("exchange race-d <-> %s: %ld swaps\n", canary_dir, atomic_load(&swaps));
    for (int e = 0; e < 256; e++) if (swap_errs[e]) printf("  swap errno %d (%s): %ld\n", e, strerror(e), atomic_load(&swap_errs[e]));
    printf("unlinkat(race-d/NAME) during the swaps: %ld tries, %ld succeeded\n", tries, ok);
    for (int e = 0; e < 256; e++) if (counts[e]) printf("  errno %d (%s): %ld\n", e, strerror(e), counts[e]);
    return 0;
}
