/* ingest_stats.c: the window of recent acknowledgement latencies behind the p50/p99 gauges. */
#include "ingest.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void ingest_latency_add(struct ingest_latency *lat, double ms)
{
    if (!isfinite(ms) || ms < 0)
        ms = 0; /* a clock oddity must never put NaN into a gauge */
    lat->samples_ms[lat->next] = ms;
    lat->next = (lat->next + 1) % INGEST_LATENCY_WINDOW;
    if (lat->count < INGEST_LATENCY_WINDOW)
        lat->count++;
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Nearest rank: the smallest sample with at least p% of the samples at or below it. */
static double nearest_rank(const double *sorted, size_t n, double p)
{
    size_t rank = (size_t)ceil(p / 100.0 * (double)n);
    if (rank < 1)
        rank = 1;
    return sorted[rank - 1];
}

int ingest_latency_percentiles(const struct ingest_latency *lat, double *p50, double *p99)
{
    if (lat->count == 0)
        return -1;
    /* 2048 doubles: sorted once per commit at most, far cheaper than the commit itself. */
    double sorted[INGEST_LATENCY_WINDOW];
    memcpy(sorted, lat->samples_ms, lat->count * sizeof sorted[0]);
    qsort(sorted, lat->count, sizeof sorted[0], compare_double);
    *p50 = nearest_rank(sorted, lat->count, 50);
    *p99 = nearest_rank(sorted, lat->count, 99);
    return 0;
}
