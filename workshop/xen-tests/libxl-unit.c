/*
 * Unit tests of libxl internals the Xen series adds, without Xen: built
 * against the series' build tree (workshop/xen-tests/unit.sh) with
 * libxl_arm.c and libxl_virtio.c included, for their static functions,
 * linked with libxenlight.a and run under qemu-user with the dry-run shim
 * (xl-dryrun-shim.c), whose Xenstore has the few nodes read here.
 * Prints PASS/FAIL lines. Workshop tooling, not part of the series.
 */
#include "libxl_arm.c"
#include "libxl_virtio.c"

static int failures;

static void check(bool ok, const char *what)
{
    printf("%s %s\n", ok ? "PASS" : "FAIL", what);
    if (!ok)
        failures++;
}

/* The property of node PATH, as a string (NULL when absent) */
static const char *dt_prop(const void *fdt, const char *path,
                           const char *prop, int *len)
{
    int off = fdt_path_offset(fdt, path);

    if (off < 0)
        return NULL;
    return fdt_getprop(fdt, off, prop, len);
}

static uint32_t dt_cell(const void *fdt, const char *path, const char *prop)
{
    int len = 0;
    const fdt32_t *v = (const void *)dt_prop(fdt, path, prop, &len);

    return v && len == 4 ? fdt32_to_cpu(*v) : 0xffffffff;
}

/* Issue 14, point 5: the child nodes of virtio,device22 and 29 */
static void test_device_tree(libxl__gc *gc)
{
    static char buf[8192];
    void *fdt = buf;
    int len, r = 0;
    const char *s;

    r |= fdt_create(fdt, sizeof(buf));
    r |= fdt_finish_reservemap(fdt);
    r |= fdt_begin_node(fdt, "");
    r |= fdt_property_cell(fdt, "#address-cells", GUEST_ROOT_ADDRESS_CELLS);
    r |= fdt_property_cell(fdt, "#size-cells", GUEST_ROOT_SIZE_CELLS);
    r |= make_virtio_mmio_node(gc, fdt, 0x2000000, 33, "virtio,device22",
                               false, 0);
    r |= make_virtio_mmio_node(gc, fdt, 0x2000200, 34, "virtio,device29",
                               true, 1);
    r |= make_virtio_mmio_node(gc, fdt, 0x2000400, 35, "virtio,device",
                               false, 0);
    r |= make_virtio_mmio_node(gc, fdt, 0x2000600, 36, "virtio,device4",
                               false, 0);
    r |= make_virtio_mmio_node(gc, fdt, 0x2000800, 37, NULL, false, 0);
    r |= fdt_end_node(fdt);
    r |= fdt_finish(fdt);
    check(!r, "device tree: five virtio-mmio nodes made");

    s = dt_prop(fdt, "/virtio@2000000/i2c", "compatible", &len);
    check(s && !strcmp(s, "virtio,device22"),
          "device tree: virtio,device22 has child i2c, compatible virtio,device22");
    s = dt_prop(fdt, "/virtio@2000200/gpio", "compatible", &len);
    check(s && !strcmp(s, "virtio,device29") &&
          dt_prop(fdt, "/virtio@2000200/gpio", "gpio-controller", &len) &&
          dt_prop(fdt, "/virtio@2000200/gpio", "interrupt-controller", &len) &&
          dt_cell(fdt, "/virtio@2000200/gpio", "#gpio-cells") == 2 &&
          dt_cell(fdt, "/virtio@2000200/gpio", "#interrupt-cells") == 2,
          "device tree: virtio,device29 has child gpio (controller, 2 gpio and 2 interrupt cells)");
    check(dt_prop(fdt, "/virtio@2000200", "iommus", &len) && len == 8 &&
          !dt_prop(fdt, "/virtio@2000000", "iommus", &len),
          "device tree: iommus only where grants are used");
    check(fdt_first_subnode(fdt, fdt_path_offset(fdt, "/virtio@2000400")) < 0 &&
          fdt_first_subnode(fdt, fdt_path_offset(fdt, "/virtio@2000600")) < 0 &&
          fdt_first_subnode(fdt, fdt_path_offset(fdt, "/virtio@2000800")) < 0,
          "device tree: no child node for virtio,device, virtio,device4 and a virtio disk");
}

/* domain configurations, as xl -N prints them (the members used here) */
#define CFG(extra)                                                          \
    "{ \"c_info\": { \"type\": \"pvh\", \"name\": \"g\" },"                 \
    "  \"b_info\": { \"max_vcpus\": 1, \"type.pvh\": { } },"                \
    "  \"disks\": [ { \"pdev_path\": \"/x.img\", \"vdev\": \"xvda\","       \
    "      \"backend\": \"standalone\", \"format\": \"raw\","               \
    "      \"specification\": \"virtio\", \"readwrite\": 1 } ],"            \
    "  \"virtios\": [ { \"type\": \"virtio,device4\" } ]" extra " }"

/* Issue 14, point 2: libxl starts a virtio device model only when asked */
static void test_need_dm(libxl__gc *gc, const char *what, const char *json,
                         bool want)
{
    libxl_domain_config dc;
    int rc;
    bool need;

    libxl_domain_config_init(&dc);
    rc = libxl_domain_config_from_json(CTX, &dc, json);
    need = !rc && (libxl__need_virtio_dm(gc, &dc) ||
                   libxl__need_xenpv_qemu(gc, &dc) != 0);
    check(!rc && need == want, what);
    libxl_domain_config_dispose(&dc);
}

/* Issue 14, point 6: "backend is me" only for guests with the device model */
static void test_backend_is_dm(libxl__gc *gc)
{
    libxl__device dev = {
        .backend_devid = 51712, .devid = 51712, .backend_domid = 0,
        .backend_kind = LIBXL__DEVICE_KIND_VIRTIO_DISK,
        .kind = LIBXL__DEVICE_KIND_VIRTIO_DISK,
    };

    dev.domid = 5;  /* no libxl/5/virtio-dm */
    check(!libxl__virtio_dm_backend(gc, &dev),
          "dom0-backed virtio disk of a guest without the device model: its own backend answers");
    dev.domid = 7;  /* libxl/7/virtio-dm = 1 */
    check(libxl__virtio_dm_backend(gc, &dev),
          "dom0-backed virtio disk of a guest with the device model: served by it");
    dev.backend_domid = 1;
    check(!libxl__virtio_dm_backend(gc, &dev),
          "virtio disk in a driver domain: not the device model's");
}

/*
 * Issue 14, point 4: a hotplug (libxl__dm_check_start) checks the stored
 * configuration, whose backends are still names: a guest whose virtio
 * backends are in a driver domain has no device model to need.
 */
static void test_dm_check_start(libxl__gc *gc)
{
    static const char json[] =
        "{ \"c_info\": { \"type\": \"pvh\", \"name\": \"g\" },"
        "  \"b_info\": { \"max_vcpus\": 1, \"type.pvh\": { } },"
        "  \"disks\": [ { \"pdev_path\": \"/x.img\", \"vdev\": \"xvda\","
        "      \"backend\": \"standalone\", \"format\": \"raw\","
        "      \"backend_domname\": \"dd\","
        "      \"specification\": \"virtio\", \"readwrite\": 1 } ],"
        "  \"virtios\": [ { \"type\": \"virtio,device4\","
        "                   \"backend_domname\": \"dd\" } ],"
        "  \"virtio_dm\": \"True\" }";
    libxl_domain_config dc;
    int rc;

    libxl_domain_config_init(&dc);
    rc = libxl_domain_config_from_json(CTX, &dc, json);
    check(!rc && libxl__dm_check_start(gc, &dc, 5) == 0,
          "hotplug: a guest whose virtio backends are in a driver domain (stored config, backend by name) needs no device model");
    check(!rc && libxl__dm_check_start(gc, &dc, 7) != 0,
          "hotplug: a guest that got the virtio device model needs it running");
    libxl_domain_config_dispose(&dc);
}

/* Issue 14, point 5: a virtio device read back from Xenstore */
static void test_from_xenstore(libxl__gc *gc)
{
    libxl_device_virtio v;
    int rc;

    libxl_device_virtio_init(&v);
    rc = libxl__virtio_from_xenstore(gc, "/libxl/5/device/virtio/0", 0, &v);
    check(!rc && v.devid == 0 && v.backend_domid == 0 && v.type &&
          !strcmp(v.type, "virtio,device22") &&
          v.transport == LIBXL_VIRTIO_TRANSPORT_MMIO && v.irq == 33 &&
          v.base == 0x2000000 && libxl_defbool_val(v.grant_usage),
          "from_xenstore: a virtio device's backend, type, transport, irq, base, grant_usage");
    libxl_device_virtio_dispose(&v);
    check(libxl__virtio_devtype.from_xenstore && libxl__virtio_devtype.compare,
          "device type virtio: from_xenstore and compare (libxl_device_virtio_list, xl list -l)");
    {
        int i;
        bool found = false;

        for (i = 0; device_type_tbl[i]; i++)
            found |= device_type_tbl[i] == &libxl__virtio_devtype;
        check(found, "device_type_tbl has the virtio device type");
    }
}

int main(void)
{
    libxl_ctx *ctx;
    xentoollog_logger_stdiostream *lg;

    lg = xtl_createlogger_stdiostream(stderr, XTL_ERROR, 0);
    if (libxl_ctx_alloc(&ctx, LIBXL_VERSION, 0, (xentoollog_logger *)lg)) {
        printf("FAIL libxl_ctx_alloc\n");
        return 1;
    }
    {
        GC_INIT(ctx);

        test_device_tree(gc);
        test_need_dm(gc, "stock configuration (dom0-backed virtio disk and device, no virtio_dm): no QEMU",
                     CFG(""), false);
        test_need_dm(gc, "virtio_dm = 0: no QEMU",
                     CFG(", \"virtio_dm\": \"False\""), false);
        test_need_dm(gc, "virtio_dm = 1: libxl starts the virtio device model",
                     CFG(", \"virtio_dm\": \"True\""), true);
        test_backend_is_dm(gc);
        test_dm_check_start(gc);
        test_from_xenstore(gc);
        GC_FREE;
    }
    libxl_ctx_free(ctx);
    return failures ? 1 : 0;
}
