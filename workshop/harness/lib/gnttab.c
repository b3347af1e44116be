/*
 * Stand-in libxengnttab.so.1.  Grant mappings are checked by the
 * simulator against the guest's grant table (granted, read-only or not)
 * and made, like foreign mappings, by mmap of the guest RAM memfd at the
 * granted pages; unmapping tells the simulator, so that the guest sees
 * which grants the device model still holds.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xengnttab.h>
#include "client.h"
#include "toolcore.h"

#define PAGE 4096UL

struct gmap {
    void *addr;
    uint32_t count;
    uint32_t *refs;
    struct gmap *next;
};

struct xengntdev_handle {
    struct xfv_conn conn;
    Xentoolcore__Active_Handle tc_ah;
    int ram_fd;
    int cut;                    /* restricted: gntdev's fd is /dev/null */
    pthread_mutex_t lock;       /* protects maps */
    struct gmap *maps;
};

/*
 * gntdev cannot be restricted to a domain: the real library puts
 * /dev/null in place of its fd, so no grant can be mapped after.  A
 * mapping made before is still released when unmapped (its vma held
 * gntdev open).  The simulator hears of the restriction, for its record.
 */
static int gnttab_restrict_cb(Xentoolcore__Active_Handle *ah, uint16_t domid)
{
    xengnttab_handle *xgt = (void *)((char *)ah -
                                     offsetof(xengnttab_handle, tc_ah));
    uint64_t arg = domid;

    __atomic_store_n(&xgt->cut, 1, __ATOMIC_RELEASE);
    xfv_call_simple(&xgt->conn, XFV_OP_RESTRICT, domid, &arg, 1, NULL, 0);
    return 0;
}

xengnttab_handle *xengnttab_open(struct xentoollog_logger *logger,
                                 unsigned open_flags)
{
    xengnttab_handle *xgt = calloc(1, sizeof(*xgt));
    int fds[XFV_MAX_FDS], nfds = 0, err;

    if (!xgt) {
        return NULL;
    }
    if (xfv_connect(&xgt->conn, XFV_KIND_GNTTAB, fds, &nfds) < 0) {
        err = errno;
        free(xgt);
        errno = err;
        return NULL;
    }
    if (nfds != 1) {
        for (int i = 0; i < nfds; i++) {
            close(fds[i]);
        }
        xfv_disconnect(&xgt->conn);
        free(xgt);
        errno = EIO;
        return NULL;
    }
    xgt->ram_fd = fds[0];
    pthread_mutex_init(&xgt->lock, NULL);
    xgt->tc_ah.restrict_callback = gnttab_restrict_cb;
    xentoolcore__register_active_handle(&xgt->tc_ah);
    return xgt;
}

/* Closing the device drops every mapping, as gntdev's release does. */
int xengnttab_close(xengnttab_handle *xgt)
{
    if (!xgt) {
        return 0;
    }
    xentoolcore__deregister_active_handle(&xgt->tc_ah);
    while (xgt->maps) {
        xengnttab_unmap(xgt, xgt->maps->addr, xgt->maps->count);
    }
    close(xgt->ram_fd);
    pthread_mutex_destroy(&xgt->lock);
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

void *xengnttab_map_domain_grant_refs(xengnttab_handle *xgt, uint32_t count,
                                      uint32_t domid, uint32_t *refs,
                                      int prot)
{
    uint64_t writable = !!(prot & PROT_WRITE);
    struct xfv_rsp *rsp;
    struct gmap *m;
    uint64_t *off;
    char *base;
    int err;

    if (__atomic_load_n(&xgt->cut, __ATOMIC_ACQUIRE)) {
        errno = ENOTTY;     /* an ioctl on /dev/null */
        return NULL;
    }
    if (count == 0) {
        errno = EINVAL;
        return NULL;
    }
    rsp = xfv_call(&xgt->conn, XFV_OP_GNT_MAP, domid, &writable, 1, refs,
                   count * sizeof(refs[0]), NULL, NULL);
    if (!rsp || rsp->ret < 0) {
        err = rsp ? rsp->err : errno;
        free(rsp);
        errno = err;
        return NULL;
    }
    off = (uint64_t *)rsp->data;
    m = calloc(1, sizeof(*m));
    base = mmap(NULL, count * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
                -1, 0);
    if (!m || base == MAP_FAILED) {
        goto fail;
    }
    for (uint32_t i = 0; i < count; i++) {
        if (mmap(base + i * PAGE, PAGE, prot, MAP_SHARED | MAP_FIXED,
                 xgt->ram_fd, off[i]) == MAP_FAILED) {
            goto fail;
        }
    }
    free(rsp);
    m->addr = base;
    m->count = count;
    m->refs = malloc(count * sizeof(refs[0]));
    memcpy(m->refs, refs, count * sizeof(refs[0]));
    pthread_mutex_lock(&xgt->lock);
    m->next = xgt->maps;
    xgt->maps = m;
    pthread_mutex_unlock(&xgt->lock);
    return base;

fail:
    err = errno;
    if (base != MAP_FAILED) {
        munmap(base, count * PAGE);
    }
    xfv_call_simple(&xgt->conn, XFV_OP_GNT_UNMAP, domid, NULL, 0, refs,
                    count * sizeof(refs[0]));
    free(m);
    free(rsp);
    errno = err;
    return NULL;
}

void *xengnttab_map_grant_refs(xengnttab_handle *xgt, uint32_t count,
                               uint32_t *domids, uint32_t *refs, int prot)
{
    for (uint32_t i = 1; i < count; i++) {
        if (domids[i] != domids[0]) {
            xfv_stub(&xgt->conn, __func__, EINVAL);
            return NULL;
        }
    }
    return xengnttab_map_domain_grant_refs(xgt, count, count ? domids[0] : 0,
                                           refs, prot);
}

void *xengnttab_map_grant_ref(xengnttab_handle *xgt, uint32_t domid,
                              uint32_t ref, int prot)
{
    return xengnttab_map_domain_grant_refs(xgt, 1, domid, &ref, prot);
}

int xengnttab_unmap(xengnttab_handle *xgt, void *start_address,
                    uint32_t count)
{
    struct gmap **p, *m = NULL;

    pthread_mutex_lock(&xgt->lock);
    for (p = &xgt->maps; *p; p = &(*p)->next) {
        if ((*p)->addr == start_address && (*p)->count == count) {
            m = *p;
            *p = m->next;
            break;
        }
    }
    pthread_mutex_unlock(&xgt->lock);
    if (!m) {
        errno = EINVAL;
        return -1;
    }
    munmap(m->addr, m->count * PAGE);
    xfv_call_simple(&xgt->conn, XFV_OP_GNT_UNMAP, 0, NULL, 0, m->refs,
                    m->count * sizeof(m->refs[0]));
    free(m->refs);
    free(m);
    return 0;
}
