// attack: destroy: chown a canary file and lchown a canary symlink to nobody
// stopped by: notifier(chown)
#define _GNU_SOURCE
#include "attack.h"

int main(void) {
    report("chown(protected/notes.txt, 65534, 65534)", chown(canary("notes.txt"), 65534, 65534));
    report("lchown(protected/link-to-notes, 65534, 65534)", lchown(canary("link-to-notes"), 65534, 65534));
    int fd = open(canary("readonly.txt"), O_RDONLY);
    report("fchown(fd of protected/readonly.txt, 65534, 65534)", fchown(fd, 65534, 65534));
    return 0;
}
