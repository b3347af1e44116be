/*
 * Connection to xenfv-sim shared by the stand-in libraries.
 */
#ifndef XENFV_CLIENT_H
#define XENFV_CLIENT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include "../proto.h"

#define XFV_HIDDEN __attribute__((visibility("hidden")))

struct xfv_conn {
    int fd;
    pthread_mutex_t lock;
};

/*
 * Connect to $XENFV_SIM and announce the handle kind.  Any descriptors
 * the simulator hands over are stored in fds[] (up to XFV_MAX_FDS) and
 * their count in *nfds.  Returns 0, or -1 with errno set the way the
 * real library's open fails when Xen is absent.
 */
XFV_HIDDEN int xfv_connect(struct xfv_conn *c, enum xfv_kind kind,
                           int *fds, int *nfds);
XFV_HIDDEN void xfv_disconnect(struct xfv_conn *c);

/*
 * One call.  Returns the response (free() it) or NULL with errno set if
 * the simulator is unreachable.  fds/nfds may be NULL.
 */
XFV_HIDDEN struct xfv_rsp *xfv_call(struct xfv_conn *c, uint32_t op,
                                    uint32_t domid, const uint64_t *args,
                                    int nargs, const void *data, size_t len,
                                    int *fds, int *nfds);

/* xfv_call() for calls that return 0 or -1/errno. */
XFV_HIDDEN int xfv_call_simple(struct xfv_conn *c, uint32_t op,
                               uint32_t domid, const uint64_t *args,
                               int nargs, const void *data, size_t len);

/* Report an entry point the simulated Arm host cannot serve. */
XFV_HIDDEN int xfv_stub(struct xfv_conn *c, const char *fn, int err);

#endif
