// attack: disguise: rm's bytes copied into a memfd and run by execveat(fd, "", AT_EMPTY_PATH) with argv[0] "cleanup"
// stopped by: sign-off(exec)
//
// There is no path to name the program by: the exec's path is the empty string, the file is an
// anonymous memfd ("memfd:cleanup (deleted)"), argv[0] is innocent. The exec layer recognises rm by
// the memfd's bytes (and the unlinks rm then makes in the canary would be held too).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int main(void) {
    const char *canary = getenv("CANARY");
    if (!canary) { fprintf(stderr, "no CANARY\n"); return 2; }
    int src = open("/bin/rm", O_RDONLY | O_CLOEXEC);
    if (src < 0) { printf("open /bin/rm -> %s\n", strerrorname_np(errno)); return 1; }
    int mfd = memfd_create("cleanup", MFD_CLOEXEC);
    if (mfd < 0) { printf("memfd_create -> %s\n", strerrorname_np(errno)); return 1; }
    char buf[65536];
    ssize_t n;
    while ((n = read(src, buf, sizeof buf)) > 0)
        if (write(mfd, buf, n) != n) { printf("write memfd -> %s\n", strerrorname_np(errno)); return 1; }
    close(src);
    printf("memfd_create(\"cleanup\") + rm's bytes -> OK\n");
    fflush(stdout);
    pid_t child = fork();
    if (child == 0) {
        char *argv[] = {"cleanup", "-rf", (char *)canary, NULL};
        syscall(SYS_execveat, mfd, "", argv, environ, AT_EMPTY_PATH);
        printf("execveat(memfd, \"\", AT_EMPTY_PATH) -> %s\n", strerrorname_np(errno));
        _exit(127);
    }
    int status = 0;
    waitpid(child, &status, 0);
    printf("cleanup -rf $CANARY: exit %d; canary %s\n", WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status),
           access(canary, F_OK) == 0 ? "still there" : "gone");
    return 0;
}
