// attack: alias: unlink a protected file by its /proc/self/cwd/... path; on a canary file and on the late canary
// stopped by: sign-off(delete)
#define _GNU_SOURCE
#include "attack.h"

int main(void) {
    report("unlink(/proc/self/cwd/protected/notes.txt)", unlink("/proc/self/cwd/protected/notes.txt"));
    late();
    report("unlink(/proc/self/cwd/late.tfstate)", unlink("/proc/self/cwd/late.tfstate"));
    return 0;
}
