/*
 * Bench mode, run by workshop/harness/bench: numbers, no assertions.
 * Each bench prints "result NAME VALUE" lines on stdout.
 *
 *   bench-ioreq  N register reads through the ioreq path: round trip
 *                median and p99.  With $XENFV_BENCH_CALLGRIND set, the
 *                device model runs under callgrind and the loop's
 *                instructions are counted with callgrind_control.
 *   bench-blk    virtio-blk on an image in tmpfs: 4 KiB random reads,
 *                1 MiB sequential reads and writes; --variant event-idx
 *                or plain (without VIRTIO_RING_F_EVENT_IDX).
 */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_ids.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "harness.h"
#include "virtio.h"

static double now_us(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* callgrind_control on the device model; 0 or -1. */
static int callgrind(struct ctx *c, const char *op)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "callgrind_control %s %d >/dev/null 2>&1",
             op, (int)c->pid);
    return system(cmd) == 0 ? 0 : -1;
}

/* Ir of the newest callgrind dump in the work directory. */
static double callgrind_ir(struct ctx *c)
{
    char pat[400], *text, *p;
    glob_t g;
    double ir = -1;
    time_t newest = 0;
    const char *best = NULL;

    snprintf(pat, sizeof(pat), "%s/callgrind.out.*", c->workdir);
    if (glob(pat, 0, NULL, &g) != 0) {
        return -1;
    }
    for (size_t i = 0; i < g.gl_pathc; i++) {
        struct stat st;

        if (stat(g.gl_pathv[i], &st) == 0 && st.st_mtime >= newest &&
            strchr(strrchr(g.gl_pathv[i], '/'), '.') !=
            strrchr(g.gl_pathv[i], '.')) {
            newest = st.st_mtime;
            best = g.gl_pathv[i];
        }
    }
    text = best ? slurp(best) : NULL;
    p = text ? strstr(text, "\nsummary:") : NULL;
    if (!p && text) {
        p = strstr(text, "\ntotals:");
    }
    if (p) {
        ir = strtod(strchr(p, ':') + 1, NULL);
    }
    free(text);
    globfree(&g);
    return ir;
}

static enum result bench_ioreq(struct ctx *c)
{
    struct sim *s = c->s;
    unsigned long n = c->iterations;
    double *lat = calloc(n, sizeof(double));
    bool cg = getenv("XENFV_BENCH_CALLGRIND") != NULL;
    uint64_t v;

    if (dm_start(c, NULL) < 0 || dm_wait_ready(c, cg ? 300000 : 30000) < 0) {
        return FAIL;
    }
    /* Warm up: page faults, first-use allocations. */
    for (int i = 0; i < 200; i++) {
        guest_mmio(s, i % s->nr_vcpus, VIRTIO_MMIO_BASE + 4, 4, false, &v);
    }
    if (cg && callgrind(c, "--zero") < 0) {
        report("callgrind_control --zero failed");
        return FAIL;
    }
    for (unsigned long i = 0; i < n; i++) {
        double t0 = now_us();

        if (guest_mmio(s, i % s->nr_vcpus, VIRTIO_MMIO_BASE + 4, 4, false,
                       &v) != 0) {
            report("ioreq %lu not answered", i);
            return FAIL;
        }
        lat[i] = now_us() - t0;
    }
    if (cg) {
        if (callgrind(c, "--dump=bench") < 0) {
            report("callgrind_control --dump failed");
            return FAIL;
        }
        printf("result instructions_per_ioreq %.0f\n", callgrind_ir(c) / n);
    }
    qsort(lat, n, sizeof(double), cmp_double);
    printf("result ioreq_median_us %.1f\n", lat[n / 2]);
    printf("result ioreq_p99_us %.1f\n", lat[n * 99 / 100]);
    printf("result ioreqs %lu\n", n);
    free(lat);
    return PASS;
}

/* ---- virtio-blk ---------------------------------------------------------- */

#define IMG_MIB     128
#define SECONDS     2.0

struct io {
    uint64_t hdr, data, status;
    int head;
};

/*
 * Keep depth requests of len bytes in flight for SECONDS; offsets from
 * next_sector().  Returns the number of completed requests.
 */
static long blk_load(struct vdev *d, uint32_t type, uint32_t len,
                     unsigned depth, bool random)
{
    struct sim *s = d->s;
    struct vq *q = &d->vq[0];
    struct io io[VQ_SIZE];
    uint64_t sectors = (uint64_t)IMG_MIB << 11, next = 0;
    unsigned per = len / 512, seed = 12345;
    double end = now_us() + SECONDS * 1e6;
    long done = 0;
    unsigned inflight = 0;
    int slot_of[VQ_SIZE];

    for (unsigned i = 0; i < depth; i++) {
        io[i].hdr = guest_alloc(s, 16, 16);
        io[i].status = guest_alloc(s, 1, 1);
        io[i].data = guest_alloc(s, len, 4096);
        io[i].head = -1;
    }
    for (;;) {
        bool more = now_us() < end;

        for (unsigned i = 0; more && i < depth; i++) {
            struct virtio_blk_outhdr *h = guest_ptr(s, io[i].hdr, 16);
            struct vbuf b[3] = {
                { io[i].hdr, 16 }, { io[i].data, len, type == 0 },
                { io[i].status, 1, true },
            };

            if (io[i].head >= 0) {
                continue;
            }
            if (random) {
                seed = seed * 1103515245 + 12345;
                next = ((uint64_t)seed % (sectors / per)) * per;
            } else if (next + per > sectors) {
                next = 0;
            }
            h->type = type;
            h->sector = next;
            if (!random) {
                next += per;
            }
            io[i].head = vq_add(d, q, b, 3);
            slot_of[io[i].head] = i;
            inflight++;
        }
        vq_kick(d, q);
        if (!inflight) {
            break;
        }
        if (vq_wait(d, q, 10000) < 0) {
            report("virtio-blk: no completion within 10 s");
            return -1;
        }
        for (int head; (head = vq_pop(d, q, NULL)) >= 0;) {
            io[slot_of[head]].head = -1;
            inflight--;
            done++;
        }
    }
    return done;
}

static enum result bench_blk(struct ctx *c)
{
    struct sim *s = c->s;
    bool event_idx = !c->variant || strcmp(c->variant, "plain");
    char img[200], drive[300];
    const char *args[] = {
        "-drive", drive, "-device", "virtio-blk-device,drive=d0", NULL,
    };
    struct vdev d;
    long n, total = 0;
    double t0;
    int fd;

    /* tmpfs: the numbers are the ioreq/virtio path's, not a disk's. */
    snprintf(img, sizeof(img), "/dev/shm/xenfv-bench-%d.img", (int)getpid());
    fd = open(img, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || ftruncate(fd, (off_t)IMG_MIB << 20) < 0) {
        report("cannot create %s: %s", img, strerror(errno));
        return FAIL;
    }
    /* Allocate the blocks, so that reads are not of holes. */
    if (posix_fallocate(fd, 0, (off_t)IMG_MIB << 20) != 0) {
        report("cannot allocate %s", img);
    }
    close(fd);
    snprintf(drive, sizeof(drive), "file=%s,if=none,format=raw,id=d0,"
             "cache=writeback,aio=threads", img);
    if (dm_start(c, args) < 0 || dm_wait_ready(c, 30000) < 0) {
        unlink(img);
        return FAIL;
    }
    if (vdev_find(s, VIRTIO_ID_BLOCK, 0, &d) < 0 ||
        vdev_init(&d, event_idx ? 1ULL << VIRTIO_RING_F_EVENT_IDX : 0,
                  1) < 0) {
        unlink(img);
        return FAIL;
    }
    t0 = now_us();
    n = blk_load(&d, VIRTIO_BLK_T_IN, 4096, 32, true);
    printf("result randread_4k_iops %.0f\n", n / ((now_us() - t0) / 1e6));
    total += n;
    t0 = now_us();
    n = blk_load(&d, VIRTIO_BLK_T_IN, 1 << 20, 4, false);
    printf("result seqread_1m_mbs %.0f\n",
           n * 1.048576 / ((now_us() - t0) / 1e6));
    total += n;
    t0 = now_us();
    n = blk_load(&d, VIRTIO_BLK_T_OUT, 1 << 20, 4, false);
    printf("result seqwrite_1m_mbs %.0f\n",
           n * 1.048576 / ((now_us() - t0) / 1e6));
    total += n;
    printf("result requests %ld\n", total);
    unlink(img);
    return n < 0 ? FAIL : PASS;
}

const struct test tests_bench[] = {
    { "bench-ioreq", bench_ioreq, 1 << DM_FAKE | 1 << DM_QEMU,
      "ioreq round trip: median, p99 (instructions under callgrind)" },
    { "bench-blk", bench_blk, 1 << DM_QEMU,
      "virtio-blk 4 KiB random read, 1 MiB sequential read and write" },
    { NULL },
};
