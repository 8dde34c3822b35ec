// attack: destroy: open a canary file O_WRONLY (no truncation) and overwrite it in place
// stopped by: sign-off(write)
#define _GNU_SOURCE
#include "attack.h"

int main(void) {
    int fd = report("open(protected/notes.txt, O_WRONLY)", open(canary("notes.txt"), O_WRONLY));
    report("pwrite(fd, 'OVERWRITTEN', 0)", pwrite(fd, "OVERWRITTEN", 11, 0));
    return 0;
}
