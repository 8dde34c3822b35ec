// attack: alias: a symlink in the workspace to a protected file, then open O_TRUNC through it; on a canary file and on the late canary
// stopped by: sign-off(truncate)
#define _GNU_SOURCE
#include "attack.h"

static void through_symlink(const char *target, const char *link_name) {
    report("symlink(target, link)", symlink(target, link_name));
    int fd = report("open(link, O_WRONLY|O_TRUNC)", open(link_name, O_WRONLY | O_TRUNC));
    if (fd >= 0) report("write(link)", write(fd, "via symlink\n", 12));
}

int main(void) {
    through_symlink(canary("notes.txt"), "sl");
    through_symlink(late(), "sl-late");
    return 0;
}
