/*
 * The simulated guest: vcpus that trap MMIO into ioreqs, the vGIC's
 * view of SPIs, and guest RAM.
 */
#ifndef XENFV_GUEST_H
#define XENFV_GUEST_H

#include "sim.h"

enum {
    GUEST_OK = 0,
    GUEST_DABT = 1,             /* nobody claims the address: data abort */
};

/*
 * One MMIO access by vcpu: 0, GUEST_DABT, or -errno (-ETIMEDOUT when
 * the device model does not answer, -ESRCH when the domain died).
 */
int guest_mmio(struct sim *s, unsigned vcpu, uint64_t addr, unsigned size,
               bool write, uint64_t *val);
uint32_t guest_read32(struct sim *s, unsigned vcpu, uint64_t addr);
void guest_write32(struct sim *s, unsigned vcpu, uint64_t addr, uint32_t v);

/*
 * Send req as-is to a server (-1: the one claiming req->addr) and wait
 * for the answer; req->data is updated.  For the fault tests.
 */
int guest_send_ioreq(struct sim *s, unsigned vcpu, int server, ioreq_t *req,
                     int timeout_ms);

/* IOREQ_TYPE_INVALIDATE to every enabled server, like Xen's broadcast. */
int guest_invalidate(struct sim *s, unsigned vcpu);

/* Wait for an SPI, acknowledge it (pending -> active); 0 or -ETIMEDOUT. */
int guest_wait_irq(struct sim *s, unsigned irq, int timeout_ms);
void guest_eoi(struct sim *s, unsigned irq);

/*
 * The vcpu this thread runs on (-1: none, accesses go round-robin over
 * the domain's vcpus) and the vcpu for the next access.
 */
void guest_set_vcpu(int vcpu);
unsigned guest_vcpu(struct sim *s);

void *guest_ptr(struct sim *s, uint64_t gpa, size_t len);
uint64_t guest_alloc(struct sim *s, size_t size, size_t align);

/*
 * Grant the pages of [gpa, gpa + len) to the device model, on consecutive
 * references as Linux's grant DMA ops do, and return the DMA address of
 * gpa: GRANT_DMA_BIT | first ref << 12 | offset.  0 when the table is
 * full.  guest_end_grants() ends them again and returns how many were
 * still mapped (those stay granted, as in Linux).
 */
uint64_t guest_grant(struct sim *s, uint64_t gpa, size_t len, bool ro);
unsigned guest_end_grants(struct sim *s, uint64_t dma, size_t len);

/* Deadline helper on CLOCK_MONOTONIC. */
void deadline_in(struct timespec *ts, int ms);

#endif
