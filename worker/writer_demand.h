/* writer_demand.h: lets live ingest tell the migration runner it is waiting for SQLite's writer. */
#ifndef MESHSCOPE_WRITER_DEMAND_H
#define MESHSCOPE_WRITER_DEMAND_H

#include <stdint.h>

/*
 * Ingest and the migration runner are threads of one worker process with
 * separate connections, and SQLite has no queue for its write lock: a waiter
 * just polls. So ingest announces its wait here, and a migration batch that
 * sees it commits after its current statement instead of running to its hold
 * target. Ingest then waits for one statement, not for a whole batch.
 */

/* Called by a writer that starts waiting for the lock; pair each with writer_demand_end(). */
void writer_demand_begin(void);
void writer_demand_end(void);

/* Returns 1 while any writer is waiting. */
int writer_demand_pending(void);

/*
 * Each begin/end pair's length is kept (the last 4096), so a job can throttle
 * on how long live ingest waits for the writer. Only waits are seen, not the
 * commits that did not wait, so the p99 is of the waits: a conservative figure.
 */
void writer_demand_record(int64_t end_ms, int64_t wait_us);
/* p99 of the waits that ended within the last window_ms (monotonic), in microseconds; 0 when none. */
int64_t writer_demand_wait_p99_us(int64_t window_ms);
void writer_demand_reset_for_test(void);

#endif
