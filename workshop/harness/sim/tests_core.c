/*
 * Tests that need no virtio device: start-up contract, MMIO windows,
 * invalidation, malformed ioreqs, domain death, SIGTERM.  They run
 * against both xenfv-fakedm and QEMU.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "harness.h"

#define MMIO_BASE   0x02000000ULL
#define MMIO_SLOT   0x200
#define NR_SLOTS    11
#define VIRT_MAGIC  0x74726976
#define VIRT_VENDOR 0x554d4551

static int server_id(struct sim *s)
{
    for (int i = 0; i < MAX_SERVERS; i++) {
        if (s->servers[i].used) {
            return i;
        }
    }
    return -1;
}

static enum result start(struct ctx *c)
{
    if (dm_start(c, NULL) < 0 || dm_wait_ready(c, 15000) < 0) {
        return FAIL;
    }
    return PASS;
}

static enum result test_startup(struct ctx *c)
{
    struct sim *s = c->s;
    struct ioserver *srv;
    int id, used = 0;

    if (start(c) != PASS) {
        return FAIL;
    }
    pthread_mutex_lock(&s->lock);
    id = server_id(s);
    for (int i = 0; i < MAX_SERVERS; i++) {
        used += s->servers[i].used;
    }
    srv = &s->servers[id];
    pthread_mutex_unlock(&s->lock);
    CHECK(used == 1, "%d ioreq servers exist, expected 1", used);
    CHECK(srv->enabled, "server %d not enabled", id);
    CHECK(s->failed_calls[XFV_OP_DM_CREATE_SERVER] == 0 &&
          s->failed_calls[XFV_OP_FMEM_MAP_RESOURCE] == 0,
          "create_ioreq_server/map_resource failed first (see the log)");
    for (unsigned v = 0; v < s->nr_vcpus; v++) {
        CHECK(s->gports[srv->eport[v]].local != 0,
              "vcpu %u's event channel %u was never bound", v,
              srv->eport[v]);
    }
    /* Xen merges the 11 adjacent windows into one range. */
    CHECK(srv->nr_mmio == 1 && srv->mmio[0].start == MMIO_BASE &&
          srv->mmio[0].end == MMIO_BASE + NR_SLOTS * MMIO_SLOT - 1,
          "claimed MMIO is not exactly 0x2000000-0x20015ff: %d ranges, "
          "first 0x%lx-0x%lx", srv->nr_mmio,
          (unsigned long)srv->mmio[0].start, (unsigned long)srv->mmio[0].end);
    CHECK(srv->nr_pio == 0, "%d port ranges claimed", srv->nr_pio);
    CHECK(xsd_watched(s->xs, "@releaseDomain"), "no @releaseDomain watch");
    return PASS;
}

static enum result check_slot(struct ctx *c, int i, uint32_t want_id)
{
    struct sim *s = c->s;
    uint64_t base = MMIO_BASE + i * MMIO_SLOT;
    unsigned vcpu = i % s->nr_vcpus;
    uint32_t magic = guest_read32(s, vcpu, base);
    uint32_t version = guest_read32(s, vcpu, base + 4);
    uint32_t dev = guest_read32(s, vcpu, base + 8);
    uint32_t vendor = guest_read32(s, vcpu, base + 12);

    CHECK(magic == VIRT_MAGIC, "slot %d magic 0x%x", i, magic);
    CHECK(version == 2, "slot %d version %u, want 2 (virtio 1.x)", i,
          version);
    CHECK(vendor == VIRT_VENDOR, "slot %d vendor 0x%x", i, vendor);
    CHECK(dev == want_id, "slot %d device id %u, want %u", i, dev, want_id);
    return PASS;
}

static enum result test_windows(struct ctx *c)
{
    struct sim *s = c->s;
    uint64_t v = 0;

    if (start(c) != PASS) {
        return FAIL;
    }
    for (int i = 0; i < NR_SLOTS; i++) {
        uint32_t want = c->kind == DM_FAKE && i == 0 ? 0x7f : 0;

        if (check_slot(c, i, want) != PASS) {
            return FAIL;
        }
    }
    CHECK(guest_mmio(s, 0, MMIO_BASE + NR_SLOTS * MMIO_SLOT, 4, false,
                     &v) == GUEST_DABT,
          "an access past the last window did not abort");
    CHECK(guest_mmio(s, 0, MMIO_BASE - 4, 4, false, &v) == GUEST_DABT,
          "an access below the first window did not abort");
    CHECK(dm_alive(c), "device model died");
    return PASS;
}

static enum result test_invalidate(struct ctx *c)
{
    struct sim *s = c->s;

    if (start(c) != PASS) {
        return FAIL;
    }
    for (unsigned v = 0; v < s->nr_vcpus; v++) {
        CHECK(guest_invalidate(s, v) == 0,
              "IOREQ_TYPE_INVALIDATE on vcpu %u not answered", v);
    }
    return check_slot(c, 1, 0);
}

struct bad_req {
    const char *what;
    ioreq_t req;
    const char *problem;        /* what QEMU's guest_errors log says */
};

static enum result test_malformed(struct ctx *c)
{
    struct sim *s = c->s;
    uint64_t ptr = guest_alloc(s, 4096, 4096);
    uint8_t *mem = guest_ptr(s, ptr, 4096);
    const uint64_t slot0 = MMIO_BASE + 0x100;
    struct bad_req bad[] = {
        { "unknown type 5", { .addr = slot0, .count = 1, .size = 4,
                              .dir = IOREQ_READ, .type = 5 },
          "unexpected ioreq type" },
        { "PIO on Arm", { .addr = 0x10, .count = 1, .size = 4,
                          .dir = IOREQ_READ, .type = IOREQ_TYPE_PIO },
          "unexpected ioreq type" },
        { "size 3", { .addr = slot0, .count = 1, .size = 3,
                      .dir = IOREQ_READ, .type = IOREQ_TYPE_COPY },
          "size is not 1, 2, 4 or 8" },
        { "size 16", { .addr = slot0, .count = 1, .size = 16,
                       .dir = IOREQ_READ, .type = IOREQ_TYPE_COPY },
          "size is not 1, 2, 4 or 8" },
        { "data_is_ptr", { .addr = slot0, .data = ptr, .count = 1,
                           .size = 4, .dir = IOREQ_READ, .data_is_ptr = 1,
                           .type = IOREQ_TYPE_COPY },
          "data_is_ptr is set" },
        { "count 2", { .addr = slot0, .count = 2, .size = 4,
                       .dir = IOREQ_READ, .type = IOREQ_TYPE_COPY },
          "count is not 1" },
        { "unclaimed address", { .addr = 0x30000000, .count = 1, .size = 4,
                                 .dir = IOREQ_READ,
                                 .type = IOREQ_TYPE_COPY },
          "no device at this address" },
        { "unknown type write", { .addr = slot0, .data = 0x55, .count = 1,
                                  .size = 4, .dir = IOREQ_WRITE,
                                  .type = 0x42 },
          "unexpected ioreq type" },
    };
    char qlog[300];
    const char *logargs[] = { "-d", "guest_errors", "-D", qlog, NULL };
    bool ok = true;
    int id;

    snprintf(qlog, sizeof(qlog), "%s/qemu.log", c->workdir);
    if (dm_start(c, c->kind == DM_QEMU ? logargs : NULL) < 0 ||
        dm_wait_ready(c, 15000) < 0) {
        return FAIL;
    }
    id = server_id(s);
    memset(mem, 0xa5, 4096);
    /* Check every case, so that one run shows all that is wrong. */
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ioreq_t req = bad[i].req;
        int r = guest_send_ioreq(s, i % s->nr_vcpus, id, &req, 3000);

        if (r != 0) {
            report("malformed ioreq (%s) not answered: %s (DM %s)",
                   bad[i].what, strerror(-r), dm_alive(c) ? "alive" : "dead");
            ok = false;
            break;
        }
        if (req.dir == IOREQ_READ && req.data != ~0ULL) {
            report("read with %s returned 0x%lx, want all ones",
                   bad[i].what, (unsigned long)req.data);
            ok = false;
        }
        if (i == 4 && memcmp(mem, mem + 1, 4095)) {
            report("data_is_ptr read wrote guest RAM at 0x%lx",
                   (unsigned long)ptr);
            ok = false;
        }
    }
    CHECK(ok, "malformed ioreqs mishandled");
    if (check_slot(c, 2, 0) != PASS) {
        return FAIL;
    }
    if (c->kind == DM_QEMU) {
        char *text = slurp(qlog);
        int lines = 0;

        /* One line per malformed request, naming it and its problem. */
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            const ioreq_t *q = &bad[i].req;
            char want[256];

            snprintf(want, sizeof(want), "ioreq type %u %s 0x%lx size %u "
                     "count %u: %s", q->type,
                     q->dir == IOREQ_READ ? "read" : "write",
                     (unsigned long)q->addr, q->size, q->count,
                     bad[i].problem);
            if (!log_has(qlog, want)) {
                report("the log does not explain the ioreq with %s",
                       bad[i].what);
                ok = false;
            }
        }
        for (char *p = text; p && (p = strstr(p, "xen: ioreq")); p++) {
            lines++;
        }
        free(text);
        CHECK(ok, "-d guest_errors log incomplete (%s)", qlog);
        CHECK(lines == (int)(sizeof(bad) / sizeof(bad[0])),
              "%d ioreq lines in %s for %zu malformed requests: well-formed "
              "accesses were logged too, or some twice", lines, qlog,
              sizeof(bad) / sizeof(bad[0]));
    }
    return PASS;
}

struct hammer {
    struct ctx *c;
    unsigned vcpu;
    int result;
    pthread_t thread;
};

static void *hammer_fn(void *opaque)
{
    struct hammer *h = opaque;
    uint64_t v;

    do {
        h->result = guest_mmio(h->c->s, h->vcpu, MMIO_BASE + 4, 4, false, &v);
    } while (h->result == 0);
    return NULL;
}

static enum result destroy(struct ctx *c, bool dying)
{
    struct sim *s = c->s;
    struct hammer h[MAX_VCPUS];
    unsigned n = s->nr_vcpus;
    struct timespec t0, t1;
    double secs;

    if (start(c) != PASS) {
        return FAIL;
    }
    for (unsigned v = 0; v < n; v++) {
        h[v] = (struct hammer) { .c = c, .vcpu = v };
        pthread_create(&h[v].thread, NULL, hammer_fn, &h[v]);
    }
    usleep(200000);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pthread_mutex_lock(&s->lock);
    sim_destroy_domain(s, dying);
    pthread_mutex_unlock(&s->lock);
    for (unsigned v = 0; v < n; v++) {
        pthread_join(h[v].thread, NULL);
    }
    CHECK(dm_wait_exit(c, 1000), "device model still running 1 s after "
          "the domain was %s", dying ? "marked dying" : "destroyed");
    clock_gettime(CLOCK_MONOTONIC, &t1);
    secs = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
    report("device model exited %.3f s after the domain died", secs);
    for (unsigned v = 0; v < n; v++) {
        CHECK(h[v].result == -ESRCH, "vcpu %u ended with %d, not in flight",
              v, h[v].result);
    }
    CHECK(WIFEXITED(c->status), "device model killed by signal %d",
          WTERMSIG(c->status));
    return PASS;
}

/*
 * A shutdown does not end the device model: a domain that suspends (save,
 * checkpoint) or asks for a soft reset runs again with the same ID and
 * must be served; one that powers off, reboots or crashes has its
 * devices taken down by the toolstack (Closing) before it is destroyed.
 * Only a dying domain ends it.
 */
static enum result test_shutdown_reasons(struct ctx *c)
{
    static const struct { unsigned reason; const char *name; } why[] = {
        { SHUTDOWN_suspend, "suspend" }, { SHUTDOWN_soft_reset, "soft reset" },
        { SHUTDOWN_poweroff, "power-off" }, { SHUTDOWN_reboot, "reboot" },
        { SHUTDOWN_crash, "crash" },
    };
    struct sim *s = c->s;
    uint64_t magic;

    if (start(c) != PASS) {
        return FAIL;
    }
    for (size_t i = 0; i < sizeof(why) / sizeof(why[0]); i++) {
        pthread_mutex_lock(&s->lock);
        sim_shutdown_domain(s, why[i].reason);
        pthread_mutex_unlock(&s->lock);
        CHECK(!dm_wait_exit(c, 500), "device model exited on a %s "
              "shutdown", why[i].name);
        pthread_mutex_lock(&s->lock);
        s->shutdown = false;
        pthread_mutex_unlock(&s->lock);
        CHECK(guest_mmio(s, 0, MMIO_BASE, 4, false, &magic) == 0 &&
              magic == 0x74726976, "the domain is not served after a %s "
              "shutdown", why[i].name);
    }
    pthread_mutex_lock(&s->lock);
    sim_destroy_domain(s, true);
    pthread_mutex_unlock(&s->lock);
    CHECK(dm_wait_exit(c, 1000), "device model still running 1 s after the "
          "domain started dying");
    CHECK(WIFEXITED(c->status) && WEXITSTATUS(c->status) == 0,
          "device model ended with status 0x%x", c->status);
    return PASS;
}

static enum result test_destroy(struct ctx *c)
{
    return destroy(c, false);
}

static enum result test_destroy_dying(struct ctx *c)
{
    return destroy(c, true);
}

static enum result test_sigterm(struct ctx *c)
{
    struct sim *s = c->s;
    int left = 0;

    if (start(c) != PASS) {
        return FAIL;
    }
    kill(c->pid, SIGTERM);
    CHECK(dm_wait_exit(c, 3000), "still running 3 s after SIGTERM");
    CHECK(WIFEXITED(c->status) && WEXITSTATUS(c->status) == 0,
          "SIGTERM: exit status 0x%x", c->status);
    pthread_mutex_lock(&s->lock);
    for (int i = 0; i < MAX_SERVERS; i++) {
        left += s->servers[i].used;
    }
    pthread_mutex_unlock(&s->lock);
    CHECK(left == 0, "the ioreq server outlived the device model: the "
          "domain's MMIO would now hang its vcpus");
    return PASS;
}

static enum result test_no_ioreq(struct ctx *c)
{
    pthread_mutex_lock(&c->s->lock);
    c->s->no_ioreq = true;
    pthread_mutex_unlock(&c->s->lock);
    CHECK(dm_start(c, NULL) == 0, "cannot start the device model");
    CHECK(dm_wait_exit(c, 5000), "device model keeps running on a "
          "hypervisor without IOREQ_SERVER");
    CHECK(WIFEXITED(c->status) && WEXITSTATUS(c->status) != 0,
          "device model exited with status 0x%x, want a failure",
          c->status);
    CHECK(c->kind != DM_QEMU ||
          log_has(c->dm_log, "Xen must be built with CONFIG_IOREQ_SERVER=y"),
          "QEMU does not tell the user to rebuild Xen with IOREQ_SERVER (%s)",
          c->dm_log);
    return PASS;
}

/*
 * The DM must refuse to run, quickly and with a failure status, and
 * must not leave an ioreq server behind in the domain.
 */
enum result dm_expect_refusal(struct ctx *c, const char *const *extra,
                              const char *why, const char *qemu_says)
{
    int left = 0;

    CHECK(dm_start(c, extra) == 0, "cannot start the device model");
    CHECK(dm_wait_exit(c, 5000), "device model keeps running %s", why);
    CHECK(WIFEXITED(c->status) && WEXITSTATUS(c->status) != 0,
          "device model exited with status 0x%x %s, want a failure",
          c->status, why);
    /* What the user reads: QEMU must say what is wrong */
    CHECK(c->kind != DM_QEMU || log_has(c->dm_log, qemu_says),
          "QEMU's error %s does not say \"%s\" (%s)", why, qemu_says,
          c->dm_log);
    pthread_mutex_lock(&c->s->lock);
    for (int i = 0; i < MAX_SERVERS; i++) {
        left += c->s->servers[i].used;
    }
    pthread_mutex_unlock(&c->s->lock);
    CHECK(left == 0, "an ioreq server was left behind %s", why);
    return PASS;
}

static enum result test_no_domid(struct ctx *c)
{
    const char *args[] = { "-xen-domid", "0", NULL };

    return dm_expect_refusal(c, args, "without a guest domain ID",
                             "-xen-domid is required");
}

static enum result test_no_domain(struct ctx *c)
{
    pthread_mutex_lock(&c->s->lock);
    sim_destroy_domain(c->s, false);
    pthread_mutex_unlock(&c->s->lock);
    return dm_expect_refusal(c, NULL, "for a domain that does not exist",
                             "domain 1 does not exist");
}

static enum result test_too_many_vcpus(struct ctx *c)
{
    const char *qemu[] = { "-smp", "4", NULL };
    const char *fake[] = { "--vcpus=4", NULL };

    return dm_expect_refusal(c, c->kind == DM_QEMU ? qemu : fake,
                             "with more vcpus than the domain has",
                             "QEMU with -smp");
}

static enum result test_too_much_ram(struct ctx *c)
{
    const char *args[] = { "-m", "512M", NULL };

    return dm_expect_refusal(c, args, "with more RAM than the domain has",
                             "-m 512M is more than");
}

/* Buffers above -m would fail: all of the domain's RAM must be served */
static enum result test_too_little_ram(struct ctx *c)
{
    const char *args[] = { "-m", "64M", NULL };

    return dm_expect_refusal(c, args, "with less RAM than the domain has",
                             "-m 64M is less than the RAM domain");
}

static enum result test_map_resource_fails(struct ctx *c)
{
    pthread_mutex_lock(&c->s->lock);
    sim_inject(c->s, XFV_OP_FMEM_MAP_RESOURCE, EPERM, -1);
    pthread_mutex_unlock(&c->s->lock);
    return dm_expect_refusal(c, NULL, "when the ioreq page cannot be mapped",
                             "failed to map the pages of ioreq server");
}

/* Xen refuses to forward a transport's range: nothing would serve it */
static enum result test_claim_refused(struct ctx *c)
{
    pthread_mutex_lock(&c->s->lock);
    sim_inject(c->s, XFV_OP_DM_MAP_RANGE, EEXIST, 1);
    pthread_mutex_unlock(&c->s->lock);
    return dm_expect_refusal(c, NULL, "when Xen refuses an MMIO range",
                             "Xen does not forward domain 1's accesses to");
}

/* Only xenfv-fakedm has the doorbell: foreign mapping and SPIs. */
static enum result test_fake_dma(struct ctx *c)
{
    struct sim *s = c->s;
    uint64_t buf = guest_alloc(s, 4096, 64);
    uint8_t *p = guest_ptr(s, buf, 64);

    if (start(c) != PASS) {
        return FAIL;
    }
    for (int round = 1; round <= 3; round++) {
        guest_write32(s, round % s->nr_vcpus, MMIO_BASE + 2 * MMIO_SLOT +
                      0x50, buf);
        CHECK(guest_wait_irq(s, 35, 2000) == 0, "no SPI 35 after doorbell");
        guest_eoi(s, 35);
        CHECK(p[0] == round && p[63] == round,
              "guest buffer not updated through the foreign mapping "
              "(%u, %u)", p[0], p[63]);
    }
    CHECK(guest_invalidate(s, 0) == 0, "invalidate not answered");
    CHECK(s->unmaps >= 1, "invalidate did not drop the mapping");
    return PASS;
}

const struct test tests_core[] = {
    { "startup", test_startup, 1 << DM_FAKE | 1 << DM_QEMU,
      "ioreq server, event channels, MMIO windows, xenstore state" },
    { "windows", test_windows, 1 << DM_FAKE | 1 << DM_QEMU,
      "11 virtio-mmio windows answer on every vcpu; others abort" },
    { "invalidate", test_invalidate, 1 << DM_FAKE | 1 << DM_QEMU,
      "IOREQ_TYPE_INVALIDATE answered on every vcpu", SMP },
    { "malformed", test_malformed, 1 << DM_FAKE | 1 << DM_QEMU,
      "malformed ioreqs answered (reads all ones) and logged, DM survives",
      SMP },
    { "destroy", test_destroy, 1 << DM_FAKE | 1 << DM_QEMU,
      "domain destroyed with ioreqs in flight: DM exits within 1 s" },
    { "destroy-dying", test_destroy_dying, 1 << DM_FAKE | 1 << DM_QEMU,
      "domain left dying with ioreqs in flight: DM exits within 1 s" },
    { "sigterm", test_sigterm, 1 << DM_FAKE | 1 << DM_QEMU,
      "SIGTERM: clean exit, ioreq server destroyed" },
    { "no-ioreq", test_no_ioreq, 1 << DM_FAKE | 1 << DM_QEMU,
      "hypervisor without IOREQ_SERVER: DM fails cleanly" },
    { "no-domain", test_no_domain, 1 << DM_FAKE | 1 << DM_QEMU,
      "no such domain: DM fails cleanly" },
    { "too-many-vcpus", test_too_many_vcpus, 1 << DM_FAKE | 1 << DM_QEMU,
      "-smp above the domain's vcpus: DM fails cleanly" },
    { "no-domid", test_no_domid, 1 << DM_QEMU,
      "no -xen-domid: QEMU refuses with a clear error" },
    { "too-much-ram", test_too_much_ram, 1 << DM_QEMU,
      "-m above the domain's RAM: DM fails cleanly" },
    { "too-little-ram", test_too_little_ram, 1 << DM_QEMU,
      "-m below the domain's RAM refused" },
    { "shutdown-reasons", test_shutdown_reasons, 1 << DM_QEMU,
      "shutdowns (suspend, reboot, power-off ...) keep the DM; dying ends it" },
    { "claim-refused", test_claim_refused, 1 << DM_QEMU,
      "an MMIO range Xen will not forward: DM fails cleanly" },
    { "map-resource-fails", test_map_resource_fails,
      1 << DM_FAKE | 1 << DM_QEMU,
      "injected map_resource failure: DM fails, no server left behind" },
    { "fake-dma", test_fake_dma, 1 << DM_FAKE,
      "foreign mapping and SPI injection through the libraries" },
    { NULL },
};
