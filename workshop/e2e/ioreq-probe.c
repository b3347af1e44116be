/*
 * ioreq-probe: a minimal Xen ioreq server for the e2e environment.
 *
 * It proves the hypervisor (CONFIG_IOREQ_SERVER), the toolstack and the
 * images work without QEMU. Run it in dom0 before `xl create -p` of a domU
 * whose config has one standalone virtio disk:
 *   disk = ['format=raw,vdev=xvda,backendtype=standalone,specification=virtio,target=...']
 * It then
 *   1. waits for /local/domain/0/backend/virtio_disk/<domid>/<devid>/state = 1,
 *   2. creates an ioreq server (bufioreq off: Arm refuses buffered ioreqs),
 *      maps its ioreq page, claims MMIO [base, base + 0x200) and enables it,
 *   3. writes state = 2 (libxl waits at most 10 s for exactly that),
 *   4. serves MMIO reads from a small register file (virtio-mmio magic,
 *      version 2, device id 0 so no driver binds) and stores writes,
 *   5. after the first read at offset 0, checks
 *      xendevicemodel_set_irq_level(domid, irq, 1) returns 0,
 *   6. answers the backend's close (state 5 -> 6) and exits when the
 *      domain goes away.
 * Exit status 0 when every step happened. Output lines start "probe:".
 *
 * Usage: ioreq-probe [-t timeout_s]
 */
#define __XEN_TOOLS__ 1
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <xendevicemodel.h>
#include <xenevtchn.h>
#include <xenforeignmemory.h>
#include <xenstore.h>
#include <xen/hvm/hvm_op.h>
#include <xen/hvm/ioreq.h>
#include <xen/memory.h>

#define BE_ROOT     "/local/domain/0/backend/virtio_disk"
#define REGION_SIZE 0x200
#define MAX_VCPUS   8
#define MAGIC       0x74726976u /* "virt" */

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

    printf("probe: [%7.3f] ", now() - t0);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
}

static struct xs_handle *xs;
static xendevicemodel_handle *dmod;
static xenforeignmemory_handle *fmem;
static xenforeignmemory_resource_handle *fres;
static xenevtchn_handle *xce;
static shared_iopage_t *iopage;
static ioservid_t ioservid;
static int domid = -1, nr_vcpus;
static char be_path[512];
static uint64_t base;
static unsigned int irq;
static evtchn_port_t local_port[MAX_VCPUS];
static uint32_t regs[REGION_SIZE / 4];

/* What happened, for the verdict. */
static bool state2_written, saw_close, wrote6, domain_gone;
static int irq_rc = -2, irq_errno;
static unsigned long n_req, n_read0, n_invalidate, n_other;
static uint32_t last_read0;

static char *xs_get(const char *fmt, ...)
{
    char path[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(path, sizeof(path), fmt, ap);
    va_end(ap);
    return xs_read(xs, XBT_NULL, path, NULL);
}

static bool xs_put(const char *path, const char *val)
{
    return xs_write(xs, XBT_NULL, path, val, strlen(val));
}

static int fail(const char *what)
{
    say("FAIL: %s: %s", what, strerror(errno));
    return -1;
}

/* Find a virtio_disk backend in state 1; fills domid/be_path. */
static bool find_backend(void)
{
    unsigned int nd, nv, i, j;
    char **doms = xs_directory(xs, XBT_NULL, BE_ROOT, &nd);
    bool found = false;

    for (i = 0; doms && i < nd && !found; i++) {
        char p[256];
        char **devs;

        snprintf(p, sizeof(p), "%s/%s", BE_ROOT, doms[i]);
        devs = xs_directory(xs, XBT_NULL, p, &nv);
        for (j = 0; devs && j < nv && !found; j++) {
            char *st = xs_get("%s/%s/state", p, devs[j]);

            if (st && !strcmp(st, "1")) {
                domid = atoi(doms[i]);
                snprintf(be_path, sizeof(be_path), "%s/%s", p, devs[j]);
                found = true;
            }
            free(st);
        }
        free(devs);
    }
    free(doms);
    return found;
}

static int attach(void)
{
    char *s, p[256];
    unsigned int i, n;
    char **cpus;
    double ts = now();

    s = xs_get("%s/base", be_path);
    base = s ? strtoull(s, NULL, 0) : 0;
    free(s);
    s = xs_get("%s/irq", be_path);
    irq = s ? strtoul(s, NULL, 0) : 0;
    free(s);
    snprintf(p, sizeof(p), "/local/domain/%d/cpu", domid);
    cpus = xs_directory(xs, XBT_NULL, p, &n);
    nr_vcpus = cpus && n ? (int)n : 1;
    free(cpus);
    if (nr_vcpus > MAX_VCPUS)
        nr_vcpus = MAX_VCPUS;
    say("backend %s: domid %d base 0x%" PRIx64 " irq %u vcpus %d",
        be_path, domid, base, irq, nr_vcpus);
    if (!base || !irq) {
        errno = EINVAL;
        return fail("backend has no base/irq");
    }

    dmod = xendevicemodel_open(NULL, 0);
    fmem = xenforeignmemory_open(NULL, 0);
    xce = xenevtchn_open(NULL, 0);
    if (!dmod || !fmem || !xce)
        return fail("opening xendevicemodel/xenforeignmemory/xenevtchn");
    if (xendevicemodel_create_ioreq_server(dmod, domid, HVM_IOREQSRV_BUFIOREQ_OFF,
                                           &ioservid))
        return fail("xendevicemodel_create_ioreq_server (hypervisor without IOREQ_SERVER?)");
    fres = xenforeignmemory_map_resource(fmem, domid, XENMEM_resource_ioreq_server,
                                         ioservid,
                                         XENMEM_resource_ioreq_server_frame_ioreq(0),
                                         1, (void **)&iopage,
                                         PROT_READ | PROT_WRITE, 0);
    if (!fres)
        return fail("xenforeignmemory_map_resource(ioreq page)");
    if (xendevicemodel_map_io_range_to_ioreq_server(dmod, domid, ioservid, 1, base,
                                                    base + REGION_SIZE - 1))
        return fail("xendevicemodel_map_io_range_to_ioreq_server");
    if (xendevicemodel_set_ioreq_server_state(dmod, domid, ioservid, 1))
        return fail("xendevicemodel_set_ioreq_server_state");
    for (i = 0; i < (unsigned int)nr_vcpus; i++) {
        int port = xenevtchn_bind_interdomain(xce, domid,
                                              iopage->vcpu_ioreq[i].vp_eport);
        if (port < 0)
            return fail("xenevtchn_bind_interdomain");
        local_port[i] = port;
    }
    say("ioreq server %u enabled, MMIO 0x%" PRIx64 "-0x%" PRIx64 " claimed",
        ioservid, base, base + REGION_SIZE - 1);
    if (!xs_put(strcat(strcpy(p, be_path), "/state"), "2"))
        return fail("writing backend state 2");
    state2_written = true;
    say("backend state 1 -> 2 (%.0f ms after state 1 was seen)", (now() - ts) * 1000);
    return 0;
}

static uint64_t reg_read(uint64_t off, unsigned int size)
{
    uint64_t v = 0;

    if (off + size <= REGION_SIZE)
        memcpy(&v, (uint8_t *)regs + off, size);
    return v;
}

static void reg_write(uint64_t off, uint64_t v, unsigned int size)
{
    if (off + size <= REGION_SIZE)
        memcpy((uint8_t *)regs + off, &v, size);
}

static void serve(int vcpu)
{
    ioreq_t *req = &iopage->vcpu_ioreq[vcpu];

    if (req->state != STATE_IOREQ_READY)
        return;
    __sync_synchronize();
    req->state = STATE_IOREQ_INPROCESS;
    n_req++;
    switch (req->type) {
    case IOREQ_TYPE_COPY: {
        uint64_t off = req->addr - base;

        if (req->data_is_ptr || req->count != 1) {
            say("unexpected COPY ioreq: data_is_ptr %d count %u", req->data_is_ptr,
                req->count);
            n_other++;
            break;
        }
        if (req->dir == IOREQ_READ) {
            req->data = reg_read(off, req->size);
            say("read  +0x%03" PRIx64 " size %u -> 0x%" PRIx64, off, req->size, req->data);
            if (off == 0) {
                n_read0++;
                last_read0 = req->data;
            }
        } else {
            reg_write(off, req->data, req->size);
            say("write +0x%03" PRIx64 " size %u <- 0x%" PRIx64, off, req->size, req->data);
        }
        break;
    }
    case IOREQ_TYPE_INVALIDATE:
        n_invalidate++;
        say("invalidate (mapcache) request");
        break;
    default:
        n_other++;
        say("unexpected ioreq type %u", req->type);
        break;
    }
    __sync_synchronize();
    req->state = STATE_IORESP_READY;
    xenevtchn_notify(xce, local_port[vcpu]);

    if (n_read0 == 1 && irq_rc == -2) {
        irq_rc = xendevicemodel_set_irq_level(dmod, domid, irq, 1);
        irq_errno = irq_rc ? errno : 0;
        say("xendevicemodel_set_irq_level(%d, %u, 1) = %d%s%s", domid, irq, irq_rc,
            irq_rc ? " " : "", irq_rc ? strerror(irq_errno) : "");
        xendevicemodel_set_irq_level(dmod, domid, irq, 0);
    }
}

static void on_xenstore(void)
{
    char **w;
    unsigned int n;

    while ((w = xs_check_watch(xs))) {
        free(w);
        if (domid < 0) {
            if (find_backend() && attach() < 0)
                exit(1);
            continue;
        }
        if (!saw_close) {
            char *st = xs_get("%s/state", be_path);

            if (st && !strcmp(st, "5")) {
                char p[600];

                saw_close = true;
                snprintf(p, sizeof(p), "%s/state", be_path);
                wrote6 = xs_put(p, "6");
                say("backend state 5 -> 6%s", wrote6 ? "" : " FAILED");
            }
            free(st);
        }
        if (!domain_gone) {
            char *d = xs_get("/local/domain/%d", domid);

            if (!d && errno == ENOENT) {
                domain_gone = true;
                say("domain %d is gone", domid);
            }
            free(d);
        }
    }
    (void)n;
}

int main(int argc, char **argv)
{
    double timeout = 120, deadline;
    int c, i, ok;

    setvbuf(stdout, NULL, _IOLBF, 0);
    t0 = now();
    while ((c = getopt(argc, argv, "t:")) != -1) {
        if (c == 't')
            timeout = atof(optarg);
        else {
            fprintf(stderr, "usage: %s [-t timeout_s]\n", argv[0]);
            return 2;
        }
    }
    deadline = t0 + timeout;

    xs = xs_open(0);
    if (!xs) {
        fail("xs_open");
        return 1;
    }
    if (!xs_watch(xs, BE_ROOT, "be") || !xs_watch(xs, "@releaseDomain", "rel")) {
        fail("xs_watch");
        return 1;
    }
    say("waiting for a virtio_disk backend in state 1 under " BE_ROOT);

    while (!domain_gone && now() < deadline) {
        struct pollfd pfd[2] = {
            { .fd = xs_fileno(xs), .events = POLLIN },
            { .fd = xce ? xenevtchn_fd(xce) : -1, .events = POLLIN },
        };

        if (poll(pfd, 2, 200) < 0 && errno != EINTR) {
            fail("poll");
            break;
        }
        if (pfd[0].revents & POLLIN)
            on_xenstore();
        if (xce && (pfd[1].revents & POLLIN)) {
            int port = xenevtchn_pending(xce);

            if (port >= 0) {
                xenevtchn_unmask(xce, port);
                for (i = 0; i < nr_vcpus; i++)
                    if (local_port[i] == (evtchn_port_t)port)
                        serve(i);
            }
        }
    }
    if (!domain_gone)
        say("timeout after %.0f s", timeout);

    ok = state2_written && n_read0 > 0 && last_read0 == MAGIC && irq_rc == 0 &&
         saw_close && wrote6 && n_other == 0;
    say("summary: domid %d state2 %s, reads@0 %lu (last 0x%08x, served 0x%08x), "
        "set_irq_level %d, close 5->6 %s, requests %lu, invalidate %lu, unexpected %lu",
        domid, state2_written ? "yes" : "no", n_read0, last_read0, MAGIC, irq_rc,
        saw_close && wrote6 ? "yes" : "no", n_req, n_invalidate, n_other);
    say("%s", ok ? "RESULT PASS" : "RESULT FAIL");
    if (fres)
        xenforeignmemory_unmap_resource(fmem, fres);
    if (dmod && domid >= 0 && !domain_gone)
        xendevicemodel_destroy_ioreq_server(dmod, domid, ioservid);
    return ok ? 0 : 1;
}

static void init_regs(void) __attribute__((constructor));
static void init_regs(void)
{
    regs[0x000 / 4] = MAGIC;       /* MagicValue */
    regs[0x004 / 4] = 2;           /* Version */
    regs[0x008 / 4] = 0;           /* DeviceID 0: placeholder, no driver binds */
    regs[0x00c / 4] = 0x554d4551;  /* VendorID "QEMU" */
}
