/*
 * LD_PRELOAD shim that lets the cross-built xl run `xl -N create` (dry
 * run: parse the configuration, print it as JSON) under qemu-user on a
 * machine without Xen. libxl_ctx_alloc needs a Xenstore connection and
 * parsing asks Xen for the host's CPU count; neither matters for the
 * result. Workshop tooling, not part of the series.
 */
#include <string.h>
#include <xenctrl.h>

struct xs_handle;

struct xs_handle *xs_open(unsigned long flags)
{
    (void)flags;
    return (struct xs_handle *)16;  /* never dereferenced by a dry run */
}

void xs_close(struct xs_handle *h)
{
    (void)h;
}

int xc_physinfo(xc_interface *xch, xc_physinfo_t *info)
{
    (void)xch;
    memset(info, 0, sizeof(*info));
    info->threads_per_core = 1;
    info->cores_per_socket = 1;
    info->nr_cpus = 1;
    info->nr_nodes = 1;
    info->total_pages = 262144;
    info->free_pages = 131072;
    return 0;
}

/*
 * Xenstore reads: the toolstack domain's "domid" (0), and the few nodes
 * the unit tests (libxl-unit.c) read; everything else does not exist.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <xenstore.h>

static const char *const xs_nodes[][2] = {
    { "domid", "0" },
    /* guest 7 got the virtio device model, guest 5 did not */
    { "/libxl/7/virtio-dm", "1" },
    /* a virtio device of guest 5, as libxl writes it */
    { "/libxl/5/device/virtio/0/backend", "/local/domain/0/backend/virtio/5/0" },
    { "/local/domain/0/backend/virtio/5/0/type", "virtio,device22" },
    { "/local/domain/0/backend/virtio/5/0/transport", "mmio" },
    { "/local/domain/0/backend/virtio/5/0/irq", "33" },
    { "/local/domain/0/backend/virtio/5/0/base", "0x2000000" },
    { "/local/domain/0/backend/virtio/5/0/grant_usage", "1" },
};

void *xs_read(struct xs_handle *h, xs_transaction_t t, const char *path,
              unsigned int *len)
{
    size_t i;

    (void)h;
    (void)t;
    for (i = 0; i < sizeof(xs_nodes) / sizeof(xs_nodes[0]); i++) {
        if (!strcmp(path, xs_nodes[i][0])) {
            if (len)
                *len = strlen(xs_nodes[i][1]);
            return strdup(xs_nodes[i][1]);
        }
    }
    errno = ENOENT;
    return NULL;
}
