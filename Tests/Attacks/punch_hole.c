// attack: destroy: fallocate(FALLOC_FL_PUNCH_HOLE) zeroes the middle of a canary file
// stopped by: sign-off(write), sign-off(truncate)
#define _GNU_SOURCE
#include "attack.h"
#include <linux/falloc.h>

int main(void) {
    int fd = report("open(protected/data.bin, O_WRONLY)", open(canary("data.bin"), O_WRONLY));
    if (fd < 0) fd = report("open(protected/data.bin, O_RDONLY)", open(canary("data.bin"), O_RDONLY));
    report("fallocate(fd, PUNCH_HOLE|KEEP_SIZE, 64K, 128K)",
           fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 65536, 131072));
    return 0;
}
