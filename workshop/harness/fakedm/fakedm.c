/*
 * xenfv-fakedm: a toy device model that makes the same library calls as
 * the xenfv machine, in the same order, so that the harness can be
 * tested before (and independently of) QEMU.  Each of the 11 virtio-mmio
 * windows answers magic/version/vendor, has 256 bytes of scratch
 * registers at 0x100, and a doorbell at 0x050: writing a guest address
 * there makes the model add 1 to the 64 bytes at that address through a
 * mapcache-style 1 MiB foreign mapping and raise the window's SPI.
 *
 * --bug=noirq and --bug=abort-on-bad-ioreq make it misbehave, so that
 * the harness can check that its tests detect such faults.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <unistd.h>
#include <xenctrl.h>
#include <xendevicemodel.h>
#include <xenevtchn.h>
#include <xenforeignmemory.h>
#include <xenstore.h>
#include <xen/memory.h>
#include <xen/hvm/ioreq.h>
#include <xen/hvm/dm_op.h>

#define MMIO_BASE       0x02000000ULL
#define MMIO_SLOT       0x200
#define NR_SLOTS        11
#define FIRST_SPI       33
#define BUCKET_PAGES    256
#define MAX_VCPUS       16

static struct {
    uint32_t domid;
    unsigned vcpus;
    bool bug_noirq, bug_abort;
    xc_interface *xc;
    xenforeignmemory_handle *fmem;
    xendevicemodel_handle *dmod;
    xenevtchn_handle *xce;
    struct xs_handle *xs;
    ioservid_t id;
    bool created;
    xenforeignmemory_resource_handle *fres;
    shared_iopage_t *page;
    evtchn_port_t local[MAX_VCPUS];
    uint8_t scratch[NR_SLOTS][256];
    uint8_t *bucket;            /* one cached 1 MiB mapping */
    uint64_t bucket_pfn;
    unsigned invalidates;
} dm;

static void teardown(void);

static void die(const char *what)
{
    fprintf(stderr, "xenfv-fakedm: %s: %s\n", what, strerror(errno));
    /* Leave no ioreq server behind: it would hang the guest's vcpus. */
    if (dm.created) {
        teardown();
    }
    exit(1);
}

static void check_domain(void)
{
    xc_dominfo_t info;

    if (xc_domain_getinfo(dm.xc, dm.domid, 1, &info) != 1 ||
        info.domid != dm.domid) {
        errno = ESRCH;
        die("domain not found");
    }
    if (info.dying) {
        errno = ESRCH;
        die("domain is dying");
    }
}

static void open_handles(void)
{
    unsigned nr;

    dm.xc = xc_interface_open(NULL, NULL, 0);
    if (!dm.xc) {
        die("xc_interface_open");
    }
    dm.fmem = xenforeignmemory_open(NULL, 0);
    if (!dm.fmem) {
        die("xenforeignmemory_open");
    }
    dm.dmod = xendevicemodel_open(NULL, 0);
    if (!dm.dmod) {
        die("xendevicemodel_open");
    }
    check_domain();
    if (xendevicemodel_nr_vcpus(dm.dmod, dm.domid, &nr) < 0) {
        die("xendevicemodel_nr_vcpus");
    }
    if (dm.vcpus > nr || nr > MAX_VCPUS) {
        errno = EINVAL;
        die("vcpu count");
    }
    dm.vcpus = nr;
    dm.xs = xs_daemon_open();
    if (!dm.xs) {
        die("xs_daemon_open");
    }
    dm.xce = xenevtchn_open(NULL, 0);
    if (!dm.xce) {
        die("xenevtchn_open");
    }
}

static void create_server(void)
{
    void *addr = NULL;

    if (xendevicemodel_create_ioreq_server(dm.dmod, dm.domid,
                                           HVM_IOREQSRV_BUFIOREQ_OFF,
                                           &dm.id) < 0) {
        die("xendevicemodel_create_ioreq_server");
    }
    dm.created = true;
    dm.fres = xenforeignmemory_map_resource(
        dm.fmem, dm.domid, XENMEM_resource_ioreq_server, dm.id,
        XENMEM_resource_ioreq_server_frame_ioreq(0), 1, &addr,
        PROT_READ | PROT_WRITE, 0);
    if (!dm.fres) {
        die("xenforeignmemory_map_resource");
    }
    dm.page = addr;
    /* Xen fills in the vCPUs' event channel ports when the server starts */
    if (xendevicemodel_set_ioreq_server_state(dm.dmod, dm.domid, dm.id,
                                              1) < 0) {
        die("xendevicemodel_set_ioreq_server_state");
    }
    for (unsigned v = 0; v < dm.vcpus; v++) {
        int p = xenevtchn_bind_interdomain(dm.xce, dm.domid,
                                           dm.page->vcpu_ioreq[v].vp_eport);
        if (p < 0) {
            die("xenevtchn_bind_interdomain");
        }
        dm.local[v] = p;
    }
    for (int i = 0; i < NR_SLOTS; i++) {
        uint64_t base = MMIO_BASE + i * MMIO_SLOT;

        if (xendevicemodel_map_io_range_to_ioreq_server(
                dm.dmod, dm.domid, dm.id, 1, base, base + MMIO_SLOT - 1) < 0) {
            die("xendevicemodel_map_io_range_to_ioreq_server");
        }
    }
}

static void announce(void)
{
    char *dom = xs_get_domain_path(dm.xs, 0);
    char path[256];

    snprintf(path, sizeof(path), "%s/device-model/%u/state", dom, dm.domid);
    free(dom);
    if (!xs_write(dm.xs, XBT_NULL, path, "running", 7)) {
        die("xs_write state");
    }
    if (!xs_watch(dm.xs, "@releaseDomain", "release")) {
        die("xs_watch @releaseDomain");
    }
}

static void drop_bucket(void)
{
    if (dm.bucket) {
        xenforeignmemory_unmap(dm.fmem, dm.bucket, BUCKET_PAGES);
        dm.bucket = NULL;
    }
}

/* Guest address -> host pointer through the 1 MiB bucket cache. */
static uint8_t *map_guest(uint64_t gpa, size_t len)
{
    uint64_t pfn = (gpa >> 12) & ~(uint64_t)(BUCKET_PAGES - 1);
    xen_pfn_t pfns[BUCKET_PAGES];
    static int err[BUCKET_PAGES];   /* of the current bucket */
    size_t first = (gpa >> 12) - pfn, last = ((gpa + len - 1) >> 12) - pfn;

    if (last >= BUCKET_PAGES) {
        return NULL;
    }
    if (!dm.bucket || dm.bucket_pfn != pfn) {
        drop_bucket();
        for (int i = 0; i < BUCKET_PAGES; i++) {
            pfns[i] = pfn + i;
        }
        dm.bucket = xenforeignmemory_map2(dm.fmem, dm.domid, NULL,
                                          PROT_READ | PROT_WRITE, 0,
                                          BUCKET_PAGES, pfns, err);
        if (!dm.bucket) {
            die("xenforeignmemory_map2");
        }
        dm.bucket_pfn = pfn;
    }
    /* Frames Xen refused stay inaccessible in a reused bucket too. */
    for (size_t i = first; i <= last; i++) {
        if (err[i]) {
            fprintf(stderr, "xenfv-fakedm: gpa 0x%lx: frame error %d\n",
                    (unsigned long)gpa, err[i]);
            return NULL;
        }
    }
    return dm.bucket + (gpa - (pfn << 12));
}

static void doorbell(int slot, uint64_t gpa)
{
    uint8_t *p = map_guest(gpa, 64);

    if (p) {
        for (int i = 0; i < 64; i++) {
            p[i]++;
        }
    }
    if (!dm.bug_noirq &&
        xendevicemodel_set_irq_level(dm.dmod, dm.domid, FIRST_SPI + slot,
                                     1) < 0) {
        fprintf(stderr, "xenfv-fakedm: set_irq_level: %s\n",
                strerror(errno));
    }
}

static uint64_t mmio_read(int slot, unsigned off, unsigned size)
{
    uint64_t v = 0;

    switch (off) {
    case 0x000:
        return 0x74726976;
    case 0x004:
        return 2;
    case 0x008:
        return slot == 0 ? 0x7f : 0;
    case 0x00c:
        return 0x554d4551;
    }
    if (off >= 0x100 && off + size <= 0x200) {
        memcpy(&v, &dm.scratch[slot][off - 0x100], size);
    }
    return v;
}

static void mmio_write(int slot, unsigned off, unsigned size, uint64_t v)
{
    if (off == 0x050) {
        doorbell(slot, v);
    } else if (off >= 0x100 && off + size <= 0x200) {
        memcpy(&dm.scratch[slot][off - 0x100], &v, size);
    }
}

static bool well_formed(const ioreq_t *req)
{
    return req->type == IOREQ_TYPE_COPY && req->count == 1 &&
           !req->data_is_ptr && req->size && req->size <= 8 &&
           !(req->size & (req->size - 1)) && req->addr >= MMIO_BASE &&
           req->addr + req->size <= MMIO_BASE + NR_SLOTS * MMIO_SLOT;
}

static void handle(ioreq_t *req)
{
    uint64_t off;

    if (req->type == IOREQ_TYPE_INVALIDATE) {
        dm.invalidates++;
        drop_bucket();
        return;
    }
    if (!well_formed(req)) {
        fprintf(stderr, "xenfv-fakedm: bad ioreq type %u size %u count %u "
                "ptr %u addr 0x%lx\n", req->type, req->size, req->count,
                req->data_is_ptr, (unsigned long)req->addr);
        if (dm.bug_abort) {
            abort();
        }
        if (req->dir == IOREQ_READ) {
            req->data = ~0ULL;
        }
        return;
    }
    off = req->addr - MMIO_BASE;
    if (req->dir == IOREQ_READ) {
        req->data = mmio_read(off / MMIO_SLOT, off % MMIO_SLOT, req->size);
    } else {
        mmio_write(off / MMIO_SLOT, off % MMIO_SLOT, req->size, req->data);
    }
}

static void serve_port(void)
{
    int port = xenevtchn_pending(dm.xce);

    if (port < 0) {
        return;
    }
    xenevtchn_unmask(dm.xce, port);
    for (unsigned v = 0; v < dm.vcpus; v++) {
        ioreq_t *req = &dm.page->vcpu_ioreq[v];

        if (dm.local[v] != (unsigned)port ||
            req->state != STATE_IOREQ_READY) {
            continue;
        }
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        req->state = STATE_IOREQ_INPROCESS;
        handle(req);
        __atomic_thread_fence(__ATOMIC_RELEASE);
        req->state = STATE_IORESP_READY;
        xenevtchn_notify(dm.xce, port);
    }
}

/* @releaseDomain: leave once our domain is gone or dying. */
static bool domain_released(void)
{
    unsigned num;
    char **w = xs_read_watch(dm.xs, &num);
    xc_dominfo_t info;
    bool gone;

    if (!w) {
        return true;
    }
    free(w);
    gone = xc_domain_getinfo(dm.xc, dm.domid, 1, &info) != 1 ||
           info.domid != dm.domid || info.dying;
    if (gone) {
        fprintf(stderr, "xenfv-fakedm: domain %u is gone, exiting\n",
                dm.domid);
    }
    return gone;
}

static void teardown(void)
{
    drop_bucket();
    xendevicemodel_set_ioreq_server_state(dm.dmod, dm.domid, dm.id, 0);
    xendevicemodel_destroy_ioreq_server(dm.dmod, dm.domid, dm.id);
    xenforeignmemory_unmap_resource(dm.fmem, dm.fres);
    dm.created = false;
}

static int serve(void)
{
    sigset_t set;
    struct pollfd pfd[3];
    int sfd;

    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigprocmask(SIG_BLOCK, &set, NULL);
    sfd = signalfd(-1, &set, SFD_CLOEXEC);
    pfd[0] = (struct pollfd) { .fd = xenevtchn_fd(dm.xce), .events = POLLIN };
    pfd[1] = (struct pollfd) { .fd = xs_fileno(dm.xs), .events = POLLIN };
    pfd[2] = (struct pollfd) { .fd = sfd, .events = POLLIN };
    for (;;) {
        if (poll(pfd, 3, -1) < 0) {
            continue;
        }
        if (pfd[0].revents) {
            serve_port();
        }
        if (pfd[1].revents && domain_released()) {
            return 0;
        }
        if (pfd[2].revents) {
            teardown();
            return 0;
        }
    }
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "domid", required_argument, NULL, 'd' },
        { "vcpus", required_argument, NULL, 'v' },
        { "bug", required_argument, NULL, 'b' },
        { NULL, 0, NULL, 0 },
    };
    int c;

    dm.domid = 1;
    dm.vcpus = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            dm.domid = strtoul(optarg, NULL, 0);
            break;
        case 'v':
            dm.vcpus = strtoul(optarg, NULL, 0);
            break;
        case 'b':
            dm.bug_noirq |= !strcmp(optarg, "noirq");
            dm.bug_abort |= !strcmp(optarg, "abort-on-bad-ioreq");
            break;
        default:
            fprintf(stderr, "usage: xenfv-fakedm [--domid N] [--vcpus N] "
                    "[--bug noirq|abort-on-bad-ioreq]\n");
            return 2;
        }
    }
    open_handles();
    create_server();
    announce();
    return serve();
}
