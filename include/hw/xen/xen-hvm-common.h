/*
 * Xen ioreq server: the parts every architecture shares
 *
 * Copyright (C) 2010 Citrix Ltd.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_XEN_HVM_COMMON_H
#define HW_XEN_HVM_COMMON_H

#include "exec/memory.h"
#include "hw/xen/xen_common.h"
#include "qemu/notify.h"
#include "qemu/timer.h"

#include <xen/hvm/ioreq.h>

typedef struct XenIOState {
    ioservid_t ioservid;
    shared_iopage_t *shared_page;
    /* NULL when the server has no buffered ioreqs (always on Arm) */
    buffered_iopage_t *buffered_io_page;
    xenforeignmemory_resource_handle *fres;
    QEMUTimer *buffered_io_timer;
    /* the evtchn port for polling the notification, */
    evtchn_port_t *ioreq_local_port;
    /* evtchn remote and local ports for buffered io */
    evtchn_port_t bufioreq_remote_port;
    evtchn_port_t bufioreq_local_port;
    /* the evtchn fd for polling */
    xenevtchn_handle *xce_handle;
    /* which vcpu we are serving */
    int send_vcpu;

    struct xs_handle *xenstore;
    MemoryListener memory_listener;
    /*
     * Keep the server enabled while the VM is stopped: the guest's vCPUs
     * run regardless, and Xen on Arm turns their accesses to a disabled
     * server's ranges into data aborts.
     */
    bool serve_while_stopped;

    Notifier exit;
} XenIOState;

/*
 * Create an ioreq server for xen_domid, map its pages, bind one event
 * channel per vCPU and register @listener, which claims the guest
 * physical ranges QEMU serves. @handle_bufioreq is one of
 * HVM_IOREQSRV_BUFIOREQ_*; with HVM_IOREQSRV_BUFIOREQ_OFF only the
 * synchronous ioreq page is mapped.
 */
bool xen_register_ioreq(XenIOState *state, unsigned int max_cpus,
                        int handle_bufioreq, const MemoryListener *listener,
                        Error **errp);

void rw_phys_req_item(hwaddr addr, ioreq_t *req, uint32_t i, void *val,
                      int rw);

static inline void read_phys_req_item(hwaddr addr,
                                      ioreq_t *req, uint32_t i, void *val)
{
    rw_phys_req_item(addr, req, i, val, 0);
}

static inline void write_phys_req_item(hwaddr addr,
                                       ioreq_t *req, uint32_t i, void *val)
{
    rw_phys_req_item(addr, req, i, val, 1);
}

/*
 * Architecture hook, called for every request before the common types
 * (IOREQ_TYPE_COPY, IOREQ_TYPE_INVALIDATE) are handled. Returns true
 * if it handled (or answered) the request itself.
 */
bool xen_arch_handle_ioreq(XenIOState *state, ioreq_t *req);

#endif /* HW_XEN_HVM_COMMON_H */
