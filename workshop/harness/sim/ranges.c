/*
 * Inclusive address ranges with the semantics of Xen's rangesets that
 * ioreq servers use: adjacent ranges merge, removal may split.
 */
#include <string.h>
#include "sim.h"

bool ranges_overlap(const struct range *r, int n, uint64_t s, uint64_t e)
{
    for (int i = 0; i < n; i++) {
        if (s <= r[i].end && e >= r[i].start) {
            return true;
        }
    }
    return false;
}

/* r[] is kept sorted and merged, so one range must cover [s, e]. */
bool ranges_contain(const struct range *r, int n, uint64_t s, uint64_t e)
{
    for (int i = 0; i < n; i++) {
        if (s >= r[i].start && e <= r[i].end) {
            return true;
        }
    }
    return false;
}

static void insert_at(struct range *r, int *n, int i, uint64_t s, uint64_t e)
{
    memmove(&r[i + 1], &r[i], (*n - i) * sizeof(*r));
    r[i] = (struct range) { s, e };
    (*n)++;
}

static void delete_at(struct range *r, int *n, int i)
{
    memmove(&r[i], &r[i + 1], (*n - i - 1) * sizeof(*r));
    (*n)--;
}

/* The caller has checked that [s, e] overlaps nothing. */
int ranges_add(struct range *r, int *n, uint64_t s, uint64_t e)
{
    int i = 0;

    while (i < *n && r[i].end < s) {
        i++;
    }
    if (i > 0 && r[i - 1].end + 1 == s) {
        r[i - 1].end = e;
        if (i < *n && e + 1 == r[i].start) {
            r[i - 1].end = r[i].end;
            delete_at(r, n, i);
        }
        return 0;
    }
    if (i < *n && e + 1 == r[i].start) {
        r[i].start = s;
        return 0;
    }
    if (*n >= MAX_RANGES) {
        return -1;
    }
    insert_at(r, n, i, s, e);
    return 0;
}

/* The caller has checked that one range contains [s, e]. */
void ranges_remove(struct range *r, int *n, uint64_t s, uint64_t e)
{
    for (int i = 0; i < *n; i++) {
        if (s < r[i].start || e > r[i].end) {
            continue;
        }
        if (s == r[i].start && e == r[i].end) {
            delete_at(r, n, i);
        } else if (s == r[i].start) {
            r[i].start = e + 1;
        } else if (e == r[i].end) {
            r[i].end = s - 1;
        } else if (*n < MAX_RANGES) {
            insert_at(r, n, i + 1, e + 1, r[i].end);
            r[i].end = s - 1;
        }
        return;
    }
}
