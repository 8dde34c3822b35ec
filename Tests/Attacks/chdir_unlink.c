// attack: alias: chdir into the protected file's directory, then unlink it by its bare name; on a canary file and on the late canary
// stopped by: sign-off(delete)
#define _GNU_SOURCE
#include "attack.h"

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
