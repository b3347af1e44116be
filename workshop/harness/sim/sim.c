/*
 * xenfv-sim core: the simulated domain and the hypervisor's answers to
 * the stand-in libraries, following Xen 4.17 on Arm (xen/arch/arm/dm.c,
 * xen/common/ioreq.c, xen/common/event_channel.c, privcmd/evtchn).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include "sim.h"
#include <xen/memory.h>
#include <xen/hvm/dm_op.h>
#include <xen/hvm/params.h>

#define FIRST_LOCAL_PORT    40  /* distinct from guest ports: catches mixups */
#define FIRST_GUEST_PORT    5

struct call {
    struct sim *s;
    int ci;                     /* client index */
    struct client *c;
    const struct xfv_req *req;
    size_t len;                 /* bytes in req->data */
    struct xfv_rsp *rsp;
    int fds[XFV_MAX_FDS];
    int nfds;
    char desc[256];             /* arguments, for the log */
    char xs_path[1024];         /* an absolute xenstore path */
};

static const char *const op_names[XFV_OP_COUNT] = {
    [XFV_OP_HELLO] = "open",
    [XFV_OP_CLOSE] = "close",
    [XFV_OP_RESTRICT] = "restrict",
    [XFV_OP_STUB] = "unsupported",
    [XFV_OP_DOMAIN_GETINFO] = "xc_domain_getinfo",
    [XFV_OP_DOMAIN_SHUTDOWN] = "xc_domain_shutdown",
    [XFV_OP_HVM_PARAM_GET] = "xc_get_hvm_param",
    [XFV_OP_GNT_MAP] = "xengnttab_map_domain_grant_refs",
    [XFV_OP_GNT_UNMAP] = "xengnttab_unmap",
    [XFV_OP_FMEM_MAP] = "xenforeignmemory_map2",
    [XFV_OP_FMEM_UNMAP] = "xenforeignmemory_unmap",
    [XFV_OP_FMEM_MAP_RESOURCE] = "xenforeignmemory_map_resource",
    [XFV_OP_FMEM_UNMAP_RESOURCE] = "xenforeignmemory_unmap_resource",
    [XFV_OP_DM_CREATE_SERVER] = "xendevicemodel_create_ioreq_server",
    [XFV_OP_DM_GET_INFO] = "xendevicemodel_get_ioreq_server_info",
    [XFV_OP_DM_MAP_RANGE] = "xendevicemodel_map_io_range_to_ioreq_server",
    [XFV_OP_DM_UNMAP_RANGE] =
        "xendevicemodel_unmap_io_range_from_ioreq_server",
    [XFV_OP_DM_SET_STATE] = "xendevicemodel_set_ioreq_server_state",
    [XFV_OP_DM_DESTROY_SERVER] = "xendevicemodel_destroy_ioreq_server",
    [XFV_OP_DM_SET_IRQ_LEVEL] = "xendevicemodel_set_irq_level",
    [XFV_OP_DM_NR_VCPUS] = "xendevicemodel_nr_vcpus",
    [XFV_OP_EVTCHN_BIND] = "xenevtchn_bind_interdomain",
    [XFV_OP_EVTCHN_UNBIND] = "xenevtchn_unbind",
    [XFV_OP_EVTCHN_NOTIFY] = "xenevtchn_notify",
    [XFV_OP_EVTCHN_UNMASK] = "xenevtchn_unmask",
    [XFV_OP_XS_READ] = "xs_read",
    [XFV_OP_XS_WRITE] = "xs_write",
    [XFV_OP_XS_MKDIR] = "xs_mkdir",
    [XFV_OP_XS_RM] = "xs_rm",
    [XFV_OP_XS_DIRECTORY] = "xs_directory",
    [XFV_OP_XS_SET_PERMS] = "xs_set_permissions",
    [XFV_OP_XS_WATCH] = "xs_watch",
    [XFV_OP_XS_UNWATCH] = "xs_unwatch",
    [XFV_OP_XS_TRANSACTION_START] = "xs_transaction_start",
    [XFV_OP_XS_TRANSACTION_END] = "xs_transaction_end",
};

static const char *const kind_names[] = {
    [XFV_KIND_CTRL] = "xenctrl", [XFV_KIND_FMEM] = "xenforeignmemory",
    [XFV_KIND_DMOD] = "xendevicemodel", [XFV_KIND_EVTCHN] = "xenevtchn",
    [XFV_KIND_XS] = "xenstore", [XFV_KIND_GNTTAB] = "xengnttab",
};

const char *sim_op_name(int op)
{
    return op > 0 && op < XFV_OP_COUNT && op_names[op] ? op_names[op] : "?";
}

void sim_log(struct sim *s, const char *fmt, ...)
{
    struct timespec now;
    va_list ap;

    if (!s->log) {
        return;
    }
    clock_gettime(CLOCK_MONOTONIC, &now);
    fprintf(s->log, "[%10.6f] ", (now.tv_sec - s->t0.tv_sec) +
            (now.tv_nsec - s->t0.tv_nsec) / 1e9);
    va_start(ap, fmt);
    vfprintf(s->log, fmt, ap);
    va_end(ap);
    fputc('\n', s->log);
    fflush(s->log);
}

static int fail(struct call *k, int err)
{
    k->rsp->ret = -1;
    k->rsp->err = err;
    return -1;
}

/* ---- domain ---------------------------------------------------------- */

static int setup_ram(struct sim *s)
{
    uint64_t in0 = s->ram_bytes < RAM0_SIZE ? s->ram_bytes : RAM0_SIZE;

    s->ram_fd = memfd_create("xenfv-guest-ram", MFD_CLOEXEC);
    if (s->ram_fd < 0 || ftruncate(s->ram_fd, s->ram_bytes) < 0) {
        return -1;
    }
    s->ram = mmap(NULL, s->ram_bytes, PROT_READ | PROT_WRITE, MAP_SHARED,
                  s->ram_fd, 0);
    if (s->ram == MAP_FAILED) {
        return -1;
    }
    s->banks[0] = (struct xfv_bank) { RAM0_BASE >> 12, in0 >> 12, 0 };
    s->nr_banks = 1;
    if (s->ram_bytes > in0) {
        s->banks[1] = (struct xfv_bank) {
            RAM1_BASE >> 12, (s->ram_bytes - in0) >> 12, in0,
        };
        s->nr_banks = 2;
    }
    /* Leave the first 16 MiB to the (imaginary) kernel image. */
    s->alloc_next = RAM0_BASE + (16 << 20);
    return 0;
}

/* Guest frame -> offset in the RAM file, or -1 if it is not RAM. */
static int64_t pfn_offset(struct sim *s, uint64_t pfn)
{
    for (int i = 0; i < s->nr_banks; i++) {
        const struct xfv_bank *b = &s->banks[i];

        if (pfn >= b->base_pfn && pfn < b->base_pfn + b->nr_pfns) {
            return b->file_offset + ((pfn - b->base_pfn) << 12);
        }
    }
    return -1;
}

static void free_gport(struct sim *s, uint32_t gp)
{
    struct gport *g = &s->gports[gp];

    if (g->local) {
        s->lports[g->local].remote = 0;
    }
    memset(g, 0, sizeof(*g));
}

static void destroy_server(struct sim *s, int id)
{
    struct ioserver *srv = &s->servers[id];

    for (unsigned v = 0; v < s->nr_vcpus; v++) {
        free_gport(s, srv->eport[v]);
    }
    munmap(srv->page, PAGE_SIZE);
    close(srv->page_fd);
    memset(srv, 0, sizeof(*srv));
    s->servers_destroyed++;
    pthread_cond_broadcast(&s->cond);
}

/*
 * xl destroy: the domain dies, its ioreq servers go away with it, and
 * xenstored fires @releaseDomain.  With leave_dying the domain stays
 * visible as dying, as it does while its pages are being released.
 */
void sim_destroy_domain(struct sim *s, bool leave_dying)
{
    if (s->dom == DOM_GONE) {
        return;
    }
    for (int i = 0; i < MAX_SERVERS; i++) {
        if (s->servers[i].used) {
            destroy_server(s, i);
        }
    }
    s->dom = leave_dying ? DOM_DYING : DOM_GONE;
    sim_log(s, "sim: domain %u %s", s->domid,
            leave_dying ? "dying" : "destroyed");
    xsd_fire(s, "@releaseDomain");
    for (unsigned v = 0; v < s->nr_vcpus; v++) {
        pthread_cond_broadcast(&s->vcpus[v].cond);
    }
    pthread_cond_broadcast(&s->cond);
}

void sim_shutdown_domain(struct sim *s, unsigned reason)
{
    s->shutdown = true;
    s->shutdown_reason = reason;
    sim_log(s, "sim: domain %u shut down, reason %u", s->domid, reason);
    xsd_fire(s, "@releaseDomain");
}

void sim_inject(struct sim *s, int op, int err, int count)
{
    s->inject_op = op;
    s->inject_errno = err;
    s->inject_count = count;
}

void sim_balloon(struct sim *s, uint64_t gpa, bool out)
{
    uint64_t pfn = gpa >> 12;

    pthread_mutex_lock(&s->lock);
    if (out) {
        ranges_add(s->ballooned, &s->nr_ballooned, pfn, pfn);
    } else {
        ranges_remove(s->ballooned, &s->nr_ballooned, pfn, pfn);
    }
    sim_log(s, "sim: guest page 0x%lx ballooned %s", (unsigned long)gpa,
            out ? "out" : "in");
    pthread_mutex_unlock(&s->lock);
}

static bool ballooned(struct sim *s, uint64_t pfn)
{
    return ranges_contain(s->ballooned, s->nr_ballooned, pfn, pfn);
}

/* ---- events ------------------------------------------------------------ */

static void deliver(struct sim *s, uint32_t lp)
{
    struct lport *p = &s->lports[lp];
    struct client *c = &s->clients[p->client];

    if (p->masked) {
        p->pending = true;
        return;
    }
    p->masked = true;
    p->pending = false;
    if (send(c->evfd, &lp, sizeof(lp), MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
        sim_log(s, "sim: event for port %u lost: %s", lp, strerror(errno));
    }
}

/* The guest notifies one of its ports: reach the bound dom0 port. */
void sim_send_event(struct sim *s, uint32_t guest_port)
{
    struct gport *g = &s->gports[guest_port];

    if (g->used && g->local) {
        deliver(s, g->local);
    }
}

/* ---- checks shared by the hypercalls ----------------------------------- */

/* privcmd restriction, then rcu_lock_remote_domain_by_id(). */
static int check_domain(struct call *k)
{
    struct sim *s = k->s;
    uint32_t domid = k->req->domid;

    if (k->c->restrict_domid >= 0 && (uint32_t)k->c->restrict_domid != domid) {
        s->refused[k->req->op]++;
        return fail(k, EPERM);
    }
    if (domid == 0) {
        return fail(k, EPERM);
    }
    if (domid != s->domid || s->dom == DOM_GONE) {
        return fail(k, ESRCH);
    }
    return 0;
}

/* The prologue of every dm_op (xen/arch/arm/dm.c). */
static int check_dm_op(struct call *k)
{
    if (k->s->no_ioreq) {
        return fail(k, ENOSYS);
    }
    return check_domain(k);
}

static struct ioserver *lookup_server(struct call *k, uint64_t id)
{
    if (id >= MAX_SERVERS || !k->s->servers[id].used) {
        fail(k, ENOENT);
        return NULL;
    }
    return &k->s->servers[id];
}

/* ---- handlers ------------------------------------------------------------ */

static int new_socketpair(struct call *k, int *ours)
{
    int sv[2];

    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
        return fail(k, errno);
    }
    fcntl(sv[0], F_SETFL, O_NONBLOCK);
    *ours = sv[0];
    k->fds[k->nfds++] = sv[1];
    return 0;
}

static int op_hello(struct call *k)
{
    struct client *c = k->c;
    const char *comm = (const char *)k->req->data;
    const char *base;

    c->kind = k->req->arg[0];
    c->pid = k->req->arg[1];
    base = k->len && memchr(comm, 0, k->len) ? strrchr(comm, '/') : NULL;
    snprintf(c->comm, sizeof(c->comm), "%s", base ? base + 1 : "?");
    snprintf(k->desc, sizeof(k->desc), "%s",
             c->kind < (int)(sizeof(kind_names) / sizeof(kind_names[0])) &&
             kind_names[c->kind] ? kind_names[c->kind] : "?");
    switch (c->kind) {
    case XFV_KIND_FMEM:
    case XFV_KIND_GNTTAB:
        k->fds[k->nfds++] = dup(k->s->ram_fd);
        return 0;
    case XFV_KIND_EVTCHN:
        return new_socketpair(k, &c->evfd);
    case XFV_KIND_XS:
        return new_socketpair(k, &c->watchfd);
    case XFV_KIND_CTRL:
    case XFV_KIND_DMOD:
        return 0;
    default:
        return fail(k, EINVAL);
    }
}

static int op_restrict(struct call *k)
{
    struct sim *s = k->s;
    unsigned answered = 0;

    snprintf(k->desc, sizeof(k->desc), "domid=%u", k->req->domid);
    k->c->restrict_domid = k->req->domid;
    if (k->c->kind > 0 && k->c->kind <= XFV_KIND_GNTTAB) {
        s->restricted[k->c->kind]++;
    }
    for (unsigned v = 0; v < s->nr_vcpus; v++) {
        answered += s->vcpus[v].ioreqs;
    }
    s->ioreqs_unrestricted = answered;
    return 0;
}

static int op_stub(struct call *k)
{
    const char *fn = (const char *)k->req->data;

    snprintf(k->desc, sizeof(k->desc), "%.*s domid=%u", (int)k->len, fn,
             k->req->domid);
    if (k->c->kind == XFV_KIND_DMOD && check_dm_op(k) < 0) {
        return -1;
    }
    return fail(k, k->req->arg[0]);
}

static void dominfo(struct sim *s, uint32_t domid, struct xfv_dominfo *d)
{
    memset(d, 0, sizeof(*d));
    d->domid = domid;
    if (domid == 0) {
        d->nr_pages = 1 << 18;
        d->max_memkb = 1 << 20;
        d->nr_online_vcpus = 2;
        d->max_vcpu_id = 1;
        return;
    }
    d->dying = s->dom == DOM_DYING;
    d->shutdown = s->shutdown;
    d->shutdown_reason = s->shutdown_reason;
    d->nr_pages = d->dying ? 0 : s->ram_bytes >> 12;
    d->max_memkb = s->ram_bytes >> 10;
    d->nr_online_vcpus = s->nr_vcpus;
    d->max_vcpu_id = s->nr_vcpus - 1;
    d->nr_spis = s->nr_spis;
}

static int op_getinfo(struct call *k)
{
    struct sim *s = k->s;
    struct xfv_dominfo *d = (struct xfv_dominfo *)k->rsp->data;
    uint32_t first = k->req->domid;
    uint64_t max = k->req->arg[0];
    int n = 0;

    snprintf(k->desc, sizeof(k->desc), "%sfirst_domid=%u max=%lu",
             k->req->arg[1] ? "list, " : "", first, (unsigned long)max);
    if (first == 0 && max > 0) {
        dominfo(s, 0, &d[n++]);
    }
    if (s->dom != DOM_GONE && first <= s->domid && (uint64_t)n < max) {
        dominfo(s, s->domid, &d[n++]);
    }
    k->rsp->len = n * sizeof(*d);
    return n;
}

static int op_shutdown(struct call *k)
{
    snprintf(k->desc, sizeof(k->desc), "domid=%u reason=%lu",
             k->req->domid, (unsigned long)k->req->arg[0]);
    if (check_domain(k) < 0) {
        return -1;
    }
    sim_shutdown_domain(k->s, k->req->arg[0]);
    return 0;
}

/* HVMOP_get_param: Arm keeps the parameters, and nothing sets them here. */
static int op_hvm_param_get(struct call *k)
{
    snprintf(k->desc, sizeof(k->desc), "domid=%u param=%lu", k->req->domid,
             (unsigned long)k->req->arg[0]);
    if (check_domain(k) < 0) {
        return -1;
    }
    if (k->req->arg[0] >= HVM_NR_PARAMS) {
        return fail(k, EINVAL);
    }
    k->rsp->val[0] = 0;
    return 0;
}

/*
 * Per-frame errors as privcmd's mmapbatch_v2 reports them: frames that
 * are not guest RAM, or that the guest ballooned out, give -EINVAL
 * (add_to_physmap of a foreign gfn).
 */
static int op_fmem_map(struct call *k)
{
    struct sim *s = k->s;
    const uint64_t *pfn = (const uint64_t *)k->req->data;
    size_t n = k->len / sizeof(uint64_t), bad = 0;
    int32_t *errs = (int32_t *)k->rsp->data;
    uint64_t *off = (uint64_t *)(k->rsp->data + n * 4 + (n & 1) * 4);

    snprintf(k->desc, sizeof(k->desc), "domid=%u pfn=0x%lx pages=%zu",
             k->req->domid, n ? (unsigned long)pfn[0] : 0UL, n);
    if (k->c->restrict_domid >= 0 &&
        (uint32_t)k->c->restrict_domid != k->req->domid) {
        s->refused[k->req->op]++;
        return fail(k, EPERM);
    }
    /* Xen: xsm_map_gmfn_foreign() wants dom0 or the guest's target */
    if (s->deny_foreign) {
        return fail(k, EPERM);
    }
    for (size_t i = 0; i < n; i++) {
        int64_t o = pfn_offset(s, pfn[i]);

        off[i] = 0;
        if (k->req->domid != s->domid || s->dom == DOM_GONE) {
            errs[i] = -ESRCH;
        } else if (o < 0 || s->dom == DOM_DYING || ballooned(s, pfn[i])) {
            errs[i] = -EINVAL;
        } else {
            errs[i] = 0;
            off[i] = o;
        }
        bad += errs[i] != 0;
    }
    k->rsp->len = n * 12 + (n & 1) * 4;
    s->maps++;
    s->mapped_pages += n - bad;
    if (bad) {
        size_t l = strlen(k->desc);

        snprintf(k->desc + l, sizeof(k->desc) - l, " bad=%zu", bad);
    }
    return 0;
}

static int op_fmem_unmap(struct call *k)
{
    snprintf(k->desc, sizeof(k->desc), "addr=0x%lx pages=%lu",
             (unsigned long)k->req->arg[0], (unsigned long)k->req->arg[1]);
    k->s->unmaps++;
    return 0;
}

/*
 * gntdev's map: every reference must be granted by the domain, and
 * writable if a writable mapping is asked for, or the whole map fails.
 */
static int op_gnt_map(struct call *k)
{
    struct sim *s = k->s;
    const uint32_t *ref = (const uint32_t *)k->req->data;
    size_t n = k->len / sizeof(uint32_t);
    bool writable = k->req->arg[0];
    uint64_t *off = (uint64_t *)k->rsp->data;

    snprintf(k->desc, sizeof(k->desc), "domid=%u ref=%u count=%zu %s",
             k->req->domid, n ? ref[0] : 0, n, writable ? "rw" : "ro");
    if (k->req->domid != s->domid || s->dom == DOM_GONE) {
        return fail(k, ESRCH);
    }
    if (n == 0 || n * sizeof(uint64_t) > XFV_MAX_MSG - 256) {
        return fail(k, EINVAL);
    }
    for (size_t i = 0; i < n; i++) {
        const struct grant *g = ref[i] < MAX_GRANTS ? &s->grants[ref[i]]
                                                    : NULL;

        if (!g || !g->used || (writable && g->ro) ||
            pfn_offset(s, g->gfn) < 0 || ballooned(s, g->gfn)) {
            size_t l = strlen(k->desc);

            snprintf(k->desc + l, sizeof(k->desc) - l, " bad ref %u (%s)",
                     ref[i], !g || !g->used ? "not granted" :
                     writable && g->ro ? "read-only" :
                     ballooned(s, g->gfn) ? "ballooned out" : "not RAM");
            return fail(k, EINVAL);
        }
    }
    for (size_t i = 0; i < n; i++) {
        struct grant *g = &s->grants[ref[i]];

        off[i] = pfn_offset(s, g->gfn);
        g->mapped++;
    }
    k->rsp->len = n * sizeof(uint64_t);
    s->grant_maps++;
    s->grants_mapped += n;
    return 0;
}

static int op_gnt_unmap(struct call *k)
{
    struct sim *s = k->s;
    const uint32_t *ref = (const uint32_t *)k->req->data;
    size_t n = k->len / sizeof(uint32_t);

    snprintf(k->desc, sizeof(k->desc), "ref=%u count=%zu", n ? ref[0] : 0,
             n);
    for (size_t i = 0; i < n; i++) {
        if (ref[i] < MAX_GRANTS && s->grants[ref[i]].mapped) {
            s->grants[ref[i]].mapped--;
        }
    }
    s->grant_unmaps++;
    return 0;
}

/* XENMEM_acquire_resource for an ioreq server (xen/common/ioreq.c). */
static int op_map_resource(struct call *k)
{
    struct sim *s = k->s;
    uint64_t type = k->req->arg[0], id = k->req->arg[1];
    uint64_t frame = k->req->arg[2], nr = k->req->arg[3];
    struct ioserver *srv;

    snprintf(k->desc, sizeof(k->desc),
             "domid=%u type=%lu id=%lu frame=%lu nr=%lu", k->req->domid,
             (unsigned long)type, (unsigned long)id, (unsigned long)frame,
             (unsigned long)nr);
    if (check_domain(k) < 0) {
        return -1;
    }
    if (type != XENMEM_resource_ioreq_server || s->no_ioreq) {
        return fail(k, EOPNOTSUPP);
    }
    srv = lookup_server(k, id);
    if (!srv) {
        return -1;
    }
    if (nr == 0) {
        k->rsp->val[1] = 2;     /* bufioreq frame + one ioreq frame */
        return 0;
    }
    for (uint64_t f = frame; f < frame + nr; f++) {
        if (f == XENMEM_resource_ioreq_server_frame_bufioreq) {
            return fail(k, ENOENT);     /* bufioreq is off on Arm */
        }
        if (f != XENMEM_resource_ioreq_server_frame_ioreq(0)) {
            return fail(k, EINVAL);
        }
    }
    k->fds[k->nfds++] = dup(srv->page_fd);
    k->rsp->val[0] = 0;
    return 0;
}

static int op_unmap_resource(struct call *k)
{
    snprintf(k->desc, sizeof(k->desc), "domid=%u type=%lu id=%lu frame=%lu",
             k->req->domid, (unsigned long)k->req->arg[0],
             (unsigned long)k->req->arg[1], (unsigned long)k->req->arg[2]);
    return 0;
}

static uint32_t alloc_gport(struct sim *s, int server, int vcpu)
{
    for (uint32_t p = FIRST_GUEST_PORT; p < MAX_PORTS; p++) {
        if (!s->gports[p].used) {
            s->gports[p] = (struct gport) {
                .used = true, .server = server, .vcpu = vcpu,
            };
            return p;
        }
    }
    return 0;
}

static int op_create_server(struct call *k)
{
    struct sim *s = k->s;
    uint64_t bufioreq = k->req->arg[0];
    struct ioserver *srv = NULL;
    int id;

    snprintf(k->desc, sizeof(k->desc), "domid=%u handle_bufioreq=%lu",
             k->req->domid, (unsigned long)bufioreq);
    if (check_dm_op(k) < 0) {
        return -1;
    }
    /* Arm refuses buffered ioreqs (ioreq_server_create). */
    if (bufioreq != HVM_IOREQSRV_BUFIOREQ_OFF) {
        return fail(k, EINVAL);
    }
    for (id = 0; id < MAX_SERVERS; id++) {
        if (!s->servers[id].used) {
            srv = &s->servers[id];
            break;
        }
    }
    if (!srv) {
        return fail(k, ENOSPC);
    }
    srv->page_fd = memfd_create("xenfv-ioreq-page", MFD_CLOEXEC);
    if (srv->page_fd < 0 || ftruncate(srv->page_fd, PAGE_SIZE) < 0) {
        return fail(k, ENOMEM);
    }
    srv->page = mmap(NULL, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
                     srv->page_fd, 0);
    if (srv->page == MAP_FAILED) {
        close(srv->page_fd);
        return fail(k, ENOMEM);
    }
    srv->used = true;
    srv->owner = k->ci;
    /*
     * The ports exist now, but Xen 4.17 writes them into the ioreq page
     * only when the server is enabled (ioreq_server_enable ->
     * ioreq_server_update_evtchn): a device model that binds before
     * enabling reads port 0.
     */
    for (unsigned v = 0; v < s->nr_vcpus; v++) {
        srv->eport[v] = alloc_gport(s, id, v);
    }
    s->servers_created++;
    k->rsp->val[0] = id;
    snprintf(k->desc + strlen(k->desc), 32, " -> id %d", id);
    return 0;
}

static int op_get_info(struct call *k)
{
    snprintf(k->desc, sizeof(k->desc), "domid=%u id=%lu no_gfns=%lu",
             k->req->domid, (unsigned long)k->req->arg[0],
             (unsigned long)k->req->arg[1]);
    if (check_dm_op(k) < 0 || !lookup_server(k, k->req->arg[0])) {
        return -1;
    }
    /* Without XEN_DMOP_no_gfns Arm cannot map the pages into the guest. */
    if (!k->req->arg[1]) {
        return fail(k, EOPNOTSUPP);
    }
    k->rsp->val[2] = 0;     /* bufioreq_port: untouched without bufioreq */
    return 0;
}

static int op_range(struct call *k, bool map)
{
    uint64_t is_mmio = k->req->arg[1];
    uint64_t start = k->req->arg[2], end = k->req->arg[3];
    struct ioserver *srv;
    struct range *r;
    int *n;

    snprintf(k->desc, sizeof(k->desc),
             "domid=%u id=%lu %s 0x%lx-0x%lx", k->req->domid,
             (unsigned long)k->req->arg[0], is_mmio ? "mmio" : "port",
             (unsigned long)start, (unsigned long)end);
    if (check_dm_op(k) < 0) {
        return -1;
    }
    if (start > end) {
        return fail(k, EINVAL);
    }
    srv = lookup_server(k, k->req->arg[0]);
    if (!srv) {
        return -1;
    }
    r = is_mmio ? srv->mmio : srv->pio;
    n = is_mmio ? &srv->nr_mmio : &srv->nr_pio;
    if (map) {
        if (ranges_overlap(r, *n, start, end)) {
            return fail(k, EEXIST);
        }
        if (ranges_add(r, n, start, end) < 0) {
            return fail(k, ENOMEM);
        }
        return 0;
    }
    if (!ranges_contain(r, *n, start, end)) {
        return fail(k, ENOENT);
    }
    ranges_remove(r, n, start, end);
    return 0;
}

static int op_map_range(struct call *k)
{
    return op_range(k, true);
}

static int op_unmap_range(struct call *k)
{
    return op_range(k, false);
}

static int op_set_state(struct call *k)
{
    struct ioserver *srv;

    snprintf(k->desc, sizeof(k->desc), "domid=%u id=%lu enabled=%lu",
             k->req->domid, (unsigned long)k->req->arg[0],
             (unsigned long)k->req->arg[1]);
    if (check_dm_op(k) < 0) {
        return -1;
    }
    srv = lookup_server(k, k->req->arg[0]);
    if (!srv) {
        return -1;
    }
    srv->enabled = k->req->arg[1] != 0;
    if (srv->enabled) {
        for (unsigned v = 0; v < k->s->nr_vcpus; v++) {
            srv->page->vcpu_ioreq[v].vp_eport = srv->eport[v];
        }
    }
    pthread_cond_broadcast(&k->s->cond);
    return 0;
}

static int op_destroy_server(struct call *k)
{
    snprintf(k->desc, sizeof(k->desc), "domid=%u id=%lu", k->req->domid,
             (unsigned long)k->req->arg[0]);
    if (check_dm_op(k) < 0 || !lookup_server(k, k->req->arg[0])) {
        return -1;
    }
    destroy_server(k->s, k->req->arg[0]);
    return 0;
}

/*
 * XEN_DMOP_set_irq_level and the old vGIC's edge behaviour: level 1
 * injects, level 0 is ignored, an injection while pending merges.
 */
static int op_set_irq_level(struct call *k)
{
    struct sim *s = k->s;
    uint64_t irq = k->req->arg[0], level = k->req->arg[1];
    unsigned nr_irqs = NR_LOCAL_IRQS + ((s->nr_spis + 31) & ~31u);
    struct spi *spi;

    snprintf(k->desc, sizeof(k->desc), "domid=%u irq=%lu level=%lu",
             k->req->domid, (unsigned long)irq, (unsigned long)level);
    if (check_dm_op(k) < 0) {
        return -1;
    }
    if (irq < NR_LOCAL_IRQS || irq >= nr_irqs || s->nr_spis == 0) {
        return fail(k, EINVAL);
    }
    if (level > 1) {
        return fail(k, EINVAL);
    }
    if (s->vpl011 && irq == 32) {
        return fail(k, EINVAL);     /* allocated to the vpl011 */
    }
    if (!level) {
        return 0;
    }
    spi = &s->spis[irq];
    spi->injected++;
    if (spi->pending) {
        spi->merged++;
    }
    spi->pending = true;
    pthread_cond_broadcast(&s->cond);
    return 0;
}

static int op_nr_vcpus(struct call *k)
{
    snprintf(k->desc, sizeof(k->desc), "domid=%u", k->req->domid);
    if (check_dm_op(k) < 0) {
        return -1;
    }
    k->rsp->val[0] = k->s->nr_vcpus;
    return 0;
}

static struct lport *own_port(struct call *k, uint64_t port)
{
    if (port >= MAX_PORTS || !k->s->lports[port].used ||
        k->s->lports[port].client != k->ci) {
        fail(k, ENOTCONN);     /* what the evtchn driver answers */
        return NULL;
    }
    return &k->s->lports[port];
}

static int op_evtchn_bind(struct call *k)
{
    struct sim *s = k->s;
    uint64_t remote = k->req->arg[0];
    struct gport *g;

    snprintf(k->desc, sizeof(k->desc), "domid=%u remote_port=%lu",
             k->req->domid, (unsigned long)remote);
    if (check_domain(k) < 0) {
        return -1;
    }
    if (remote >= MAX_PORTS || !s->gports[remote].used ||
        s->gports[remote].local) {
        return fail(k, EINVAL);     /* not an unbound port for dom0 */
    }
    g = &s->gports[remote];
    for (uint32_t p = FIRST_LOCAL_PORT; p < MAX_PORTS; p++) {
        if (!s->lports[p].used) {
            s->lports[p] = (struct lport) {
                .used = true, .client = k->ci, .remote = remote,
            };
            g->local = p;
            snprintf(k->desc + strlen(k->desc), 32, " -> %u", p);
            return p;
        }
    }
    return fail(k, ENOSPC);
}

static void unbind(struct sim *s, uint32_t lp)
{
    struct lport *p = &s->lports[lp];

    if (p->remote) {
        s->gports[p->remote].local = 0;
    }
    memset(p, 0, sizeof(*p));
}

static int op_evtchn_unbind(struct call *k)
{
    snprintf(k->desc, sizeof(k->desc), "port=%lu",
             (unsigned long)k->req->arg[0]);
    if (!own_port(k, k->req->arg[0])) {
        return -1;
    }
    unbind(k->s, k->req->arg[0]);
    return 0;
}

static int op_evtchn_notify(struct call *k)
{
    struct sim *s = k->s;
    struct lport *p;
    struct gport *g;

    snprintf(k->desc, sizeof(k->desc), "port=%lu",
             (unsigned long)k->req->arg[0]);
    p = own_port(k, k->req->arg[0]);
    if (!p) {
        return -1;
    }
    if (!p->remote) {
        return 0;       /* the guest end is closed: dropped silently */
    }
    g = &s->gports[p->remote];
    s->vcpus[g->vcpu].notified++;
    pthread_cond_broadcast(&s->vcpus[g->vcpu].cond);
    return 0;
}

static int op_evtchn_unmask(struct call *k)
{
    uint64_t port = k->req->arg[0];
    struct lport *p;

    snprintf(k->desc, sizeof(k->desc), "port=%lu", (unsigned long)port);
    /* The evtchn driver ignores ports that are not bound to the fd. */
    if (port >= MAX_PORTS || !k->s->lports[port].used ||
        k->s->lports[port].client != k->ci) {
        return 0;
    }
    p = &k->s->lports[port];
    p->masked = false;
    if (p->pending) {
        deliver(k->s, port);
    }
    return 0;
}

/* Xenstore requests carry "path\0" and then the value or token. */
static int xs_args(struct call *k, const char **path, const char **val,
                   size_t *vlen)
{
    const char *d = (const char *)k->req->data;
    const char *nul = k->len ? memchr(d, 0, k->len) : NULL;

    if (!nul) {
        return fail(k, EINVAL);
    }
    /* Relative paths are under the caller's home: dom0's, for us. */
    if (d[0] != '/' && d[0] != '@' && d[0]) {
        snprintf(k->xs_path, sizeof(k->xs_path), "%s/%s", XS_DOM0_HOME, d);
        d = k->xs_path;
    }
    *path = d;
    *val = nul + 1;
    *vlen = k->len - (nul + 1 - (const char *)k->req->data);
    snprintf(k->desc, sizeof(k->desc), "%.200s", d);
    return 0;
}

static int op_xs(struct call *k)
{
    struct sim *s = k->s;
    const char *path = NULL, *val;
    size_t vlen, len = XFV_MAX_MSG - sizeof(struct xfv_rsp);
    char *out = (char *)k->rsp->data;
    int op = k->req->op, r;

    if (op == XFV_OP_XS_TRANSACTION_START) {
        static uint32_t next_t = 1;

        k->rsp->val[0] = next_t++;
        return 0;
    }
    if (op == XFV_OP_XS_TRANSACTION_END) {
        snprintf(k->desc, sizeof(k->desc), "t=%lu abort=%lu",
                 (unsigned long)k->req->arg[0],
                 (unsigned long)k->req->arg[1]);
        return 0;
    }
    if (xs_args(k, &path, &val, &vlen) < 0) {
        return -1;
    }
    switch (op) {
    case XFV_OP_XS_READ:
        r = xsd_read(s->xs, path, out, &len);
        k->rsp->len = r ? 0 : len;
        break;
    case XFV_OP_XS_WRITE:
        snprintf(k->desc + strlen(k->desc), 64, " = \"%.*s\"",
                 (int)(vlen > 40 ? 40 : vlen), val);
        r = xsd_write(s, path, val, vlen);
        break;
    case XFV_OP_XS_MKDIR:
        r = xsd_mkdir(s, path);
        break;
    case XFV_OP_XS_RM:
        r = xsd_rm(s, path);
        break;
    case XFV_OP_XS_DIRECTORY:
        r = xsd_directory(s->xs, path, out, &len);
        k->rsp->len = r ? 0 : len;
        break;
    case XFV_OP_XS_SET_PERMS:
        r = xsd_set_perms(s->xs, path, val, vlen);
        break;
    case XFV_OP_XS_WATCH:
        snprintf(k->desc + strlen(k->desc), 64, " token=%.40s", val);
        r = xsd_watch(s, k->ci, path, val, path == k->xs_path);
        break;
    case XFV_OP_XS_UNWATCH:
        r = xsd_unwatch(s->xs, k->ci, path, val);
        break;
    default:
        r = EINVAL;
        break;
    }
    return r ? fail(k, r) : 0;
}

typedef int handler_fn(struct call *k);

static handler_fn *const handlers[XFV_OP_COUNT] = {
    [XFV_OP_HELLO] = op_hello,
    [XFV_OP_RESTRICT] = op_restrict,
    [XFV_OP_STUB] = op_stub,
    [XFV_OP_DOMAIN_GETINFO] = op_getinfo,
    [XFV_OP_DOMAIN_SHUTDOWN] = op_shutdown,
    [XFV_OP_HVM_PARAM_GET] = op_hvm_param_get,
    [XFV_OP_GNT_MAP] = op_gnt_map,
    [XFV_OP_GNT_UNMAP] = op_gnt_unmap,
    [XFV_OP_FMEM_MAP] = op_fmem_map,
    [XFV_OP_FMEM_UNMAP] = op_fmem_unmap,
    [XFV_OP_FMEM_MAP_RESOURCE] = op_map_resource,
    [XFV_OP_FMEM_UNMAP_RESOURCE] = op_unmap_resource,
    [XFV_OP_DM_CREATE_SERVER] = op_create_server,
    [XFV_OP_DM_GET_INFO] = op_get_info,
    [XFV_OP_DM_MAP_RANGE] = op_map_range,
    [XFV_OP_DM_UNMAP_RANGE] = op_unmap_range,
    [XFV_OP_DM_SET_STATE] = op_set_state,
    [XFV_OP_DM_DESTROY_SERVER] = op_destroy_server,
    [XFV_OP_DM_SET_IRQ_LEVEL] = op_set_irq_level,
    [XFV_OP_DM_NR_VCPUS] = op_nr_vcpus,
    [XFV_OP_EVTCHN_BIND] = op_evtchn_bind,
    [XFV_OP_EVTCHN_UNBIND] = op_evtchn_unbind,
    [XFV_OP_EVTCHN_NOTIFY] = op_evtchn_notify,
    [XFV_OP_EVTCHN_UNMASK] = op_evtchn_unmask,
    [XFV_OP_XS_READ] = op_xs,
    [XFV_OP_XS_WRITE] = op_xs,
    [XFV_OP_XS_MKDIR] = op_xs,
    [XFV_OP_XS_RM] = op_xs,
    [XFV_OP_XS_DIRECTORY] = op_xs,
    [XFV_OP_XS_SET_PERMS] = op_xs,
    [XFV_OP_XS_WATCH] = op_xs,
    [XFV_OP_XS_UNWATCH] = op_xs,
    [XFV_OP_XS_TRANSACTION_START] = op_xs,
    [XFV_OP_XS_TRANSACTION_END] = op_xs,
};

static int run_handler(struct call *k)
{
    struct sim *s = k->s;
    int op = k->req->op;

    if (op <= 0 || op >= XFV_OP_COUNT || !handlers[op]) {
        return fail(k, ENOSYS);
    }
    if (s->inject_op == op && s->inject_count != 0) {
        if (s->inject_count > 0) {
            s->inject_count--;
        }
        snprintf(k->desc, sizeof(k->desc), "(injected failure)");
        return fail(k, s->inject_errno);
    }
    return handlers[op](k);
}

static void send_response(struct call *k)
{
    union {
        char buf[CMSG_SPACE(XFV_MAX_FDS * sizeof(int))];
        struct cmsghdr align;
    } u;
    struct iovec iov = {
        .iov_base = k->rsp, .iov_len = sizeof(*k->rsp) + k->rsp->len,
    };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
    struct cmsghdr *cm;

    if (k->nfds) {
        msg.msg_control = u.buf;
        msg.msg_controllen = CMSG_SPACE(k->nfds * sizeof(int));
        cm = CMSG_FIRSTHDR(&msg);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(k->nfds * sizeof(int));
        memcpy(CMSG_DATA(cm), k->fds, k->nfds * sizeof(int));
    }
    if (sendmsg(k->c->fd, &msg, MSG_NOSIGNAL) < 0) {
        sim_log(k->s, "sim: reply to pid %d failed: %s", k->c->pid,
                strerror(errno));
    }
    for (int i = 0; i < k->nfds; i++) {
        close(k->fds[i]);
    }
}

static void drop_client(struct sim *s, int ci)
{
    struct client *c = &s->clients[ci];

    sim_log(s, "%d %s: close %s", c->pid, c->comm,
            c->kind > 0 && c->kind <= XFV_KIND_GNTTAB ? kind_names[c->kind]
                                                      : "?");
    for (uint32_t p = 0; p < MAX_PORTS; p++) {
        if (s->lports[p].used && s->lports[p].client == ci) {
            unbind(s, p);
        }
    }
    xsd_drop_client(s->xs, ci);
    close(c->fd);
    if (c->evfd >= 0) {
        close(c->evfd);
    }
    if (c->watchfd >= 0) {
        close(c->watchfd);
    }
    c->fd = -1;
}

static void serve(struct sim *s, int ci, struct xfv_req *req, ssize_t n)
{
    struct call k = {
        .s = s, .ci = ci, .c = &s->clients[ci], .req = req,
        .len = n - sizeof(*req),
    };
    int r;

    if (req->len < k.len) {
        k.len = req->len;
    }
    k.rsp = calloc(1, XFV_MAX_MSG);
    r = run_handler(&k);
    if (r >= 0) {
        k.rsp->ret = r;
    }
    s->calls[req->op < XFV_OP_COUNT ? req->op : 0]++;
    if (k.rsp->ret < 0) {
        s->failed_calls[req->op < XFV_OP_COUNT ? req->op : 0]++;
        sim_log(s, "%d %s: %s(%s) = -1 %s", k.c->pid, k.c->comm,
                sim_op_name(req->op), k.desc, strerrorname_np(k.rsp->err));
    } else if (req->op != XFV_OP_EVTCHN_NOTIFY &&
               req->op != XFV_OP_EVTCHN_UNMASK) {
        /* notify/unmask come with every ioreq: they are counted only. */
        sim_log(s, "%d %s: %s(%s) = %ld", k.c->pid, k.c->comm,
                sim_op_name(req->op), k.desc, (long)k.rsp->ret);
    }
    send_response(&k);
    free(k.rsp);
}

static void accept_client(struct sim *s)
{
    int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);

    if (fd < 0) {
        return;
    }
    for (int i = 0; i < MAX_CLIENTS; i++) {
        if (s->clients[i].fd < 0) {
            s->clients[i] = (struct client) {
                .fd = fd, .restrict_domid = -1, .evfd = -1, .watchfd = -1,
            };
            return;
        }
    }
    sim_log(s, "sim: too many clients");
    close(fd);
}

static void *loop(void *opaque)
{
    struct sim *s = opaque;
    struct pollfd pfd[MAX_CLIENTS + 2];
    int idx[MAX_CLIENTS + 2];
    struct xfv_req *req = malloc(XFV_MAX_MSG);

    for (;;) {
        int n = 0;

        pfd[n++] = (struct pollfd) { .fd = s->wake[0], .events = POLLIN };
        pfd[n++] = (struct pollfd) { .fd = s->listen_fd, .events = POLLIN };
        pthread_mutex_lock(&s->lock);
        if (s->quit) {
            pthread_mutex_unlock(&s->lock);
            break;
        }
        for (int i = 0; i < MAX_CLIENTS; i++) {
            if (s->clients[i].fd >= 0) {
                idx[n] = i;
                pfd[n++] = (struct pollfd) {
                    .fd = s->clients[i].fd, .events = POLLIN,
                };
            }
        }
        pthread_mutex_unlock(&s->lock);
        if (poll(pfd, n, -1) < 0) {
            continue;
        }
        pthread_mutex_lock(&s->lock);
        if (pfd[1].revents & POLLIN) {
            accept_client(s);
        }
        for (int i = 2; i < n; i++) {
            ssize_t len;

            if (!pfd[i].revents) {
                continue;
            }
            len = recv(pfd[i].fd, req, XFV_MAX_MSG, MSG_DONTWAIT);
            if (len >= (ssize_t)sizeof(*req)) {
                serve(s, idx[i], req, len);
            } else if (len == 0 || (len < 0 && errno != EAGAIN)) {
                drop_client(s, idx[i]);
            }
        }
        pthread_mutex_unlock(&s->lock);
    }
    free(req);
    return NULL;
}

int sim_init(struct sim *s, const char *sock_path, const char *log_path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    pthread_condattr_t ca;

    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, &ca);
    for (int i = 0; i < MAX_VCPUS; i++) {
        pthread_cond_init(&s->vcpus[i].cond, &ca);
    }
    for (int i = 0; i < MAX_CLIENTS; i++) {
        s->clients[i].fd = -1;
    }
    clock_gettime(CLOCK_MONOTONIC, &s->t0);
    if (log_path) {
        s->log = fopen(log_path, "w");
        if (!s->log) {
            return -1;
        }
    }
    if (setup_ram(s) < 0) {
        return -1;
    }
    s->xs = xsd_new();
    if (!s->xs || pipe2(s->wake, O_CLOEXEC) < 0) {
        return -1;
    }
    if (strlen(sock_path) >= sizeof(sa.sun_path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(sa.sun_path, sock_path);
    unlink(sock_path);
    s->listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (s->listen_fd < 0 ||
        bind(s->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        listen(s->listen_fd, 16) < 0) {
        return -1;
    }
    sim_log(s, "sim: domain %u, %u vcpus, %lu MiB RAM, %u SPIs%s", s->domid,
            s->nr_vcpus, (unsigned long)(s->ram_bytes >> 20), s->nr_spis,
            s->no_ioreq ? ", no IOREQ_SERVER" : "");
    return 0;
}

int sim_start(struct sim *s)
{
    return pthread_create(&s->loop_thread, NULL, loop, s) ? -1 : 0;
}

/* What happened, in numbers: the end of every log. */
static void log_summary(struct sim *s)
{
    for (int op = 1; op < XFV_OP_COUNT; op++) {
        if (s->calls[op]) {
            char refused[64] = "";

            if (s->refused[op]) {
                snprintf(refused, sizeof(refused), " (%u: handle restricted "
                         "to another domain)", s->refused[op]);
            }
            sim_log(s, "summary: %-48s %6u calls, %u failed%s",
                    sim_op_name(op), s->calls[op], s->failed_calls[op],
                    refused);
        }
    }
    sim_log(s, "summary: %u foreign maps (%u pages), %u unmaps", s->maps,
            s->mapped_pages, s->unmaps);
    sim_log(s, "summary: ioreq servers: %u created, %u destroyed",
            s->servers_created, s->servers_destroyed);
    sim_log(s, "summary: guest MMIO: %u accesses, %u QueueNotify writes "
            "(kicks), at most %u ioreqs in flight", s->mmio, s->kicks,
            s->max_inflight);
    for (unsigned v = 0; v < s->nr_vcpus; v++) {
        sim_log(s, "summary: vcpu %u: %u ioreqs answered", v,
                s->vcpus[v].ioreqs);
    }
    for (int irq = 0; irq < MAX_IRQS; irq++) {
        if (s->spis[irq].injected) {
            sim_log(s, "summary: SPI %d: %u injections, %u merged", irq,
                    s->spis[irq].injected, s->spis[irq].merged);
        }
    }
}

void sim_stop(struct sim *s)
{
    pthread_mutex_lock(&s->lock);
    s->quit = true;
    pthread_mutex_unlock(&s->lock);
    if (write(s->wake[1], "q", 1) < 0) {
        sim_log(s, "sim: cannot wake the loop");
    }
    pthread_join(s->loop_thread, NULL);
    log_summary(s);
}

int sim_find_server_for(struct sim *s, uint64_t addr, unsigned size)
{
    for (int i = 0; i < MAX_SERVERS; i++) {
        struct ioserver *srv = &s->servers[i];

        if (srv->used && srv->enabled &&
            ranges_contain(srv->mmio, srv->nr_mmio, addr, addr + size - 1)) {
            return i;
        }
    }
    return -1;
}
