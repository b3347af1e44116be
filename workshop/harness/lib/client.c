/*
 * Connection to xenfv-sim shared by the stand-in libraries.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "client.h"

static int send_msg(int fd, const void *hdr, size_t hlen,
                    const void *data, size_t len)
{
    struct iovec iov[2] = {
        { .iov_base = (void *)hdr, .iov_len = hlen },
        { .iov_base = (void *)data, .iov_len = len },
    };
    struct msghdr msg = { .msg_iov = iov, .msg_iovlen = len ? 2 : 1 };
    ssize_t n;

    do {
        n = sendmsg(fd, &msg, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    return n < 0 ? -1 : 0;
}

static ssize_t recv_msg(int fd, void *buf, size_t size, int *fds, int *nfds)
{
    union {
        char buf[CMSG_SPACE(XFV_MAX_FDS * sizeof(int))];
        struct cmsghdr align;
    } u;
    struct iovec iov = { .iov_base = buf, .iov_len = size };
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1,
        .msg_control = u.buf, .msg_controllen = sizeof(u.buf),
    };
    struct cmsghdr *cm;
    ssize_t n;
    int got = 0;

    do {
        n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) {
        return -1;
    }
    for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
        if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
            int k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            int *p = (int *)CMSG_DATA(cm);

            for (int i = 0; i < k; i++) {
                if (fds && got < XFV_MAX_FDS) {
                    fds[got++] = p[i];
                } else {
                    close(p[i]);
                }
            }
        }
    }
    if (nfds) {
        *nfds = got;
    }
    return n;
}

struct xfv_rsp *xfv_call(struct xfv_conn *c, uint32_t op, uint32_t domid,
                         const uint64_t *args, int nargs, const void *data,
                         size_t len, int *fds, int *nfds)
{
    struct xfv_req req = { .op = op, .domid = domid, .len = len };
    struct xfv_rsp *rsp;
    ssize_t n;
    int saved;

    if (len > XFV_MAX_MSG - sizeof(req)) {
        errno = E2BIG;
        return NULL;
    }
    for (int i = 0; i < nargs; i++) {
        req.arg[i] = args[i];
    }
    rsp = malloc(XFV_MAX_MSG);
    if (!rsp) {
        return NULL;
    }
    pthread_mutex_lock(&c->lock);
    n = -1;
    if (send_msg(c->fd, &req, sizeof(req), data, len) == 0) {
        n = recv_msg(c->fd, rsp, XFV_MAX_MSG, fds, nfds);
    }
    saved = errno;
    pthread_mutex_unlock(&c->lock);
    if (n < (ssize_t)sizeof(*rsp)) {
        /* The hypervisor vanished under us: report it as an I/O error. */
        free(rsp);
        errno = n < 0 && saved ? saved : EIO;
        if (errno == ECONNRESET || errno == EPIPE) {
            errno = EIO;
        }
        return NULL;
    }
    return rsp;
}

int xfv_call_simple(struct xfv_conn *c, uint32_t op, uint32_t domid,
                    const uint64_t *args, int nargs, const void *data,
                    size_t len)
{
    struct xfv_rsp *rsp = xfv_call(c, op, domid, args, nargs, data, len,
                                   NULL, NULL);
    int ret;

    if (!rsp) {
        return -1;
    }
    ret = rsp->ret < 0 ? -1 : (int)rsp->ret;
    if (ret < 0) {
        errno = rsp->err;
    }
    free(rsp);
    return ret;
}

int xfv_stub(struct xfv_conn *c, const char *fn, int err)
{
    uint64_t arg = err;

    if (c) {
        xfv_call_simple(c, XFV_OP_STUB, 0, &arg, 1, fn, strlen(fn) + 1);
    }
    errno = err;
    return -1;
}

int xfv_connect(struct xfv_conn *c, enum xfv_kind kind, int *fds, int *nfds)
{
    const char *path = getenv(XFV_ENV_SOCKET);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    struct xfv_rsp *rsp;
    uint64_t args[2] = { kind, getpid() };
    char comm[64] = "";
    int fd, err;

    if (!path || !*path) {
        /* As if /dev/xen/privcmd (or xenstored's socket) were missing. */
        errno = ENOENT;
        return -1;
    }
    if (strlen(path) >= sizeof(sa.sun_path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(sa.sun_path, path);
    fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        err = errno;
        close(fd);
        errno = err;
        return -1;
    }
    c->fd = fd;
    pthread_mutex_init(&c->lock, NULL);
    readlink("/proc/self/exe", comm, sizeof(comm) - 1);
    rsp = xfv_call(c, XFV_OP_HELLO, 0, args, 2, comm, strlen(comm) + 1,
                   fds, nfds);
    if (!rsp || rsp->ret < 0) {
        err = rsp ? rsp->err : errno;
        free(rsp);
        xfv_disconnect(c);
        errno = err;
        return -1;
    }
    free(rsp);
    return 0;
}

void xfv_disconnect(struct xfv_conn *c)
{
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    pthread_mutex_destroy(&c->lock);
}
