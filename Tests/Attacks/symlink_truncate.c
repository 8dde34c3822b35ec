// attack: alias: a symlink in the workspace to a protected file, then truncate() the symlink's path; on a canary file and on the late canary
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
    report("symlink(protected/notes.txt, sl)", symlink(canary("notes.txt"), "sl"));
    report("truncate(sl, 0)", truncate("sl", 0));
    report("symlink(late.tfstate, sl-late)", symlink(late(), "sl-late"));
    report("truncate(sl-late, 0)", truncate("sl-late", 0));
    return 0;
}
