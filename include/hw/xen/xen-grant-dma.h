/*
 * Grant-based DMA of Xen guests
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_XEN_GRANT_DMA_H
#define HW_XEN_GRANT_DMA_H

#include "exec/memory.h"

/*
 * A Xen guest whose virtio backend runs in another domain than dom0
 * (libxl gives its device an "iommus" link to a "xen,grant-dma" node)
 * does not hand out guest physical addresses for DMA: Linux's grant DMA
 * ops give the device the address (1 << 63) | (ref << 12) | offset, with
 * ref a grant reference of the page for the backend domain. A buffer of
 * several pages has consecutive references.
 */
#define XEN_GRANT_DMA_ADDR_OFF  (1ULL << 63)

/*
 * Grant references the window reaches: 2^20, i.e. 2048 grant table
 * frames of version 1, far above Xen's default of 64 frames a domain.
 */
#define XEN_GRANT_DMA_MAX_REFS  (1U << 20)

/*
 * Put the grant window of domain @domid into @sysmem at
 * XEN_GRANT_DMA_ADDR_OFF: devices that DMA into it reach the pages the
 * guest granted to this domain, mapped through the grant device for the
 * time of each access or address_space_map(). Without a grant device
 * there is no window, and the function says why.
 */
bool xen_grant_dma_init(MemoryRegion *sysmem, uint32_t domid, Error **errp);

/*
 * The map cache's side of the window, by ram_addr_t of its RAM block:
 * whether @ram_addr is in it, a mapping of @size bytes from there (@lock:
 * until xen_grant_dma_unmap(), else until the main loop runs again), the
 * ram_addr_t of a pointer into a mapping, and the end of a locked one.
 */
bool xen_grant_dma_contains(ram_addr_t ram_addr);
uint8_t *xen_grant_dma_map(ram_addr_t ram_addr, hwaddr size, bool lock,
                           bool is_write);
bool xen_grant_dma_ram_addr(void *ptr, ram_addr_t *ram_addr);
bool xen_grant_dma_unmap(void *ptr);

#endif /* HW_XEN_GRANT_DMA_H */
