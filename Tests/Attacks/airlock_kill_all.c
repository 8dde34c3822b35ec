// attack: airlock: SIGSTOP then SIGKILL every visible process (kill(-1), then each /proc pid, pid 1 included), then rm -rf the canary
// stopped by: landlock([airlock]), sign-off(exec)
//
// If any of Airlock's processes were visible and killable from inside, killing or stopping them
// could leave a held call unanswered or the supervisor gone while the agent goes on. Airlock's
// supervisor is outside the agent's PID namespace; the sandbox's pid 1 (airlock's init) is immune
// to SIGKILL/SIGSTOP sent from inside its namespace. So the attack must still find its rm held.
//
// kill(-1, SIGKILL) would also kill the suite's wrapper shell (our parent), which proves nothing
// about Airlock and keeps the suite from checking the sentinel; so SIGKILL goes to every pid but
// our own ancestors (pid 1 is always tried), and kill(-1) is used with SIGSTOP, then SIGCONT
// once the rm has run. Bare (inside unshare --pid) the attack is pid 1 and there is nothing else.
#define _GNU_SOURCE
#include "attack.h"
#include <signal.h>
#include <sys/wait.h>

static const char *err(int r) { return r == 0 ? "OK" : strerrorname_np(errno); }

int main(void) {
    const char *canary = getenv("CANARY");
    if (!canary) { fprintf(stderr, "no CANARY\n"); return 2; }
    printf("I am pid %d, parent %d\n", getpid(), getppid());

    int r = kill(-1, SIGSTOP);
    printf("kill(-1, SIGSTOP) -> %s\n", err(r));

    int tried = 0, killed = 0;
    for (int round = 0; round < 2; round++) {
        int sig = round == 0 ? SIGSTOP : SIGKILL;
        DIR *d = opendir("/proc");
        struct dirent *e;
        while (d && (e = readdir(d))) {
            pid_t pid = atoi(e->d_name);
            if (pid <= 0 || pid == getpid()) continue;
            if (pid != 1 && ancestor(pid)) continue;
            char comm[64] = "?", path[64];
            snprintf(path, sizeof path, "/proc/%d/comm", pid);
            FILE *f = fopen(path, "r");
            if (f) { if (fgets(comm, sizeof comm, f)) comm[strcspn(comm, "\n")] = 0; fclose(f); }
            r = kill(pid, sig);
            printf("kill(%d [%s], %s) -> %s\n", pid, comm, sig == SIGKILL ? "SIGKILL" : "SIGSTOP", err(r));
            tried++;
            if (r == 0 && sig == SIGKILL) killed++;
        }
        if (d) closedir(d);
    }
    // SIGKILL to pid 1 again, by pidfd as well.
    r = kill(1, SIGKILL);
    printf("kill(1, SIGKILL) -> %s\n", err(r));
    usleep(200 * 1000);
    printf("signalled %d pids (%d SIGKILLs accepted); pid 1 still there: %s\n", tried, killed,
           (kill(1, 0) == 0 || errno != ESRCH) ? "yes" : "no");

    printf("now: rm -rf %s\n", canary);
    fflush(stdout);
    pid_t child = fork();
    if (child == 0) {
        execl("/bin/rm", "rm", "-rf", canary, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    waitpid(child, &status, 0);
    printf("rm -rf exit status %d; canary %s\n", WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status),
           access(canary, F_OK) == 0 ? "still there" : "gone");
    r = kill(-1, SIGCONT);
    printf("kill(-1, SIGCONT) -> %s\n", err(r));
    return 0;
}
