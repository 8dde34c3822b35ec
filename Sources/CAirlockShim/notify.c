// The supervisor's side of seccomp user notification: ioctls (variadic in glibc, so not callable
// from Swift) and the few syscalls glibc 2.36 does not wrap.
#define _GNU_SOURCE
#include "airlock_shim.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <elf.h>
#include <unistd.h>

#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif

int airlock_notif_recv(int listener, struct airlock_notification *out) {
    struct seccomp_notif req;
    memset(&req, 0, sizeof req);
    if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0) return -errno;
    out->id = req.id;
    out->pid = req.pid;
    out->flags = req.flags;
    out->nr = req.data.nr;
    out->arch = req.data.arch;
    out->instruction_pointer = req.data.instruction_pointer;
    for (int i = 0; i < 6; i++) out->args[i] = req.data.args[i];
    return 0;
}

int airlock_notif_send(int listener, uint64_t id, int64_t val, int32_t error, int cont) {
    struct seccomp_notif_resp resp;
    memset(&resp, 0, sizeof resp);
    resp.id = id;
    resp.val = val;
    resp.error = error;
    resp.flags = cont ? SECCOMP_USER_NOTIF_FLAG_CONTINUE : 0;
    return ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp) < 0 ? -errno : 0;
}

int airlock_notif_id_valid(int listener, uint64_t id) {
    return ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) < 0 ? -errno : 0;
}

int airlock_notif_addfd_send(int listener, uint64_t id, int fd, int cloexec) {
    struct seccomp_notif_addfd addfd;
    memset(&addfd, 0, sizeof addfd);
    addfd.id = id;
    addfd.flags = SECCOMP_ADDFD_FLAG_SEND;
    addfd.srcfd = (uint32_t)fd;
    addfd.newfd_flags = cloexec ? O_CLOEXEC : 0;
    int rc = ioctl(listener, SECCOMP_IOCTL_NOTIF_ADDFD, &addfd);
    return rc < 0 ? -errno : rc;
}

int airlock_notif_sync_wakeup(int listener) {
    return ioctl(listener, SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP) < 0 ? -errno : 0;
}

ssize_t airlock_read_memory(pid_t pid, uint64_t address, void *buffer, size_t length) {
    struct iovec local = {.iov_base = buffer, .iov_len = length};
    struct iovec remote = {.iov_base = (void *)(uintptr_t)address, .iov_len = length};
    ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
    return n < 0 ? -errno : n;
}

ssize_t airlock_read_memory_pieces(pid_t pid, const uint64_t *addresses, const size_t *lengths, size_t count,
                                   void *buffer) {
    struct iovec remote[AIRLOCK_READ_PIECES_MAX];
    if (count > AIRLOCK_READ_PIECES_MAX) count = AIRLOCK_READ_PIECES_MAX;
    size_t total = 0;
    for (size_t i = 0; i < count; i++) {
        remote[i].iov_base = (void *)(uintptr_t)addresses[i];
        remote[i].iov_len = lengths[i];
        total += lengths[i];
    }
    struct iovec local = {.iov_base = buffer, .iov_len = total};
    ssize_t n = process_vm_readv(pid, &local, 1, remote, count, 0);
    return n < 0 ? -errno : n;
}

int airlock_openat2(int dirfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve) {
    struct open_how how = {.flags = flags, .mode = mode, .resolve = resolve};
    long fd = syscall(SYS_openat2, dirfd, path, &how, sizeof how);
    return fd < 0 ? -errno : (int)fd;
}

int airlock_renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned flags) {
    return syscall(SYS_renameat2, olddirfd, oldpath, newdirfd, newpath, flags) < 0 ? -errno : 0;
}

int airlock_pidfd_getfd(int pidfd, int targetfd) {
    long fd = syscall(SYS_pidfd_getfd, pidfd, targetfd, 0);
    return fd < 0 ? -errno : (int)fd;
}

int airlock_receive_fd(int sock) {
    char byte;
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    union { struct cmsghdr hdr; char buf[CMSG_SPACE(sizeof(int))]; } control;
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof control.buf};
    ssize_t n;
    do { n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC); } while (n < 0 && errno == EINTR);
    if (n < 0) return -errno;
    if (n == 0) return 0;
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
    if (!cmsg || cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS) return -EPROTO;
    int fd;
    memcpy(&fd, CMSG_DATA(cmsg), sizeof fd);
    return fd;
}

int airlock_fallocate(int fd, int mode, int64_t offset, int64_t length) {
    return fallocate(fd, mode, offset, length);
}

long airlock_ptrace(int request, pid_t pid, uint64_t addr, uint64_t data) {
    return ptrace((enum __ptrace_request)request, pid, (void *)(uintptr_t)addr, (void *)(uintptr_t)data);
}

int airlock_exit_at_exec_stop(pid_t pid, int status) {
#if defined(__x86_64__)
    struct user_regs_struct regs;
    struct iovec io = {&regs, sizeof regs};
    if (ptrace(PTRACE_GETREGSET, pid, (void *)NT_PRSTATUS, &io) < 0) return -errno;
    uint64_t pc = regs.rip;
    // mov edi, status; mov eax, 231 (exit_group); syscall
    unsigned char code[16] = {0xbf, 0, 0, 0, 0, 0xb8, 231, 0, 0, 0, 0x0f, 0x05};
    memcpy(code + 1, &status, 4);
    const size_t used = 12;
#elif defined(__aarch64__)
    struct user_regs_struct regs;
    struct iovec io = {&regs, sizeof regs};
    if (ptrace(PTRACE_GETREGSET, pid, (void *)NT_PRSTATUS, &io) < 0) return -errno;
    uint64_t pc = regs.pc;
    // movz x0, #status; movz x8, #94 (exit_group); svc #0
    uint32_t words[4] = {0xd2800000u | (((uint32_t)status & 0xffff) << 5), 0xd2800000u | (94u << 5) | 8u, 0xd4000001u, 0};
    unsigned char code[16];
    memcpy(code, words, sizeof code);
    const size_t used = 12;
#else
    (void)pid; (void)status;
    return -ENOSYS;
#endif
#if defined(__x86_64__) || defined(__aarch64__)
    // Two words at the pc; the bytes past the code keep what was there.
    for (size_t off = 0; off < sizeof code; off += sizeof(long)) {
        long word;
        if (off + sizeof(long) > used) {
            errno = 0;
            word = ptrace(PTRACE_PEEKTEXT, pid, (void *)(uintptr_t)(pc + off), NULL);
            if (errno != 0) return -errno;
            memcpy(&word, code + off, used - off);
        } else {
            memcpy(&word, code + off, sizeof word);
        }
        if (ptrace(PTRACE_POKETEXT, pid, (void *)(uintptr_t)(pc + off), (void *)word) < 0) return -errno;
    }
    if (ptrace(PTRACE_DETACH, pid, NULL, NULL) < 0) return -errno;
    return 0;
#endif
}
