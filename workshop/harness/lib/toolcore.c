/*
 * Stand-in libxentoolcore.so.1.
 */
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>
#include <xentoolcore.h>
#include "toolcore.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static Xentoolcore__Active_Handle *handles;

void xentoolcore__register_active_handle(Xentoolcore__Active_Handle *ah)
{
    pthread_mutex_lock(&lock);
    ah->next = handles;
    handles = ah;
    pthread_mutex_unlock(&lock);
}

void xentoolcore__deregister_active_handle(Xentoolcore__Active_Handle *ah)
{
    Xentoolcore__Active_Handle **p;

    pthread_mutex_lock(&lock);
    for (p = &handles; *p; p = &(*p)->next) {
        if (*p == ah) {
            *p = ah->next;
            break;
        }
    }
    pthread_mutex_unlock(&lock);
}

int xentoolcore_restrict_all(domid_t domid)
{
    Xentoolcore__Active_Handle *ah;
    int r = 0;

    pthread_mutex_lock(&lock);
    for (ah = handles; ah && r == 0; ah = ah->next) {
        r = ah->restrict_callback(ah, domid);
    }
    pthread_mutex_unlock(&lock);
    return r;
}

/* Like the real helper: the handle's fd now points at /dev/null. */
int xentoolcore__restrict_by_dup2_null(int fd)
{
    int nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    int r;

    if (nullfd < 0) {
        return -1;
    }
    r = dup2(nullfd, fd) < 0 ? -1 : 0;
    close(nullfd);
    return r;
}
