/*
 * Test scenarios: each starts a device model (the real QEMU xenfv
 * machine or xenfv-fakedm) against the simulator and checks what a user
 * would check.
 */
#ifndef XENFV_HARNESS_H
#define XENFV_HARNESS_H

#include "guest.h"

enum result { PASS = 0, FAIL = 1, SKIP = 77 };

enum dm_kind { DM_NONE, DM_FAKE, DM_QEMU };

struct ctx {
    struct sim *s;
    enum dm_kind kind;
    const char *dm_path;
    const char *machine;        /* QEMU's -M: xenfv, or upstream's xenpvh */
    const char *libdir;
    const char *workdir;
    const char *sock;
    const char *bug;            /* passed to xenfv-fakedm --bug */
    const char *preload;        /* a library of libdir to LD_PRELOAD */
    char qmp[256];
    char dm_log[256];
    pid_t pid;
    int status;                 /* wait status once the DM exited */
    bool exited;
    uint64_t seed;              /* fuzz: --seed */
    unsigned long iterations;   /* fuzz, bench: --iterations */
    unsigned long ioreqs;       /* fuzz: --ioreqs, instead of iterations */
    const char *variant;        /* bench: --variant */
};

#define MAX_DM_ARGS 96

/* Start the device model with extra arguments (NULL-terminated). */
int dm_start(struct ctx *c, const char *const *extra);
/* Wait until its ioreq server is enabled and it reported "running". */
int dm_wait_ready(struct ctx *c, int timeout_ms);
/* Has the DM exited within timeout_ms?  Reaps it. */
bool dm_wait_exit(struct ctx *c, int timeout_ms);
void dm_kill(struct ctx *c);
/* Mappings of a file whose name contains name in the DM's address space. */
int dm_count_mappings(struct ctx *c, const char *name);
bool dm_alive(struct ctx *c);

/*
 * The DM must refuse to start: exit quickly with a failure status, print
 * qemu_says (QEMU only), leave no ioreq server behind.
 */
enum result dm_expect_refusal(struct ctx *c, const char *const *extra,
                              const char *why, const char *qemu_says);

struct vdev;
struct vq;
/* A raw disk image of DISK_MIB MiB in the work directory; its fd. */
int make_disk(struct ctx *c, const char *name, char *path, size_t len);
/*
 * Start QEMU with two virtio-blk devices on disk0.img and disk1.img (fd0,
 * fd1), with grant DMA if grants, and find them as d0 and d1.
 */
enum result start_two_blk(struct ctx *c, bool grants, struct vdev *d0,
                          struct vdev *d1, int *fd0, int *fd1);
/* Write patterns through d, read them back, check the image file fd. */
enum result blk_roundtrip(struct ctx *c, struct vdev *d, int fd,
                          unsigned seed);

/* A virtio-blk request: header, data (none if len is 0), status byte. */
struct blk_req {
    uint64_t hdr, data, status;
    uint32_t type, len;
    uint64_t sector;
    int head;
};

/* Header and status in fresh guest memory, data at the given address. */
void blk_prepare(struct sim *s, struct blk_req *r, uint32_t type,
                 uint64_t sector, uint32_t len, uint64_t data);
/* Add r to q as one chain; its head or -1 when q is full. */
int blk_submit(struct vdev *d, struct vq *q, struct blk_req *r);
/* Wait until all n requests on q completed; check status and length. */
enum result blk_complete(struct vdev *d, struct vq *q, struct blk_req *r,
                         int n);
/*
 * A 4 KiB write to sector 16 that must fail: NEEDS_RESET or an error
 * status, QEMU alive, the image untouched.  why: where r's data is.
 */
enum result blk_expect_failure(struct ctx *c, struct vdev *d,
                               struct blk_req *r, int fd, const char *why);

/* A UDP socket on 127.0.0.1; its port in *port. */
int udp_socket(uint16_t *port);
/* virtio-net frames to the host socket hfd, and from it to QEMU's qport */
enum result net_tx(struct ctx *c, struct vdev *d, int hfd);
enum result net_rx(struct ctx *c, struct vdev *d, int hfd, uint16_t qport);
/* virtconsole data through its chardev socket sfd, both ways */
enum result console_to_guest(struct ctx *c, struct vdev *d, int sfd);
enum result console_to_host(struct ctx *c, struct vdev *d, int sfd);

/* QMP: send one command (JSON text) and wait for its "return". */
int qmp_command(struct ctx *c, const char *json, char *reply, size_t len);

void report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define CHECK(cond, ...)                                                    \
    do {                                                                    \
        if (!(cond)) {                                                      \
            report("FAIL %s:%d: %s", __func__, __LINE__, #cond);            \
            report(__VA_ARGS__);                                            \
            return FAIL;                                                    \
        }                                                                   \
    } while (0)

typedef enum result test_fn(struct ctx *c);

struct test {
    const char *name;
    test_fn *fn;
    unsigned dms;               /* bitmask of 1 << enum dm_kind */
    const char *what;
    bool smp;                   /* run-tests runs it with 1 and 4 vcpus */
    unsigned vcpus;             /* the domain's vcpus, if not the default */
    unsigned ram_mib;           /* its RAM, if not the default */
};

#define SMP true

/* The whole text of a file (NUL-terminated, malloc'd) or NULL. */
char *slurp(const char *path);
/* Does the file contain the string?  Reports what it looked for if not. */
bool log_has(const char *path, const char *what);

extern const struct test tests_core[];
extern const struct test tests_virtio[];
extern const struct test tests_scale[];
extern const struct test tests_xenstore[];
extern const struct test tests_fuzz[];
extern const struct test tests_bench[];

#endif
