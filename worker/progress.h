/* progress.h: the progress callback the runner gives a migration, which keeps its _async_migrations row current. */
#ifndef MESHSCOPE_PROGRESS_H
#define MESHSCOPE_PROGRESS_H

#include <stdint.h>

#include <sqlite3.h>

#include "migration.h"
#include "rate_limit.h"

/* Progress rows are written at most this often per migration, except the terminal write. */
#define PROGRESS_WRITE_INTERVAL_MS 1000
/* Progress-write errors are logged at most this often (with a count of those held back). */
#define PROGRESS_ERROR_LOG_INTERVAL_MS 60000
/*
 * While a job runs, its row is rewritten at least this often even when no
 * count changed (a walk over orphans, a pause), so a reader's "stalled"
 * means the worker is gone. Half the 10 s the contract allows, so a write
 * that waits for the writer still lands in time.
 */
#define PROGRESS_HEARTBEAT_MS 5000
/*
 * While a job is paused it writes its row when the pause begins, then only
 * this often: within the contract's 10 s, and quiet for the first seconds
 * after the pause was answered.
 */
#define PROGRESS_PAUSED_HEARTBEAT_MS 8000

/*
 * Writes rows_processed, rows_total and last_update_at at most once a second,
 * and always for a terminal report. A report the limit holds back is kept
 * and written by progress_writer_tick once the second has passed. An update
 * that matches no row is the error "bookkeeping row missing". A failed write
 * of an intermediate report is logged (at most once a minute, counting the
 * rest) and the migration goes on; a failed terminal write fails the
 * migration, since its counts are then unknown.
 */
/* The job's honest time and throttle, written with every row when the runner keeps them. */
struct progress_extra {
    int64_t active_ms, paused_ms, throttled_ms;
    double recent_rate;
    const char *throttle_reason; /* NULL: not throttled */
};

struct progress_writer {
    sqlite3 *db;
    const char *name;
    migration_clock_fn clock;
    void *clock_arg;
    migration_progress_fn observer; /* called first with every report; NULL: none */
    void *observer_arg;
    const struct progress_extra *extra; /* NULL: only the counts and last_update_at */
    struct rate_limiter write_limit;
    struct rate_limiter error_log_limit;
    struct migration_progress last; /* the latest report */
    int held;                       /* last is not written yet */
    int64_t last_write_ms;          /* when the row was last written (or the writer made) */
    int64_t heartbeat_ms;           /* PROGRESS_HEARTBEAT_MS, or the paused one */
    int64_t writes;
    int64_t write_errors;
    int64_t errors_logged;
};

void progress_writer_init(struct progress_writer *writer, sqlite3 *db, const char *name,
                          migration_clock_fn clock, void *clock_arg);
/* A migration_progress_fn; arg is the writer. */
int progress_writer_report(void *writer, const struct migration_progress *progress,
                           char **errp);
/* Writes a held-back report whose second has passed, or the heartbeat when one is due. */
void progress_writer_tick(struct progress_writer *writer);
/* Marks the row stale (a pause or throttle began or ended): the next tick writes it. */
void progress_writer_touch(struct progress_writer *writer);
/* Writes the row now, whatever the limit says (a pause starting); failures are logged. */
void progress_writer_flush(struct progress_writer *writer);
/* Milliseconds until progress_writer_tick next has something to write (0: now). */
int64_t progress_writer_due_in(const struct progress_writer *writer);

#endif
