/* runner_thread.h: the migration thread beside ingest, with its own connection. */
#ifndef MESHSCOPE_RUNNER_THREAD_H
#define MESHSCOPE_RUNNER_THREAD_H

#include "migration_params.h"
#include "runner.h"

struct runner;

/*
 * Opens its own connection to path and runs the pending migrations of the
 * production registry in a new thread. on_finished (may be NULL) is called
 * from that thread when it has nothing left to do. stats_path (may be NULL)
 * names the stats file written at the end (migration_stats.h). Returns 0 and
 * sets *out, or -1 with *errp set (invalid parameters, no database, no thread).
 */
int runner_start(const char *path, const struct migration_params *params,
                 const char *stats_path, void (*on_finished)(void *arg), void *arg,
                 struct runner **out, char **errp);
int runner_finished(struct runner *runner);
/* Asks the thread to stop after its current batch; returns at once. */
void runner_cancel(struct runner *runner);
/* Waits for the thread, frees it, and returns what it did (summary may be NULL). */
void runner_join(struct runner *runner, struct runner_summary *summary);

#endif
