// attack: destroy: chmod 000 a canary file and the canary directory (chmod, fchmodat)
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

int main(void) {
    report("chmod(protected/notes.txt, 000)", chmod(canary("notes.txt"), 0));
    report("fchmodat(protected/sub, 000)", fchmodat(AT_FDCWD, canary("sub"), 0, 0));
    int fd = open(canary("script.sh"), O_RDONLY);
    report("fchmod(fd of protected/script.sh, 000)", fchmod(fd, 0));
    return 0;
}
