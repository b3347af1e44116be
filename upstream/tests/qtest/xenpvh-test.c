/*
 * QTest for the Arm xenpvh machine (device model for guests of Xen on Arm)
 *
 * Without Xen, the machine is checked the way a guest finds it: the
 * virtio-mmio transports libxl describes at Xen's guest addresses, the
 * order in which -device options fill them, the interrupt each one raises,
 * guest RAM at GUEST_RAM0_BASE and, beyond 3 GiB, GUEST_RAM1_BASE.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/units.h"
#include "libqtest.h"
#include "qobject/qdict.h"
#include "standard-headers/linux/virtio_config.h"
#include "standard-headers/linux/virtio_ids.h"
#include "standard-headers/linux/virtio_mmio.h"

#define RAM_SIZE            (128 * MiB)
#define XENPVH_ARGS         "-machine xenpvh -m 128M "

/* Xen's public arch-arm.h: GUEST_VIRTIO_MMIO_SPI_FIRST..LAST, both used */
#define NUM_TRANSPORTS      11
#define TRANSPORT_BASE(i)   (0x02000000 + (i) * 0x200)
#define FIRST_SPI           33
#define RAM0_BASE           0x40000000
#define RAM1_BASE           0x200000000ULL

#define MMIO_MAGIC          0x74726976  /* "virt" */
#define QEMU_VENDOR_ID      0x554d4551  /* "QEMU" */

static uint32_t transport_readl(QTestState *qts, int i, uint64_t reg)
{
    return qtest_readl(qts, TRANSPORT_BASE(i) + reg);
}

static void test_empty_transport(const void *data)
{
    int i = GPOINTER_TO_INT(data);
    QTestState *qts = qtest_init(XENPVH_ARGS);

    g_assert_cmphex(transport_readl(qts, i, VIRTIO_MMIO_MAGIC_VALUE), ==,
                    MMIO_MAGIC);
    /* The modern transport unless the command line asks otherwise */
    g_assert_cmphex(transport_readl(qts, i, VIRTIO_MMIO_VERSION), ==, 2);
    g_assert_cmphex(transport_readl(qts, i, VIRTIO_MMIO_VENDOR_ID), ==,
                    QEMU_VENDOR_ID);
    g_assert_cmphex(transport_readl(qts, i, VIRTIO_MMIO_DEVICE_ID), ==, 0);
    qtest_quit(qts);
}

static void test_none_beyond(void)
{
    QTestState *qts = qtest_init(XENPVH_ARGS);

    g_assert_cmphex(transport_readl(qts, NUM_TRANSPORTS,
                                    VIRTIO_MMIO_MAGIC_VALUE), !=, MMIO_MAGIC);
    g_assert_cmphex(qtest_readl(qts, TRANSPORT_BASE(0) - 0x200 +
                                VIRTIO_MMIO_MAGIC_VALUE), !=, MMIO_MAGIC);
    qtest_quit(qts);
}

static void test_legacy_on_request(void)
{
    QTestState *qts = qtest_init(XENPVH_ARGS
                                 "-global virtio-mmio.force-legacy=on");

    g_assert_cmphex(transport_readl(qts, 0, VIRTIO_MMIO_VERSION), ==, 1);
    g_assert_cmphex(transport_readl(qts, NUM_TRANSPORTS - 1,
                                    VIRTIO_MMIO_VERSION), ==, 1);
    qtest_quit(qts);
}

/* The first -device takes 0x02000000, as libxl numbers a guest's devices */
static void test_device_order(void)
{
    QTestState *qts = qtest_init(XENPVH_ARGS
                                 "-device virtio-rng-device "
                                 "-device virtio-balloon-device "
                                 "-device virtio-rng-device");

    g_assert_cmphex(transport_readl(qts, 0, VIRTIO_MMIO_DEVICE_ID), ==,
                    VIRTIO_ID_RNG);
    g_assert_cmphex(transport_readl(qts, 1, VIRTIO_MMIO_DEVICE_ID), ==,
                    VIRTIO_ID_BALLOON);
    g_assert_cmphex(transport_readl(qts, 2, VIRTIO_MMIO_DEVICE_ID), ==,
                    VIRTIO_ID_RNG);
    g_assert_cmphex(transport_readl(qts, 3, VIRTIO_MMIO_DEVICE_ID), ==, 0);
    qtest_quit(qts);
}

static void test_all_transports_used(void)
{
    GString *args = g_string_new(XENPVH_ARGS);
    QTestState *qts;
    int i;

    for (i = 0; i < NUM_TRANSPORTS; i++) {
        g_string_append(args, "-device virtio-rng-device ");
    }
    qts = qtest_init(args->str);
    g_string_free(args, true);
    for (i = 0; i < NUM_TRANSPORTS; i++) {
        g_assert_cmphex(transport_readl(qts, i, VIRTIO_MMIO_DEVICE_ID), ==,
                        VIRTIO_ID_RNG);
    }
    qtest_quit(qts);
}

/* Bring a modern virtio-mmio device up to DRIVER_OK by register writes */
static void driver_ok(QTestState *qts, uint64_t base)
{
    uint32_t status = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER;

    qtest_writel(qts, base + VIRTIO_MMIO_STATUS, status);
    qtest_writel(qts, base + VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
    qtest_writel(qts, base + VIRTIO_MMIO_DRIVER_FEATURES,
                 1 << (VIRTIO_F_VERSION_1 - 32));
    status |= VIRTIO_CONFIG_S_FEATURES_OK;
    qtest_writel(qts, base + VIRTIO_MMIO_STATUS, status);
    g_assert_cmphex(qtest_readl(qts, base + VIRTIO_MMIO_STATUS), ==, status);
    qtest_writel(qts, base + VIRTIO_MMIO_STATUS,
                 status | VIRTIO_CONFIG_S_DRIVER_OK);
}

/*
 * Transport i interrupts on SPI 33 + i: line i of the interrupt bank
 * whose first-irq is 33. A balloon size change raises a configuration
 * interrupt without any virtqueue.
 */
static void test_spi_wiring(const void *data)
{
    int transport = GPOINTER_TO_INT(data);
    uint64_t base = TRANSPORT_BASE(transport);
    GString *args = g_string_new(XENPVH_ARGS);
    QTestState *qts;
    QDict *resp;
    uint32_t isr;
    int i;

    for (i = 0; i < transport; i++) {
        g_string_append(args, "-device virtio-rng-device ");
    }
    g_string_append(args, "-device virtio-balloon-device");
    qts = qtest_init(args->str);
    g_string_free(args, true);

    resp = qtest_qmp(qts, "{ 'execute': 'qom-get', 'arguments': "
                     "{ 'path': '/machine/virtio-mmio-irqs', "
                     "'property': 'first-irq' } }");
    g_assert_cmpint(qdict_get_int(resp, "return"), ==, FIRST_SPI);
    qobject_unref(resp);

    qtest_irq_intercept_in(qts, "/machine/virtio-mmio-irqs");
    driver_ok(qts, base);
    qtest_qmp_assert_success(qts, "{ 'execute': 'balloon', "
                             "'arguments': { 'value': %d } }", 64 << 20);
    isr = qtest_readl(qts, base + VIRTIO_MMIO_INTERRUPT_STATUS);
    g_assert_cmphex(isr & VIRTIO_MMIO_INT_CONFIG, ==, VIRTIO_MMIO_INT_CONFIG);
    for (i = 0; i < NUM_TRANSPORTS; i++) {
        g_assert_cmpint(qtest_get_irq(qts, i), ==, i == transport);
    }

    /* Acknowledging the interrupt lowers the line */
    qtest_writel(qts, base + VIRTIO_MMIO_INTERRUPT_ACK, isr);
    g_assert_false(qtest_get_irq(qts, transport));
    qtest_quit(qts);
}

static void test_ram(void)
{
    QTestState *qts = qtest_init(XENPVH_ARGS);
    const uint64_t end = RAM0_BASE + RAM_SIZE;

    qtest_writeq(qts, RAM0_BASE, 0x0123456789abcdefULL);
    qtest_writeq(qts, end - 8, 0xfeedfacecafef00dULL);
    qtest_writeq(qts, end, 0xdeadbeefdeadbeefULL);
    g_assert_cmphex(qtest_readq(qts, RAM0_BASE), ==, 0x0123456789abcdefULL);
    g_assert_cmphex(qtest_readq(qts, end - 8), ==, 0xfeedfacecafef00dULL);
    g_assert_cmphex(qtest_readq(qts, end), ==, 0);
    qtest_quit(qts);
}

/*
 * Xen gives a guest with more than 3 GiB a second bank at 8 GiB: -m 4G is
 * 3 GiB from RAM0_BASE and 1 GiB from RAM1_BASE, with nothing between.
 * Without Xen the machine backs both banks with one block of host memory
 * that it does not reserve; only the pages the test writes are used.
 */
static void test_ram_two_banks(void)
{
    QTestState *qts = qtest_init("-machine xenpvh -m 4G");
    const uint64_t bank0_end = RAM0_BASE + 3 * GiB;
    const uint64_t bank1_end = RAM1_BASE + 1 * GiB;

    qtest_writeq(qts, bank0_end - 8, 0x0b0e0d0b0e0d0b00ULL);
    qtest_writeq(qts, RAM1_BASE, 0x1b1e1d1b1e1d1b11ULL);
    qtest_writeq(qts, bank1_end - 8, 0x1e1e1e1e1e1e1e1eULL);
    /* Between the banks and past the second one: nothing */
    qtest_writeq(qts, bank0_end, 0xdeadbeefdeadbeefULL);
    qtest_writeq(qts, RAM1_BASE - 8, 0xdeadbeefdeadbeefULL);
    qtest_writeq(qts, bank1_end, 0xdeadbeefdeadbeefULL);

    g_assert_cmphex(qtest_readq(qts, bank0_end - 8), ==,
                    0x0b0e0d0b0e0d0b00ULL);
    g_assert_cmphex(qtest_readq(qts, RAM1_BASE), ==, 0x1b1e1d1b1e1d1b11ULL);
    g_assert_cmphex(qtest_readq(qts, bank1_end - 8), ==,
                    0x1e1e1e1e1e1e1e1eULL);
    g_assert_cmphex(qtest_readq(qts, bank0_end), ==, 0);
    g_assert_cmphex(qtest_readq(qts, RAM1_BASE - 8), ==, 0);
    g_assert_cmphex(qtest_readq(qts, bank1_end), ==, 0);
    qtest_quit(qts);
}

/* Start QEMU on its own: it must fail and say why */
static void assert_refused(const char *args, const char *says)
{
    g_autofree char *cmd = g_strdup_printf("%s " XENPVH_ARGS
                                           "-nodefaults -display none %s",
                                           qtest_qemu_binary(NULL), args);
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;
    int status;

    g_assert_true(g_spawn_command_line_sync(cmd, &out, &err, &status, NULL));
    g_assert_cmpint(status, !=, 0);
    g_assert_nonnull(strstr(err, says));
}

/* A user's -machine accel= still excludes -accel */
static void test_accel_twice(void)
{
    assert_refused("-machine accel=xen -accel qtest", "incompatible");
}

/* Under qtest, PCI's INTx lines would have no Xen to go to */
static void test_pci_needs_xen(void)
{
    assert_refused("-accel qtest -qtest null -machine pci-ecam-size=0x10000000",
                   "pci-ecam-size needs the Xen accelerator");
}

static void test_needs_xen(void)
{
    if (!qtest_has_accel("tcg")) {
        g_test_skip("no accelerator but xen and qtest to try");
        return;
    }
    assert_refused("-accel tcg", "-accel xen");
}

int main(int argc, char **argv)
{
    int i;

    g_test_init(&argc, &argv, NULL);

    if (!qtest_has_machine("xenpvh")) {
        g_test_skip("xenpvh machine not built");
        return g_test_run();
    }

    for (i = 0; i < NUM_TRANSPORTS; i++) {
        g_autofree char *name =
            g_strdup_printf("/xenpvh/transport[%d]/empty", i);

        qtest_add_data_func(name, GINT_TO_POINTER(i), test_empty_transport);
    }
    qtest_add_func("/xenpvh/transport/none-beyond", test_none_beyond);
    qtest_add_func("/xenpvh/transport/legacy-on-request",
                   test_legacy_on_request);
    if (qtest_has_device("virtio-rng-device")) {
        qtest_add_func("/xenpvh/device/all-transports",
                       test_all_transports_used);
        if (qtest_has_device("virtio-balloon-device")) {
            qtest_add_func("/xenpvh/device/order", test_device_order);
            for (i = 0; i < NUM_TRANSPORTS; i += 5) {
                g_autofree char *name =
                    g_strdup_printf("/xenpvh/transport[%d]/spi", i);

                qtest_add_data_func(name, GINT_TO_POINTER(i),
                                    test_spi_wiring);
            }
        }
    }
    qtest_add_func("/xenpvh/ram/bank0", test_ram);
    qtest_add_func("/xenpvh/ram/two-banks", test_ram_two_banks);
    qtest_add_func("/xenpvh/machine/needs-xen", test_needs_xen);
    qtest_add_func("/xenpvh/machine/accel-twice", test_accel_twice);
    qtest_add_func("/xenpvh/machine/pci-needs-xen", test_pci_needs_xen);

    return g_test_run();
}
