/*
 * Stubs for unimplemented Xen functions for ARM.
 *
 * SPDX-License-Identifier: MIT
 */

#include "qemu/osdep.h"
#include "qapi/qapi-commands-migration.h"
#include "system/address-spaces.h"
#include "system/memory.h"
#include "system/xen.h"
#include "hw/xen/xen-hvm-common.h"
#include "hw/xen/arch_hvm.h"

void arch_handle_ioreq(XenIOState *state, ioreq_t *req)
{
    xen_ioreq_refuse(req, "unexpected ioreq type");
}

/* Is [addr, addr + size) within one region other than guest memory? */
static bool xen_arm_device_at(hwaddr addr, unsigned int size)
{
    MemoryRegionSection section;
    bool found;

    section = memory_region_find(get_system_memory(), addr, size);
    if (!section.mr) {
        return false;
    }
    found = !xen_mr_is_memory(section.mr) &&
            int128_ge(section.size, int128_make64(size));
    memory_region_unref(section.mr);
    return found;
}

/*
 * Xen on Arm forwards a guest's data aborts on the ranges this device model
 * claimed as single MMIO reads and writes (or PCI configuration accesses),
 * and invalidates the map cache. Anything else would reach x86's port I/O
 * and string copy code.
 */
const char *arch_xen_ioreq_problem(const ioreq_t *req)
{
    switch (req->type) {
    case IOREQ_TYPE_COPY:
        break;
    case IOREQ_TYPE_INVALIDATE:
    case IOREQ_TYPE_PCI_CONFIG:
        return NULL;
    default:
        return "unexpected ioreq type";
    }
    if (req->data_is_ptr) {
        return "data_is_ptr is set";
    }
    if (req->count != 1) {
        return "count is not 1";
    }
    if (req->size <= sizeof(req->data) && !xen_arm_device_at(req->addr,
                                                             req->size)) {
        return "no device at this address";
    }
    return NULL;
}

void arch_xen_set_memory(XenIOState *state, MemoryRegionSection *section,
                         bool add)
{
}

void xen_hvm_modified_memory(ram_addr_t start, ram_addr_t length)
{
}

void qmp_xen_set_global_dirty_log(bool enable, Error **errp)
{
}
