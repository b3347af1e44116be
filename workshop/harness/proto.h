/*
 * Wire protocol between the stand-in Xen libraries and xenfv-sim.
 *
 * Every library handle owns one SOCK_SEQPACKET connection to the
 * simulator (path in $XENFV_SIM).  A call is one request message and one
 * response message; file descriptors (guest RAM, ioreq pages, event and
 * watch sockets) travel in the response as SCM_RIGHTS.  Keeping each call
 * an RPC lets the simulator log every library call and inject faults.
 */
#ifndef XENFV_PROTO_H
#define XENFV_PROTO_H

#include <stdint.h>

#define XFV_ENV_SOCKET  "XENFV_SIM"
#define XFV_MAX_MSG     (64 * 1024)
#define XFV_MAX_FDS     4

/* Handle kinds, sent with XFV_OP_HELLO. */
enum xfv_kind {
    XFV_KIND_CTRL = 1,          /* libxenctrl */
    XFV_KIND_FMEM,              /* libxenforeignmemory */
    XFV_KIND_DMOD,              /* libxendevicemodel */
    XFV_KIND_EVTCHN,            /* libxenevtchn */
    XFV_KIND_XS,                /* libxenstore */
    XFV_KIND_GNTTAB,            /* libxengnttab */
};

enum xfv_op {
    XFV_OP_HELLO = 1,
    XFV_OP_CLOSE,
    XFV_OP_RESTRICT,
    XFV_OP_STUB,                /* a call the simulated Arm host refuses */

    XFV_OP_DOMAIN_GETINFO,
    XFV_OP_DOMAIN_SHUTDOWN,
    XFV_OP_HVM_PARAM_GET,

    XFV_OP_FMEM_MAP,
    XFV_OP_FMEM_UNMAP,
    XFV_OP_FMEM_MAP_RESOURCE,
    XFV_OP_FMEM_UNMAP_RESOURCE,

    XFV_OP_DM_CREATE_SERVER,
    XFV_OP_DM_GET_INFO,
    XFV_OP_DM_MAP_RANGE,
    XFV_OP_DM_UNMAP_RANGE,
    XFV_OP_DM_SET_STATE,
    XFV_OP_DM_DESTROY_SERVER,
    XFV_OP_DM_SET_IRQ_LEVEL,
    XFV_OP_DM_NR_VCPUS,

    XFV_OP_EVTCHN_BIND,
    XFV_OP_EVTCHN_UNBIND,
    XFV_OP_EVTCHN_NOTIFY,
    XFV_OP_EVTCHN_UNMASK,

    XFV_OP_XS_READ,
    XFV_OP_XS_WRITE,
    XFV_OP_XS_MKDIR,
    XFV_OP_XS_RM,
    XFV_OP_XS_DIRECTORY,
    XFV_OP_XS_SET_PERMS,
    XFV_OP_XS_WATCH,
    XFV_OP_XS_UNWATCH,
    XFV_OP_XS_TRANSACTION_START,
    XFV_OP_XS_TRANSACTION_END,

    XFV_OP_GNT_MAP,
    XFV_OP_GNT_UNMAP,

    XFV_OP_COUNT
};

/*
 * Request: a fixed header of generic arguments, then op-specific bytes
 * (pfn lists, NUL-separated strings).  XFV_OP_STUB carries the called
 * function's name so that the log shows what was refused.
 */
struct xfv_req {
    uint32_t op;
    uint32_t domid;
    uint64_t arg[5];
    uint32_t len;
    uint32_t pad;
    uint8_t data[];
};

/* Response: ret is the C return value; err the errno when it failed. */
struct xfv_rsp {
    int64_t ret;
    int32_t err;
    uint32_t len;
    uint64_t val[4];
    uint8_t data[];
};

/*
 * An event-channel handle's socket carries one uint32_t local port per
 * message from the simulator: the port fired and is now masked, like a
 * read from /dev/xen/evtchn.  Notify and unmask go through the RPC
 * connection so that their errors reach the caller.
 */

/* XFV_OP_DOMAIN_GETINFO response payload (sim side of xc_dominfo_t). */
struct xfv_dominfo {
    uint32_t domid;
    uint32_t dying;
    uint32_t shutdown;
    uint32_t shutdown_reason;
    uint64_t nr_pages;
    uint64_t max_memkb;
    uint32_t max_vcpu_id;
    uint32_t nr_online_vcpus;
    uint32_t nr_spis;
    uint32_t paused;
};

/*
 * XFV_OP_GNT_MAP: data = uint32_t refs[], arg[0] = writable; the
 * response data is one uint64_t RAM-file offset per reference.  The
 * grant handle gets the RAM memfd when it opens, like a foreign memory
 * handle.  XFV_OP_GNT_UNMAP: data = the refs of one mapping.
 */

/* RAM bank of the simulated domain: guest frames -> memfd offset. */
struct xfv_bank {
    uint64_t base_pfn;
    uint64_t nr_pfns;
    uint64_t file_offset;
};

#define XFV_MAX_BANKS 2

#endif
