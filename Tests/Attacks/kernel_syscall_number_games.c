// attack: kernel: other encodings of the system call number: x32 (nr | 0x40000000) and garbage in the upper 32 bits of rax, for unlinkat, openat O_TRUNC and renameat
// stopped by: seccomp(x32), sign-off(delete), sign-off(rename), sign-off(truncate)
// The kernel dispatches on the low 32 bits (and, where x32 is built in, on bit 30 too); a filter that
// compared the whole register, or that forgot the x32 bit, would let these through unchecked.
#define _GNU_SOURCE
#include "attack.h"

static long raw(unsigned long nr, long a, long b, long c, long d) {
    long ret;
    register long r10 __asm__("r10") = d;
    __asm__ volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10) : "rcx", "r11", "memory");
    return ret;
}

static long raw3(unsigned long nr, long a, long b, long c) {
    long ret;
    __asm__ volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
    return ret;
}

int main(void) {
    const char *canary = getenv("CANARY");
    if (!canary) { fprintf(stderr, "CANARY not set\n"); return 2; }
    char a[4096], b[4096], c[4096], d[4096], e[4096];
    char f[4][256];
    if (canary_files(canary, f, 4) < 4) { fprintf(stderr, "fewer than 4 canary files\n"); return 2; }
    snprintf(a, sizeof a, "%s/%s", canary, f[0]);
    snprintf(b, sizeof b, "%s/%s", canary, f[1]);
    snprintf(c, sizeof c, "%s/%s", canary, f[2]);
    snprintf(d, sizeof d, "%s/renamed-by-number-game", canary);
    snprintf(e, sizeof e, "%s/%s", canary, f[3]);
    const unsigned long x32 = 0x40000000UL, high = 0x100000000UL;

    // x32: unlinkat, openat and renameat keep their 64-bit numbers in the x32 table.
    show_raw("x32 unlinkat(canary file 1)", raw3(x32 | SYS_unlinkat, AT_FDCWD, (long)a, 0));
    long fd = raw3(x32 | SYS_openat, AT_FDCWD, (long)b, O_WRONLY | O_TRUNC);
    show_raw("x32 openat(canary file 2, O_WRONLY|O_TRUNC)", fd);
    if (fd >= 0) close((int)fd);
    show_raw("x32 renameat(canary file 3 -> canary/renamed-by-number-game)", raw(x32 | SYS_renameat, AT_FDCWD, (long)c, AT_FDCWD, (long)d));

    // Upper 32 bits of rax set: the kernel takes the number as an int.
    show_raw("(1<<32)|unlinkat(canary file 1)", raw3(high | SYS_unlinkat, AT_FDCWD, (long)a, 0));
    fd = raw3(high | SYS_openat, AT_FDCWD, (long)b, O_WRONLY | O_TRUNC);
    show_raw("(1<<32)|openat(canary file 2, O_WRONLY|O_TRUNC)", fd);
    if (fd >= 0) close((int)fd);
    show_raw("(1<<32)|renameat(canary file 3 -> canary/renamed-by-number-game)", raw(high | SYS_renameat, AT_FDCWD, (long)c, AT_FDCWD, (long)d));
    show_raw("(0xdead<<32)|unlink(canary file 4)", raw3(0xdead00000000UL | SYS_unlink, (long)e, 0, 0));
    return 0;
}
