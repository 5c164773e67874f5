/* writer_demand.h: lets live ingest tell the migration runner it is waiting for SQLite's writer. */
#ifndef MESHSCOPE_WRITER_DEMAND_H
#define MESHSCOPE_WRITER_DEMAND_H

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

#endif
