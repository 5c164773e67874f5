/* poolstats_layout.h: the counters and latency histograms of the pool's shared stats file, and their arithmetic. */
#ifndef MESHSCOPE_POOLSTATS_LAYOUT_H
#define MESHSCOPE_POOLSTATS_LAYOUT_H

#include <stdint.h>

#define POOLSTATS_SLOTS 64        /* responders one file can hold */
#define POOLSTATS_MAX_ENDPOINTS 16 /* routes plus the "other" bucket */
#define POOLSTATS_CLASSES 4       /* 2xx, 3xx, 4xx, 5xx */
#define POOLSTATS_BUCKETS 18      /* latency bucket bounds; one more counter holds the overflow */

/* Upper bounds of the latency buckets, in microseconds (also the Prometheus `le` values). */
extern const uint64_t poolstats_bucket_bounds_us[POOLSTATS_BUCKETS];

struct poolstats_counters {
    uint64_t requests[POOLSTATS_MAX_ENDPOINTS][POOLSTATS_CLASSES];
    uint64_t latency[POOLSTATS_MAX_ENDPOINTS][POOLSTATS_BUCKETS + 1]; /* per bucket, not cumulative */
    uint64_t latency_sum_us[POOLSTATS_MAX_ENDPOINTS];
};

/* Request count of one endpoint over all status classes. */
uint64_t poolstats_endpoint_requests(const struct poolstats_counters *c, int endpoint);
/*
 * The q-quantile (0 < q <= 1) of one endpoint's latency histogram, in
 * seconds, interpolating linearly inside the bucket as Prometheus'
 * histogram_quantile does. 0 when there are no samples; the largest bound
 * when the quantile falls in the overflow bucket.
 */
double poolstats_quantile(const uint64_t buckets[POOLSTATS_BUCKETS + 1], double q);

/* a + b, or UINT64_MAX when that would wrap: sums of figures read from the file never go backwards. */
uint64_t poolstats_add_saturating(uint64_t a, uint64_t b);

/*
 * flock with a deadline of POOLSTATS_LOCK_WAIT_MS: 0 when taken, -1 (errno
 * EWOULDBLOCK on timeout) otherwise. Whoever holds the lock only folds a dead
 * slot or initialises the file, in microseconds: waiting longer means someone
 * holds it on purpose, and no reader may wait on them.
 */
#define POOLSTATS_LOCK_WAIT_MS 100
int poolstats_flock_bounded(int fd, int operation);

#endif
