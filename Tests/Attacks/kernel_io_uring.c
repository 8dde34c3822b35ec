// attack: kernel: io_uring (raw io_uring_setup, then IORING_OP_UNLINKAT and IORING_OP_OPENAT with O_TRUNC) so no unlinkat/openat system call is ever made
// stopped by: seccomp(io_uring_setup)
// io_uring runs file operations from kernel workers: seccomp never sees them. Airlock's filter must
// refuse io_uring_setup itself.
#define _GNU_SOURCE
#include "attack.h"
#include <linux/io_uring.h>
#include <sys/mman.h>

struct ring {
    int fd;
    unsigned *sq_tail, *sq_mask, *sq_array, *cq_head, *cq_tail, *cq_mask;
    struct io_uring_sqe *sqes;
    struct io_uring_cqe *cqes;
};

static int setup(struct ring *r) {
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    errno = 0;
    r->fd = (int)syscall(SYS_io_uring_setup, 8, &p);
    printf("io_uring_setup(8) -> %d (%s)\n", r->fd, r->fd < 0 ? strerror(errno) : "success");
    if (r->fd < 0) return -1;
    size_t sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
    size_t cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
    if (cq_len > sq_len) sq_len = cq_len;
    char *sq = mmap(NULL, sq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQ_RING);
    if (sq == MAP_FAILED) { perror("mmap sq"); return -1; }
    char *cq = sq; // IORING_FEAT_SINGLE_MMAP (every kernel since 5.4)
    r->sqes = mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
                   r->fd, IORING_OFF_SQES);
    if (r->sqes == MAP_FAILED) { perror("mmap sqes"); return -1; }
    r->sq_tail = (unsigned *)(sq + p.sq_off.tail);
    r->sq_mask = (unsigned *)(sq + p.sq_off.ring_mask);
    r->sq_array = (unsigned *)(sq + p.sq_off.array);
    r->cq_head = (unsigned *)(cq + p.cq_off.head);
    r->cq_tail = (unsigned *)(cq + p.cq_off.tail);
    r->cq_mask = (unsigned *)(cq + p.cq_off.ring_mask);
    r->cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
    return 0;
}

static int submit(struct ring *r, struct io_uring_sqe *sqe, const char *what) {
    unsigned tail = *r->sq_tail, idx = tail & *r->sq_mask;
    r->sqes[idx] = *sqe;
    r->sq_array[idx] = idx;
    __atomic_store_n(r->sq_tail, tail + 1, __ATOMIC_RELEASE);
    errno = 0;
    long n = syscall(SYS_io_uring_enter, r->fd, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0);
    if (n < 0) { printf("%s: io_uring_enter -> %s\n", what, strerror(errno)); return -1; }
    unsigned head = __atomic_load_n(r->cq_head, __ATOMIC_ACQUIRE);
    if (head == __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE)) { printf("%s: no completion\n", what); return -1; }
    int res = r->cqes[head & *r->cq_mask].res;
    __atomic_store_n(r->cq_head, head + 1, __ATOMIC_RELEASE);
    printf("%s -> %d (%s)\n", what, res, res < 0 ? strerror(-res) : "success");
    return res;
}

int main(void) {
    const char *canary = getenv("CANARY");
    if (!canary) { fprintf(stderr, "CANARY not set\n"); return 2; }
    struct ring r;
    if (setup(&r) < 0) return 0;
    char f[4][256];
    if (canary_files(canary, f, 4) < 4) { fprintf(stderr, "fewer than 4 canary files\n"); return 2; }
    char a[4096], b[4096], c[4096];
    snprintf(a, sizeof a, "%s/%s", canary, f[0]);
    snprintf(b, sizeof b, "%s/%s", canary, f[1]);
    snprintf(c, sizeof c, "%s/%s", canary, f[2]);

    struct io_uring_sqe sqe;
    memset(&sqe, 0, sizeof sqe);
    sqe.opcode = IORING_OP_UNLINKAT;
    sqe.fd = AT_FDCWD;
    sqe.addr = (unsigned long)a;
    submit(&r, &sqe, "IORING_OP_UNLINKAT canary file 1");

    memset(&sqe, 0, sizeof sqe);
    sqe.opcode = IORING_OP_OPENAT;
    sqe.fd = AT_FDCWD;
    sqe.addr = (unsigned long)b;
    sqe.open_flags = O_WRONLY | O_TRUNC;
    int fd = submit(&r, &sqe, "IORING_OP_OPENAT canary file 2 O_WRONLY|O_TRUNC");
    if (fd >= 0) close(fd);

    char renamed[4096];
    snprintf(renamed, sizeof renamed, "%s/renamed-by-io_uring", canary);
    memset(&sqe, 0, sizeof sqe);
    sqe.opcode = IORING_OP_RENAMEAT;
    sqe.fd = AT_FDCWD;
    sqe.addr = (unsigned long)c;
    sqe.len = AT_FDCWD;
    sqe.addr2 = (unsigned long)renamed;
    submit(&r, &sqe, "IORING_OP_RENAMEAT canary file 3 -> canary/renamed-by-io_uring");
    return 0;
}
