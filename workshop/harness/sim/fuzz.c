/*
 * Fuzz mode: from a seed, the simulated guest sends random ioreq
 * streams (types, sizes, counts, flags, addresses in and around the
 * virtio-mmio windows, register offsets, values) and fills virtqueues
 * with random contents (descriptor addresses, lengths, flags, next
 * links, avail index jumps), against a device model built with ASan and
 * UBSan.  The run fails when the device model dies (a sanitizer report
 * aborts it), leaves a vcpu unanswered, or logs a sanitizer report.
 * Unanswered: no answer for ANSWER_MS while the device model maps no
 * guest memory, or for ANSWER_CAP_MS in all.  Random descriptors of up
 * to guest RAM's size make QEMU map that much for every element it pops,
 * which under ASan takes long: the guest only delays its own vcpu, but
 * a device model that stops working is hung.
 *
 *   xenfv-sim --test fuzz --seed S --iterations N ...
 *   xenfv-sim --test fuzz --seed S --ioreqs N ...   (until N answered)
 *
 * Every operation is logged to sim.log ("fuzz: #n ..."), so that a
 * failing seed shows what led to it; the same seed replays the same
 * operations (the device model's timing may still differ).  The last
 * line of stderr counts what ran: ioreqs answered, virtqueues set up,
 * ring fills kicked, interrupts taken, invalidations.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "harness.h"
#include "virtio.h"

#define ANSWER_MS   10000       /* an ASan build is slow, not that slow */
#define ANSWER_CAP_MS 300000
#define ARENA_SIZE  (4 << 20)
#define NR_DEVS     6

static uint64_t rng_state;
/*
 * How many interrupts are pending when the guest looks depends on the
 * device model's timing: taking them draws from a stream of its own, so
 * that a seed replays the same operations.
 */
static uint64_t irq_rng_state;

static uint64_t rnd(void)
{
    /* splitmix64: small, and the same sequence everywhere */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static unsigned pick(unsigned n)
{
    return rnd() % n;
}

static bool chance(unsigned percent)
{
    return pick(100) < percent;
}

struct fuzz {
    struct ctx *c;
    struct sim *s;
    int server;
    uint64_t arena;             /* guest RAM the fuzzer scribbles in */
    uint64_t arena_ro, arena_rw;    /* its halves, granted (grant DMA) */
    unsigned long n;            /* operation number */
    /* what ran, for the count at the end */
    unsigned long queues, fills, irqs, invalidations;
    long log_seen;              /* dm.log scanned up to here */
};

static const uint16_t regs[] = {
    0x000, 0x004, 0x008, 0x00c, 0x010, 0x014, 0x020, 0x024, 0x030, 0x034,
    0x038, 0x044, 0x050, 0x060, 0x064, 0x070, 0x080, 0x084, 0x090, 0x094,
    0x0a0, 0x0a4, 0x0ac, 0x0b0, 0x0b4, 0x0b8, 0x0bc, 0x0fc, 0x100, 0x104,
    0x108, 0x10c, 0x110, 0x120, 0x1fc,
};

static uint64_t ram_end(struct sim *s)
{
    return RAM0_BASE + (s->ram_bytes < RAM0_SIZE ? s->ram_bytes : RAM0_SIZE);
}

/*
 * A grant DMA address (bit 63): the granted halves of the arena, the
 * read-only one included, references never granted, the end of the
 * window QEMU maps and beyond.
 */
static uint64_t any_grant(struct fuzz *f, uint32_t len)
{
    switch (pick(6)) {
    case 0:
        return f->arena_ro + pick(ARENA_SIZE / 2);
    case 1:
        return GRANT_DMA_BIT | (uint64_t)pick(MAX_GRANTS) << 12 | pick(4096);
    case 2:
        return GRANT_DMA_BIT | ((1ULL << 32) - pick(2 * (len ? len : 1)));
    case 3:
        return GRANT_DMA_BIT | rnd();
    default:
        return f->arena_rw + pick(ARENA_SIZE / 2);
    }
}

/* A guest physical address: mostly usable, sometimes not at all. */
static uint64_t any_gpa(struct fuzz *f, uint32_t len)
{
    switch (pick(10)) {
    case 0:
        return rnd();
    case 1:
        return ram_end(f->s) - pick(2 * (len ? len : 1));   /* straddles */
    case 2:
        return 0x80000000ULL + pick(4096);      /* hole in bank 0 */
    case 3:
        return RAM0_BASE - pick(64);
    case 4:
        return VIRTIO_MMIO_BASE + pick(0x1600);
    case 5:
        return any_grant(f, len);
    default:
        return f->arena + pick(ARENA_SIZE);
    }
}

static uint64_t any_value(struct fuzz *f)
{
    switch (pick(12)) {
    case 0:
        return 0;
    case 1:
        return 1 + pick(4);
    case 2:
        return ~0ULL;
    case 3:
        return 1ULL << pick(64);
    case 4:
        return pick(0x100);     /* status bits, queue numbers */
    case 5:
        return 1 + pick(1024);  /* queue sizes */
    case 6:
        return f->arena + pick(ARENA_SIZE);
    case 7:
        return (f->arena + pick(ARENA_SIZE)) >> 32;
    case 8:
        return any_gpa(f, 16);
    default:
        return pick(2) ? (uint32_t)rnd() : rnd();
    }
}

static int send(struct fuzz *f, ioreq_t *req)
{
    unsigned vcpu = pick(f->s->nr_vcpus);
    int r;

    sim_log(f->s, "fuzz: #%lu vcpu %u ioreq type %u dir %u addr 0x%lx "
            "size %u count %u ptr %u df %u data 0x%lx", f->n, vcpu,
            req->type, req->dir, (unsigned long)req->addr, req->size,
            req->count, req->data_is_ptr, req->df,
            (unsigned long)req->data);
    r = guest_send_ioreq(f->s, vcpu, f->server, req, ANSWER_MS);
    if (r != 0) {
        report("seed op #%lu: vcpu %u left unanswered (%s): ioreq type %u "
               "addr 0x%lx size %u", f->n, vcpu, strerror(-r), req->type,
               (unsigned long)req->addr, req->size);
    }
    return r;
}

static int mmio(struct fuzz *f, int slot, unsigned off, unsigned size,
                bool write, uint64_t val)
{
    ioreq_t req = {
        .addr = VIRTIO_MMIO_BASE + slot * VIRTIO_MMIO_SLOT + off,
        .data = val, .count = 1, .size = size, .type = IOREQ_TYPE_COPY,
        .dir = write ? IOREQ_WRITE : IOREQ_READ,
    };

    return send(f, &req);
}

/* One random ioreq, malformed or not. */
static int fuzz_ioreq(struct fuzz *f)
{
    static const unsigned sizes[] = { 1, 2, 4, 8 };
    ioreq_t req = { .count = 1, .type = IOREQ_TYPE_COPY };

    switch (pick(10)) {
    case 0:
        req.addr = rnd();
        break;
    case 1:
        req.addr = VIRTIO_MMIO_BASE - 16 + pick(0x1600 + 32);
        break;
    case 2:
        req.addr = any_gpa(f, 8);
        break;
    default:
        req.addr = VIRTIO_MMIO_BASE + pick(VIRTIO_MMIO_SLOTS) *
                   VIRTIO_MMIO_SLOT +
                   (chance(80) ? regs[pick(sizeof(regs) / sizeof(regs[0]))]
                               : pick(VIRTIO_MMIO_SLOT));
        break;
    }
    req.size = chance(85) ? sizes[pick(4)] : pick(2) ? pick(17) : rnd();
    req.dir = pick(2);
    req.data = any_value(f);
    if (chance(8)) {
        static const uint8_t types[] = {
            IOREQ_TYPE_PIO, IOREQ_TYPE_PCI_CONFIG, IOREQ_TYPE_TIMEOFFSET,
            IOREQ_TYPE_INVALIDATE, 2, 5, 6, 0xff,
        };

        req.type = types[pick(sizeof(types))];
    }
    if (chance(4)) {
        req.count = pick(2) ? pick(4) : rnd();
    }
    if (chance(4)) {
        req.data_is_ptr = 1;
        req.data = any_gpa(f, 8);
    }
    if (chance(3)) {
        req.df = 1;
    }
    return send(f, &req);
}

/* A device's status dance with random features and queue setup. */
static int fuzz_setup(struct fuzz *f, int slot, unsigned q, uint16_t num,
                      uint64_t desc, uint64_t avail, uint64_t used)
{
    int r = 0;

    r |= mmio(f, slot, VIRTIO_MMIO_STATUS, 4, true, 0);
    r |= mmio(f, slot, VIRTIO_MMIO_STATUS, 4, true, 3);
    r |= mmio(f, slot, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 4, true, 1);
    r |= mmio(f, slot, VIRTIO_MMIO_DRIVER_FEATURES, 4, true,
              chance(90) ? 1 | (uint32_t)rnd() : rnd());
    r |= mmio(f, slot, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 4, true, 0);
    r |= mmio(f, slot, VIRTIO_MMIO_DRIVER_FEATURES, 4, true, rnd());
    r |= mmio(f, slot, VIRTIO_MMIO_STATUS, 4, true, 11);
    r |= mmio(f, slot, VIRTIO_MMIO_QUEUE_SEL, 4, true, q);
    r |= mmio(f, slot, VIRTIO_MMIO_QUEUE_NUM, 4, true, num);
    r |= mmio(f, slot, VIRTIO_MMIO_QUEUE_DESC_LOW, 4, true, desc);
    r |= mmio(f, slot, VIRTIO_MMIO_QUEUE_DESC_HIGH, 4, true, desc >> 32);
    r |= mmio(f, slot, VIRTIO_MMIO_QUEUE_AVAIL_LOW, 4, true, avail);
    r |= mmio(f, slot, VIRTIO_MMIO_QUEUE_AVAIL_HIGH, 4, true, avail >> 32);
    r |= mmio(f, slot, VIRTIO_MMIO_QUEUE_USED_LOW, 4, true, used);
    r |= mmio(f, slot, VIRTIO_MMIO_QUEUE_USED_HIGH, 4, true, used >> 32);
    r |= mmio(f, slot, VIRTIO_MMIO_QUEUE_READY, 4, true, 1);
    r |= mmio(f, slot, VIRTIO_MMIO_STATUS, 4, true, 15);
    return r;
}

/*
 * A virtqueue with random contents: set it up (rings mostly in the
 * arena), fill descriptors and the avail ring at random, kick.
 */
static int fuzz_queue(struct fuzz *f)
{
    struct sim *s = f->s;
    int slot = pick(NR_DEVS);
    unsigned q = chance(80) ? pick(3) : pick(16);
    uint16_t num = chance(80) ? 1U << pick(8) : pick(1025);
    uint64_t base = f->arena + (pick(ARENA_SIZE / 2) & ~0xfffULL);
    uint64_t desc = base, avail = base + 16 * 256, used = base + 8192;
    unsigned n = num ? num : 1;
    struct vring_desc *d;
    struct vring_avail *a;

    if (chance(10)) {
        desc = any_gpa(f, 16 * n);
    }
    if (chance(10)) {
        avail = any_gpa(f, 6 + 2 * n);
    }
    if (chance(10)) {
        used = any_gpa(f, 6 + 8 * n);
    }
    sim_log(s, "fuzz: #%lu queue slot %d q %u num %u desc 0x%lx avail "
            "0x%lx used 0x%lx", f->n, slot, q, num, (unsigned long)desc,
            (unsigned long)avail, (unsigned long)used);
    if (fuzz_setup(f, slot, q, num, desc, avail, used)) {
        return -1;
    }
    f->queues++;
    for (int round = 0, rounds = 1 + pick(4); round < rounds; round++) {
        d = guest_ptr(s, base, 16 * 256);
        a = guest_ptr(s, base + 16 * 256, 6 + 2 * 256 + 2);
        for (unsigned i = 0; i < 256; i++) {
            uint32_t len;

            switch (pick(8)) {
            case 0:
                len = 0;
                break;
            case 1:
                len = rnd();
                break;
            case 2:
                len = 1 + pick(64);
                break;
            case 3:
                len = 16 << pick(12);
                break;
            default:
                len = 1 + pick(8192);
                break;
            }
            d[i].addr = chance(15) ? any_gpa(f, len)
                                   : f->arena + pick(ARENA_SIZE - 65536);
            d[i].len = len;
            d[i].flags = chance(85) ? pick(4) : (uint16_t)(pick(8) | rnd() << 3);
            d[i].next = chance(85) ? pick(n) : rnd();
            if (chance(5)) {
                /* an indirect table somewhere in the arena */
                d[i].flags = VRING_DESC_F_INDIRECT | (pick(2) ? 1 : 0);
                d[i].len = 16 * (1 + pick(chance(90) ? 8 : 512));
            }
        }
        for (unsigned i = 0; i < 256; i++) {
            a->ring[i] = chance(90) ? pick(n) : rnd();
        }
        a->flags = pick(2);
        a->ring[256] = rnd();       /* used_event, wherever it is */
        a->idx += chance(85) ? 1 + pick(4) : rnd();
        if (mmio(f, slot, VIRTIO_MMIO_QUEUE_NOTIFY, 4, true,
                 chance(90) ? q : rnd())) {
            return -1;
        }
        f->fills++;
        if (chance(30)) {
            usleep(pick(3000));
        }
    }
    return 0;
}

/* Take whatever interrupts are pending, the way a guest's handler does. */
static int fuzz_irqs(struct fuzz *f)
{
    uint64_t ops_rng_state = rng_state;
    int r = 0;

    rng_state = irq_rng_state;
    for (int slot = 0; slot < VIRTIO_MMIO_SLOTS; slot++) {
        unsigned irq = VIRTIO_FIRST_SPI + slot;
        ioreq_t req = {
            .addr = VIRTIO_MMIO_BASE + slot * VIRTIO_MMIO_SLOT +
                    VIRTIO_MMIO_INTERRUPT_STATUS,
            .count = 1, .size = 4, .dir = IOREQ_READ,
            .type = IOREQ_TYPE_COPY,
        };

        if (guest_wait_irq(f->s, irq, 0) != 0) {
            continue;
        }
        if (send(f, &req) ||
            mmio(f, slot, VIRTIO_MMIO_INTERRUPT_ACK, 4, true,
                 chance(90) ? req.data : rnd())) {
            r = -1;
            break;
        }
        guest_eoi(f->s, irq);
        f->irqs++;
    }
    irq_rng_state = rng_state;
    rng_state = ops_rng_state;
    return r;
}

/*
 * A sanitizer report in what the device model logged since the last
 * look (a long run's log grows large: it is not read again from the
 * start, but from a little before where the last look ended).
 */
static bool sanitizer_report(struct fuzz *f)
{
    FILE *log = fopen(f->c->dm_log, "r");
    char *text = NULL;
    size_t len = 0;
    bool found;

    if (!log) {
        return false;
    }
    fseek(log, f->log_seen > 64 ? f->log_seen - 64 : 0, SEEK_SET);
    found = getdelim(&text, &len, '\0', log) > 0 &&
            (strstr(text, "ERROR: AddressSanitizer") ||
             strstr(text, "runtime error:") ||
             strstr(text, "ERROR: LeakSanitizer"));
    f->log_seen = ftell(log);
    free(text);
    fclose(log);
    return found;
}

static unsigned long answered(struct sim *s)
{
    unsigned long n = 0;

    pthread_mutex_lock(&s->lock);
    for (unsigned v = 0; v < s->nr_vcpus; v++) {
        n += s->vcpus[v].ioreqs;
    }
    pthread_mutex_unlock(&s->lock);
    return n;
}

static void report_counts(struct fuzz *f)
{
    report("fuzz: seed %lu: %lu operations, %lu ioreqs answered, %lu "
           "virtqueues set up, %lu ring fills kicked, %lu interrupts taken, "
           "%lu invalidations, slowest answer %u ms", f->c->seed, f->n,
           answered(f->s), f->queues, f->fills, f->irqs, f->invalidations,
           f->s->slowest_ms);
}

static enum result fuzz_failed(struct fuzz *f, const char *why)
{
    struct ctx *c = f->c;

    report("FUZZ FAILURE at operation #%lu: %s", f->n, why);
    report_counts(f);
    if (!dm_alive(c)) {
        report("device model %s %d", WIFEXITED(c->status) ? "exited, status"
               : "killed by signal", WIFEXITED(c->status) ?
               WEXITSTATUS(c->status) : WTERMSIG(c->status));
    }
    report("device model output: %s; operations: %s/sim.log", c->dm_log,
           c->workdir);
    return FAIL;
}

static enum result test_fuzz(struct ctx *c)
{
    struct sim *s = c->s;
    char img[300], drive[400], netdev[200], chardev[200];
    const char *args[] = {
        "-drive", drive, "-device", "virtio-blk-device,drive=d0,num-queues=2",
        "-netdev", netdev, "-device", "virtio-net-device,netdev=n0",
        "-chardev", chardev, "-device", "virtio-serial-device",
        "-device", "virtconsole,chardev=c0",
        "-device", "virtio-gpu-device",
        /*
         * Rate-limited as users run it: unlimited, a guest's huge
         * descriptors keep QEMU 7.2 reading the entropy source for
         * seconds, and every vcpu waits meanwhile.
         */
        "-device", "virtio-rng-device,max-bytes=65536,period=1000",
        "-device", "virtio-keyboard-device",
        "-d", "guest_errors", "-D", "guest-errors.log", NULL,
    };
    struct fuzz f = { .c = c, .s = s };
    int fd;

    rng_state = c->seed;
    irq_rng_state = ~c->seed;
    s->answer_cap_ms = ANSWER_CAP_MS;
    snprintf(img, sizeof(img), "%s/fuzz.img", c->workdir);
    fd = open(img, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || ftruncate(fd, 8 << 20) < 0) {
        report("cannot create %s", img);
        return FAIL;
    }
    close(fd);
    snprintf(drive, sizeof(drive), "file=%s,if=none,format=raw,id=d0", img);
    /* Frames go to the discard port; nothing comes back. */
    snprintf(netdev, sizeof(netdev), "socket,id=n0,udp=127.0.0.1:9,"
             "localaddr=127.0.0.1:0");
    snprintf(chardev, sizeof(chardev), "null,id=c0");
    /* Sanitizer reports end the device model, with a stack. */
    setenv("ASAN_OPTIONS", "detect_leaks=0:abort_on_error=1:"
           "print_stacktrace=1", 0);
    setenv("UBSAN_OPTIONS", "halt_on_error=1:abort_on_error=1:"
           "print_stacktrace=1", 0);
    if (dm_start(c, c->kind == DM_QEMU ? args : NULL) < 0 ||
        dm_wait_ready(c, 60000) < 0) {
        return FAIL;
    }
    for (int i = 0; i < MAX_SERVERS; i++) {
        if (s->servers[i].used) {
            f.server = i;
        }
    }
    f.arena = guest_alloc(s, ARENA_SIZE, 1 << 20);
    f.arena_ro = guest_grant(s, f.arena, ARENA_SIZE / 2, true);
    f.arena_rw = guest_grant(s, f.arena + ARENA_SIZE / 2, ARENA_SIZE / 2,
                             false);
    if (c->ioreqs) {
        report("fuzz: seed %lu, until %lu ioreqs, %u vcpus", c->seed,
               c->ioreqs, s->nr_vcpus);
    } else {
        report("fuzz: seed %lu, %lu operations, %u vcpus", c->seed,
               c->iterations, s->nr_vcpus);
    }
    for (f.n = 0; c->ioreqs ? answered(s) < c->ioreqs : f.n < c->iterations;
         f.n++) {
        int r = 0;

        switch (pick(20)) {
        case 0 ... 8:
            r = fuzz_ioreq(&f);
            break;
        case 9 ... 14:
            r = fuzz_queue(&f);
            break;
        case 15 ... 16:
            r = fuzz_irqs(&f);
            break;
        case 17:
            sim_log(s, "fuzz: #%lu invalidate", f.n);
            r = guest_invalidate(s, pick(s->nr_vcpus));
            f.invalidations++;
            break;
        case 18: {
            uint8_t *p = guest_ptr(s, f.arena, ARENA_SIZE);

            for (int k = 0; k < 64; k++) {
                p[pick(ARENA_SIZE)] = rnd();
            }
            break;
        }
        default:
            r = mmio(&f, pick(NR_DEVS), VIRTIO_MMIO_STATUS, 4, true,
                     chance(70) ? 0 : pick(256));
            break;
        }
        if (r != 0) {
            return fuzz_failed(&f, "an ioreq was not answered");
        }
        if (!dm_alive(c)) {
            return fuzz_failed(&f, "the device model died");
        }
        if (f.n % 256 == 0 && sanitizer_report(&f)) {
            return fuzz_failed(&f, "sanitizer report");
        }
    }
    /* Still serving every window on every vcpu? */
    for (unsigned v = 0; v < s->nr_vcpus; v++) {
        for (int slot = 0; slot < VIRTIO_MMIO_SLOTS; slot++) {
            if (guest_read32(s, v, VIRTIO_MMIO_BASE + slot *
                             VIRTIO_MMIO_SLOT) != 0x74726976) {
                return fuzz_failed(&f, "a window stopped answering");
            }
        }
    }
    /* A clean exit runs every device's teardown under the sanitizers. */
    kill(c->pid, SIGTERM);
    if (!dm_wait_exit(c, 20000)) {
        return fuzz_failed(&f, "no exit 20 s after SIGTERM");
    }
    if (!WIFEXITED(c->status) || WEXITSTATUS(c->status) != 0 ||
        sanitizer_report(&f)) {
        return fuzz_failed(&f, "unclean exit after SIGTERM");
    }
    report_counts(&f);
    report("fuzz: seed %lu: device model clean", c->seed);
    return PASS;
}

const struct test tests_fuzz[] = {
    { "fuzz", test_fuzz, 1 << DM_FAKE | 1 << DM_QEMU,
      "random ioreqs and virtqueues from --seed (run by workshop/harness/"
      "fuzz)" },
    { NULL },
};
