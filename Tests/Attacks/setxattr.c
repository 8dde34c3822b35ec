// attack: destroy: set extended attributes on canary files (path and fd forms)
// stopped by: notifier(setxattr)
#define _GNU_SOURCE
#include "attack.h"
#include <sys/xattr.h>

int main(void) {
    report("setxattr(protected/notes.txt, user.attack)",
           setxattr(canary("notes.txt"), "user.attack", "owned", 5, 0));
    int fd = open(canary("script.sh"), O_RDONLY);
    report("fsetxattr(fd of protected/script.sh, user.attack)", fsetxattr(fd, "user.attack", "owned", 5, 0));
    return 0;
}
