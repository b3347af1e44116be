/*
 * Xen ioreq server for Arm guests
 *
 * Xen on Arm forwards a guest's accesses to MMIO ranges that an ioreq
 * server claimed; it has no port I/O, no PCI config ioreqs and no
 * buffered ioreqs. This file holds what differs from x86 around the
 * shared ioreq loop (hw/xen/xen-hvm-common.c): checking each request
 * before it reaches the memory API, claiming MMIO regions, guest RAM
 * through the map cache, SPI injection and following the domain's life.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-migration.h"
#include "qemu/error-report.h"
#include "qemu/log.h"
#include "qemu/main-loop.h"
#include "qemu/module.h"
#include "qemu/units.h"
#include "exec/address-spaces.h"
#include "hw/irq.h"
#include "hw/qdev-properties.h"
#include "hw/xen/xen-hvm-common.h"
#include "hw/xen/xen-ioreq-arm.h"
#include "hw/xen/xen-legacy-backend.h"
#include "sysemu/runstate.h"
#include "sysemu/runstate-action.h"
#include "sysemu/xen.h"
#include "sysemu/xen-mapcache.h"
#include "trace.h"

#define XEN_ARM_WATCH_TOKEN "xen-arm-domain"
/* What a domain's maximum memory may exceed its RAM by */
#define XEN_ARM_RAM_SLACK   (2 * MiB)

/* Guest requests: Xen on Arm only sends single MMIO copies */

static bool xen_arm_addr_served(hwaddr addr, unsigned int size)
{
    MemoryRegionSection section;
    bool served;

    section = memory_region_find(get_system_memory(), addr, size);
    if (!section.mr) {
        return false;
    }
    served = !memory_region_is_ram(section.mr) &&
             int128_ge(section.size, int128_make64(size));
    memory_region_unref(section.mr);
    return served;
}

static const char *xen_arm_ioreq_problem(const ioreq_t *req)
{
    if (req->data_is_ptr) {
        return "data_is_ptr is set";
    }
    if (req->count != 1) {
        return "count is not 1";
    }
    if (req->size > sizeof(req->data) || !is_power_of_2(req->size)) {
        return "size is not 1, 2, 4 or 8";
    }
    if (!xen_arm_addr_served(req->addr, req->size)) {
        return "no device at this address";
    }
    return NULL;
}

/*
 * req->data holds the value the guest reads or writes; memory takes the
 * bytes the guest would see, in its (little-endian) order.
 */
static void xen_arm_ioreq_copy(ioreq_t *req)
{
    uint8_t buf[sizeof(req->data)];

    if (req->dir == IOREQ_READ) {
        address_space_read(&address_space_memory, req->addr,
                           MEMTXATTRS_UNSPECIFIED, buf, req->size);
        req->data = ldn_le_p(buf, req->size);
    } else {
        stn_le_p(buf, req->size, req->data);
        address_space_write(&address_space_memory, req->addr,
                            MEMTXATTRS_UNSPECIFIED, buf, req->size);
    }
}

bool xen_arch_handle_ioreq(XenIOState *state, ioreq_t *req)
{
    const char *problem;

    switch (req->type) {
    case IOREQ_TYPE_COPY:
        problem = xen_arm_ioreq_problem(req);
        if (!problem) {
            xen_arm_ioreq_copy(req);
            return true;
        }
        break;
    case IOREQ_TYPE_INVALIDATE:
        return false;
    default:
        problem = "unexpected ioreq type";
        break;
    }

    /*
     * Answer the request anyway: the vCPU waits for it, and a device
     * model that stops serving would hang the whole guest.
     */
    qemu_log_mask(LOG_GUEST_ERROR,
                  "xen: ioreq type %u %s 0x%" PRIx64 " size %u count %u: %s\n",
                  req->type, req->dir == IOREQ_READ ? "read" : "write",
                  req->addr, req->size, req->count, problem);
    trace_xen_arm_ioreq_rejected(req->type, req->dir, req->addr, req->size,
                                 req->count, req->data_is_ptr);
    if (req->dir == IOREQ_READ) {
        req->data = ~0ULL;
    }
    return true;
}

/* MMIO regions go to our ioreq server; guest RAM belongs to Xen */

/*
 * The first range Xen would not forward to us. xen_arm_ioreq_init() fails
 * with it: the guest's accesses there would go nowhere.
 */
static Error *xen_arm_claim_err;
static bool xen_arm_claims_checked;

static void xen_arm_set_memory(MemoryListener *listener,
                               MemoryRegionSection *section, bool add)
{
    XenIOState *state = container_of(listener, XenIOState, memory_listener);
    hwaddr start = section->offset_within_address_space;
    hwaddr end = start + int128_get64(section->size) - 1;
    Error *err = NULL;

    if (memory_region_is_ram(section->mr)) {
        return;
    }
    if (!add) {
        trace_xen_unmap_mmio_range(state->ioservid, start, end);
        xendevicemodel_unmap_io_range_from_ioreq_server(xen_dmod, xen_domid,
                                                        state->ioservid, 1,
                                                        start, end);
        return;
    }
    trace_xen_map_mmio_range(state->ioservid, start, end);
    if (!xendevicemodel_map_io_range_to_ioreq_server(xen_dmod, xen_domid,
                                                     state->ioservid, 1,
                                                     start, end)) {
        return;
    }
    error_setg_errno(&err, errno, "xen: Xen does not forward domain %u's "
                     "accesses to 0x%" HWADDR_PRIx "-0x%" HWADDR_PRIx
                     " (%s) to this device model", xen_domid, start, end,
                     memory_region_name(section->mr));
    if (xen_arm_claims_checked) {
        error_report_err(err);
    } else if (!xen_arm_claim_err) {
        xen_arm_claim_err = err;
    } else {
        error_free(err);
    }
}

static void xen_arm_region_add(MemoryListener *listener,
                               MemoryRegionSection *section)
{
    memory_region_ref(section->mr);
    xen_arm_set_memory(listener, section, true);
}

static void xen_arm_region_del(MemoryListener *listener,
                               MemoryRegionSection *section)
{
    xen_arm_set_memory(listener, section, false);
    memory_region_unref(section->mr);
}

static const MemoryListener xen_arm_memory_listener = {
    .name = "xen-arm-memory",
    .region_add = xen_arm_region_add,
    .region_del = xen_arm_region_del,
    .priority = 10,
};

/*
 * Guest RAM is the domain's own memory, reached through the map cache;
 * the machine's RAM block comes first, at ram_addr_t 0, so its offsets
 * are guest physical addresses. The grant window is the pages the guest
 * granted us, also reached through the map cache. Xen has nowhere to put
 * any other RAM block (a device's own RAM, say).
 */
void xen_ram_alloc(ram_addr_t ram_addr, ram_addr_t size, MemoryRegion *mr,
                   Error **errp)
{
    if (ram_addr == 0 || xen_mr_is_grants(mr)) {
        return;
    }
    error_setg(errp, "xen: RAM region '%s' cannot be backed: a Xen Arm "
               "guest has no memory for the device model's own RAM",
               memory_region_name(mr));
}

/* Xen on Arm has no log-dirty support for the device model: no migration */
void xen_hvm_modified_memory(ram_addr_t start, ram_addr_t length)
{
}

void qmp_xen_set_global_dirty_log(bool enable, Error **errp)
{
    error_setg(errp, "xen-set-global-dirty-log is not supported on Arm");
}

/* Interrupts */

static void xen_arm_spi_set(void *opaque, int n, int level)
{
    XenArmSPIState *s = opaque;
    uint32_t spi = s->first_spi + n;

    trace_xen_arm_spi_set(spi, level);

    /*
     * libxl declares these SPIs edge-rising in the guest's device tree,
     * and Xen's vGIC injects one interrupt per level-1 call and ignores
     * level 0. So every notification a device raises (a level-1 call,
     * even while its line is already high) becomes exactly one injection;
     * lowering the line needs no hypercall.
     */
    if (!level || !xen_enabled()) {
        return;
    }
    if (xendevicemodel_set_irq_level(xen_dmod, xen_domid, spi, 1)) {
        error_report("xen: domain %u refused SPI %u: %s", xen_domid, spi,
                     strerror(errno));
    }
}

bool xen_arm_spi_check(uint32_t spi, Error **errp)
{
    ERRP_GUARD();

    /* Level 0 is validated like level 1 but injects nothing. */
    if (xendevicemodel_set_irq_level(xen_dmod, xen_domid, spi, 0)) {
        error_setg_errno(errp, errno, "xen: domain %u has no SPI %u",
                         xen_domid, spi);
        error_append_hint(errp, "The guest's xl configuration must declare "
                          "its virtio devices so that Xen gives it their "
                          "SPIs.\n");
        return false;
    }
    return true;
}

static void xen_arm_spi_realize(DeviceState *dev, Error **errp)
{
    XenArmSPIState *s = XEN_ARM_SPI(dev);

    if (s->first_spi < 32 || s->num_spis == 0) {
        error_setg(errp, "xen-arm-spi: first-spi must be an SPI (32 or "
                   "more) and num-spis at least 1");
        return;
    }
    qdev_init_gpio_in(dev, xen_arm_spi_set, s->num_spis);
}

static Property xen_arm_spi_properties[] = {
    DEFINE_PROP_UINT32("first-spi", XenArmSPIState, first_spi, 0),
    DEFINE_PROP_UINT32("num-spis", XenArmSPIState, num_spis, 0),
    DEFINE_PROP_END_OF_LIST(),
};

static void xen_arm_spi_class_init(ObjectClass *oc, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(oc);

    dc->realize = xen_arm_spi_realize;
    dc->desc = "Xen guest SPIs";
    dc->user_creatable = false;
    device_class_set_props(dc, xen_arm_spi_properties);
}

static const TypeInfo xen_arm_spi_info = {
    .name = TYPE_XEN_ARM_SPI,
    .parent = TYPE_SYS_BUS_DEVICE,
    .instance_size = sizeof(XenArmSPIState),
    .class_init = xen_arm_spi_class_init,
};

static void xen_arm_register_types(void)
{
    type_register_static(&xen_arm_spi_info);
}

type_init(xen_arm_register_types)

/* The domain's life: when it dies, the device model has nothing to serve */

/*
 * Read the domain's information. Returns 1 if it exists, 0 if it does not,
 * and -1 if this domain may not read it: a driver domain (not dom0) can
 * be the device model of a guest without the right to query it.
 */
static int xen_arm_get_domain(xc_domaininfo_t *info)
{
    int rc = xc_domain_getinfolist(xen_xc, xen_domid, 1, info);

    if (rc < 0 && (errno == EPERM || errno == EACCES)) {
        return -1;
    }
    return rc == 1 && info->domain == xen_domid;
}

static bool xen_arm_domain_alive(void)
{
    xc_domaininfo_t info;
    unsigned int vcpus;

    /* -xen-domid-restrict leaves the domain information out of reach */
    switch (xen_domid_restrict ? -1 : xen_arm_get_domain(&info)) {
    case 1:
        /*
         * Not on shutdown: a domain that suspends or asks for a soft reset
         * runs again under the same ID, and the toolstack takes the devices
         * of one that powers off or reboots down (Closing) before it
         * destroys it.
         */
        return !(info.flags & XEN_DOMINF_dying);
    case 0:
        return false;
    default:
        /* Device model operations fail once the domain is gone. */
        return !xendevicemodel_nr_vcpus(xen_dmod, xen_domid, &vcpus);
    }
}

static void xen_arm_domain_changed(void *opaque)
{
    XenIOState *state = opaque;
    unsigned int num;
    char **vec;

    vec = xs_read_watch(state->xenstore, &num);
    if (!vec) {
        /*
         * The connection is gone: -xen-domid-restrict cuts it, and then
         * whoever started QEMU stops it when the domain goes.
         */
        qemu_set_fd_handler(xs_fileno(state->xenstore), NULL, NULL, NULL);
        return;
    }
    free(vec);

    if (xen_arm_domain_alive()) {
        return;
    }

    trace_xen_arm_domain_gone(xen_domid);
    qemu_set_fd_handler(xs_fileno(state->xenstore), NULL, NULL, NULL);
    /* Quit even with -no-shutdown: there is no guest left to resume. */
    shutdown_action = SHUTDOWN_ACTION_POWEROFF;
    qemu_system_shutdown_request(SHUTDOWN_CAUSE_GUEST_SHUTDOWN);
}

static bool xen_arm_watch_domain(XenIOState *state, Error **errp)
{
    if (!xs_watch(state->xenstore, "@releaseDomain", XEN_ARM_WATCH_TOKEN)) {
        error_setg_errno(errp, errno, "xen: cannot watch @releaseDomain");
        return false;
    }
    qemu_set_fd_handler(xs_fileno(state->xenstore), xen_arm_domain_changed,
                        NULL, state);
    return true;
}

static bool xen_arm_check_domain(ram_addr_t ram_size, unsigned int max_cpus,
                                 Error **errp)
{
    ERRP_GUARD();
    xc_domaininfo_t info;
    uint64_t domain_ram;
    unsigned int vcpus;

    switch (xen_arm_get_domain(&info)) {
    case 0:
        error_setg(errp, "xen: domain %u does not exist", xen_domid);
        return false;
    case 1:
        domain_ram = (uint64_t)info.max_pages * XC_PAGE_SIZE;
        break;
    default:
        /* Not allowed to know: the toolstack sized the domain and -m. */
        domain_ram = ram_size;
        break;
    }
    if (ram_size > domain_ram) {
        error_setg(errp, "xen: -m %" PRIu64 "M is more than the %" PRIu64
                   "M of RAM domain %u has", (uint64_t)ram_size / MiB,
                   domain_ram / MiB, xen_domid);
        return false;
    }
    /*
     * The domain may be given more than its RAM: libxl adds 1 MiB, and the
     * size of the ACPI tables when it has them, to what the guest can use.
     * Buffers above -m would fail as if nowhere.
     */
    if (domain_ram - ram_size >= XEN_ARM_RAM_SLACK) {
        error_setg(errp, "xen: -m %" PRIu64 "M is less than the RAM "
                   "domain %u can have: its maximum is %" PRIu64 "M",
                   (uint64_t)ram_size / MiB, xen_domid, domain_ram / MiB);
        error_append_hint(errp, "Start QEMU with the guest's maxmem (libxl "
                          "gives a domain 1 MiB more).\n");
        return false;
    }
    if (xendevicemodel_nr_vcpus(xen_dmod, xen_domid, &vcpus)) {
        int err = errno;

        if (err == ESRCH) {
            error_setg(errp, "xen: domain %u does not exist", xen_domid);
            return false;
        }
        error_setg_errno(errp, err, "xen: cannot get the vCPUs of domain %u",
                         xen_domid);
        /* Without ioreq servers Xen on Arm has no device model operations */
        if (err == ENOSYS) {
            error_append_hint(errp, "Xen must be built with "
                              "CONFIG_IOREQ_SERVER=y.\n");
        }
        return false;
    }
    if (max_cpus != vcpus) {
        error_setg(errp, "xen: domain %u has %u vCPUs: start QEMU with "
                   "-smp %u", xen_domid, vcpus, vcpus);
        return false;
    }
    return true;
}

bool xen_arm_ioreq_init(MemoryRegion *ram, ram_addr_t ram_size,
                        unsigned int max_cpus, Error **errp)
{
    XenIOState *state;

    if (memory_region_get_ram_addr(ram) != 0) {
        error_setg(errp, "xen: guest RAM must be the first RAM block");
        return false;
    }
    if (!xen_arm_check_domain(ram_size, max_cpus, errp)) {
        return false;
    }

    state = g_new0(XenIOState, 1);
    state->serve_while_stopped = true;

    /* Buffered ioreqs do not exist on Arm: Xen refuses to create them. */
    if (!xen_register_ioreq(state, max_cpus, HVM_IOREQSRV_BUFIOREQ_OFF,
                            &xen_arm_memory_listener, errp)) {
        return false;
    }
    /* Registering the listener claimed the regions the machine has */
    xen_arm_claims_checked = true;
    if (xen_arm_claim_err) {
        error_propagate(errp, xen_arm_claim_err);
        xen_arm_claim_err = NULL;
        return false;
    }
    xen_map_cache_init(NULL, state);

    /* accel/xen records the device model's state through this connection */
    if (xen_be_init() != 0) {
        error_setg(errp, "xen: cannot initialise the backend core");
        return false;
    }

    return xen_arm_watch_domain(state, errp);
}
