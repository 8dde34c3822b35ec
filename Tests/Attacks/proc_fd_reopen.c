// attack: alias: reopen an O_PATH fd of a canary file O_RDWR|O_TRUNC through /proc/self/fd/N
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
    int fd = report("open(protected/notes.txt, O_PATH)", open(canary("notes.txt"), O_PATH));
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    int rw = report("open(/proc/self/fd/N, O_RDWR|O_TRUNC)", open(path, O_RDWR | O_TRUNC));
    if (rw >= 0) report("write", write(rw, "reopened\n", 9));
    return 0;
}
