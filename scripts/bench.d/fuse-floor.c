// The floor of a FUSE round trip on this machine, beside scripts/bench.d/notify-floor.c: a
// file system of one file, "f", served by a thread of this process with libfuse3's low-level API
// (no caching: every name is looked up again), and a thread that calls unlinkat N times on a name
// that does not exist (one LOOKUP each) and N times on "f" (a LOOKUP and an UNLINK each; the
// file stays). Bare: the same unlinkat calls on a tmpfs.
#define FUSE_USE_VERSION 34
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1e6 + t.tv_nsec / 1e3; }

static void attr_of(fuse_ino_t ino, struct stat *st) {
    memset(st, 0, sizeof *st);
    st->st_ino = ino;
    st->st_mode = ino == 1 ? S_IFDIR | 0755 : S_IFREG | 0644;
    st->st_nlink = ino == 1 ? 2 : 1;
}
static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name) {
    if (parent != 1 || strcmp(name, "f") != 0) { fuse_reply_err(req, ENOENT); return; }
    struct fuse_entry_param e;
    memset(&e, 0, sizeof e);
    e.ino = 2;
    attr_of(2, &e.attr);
    fuse_reply_entry(req, &e);  // entry and attribute timeouts 0: nothing is cached
}
static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
    (void)fi;
    struct stat st;
    attr_of(ino, &st);
    fuse_reply_attr(req, &st, 0);
}
static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name) {
    (void)parent; (void)name;
    fuse_reply_err(req, 0);  // "removed"; the next lookup finds it again
}
static const struct fuse_lowlevel_ops ops = {.lookup = op_lookup, .getattr = op_getattr, .unlink = op_unlink};

static struct fuse_session *session;
static void *serve(void *arg) { (void)arg; fuse_session_loop(session); return NULL; }

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: fuse-floor MOUNTPOINT TMPFS-DIR [N]\n"); return 2; }
    int n = argc > 3 ? atoi(argv[3]) : 20000;
    char *fargs[] = {argv[0], "-o", "default_permissions", NULL};
    struct fuse_args args = FUSE_ARGS_INIT(3, fargs);
    session = fuse_session_new(&args, &ops, sizeof ops, NULL);
    if (!session || fuse_session_mount(session, argv[1]) != 0) { fprintf(stderr, "fuse-floor: cannot mount %s\n", argv[1]); return 1; }
    pthread_t t;
    pthread_create(&t, NULL, serve, NULL);
    int mnt = open(argv[1], O_PATH | O_DIRECTORY), tmp = open(argv[2], O_PATH | O_DIRECTORY);
    int keep = openat(tmp, "f", O_WRONLY | O_CREAT, 0644);
    close(keep);
    double t0 = now();
    for (int i = 0; i < n; i++) unlinkat(tmp, "nonexistent-airlock", 0);
    double bareMissing = (now() - t0) / n;
    t0 = now();
    for (int i = 0; i < n; i++) { unlinkat(tmp, "f", 0); close(openat(tmp, "f", O_WRONLY | O_CREAT, 0644)); }
    double bareExisting = (now() - t0) / n;
    t0 = now();
    for (int i = 0; i < n; i++) { close(openat(tmp, "g", O_WRONLY | O_CREAT, 0644)); }
    double bareCreate = (now() - t0) / n;
    t0 = now();
    for (int i = 0; i < n; i++) unlinkat(mnt, "nonexistent-airlock", 0);
    double fuseMissing = (now() - t0) / n;
    t0 = now();
    for (int i = 0; i < n; i++) unlinkat(mnt, "f", 0);
    double fuseExisting = (now() - t0) / n;
    printf("unlinkat of a missing name: tmpfs %.2f us, FUSE %.2f us (+%.2f: one LOOKUP)\n", bareMissing, fuseMissing, fuseMissing - bareMissing);
    printf("unlinkat of a file: tmpfs %.2f us (with its re-creation %.2f), FUSE %.2f us (+%.2f: LOOKUP and UNLINK)\n",
           bareExisting - bareCreate, bareExisting, fuseExisting, fuseExisting - (bareExisting - bareCreate));
    unlinkat(tmp, "f", 0);
    unlinkat(tmp, "g", 0);
    // Detached first, so that the serving thread's read ends (ENODEV) before its descriptor closes
    // (nothing may hold the mount: the O_PATH handle on it goes first).
    close(mnt);
    close(tmp);
    fuse_session_exit(session);
    umount2(argv[1], MNT_DETACH);
    pthread_join(t, NULL);
    fuse_session_unmount(session);
    fuse_session_destroy(session);
    return 0;
}
