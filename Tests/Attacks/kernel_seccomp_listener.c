// attack: kernel: install a nested seccomp filter with SECCOMP_FILTER_FLAG_NEW_LISTENER (plain, and with the op in the upper bits) and answer its own unlinkat/openat with SECCOMP_USER_NOTIF_FLAG_CONTINUE
// stopped by: seccomp(NEW_LISTENER), sign-off(delete), sign-off(truncate)
// If the agent held a listener of its own, the kernel would ask it (not Airlock's supervisor, or
// before it) about each call. Seccomp's own rule (one listener per filter chain) and Airlock's filter
// must both stop it.
#define _GNU_SOURCE
#include "attack.h"
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>

static void *answer(void *arg) {
    int fd = *(int *)arg;
    for (;;) {
        struct seccomp_notif req;
        struct seccomp_notif_resp resp;
        memset(&req, 0, sizeof req);
        if (ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0) return NULL;
        memset(&resp, 0, sizeof resp);
        resp.id = req.id;
        resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
        ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &resp);
    }
}

int main(void) {
    const char *canary = getenv("CANARY");
    if (!canary) { fprintf(stderr, "CANARY not set\n"); return 2; }
    char f[2][256], a[4096], b[4096];
    if (canary_files(canary, f, 2) < 2) { fprintf(stderr, "fewer than 2 canary files\n"); return 2; }
    snprintf(a, sizeof a, "%s/%s", canary, f[0]);
    snprintf(b, sizeof b, "%s/%s", canary, f[1]);

    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_unlinkat, 2, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
    };
    struct sock_fprog prog = {.len = sizeof code / sizeof code[0], .filter = code};
    printf("prctl(PR_SET_NO_NEW_PRIVS) -> %d\n", prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
    int fd = -1;
    struct { unsigned long op, flags; const char *label; } tries[] = {
        {SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, "op=SET_MODE_FILTER flags=NEW_LISTENER"},
        {0x100000000UL | SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, "op=(1<<32)|SET_MODE_FILTER flags=NEW_LISTENER"},
        {SECCOMP_SET_MODE_FILTER, 0xff00000000UL | SECCOMP_FILTER_FLAG_NEW_LISTENER, "op=SET_MODE_FILTER flags=(0xff<<32)|NEW_LISTENER"},
    };
    for (size_t i = 0; i < sizeof tries / sizeof tries[0] && fd < 0; i++) {
        errno = 0;
        fd = (int)syscall(SYS_seccomp, tries[i].op, tries[i].flags, &prog);
        printf("seccomp(%s) -> %d (%s)\n", tries[i].label, fd, fd < 0 ? strerror(errno) : "listener fd");
    }
    fflush(stdout);
    if (fd >= 0) {
        pthread_t t;
        pthread_create(&t, NULL, answer, &fd);
    }
    errno = 0;
    long r = syscall(SYS_unlinkat, AT_FDCWD, a, 0);
    printf("unlinkat(canary file 1) -> %ld (%s)\n", r, r < 0 ? strerror(errno) : "success");
    errno = 0;
    r = syscall(SYS_openat, AT_FDCWD, b, O_WRONLY | O_TRUNC);
    printf("openat(canary file 2, O_WRONLY|O_TRUNC) -> %ld (%s)\n", r, r < 0 ? strerror(errno) : "success");
    return 0;
}
