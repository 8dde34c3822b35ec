// attack: alias: a symlink in the workspace to a protected file, then truncate() the symlink's path; on a canary file and on the late canary
// stopped by: sign-off(truncate)
#define _GNU_SOURCE
#include "attack.h"

int main(void) {
    report("symlink(protected/notes.txt, sl)", symlink(canary("notes.txt"), "sl"));
    report("truncate(sl, 0)", truncate("sl", 0));
    report("symlink(late.tfstate, sl-late)", symlink(late(), "sl-late"));
    report("truncate(sl-late, 0)", truncate("sl-late", 0));
    return 0;
}
