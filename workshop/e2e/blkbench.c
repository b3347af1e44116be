/*
 * blkbench: the block workload of the e2e bench-blk mode (project tooling,
 * not part of the QEMU series). Static arm64 binary; runs in the domU on
 * /dev/vda (virtio-blk served by xenfv) and /dev/xvdb (Xen PV, blkback),
 * and in dom0 to fill and check the image files.
 *
 * The disk holds a pattern: the 64-bit word at byte offset o is
 * o ^ SEED(gen). fill writes generation 1, `write` writes generation 2,
 * so a dropped or misplaced write is caught by verify.
 *
 *   blkbench fill   FILE SIZE            write generation 1 over SIZE bytes
 *   blkbench randread DEV BS SECS|-nN    O_DIRECT random reads, QD1
 *   blkbench read   DEV BS SECS|-nN      O_DIRECT sequential reads, QD1
 *   blkbench write  DEV BS SECS|-nN      O_DIRECT sequential writes of gen 2
 *   blkbench verify DEV EXTENT           gen 2 below EXTENT, gen 1 above
 *
 * Timed modes check one word per 4 KiB against the pattern (cheap), stop
 * after SECS seconds (or N operations), and print
 *   BENCH <mode> <dev> bs=<BS> ops=<N> bytes=<B> secs=<S> iops=<I> mbps=<M>
 *         reqs=<block layer requests completed> extent=<bytes written>
 * Exit status 1 on any I/O error, short transfer or pattern mismatch.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SEED1 0x58454e4656424e31ULL
#define SEED2 0x58454e4656424e32ULL

static const char *prog = "blkbench";

static void die(const char *fmt, const char *a, long long b)
{
    fprintf(stderr, "%s: ", prog);
    fprintf(stderr, fmt, a, b);
    fprintf(stderr, "\n");
    exit(1);
}

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t dev_size(int fd, const char *dev)
{
    struct stat st;
    uint64_t sz;

    if (fstat(fd, &st) < 0) {
        die("fstat %s: errno %lld", dev, errno);
    }
    if (S_ISBLK(st.st_mode)) {
        if (ioctl(fd, BLKGETSIZE64, &sz) < 0) {
            die("BLKGETSIZE64 %s: errno %lld", dev, errno);
        }
        return sz;
    }
    return st.st_size;
}

/* Block layer requests completed (reads + writes) from /sys/block/X/stat. */
static long long dev_reqs(const char *dev)
{
    char path[256];
    unsigned long long v[11] = { 0 };
    FILE *f;
    const char *b = strrchr(dev, '/');

    snprintf(path, sizeof(path), "/sys/block/%s/stat", b ? b + 1 : dev);
    f = fopen(path, "r");
    if (!f) {
        return -1;
    }
    if (fscanf(f, "%llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
               &v[4]) != 5) {
        fclose(f);
        return -1;
    }
    fclose(f);
    return v[0] + v[4];
}

static void pattern(uint64_t *buf, size_t len, uint64_t off, uint64_t seed)
{
    for (size_t i = 0; i < len / 8; i++) {
        buf[i] = (off + i * 8) ^ seed;
    }
}

/*
 * verify (all = 1): every word, generation 2 below extent, 1 above.
 * Timed reads (all = 0): one word per 4 KiB, either generation (the timed
 * write that may precede a read works in whole, aligned blocks).
 */
static void check(const uint64_t *buf, size_t len, uint64_t off,
                  uint64_t extent, const char *dev, int all)
{
    size_t step = all ? 1 : 512;

    for (size_t i = 0; i < len / 8; i += step) {
        uint64_t o = off + i * 8;
        uint64_t want = o ^ (o < extent ? SEED2 : SEED1);

        if (buf[i] != want && (all || buf[i] != (o ^ SEED2))) {
            fprintf(stderr, "%s: %s: pattern mismatch at offset %" PRIu64
                    ": 0x%016" PRIx64 ", expected 0x%016" PRIx64 "\n",
                    prog, dev, o, buf[i], want);
            exit(1);
        }
    }
}

static void xfer(int fd, void *buf, size_t bs, uint64_t off, int wr,
                 const char *dev)
{
    ssize_t n = wr ? pwrite(fd, buf, bs, off) : pread(fd, buf, bs, off);

    if (n != (ssize_t)bs) {
        fprintf(stderr, "%s: %s %s at %" PRIu64 " size %zu: %s\n", prog,
                wr ? "pwrite" : "pread", dev, off, bs,
                n < 0 ? strerror(errno) : "short transfer");
        exit(1);
    }
}

int main(int argc, char **argv)
{
    const char *mode, *dev;
    uint64_t size, off = 0, extent = 0, rng = 0x9e3779b97f4a7c15ULL;
    size_t bs;
    double secs = 0, t0, t;
    long long nmax = -1, ops = 0, r0, r1;
    void *buf;
    int fd, wr;

    if (argc < 4) {
        fprintf(stderr, "usage: see the comment at the top of blkbench.c\n");
        return 2;
    }
    mode = argv[1];
    dev = argv[2];

    if (!strcmp(mode, "fill")) {
        size = strtoull(argv[3], NULL, 0);
        bs = 1 << 20;
        fd = open(dev, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || posix_memalign(&buf, 4096, bs)) {
            die("open %s: errno %lld", dev, errno);
        }
        for (off = 0; off < size; off += bs) {
            pattern(buf, bs, off, SEED1);
            xfer(fd, buf, bs, off, 1, dev);
        }
        if (fsync(fd) < 0 || close(fd) < 0) {
            die("fsync %s: errno %lld", dev, errno);
        }
        return 0;
    }

    if (!strcmp(mode, "verify")) {
        extent = strtoull(argv[3], NULL, 0);
        fd = open(dev, O_RDONLY);
        bs = 1 << 20;
        if (fd < 0 || posix_memalign(&buf, 4096, bs)) {
            die("open %s: errno %lld", dev, errno);
        }
        size = dev_size(fd, dev);
        for (off = 0; off < size; off += bs) {
            xfer(fd, buf, bs, off, 0, dev);
            check(buf, bs, off, extent, dev, 1);
        }
        printf("VERIFY %s ok: %" PRIu64 " bytes, generation 2 below %" PRIu64
               "\n", dev, size, extent);
        return 0;
    }

    if (argc < 5) {
        fprintf(stderr, "usage: blkbench %s DEV BS SECS|-nN\n", mode);
        return 2;
    }
    bs = strtoul(argv[3], NULL, 0);
    if (!strncmp(argv[4], "-n", 2)) {
        nmax = strtoll(argv[4] + 2, NULL, 0);
    } else {
        secs = strtod(argv[4], NULL);
    }
    if (strcmp(mode, "randread") && strcmp(mode, "read") &&
        strcmp(mode, "write")) {
        die("unknown mode %s%lld", mode, 0);
    }
    wr = !strcmp(mode, "write");
    if (bs < 4096 || bs % 4096) {
        die("bs must be a multiple of 4096%s (%lld)", "", (long long)bs);
    }
    fd = open(dev, (wr ? O_RDWR : O_RDONLY) | O_DIRECT);
    if (fd < 0 || posix_memalign(&buf, 4096, bs)) {
        die("open %s O_DIRECT: errno %lld", dev, errno);
    }
    size = dev_size(fd, dev) / bs * bs;
    if (size == 0) {
        die("%s is smaller than bs %lld", dev, (long long)bs);
    }

    r0 = dev_reqs(dev);
    t0 = now();
    for (;;) {
        if (!strcmp(mode, "randread")) {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            off = rng % (size / bs) * bs;
        }
        if (wr) {
            pattern(buf, bs, off, SEED2);
            xfer(fd, buf, bs, off, 1, dev);
            if (off + bs > extent) {
                extent = off + bs;
            }
        } else {
            xfer(fd, buf, bs, off, 0, dev);
            check(buf, bs, off, 0, dev, 0);
        }
        ops++;
        if (strcmp(mode, "randread")) {
            off = (off + bs) % size;
        }
        t = now() - t0;
        if (nmax >= 0 ? ops >= nmax : t >= secs) {
            break;
        }
    }
    if (wr && fdatasync(fd) < 0) {
        die("fdatasync %s: errno %lld", dev, errno);
    }
    t = now() - t0;
    r1 = dev_reqs(dev);
    printf("BENCH %s %s bs=%zu ops=%lld bytes=%lld secs=%.3f iops=%.1f "
           "mbps=%.2f reqs=%lld extent=%" PRIu64 "\n",
           mode, dev, bs, ops, ops * (long long)bs, t, ops / t,
           ops * (double)bs / t / 1e6, r0 >= 0 && r1 >= 0 ? r1 - r0 : -1,
           extent);
    close(fd);
    return 0;
}
