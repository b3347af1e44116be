/*
 * Grant-based DMA of Xen guests
 *
 * A device model in a driver domain may not map the guest's memory: it
 * sees only the pages the guest granted to it, by grant reference. Linux
 * guests whose virtio device names a "xen,grant-dma" IOMMU encode those
 * references in the DMA addresses they give the device (see
 * xen-grant-dma.h), so the device model puts a window of RAM at those
 * addresses whose pages are grant mappings, made through the grant device
 * (gntdev) when a device touches them and dropped as soon as it is done:
 * the guest cannot take a page back while it is still mapped.
 *
 * The window is a RAM block without host memory, like guest RAM under
 * Xen: the map cache hands its ram_addr_t ranges to this file.
 * address_space_map() and the MemoryRegionCache of virtqueues map their
 * grants until they unmap them; other accesses keep theirs only until the
 * main loop runs again. Such accesses come from the main loop, under the
 * BQL: a Xen device model has no ioeventfd and so no dataplane thread.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/error-report.h"
#include "qemu/log.h"
#include "qemu/main-loop.h"
#include "qemu/queue.h"
#include "qemu/thread.h"
#include "qemu/units.h"
#include "hw/xen/xen_common.h"
#include "hw/xen/xen-grant-dma.h"
#include "sysemu/xen-mapcache.h"
#include "trace.h"

typedef struct XenGrantMapping {
    uint8_t *vaddr;             /* of the first page */
    uint32_t ref;               /* the first grant reference */
    uint32_t count;             /* pages, of consecutive references */
    bool locked;                /* until xen_grant_dma_unmap() */
    QLIST_ENTRY(XenGrantMapping) next;
} XenGrantMapping;

typedef struct XenGrantDMA {
    xengnttab_handle *xgt;
    uint32_t domid;
    MemoryRegion mr;
    ram_addr_t base;            /* ram_addr_t of grant reference 0 */
    QemuMutex lock;             /* protects mappings */
    QLIST_HEAD(, XenGrantMapping) mappings;
    QEMUBH *release_bh;         /* drops the mappings that are not locked */
} XenGrantDMA;

static XenGrantDMA *grant_dma;

bool xen_mr_is_grants(const MemoryRegion *mr)
{
    return grant_dma && mr == &grant_dma->mr;
}

bool xen_grant_dma_contains(ram_addr_t ram_addr)
{
    return grant_dma && ram_addr >= grant_dma->base &&
           ram_addr - grant_dma->base <
           (ram_addr_t)XEN_GRANT_DMA_MAX_REFS * XC_PAGE_SIZE;
}

static void xen_grant_dma_release(XenGrantDMA *g, XenGrantMapping *m)
{
    trace_xen_grant_dma_unmap(m->vaddr, m->ref, m->count);
    QLIST_REMOVE(m, next);
    if (xengnttab_unmap(g->xgt, m->vaddr, m->count)) {
        /* The guest will find its grant still in use: say why. */
        error_report("xen: cannot unmap grant references %u to %u of "
                     "domain %u: %s", m->ref, m->ref + m->count - 1,
                     g->domid, strerror(errno));
    }
    g_free(m);
}

static void xen_grant_dma_release_unlocked(void *opaque)
{
    XenGrantDMA *g = opaque;
    XenGrantMapping *m, *tmp;

    qemu_mutex_lock(&g->lock);
    QLIST_FOREACH_SAFE(m, &g->mappings, next, tmp) {
        if (!m->locked) {
            xen_grant_dma_release(g, m);
        }
    }
    qemu_mutex_unlock(&g->lock);
}

static void *xen_grant_dma_map_refs(XenGrantDMA *g, uint32_t ref,
                                    uint32_t count, int prot)
{
    g_autofree uint32_t *refs = g_new(uint32_t, count);
    uint32_t i;

    for (i = 0; i < count; i++) {
        refs[i] = ref + i;
    }
    return xengnttab_map_domain_grant_refs(g->xgt, count, g->domid, refs,
                                           prot);
}

uint8_t *xen_grant_dma_map(ram_addr_t ram_addr, hwaddr size, bool lock,
                           bool is_write)
{
    XenGrantDMA *g = grant_dma;
    ram_addr_t offset = ram_addr - g->base;
    hwaddr in_page = offset & (XC_PAGE_SIZE - 1);
    uint32_t ref = offset >> XC_PAGE_SHIFT;
    uint32_t count;
    int prot = PROT_READ | (is_write ? PROT_WRITE : 0);
    XenGrantMapping *m;
    void *vaddr;

    /* The rest of the page when the caller does not know how much */
    if (!size) {
        size = XC_PAGE_SIZE - in_page;
    }
    count = DIV_ROUND_UP(in_page + size, XC_PAGE_SIZE);
    assert(ref + (uint64_t)count <= XEN_GRANT_DMA_MAX_REFS);

    vaddr = xen_grant_dma_map_refs(g, ref, count, prot);
    if (!vaddr) {
        int err = errno;

        trace_xen_grant_dma_map_failed(ref, count, is_write, lock, err);
        qemu_log_mask(LOG_GUEST_ERROR, "xen: domain %u DMA at 0x%" PRIx64
                      " (%" HWADDR_PRIu " bytes%s): cannot map grant "
                      "references %u to %u: %s\n", g->domid,
                      (uint64_t)(XEN_GRANT_DMA_ADDR_OFF + offset), size,
                      is_write ? ", written" : "", ref, ref + count - 1,
                      strerror(err));
        return NULL;
    }

    m = g_new0(XenGrantMapping, 1);
    m->vaddr = vaddr;
    m->ref = ref;
    m->count = count;
    m->locked = lock;
    trace_xen_grant_dma_map(ref, count, is_write, lock, vaddr);

    qemu_mutex_lock(&g->lock);
    QLIST_INSERT_HEAD(&g->mappings, m, next);
    qemu_mutex_unlock(&g->lock);
    if (!lock) {
        qemu_bh_schedule(g->release_bh);
    }
    return m->vaddr + in_page;
}

/* Called with g->lock held */
static XenGrantMapping *xen_grant_dma_find(XenGrantDMA *g, void *ptr)
{
    uint8_t *p = ptr;
    XenGrantMapping *m;

    QLIST_FOREACH(m, &g->mappings, next) {
        if (p >= m->vaddr && p < m->vaddr + (size_t)m->count * XC_PAGE_SIZE) {
            return m;
        }
    }
    return NULL;
}

bool xen_grant_dma_ram_addr(void *ptr, ram_addr_t *ram_addr)
{
    XenGrantDMA *g = grant_dma;
    XenGrantMapping *m;

    if (!g || !ptr) {
        return false;
    }
    qemu_mutex_lock(&g->lock);
    m = xen_grant_dma_find(g, ptr);
    if (m) {
        *ram_addr = g->base + (ram_addr_t)m->ref * XC_PAGE_SIZE +
                    ((uint8_t *)ptr - m->vaddr);
    }
    qemu_mutex_unlock(&g->lock);
    return m != NULL;
}

bool xen_grant_dma_unmap(void *ptr)
{
    XenGrantDMA *g = grant_dma;
    XenGrantMapping *m;

    if (!g || !ptr) {
        return false;
    }
    qemu_mutex_lock(&g->lock);
    m = xen_grant_dma_find(g, ptr);
    if (m && m->locked) {
        xen_grant_dma_release(g, m);
    }
    qemu_mutex_unlock(&g->lock);
    return m != NULL;
}

bool xen_grant_dma_init(MemoryRegion *sysmem, uint32_t domid, Error **errp)
{
    ERRP_GUARD();
    XenGrantDMA *g;
    xengnttab_handle *xgt;

    assert(!grant_dma);
    /*
     * gntdev maps a grant per host page: with larger pages a mapping of
     * consecutive references would not be contiguous in our memory.
     */
    if (qemu_real_host_page_size() != XC_PAGE_SIZE) {
        error_setg(errp, "xen: grant DMA needs a kernel with %lu KiB pages, "
                   "this one has %zu KiB pages",
                   (unsigned long)XC_PAGE_SIZE / KiB,
                   qemu_real_host_page_size() / KiB);
        return false;
    }
    xgt = xengnttab_open(NULL, 0);
    if (!xgt) {
        error_setg_errno(errp, errno, "xen: cannot open the grant device");
        error_append_hint(errp, "A virtio backend outside dom0 needs the "
                          "Linux module xen-gntdev in its domain.\n");
        return false;
    }

    g = g_new0(XenGrantDMA, 1);
    g->xgt = xgt;
    g->domid = domid;
    qemu_mutex_init(&g->lock);
    QLIST_INIT(&g->mappings);
    g->release_bh = qemu_bh_new(xen_grant_dma_release_unlocked, g);

    /* Set first: xen_ram_alloc() asks xen_mr_is_grants() about it. */
    grant_dma = g;
    memory_region_init_ram_nomigrate(&g->mr, NULL, "xen.grants",
                                     (uint64_t)XEN_GRANT_DMA_MAX_REFS *
                                     XC_PAGE_SIZE, &error_abort);
    g->base = memory_region_get_ram_addr(&g->mr);
    memory_region_add_subregion(sysmem, XEN_GRANT_DMA_ADDR_OFF, &g->mr);
    return true;
}
