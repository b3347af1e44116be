/*
 * Stand-in libxendevicemodel.so.1: dm_op calls answered by xenfv-sim the
 * way Xen 4.17 on Arm answers them.  Arm's dm_op knows only the ioreq
 * server operations, set_irq_level and nr_vcpus; every other operation
 * fails with EOPNOTSUPP after the domain checks (xen/arch/arm/dm.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <xendevicemodel.h>
#include "client.h"
#include "toolcore.h"

struct xendevicemodel_handle {
    struct xfv_conn conn;
    Xentoolcore__Active_Handle tc_ah;
};

static int dmod_restrict_cb(Xentoolcore__Active_Handle *ah, uint16_t domid)
{
    xendevicemodel_handle *dmod = (void *)((char *)ah -
        offsetof(xendevicemodel_handle, tc_ah));

    return xendevicemodel_restrict(dmod, domid);
}

xendevicemodel_handle *xendevicemodel_open(struct xentoollog_logger *logger,
                                           unsigned int open_flags)
{
    xendevicemodel_handle *dmod = calloc(1, sizeof(*dmod));
    int err;

    if (!dmod) {
        return NULL;
    }
    if (xfv_connect(&dmod->conn, XFV_KIND_DMOD, NULL, NULL) < 0) {
        err = errno;
        free(dmod);
        errno = err;
        return NULL;
    }
    dmod->tc_ah.restrict_callback = dmod_restrict_cb;
    xentoolcore__register_active_handle(&dmod->tc_ah);
    return dmod;
}

int xendevicemodel_close(xendevicemodel_handle *dmod)
{
    if (!dmod) {
        return 0;
    }
    xentoolcore__deregister_active_handle(&dmod->tc_ah);
    xfv_disconnect(&dmod->conn);
    free(dmod);
    return 0;
}

int xendevicemodel_restrict(xendevicemodel_handle *dmod, domid_t domid)
{
    uint64_t arg = domid;

    return xfv_call_simple(&dmod->conn, XFV_OP_RESTRICT, domid, &arg, 1,
                           NULL, 0);
}

static int dm_op(xendevicemodel_handle *dmod, uint32_t op, domid_t domid,
                 const uint64_t *args, int nargs)
{
    return xfv_call_simple(&dmod->conn, op, domid, args, nargs, NULL, 0);
}

/* An x86-only operation: Arm's dm_op rejects it after the domain checks. */
static int dm_unsupported(xendevicemodel_handle *dmod, domid_t domid,
                          const char *fn)
{
    uint64_t arg = EOPNOTSUPP;

    return xfv_call_simple(&dmod->conn, XFV_OP_STUB, domid, &arg, 1, fn,
                           strlen(fn) + 1);
}

int xendevicemodel_create_ioreq_server(xendevicemodel_handle *dmod,
                                       domid_t domid, int handle_bufioreq,
                                       ioservid_t *id)
{
    struct xfv_rsp *rsp;
    uint64_t arg = (uint32_t)handle_bufioreq;
    int err;

    rsp = xfv_call(&dmod->conn, XFV_OP_DM_CREATE_SERVER, domid, &arg, 1,
                   NULL, 0, NULL, NULL);
    if (!rsp) {
        return -1;
    }
    if (rsp->ret < 0) {
        err = rsp->err;
        free(rsp);
        errno = err;
        return -1;
    }
    *id = rsp->val[0];
    free(rsp);
    return 0;
}

int xendevicemodel_get_ioreq_server_info(xendevicemodel_handle *dmod,
                                         domid_t domid, ioservid_t id,
                                         xen_pfn_t *ioreq_gfn,
                                         xen_pfn_t *bufioreq_gfn,
                                         evtchn_port_t *bufioreq_port)
{
    /* Like the real library: no gfn pointers means XEN_DMOP_no_gfns. */
    uint64_t args[2] = { id, !ioreq_gfn && !bufioreq_gfn };
    struct xfv_rsp *rsp;
    int err;

    rsp = xfv_call(&dmod->conn, XFV_OP_DM_GET_INFO, domid, args, 2, NULL, 0,
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
    if (ioreq_gfn) {
        *ioreq_gfn = rsp->val[0];
    }
    if (bufioreq_gfn) {
        *bufioreq_gfn = rsp->val[1];
    }
    if (bufioreq_port) {
        *bufioreq_port = rsp->val[2];
    }
    free(rsp);
    return 0;
}

int xendevicemodel_map_io_range_to_ioreq_server(xendevicemodel_handle *dmod,
                                                domid_t domid, ioservid_t id,
                                                int is_mmio, uint64_t start,
                                                uint64_t end)
{
    uint64_t args[4] = { id, !!is_mmio, start, end };

    return dm_op(dmod, XFV_OP_DM_MAP_RANGE, domid, args, 4);
}

int xendevicemodel_unmap_io_range_from_ioreq_server(
    xendevicemodel_handle *dmod, domid_t domid, ioservid_t id, int is_mmio,
    uint64_t start, uint64_t end)
{
    uint64_t args[4] = { id, !!is_mmio, start, end };

    return dm_op(dmod, XFV_OP_DM_UNMAP_RANGE, domid, args, 4);
}

int xendevicemodel_set_ioreq_server_state(xendevicemodel_handle *dmod,
                                          domid_t domid, ioservid_t id,
                                          int enabled)
{
    /* The hypercall field is a uint8_t, as in the real library. */
    uint64_t args[2] = { id, (uint8_t)enabled };

    return dm_op(dmod, XFV_OP_DM_SET_STATE, domid, args, 2);
}

int xendevicemodel_destroy_ioreq_server(xendevicemodel_handle *dmod,
                                        domid_t domid, ioservid_t id)
{
    uint64_t arg = id;

    return dm_op(dmod, XFV_OP_DM_DESTROY_SERVER, domid, &arg, 1);
}

int xendevicemodel_set_irq_level(xendevicemodel_handle *dmod, domid_t domid,
                                 unsigned int irq, unsigned int level)
{
    /* struct xen_dm_op_set_irq_level: uint32_t irq, uint8_t level. */
    uint64_t args[2] = { (uint32_t)irq, (uint8_t)level };

    return dm_op(dmod, XFV_OP_DM_SET_IRQ_LEVEL, domid, args, 2);
}

int xendevicemodel_nr_vcpus(xendevicemodel_handle *dmod, domid_t domid,
                            unsigned int *vcpus)
{
    struct xfv_rsp *rsp;
    int err;

    rsp = xfv_call(&dmod->conn, XFV_OP_DM_NR_VCPUS, domid, NULL, 0, NULL, 0,
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
    *vcpus = rsp->val[0];
    free(rsp);
    return 0;
}

int xendevicemodel_shutdown(xendevicemodel_handle *dmod, domid_t domid,
                            unsigned int reason)
{
    return dm_unsupported(dmod, domid, __func__);
}

int xendevicemodel_map_pcidev_to_ioreq_server(xendevicemodel_handle *dmod,
                                              domid_t domid, ioservid_t id,
                                              uint16_t segment, uint8_t bus,
                                              uint8_t device,
                                              uint8_t function)
{
    return dm_unsupported(dmod, domid, __func__);
}

int xendevicemodel_unmap_pcidev_from_ioreq_server(
    xendevicemodel_handle *dmod, domid_t domid, ioservid_t id,
    uint16_t segment, uint8_t bus, uint8_t device, uint8_t function)
{
    return dm_unsupported(dmod, domid, __func__);
}

int xendevicemodel_set_pci_intx_level(xendevicemodel_handle *dmod,
                                      domid_t domid, uint16_t segment,
                                      uint8_t bus, uint8_t device,
                                      uint8_t intx, unsigned int level)
{
    return dm_unsupported(dmod, domid, __func__);
}

int xendevicemodel_set_isa_irq_level(xendevicemodel_handle *dmod,
                                     domid_t domid, uint8_t irq,
                                     unsigned int level)
{
    return dm_unsupported(dmod, domid, __func__);
}

int xendevicemodel_set_pci_link_route(xendevicemodel_handle *dmod,
                                      domid_t domid, uint8_t link,
                                      uint8_t irq)
{
    return dm_unsupported(dmod, domid, __func__);
}

int xendevicemodel_inject_msi(xendevicemodel_handle *dmod, domid_t domid,
                              uint64_t msi_addr, uint32_t msi_data)
{
    return dm_unsupported(dmod, domid, __func__);
}

int xendevicemodel_track_dirty_vram(xendevicemodel_handle *dmod,
                                    domid_t domid, uint64_t first_pfn,
                                    uint32_t nr, unsigned long *dirty_bitmap)
{
    return dm_unsupported(dmod, domid, __func__);
}

int xendevicemodel_modified_memory(xendevicemodel_handle *dmod,
                                   domid_t domid, uint64_t first_pfn,
                                   uint32_t nr)
{
    return dm_unsupported(dmod, domid, __func__);
}

int xendevicemodel_set_mem_type(xendevicemodel_handle *dmod, domid_t domid,
                                hvmmem_type_t mem_type, uint64_t first_pfn,
                                uint32_t nr)
{
    return dm_unsupported(dmod, domid, __func__);
}

int xendevicemodel_relocate_memory(xendevicemodel_handle *dmod,
                                   domid_t domid, uint32_t size,
                                   uint64_t src_gfn, uint64_t dst_gfn)
{
    return dm_unsupported(dmod, domid, __func__);
}

int xendevicemodel_pin_memory_cacheattr(xendevicemodel_handle *dmod,
                                        domid_t domid, uint64_t start,
                                        uint64_t end, uint32_t type)
{
    return dm_unsupported(dmod, domid, __func__);
}
