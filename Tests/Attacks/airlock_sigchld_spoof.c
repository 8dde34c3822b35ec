// attack: airlock: pretend the agent has ended (spoofed SIGCHLD to pid 1 and to our parent, the agent's main process exits) while a setsid'd grandchild goes on to rm -rf the canary
// stopped by: landlock(pid 1)
//
// If Airlock took "the agent exited" (or a SIGCHLD that says so) as the end of the sandbox and
// stopped supervising while something of the agent's lived on, that survivor could act
// unsupervised. The main process sends SIGCHLD to pid 1 (airlock's init) and to its parent, and
// sigqueue()s it one with a forged si_code; a double-forked, setsid'd daemon that ignores SIGHUP
// and SIGTERM waits until the main process has gone, spoofs again, then removes the canary by
// syscalls. Bare (unshare --pid: our main process is the namespace's pid 1, whose exit would kill
// the daemon) the main process waits for the daemon instead of exiting first.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void remove_tree(int parent, const char *name) {
    int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) {
        DIR *d = fdopendir(fd);
        struct dirent *e;
        while (d && (e = readdir(d)))
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) remove_tree(dirfd(d), e->d_name);
        if (d) closedir(d);
        int r = unlinkat(parent, name, AT_REMOVEDIR);
        printf("daemon: rmdir %s -> %s\n", name, r == 0 ? "OK" : strerrorname_np(errno));
    } else {
        int r = unlinkat(parent, name, 0);
        printf("daemon: unlink %s -> %s\n", name, r == 0 ? "OK" : strerrorname_np(errno));
    }
    fflush(stdout);
}

static void spoof(pid_t target, const char *who) {
    int r = kill(target, SIGCHLD);
    printf("kill(%s %d, SIGCHLD) -> %s\n", who, target, r == 0 ? "OK" : strerrorname_np(errno));
    siginfo_t info;
    memset(&info, 0, sizeof info);
    info.si_signo = SIGCHLD;
    info.si_code = CLD_EXITED;  // the kernel only lets a negative si_code through to others
    info.si_pid = getpid();
    info.si_status = 0;
    r = syscall(SYS_rt_sigqueueinfo, target, SIGCHLD, &info);
    printf("rt_sigqueueinfo(%s %d, SIGCHLD, CLD_EXITED) -> %s\n", who, target, r == 0 ? "OK" : strerrorname_np(errno));
    info.si_code = SI_QUEUE;
    r = syscall(SYS_rt_sigqueueinfo, target, SIGCHLD, &info);
    printf("rt_sigqueueinfo(%s %d, SIGCHLD, SI_QUEUE) -> %s\n", who, target, r == 0 ? "OK" : strerrorname_np(errno));
    fflush(stdout);
}

int main(void) {
    const char *canary = getenv("CANARY");
    if (!canary) { fprintf(stderr, "no CANARY\n"); return 2; }
    int bare = getpid() == 1;
    pid_t main_pid = getpid();
    setvbuf(stdout, NULL, _IOLBF, 0);
    int ready[2];
    if (pipe(ready) < 0) return 1;
    pid_t first = fork();
    if (first == 0) {
        if (fork() != 0) _exit(0);  // the daemon is the grandchild, reparented at once
        setsid();
        signal(SIGHUP, SIG_IGN);
        signal(SIGTERM, SIG_IGN);
        close(ready[0]);
        // Wait until the main process has gone (bare: 1 s, it stays to keep the namespace alive).
        for (int i = 0; i < 50 && !bare && kill(main_pid, 0) == 0; i++) usleep(20 * 1000);
        if (bare) usleep(300 * 1000);
        printf("daemon %d (session %d): main process %s\n", getpid(), getsid(0), kill(main_pid, 0) == 0 ? "alive" : "gone");
        spoof(1, "pid");
        char *copy = strdup(canary), *slash = strrchr(copy, '/');
        *slash = 0;
        int parent = open(*copy ? copy : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        remove_tree(parent, slash + 1);
        printf("daemon: canary %s\n", access(canary, F_OK) == 0 ? "still there" : "gone");
        write(ready[1], "x", 1);
        _exit(0);
    }
    close(ready[1]);
    waitpid(first, NULL, 0);
    if (!bare) spoof(1, "pid");
    spoof(getppid(), "parent");
    if (bare) {
        char c;
        read(ready[0], &c, 1);  // bare: stay, so the namespace (and the daemon) lives
    }
    printf("main process %d exits now\n", getpid());
    return 0;
}
