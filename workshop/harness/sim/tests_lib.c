/*
 * The stand-in libraries against the simulator, in process: return
 * codes and errno as Xen 4.17 on Arm gives them, shared memory, event
 * channel and vGIC semantics, xenstore watches.
 */
#include "harness.h"
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <xendevicemodel.h>
#include <xenevtchn.h>
#include <xenforeignmemory.h>
#include <xenstore.h>
#include <xentoolcore.h>
#include <xen/memory.h>
#include <xen/hvm/dm_op.h>

#define CHECK_ERR(call, want)                                               \
    do {                                                                    \
        errno = 0;                                                          \
        CHECK((call) < 0 && errno == (want), "%s: errno %s, want %s",       \
              #call, strerrorname_np(errno), strerrorname_np(want));        \
    } while (0)

static enum result check_open(struct ctx *c)
{
    xenforeignmemory_handle *fmem;
    xc_interface *xc;

    unsetenv(XFV_ENV_SOCKET);
    errno = 0;
    fmem = xenforeignmemory_open(NULL, 0);
    CHECK(!fmem && errno == ENOENT, "open without a hypervisor: %p %s",
          (void *)fmem, strerrorname_np(errno));
    setenv(XFV_ENV_SOCKET, "/nonexistent/xen.sock", 1);
    xc = xc_interface_open(NULL, NULL, 0);
    CHECK(!xc && errno == ENOENT, "open with a dead socket path");
    setenv(XFV_ENV_SOCKET, c->sock, 1);
    return PASS;
}

static enum result check_dominfo(struct ctx *c, xc_interface *xc)
{
    struct sim *s = c->s;
    xc_dominfo_t info;

    CHECK(xc_domain_getinfo(xc, s->domid, 1, &info) == 1,
          "getinfo of the domain");
    CHECK(info.domid == s->domid && !info.dying && !info.shutdown &&
          info.max_memkb == s->ram_bytes >> 10 &&
          info.max_vcpu_id == s->nr_vcpus - 1,
          "dominfo: domid %u dying %u memkb %lu max_vcpu_id %u", info.domid,
          info.dying, info.max_memkb, info.max_vcpu_id);
    CHECK(xc_domain_getinfo(xc, s->domid + 1, 1, &info) == 0,
          "getinfo past the last domain");
    return PASS;
}

static enum result check_server(struct ctx *c, xendevicemodel_handle *dm,
                                xenforeignmemory_handle *fmem,
                                ioservid_t *idp, shared_iopage_t **pagep)
{
    uint32_t d = c->s->domid;
    xenforeignmemory_resource_handle *fres;
    xen_pfn_t gfn;
    evtchn_port_t port = 99;
    unsigned nr;
    void *addr = NULL;
    ioservid_t id;

    CHECK_ERR(xendevicemodel_create_ioreq_server(
                  dm, d, HVM_IOREQSRV_BUFIOREQ_ATOMIC, &id), EINVAL);
    CHECK_ERR(xendevicemodel_create_ioreq_server(dm, d + 1, 0, &id), ESRCH);
    CHECK_ERR(xendevicemodel_create_ioreq_server(dm, 0, 0, &id), EPERM);
    CHECK(xendevicemodel_create_ioreq_server(dm, d, 0, &id) == 0,
          "create_ioreq_server(BUFIOREQ_OFF)");
    CHECK_ERR(xendevicemodel_get_ioreq_server_info(dm, d, id, &gfn, NULL,
                                                   NULL), EOPNOTSUPP);
    CHECK(xendevicemodel_get_ioreq_server_info(dm, d, id, NULL, NULL,
                                               &port) == 0 && port == 0,
          "get_ioreq_server_info with no gfns");
    CHECK(!xenforeignmemory_map_resource(fmem, d, 0, id, 0, 1, &addr,
                                         PROT_READ, 0) && errno == ENOENT,
          "bufioreq frame: errno %s", strerrorname_np(errno));
    CHECK(!xenforeignmemory_map_resource(fmem, d, 0, id, 2, 1, &addr,
                                         PROT_READ, 0) && errno == EINVAL,
          "frame 2: errno %s", strerrorname_np(errno));
    CHECK(!xenforeignmemory_map_resource(fmem, d, 0, id + 1, 1, 1, &addr,
                                         PROT_READ, 0) && errno == ENOENT,
          "unknown server: errno %s", strerrorname_np(errno));
    fres = xenforeignmemory_map_resource(fmem, d, 0, id, 1, 1, &addr,
                                         PROT_READ | PROT_WRITE, 0);
    CHECK(fres && addr, "map the ioreq page: %s", strerrorname_np(errno));
    CHECK(xendevicemodel_nr_vcpus(dm, d, &nr) == 0 && nr == c->s->nr_vcpus,
          "nr_vcpus");
    *idp = id;
    *pagep = addr;
    return PASS;
}

static enum result check_ranges(struct ctx *c, xendevicemodel_handle *dm,
                                ioservid_t id)
{
    uint32_t d = c->s->domid;

    CHECK_ERR(xendevicemodel_map_io_range_to_ioreq_server(
                  dm, d, id, 1, 0x2000200, 0x2000100), EINVAL);
    CHECK_ERR(xendevicemodel_map_io_range_to_ioreq_server(
                  dm, d, id + 3, 1, 0x2000000, 0x20001ff), ENOENT);
    for (int i = 0; i < 2; i++) {
        CHECK(xendevicemodel_map_io_range_to_ioreq_server(
                  dm, d, id, 1, 0x2000000 + i * 0x200,
                  0x20001ff + i * 0x200) == 0, "map window %d", i);
    }
    CHECK_ERR(xendevicemodel_map_io_range_to_ioreq_server(
                  dm, d, id, 1, 0x2000100, 0x2000100), EEXIST);
    CHECK_ERR(xendevicemodel_unmap_io_range_from_ioreq_server(
                  dm, d, id, 1, 0x2000400, 0x20005ff), ENOENT);
    CHECK(xendevicemodel_unmap_io_range_from_ioreq_server(
              dm, d, id, 1, 0x2000200, 0x20003ff) == 0, "unmap window 1");
    CHECK(xendevicemodel_set_ioreq_server_state(dm, d, id, 1) == 0,
          "enable");
    CHECK(sim_find_server_for(c->s, 0x20001fc, 4) == id &&
          sim_find_server_for(c->s, 0x20001fe, 4) == -1 &&
          sim_find_server_for(c->s, 0x2000200, 4) == -1,
          "range lookup after map/unmap");
    return PASS;
}

static enum result check_irqs(struct ctx *c, xendevicemodel_handle *dm)
{
    struct sim *s = c->s;
    uint32_t d = s->domid;

    CHECK_ERR(xendevicemodel_set_irq_level(dm, d, 31, 1), EINVAL);
    CHECK_ERR(xendevicemodel_set_irq_level(dm, d, 64, 1), EINVAL);
    CHECK_ERR(xendevicemodel_set_irq_level(dm, d, 33, 2), EINVAL);
    CHECK(xendevicemodel_set_irq_level(dm, d, 63, 1) == 0,
          "SPI 63 is below the rounded-up SPI count");
    CHECK(guest_wait_irq(s, 63, 100) == 0, "SPI 63 not delivered");
    guest_eoi(s, 63);
    CHECK(xendevicemodel_set_irq_level(dm, d, 33, 0) == 0, "level 0");
    CHECK(guest_wait_irq(s, 33, 50) == -ETIMEDOUT, "level 0 injected");
    /* Two assertions while pending merge into one interrupt. */
    xendevicemodel_set_irq_level(dm, d, 33, 1);
    xendevicemodel_set_irq_level(dm, d, 33, 1);
    CHECK(guest_wait_irq(s, 33, 100) == 0, "SPI 33 not delivered");
    CHECK(s->spis[33].merged == 1, "merge count %u", s->spis[33].merged);
    /* While active, one more follows the EOI, and only one. */
    xendevicemodel_set_irq_level(dm, d, 33, 1);
    xendevicemodel_set_irq_level(dm, d, 33, 1);
    guest_eoi(s, 33);
    CHECK(guest_wait_irq(s, 33, 100) == 0, "no interrupt after EOI");
    guest_eoi(s, 33);
    CHECK(guest_wait_irq(s, 33, 50) == -ETIMEDOUT, "a third interrupt");
    return PASS;
}

static enum result check_foreign(struct ctx *c, xenforeignmemory_handle *fm)
{
    struct sim *s = c->s;
    uint64_t last = ((RAM0_BASE + s->ram_bytes) >> 12) - 1;
    xen_pfn_t pfns[4] = { RAM0_BASE >> 12, last, last + 1, 0x100000 };
    int err[4];
    uint8_t *p;

    p = xenforeignmemory_map2(fm, s->domid, NULL, PROT_READ | PROT_WRITE, 0,
                              4, pfns, err);
    CHECK(p, "map2: %s", strerrorname_np(errno));
    CHECK(!err[0] && !err[1] && err[2] == -EINVAL && err[3] == -EINVAL,
          "per-frame errors %d %d %d %d", err[0], err[1], err[2], err[3]);
    p[4096 + 7] = 0x5a;
    CHECK(*(uint8_t *)guest_ptr(s, last << 12 | 7, 1) == 0x5a,
          "mapping does not share guest RAM");
    CHECK(xenforeignmemory_unmap(fm, p, 4) == 0, "unmap");
    CHECK(!xenforeignmemory_map(fm, s->domid, PROT_READ, 4, pfns, NULL) &&
          errno == EINVAL, "map without err[] over a hole: %s",
          strerrorname_np(errno));
    return PASS;
}

static enum result check_evtchn(struct ctx *c, shared_iopage_t *page)
{
    struct sim *s = c->s;
    xenevtchn_handle *xce = xenevtchn_open(NULL, 0);
    uint32_t remote = page->vcpu_ioreq[0].vp_eport;
    struct pollfd pfd;
    int port;

    CHECK(xce, "xenevtchn_open");
    CHECK_ERR(xenevtchn_bind_interdomain(xce, s->domid, 200), EINVAL);
    port = xenevtchn_bind_interdomain(xce, s->domid, remote);
    CHECK(port > 0 && (uint32_t)port != remote, "bind: %d", port);
    CHECK_ERR(xenevtchn_bind_interdomain(xce, s->domid, remote), EINVAL);
    CHECK_ERR(xenevtchn_pending(xce), EAGAIN);
    pthread_mutex_lock(&s->lock);
    sim_send_event(s, remote);
    sim_send_event(s, remote);      /* masked now: stays pending */
    pthread_mutex_unlock(&s->lock);
    pfd = (struct pollfd) { .fd = xenevtchn_fd(xce), .events = POLLIN };
    CHECK(poll(&pfd, 1, 1000) == 1, "event fd not readable");
    CHECK(xenevtchn_pending(xce) == port, "pending port");
    CHECK_ERR(xenevtchn_pending(xce), EAGAIN);
    CHECK(xenevtchn_unmask(xce, port) == 0, "unmask");
    CHECK(poll(&pfd, 1, 1000) == 1 && xenevtchn_pending(xce) == port,
          "event raised while masked is lost");
    CHECK_ERR(xenevtchn_notify(xce, port + 1), ENOTCONN);
    CHECK(xenevtchn_notify(xce, port) == 0 && s->vcpus[0].notified,
          "notify did not reach vcpu 0");
    CHECK(xenevtchn_unbind(xce, port) == 0, "unbind");
    xenevtchn_close(xce);
    return PASS;
}

static enum result check_xenstore(struct ctx *c)
{
    struct xs_handle *xs = xs_daemon_open();
    unsigned num, len;
    char **w, *val;

    CHECK(xs, "xs_daemon_open");
    CHECK(xs_write(xs, XBT_NULL, "/test/a/b", "hello", 5), "write");
    val = xs_read(xs, XBT_NULL, "/test/a/b", &len);
    CHECK(val && len == 5 && !strcmp(val, "hello"), "read back");
    free(val);
    CHECK(!xs_read(xs, XBT_NULL, "/test/none", &len) && errno == ENOENT,
          "read of a missing node");
    w = xs_directory(xs, XBT_NULL, "/test", &num);
    CHECK(w && num == 1 && !strcmp(w[0], "a"), "directory");
    free(w);
    CHECK(xs_watch(xs, "/test", "tok"), "watch");
    w = xs_read_watch(xs, &num);
    CHECK(w && !strcmp(w[XS_WATCH_PATH], "/test") &&
          !strcmp(w[XS_WATCH_TOKEN], "tok"), "initial watch event");
    free(w);
    CHECK(!xs_check_watch(xs) && errno == EAGAIN, "spurious watch event");
    CHECK(xs_rm(xs, XBT_NULL, "/test/a"), "rm");
    w = xs_read_watch(xs, &num);
    CHECK(w && !strcmp(w[XS_WATCH_PATH], "/test/a"), "rm event");
    free(w);
    CHECK(xs_watch(xs, "@releaseDomain", "rel"), "watch @releaseDomain");
    free(xs_read_watch(xs, &num));
    pthread_mutex_lock(&c->s->lock);
    sim_destroy_domain(c->s, false);
    pthread_mutex_unlock(&c->s->lock);
    w = xs_read_watch(xs, &num);
    CHECK(w && !strcmp(w[XS_WATCH_PATH], "@releaseDomain"),
          "@releaseDomain on destroy");
    free(w);
    xs_close(xs);
    return PASS;
}

static enum result test_libs(struct ctx *c)
{
    xendevicemodel_handle *dm;
    xenforeignmemory_handle *fmem;
    shared_iopage_t *page;
    xc_interface *xc;
    xc_dominfo_t info;
    ioservid_t id;

    if (check_open(c) != PASS) {
        return FAIL;
    }
    xc = xc_interface_open(NULL, NULL, 0);
    dm = xendevicemodel_open(NULL, 0);
    fmem = xenforeignmemory_open(NULL, 0);
    CHECK(xc && dm && fmem, "open handles");
    if (check_dominfo(c, xc) != PASS ||
        check_server(c, dm, fmem, &id, &page) != PASS ||
        check_ranges(c, dm, id) != PASS || check_irqs(c, dm) != PASS ||
        check_foreign(c, fmem) != PASS || check_evtchn(c, page) != PASS ||
        check_xenstore(c) != PASS) {
        return FAIL;
    }
    CHECK(xc_domain_getinfo(xc, c->s->domid, 1, &info) == 0,
          "destroyed domain still listed");
    CHECK_ERR(xendevicemodel_set_irq_level(dm, c->s->domid, 33, 1), ESRCH);
    /* As after -xen-domid-restrict: only domain 7 may be touched. */
    CHECK(xentoolcore_restrict_all(7) == 0, "xentoolcore_restrict_all");
    CHECK_ERR(xendevicemodel_nr_vcpus(dm, 1, &(unsigned){0}), EPERM);
    CHECK_ERR(xc_domain_getinfo(xc, 0, 1, &info), ENOTTY);
    xendevicemodel_close(dm);
    xenforeignmemory_close(fmem);
    xc_interface_close(xc);
    return PASS;
}

const struct test tests_lib[] = {
    { "libs", test_libs, 1 << DM_NONE,
      "stand-in libraries: errno, shared memory, events, vGIC, xenstore" },
    { NULL },
};
