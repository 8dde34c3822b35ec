// The floor of a seccomp user-notification round trip on this machine: this process makes N
// unlinkat calls on a name that does not exist, each sent (after the filter is loaded) to a thread
// of its own that answers CONTINUE at once: nothing decided. Bare: the same calls unfiltered.
// The second argument picks the receiving thread's way: "p" polls before each receive (as
// airlock's loop does, watching other descriptors too), "m" reads the path from the caller's
// memory (/proc/PID/mem) and checks the notification is still valid, "s" asks for synchronous
// wake-ups (SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP). scripts/bench floors runs "s", "ps" and "psm".
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1e6 + t.tv_nsec / 1e3; }
static int usepoll, readmem;
static void *serve(void *arg) {
    int fd = *(int *)arg;
    struct seccomp_notif req; struct seccomp_notif_resp resp; char buf[256];
    for (;;) {
        if (usepoll) { struct pollfd p = {fd, POLLIN, 0}; if (poll(&p, 1, -1) < 0) continue; if (p.revents & (POLLHUP|POLLERR)) return 0; }
        memset(&req, 0, sizeof req);
        if (ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0) { if (errno == EINTR) continue; return 0; }
        if (readmem) {
            char path[64]; snprintf(path, sizeof path, "/proc/%u/mem", req.pid);
            int m = open(path, O_RDONLY | O_CLOEXEC); pread(m, buf, sizeof buf, req.data.args[1]); close(m);
            ioctl(fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &req.id);
        }
        memset(&resp, 0, sizeof resp);
        resp.id = req.id; resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
        ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &resp);
    }
}
int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 50000;
    usepoll = argc > 2 && strchr(argv[2], 'p'); readmem = argc > 2 && strchr(argv[2], 'm');
    int sync = argc > 2 && strchr(argv[2], 's');
    double t0 = now();
    for (int i = 0; i < n; i++) unlinkat(AT_FDCWD, "/nonexistent-airlock", 0);
    double bare = (now() - t0) / n;
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_unlinkat, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {4, f};
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    int fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
    if (fd < 0) { perror("seccomp"); return 1; }
    if (sync) { if (ioctl(fd, SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP) < 0) perror("sync"); }
    pthread_t t; pthread_create(&t, 0, serve, &fd);
    t0 = now();
    for (int i = 0; i < n; i++) unlinkat(AT_FDCWD, "/nonexistent-airlock", 0);
    double notified = (now() - t0) / n;
    printf("unlinkat (ENOENT): bare %.2f us, notified %.2f us (+%.2f)%s%s%s\n", bare, notified, notified - bare,
           usepoll ? " poll" : "", readmem ? " read-mem" : "", sync ? " sync-wakeup" : "");
    return 0;
}
