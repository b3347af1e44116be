/*
 * QEMU Xen PVH machine - common code.
 *
 * Copyright (c) 2024 Advanced Micro Devices, Inc.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/error-report.h"
#include "qemu/units.h"
#include "qapi/error.h"
#include "qapi/visitor.h"
#include "hw/boards.h"
#include "hw/irq.h"
#include "hw/qdev-properties.h"
#include "system/tpm.h"
#include "system/tpm_backend.h"
#include "system/qtest.h"
#include "system/runstate.h"
#include "system/runstate-action.h"
#include "system/xen.h"
#include "hw/xen/xen-pvh-common.h"
#include "trace.h"

static const MemoryListener xen_memory_listener = {
    .region_add = xen_region_add,
    .region_del = xen_region_del,
    .log_start = NULL,
    .log_stop = NULL,
    .log_sync = NULL,
    .log_global_start = NULL,
    .log_global_stop = NULL,
    .priority = MEMORY_LISTENER_PRIORITY_ACCEL,
};

/*
 * What a domain's maximum memory may exceed the guest's memory by: libxl
 * adds 1 MiB, and on Arm the size of the guest's ACPI tables.
 */
#define XEN_PVH_RAM_SLACK   (2 * MiB)

/*
 * Read the domain's information. Returns 1 if it exists, 0 if it does not,
 * and -1 if this device model cannot tell: a driver domain may not have
 * the right to ask, and -xen-domid-restrict takes the right away.
 */
static int xen_pvh_get_domain(xc_domaininfo_t *info)
{
    int rc = xc_domain_getinfolist(xen_xc, xen_domid, 1, info);

    if (rc < 0) {
        return -1;
    }
    return rc == 1 && info->domain == xen_domid;
}

/*
 * The ioreq server has one channel per vCPU: a vCPU it does not serve
 * waits for ever on its first MMIO access. Guest memory above -m is
 * nowhere to the device model, so DMA there fails. -m may be more than the
 * domain has now: a guest can balloon up to its maxmem.
 */
static bool xen_pvh_check_domain(MachineState *ms, Error **errp)
{
    ERRP_GUARD();
    xc_domaininfo_t info;
    uint64_t domain_ram;
    unsigned int vcpus;

    switch (xen_pvh_get_domain(&info)) {
    case 0:
        error_setg(errp, "xen: domain %u does not exist", xen_domid);
        return false;
    case 1:
        break;
    default:
        /* The toolstack sized the domain and QEMU */
        return true;
    }

    if (info.max_vcpu_id == XEN_INVALID_MAX_VCPU_ID) {
        error_setg(errp, "xen: domain %u has no vCPUs yet", xen_domid);
        return false;
    }
    vcpus = info.max_vcpu_id + 1;
    if (ms->smp.max_cpus != vcpus) {
        error_setg(errp, "xen: -smp %u does not match the %u vCPUs of "
                   "domain %u", ms->smp.max_cpus, vcpus, xen_domid);
        error_append_hint(errp, "Start QEMU with -smp %u.\n", vcpus);
        return false;
    }

    domain_ram = (uint64_t)info.max_pages * XC_PAGE_SIZE;
    if (ms->ram_size + XEN_PVH_RAM_SLACK <= domain_ram) {
        error_setg(errp, "xen: -m %" PRIu64 "M is less than the RAM domain %u "
                   "can have: its maximum is %" PRIu64 "M",
                   (uint64_t)ms->ram_size / MiB, xen_domid, domain_ram / MiB);
        error_append_hint(errp, "Start QEMU with at least the guest's memory; "
                          "libxl gives a domain 1 MiB more.\n");
        return false;
    }
    return true;
}

static bool xen_pvh_domain_alive(void)
{
    xc_domaininfo_t info;

    switch (xen_pvh_get_domain(&info)) {
    case 1:
        /*
         * Not on shutdown: a domain that suspends or asks for a soft reset
         * runs again under its ID; the toolstack destroys one that powered
         * off, rebooted or crashed, and that is when it starts dying.
         */
        return !(info.flags & XEN_DOMINF_dying);
    case 0:
        return false;
    default:
        /* Cannot tell: whoever started QEMU stops it */
        return true;
    }
}

static void xen_pvh_domain_changed(void *opaque, const char *path)
{
    XenPVHMachineState *s = opaque;

    if (s->domain_gone || xen_pvh_domain_alive()) {
        return;
    }
    s->domain_gone = true;
    trace_xen_pvh_domain_gone(xen_domid);
    /* Quit even with -no-shutdown: there is no guest left to resume */
    shutdown_action = SHUTDOWN_ACTION_POWEROFF;
    qemu_system_shutdown_request(SHUTDOWN_CAUSE_HOST_ERROR);
}

/*
 * Xenstore fires @releaseDomain when a domain shuts down, dies or is gone.
 * A QEMU restricted to its domain can neither watch nor ask.
 */
static bool xen_pvh_watch_domain(XenPVHMachineState *s, Error **errp)
{
    if (xen_domid_restrict) {
        return true;
    }
    s->xsh = qemu_xen_xs_open();
    if (!s->xsh) {
        error_setg_errno(errp, errno, "xen: cannot open Xenstore");
        return false;
    }
    s->domain_watch = qemu_xen_xs_watch(s->xsh, "@releaseDomain",
                                        xen_pvh_domain_changed, s);
    if (!s->domain_watch) {
        error_setg_errno(errp, errno, "xen: cannot watch @releaseDomain");
        return false;
    }
    return true;
}

static void xen_pvh_init_ram(XenPVHMachineState *s,
                             MemoryRegion *sysmem)
{
    MachineState *ms = MACHINE(s);
    ram_addr_t block_len, ram_size[2];

    if (ms->ram_size <= s->cfg.ram_low.size) {
        ram_size[0] = ms->ram_size;
        ram_size[1] = 0;
        block_len = s->cfg.ram_low.base + ram_size[0];
    } else {
        ram_size[0] = s->cfg.ram_low.size;
        ram_size[1] = ms->ram_size - s->cfg.ram_low.size;
        block_len = s->cfg.ram_high.base + ram_size[1];
    }

    if (xen_enabled()) {
        memory_region_init_ram(&xen_memory, NULL, "xen.ram", block_len,
                               &error_fatal);
    } else {
        /*
         * Under qtest the block is host memory spanning both banks and the
         * hole between them (9 GiB for -m 4G): commit none of it.
         */
        memory_region_init_ram_flags_nomigrate(&xen_memory, NULL, "xen.ram",
                                               block_len, RAM_NORESERVE,
                                               &error_fatal);
    }

    memory_region_init_alias(&s->ram.low, NULL, "xen.ram.lo", &xen_memory,
                             s->cfg.ram_low.base, ram_size[0]);
    memory_region_add_subregion(sysmem, s->cfg.ram_low.base, &s->ram.low);
    if (ram_size[1] > 0) {
        memory_region_init_alias(&s->ram.high, NULL, "xen.ram.hi", &xen_memory,
                                 s->cfg.ram_high.base, ram_size[1]);
        memory_region_add_subregion(sysmem, s->cfg.ram_high.base, &s->ram.high);
    }

    /* Setup support for grants, which only Xen can map.  */
    if (xen_enabled()) {
        memory_region_init_ram(&xen_grants, NULL, "xen.grants", block_len,
                               &error_fatal);
        memory_region_add_subregion(sysmem, XEN_GRANT_ADDR_OFF, &xen_grants);
    }
}

/*
 * A bank of the guest's interrupt lines: input n sets guest interrupt
 * first-irq + n through Xen. The lines are visible in QOM (and to
 * qtest's irq_intercept_in), unlike bare qemu_irqs. Without a hypervisor
 * (under qtest) they lead nowhere.
 */
#define TYPE_XEN_PVH_IRQS "xen-pvh-irqs"
OBJECT_DECLARE_SIMPLE_TYPE(XenPVHIrqsState, XEN_PVH_IRQS)

struct XenPVHIrqsState {
    DeviceState parent_obj;

    uint32_t first_irq;
    uint32_t num_irqs;
};

static void xen_pvh_irqs_set(void *opaque, int n, int level)
{
    XenPVHIrqsState *s = opaque;
    uint32_t irq = s->first_irq + n;

    trace_xen_pvh_irqs_set(irq, level);
    if (!xen_enabled()) {
        return;
    }
    if (xendevicemodel_set_irq_level(xen_dmod, xen_domid, irq, level)) {
        error_report("xendevicemodel_set_irq_level failed");
    }
}

static void xen_pvh_irqs_realize(DeviceState *dev, Error **errp)
{
    XenPVHIrqsState *s = XEN_PVH_IRQS(dev);

    if (!s->num_irqs) {
        error_setg(errp, "num-irqs must be at least 1");
        return;
    }
    qdev_init_gpio_in(dev, xen_pvh_irqs_set, s->num_irqs);
}

static const Property xen_pvh_irqs_properties[] = {
    DEFINE_PROP_UINT32("first-irq", XenPVHIrqsState, first_irq, 0),
    DEFINE_PROP_UINT32("num-irqs", XenPVHIrqsState, num_irqs, 0),
};

static void xen_pvh_irqs_class_init(ObjectClass *oc, const void *data)
{
    DeviceClass *dc = DEVICE_CLASS(oc);

    dc->realize = xen_pvh_irqs_realize;
    dc->desc = "Xen guest interrupt lines";
    dc->user_creatable = false;
    device_class_set_props(dc, xen_pvh_irqs_properties);
}

static void xen_create_virtio_mmio_devices(XenPVHMachineState *s)
{
    int i;

    s->virtio_mmio_irqs = qdev_new(TYPE_XEN_PVH_IRQS);
    object_property_add_child(OBJECT(s), "virtio-mmio-irqs",
                              OBJECT(s->virtio_mmio_irqs));
    qdev_prop_set_uint32(s->virtio_mmio_irqs, "first-irq",
                         s->cfg.virtio_mmio_irq_base);
    qdev_prop_set_uint32(s->virtio_mmio_irqs, "num-irqs",
                         s->cfg.virtio_mmio_num);
    qdev_realize_and_unref(s->virtio_mmio_irqs, NULL, &error_fatal);

    /*
     * We create the transports in reverse order. Since qbus_realize()
     * prepends (not appends) new child buses, the decrementing loop below will
     * create a list of virtio-mmio buses with increasing base addresses.
     *
     * When a -device option is processed from the command line,
     * qbus_find_recursive() picks the next free virtio-mmio bus in forwards
     * order.
     *
     * This is what the Xen tools expect.
     */
    for (i = s->cfg.virtio_mmio_num - 1; i >= 0; i--) {
        hwaddr base = s->cfg.virtio_mmio.base + i * s->cfg.virtio_mmio.size;
        qemu_irq irq = qdev_get_gpio_in(s->virtio_mmio_irqs, i);

        sysbus_create_simple("virtio-mmio", base, irq);

        trace_xen_create_virtio_mmio_devices(i,
                                             s->cfg.virtio_mmio_irq_base + i,
                                             base);
    }
}

#ifdef CONFIG_TPM
static void xen_enable_tpm(XenPVHMachineState *s)
{
    Error *errp = NULL;
    DeviceState *dev;
    SysBusDevice *busdev;

    TPMBackend *be = qemu_find_tpm_be("tpm0");
    if (be == NULL) {
        error_report("Couldn't find tmp0 backend");
        return;
    }
    dev = qdev_new(TYPE_TPM_TIS_SYSBUS);
    object_property_set_link(OBJECT(dev), "tpmdev", OBJECT(be), &errp);
    object_property_set_str(OBJECT(dev), "tpmdev", be->id, &errp);
    busdev = SYS_BUS_DEVICE(dev);
    sysbus_realize_and_unref(busdev, &error_fatal);
    sysbus_mmio_map(busdev, 0, s->cfg.tpm.base);

    trace_xen_enable_tpm(s->cfg.tpm.base);
}
#endif

/*
 * We use the GPEX PCIe controller with its internal INTX PCI interrupt
 * swizzling. This swizzling is emulated in QEMU and routes all INTX
 * interrupts from endpoints down to only 4 INTX interrupts.
 * See include/hw/pci/pci.h : pci_swizzle()
 */
static inline void xenpvh_gpex_init(XenPVHMachineState *s,
                                    XenPVHMachineClass *xpc,
                                    MemoryRegion *sysmem)
{
    MemoryRegion *ecam_reg;
    MemoryRegion *mmio_reg;
    DeviceState *dev;
    int i;

    object_initialize_child(OBJECT(s), "gpex", &s->pci.gpex,
                            TYPE_GPEX_HOST);
    dev = DEVICE(&s->pci.gpex);
    sysbus_realize_and_unref(SYS_BUS_DEVICE(dev), &error_fatal);

    ecam_reg = sysbus_mmio_get_region(SYS_BUS_DEVICE(dev), 0);
    memory_region_add_subregion(sysmem, s->cfg.pci_ecam.base, ecam_reg);

    mmio_reg = sysbus_mmio_get_region(SYS_BUS_DEVICE(dev), 1);

    if (s->cfg.pci_mmio.size) {
        memory_region_init_alias(&s->pci.mmio_alias, OBJECT(dev), "pcie-mmio",
                                 mmio_reg,
                                 s->cfg.pci_mmio.base, s->cfg.pci_mmio.size);
        memory_region_add_subregion(sysmem, s->cfg.pci_mmio.base,
                                    &s->pci.mmio_alias);
    }

    if (s->cfg.pci_mmio_high.size) {
        memory_region_init_alias(&s->pci.mmio_high_alias, OBJECT(dev),
                "pcie-mmio-high",
                mmio_reg, s->cfg.pci_mmio_high.base, s->cfg.pci_mmio_high.size);
        memory_region_add_subregion(sysmem, s->cfg.pci_mmio_high.base,
                &s->pci.mmio_high_alias);
    }

    /*
     * PVH implementations with PCI enabled must provide set_pci_intx_irq()
     * and optionally an implementation of set_pci_link_route().
     */
    assert(xpc->set_pci_intx_irq);

    for (i = 0; i < PCI_NUM_PINS; i++) {
        qemu_irq irq = qemu_allocate_irq(xpc->set_pci_intx_irq, s, i);

        sysbus_connect_irq(SYS_BUS_DEVICE(dev), i, irq);
        gpex_set_irq_num(GPEX_HOST(dev), i, s->cfg.pci_intx_irq_base + i);
        if (xpc->set_pci_link_route) {
            xpc->set_pci_link_route(i, s->cfg.pci_intx_irq_base + i);
        }
    }
}

static void xen_pvh_init(MachineState *ms)
{
    XenPVHMachineState *s = XEN_PVH_MACHINE(ms);
    XenPVHMachineClass *xpc = XEN_PVH_MACHINE_GET_CLASS(s);
    MemoryRegion *sysmem = get_system_memory();

    /*
     * Without Xen there is no ioreq server to register and nothing to
     * serve. Under qtest the machine still lays out guest RAM and its
     * virtio-mmio transports for a test to inspect.
     */
    if (!xen_enabled() && !qtest_enabled()) {
        error_report("%s needs the Xen accelerator (-accel xen)",
                     MACHINE_GET_CLASS(ms)->desc);
        exit(EXIT_FAILURE);
    }

    if (ms->ram_size == 0) {
        warn_report("%s: ram size not specified. QEMU machine started"
                    " without IOREQ (no emulated devices including virtio)",
                    MACHINE_CLASS(object_get_class(OBJECT(ms)))->desc);
        return;
    }

    if (xen_enabled()) {
        xen_pvh_check_domain(ms, &error_fatal);
    }

    xen_pvh_init_ram(s, sysmem);
    if (xen_enabled()) {
        xen_register_ioreq(&s->ioreq, ms->smp.max_cpus,
                           xpc->handle_bufioreq,
                           &xen_memory_listener);
        xen_pvh_watch_domain(s, &error_fatal);
    }

    if (s->cfg.virtio_mmio_num) {
        xen_create_virtio_mmio_devices(s);
    }

#ifdef CONFIG_TPM
    if (xpc->has_tpm) {
        if (s->cfg.tpm.base) {
            xen_enable_tpm(s);
        } else {
            warn_report("tpm-base-addr is not set. TPM will not be enabled");
        }
    }
#endif

    /* Non-zero pci-ecam-size enables PCI.  */
    if (s->cfg.pci_ecam.size) {
        /* Its INTx lines and link routes are Xen's to set */
        if (!xen_enabled()) {
            error_report("pci-ecam-size needs the Xen accelerator");
            exit(EXIT_FAILURE);
        }
        if (s->cfg.pci_ecam.size != 256 * MiB) {
            error_report("pci-ecam-size only supports values 0 or 0x10000000");
            exit(EXIT_FAILURE);
        }
        if (!s->cfg.pci_intx_irq_base) {
            error_report("PCI enabled but pci-intx-irq-base not set");
            exit(EXIT_FAILURE);
        }

        xenpvh_gpex_init(s, xpc, sysmem);
    }

    /* Call the implementation specific init.  */
    if (xpc->init) {
        xpc->init(ms);
    }
}

#define XEN_PVH_PROP_MEMMAP_SETTER(n, f)                                   \
static void xen_pvh_set_ ## n ## _ ## f(Object *obj, Visitor *v,           \
                                       const char *name, void *opaque,     \
                                       Error **errp)                       \
{                                                                          \
    XenPVHMachineState *xp = XEN_PVH_MACHINE(obj);                         \
    uint64_t value;                                                        \
                                                                           \
    if (!visit_type_size(v, name, &value, errp)) {                         \
        return;                                                            \
    }                                                                      \
    xp->cfg.n.f = value;                                                   \
}

#define XEN_PVH_PROP_MEMMAP_GETTER(n, f)                                   \
static void xen_pvh_get_ ## n ## _ ## f(Object *obj, Visitor *v,           \
                                       const char *name, void *opaque,     \
                                       Error **errp)                       \
{                                                                          \
    XenPVHMachineState *xp = XEN_PVH_MACHINE(obj);                         \
    uint64_t value = xp->cfg.n.f;                                          \
                                                                           \
    visit_type_uint64(v, name, &value, errp);                              \
}

#define XEN_PVH_PROP_MEMMAP_BASE(n)        \
    XEN_PVH_PROP_MEMMAP_SETTER(n, base)    \
    XEN_PVH_PROP_MEMMAP_GETTER(n, base)    \

#define XEN_PVH_PROP_MEMMAP_SIZE(n)        \
    XEN_PVH_PROP_MEMMAP_SETTER(n, size)    \
    XEN_PVH_PROP_MEMMAP_GETTER(n, size)

#define XEN_PVH_PROP_MEMMAP(n)             \
    XEN_PVH_PROP_MEMMAP_BASE(n)            \
    XEN_PVH_PROP_MEMMAP_SIZE(n)

XEN_PVH_PROP_MEMMAP(ram_low)
XEN_PVH_PROP_MEMMAP(ram_high)
#ifdef CONFIG_TPM
/* TPM only has a base-addr option.  */
XEN_PVH_PROP_MEMMAP_BASE(tpm)
#endif
XEN_PVH_PROP_MEMMAP(virtio_mmio)
XEN_PVH_PROP_MEMMAP(pci_ecam)
XEN_PVH_PROP_MEMMAP(pci_mmio)
XEN_PVH_PROP_MEMMAP(pci_mmio_high)

static void xen_pvh_set_pci_intx_irq_base(Object *obj, Visitor *v,
                                          const char *name, void *opaque,
                                          Error **errp)
{
    XenPVHMachineState *xp = XEN_PVH_MACHINE(obj);
    uint32_t value;

    if (!visit_type_uint32(v, name, &value, errp)) {
        return;
    }

    xp->cfg.pci_intx_irq_base = value;
}

static void xen_pvh_get_pci_intx_irq_base(Object *obj, Visitor *v,
                                          const char *name, void *opaque,
                                          Error **errp)
{
    XenPVHMachineState *xp = XEN_PVH_MACHINE(obj);
    uint32_t value = xp->cfg.pci_intx_irq_base;

    visit_type_uint32(v, name, &value, errp);
}

void xen_pvh_class_setup_common_props(XenPVHMachineClass *xpc)
{
    ObjectClass *oc = OBJECT_CLASS(xpc);

#define OC_MEMMAP_PROP_BASE(c, prop_name, name)                           \
do {                                                                      \
    object_class_property_add(c, prop_name "-base", "uint64_t",           \
                              xen_pvh_get_ ## name ## _base,              \
                              xen_pvh_set_ ## name ## _base, NULL, NULL); \
    object_class_property_set_description(oc, prop_name "-base",          \
                              "Set base address for " prop_name);         \
} while (0)

#define OC_MEMMAP_PROP_SIZE(c, prop_name, name)                           \
do {                                                                      \
    object_class_property_add(c, prop_name "-size", "uint64_t",           \
                              xen_pvh_get_ ## name ## _size,              \
                              xen_pvh_set_ ## name ## _size, NULL, NULL); \
    object_class_property_set_description(oc, prop_name "-size",          \
                              "Set memory range size for " prop_name);    \
} while (0)

#define OC_MEMMAP_PROP(c, prop_name, name)                                \
do {                                                                      \
        OC_MEMMAP_PROP_BASE(c, prop_name, name);                          \
        OC_MEMMAP_PROP_SIZE(c, prop_name, name);                          \
} while (0)

    /*
     * We provide memmap properties to allow Xen to move things to other
     * addresses for example when users need to accomodate the memory-map
     * for 1:1 mapped devices/memory.
     */
    OC_MEMMAP_PROP(oc, "ram-low", ram_low);
    OC_MEMMAP_PROP(oc, "ram-high", ram_high);

    if (xpc->has_virtio_mmio) {
        OC_MEMMAP_PROP(oc, "virtio-mmio", virtio_mmio);
    }

    if (xpc->has_pci) {
        OC_MEMMAP_PROP(oc, "pci-ecam", pci_ecam);
        OC_MEMMAP_PROP(oc, "pci-mmio", pci_mmio);
        OC_MEMMAP_PROP(oc, "pci-mmio-high", pci_mmio_high);

        object_class_property_add(oc, "pci-intx-irq-base", "uint32_t",
                                  xen_pvh_get_pci_intx_irq_base,
                                  xen_pvh_set_pci_intx_irq_base,
                                  NULL, NULL);
        object_class_property_set_description(oc, "pci-intx-irq-base",
                                  "Set PCI INTX interrupt base line.");
    }

#ifdef CONFIG_TPM
    if (xpc->has_tpm) {
        MachineClass *mc = MACHINE_CLASS(xpc);

        object_class_property_add(oc, "tpm-base-addr", "uint64_t",
                                  xen_pvh_get_tpm_base,
                                  xen_pvh_set_tpm_base,
                                  NULL, NULL);
        object_class_property_set_description(oc, "tpm-base-addr",
                                  "Set Base address for TPM device.");

        machine_class_allow_dynamic_sysbus_dev(mc, TYPE_TPM_TIS_SYSBUS);
    }
#endif
}

static void xen_pvh_class_init(ObjectClass *oc, const void *data)
{
    MachineClass *mc = MACHINE_CLASS(oc);

    mc->init = xen_pvh_init;

    mc->desc = "Xen PVH machine";
    mc->max_cpus = 1;
    mc->default_machine_opts = "accel=xen";
    /* Set to zero to make sure that the real ram size is passed. */
    mc->default_ram_size = 0;
}

static const TypeInfo xen_pvh_irqs_info = {
    .name = TYPE_XEN_PVH_IRQS,
    .parent = TYPE_DEVICE,
    .instance_size = sizeof(XenPVHIrqsState),
    .class_init = xen_pvh_irqs_class_init,
};

static const TypeInfo xen_pvh_info = {
    .name = TYPE_XEN_PVH_MACHINE,
    .parent = TYPE_MACHINE,
    .abstract = true,
    .instance_size = sizeof(XenPVHMachineState),
    .class_size = sizeof(XenPVHMachineClass),
    .class_init = xen_pvh_class_init,
};

static void xen_pvh_register_types(void)
{
    type_register_static(&xen_pvh_irqs_info);
    type_register_static(&xen_pvh_info);
}

type_init(xen_pvh_register_types);
