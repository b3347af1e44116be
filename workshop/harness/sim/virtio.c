/*
 * Guest-side virtio-mmio driver.  See virtio.h.
 */
#include <errno.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <string.h>
#include <time.h>
#include "harness.h"
#include "virtio.h"

static uint32_t rd(struct vdev *d, unsigned off)
{
    return guest_read32(d->s, guest_vcpu(d->s), d->base + off);
}

static void wr(struct vdev *d, unsigned off, uint32_t v)
{
    guest_write32(d->s, guest_vcpu(d->s), d->base + off, v);
}

int vdev_find(struct sim *s, uint32_t device_id, int nth, struct vdev *d)
{
    for (int i = 0; i < VIRTIO_MMIO_SLOTS; i++) {
        uint64_t base = VIRTIO_MMIO_BASE + i * VIRTIO_MMIO_SLOT;

        if (guest_read32(s, guest_vcpu(s), base + VIRTIO_MMIO_DEVICE_ID) == device_id &&
            nth-- == 0) {
            memset(d, 0, sizeof(*d));
            d->s = s;
            d->slot = i;
            d->base = base;
            d->irq = VIRTIO_FIRST_SPI + i;
            d->device_id = device_id;
            return i;
        }
    }
    return -1;
}

/* The device address of guest memory: itself, or a grant in grant mode */
static uint64_t dma_map(struct vdev *d, struct vgrant *g, uint64_t gpa,
                        uint32_t len, bool ro)
{
    if (!d->grants) {
        return gpa;
    }
    g->dma = guest_grant(d->s, gpa, len, ro);
    g->len = len;
    return g->dma;
}

static void dma_unmap(struct vdev *d, struct vgrant *g)
{
    if (g->dma) {
        guest_end_grants(d->s, g->dma, g->len);
        g->dma = 0;
    }
}

/*
 * After a reset the device no longer uses the rings: their grants end
 * (Linux frees the rings when the driver goes or the device is reset).
 */
void vdev_reset(struct vdev *d)
{
    wr(d, VIRTIO_MMIO_STATUS, 0);
    for (unsigned i = 0; i < d->nvq; i++) {
        for (int r = 0; r < 3; r++) {
            dma_unmap(d, &d->vq[i].ring_grant[r]);
        }
    }
}

uint32_t vdev_status(struct vdev *d)
{
    return rd(d, VIRTIO_MMIO_STATUS);
}

uint32_t vdev_config32(struct vdev *d, unsigned off)
{
    return rd(d, VIRTIO_MMIO_CONFIG + off);
}

uint8_t vdev_config8(struct vdev *d, unsigned off)
{
    uint64_t v = 0;

    guest_mmio(d->s, guest_vcpu(d->s), d->base + VIRTIO_MMIO_CONFIG + off, 1, false,
               &v);
    return v;
}

static uint64_t device_features(struct vdev *d)
{
    wr(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
    uint64_t hi = rd(d, VIRTIO_MMIO_DEVICE_FEATURES);
    wr(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
    return hi << 32 | rd(d, VIRTIO_MMIO_DEVICE_FEATURES);
}

static void wr64(struct vdev *d, unsigned lo, uint64_t v)
{
    wr(d, lo, v);
    wr(d, lo + 4, v >> 32);
}

static int setup_vq(struct vdev *d, unsigned index)
{
    struct sim *s = d->s;
    struct vq *q = &d->vq[index];
    unsigned max;

    wr(d, VIRTIO_MMIO_QUEUE_SEL, index);
    max = rd(d, VIRTIO_MMIO_QUEUE_NUM_MAX);
    if (max == 0 || rd(d, VIRTIO_MMIO_QUEUE_READY)) {
        report("virtio slot %d: queue %u unavailable (max %u)", d->slot,
               index, max);
        return -1;
    }
    memset(q, 0, sizeof(*q));
    q->index = index;
    q->num = max < VQ_SIZE ? max : VQ_SIZE;
    q->desc_gpa = guest_alloc(s, 16 * q->num, 4096);
    q->avail_gpa = guest_alloc(s, 6 + 2 * q->num, 4096);
    q->used_gpa = guest_alloc(s, 6 + 8 * q->num, 4096);
    q->indirect_gpa = guest_alloc(s, 16 * q->num * q->num, 4096);
    q->desc = guest_ptr(s, q->desc_gpa, 16 * q->num);
    q->avail = guest_ptr(s, q->avail_gpa, 6 + 2 * q->num);
    q->used = guest_ptr(s, q->used_gpa, 6 + 8 * q->num);
    for (unsigned i = 0; i < q->num - 1; i++) {
        q->desc[i].next = i + 1;
    }
    q->num_free = q->num;
    wr(d, VIRTIO_MMIO_QUEUE_NUM, q->num);
    /* The rings are coherent DMA memory: granted writable */
    wr64(d, VIRTIO_MMIO_QUEUE_DESC_LOW,
         dma_map(d, &q->ring_grant[0], q->desc_gpa, 16 * q->num, false));
    wr64(d, VIRTIO_MMIO_QUEUE_AVAIL_LOW,
         dma_map(d, &q->ring_grant[1], q->avail_gpa, 6 + 2 * q->num, false));
    wr64(d, VIRTIO_MMIO_QUEUE_USED_LOW,
         d->used_override ? d->used_override :
         dma_map(d, &q->ring_grant[2], q->used_gpa, 6 + 8 * q->num, false));
    wr(d, VIRTIO_MMIO_QUEUE_READY, 1);
    if (rd(d, VIRTIO_MMIO_QUEUE_READY) != 1) {
        report("virtio slot %d: queue %u did not become ready", d->slot,
               index);
        return -1;
    }
    return 0;
}

int vdev_init(struct vdev *d, uint64_t want, unsigned nvq)
{
    uint64_t offered;
    uint32_t status = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER;

    vdev_reset(d);
    d->nvq = 0;
    d->grants = d->s->guest_grants;
    if (d->grants) {
        want |= 1ULL << VIRTIO_F_ACCESS_PLATFORM;
    }
    if (rd(d, VIRTIO_MMIO_STATUS) != 0) {
        report("virtio slot %d: status not 0 after reset", d->slot);
        return -1;
    }
    wr(d, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
    wr(d, VIRTIO_MMIO_STATUS, status);
    offered = device_features(d);
    if (!(offered & 1ULL << VIRTIO_F_VERSION_1)) {
        report("virtio slot %d: no VIRTIO_F_VERSION_1 (0x%lx)", d->slot,
               (unsigned long)offered);
        return -1;
    }
    if (d->grants && !(offered & 1ULL << VIRTIO_F_ACCESS_PLATFORM)) {
        /* Linux: "device must provide VIRTIO_F_ACCESS_PLATFORM" */
        report("virtio slot %d: grant DMA without VIRTIO_F_ACCESS_PLATFORM "
               "(0x%lx)", d->slot, (unsigned long)offered);
        return -1;
    }
    d->features = offered & (want | 1ULL << VIRTIO_F_VERSION_1);
    d->event_idx = d->features & 1ULL << VIRTIO_RING_F_EVENT_IDX;
    d->indirect = d->features & 1ULL << VIRTIO_RING_F_INDIRECT_DESC;
    wr(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
    wr(d, VIRTIO_MMIO_DRIVER_FEATURES, d->features >> 32);
    wr(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
    wr(d, VIRTIO_MMIO_DRIVER_FEATURES, d->features);
    status |= VIRTIO_CONFIG_S_FEATURES_OK;
    wr(d, VIRTIO_MMIO_STATUS, status);
    if (!(rd(d, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_FEATURES_OK)) {
        report("virtio slot %d: features 0x%lx refused", d->slot,
               (unsigned long)d->features);
        return -1;
    }
    for (unsigned i = 0; i < nvq; i++) {
        d->nvq = i + 1;
        if (setup_vq(d, i) < 0) {
            return -1;
        }
    }
    wr(d, VIRTIO_MMIO_STATUS, status | VIRTIO_CONFIG_S_DRIVER_OK);
    return 0;
}

static uint16_t take_desc(struct vq *q)
{
    uint16_t i = q->free_head;

    q->free_head = q->desc[i].next;
    q->num_free--;
    return i;
}

static void fill(struct vring_desc *desc, const struct vbuf *b, int n,
                 const uint16_t *idx)
{
    for (int i = 0; i < n; i++) {
        struct vring_desc *e = &desc[idx[i]];

        e->addr = b[i].gpa;
        e->len = b[i].len;
        e->flags = (b[i].device_writes ? VRING_DESC_F_WRITE : 0) |
                   (i + 1 < n ? VRING_DESC_F_NEXT : 0);
        e->next = i + 1 < n ? idx[i + 1] : 0;
    }
}

static void publish(struct vq *q, uint16_t head)
{
    q->avail->ring[q->avail_idx % q->num] = head;
    __atomic_thread_fence(__ATOMIC_RELEASE);
    q->avail_idx++;
    q->avail->idx = q->avail_idx;
}

/*
 * Grant mode: each buffer gets grants of its own, read-only when the
 * device only reads it (DMA_TO_DEVICE), as Linux's dma_map_page does.
 */
static bool grant_bufs(struct vdev *d, struct vgrant *g, struct vbuf *out,
                       const struct vbuf *b, int n)
{
    for (int i = 0; i < n; i++) {
        out[i] = b[i];
        out[i].gpa = dma_map(d, &g[i], b[i].gpa, b[i].len,
                             !b[i].device_writes);
        if (!out[i].gpa) {
            while (i--) {
                dma_unmap(d, &g[i]);
            }
            return false;
        }
    }
    return true;
}

int vq_add(struct vdev *d, struct vq *q, const struct vbuf *b, int n)
{
    uint16_t idx[VQ_SIZE];
    struct vgrant g[VQ_CHAIN_GRANTS] = { 0 };
    struct vbuf dev[VQ_CHAIN_GRANTS];
    uint16_t head;

    if (d->grants) {
        if (n + 1 > VQ_CHAIN_GRANTS || !grant_bufs(d, g, dev, b, n)) {
            return -1;
        }
        b = dev;
    }
    if (d->indirect && n > 1) {
        struct vring_desc *table;
        uint64_t table_gpa;

        if (q->num_free < 1) {
            goto full;
        }
        head = take_desc(q);
        table_gpa = q->indirect_gpa + head * 16 * q->num;
        table = guest_ptr(d->s, table_gpa, 16 * n);
        for (int i = 0; i < n; i++) {
            idx[i] = i;
        }
        fill(table, b, n, idx);
        q->desc[head] = (struct vring_desc) {
            /* Linux maps the table DMA_TO_DEVICE: a read-only grant */
            .addr = d->grants ? dma_map(d, &g[n], table_gpa, 16 * n, true)
                              : table_gpa,
            .len = 16 * n, .flags = VRING_DESC_F_INDIRECT,
        };
        q->chain_len[head] = 1;
    } else {
        if (q->num_free < n) {
            goto full;
        }
        for (int i = 0; i < n; i++) {
            idx[i] = take_desc(q);
        }
        fill(q->desc, b, n, idx);
        head = idx[0];
        q->chain_len[head] = n;
    }
    memcpy(q->chain_grant[head], g, sizeof(g));
    q->chain_grants[head] = d->grants ? n + 1 : 0;
    publish(q, head);
    return head;

full:
    for (int i = 0; i < n; i++) {
        dma_unmap(d, &g[i]);
    }
    return -1;
}

void vq_kick(struct vdev *d, struct vq *q)
{
    uint16_t old = q->kicked_at, new = q->avail_idx;
    bool notify;

    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (d->event_idx) {
        uint16_t event = q->used->ring[q->num].id;  /* avail_event */

        notify = (uint16_t)(new - event - 1) < (uint16_t)(new - old);
    } else {
        notify = !(q->used->flags & VRING_USED_F_NO_NOTIFY);
    }
    q->kicked_at = new;
    if (notify) {
        wr(d, VIRTIO_MMIO_QUEUE_NOTIFY, q->index);
    }
}

int vq_pop(struct vdev *d, struct vq *q, uint32_t *len)
{
    struct vring_used_elem *e;
    uint16_t head, i;

    if (q->last_used == q->used->idx) {
        return -1;
    }
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    e = &q->used->ring[q->last_used % q->num];
    head = e->id;
    if (len) {
        *len = e->len;
    }
    q->last_used++;
    /* Return the chain to the free list. */
    i = head;
    for (int n = q->chain_len[head]; n > 1; n--) {
        i = q->desc[i].next;
    }
    q->desc[i].next = q->free_head;
    q->free_head = head;
    q->num_free += q->chain_len[head];
    for (i = 0; i < q->chain_grants[head]; i++) {
        dma_unmap(d, &q->chain_grant[head][i]);
    }
    q->chain_grants[head] = 0;
    return head;
}

static void take_irq(struct vdev *d)
{
    uint32_t isr = rd(d, VIRTIO_MMIO_INTERRUPT_STATUS);

    wr(d, VIRTIO_MMIO_INTERRUPT_ACK, isr);
    guest_eoi(d->s, d->irq);
    __atomic_fetch_add(&d->irqs, 1, __ATOMIC_RELAXED);
}

int vq_wait(struct vdev *d, struct vq *q, int timeout_ms)
{
    struct timespec end, now;

    deadline_in(&end, timeout_ms);
    for (;;) {
        long left;

        if (d->event_idx) {
            /* used_event: interrupt me for the next completion. */
            q->avail->ring[q->num] = q->last_used;
            __atomic_thread_fence(__ATOMIC_SEQ_CST);
        }
        if (q->last_used != q->used->idx) {
            return 0;
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        left = (end.tv_sec - now.tv_sec) * 1000 +
               (end.tv_nsec - now.tv_nsec) / 1000000;
        if (left <= 0) {
            return -ETIMEDOUT;
        }
        /*
         * Several threads (vcpus) may wait on queues of one device: the
         * one that takes the shared SPI acknowledges it, the others look
         * at their rings again after a short while.
         */
        if (__atomic_load_n(&d->threads, __ATOMIC_ACQUIRE) > 1) {
            if (guest_wait_irq(d->s, d->irq, left < 20 ? left : 20) == 0) {
                take_irq(d);
            }
            continue;
        }
        if (guest_wait_irq(d->s, d->irq, left) < 0) {
            return -ETIMEDOUT;
        }
        take_irq(d);
    }
}
