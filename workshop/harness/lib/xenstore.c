/*
 * Stand-in libxenstore.so.4, backed by xenfv-sim's small store.  Watch
 * events arrive on a separate socket (xs_fileno), one "path\0token\0"
 * per message, so that a caller can poll it like the real watch pipe.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <xenstore.h>
#include "client.h"
#include "toolcore.h"

struct xs_handle {
    struct xfv_conn conn;
    Xentoolcore__Active_Handle tc_ah;
    int watch_fd;
};

/*
 * As in the real library, restriction cuts the connection; the simulator
 * hears of it first, for its record. Watch events already on their way
 * still arrive: the real library's reader thread delivers what it was
 * waiting for before it ends.
 */
static int xs_restrict_cb(Xentoolcore__Active_Handle *ah, uint16_t domid)
{
    struct xs_handle *h = (void *)((char *)ah -
                                   offsetof(struct xs_handle, tc_ah));
    uint64_t arg = domid;

    xfv_call_simple(&h->conn, XFV_OP_RESTRICT, domid, &arg, 1, NULL, 0);
    return xentoolcore__restrict_by_dup2_null(h->conn.fd);
}

struct xs_handle *xs_open(unsigned long flags)
{
    struct xs_handle *h = calloc(1, sizeof(*h));
    int fds[XFV_MAX_FDS], nfds = 0, err;

    if (!h) {
        return NULL;
    }
    if (xfv_connect(&h->conn, XFV_KIND_XS, fds, &nfds) < 0) {
        err = errno;
        free(h);
        errno = err;
        return NULL;
    }
    if (nfds != 1) {
        for (int i = 0; i < nfds; i++) {
            close(fds[i]);
        }
        xfv_disconnect(&h->conn);
        free(h);
        errno = EIO;
        return NULL;
    }
    h->watch_fd = fds[0];
    h->tc_ah.restrict_callback = xs_restrict_cb;
    xentoolcore__register_active_handle(&h->tc_ah);
    return h;
}

struct xs_handle *xs_daemon_open(void)
{
    return xs_open(0);
}

struct xs_handle *xs_daemon_open_readonly(void)
{
    return xs_open(XS_OPEN_READONLY);
}

struct xs_handle *xs_domain_open(void)
{
    return xs_open(0);
}

void xs_close(struct xs_handle *h)
{
    if (!h) {
        return;
    }
    xentoolcore__deregister_active_handle(&h->tc_ah);
    close(h->watch_fd);
    xfv_disconnect(&h->conn);
    free(h);
}

void xs_daemon_close(struct xs_handle *h)
{
    xs_close(h);
}

int xs_fileno(struct xs_handle *h)
{
    return h->watch_fd;
}

/* Send path (and optional bytes); return the response or NULL/errno. */
static struct xfv_rsp *xs_call(struct xs_handle *h, uint32_t op,
                               xs_transaction_t t, const char *path,
                               const void *val, size_t vlen, uint64_t extra)
{
    size_t plen = path ? strlen(path) + 1 : 0;
    uint64_t args[2] = { t, extra };
    struct xfv_rsp *rsp;
    char *buf;
    int err;

    buf = malloc(plen + vlen + 1);
    if (!buf) {
        return NULL;
    }
    if (plen) {
        memcpy(buf, path, plen);
    }
    memcpy(buf + plen, val, vlen);
    rsp = xfv_call(&h->conn, op, 0, args, 2, buf, plen + vlen, NULL, NULL);
    free(buf);
    if (rsp && rsp->ret < 0) {
        err = rsp->err;
        free(rsp);
        errno = err;
        return NULL;
    }
    return rsp;
}

static bool xs_call_bool(struct xs_handle *h, uint32_t op,
                         xs_transaction_t t, const char *path,
                         const void *val, size_t vlen)
{
    struct xfv_rsp *rsp = xs_call(h, op, t, path, val, vlen, 0);

    free(rsp);
    return rsp != NULL;
}

void *xs_read(struct xs_handle *h, xs_transaction_t t, const char *path,
              unsigned int *len)
{
    struct xfv_rsp *rsp = xs_call(h, XFV_OP_XS_READ, t, path, NULL, 0, 0);
    char *val;

    if (!rsp) {
        return NULL;
    }
    val = malloc(rsp->len + 1);
    if (val) {
        memcpy(val, rsp->data, rsp->len);
        val[rsp->len] = '\0';
        if (len) {
            *len = rsp->len;
        }
    }
    free(rsp);
    return val;
}

bool xs_write(struct xs_handle *h, xs_transaction_t t, const char *path,
              const void *data, unsigned int len)
{
    return xs_call_bool(h, XFV_OP_XS_WRITE, t, path, data, len);
}

bool xs_mkdir(struct xs_handle *h, xs_transaction_t t, const char *path)
{
    return xs_call_bool(h, XFV_OP_XS_MKDIR, t, path, NULL, 0);
}

bool xs_rm(struct xs_handle *h, xs_transaction_t t, const char *path)
{
    return xs_call_bool(h, XFV_OP_XS_RM, t, path, NULL, 0);
}

/*
 * Build a string vector and its strings in one allocation: callers
 * free() only the vector.
 */
static char **pack_strings(const char *src, size_t len, unsigned int *num)
{
    unsigned int n = 0;
    char **vec, *dst;

    for (size_t i = 0; i < len; i++) {
        n += src[i] == '\0';
    }
    vec = malloc((n + 1) * sizeof(char *) + len);
    if (!vec) {
        return NULL;
    }
    dst = (char *)(vec + n + 1);
    memcpy(dst, src, len);
    for (unsigned int i = 0; i < n; i++) {
        vec[i] = dst;
        dst += strlen(dst) + 1;
    }
    vec[n] = NULL;
    *num = n;
    return vec;
}

char **xs_directory(struct xs_handle *h, xs_transaction_t t,
                    const char *path, unsigned int *num)
{
    struct xfv_rsp *rsp = xs_call(h, XFV_OP_XS_DIRECTORY, t, path, NULL, 0,
                                  0);
    char **vec;

    if (!rsp) {
        return NULL;
    }
    vec = pack_strings((const char *)rsp->data, rsp->len, num);
    free(rsp);
    return vec;
}

bool xs_set_permissions(struct xs_handle *h, xs_transaction_t t,
                        const char *path, struct xs_permissions *perms,
                        unsigned int num_perms)
{
    return xs_call_bool(h, XFV_OP_XS_SET_PERMS, t, path, perms,
                        num_perms * sizeof(*perms));
}

char *xs_get_domain_path(struct xs_handle *h, unsigned int domid)
{
    char *path = malloc(32);

    if (path) {
        snprintf(path, 32, "/local/domain/%u", domid);
    }
    return path;
}

bool xs_watch(struct xs_handle *h, const char *path, const char *token)
{
    return xs_call_bool(h, XFV_OP_XS_WATCH, XBT_NULL, path, token,
                        strlen(token) + 1);
}

bool xs_unwatch(struct xs_handle *h, const char *path, const char *token)
{
    return xs_call_bool(h, XFV_OP_XS_UNWATCH, XBT_NULL, path, token,
                        strlen(token) + 1);
}

static char **read_watch(struct xs_handle *h, int flags, unsigned int *num)
{
    char buf[4096];
    ssize_t n;

    do {
        n = recv(h->watch_fd, buf, sizeof(buf), flags);
    } while (n < 0 && errno == EINTR);
    if (n == 0) {
        /* xenstored closed the connection. */
        errno = EIO;
        return NULL;
    }
    if (n < 0) {
        return NULL;
    }
    return pack_strings(buf, n, num);
}

char **xs_read_watch(struct xs_handle *h, unsigned int *num)
{
    return read_watch(h, 0, num);
}

char **xs_check_watch(struct xs_handle *h)
{
    unsigned int num;

    return read_watch(h, MSG_DONTWAIT, &num);
}

xs_transaction_t xs_transaction_start(struct xs_handle *h)
{
    struct xfv_rsp *rsp = xs_call(h, XFV_OP_XS_TRANSACTION_START, XBT_NULL,
                                  NULL, NULL, 0, 0);
    xs_transaction_t t;

    if (!rsp) {
        return XBT_NULL;
    }
    t = rsp->val[0];
    free(rsp);
    return t;
}

bool xs_transaction_end(struct xs_handle *h, xs_transaction_t t,
                        bool abort)
{
    struct xfv_rsp *rsp = xs_call(h, XFV_OP_XS_TRANSACTION_END, t, NULL,
                                  NULL, 0, abort);

    free(rsp);
    return rsp != NULL;
}
