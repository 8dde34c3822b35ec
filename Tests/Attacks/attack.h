// What many attacks share: their includes and a few helpers. Each attack stays one file that
// includes this one; `scripts/attacks` compiles it from here.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define ATTACK_HELPER static __attribute__((unused))

#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE 2
#endif

// Prints `WHAT -> OK (N)` or `WHAT -> ERRNAME (message)`: the runner's summary reads ERRNAME.
ATTACK_HELPER long report(const char *what, long result) {
    if (result < 0) printf("%s -> %s (%s)\n", what, strerrorname_np(errno), strerror(errno));
    else printf("%s -> OK (%ld)\n", what, result);
    fflush(stdout);
    return result;
}

// The same in the shorter form some attacks print: `WHAT -> N (message)`.
ATTACK_HELPER long show(const char *what, long r) {
    printf("%s -> %ld (%s)\n", what, r, r < 0 ? strerror(errno) : "success");
    fflush(stdout);
    return r;
}

// `WHAT -> N (message)` for a raw syscall's result, which is -errno on failure.
ATTACK_HELPER long show_raw(const char *what, long r) {
    printf("%s -> %ld (%s)\n", what, r, r < 0 && r > -4096 ? strerror((int)-r) : "success");
    fflush(stdout);
    return r;
}

// Seconds on the monotonic clock.
ATTACK_HELPER double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

// The late canary ($LATE, a *.tfstate): written by the runner a moment after the start, so it is
// not pinned read-only at the kernel layer; only the notifier guards it. Waits up to 5 s for it.
ATTACK_HELPER const char *late(void) {
    const char *path = getenv("LATE");
    for (int i = 0; i < 100 && access(path, F_OK) != 0; i++) usleep(50000);
    return path;
}

// A path in the canary tree (four calls may be in use at once).
ATTACK_HELPER char *canary(const char *name) {
    static char paths[4][4096];
    static int next;
    char *path = paths[next++ % 4];
    snprintf(path, 4096, "%s/%s", getenv("CANARY"), name);
    return path;
}

// The canary's regular files (top level), as names relative to it: the attack does not assume them.
ATTACK_HELPER int canary_files(const char *canary, char names[][256], int max) {
    DIR *d = opendir(canary);
    int n = 0;
    struct dirent *e;
    if (!d) { perror(canary); return 0; }
    while (n < max && (e = readdir(d)))
        if (e->d_type == DT_REG) snprintf(names[n++], 256, "%s", e->d_name);
    closedir(d);
    return n;
}

ATTACK_HELPER void write_file(const char *path, const char *text) {
    int fd = open(path, O_WRONLY);
    if (fd >= 0) { ssize_t n = write(fd, text, strlen(text)); (void)n; close(fd); }
}

// Prints what a read of PATH gave (the secret itself, if it was readable: that is the damage).
ATTACK_HELPER int dump(const char *label, const char *path) {
    char buf[512];
    int fd = open(path, O_RDONLY);
    if (fd < 0) { printf("%s: open(%s) -> %s\n", label, path, strerror(errno)); fflush(stdout); return 0; }
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n < 0) { printf("%s: read(%s) -> %s\n", label, path, strerror(errno)); fflush(stdout); return 0; }
    buf[n] = 0;
    printf("%s: %s -> %zd bytes: %s\n", label, path, n, buf);
    fflush(stdout);
    return n > 0;
}

// $SECRETS, or (the default profile drops every variable named *SECRET*) the fixture's paths under $HOME.
ATTACK_HELPER const char *secret_paths(void) {
    static char buf[8192];
    const char *s = getenv("SECRETS"), *h = getenv("HOME");
    if (s) return s;
    if (!h) return NULL;
    snprintf(buf, sizeof buf, "%s/.ssh/id_ed25519:%s/.aws/credentials", h, h);
    return buf;
}

// Whether PID is one of this process's ancestors: attacks that signal or trace every pid spare the
// shell that runs them (the runner's sentinel step needs it).
ATTACK_HELPER int ancestor(pid_t pid) {
    pid_t p = getppid();
    for (int depth = 0; p > 1 && depth < 64; depth++) {
        if (p == pid) return 1;
        char path[64], line[256];
        snprintf(path, sizeof path, "/proc/%d/status", p);
        FILE *f = fopen(path, "r");
        if (!f) break;
        pid_t next = 0;
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "PPid: %d", &next) == 1) break;
        fclose(f);
        p = next;
    }
    return 0;
}

// Every other visible process: /proc's pids above 1, without this process, `skip` and our ancestors.
// Returns how many were written to `out` (at most `max`).
ATTACK_HELPER int other_pids(pid_t *out, int max, pid_t skip) {
    int n = 0;
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d)) && n < max) {
        pid_t pid = atoi(e->d_name);
        if (pid <= 1 || pid == getpid() || pid == skip || ancestor(pid)) continue;
        out[n++] = pid;
    }
    if (d) closedir(d);
    return n;
}
