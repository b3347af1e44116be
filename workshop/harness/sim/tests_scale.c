/*
 * Tests at the sizes users run: guest RAM in Xen's second bank, all
 * eleven transports busy at once, and disk I/O beyond 4 GiB at the
 * queue's segment limit.  Each checks where every byte landed.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_net.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include "harness.h"
#include "virtio.h"

#define RING_FEATURES (1ULL << VIRTIO_RING_F_EVENT_IDX | \
                       1ULL << VIRTIO_RING_F_INDIRECT_DESC)
#define TIMEOUT_MS  10000
#define SECTOR      512
#define GIB         (1ULL << 30)
#define RAM0_TOP    (RAM0_BASE + RAM0_SIZE)

/*
 * Every 512-byte sector written says which sector it is and which pass
 * wrote it, in every word: a sector that lands elsewhere, or a piece of
 * one, is caught and named.
 */
static uint64_t sector_word(uint64_t sector, unsigned seed, unsigned i)
{
    uint64_t z = sector * 64 + i + ((uint64_t)seed << 48);

    z = (z ^ (z >> 31)) * 0x9e3779b97f4a7c15ULL;
    return z ^ (z >> 29);
}

static void sector_fill(void *p, uint64_t sector, unsigned seed)
{
    uint64_t *w = p;

    w[0] = sector;
    w[1] = seed;
    for (unsigned i = 2; i < SECTOR / 8; i++) {
        w[i] = sector_word(sector, seed, i);
    }
}

/* Does p hold sector's data of pass seed?  Reports what it holds if not. */
static bool sector_ok(const void *p, uint64_t sector, unsigned seed,
                      const char *where)
{
    const uint64_t *w = p;

    if (w[0] == sector && w[1] == seed) {
        for (unsigned i = 2; i < SECTOR / 8; i++) {
            if (w[i] != sector_word(sector, seed, i)) {
                report("%s: sector %lu, word %u differs", where,
                       (unsigned long)sector, i);
                return false;
            }
        }
        return true;
    }
    report("%s: want sector %lu of pass %u, found words 0x%lx 0x%lx (a "
           "sector number and pass if misplaced)", where,
           (unsigned long)sector, seed, (unsigned long)w[0],
           (unsigned long)w[1]);
    return false;
}

static bool all_bytes(const uint8_t *p, size_t len, uint8_t v)
{
    for (size_t i = 0; i < len; i++) {
        if (p[i] != v) {
            return false;
        }
    }
    return true;
}

/* The next allocations of the guest start at gpa. */
static void alloc_from(struct sim *s, uint64_t gpa)
{
    pthread_mutex_lock(&s->lock);
    s->alloc_next = gpa;
    pthread_mutex_unlock(&s->lock);
}

static int sparse_disk(struct ctx *c, const char *name, uint64_t size,
                       char *path, size_t len)
{
    int fd;

    snprintf(path, len, "%s/%s", c->workdir, name);
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || ftruncate(fd, size) < 0) {
        report("cannot create %s: %s", path, strerror(errno));
        return -1;
    }
    return fd;
}

/* A data segment of a request: guest address, length in sectors */
struct seg {
    uint64_t gpa;
    uint32_t sectors;
};

/* r with the n segments seg[] as its data, one chain; its head or -1. */
static int submit_segs(struct vdev *d, struct vq *q, struct blk_req *r,
                       const struct seg *seg, int n)
{
    struct vbuf b[VQ_SIZE];

    if (n + 2 > VQ_SIZE) {
        return -1;
    }
    b[0] = (struct vbuf) { r->hdr, sizeof(struct virtio_blk_outhdr) };
    for (int i = 0; i < n; i++) {
        b[1 + i] = (struct vbuf) { seg[i].gpa, seg[i].sectors * SECTOR,
                                   r->type == VIRTIO_BLK_T_IN };
    }
    b[n + 1] = (struct vbuf) { r->status, 1, true };
    r->head = vq_add(d, q, b, n + 2);
    return r->head;
}

static enum result run_reqs(struct vdev *d, struct blk_req *r, int n)
{
    vq_kick(d, &d->vq[0]);
    return blk_complete(d, &d->vq[0], r, n);
}

/*
 * The image holds pass seed's sectors [first, first + n), and the sector
 * before and after them nothing of that pass (a request that spilled).
 */
static enum result check_image(int fd, uint64_t first, uint64_t n,
                               unsigned seed)
{
    uint8_t buf[SECTOR];
    char where[64];

    for (uint64_t s = first; s < first + n; s++) {
        CHECK(pread(fd, buf, SECTOR, s * SECTOR) == SECTOR,
              "image read at sector %lu", (unsigned long)s);
        snprintf(where, sizeof(where), "image sector %lu",
                 (unsigned long)s);
        if (!sector_ok(buf, s, seed, where)) {
            return FAIL;
        }
    }
    for (int side = 0; side < 2; side++) {
        uint64_t s = side ? first + n : first - 1;

        if (pread(fd, buf, SECTOR, s * SECTOR) == SECTOR) {
            CHECK(((uint64_t *)buf)[1] != seed, "image sector %lu, next to "
                  "sectors %lu-%lu, was written by the same pass",
                  (unsigned long)s, (unsigned long)first,
                  (unsigned long)(first + n - 1));
        }
    }
    return PASS;
}

/* ---- guest RAM in Xen's second bank ----------------------------------- */

#define BIG_RAM_MIB 6144        /* 3 GiB in bank 0, 3 GiB in bank 1 */
#define RAM1_TOP    (RAM1_BASE + (BIG_RAM_MIB - 3072ULL) * (1 << 20))

/*
 * A guest of 6 GiB: Xen gives it 3 GiB at 0x40000000 and 3 GiB at
 * 0x200000000, the second bank from offset 3 GiB of the RAM file, so it
 * spans offset 4 GiB.  One disk has its rings in bank 1, across offset
 * 4 GiB and a map cache bucket boundary; the other its rings and
 * indirect tables just below the top of bank 0, all 128 in use at once.
 * Requests carry data in bank 1, and a chain runs from the last bytes of
 * bank 0 into the first of bank 1 and the last page of bank 1.  Every
 * sector must land where the guest put it, and nothing next to it; a
 * buffer running off the top of bank 0 must fail.
 */
static enum result test_ram_bank1(struct ctx *c)
{
    struct sim *s = c->s;
    int fd0, fd1;
    /* Top of bank 0 (12 KiB), bottom of bank 1 (8 KiB), its last page */
    const struct seg cross[3] = {
        { RAM0_TOP - 12288, 24 }, { RAM1_BASE, 16 }, { RAM1_TOP - 4096, 8 },
    };
    const uint64_t canary[2] = { RAM0_TOP - 16384, RAM1_BASE + 8192 };
    struct blk_req r[VQ_SIZE];
    uint8_t host[SECTOR];
    struct vdev d0, d1;
    uint64_t slots;
    char where[64];

    CHECK(s->nr_banks == 2 && s->banks[1].file_offset == 3 * GIB &&
          RAM1_TOP == RAM1_BASE + (s->banks[1].nr_pfns << 12),
          "the simulated guest does not have 3 GiB in each bank");
    if (start_two_blk(c, false, &d0, &d1, &fd0, &fd1) != PASS) {
        return FAIL;
    }

    /* d0: used ring at RAM file offset 4 GiB, a bucket boundary */
    alloc_from(s, RAM1_BASE + GIB - 8192);
    CHECK(vdev_init(&d0, RING_FEATURES | 1ULL << VIRTIO_BLK_F_FLUSH, 1) ==
          0, "virtio-blk with its rings in bank 1");
    CHECK(d0.vq[0].used_gpa == RAM1_BASE + GIB, "used ring at 0x%lx",
          (unsigned long)d0.vq[0].used_gpa);
    /* d1: the last indirect table ends 16 KiB below the top of bank 0 */
    alloc_from(s, canary[0] - 3 * 4096 - 16 * VQ_SIZE * VQ_SIZE);
    CHECK(vdev_init(&d1, RING_FEATURES, 1) == 0,
          "virtio-blk with its rings at the top of bank 0");
    CHECK(d1.vq[0].num == VQ_SIZE && d1.vq[0].indirect_gpa +
          16 * VQ_SIZE * VQ_SIZE == canary[0], "indirect tables at 0x%lx",
          (unsigned long)d1.vq[0].indirect_gpa);

    /* Writes and reads with every buffer 2 GiB into bank 1 */
    alloc_from(s, RAM1_BASE + 2 * GIB - 4096);
    if (blk_roundtrip(c, &d0, fd0, 70) != PASS) {
        return FAIL;
    }

    /* d1: a full ring of reads into bank 1, each next to a canary */
    for (uint64_t i = 0; i < VQ_SIZE; i++) {
        sector_fill(host, i, 71);
        CHECK(pwrite(fd1, host, SECTOR, i * SECTOR) == SECTOR, "image");
    }
    slots = guest_alloc(s, VQ_SIZE * 2 * SECTOR, 4096);
    memset(guest_ptr(s, slots, VQ_SIZE * 2 * SECTOR), 0xc5,
           VQ_SIZE * 2 * SECTOR);
    for (int i = 0; i < VQ_SIZE; i++) {
        blk_prepare(s, &r[i], VIRTIO_BLK_T_IN, i, SECTOR,
                    slots + 2 * SECTOR * i);
        CHECK(blk_submit(&d1, &d1.vq[0], &r[i]) >= 0, "ring full at %d", i);
    }
    if (run_reqs(&d1, r, VQ_SIZE) != PASS) {
        return FAIL;
    }
    for (int i = 0; i < VQ_SIZE; i++) {
        uint8_t *p = guest_ptr(s, slots + 2 * SECTOR * i, 2 * SECTOR);

        snprintf(where, sizeof(where), "read %d into bank 1", i);
        CHECK(sector_ok(p, i, 71, where), "full ring read %d", i);
        CHECK(all_bytes(p + SECTOR, SECTOR, 0xc5), "the canary after "
              "read %d was overwritten", i);
    }

    /* A chain from the top of bank 0 into bank 1 and to its very end */
    for (int i = 0; i < 2; i++) {
        memset(guest_ptr(s, canary[i], 4096), 0xc5, 4096);
    }
    for (uint64_t pass = 0, sector = 4000; pass < 2; pass++) {
        uint64_t n = 0;

        for (int k = 0; k < 3; k++) {
            uint8_t *p = guest_ptr(s, cross[k].gpa, cross[k].sectors *
                                   SECTOR);

            for (uint32_t j = 0; j < cross[k].sectors; j++, n++) {
                if (pass == 0) {
                    sector_fill(p + j * SECTOR, sector + n, 72);
                } else {
                    memset(p + j * SECTOR, 0xee, SECTOR);
                }
            }
        }
        blk_prepare(s, &r[0], pass ? VIRTIO_BLK_T_IN : VIRTIO_BLK_T_OUT,
                    sector, n * SECTOR, 0);
        CHECK(submit_segs(&d0, &d0.vq[0], &r[0], cross, 3) >= 0, "ring");
        if (run_reqs(&d0, r, 1) != PASS) {
            return FAIL;
        }
        if (pass == 0 && check_image(fd0, sector, n, 72) != PASS) {
            return FAIL;
        }
    }
    for (int k = 0, n = 0; k < 3; k++) {
        for (uint32_t j = 0; j < cross[k].sectors; j++, n++) {
            snprintf(where, sizeof(where), "read back to 0x%lx",
                     (unsigned long)(cross[k].gpa + j * SECTOR));
            CHECK(sector_ok(guest_ptr(s, cross[k].gpa + j * SECTOR,
                                      SECTOR), 4000 + n, 72, where),
                  "chain across the banks: segment %d", k);
        }
    }
    for (int i = 0; i < 2; i++) {
        CHECK(all_bytes(guest_ptr(s, canary[i], 4096), 4096, 0xc5),
              "the page at 0x%lx, next to a segment, was written",
              (unsigned long)canary[i]);
    }

    /* One buffer from the last 2 KiB of bank 0 into the hole above */
    blk_prepare(s, &r[0], VIRTIO_BLK_T_OUT, 16, 4096, RAM0_TOP - 2048);
    if (blk_expect_failure(c, &d1, &r[0], fd1, "running off the top of "
                           "bank 0") != PASS) {
        return FAIL;
    }
    CHECK(log_has(c->dm_log, "virtio: bogus descriptor"),
          "the buffer off the top of bank 0 was not logged");
    if (blk_roundtrip(c, &d0, fd0, 73) != PASS) {
        return FAIL;
    }
    close(fd0);
    close(fd1);
    return dm_alive(c) ? PASS : FAIL;
}

/* ---- big I/O ----------------------------------------------------------- */

#define BIG_DISK    (6 * GIB)

/*
 * Sizes for n segments: 1 to 16 sectors, after shape; then, if total is
 * not 0, changed a sector at a time until they add up to total.  Returns
 * the sum.
 */
static uint64_t seg_sizes(struct seg *seg, int n, unsigned shape,
                          uint64_t total)
{
    uint64_t sum = 0;

    for (int i = 0; i < n; i++) {
        seg[i].sectors = 1 + (i * 7 + shape) % 16;
        sum += seg[i].sectors;
    }
    for (int i = 0; total && sum != total; i = (i + 1) % n) {
        if (sum < total) {
            seg[i].sectors++;
            sum++;
        } else if (seg[i].sectors > 1) {
            seg[i].sectors--;
            sum--;
        }
    }
    return sum;
}

/* Guest memory for the segments, out of order (segment i at the
 * (i * 37 mod n)th place), a sector's gap after each. */
static void place_segs(struct sim *s, struct seg *seg, int n)
{
    for (int k = 0; k < n; k++) {
        int i = k * 37 % n;

        seg[i].gpa = guest_alloc(s, (seg[i].sectors + 1) * SECTOR, SECTOR);
    }
}

/* Fill the segments with sectors from first (write) or with 0xee (read). */
static void fill_segs(struct sim *s, const struct seg *seg, int n,
                      uint64_t first, unsigned seed, bool write)
{
    for (int i = 0; i < n; i++) {
        uint8_t *p = guest_ptr(s, seg[i].gpa, seg[i].sectors * SECTOR);

        for (uint32_t j = 0; j < seg[i].sectors; j++, first++) {
            if (write) {
                sector_fill(p + j * SECTOR, first, seed);
            } else {
                memset(p + j * SECTOR, 0xee, SECTOR);
            }
        }
    }
}

static enum result check_segs(struct sim *s, const struct seg *seg, int n,
                              uint64_t first, unsigned seed)
{
    char where[80];

    for (int i = 0; i < n; i++) {
        uint8_t *p = guest_ptr(s, seg[i].gpa, seg[i].sectors * SECTOR);

        for (uint32_t j = 0; j < seg[i].sectors; j++, first++) {
            snprintf(where, sizeof(where), "read segment %d of %d, sector "
                     "%u of it", i, n, j);
            if (!sector_ok(p + j * SECTOR, first, seed, where)) {
                return FAIL;
            }
        }
        CHECK(all_bytes(p + seg[i].sectors * SECTOR, SECTOR, 0),
              "the sector after read segment %d of %d was written", i, n);
    }
    return PASS;
}

/*
 * Requests of seg_max data segments each, with indirect descriptors (all
 * in flight at once) or as direct chains filling the whole ring, at
 * sectors across the disk's 4 GiB mark, beyond it and at its end.  Each
 * is written, checked in the image sector by sector, and read back with
 * other segment sizes.
 */
static enum result big_pass(struct ctx *c, struct vdev *d, int fd,
                            unsigned seg_max, unsigned seed)
{
    struct sim *s = c->s;
    const int nr = 3;
    struct seg wseg[nr][VQ_SIZE], rseg[nr][VQ_SIZE];
    struct blk_req r[nr], fl;
    uint64_t first[nr], len[nr];
    int inflight = d->indirect ? nr : 1;

    for (int i = 0; i < nr; i++) {
        len[i] = seg_sizes(wseg[i], seg_max, seed + i, 0);
        place_segs(s, wseg[i], seg_max);
        /* Other sizes for the read: sectors cross segment ends */
        seg_sizes(rseg[i], seg_max, seed + i + 5, len[i]);
        place_segs(s, rseg[i], seg_max);
    }
    first[0] = 4 * GIB / SECTOR - len[0] / 2 - seed;   /* across 4 GiB */
    first[1] = 5 * GIB / SECTOR + 12345 * seed;
    first[2] = BIG_DISK / SECTOR - len[2];             /* the last ones */
    for (int i = 0; i < nr; i++) {
        fill_segs(s, wseg[i], seg_max, first[i], seed, true);
        blk_prepare(s, &r[i], VIRTIO_BLK_T_OUT, first[i], len[i] * SECTOR,
                    0);
    }
    for (int i = 0; i < nr; i += inflight) {
        for (int j = i; j < i + inflight; j++) {
            CHECK(submit_segs(d, &d->vq[0], &r[j], wseg[j], seg_max) >= 0,
                  "a write of %u segments does not fit the ring", seg_max);
        }
        if (run_reqs(d, &r[i], inflight) != PASS) {
            return FAIL;
        }
    }
    blk_prepare(s, &fl, VIRTIO_BLK_T_FLUSH, 0, 0, 0);
    CHECK(blk_submit(d, &d->vq[0], &fl) >= 0, "ring");
    if (run_reqs(d, &fl, 1) != PASS) {
        return FAIL;
    }
    for (int i = 0; i < nr; i++) {
        if (check_image(fd, first[i], len[i], seed) != PASS) {
            report("write %d of %u segments, sectors %lu-%lu", i, seg_max,
                   (unsigned long)first[i],
                   (unsigned long)(first[i] + len[i] - 1));
            return FAIL;
        }
    }
    for (int i = 0; i < nr; i++) {
        fill_segs(s, rseg[i], seg_max, 0, 0, false);
        blk_prepare(s, &r[i], VIRTIO_BLK_T_IN, first[i], len[i] * SECTOR,
                    0);
    }
    for (int i = 0; i < nr; i += inflight) {
        for (int j = i; j < i + inflight; j++) {
            CHECK(submit_segs(d, &d->vq[0], &r[j], rseg[j], seg_max) >= 0,
                  "a read of %u segments does not fit the ring", seg_max);
        }
        if (run_reqs(d, &r[i], inflight) != PASS) {
            return FAIL;
        }
    }
    for (int i = 0; i < nr; i++) {
        if (check_segs(s, rseg[i], seg_max, first[i], seed) != PASS) {
            return FAIL;
        }
    }
    return PASS;
}

/*
 * A 6 GiB disk (a sparse file) on a queue of 128: QEMU offers seg_max
 * 126, so a request of seg_max segments is 128 descriptors, the whole
 * ring when direct.  Both ways, the image and the read-back are checked
 * sector by sector.
 */
static enum result test_big_io(struct ctx *c)
{
    char img[300], drive[400];
    const char *args[] = {
        "-drive", drive, "-device",
        "virtio-blk-device,drive=d0,queue-size=128", NULL,
    };
    int fd = sparse_disk(c, "big.img", BIG_DISK, img, sizeof(img));
    struct vdev d;
    unsigned seg_max;
    uint64_t cap;

    snprintf(drive, sizeof(drive), "file=%s,if=none,format=raw,id=d0",
             img);
    if (fd < 0 || dm_start(c, args) < 0 || dm_wait_ready(c, 15000) < 0) {
        return FAIL;
    }
    CHECK(vdev_find(c->s, VIRTIO_ID_BLOCK, 0, &d) >= 0, "no virtio-blk");
    for (int pass = 0; pass < 2; pass++) {
        CHECK(vdev_init(&d, (pass ? 0 : RING_FEATURES) |
                        1ULL << VIRTIO_BLK_F_SEG_MAX |
                        1ULL << VIRTIO_BLK_F_FLUSH, 1) == 0,
              "virtio-blk initialisation");
        CHECK(d.indirect == !pass, "indirect descriptors %s",
              d.indirect ? "on" : "off");
        CHECK(d.features & 1ULL << VIRTIO_BLK_F_SEG_MAX, "no SEG_MAX");
        cap = vdev_config32(&d, offsetof(struct virtio_blk_config,
                                         capacity)) |
              (uint64_t)vdev_config32(&d, offsetof(struct virtio_blk_config,
                                                   capacity) + 4) << 32;
        CHECK(cap == BIG_DISK / SECTOR, "capacity %lu sectors, want %lu",
              (unsigned long)cap, (unsigned long)(BIG_DISK / SECTOR));
        seg_max = vdev_config32(&d, offsetof(struct virtio_blk_config,
                                             seg_max));
        CHECK(seg_max + 2 == d.vq[0].num, "seg_max %u on a queue of %u",
              seg_max, d.vq[0].num);
        if (big_pass(c, &d, fd, seg_max, 1 + pass) != PASS) {
            report("pass with indirect descriptors %s",
                   d.indirect ? "on" : "off");
            return FAIL;
        }
    }
    close(fd);
    return dm_alive(c) ? PASS : FAIL;
}

/* ---- all eleven transports at once ---------------------------------- */

#define NR_DEVS     VIRTIO_MMIO_SLOTS
#define NET_HDR     sizeof(struct virtio_net_hdr_v1)
#define RNG_BUFS    32

/* The devices, slot by slot: kinds side by side, so that SPIs mix. */
static const uint32_t dev_kinds[NR_DEVS] = {
    VIRTIO_ID_BLOCK, VIRTIO_ID_NET, VIRTIO_ID_CONSOLE, VIRTIO_ID_RNG,
    VIRTIO_ID_BLOCK, VIRTIO_ID_NET, VIRTIO_ID_CONSOLE, VIRTIO_ID_RNG,
    VIRTIO_ID_BLOCK, VIRTIO_ID_BLOCK, VIRTIO_ID_BLOCK,
};

struct busy {
    struct ctx *c;
    struct vdev d;
    int fd;                     /* image, host UDP socket, chardev socket */
    uint16_t qport;             /* net: QEMU's UDP port */
    pthread_barrier_t *start;
    struct timespec began, ended;
    enum result res;
    pthread_t thread;
};

static enum result rng_fill(struct ctx *c, struct vdev *d)
{
    struct sim *s = c->s;
    uint64_t buf[RNG_BUFS];
    int done = 0;

    for (int i = 0; i < RNG_BUFS; i++) {
        struct vbuf b = { guest_alloc(s, 4096, 4096), 4096, true };

        buf[i] = b.gpa;
        CHECK(vq_add(d, &d->vq[0], &b, 1) == i, "rng ring");
    }
    vq_kick(d, &d->vq[0]);
    while (done < RNG_BUFS) {
        uint32_t len;
        int head;

        CHECK(vq_wait(d, &d->vq[0], TIMEOUT_MS) == 0, "virtio-rng slot %d: "
              "%d of %d buffers filled", d->slot, done, RNG_BUFS);
        while ((head = vq_pop(d, &d->vq[0], &len)) >= 0) {
            CHECK(len > 0 && len <= 4096 &&
                  !all_bytes(guest_ptr(s, buf[head], len), len, 0),
                  "virtio-rng slot %d: buffer %d came back with %u bytes "
                  "of nothing", d->slot, head, len);
            done++;
        }
    }
    return PASS;
}

/* What a guest does with each kind of device, checked at the far end. */
static enum result busy_work(struct busy *b)
{
    struct vdev *d = &b->d;

    switch (d->device_id) {
    case VIRTIO_ID_BLOCK:
        CHECK(vdev_init(d, RING_FEATURES | 1ULL << VIRTIO_BLK_F_FLUSH, 1) ==
              0, "virtio-blk slot %d init", d->slot);
        return blk_roundtrip(b->c, d, b->fd, 80 + d->slot);
    case VIRTIO_ID_NET:
        CHECK(vdev_init(d, RING_FEATURES | 1ULL << VIRTIO_NET_F_MAC, 2) == 0,
              "virtio-net slot %d init", d->slot);
        return net_tx(b->c, d, b->fd) == PASS &&
               net_rx(b->c, d, b->fd, b->qport) == PASS ? PASS : FAIL;
    case VIRTIO_ID_CONSOLE:
        CHECK(vdev_init(d, RING_FEATURES, 2) == 0,
              "virtio-serial slot %d init", d->slot);
        return console_to_guest(b->c, d, b->fd) == PASS &&
               console_to_host(b->c, d, b->fd) == PASS ? PASS : FAIL;
    default:
        CHECK(vdev_init(d, RING_FEATURES, 1) == 0, "virtio-rng slot %d init",
              d->slot);
        return rng_fill(b->c, d);
    }
}

static void *busy_thread(void *opaque)
{
    struct busy *b = opaque;

    /* A vcpu each: a vcpu has one ioreq at a time */
    guest_set_vcpu(b->d.slot);
    pthread_barrier_wait(b->start);
    clock_gettime(CLOCK_MONOTONIC, &b->began);
    b->res = busy_work(b);
    clock_gettime(CLOCK_MONOTONIC, &b->ended);
    if (b->res != PASS) {
        report("slot %d (virtio device %u) failed", b->d.slot,
               b->d.device_id);
    }
    return NULL;
}

static bool before(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec < b->tv_sec ||
           (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

static unsigned injected(struct sim *s, unsigned irq)
{
    unsigned n;

    pthread_mutex_lock(&s->lock);
    n = s->spis[irq].injected;
    pthread_mutex_unlock(&s->lock);
    return n;
}

/*
 * One request on a quiet device: it must interrupt on its own SPI and
 * no other.  used_event is set first, as a driver re-enabling its
 * callbacks does, so that an event-index device interrupts.
 */
static enum result one_completion(struct busy *b)
{
    struct sim *s = b->c->s;
    struct vdev *d = &b->d;
    struct vq *q = &d->vq[d->device_id == VIRTIO_ID_NET ||
                          d->device_id == VIRTIO_ID_CONSOLE ? 1 : 0];
    unsigned was[MAX_IRQS];
    struct blk_req r;
    struct vbuf v[2];
    uint8_t *p;
    int n = 1;

    for (unsigned irq = 0; irq < MAX_IRQS; irq++) {
        was[irq] = injected(s, irq);
    }
    switch (d->device_id) {
    case VIRTIO_ID_BLOCK:
        blk_prepare(s, &r, VIRTIO_BLK_T_IN, 0, SECTOR,
                    guest_alloc(s, SECTOR, SECTOR));
        n = 0;
        break;
    case VIRTIO_ID_NET:
        v[0] = (struct vbuf) { guest_alloc(s, NET_HDR, 16), NET_HDR };
        v[1] = (struct vbuf) { guest_alloc(s, 60, 64), 60 };
        p = guest_ptr(s, v[1].gpa, 60);
        memset(p, 0xff, 6);         /* broadcast: out to the host socket */
        n = 2;
        break;
    case VIRTIO_ID_CONSOLE:
        v[0] = (struct vbuf) { guest_alloc(s, 1, 1), 1 };
        break;
    default:
        v[0] = (struct vbuf) { guest_alloc(s, 64, 64), 64, true };
        break;
    }
    if (d->event_idx) {
        q->avail->ring[q->num] = q->last_used;
    }
    CHECK((n ? vq_add(d, q, v, n) : blk_submit(d, q, &r)) >= 0,
          "slot %d: ring full", d->slot);
    vq_kick(d, q);
    CHECK(vq_wait(d, q, TIMEOUT_MS) == 0 && vq_pop(d, q, NULL) >= 0,
          "slot %d: request not completed", d->slot);
    for (int ms = 0; ms < 2000 && injected(s, d->irq) == was[d->irq]; ms++) {
        usleep(1000);
    }
    for (unsigned irq = 0; irq < MAX_IRQS; irq++) {
        CHECK((irq == d->irq) == (injected(s, irq) != was[irq]),
              "a completion of slot %d (virtio device %u, SPI %u) %s SPI "
              "%u", d->slot, d->device_id, d->irq,
              irq == d->irq ? "did not raise" : "raised", irq);
    }
    guest_eoi(s, d->irq);
    return PASS;
}

/*
 * Eleven devices of four kinds on all eleven transports, each driven by
 * its own vcpu at the same time: disks written and read back, frames
 * both ways, console data both ways, entropy.  All eleven must be busy
 * at one moment, each interrupt must come on its transport's SPI, and
 * one request on a quiet device raises that SPI and no other.
 */
static enum result test_eleven(struct ctx *c)
{
    struct sim *s = c->s;
    char path[NR_DEVS][300], spec[NR_DEVS][3][400];
    const char *args[MAX_DM_ARGS];
    struct busy b[NR_DEVS];
    pthread_barrier_t start;
    unsigned nargs = 0, max_inflight = 0, done = 0;
    int count[VIRTIO_ID_RNG + 1] = { 0 };
    struct timespec last_start, first_end;

    memset(b, 0, sizeof(b));
    for (int i = 0; i < NR_DEVS; i++) {
        int k = count[dev_kinds[i]]++;
        uint16_t hport;
        int tmp;

        b[i].c = c;
        b[i].fd = -1;
        switch (dev_kinds[i]) {
        case VIRTIO_ID_BLOCK:
            snprintf(spec[i][2], sizeof(spec[i][2]), "disk%d.img", k);
            b[i].fd = make_disk(c, spec[i][2], path[i], sizeof(path[i]));
            snprintf(spec[i][0], sizeof(spec[i][0]),
                     "file=%s,if=none,format=raw,id=d%d", path[i], k);
            snprintf(spec[i][1], sizeof(spec[i][1]),
                     "virtio-blk-device,drive=d%d", k);
            args[nargs++] = "-drive";
            args[nargs++] = spec[i][0];
            break;
        case VIRTIO_ID_NET:
            b[i].fd = udp_socket(&hport);
            tmp = udp_socket(&b[i].qport);
            CHECK(b[i].fd >= 0 && tmp >= 0, "UDP sockets");
            close(tmp);     /* QEMU binds this port itself */
            snprintf(spec[i][0], sizeof(spec[i][0]), "socket,id=n%d,"
                     "udp=127.0.0.1:%u,localaddr=127.0.0.1:%u", k, hport,
                     b[i].qport);
            snprintf(spec[i][1], sizeof(spec[i][1]),
                     "virtio-net-device,netdev=n%d", k);
            args[nargs++] = "-netdev";
            args[nargs++] = spec[i][0];
            break;
        case VIRTIO_ID_CONSOLE:
            snprintf(path[i], sizeof(path[i]), "%s/console%d.sock",
                     c->workdir, k);
            snprintf(spec[i][0], sizeof(spec[i][0]),
                     "socket,id=c%d,path=%s,server=on,wait=off", k, path[i]);
            snprintf(spec[i][1], sizeof(spec[i][1]),
                     "virtio-serial-device,id=vs%d", k);
            snprintf(spec[i][2], sizeof(spec[i][2]),
                     "virtconsole,chardev=c%d,bus=vs%d.0", k, k);
            args[nargs++] = "-chardev";
            args[nargs++] = spec[i][0];
            break;
        default:
            snprintf(spec[i][1], sizeof(spec[i][1]), "virtio-rng-device");
            break;
        }
        CHECK(dev_kinds[i] != VIRTIO_ID_BLOCK || b[i].fd >= 0, "disk");
        /* -device in slot order: each takes the next transport */
        args[nargs++] = "-device";
        args[nargs++] = spec[i][1];
        if (dev_kinds[i] == VIRTIO_ID_CONSOLE) {
            args[nargs++] = "-device";
            args[nargs++] = spec[i][2];
        }
    }
    args[nargs] = NULL;
    if (dm_start(c, args) < 0 || dm_wait_ready(c, 15000) < 0) {
        return FAIL;
    }
    memset(count, 0, sizeof(count));
    for (int i = 0; i < NR_DEVS; i++) {
        CHECK(vdev_find(s, dev_kinds[i], count[dev_kinds[i]]++, &b[i].d) ==
              i, "slot %d does not hold virtio device %u", i, dev_kinds[i]);
        if (dev_kinds[i] == VIRTIO_ID_CONSOLE) {
            struct sockaddr_un sa = { .sun_family = AF_UNIX };

            CHECK(strlen(path[i]) < sizeof(sa.sun_path), "path too long");
            strcpy(sa.sun_path, path[i]);
            b[i].fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
            CHECK(connect(b[i].fd, (struct sockaddr *)&sa, sizeof(sa)) == 0,
                  "connect to %s: %s", path[i], strerror(errno));
        }
    }

    pthread_barrier_init(&start, NULL, NR_DEVS + 1);
    for (int i = 0; i < NR_DEVS; i++) {
        b[i].start = &start;
        pthread_create(&b[i].thread, NULL, busy_thread, &b[i]);
    }
    pthread_barrier_wait(&start);
    /* The guest's vcpus waiting on QEMU at once, sampled */
    while (done < NR_DEVS) {
        pthread_mutex_lock(&s->lock);
        max_inflight = s->inflight > max_inflight ? s->inflight
                                                  : max_inflight;
        pthread_mutex_unlock(&s->lock);
        usleep(500);
        done = 0;
        for (int i = 0; i < NR_DEVS; i++) {
            done += __atomic_load_n(&b[i].ended.tv_sec, __ATOMIC_ACQUIRE) != 0;
        }
    }
    last_start = b[0].began;
    first_end = b[0].ended;
    for (int i = 0; i < NR_DEVS; i++) {
        pthread_join(b[i].thread, NULL);
        CHECK(b[i].res == PASS, "slot %d failed", i);
        last_start = before(&last_start, &b[i].began) ? b[i].began
                                                      : last_start;
        first_end = before(&b[i].ended, &first_end) ? b[i].ended : first_end;
    }
    pthread_barrier_destroy(&start);
    report("eleven devices: at most %u ioreqs in flight at once",
           max_inflight);
    CHECK(before(&last_start, &first_end), "the eleven devices were never "
          "all busy at the same time");
    CHECK(max_inflight >= 4, "at most %u vcpus waited on QEMU at once",
          max_inflight);
    for (int i = 0; i < NR_DEVS; i++) {
        CHECK(injected(s, b[i].d.irq) > 0, "slot %d never raised its SPI %u",
              i, b[i].d.irq);
    }
    for (unsigned irq = 0; irq < MAX_IRQS; irq++) {
        CHECK((irq >= VIRTIO_FIRST_SPI &&
               irq < VIRTIO_FIRST_SPI + NR_DEVS) || injected(s, irq) == 0,
              "SPI %u, no transport's, was raised %u times", irq,
              injected(s, irq));
    }
    /* Quiet now: a request per device, one device at a time */
    for (int i = 0; i < NR_DEVS; i++) {
        if (one_completion(&b[i]) != PASS) {
            return FAIL;
        }
    }
    for (int i = 0; i < NR_DEVS; i++) {
        close(b[i].fd);
    }
    return dm_alive(c) ? PASS : FAIL;
}

/* The device model's foreign mapping calls so far */
static unsigned foreign_maps(struct sim *s)
{
    unsigned n;

    pthread_mutex_lock(&s->lock);
    n = s->calls[XFV_OP_FMEM_MAP];
    pthread_mutex_unlock(&s->lock);
    return n;
}

/*
 * The map cache maps guest RAM a bucket (1 MiB) at a time for DMA. Reads
 * alternating between a buffer inside a bucket and one that crosses into
 * the next must reuse the buckets' mappings, not map them again for each.
 */
static enum result test_mapcache_reuse(struct ctx *c)
{
    struct sim *s = c->s;
    const int rounds = 64;
    struct blk_req r[2];
    struct vdev d0, d1;
    uint64_t bucket, inside, across;
    unsigned maps0, maps;
    int fd0, fd1;

    if (start_two_blk(c, false, &d0, &d1, &fd0, &fd1) != PASS) {
        return FAIL;
    }
    CHECK(vdev_init(&d0, 0, 1) == 0, "init");
    if (blk_roundtrip(c, &d0, fd0, 80) != PASS) {
        return FAIL;
    }
    /* Two buffers of a bucket no ring or earlier buffer is in */
    bucket = (guest_alloc(s, 4 << 20, 1 << 20) + (1 << 20)) & ~0xfffffULL;
    inside = bucket + 0x1000;
    across = bucket + (1 << 20) - 2048;
    maps0 = foreign_maps(s);
    for (int i = 0; i < rounds; i++) {
        blk_prepare(s, &r[0], VIRTIO_BLK_T_IN, 8, SECTOR, inside);
        blk_prepare(s, &r[1], VIRTIO_BLK_T_IN, 16, 4096, across);
        for (int k = 0; k < 2; k++) {
            CHECK(blk_submit(&d0, &d0.vq[0], &r[k]) >= 0, "ring full");
            if (run_reqs(&d0, &r[k], 1) != PASS) {
                return FAIL;
            }
        }
    }
    maps = foreign_maps(s) - maps0;
    report("%d reads alternating inside bucket 0x%lx and across its end: "
           "%u foreign maps", 2 * rounds, (unsigned long)(bucket >> 20),
           maps);
    CHECK(maps <= 4, "%u foreign maps for %d reads of two buffers: the map "
          "cache remaps the same buckets again and again", maps, 2 * rounds);
    return blk_roundtrip(c, &d0, fd0, 81);
}

/*
 * Xen invalidates the map cache when the guest gives memory back.  The
 * mappings of the rings stay for the device, but no longer serve other
 * accesses; requests whose buffers share the rings' bucket must then be
 * served by one new mapping of the bucket, not a mapping per request.
 */
static enum result test_mapcache_invalidated(struct ctx *c)
{
    struct sim *s = c->s;
    const int rounds = 64;
    struct blk_req r;
    struct vdev d0, d1;
    uint64_t bucket, buf, hdrs, next;
    unsigned maps0, maps;
    int fd0, fd1;

    if (start_two_blk(c, false, &d0, &d1, &fd0, &fd1) != PASS) {
        return FAIL;
    }
    /* Buffers, rings and request headers all in one fresh bucket */
    bucket = (guest_alloc(s, 2 << 20, 1 << 20) + (1 << 20)) & ~0xfffffULL;
    alloc_from(s, bucket);
    buf = guest_alloc(s, SECTOR, 4096);
    hdrs = guest_alloc(s, rounds * 64, 4096);
    CHECK(vdev_init(&d0, 0, 1) == 0, "init");
    CHECK(d0.vq[0].used_gpa >> 20 == bucket >> 20, "rings not in bucket "
          "0x%lx", (unsigned long)(bucket >> 20));
    if (blk_roundtrip(c, &d0, fd0, 82) != PASS) {
        return FAIL;
    }
    CHECK(guest_invalidate(s, 0) == 0, "invalidation not answered");
    next = guest_alloc(s, 0, 4096);
    alloc_from(s, hdrs);
    maps0 = foreign_maps(s);
    for (int i = 0; i < rounds; i++) {
        blk_prepare(s, &r, VIRTIO_BLK_T_IN, i, SECTOR, buf);
        CHECK(r.status >> 20 == bucket >> 20, "request %d outside bucket "
              "0x%lx", i, (unsigned long)(bucket >> 20));
        CHECK(blk_submit(&d0, &d0.vq[0], &r) >= 0, "ring full");
        if (run_reqs(&d0, &r, 1) != PASS) {
            return FAIL;
        }
    }
    maps = foreign_maps(s) - maps0;
    report("%d reads in the rings' bucket after an invalidation: %u "
           "foreign maps", rounds, maps);
    CHECK(maps <= 2, "%u foreign maps for %d reads in one bucket: the map "
          "cache maps it again for each request", maps, rounds);
    alloc_from(s, next);
    return blk_roundtrip(c, &d0, fd0, 83);
}

const struct test tests_scale[] = {
    { "ram-bank1", test_ram_bank1, 1 << DM_QEMU,
      "6 GiB guest: rings and buffers in RAM bank 1 and at the top of bank "
      "0, a chain across both, every sector where the guest put it",
      .ram_mib = BIG_RAM_MIB },
    { "big-io", test_big_io, 1 << DM_QEMU,
      "6 GiB sparse disk: seg_max-segment requests, indirect and direct, "
      "beyond 4 GiB, each sector checked in the image and read back" },
    { "mapcache-reuse", test_mapcache_reuse, 1 << DM_QEMU,
      "reads alternating inside a 1 MiB map cache bucket and across its "
      "end: the buckets are not remapped for each" },
    { "mapcache-invalidated", test_mapcache_invalidated, 1 << DM_QEMU,
      "after an invalidation, reads in the bucket of the rings (whose "
      "mappings stay) map the bucket once, not once per request" },
    { "eleven-devices", test_eleven, 1 << DM_QEMU,
      "blk, net, console and rng on all 11 transports at once, a vcpu "
      "each: data checked, each interrupt on its own SPI", .vcpus = 11 },
    { NULL },
};
