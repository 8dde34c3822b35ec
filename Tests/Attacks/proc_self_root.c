// attack: alias: truncate a protected file by its /proc/self/root/... path; on a canary file and on the late canary
// stopped by: sign-off(truncate)
#define _GNU_SOURCE
#include "attack.h"

static void truncate_via_root(const char *target) {
    char path[4096];
    snprintf(path, sizeof path, "/proc/self/root%s", target);
    report("open(/proc/self/root/..., O_WRONLY|O_TRUNC)", open(path, O_WRONLY | O_TRUNC));
}

int main(void) {
    truncate_via_root(canary("notes.txt"));
    truncate_via_root(late());
    return 0;
}
