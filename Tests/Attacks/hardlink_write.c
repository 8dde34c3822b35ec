// attack: alias: hard-link a protected file into the workspace, then truncate and write through the link; on a canary file and on the late canary
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

static void through_link(const char *target, const char *link_name) {
    char what[256];
    snprintf(what, sizeof what, "link(%s, %s)", target, link_name);
    report(what, link(target, link_name));
    snprintf(what, sizeof what, "open(%s, O_WRONLY|O_TRUNC)", link_name);
    int fd = report(what, open(link_name, O_WRONLY | O_TRUNC));
    if (fd >= 0) report("write", write(fd, "through the link\n", 17));
}

int main(void) {
    through_link(canary("notes.txt"), "hl");
    through_link(late(), "hl-late");
    return 0;
}
