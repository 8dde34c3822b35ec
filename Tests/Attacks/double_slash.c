// attack: alias: unlink protected files spelled with duplicated slashes and dot segments; on a canary file and on the late canary
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
    char path[4096];
    snprintf(path, sizeof path, "%s//protected///notes.txt", getenv("WS"));
    report("unlink(WS//protected///notes.txt)", unlink(path));
    report("unlink(.//protected/./sub/..//script.sh)", unlink(".//protected/./sub/..//script.sh"));
    late();
    snprintf(path, sizeof path, "%s//.///late.tfstate", getenv("WS"));
    report("unlink(WS//.///late.tfstate)", unlink(path));
    return 0;
}
