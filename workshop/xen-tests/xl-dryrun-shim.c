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
