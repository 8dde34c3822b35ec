// attack: destroy: unlink a canary file and rmdir the canary's empty directory, by syscalls
#define _GNU_SOURCE
#include "attack.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void) {
    report("unlink(protected/readonly.txt)", unlink(canary("readonly.txt")));
    report("rmdir(protected/empty)", rmdir(canary("empty")));
    return 0;
}
