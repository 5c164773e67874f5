/* poolstats_layout.c: bucket bounds, saturating sums, quantiles and the bounded lock of the pool's stats file. */
#include "poolstats_layout.h"

#include <errno.h>
#include <sys/file.h>
#include <unistd.h>

#include "util.h"

const uint64_t poolstats_bucket_bounds_us[POOLSTATS_BUCKETS] = {
    25,    50,    100,    250,    500,    1000,    2500,    5000,    10000,
    25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000,
};

uint64_t poolstats_add_saturating(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

int poolstats_flock_bounded(int fd, int operation)
{
    int64_t deadline = clock_monotonic_ms() + POOLSTATS_LOCK_WAIT_MS;
    for (;;) {
        if (flock(fd, operation | LOCK_NB) == 0)
            return 0;
        if (errno != EWOULDBLOCK && errno != EINTR)
            return -1;
        if (clock_monotonic_ms() >= deadline) {
            errno = EWOULDBLOCK;
            return -1;
        }
        usleep(1000);
    }
}

uint64_t poolstats_endpoint_requests(const struct poolstats_counters *c, int endpoint)
{
    uint64_t n = 0;
    for (int k = 0; k < POOLSTATS_CLASSES; k++)
        n = poolstats_add_saturating(n, c->requests[endpoint][k]);
    return n;
}

double poolstats_quantile(const uint64_t buckets[POOLSTATS_BUCKETS + 1], double q)
{
    /* In double: counts from the file may be anything, and their sum must not wrap. */
    double total = 0;
    for (int i = 0; i <= POOLSTATS_BUCKETS; i++)
        total += (double)buckets[i];
    if (total == 0 || !(q > 0))
        return 0.0;
    if (q > 1)
        q = 1;
    double rank = q * total;
    double below = 0;
    for (int i = 0; i < POOLSTATS_BUCKETS; i++) {
        if (buckets[i] > 0 && below + (double)buckets[i] >= rank) {
            double lower = i == 0 ? 0.0 : (double)poolstats_bucket_bounds_us[i - 1];
            double upper = (double)poolstats_bucket_bounds_us[i];
            double fraction = (rank - below) / (double)buckets[i];
            return (lower + (upper - lower) * fraction) / 1e6;
        }
        below += (double)buckets[i];
    }
    return (double)poolstats_bucket_bounds_us[POOLSTATS_BUCKETS - 1] / 1e6;
}
