/* rate_limit.c: the limiter behind every rate-limited log line and progress write. */
#include "rate_limit.h"

#include <stddef.h>

void rate_limiter_init(struct rate_limiter *limiter, int64_t interval_ms)
{
    limiter->interval_ms = interval_ms;
    limiter->last_ms = 0;
    limiter->suppressed = 0;
    limiter->used = 0;
}

int rate_limiter_allow(struct rate_limiter *limiter, int64_t now_ms, int64_t *held_back)
{
    /* A clock that went backwards allows the event rather than muting it for
     * as long as the jump; the limiters exist to bound noise, not to hide it. */
    if (limiter->used && now_ms >= limiter->last_ms &&
        now_ms - limiter->last_ms < limiter->interval_ms) {
        limiter->suppressed++;
        return 0;
    }
    if (held_back != NULL)
        *held_back = limiter->suppressed;
    limiter->suppressed = 0;
    limiter->used = 1;
    limiter->last_ms = now_ms;
    return 1;
}
