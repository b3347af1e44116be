/*
 * The simulated guest's vcpus and vGIC.  An MMIO access becomes an ioreq
 * exactly as Xen's try_fwd_ioserv() builds it, in the vcpu's slot of the
 * selected server's page, followed by an event on the vcpu's port; the
 * vcpu then sleeps until the device model notifies it back.
 */
#include <errno.h>
#include <string.h>
#include <time.h>
#include "guest.h"

#define IOREQ_TIMEOUT_MS 5000
#define GATE_MS 500

static __thread int this_vcpu = -1;

void guest_set_vcpu(int vcpu)
{
    this_vcpu = vcpu;
}

unsigned guest_vcpu(struct sim *s)
{
    if (this_vcpu >= 0) {
        return this_vcpu;
    }
    return __atomic_fetch_add(&s->rr, 1, __ATOMIC_RELAXED) % s->nr_vcpus;
}

/* Release every held event (the gate is full, or its time ran out). */
static void open_gate(struct sim *s, int server)
{
    for (unsigned v = 0; v < s->nr_vcpus; v++) {
        if (s->vcpus[v].held) {
            s->vcpus[v].held = false;
            sim_send_event(s, s->servers[server].eport[v]);
        }
    }
    s->gate = s->gated = 0;
    pthread_cond_broadcast(&s->cond);
}

void deadline_in(struct timespec *ts, int ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* Called with s->lock held. */
/* Foreign and grant mappings the device model asked for so far */
static unsigned maps_done(struct sim *s)
{
    return s->calls[XFV_OP_FMEM_MAP] + s->calls[XFV_OP_GNT_MAP];
}

static unsigned ms_since(const struct timespec *t0)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - t0->tv_sec) * 1000 +
           (now.tv_nsec - t0->tv_nsec) / 1000000;
}

static int send_locked(struct sim *s, unsigned vcpu, int server,
                       ioreq_t *req, int timeout_ms)
{
    struct ioserver *srv = &s->servers[server];
    struct vcpu *vc = &s->vcpus[vcpu];
    ioreq_t *slot = &srv->page->vcpu_ioreq[vcpu];
    struct timespec dl, t0;
    unsigned mapped;
    int r = 0;

    if (slot->state != STATE_IOREQ_NONE) {
        sim_log(s, "guest: vcpu %u: slot of server %d busy (state %u)",
                vcpu, server, slot->state);
        return -EBUSY;
    }
    slot->addr = req->addr;
    slot->data = req->data;
    slot->count = req->count;
    slot->size = req->size;
    slot->dir = req->dir;
    slot->df = req->df;
    slot->data_is_ptr = req->data_is_ptr;
    slot->type = req->type;
    __atomic_thread_fence(__ATOMIC_RELEASE);
    slot->state = STATE_IOREQ_READY;
    vc->notified = 0;
    s->inflight++;
    if (s->inflight > s->max_inflight) {
        s->max_inflight = s->inflight;
    }
    if (s->gate > 1 && req->type == IOREQ_TYPE_COPY) {
        vc->held = true;
        if (++s->gated >= s->gate) {
            sim_log(s, "guest: gate: %u vcpus' ioreqs released at once",
                    s->gated);
            open_gate(s, server);
        } else {
            deadline_in(&dl, GATE_MS);
            while (vc->held &&
                   pthread_cond_timedwait(&s->cond, &s->lock, &dl) !=
                   ETIMEDOUT) {
            }
            if (vc->held) {
                sim_log(s, "guest: gate: only %u of %u vcpus came",
                        s->gated, s->gate);
                open_gate(s, server);
            }
        }
    } else {
        sim_send_event(s, srv->eport[vcpu]);
    }

    clock_gettime(CLOCK_MONOTONIC, &t0);
    mapped = maps_done(s);
    deadline_in(&dl, timeout_ms);
    for (;;) {
        if (s->dom != DOM_RUNNING || !srv->used) {
            r = -ESRCH;
            break;
        }
        if (vc->notified) {
            vc->notified = 0;
            __atomic_thread_fence(__ATOMIC_ACQUIRE);
            if (slot->state == STATE_IORESP_READY) {
                break;
            }
        }
        if (pthread_cond_timedwait(&vc->cond, &s->lock, &dl) == ETIMEDOUT) {
            if (maps_done(s) != mapped &&
                (int)ms_since(&t0) + timeout_ms <= s->answer_cap_ms) {
                sim_log(s, "guest: vcpu %u: no answer after %u ms, the device "
                        "model maps guest memory meanwhile: waiting on",
                        vcpu, ms_since(&t0));
                mapped = maps_done(s);
                deadline_in(&dl, timeout_ms);
                continue;
            }
            r = -ETIMEDOUT;
            break;
        }
    }
    if (ms_since(&t0) > s->slowest_ms) {
        s->slowest_ms = ms_since(&t0);
    }
    s->inflight--;
    if (r == 0) {
        req->data = slot->data;
        slot->state = STATE_IOREQ_NONE;
        vc->ioreqs++;
    } else {
        sim_log(s, "guest: vcpu %u: no answer to ioreq type %u addr 0x%lx "
                "(slot state %u): %s", vcpu, req->type,
                (unsigned long)req->addr, srv->used ? slot->state : 0,
                strerror(-r));
    }
    return r;
}

int guest_send_ioreq(struct sim *s, unsigned vcpu, int server, ioreq_t *req,
                     int timeout_ms)
{
    int r;

    pthread_mutex_lock(&s->lock);
    if (s->dom != DOM_RUNNING) {
        pthread_mutex_unlock(&s->lock);
        return -ESRCH;      /* no vcpu runs any more */
    }
    if (server < 0) {
        server = sim_find_server_for(s, req->addr, req->size ? req->size : 1);
    }
    if (server < 0 || !s->servers[server].used) {
        r = GUEST_DABT;
    } else {
        r = send_locked(s, vcpu, server, req, timeout_ms);
    }
    pthread_mutex_unlock(&s->lock);
    return r;
}

int guest_mmio(struct sim *s, unsigned vcpu, uint64_t addr, unsigned size,
               bool write, uint64_t *val)
{
    ioreq_t req = {
        .addr = addr, .data = write ? *val : 0, .count = 1, .size = size,
        .dir = write ? IOREQ_WRITE : IOREQ_READ, .type = IOREQ_TYPE_COPY,
    };
    int r;

    if (write && addr >= 0x02000000ULL && addr < 0x02001600ULL &&
        (addr & 0x1ff) == 0x50) {
        __atomic_fetch_add(&s->kicks, 1, __ATOMIC_RELAXED);
    }
    __atomic_fetch_add(&s->mmio, 1, __ATOMIC_RELAXED);
    r = guest_send_ioreq(s, vcpu, -1, &req, IOREQ_TIMEOUT_MS);

    if (r == GUEST_DABT) {
        pthread_mutex_lock(&s->lock);
        sim_log(s, "guest: vcpu %u: data abort at 0x%lx", vcpu,
                (unsigned long)addr);
        pthread_mutex_unlock(&s->lock);
    }
    if (r == 0 && !write) {
        /* The register gets the access size's worth of data. */
        *val = size < 8 ? req.data & ((1ULL << (size * 8)) - 1) : req.data;
    }
    return r;
}

uint32_t guest_read32(struct sim *s, unsigned vcpu, uint64_t addr)
{
    uint64_t v = ~0ULL;

    if (guest_mmio(s, vcpu, addr, 4, false, &v) != 0) {
        return ~0U;
    }
    return v;
}

void guest_write32(struct sim *s, unsigned vcpu, uint64_t addr, uint32_t v)
{
    uint64_t val = v;

    guest_mmio(s, vcpu, addr, 4, true, &val);
}

int guest_invalidate(struct sim *s, unsigned vcpu)
{
    int r = 0;

    pthread_mutex_lock(&s->lock);
    for (int i = 0; i < MAX_SERVERS && r == 0; i++) {
        ioreq_t req = {
            .type = IOREQ_TYPE_INVALIDATE, .size = 4, .dir = IOREQ_WRITE,
            .data = ~0ULL,
        };

        if (s->servers[i].used && s->servers[i].enabled) {
            sim_log(s, "guest: vcpu %u: IOREQ_TYPE_INVALIDATE to server %d",
                    vcpu, i);
            r = send_locked(s, vcpu, i, &req, IOREQ_TIMEOUT_MS);
        }
    }
    pthread_mutex_unlock(&s->lock);
    return r;
}

int guest_wait_irq(struct sim *s, unsigned irq, int timeout_ms)
{
    struct spi *spi = &s->spis[irq];
    struct timespec dl;
    int r = 0;

    deadline_in(&dl, timeout_ms);
    pthread_mutex_lock(&s->lock);
    while (!spi->pending) {
        if (pthread_cond_timedwait(&s->cond, &s->lock, &dl) == ETIMEDOUT) {
            r = -ETIMEDOUT;
            break;
        }
    }
    if (r == 0) {
        spi->pending = false;
        spi->active = true;
    }
    pthread_mutex_unlock(&s->lock);
    return r;
}

void guest_eoi(struct sim *s, unsigned irq)
{
    pthread_mutex_lock(&s->lock);
    s->spis[irq].active = false;
    pthread_mutex_unlock(&s->lock);
}

void *guest_ptr(struct sim *s, uint64_t gpa, size_t len)
{
    for (int i = 0; i < s->nr_banks; i++) {
        const struct xfv_bank *b = &s->banks[i];
        uint64_t base = b->base_pfn << 12, size = b->nr_pfns << 12;

        if (gpa >= base && gpa + len <= base + size) {
            return s->ram + b->file_offset + (gpa - base);
        }
    }
    return NULL;
}

uint64_t guest_alloc(struct sim *s, size_t size, size_t align)
{
    uint64_t gpa;

    pthread_mutex_lock(&s->lock);
    gpa = (s->alloc_next + align - 1) & ~(uint64_t)(align - 1);
    s->alloc_next = gpa + size;
    pthread_mutex_unlock(&s->lock);
    memset(guest_ptr(s, gpa, size), 0, size);
    return gpa;
}

static unsigned grant_pages(uint64_t addr, size_t len)
{
    return ((addr & (PAGE_SIZE - 1)) + len + PAGE_SIZE - 1) / PAGE_SIZE;
}

uint64_t guest_grant(struct sim *s, uint64_t gpa, size_t len, bool ro)
{
    unsigned n = grant_pages(gpa, len ? len : 1);
    uint32_t first = 0;

    pthread_mutex_lock(&s->lock);
    /* A run of n free references, from where the last one ended */
    for (uint32_t tries = 0; tries < MAX_GRANTS && !first; tries++) {
        uint32_t r = s->grant_hint + tries;
        unsigned i;

        if (r < GRANT_FIRST || r + n > MAX_GRANTS) {
            continue;
        }
        for (i = 0; i < n && !s->grants[r + i].used; i++) {
        }
        if (i == n) {
            first = r;
        }
    }
    if (!first) {
        s->grant_hint = GRANT_FIRST;
        pthread_mutex_unlock(&s->lock);
        return 0;
    }
    for (unsigned i = 0; i < n; i++) {
        s->grants[first + i] = (struct grant) {
            .used = true, .ro = ro, .gfn = (gpa >> 12) + i,
        };
    }
    s->grant_hint = first + n;
    pthread_mutex_unlock(&s->lock);
    return GRANT_DMA_BIT | (uint64_t)first << 12 | (gpa & (PAGE_SIZE - 1));
}

unsigned guest_end_grants(struct sim *s, uint64_t dma, size_t len)
{
    uint32_t first = (dma & ~GRANT_DMA_BIT) >> 12;
    unsigned n = grant_pages(dma, len ? len : 1), busy = 0;

    pthread_mutex_lock(&s->lock);
    for (unsigned i = 0; i < n && first + i < MAX_GRANTS; i++) {
        struct grant *g = &s->grants[first + i];

        if (g->mapped) {
            busy++;
        } else {
            g->used = false;
        }
    }
    s->grants_busy += busy;
    if (busy) {
        sim_log(s, "guest: %u of grants %u..%u still mapped by the device "
                "model", busy, first, first + n - 1);
    }
    pthread_mutex_unlock(&s->lock);
    return busy;
}
