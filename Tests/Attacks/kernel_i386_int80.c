// attack: kernel: the i386 ABI from a 64-bit process (int $0x80: unlink = 10, open = 5 with O_TRUNC, rename = 38), paths in memory below 4 GiB
// stopped by: seccomp(i386)
// 32-bit system calls have their own numbers (10 is link's neighbour, not unlink, in the 64-bit table)
// and their own audit architecture; a filter written for x86_64 numbers must not simply allow them.
#define _GNU_SOURCE
#include "attack.h"
#include <sys/mman.h>

static long int80(long nr, long a, long b, long c) {
    long ret;
    __asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(a), "c"(b), "d"(c) : "memory", "r8", "r9", "r10", "r11");
    return ret;
}

int main(void) {
    const char *canary = getenv("CANARY");
    if (!canary) { fprintf(stderr, "CANARY not set\n"); return 2; }
    char f[4][256];
    if (canary_files(canary, f, 4) < 4) { fprintf(stderr, "fewer than 4 canary files\n"); return 2; }
    char *low = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
    if (low == MAP_FAILED) { perror("mmap MAP_32BIT"); return 1; }
    printf("buffer below 4 GiB at %p\n", (void *)low);
    char *a = low, *b = low + 4096, *c = low + 8192, *d = low + 12288;
    snprintf(a, 4096, "%s/%s", canary, f[0]);
    snprintf(b, 4096, "%s/%s", canary, f[1]);
    snprintf(c, 4096, "%s/%s", canary, f[2]);
    snprintf(d, 4096, "%s/renamed-by-i386", canary);
    show_raw("i386 unlink(canary file 1) [int 0x80, eax=10]", int80(10, (long)a, 0, 0));
    long fd = int80(5, (long)b, 01 | 01000 /* O_WRONLY|O_TRUNC */, 0);
    show_raw("i386 open(canary file 2, O_WRONLY|O_TRUNC) [eax=5]", fd);
    if (fd >= 0) int80(6, fd, 0, 0); // close
    show_raw("i386 rename(canary file 3, canary/renamed-by-i386) [eax=38]", int80(38, (long)c, (long)d, 0));
    return 0;
}
