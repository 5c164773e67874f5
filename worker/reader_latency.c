/* reader_latency.c: a ring of pool latency snapshots, one a second, and the p99 of their difference. */
#include "reader_latency.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "poolstats_read.h"
#include "rate_limit.h"

#define READER_LATENCY_STEP_MS 1000
/* Enough one-second snapshots to always hold one a full window old. */
#define READER_LATENCY_RING (READER_LATENCY_WINDOW_MS / READER_LATENCY_STEP_MS + 2)

struct snapshot {
    int64_t at_ms;
    uint64_t buckets[POOLSTATS_BUCKETS + 1];
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct snapshot ring[READER_LATENCY_RING];
static int count, newest = -1;
static double last_p99_ms;
static struct rate_limiter warn_limit = {.interval_ms = 60000};

static void take(const char *path, int64_t now_ms)
{
    struct snapshot s = {.at_ms = now_ms};
    char *err = NULL;
    if (poolstats_read_latency(path, s.buckets, &err) != 0) {
        int64_t held = 0;
        if (rate_limiter_allow(&warn_limit, now_ms, &held))
            log_warnx("reader p99 throttle: %s (%lld such warnings held back)", err,
                      (long long)held);
        free(err);
        count = 0; /* a file that came back may be another pool's: start over */
        last_p99_ms = 0;
        return;
    }
    newest = (newest + 1) % READER_LATENCY_RING;
    ring[newest] = s;
    if (count < READER_LATENCY_RING)
        count++;
}

/* The newest snapshot at least the window older than the newest, or the oldest one held. */
static const struct snapshot *baseline(void)
{
    const struct snapshot *now = &ring[newest];
    const struct snapshot *base = NULL;
    for (int k = 1; k < count; k++) {
        base = &ring[(newest - k + READER_LATENCY_RING) % READER_LATENCY_RING];
        if (now->at_ms - base->at_ms >= READER_LATENCY_WINDOW_MS)
            break;
    }
    return base;
}

static double window_p99_ms(void)
{
    const struct snapshot *base = baseline();
    if (base == NULL)
        return 0.0;
    uint64_t diff[POOLSTATS_BUCKETS + 1];
    for (int b = 0; b <= POOLSTATS_BUCKETS; b++) {
        /* Counters only grow; one that shrank means the file was remade: no figure for it. */
        uint64_t a = ring[newest].buckets[b], o = base->buckets[b];
        diff[b] = a >= o ? a - o : 0;
    }
    return poolstats_quantile(diff, 0.99) * 1000.0;
}

double reader_latency_p99_ms(const char *path, int64_t now_ms)
{
    pthread_mutex_lock(&lock);
    if (count == 0 || now_ms - ring[newest].at_ms >= READER_LATENCY_STEP_MS) {
        take(path, now_ms);
        if (count > 0)
            last_p99_ms = window_p99_ms();
    }
    double p99 = last_p99_ms;
    pthread_mutex_unlock(&lock);
    return p99;
}

void reader_latency_reset(void)
{
    pthread_mutex_lock(&lock);
    memset(ring, 0, sizeof ring);
    count = 0;
    newest = -1;
    last_p99_ms = 0;
    pthread_mutex_unlock(&lock);
}
