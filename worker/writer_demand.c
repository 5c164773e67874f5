/* writer_demand.c: a process-wide count of writers waiting for SQLite's write lock, and how long they waited. */
#include "writer_demand.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>

#include "util.h"

static atomic_int writers_waiting;

/* Recent waits: (end, length) in a ring, read by the throttle between batches. */
#define WRITER_DEMAND_SAMPLES 4096
static struct {
    pthread_mutex_t mutex;
    int64_t end_ms[WRITER_DEMAND_SAMPLES];
    int64_t wait_us[WRITER_DEMAND_SAMPLES];
    size_t next, count;
} waits = {.mutex = PTHREAD_MUTEX_INITIALIZER};

static _Thread_local int64_t wait_began_us = -1;

void writer_demand_begin(void)
{
    wait_began_us = clock_monotonic_us();
    atomic_fetch_add_explicit(&writers_waiting, 1, memory_order_release);
}

void writer_demand_end(void)
{
    atomic_fetch_sub_explicit(&writers_waiting, 1, memory_order_release);
    if (wait_began_us < 0)
        return;
    int64_t end = clock_monotonic_us();
    writer_demand_record(end / 1000, end - wait_began_us);
    wait_began_us = -1;
}

void writer_demand_record(int64_t end_ms, int64_t wait_us)
{
    pthread_mutex_lock(&waits.mutex);
    waits.end_ms[waits.next] = end_ms;
    waits.wait_us[waits.next] = wait_us;
    waits.next = (waits.next + 1) % WRITER_DEMAND_SAMPLES;
    if (waits.count < WRITER_DEMAND_SAMPLES)
        waits.count++;
    pthread_mutex_unlock(&waits.mutex);
}

int writer_demand_pending(void)
{
    return atomic_load_explicit(&writers_waiting, memory_order_acquire) > 0;
}

static int compare_int64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int64_t writer_demand_wait_p99_us(int64_t window_ms)
{
    int64_t values[WRITER_DEMAND_SAMPLES];
    size_t n = 0;
    int64_t since = clock_monotonic_ms() - window_ms;
    pthread_mutex_lock(&waits.mutex);
    for (size_t i = 0; i < waits.count; i++)
        if (waits.end_ms[i] >= since)
            values[n++] = waits.wait_us[i];
    pthread_mutex_unlock(&waits.mutex);
    if (n == 0)
        return 0;
    qsort(values, n, sizeof values[0], compare_int64);
    size_t rank = (n * 99 + 99) / 100; /* nearest rank */
    return values[rank - 1];
}

void writer_demand_reset_for_test(void)
{
    pthread_mutex_lock(&waits.mutex);
    waits.next = waits.count = 0;
    pthread_mutex_unlock(&waits.mutex);
}
