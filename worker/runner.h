/* runner.h: one pass over the registered migrations: run each one not done and record how it ended. */
#ifndef MESHSCOPE_RUNNER_H
#define MESHSCOPE_RUNNER_H

#include <stddef.h>

#include <sqlite3.h>

#include "job_control.h"
#include "migration.h"
#include "throttle.h"

/* What one pass of the runner did. */
struct runner_summary {
    int done;      /* completed in this pass */
    int skipped;   /* already done before it */
    int failed;
    int cancelled; /* stopped by a cancellation request; left pending_async */
};

/* Test seams of runner_run_pending; runner_options_default gives the production values. */
struct runner_options {
    const struct migration *registry;
    size_t registry_len;
    struct migration_params params;
    struct migration_cancel *cancel;
    migration_clock_fn clock;
    void *clock_arg;
    migration_progress_fn observer; /* sees every progress report before it is written */
    void *observer_arg;
    const char *stats_path; /* NULL: no stats file */
    struct job_control *control;            /* NULL: no pauses or settings */
    const struct throttle_config *throttle; /* NULL: never throttled */
};
void runner_options_default(struct runner_options *options);

/* Opens a read-write connection configured for a migration (busy timeout, no FK checks). */
int runner_open_connection(const char *path, sqlite3 **out, char **errp);

/*
 * Runs, in the calling thread, every one-off migration of the registry whose
 * row is not done (recurring entries are the scheduler's): resets its progress and start time, runs it, then records done,
 * stopped or failed with the final counts. Stops at the first cancelled
 * migration. Returns 0, or -1 when the bookkeeping itself could not be read
 * (the summary still counts what ran).
 */
int runner_run_pending(sqlite3 *db, const struct runner_options *options,
                       struct runner_summary *summary, char **errp);

/*
 * Runs one recurring job (retention) the way a migration runs: its row is
 * registered (with its interval, every_s) and reset, the pacing applies, and
 * it ends done, stopped or failed. With schedule_next, a run that ended
 * (done or failed) records its next run, every_s from now. Returns 0, or -1
 * when its row could not be registered.
 */
int runner_run_job(sqlite3 *db, const struct runner_options *options, const struct migration *job,
                   int64_t every_s, int schedule_next, struct runner_summary *summary,
                   char **errp);

#endif
