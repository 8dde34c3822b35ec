// attack: destroy: copy_file_range() from a file of its own into a canary file
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
    int src = open("zeros", O_RDWR | O_CREAT | O_TRUNC, 0644);
    char zeros[4096] = {0};
    write(src, zeros, sizeof zeros);
    int dst = report("open(protected/notes.txt, O_WRONLY)", open(canary("notes.txt"), O_WRONLY));
    if (dst < 0) dst = report("open(protected/notes.txt, O_RDONLY)", open(canary("notes.txt"), O_RDONLY));
    loff_t in = 0, out = 0;
    report("copy_file_range(zeros -> protected/notes.txt)", copy_file_range(src, &in, dst, &out, sizeof zeros, 0));
    return 0;
}
