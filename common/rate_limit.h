/* rate_limit.h: at most one event per interval, counting what it held back. */
#ifndef MESHSCOPE_RATE_LIMIT_H
#define MESHSCOPE_RATE_LIMIT_H

#include <stdint.h>

/*
 * At most one event per interval. The first event is always allowed; a denied
 * event is counted in `suppressed` so the next allowed one can say how many
 * were held back, which is how nothing is ever silenced for good. The caller
 * passes the time, so a test can drive it with a fake clock.
 */
struct rate_limiter {
    int64_t interval_ms;
    int64_t last_ms;
    int64_t suppressed;
    int used;
};

void rate_limiter_init(struct rate_limiter *limiter, int64_t interval_ms);
/* Returns 1 when allowed; *held_back (may be NULL) gets how many were denied since the last. */
int rate_limiter_allow(struct rate_limiter *limiter, int64_t now_ms, int64_t *held_back);

#endif
