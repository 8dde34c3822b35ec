// attack: destroy: rename a file of its own over a canary file, replacing it
// stopped by: sign-off(rename)
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void report(const char *what, int result) {
    if (result < 0) printf("%s -> %s (%s)\n", what, strerrorname_np(errno), strerror(errno));
    else printf("%s -> OK\n", what);
    fflush(stdout);
}

int main(void) {
    const char *canary = getenv("CANARY");
    char target[4096];
    snprintf(target, sizeof target, "%s/notes.txt", canary);
    int fd = open("decoy", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    report("create decoy", fd);
    if (fd >= 0) { report("write decoy", (int)write(fd, "overwritten\n", 12)); close(fd); }
    report("rename(decoy, protected/notes.txt)", rename("decoy", target));
    return 0;
}
