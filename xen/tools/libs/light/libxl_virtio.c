/*
 * Generic virtio devices: libxl gives the guest a virtio-mmio transport
 * (a slot of the GUEST_VIRTIO_MMIO_* window and an SPI, described in the
 * guest's device tree on Arm) and tells the backend about it in Xenstore.
 * What sits behind the transport is up to the backend: libxl only knows
 * the device's "type", the compatible string of its device tree node.
 *
 * Copyright (C) 2026 Xenfv Arm Developers
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU Lesser General Public License as published
 * by the Free Software Foundation; version 2.1 only. with the special
 * exception on linking described in file LICENSE.
 *
 * This program is distributed in the hope that it will be useful,
 * but WITHOUT ANY WARRANTY; without even the implied warranty of
 * MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE.  See the
 * GNU Lesser General Public License for more details.
 */

#include "libxl_osdeps.h"

#include "libxl_internal.h"

/* Every virtio device type has a "virtio,device<id>" compatible string. */
#define VIRTIO_TYPE_PREFIX "virtio,device"

static int libxl__device_virtio_setdefault(libxl__gc *gc, uint32_t domid,
                                           libxl_device_virtio *virtio,
                                           bool hotplug)
{
    int rc;

    if (hotplug) {
        LOGD(ERROR, domid, "Hotplug isn't supported for virtio devices");
        return ERROR_INVAL;
    }

    rc = libxl__resolve_domid(gc, virtio->backend_domname,
                              &virtio->backend_domid);
    if (rc < 0)
        return rc;

    if (!virtio->type ||
        strncmp(virtio->type, VIRTIO_TYPE_PREFIX,
                strlen(VIRTIO_TYPE_PREFIX))) {
        LOGD(ERROR, domid, "Virtio device type \"%s\" is not of the form \""
             VIRTIO_TYPE_PREFIX "<id>\"", virtio->type ? : "");
        return ERROR_INVAL;
    }

    /* MMIO is the only transport so far. */
    switch (virtio->transport) {
    case LIBXL_VIRTIO_TRANSPORT_UNKNOWN:
        virtio->transport = LIBXL_VIRTIO_TRANSPORT_MMIO;
        break;
    case LIBXL_VIRTIO_TRANSPORT_MMIO:
        break;
    default:
        LOGD(ERROR, domid, "Unsupported virtio transport %d",
             virtio->transport);
        return ERROR_INVAL;
    }

    /*
     * A backend outside the toolstack domain cannot map arbitrary guest
     * memory, so by default the guest grants it access (xen,grant-dma).
     */
    libxl_defbool_setdefault(&virtio->grant_usage,
                             virtio->backend_domid != LIBXL_TOOLSTACK_DOMID);

    return 0;
}

static int libxl__set_xenstore_virtio(libxl__gc *gc, uint32_t domid,
                                      libxl_device_virtio *virtio,
                                      flexarray_t *back, flexarray_t *front,
                                      flexarray_t *ro_front)
{
    flexarray_append_pair(back, "irq", GCSPRINTF("%u", virtio->irq));
    flexarray_append_pair(back, "base", GCSPRINTF("%#"PRIx64, virtio->base));
    flexarray_append_pair(back, "type", virtio->type);
    flexarray_append_pair(back, "transport",
        libxl__strdup(gc, libxl_virtio_transport_to_string(virtio->transport)));
    flexarray_append_pair(back, "grant_usage",
                          libxl_defbool_val(virtio->grant_usage) ? "1" : "0");

    return 0;
}

/* The backend's key of the device, or NULL (*rc = 0) when there is none */
static const char *virtio_backend_read(libxl__gc *gc, const char *be_path,
                                       const char *key, int *rc)
{
    const char *val = NULL;

    *rc = libxl__xs_read_checked(gc, XBT_NULL,
                                 GCSPRINTF("%s/%s", be_path, key), &val);
    return *rc ? NULL : val;
}

/* The device as libxl wrote it to Xenstore (libxl_device_virtio_list) */
static int libxl__virtio_from_xenstore(libxl__gc *gc, const char *libxl_path,
                                       libxl_devid devid,
                                       libxl_device_virtio *virtio)
{
    const char *be_path, *val;
    char *end;
    int rc;

    virtio->devid = devid;
    rc = libxl__xs_read_mandatory(gc, XBT_NULL,
                                  GCSPRINTF("%s/backend", libxl_path),
                                  &be_path);
    if (rc) return rc;

    rc = libxl__backendpath_parse_domid(gc, be_path, &virtio->backend_domid);
    if (rc) return rc;

    val = virtio_backend_read(gc, be_path, "type", &rc);
    if (rc) return rc;
    if (val)
        virtio->type = libxl__strdup(NOGC, val);

    val = virtio_backend_read(gc, be_path, "transport", &rc);
    if (rc) return rc;
    if (val && libxl_virtio_transport_from_string(val, &virtio->transport)) {
        LOG(ERROR, "%s: unknown virtio transport \"%s\"", be_path, val);
        return ERROR_INVAL;
    }

    val = virtio_backend_read(gc, be_path, "irq", &rc);
    if (rc) return rc;
    if (val) {
        virtio->irq = strtoul(val, &end, 10);
        if (*end) goto bad;
    }

    val = virtio_backend_read(gc, be_path, "base", &rc);
    if (rc) return rc;
    if (val) {
        virtio->base = strtoull(val, &end, 0);
        if (*end) goto bad;
    }

    val = virtio_backend_read(gc, be_path, "grant_usage", &rc);
    if (rc) return rc;
    if (val) {
        if (strcmp(val, "0") && strcmp(val, "1")) goto bad;
        libxl_defbool_set(&virtio->grant_usage, !strcmp(val, "1"));
    }

    return 0;

bad:
    LOG(ERROR, "%s: malformed value \"%s\"", be_path, val);
    return ERROR_INVAL;
}

static int libxl_device_virtio_compare(const libxl_device_virtio *d1,
                                       const libxl_device_virtio *d2)
{
    return COMPARE_DEVID(d1, d2);
}

/* Devices are added by domain creation only (no hotplug). */
#define libxl__add_virtios NULL

static LIBXL_DEFINE_UPDATE_DEVID(virtio)
static LIBXL_DEFINE_DEVICE_FROM_TYPE(virtio)
LIBXL_DEFINE_DEVICE_LIST(virtio)

DEFINE_DEVICE_TYPE_STRUCT(virtio, VIRTIO, virtios,
    .skip_attach = 1,
    .from_xenstore = (device_from_xenstore_fn_t)libxl__virtio_from_xenstore,
    .set_xenstore_config = (device_set_xenstore_config_fn_t)
                           libxl__set_xenstore_virtio,
);

/*
 * Local variables:
 * mode: C
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
