/*
 * Guest-side virtio 1.x driver over virtio-mmio (version 2) with split
 * virtqueues, optionally using VIRTIO_F_EVENT_IDX and
 * VIRTIO_F_INDIRECT_DESC.  Every register access is a real ioreq from
 * the simulated guest; completions are waited for on the device's SPI.
 */
#ifndef XENFV_VIRTIO_H
#define XENFV_VIRTIO_H

#include <linux/virtio_ring.h>
#include "guest.h"

#define VIRTIO_MMIO_BASE    0x02000000ULL
#define VIRTIO_MMIO_SLOT    0x200
#define VIRTIO_MMIO_SLOTS   11
#define VIRTIO_FIRST_SPI    33
#define VQ_MAX              8
#define VQ_SIZE             128

struct vbuf {
    uint64_t gpa;
    uint32_t len;
    bool device_writes;
};

/* Grants a chain holds in grant mode: its buffers and indirect table */
#define VQ_CHAIN_GRANTS     8

struct vgrant {
    uint64_t dma;
    uint32_t len;
};

struct vq {
    unsigned index, num;
    struct vring_desc *desc;
    struct vring_avail *avail;
    struct vring_used *used;
    uint64_t desc_gpa, avail_gpa, used_gpa;
    uint64_t indirect_gpa;      /* num tables of num descriptors */
    uint16_t free_head, num_free, last_used, avail_idx;
    uint16_t chain_len[VQ_SIZE];
    uint16_t kicked_at;         /* avail_idx at the last notification */
    /* grant mode: the rings' grants, and each chain's (by head) */
    struct vgrant ring_grant[3];
    struct vgrant chain_grant[VQ_SIZE][VQ_CHAIN_GRANTS];
    uint8_t chain_grants[VQ_SIZE];
};

struct vdev {
    struct sim *s;
    int slot;
    uint64_t base;
    unsigned irq;
    uint32_t device_id;
    uint64_t features;
    bool event_idx, indirect;
    /*
     * Grant mode (the simulator's guest_grants when vdev_init ran): DMA
     * addresses are grant addresses, as with Linux's xen-grant-dma ops,
     * and VIRTIO_F_ACCESS_PLATFORM is required as Linux requires it.
     */
    bool grants;
    unsigned irqs;              /* interrupts taken */
    unsigned threads;           /* threads driving queues at once */
    uint64_t used_override;     /* tell the device this used ring address */
    unsigned nvq;
    struct vq vq[VQ_MAX];
};

/* Find the nth (0-based) transport with device_id; -1 if absent. */
int vdev_find(struct sim *s, uint32_t device_id, int nth, struct vdev *d);

/*
 * Reset, negotiate VIRTIO_F_VERSION_1 plus the wanted features the
 * device offers, set up nvq queues, DRIVER_OK.  0 or -1 (reported).
 */
int vdev_init(struct vdev *d, uint64_t want, unsigned nvq);
void vdev_reset(struct vdev *d);
uint32_t vdev_status(struct vdev *d);
uint32_t vdev_config32(struct vdev *d, unsigned off);
uint8_t vdev_config8(struct vdev *d, unsigned off);

/*
 * Add a chain; returns its head or -1 when the ring is full (or, in grant
 * mode, the grant table or the chain's grant slots).
 */
int vq_add(struct vdev *d, struct vq *q, const struct vbuf *b, int n);
/* Notify the device unless it asked not to be (flags or event index). */
void vq_kick(struct vdev *d, struct vq *q);
/*
 * Take one used element: its head, or -1 if none.  *len gets its len.
 * In grant mode the chain's grants are ended; any the device model
 * still maps are counted in the simulator's grants_busy.
 */
int vq_pop(struct vdev *d, struct vq *q, uint32_t *len);
/*
 * Wait (on the SPI) until q has a used element; 0 or -ETIMEDOUT.  The
 * accesses come from the calling thread's vcpu (guest_set_vcpu) or, by
 * default, from the domain's vcpus in turn.
 */
int vq_wait(struct vdev *d, struct vq *q, int timeout_ms);

#endif
