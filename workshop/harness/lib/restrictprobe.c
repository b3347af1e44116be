/*
 * LD_PRELOAD'ed into the device model by xs-restrict.  Once the device
 * model has restricted its handles (xentoolcore_restrict_all()), the
 * first time it uses its device model, foreign memory and event channel
 * handles, each is also asked for something of the next domain: the
 * simulator must refuse that (EPERM) because the handle is restricted,
 * and counts the refusals.  The device model's own calls pass unchanged.
 */
#include <dlfcn.h>
#include <xendevicemodel.h>
#include <xenevtchn.h>
#include <xenforeignmemory.h>
#include <xentoolcore.h>

static int restricted_to = -1;
static int probed_dmod, probed_fmem, probed_evtchn;

#define REAL(fn) ((__typeof__(fn) *)dlsym(RTLD_NEXT, #fn))

/* The other domain to ask for, once per kind of handle; -1: not now. */
static int probe(int *probed)
{
    int domid = __atomic_load_n(&restricted_to, __ATOMIC_ACQUIRE);

    if (domid < 0 || __atomic_exchange_n(probed, 1, __ATOMIC_ACQ_REL)) {
        return -1;
    }
    return domid + 1;
}

int xentoolcore_restrict_all(domid_t domid)
{
    int r = REAL(xentoolcore_restrict_all)(domid);

    if (r == 0) {
        __atomic_store_n(&restricted_to, domid, __ATOMIC_RELEASE);
    }
    return r;
}

int xendevicemodel_set_irq_level(xendevicemodel_handle *dmod, domid_t domid,
                                 uint32_t irq, unsigned int level)
{
    int other = probe(&probed_dmod);

    if (other >= 0) {
        REAL(xendevicemodel_set_irq_level)(dmod, other, irq, 0);
    }
    return REAL(xendevicemodel_set_irq_level)(dmod, domid, irq, level);
}

void *xenforeignmemory_map2(xenforeignmemory_handle *fmem, uint32_t dom,
                            void *addr, int prot, int flags, size_t pages,
                            const xen_pfn_t arr[], int err[])
{
    int other = probe(&probed_fmem);

    if (other >= 0) {
        int e;
        void *p = REAL(xenforeignmemory_map2)(fmem, other, NULL, prot, 0, 1,
                                              arr, &e);

        if (p) {
            REAL(xenforeignmemory_unmap)(fmem, p, 1);
        }
    }
    return REAL(xenforeignmemory_map2)(fmem, dom, addr, prot, flags, pages,
                                       arr, err);
}

int xenevtchn_notify(xenevtchn_handle *xce, evtchn_port_t port)
{
    int other = probe(&probed_evtchn);

    if (other >= 0) {
        xenevtchn_port_or_error_t p =
            REAL(xenevtchn_bind_interdomain)(xce, other, 1);

        if (p >= 0) {
            REAL(xenevtchn_unbind)(xce, p);
        }
    }
    return REAL(xenevtchn_notify)(xce, port);
}
