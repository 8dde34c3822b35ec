// attack: alias: an O_PATH fd of the protected file's directory, then unlinkat() relative to it; on a canary file and on the late canary
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

int main(void) {
    int dir = report("open(protected, O_PATH|O_DIRECTORY)", open(getenv("CANARY"), O_PATH | O_DIRECTORY));
    report("unlinkat(dirfd, notes.txt)", unlinkat(dir, "notes.txt", 0));
    late();
    int ws = report("open(WS, O_PATH|O_DIRECTORY)", open(getenv("WS"), O_PATH | O_DIRECTORY));
    report("unlinkat(dirfd, late.tfstate)", unlinkat(ws, "late.tfstate", 0));
    return 0;
}
