/*
 * Configuration from Xenstore: the simulator plays libxl, writing the
 * backend nodes of Xen 4.17 virtio disks (backend/virtio_disk) and of the
 * generic virtio devices of later releases (backend/virtio), and checks
 * where QEMU puts each device, the XenbusState handshake, teardown, and
 * that every inconsistent configuration is refused with a clear error.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_mmio.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "harness.h"
#include "virtio.h"

#define BACKEND XS_DOM0_HOME "/backend"

/* One device as libxl describes it. */
struct xs_dev {
    bool disk;                  /* backend/virtio_disk, else backend/virtio */
    unsigned devid;
    uint64_t base;
    unsigned irq;
    const char *type;           /* generic: "virtio,device<ID>" */
    const char *transport;      /* generic: default "mmio" */
    const char *params;         /* disk */
    const char *mode;           /* disk: default "w" */
    const char *vdev;           /* disk: default "xvda" */
    const char *grant_usage;    /* generic: default "0" */
};

static uint64_t slot_base(int slot)
{
    return VIRTIO_MMIO_BASE + slot * VIRTIO_MMIO_SLOT;
}

static void dev_path(struct ctx *c, const struct xs_dev *d, char *buf,
                     size_t len)
{
    snprintf(buf, len, BACKEND "/%s/%u/%u", d->disk ? "virtio_disk" : "virtio",
             c->s->domid, d->devid);
}

static void put(struct sim *s, const char *dir, const char *key,
                const char *val)
{
    char path[256];

    snprintf(path, sizeof(path), "%s/%s", dir, key);
    xsd_write(s, path, val, strlen(val));
}

/* The keys libxl 4.17 (disks) and 4.18+ (generic devices) write */
static void xs_add(struct ctx *c, const struct xs_dev *d)
{
    struct sim *s = c->s;
    char dir[200], num[32];

    dev_path(c, d, dir, sizeof(dir));
    pthread_mutex_lock(&s->lock);
    snprintf(num, sizeof(num), "%u", s->domid);
    put(s, dir, "frontend-id", num);
    put(s, dir, "online", "1");
    put(s, dir, "state", "1");
    snprintf(num, sizeof(num), "%u", d->irq);
    put(s, dir, "irq", num);
    if (d->disk) {
        /* 4.17 writes base in decimal */
        snprintf(num, sizeof(num), "%llu", (unsigned long long)d->base);
        put(s, dir, "base", num);
        put(s, dir, "params", d->params);
        put(s, dir, "mode", d->mode ? d->mode : "w");
        put(s, dir, "type", "standalone");
        put(s, dir, "specification", "virtio");
        put(s, dir, "transport", "mmio");
        put(s, dir, "dev", d->vdev ? d->vdev : "xvda");
        put(s, dir, "device-type", "disk");
    } else {
        snprintf(num, sizeof(num), "%#llx", (unsigned long long)d->base);
        put(s, dir, "base", num);
        put(s, dir, "type", d->type);
        put(s, dir, "transport", d->transport ? d->transport : "mmio");
        put(s, dir, "grant_usage", d->grant_usage ? d->grant_usage : "0");
    }
    pthread_mutex_unlock(&s->lock);
}

static void xs_remove_all(struct ctx *c)
{
    char path[200];

    pthread_mutex_lock(&c->s->lock);
    snprintf(path, sizeof(path), BACKEND "/virtio_disk/%u", c->s->domid);
    xsd_rm(c->s, path);
    snprintf(path, sizeof(path), BACKEND "/virtio/%u", c->s->domid);
    xsd_rm(c->s, path);
    pthread_mutex_unlock(&c->s->lock);
}

static bool read_state(struct ctx *c, const struct xs_dev *d, char *val,
                       size_t size)
{
    char path[256];
    size_t len = size - 1;
    int rc;

    dev_path(c, d, path, sizeof(path));
    strncat(path, "/state", sizeof(path) - strlen(path) - 1);
    pthread_mutex_lock(&c->s->lock);
    rc = xsd_read(c->s->xs, path, val, &len);
    pthread_mutex_unlock(&c->s->lock);
    val[rc ? 0 : len] = '\0';
    return !rc;
}

/* Poll the backend state as libxl's devstate wait does (10 s there). */
static bool wait_state(struct ctx *c, const struct xs_dev *d,
                       const char *want, int timeout_ms)
{
    char val[16];

    for (int waited = 0; waited <= timeout_ms; waited += 10) {
        if (read_state(c, d, val, sizeof(val)) && !strcmp(val, want)) {
            return true;
        }
        usleep(10000);
    }
    return false;
}

static void set_state(struct ctx *c, const struct xs_dev *d, const char *v)
{
    char dir[200];

    dev_path(c, d, dir, sizeof(dir));
    pthread_mutex_lock(&c->s->lock);
    put(c->s, dir, "state", v);
    pthread_mutex_unlock(&c->s->lock);
}

static uint32_t slot_device_id(struct ctx *c, int slot)
{
    return guest_read32(c->s, guest_vcpu(c->s),
                        slot_base(slot) + VIRTIO_MMIO_DEVICE_ID);
}

/*
 * Two 4.17 virtio disks and no -device at all, as a launcher on stock xl
 * starts QEMU: each disk at its slot with its backing and mode, InitWait
 * once served, data on disk at Closing, exit when libxl removes them.
 */
static enum result test_xs_disks(struct ctx *c)
{
    char img[2][300], val[16];
    int fd[2];
    struct xs_dev disk[2] = {
        { .disk = true, .devid = 51712, .base = slot_base(0), .irq = 33,
          .params = img[0] },
        { .disk = true, .devid = 51728, .base = slot_base(1), .irq = 34,
          .params = img[1], .mode = "r", .vdev = "xvdb" },
    };
    struct vdev d;

    fd[0] = make_disk(c, "disk0.img", img[0], sizeof(img[0]));
    fd[1] = make_disk(c, "disk1.img", img[1], sizeof(img[1]));
    CHECK(fd[0] >= 0 && fd[1] >= 0, "disk images");
    xs_add(c, &disk[0]);
    xs_add(c, &disk[1]);
    if (dm_start(c, NULL) < 0 || dm_wait_ready(c, 15000) < 0) {
        return FAIL;
    }
    for (int i = 0; i < 2; i++) {
        CHECK(wait_state(c, &disk[i], "2", 5000),
              "disk %d: backend state not InitWait (2) after start", i);
    }
    CHECK(slot_device_id(c, 0) == VIRTIO_ID_BLOCK &&
          slot_device_id(c, 1) == VIRTIO_ID_BLOCK &&
          slot_device_id(c, 2) == 0,
          "slots 0-2 hold devices %u %u %u, want disk disk none",
          slot_device_id(c, 0), slot_device_id(c, 1), slot_device_id(c, 2));

    CHECK(vdev_find(c->s, VIRTIO_ID_BLOCK, 0, &d) == 0, "disk 0");
    CHECK(vdev_init(&d, 1ULL << VIRTIO_BLK_F_RO | 1ULL << VIRTIO_BLK_F_FLUSH,
                    1) == 0, "disk 0 initialisation");
    CHECK(!(d.features & 1ULL << VIRTIO_BLK_F_RO), "mode w disk read-only");
    if (blk_roundtrip(c, &d, fd[0], 3) != PASS) {
        return FAIL;
    }
    CHECK(vdev_find(c->s, VIRTIO_ID_BLOCK, 1, &d) == 1, "disk 1");
    CHECK(vdev_init(&d, 1ULL << VIRTIO_BLK_F_RO, 1) == 0,
          "disk 1 initialisation");
    CHECK(d.features & 1ULL << VIRTIO_BLK_F_RO,
          "mode r disk not offered read-only");

    /* xl destroy: Closing on each, Closed back, then the nodes go. */
    for (int i = 0; i < 2; i++) {
        set_state(c, &disk[i], "5");
        CHECK(wait_state(c, &disk[i], "6", 5000),
              "disk %d: Closing (5) not answered with Closed (6)", i);
    }
    CHECK(dm_alive(c), "QEMU quit before its devices were removed");
    xs_remove_all(c);
    CHECK(dm_wait_exit(c, 2000), "QEMU still runs 2 s after libxl "
          "removed its devices");
    CHECK(WIFEXITED(c->status) && WEXITSTATUS(c->status) == 0,
          "QEMU exited with status 0x%x", c->status);
    CHECK(!read_state(c, &disk[0], val, sizeof(val)),
          "QEMU wrote the state of a removed device back");
    close(fd[0]);
    close(fd[1]);
    return PASS;
}

/*
 * xl destroy while QEMU is still starting: libxl writes Closing before
 * the device model announced InitWait.  Closing gets its Closed, and
 * announcing must not overwrite it (libxl would wait out its 10 s).
 */
static enum result test_xs_closing_at_start(struct ctx *c)
{
    char img[2][300], val[16], reply[4096];
    const char *args[] = { "-S", NULL };
    struct xs_dev disk[2] = {
        { .disk = true, .devid = 51712, .base = slot_base(0), .irq = 33,
          .params = img[0] },
        { .disk = true, .devid = 51728, .base = slot_base(1), .irq = 34,
          .params = img[1], .vdev = "xvdb" },
    };
    int fd[2];

    fd[0] = make_disk(c, "disk0.img", img[0], sizeof(img[0]));
    fd[1] = make_disk(c, "disk1.img", img[1], sizeof(img[1]));
    CHECK(fd[0] >= 0 && fd[1] >= 0, "disk images");
    xs_add(c, &disk[0]);
    xs_add(c, &disk[1]);
    CHECK(dm_start(c, args) == 0, "QEMU start");
    /* Its monitor answers once the machine is built (and stopped). */
    for (int waited = 0; access(c->qmp, F_OK); waited += 10) {
        CHECK(waited < 15000 && dm_alive(c), "no QMP socket from QEMU");
        usleep(10000);
    }
    CHECK(qmp_command(c, "{\"execute\": \"query-status\"}", reply,
                      sizeof(reply)) == 0 && strstr(reply, "prelaunch"),
          "QEMU not stopped at start: %s", reply);
    set_state(c, &disk[0], "5");
    CHECK(wait_state(c, &disk[0], "6", 5000),
          "Closing written before the guest ran: no Closed (6)");
    CHECK(qmp_command(c, "{\"execute\": \"cont\"}", reply,
                      sizeof(reply)) == 0, "cont");
    CHECK(dm_wait_ready(c, 15000) == 0, "QEMU not running after cont");
    CHECK(wait_state(c, &disk[1], "2", 5000),
          "the other disk: no InitWait (2) once the guest runs");
    CHECK(read_state(c, &disk[0], val, sizeof(val)) && !strcmp(val, "6"),
          "state of the closed disk is '%s' after the guest started, "
          "want 6: InitWait overwrote it", val);
    close(fd[0]);
    close(fd[1]);
    return PASS;
}

/*
 * What xl 4.18+ writes for a guest with a disk, a network device, a
 * console, a GPU and an entropy source: every device where the device
 * tree says, backends from -nic and -serial.
 */
static enum result test_xs_devices(struct ctx *c)
{
    char img[300];
    const char *args[] = { "-nic", "socket,udp=127.0.0.1:9,localaddr=127.0.0.1:0",
                           "-serial", "null", NULL };
    struct xs_dev devs[] = {
        { .disk = true, .devid = 51712, .base = slot_base(0), .irq = 33,
          .params = img },
        { .devid = 0, .base = slot_base(1), .irq = 34,
          .type = "virtio,device1" },
        { .devid = 1, .base = slot_base(2), .irq = 35,
          .type = "virtio,device3" },
        { .devid = 2, .base = slot_base(3), .irq = 36,
          .type = "virtio,device10" },
        { .devid = 3, .base = slot_base(4), .irq = 37,
          .type = "virtio,device4" },
    };
    const uint32_t want[] = { VIRTIO_ID_BLOCK, VIRTIO_ID_NET,
                              VIRTIO_ID_CONSOLE, VIRTIO_ID_GPU,
                              VIRTIO_ID_RNG, 0 };
    int fd = make_disk(c, "disk0.img", img, sizeof(img));

    CHECK(fd >= 0, "disk image");
    for (size_t i = 0; i < sizeof(devs) / sizeof(devs[0]); i++) {
        xs_add(c, &devs[i]);
    }
    if (dm_start(c, args) < 0 || dm_wait_ready(c, 15000) < 0) {
        return FAIL;
    }
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        CHECK(slot_device_id(c, i) == want[i], "slot %zu holds virtio "
              "device %u, want %u", i, slot_device_id(c, i), want[i]);
    }
    for (size_t i = 0; i < sizeof(devs) / sizeof(devs[0]); i++) {
        CHECK(wait_state(c, &devs[i], "2", 5000),
              "device %zu: backend state not InitWait (2)", i);
    }
    close(fd);
    return dm_alive(c) ? PASS : FAIL;
}

/*
 * The command line completes what Xenstore declares: -device options fill
 * the declared devices that xenfv does not create (a 4.18 virtio,device2
 * without backing, an input device), in order, and a -drive named after
 * a 4.17 disk replaces the backing in params.
 */
static enum result test_xs_cmdline(struct ctx *c)
{
    char img[2][300], drive[2][400];
    const char *args[] = { "-drive", drive[0], "-drive", drive[1],
                           "-device", "virtio-blk-device,drive=d0",
                           "-device", "virtio-keyboard-device", NULL };
    struct xs_dev devs[] = {
        /* 4.18: a virtio,device2 entry carries no backing */
        { .devid = 0, .base = slot_base(0), .irq = 33,
          .type = "virtio,device2" },
        { .devid = 1, .base = slot_base(1), .irq = 34,
          .type = "virtio,device4" },
        { .devid = 2, .base = slot_base(2), .irq = 35,
          .type = "virtio,device12" },
        { .disk = true, .devid = 51744, .base = slot_base(3), .irq = 36,
          .params = "/nonexistent/xvdc.img", .vdev = "xvdc" },
    };
    const uint32_t want[] = { VIRTIO_ID_BLOCK, VIRTIO_ID_RNG,
                              VIRTIO_ID_INPUT, VIRTIO_ID_BLOCK, 0 };
    int fd[2];
    struct vdev d;

    fd[0] = make_disk(c, "disk0.img", img[0], sizeof(img[0]));
    fd[1] = make_disk(c, "xvdc.img", img[1], sizeof(img[1]));
    CHECK(fd[0] >= 0 && fd[1] >= 0, "disk images");
    snprintf(drive[0], sizeof(drive[0]), "file=%s,if=none,format=raw,id=d0",
             img[0]);
    snprintf(drive[1], sizeof(drive[1]),
             "file=%s,if=none,format=raw,id=xvdc", img[1]);
    for (size_t i = 0; i < sizeof(devs) / sizeof(devs[0]); i++) {
        xs_add(c, &devs[i]);
    }
    if (dm_start(c, args) < 0 || dm_wait_ready(c, 15000) < 0) {
        return FAIL;
    }
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        CHECK(slot_device_id(c, i) == want[i], "slot %zu holds virtio "
              "device %u, want %u", i, slot_device_id(c, i), want[i]);
    }
    for (int i = 0; i < 2; i++) {
        CHECK(vdev_find(c->s, VIRTIO_ID_BLOCK, i, &d) == (i ? 3 : 0),
              "disk %d", i);
        CHECK(vdev_init(&d, 1ULL << VIRTIO_BLK_F_FLUSH, 1) == 0,
              "disk %d initialisation", i);
        if (blk_roundtrip(c, &d, fd[i], 5 + i) != PASS) {
            return FAIL;
        }
        close(fd[i]);
    }
    return dm_alive(c) ? PASS : FAIL;
}

/*
 * -xen-domid-restrict (a device model confined to its guest, as xl devd
 * starts one in a driver domain) loses Xenstore before the guest runs:
 * InitWait must be written before that, and the disk must work.  The
 * restriction must have taken effect: every handle QEMU opened was
 * restricted to the guest before the guest's first ioreq was answered;
 * its device model, foreign memory and event channel handles then refuse
 * the next domain (libxfv-restrict-probe asks them, once each); its
 * Xenstore is cut, so Closing goes unanswered.
 */
static enum result test_xs_restrict(struct ctx *c)
{
    static const struct {
        int kind;
        const char *name;
    } kinds[] = {
        { XFV_KIND_CTRL, "xenctrl" }, { XFV_KIND_FMEM, "xenforeignmemory" },
        { XFV_KIND_DMOD, "xendevicemodel" }, { XFV_KIND_EVTCHN, "xenevtchn" },
        { XFV_KIND_XS, "xenstore" }, { XFV_KIND_GNTTAB, "xengnttab" },
    };
    static const struct {
        int op;
        const char *what;
    } probes[] = {
        { XFV_OP_DM_SET_IRQ_LEVEL, "an SPI of" },
        { XFV_OP_FMEM_MAP, "a foreign mapping of" },
        { XFV_OP_EVTCHN_BIND, "an event channel to" },
    };
    struct sim *s = c->s;
    char img[300], val[16];
    const char *args[] = { "-xen-domid-restrict", NULL };
    struct xs_dev disk = { .disk = true, .devid = 51712,
                           .base = slot_base(0), .irq = 33, .params = img };
    int fd = make_disk(c, "disk0.img", img, sizeof(img));
    struct vdev d;
    int loose = 0;

    CHECK(fd >= 0, "disk image");
    xs_add(c, &disk);
    c->preload = "libxfv-restrict-probe.so";
    CHECK(dm_start(c, args) == 0, "cannot start QEMU");
    CHECK(wait_state(c, &disk, "2", 15000),
          "restricted QEMU did not write InitWait (2) before it lost "
          "Xenstore");
    CHECK(vdev_find(c->s, VIRTIO_ID_BLOCK, 0, &d) == 0, "disk");
    CHECK(vdev_init(&d, 1ULL << VIRTIO_BLK_F_FLUSH, 1) == 0, "disk init");
    if (blk_roundtrip(c, &d, fd, 7) != PASS) {
        return FAIL;
    }

    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        CHECK(s->restricted[kinds[i].kind] > 0, "QEMU restricted no %s "
              "handle", kinds[i].name);
    }
    /* Handles still open: none may have escaped (opened after, say) */
    pthread_mutex_lock(&s->lock);
    for (int i = 0; i < MAX_CLIENTS && !loose; i++) {
        const struct client *cl = &s->clients[i];

        if (cl->fd >= 0 && cl->pid == c->pid &&
            cl->restrict_domid != (int)s->domid) {
            loose = cl->kind;
        }
    }
    pthread_mutex_unlock(&s->lock);
    CHECK(!loose, "QEMU holds a handle of kind %d (proto.h) that is not "
          "restricted to domain %u", loose, s->domid);
    CHECK(s->ioreqs_unrestricted == 0, "%u of the guest's ioreqs were "
          "answered before QEMU had restricted its handles",
          s->ioreqs_unrestricted);
    for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
        CHECK(s->refused[probes[i].op] > 0, "QEMU's handle got %s domain "
              "%u, or was never asked for it (%s: %u calls, %u failed)",
              probes[i].what, s->domid + 1, sim_op_name(probes[i].op),
              s->calls[probes[i].op], s->failed_calls[probes[i].op]);
    }

    /* libxl's Closing: an unrestricted QEMU would answer Closed at once */
    set_state(c, &disk, "5");
    usleep(500000);
    CHECK(read_state(c, &disk, val, sizeof(val)) && !strcmp(val, "5"),
          "restricted QEMU changed the backend state to %s: its Xenstore "
          "connection was not cut", val);
    kill(c->pid, SIGTERM);
    CHECK(dm_wait_exit(c, 3000), "still running 3 s after SIGTERM");
    CHECK(WIFEXITED(c->status) && WEXITSTATUS(c->status) == 0,
          "SIGTERM: exit status 0x%x", c->status);
    close(fd);
    return PASS;
}

struct refusal {
    const char *what;
    struct xs_dev devs[2];
    const char *args[8];
    const char *says;
};

/* Each inconsistency between Xenstore and the command line, refused. */
static enum result test_xs_refusals(struct ctx *c)
{
    char img[300], img2[300], drive[400], log[300];
    char *said;
    int fd = make_disk(c, "disk0.img", img, sizeof(img));
    int fd2 = make_disk(c, "disk1.img", img2, sizeof(img2));
    const struct refusal cases[] = {
        { "a base outside the virtio-mmio window",
          { { .disk = true, .devid = 1, .base = 0x3000000, .irq = 33,
              .params = img } }, { NULL },
          "is not a virtio-mmio transport of Xen's guest layout" },
        { "a base between two transports",
          { { .disk = true, .devid = 1, .base = slot_base(1) + 0x100,
              .irq = 34, .params = img } }, { NULL },
          "is not a virtio-mmio transport" },
        { "an SPI other than the transport's",
          { { .disk = true, .devid = 1, .base = slot_base(0), .irq = 40,
              .params = img } }, { NULL },
          "has SPI 40, but that transport raises SPI 33" },
        { "two devices at one base",
          { { .disk = true, .devid = 1, .base = slot_base(0), .irq = 33,
              .params = img },
            { .devid = 0, .base = slot_base(0), .irq = 33,
              .type = "virtio,device4" } }, { NULL },
          "are both at 0x2000000" },
        { "a -device of the wrong type",
          { { .devid = 0, .base = slot_base(0), .irq = 33,
              .type = "virtio,device2" } },
          { "-device", "virtio-rng-device", NULL },
          "virtio-rng is virtio device 4, but domain 1 has a disk" },
        { "a -device beyond the declared devices",
          { { .disk = true, .devid = 1, .base = slot_base(0), .irq = 33,
              .params = img } },
          { "-drive", drive, "-device", "virtio-blk-device,drive=d0", NULL },
          "virtio-blk is not one of domain 1's virtio devices" },
        { "a network device without -nic",
          { { .devid = 0, .base = slot_base(0), .irq = 33,
              .type = "virtio,device1" } }, { NULL },
          "no -nic left for this network device" },
        { "a console without -serial",
          { { .devid = 0, .base = slot_base(0), .irq = 33,
              .type = "virtio,device3" } }, { NULL },
          "no -serial left for this console" },
        { "a generic disk without a drive",
          { { .devid = 0, .base = slot_base(0), .irq = 33,
              .type = "virtio,device2" } }, { NULL },
          "has a disk (virtio,device2, backend/virtio/1/0) there, but no "
          "-device gives it" },
        { "a device type xenfv does not create, without -device",
          { { .devid = 0, .base = slot_base(0), .irq = 33,
              .type = "virtio,device12" } }, { NULL },
          "has an input device (virtio,device12, backend/virtio/1/0) there" },
        { "a type without a device ID",
          { { .devid = 0, .base = slot_base(0), .irq = 33,
              .type = "virtio,device" } }, { NULL },
          "is 'virtio,device', not virtio,device<ID>" },
        { "a device ID in decimal digits beyond hex",
          { { .devid = 0, .base = slot_base(0), .irq = 33,
              .type = "virtio,device1A" } }, { NULL },
          "is 'virtio,device1A', not virtio,device<ID>" },
        { "a transport other than mmio",
          { { .devid = 0, .base = slot_base(0), .irq = 33,
              .type = "virtio,device4", .transport = "pci" } }, { NULL },
          "transport is 'pci': only mmio is served" },
        { "a disk mode other than r or w",
          { { .disk = true, .devid = 1, .base = slot_base(0), .irq = 33,
              .params = img, .mode = "x" } }, { NULL },
          "mode is 'x', not 'r' or 'w'" },
        { "a disk whose backing does not exist",
          { { .disk = true, .devid = 1, .base = slot_base(0), .irq = 33,
              .params = "/nonexistent/xenfv.img" } }, { NULL },
          "/nonexistent/xenfv.img" },
    };

    CHECK(fd >= 0 && fd2 >= 0, "disk images");
    close(fd);
    close(fd2);
    snprintf(drive, sizeof(drive), "file=%s,if=none,format=raw,id=d0", img2);
    snprintf(log, sizeof(log), "%s/dm.log", c->workdir);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct refusal *r = &cases[i];

        xs_remove_all(c);
        for (int j = 0; j < 2 && r->devs[j].irq; j++) {
            xs_add(c, &r->devs[j]);
        }
        unlink(log);
        report("case: %s", r->what);
        if (dm_expect_refusal(c, r->args, r->what, r->says) != PASS) {
            return FAIL;
        }
        said = slurp(log);
        report("  QEMU: %s", said ? said : "(nothing)");
        free(said);
    }
    return PASS;
}

/*
 * QEMU runs in driver domain 7 and serves disk for a guest that gives its
 * devices grants and whose memory domain 7 may not map.
 */
static void as_driver_domain(struct ctx *c, struct xs_dev *disk)
{
    struct sim *s = c->s;

    pthread_mutex_lock(&s->lock);
    put(s, XS_DOM0_HOME, "domid", "7");
    pthread_mutex_unlock(&s->lock);
    s->guest_grants = true;
    s->deny_foreign = true;
    xs_add(c, disk);
}

/*
 * gntdev maps a grant per page of the driver domain's kernel: with 64 KiB
 * pages, consecutive grants are not contiguous in QEMU's memory, and
 * QEMU must refuse a guest that gives grants rather than corrupt its I/O.
 */
static enum result test_grants_64k_pages(struct ctx *c)
{
    char img[300];
    struct xs_dev disk = { .disk = true, .devid = 51712,
                           .base = slot_base(0), .irq = 33, .params = img };
    int fd = make_disk(c, "disk0.img", img, sizeof(img));

    CHECK(fd >= 0, "disk image");
    as_driver_domain(c, &disk);
    c->preload = "libxfv-pagesize64k.so";
    return dm_expect_refusal(c, NULL, "grant DMA with 64 KiB pages",
                             "grant DMA needs a kernel with 4 KiB pages");
}

/*
 * -xen-domid-restrict replaces libxengnttab's file descriptor by /dev/null,
 * so a restricted QEMU cannot map grants.  It says so when it starts, and
 * a request that gives grants fails (or the device wants a reset) while
 * QEMU keeps serving.
 */
static enum result test_grants_restrict(struct ctx *c)
{
    struct sim *s = c->s;
    char img[300];
    const char *args[] = { "-xen-domid-restrict", NULL };
    struct xs_dev disk = { .disk = true, .devid = 51712,
                           .base = slot_base(0), .irq = 33, .params = img };
    int fd = make_disk(c, "disk0.img", img, sizeof(img));
    struct blk_req r;
    struct vbuf b[3];
    struct vdev d;
    uint32_t status = 0;
    bool done = false;

    CHECK(fd >= 0, "disk image");
    as_driver_domain(c, &disk);
    if (dm_start(c, args) < 0 || dm_wait_ready(c, 15000) < 0) {
        return FAIL;
    }
    CHECK(log_has(c->dm_log, "-xen-domid-restrict closes the grant device"),
          "no warning that grants cannot be mapped under restriction");
    CHECK(vdev_find(s, VIRTIO_ID_BLOCK, 0, &d) == 0, "disk");
    CHECK(vdev_init(&d, 1ULL << VIRTIO_BLK_F_FLUSH, 1) == 0, "disk init");
    blk_prepare(s, &r, VIRTIO_BLK_T_IN, 0, 4096, 0);
    b[0] = (struct vbuf) { r.hdr, 16 };
    b[1] = (struct vbuf) { r.data, 4096, true };
    b[2] = (struct vbuf) { r.status, 1, true };
    r.head = vq_add(&d, &d.vq[0], b, 3);
    CHECK(r.head >= 0, "queue full");
    vq_kick(&d, &d.vq[0]);
    for (int i = 0; i < 200 && !done; i++) {
        done = vq_pop(&d, &d.vq[0], NULL) >= 0;
        status = vdev_status(&d);
        if (status & VIRTIO_CONFIG_S_NEEDS_RESET) {
            break;
        }
        usleep(10000);
    }
    CHECK(dm_alive(c), "QEMU died on a grant it could not map");
    CHECK((status & VIRTIO_CONFIG_S_NEEDS_RESET) ||
          (done && *(uint8_t *)guest_ptr(s, r.status, 1) != 0),
          "a request with grants neither failed nor flagged NEEDS_RESET "
          "(device status 0x%x)", status);
    close(fd);
    return PASS;
}

/*
 * Devices whose guest uses grant DMA.  A granted device on -device must
 * offer VIRTIO_F_ACCESS_PLATFORM (iommu_platform=on): Linux refuses it
 * otherwise.  A 4.17 disk whose backend is a driver domain (here: the
 * simulator's Xenstore says QEMU's domain is 7) is created with it, and
 * the guest's grants carry its data with no foreign mapping at all.
 */
static enum result test_xs_grants(struct ctx *c)
{
    struct sim *s = c->s;
    char img[300], drive[400];
    const char *refused[] = { "-drive", drive, "-device",
                              "virtio-blk-device,drive=d0", NULL };
    struct xs_dev generic = { .devid = 0, .base = slot_base(0), .irq = 33,
                              .type = "virtio,device2",
                              .grant_usage = "1" };
    struct xs_dev disk = { .disk = true, .devid = 51712,
                           .base = slot_base(0), .irq = 33, .params = img };
    int fd = make_disk(c, "disk0.img", img, sizeof(img));
    struct vdev d;

    CHECK(fd >= 0, "disk image");
    snprintf(drive, sizeof(drive), "file=%s,if=none,format=raw,id=d0", img);
    xs_add(c, &generic);
    if (dm_expect_refusal(c, refused, "a granted disk without "
                          "iommu_platform=on", "lacks iommu_platform=on")
        != PASS) {
        return FAIL;
    }
    xs_remove_all(c);

    as_driver_domain(c, &disk);
    if (dm_start(c, NULL) < 0 || dm_wait_ready(c, 15000) < 0) {
        return FAIL;
    }
    CHECK(wait_state(c, &disk, "2", 5000), "backend state not InitWait");
    CHECK(vdev_find(s, VIRTIO_ID_BLOCK, 0, &d) == 0, "disk");
    CHECK(vdev_init(&d, 1ULL << VIRTIO_BLK_F_FLUSH, 1) == 0,
          "the driver domain's disk refused grant DMA");
    if (blk_roundtrip(c, &d, fd, 9) != PASS) {
        return FAIL;
    }
    CHECK(s->grants_busy == 0 && s->calls[XFV_OP_FMEM_MAP] == 0,
          "%u grants still mapped when ended, %u foreign maps",
          s->grants_busy, s->calls[XFV_OP_FMEM_MAP]);
    set_state(c, &disk, "5");
    CHECK(wait_state(c, &disk, "6", 5000), "Closing not answered");
    close(fd);
    return dm_alive(c) ? PASS : FAIL;
}

const struct test tests_xenstore[] = {
    { "xs-disks", test_xs_disks, 1 << DM_QEMU,
      "4.17 virtio disks from Xenstore: placement, mode, InitWait, "
      "Closing/Closed, exit on removal" },
    { "xs-devices", test_xs_devices, 1 << DM_QEMU,
      "4.18 virtio devices (net, console, gpu, rng) placed from Xenstore" },
    { "xs-cmdline", test_xs_cmdline, 1 << DM_QEMU,
      "-device fills what xenfv does not create; -drive id=<vdev> "
      "replaces a disk's backing" },
    { "xs-grants", test_xs_grants, 1 << DM_QEMU,
      "grant DMA from Xenstore: a 4.17 disk of a driver domain served "
      "through grants only; -device without iommu_platform refused" },
    { "grants-64k-pages", test_grants_64k_pages, 1 << DM_QEMU,
      "grant DMA refused clearly under a kernel with 64 KiB pages" },
    { "grants-restrict", test_grants_restrict, 1 << DM_QEMU,
      "under -xen-domid-restrict: a warning, grant requests fail cleanly" },
    { "xs-restrict", test_xs_restrict, 1 << DM_QEMU,
      "-xen-domid-restrict: InitWait written before Xenstore is cut, disk "
      "served, every handle restricted before the guest ran, other "
      "domains refused, Closing unanswered" },
    { "xs-refusals", test_xs_refusals, 1 << DM_QEMU,
      "every Xenstore/command-line mismatch refused with a clear error" },
    { "xs-closing-at-start", test_xs_closing_at_start, 1 << DM_QEMU,
      "libxl's Closing before the guest runs: Closed, never InitWait" },
    { NULL },
};
