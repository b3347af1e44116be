/*
 * xc-set-target DM GUEST: make domain DM the device-model domain of GUEST
 * (XEN_DOMCTL_set_target, what libxl does for a stub domain). Run in dom0
 * (the control domain) by e2e mode driver-domain: with Xen 4.17's default
 * (dummy) XSM policy a driver domain may run an ioreq server for a guest,
 * foreign-map its RAM and use device-model operations on it only once it is
 * the guest's target (see driver-domain.md).
 * xc-set-target -q GUEST (in the device-model domain): print what
 * xendevicemodel_nr_vcpus() says about GUEST (a dm_op: is this domain
 * allowed to be its device model?).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xenctrl.h>
#include <xendevicemodel.h>

int main(int argc, char **argv)
{
    xc_interface *xch;
    unsigned long dm, guest;
    char *end;
    int rc;

    if (argc == 3 && !strcmp(argv[1], "-q")) {
        xendevicemodel_handle *dmod = xendevicemodel_open(NULL, 0);
        unsigned int vcpus = 0;

        if (!dmod) {
            fprintf(stderr, "xendevicemodel_open: %s\n", strerror(errno));
            return 1;
        }
        rc = xendevicemodel_nr_vcpus(dmod, strtoul(argv[2], NULL, 10), &vcpus);
        printf("xendevicemodel_nr_vcpus(%s) = %d (%s), vcpus %u\n", argv[2], rc,
               rc ? strerror(errno) : "ok", vcpus);
        xendevicemodel_close(dmod);
        return rc ? 1 : 0;
    }
    if (argc != 3) {
        fprintf(stderr, "usage: %s DM-DOMID GUEST-DOMID\n", argv[0]);
        return 2;
    }
    dm = strtoul(argv[1], &end, 10);
    if (*end || !*argv[1]) {
        fprintf(stderr, "bad domid %s\n", argv[1]);
        return 2;
    }
    guest = strtoul(argv[2], &end, 10);
    if (*end || !*argv[2]) {
        fprintf(stderr, "bad domid %s\n", argv[2]);
        return 2;
    }
    xch = xc_interface_open(NULL, NULL, 0);
    if (!xch) {
        fprintf(stderr, "xc_interface_open: %s\n", strerror(errno));
        return 1;
    }
    rc = xc_domain_set_target(xch, dm, guest);
    if (rc) {
        fprintf(stderr, "xc_domain_set_target(%lu, %lu): %s\n", dm, guest, strerror(errno));
        xc_interface_close(xch);
        return 1;
    }
    printf("domain %lu is now the device-model domain of %lu\n", dm, guest);
    xc_interface_close(xch);
    return 0;
}
