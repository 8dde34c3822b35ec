// `airlock doctor`'s proof that seccomp user notification works: not what headers promise, what a
// real filter and a real listener do.
#define _GNU_SOURCE
#include "airlock_shim.h"

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define ANSWER 4242

// The child's report: the listener fd in SCM_RIGHTS, or an errno in the byte stream.
static void child(const struct sock_filter *filter, unsigned short len, int sock) {
    int32_t result = 0;
    int listener = -1;
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) result = -errno;
    else if ((listener = airlock_seccomp_load(filter, len, SECCOMP_FILTER_FLAG_NEW_LISTENER)) < 0) result = listener;
    struct iovec iov = {.iov_base = &result, .iov_len = sizeof result};
    union { struct cmsghdr hdr; char buf[CMSG_SPACE(sizeof(int))]; } control;
    memset(&control, 0, sizeof control);
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    if (listener >= 0) {
        msg.msg_control = control.buf;
        msg.msg_controllen = sizeof control.buf;
        struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
        cmsg->cmsg_level = SOL_SOCKET;
        cmsg->cmsg_type = SCM_RIGHTS;
        cmsg->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cmsg), &listener, sizeof(int));
    }
    if (sendmsg(sock, &msg, MSG_NOSIGNAL) != sizeof result || listener < 0) _exit(1);
    close(listener);
    _exit(syscall(SYS_getppid) == ANSWER ? 0 : 2);
}

int airlock_probe_user_notification(const struct sock_filter *filter, unsigned short len) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) return -errno;
    pid_t pid = (pid_t)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
    if (pid < 0) { int e = errno; close(sv[0]); close(sv[1]); return -e; }
    if (pid == 0) child(filter, len, sv[1]);
    close(sv[1]);

    int rc = 0, listener = -1;
    int32_t result = 0;
    struct iovec iov = {.iov_base = &result, .iov_len = sizeof result};
    union { struct cmsghdr hdr; char buf[CMSG_SPACE(sizeof(int))]; } control;
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof control.buf};
    struct pollfd pfd = {.fd = sv[0], .events = POLLIN};
    if (poll(&pfd, 1, 5000) != 1 || recvmsg(sv[0], &msg, MSG_CMSG_CLOEXEC) != sizeof result) { rc = -EIO; goto done; }
    if (result < 0) { rc = result; goto done; }
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
    if (!cmsg || cmsg->cmsg_type != SCM_RIGHTS) { rc = -EIO; goto done; }
    memcpy(&listener, CMSG_DATA(cmsg), sizeof(int));

    struct seccomp_notif req;
    struct seccomp_notif_resp resp;
    memset(&req, 0, sizeof req);
    pfd.fd = listener;
    if (poll(&pfd, 1, 5000) != 1) { rc = -ETIMEDOUT; goto done; }
    if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0) { rc = -errno; goto done; }
    memset(&resp, 0, sizeof resp);
    resp.id = req.id;
    resp.val = ANSWER;
    if (ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp) < 0) { rc = -errno; goto done; }
done:
    if (listener >= 0) close(listener);
    close(sv[0]);
    if (rc != 0) kill(pid, SIGKILL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    if (rc == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) rc = -EPROTO;
    return rc;
}
