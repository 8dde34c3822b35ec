// attack: destroy: set extended attributes on canary files (path and fd forms)
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <sys/xattr.h>

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
    report("setxattr(protected/notes.txt, user.attack)",
           setxattr(canary("notes.txt"), "user.attack", "owned", 5, 0));
    int fd = open(canary("script.sh"), O_RDONLY);
    report("fsetxattr(fd of protected/script.sh, user.attack)", fsetxattr(fd, "user.attack", "owned", 5, 0));
    return 0;
}
