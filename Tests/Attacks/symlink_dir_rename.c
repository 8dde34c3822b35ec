// attack: alias: a workspace symlink to the protected file's directory, then rename the file out through it; on a canary file and on the late canary
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
    report("symlink(protected, dl)", symlink("protected", "dl"));
    report("rename(dl/notes.txt, stolen)", rename("dl/notes.txt", "stolen"));
    late();
    report("symlink(., here)", symlink(".", "here"));
    report("rename(here/late.tfstate, stolen-late)", rename("here/late.tfstate", "stolen-late"));
    return 0;
}
