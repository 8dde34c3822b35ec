// attack: alias: a workspace symlink to the protected file's directory, then rename the file out through it; on a canary file and on the late canary
// stopped by: sign-off(rename)
#define _GNU_SOURCE
#include "attack.h"

int main(void) {
    report("symlink(protected, dl)", symlink("protected", "dl"));
    report("rename(dl/notes.txt, stolen)", rename("dl/notes.txt", "stolen"));
    late();
    report("symlink(., here)", symlink(".", "here"));
    report("rename(here/late.tfstate, stolen-late)", rename("here/late.tfstate", "stolen-late"));
    return 0;
}
