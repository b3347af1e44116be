/*
 * A program built against Debian 12's libxl.h (Xen 4.17.0's
 * libxl_domain_config), as libvirt's Xen driver is, run against the Xen
 * series' libxenlight.so.4.17 (workshop/xen-tests/libxl-checks.sh): the
 * library must neither write past the end of the caller's struct nor hand
 * it members it cannot know. Each libxl_domain_config is followed by a
 * canary. Prints PASS/FAIL lines. Workshop tooling, not part of the series.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libxl.h>

#define CANARY 0xa5

struct guarded {
    libxl_domain_config c;
    unsigned char canary[256];
};

static int failures;

static void check(int ok, const char *what)
{
    printf("%s %s\n", ok ? "PASS" : "FAIL", what);
    if (!ok)
        failures++;
}

static int intact(const struct guarded *g)
{
    size_t i;

    for (i = 0; i < sizeof(g->canary); i++)
        if (g->canary[i] != CANARY)
            return 0;
    return 1;
}

/* A guest of the series' xl, with a virtio device (xl -N's JSON) */
static const char json[] =
    "{ \"c_info\": { \"type\": \"pvh\", \"name\": \"g\" },"
    "  \"b_info\": { \"max_vcpus\": 1, \"type.pvh\": { } },"
    "  \"disks\": [ { \"pdev_path\": \"/x.img\", \"vdev\": \"xvda\","
    "      \"backend\": \"standalone\", \"format\": \"raw\","
    "      \"specification\": \"virtio\", \"readwrite\": 1 } ],"
    "  \"virtios\": [ { \"type\": \"virtio,device4\" } ],"
    "  \"on_crash\": \"preserve\" }";

int main(void)
{
    static struct guarded a, b;
    libxl_ctx *ctx;
    xentoollog_logger_stdiostream *lg;
    char *s;
    int rc;

    printf("sizeof(libxl_domain_config) in this program: %zu\n",
           sizeof(libxl_domain_config));
    memset(a.canary, CANARY, sizeof(a.canary));
    memset(b.canary, CANARY, sizeof(b.canary));
    lg = xtl_createlogger_stdiostream(stderr, XTL_ERROR, 0);
    if (libxl_ctx_alloc(&ctx, LIBXL_VERSION, 0, (xentoollog_logger *)lg)) {
        printf("FAIL libxl_ctx_alloc\n");
        return 1;
    }

    libxl_domain_config_init(&a.c);
    check(intact(&a), "4.17 caller: libxl_domain_config_init stays within the struct");
    rc = libxl_domain_config_from_json(ctx, &a.c, json);
    check(!rc && intact(&a) && a.c.num_disks == 1 &&
          !strcmp(a.c.c_info.name, "g") &&
          a.c.on_crash == LIBXL_ACTION_ON_SHUTDOWN_PRESERVE,
          "4.17 caller: libxl_domain_config_from_json fills the 4.17 members only");
    libxl_domain_config_init(&b.c);
    libxl_domain_config_copy(ctx, &b.c, &a.c);
    check(intact(&b) && b.c.num_disks == 1 &&
          !strcmp(b.c.disks[0].vdev, "xvda"),
          "4.17 caller: libxl_domain_config_copy stays within the struct");
    s = libxl_domain_config_to_json(ctx, &b.c);
    check(s && strstr(s, "\"xvda\"") && !strstr(s, "virtios"),
          "4.17 caller: libxl_domain_config_to_json of its struct");
    free(s);
    libxl_domain_config_dispose(&a.c);
    libxl_domain_config_dispose(&b.c);
    check(intact(&a) && intact(&b),
          "4.17 caller: libxl_domain_config_dispose stays within the struct");

    libxl_ctx_free(ctx);
    return failures ? 1 : 0;
}
