/*
 * libxl_domain_config as programs built against Xen 4.17.0's libxl.h
 * know it: its members up to on_soft_reset, in a struct of that size.
 * Members appended since (see libxl.h) are invisible to such programs,
 * so the functions they call by the 4.17 names, defined here, work on a
 * libxl_domain_config of the current layout that holds a copy of the
 * caller's 4.17 members, and hand those members back afterwards.
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU Lesser General Public License as published
 * by the Free Software Foundation; version 2.1 only. with the special
 * exception on linking described in file LICENSE.
 *
 * This program is distributed in the hope that it will be useful,
 * but WITHOUT ANY WARRANTY; without even the implied warranty of
 * MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE.  See the
 * GNU Lesser General Public License for more details.
 */

#include "libxl_osdeps.h"

/*
 * In this file, libxl_domain_config is 4.17's struct (the type in the
 * debug information of the functions below is the one 4.17 programs
 * use), and the current one is libxl_domain_config_v2.
 */
#define libxl_domain_config libxl_domain_config_v2
#include "libxl_internal.h"
#undef libxl_domain_config

typedef struct libxl_domain_config {
    libxl_domain_create_info c_info;
    libxl_domain_build_info b_info;
    int num_disks;
    libxl_device_disk * disks;
    int num_nics;
    libxl_device_nic * nics;
    int num_pcidevs;
    libxl_device_pci * pcidevs;
    int num_rdms;
    libxl_device_rdm * rdms;
    int num_dtdevs;
    libxl_device_dtdev * dtdevs;
    int num_vfbs;
    libxl_device_vfb * vfbs;
    int num_vkbs;
    libxl_device_vkb * vkbs;
    int num_vtpms;
    libxl_device_vtpm * vtpms;
    int num_p9s;
    libxl_device_p9 * p9s;
    int num_pvcallsifs;
    libxl_device_pvcallsif * pvcallsifs;
    int num_vdispls;
    libxl_device_vdispl * vdispls;
    int num_vsnds;
    libxl_device_vsnd * vsnds;
    int num_channels;
    libxl_device_channel * channels;
    int num_usbctrls;
    libxl_device_usbctrl * usbctrls;
    int num_usbdevs;
    libxl_device_usbdev * usbdevs;
    libxl_action_on_shutdown on_poweroff;
    libxl_action_on_shutdown on_reboot;
    libxl_action_on_shutdown on_watchdog;
    libxl_action_on_shutdown on_crash;
    libxl_action_on_shutdown on_soft_reset;
} libxl_domain_config;

/* The bytes of the 4.17 members, the same in both layouts. */
#define SIZE_4_17 (offsetof(libxl_domain_config, on_soft_reset) + \
                   sizeof(libxl_action_on_shutdown))

#define SAME_MEMBER(m)                                                \
    BUILD_BUG_ON(offsetof(libxl_domain_config, m) !=                  \
                 offsetof(libxl_domain_config_v2, m) ||               \
                 sizeof(((libxl_domain_config *)0)->m) !=             \
                 sizeof(((libxl_domain_config_v2 *)0)->m))

static void check_layout(void)
{
    SAME_MEMBER(c_info);
    SAME_MEMBER(b_info);
    SAME_MEMBER(num_disks);
    SAME_MEMBER(disks);
    SAME_MEMBER(num_nics);
    SAME_MEMBER(nics);
    SAME_MEMBER(num_pcidevs);
    SAME_MEMBER(pcidevs);
    SAME_MEMBER(num_rdms);
    SAME_MEMBER(rdms);
    SAME_MEMBER(num_dtdevs);
    SAME_MEMBER(dtdevs);
    SAME_MEMBER(num_vfbs);
    SAME_MEMBER(vfbs);
    SAME_MEMBER(num_vkbs);
    SAME_MEMBER(vkbs);
    SAME_MEMBER(num_vtpms);
    SAME_MEMBER(vtpms);
    SAME_MEMBER(num_p9s);
    SAME_MEMBER(p9s);
    SAME_MEMBER(num_pvcallsifs);
    SAME_MEMBER(pvcallsifs);
    SAME_MEMBER(num_vdispls);
    SAME_MEMBER(vdispls);
    SAME_MEMBER(num_vsnds);
    SAME_MEMBER(vsnds);
    SAME_MEMBER(num_channels);
    SAME_MEMBER(channels);
    SAME_MEMBER(num_usbctrls);
    SAME_MEMBER(usbctrls);
    SAME_MEMBER(num_usbdevs);
    SAME_MEMBER(usbdevs);
    SAME_MEMBER(on_poweroff);
    SAME_MEMBER(on_reboot);
    SAME_MEMBER(on_watchdog);
    SAME_MEMBER(on_crash);
    SAME_MEMBER(on_soft_reset);
    BUILD_BUG_ON(sizeof(libxl_domain_config) >
                 sizeof(libxl_domain_config_v2));
}

/* cur = a copy of old's members, the newer ones at their initial values */
static void from_4_17(libxl_domain_config_v2 *cur,
                      const libxl_domain_config *old)
{
    check_layout();
    libxl_domain_config_init(cur);
    memcpy(cur, old, SIZE_4_17);
}

/*
 * old = cur's 4.17 members; what the newer members hold is disposed of
 * (a 4.17 program cannot see it), and cur must not be used any more.
 */
static void to_4_17(libxl_domain_config *old, libxl_domain_config_v2 *cur)
{
    libxl_domain_config_v2 rest;

    memcpy(old, cur, SIZE_4_17);
    libxl_domain_config_init(&rest);
    memcpy((char *)&rest + SIZE_4_17, (char *)cur + SIZE_4_17,
           sizeof(rest) - SIZE_4_17);
    libxl_domain_config_dispose(&rest);
}

libxl_domain_config_v2 *libxl__domain_config_from_4_17(libxl__gc *gc,
                                                       const void *old)
{
    libxl_domain_config_v2 *cur;

    GCNEW(cur);
    from_4_17(cur, old);
    return cur;
}

void libxl__domain_config_to_4_17(void *old, libxl_domain_config_v2 *cur)
{
    to_4_17(old, cur);
}

/* The functions of 4.17, under their 4.17 names. */
#undef libxl_domain_config_init
#undef libxl_domain_config_dispose
#undef libxl_domain_config_copy
#undef libxl_domain_config_gen_json
#undef libxl_domain_config_to_json
#undef libxl_domain_config_from_json
#undef libxl_domain_create_new
#undef libxl_domain_create_restore
#undef libxl_domain_soft_reset
#undef libxl_retrieve_domain_configuration
#undef libxl_domain_need_memory

void libxl_domain_config_init(libxl_domain_config *p);
void libxl_domain_config_dispose(libxl_domain_config *p);
void libxl_domain_config_copy(libxl_ctx *ctx, libxl_domain_config *dst,
                              const libxl_domain_config *src);
yajl_gen_status libxl_domain_config_gen_json(yajl_gen hand,
                                             libxl_domain_config *p);
char *libxl_domain_config_to_json(libxl_ctx *ctx, libxl_domain_config *p);
int libxl_domain_config_from_json(libxl_ctx *ctx, libxl_domain_config *p,
                                  const char *s);
int libxl_domain_create_new(libxl_ctx *ctx, libxl_domain_config *d_config,
                            uint32_t *domid,
                            const libxl_asyncop_how *ao_how,
                            const libxl_asyncprogress_how *aop_console_how);
int libxl_domain_create_restore(libxl_ctx *ctx,
                                libxl_domain_config *d_config,
                                uint32_t *domid, int restore_fd,
                                int send_back_fd,
                                const libxl_domain_restore_params *params,
                                const libxl_asyncop_how *ao_how,
                                const libxl_asyncprogress_how
                                *aop_console_how);
int libxl_domain_soft_reset(libxl_ctx *ctx, libxl_domain_config *d_config,
                            uint32_t domid,
                            const libxl_asyncop_how *ao_how,
                            const libxl_asyncprogress_how *aop_console_how);
int libxl_retrieve_domain_configuration(libxl_ctx *ctx, uint32_t domid,
                                        libxl_domain_config *d_config,
                                        const libxl_asyncop_how *ao_how);
int libxl_domain_need_memory(libxl_ctx *ctx, libxl_domain_config *config,
                             uint32_t domid_for_logging,
                             uint64_t *need_memkb);

void libxl_domain_config_init(libxl_domain_config *p)
{
    libxl_domain_config_v2 cur;

    libxl_domain_config_init_v2(&cur);
    memset(p, 0, sizeof(*p));
    to_4_17(p, &cur);
}

void libxl_domain_config_dispose(libxl_domain_config *p)
{
    libxl_domain_config_v2 cur;

    from_4_17(&cur, p);
    libxl_domain_config_dispose_v2(&cur);
    memset(p, 0, sizeof(*p));
}

void libxl_domain_config_copy(libxl_ctx *ctx, libxl_domain_config *dst,
                              const libxl_domain_config *src)
{
    libxl_domain_config_v2 cur_dst, cur_src;

    from_4_17(&cur_src, src);
    libxl_domain_config_init_v2(&cur_dst);
    libxl_domain_config_copy_v2(ctx, &cur_dst, &cur_src);
    to_4_17(dst, &cur_dst);
}

yajl_gen_status libxl_domain_config_gen_json(yajl_gen hand,
                                             libxl_domain_config *p)
{
    libxl_domain_config_v2 cur;

    from_4_17(&cur, p);
    return libxl_domain_config_gen_json_v2(hand, &cur);
}

char *libxl_domain_config_to_json(libxl_ctx *ctx, libxl_domain_config *p)
{
    libxl_domain_config_v2 cur;

    from_4_17(&cur, p);
    return libxl_domain_config_to_json_v2(ctx, &cur);
}

int libxl_domain_config_from_json(libxl_ctx *ctx, libxl_domain_config *p,
                                  const char *s)
{
    libxl_domain_config_v2 cur;
    int rc;

    rc = libxl_domain_config_from_json_v2(ctx, &cur, s);
    to_4_17(p, &cur);
    return rc;
}

static void disks_colo_restore(libxl_domain_config *d_config, bool enable)
{
    int i;

    for (i = 0; i < d_config->num_disks; i++)
        libxl_defbool_set(&d_config->disks[i].colo_restore_enable, enable);
}

int libxl_domain_create_new(libxl_ctx *ctx, libxl_domain_config *d_config,
                            uint32_t *domid,
                            const libxl_asyncop_how *ao_how,
                            const libxl_asyncprogress_how *aop_console_how)
{
    disks_colo_restore(d_config, false);
    return libxl__domain_create_4_17(ctx, d_config, domid, -1, -1, NULL,
                                     ao_how, aop_console_how);
}

int libxl_domain_create_restore(libxl_ctx *ctx,
                                libxl_domain_config *d_config,
                                uint32_t *domid, int restore_fd,
                                int send_back_fd,
                                const libxl_domain_restore_params *params,
                                const libxl_asyncop_how *ao_how,
                                const libxl_asyncprogress_how
                                *aop_console_how)
{
    disks_colo_restore(d_config, params->checkpointed_stream ==
                                 LIBXL_CHECKPOINTED_STREAM_COLO);
    libxl_defbool_setdefault(&d_config->b_info.arch_x86.msr_relaxed, true);
    return libxl__domain_create_4_17(ctx, d_config, domid, restore_fd,
                                     send_back_fd, params,
                                     ao_how, aop_console_how);
}

int libxl_domain_soft_reset(libxl_ctx *ctx, libxl_domain_config *d_config,
                            uint32_t domid,
                            const libxl_asyncop_how *ao_how,
                            const libxl_asyncprogress_how *aop_console_how)
{
    if (d_config->b_info.type != LIBXL_DOMAIN_TYPE_HVM) return ERROR_INVAL;

    return libxl__domain_soft_reset_4_17(ctx, d_config, domid, ao_how,
                                         aop_console_how);
}

int libxl_retrieve_domain_configuration(libxl_ctx *ctx, uint32_t domid,
                                        libxl_domain_config *d_config,
                                        const libxl_asyncop_how *ao_how)
{
    return libxl__retrieve_domain_configuration_4_17(ctx, domid, d_config,
                                                     ao_how);
}

int libxl_domain_need_memory(libxl_ctx *ctx, libxl_domain_config *config,
                             uint32_t domid_for_logging,
                             uint64_t *need_memkb)
{
    libxl_domain_config_v2 cur;
    int rc;

    from_4_17(&cur, config);
    rc = libxl_domain_need_memory_v2(ctx, &cur, domid_for_logging,
                                     need_memkb);
    to_4_17(config, &cur);
    return rc;
}

/*
 * Local variables:
 * mode: C
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
