/*
 * QTest for the xenfv machine (Xen on Arm guest device model)
 *
 * Without Xen, the board is checked the way a guest finds it: the
 * virtio-mmio transports at Xen's guest addresses, the order in which
 * -device options fill them, the SPI each one raises, guest RAM at
 * GUEST_RAM0_BASE and, beyond 3 GiB, GUEST_RAM1_BASE, and the errors for
 * command lines it cannot serve.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/units.h"
#include "libqtest.h"
#include "qapi/qmp/qdict.h"
#include "qapi/qmp/qlist.h"
#include "standard-headers/linux/virtio_config.h"
#include "standard-headers/linux/virtio_ids.h"
#include "standard-headers/linux/virtio_mmio.h"

#define MACHINE             "-machine xenfv "

#define NUM_SLOTS           11
#define SLOT_BASE(i)        (0x02000000 + (i) * 0x200)
#define FIRST_SPI           33
#define RAM0_BASE           0x40000000
#define RAM1_BASE           0x200000000ULL

#define MMIO_MAGIC          0x74726976  /* "virt" */
#define QEMU_VENDOR_ID      0x554d4551  /* "QEMU" */

static uint32_t slot_readl(QTestState *qts, int slot, uint64_t reg)
{
    return qtest_readl(qts, SLOT_BASE(slot) + reg);
}

static void test_empty_slot(const void *data)
{
    int slot = GPOINTER_TO_INT(data);
    QTestState *qts = qtest_init(MACHINE);
    uint64_t base = SLOT_BASE(slot);

    g_assert_cmphex(qtest_readl(qts, base + VIRTIO_MMIO_MAGIC_VALUE), ==,
                    MMIO_MAGIC);
    /* Version 2: virtio 1.x transports, as Linux expects on Xen */
    g_assert_cmphex(qtest_readl(qts, base + VIRTIO_MMIO_VERSION), ==, 2);
    g_assert_cmphex(qtest_readl(qts, base + VIRTIO_MMIO_VENDOR_ID), ==,
                    QEMU_VENDOR_ID);
    g_assert_cmphex(qtest_readl(qts, base + VIRTIO_MMIO_DEVICE_ID), ==, 0);
    qtest_quit(qts);
}

static void test_no_twelfth_slot(void)
{
    QTestState *qts = qtest_init(MACHINE);

    g_assert_cmphex(slot_readl(qts, NUM_SLOTS, VIRTIO_MMIO_MAGIC_VALUE), !=,
                    MMIO_MAGIC);
    g_assert_cmphex(slot_readl(qts, -1, VIRTIO_MMIO_MAGIC_VALUE), !=,
                    MMIO_MAGIC);
    qtest_quit(qts);
}

/* The first -device takes 0x02000000, as libxl numbers the guest's devices */
static void test_device_order(void)
{
    QTestState *qts = qtest_init(MACHINE
                                 "-device virtio-rng-device "
                                 "-device virtio-balloon-device "
                                 "-device virtio-rng-device");

    g_assert_cmphex(slot_readl(qts, 0, VIRTIO_MMIO_DEVICE_ID), ==,
                    VIRTIO_ID_RNG);
    g_assert_cmphex(slot_readl(qts, 1, VIRTIO_MMIO_DEVICE_ID), ==,
                    VIRTIO_ID_BALLOON);
    g_assert_cmphex(slot_readl(qts, 2, VIRTIO_MMIO_DEVICE_ID), ==,
                    VIRTIO_ID_RNG);
    g_assert_cmphex(slot_readl(qts, 3, VIRTIO_MMIO_DEVICE_ID), ==, 0);
    qtest_quit(qts);
}

static void test_all_slots_used(void)
{
    GString *args = g_string_new(MACHINE);
    QTestState *qts;
    int i;

    for (i = 0; i < NUM_SLOTS; i++) {
        g_string_append(args, "-device virtio-rng-device ");
    }
    qts = qtest_init(args->str);
    for (i = 0; i < NUM_SLOTS; i++) {
        g_assert_cmphex(slot_readl(qts, i, VIRTIO_MMIO_DEVICE_ID), ==,
                        VIRTIO_ID_RNG);
    }
    qtest_quit(qts);
    g_string_free(args, true);
}

/* Bring a modern virtio-mmio device up to DRIVER_OK by register writes */
static void driver_ok(QTestState *qts, uint64_t base)
{
    qtest_writel(qts, base + VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
    qtest_writel(qts, base + VIRTIO_MMIO_STATUS,
                 VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
    qtest_writel(qts, base + VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
    qtest_writel(qts, base + VIRTIO_MMIO_DRIVER_FEATURES,
                 1 << (VIRTIO_F_VERSION_1 - 32));
    qtest_writel(qts, base + VIRTIO_MMIO_STATUS,
                 VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
                 VIRTIO_CONFIG_S_FEATURES_OK);
    g_assert_cmphex(qtest_readl(qts, base + VIRTIO_MMIO_STATUS) &
                    VIRTIO_CONFIG_S_FEATURES_OK, ==,
                    VIRTIO_CONFIG_S_FEATURES_OK);
    qtest_writel(qts, base + VIRTIO_MMIO_STATUS,
                 VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
                 VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
}

/*
 * Transport i interrupts on SPI 33 + i: line i of the SPI bank whose
 * first-spi is 33. A balloon size change raises a configuration
 * interrupt without any virtqueue.
 */
static void test_spi_wiring(const void *data)
{
    int slot = GPOINTER_TO_INT(data);
    GString *args = g_string_new(MACHINE);
    uint64_t base = SLOT_BASE(slot);
    QTestState *qts;
    QDict *resp;
    uint32_t isr;
    int i;

    for (i = 0; i < slot; i++) {
        g_string_append(args, "-device virtio-rng-device ");
    }
    g_string_append(args, "-device virtio-balloon-device");
    qts = qtest_init(args->str);
    g_string_free(args, true);

    resp = qtest_qmp(qts, "{ 'execute': 'qom-get', 'arguments': "
                     "{ 'path': '/machine/spi', 'property': 'first-spi' } }");
    g_assert_cmpint(qdict_get_int(resp, "return"), ==, FIRST_SPI);
    qobject_unref(resp);

    qtest_irq_intercept_in(qts, "/machine/spi");
    driver_ok(qts, base);

    qtest_qmp_assert_success(qts, "{ 'execute': 'balloon', "
                             "'arguments': { 'value': %d } }", 64 << 20);
    isr = qtest_readl(qts, base + VIRTIO_MMIO_INTERRUPT_STATUS);
    g_assert_cmphex(isr & VIRTIO_MMIO_INT_CONFIG, ==, VIRTIO_MMIO_INT_CONFIG);
    for (i = 0; i < NUM_SLOTS; i++) {
        g_assert_cmpint(qtest_get_irq(qts, i), ==, i == slot);
    }

    /* Acknowledging the interrupt lowers the line */
    qtest_writel(qts, base + VIRTIO_MMIO_INTERRUPT_ACK, isr);
    g_assert_false(qtest_get_irq(qts, slot));
    qtest_quit(qts);
}

static void test_ram(void)
{
    QTestState *qts = qtest_init(MACHINE "-m 256M");

    qtest_writeq(qts, RAM0_BASE, 0x0123456789abcdefULL);
    qtest_writeq(qts, RAM0_BASE + 256 * 1024 * 1024 - 8, 0xfeedfacecafef00dULL);
    g_assert_cmphex(qtest_readq(qts, RAM0_BASE), ==, 0x0123456789abcdefULL);
    g_assert_cmphex(qtest_readq(qts, RAM0_BASE + 256 * 1024 * 1024 - 8), ==,
                    0xfeedfacecafef00dULL);
    qtest_quit(qts);
}

/*
 * Xen gives a guest with more than 3 GiB a second bank at 8 GiB: -m 4G is
 * 3 GiB from RAM0_BASE and 1 GiB from RAM1_BASE, with nothing between.
 * (Without Xen the board allocates its RAM block, which spans both banks:
 * 9 GiB of address space, touched only where the test writes.)
 */
static void test_ram_two_banks(void)
{
    QTestState *qts = qtest_init(MACHINE "-m 4G");
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

/* 3 GiB fill the first bank: no second one */
static void test_ram_one_full_bank(void)
{
    QTestState *qts = qtest_init(MACHINE "-m 3G");

    qtest_writeq(qts, RAM0_BASE + 3 * GiB - 8, 0x0f0f0f0f0f0f0f0fULL);
    qtest_writeq(qts, RAM1_BASE, 0xdeadbeefdeadbeefULL);
    g_assert_cmphex(qtest_readq(qts, RAM0_BASE + 3 * GiB - 8), ==,
                    0x0f0f0f0f0f0f0f0fULL);
    g_assert_cmphex(qtest_readq(qts, RAM1_BASE), ==, 0);
    qtest_quit(qts);
}

static void test_spi_bank_introspect(void)
{
    QTestState *qts = qtest_init(MACHINE);
    QDict *resp;
    QList *props;
    QListEntry *e;
    bool first = false, num = false;

    resp = qtest_qmp(qts, "{ 'execute': 'device-list-properties', "
                     "'arguments': { 'typename': 'xen-arm-spi' } }");
    props = qdict_get_qlist(resp, "return");
    g_assert(props);
    QLIST_FOREACH_ENTRY(props, e) {
        const char *name = qdict_get_str(qobject_to(QDict, e->value), "name");

        first |= !strcmp(name, "first-spi");
        num |= !strcmp(name, "num-spis");
    }
    g_assert_true(first && num);
    qobject_unref(resp);
    qtest_quit(qts);
}

/* Run QEMU on its own and return its wait status. */
static int run_qemu(const char *args, char **out, char **err)
{
    g_autofree char *cmd = g_strdup_printf("%s %s",
                                           getenv("QTEST_QEMU_BINARY"), args);
    int status;

    g_assert_true(g_spawn_command_line_sync(cmd, out, err, &status, NULL));
    return status;
}

/* QEMU must refuse to start the machine and say why. */
static void assert_refused(const char *args, const char *says)
{
    g_autofree char *line = g_strdup_printf(MACHINE "-display none %s", args);
    g_autofree char *err = NULL;

    g_assert_cmpint(run_qemu(line, NULL, &err), !=, 0);
    g_assert_nonnull(strstr(err, says));
}

static void test_machine_listed(void)
{
    g_autofree char *out = NULL;

    g_assert_cmpint(run_qemu("-machine help", &out, NULL), ==, 0);
    g_assert_nonnull(strstr(out, "\nxenfv "));
}

static void test_needs_xen(void)
{
    if (!qtest_has_accel("tcg")) {
        g_test_skip("no accelerator other than xen and qtest to try");
        return;
    }
    assert_refused("-accel tcg", "-accel xen -xen-domid");
}

static void test_no_cpu_option(void)
{
    assert_refused("-accel qtest -qtest null -cpu cortex-a57",
                   "-cpu does not apply");
}

static void test_ram_too_much(void)
{
    assert_refused("-accel qtest -qtest null -m 1020G",
                   "more RAM than a Xen guest can have");
}

static void test_too_many_devices(void)
{
    GString *args = g_string_new("-accel qtest -qtest null ");
    int i;

    for (i = 0; i <= NUM_SLOTS; i++) {
        g_string_append(args, "-device virtio-rng-device ");
    }
    assert_refused(args->str, "virtio-bus");
    g_string_free(args, true);
}

int main(int argc, char **argv)
{
    int i;

    g_test_init(&argc, &argv, NULL);

    for (i = 0; i < NUM_SLOTS; i++) {
        g_autofree char *name = g_strdup_printf("/xenfv/slot[%d]/empty", i);
        qtest_add_data_func(name, GINT_TO_POINTER(i), test_empty_slot);
    }
    qtest_add_func("/xenfv/slot/none-beyond", test_no_twelfth_slot);
    /* The device tests fill the slots with the simplest virtio devices */
    if (qtest_has_device("virtio-rng-device")) {
        qtest_add_func("/xenfv/device/all-slots", test_all_slots_used);
        qtest_add_func("/xenfv/device/too-many", test_too_many_devices);
        if (qtest_has_device("virtio-balloon-device")) {
            qtest_add_func("/xenfv/device/order", test_device_order);
            for (i = 0; i < NUM_SLOTS; i += 5) {
                g_autofree char *name =
                    g_strdup_printf("/xenfv/slot[%d]/spi", i);

                qtest_add_data_func(name, GINT_TO_POINTER(i),
                                    test_spi_wiring);
            }
        }
    }
    qtest_add_func("/xenfv/ram/bank0", test_ram);
    qtest_add_func("/xenfv/ram/bank0-full", test_ram_one_full_bank);
    qtest_add_func("/xenfv/ram/two-banks", test_ram_two_banks);
    qtest_add_func("/xenfv/ram/too-much", test_ram_too_much);
    qtest_add_func("/xenfv/spi/introspect", test_spi_bank_introspect);
    qtest_add_func("/xenfv/machine/listed", test_machine_listed);
    qtest_add_func("/xenfv/machine/needs-xen", test_needs_xen);
    qtest_add_func("/xenfv/machine/no-cpu", test_no_cpu_option);

    return g_test_run();
}
