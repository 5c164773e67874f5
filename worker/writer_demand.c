/* writer_demand.c: a process-wide count of writers waiting for SQLite's write lock. */
#include "writer_demand.h"

#include <stdatomic.h>

static atomic_int writers_waiting;

void writer_demand_begin(void)
{
    atomic_fetch_add_explicit(&writers_waiting, 1, memory_order_release);
}

void writer_demand_end(void)
{
    atomic_fetch_sub_explicit(&writers_waiting, 1, memory_order_release);
}

int writer_demand_pending(void)
{
    return atomic_load_explicit(&writers_waiting, memory_order_acquire) > 0;
}
