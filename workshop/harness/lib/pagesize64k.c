/*
 * LD_PRELOAD'ed into the device model by the harness's page-size test:
 * the pages of a dom0 kernel built with 64 KiB pages, as getpagesize()
 * reports them, on a host that has 4 KiB pages.
 */
#include <unistd.h>

int getpagesize(void)
{
    return 65536;
}
