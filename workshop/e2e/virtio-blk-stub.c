/*
 * virtio-blk-stub: a tiny stand-in device model for the e2e xenfv-blk mode.
 *
 * NOT part of the product. It lets the dom0 side of `boot xenfv-blk` (xl
 * create -p, xenstore handshake, unpause, in-guest pattern test, image
 * check, xl destroy, "DM gone within 1 s") run before the xenfv QEMU binary
 * exists (`boot xenfv-blk-stub`, mode xenfv-blk-stub in
 * `run`), so that once xenfv lands, a failure of the real mode points at
 * xenfv, not at the harness. It also pins down, in ~500 lines, what the
 * mode expects a device model to do on Xen 4.17/Arm:
 *   - find backend/virtio_disk/<domid>/<devid> (base, irq) in xenstore,
 *   - ioreq server with bufioreq off, ioreq page mapped as a resource,
 *     MMIO [base, base + 0x200) claimed; answer IOREQ_TYPE_INVALIDATE,
 *   - write backend state 2 if it is still 1 (e2e_hs=dm), 6 after 5,
 *   - write /local/domain/0/device-model/<domid>/state = running when ready,
 *   - guest RAM at GUEST_RAM0_BASE 0x40000000 by foreign mapping (no
 *     grants: Debian's kernel has no CONFIG_XEN_VIRTIO),
 *   - one level-1 xendevicemodel_set_irq_level per notification (SPI, edge),
 *   - exit by itself as soon as the domain is gone.
 * virtio-mmio version 2, one split virtqueue, features VERSION_1 + FLUSH.
 *
 * Usage: virtio-blk-stub -d domid -f image [-m guest_MiB] [-t timeout_s]
 */
#define __XEN_TOOLS__ 1
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <xendevicemodel.h>
#include <xenevtchn.h>
#include <xenforeignmemory.h>
#include <xenstore.h>
#include <xen/hvm/hvm_op.h>
#include <xen/hvm/ioreq.h>
#include <xen/memory.h>

#define RAM_BASE    0x40000000ull   /* GUEST_RAM0_BASE */
#define PAGE_SHIFT  12
#define REGION_SIZE 0x200
#define MAX_VCPUS   8
#define QMAX        256

static double t0;
static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void say(const char *fmt, ...)
{
    va_list ap;

    printf("stub: [%7.3f] ", now() - t0);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
}

static void die(const char *what)
{
    say("FATAL: %s: %s", what, strerror(errno));
    exit(1);
}

static struct xs_handle *xs;
static xendevicemodel_handle *dmod;
static xenforeignmemory_handle *fmem;
static xenevtchn_handle *xce;
static shared_iopage_t *iopage;
static ioservid_t ioservid;
static int domid = -1, nr_vcpus, img_fd;
static char be_path[512];
static uint64_t base, ram_size, capacity;
static unsigned int irq;
static uint8_t *ram;
static evtchn_port_t local_port[MAX_VCPUS];

/* virtio-mmio state */
static uint32_t dev_feat_sel, drv_feat_sel, status, isr, queue_num = QMAX, queue_ready;
static uint64_t drv_features, desc_gpa, avail_gpa, used_gpa;
static uint16_t last_avail;
static unsigned long n_reqs, n_irqs;

static void *gpa(uint64_t addr, uint64_t len)
{
    if (addr < RAM_BASE || addr + len > RAM_BASE + ram_size || addr + len < addr)
        return NULL;
    return ram + (addr - RAM_BASE);
}

static char *xs_get(const char *fmt, ...)
{
    char path[600];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(path, sizeof(path), fmt, ap);
    va_end(ap);
    return xs_read(xs, XBT_NULL, path, NULL);
}

static bool xs_set(const char *val, const char *fmt, ...)
{
    char path[600];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(path, sizeof(path), fmt, ap);
    va_end(ap);
    return xs_write(xs, XBT_NULL, path, val, strlen(val));
}

static void reset(void)
{
    drv_features = 0;
    status = isr = queue_ready = 0;
    queue_num = QMAX;
    desc_gpa = avail_gpa = used_gpa = 0;
    last_avail = 0;
}

struct vdesc { uint64_t addr; uint32_t len; uint16_t flags, next; };
#define VRING_DESC_F_NEXT  1
#define VRING_DESC_F_WRITE 2

static void process_queue(void)
{
    struct vdesc *desc = gpa(desc_gpa, 16ull * queue_num);
    uint16_t *avail = gpa(avail_gpa, 4 + 2ull * queue_num);
    uint16_t *used = gpa(used_gpa, 4 + 8ull * queue_num);
    bool any = false;

    if (!queue_ready || !desc || !avail || !used) {
        say("notify with queue not set up (ready %u)", queue_ready);
        return;
    }
    __sync_synchronize();
    while (last_avail != *(volatile uint16_t *)&avail[1]) {
        uint16_t head = avail[2 + last_avail % queue_num], i = head;
        struct vdesc *chain[QMAX];
        unsigned int n = 0, k;
        uint32_t written = 0;
        uint8_t st = 0;           /* VIRTIO_BLK_S_OK */

        __sync_synchronize();
        do {
            if (i >= queue_num || n >= QMAX)
                break;
            chain[n++] = &desc[i];
            i = desc[i].next;
        } while (chain[n - 1]->flags & VRING_DESC_F_NEXT);

        struct { uint32_t type, ioprio; uint64_t sector; } *hdr =
            n >= 2 ? gpa(chain[0]->addr, 16) : NULL;
        uint8_t *stp = n >= 2 ? gpa(chain[n - 1]->addr, 1) : NULL;
        if (!hdr || !stp) {
            say("malformed request (chain of %u)", n);
        } else {
            uint64_t off = hdr->sector * 512;

            for (k = 1; k + 1 < n && st == 0; k++) {
                void *buf = gpa(chain[k]->addr, chain[k]->len);
                ssize_t r;

                if (!buf) { st = 1; break; }
                if (hdr->type == 0) {                 /* IN */
                    r = pread(img_fd, buf, chain[k]->len, off);
                    written += chain[k]->len;
                } else if (hdr->type == 1) {          /* OUT */
                    r = pwrite(img_fd, buf, chain[k]->len, off);
                } else if (hdr->type == 8) {          /* GET_ID */
                    memset(buf, 0, chain[k]->len);
                    strncpy(buf, "e2e-stub", chain[k]->len);
                    written += chain[k]->len;
                    r = chain[k]->len;
                } else {
                    r = -1;
                    st = 2;                           /* UNSUPP */
                }
                if (st == 0 && r != (ssize_t)chain[k]->len)
                    st = 1;                           /* IOERR */
                off += chain[k]->len;
            }
            if (hdr->type == 4 && fdatasync(img_fd))  /* FLUSH */
                st = 1;
            *stp = st;
            written += 1;
            if (st)
                say("request type %u sector %" PRIu64 ": status %u", hdr->type,
                    hdr->sector, st);
        }
        struct { uint32_t id, len; } *ue = (void *)&used[2];
        uint16_t uidx = used[1];

        ue[uidx % queue_num].id = head;
        ue[uidx % queue_num].len = written;
        __sync_synchronize();
        used[1] = uidx + 1;
        last_avail++;
        n_reqs++;
        any = true;
    }
    if (any) {
        isr |= 1;
        __sync_synchronize();
        if (xendevicemodel_set_irq_level(dmod, domid, irq, 1))
            say("set_irq_level(%u, 1) failed: %s", irq, strerror(errno));
        n_irqs++;
    }
}

static uint64_t mmio_read(uint64_t off, unsigned int size)
{
    if (off >= 0x100) {                                /* config space */
        uint8_t cfg[8];
        uint64_t v = 0;

        memcpy(cfg, &capacity, 8);
        if (off - 0x100 + size <= 8)
            memcpy(&v, cfg + (off - 0x100), size);
        return v;
    }
    switch (off) {
    case 0x000: return 0x74726976;                     /* magic */
    case 0x004: return 2;                              /* version */
    case 0x008: return 2;                              /* block device */
    case 0x00c: return 0x554d4551;
    case 0x010: return dev_feat_sel == 0 ? (1u << 9)   /* BLK_F_FLUSH */
                     : dev_feat_sel == 1 ? 1 : 0;      /* F_VERSION_1 */
    case 0x034: return QMAX;
    case 0x044: return queue_ready;
    case 0x060: return isr;
    case 0x070: return status;
    case 0x0fc: return 0;                              /* config generation */
    }
    return 0;
}

static void mmio_write(uint64_t off, uint64_t v)
{
    uint32_t w = v;

    switch (off) {
    case 0x014: dev_feat_sel = w; break;
    case 0x020:
        if (drv_feat_sel < 2)
            drv_features = (drv_features & ~(0xffffffffull << (32 * drv_feat_sel))) |
                           ((uint64_t)w << (32 * drv_feat_sel));
        break;
    case 0x024: drv_feat_sel = w; break;
    case 0x030: break;                                 /* one queue */
    case 0x038: queue_num = w && w <= QMAX ? w : QMAX; break;
    case 0x044: queue_ready = w & 1; break;
    case 0x050: process_queue(); break;
    case 0x064: isr &= ~w; break;
    case 0x070:
        if (w == 0) { reset(); say("device reset"); }
        else status = w;
        break;
    case 0x080: desc_gpa = (desc_gpa & ~0xffffffffull) | w; break;
    case 0x084: desc_gpa = (desc_gpa & 0xffffffffull) | ((uint64_t)w << 32); break;
    case 0x090: avail_gpa = (avail_gpa & ~0xffffffffull) | w; break;
    case 0x094: avail_gpa = (avail_gpa & 0xffffffffull) | ((uint64_t)w << 32); break;
    case 0x0a0: used_gpa = (used_gpa & ~0xffffffffull) | w; break;
    case 0x0a4: used_gpa = (used_gpa & 0xffffffffull) | ((uint64_t)w << 32); break;
    }
}

static void serve(int vcpu)
{
    ioreq_t *req = &iopage->vcpu_ioreq[vcpu];

    if (req->state != STATE_IOREQ_READY)
        return;
    __sync_synchronize();
    req->state = STATE_IOREQ_INPROCESS;
    if (req->type == IOREQ_TYPE_COPY && !req->data_is_ptr && req->count == 1) {
        if (req->dir == IOREQ_READ)
            req->data = mmio_read(req->addr - base, req->size);
        else
            mmio_write(req->addr - base, req->data);
    } else if (req->type != IOREQ_TYPE_INVALIDATE) {
        say("unexpected ioreq type %u", req->type);
    }
    __sync_synchronize();
    req->state = STATE_IORESP_READY;
    xenevtchn_notify(xce, local_port[vcpu]);
}

static void setup(const char *image)
{
    unsigned int n, i;
    char **l, *s;
    struct stat sb;
    xen_pfn_t *pfns;
    int *errs, bad = 0;

    snprintf(be_path, sizeof(be_path), "/local/domain/0/backend/virtio_disk/%d", domid);
    l = xs_directory(xs, XBT_NULL, be_path, &n);
    if (!l || !n)
        die("no virtio_disk backend for this domain in xenstore");
    strcat(be_path, "/");
    strcat(be_path, l[0]);
    free(l);
    s = xs_get("%s/base", be_path); base = s ? strtoull(s, NULL, 0) : 0; free(s);
    s = xs_get("%s/irq", be_path); irq = s ? strtoul(s, NULL, 0) : 0; free(s);
    {
        char p[64];

        snprintf(p, sizeof(p), "/local/domain/%d/cpu", domid);
        l = xs_directory(xs, XBT_NULL, p, &n);
        nr_vcpus = l && n ? (int)n : 1;
        free(l);
    }
    if (nr_vcpus > MAX_VCPUS)
        nr_vcpus = MAX_VCPUS;

    img_fd = open(image, O_RDWR);
    if (img_fd < 0 || fstat(img_fd, &sb))
        die(image);
    capacity = sb.st_size / 512;
    say("%s: domid %d base 0x%" PRIx64 " irq %u vcpus %d, %s %" PRIu64 " sectors",
        be_path, domid, base, irq, nr_vcpus, image, capacity);

    dmod = xendevicemodel_open(NULL, 0);
    fmem = xenforeignmemory_open(NULL, 0);
    xce = xenevtchn_open(NULL, 0);
    if (!dmod || !fmem || !xce)
        die("opening xen interfaces");

    n = ram_size >> PAGE_SHIFT;
    pfns = calloc(n, sizeof(*pfns));
    errs = calloc(n, sizeof(*errs));
    for (i = 0; i < n; i++)
        pfns[i] = (RAM_BASE >> PAGE_SHIFT) + i;
    ram = xenforeignmemory_map(fmem, domid, PROT_READ | PROT_WRITE, n, pfns, errs);
    if (!ram)
        die("xenforeignmemory_map(guest RAM)");
    for (i = 0; i < n; i++)
        bad += errs[i] != 0;
    say("guest RAM 0x%llx + %" PRIu64 " MiB mapped (%d pages failed)", RAM_BASE,
        ram_size >> 20, bad);
    free(pfns);
    free(errs);

    if (xendevicemodel_create_ioreq_server(dmod, domid, HVM_IOREQSRV_BUFIOREQ_OFF, &ioservid))
        die("create_ioreq_server");
    if (!xenforeignmemory_map_resource(fmem, domid, XENMEM_resource_ioreq_server, ioservid,
                                       XENMEM_resource_ioreq_server_frame_ioreq(0), 1,
                                       (void **)&iopage, PROT_READ | PROT_WRITE, 0))
        die("map ioreq page");
    if (xendevicemodel_map_io_range_to_ioreq_server(dmod, domid, ioservid, 1, base,
                                                    base + REGION_SIZE - 1))
        die("map_io_range_to_ioreq_server");
    if (xendevicemodel_set_ioreq_server_state(dmod, domid, ioservid, 1))
        die("set_ioreq_server_state");
    for (i = 0; i < (unsigned int)nr_vcpus; i++) {
        int p = xenevtchn_bind_interdomain(xce, domid, iopage->vcpu_ioreq[i].vp_eport);
        if (p < 0)
            die("xenevtchn_bind_interdomain");
        local_port[i] = p;
    }
    s = xs_get("%s/state", be_path);
    if (s && !strcmp(s, "1")) {
        xs_set("2", "%s/state", be_path);
        say("backend state 1 -> 2");
    } else {
        say("backend state already %s", s ? s : "(none)");
    }
    free(s);
    xs_set("running", "/local/domain/0/device-model/%d/state", domid);
    say("ready: device-model/%d/state = running", domid);
}

static bool domain_alive(void)
{
    char *s = xs_get("/local/domain/%d", domid);
    bool gone = !s && errno == ENOENT;

    free(s);
    return !gone;
}

int main(int argc, char **argv)
{
    const char *image = NULL;
    double timeout = 600;
    int c, i;
    bool closed = false;

    setvbuf(stdout, NULL, _IOLBF, 0);
    t0 = now();
    ram_size = 128ull << 20;
    while ((c = getopt(argc, argv, "d:f:m:t:")) != -1) {
        switch (c) {
        case 'd': domid = atoi(optarg); break;
        case 'f': image = optarg; break;
        case 'm': ram_size = strtoull(optarg, NULL, 0) << 20; break;
        case 't': timeout = atof(optarg); break;
        default: domid = -1; image = NULL; break;
        }
    }
    if (domid < 0 || !image) {
        fprintf(stderr, "usage: %s -d domid -f image [-m MiB] [-t s]\n", argv[0]);
        return 2;
    }
    xs = xs_open(0);
    if (!xs)
        die("xs_open");
    setup(image);
    {
        char p[64];

        snprintf(p, sizeof(p), "/local/domain/%d", domid);
        if (!xs_watch(xs, be_path, "be") || !xs_watch(xs, "@releaseDomain", "rel") ||
            !xs_watch(xs, p, "dom"))
            die("xs_watch");
    }

    while (now() < t0 + timeout) {
        struct pollfd pfd[2] = {
            { .fd = xs_fileno(xs), .events = POLLIN },
            { .fd = xenevtchn_fd(xce), .events = POLLIN },
        };
        char **w;

        int r = poll(pfd, 2, 250);

        if (r < 0 && errno != EINTR)
            die("poll");
        if (r == 0 && !domain_alive()) {
            say("domain %d gone (poll) after %lu requests, %lu interrupts; exiting",
                domid, n_reqs, n_irqs);
            return 0;
        }
        if (pfd[1].revents & POLLIN) {
            int port = xenevtchn_pending(xce);

            if (port >= 0) {
                xenevtchn_unmask(xce, port);
                for (i = 0; i < nr_vcpus; i++)
                    if (local_port[i] == (evtchn_port_t)port)
                        serve(i);
            }
        }
        while ((w = xs_check_watch(xs))) {
            char *s;

            free(w);
            s = xs_get("%s/state", be_path);
            if (!closed && s && !strcmp(s, "5")) {
                closed = true;
                xs_set("6", "%s/state", be_path);
                say("backend state 5 -> 6");
                if (ram) {
                    double tu = now();

                    xenforeignmemory_unmap(fmem, ram, ram_size >> PAGE_SHIFT);
                    ram = NULL;
                    say("guest RAM unmapped in %.2f s", now() - tu);
                }
            }
            free(s);
            if (!domain_alive()) {
                say("domain %d gone after %lu requests, %lu interrupts; exiting",
                    domid, n_reqs, n_irqs);
                return 0;
            }
        }
    }
    say("timeout");
    return 1;
}
