/*
 * xenfv-sim: one simulated Xen-on-Arm domain, the hypervisor side of the
 * stand-in libraries, and the guest that drives the device model.
 */
#ifndef XENFV_SIM_H
#define XENFV_SIM_H

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <xenctrl.h>
#include <xen/hvm/ioreq.h>
#include "../proto.h"

#define PAGE_SIZE       4096UL
#define MAX_VCPUS       16
#define MAX_SERVERS     8       /* MAX_NR_IOREQ_SERVERS */
#define MAX_RANGES      256     /* MAX_NR_IO_RANGES */
#define MAX_CLIENTS     64
#define MAX_PORTS       256
#define NR_LOCAL_IRQS   32
#define MAX_IRQS        1020

/* Xen's Arm guest memory map (public/arch-arm.h). */
#define RAM0_BASE       0x40000000ULL
#define RAM0_SIZE       0xc0000000ULL
#define RAM1_BASE       0x200000000ULL

struct client {
    int fd;                     /* RPC socket, -1 when the slot is free */
    int kind;
    pid_t pid;
    char comm[64];
    int restrict_domid;         /* -1: unrestricted */
    int evfd;                   /* our end of an evtchn handle's socket */
    int watchfd;                /* our end of a xenstore watch socket */
};

struct range {
    uint64_t start, end;        /* inclusive, like Xen's rangesets */
};

struct ioserver {
    bool used;
    bool enabled;
    int owner;                  /* client that created it */
    int page_fd;
    shared_iopage_t *page;
    uint32_t eport[MAX_VCPUS];  /* guest-side ports (vp_eport) */
    struct range mmio[MAX_RANGES];
    int nr_mmio;
    struct range pio[MAX_RANGES];
    int nr_pio;
};

/* A dom0 (device model side) event channel port. */
struct lport {
    bool used;
    int client;
    uint32_t remote;            /* guest port, 0 once the guest end closed */
    bool masked, pending;
};

/* A guest port allocated for an ioreq server's vcpu. */
struct gport {
    bool used;
    int server, vcpu;
    uint32_t local;             /* bound dom0 port, 0 while unbound */
};

struct vcpu {
    pthread_cond_t cond;
    unsigned notified;
    unsigned ioreqs;            /* answered ioreqs sent from this vcpu */
    bool held;                  /* event held back by the gate */
};

struct spi {
    bool pending, active;
    unsigned injected, merged;
};

/*
 * A grant table entry of the guest (version 1): the page it lets the
 * backend domain map, read-only or not, and how many mappings of it the
 * device model holds.  The guest cannot end a grant that is mapped
 * (gnttab_end_foreign_access_ref() fails; Linux's grant DMA ops then
 * stop using the device).
 */
#define MAX_GRANTS      8192
#define GRANT_FIRST     8       /* GNTTAB_NR_RESERVED_ENTRIES */
#define GRANT_DMA_BIT   (1ULL << 63)

struct grant {
    bool used, ro;
    uint64_t gfn;
    unsigned mapped;
};

enum dom_state { DOM_RUNNING, DOM_DYING, DOM_GONE };

struct xs_store;

struct sim {
    pthread_mutex_t lock;
    pthread_cond_t cond;        /* any state change: irqs, servers, domain */

    /* configuration */
    uint32_t domid;
    unsigned nr_vcpus;
    unsigned nr_spis;
    uint64_t ram_bytes;
    bool vpl011;                /* SPI 32 taken by the emulated PL011 */
    bool no_ioreq;              /* hypervisor built without IOREQ_SERVER */

    /* domain */
    enum dom_state dom;
    bool shutdown;
    unsigned shutdown_reason;
    int ram_fd;
    uint8_t *ram;
    struct xfv_bank banks[XFV_MAX_BANKS];
    int nr_banks;
    uint64_t alloc_next;        /* guest allocator: next free gpa */

    /*
     * Gate: hold back the events of the next gate ioreqs until that many
     * vcpus wait at once, so the device model finds several pending.
     */
    unsigned gate, gated;
    unsigned inflight, max_inflight;    /* ioreqs posted, not answered */
    /*
     * An ioreq whose deadline passes while the device model keeps mapping
     * guest memory is waited for again, up to answer_cap_ms in all (0: no
     * such wait); slowest_ms: the longest answer so far.
     */
    int answer_cap_ms;
    unsigned slowest_ms;
    unsigned mmio, kicks;       /* guest MMIO accesses, QueueNotify writes */
    unsigned rr;                /* round-robin vcpu for unpinned accesses */

    /*
     * Grant DMA (Linux's xen-grant-dma ops): the guest's virtio driver
     * gives devices grant addresses, not guest addresses.  deny_foreign:
     * the device model's domain may not map the guest's memory, as for a
     * driver domain that is not the guest's device model target.
     */
    bool guest_grants, deny_foreign;
    struct grant grants[MAX_GRANTS];
    uint32_t grant_hint;
    unsigned grant_maps, grant_unmaps, grants_busy, grants_mapped;

    /*
     * Frames the guest gave back to Xen (ballooned out): foreign maps of
     * them fail frame by frame, grant maps of them fail.
     */
    struct range ballooned[MAX_RANGES];
    int nr_ballooned;

    /*
     * -xen-domid-restrict: handles restricted, by kind; the guest's
     * ioreqs answered when the last restriction came; calls that
     * restriction refused (another domain's), by op.
     */
    unsigned restricted[XFV_KIND_GNTTAB + 1];
    unsigned ioreqs_unrestricted;
    unsigned refused[XFV_OP_COUNT];

    /* failure injection: the next inject_count calls of inject_op fail */
    int inject_op, inject_errno, inject_count;

    struct client clients[MAX_CLIENTS];
    struct ioserver servers[MAX_SERVERS];
    struct lport lports[MAX_PORTS];
    struct gport gports[MAX_PORTS];
    struct vcpu vcpus[MAX_VCPUS];
    struct spi spis[MAX_IRQS];
    unsigned calls[XFV_OP_COUNT];
    unsigned failed_calls[XFV_OP_COUNT];
    unsigned maps, unmaps, mapped_pages;
    unsigned servers_created, servers_destroyed;
    struct xs_store *xs;

    FILE *log;
    struct timespec t0;
    int listen_fd;
    int wake[2];
    bool quit;
    pthread_t loop_thread;
};

/* sim.c */
int sim_init(struct sim *s, const char *sock_path, const char *log_path);
int sim_start(struct sim *s);
void sim_stop(struct sim *s);
void sim_log(struct sim *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void sim_destroy_domain(struct sim *s, bool leave_dying);
void sim_shutdown_domain(struct sim *s, unsigned reason);
void sim_inject(struct sim *s, int op, int err, int count);
/* Balloon the guest page at gpa out (true) or back in (false). */
void sim_balloon(struct sim *s, uint64_t gpa, bool out);
const char *sim_op_name(int op);
int sim_find_server_for(struct sim *s, uint64_t addr, unsigned size);
void sim_send_event(struct sim *s, uint32_t guest_port);

/* ranges.c */
bool ranges_overlap(const struct range *r, int n, uint64_t s, uint64_t e);
bool ranges_contain(const struct range *r, int n, uint64_t s, uint64_t e);
int ranges_add(struct range *r, int *n, uint64_t s, uint64_t e);
void ranges_remove(struct range *r, int *n, uint64_t s, uint64_t e);

#define XS_DOM0_HOME "/local/domain/0"

/* xs.c: the small xenstore; callers hold s->lock */
struct xs_store *xsd_new(void);
int xsd_read(struct xs_store *x, const char *path, char *buf, size_t *len);
int xsd_write(struct sim *s, const char *path, const void *val, size_t len);
int xsd_mkdir(struct sim *s, const char *path);
int xsd_rm(struct sim *s, const char *path);
int xsd_directory(struct xs_store *x, const char *path, char *buf,
                  size_t *len);
int xsd_set_perms(struct xs_store *x, const char *path, const void *perms,
                  size_t len);
int xsd_watch(struct sim *s, int client, const char *path,
              const char *token, bool relative);
int xsd_unwatch(struct xs_store *x, int client, const char *path,
                const char *token);
bool xsd_watched(struct xs_store *x, const char *path);
void xsd_fire(struct sim *s, const char *path);
void xsd_drop_client(struct xs_store *x, int client);

#endif
