// attack: alias: unlink protected files spelled with duplicated slashes and dot segments; on a canary file and on the late canary
// stopped by: sign-off(delete)
#define _GNU_SOURCE
#include "attack.h"

int main(void) {
    char path[4096];
    snprintf(path, sizeof path, "%s//protected///notes.txt", getenv("WS"));
    report("unlink(WS//protected///notes.txt)", unlink(path));
    report("unlink(.//protected/./sub/..//script.sh)", unlink(".//protected/./sub/..//script.sh"));
    late();
    snprintf(path, sizeof path, "%s//.///late.tfstate", getenv("WS"));
    report("unlink(WS//.///late.tfstate)", unlink(path));
    return 0;
}
