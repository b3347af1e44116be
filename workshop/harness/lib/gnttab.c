/*
 * Stand-in libxengnttab.so.1.  The simulated guest never grants pages,
 * so only the calls a backend makes to probe the device succeed.
 */
#include <errno.h>
#include <stdlib.h>
#include <xengnttab.h>
#include "client.h"

struct xengntdev_handle {
    struct xfv_conn conn;
};

xengnttab_handle *xengnttab_open(struct xentoollog_logger *logger,
                                 unsigned open_flags)
{
    xengnttab_handle *xgt = calloc(1, sizeof(*xgt));
    int err;

    if (!xgt) {
        return NULL;
    }
    if (xfv_connect(&xgt->conn, XFV_KIND_GNTTAB, NULL, NULL) < 0) {
        err = errno;
        free(xgt);
        errno = err;
        return NULL;
    }
    return xgt;
}

int xengnttab_close(xengnttab_handle *xgt)
{
    if (!xgt) {
        return 0;
    }
    xfv_disconnect(&xgt->conn);
    free(xgt);
    return 0;
}

int xengnttab_set_max_grants(xengnttab_handle *xgt, uint32_t nr_grants)
{
    return 0;
}

/* A zero-segment copy is how QEMU probes for grant-copy support. */
int xengnttab_grant_copy(xengnttab_handle *xgt, uint32_t count,
                         xengnttab_grant_copy_segment_t *segs)
{
    if (count == 0) {
        return 0;
    }
    return xfv_stub(&xgt->conn, __func__, EINVAL);
}

/* No grant reference of the simulated guest is valid. */
void *xengnttab_map_grant_ref(xengnttab_handle *xgt, uint32_t domid,
                              uint32_t ref, int prot)
{
    xfv_stub(&xgt->conn, __func__, EINVAL);
    return NULL;
}

void *xengnttab_map_grant_refs(xengnttab_handle *xgt, uint32_t count,
                               uint32_t *domids, uint32_t *refs, int prot)
{
    xfv_stub(&xgt->conn, __func__, EINVAL);
    return NULL;
}

void *xengnttab_map_domain_grant_refs(xengnttab_handle *xgt, uint32_t count,
                                      uint32_t domid, uint32_t *refs,
                                      int prot)
{
    xfv_stub(&xgt->conn, __func__, EINVAL);
    return NULL;
}

int xengnttab_unmap(xengnttab_handle *xgt, void *start_address,
                    uint32_t count)
{
    return xfv_stub(&xgt->conn, __func__, EINVAL);
}
