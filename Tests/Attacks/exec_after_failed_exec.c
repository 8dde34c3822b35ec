// attack: airlock: an execve that fails, then at once a destructive execve from the same thread (as execvp and dash do)
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* execvp(3), env(1) and dash try each $PATH entry in turn: a failed execve (ENOENT, EACCES, or a
 * held exec denied with EPERM) is followed at once by another from the same thread. The second
 * must still be classified and held; the supervisor must not be left waiting for the first. */
int main(void) {
    char *none[] = {"missing", NULL};
    execv("/nonexistent/missing", none);
    printf("execve(/nonexistent/missing) -> %s (%s)\n", strerrorname_np(errno), strerror(errno));
    fflush(stdout);
    char command[4200];
    snprintf(command, sizeof command, "exec rm -rf '%s'", getenv("CANARY"));
    char *sh[] = {"sh", "-c", command, NULL};
    execv("/bin/sh", sh);
    printf("execve(/bin/sh -c 'exec rm -rf protected') -> %s (%s)\n", strerrorname_np(errno), strerror(errno));
    return 0;
}
