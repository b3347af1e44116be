/*
 * Stand-in libxenctrl.so.4.17: domain queries and control against
 * xenfv-sim.  Entry points that only make sense for x86 guests or PCI
 * passthrough fail with EOPNOTSUPP, as the Arm hypervisor does.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xenctrl.h>
#include "client.h"
#include "toolcore.h"

struct xc_interface_core {
    struct xfv_conn conn;
    Xentoolcore__Active_Handle tc_ah;
    int restricted;
};

/* xencall's restriction makes every later hypercall fail. */
static int xc_restrict_cb(Xentoolcore__Active_Handle *ah, uint16_t domid)
{
    xc_interface *xch = (xc_interface *)((char *)ah -
                                         offsetof(xc_interface, tc_ah));
    uint64_t arg = domid;

    xfv_call_simple(&xch->conn, XFV_OP_RESTRICT, domid, &arg, 1, NULL, 0);
    xch->restricted = 1;
    return 0;
}

xc_interface *xc_interface_open(xentoollog_logger *logger,
                                xentoollog_logger *dombuild_logger,
                                unsigned open_flags)
{
    xc_interface *xch = calloc(1, sizeof(*xch));
    int err;

    if (!xch) {
        return NULL;
    }
    if (xfv_connect(&xch->conn, XFV_KIND_CTRL, NULL, NULL) < 0) {
        err = errno;
        /* The real library reports this through its (stderr) logger. */
        fprintf(stderr, "xencall: error: Could not obtain handle on "
                "privileged command interface: %s\n", strerror(err));
        free(xch);
        errno = err;
        return NULL;
    }
    xch->tc_ah.restrict_callback = xc_restrict_cb;
    xentoolcore__register_active_handle(&xch->tc_ah);
    return xch;
}

int xc_interface_close(xc_interface *xch)
{
    if (!xch) {
        return 0;
    }
    xentoolcore__deregister_active_handle(&xch->tc_ah);
    xfv_disconnect(&xch->conn);
    free(xch);
    return 0;
}

static int xc_call(xc_interface *xch, uint32_t op, uint32_t domid,
                   const uint64_t *args, int nargs)
{
    if (xch->restricted) {
        /* privcmd fd is /dev/null now: the ioctl is not supported. */
        errno = ENOTTY;
        return -1;
    }
    return xfv_call_simple(&xch->conn, op, domid, args, nargs, NULL, 0);
}

static void fill_dominfo(xc_dominfo_t *info, const struct xfv_dominfo *d)
{
    memset(info, 0, sizeof(*info));
    info->domid = d->domid;
    info->dying = !!d->dying;
    info->shutdown = !!d->shutdown;
    info->shutdown_reason = d->shutdown_reason;
    info->paused = !!d->paused;
    info->running = !d->paused && !d->shutdown && !d->dying;
    info->blocked = 0;
    info->hvm = 1;          /* every Arm guest is XEN_DOMINF_hvm_guest */
    info->hap = 1;
    info->nr_pages = d->nr_pages;
    info->max_memkb = d->max_memkb;
    info->nr_online_vcpus = d->nr_online_vcpus;
    info->max_vcpu_id = d->max_vcpu_id;
}

int xc_domain_getinfo(xc_interface *xch, uint32_t first_domid,
                      unsigned int max_doms, xc_dominfo_t *info)
{
    uint64_t arg = max_doms;
    struct xfv_rsp *rsp;
    const struct xfv_dominfo *d;
    int n;

    if (xch->restricted) {
        errno = ENOTTY;
        return -1;
    }
    rsp = xfv_call(&xch->conn, XFV_OP_DOMAIN_GETINFO, first_domid, &arg, 1,
                   NULL, 0, NULL, NULL);
    if (!rsp) {
        return -1;
    }
    if (rsp->ret < 0) {
        errno = rsp->err;
        free(rsp);
        return -1;
    }
    n = rsp->ret;
    d = (const struct xfv_dominfo *)rsp->data;
    for (int i = 0; i < n; i++) {
        fill_dominfo(&info[i], &d[i]);
    }
    free(rsp);
    return n;
}

static void fill_domaininfo(xc_domaininfo_t *info,
                            const struct xfv_dominfo *d)
{
    memset(info, 0, sizeof(*info));
    info->domain = d->domid;
    info->flags = XEN_DOMINF_hvm_guest | XEN_DOMINF_hap |
                  (d->dying ? XEN_DOMINF_dying : 0) |
                  (d->paused ? XEN_DOMINF_paused : 0);
    if (d->shutdown) {
        info->flags |= XEN_DOMINF_shutdown |
            (d->shutdown_reason & XEN_DOMINF_shutdownmask)
            << XEN_DOMINF_shutdownshift;
    } else if (!d->dying && !d->paused) {
        info->flags |= XEN_DOMINF_running;
    }
    info->tot_pages = d->nr_pages;
    info->max_pages = d->max_memkb >> 2;
    info->nr_online_vcpus = d->nr_online_vcpus;
    info->max_vcpu_id = d->max_vcpu_id;
}

int xc_domain_getinfolist(xc_interface *xch, uint32_t first_domain,
                          unsigned int max_domains, xc_domaininfo_t *info)
{
    uint64_t args[2] = { max_domains, 1 };
    struct xfv_rsp *rsp;
    const struct xfv_dominfo *d;
    int n;

    if (xch->restricted) {
        errno = ENOTTY;
        return -1;
    }
    rsp = xfv_call(&xch->conn, XFV_OP_DOMAIN_GETINFO, first_domain, args, 2,
                   NULL, 0, NULL, NULL);
    if (!rsp) {
        return -1;
    }
    if (rsp->ret < 0) {
        errno = rsp->err;
        free(rsp);
        return -1;
    }
    n = rsp->ret;
    d = (const struct xfv_dominfo *)rsp->data;
    for (int i = 0; i < n; i++) {
        fill_domaininfo(&info[i], &d[i]);
    }
    free(rsp);
    return n;
}

int xc_get_hvm_param(xc_interface *xch, uint32_t dom, int param,
                     unsigned long *value)
{
    uint64_t arg = (uint32_t)param;
    struct xfv_rsp *rsp;
    int err;

    if (xch->restricted) {
        errno = ENOTTY;
        return -1;
    }
    rsp = xfv_call(&xch->conn, XFV_OP_HVM_PARAM_GET, dom, &arg, 1, NULL, 0,
                   NULL, NULL);
    if (!rsp) {
        return -1;
    }
    if (rsp->ret < 0) {
        err = rsp->err;
        free(rsp);
        errno = err;
        return -1;
    }
    *value = rsp->val[0];
    free(rsp);
    return 0;
}

int xc_domain_shutdown(xc_interface *xch, uint32_t domid, int reason)
{
    uint64_t arg = reason;

    return xc_call(xch, XFV_OP_DOMAIN_SHUTDOWN, domid, &arg, 1);
}

/*
 * QEMU 10.2 (xenpvh) links this to give RAM blocks of its own to a guest;
 * the simulated domain has no memory to give, and says so in the DM's log.
 */
int xc_domain_populate_physmap_exact(xc_interface *xch, uint32_t domid,
                                     unsigned long nr_extents,
                                     unsigned int extent_order,
                                     unsigned int mem_flags,
                                     xen_pfn_t *extent_start)
{
    fprintf(stderr, "stand-in libxenctrl: xc_domain_populate_physmap_exact "
            "(%lu extents of order %u) is not simulated\n", nr_extents,
            extent_order);
    errno = ENOSYS;
    return -1;
}
