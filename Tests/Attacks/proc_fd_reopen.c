// attack: alias: reopen an O_PATH fd of a protected file O_RDWR|O_TRUNC through /proc/self/fd/N; on a canary file and on the late canary
// stopped by: sign-off(truncate)
#define _GNU_SOURCE
#include "attack.h"

static void reopen(const char *target) {
    int fd = report("open(target, O_PATH)", open(target, O_PATH));
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    int rw = report("open(/proc/self/fd/N, O_RDWR|O_TRUNC)", open(path, O_RDWR | O_TRUNC));
    if (rw >= 0) report("write", write(rw, "reopened\n", 9));
}

int main(void) {
    reopen(canary("notes.txt"));
    reopen(late());
    return 0;
}
