/* job_pace.h: what the runner does between two batches of a job: pause, throttle, settings, yield, rate cap, progress. */
#ifndef MESHSCOPE_JOB_PACE_H
#define MESHSCOPE_JOB_PACE_H

#include <stdint.h>

#include <sqlite3.h>

#include "job_clock.h"
#include "job_control.h"
#include "job_wal.h"
#include "migration.h"
#include "progress.h"
#include "throttle.h"

struct job_pace {
    sqlite3 *db;
    const char *name;
    struct progress_writer *writer;
    struct migration_cancel *cancel;  /* NULL: cannot be cancelled */
    struct job_control *control;      /* NULL: no operator control */
    int job;                          /* its index in control */
    const struct throttle_config *throttle; /* NULL: never throttled */
    struct job_clock clock;
    struct progress_extra extra;      /* what the writer stores with each row */
    struct throttle_state throttled;
    uint64_t generation;              /* of the settings in force */
    int64_t processed, total;         /* the latest report */
    int64_t cap_mark_ms, cap_mark_processed; /* where the rate cap's interval starts */
    int64_t max_rows_per_sec;
    int64_t mode_since_ms;            /* when the current pause or throttle began */
    struct job_wal *wal;              /* NULL: the connection checkpoints on its own */
};

/* writer->extra is pointed at pace->extra. control and throttle may be NULL. */
void job_pace_init(struct job_pace *pace, sqlite3 *db, const char *name,
                   struct progress_writer *writer, struct migration_cancel *cancel,
                   struct job_control *control, int job, const struct throttle_config *throttle);
/* The job's parameters as the control plane has them now (base when there is no control). */
void job_pace_params(struct job_pace *pace, struct migration_params *params);
/* A migration_progress_fn: keeps the counts and the clock, then hands on to the writer. */
int job_pace_report(void *pace, const struct migration_progress *progress, char **errp);
/*
 * A migration_between_fn. First the WAL chores of the batch just committed
 * (job_wal.h), then it returns once the yield (and the rate cap's wait) has
 * passed with the job neither paused nor throttled, or at once on
 * cancellation. Meanwhile it writes held-back progress and heartbeats,
 * settles pauses, and hands new settings back in *params.
 */
int job_pace_between(void *pace, struct migration_params *params, char **errp);

#endif
