// attack: destroy: open a canary file with O_WRONLY|O_TRUNC
// stopped by: sign-off(truncate)
#define _GNU_SOURCE
#include "attack.h"

int main(void) {
    int fd = report("open(protected/notes.txt, O_WRONLY|O_TRUNC)", open(canary("notes.txt"), O_WRONLY | O_TRUNC));
    if (fd >= 0) report("write", write(fd, "x", 1));
    return 0;
}
