// attack: alias: a workspace symlink into protected/sub, then unlink through link/../ (.. after a symlink); on a canary file and on the late canary
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
    report("symlink(protected/sub, link)", symlink("protected/sub", "link"));
    /* The kernel resolves link first, so .. lands in protected/; a lexical clean-up says ws/notes.txt. */
    report("unlink(link/../notes.txt)", unlink("link/../notes.txt"));
    late();
    /* Two levels up from protected/sub is the workspace: a lexical clean-up says outside it. */
    report("unlink(link/../../late.tfstate)", unlink("link/../../late.tfstate"));
    return 0;
}
