// attack: destroy: truncate() a canary file to nothing
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
    report("truncate(protected/notes.txt, 0)", truncate(canary("notes.txt"), 0));
    return 0;
}
