// attack: destroy: swap a file of its own with a canary file by renameat2(RENAME_EXCHANGE), raw syscall
// stopped by: sign-off(rename)
#define _GNU_SOURCE
#include "attack.h"

#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

int main(void) {
    int fd = open("decoy", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) { write(fd, "swapped in\n", 11); close(fd); }
    report("renameat2(decoy, protected/notes.txt, RENAME_EXCHANGE)",
           syscall(SYS_renameat2, AT_FDCWD, "decoy", AT_FDCWD, canary("notes.txt"), RENAME_EXCHANGE));
    return 0;
}
