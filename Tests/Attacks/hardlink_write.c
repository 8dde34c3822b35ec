// attack: alias: hard-link a protected file into the workspace, then truncate and write through the link; on a canary file and on the late canary
// stopped by: sign-off(link)
#define _GNU_SOURCE
#include "attack.h"

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
