/*
 * Xen ioreq server for Arm guests
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_XEN_IOREQ_ARM_H
#define HW_XEN_IOREQ_ARM_H

#include "hw/sysbus.h"
#include "qom/object.h"

/*
 * A bank of Xen guest SPIs. Each unnamed GPIO input is one SPI, starting
 * at "first-spi"; under the Xen accelerator a rising line is injected
 * into the guest with XEN_DMOP_set_irq_level, elsewhere (qtest) the
 * lines only record their level.
 */
#define TYPE_XEN_ARM_SPI "xen-arm-spi"
OBJECT_DECLARE_SIMPLE_TYPE(XenArmSPIState, XEN_ARM_SPI)

struct XenArmSPIState {
    SysBusDevice parent_obj;

    uint32_t first_spi;
    uint32_t num_spis;
};

/*
 * Serve Xen domain xen_domid from this QEMU: check that the machine
 * matches the domain (@ram_size bytes of RAM at most, @max_cpus vCPUs),
 * register an ioreq server for the MMIO regions of the system address
 * space and reach guest RAM through the map cache. @ram must be the first
 * RAM block created, so that its ram_addr_t offsets are guest physical
 * addresses.
 */
bool xen_arm_ioreq_init(MemoryRegion *ram, ram_addr_t ram_size,
                        unsigned int max_cpus, Error **errp);

/*
 * Check, without raising it, that the domain accepts @spi: Xen refuses
 * SPIs beyond what the toolstack gave the domain.
 */
bool xen_arm_spi_check(uint32_t spi, Error **errp);

#endif /* HW_XEN_IOREQ_ARM_H */
