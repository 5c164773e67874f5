/* runner_thread.h: the migration thread beside ingest, with its own connection. */
#ifndef MESHSCOPE_RUNNER_THREAD_H
#define MESHSCOPE_RUNNER_THREAD_H

#include "migration_params.h"
#include "runner.h"

struct runner;

/* How to start the thread; every pointer but params may be NULL. */
struct runner_config {
    const struct migration_params *params;
    const char *stats_path;                 /* the stats file written at the end (migration_stats.h) */
    struct job_control *control;            /* pauses and settings; its waits are woken by the runner */
    const struct throttle_config *throttle;
    struct recurring_config recurring;      /* which recurring jobs run, and how often */
    int run_once;                           /* one run of each recurring job, then finish */
    void (*on_finished)(void *arg);         /* called from the thread when it has nothing left */
    void *arg;
};

/*
 * Opens its own connection to path and runs the pending migrations of the
 * production registry in a new thread. Returns 0 and sets *out, or -1 with
 * *errp set (invalid parameters, no database, no thread).
 */
int runner_start(const char *path, const struct runner_config *config, struct runner **out,
                 char **errp);
int runner_finished(struct runner *runner);
/* Asks the thread to stop after its current batch; returns at once. */
void runner_cancel(struct runner *runner);
/* Waits for the thread, frees it, and returns what it did (summary may be NULL). */
void runner_join(struct runner *runner, struct runner_summary *summary);

#endif
