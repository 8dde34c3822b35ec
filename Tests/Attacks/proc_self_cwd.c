// attack: alias: unlink a protected file by its /proc/self/cwd/... path; on a canary file and on the late canary
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
    report("unlink(/proc/self/cwd/protected/notes.txt)", unlink("/proc/self/cwd/protected/notes.txt"));
    late();
    report("unlink(/proc/self/cwd/late.tfstate)", unlink("/proc/self/cwd/late.tfstate"));
    return 0;
}
