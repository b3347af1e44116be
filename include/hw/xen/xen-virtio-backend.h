/*
 * The virtio devices a Xen toolstack assigns to this backend domain
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_XEN_VIRTIO_BACKEND_H
#define HW_XEN_VIRTIO_BACKEND_H

/*
 * One virtio-mmio device of a guest, as libxl describes it under this
 * domain's Xenstore home: backend/virtio_disk/<domid>/<devid> for the
 * virtio disks of Xen 4.17, backend/virtio/<domid>/<devid> for the
 * generic virtio devices of later releases.
 */
typedef struct XenVirtioBackend {
    char *path;             /* backend directory, relative to our home */
    uint64_t base;          /* guest address of its registers */
    uint32_t irq;           /* its SPI */
    uint32_t device_id;     /* VIRTIO_ID_* */
    char *vdev;             /* a 4.17 disk's name (xvda...), or NULL */
    char *params;           /* a 4.17 disk's backing file or device */
    bool read_only;
    bool grants;            /* the guest gives it grants, not addresses */
    bool removed;           /* the toolstack deleted its nodes */
} XenVirtioBackend;

typedef struct XenVirtioBackends {
    struct xs_handle *xs;
    unsigned int domid;
    unsigned int self;      /* our own domain */
    GPtrArray *devices;     /* of XenVirtioBackend, in order of base */
    bool announced;         /* InitWait was written */
} XenVirtioBackends;

/*
 * Read the virtio devices of guest @domid that the toolstack gave to this
 * domain. A guest without any has an empty list.
 */
XenVirtioBackends *xen_virtio_backends_read(unsigned int domid,
                                            Error **errp);

/*
 * Take part in the devices' XenbusState handshake: announce them as
 * ready (InitWait) once the guest runs, answer Closing with Closed after
 * flushing every drive, and quit once the toolstack has removed them all.
 */
bool xen_virtio_backends_serve(XenVirtioBackends *backends, Error **errp);

#endif /* HW_XEN_VIRTIO_BACKEND_H */
