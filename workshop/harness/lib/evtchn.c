/*
 * Stand-in libxenevtchn.so.1.  Like /dev/xen/evtchn, the handle's fd
 * becomes readable when a bound port fires; the port stays masked until
 * xenevtchn_unmask().  The fd is a socket from xenfv-sim that carries
 * one uint32_t port per message.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>
#include <xenevtchn.h>
#include "client.h"
#include "toolcore.h"

struct xenevtchn_handle {
    struct xfv_conn conn;
    Xentoolcore__Active_Handle tc_ah;
    int fd;
};

static int evtchn_restrict_cb(Xentoolcore__Active_Handle *ah, uint16_t domid)
{
    xenevtchn_handle *xce = (void *)((char *)ah -
        offsetof(xenevtchn_handle, tc_ah));

    return xenevtchn_restrict(xce, domid);
}

xenevtchn_handle *xenevtchn_open(struct xentoollog_logger *logger,
                                 unsigned int flags)
{
    xenevtchn_handle *xce = calloc(1, sizeof(*xce));
    int fds[XFV_MAX_FDS], nfds = 0, err;

    if (!xce) {
        return NULL;
    }
    if (xfv_connect(&xce->conn, XFV_KIND_EVTCHN, fds, &nfds) < 0) {
        err = errno;
        free(xce);
        errno = err;
        return NULL;
    }
    if (nfds != 1) {
        for (int i = 0; i < nfds; i++) {
            close(fds[i]);
        }
        xfv_disconnect(&xce->conn);
        free(xce);
        errno = EIO;
        return NULL;
    }
    xce->fd = fds[0];
    xce->tc_ah.restrict_callback = evtchn_restrict_cb;
    xentoolcore__register_active_handle(&xce->tc_ah);
    return xce;
}

int xenevtchn_close(xenevtchn_handle *xce)
{
    if (!xce) {
        return 0;
    }
    xentoolcore__deregister_active_handle(&xce->tc_ah);
    close(xce->fd);
    xfv_disconnect(&xce->conn);
    free(xce);
    return 0;
}

int xenevtchn_fd(xenevtchn_handle *xce)
{
    return xce->fd;
}

int xenevtchn_restrict(xenevtchn_handle *xce, domid_t domid)
{
    uint64_t arg = domid;

    return xfv_call_simple(&xce->conn, XFV_OP_RESTRICT, domid, &arg, 1,
                           NULL, 0);
}

xenevtchn_port_or_error_t xenevtchn_bind_interdomain(xenevtchn_handle *xce,
                                                     uint32_t domid,
                                                     evtchn_port_t remote)
{
    uint64_t arg = remote;

    return xfv_call_simple(&xce->conn, XFV_OP_EVTCHN_BIND, domid, &arg, 1,
                           NULL, 0);
}

int xenevtchn_unbind(xenevtchn_handle *xce, evtchn_port_t port)
{
    uint64_t arg = port;

    return xfv_call_simple(&xce->conn, XFV_OP_EVTCHN_UNBIND, 0, &arg, 1,
                           NULL, 0);
}

int xenevtchn_notify(xenevtchn_handle *xce, evtchn_port_t port)
{
    uint64_t arg = port;

    return xfv_call_simple(&xce->conn, XFV_OP_EVTCHN_NOTIFY, 0, &arg, 1,
                           NULL, 0);
}

int xenevtchn_unmask(xenevtchn_handle *xce, evtchn_port_t port)
{
    uint64_t arg = port;

    return xfv_call_simple(&xce->conn, XFV_OP_EVTCHN_UNMASK, 0, &arg, 1,
                           NULL, 0);
}

xenevtchn_port_or_error_t xenevtchn_pending(xenevtchn_handle *xce)
{
    uint32_t port;
    ssize_t n;

    do {
        n = recv(xce->fd, &port, sizeof(port), MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n == sizeof(port)) {
        return port;
    }
    if (n >= 0) {
        /* The simulator went away: the device would report EIO. */
        errno = EIO;
    }
    return -1;
}
