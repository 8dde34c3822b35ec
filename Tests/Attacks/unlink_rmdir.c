// attack: destroy: unlink a canary file and rmdir the canary's empty directory, by syscalls
// stopped by: sign-off(delete)
#define _GNU_SOURCE
#include "attack.h"

int main(void) {
    report("unlink(protected/readonly.txt)", unlink(canary("readonly.txt")));
    report("rmdir(protected/empty)", rmdir(canary("empty")));
    return 0;
}
