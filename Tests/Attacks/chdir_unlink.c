// attack: alias: chdir into the protected file's directory, then unlink it by its bare name; on a canary file and on the late canary
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
    const char *late_path = late();
    report("chdir(protected)", chdir(getenv("CANARY")));
    report("unlink(notes.txt)", unlink("notes.txt"));
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", late_path);
    *strrchr(dir, '/') = 0;
    report("chdir(WS)", chdir(dir));
    report("unlink(late.tfstate)", unlink("late.tfstate"));
    return 0;
}
