// attack: alias: unlink and truncate the canary file whose name is not UTF-8
// stopped by: sign-off(delete), sign-off(truncate)
#define _GNU_SOURCE
#include "attack.h"

int main(void) {
    const char *name = "caf\xe9 \xff.txt";
    report("truncate(protected/caf\\xe9 \\xff.txt, 0)", truncate(canary(name), 0));
    report("unlink(protected/caf\\xe9 \\xff.txt)", unlink(canary(name)));
    return 0;
}
