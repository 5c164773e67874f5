/* writer_accounting.h: every write transaction of the worker, attributed to its source, with wait and hold histograms. */
#ifndef MESHSCOPE_WRITER_ACCOUNTING_H
#define MESHSCOPE_WRITER_ACCOUNTING_H

#include <sqlite3.h>
#include <stdint.h>

#include "writer_stats_table.h"

/* Sources; a migration's is "migration:" followed by its name. */
#define WRITER_SOURCE_INGEST "ingest"
#define WRITER_SOURCE_RETENTION "retention"
#define WRITER_SOURCE_CHECKPOINT "checkpoint"
#define WRITER_SOURCE_PROGRESS "progress"
#define WRITER_SOURCE_MIGRATION_PREFIX "migration:"
/* Operators' pauses and settings, stored by the control plane. */
#define WRITER_SOURCE_CONTROL "control"
/* The startup upgrade: added columns, new tables, the indexes. */
#define WRITER_SOURCE_SCHEMA "schema"

#define WRITER_ACCT_MAX_SOURCES 16
#define WRITER_ACCT_DEFAULT_SLOW_HOLD_MS 200

/* A hold over slow_hold_ms (0 = never) is logged with its source, at most once a second. */
void writer_acct_configure(int64_t slow_hold_ms);

/*
 * Records one write transaction: wait_us from asking for the write lock to
 * holding it, hold_us from then to its COMMIT returning. Thread-safe; a
 * source beyond WRITER_ACCT_MAX_SOURCES is counted under the last slot.
 */
void writer_acct_record(const char *source, int64_t wait_us, int64_t hold_us);

/*
 * Steps a bookkeeping statement; when it runs outside a transaction (an
 * autocommit write, whose lock wait cannot be told apart from its hold) its
 * time is recorded as a `progress` hold. Returns sqlite3_step's code.
 */
int writer_acct_step_progress(sqlite3_stmt *stmt);

/*
 * A short bookkeeping transaction, timed for the accounting: begin takes the
 * write lock (BEGIN IMMEDIATE) and notes how long that took; commit records
 * the wait and the hold under source. On an error *errp is "WHAT: message";
 * the caller rolls back.
 */
struct writer_txn {
    const char *source;
    int64_t wait_us, held_from_us;
};
int writer_txn_begin(sqlite3 *db, const char *source, const char *what, struct writer_txn *txn,
                     char **errp);
int writer_txn_commit(sqlite3 *db, const struct writer_txn *txn, const char *what, char **errp);

/* A checkpoint's outcome, for /api/perf/sqlite: frames in the WAL, frames copied back. */
void writer_acct_checkpoint(int log_frames, int done_frames, int completed);

/* 1 when figures changed since the last write and at least a second has passed. */
int writer_acct_flush_due(int64_t now_ms);

/* Upserts every source's row, inside the caller's open write transaction. */
int writer_acct_write(sqlite3 *db, char **errp);

/* writer_acct_write in a transaction of its own, when anything changed (the final figures at exit). */
int writer_acct_write_alone(sqlite3 *db, char **errp);

/* The total hold recorded for `source`, in microseconds (tests). */
int64_t writer_acct_hold_sum_us(const char *source);
void writer_acct_reset_for_test(void);

#endif
