// attack: destroy: swap a file of its own with a canary file by renameat2(RENAME_EXCHANGE), raw syscall
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static long report(const char *what, long result) {
    if (result < 0) printf("%s -> %s (%s)\n", what, strerrorname_np(errno), strerror(errno));
    else printf("%s -> OK (%ld)\n", what, result);
    fflush(stdout);
    return result;
}

/* A path in the canary tree. */
static char *canary(const char *name) {
    static char paths[4][4096];
    static int next;
    char *path = paths[next++ % 4];
    snprintf(path, 4096, "%s/%s", getenv("CANARY"), name);
    return path;
}

#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

int main(void) {
    int fd = open("decoy", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) { write(fd, "swapped in\n", 11); close(fd); }
    report("renameat2(decoy, protected/notes.txt, RENAME_EXCHANGE)",
           syscall(SYS_renameat2, AT_FDCWD, "decoy", AT_FDCWD, canary("notes.txt"), RENAME_EXCHANGE));
    return 0;
}
