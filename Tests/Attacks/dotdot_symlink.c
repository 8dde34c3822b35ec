// attack: alias: a workspace symlink into protected/sub, then unlink through link/../ (.. after a symlink); on a canary file and on the late canary
// stopped by: sign-off(delete)
#define _GNU_SOURCE
#include "attack.h"

int main(void) {
    report("symlink(protected/sub, link)", symlink("protected/sub", "link"));
    /* The kernel resolves link first, so .. lands in protected/; a lexical clean-up says ws/notes.txt. */
    report("unlink(link/../notes.txt)", unlink("link/../notes.txt"));
    late();
    /* Two levels up from protected/sub is the workspace: a lexical clean-up says outside it. */
    report("unlink(link/../../late.tfstate)", unlink("link/../../late.tfstate"));
    return 0;
}
