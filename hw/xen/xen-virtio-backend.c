/*
 * The virtio devices a Xen toolstack assigns to this backend domain
 *
 * libxl allocates each virtio-mmio device of an Arm guest a register
 * window and an SPI, writes them into the guest's device tree, and
 * records them in Xenstore under the backend domain's home: the virtio
 * disks of Xen 4.17 as backend/virtio_disk/<domid>/<devid> (base in
 * decimal, with the disk's backing in params and mode), the generic
 * devices of Xen 4.18 and later as backend/virtio/<domid>/<devid> (base
 * in hex, type "virtio,device<ID>" with the ID in hex). Both carry the
 * XenbusState of the backend in "state": libxl writes Initialising and,
 * for 4.17 disks, waits for InitWait before it lets the guest run; on
 * destruction it writes Closing and waits for Closed before deleting the
 * nodes.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/cutils.h"
#include "qemu/error-report.h"
#include "qemu/main-loop.h"
#include "block/block.h"
#include "hw/xen/xen.h"
#include "hw/xen/xen_common.h"
#include "hw/xen/xen-virtio-backend.h"
#include "standard-headers/linux/virtio_ids.h"
#include "sysemu/block-backend-global-state.h"
#include "sysemu/runstate.h"
#include "sysemu/runstate-action.h"
#include "trace.h"

#define XEN_VIRTIO_WATCH_TOKEN "xen-virtio-backend"

typedef struct XenVirtioLayout {
    const char *kind;           /* directory under backend/ */
    /* Fill in what is specific to the layout; false with @errp set. */
    bool (*parse)(XenVirtioBackends *backends, XenVirtioBackend *dev,
                  Error **errp);
} XenVirtioLayout;

static char *xen_virtio_read(XenVirtioBackends *backends,
                             XenVirtioBackend *dev, const char *key,
                             Error **errp)
{
    g_autofree char *path = g_strdup_printf("%s/%s", dev->path, key);
    unsigned int len;
    char *val = xs_read(backends->xs, XBT_NULL, path, &len);
    char *copy;

    if (!val) {
        error_setg_errno(errp, errno, "xen: cannot read %s", path);
        return NULL;
    }
    /* Hand out what g_free() can free, not libxenstore's malloc()ed copy */
    copy = g_strndup(val, len);
    free(val);
    return copy;
}

static bool xen_virtio_read_u64(XenVirtioBackends *backends,
                                XenVirtioBackend *dev, const char *key,
                                uint64_t *value, Error **errp)
{
    g_autofree char *str = xen_virtio_read(backends, dev, key, errp);

    if (!str) {
        return false;
    }
    /* Base 0: 4.17 writes base in decimal, later releases in hex */
    if (qemu_strtou64(str, NULL, 0, value)) {
        error_setg(errp, "xen: %s/%s is not a number: '%s'", dev->path, key,
                   str);
        return false;
    }
    return true;
}

/* Xen 4.17: specification=virtio disks, served by a "standalone" backend */
static bool xen_virtio_parse_disk(XenVirtioBackends *backends,
                                  XenVirtioBackend *dev, Error **errp)
{
    g_autofree char *mode = NULL;

    dev->device_id = VIRTIO_ID_BLOCK;
    dev->vdev = xen_virtio_read(backends, dev, "dev", errp);
    if (!dev->vdev) {
        return false;
    }
    dev->params = xen_virtio_read(backends, dev, "params", errp);
    if (!dev->params) {
        return false;
    }
    mode = xen_virtio_read(backends, dev, "mode", errp);
    if (!mode) {
        return false;
    }
    if (strcmp(mode, "r") && strcmp(mode, "w")) {
        error_setg(errp, "xen: %s/mode is '%s', not 'r' or 'w'", dev->path,
                   mode);
        return false;
    }
    dev->read_only = !strcmp(mode, "r");
    /* libxl 4.17 links the device to its grant IOMMU iff we are not dom0 */
    dev->grants = backends->self != 0;
    return true;
}

/* Xen 4.18 and later: virtio = [ "type=virtio,device<ID>, ..." ] */
static bool xen_virtio_parse_generic(XenVirtioBackends *backends,
                                     XenVirtioBackend *dev, Error **errp)
{
    g_autofree char *type = xen_virtio_read(backends, dev, "type", errp);
    g_autofree char *transport = NULL;
    g_autofree char *grant_usage = NULL;
    const char *id;
    size_t digits;

    if (!type) {
        return false;
    }
    /* The device tree binding: the device ID in 1 to 8 lower-case hex digits */
    id = g_str_has_prefix(type, "virtio,device") ?
         type + strlen("virtio,device") : "";
    digits = strspn(id, "0123456789abcdef");
    if (!digits || digits > 8 || id[digits] ||
        qemu_strtoui(id, NULL, 16, &dev->device_id) || !dev->device_id) {
        error_setg(errp, "xen: %s/type is '%s', not virtio,device<ID> "
                   "with a virtio device ID in hex", dev->path, type);
        return false;
    }
    transport = xen_virtio_read(backends, dev, "transport", errp);
    if (!transport) {
        return false;
    }
    if (strcmp(transport, "mmio")) {
        error_setg(errp, "xen: %s/transport is '%s': only mmio is served",
                   dev->path, transport);
        return false;
    }
    grant_usage = xen_virtio_read(backends, dev, "grant_usage", NULL);
    dev->grants = grant_usage ? strcmp(grant_usage, "0") != 0
                              : backends->self != 0;
    return true;
}

static const XenVirtioLayout xen_virtio_layouts[] = {
    { "virtio_disk", xen_virtio_parse_disk },
    { "virtio", xen_virtio_parse_generic },
};

static void xen_virtio_backend_free(gpointer data)
{
    XenVirtioBackend *dev = data;

    g_free(dev->path);
    g_free(dev->vdev);
    g_free(dev->params);
    g_free(dev);
}

static gint xen_virtio_backend_compare(gconstpointer a, gconstpointer b)
{
    const XenVirtioBackend *da = *(XenVirtioBackend * const *)a;
    const XenVirtioBackend *db = *(XenVirtioBackend * const *)b;

    return da->base < db->base ? -1 : da->base > db->base;
}

static bool xen_virtio_read_layout(XenVirtioBackends *backends,
                                   const XenVirtioLayout *layout,
                                   Error **errp)
{
    g_autofree char *dir = g_strdup_printf("backend/%s/%u", layout->kind,
                                           backends->domid);
    unsigned int i, num;
    char **devids = xs_directory(backends->xs, XBT_NULL, dir, &num);

    if (!devids) {
        if (errno == ENOENT) {
            return true;
        }
        error_setg_errno(errp, errno, "xen: cannot list %s", dir);
        return false;
    }

    for (i = 0; i < num; i++) {
        XenVirtioBackend *dev = g_new0(XenVirtioBackend, 1);
        uint64_t irq;

        g_ptr_array_add(backends->devices, dev);
        dev->path = g_strdup_printf("%s/%s", dir, devids[i]);
        if (!xen_virtio_read_u64(backends, dev, "base", &dev->base, errp) ||
            !xen_virtio_read_u64(backends, dev, "irq", &irq, errp)) {
            break;
        }
        if (irq > UINT32_MAX) {
            error_setg(errp, "xen: %s/irq %" PRIu64 " is out of range",
                       dev->path, irq);
            break;
        }
        dev->irq = irq;
        if (!layout->parse(backends, dev, errp)) {
            break;
        }
        trace_xen_virtio_backend(dev->path, dev->base, dev->irq,
                                 dev->device_id, dev->params ?: "",
                                 dev->grants);
    }
    free(devids);
    return i == num;
}

static void xen_virtio_backends_free(XenVirtioBackends *backends)
{
    xs_daemon_close(backends->xs);
    g_ptr_array_free(backends->devices, true);
    g_free(backends);
}

/*
 * Our domain ID, in our Xenstore home (xen-init-dom0 and libxl write it);
 * without one we are taken to be dom0.
 */
static bool xen_virtio_read_self(XenVirtioBackends *backends, Error **errp)
{
    unsigned int len;
    char *val = xs_read(backends->xs, XBT_NULL, "domid", &len);
    bool ok;

    if (!val) {
        backends->self = 0;
        return true;
    }
    ok = !qemu_strtoui(val, NULL, 10, &backends->self);
    if (!ok) {
        error_setg(errp, "xen: this domain's ID in Xenstore is not a "
                   "number: '%s'", val);
    }
    free(val);
    return ok;
}

XenVirtioBackends *xen_virtio_backends_read(unsigned int domid,
                                            Error **errp)
{
    XenVirtioBackends *backends = g_new0(XenVirtioBackends, 1);
    int i;

    backends->domid = domid;
    backends->devices = g_ptr_array_new_with_free_func(
        xen_virtio_backend_free);
    backends->xs = xs_daemon_open();
    if (!backends->xs) {
        error_setg_errno(errp, errno, "xen: cannot connect to Xenstore");
        g_ptr_array_free(backends->devices, true);
        g_free(backends);
        return NULL;
    }

    if (!xen_virtio_read_self(backends, errp)) {
        xen_virtio_backends_free(backends);
        return NULL;
    }
    for (i = 0; i < ARRAY_SIZE(xen_virtio_layouts); i++) {
        if (!xen_virtio_read_layout(backends, &xen_virtio_layouts[i], errp)) {
            xen_virtio_backends_free(backends);
            return NULL;
        }
    }
    g_ptr_array_sort(backends->devices, xen_virtio_backend_compare);
    return backends;
}

/* The handshake */

/*
 * Move the device's state from @from to @to, and only from there: the
 * toolstack may have gone on meanwhile (Closing written while QEMU was
 * starting) or removed the device, whose nodes a plain write would
 * create again.
 */
static bool xen_virtio_move_state(XenVirtioBackends *backends,
                                  XenVirtioBackend *dev,
                                  enum xenbus_state from,
                                  enum xenbus_state to, Error **errp)
{
    g_autofree char *path = g_strdup_printf("%s/state", dev->path);
    g_autofree char *want = g_strdup_printf("%u", from);
    g_autofree char *val = g_strdup_printf("%u", to);

    for (;;) {
        xs_transaction_t t = xs_transaction_start(backends->xs);
        unsigned int len;
        char *cur;
        bool move;

        if (t == XBT_NULL) {
            error_setg_errno(errp, errno, "xen: cannot start a transaction");
            return false;
        }
        cur = xs_read(backends->xs, t, path, &len);
        move = cur && len == strlen(want) && !memcmp(cur, want, len);
        free(cur);
        if (move && !xs_write(backends->xs, t, path, val, strlen(val))) {
            error_setg_errno(errp, errno, "xen: cannot write %s", path);
            xs_transaction_end(backends->xs, t, true);
            return false;
        }
        if (xs_transaction_end(backends->xs, t, false)) {
            trace_xen_virtio_backend_state(dev->path, from, to, move);
            return true;
        }
        if (errno != EAGAIN) {
            error_setg_errno(errp, errno, "xen: cannot write %s", path);
            return false;
        }
    }
}

static void xen_virtio_backends_announce(XenVirtioBackends *backends)
{
    Error *err = NULL;
    int i;

    backends->announced = true;
    for (i = 0; i < backends->devices->len; i++) {
        XenVirtioBackend *dev = g_ptr_array_index(backends->devices, i);

        if (!dev->removed &&
            !xen_virtio_move_state(backends, dev, XenbusStateInitialising,
                                   XenbusStateInitWait, &err)) {
            error_report_err(err);
            err = NULL;
        }
    }
}

/*
 * libxl waits for InitWait before it unpauses a guest with 4.17 virtio
 * disks: announcing it only once the guest may run means that the
 * device model serves every ioreq the guest can send.
 */
static void xen_virtio_backends_run_state(void *opaque, bool running,
                                          RunState state)
{
    XenVirtioBackends *backends = opaque;

    if (running && !backends->announced) {
        xen_virtio_backends_announce(backends);
    }
}

static void xen_virtio_backend_changed(XenVirtioBackends *backends,
                                       XenVirtioBackend *dev)
{
    g_autofree char *path = g_strdup_printf("%s/state", dev->path);
    Error *err = NULL;
    unsigned int len;
    char *state;

    state = xs_read(backends->xs, XBT_NULL, path, &len);
    if (!state) {
        dev->removed = errno == ENOENT;
        return;
    }
    if (len == 1 && state[0] == '0' + XenbusStateClosing) {
        /* The guest is being destroyed: what it wrote must reach the disk */
        blk_drain_all();
        if (bdrv_flush_all() < 0) {
            error_report("xen: flushing the disks of domain %u failed: "
                         "its last writes may be lost", backends->domid);
        }
        if (!xen_virtio_move_state(backends, dev, XenbusStateClosing,
                                   XenbusStateClosed, &err)) {
            error_report_err(err);
        }
    }
    free(state);
}

static void xen_virtio_backends_watch_event(void *opaque)
{
    XenVirtioBackends *backends = opaque;
    unsigned int i, num;
    bool all_removed = true;
    char **event;

    event = xs_read_watch(backends->xs, &num);
    if (!event) {
        return;
    }
    free(event);

    /*
     * An event names the node that changed, which may be a device's
     * state or, when libxl removes them, any of their parents: look at
     * every device again.
     */
    for (i = 0; i < backends->devices->len; i++) {
        XenVirtioBackend *dev = g_ptr_array_index(backends->devices, i);

        if (!dev->removed) {
            xen_virtio_backend_changed(backends, dev);
        }
        all_removed &= dev->removed;
    }

    if (all_removed) {
        /* Quit even with -no-shutdown: the guest has no devices left. */
        trace_xen_virtio_backends_removed(backends->domid);
        qemu_set_fd_handler(xs_fileno(backends->xs), NULL, NULL, NULL);
        shutdown_action = SHUTDOWN_ACTION_POWEROFF;
        qemu_system_shutdown_request(SHUTDOWN_CAUSE_GUEST_SHUTDOWN);
    }
}

bool xen_virtio_backends_serve(XenVirtioBackends *backends, Error **errp)
{
    int i;

    if (!backends->devices->len) {
        return true;
    }
    /*
     * -xen-domid-restrict cuts every Xenstore connection before the VM
     * runs: announce the devices now, their ioreq server is in place.
     * Teardown is then up to whoever started QEMU: stop it (it flushes
     * its drives on SIGTERM) and answer Closing.
     */
    if (xen_domid_restrict) {
        xen_virtio_backends_announce(backends);
        return true;
    }
    for (i = 0; i < backends->devices->len; i++) {
        XenVirtioBackend *dev = g_ptr_array_index(backends->devices, i);

        if (!xs_watch(backends->xs, dev->path, XEN_VIRTIO_WATCH_TOKEN)) {
            error_setg_errno(errp, errno, "xen: cannot watch %s", dev->path);
            return false;
        }
    }
    qemu_set_fd_handler(xs_fileno(backends->xs),
                        xen_virtio_backends_watch_event, NULL, backends);
    qemu_add_vm_change_state_handler(xen_virtio_backends_run_state,
                                     backends);
    return true;
}
