// attack: kernel: personality() tricks (PER_LINUX32, ADDR_LIMIT_32BIT|READ_IMPLIES_EXEC, the query, values with upper bits) and then `rm -rf $CANARY` exec'd under the new personality, as `setarch linux32 rm -rf` would
// stopped by: seccomp(personality), sign-off(exec)
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static void try(unsigned long value, const char *label) {
    errno = 0;
    long r = syscall(SYS_personality, value);
    printf("personality(%s = 0x%lx) -> 0x%lx (%s)\n", label, value, r, r < 0 ? strerror(errno) : "previous value");
}

int main(void) {
    const char *canary = getenv("CANARY");
    if (!canary) { fprintf(stderr, "CANARY not set\n"); return 2; }
    try(0xffffffffUL, "query");
    try(0x100000000UL | PER_LINUX32, "(1<<32)|PER_LINUX32");
    try(READ_IMPLIES_EXEC | ADDR_LIMIT_32BIT | ADDR_NO_RANDOMIZE, "READ_IMPLIES_EXEC|ADDR_LIMIT_32BIT|ADDR_NO_RANDOMIZE");
    try(PER_LINUX32, "PER_LINUX32");
    struct utsname u;
    uname(&u);
    printf("uname machine now: %s; current personality 0x%lx\n", u.machine, (long)syscall(SYS_personality, 0xffffffffUL));
    fflush(stdout);
    char *args[] = {"rm", "-rf", (char *)canary, NULL};
    pid_t pid = fork();
    if (pid == 0) {
        execve("/bin/rm", args, environ);
        printf("execve(/bin/rm -rf CANARY) -> %s\n", strerror(errno));
        fflush(stdout);
        _exit(1);
    }
    int status;
    waitpid(pid, &status, 0);
    printf("rm -rf %s under the new personality: status 0x%x\n", canary, status);
    return 0;
}
