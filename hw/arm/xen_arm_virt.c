/*
 * xenfv: the device model of a Xen guest on Arm
 *
 * Xen runs the guest's vCPUs, its interrupt controller and its UART, owns
 * its RAM, and libxl writes its device tree. What is left to QEMU is the
 * virtio-mmio window of Xen's guest layout (xen/include/public/arch-arm.h):
 * eleven transports, 0x200 bytes apart from 0x02000000, on SPIs 33 to 43,
 * numbered the way libxl hands them out. This machine creates exactly
 * those, plus the view of guest RAM that its devices DMA into, and nothing
 * else: no CPUs, no firmware, no device tree.
 *
 * Without Xen (under -accel qtest) the same board is built with ordinary
 * RAM, so that tests can see its layout and wiring.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/error-report.h"
#include "qemu/units.h"
#include "qapi/error.h"
#include "exec/address-spaces.h"
#include "hw/boards.h"
#include "hw/qdev-properties.h"
#include "hw/sysbus.h"
#include "hw/virtio/virtio-mmio.h"
#include "hw/xen/xen.h"
#include "hw/xen/xen-ioreq-arm.h"
#include "sysemu/qtest.h"
#include "sysemu/sysemu.h"
#include "sysemu/xen.h"

/* The guest layout of Xen 4.17 (public/arch-arm.h) that QEMU takes part in */
enum {
    XENFV_VIRTIO_MMIO,
    XENFV_RAM0,
    XENFV_RAM1,
};

static const MemMapEntry xenfv_memmap[] = {
    /* ...repeating for a total of XENFV_NUM_TRANSPORTS, each that size */
    [XENFV_VIRTIO_MMIO] = {   0x02000000ULL,   0x00000200ULL },
    [XENFV_RAM0] =        {   0x40000000ULL,   0xc0000000ULL },
    [XENFV_RAM1] =        {  0x200000000ULL, 0xfe00000000ULL },
};

/* GUEST_VIRTIO_MMIO_SPI_FIRST..GUEST_VIRTIO_MMIO_SPI_LAST: 33..43 */
#define XENFV_VIRTIO_SPI_FIRST  33
#define XENFV_NUM_TRANSPORTS    11

/* GUEST_MAX_VCPUS */
#define XENFV_MAX_CPUS          128

#define TYPE_XENFV_MACHINE MACHINE_TYPE_NAME("xenfv")
OBJECT_DECLARE_SIMPLE_TYPE(XenFVMachineState, XENFV_MACHINE)

struct XenFVMachineState {
    MachineState parent_obj;

    MemoryRegion ram;
    MemoryRegion ram_bank[2];
    DeviceState *spi;
    VirtIOMMIOProxy *transport[XENFV_NUM_TRANSPORTS];
    Notifier machine_done;
};

/*
 * The RAM block spans guest physical addresses from 0 to the end of the
 * last bank, and each Xen RAM bank is an alias of its own addresses: so
 * a ram_addr_t is a guest physical address, which is what the Xen map
 * cache maps. Under Xen nothing is allocated here; the block only names
 * the domain's memory.
 */
static void xenfv_create_ram(XenFVMachineState *xms)
{
    MachineState *ms = MACHINE(xms);
    ram_addr_t bank_size[2];
    ram_addr_t span;
    int i;

    bank_size[0] = MIN(ms->ram_size, xenfv_memmap[XENFV_RAM0].size);
    bank_size[1] = ms->ram_size - bank_size[0];
    if (bank_size[1] > xenfv_memmap[XENFV_RAM1].size) {
        error_report("xenfv: -m %" PRIu64 "G is more RAM than a Xen guest "
                     "can have", (uint64_t)ms->ram_size / GiB);
        exit(1);
    }
    span = bank_size[1] ? xenfv_memmap[XENFV_RAM1].base + bank_size[1]
                        : xenfv_memmap[XENFV_RAM0].base + bank_size[0];

    memory_region_init_ram(&xms->ram, OBJECT(xms), "xenfv.ram", span,
                           &error_fatal);
    for (i = 0; i < ARRAY_SIZE(bank_size) && bank_size[i]; i++) {
        hwaddr base = xenfv_memmap[XENFV_RAM0 + i].base;
        g_autofree char *name = g_strdup_printf("xenfv.ram%d", i);

        memory_region_init_alias(&xms->ram_bank[i], OBJECT(xms), name,
                                 &xms->ram, base, bank_size[i]);
        memory_region_add_subregion(get_system_memory(), base,
                                    &xms->ram_bank[i]);
    }
}

static void xenfv_create_transports(XenFVMachineState *xms)
{
    hwaddr base = xenfv_memmap[XENFV_VIRTIO_MMIO].base;
    hwaddr size = xenfv_memmap[XENFV_VIRTIO_MMIO].size;
    int i;

    xms->spi = qdev_new(TYPE_XEN_ARM_SPI);
    object_property_add_child(OBJECT(xms), "spi", OBJECT(xms->spi));
    qdev_prop_set_uint32(xms->spi, "first-spi", XENFV_VIRTIO_SPI_FIRST);
    qdev_prop_set_uint32(xms->spi, "num-spis", XENFV_NUM_TRANSPORTS);
    sysbus_realize_and_unref(SYS_BUS_DEVICE(xms->spi), &error_fatal);

    /*
     * -device without bus= takes the first free virtio bus, and the most
     * recently created bus comes first. Creating the transports from the
     * highest address down makes -device options fill them upwards from
     * 0x02000000, in the order libxl numbers the guest's virtio devices.
     */
    for (i = XENFV_NUM_TRANSPORTS - 1; i >= 0; i--) {
        DeviceState *dev = qdev_new(TYPE_VIRTIO_MMIO);
        SysBusDevice *sbd = SYS_BUS_DEVICE(dev);

        qdev_prop_set_bit(dev, "force-legacy", false);
        sysbus_realize_and_unref(sbd, &error_fatal);
        sysbus_mmio_map(sbd, 0, base + i * size);
        sysbus_connect_irq(sbd, 0, qdev_get_gpio_in(xms->spi, i));
        xms->transport[i] = VIRTIO_MMIO(dev);
    }
}

/* Every transport that has a device needs its SPI in the domain. */
static void xenfv_machine_done(Notifier *notifier, void *data)
{
    XenFVMachineState *xms = container_of(notifier, XenFVMachineState,
                                          machine_done);
    int i;

    for (i = 0; i < XENFV_NUM_TRANSPORTS; i++) {
        VirtIOMMIOProxy *proxy = xms->transport[i];

        if (virtio_bus_get_device(&proxy->bus)) {
            xen_arm_spi_check(XENFV_VIRTIO_SPI_FIRST + i, &error_fatal);
        }
    }
}

static void xenfv_init(MachineState *ms)
{
    XenFVMachineState *xms = XENFV_MACHINE(ms);

    if (!xen_enabled() && !qtest_enabled()) {
        error_report("xenfv: this machine serves a Xen guest: start it with "
                     "-accel xen -xen-domid <domid>");
        exit(1);
    }
    if (xen_enabled() && xen_domid == 0) {
        error_report("xenfv: -xen-domid is required: the ID of the guest "
                     "domain to serve");
        exit(1);
    }
    if (ms->cpu_type) {
        error_report("xenfv: Xen runs the guest's vCPUs: -cpu does not apply");
        exit(1);
    }

    /* First, so that guest RAM is the RAM block at ram_addr_t 0 */
    xenfv_create_ram(xms);
    xenfv_create_transports(xms);

    if (xen_enabled()) {
        xen_arm_ioreq_init(&xms->ram, ms->ram_size, ms->smp.max_cpus,
                           &error_fatal);
        xms->machine_done.notify = xenfv_machine_done;
        qemu_add_machine_init_done_notifier(&xms->machine_done);
    }
}

static void xenfv_machine_class_init(ObjectClass *oc, void *data)
{
    MachineClass *mc = MACHINE_CLASS(oc);

    mc->desc = "Xen on Arm guest device model (virtio-mmio)";
    mc->init = xenfv_init;
    /* Xen's vCPUs, one ioreq event channel each; QEMU creates no CPU */
    mc->max_cpus = XENFV_MAX_CPUS;
    /* No CPU sets the page size: Xen's guest pages are 4 KiB */
    mc->minimum_page_bits = 12;
    mc->default_ram_size = 128 * MiB;
    /* The transports and the SPI bank are all there is */
    mc->no_parallel = 1;
    mc->no_floppy = 1;
    mc->no_cdrom = 1;
    mc->no_sdcard = 1;
}

static const TypeInfo xenfv_machine_info = {
    .name = TYPE_XENFV_MACHINE,
    .parent = TYPE_MACHINE,
    .instance_size = sizeof(XenFVMachineState),
    .class_init = xenfv_machine_class_init,
};

static void xenfv_machine_register_types(void)
{
    type_register_static(&xenfv_machine_info);
}

type_init(xenfv_machine_register_types)
