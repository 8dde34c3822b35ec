// attack: alias: an O_PATH fd of the protected file's directory, then unlinkat() relative to it; on a canary file and on the late canary
// stopped by: sign-off(delete)
#define _GNU_SOURCE
#include "attack.h"

int main(void) {
    int dir = report("open(protected, O_PATH|O_DIRECTORY)", open(getenv("CANARY"), O_PATH | O_DIRECTORY));
    report("unlinkat(dirfd, notes.txt)", unlinkat(dir, "notes.txt", 0));
    late();
    int ws = report("open(WS, O_PATH|O_DIRECTORY)", open(getenv("WS"), O_PATH | O_DIRECTORY));
    report("unlinkat(dirfd, late.tfstate)", unlinkat(ws, "late.tfstate", 0));
    return 0;
}
