/*
 * virtio device tests against QEMU's xenfv machine: the guest driver in
 * virtio.c talks to virtio-blk, virtio-net, virtio-console and
 * virtio-gpu through the ioreq path, and the host side of each device
 * (image file, socket netdev, chardev socket, QMP screendump) is checked.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_console.h>
#include <linux/virtio_gpu.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_net.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "harness.h"
#include "virtio.h"

#define RING_FEATURES (1ULL << VIRTIO_RING_F_EVENT_IDX | \
                       1ULL << VIRTIO_RING_F_INDIRECT_DESC)
#define DISK_MIB    8
#define TIMEOUT_MS  10000

static uint8_t pattern(uint64_t where, unsigned seed)
{
    return (where * 7 + (where >> 9) * 13 + seed) & 0xff;
}

int make_disk(struct ctx *c, const char *name, char *path,
                     size_t len)
{
    int fd;

    snprintf(path, len, "%s/%s", c->workdir, name);
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || ftruncate(fd, DISK_MIB << 20) < 0) {
        report("cannot create %s: %s", path, strerror(errno));
        return -1;
    }
    return fd;
}

/* ---- virtio-blk ------------------------------------------------------- */

void blk_prepare(struct sim *s, struct blk_req *r, uint32_t type,
                 uint64_t sector, uint32_t len, uint64_t data)
{
    struct virtio_blk_outhdr *h;

    r->hdr = guest_alloc(s, sizeof(*h), 16);
    r->status = guest_alloc(s, 1, 1);
    r->data = data;
    r->type = type;
    r->len = len;
    r->sector = sector;
    h = guest_ptr(s, r->hdr, sizeof(*h));
    h->type = type;
    h->sector = sector;
    *(uint8_t *)guest_ptr(s, r->status, 1) = 0xff;
}

int blk_submit(struct vdev *d, struct vq *q, struct blk_req *r)
{
    struct vbuf b[3];
    int n = 0;

    b[n++] = (struct vbuf) { r->hdr, sizeof(struct virtio_blk_outhdr) };
    if (r->len) {
        b[n++] = (struct vbuf) { r->data, r->len, r->type == VIRTIO_BLK_T_IN };
    }
    b[n++] = (struct vbuf) { r->status, 1, true };
    r->head = vq_add(d, q, b, n);
    return r->head;
}

enum result blk_complete(struct vdev *d, struct vq *q, struct blk_req *r,
                         int n)
{
    int done = 0;

    while (done < n) {
        uint32_t len;
        int head;

        CHECK(vq_wait(d, q, TIMEOUT_MS) == 0,
              "virtio-blk queue %u: %d of %d requests completed", q->index,
              done, n);
        while ((head = vq_pop(d, q, &len)) >= 0) {
            for (int i = 0; i < n; i++) {
                uint8_t st;

                if (r[i].head != head) {
                    continue;
                }
                st = *(uint8_t *)guest_ptr(d->s, r[i].status, 1);
                CHECK(st == VIRTIO_BLK_S_OK, "request type %u sector %lu "
                      "status %u", r[i].type, (unsigned long)r[i].sector, st);
                CHECK(r[i].type != VIRTIO_BLK_T_IN || len == r[i].len + 1,
                      "read used len %u, want %u", len, r[i].len + 1);
                r[i].head = -1;
                done++;
            }
        }
    }
    return PASS;
}

static const uint32_t blk_sizes[] = {
    512, 4096, 1536, 65536, 1 << 20, 8192, 512 * 3, 131072,
};
#define NR_BLK (sizeof(blk_sizes) / sizeof(blk_sizes[0]))

/*
 * One guest thread per vcpu, each on its own queue (virtio-blk
 * multiqueue, like Linux's blk-mq): submits its share of the requests,
 * kicks from its vcpu and waits for its completions.
 */
struct blk_worker {
    struct vdev *d;
    unsigned vcpu, nthreads;
    struct blk_req *r;          /* every request; this one takes its share */
    int n;
    enum result res;
    pthread_t thread;
};

static void *blk_worker_fn(void *opaque)
{
    struct blk_worker *w = opaque;
    struct vq *q = &w->d->vq[w->vcpu % w->d->nvq];
    struct blk_req mine[NR_BLK];
    int n = 0;

    /* One thread: the caller's, on the caller's vcpu */
    if (w->nthreads > 1) {
        guest_set_vcpu(w->vcpu);
    }
    w->res = FAIL;
    for (int i = w->vcpu; i < w->n; i += w->nthreads) {
        mine[n] = w->r[i];
        if (blk_submit(w->d, q, &mine[n]) < 0) {
            report("virtio-blk queue %u full", q->index);
            return NULL;
        }
        n++;
    }
    vq_kick(w->d, q);
    w->res = blk_complete(w->d, q, mine, n);
    return NULL;
}

/* Run the n requests in r on min(vcpus, queues) threads at once. */
static enum result blk_run(struct vdev *d, struct blk_req *r, int n)
{
    struct sim *s = d->s;
    unsigned nt = s->nr_vcpus < d->nvq ? s->nr_vcpus : d->nvq;
    struct blk_worker w[MAX_VCPUS];
    enum result res = PASS;

    if (nt <= 1) {
        w[0] = (struct blk_worker) { d, 0, 1, r, n };
        blk_worker_fn(&w[0]);
        return w[0].res;
    }
    __atomic_store_n(&d->threads, nt, __ATOMIC_RELEASE);
    for (unsigned v = 0; v < nt; v++) {
        w[v] = (struct blk_worker) { d, v, nt, r, n };
        pthread_create(&w[v].thread, NULL, blk_worker_fn, &w[v]);
    }
    for (unsigned v = 0; v < nt; v++) {
        pthread_join(w[v].thread, NULL);
        res = w[v].res != PASS ? FAIL : res;
    }
    __atomic_store_n(&d->threads, 0, __ATOMIC_RELEASE);
    return res;
}

enum result blk_roundtrip(struct ctx *c, struct vdev *d, int fd,
                          unsigned seed)
{
    struct sim *s = c->s;
    struct blk_req w[NR_BLK], rd[NR_BLK], fl;
    uint64_t sector = 8;
    uint8_t *host = malloc(1 << 20);
    unsigned nt = s->nr_vcpus < d->nvq ? s->nr_vcpus : d->nvq;

    for (size_t i = 0; i < NR_BLK; i++) {
        uint64_t buf = guest_alloc(s, blk_sizes[i], 4096);
        uint8_t *p = guest_ptr(s, buf, blk_sizes[i]);

        for (uint32_t j = 0; j < blk_sizes[i]; j++) {
            p[j] = pattern(sector * 512 + j, seed);
        }
        blk_prepare(s, &w[i], VIRTIO_BLK_T_OUT, sector, blk_sizes[i], buf);
        sector += blk_sizes[i] / 512 + 1;
    }
    /*
     * All writes in flight at once.  With several vcpus, the gate holds
     * their kicks back until every vcpu has one pending, so the device
     * model finds ioreqs from all of them at the same time.
     */
    pthread_mutex_lock(&s->lock);
    s->gate = nt > 1 ? nt : 0;
    s->gated = 0;
    s->max_inflight = 0;
    pthread_mutex_unlock(&s->lock);
    if (blk_run(d, w, NR_BLK) != PASS) {
        return FAIL;
    }
    if (nt > 1) {
        report("virtio-blk: %u queues, at most %u kicks in flight at once",
               nt, s->max_inflight);
        CHECK(s->max_inflight >= nt, "the %u vcpus' kicks were never "
              "pending at the same time (at most %u)", nt, s->max_inflight);
    }
    if (d->features & 1ULL << VIRTIO_BLK_F_FLUSH) {
        blk_prepare(s, &fl, VIRTIO_BLK_T_FLUSH, 0, 0, 0);
        if (blk_run(d, &fl, 1) != PASS) {
            return FAIL;
        }
    }
    for (size_t i = 0; i < NR_BLK; i++) {
        ssize_t n = pread(fd, host, w[i].len, w[i].sector * 512);

        CHECK(n == (ssize_t)w[i].len, "short read of the image");
        for (uint32_t j = 0; j < w[i].len; j++) {
            CHECK(host[j] == pattern(w[i].sector * 512 + j, seed),
                  "image byte %lu is 0x%02x, want 0x%02x",
                  (unsigned long)(w[i].sector * 512 + j), host[j],
                  pattern(w[i].sector * 512 + j, seed));
        }
        blk_prepare(s, &rd[i], VIRTIO_BLK_T_IN, w[i].sector, w[i].len,
                    guest_alloc(s, w[i].len, 4096));
        memset(guest_ptr(s, rd[i].data, rd[i].len), 0xee, rd[i].len);
    }
    if (blk_run(d, rd, NR_BLK) != PASS) {
        return FAIL;
    }
    for (size_t i = 0; i < NR_BLK; i++) {
        CHECK(!memcmp(guest_ptr(s, rd[i].data, rd[i].len),
                      guest_ptr(s, w[i].data, w[i].len), w[i].len),
              "read back of %u bytes at sector %lu differs", w[i].len,
              (unsigned long)w[i].sector);
    }
    free(host);
    CHECK(d->irqs > 0, "requests completed but no SPI %u was taken",
          d->irq);
    return PASS;
}

static enum result blk_test(struct ctx *c, uint64_t ring_features)
{
    char img[300], drive[400], dev[100];
    const char *args[] = {
        "-drive", drive, "-device", dev, NULL,
    };
    unsigned nq = c->s->nr_vcpus < VQ_MAX ? c->s->nr_vcpus : VQ_MAX;
    struct vdev d;
    int fd = make_disk(c, "disk0.img", img, sizeof(img));
    unsigned maps;
    int mapped, after;
    uint64_t cap;

    if (fd < 0) {
        return FAIL;
    }
    snprintf(drive, sizeof(drive), "file=%s,if=none,format=raw,id=d0", img);
    /* A queue per vcpu, as Linux's virtio-blk driver asks for. */
    snprintf(dev, sizeof(dev), "virtio-blk-device,drive=d0,num-queues=%u",
             nq);
    if (dm_start(c, args) < 0 || dm_wait_ready(c, 15000) < 0) {
        return FAIL;
    }
    CHECK(vdev_find(c->s, VIRTIO_ID_BLOCK, 0, &d) >= 0,
          "no virtio-blk transport found");
    CHECK(vdev_init(&d, ring_features | 1ULL << VIRTIO_BLK_F_FLUSH |
                    (nq > 1 ? 1ULL << VIRTIO_BLK_F_MQ : 0), nq) == 0,
          "virtio-blk initialisation failed");
    if (nq > 1) {
        unsigned got = vdev_config8(&d, 34) | vdev_config8(&d, 35) << 8;

        CHECK(d.features & 1ULL << VIRTIO_BLK_F_MQ && got == nq,
              "virtio-blk: VIRTIO_BLK_F_MQ %s, num_queues %u, want %u",
              d.features & 1ULL << VIRTIO_BLK_F_MQ ? "on" : "off", got, nq);
    }
    CHECK(d.event_idx == !!(ring_features & 1ULL << VIRTIO_RING_F_EVENT_IDX)
          && d.indirect ==
             !!(ring_features & 1ULL << VIRTIO_RING_F_INDIRECT_DESC),
          "device did not offer the ring features (0x%lx)",
          (unsigned long)d.features);
    cap = vdev_config32(&d, 0) | (uint64_t)vdev_config32(&d, 4) << 32;
    CHECK(cap == (DISK_MIB << 20) / 512, "capacity %lu sectors",
          (unsigned long)cap);
    if (blk_roundtrip(c, &d, fd, 1) != PASS) {
        return FAIL;
    }
    /*
     * Invalidation must drop the mapcache (QEMU munmap()s it directly,
     * so look at its address space); the next DMA maps again.
     */
    mapped = dm_count_mappings(c, "xenfv-guest-ram");
    maps = c->s->maps;
    CHECK(guest_invalidate(c->s, c->s->nr_vcpus - 1) == 0,
          "invalidate not answered");
    after = dm_count_mappings(c, "xenfv-guest-ram");
    report("guest RAM mappings in the DM: %d before invalidation, %d after",
           mapped, after);
    CHECK(after < mapped, "IOREQ_TYPE_INVALIDATE left all %d guest RAM "
          "mappings in place", mapped);
    if (blk_roundtrip(c, &d, fd, 4) != PASS) {
        return FAIL;
    }
    CHECK(c->s->maps > maps, "guest RAM not mapped again after "
          "invalidation");
    close(fd);
    return dm_alive(c) ? PASS : FAIL;
}

static enum result test_blk(struct ctx *c)
{
    return blk_test(c, RING_FEATURES);
}

static enum result test_blk_plain(struct ctx *c)
{
    return blk_test(c, 0);
}

/* ---- virtio-blk with grant DMA ---------------------------------------- */

/* Grant mappings the device model holds right now */
static unsigned grants_mapped(struct sim *s)
{
    unsigned n = 0;

    pthread_mutex_lock(&s->lock);
    for (int i = 0; i < MAX_GRANTS; i++) {
        n += s->grants[i].mapped;
    }
    pthread_mutex_unlock(&s->lock);
    return n;
}

/*
 * Wait up to 2 s for a request on queue 0 to complete (*completed) or
 * for the device to want a reset; the device status.
 */
static uint32_t wait_done_or_reset(struct vdev *d, bool *completed)
{
    uint32_t status = 0;

    for (int i = 0; i < 200 && !*completed; i++) {
        *completed = vq_pop(d, &d->vq[0], NULL) >= 0;
        status = vdev_status(d);
        if (status & VIRTIO_CONFIG_S_NEEDS_RESET) {
            break;
        }
        usleep(10000);
    }
    return status;
}

/*
 * One request whose data is at a grant reference the guest never
 * granted: logged as a guest error, the request fails or the device
 * wants a reset, the image is untouched, the grants of the request's
 * other buffers are released.
 */
static enum result blk_bad_grant(struct ctx *c, struct vdev *d, int fd)
{
    struct sim *s = c->s;
    struct blk_req r;
    uint8_t host[4096];
    uint32_t status;
    bool completed = false;
    struct vbuf b[3];

    memset(host, 0x5a, sizeof(host));
    CHECK(pwrite(fd, host, sizeof(host), 16 * 512) == sizeof(host),
          "image write");
    blk_prepare(s, &r, VIRTIO_BLK_T_OUT, 16, 4096, 0);
    b[0] = (struct vbuf) { guest_grant(s, r.hdr, 16, true), 16 };
    b[1] = (struct vbuf) { GRANT_DMA_BIT | (uint64_t)100000 << 12,
                           4096 };
    b[2] = (struct vbuf) { guest_grant(s, r.status, 1, false), 1, true };
    /* The buffers carry grant addresses already: add them as they are */
    d->grants = false;
    r.head = vq_add(d, &d->vq[0], b, 3);
    d->grants = true;
    CHECK(r.head >= 0, "queue full");
    vq_kick(d, &d->vq[0]);
    status = wait_done_or_reset(d, &completed);
    CHECK(dm_alive(c), "QEMU died on a grant reference never granted");
    CHECK((status & VIRTIO_CONFIG_S_NEEDS_RESET) ||
          (completed && *(uint8_t *)guest_ptr(s, r.status, 1) != 0),
          "the bad grant neither failed the request nor flagged "
          "NEEDS_RESET (device status 0x%x)", status);
    CHECK(log_has(c->dm_log, "cannot map grant references 100000 to 100000"),
          "the bad grant reference was not logged as a guest error");
    CHECK(pread(fd, host, sizeof(host), 16 * 512) == sizeof(host),
          "image read");
    for (size_t i = 0; i < sizeof(host); i++) {
        CHECK(host[i] == 0x5a, "image byte %zu overwritten with 0x%02x by "
              "a request whose data was never granted", 16 * 512 + i,
              host[i]);
    }
    CHECK(guest_end_grants(s, b[0].gpa, 16) == 0 &&
          guest_end_grants(s, b[2].gpa, 1) == 0,
          "the failed request's header or status grant is still mapped");
    return PASS;
}

/*
 * An access that maps nothing for long (pmemsave reads with
 * address_space_read()): a read-only grant two pages long, read through
 * the grant window, and released right after.
 */
static enum result blk_pmemsave_grant(struct ctx *c)
{
    struct sim *s = c->s;
    uint64_t gpa = guest_alloc(s, 8192, 4096), dma;
    uint8_t *p = guest_ptr(s, gpa, 8192), *file;
    char cmd[512], reply[4096], path[300];
    unsigned busy = 1;
    int fd;

    for (int i = 0; i < 8192; i++) {
        p[i] = pattern(i, 77);
    }
    dma = guest_grant(s, gpa, 8192, true);
    CHECK(dma, "grant table full");
    snprintf(path, sizeof(path), "%s/grant.bin", c->workdir);
    /* QMP's val is an int64: bit 63 makes it negative */
    snprintf(cmd, sizeof(cmd), "{\"execute\": \"pmemsave\", \"arguments\": "
             "{\"val\": %lld, \"size\": 8192, \"filename\": \"%s\"}}\n",
             (long long)dma, path);
    CHECK(qmp_command(c, cmd, reply, sizeof(reply)) == 0, "pmemsave");
    file = (uint8_t *)slurp(path);
    CHECK(file, "pmemsave wrote no %s", path);
    fd = memcmp(file, p, 8192);
    free(file);
    CHECK(fd == 0, "pmemsave of the grant window differs from the granted "
          "pages");
    /* Released when QEMU's main loop next runs: well within a second */
    for (int i = 0; i < 100 && busy; i++) {
        pthread_mutex_lock(&s->lock);
        busy = s->grants[(dma & ~GRANT_DMA_BIT) >> 12].mapped +
               s->grants[((dma & ~GRANT_DMA_BIT) >> 12) + 1].mapped;
        pthread_mutex_unlock(&s->lock);
        usleep(10000);
    }
    CHECK(!busy, "pmemsave's grant mappings were never released");
    CHECK(guest_end_grants(s, dma, 8192) == 0, "grants still mapped");
    return PASS;
}

/*
 * The guest of a driver domain: every DMA address is a grant (Linux's
 * xen-grant-dma ops), and the device model's domain may not map guest
 * RAM at all.  Data must arrive through grant mappings only, read-only
 * grants mapped read-only, and every grant unmapped by the time the
 * guest sees its request complete (else Linux refuses to end it).
 */
static enum result test_blk_grants(struct ctx *c)
{
    struct sim *s = c->s;
    char img[300], drive[400], dev[120];
    const char *args[] = {
        "-drive", drive, "-device", dev, "-d", "guest_errors", NULL,
    };
    unsigned nq = s->nr_vcpus < VQ_MAX ? s->nr_vcpus : VQ_MAX;
    int fd = make_disk(c, "disk0.img", img, sizeof(img));
    struct vdev d;

    if (fd < 0) {
        return FAIL;
    }
    s->guest_grants = true;
    s->deny_foreign = true;
    snprintf(drive, sizeof(drive), "file=%s,if=none,format=raw,id=d0", img);
    snprintf(dev, sizeof(dev), "virtio-blk-device,drive=d0,num-queues=%u,"
             "iommu_platform=on", nq);
    if (dm_start(c, args) < 0 || dm_wait_ready(c, 15000) < 0) {
        return FAIL;
    }
    CHECK(vdev_find(s, VIRTIO_ID_BLOCK, 0, &d) >= 0,
          "no virtio-blk transport found");
    for (int pass = 0; pass < 2; pass++) {
        uint64_t features = pass ? 0 : RING_FEATURES;

        CHECK(vdev_init(&d, features | 1ULL << VIRTIO_BLK_F_FLUSH |
                        (nq > 1 ? 1ULL << VIRTIO_BLK_F_MQ : 0), nq) == 0,
              "virtio-blk initialisation with grants failed");
        CHECK(d.indirect == !pass, "indirect descriptors %s",
              d.indirect ? "on" : "off");
        if (blk_roundtrip(c, &d, fd, 30 + pass) != PASS) {
            return FAIL;
        }
        CHECK(s->grants_busy == 0, "%u grants were still mapped by the "
              "device model when the guest ended them", s->grants_busy);
        vdev_reset(&d);
        CHECK(s->grants_busy == 0, "%u ring grants still mapped after the "
              "device reset", s->grants_busy);
        CHECK(grants_mapped(s) == 0, "%u grant mappings left after the "
              "device reset", grants_mapped(s));
    }
    if (blk_pmemsave_grant(c) != PASS) {
        return FAIL;
    }
    report("grant maps %u, unmaps %u, pages mapped %u; foreign maps %u",
           s->grant_maps, s->grant_unmaps, s->grants_mapped,
           s->calls[XFV_OP_FMEM_MAP]);
    CHECK(s->calls[XFV_OP_FMEM_MAP] == 0, "the device model tried to map "
          "guest RAM %u times: a driver domain may not",
          s->calls[XFV_OP_FMEM_MAP]);
    CHECK(s->grant_maps > 0, "no grant was ever mapped");

    CHECK(vdev_init(&d, 0, 1) == 0, "init");
    if (blk_bad_grant(c, &d, fd) != PASS) {
        return FAIL;
    }
    CHECK(vdev_init(&d, RING_FEATURES, 1) == 0,
          "re-initialising the device after the bad grant");
    if (blk_roundtrip(c, &d, fd, 40) != PASS) {
        return FAIL;
    }
    CHECK(s->grants_busy == 0, "%u grants still mapped when ended",
          s->grants_busy);
    close(fd);
    return dm_alive(c) ? PASS : FAIL;
}

/*
 * Submit r, a write of 4 KiB to sector 16 that must fail: the device
 * marks itself broken (NEEDS_RESET) or completes r with an error status,
 * QEMU lives on and the image keeps what it had.  why: where r's data is.
 */
enum result blk_expect_failure(struct ctx *c, struct vdev *d,
                               struct blk_req *r, int fd, const char *why)
{
    uint8_t host[4096];
    uint32_t status;
    bool completed = false;

    memset(host, 0x5a, sizeof(host));
    CHECK(pwrite(fd, host, sizeof(host), 16 * 512) == sizeof(host),
          "image write");
    CHECK(r->sector == 16 && r->len == sizeof(host), "request shape");
    CHECK(blk_submit(d, &d->vq[0], r) >= 0, "ring full");
    vq_kick(d, &d->vq[0]);
    status = wait_done_or_reset(d, &completed);
    CHECK(dm_alive(c), "QEMU died on a request %s", why);
    CHECK(pread(fd, host, sizeof(host), 16 * 512) == sizeof(host),
          "image read");
    for (size_t i = 0; i < sizeof(host); i++) {
        CHECK(host[i] == 0x5a, "image byte %zu overwritten with 0x%02x by "
              "a request %s", 16 * 512 + i, host[i], why);
    }
    CHECK((status & VIRTIO_CONFIG_S_NEEDS_RESET) ||
          (completed && *(uint8_t *)guest_ptr(d->s, r->status, 1) != 0),
          "a request %s neither failed nor flagged NEEDS_RESET (device "
          "status 0x%x, request %s, status byte %u)", why, status,
          completed ? "completed" : "pending",
          *(uint8_t *)guest_ptr(d->s, r->status, 1));
    return PASS;
}

/*
 * A data descriptor outside guest RAM: QEMU must not crash, must not
 * touch the image, and the other transport must keep working.
 */
static enum result test_desc_outside_ram(struct ctx *c)
{
    struct sim *s = c->s;
    char img0[300], img1[300], drive0[400], drive1[400];
    const char *args[] = {
        "-drive", drive0, "-device", "virtio-blk-device,drive=d0",
        "-drive", drive1, "-device", "virtio-blk-device,drive=d1", NULL,
    };
    int fd0 = make_disk(c, "disk0.img", img0, sizeof(img0));
    int fd1 = make_disk(c, "disk1.img", img1, sizeof(img1));
    struct vdev d0, d1;
    struct blk_req r;

    snprintf(drive0, sizeof(drive0), "file=%s,if=none,format=raw,id=d0",
             img0);
    snprintf(drive1, sizeof(drive1), "file=%s,if=none,format=raw,id=d1",
             img1);
    if (fd0 < 0 || fd1 < 0 || dm_start(c, args) < 0 ||
        dm_wait_ready(c, 15000) < 0) {
        return FAIL;
    }
    CHECK(vdev_find(s, VIRTIO_ID_BLOCK, 0, &d0) >= 0 &&
          vdev_find(s, VIRTIO_ID_BLOCK, 1, &d1) >= 0, "two virtio-blk");
    CHECK(vdev_init(&d0, 0, 1) == 0 && vdev_init(&d1, 0, 1) == 0, "init");
    /* 0x80000000 is inside RAM bank 0's range but not populated. */
    blk_prepare(s, &r, VIRTIO_BLK_T_OUT, 16, 4096, 0x80000000ULL);
    if (blk_expect_failure(c, &d0, &r, fd0, "outside guest RAM") != PASS) {
        return FAIL;
    }
    CHECK(log_has(c->dm_log, "virtio: bogus descriptor"),
          "the descriptor outside guest RAM was not logged");
    if (blk_roundtrip(c, &d1, fd1, 2) != PASS) {
        return FAIL;
    }
    CHECK(vdev_init(&d0, 0, 1) == 0, "re-initialising the faulted device");
    return blk_roundtrip(c, &d0, fd0, 3);
}

/*
 * The guest gives the page at gpa back to Xen, which then has its device
 * models invalidate their map caches before the guest runs on
 * (XENMEM_decrease_reservation).
 */
static int balloon_out(struct sim *s, uint64_t gpa)
{
    sim_balloon(s, gpa, true);
    return guest_invalidate(s, 0);
}

enum result start_two_blk(struct ctx *c, bool grants, struct vdev *d0,
                          struct vdev *d1, int *fd0, int *fd1)
{
    struct sim *s = c->s;
    char img0[300], img1[300], drive0[400], drive1[400];
    char dev0[120], dev1[120];
    const char *args[] = {
        "-drive", drive0, "-device", dev0,
        "-drive", drive1, "-device", dev1, "-d", "guest_errors", NULL,
    };
    const char *iommu = grants ? ",iommu_platform=on" : "";

    *fd0 = make_disk(c, "disk0.img", img0, sizeof(img0));
    *fd1 = make_disk(c, "disk1.img", img1, sizeof(img1));
    s->guest_grants = grants;
    s->deny_foreign = grants;
    snprintf(drive0, sizeof(drive0), "file=%s,if=none,format=raw,id=d0",
             img0);
    snprintf(drive1, sizeof(drive1), "file=%s,if=none,format=raw,id=d1",
             img1);
    snprintf(dev0, sizeof(dev0), "virtio-blk-device,drive=d0%s", iommu);
    snprintf(dev1, sizeof(dev1), "virtio-blk-device,drive=d1%s", iommu);
    if (*fd0 < 0 || *fd1 < 0 || dm_start(c, args) < 0 ||
        dm_wait_ready(c, 15000) < 0) {
        return FAIL;
    }
    CHECK(vdev_find(s, VIRTIO_ID_BLOCK, 0, d0) >= 0 &&
          vdev_find(s, VIRTIO_ID_BLOCK, 1, d1) >= 0, "two virtio-blk");
    return PASS;
}

/* start_two_blk(), with d0 and d1 initialised */
static enum result two_blk(struct ctx *c, bool grants, struct vdev *d0,
                           struct vdev *d1, int *fd0, int *fd1)
{
    if (start_two_blk(c, grants, d0, d1, fd0, fd1) != PASS) {
        return FAIL;
    }
    CHECK(vdev_init(d0, 0, 1) == 0 && vdev_init(d1, 0, 1) == 0, "init");
    return PASS;
}

/*
 * Guest pages Xen will not map: pages the guest ballooned out (and, for
 * grant DMA, grants of them).  A buffer or a ring there must fail the
 * device, not crash QEMU, and the other device must keep working.
 */
static enum result ballooned(struct ctx *c, bool grants)
{
    struct sim *s = c->s;
    struct vdev d0, d1;
    struct blk_req r;
    uint64_t out, next;
    int fd0, fd1;

    if (two_blk(c, grants, &d0, &d1, &fd0, &fd1) != PASS) {
        return FAIL;
    }

    /* A buffer on a page that is out */
    out = guest_alloc(s, 4096, 4096);
    CHECK(balloon_out(s, out) == 0, "invalidation not answered");
    blk_prepare(s, &r, VIRTIO_BLK_T_OUT, 16, 4096, out);
    if (blk_expect_failure(c, &d0, &r, fd0, "on a ballooned page") != PASS) {
        return FAIL;
    }
    CHECK(log_has(c->dm_log, "virtio: bogus descriptor"),
          "the buffer on a ballooned page was not logged");
    if (blk_roundtrip(c, &d1, fd1, 50) != PASS) {
        return FAIL;
    }

    /* Rings on a page that is out: the next one the allocator gives */
    next = (s->alloc_next + 4095) & ~4095ULL;
    CHECK(balloon_out(s, next) == 0, "invalidation not answered");
    CHECK(vdev_init(&d0, 0, 1) == 0, "init with the rings ballooned out");
    CHECK(d0.vq[0].desc_gpa == next, "descriptor table at 0x%lx, not on "
          "the ballooned page 0x%lx", (unsigned long)d0.vq[0].desc_gpa,
          (unsigned long)next);
    blk_prepare(s, &r, VIRTIO_BLK_T_OUT, 16, 4096, guest_alloc(s, 4096,
                                                               4096));
    if (blk_expect_failure(c, &d0, &r, fd0, "on rings ballooned out") != PASS
        || blk_roundtrip(c, &d1, fd1, 51) != PASS) {
        return FAIL;
    }

    /* Both pages back: the device works again after a reset */
    sim_balloon(s, out, false);
    sim_balloon(s, next, false);
    CHECK(vdev_init(&d0, 0, 1) == 0, "re-initialising the failed device");
    if (blk_roundtrip(c, &d0, fd0, 52) != PASS) {
        return FAIL;
    }
    return dm_alive(c) ? PASS : FAIL;
}

/*
 * A page out while a device sets up its rings next to it, in its 1 MiB
 * map cache bucket, then back in and used with its neighbour.  The
 * rings' mappings of the bucket could not map that page, so the map
 * cache maps the bucket a second time for it: each unmapping must drop
 * the mapping it belongs to, or lock counts go wrong and QEMU aborts
 * ("mapcache entry lock overflow") or unmaps memory still in use.
 */
static enum result test_mapcache_second_mapping(struct ctx *c)
{
    struct sim *s = c->s;
    struct vdev d0, d1;
    uint64_t out;
    int fd0, fd1;

    if (two_blk(c, false, &d0, &d1, &fd0, &fd1) != PASS) {
        return FAIL;
    }
    out = guest_alloc(s, 8192, 1 << 20);
    CHECK(balloon_out(s, out) == 0, "invalidation not answered");
    CHECK(vdev_init(&d0, 0, 1) == 0, "init next to a ballooned page");
    CHECK(d0.vq[0].desc_gpa >> 20 == out >> 20, "rings not in the bucket "
          "of the ballooned page");
    sim_balloon(s, out, false);
    for (int i = 0; i < 8; i++) {
        struct blk_req rq[2];

        blk_prepare(s, &rq[0], VIRTIO_BLK_T_IN, i, 4096, out);
        blk_prepare(s, &rq[1], VIRTIO_BLK_T_IN, i, 4096, out + 4096);
        if (blk_run(&d0, rq, 2) != PASS) {
            report("round %d: a page back from the balloon, or its "
                   "neighbour, did not work", i);
            return FAIL;
        }
    }
    if (blk_roundtrip(c, &d0, fd0, 53) != PASS ||
        blk_roundtrip(c, &d1, fd1, 54) != PASS) {
        return FAIL;
    }
    return dm_alive(c) ? PASS : FAIL;
}

static enum result test_ballooned(struct ctx *c)
{
    return ballooned(c, false);
}

static enum result test_ballooned_grants(struct ctx *c)
{
    return ballooned(c, true);
}

/*
 * "stop" in the monitor stops QEMU, not the guest: Xen runs its vCPUs,
 * and an access nobody serves is a data abort for the guest.  Its
 * devices must still answer, and work on after "cont".
 */
static enum result test_stop_cont(struct ctx *c)
{
    struct sim *s = c->s;
    char img[300], drive[400], reply[4096];
    const char *args[] = {
        "-drive", drive, "-device", "virtio-blk-device,drive=d0", NULL,
    };
    int fd = make_disk(c, "disk0.img", img, sizeof(img));
    struct vdev d;
    uint64_t magic = 0;

    snprintf(drive, sizeof(drive), "file=%s,if=none,format=raw,id=d0", img);
    if (fd < 0 || dm_start(c, args) < 0 || dm_wait_ready(c, 15000) < 0) {
        return FAIL;
    }
    CHECK(vdev_find(s, VIRTIO_ID_BLOCK, 0, &d) >= 0, "no virtio-blk");
    CHECK(qmp_command(c, "{\"execute\": \"stop\"}", reply,
                      sizeof(reply)) == 0, "stop");
    CHECK(guest_mmio(s, 0, d.base + VIRTIO_MMIO_MAGIC_VALUE, 4, false,
                     &magic) == 0, "the guest's read of a transport while "
          "QEMU is stopped did not complete (data abort)");
    CHECK(magic == 0x74726976, "MagicValue 0x%lx while stopped",
          (unsigned long)magic);
    CHECK(qmp_command(c, "{\"execute\": \"cont\"}", reply,
                      sizeof(reply)) == 0, "cont");
    CHECK(vdev_init(&d, RING_FEATURES, 1) == 0, "init after cont");
    return blk_roundtrip(c, &d, fd, 60);
}

/*
 * A completion while the guest sits between reading InterruptStatus and
 * writing InterruptACK, after it scanned its ring: Xen's vGIC is edge
 * triggered, so the device model must inject again for the new
 * completion (the ISR bit was already set), or the guest never hears of
 * it: its ACK clears the bit and nothing else is coming.
 */
static enum result test_irq_ack_race(struct ctx *c)
{
    struct sim *s = c->s;
    char img[300], drive[400];
    const char *args[] = {
        "-drive", drive, "-device", "virtio-blk-device,drive=d0", NULL,
    };
    int fd = make_disk(c, "disk0.img", img, sizeof(img));
    struct blk_req a, b;
    struct vdev d;
    struct vq *q;
    uint32_t isr, len;
    unsigned injected;

    snprintf(drive, sizeof(drive), "file=%s,if=none,format=raw,id=d0", img);
    if (fd < 0 || dm_start(c, args) < 0 || dm_wait_ready(c, 15000) < 0) {
        return FAIL;
    }
    CHECK(vdev_find(s, VIRTIO_ID_BLOCK, 0, &d) >= 0, "no virtio-blk");
    CHECK(vdev_init(&d, 0, 1) == 0, "virtio-blk init");
    q = &d.vq[0];
    for (int round = 0; round < 8; round++) {
        blk_prepare(s, &a, VIRTIO_BLK_T_IN, round, 512,
                    guest_alloc(s, 512, 512));
        CHECK(blk_submit(&d, q, &a) >= 0, "ring full");
        vq_kick(&d, q);
        CHECK(guest_wait_irq(s, d.irq, TIMEOUT_MS) == 0,
              "round %d: no interrupt for the first request", round);
        isr = guest_read32(s, guest_vcpu(s),
                           d.base + VIRTIO_MMIO_INTERRUPT_STATUS);
        CHECK(isr & 1, "round %d: InterruptStatus 0x%x without the used "
              "buffer bit", round, isr);
        CHECK(vq_pop(&d, q, &len) == a.head, "round %d: first request not "
              "in the used ring", round);
        /* The guest has scanned its ring; now the second completes. */
        pthread_mutex_lock(&s->lock);
        injected = s->spis[d.irq].injected;
        pthread_mutex_unlock(&s->lock);
        blk_prepare(s, &b, VIRTIO_BLK_T_IN, round + 100, 512,
                    guest_alloc(s, 512, 512));
        CHECK(blk_submit(&d, q, &b) >= 0, "ring full");
        vq_kick(&d, q);
        for (int ms = 0; ms < TIMEOUT_MS && q->used->idx == q->last_used;
             ms++) {
            usleep(1000);
        }
        CHECK(q->used->idx != q->last_used, "round %d: second request "
              "never completed", round);
        /* Give the device model time to (not) inject, then ACK + EOI. */
        usleep(20000);
        guest_write32(s, guest_vcpu(s), d.base + VIRTIO_MMIO_INTERRUPT_ACK,
                      isr);
        guest_eoi(s, d.irq);
        CHECK(guest_wait_irq(s, d.irq, 2000) == 0,
              "round %d: the completion that arrived between the "
              "InterruptStatus read and the ACK raised no interrupt after "
              "the EOI (SPI %u: %u injections before it, %u after): the "
              "guest would never see it", round, d.irq, injected,
              s->spis[d.irq].injected);
        isr = guest_read32(s, guest_vcpu(s),
                           d.base + VIRTIO_MMIO_INTERRUPT_STATUS);
        guest_write32(s, guest_vcpu(s), d.base + VIRTIO_MMIO_INTERRUPT_ACK,
                      isr);
        guest_eoi(s, d.irq);
        CHECK(vq_pop(&d, q, &len) == b.head && len == 513,
              "round %d: second request not in the used ring", round);
    }
    close(fd);
    return dm_alive(c) ? PASS : FAIL;
}

/*
 * Rings the guest corrupts: QEMU must log what is wrong, flag the device
 * NEEDS_RESET, leave its image alone, and go on serving the other
 * device; a reset device must work again.
 */
enum corruption { AVAIL_IDX_JUMP, AVAIL_HEAD_RANGE, USED_OUTSIDE_RAM,
                  USED_SCRIBBLED };

static enum result corrupt_once(struct ctx *c, struct vdev *d0, int fd0,
                                enum corruption how, const char *log_line)
{
    struct sim *s = c->s;
    uint64_t buf = guest_alloc(s, 4096, 4096);
    uint8_t host[4096];
    struct blk_req r;
    struct vq *q;
    uint32_t status = 0;
    bool done = false;

    memset(host, 0x5a, sizeof(host));
    CHECK(pwrite(fd0, host, sizeof(host), 16 * 512) == sizeof(host),
          "image write");
    d0->used_override = how == USED_OUTSIDE_RAM ? 0x80000000ULL : 0;
    CHECK(vdev_init(d0, 0, 1) == 0, "virtio-blk init");
    d0->used_override = 0;
    q = &d0->vq[0];
    memset(guest_ptr(s, buf, 4096), 0xa5, 4096);
    /*
     * A write: after an index jump every stale ring entry (head 0) is
     * this request too, and the image must stay as it is all the same.
     */
    blk_prepare(s, &r, VIRTIO_BLK_T_OUT, 16, 4096, buf);
    CHECK(blk_submit(d0, q, &r) >= 0, "ring full");
    switch (how) {
    case AVAIL_IDX_JUMP:
        q->avail->idx = q->avail_idx + 1000;
        break;
    case AVAIL_HEAD_RANGE:
        q->avail->ring[0] = 0x7fff;
        break;
    case USED_SCRIBBLED:
        q->used->idx = 0x1234;
        memset(q->used->ring, 0xcc, 8 * q->num);
        q->used->flags = 0xffff;
        break;
    case USED_OUTSIDE_RAM:
        break;
    }
    guest_write32(s, guest_vcpu(s), d0->base + VIRTIO_MMIO_QUEUE_NOTIFY, 0);
    for (int i = 0; i < 300 && !done; i++) {
        char *text;

        status = vdev_status(d0);
        switch (how) {
        case USED_SCRIBBLED:
            done = q->used->idx == 1;
            break;
        case USED_OUTSIDE_RAM:
            text = slurp(c->dm_log);
            done = text && strstr(text, log_line);
            free(text);
            break;
        default:
            done = status & VIRTIO_CONFIG_S_NEEDS_RESET;
            break;
        }
        usleep(done ? 0 : 10000);
    }
    CHECK(dm_alive(c), "QEMU died");
    switch (how) {
    case USED_SCRIBBLED:
        /* QEMU keeps its own used index: the request just completes. */
        CHECK(done && vq_pop(d0, q, NULL) == r.head &&
              *(uint8_t *)guest_ptr(s, r.status, 1) == VIRTIO_BLK_S_OK,
              "request after a scribbled used ring did not complete "
              "(used idx %u, device status 0x%x)", q->used->idx, status);
        CHECK(pread(fd0, host, 4096, 16 * 512) == 4096 &&
              host[0] == 0xa5 && host[4095] == 0xa5, "data not written");
        return PASS;
    case USED_OUTSIDE_RAM:
        /*
         * QEMU cannot tell an unassigned used ring at QueueReady: the
         * request runs and its completion goes nowhere, which
         * -d guest_errors shows.
         */
        CHECK(log_has(c->dm_log, log_line), "the used ring outside guest "
              "RAM was not logged");
        return PASS;
    default:
        break;
    }
    CHECK(status & VIRTIO_CONFIG_S_NEEDS_RESET, "device status 0x%x "
          "without NEEDS_RESET after the corruption", status);
    CHECK(how != AVAIL_IDX_JUMP || q->used->idx == 0, "%u buffers used "
          "after the avail index jumped", q->used->idx);
    CHECK(log_has(c->dm_log, log_line), "the corruption was not logged");
    CHECK(pread(fd0, host, sizeof(host), 16 * 512) == sizeof(host),
          "image read");
    for (size_t i = 0; i < sizeof(host); i++) {
        CHECK(host[i] == 0x5a, "image byte %zu changed to 0x%02x by a "
              "request on a corrupted ring", 16 * 512 + i, host[i]);
    }
    return PASS;
}

static enum result test_ring_corrupt(struct ctx *c)
{
    static const struct {
        enum corruption how;
        const char *log;
    } cases[] = {
        { AVAIL_IDX_JUMP, "buffers available in a queue of 128" },
        { AVAIL_HEAD_RANGE, "Guest says index 32767 is available" },
        { USED_OUTSIDE_RAM, "Invalid write at addr 0x80000004, size 4" },
        { USED_SCRIBBLED, NULL },
    };
    struct vdev d0, d1;
    int fd0, fd1;

    if (start_two_blk(c, false, &d0, &d1, &fd0, &fd1) != PASS) {
        return FAIL;
    }
    CHECK(vdev_init(&d1, 0, 1) == 0, "init");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (corrupt_once(c, &d0, fd0, cases[i].how, cases[i].log) != PASS ||
            blk_roundtrip(c, &d1, fd1, 10 + i) != PASS) {
            report("after corruption case %zu", i);
            return FAIL;
        }
    }
    CHECK(vdev_init(&d0, 0, 1) == 0, "re-initialising the device");
    return blk_roundtrip(c, &d0, fd0, 20);
}

/*
 * virtio-input completes each status buffer before it takes the next:
 * an avail index 0x8000 ahead must not have it take the ring's stale
 * entries, here a buffer over 64 MiB of guest RAM, 0x8000 times for one
 * notification while every vcpu waits.
 */
static enum result test_avail_jump_input(struct ctx *c)
{
    const char *args[] = { "-device", "virtio-keyboard-device", NULL };
    struct sim *s = c->s;
    uint32_t len = 64 << 20, status = 0;
    struct vbuf b;
    struct vdev d;
    struct vq *q;

    if (dm_start(c, args) < 0 || dm_wait_ready(c, 15000) < 0) {
        return FAIL;
    }
    CHECK(vdev_find(s, VIRTIO_ID_INPUT, 0, &d) >= 0, "no virtio-input");
    CHECK(vdev_init(&d, 0, 2) == 0, "init");
    q = &d.vq[1];
    b = (struct vbuf) { guest_alloc(s, len, 1 << 20), len, false };
    CHECK(vq_add(&d, q, &b, 1) == 0, "status queue");
    q->avail->idx = q->avail_idx + 0x7fff;
    guest_write32(s, guest_vcpu(s), d.base + VIRTIO_MMIO_QUEUE_NOTIFY, 1);
    for (int i = 0; i < 300 && !(status & VIRTIO_CONFIG_S_NEEDS_RESET);
         i++) {
        status = vdev_status(&d);
        usleep(status & VIRTIO_CONFIG_S_NEEDS_RESET ? 0 : 10000);
    }
    CHECK(q->used->idx == 0, "%u status buffers taken from a queue of %u",
          q->used->idx, q->num);
    CHECK(status & VIRTIO_CONFIG_S_NEEDS_RESET, "device status 0x%x "
          "without NEEDS_RESET after the index jump", status);
    CHECK(log_has(c->dm_log, "buffers available in a queue of"),
          "the index jump was not logged");
    CHECK(vdev_init(&d, 0, 2) == 0, "init after the reset");
    return dm_alive(c) ? PASS : FAIL;
}

/* ---- virtio-net ------------------------------------------------------- */

#define NET_HDR sizeof(struct virtio_net_hdr_v1)
#define NR_FRAMES 24

int udp_socket(uint16_t *port)
{
    struct sockaddr_in sa = {
        .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
    };
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
        return -1;
    }
    *port = ntohs(sa.sin_port);
    return fd;
}

static size_t frame_len(int i)
{
    return 60 + (i * 397) % 1455;
}

static void make_frame(uint8_t *f, int i, size_t len, bool to_guest)
{
    static const uint8_t guest_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34,
                                          0x56 };

    memset(f, 0xff, 6);
    if (to_guest) {
        memcpy(f, guest_mac, 6);
    }
    memcpy(f + 6, guest_mac, 6);
    f[5 + 6] = to_guest ? 0x99 : 0x56;
    f[12] = 0x88;
    f[13] = 0xb5;       /* local experimental ethertype */
    for (size_t j = 14; j < len; j++) {
        f[j] = pattern(i * 4096 + j, to_guest);
    }
}

enum result net_tx(struct ctx *c, struct vdev *d, int hfd)
{
    struct sim *s = c->s;
    uint8_t want[1600], got[2048];

    for (int i = 0; i < NR_FRAMES; i++) {
        size_t len = frame_len(i);
        uint64_t hdr = guest_alloc(s, NET_HDR, 16);
        uint64_t buf = guest_alloc(s, len, 64);
        struct vbuf b[2] = { { hdr, NET_HDR }, { buf, len } };

        make_frame(guest_ptr(s, buf, len), i, len, false);
        CHECK(vq_add(d, &d->vq[1], b, 2) >= 0, "tx ring full");
        vq_kick(d, &d->vq[1]);
    }
    for (int i = 0; i < NR_FRAMES; i++) {
        struct pollfd p = { .fd = hfd, .events = POLLIN };
        ssize_t n;

        CHECK(poll(&p, 1, TIMEOUT_MS) == 1, "frame %d never left QEMU", i);
        n = recv(hfd, got, sizeof(got), 0);
        make_frame(want, i, frame_len(i), false);
        CHECK(n == (ssize_t)frame_len(i) && !memcmp(got, want, n),
              "frame %d: %zd bytes, want %zu, or content differs", i, n,
              frame_len(i));
    }
    for (int done = 0; done < NR_FRAMES;) {
        CHECK(vq_wait(d, &d->vq[1], TIMEOUT_MS) == 0, "tx completions");
        while (vq_pop(d, &d->vq[1], NULL) >= 0) {
            done++;
        }
    }
    return PASS;
}

enum result net_rx(struct ctx *c, struct vdev *d, int hfd, uint16_t qport)
{
    struct sim *s = c->s;
    struct sockaddr_in to = {
        .sin_family = AF_INET, .sin_port = htons(qport),
        .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
    };
    uint64_t bufs[VQ_SIZE];
    uint8_t want[1600];
    int got = 0;

    for (int i = 0; i < NR_FRAMES + 8; i++) {
        struct vbuf b;

        bufs[i] = guest_alloc(s, NET_HDR + 1518, 64);
        b = (struct vbuf) { bufs[i], NET_HDR + 1518, true };
        CHECK(vq_add(d, &d->vq[0], &b, 1) == i, "rx ring");
    }
    vq_kick(d, &d->vq[0]);
    for (int i = 0; i < NR_FRAMES; i++) {
        make_frame(want, i, frame_len(i), true);
        CHECK(sendto(hfd, want, frame_len(i), 0, (struct sockaddr *)&to,
                     sizeof(to)) == (ssize_t)frame_len(i), "sendto");
    }
    while (got < NR_FRAMES) {
        uint32_t len;
        int head;

        CHECK(vq_wait(d, &d->vq[0], TIMEOUT_MS) == 0,
              "only %d of %d frames reached the guest", got, NR_FRAMES);
        while ((head = vq_pop(d, &d->vq[0], &len)) >= 0) {
            make_frame(want, got, frame_len(got), true);
            CHECK(head == got, "rx buffers used out of order");
            CHECK(len == NET_HDR + frame_len(got) &&
                  !memcmp(guest_ptr(s, bufs[head] + NET_HDR, len - NET_HDR),
                          want, len - NET_HDR),
                  "rx frame %d: len %u, want %zu, or content differs", got,
                  len, NET_HDR + frame_len(got));
            got++;
        }
    }
    return PASS;
}

static enum result test_net(struct ctx *c)
{
    char netdev[200];
    const char *args[] = {
        "-netdev", netdev, "-device",
        "virtio-net-device,netdev=n0,mac=52:54:00:12:34:56", NULL,
    };
    uint16_t hport, qport;
    int hfd = udp_socket(&hport), tmp = udp_socket(&qport);
    struct vdev d;
    uint8_t mac[6];

    CHECK(hfd >= 0 && tmp >= 0, "UDP sockets");
    close(tmp);     /* QEMU binds this port itself */
    snprintf(netdev, sizeof(netdev), "socket,id=n0,udp=127.0.0.1:%u,"
             "localaddr=127.0.0.1:%u", hport, qport);
    if (dm_start(c, args) < 0 || dm_wait_ready(c, 15000) < 0) {
        return FAIL;
    }
    CHECK(vdev_find(c->s, VIRTIO_ID_NET, 0, &d) >= 0, "no virtio-net");
    CHECK(vdev_init(&d, RING_FEATURES | 1ULL << VIRTIO_NET_F_MAC, 2) == 0,
          "virtio-net initialisation failed");
    for (int i = 0; i < 6; i++) {
        mac[i] = vdev_config8(&d, i);
    }
    CHECK(!memcmp(mac, "\x52\x54\x00\x12\x34\x56", 6),
          "MAC %02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2],
          mac[3], mac[4], mac[5]);
    if (net_tx(c, &d, hfd) != PASS || net_rx(c, &d, hfd, qport) != PASS) {
        return FAIL;
    }
    close(hfd);
    return PASS;
}

/* ---- virtio-console --------------------------------------------------- */

#define CONSOLE_BIG (1 << 20)
#define CONSOLE_INFLIGHT 4
#define CONSOLE_WINDOW (64 * 1024)

struct reader {
    int fd;
    size_t want, got;
    size_t first_bad;
    bool ok;
    pthread_t thread;
};

static void *console_reader(void *opaque)
{
    struct reader *r = opaque;
    uint8_t buf[8192];

    r->ok = true;
    while (r->got < r->want) {
        struct pollfd p = { .fd = r->fd, .events = POLLIN };
        ssize_t n;

        if (poll(&p, 1, TIMEOUT_MS) != 1 ||
            (n = read(r->fd, buf, sizeof(buf))) <= 0) {
            break;
        }
        for (ssize_t i = 0; i < n && r->ok; i++) {
            if (buf[i] != pattern(r->got + i, 5)) {
                r->ok = false;
                r->first_bad = r->got + i;
            }
        }
        __atomic_store_n(&r->got, r->got + n, __ATOMIC_RELEASE);
    }
    return NULL;
}

enum result console_to_host(struct ctx *c, struct vdev *d, int sfd)
{
    struct sim *s = c->s;
    struct reader r = { .fd = sfd, .want = CONSOLE_BIG };
    uint64_t big = guest_alloc(s, CONSOLE_BIG, 4096);
    uint8_t *p = guest_ptr(s, big, CONSOLE_BIG);
    size_t sent = 0, chunk = 4096;
    int inflight = 0;

    for (size_t i = 0; i < CONSOLE_BIG; i++) {
        p[i] = pattern(i, 5);
    }
    pthread_create(&r.thread, NULL, console_reader, &r);
    while (sent < CONSOLE_BIG || inflight) {
        struct vbuf b = { big + sent, chunk };

        /*
         * QEMU drops console output that the chardev cannot take at once
         * (virtconsole is never throttled), so stay well within the
         * socket's buffer, like a terminal that keeps up.
         */
        for (int ms = 0; ms < TIMEOUT_MS &&
             sent - __atomic_load_n(&r.got, __ATOMIC_ACQUIRE) >
             CONSOLE_WINDOW; ms++) {
            usleep(1000);
        }
        while (sent < CONSOLE_BIG && inflight < CONSOLE_INFLIGHT &&
               vq_add(d, &d->vq[1], &b, 1) >= 0) {
            sent += chunk;
            inflight++;
            b.gpa += chunk;
        }
        vq_kick(d, &d->vq[1]);
        if (vq_wait(d, &d->vq[1], TIMEOUT_MS) < 0) {
            break;
        }
        while (vq_pop(d, &d->vq[1], NULL) >= 0) {
            inflight--;
        }
    }
    pthread_join(r.thread, NULL);
    CHECK(r.got == CONSOLE_BIG && r.ok, "guest->host: %zu of %u bytes "
          "arrived, %s %zu", r.got, CONSOLE_BIG,
          r.ok ? "all in order, stalled after" : "first wrong byte at",
          r.ok ? r.got : r.first_bad);
    return PASS;
}

enum result console_to_guest(struct ctx *c, struct vdev *d, int sfd)
{
    struct sim *s = c->s;
    const size_t total = 256 * 1024, bufsz = 4096;
    uint64_t bufs[VQ_SIZE];
    uint8_t *data = malloc(total);
    size_t got = 0, written = 0;
    int n = d->vq[0].num;

    for (size_t i = 0; i < total; i++) {
        data[i] = pattern(i, 9);
    }
    for (int i = 0; i < n; i++) {
        struct vbuf b;

        bufs[i] = guest_alloc(s, bufsz, 64);
        b = (struct vbuf) { bufs[i], bufsz, true };
        vq_add(d, &d->vq[0], &b, 1);
    }
    vq_kick(d, &d->vq[0]);
    while (got < total) {
        uint32_t len;
        int head;

        if (written < total) {
            ssize_t w = write(sfd, data + written, total - written > 65536 ?
                              65536 : total - written);

            CHECK(w > 0, "chardev socket write: %s", strerror(errno));
            written += w;
        }
        CHECK(vq_wait(d, &d->vq[0], TIMEOUT_MS) == 0,
              "host->guest: %zu of %zu bytes arrived", got, total);
        while ((head = vq_pop(d, &d->vq[0], &len)) >= 0) {
            struct vbuf b = { bufs[head], bufsz, true };

            CHECK(got + len <= total &&
                  !memcmp(guest_ptr(s, bufs[head], len), data + got, len),
                  "host->guest data differs at byte %zu", got);
            got += len;
            vq_add(d, &d->vq[0], &b, 1);
        }
        vq_kick(d, &d->vq[0]);
    }
    free(data);
    return PASS;
}

static enum result test_console(struct ctx *c)
{
    char chardev[400], path[300];
    const char *args[] = {
        "-device", "virtio-serial-device", "-chardev", chardev,
        "-device", "virtconsole,chardev=c0", NULL,
    };
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    struct vdev d;
    int sfd;

    snprintf(path, sizeof(path), "%s/console.sock", c->workdir);
    snprintf(chardev, sizeof(chardev),
             "socket,id=c0,path=%s,server=on,wait=off", path);
    if (dm_start(c, args) < 0 || dm_wait_ready(c, 15000) < 0) {
        return FAIL;
    }
    CHECK(strlen(path) < sizeof(sa.sun_path), "socket path too long");
    strcpy(sa.sun_path, path);
    sfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(connect(sfd, (struct sockaddr *)&sa, sizeof(sa)) == 0,
          "connect to the console chardev: %s", strerror(errno));
    CHECK(vdev_find(c->s, VIRTIO_ID_CONSOLE, 0, &d) >= 0,
          "no virtio-serial transport");
    /* Without MULTIPORT, queues 0/1 are port 0: the virtconsole. */
    CHECK(vdev_init(&d, RING_FEATURES, 2) == 0, "virtio-serial init");
    /*
     * Host to guest first: its arrival proves that QEMU has accepted the
     * chardev connection; output before that is discarded by design.
     */
    if (console_to_guest(c, &d, sfd) != PASS ||
        console_to_host(c, &d, sfd) != PASS) {
        return FAIL;
    }
    close(sfd);
    return PASS;
}

/* ---- virtio-gpu ------------------------------------------------------- */

#define GPU_W 64
#define GPU_H 48

static enum result gpu_cmd(struct vdev *d, const void *req, size_t len,
                           uint32_t want)
{
    struct sim *s = d->s;
    uint64_t rq = guest_alloc(s, len, 16);
    uint64_t rs = guest_alloc(s, sizeof(struct virtio_gpu_ctrl_hdr), 16);
    struct vbuf b[2] = {
        { rq, len }, { rs, sizeof(struct virtio_gpu_ctrl_hdr), true },
    };
    struct virtio_gpu_ctrl_hdr *resp = guest_ptr(s, rs, sizeof(*resp));
    uint32_t type = ((const struct virtio_gpu_ctrl_hdr *)req)->type;

    memcpy(guest_ptr(s, rq, len), req, len);
    CHECK(vq_add(d, &d->vq[0], b, 2) >= 0, "control queue full");
    vq_kick(d, &d->vq[0]);
    CHECK(vq_wait(d, &d->vq[0], TIMEOUT_MS) == 0, "command 0x%x timed out",
          type);
    vq_pop(d, &d->vq[0], NULL);
    CHECK(resp->type == want, "command 0x%x answered 0x%x", type,
          resp->type);
    return PASS;
}

static uint8_t px(int x, int y, int ch)
{
    return ch == 0 ? x * 4 : ch == 1 ? y * 5 : (x + y) * 3;
}

static enum result gpu_draw(struct vdev *d)
{
    struct sim *s = d->s;
    struct virtio_gpu_rect rect = { 0, 0, GPU_W, GPU_H };
    uint64_t fb = guest_alloc(s, GPU_W * GPU_H * 4, 4096);
    uint8_t *p = guest_ptr(s, fb, GPU_W * GPU_H * 4);
    struct virtio_gpu_resource_create_2d create = {
        .hdr.type = VIRTIO_GPU_CMD_RESOURCE_CREATE_2D, .resource_id = 1,
        .format = VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM,
        .width = GPU_W, .height = GPU_H,
    };
    struct {
        struct virtio_gpu_resource_attach_backing a;
        struct virtio_gpu_mem_entry e;
    } attach = {
        { .hdr.type = VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING,
          .resource_id = 1, .nr_entries = 1 },
        { .addr = fb, .length = GPU_W * GPU_H * 4 },
    };
    struct virtio_gpu_transfer_to_host_2d xfer = {
        .hdr.type = VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D, .r = rect,
        .resource_id = 1,
    };
    struct virtio_gpu_set_scanout scanout = {
        .hdr.type = VIRTIO_GPU_CMD_SET_SCANOUT, .r = rect, .scanout_id = 0,
        .resource_id = 1,
    };
    struct virtio_gpu_resource_flush flush = {
        .hdr.type = VIRTIO_GPU_CMD_RESOURCE_FLUSH, .r = rect,
        .resource_id = 1,
    };

    for (int y = 0; y < GPU_H; y++) {
        for (int x = 0; x < GPU_W; x++) {
            uint8_t *q = p + (y * GPU_W + x) * 4;

            q[0] = px(x, y, 2);     /* B8G8R8X8: blue first in memory */
            q[1] = px(x, y, 1);
            q[2] = px(x, y, 0);
            q[3] = 0;
        }
    }
    if (gpu_cmd(d, &create, sizeof(create), VIRTIO_GPU_RESP_OK_NODATA) ||
        gpu_cmd(d, &attach, sizeof(attach), VIRTIO_GPU_RESP_OK_NODATA) ||
        gpu_cmd(d, &xfer, sizeof(xfer), VIRTIO_GPU_RESP_OK_NODATA) ||
        gpu_cmd(d, &scanout, sizeof(scanout), VIRTIO_GPU_RESP_OK_NODATA) ||
        gpu_cmd(d, &flush, sizeof(flush), VIRTIO_GPU_RESP_OK_NODATA)) {
        return FAIL;
    }
    return PASS;
}

static enum result check_ppm(const char *path)
{
    FILE *f = fopen(path, "rb");
    int w = 0, h = 0, max = 0;
    uint8_t rgb[3];

    CHECK(f, "no screendump file %s", path);
    CHECK(fscanf(f, "P6 %d %d %d", &w, &h, &max) == 3 && fgetc(f) != EOF,
          "not a PPM file");
    CHECK(w == GPU_W && h == GPU_H && max == 255, "screendump %dx%d", w, h);
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            CHECK(fread(rgb, 3, 1, f) == 1, "short PPM");
            CHECK(rgb[0] == px(x, y, 0) && rgb[1] == px(x, y, 1) &&
                  rgb[2] == px(x, y, 2), "pixel (%d,%d) is %02x%02x%02x, "
                  "want %02x%02x%02x", x, y, rgb[0], rgb[1], rgb[2],
                  px(x, y, 0), px(x, y, 1), px(x, y, 2));
        }
    }
    fclose(f);
    return PASS;
}

static enum result test_gpu(struct ctx *c)
{
    const char *args[] = { "-device", "virtio-gpu-device", NULL };
    char cmd[512], reply[4096], ppm[300];
    struct vdev d;

    if (dm_start(c, args) < 0 || dm_wait_ready(c, 15000) < 0) {
        return FAIL;
    }
    CHECK(vdev_find(c->s, VIRTIO_ID_GPU, 0, &d) >= 0, "no virtio-gpu");
    CHECK(vdev_init(&d, RING_FEATURES, 2) == 0, "virtio-gpu init");
    if (gpu_draw(&d) != PASS) {
        return FAIL;
    }
    snprintf(ppm, sizeof(ppm), "%s/screen.ppm", c->workdir);
    snprintf(cmd, sizeof(cmd), "{\"execute\":\"screendump\",\"arguments\":"
             "{\"filename\":\"%s\"}}\n", ppm);
    CHECK(qmp_command(c, cmd, reply, sizeof(reply)) == 0, "screendump");
    return check_ppm(ppm);
}

const struct test tests_virtio[] = {
    { "blk", test_blk, 1 << DM_QEMU,
      "virtio-blk, event idx + indirect: writes in flight, flush, image, "
      "read back", SMP },
    { "blk-plain", test_blk_plain, 1 << DM_QEMU,
      "virtio-blk without event idx or indirect descriptors", SMP },
    { "blk-grants", test_blk_grants, 1 << DM_QEMU,
      "virtio-blk of a driver domain's guest: grant DMA addresses only, no "
      "foreign mapping, grants released, bad grant logged", SMP },
    { "desc-outside-ram", test_desc_outside_ram, 1 << DM_QEMU,
      "virtio-blk descriptor outside guest RAM: survive, other device ok" },
    { "stop-cont", test_stop_cont, 1 << DM_QEMU,
      "monitor stop: the guest's devices still answer; cont" },
    { "ballooned", test_ballooned, 1 << DM_QEMU,
      "buffers and rings on ballooned-out pages fail the device, the "
      "other works" },
    { "ballooned-grants", test_ballooned_grants, 1 << DM_QEMU,
      "the same with grant DMA (grants of ballooned-out pages)" },
    { "mapcache-second-mapping", test_mapcache_second_mapping, 1 << DM_QEMU,
      "a bucket mapped twice (page ballooned out, then in): exact locks" },
    { "irq-ack-race", test_irq_ack_race, 1 << DM_QEMU,
      "completion between InterruptStatus read and ACK: interrupt after "
      "EOI", SMP },
    { "ring-corrupt", test_ring_corrupt, 1 << DM_QEMU,
      "corrupted avail/used rings: logged, NEEDS_RESET, image intact, "
      "other device served" },
    { "avail-jump-input", test_avail_jump_input, 1 << DM_QEMU,
      "virtio-input's status queue with its avail index 0x8000 ahead: "
      "NEEDS_RESET, logged, no stale buffer taken" },
    { "net", test_net, 1 << DM_QEMU,
      "virtio-net frames both ways through a UDP socket netdev", SMP },
    { "console", test_console, 1 << DM_QEMU,
      "virtconsole: 1 MiB guest->host, 256 KiB host->guest", SMP },
    { "gpu", test_gpu, 1 << DM_QEMU,
      "virtio-gpu 2D scanout compared with a QMP screendump", SMP },
    { NULL },
};
