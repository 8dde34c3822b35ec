// attack: alias: reopen an O_PATH fd of a protected file O_RDWR|O_TRUNC through /proc/self/fd/N; on a canary file and on the late canary
#define _GNU_SOURCE
#include "attack.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The late canary ($LATE, a *.tfstate): written by the runner a moment after the start, so it is not
 * pinned read-only at the kernel layer; only the notifier guards it. */
static const char *late(void) {
    const char *path = getenv("LATE");
    for (int i = 0; i < 100 && access(path, F_OK) != 0; i++) usleep(50000);
    return path;
}

static void reopen(const char *target) {
    int fd = report("open(target, O_PATH)", open(target, O_PATH));
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    int rw = report("open(/proc/self/fd/N, O_RDWR|O_TRUNC)", open(path, O_RDWR | O_TRUNC));
    if (rw >= 0) report("write", write(rw, "reopened\n", 9));
}

int main(void) {
    reopen(canary("notes.txt"));
    reopen(late());
    return 0;
}
