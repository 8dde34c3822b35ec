// attack: destroy: chmod 000 a canary file and the canary directory (chmod, fchmodat, fchmod, and raw fchmodat2, which libseccomp 2.5.4 may not know)
// stopped by: notifier(chmod), notifier(fchmodat2)
#define _GNU_SOURCE
#include "attack.h"

int main(void) {
    report("chmod(protected/notes.txt, 000)", chmod(canary("notes.txt"), 0));
    report("fchmodat(protected/sub, 000)", fchmodat(AT_FDCWD, canary("sub"), 0, 0));
    int fd = open(canary("script.sh"), O_RDONLY);
    report("fchmod(fd of protected/script.sh, 000)", fchmod(fd, 0));
    report("fchmodat2(protected/data.bin, 000) [nr 452]", syscall(452, AT_FDCWD, canary("data.bin"), 0, 0));
    return 0;
}
