// attack: destroy: open a canary file O_RDWR, then ftruncate() the fd
// stopped by: sign-off(write), sign-off(truncate)
#define _GNU_SOURCE
#include "attack.h"

int main(void) {
    int fd = report("open(protected/data.bin, O_RDWR)", open(canary("data.bin"), O_RDWR));
    if (fd < 0) fd = report("open(protected/data.bin, O_RDONLY)", open(canary("data.bin"), O_RDONLY));
    report("ftruncate(fd, 0)", ftruncate(fd, 0));
    return 0;
}
