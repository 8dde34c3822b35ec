// attack: destroy: write zeros into a canary file through a MAP_SHARED mapping
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <sys/mman.h>

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
    int fd = report("open(protected/data.bin, O_RDWR)", open(canary("data.bin"), O_RDWR));
    if (fd < 0) fd = report("open(protected/data.bin, O_RDONLY)", open(canary("data.bin"), O_RDONLY));
    void *map = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    report("mmap(PROT_WRITE, MAP_SHARED)", map == MAP_FAILED ? -1 : 0);
    if (map != MAP_FAILED) {
        memset(map, 0, 65536);
        report("msync", msync(map, 65536, MS_SYNC));
    }
    return 0;
}
