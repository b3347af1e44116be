/*
 * Handle registry shared by the stand-in libraries, so that
 * xentoolcore_restrict_all() reaches every open handle like the real
 * libxentoolcore does.  The entry points keep the real internal names.
 */
#ifndef XENFV_TOOLCORE_H
#define XENFV_TOOLCORE_H

#include <stdint.h>

typedef struct Xentoolcore__Active_Handle Xentoolcore__Active_Handle;
typedef int Xentoolcore__Restrict_Callback(Xentoolcore__Active_Handle *,
                                           uint16_t domid);

struct Xentoolcore__Active_Handle {
    Xentoolcore__Restrict_Callback *restrict_callback;
    Xentoolcore__Active_Handle *next;
};

void xentoolcore__register_active_handle(Xentoolcore__Active_Handle *ah);
void xentoolcore__deregister_active_handle(Xentoolcore__Active_Handle *ah);
int xentoolcore__restrict_by_dup2_null(int fd);

#endif
