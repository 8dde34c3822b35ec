// attack: destroy: write zeros into a canary file through a MAP_SHARED mapping
// stopped by: sign-off(write)
#define _GNU_SOURCE
#include "attack.h"
#include <sys/mman.h>

int main(void) {
    int fd = report("open(protected/data.bin, O_RDWR)", open(canary("data.bin"), O_RDWR));
    if (fd < 0) fd = report("open(protected/data.bin, O_RDONLY)", open(canary("data.bin"), O_RDONLY));
    void *map = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    report("mmap(PROT_WRITE, MAP_SHARED)", map == MAP_FAILED ? -1 : 0);
    if (map != MAP_FAILED) {
        memset(map, 0, 65536);
        report("msync", msync(map, 65536, MS_SYNC));
    }
    return 0;
}
