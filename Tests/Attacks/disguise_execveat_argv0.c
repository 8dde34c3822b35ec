// attack: disguise: exec /bin/rm with a lying argv[0] ("ls"), by execve(path) and by execveat(O_PATH fd of /bin/rm, "", AT_EMPTY_PATH)
// stopped by: sign-off(exec)
//
// The program is rm; argv[0] says ls. With execve the path still names rm; with execveat on an
// O_PATH fd the path is empty and only the fd (and argv[0]) remain to tell what runs.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static void run(const char *how, int use_fd, const char *canary) {
    fflush(stdout);
    pid_t child = fork();
    if (child == 0) {
        char *argv[] = {"ls", "-rf", (char *)canary, NULL};
        if (use_fd) {
            int fd = open("/bin/rm", O_PATH | O_CLOEXEC);
            syscall(SYS_execveat, fd, "", argv, environ, AT_EMPTY_PATH);
        } else {
            execve("/bin/rm", argv, environ);
        }
        printf("%s -> %s\n", how, strerrorname_np(errno));
        _exit(127);
    }
    int status = 0;
    waitpid(child, &status, 0);
    printf("%s [\"ls\", \"-rf\", $CANARY]: exit %d; canary %s\n", how,
           WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status),
           access(canary, F_OK) == 0 ? "still there" : "gone");
}

int main(void) {
    const char *canary = getenv("CANARY");
    if (!canary) { fprintf(stderr, "no CANARY\n"); return 2; }
    run("execveat(open(\"/bin/rm\", O_PATH), \"\", AT_EMPTY_PATH)", 1, canary);
    if (access(canary, F_OK) == 0) run("execve(\"/bin/rm\")", 0, canary);
    return 0;
}
