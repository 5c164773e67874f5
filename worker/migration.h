/* migration.h: the async migration runner, its registry, progress rows and the status view. */
#ifndef MESHSCOPE_MIGRATION_H
#define MESHSCOPE_MIGRATION_H

#include <pthread.h>
#include <stdint.h>

#include <sqlite3.h>

#include "rate_limit.h"

/* Defaults of the batch policy (design §3, §5, §8). */
#define MIGRATION_DEFAULT_TARGET_BATCH_MS 50
#define MIGRATION_DEFAULT_YIELD_MS 100
#define MIGRATION_MAX_BATCH_SIZE 10000000
#define MIGRATION_MAX_TARGET_BATCH_MS 60000
#define MIGRATION_MAX_YIELD_MS 3600000

/* Progress rows are written at most this often per migration, except the terminal write. */
#define MIGRATION_PROGRESS_WRITE_INTERVAL_MS 1000
/* Progress-write errors are logged at most this often (with a count of those held back). */
#define MIGRATION_ERROR_LOG_INTERVAL_MS 60000
/* Progress lines in the log at most this often. */
#define MIGRATION_PROGRESS_LOG_INTERVAL_MS 10000

/* How a migration sizes its batches. */
struct migration_params {
    int adaptive;            /* 1: size batches so each holds the writer ~target_batch_ms */
    int64_t batch_size;      /* rows per batch when !adaptive */
    int64_t target_batch_ms; /* hold-time target when adaptive */
    int64_t yield_ms;        /* sleep between batches, cut short by cancellation */
};

/* Adaptive batches, 50 ms target, 100 ms yield. */
void migration_params_default(struct migration_params *params);
/* Rejects a batch size <= 0 (when fixed), a target <= 0 (when adaptive) and a negative yield. */
int migration_params_validate(const struct migration_params *params, char **errp);

/* A millisecond clock; injectable so the limiters can be tested without waiting. */
typedef int64_t (*migration_clock_fn)(void *arg);
int64_t migration_clock_monotonic(void *arg);

/*
 * Cancellation shared by the thread that stops the worker and the migration
 * thread: a flag plus a condition variable, so a yield ends the moment a stop
 * is requested rather than when its sleep runs out.
 */
struct migration_cancel {
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    int requested;
};
void migration_cancel_init(struct migration_cancel *cancel);
void migration_cancel_destroy(struct migration_cancel *cancel);
void migration_cancel_request(struct migration_cancel *cancel);
int migration_cancel_requested(struct migration_cancel *cancel);
/* Sleeps up to ms; returns 1 at once (or as soon as requested) when cancelled, else 0. */
int migration_cancel_wait(struct migration_cancel *cancel, int64_t ms);

/* One progress report: rows done, rows the run intends to touch, whether it is the last. */
struct migration_progress {
    int64_t processed;
    int64_t total;
    int final;
};

/* Returns 0, or -1 with *errp set; a migration fails when its progress callback fails. */
typedef int (*migration_progress_fn)(void *arg, const struct migration_progress *progress,
                                     char **errp);

/* Every batch's writer hold, kept only when a stats file was asked for. */
struct migration_holds {
    int64_t *us;
    size_t len, cap;
};
void migration_holds_add(struct migration_holds *holds, int64_t hold_us);
void migration_holds_release(struct migration_holds *holds);

/* What a migration's run function is given. The connection is the migration's own. */
struct migration_env {
    sqlite3 *db;
    const char *name;
    struct migration_params params;
    struct migration_cancel *cancel; /* NULL: cannot be cancelled */
    migration_progress_fn progress;  /* NULL: no reports */
    void *progress_arg;
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
    int64_t max_hold_us; /* longest time one batch held the writer */
    int64_t hold_total_us;     /* time spent holding the writer, summed over batches */
    int64_t yield_us;    /* time spent in the yields between batches */
    int64_t wall_ms;
    int64_t taken_by_ingest; /* counted rows another writer filled first (done runs) */
};

/*
 * Runs the migration to completion or cancellation. Returns 0 with
 * result->outcome DONE or CANCELLED, or -1 with *errp set (outcome FAILED).
 */
typedef int (*migration_run_fn)(const struct migration_env *env,
                                struct migration_result *result, char **errp);

struct migration {
    const char *name;
    migration_run_fn run;
};

/* runner.c: every migration the worker knows, in the order they run. */
extern const struct migration migration_registry[];
extern const size_t migration_registry_len;

/* migration_tx_last_seen_backfill.c */
#define TX_LAST_SEEN_BACKFILL_NAME "tx_last_seen_backfill_v1"
int tx_last_seen_backfill_run(const struct migration_env *env, struct migration_result *result,
                              char **errp);

/*
 * The adaptive batch sizer of the backfill, exposed for its tests: a decaying
 * average of rows per second sets the next batch so that it holds the writer
 * for BATCH_SIZER_AIM of the target, never below a floor and never more than
 * double the last. A batch runs as BATCH_SIZER_CHUNKS statements and stops
 * early when the next one would take it past BATCH_SIZER_DEADLINE of the
 * target. The target is a ceiling, not an average: the rest is headroom for
 * the last chunk and for scheduling jitter (on a shared 2-vCPU VM an 11 ms
 * CPU-bound loop was seen to take up to 35 ms).
 */
#define BATCH_SIZER_AIM 0.5
#define BATCH_SIZER_DEADLINE 0.75
#define BATCH_SIZER_CHUNKS 4
#define BATCH_SIZER_FIRST 100
#define BATCH_SIZER_FLOOR 10
#define BATCH_SIZER_GROWTH 2
struct batch_sizer {
    int adaptive;
    int64_t target_us;
    int64_t size;
    double rows_per_sec; /* 0 until the first measurement */
};
void batch_sizer_init(struct batch_sizer *sizer, const struct migration_params *params);
void batch_sizer_observe(struct batch_sizer *sizer, int64_t rows, int64_t hold_us);
/* Rows per statement within a batch (the whole batch when fixed). */
int64_t batch_sizer_chunk(const struct batch_sizer *sizer);
/* Whether a batch that held the writer elapsed_us for rows_done rows may run next_rows more. */
int batch_sizer_continue(const struct batch_sizer *sizer, int64_t elapsed_us, int64_t rows_done,
                         int64_t next_rows);

/*
 * progress.c: the progress callback the runner gives a migration. It writes
 * rows_processed, rows_total and last_update_at at most once a second, and
 * always for the terminal report. An update that matches no row is the error
 * "bookkeeping row missing". A failed write of an intermediate report is
 * logged (at most once a minute, counting the rest) and the migration goes on;
 * a failed terminal write fails the migration, since its counts are then
 * unknown.
 */
struct progress_writer {
    sqlite3 *db;
    const char *name;
    migration_clock_fn clock;
    void *clock_arg;
    migration_progress_fn observer; /* called first with every report; NULL: none */
    void *observer_arg;
    struct rate_limiter write_limit;
    struct rate_limiter error_log_limit;
    int64_t writes;
    int64_t write_errors;
    int64_t errors_logged;
};
void progress_writer_init(struct progress_writer *writer, sqlite3 *db, const char *name,
                          migration_clock_fn clock, void *clock_arg);
int progress_writer_report(void *writer, const struct migration_progress *progress,
                           char **errp);

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
};
void runner_options_default(struct runner_options *options);

/* Opens a read-write connection configured for a migration (busy timeout, no FK checks). */
int runner_open_connection(const char *path, sqlite3 **out, char **errp);

/*
 * Inserts a pending_async row for every registered migration that has none,
 * in one short transaction, so readers see the pending work from the start.
 */
int runner_register(sqlite3 *db, const struct migration *registry, size_t registry_len,
                    char **errp);

/*
 * Runs, in the calling thread, every registered migration whose row is not
 * done: resets its progress and start time, runs it, then records done or
 * failed. Stops at the first cancelled migration. Returns 0, or -1 when the
 * bookkeeping itself could not be read (the summary still counts what ran).
 */
int runner_run_pending(sqlite3 *db, const struct runner_options *options,
                       struct runner_summary *summary, char **errp);

/* The migration thread beside ingest. */
struct runner;
/*
 * Opens its own connection to path and runs the pending migrations of the
 * production registry in a new thread. on_finished (may be NULL) is called
 * from that thread when it has nothing left to do. stats_path (may be NULL)
 * names a JSON file written at the end: per migration that ran, its status,
 * rows, batches, wall, yield and work time, and every batch's writer hold.
 */
struct runner *runner_start(const char *path, const struct migration_params *params,
                            const char *stats_path, void (*on_finished)(void *arg), void *arg,
                            char **errp);
int runner_finished(struct runner *runner);
/* Asks the thread to stop after its current batch; returns at once. */
void runner_cancel(struct runner *runner);
/* Waits for the thread, frees it, and returns what it did. */
void runner_join(struct runner *runner, struct runner_summary *summary);

/* status.c: `meshscope-worker status --db PATH [--json]`; returns the exit code. */
int status_main(int argc, char **argv);

#endif
