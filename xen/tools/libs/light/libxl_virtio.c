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

/* Devices are added by domain creation only (no hotplug). */
#define libxl__add_virtios NULL
#define libxl_device_virtio_compare NULL

static LIBXL_DEFINE_UPDATE_DEVID(virtio)
static LIBXL_DEFINE_DEVICE_FROM_TYPE(virtio)

DEFINE_DEVICE_TYPE_STRUCT(virtio, VIRTIO, virtios,
    .skip_attach = 1,
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
