/*
 * xenfv-sim: run one test scenario against a device model.
 *
 *   xenfv-sim --test NAME --dm fake|qemu|none --dm-path BIN --libdir DIR
 *             --workdir DIR [--machine M] [--domid N] [--vcpus N] [--ram-mib N]
 *             [--bug B] [--seed S] [--iterations N | --ioreqs N]
 *             [--variant V]
 *   xenfv-sim --list
 *
 * Exit status: 0 pass, 1 fail, 77 skip.  The call log is
 * WORKDIR/sim.log, the device model's output WORKDIR/dm.log.
 */
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"

extern const struct test tests_lib[];

static const struct test *const suites[] = {
    tests_lib, tests_core, tests_virtio, tests_scale, tests_xenstore,
    /* not listed: run by workshop/harness/fuzz and bench */
    tests_fuzz, tests_bench,
};
#define LISTED 5

static const struct test *find_test(const char *name)
{
    for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++) {
        for (const struct test *t = suites[i]; t->name; t++) {
            if (!strcmp(t->name, name)) {
                return t;
            }
        }
    }
    return NULL;
}

static void list_tests(void)
{
    for (size_t i = 0; i < LISTED; i++) {
        for (const struct test *t = suites[i]; t->name; t++) {
            printf("%s %s%s%s %s\t%s\n", t->name,
                   t->dms & 1 << DM_NONE ? "none" : "",
                   t->dms & 1 << DM_FAKE ? "fake," : "",
                   t->dms & 1 << DM_QEMU ? "qemu" : "",
                   t->smp ? "smp" : "-", t->what);
        }
    }
}

static void seed_xenstore(struct sim *s)
{
    char path[128], val[32];

    snprintf(path, sizeof(path), "/local/domain/%u/name", s->domid);
    xsd_write(s, path, "guest", 5);
    snprintf(path, sizeof(path), "/local/domain/%u/domid", s->domid);
    snprintf(val, sizeof(val), "%u", s->domid);
    xsd_write(s, path, val, strlen(val));
    /* libxl creates the device model's directory before spawning it. */
    snprintf(path, sizeof(path), "/local/domain/0/device-model/%u",
             s->domid);
    xsd_mkdir(s, path);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "test", required_argument, NULL, 't' },
        { "dm", required_argument, NULL, 'k' },
        { "dm-path", required_argument, NULL, 'p' },
        { "libdir", required_argument, NULL, 'l' },
        { "machine", required_argument, NULL, 'm' },
        { "workdir", required_argument, NULL, 'w' },
        { "domid", required_argument, NULL, 'd' },
        { "vcpus", required_argument, NULL, 'v' },
        { "ram-mib", required_argument, NULL, 'r' },
        { "bug", required_argument, NULL, 'b' },
        { "seed", required_argument, NULL, 'S' },
        { "iterations", required_argument, NULL, 'i' },
        { "ioreqs", required_argument, NULL, 'I' },
        { "variant", required_argument, NULL, 'V' },
        { "list", no_argument, NULL, 'L' },
        { NULL, 0, NULL, 0 },
    };
    static struct sim sim = {
        .domid = 1, .nr_vcpus = 2, .nr_spis = 12, .ram_bytes = 256 << 20,
    };
    struct ctx c = {
        .s = &sim, .kind = DM_NONE, .machine = "xenfv", .iterations = 2000,
    };
    const struct test *t = NULL;
    bool vcpus_given = false, ram_given = false;
    char sock[300], log[300];
    enum result r;
    int opt;

    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (opt) {
        case 't':
            t = find_test(optarg);
            if (!t) {
                fprintf(stderr, "xenfv-sim: no test '%s'\n", optarg);
                return 2;
            }
            break;
        case 'k':
            c.kind = !strcmp(optarg, "qemu") ? DM_QEMU :
                     !strcmp(optarg, "fake") ? DM_FAKE : DM_NONE;
            break;
        case 'p':
            c.dm_path = optarg;
            break;
        case 'l':
            c.libdir = optarg;
            break;
        case 'm':
            c.machine = optarg;
            break;
        case 'w':
            c.workdir = optarg;
            break;
        case 'd':
            sim.domid = strtoul(optarg, NULL, 0);
            break;
        case 'v':
            sim.nr_vcpus = strtoul(optarg, NULL, 0);
            vcpus_given = true;
            break;
        case 'r':
            sim.ram_bytes = strtoull(optarg, NULL, 0) << 20;
            ram_given = true;
            break;
        case 'b':
            c.bug = optarg;
            break;
        case 'S':
            c.seed = strtoull(optarg, NULL, 0);
            break;
        case 'i':
            c.iterations = strtoul(optarg, NULL, 0);
            break;
        case 'I':
            c.ioreqs = strtoul(optarg, NULL, 0);
            break;
        case 'V':
            c.variant = optarg;
            break;
        case 'L':
            list_tests();
            return 0;
        default:
            return 2;
        }
    }
    /* The domain a test needs, unless the command line says otherwise */
    if (t && t->vcpus && !vcpus_given) {
        sim.nr_vcpus = t->vcpus;
    }
    if (t && t->ram_mib && !ram_given) {
        sim.ram_bytes = (uint64_t)t->ram_mib << 20;
    }
    if (!t || !c.workdir || (c.kind != DM_NONE && !c.dm_path) ||
        sim.nr_vcpus == 0 || sim.nr_vcpus > MAX_VCPUS) {
        fprintf(stderr, "usage: xenfv-sim --test NAME --workdir DIR "
                "[--dm fake|qemu|none --dm-path BIN --libdir DIR] "
                "[--machine M]\n"
                "       [--domid N] [--vcpus 1-%d] [--ram-mib N] [--bug B]\n"
                "       [--seed S] [--iterations N | --ioreqs N] "
                "[--variant V]\n"
                "       xenfv-sim --list\n", MAX_VCPUS);
        return 2;
    }
    if (!(t->dms & 1 << c.kind)) {
        return SKIP;
    }
    /* The device model runs in the work directory: use absolute paths. */
    c.workdir = realpath(c.workdir, NULL);
    c.dm_path = c.dm_path ? realpath(c.dm_path, NULL) : NULL;
    c.libdir = c.libdir ? realpath(c.libdir, NULL) : NULL;
    if (!c.workdir || (c.kind != DM_NONE && (!c.dm_path || !c.libdir))) {
        perror("xenfv-sim: --workdir, --dm-path or --libdir");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    snprintf(sock, sizeof(sock), "%s/xen.sock", c.workdir);
    snprintf(log, sizeof(log), "%s/sim.log", c.workdir);
    c.sock = sock;
    if (sim_init(&sim, sock, log) < 0) {
        perror("xenfv-sim: setup");
        return 1;
    }
    seed_xenstore(&sim);
    if (sim_start(&sim) < 0) {
        perror("xenfv-sim: start");
        return 1;
    }
    r = t->fn(&c);
    if (r == PASS && t->smp && c.kind == DM_QEMU) {
        /* The guest's accesses must have come from every vcpu. */
        for (unsigned v = 0; v < sim.nr_vcpus; v++) {
            if (sim.vcpus[v].ioreqs == 0) {
                report("FAIL: vcpu %u of %u sent no ioreq", v, sim.nr_vcpus);
                r = FAIL;
            }
        }
    }
    if (c.kind != DM_NONE) {
        dm_kill(&c);
    }
    sim_stop(&sim);
    return r;
}
