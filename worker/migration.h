/* migration.h: the interface between the runner and one async migration's run function. */
#ifndef MESHSCOPE_MIGRATION_H
#define MESHSCOPE_MIGRATION_H

#include <stdint.h>

#include <sqlite3.h>

#include "migration_cancel.h"
#include "migration_params.h"

/* A millisecond clock; injectable so the limiters can be tested without waiting. */
typedef int64_t (*migration_clock_fn)(void *arg);

/* One progress report: rows done, rows the run intends to touch, whether it is the last. */
struct migration_progress {
    int64_t processed;
    int64_t total;
    int final;
};

/* Returns 0, or -1 with *errp set; a migration fails when its progress callback fails. */
typedef int (*migration_progress_fn)(void *arg, const struct migration_progress *progress,
                                     char **errp);

/*
 * Called by a migration between two batches, with no transaction open. It
 * waits out params->yield_ms (cut short by cancellation) and meanwhile does
 * the runner's housekeeping: a progress row the once-a-second limit held back,
 * the heartbeat, and (with operator control) a pause, a throttle or new
 * parameters, written into *params. Returns 0, or -1 with *errp set, which
 * fails the run.
 */
typedef int (*migration_between_fn)(void *arg, struct migration_params *params, char **errp);

struct migration_holds;

/* What a migration's run function is given. The connection is the migration's own. */
struct migration_env {
    sqlite3 *db;
    const char *name;
    struct migration_params params;
    struct migration_cancel *cancel; /* NULL: cannot be cancelled */
    migration_progress_fn progress;  /* NULL: no reports */
    void *progress_arg;
    migration_between_fn between;    /* NULL: a plain (cancellable) sleep of yield_ms */
    void *between_arg;
    migration_clock_fn clock; /* for the progress-log limiter; NULL: monotonic */
    void *clock_arg;
    struct migration_holds *holds; /* NULL: not recorded */
};

enum migration_outcome { MIGRATION_DONE, MIGRATION_CANCELLED, MIGRATION_FAILED };

/* Filled in by a run function in every outcome, including failure (partial counts). */
struct migration_result {
    enum migration_outcome outcome;
    int64_t processed;
    int64_t total;
    int64_t batches;
    int64_t max_hold_us;   /* longest time one batch held the writer */
    int64_t hold_total_us; /* time spent holding the writer, summed over batches */
    int64_t yield_us;      /* time spent between batches (yields, pauses, throttles) */
    int64_t wall_ms;
    int64_t taken_by_ingest; /* counted rows another writer filled first (done runs) */
};

/*
 * Runs the migration to completion or cancellation. Returns 0 with
 * result->outcome DONE or CANCELLED, or -1 with *errp set (outcome FAILED).
 *
 * Progress rules every run function keeps: a report right after each batch
 * that changed rows has committed (never later, or the row lags its commits
 * and looks stalled), none after a batch that changed nothing, and a terminal
 * report (final = 1) only when its counts differ from the last report. Every
 * report is made between transactions, with the writer released.
 */
typedef int (*migration_run_fn)(const struct migration_env *env,
                                struct migration_result *result, char **errp);

/* How the scheduler runs a job: once until it is done, or again and again. */
enum job_kind { JOB_ONE_OFF, JOB_RECURRING };

/* The flags recurring jobs are configured by (meshscope-worker --retain-days, --retain-every-min). */
struct recurring_config {
    int64_t retain_days;      /* 0: retention is off */
    int64_t retain_every_min;
};

/* One entry of the job registry (job_registry.c). */
struct migration {
    const char *name;
    migration_run_fn run;
    enum job_kind kind;
    /* Recurring jobs only: the interval under config in ms, 0 when the flags turn the job off. */
    int64_t (*every_ms)(const struct recurring_config *config);
    /* Recurring jobs only, may be NULL: readies one run (retention computes its cutoff). */
    void (*prepare)(const struct recurring_config *config);
};

/* The report and the between-batches call of env, for run functions. */
int migration_report(const struct migration_env *env, int64_t processed, int64_t total,
                     int final, char **errp);
int migration_between(const struct migration_env *env, struct migration_params *params,
                      char **errp);

#endif
