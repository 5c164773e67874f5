/* migration_tx_last_seen_backfill.c: tx_last_seen_backfill_v1, last_seen in short batches. */
#include "migration_tx_last_seen_backfill.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "batch_sizer.h"
#include "log.h"
#include "migration_stats.h"
#include "rate_limit.h"
#include "testhook.h"
#include "util.h"
#include "writer_demand.h"

/*
 * Scope is fixed once, in one read transaction: ids up to MAX(id) now. Rows
 * inserted later belong to ingest, which keeps their last_seen current inline.
 * The denominator counts exactly the rows the batches will update, with the
 * same predicate as the UPDATE below.
 */
static const char backfill_snapshot_sql[] = "SELECT MAX(id) FROM transmissions";
static const char backfill_count_sql[] =
    "SELECT count(*) FROM transmissions"
    " WHERE last_seen = 0 AND id <= ?1"
    " AND EXISTS (SELECT 1 FROM observations WHERE transmission_id = transmissions.id)";

/*
 * Batches are id ranges [lo, hi], where hi is the id of the batch_size-th row
 * still at last_seen = 0 (a walk of the transmissions(last_seen) index). The
 * next batch starts at hi + 1 whatever the batch did, so rows whose last_seen
 * stays 0 (orphans, a MAX(timestamp) of 0) can never be picked again: the loop
 * ends after at most (candidates / batch_size + 1) batches on any data. An id
 * range is also portable to SQLite builds without UPDATE ... LIMIT (see
 * docs/architecture.md).
 */
static const char backfill_boundary_sql[] =
    "SELECT id FROM transmissions WHERE last_seen = 0 AND id BETWEEN ?1 AND ?2"
    " ORDER BY id LIMIT 1 OFFSET ?3";

/*
 * A batch reads before it writes. Nearly all of its cost is computing each
 * row's MAX(observations.timestamp) (about 20 index probes per row); that runs
 * in a read transaction, which in WAL mode never blocks the writer. The write
 * transaction then only stores the precomputed values by primary key, so it
 * holds SQLite's single writer for a small fraction of the batch.
 *
 * The value is the reference statement's, so each row ends up exactly as the
 * one-statement UPDATE of docs/database.md would leave it. "last_seen = 0" is
 * checked again inside the write transaction: the only other writer is live
 * ingest, which sets last_seen to the maximum over all of a row's
 * observations whenever it adds one (docs/ingest.md, timestamps > 0), so a
 * row still at 0 has gained no observation since it was read, and a row ingest filled is left with
 * ingest's value. EXISTS keeps orphans out, so sqlite3_changes64() counts
 * exactly the rows rows_total promised; the reference leaves them at 0 too.
 */
static const char backfill_read_sql[] =
    "SELECT id, (SELECT MAX(timestamp) FROM observations WHERE transmission_id = transmissions.id)"
    " FROM transmissions"
    " WHERE id BETWEEN ?1 AND ?2 AND last_seen = 0"
    " AND EXISTS (SELECT 1 FROM observations WHERE transmission_id = transmissions.id)"
    " ORDER BY id";
static const char backfill_apply_sql[] =
    "UPDATE transmissions SET last_seen = ?2 WHERE id = ?1 AND last_seen = 0";

/*
 * A batch that has held the writer this long lets waiting live ingest go
 * first; below it, a batch always finishes, so the backfill keeps moving
 * however busy ingest is.
 */
#define BACKFILL_MIN_HOLD_US 2000

/* Checkpoint after this many new WAL frames, as SQLite's auto-checkpoint would. */
#define BACKFILL_CHECKPOINT_FRAMES 1000

struct backfill_row {
    int64_t id;
    sqlite3_value *last_seen; /* MAX(timestamp) as stored: any type, like the reference */
};

struct backfill {
    const struct migration_env *env;
    sqlite3 *db;
    sqlite3_stmt *boundary;
    sqlite3_stmt *read;
    sqlite3_stmt *apply;
    /* Values read ahead, written over one or more batches: rows[rows_done..rows_count). */
    struct backfill_row *rows;
    size_t rows_cap, rows_count, rows_done;
    int64_t read_next;   /* first id after the rows read */
    int64_t read_walked; /* index rows the read walked, orphans included */
    int read_last;       /* the read reached the snapshot */
    int64_t snapshot;
    int wal_fd;           /* the -wal file, for backfill_flush_wal; -1 when unknown */
    int wal_frames;       /* set by the WAL hook after each commit */
    int checkpoint_frames; /* WAL size after our last checkpoint */
};

static int64_t monotonic_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t env_now_ms(const struct migration_env *env)
{
    return env->clock ? env->clock(env->clock_arg) : clock_monotonic_ms();
}

static int query_int64(sqlite3 *db, const char *sql, int64_t bind1, int has_bind,
                       int64_t *value, int *is_null, const char *what, char **errp)
{
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK)
        return set_error(errp, "%s failed: %s", what, sqlite3_errmsg(db));
    if (has_bind)
        sqlite3_bind_int64(stmt, 1, bind1);
    int rc = sqlite3_step(stmt);
    if (rc != SQLITE_ROW) {
        set_error(errp, "%s failed: %s", what,
                  rc == SQLITE_DONE ? "no row returned" : sqlite3_errmsg(db));
        sqlite3_finalize(stmt);
        return -1;
    }
    *is_null = sqlite3_column_type(stmt, 0) == SQLITE_NULL;
    *value = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    return 0;
}

static void rollback_if_open(sqlite3 *db)
{
    if (!sqlite3_get_autocommit(db))
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
}

/* Reads MAX(id) and the honest denominator from one snapshot of the database. */
static int backfill_snapshot(struct backfill *bf, int *empty, int64_t *total, char **errp)
{
    int is_null = 0;
    if (sqlite3_exec(bf->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        return set_error(errp, "snapshot failed: %s", sqlite3_errmsg(bf->db));
    if (query_int64(bf->db, backfill_snapshot_sql, 0, 0, &bf->snapshot, &is_null,
                    "snapshot of MAX(id)", errp) != 0)
        goto err;
    *empty = is_null;
    *total = 0;
    if (!is_null && query_int64(bf->db, backfill_count_sql, bf->snapshot, 1, total, &is_null,
                                "count of rows to fill", errp) != 0)
        goto err;
    if (sqlite3_exec(bf->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        set_error(errp, "snapshot failed: %s", sqlite3_errmsg(bf->db));
        goto err;
    }
    return 0;

err:
    rollback_if_open(bf->db);
    return -1;
}

/* Finds the end of the batch starting at lo; *last is set when it reaches the snapshot. */
static int backfill_boundary(struct backfill *bf, int64_t lo, int64_t size, int64_t *hi,
                             int *last, char **errp)
{
    sqlite3_stmt *stmt = bf->boundary;
    sqlite3_reset(stmt);
    sqlite3_bind_int64(stmt, 1, lo);
    sqlite3_bind_int64(stmt, 2, bf->snapshot);
    sqlite3_bind_int64(stmt, 3, size - 1);
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        *hi = sqlite3_column_int64(stmt, 0);
        *last = *hi >= bf->snapshot;
    } else if (rc == SQLITE_DONE) {
        *hi = bf->snapshot;
        *last = 1;
    } else {
        set_error(errp, "finding the batch after id %" PRId64 " failed: %s", lo,
                  sqlite3_errmsg(bf->db));
        sqlite3_reset(stmt);
        return -1;
    }
    sqlite3_reset(stmt);
    return 0;
}

static void backfill_rows_clear(struct backfill *bf)
{
    for (size_t i = 0; i < bf->rows_count; i++)
        sqlite3_value_free(bf->rows[i].last_seen);
    bf->rows_count = bf->rows_done = 0;
}

/* Appends the rows of [lo, hi] still to fill, with their values, to bf->rows. */
static int backfill_read_range(struct backfill *bf, int64_t lo, int64_t hi, size_t *count,
                               char **errp)
{
    sqlite3_stmt *stmt = bf->read;
    sqlite3_reset(stmt);
    sqlite3_bind_int64(stmt, 1, lo);
    sqlite3_bind_int64(stmt, 2, hi);
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (*count == bf->rows_cap) {
            bf->rows_cap = bf->rows_cap ? bf->rows_cap * 2 : 256;
            bf->rows = xrealloc(bf->rows, bf->rows_cap * sizeof *bf->rows);
        }
        bf->rows[*count].id = sqlite3_column_int64(stmt, 0);
        bf->rows[*count].last_seen = sqlite3_value_dup(sqlite3_column_value(stmt, 1));
        if (bf->rows[*count].last_seen == NULL) {
            sqlite3_reset(stmt);
            return set_error(errp, "reading ids %" PRId64 "..%" PRId64 ": out of memory", lo,
                             hi);
        }
        (*count)++;
    }
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE)
        return set_error(errp, "reading ids %" PRId64 "..%" PRId64 " failed: %s", lo, hi,
                         sqlite3_errmsg(bf->db));
    return 0;
}

/* Reads the values of the next rows still at 0, up to the batch size, into bf->rows. */
static int backfill_read_ahead(struct backfill *bf, const struct batch_sizer *sizer, int64_t lo,
                               char **errp)
{
    backfill_rows_clear(bf);
    size_t count = 0;
    int64_t next = lo, walked = 0;
    int last = 0;
    if (sqlite3_exec(bf->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        return set_error(errp, "starting the read of the batch at id %" PRId64 " failed: %s",
                         lo, sqlite3_errmsg(bf->db));
    while (walked < sizer->size && !last) {
        int64_t chunk = batch_sizer_chunk(sizer);
        if (chunk > sizer->size - walked)
            chunk = sizer->size - walked;
        int64_t hi = 0;
        int rc = backfill_boundary(bf, next, chunk, &hi, &last, errp);
        if (rc == 0)
            rc = backfill_read_range(bf, next, hi, &count, errp);
        bf->rows_count = count; /* so a failure still frees what was read */
        if (rc != 0) {
            rollback_if_open(bf->db);
            return -1;
        }
        walked += chunk;
        if (!last)
            next = hi + 1; /* at the snapshot hi may be INT64_MAX */
    }
    if (sqlite3_exec(bf->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        set_error(errp, "ending the read of the batch at id %" PRId64 " failed: %s", lo,
                  sqlite3_errmsg(bf->db));
        rollback_if_open(bf->db);
        return -1;
    }
    bf->read_next = next;
    bf->read_walked = walked;
    bf->read_last = last;
    return 0;
}

/*
 * One batch: when nothing is left from an earlier read, a read transaction
 * computes the values of the next rows still at 0 (chunks of the
 * transmissions(last_seen) index walk, up to the batch size); then one short
 * write transaction stores them. The write stops early when it would pass the
 * adaptive deadline or, after BACKFILL_MIN_HOLD_US, when live ingest is
 * waiting for the writer (writer_demand.h); the rest is written by the next
 * batches without being read again (the last_seen = 0 check keeps stale
 * values safe, see backfill_apply_sql). *lo moves to the first id not yet
 * done; *walked counts the rows this batch accounts for; *hold_us is the
 * write transaction's time.
 */
static int backfill_batch(struct backfill *bf, const struct batch_sizer *sizer, int64_t *lo,
                          int64_t *walked, int64_t *changed, int *last, int64_t *hold_us,
                          char **errp)
{
    *walked = *changed = *hold_us = 0;
    *last = 0;
    if (bf->rows_done == bf->rows_count && backfill_read_ahead(bf, sizer, *lo, errp) != 0)
        return -1;
    size_t first = bf->rows_done, count = bf->rows_count, i = first;

    /* IMMEDIATE takes the write lock up front, waiting in the busy handler
     * rather than failing to upgrade a read transaction halfway. */
    if (sqlite3_exec(bf->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return set_error(errp, "starting the batch at id %" PRId64 " failed: %s", *lo,
                         sqlite3_errmsg(bf->db));
    int64_t start = monotonic_us();
    for (; i < count; i++) {
        if (i > first) {
            int64_t held = monotonic_us() - start;
            if ((held >= BACKFILL_MIN_HOLD_US && writer_demand_pending()) ||
                !batch_sizer_continue(sizer, held, (int64_t)(i - first), 1))
                break;
        }
        sqlite3_stmt *stmt = bf->apply;
        sqlite3_reset(stmt);
        sqlite3_bind_int64(stmt, 1, bf->rows[i].id);
        /* COALESCE(MAX(timestamp), last_seen) of the reference; last_seen is 0 here. */
        if (sqlite3_value_type(bf->rows[i].last_seen) == SQLITE_NULL)
            sqlite3_bind_int64(stmt, 2, 0);
        else
            sqlite3_bind_value(stmt, 2, bf->rows[i].last_seen);
        int rc = sqlite3_step(stmt);
        sqlite3_reset(stmt);
        if (rc != SQLITE_DONE) {
            set_error(errp, "update of ids %" PRId64 "..%" PRId64 " failed: %s",
                      bf->rows[i].id, bf->rows[count - 1].id, sqlite3_errmsg(bf->db));
            rollback_if_open(bf->db);
            return -1;
        }
        /* The 64-bit count: a pinned batch size may exceed what an int holds. */
        *changed += sqlite3_changes64(bf->db);
    }
    testhook_pause(TESTHOOK_BACKFILL_BATCH);
    if (sqlite3_exec(bf->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        set_error(errp, "commit of the batch from id %" PRId64 " failed: %s", *lo,
                  sqlite3_errmsg(bf->db));
        rollback_if_open(bf->db);
        return -1;
    }
    *hold_us = monotonic_us() - start;
    bf->rows_done = i;
    if (i < count) {
        *lo = bf->rows[i].id;
        *walked = (int64_t)(i - first);
    } else {
        *lo = bf->read_next;
        *last = bf->read_last;
        /* A batch that wrote a whole read accounts for the orphans it walked too. */
        *walked = first == 0 ? bf->read_walked : (int64_t)(i - first);
    }
    return 0;
}

/*
 * The commit's wal hook replaces SQLite's auto-checkpoint on this connection,
 * which would otherwise run inside COMMIT and be counted as writer hold time
 * even though the write lock is already released. The checkpoint runs after
 * the hold is measured instead, PASSIVE so it never waits for readers or ingest.
 */
static int backfill_wal_hook(void *arg, sqlite3 *db, const char *schema, int frames)
{
    (void)db;
    (void)schema;
    ((struct backfill *)arg)->wal_frames = frames;
    return SQLITE_OK;
}

/*
 * Batches commit with synchronous=NORMAL: no fsync while holding the writer.
 * Live ingest commits with a full fsync of the WAL, and that fsync would write
 * out every page the backfill left dirty in the page cache, holding the
 * writer for as long. So after each commit, with no lock held, the backfill
 * flushes its own pages (fdatasync through a second descriptor of the same
 * file). A failure here only costs ingest that flush; it is not an error.
 */
static void backfill_flush_wal(struct backfill *bf)
{
    if (bf->wal_fd < 0) {
        const char *db_path = sqlite3_db_filename(bf->db, "main");
        if (db_path == NULL || *db_path == '\0')
            return;
        char *wal_path = xasprintf("%s-wal", db_path);
        bf->wal_fd = open(wal_path, O_RDONLY | O_CLOEXEC);
        free(wal_path);
        if (bf->wal_fd < 0)
            return;
    }
    fdatasync(bf->wal_fd);
}

static int backfill_checkpoint(struct backfill *bf, char **errp)
{
    if (bf->wal_frames < bf->checkpoint_frames)
        bf->checkpoint_frames = 0; /* the WAL was restarted from its beginning */
    if (bf->wal_frames - bf->checkpoint_frames < BACKFILL_CHECKPOINT_FRAMES)
        return 0;
    int log_frames = 0, done_frames = 0;
    int64_t start = monotonic_us();
    int rc = sqlite3_wal_checkpoint_v2(bf->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log_frames,
                                       &done_frames);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY && rc != SQLITE_LOCKED)
        return set_error(errp, "checkpoint failed: %s", sqlite3_errmsg(bf->db));
    log_debug("%s: checkpoint of %d/%d WAL frames took %.1f ms", bf->env->name, done_frames,
              log_frames, (double)(monotonic_us() - start) / 1000.0);
    bf->checkpoint_frames = bf->wal_frames;
    return 0;
}

/*
 * Gives SQLite's auto-checkpoint back before the statements go: finalizing the
 * last statement of a connection closed with sqlite3_close_v2 frees it.
 */
static void backfill_release(struct backfill *bf, int hooked)
{
    if (hooked)
        sqlite3_wal_autocheckpoint(bf->db, BACKFILL_CHECKPOINT_FRAMES);
    sqlite3_finalize(bf->boundary);
    sqlite3_finalize(bf->read);
    sqlite3_finalize(bf->apply);
    bf->boundary = bf->read = bf->apply = NULL;
    backfill_rows_clear(bf);
    free(bf->rows);
    bf->rows = NULL;
    bf->rows_cap = 0;
    if (bf->wal_fd >= 0)
        close(bf->wal_fd);
    bf->wal_fd = -1;
}

/* Progress lines in the log at most this often. */
#define BACKFILL_LOG_INTERVAL_MS 10000

static void backfill_log_policy(const struct migration_env *env, int64_t total, int empty,
                                int64_t snapshot)
{
    char policy[128];
    if (env->params.adaptive)
        snprintf(policy, sizeof policy,
                 "adaptive batches holding the writer <= %" PRId64 " ms (first %d rows)",
                 env->params.target_batch_ms, BATCH_SIZER_FIRST);
    else
        snprintf(policy, sizeof policy, "fixed batches of %" PRId64 " rows",
                 env->params.batch_size);
    if (empty)
        log_info("%s: starting: 0 rows to fill (no transmissions); %s, yield %" PRId64 " ms",
                 env->name, policy, env->params.yield_ms);
    else
        log_info("%s: starting: %" PRId64 " rows to fill (ids up to %" PRId64
                 "); %s, yield %" PRId64 " ms",
                 env->name, total, snapshot, policy, env->params.yield_ms);
}

static void backfill_log_progress(const struct migration_env *env, int64_t processed,
                                  int64_t total, int64_t elapsed_ms)
{
    double rate = elapsed_ms > 0 ? (double)processed * 1000.0 / (double)elapsed_ms : 0.0;
    double pct = total > 0 ? 100.0 * (double)processed / (double)total : 100.0;
    if (rate > 0)
        log_info("%s: %" PRId64 "/%" PRId64 " rows (%.1f%%), %.0f rows/s, ETA %.0f s",
                 env->name, processed, total, pct, rate, (double)(total - processed) / rate);
    else
        log_info("%s: %" PRId64 "/%" PRId64 " rows (%.1f%%), rate unknown, ETA unknown",
                 env->name, processed, total, pct);
}

static void backfill_log_end(const struct migration_env *env,
                             const struct migration_params *params,
                             const struct migration_result *r, const char *how)
{
    char policy[96];
    if (params->adaptive)
        snprintf(policy, sizeof policy, "target %" PRId64 " ms", params->target_batch_ms);
    else
        snprintf(policy, sizeof policy, "fixed batches of %" PRId64 " rows", params->batch_size);
    char taken[96] = "";
    if (r->taken_by_ingest > 0)
        snprintf(taken, sizeof taken, "; %" PRId64 " counted rows were filled by ingest first",
                 r->taken_by_ingest);
    log_info("%s: %s: %" PRId64 "/%" PRId64 " rows in %" PRId64
             " batches, longest batch hold %.1f ms (%s), work %.2f s, wall time %.2f s%s",
             env->name, how, r->processed, r->total, r->batches, (double)r->max_hold_us / 1000.0,
             policy, (double)(r->wall_ms * 1000 - r->yield_us) / 1e6,
             (double)r->wall_ms / 1000.0, taken);
}

/* The state of one run across its batches. */
struct backfill_run {
    const struct migration_env *env;
    struct backfill bf;
    struct migration_params params; /* the env's, as retuned between batches */
    struct batch_sizer sizer;
    struct rate_limiter log_limit;
    int64_t start_ms, start_us;
    int64_t lo;                     /* the first id of the next batch */
    int reported;                   /* a report was made; its counts are below */
    int64_t reported_processed, reported_total;
};

static int backfill_prepare(struct backfill *bf, char **errp)
{
    if (sqlite3_prepare_v2(bf->db, backfill_boundary_sql, -1, &bf->boundary, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(bf->db, backfill_read_sql, -1, &bf->read, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(bf->db, backfill_apply_sql, -1, &bf->apply, NULL) != SQLITE_OK)
        return set_error(errp, "preparing the batch statements failed: %s",
                         sqlite3_errmsg(bf->db));
    sqlite3_wal_hook(bf->db, backfill_wal_hook, bf);
    return 0;
}

/* Reports the counts now committed; also the terminal report, made only when they are new. */
static int backfill_report(struct backfill_run *run, const struct migration_result *result,
                           int final, char **errp)
{
    if (final && run->reported && run->reported_processed == result->processed &&
        run->reported_total == result->total)
        return 0;
    run->reported = 1;
    run->reported_processed = result->processed;
    run->reported_total = result->total;
    return migration_report(run->env, result->processed, result->total, final, errp);
}

static void backfill_account(struct backfill_run *run, struct migration_result *result,
                             int64_t first, int64_t walked, int64_t changed, int64_t hold_us)
{
    const struct migration_env *env = run->env;
    result->batches++;
    result->hold_total_us += hold_us;
    if (env->holds != NULL)
        migration_holds_add(env->holds, hold_us);
    if (hold_us > result->max_hold_us)
        result->max_hold_us = hold_us;
    log_debug("%s: batch %" PRId64 ": from id %" PRId64 ", %" PRId64 " of %" PRId64
              " candidates walked, %" PRId64 " updated, held %.1f ms",
              env->name, result->batches, first, walked, run->sizer.size, changed,
              (double)hold_us / 1000.0);
    result->processed += changed;
    /* Only a row given an observation by hand after the count (ingest fills
     * rows itself) can push past the denominator; never report more done
     * than there is to do. */
    if (result->processed > result->total)
        result->total = result->processed;
}

/* One batch and what follows it: the report, the WAL flush, the checkpoint, the log line. */
static int backfill_step(struct backfill_run *run, struct migration_result *result, int *last,
                         char **errp)
{
    int64_t first = run->lo, walked = 0, changed = 0, hold_us = 0;
    if (backfill_batch(&run->bf, &run->sizer, &run->lo, &walked, &changed, last, &hold_us,
                       errp) != 0)
        return -1;
    backfill_account(run, result, first, walked, changed, hold_us);
    if (changed > 0 && backfill_report(run, result, 0, errp) != 0)
        return -1;
    backfill_flush_wal(&run->bf);
    if (backfill_checkpoint(&run->bf, errp) != 0)
        return -1;
    if (!*last)
        batch_sizer_observe(&run->sizer, walked, hold_us);
    int64_t now_ms = env_now_ms(run->env);
    if (rate_limiter_allow(&run->log_limit, now_ms, NULL))
        backfill_log_progress(run->env, result->processed, result->total,
                              now_ms - run->start_ms);
    return 0;
}

/* Between batches: the yield (and whatever the runner does there), then any new parameters. */
static int backfill_between(struct backfill_run *run, struct migration_result *result,
                            char **errp)
{
    struct migration_params before = run->params;
    int64_t start = monotonic_us();
    int rc = migration_between(run->env, &run->params, errp);
    result->yield_us += monotonic_us() - start;
    if (rc == 0 && memcmp(&before, &run->params, sizeof before) != 0)
        batch_sizer_retune(&run->sizer, &run->params);
    return rc;
}

static int backfill_loop(struct backfill_run *run, struct migration_result *result, char **errp)
{
    const struct migration_env *env = run->env;
    run->lo = INT64_MIN;
    for (;;) {
        if (env->cancel != NULL && migration_cancel_requested(env->cancel)) {
            result->outcome = MIGRATION_CANCELLED;
            return 0;
        }
        int last = 0;
        if (backfill_step(run, result, &last, errp) != 0)
            return -1;
        if (last) {
            result->outcome = MIGRATION_DONE;
            return 0;
        }
        if (backfill_between(run, result, errp) != 0)
            return -1;
    }
}

static void backfill_log_failure(const struct migration_env *env,
                                 const struct migration_result *result)
{
    log_warnx("%s: failed after %" PRId64 "/%" PRId64 " rows in %" PRId64
              " batches, longest batch hold %.1f ms",
              env->name, result->processed, result->total, result->batches,
              (double)result->max_hold_us / 1000.0);
}

/*
 * Reports come right after each batch that changed rows commits, with the
 * counts then committed, so the row never lags its commits; the terminal
 * report follows only when its counts are new (a completed run may lower the
 * total, see below). Every report is made between transactions, with the
 * writer released, and never over-reports.
 */
int tx_last_seen_backfill_run(const struct migration_env *env, struct migration_result *result,
                              char **errp)
{
    struct backfill_run run = {.env = env, .params = env->params};
    run.bf = (struct backfill){.env = env, .db = env->db, .wal_fd = -1};
    run.start_ms = env_now_ms(env);
    run.start_us = monotonic_us();
    memset(result, 0, sizeof *result);
    result->outcome = MIGRATION_FAILED;
    if (migration_params_validate(&env->params, errp) != 0)
        return -1;

    int empty = 0, hooked = 0, rc = -1;
    if (backfill_snapshot(&run.bf, &empty, &result->total, errp) != 0)
        goto out;
    backfill_log_policy(env, result->total, empty, run.bf.snapshot);
    batch_sizer_init(&run.sizer, &run.params);
    rate_limiter_init(&run.log_limit, BACKFILL_LOG_INTERVAL_MS);
    run.log_limit.used = 1; /* the first progress line comes one interval after the start line */
    run.log_limit.last_ms = run.start_ms;
    if (empty) {
        result->outcome = MIGRATION_DONE;
    } else {
        if (backfill_prepare(&run.bf, errp) != 0)
            goto out;
        hooked = 1;
        if (backfill_loop(&run, result, errp) != 0)
            goto out;
    }
    /*
     * Rows that live ingest brought up to date before the backfill reached
     * them no longer needed this migration. A finished run reports the rows
     * it actually wrote out of the rows it ended up having to write, so a
     * done migration never shows as partially complete.
     */
    if (result->outcome == MIGRATION_DONE && result->processed < result->total) {
        result->taken_by_ingest = result->total - result->processed;
        result->total = result->processed;
    }
    result->wall_ms = (monotonic_us() - run.start_us) / 1000;
    if (backfill_report(&run, result, 1, errp) != 0)
        goto out;
    backfill_log_end(env, &run.params, result,
                     result->outcome == MIGRATION_DONE ? "done" : "cancelled");
    rc = 0;

out:
    if (rc != 0) {
        result->outcome = MIGRATION_FAILED;
        result->wall_ms = (monotonic_us() - run.start_us) / 1000;
        backfill_log_failure(env, result);
    }
    backfill_release(&run.bf, hooked);
    return rc;
}
