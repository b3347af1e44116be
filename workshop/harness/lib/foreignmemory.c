/*
 * Stand-in libxenforeignmemory.so.1.  Guest RAM is one memfd received
 * from xenfv-sim when the handle opens; a mapping is an mmap of that
 * memfd at the offsets the simulator resolved, so the device model and
 * the simulated guest share the same pages.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xenforeignmemory.h>
#include "client.h"
#include "toolcore.h"

#define PAGE 4096UL

struct xenforeignmemory_handle {
    struct xfv_conn conn;
    Xentoolcore__Active_Handle tc_ah;
    int ram_fd;
};

struct xenforeignmemory_resource_handle {
    domid_t domid;
    unsigned int type, id;
    unsigned long frame, nr_frames;
    void *addr;
};

static int fmem_restrict_cb(Xentoolcore__Active_Handle *ah, uint16_t domid)
{
    xenforeignmemory_handle *fmem = (void *)((char *)ah -
        offsetof(xenforeignmemory_handle, tc_ah));

    return xenforeignmemory_restrict(fmem, domid);
}

xenforeignmemory_handle *xenforeignmemory_open(struct xentoollog_logger *logger,
                                               unsigned open_flags)
{
    xenforeignmemory_handle *fmem = calloc(1, sizeof(*fmem));
    int fds[XFV_MAX_FDS], nfds = 0, err;

    if (!fmem) {
        return NULL;
    }
    if (xfv_connect(&fmem->conn, XFV_KIND_FMEM, fds, &nfds) < 0) {
        err = errno;
        free(fmem);
        errno = err;
        return NULL;
    }
    if (nfds != 1) {
        for (int i = 0; i < nfds; i++) {
            close(fds[i]);
        }
        xfv_disconnect(&fmem->conn);
        free(fmem);
        errno = EIO;
        return NULL;
    }
    fmem->ram_fd = fds[0];
    fmem->tc_ah.restrict_callback = fmem_restrict_cb;
    xentoolcore__register_active_handle(&fmem->tc_ah);
    return fmem;
}

int xenforeignmemory_close(xenforeignmemory_handle *fmem)
{
    if (!fmem) {
        return 0;
    }
    xentoolcore__deregister_active_handle(&fmem->tc_ah);
    close(fmem->ram_fd);
    xfv_disconnect(&fmem->conn);
    free(fmem);
    return 0;
}

/* Map runs of frames that are contiguous in the RAM file. */
static int map_runs(int fd, char *base, int prot, size_t pages,
                    const int *err, const uint64_t *off)
{
    size_t i = 0;

    while (i < pages) {
        size_t j = i + 1;

        if (err[i]) {
            i++;
            continue;
        }
        while (j < pages && !err[j] && off[j] == off[j - 1] + PAGE) {
            j++;
        }
        if (mmap(base + i * PAGE, (j - i) * PAGE, prot,
                 MAP_SHARED | MAP_FIXED, fd, off[i]) == MAP_FAILED) {
            return -1;
        }
        i = j;
    }
    return 0;
}

/* Frames per request: the RPC's message size, not a limit of privcmd. */
#define MAP_CHUNK   ((XFV_MAX_MSG - 256) / 12)

void *xenforeignmemory_map2(xenforeignmemory_handle *fmem, uint32_t dom,
                            void *addr, int prot, int flags, size_t pages,
                            const xen_pfn_t arr[], int err[])
{
    struct xfv_rsp *rsp;
    int *errs;
    uint64_t *off;
    void *base;
    int saved = 0;
    size_t done, n;

    if (pages == 0) {
        errno = EINVAL;
        return NULL;
    }
    /*
     * Reserve the whole range first: frames Xen refused stay
     * inaccessible, as with privcmd, and the caller may still use the
     * rest of the mapping.
     */
    base = mmap(addr, pages * PAGE, PROT_NONE,
                MAP_PRIVATE | MAP_ANONYMOUS | (flags & MAP_FIXED), -1, 0);
    if (base == MAP_FAILED) {
        return NULL;
    }
    for (done = 0; done < pages; done += n) {
        n = pages - done < MAP_CHUNK ? pages - done : MAP_CHUNK;
        rsp = xfv_call(&fmem->conn, XFV_OP_FMEM_MAP, dom, NULL, 0,
                       arr + done, n * sizeof(arr[0]), NULL, NULL);
        if (!rsp || rsp->ret < 0) {
            saved = rsp ? rsp->err : errno;
            free(rsp);
            break;
        }
        errs = (int *)rsp->data;
        off = (uint64_t *)(rsp->data + n * sizeof(int32_t) +
                           (n & 1) * sizeof(int32_t));
        if (map_runs(fmem->ram_fd, (char *)base + done * PAGE, prot, n, errs,
                     off) < 0) {
            saved = errno;
            free(rsp);
            break;
        }
        for (size_t i = 0; i < n && !saved; i++) {
            if (err) {
                err[done + i] = errs[i];
            } else if (errs[i]) {
                /* Without an err array any failed frame fails the call. */
                saved = -errs[i];
            }
        }
        free(rsp);
        if (saved) {
            break;
        }
    }
    if (saved) {
        munmap(base, pages * PAGE);
        errno = saved;
        return NULL;
    }
    return base;
}

void *xenforeignmemory_map(xenforeignmemory_handle *fmem, uint32_t dom,
                           int prot, size_t pages, const xen_pfn_t arr[],
                           int err[])
{
    return xenforeignmemory_map2(fmem, dom, NULL, prot, 0, pages, arr, err);
}

int xenforeignmemory_unmap(xenforeignmemory_handle *fmem, void *addr,
                           size_t pages)
{
    uint64_t args[2] = { (uintptr_t)addr, pages };

    /* Only logged by the simulator; the mapping is ours to drop. */
    xfv_call_simple(&fmem->conn, XFV_OP_FMEM_UNMAP, 0, args, 2, NULL, 0);
    return munmap(addr, pages * PAGE);
}

int xenforeignmemory_restrict(xenforeignmemory_handle *fmem, domid_t domid)
{
    uint64_t arg = domid;

    return xfv_call_simple(&fmem->conn, XFV_OP_RESTRICT, domid, &arg, 1,
                           NULL, 0);
}

xenforeignmemory_resource_handle *xenforeignmemory_map_resource(
    xenforeignmemory_handle *fmem, domid_t domid, unsigned int type,
    unsigned int id, unsigned long frame, unsigned long nr_frames,
    void **paddr, int prot, int flags)
{
    xenforeignmemory_resource_handle *fres;
    struct xfv_rsp *rsp;
    int fd = -1, nfds = 0, err;
    void *addr;

    rsp = xfv_call(&fmem->conn, XFV_OP_FMEM_MAP_RESOURCE, domid,
                   (uint64_t[]){ type, id, frame, nr_frames }, 4, NULL, 0,
                   &fd, &nfds);
    if (!rsp) {
        return NULL;
    }
    if (rsp->ret < 0 || nfds != 1) {
        err = rsp->ret < 0 ? rsp->err : EIO;
        if (nfds) {
            close(fd);
        }
        free(rsp);
        errno = err;
        return NULL;
    }
    addr = mmap(*paddr, nr_frames * PAGE, prot, flags | MAP_SHARED, fd,
                rsp->val[0]);
    err = errno;
    close(fd);
    free(rsp);
    if (addr == MAP_FAILED) {
        errno = err;
        return NULL;
    }
    fres = calloc(1, sizeof(*fres));
    if (!fres) {
        munmap(addr, nr_frames * PAGE);
        errno = ENOMEM;
        return NULL;
    }
    *fres = (xenforeignmemory_resource_handle) {
        .domid = domid, .type = type, .id = id, .frame = frame,
        .nr_frames = nr_frames, .addr = addr,
    };
    *paddr = addr;
    return fres;
}

int xenforeignmemory_unmap_resource(xenforeignmemory_handle *fmem,
                                    xenforeignmemory_resource_handle *fres)
{
    int r;

    if (!fres) {
        return 0;
    }
    xfv_call_simple(&fmem->conn, XFV_OP_FMEM_UNMAP_RESOURCE, fres->domid,
                    (uint64_t[]){ fres->type, fres->id, fres->frame,
                                  fres->nr_frames }, 4, NULL, 0);
    r = munmap(fres->addr, fres->nr_frames * PAGE);
    free(fres);
    return r;
}
