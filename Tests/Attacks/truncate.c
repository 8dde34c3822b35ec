// attack: destroy: truncate() a canary file to nothing
// stopped by: sign-off(truncate)
#define _GNU_SOURCE
#include "attack.h"

int main(void) {
    report("truncate(protected/notes.txt, 0)", truncate(canary("notes.txt"), 0));
    return 0;
}
