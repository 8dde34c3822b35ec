// attack: airlock: execve a held command at a path that does not exist, then at once at the real path (what dash and execvp do when they search PATH)
// stopped by: sign-off(exec)
//
// The first execve fails with ENOENT; the second, of the same argv, follows in the same thread
// within microseconds. This is how `sh -c 'rm -rf X'` looks to the kernel with dash, and how
// glibc's execvp() searches PATH. The second exec must be held (and denied), and the sandbox must
// go on: a supervisor still waiting for the first exec to happen would stop answering everyone.
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int main(void) {
    const char *canary = getenv("CANARY");
    if (!canary) { fprintf(stderr, "no CANARY\n"); return 2; }
    const char *paths[] = {"/usr/local/sbin/rm", "/nonexistent/rm", "/bin/rm", "/usr/bin/rm"};
    fflush(stdout);
    pid_t child = fork();
    if (child == 0) {
        char *argv[] = {"rm", "-rf", (char *)canary, NULL};
        for (int i = 0; i < 4; i++) {
            execve(paths[i], argv, environ);
            printf("execve(%s) -> %s\n", paths[i], strerrorname_np(errno));
            fflush(stdout);
        }
        _exit(127);
    }
    int status = 0;
    waitpid(child, &status, 0);
    printf("child: exit %d; canary %s\n", WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status),
           access(canary, F_OK) == 0 ? "still there" : "gone");
    return 0;
}
