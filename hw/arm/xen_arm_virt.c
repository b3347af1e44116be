/*
 * xenfv: the device model of a Xen guest on Arm
 *
 * Xen runs the guest's vCPUs, its interrupt controller and its UART, owns
 * its RAM, and libxl writes its device tree. What is left to QEMU is the
 * virtio-mmio window of Xen's guest layout (xen/include/public/arch-arm.h):
 * eleven transports, 0x200 bytes apart from 0x02000000, on SPIs 33 to 43,
 * numbered the way libxl hands them out. This machine creates exactly
 * those, plus the view of guest RAM that its devices DMA into, and nothing
 * else: no CPUs, no firmware, no device tree. The devices on them are the
 * ones libxl recorded in Xenstore for the guest, where it put them.
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
#include "hw/qdev-properties-system.h"
#include "hw/sysbus.h"
#include "hw/virtio/virtio-mmio.h"
#include "hw/xen/xen.h"
#include "hw/xen/xen-grant-dma.h"
#include "hw/xen/xen-ioreq-arm.h"
#include "hw/xen/xen-virtio-backend.h"
#include "net/net.h"
#include "qapi/qmp/qdict.h"
#include "standard-headers/linux/virtio_ids.h"
#include "sysemu/block-backend.h"
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

    /* Why devices cannot reach grants the guest gives them, if they cannot */
    Error *grant_dma_err;

    /* The guest's virtio devices that the toolstack put on our transports */
    XenVirtioBackends *backends;
    XenVirtioBackend *declared[XENFV_NUM_TRANSPORTS];
    int next_nic;
    int next_serial;
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

static const char *xenfv_virtio_kind(uint32_t device_id)
{
    switch (device_id) {
    case VIRTIO_ID_NET:
        return "a network device";
    case VIRTIO_ID_BLOCK:
        return "a disk";
    case VIRTIO_ID_CONSOLE:
        return "a console";
    case VIRTIO_ID_RNG:
        return "an entropy source";
    case VIRTIO_ID_GPU:
        return "a GPU";
    case VIRTIO_ID_INPUT:
        return "an input device";
    default:
        return "a device";
    }
}

static BusState *xenfv_slot_bus(XenFVMachineState *xms, int slot)
{
    return BUS(&xms->transport[slot]->bus);
}

/* How error messages name a transport: what the guest and -device see */
static char *xenfv_slot_name(XenFVMachineState *xms, int slot)
{
    return g_strdup_printf("virtio-mmio slot %d (0x%08" HWADDR_PRIx
                           ", SPI %d, bus %s)", slot,
                           xenfv_memmap[XENFV_VIRTIO_MMIO].base +
                           slot * xenfv_memmap[XENFV_VIRTIO_MMIO].size,
                           XENFV_VIRTIO_SPI_FIRST + slot,
                           xenfv_slot_bus(xms, slot)->name);
}

/*
 * Map each device libxl described to the transport at its base, which
 * must be one of ours and come with that transport's SPI: the guest's
 * device tree says so, and the guest will look for it there.
 */
static void xenfv_read_backends(XenFVMachineState *xms)
{
    hwaddr window = xenfv_memmap[XENFV_VIRTIO_MMIO].base;
    hwaddr size = xenfv_memmap[XENFV_VIRTIO_MMIO].size;
    int i;

    xms->backends = xen_virtio_backends_read(xen_domid, &error_fatal);
    for (i = 0; i < xms->backends->devices->len; i++) {
        XenVirtioBackend *dev = g_ptr_array_index(xms->backends->devices, i);
        uint64_t slot = (dev->base - window) / size;

        if (dev->base < window || (dev->base - window) % size ||
            slot >= XENFV_NUM_TRANSPORTS) {
            error_report("xenfv: %s: base 0x%" PRIx64 " is not a virtio-mmio "
                         "transport of Xen's guest layout (0x%" HWADDR_PRIx
                         " + n * 0x%" HWADDR_PRIx ", n < %d)", dev->path,
                         dev->base, window, size, XENFV_NUM_TRANSPORTS);
            exit(1);
        }
        if (dev->irq != XENFV_VIRTIO_SPI_FIRST + slot) {
            error_report("xenfv: %s: the device at 0x%" PRIx64 " has SPI "
                         "%u, but that transport raises SPI %" PRIu64,
                         dev->path, dev->base, dev->irq,
                         XENFV_VIRTIO_SPI_FIRST + slot);
            exit(1);
        }
        if (xms->declared[slot]) {
            error_report("xenfv: %s and %s are both at 0x%" PRIx64,
                         xms->declared[slot]->path, dev->path, dev->base);
            exit(1);
        }
        if (dev->grants && xms->grant_dma_err) {
            error_reportf_err(error_copy(xms->grant_dma_err),
                              "xenfv: %s: the guest gives this device grant "
                              "references, which this QEMU cannot map: ",
                              dev->path);
            exit(1);
        }
        /*
         * Restriction replaces the grant device's file descriptor by
         * /dev/null: Xen's libraries cannot confine it to one domain.
         */
        if (dev->grants && xen_domid_restrict) {
            warn_report("xenfv: %s: -xen-domid-restrict closes the grant "
                        "device: requests that give grant references fail, "
                        "guest addresses are served", dev->path);
        }
        xms->declared[slot] = dev;
    }
}

static DeviceState *xenfv_new_device(const char *type, Error **errp)
{
    DeviceState *dev = qdev_try_new(type);

    if (!dev) {
        error_setg(errp, "this QEMU has no %s", type);
    }
    return dev;
}

/*
 * A 4.17 disk: the -drive named after it (id=xvda ...) if the command
 * line has one, else the backing the toolstack wrote, params and mode.
 */
static DeviceState *xenfv_new_disk(XenVirtioBackend *backend, Error **errp)
{
    BlockBackend *blk = blk_by_name(backend->vdev);
    DeviceState *dev = xenfv_new_device("virtio-blk-device", errp);
    QDict *options;

    if (!dev) {
        return NULL;
    }
    if (blk) {
        blk_ref(blk);
    } else {
        options = qdict_new();
        qdict_put_str(options, "driver", "raw");
        blk = blk_new_open(backend->params, NULL, options,
                           backend->read_only ? 0 : BDRV_O_RDWR, errp);
    }
    if (!blk || !qdev_prop_set_drive_err(dev, "drive", blk, errp)) {
        blk_unref(blk);
        object_unref(OBJECT(dev));
        return NULL;
    }
    blk_unref(blk);
    return dev;
}

/* A network device on the next -nic */
static DeviceState *xenfv_new_nic(XenFVMachineState *xms, Error **errp)
{
    DeviceState *dev;
    NICInfo *nd;

    if (xms->next_nic >= nb_nics) {
        error_setg(errp, "no -nic left for this network device");
        error_append_hint(errp, "Give each network device of the guest a "
                          "backend, e.g. -nic tap,model=virtio-net-device"
                          "\n");
        return NULL;
    }
    nd = &nd_table[xms->next_nic++];
    qemu_check_nic_model(nd, "virtio-net-device");
    dev = xenfv_new_device("virtio-net-device", errp);
    if (dev) {
        qdev_set_nic_properties(dev, nd);
    }
    return dev;
}

/*
 * A device the guest gives grant references is behind Xen's grant
 * "IOMMU" in its device tree: Linux then insists on
 * VIRTIO_F_ACCESS_PLATFORM (iommu_platform) and refuses the device
 * without it.
 */
static void xenfv_set_grants(DeviceState *dev, XenVirtioBackend *backend)
{
    if (backend->grants) {
        qdev_prop_set_bit(dev, "iommu_platform", true);
    }
}

/* A console on the next -serial, the one port of a virtio-serial device */
static bool xenfv_new_console(XenFVMachineState *xms,
                              XenVirtioBackend *backend, BusState *bus,
                              Error **errp)
{
    Chardev *chr = serial_hd(xms->next_serial);
    DeviceState *dev, *port;

    if (!chr) {
        error_setg(errp, "no -serial left for this console");
        error_append_hint(errp, "Give each console of the guest a "
                          "character device, e.g. -serial pty\n");
        return false;
    }
    xms->next_serial++;
    dev = xenfv_new_device("virtio-serial-device", errp);
    if (!dev) {
        return false;
    }
    xenfv_set_grants(dev, backend);
    if (!qdev_realize_and_unref(dev, bus, errp)) {
        return false;
    }
    port = xenfv_new_device("virtconsole", errp);
    if (!port) {
        return false;
    }
    qdev_prop_set_chr(port, "chardev", chr);
    return qdev_realize_and_unref(port, QLIST_FIRST(&dev->child_bus), errp);
}

/*
 * Give a transport the device the toolstack declared there, with its
 * backend from the command line as for a board's own devices: -nic for
 * network devices, -serial for consoles. Types this board does not
 * create are left to -device.
 */
static bool xenfv_create_declared(XenFVMachineState *xms, int slot,
                                  Error **errp)
{
    XenVirtioBackend *backend = xms->declared[slot];
    BusState *bus = xenfv_slot_bus(xms, slot);
    DeviceState *dev;

    switch (backend->device_id) {
    case VIRTIO_ID_BLOCK:
        if (!backend->params) {
            /* 4.18's virtio,device2 names no backing: -device gives it */
            return true;
        }
        dev = xenfv_new_disk(backend, errp);
        break;
    case VIRTIO_ID_NET:
        dev = xenfv_new_nic(xms, errp);
        break;
    case VIRTIO_ID_CONSOLE:
        return xenfv_new_console(xms, backend, bus, errp);
    case VIRTIO_ID_RNG:
        dev = xenfv_new_device("virtio-rng-device", errp);
        break;
    case VIRTIO_ID_GPU:
        dev = xenfv_new_device("virtio-gpu-device", errp);
        break;
    default:
        return true;
    }
    if (dev) {
        xenfv_set_grants(dev, backend);
    }
    return dev && qdev_realize_and_unref(dev, bus, errp);
}

static void xenfv_create_backends(XenFVMachineState *xms)
{
    Error *err = NULL;
    int i;

    for (i = 0; i < XENFV_NUM_TRANSPORTS; i++) {
        XenVirtioBackend *backend = xms->declared[i];

        if (backend && !xenfv_create_declared(xms, i, &err)) {
            g_autofree char *where = xenfv_slot_name(xms, i);

            error_prepend(&err, "xenfv: %s, %s %s: ", where,
                          xenfv_virtio_kind(backend->device_id),
                          backend->path);
            error_report_err(err);
            exit(1);
        }
    }
}

/*
 * With a toolstack configuration, each transport serves exactly the
 * device the guest's device tree names there. -device options fill the
 * transports from the lowest free one, in order: they must land on the
 * declared devices that this board does not create, with their type.
 */
static void xenfv_check_slot(XenFVMachineState *xms, int slot)
{
    VirtIODevice *vdev = virtio_bus_get_device(&xms->transport[slot]->bus);
    XenVirtioBackend *backend = xms->declared[slot];
    g_autofree char *where = xenfv_slot_name(xms, slot);

    if (!backend) {
        if (vdev) {
            error_report("xenfv: %s: %s is not one of domain %u's virtio "
                         "devices (in Xenstore)", where, vdev->name,
                         xen_domid);
            error_printf("xenfv creates the domain's disks, network "
                         "devices (-nic), consoles (-serial), GPUs and "
                         "entropy sources itself; -device is for its other "
                         "virtio devices.\n");
            exit(1);
        }
        return;
    }
    if (!vdev) {
        error_report("xenfv: %s: domain %u has %s (virtio,device%x, %s) "
                     "there, but no -device gives it", where, xen_domid,
                     xenfv_virtio_kind(backend->device_id),
                     backend->device_id, backend->path);
        exit(1);
    }
    if (backend->grants &&
        !virtio_host_has_feature(vdev, VIRTIO_F_IOMMU_PLATFORM)) {
        error_report("xenfv: %s: domain %u gives %s grant references "
                     "(%s), but it lacks iommu_platform=on", where,
                     xen_domid, vdev->name, backend->path);
        error_printf("Linux refuses a device behind Xen's grant DMA "
                     "without VIRTIO_F_ACCESS_PLATFORM.\n");
        exit(1);
    }
    if (vdev->device_id != backend->device_id) {
        error_report("xenfv: %s: %s is virtio device %u, but domain %u has "
                     "%s (virtio,device%x, %s) there", where, vdev->name,
                     vdev->device_id, xen_domid,
                     xenfv_virtio_kind(backend->device_id),
                     backend->device_id, backend->path);
        exit(1);
    }
}

static void xenfv_machine_done(Notifier *notifier, void *data)
{
    XenFVMachineState *xms = container_of(notifier, XenFVMachineState,
                                          machine_done);
    int i;

    for (i = 0; i < XENFV_NUM_TRANSPORTS; i++) {
        VirtIOMMIOProxy *proxy = xms->transport[i];

        if (xms->backends->devices->len) {
            xenfv_check_slot(xms, i);
        }
        /* Every transport that has a device needs its SPI in the domain. */
        if (virtio_bus_get_device(&proxy->bus)) {
            xen_arm_spi_check(XENFV_VIRTIO_SPI_FIRST + i, &error_fatal);
        }
    }
    xen_virtio_backends_serve(xms->backends, &error_fatal);
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
        /* Needed only if the guest gives grants: see xenfv_read_backends() */
        xen_grant_dma_init(get_system_memory(), xen_domid,
                           &xms->grant_dma_err);
        xenfv_read_backends(xms);
        xenfv_create_backends(xms);
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
