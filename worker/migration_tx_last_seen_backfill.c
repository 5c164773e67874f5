/* migration_tx_last_seen_backfill.c: tx_last_seen_backfill_v1, last_seen in short batches. */
#include "migration_tx_last_seen_backfill.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "backfill_maxima.h"
#include "batch_sizer.h"
#include "db.h"
#include "log.h"
#include "migration_stats.h"
#include "rate_limit.h"
#include "testhook.h"
#include "util.h"
#include "writer_accounting.h"
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
 * The work follows the observations table's physical order. Looking up each
 * row's MAX(timestamp) through the observations(transmission_id) index (the
 * reference statement's plan) visits the pages of a packet's observations
 * one by one, wherever they lie; on a table that does not fit the cache that
 * grows faster than the data. Instead, one sequential pass over the
 * observations, in short read transactions of BACKFILL_SCAN_CHUNK ids
 * each, computes every row's maximum in memory (backfill_maxima.h), for a
 * window of rows still at 0 that fits the memory budget (--migration-memory-mib);
 * more rows than fit take one more pass each window. Then short write
 * batches store the values by primary key.
 *
 * A window is the next rows still at 0 in id order (a walk of the
 * transmissions(last_seen) index), up to the snapshot; the next window starts
 * after its last id whatever the batches did, so rows whose last_seen stays 0
 * (orphans, a MAX(timestamp) of 0) are never picked again and the run ends
 * after (candidates / batch size + windows) batches on any data.
 */
static const char backfill_collect_sql[] =
    "SELECT id FROM transmissions WHERE last_seen = 0 AND id BETWEEN ?1 AND ?2"
    " ORDER BY id LIMIT ?3";
static const char backfill_obs_snapshot_sql[] = "SELECT MAX(id) FROM observations";
static const char backfill_scan_sql[] = BACKFILL_MAXIMA_SCAN_SQL;
static const char backfill_next_sql[] = BACKFILL_MAXIMA_NEXT_SQL;

/*
 * Why values computed minutes before they are written are still right: the
 * only other writer of these tables while a migration runs is live ingest
 * (retention starts once the migrations are done), and ingest sets last_seen
 * to the maximum over all of a row's observations whenever it adds one to a
 * row still at 0 (worker/ingest_store.c; timestamps are > 0, docs/ingest.md).
 * So a row still at 0 inside the write transaction has gained no observation
 * since the pass read its observations, and "AND last_seen = 0" leaves a row
 * ingest filled with ingest's value. Observations past the snapshot of
 * MAX(observations.id) belong to rows ingest filled itself.
 *
 * Rows with a timestamp that is not an INTEGER take the reference's own
 * expression, so every row ends up exactly as the one-statement UPDATE of
 * docs/database.md would leave it. Only rows seen with an observation are
 * written, so sqlite3_changes64() counts exactly the rows rows_total promised.
 */
static const char backfill_apply_sql[] =
    "UPDATE transmissions SET last_seen = meshscope_backfill_value(id)"
    " WHERE id BETWEEN ?1 AND ?2 AND +last_seen = 0 AND meshscope_backfill_value(id) IS NOT NULL";
static const char backfill_apply_mixed_sql[] =
    "UPDATE transmissions SET last_seen = COALESCE((SELECT MAX(timestamp) FROM observations"
    " WHERE transmission_id = ?1), last_seen) WHERE id = ?1 AND last_seen = 0";

/* Rows of the window per UPDATE statement: a write checks its deadline this often. */
#define BACKFILL_WRITE_CHUNK 128

/* Observation ids per read transaction of the pass: about 10-30 ms of work. */
#define BACKFILL_SCAN_CHUNK 65536

/*
 * A batch that has held the writer this long lets waiting live ingest go
 * first; below it, a batch always finishes, so the backfill keeps moving
 * however busy ingest is.
 */
#define BACKFILL_MIN_HOLD_US 2000


struct backfill {
    const struct migration_env *env;
    sqlite3 *db;
    sqlite3_stmt *collect;
    sqlite3_stmt *scan;
    sqlite3_stmt *next;
    sqlite3_stmt *apply;
    sqlite3_stmt *apply_mixed;
    struct backfill_maxima window; /* rows[done..count) still to write */
    size_t done;
    int loaded;          /* a window was collected and scanned */
    int window_final;    /* no row at 0 is left after this window */
    int64_t next_lo;     /* where the next window starts */
    int64_t snapshot;    /* MAX(transmissions.id) */
    int64_t obs_snapshot; /* MAX(observations.id) */
    int obs_empty;
    int registered;       /* the SQL functions of backfill_maxima.h are on db */
    char source[80];       /* writer accounting's "migration:NAME" */
};

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

/* Reads MAX(id), the honest denominator and MAX(observations.id) from one snapshot. */
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
    if (!*empty && query_int64(bf->db, backfill_obs_snapshot_sql, 0, 0, &bf->obs_snapshot,
                               &bf->obs_empty, "snapshot of MAX(observations.id)", errp) != 0)
        goto err;
    if (sqlite3_exec(bf->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        set_error(errp, "snapshot failed: %s", sqlite3_errmsg(bf->db));
        goto err;
    }
    return 0;

err:
    db_rollback_if_open(bf->db);
    return -1;
}

static int backfill_step_update(struct backfill *bf, sqlite3_stmt *stmt, int64_t lo, int64_t hi,
                                int64_t *changed, char **errp)
{
    sqlite3_reset(stmt);
    sqlite3_bind_int64(stmt, 1, lo);
    if (stmt == bf->apply)
        sqlite3_bind_int64(stmt, 2, hi);
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE)
        return set_error(errp, "update of ids %" PRId64 "..%" PRId64 " failed: %s", lo, hi,
                         sqlite3_errmsg(bf->db));
    /* The 64-bit count: a pinned batch size may exceed what an int holds. */
    *changed += sqlite3_changes64(bf->db);
    return 0;
}

/*
 * Stores rows [i, j) of the window: one UPDATE over their id range for the
 * integer maxima (rows the pass saw no observation of, orphans, keep 0 as the
 * reference leaves them), then one statement per row whose MAX SQL computes.
 */
static int backfill_apply_range(struct backfill *bf, size_t i, size_t j, int64_t *changed,
                                char **errp)
{
    const struct backfill_maxima *w = &bf->window;
    if (backfill_step_update(bf, bf->apply, w->ids[i], w->ids[j - 1], changed, errp) != 0)
        return -1;
    for (size_t k = i; k < j; k++) {
        if (w->max[k] == BACKFILL_MAXIMA_MIXED &&
            backfill_step_update(bf, bf->apply_mixed, w->ids[k], w->ids[k], changed, errp) != 0)
            return -1;
    }
    return 0;
}

/*
 * One batch: one short write transaction stores the values of the next rows
 * of the window, up to the batch size. It stops early when it would pass the
 * adaptive deadline or, after BACKFILL_MIN_HOLD_US, when live ingest is
 * waiting for the writer (writer_demand.h); the rest goes to the next batch.
 * *walked counts the window's rows this batch accounts for, orphans
 * included; *hold_us is the write transaction's time.
 */
static int backfill_batch(struct backfill *bf, const struct batch_sizer *sizer, int64_t *walked,
                          int64_t *changed, int *last, int64_t *hold_us, char **errp)
{
    *walked = *changed = *hold_us = 0;
    size_t first = bf->done, count = bf->window.count, i = first;
    if ((uint64_t)(count - first) > (uint64_t)sizer->size)
        count = first + (size_t)sizer->size;

    /* IMMEDIATE takes the write lock up front, waiting in the busy handler
     * rather than failing to upgrade a read transaction halfway. */
    int64_t asked = clock_monotonic_us();
    if (sqlite3_exec(bf->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return set_error(errp, "starting the batch at id %" PRId64 " failed: %s",
                         first < bf->window.count ? bf->window.ids[first] : bf->snapshot,
                         sqlite3_errmsg(bf->db));
    int64_t start = clock_monotonic_us();
    while (i < count) {
        size_t next = count - i < BACKFILL_WRITE_CHUNK ? count - i : BACKFILL_WRITE_CHUNK;
        if (i > first) {
            int64_t held = clock_monotonic_us() - start;
            if ((held >= BACKFILL_MIN_HOLD_US && writer_demand_pending()) ||
                !batch_sizer_continue(sizer, held, (int64_t)(i - first), (int64_t)next))
                break;
        }
        if (backfill_apply_range(bf, i, i + next, changed, errp) != 0) {
            db_rollback_if_open(bf->db);
            return -1;
        }
        i += next;
    }
    testhook_pause(TESTHOOK_BACKFILL_BATCH);
    if (sqlite3_exec(bf->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        set_error(errp, "commit of the batch from id %" PRId64 " failed: %s",
                  first < bf->window.count ? bf->window.ids[first] : bf->snapshot,
                  sqlite3_errmsg(bf->db));
        db_rollback_if_open(bf->db);
        return -1;
    }
    *hold_us = clock_monotonic_us() - start;
    writer_acct_record(bf->source, start - asked, *hold_us);
    bf->done = i;
    *walked = (int64_t)(i - first);
    *last = bf->window_final && bf->done == bf->window.count;
    return 0;
}

/* Finalizing the last statement of a connection closed with sqlite3_close_v2 frees it. */
static void backfill_release(struct backfill *bf)
{
    if (bf->registered)
        backfill_maxima_unregister(bf->db); /* the window they point at goes below */
    bf->registered = 0;
    sqlite3_finalize(bf->collect);
    sqlite3_finalize(bf->scan);
    sqlite3_finalize(bf->next);
    sqlite3_finalize(bf->apply);
    sqlite3_finalize(bf->apply_mixed);
    bf->collect = bf->scan = bf->next = bf->apply = bf->apply_mixed = NULL;
    backfill_maxima_release(&bf->window);
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
                 "); %s, yield %" PRId64 " ms, maxima in at most %" PRId64 " KiB",
                 env->name, total, snapshot, policy, env->params.yield_ms,
                 env->params.memory_kib);
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
    int reported;                   /* a report was made; its counts are below */
    int64_t reported_processed, reported_total;
};

static int backfill_prepare(struct backfill *bf, char **errp)
{
    if (backfill_maxima_register(&bf->window, bf->db, errp) != 0)
        return -1;
    bf->registered = 1;
    if (sqlite3_prepare_v2(bf->db, backfill_collect_sql, -1, &bf->collect, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(bf->db, backfill_scan_sql, -1, &bf->scan, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(bf->db, backfill_next_sql, -1, &bf->next, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(bf->db, backfill_apply_sql, -1, &bf->apply, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(bf->db, backfill_apply_mixed_sql, -1, &bf->apply_mixed, NULL) !=
            SQLITE_OK)
        return set_error(errp, "preparing the batch statements failed: %s",
                         sqlite3_errmsg(bf->db));
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

/*
 * Between two read chunks of the pass: no yield, since a read holds nothing
 * the writers wait for, but the runner's housekeeping still runs (heartbeat,
 * pause, throttle, new settings), and a cancellation stops the pass.
 */
static int backfill_scan_between(struct backfill_run *run, struct migration_result *result,
                                 int *cancelled, char **errp)
{
    const struct migration_env *env = run->env;
    if (env->cancel != NULL && migration_cancel_requested(env->cancel)) {
        *cancelled = 1;
        return 0;
    }
    struct migration_params gate = run->params, before;
    gate.yield_ms = 0;
    before = gate;
    int64_t start = clock_monotonic_us();
    int rc = migration_between(env, &gate, errp);
    result->yield_us += clock_monotonic_us() - start;
    /* Field by field: the struct's padding is not part of the parameters. */
    if (rc == 0 && (gate.adaptive != before.adaptive || gate.batch_size != before.batch_size ||
                    gate.target_batch_ms != before.target_batch_ms ||
                    gate.yield_ms != before.yield_ms || gate.memory_kib != before.memory_kib)) {
        run->params = gate; /* new settings, their yield included */
        batch_sizer_retune(&run->sizer, &run->params);
    }
    return rc;
}

/* The next window of rows at 0, and one pass over the observations to fill in their maxima. */
static int backfill_load(struct backfill_run *run, struct migration_result *result,
                         int *cancelled, char **errp)
{
    struct backfill *bf = &run->bf;
    int64_t lo = bf->loaded ? bf->next_lo : INT64_MIN;
    if (backfill_maxima_collect(&bf->window, bf->collect, lo, bf->snapshot, &bf->window_final,
                                &bf->next_lo, errp) != 0)
        return -1;
    bf->loaded = 1;
    bf->done = 0;
    if (bf->window.count == 0 || bf->obs_empty)
        return 0;
    int64_t obs_lo = INT64_MIN, rows = 0, start = clock_monotonic_us();
    int done = 0;
    while (!done) {
        if (backfill_maxima_scan(&bf->window, bf->scan, bf->next, &obs_lo, bf->obs_snapshot,
                                 BACKFILL_SCAN_CHUNK, &rows, &done, errp) != 0)
            return -1;
        if (!done && backfill_scan_between(run, result, cancelled, errp) != 0)
            return -1;
        if (*cancelled)
            return 0;
    }
    log_info("%s: read %" PRId64 " observations in id order for %zu rows from id %" PRId64
             " in %.2f s (%s)",
             run->env->name, rows, bf->window.count, bf->window.ids[0],
             (double)(clock_monotonic_us() - start) / 1e6,
             bf->window_final ? "the last window" : "the window is full; more follow");
    return 0;
}

/* One batch and what follows it: the report, the WAL flush, the checkpoint, the log line. */
static int backfill_step(struct backfill_run *run, struct migration_result *result, int *last,
                         int *cancelled, char **errp)
{
    struct backfill *bf = &run->bf;
    if (!bf->loaded || (bf->done == bf->window.count && !bf->window_final)) {
        if (backfill_load(run, result, cancelled, errp) != 0)
            return -1;
        if (*cancelled)
            return 0;
    }
    int64_t first = bf->done < bf->window.count ? bf->window.ids[bf->done] : bf->snapshot;
    int64_t walked = 0, changed = 0, hold_us = 0;
    if (backfill_batch(bf, &run->sizer, &walked, &changed, last, &hold_us, errp) != 0)
        return -1;
    backfill_account(run, result, first, walked, changed, hold_us);
    if (changed > 0 && backfill_report(run, result, 0, errp) != 0)
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
    int64_t start = clock_monotonic_us();
    int rc = migration_between(run->env, &run->params, errp);
    result->yield_us += clock_monotonic_us() - start;
    /* Field by field: the struct's padding is not part of the parameters. */
    const struct migration_params *p = &run->params;
    if (rc == 0 && (p->adaptive != before.adaptive || p->batch_size != before.batch_size ||
                    p->target_batch_ms != before.target_batch_ms))
        batch_sizer_retune(&run->sizer, &run->params);
    return rc;
}

static int backfill_loop(struct backfill_run *run, struct migration_result *result, char **errp)
{
    const struct migration_env *env = run->env;
    for (;;) {
        int last = 0, cancelled = 0;
        if (env->cancel != NULL && migration_cancel_requested(env->cancel))
            cancelled = 1;
        else if (backfill_step(run, result, &last, &cancelled, errp) != 0)
            return -1;
        if (cancelled) {
            result->outcome = MIGRATION_CANCELLED;
            return 0;
        }
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
    run.bf = (struct backfill){.env = env, .db = env->db};
    snprintf(run.bf.source, sizeof run.bf.source, WRITER_SOURCE_MIGRATION_PREFIX "%s", env->name);
    run.start_ms = env_now_ms(env);
    run.start_us = clock_monotonic_us();
    memset(result, 0, sizeof *result);
    result->outcome = MIGRATION_FAILED;
    if (migration_params_validate(&env->params, errp) != 0)
        return -1;

    int empty = 0, rc = -1;
    if (backfill_snapshot(&run.bf, &empty, &result->total, errp) != 0)
        goto out;
    backfill_log_policy(env, result->total, empty, run.bf.snapshot);
    batch_sizer_init(&run.sizer, &run.params);
    backfill_maxima_init(&run.bf.window, run.params.memory_kib);
    rate_limiter_init(&run.log_limit, BACKFILL_LOG_INTERVAL_MS);
    run.log_limit.used = 1; /* the first progress line comes one interval after the start line */
    run.log_limit.last_ms = run.start_ms;
    if (empty) {
        result->outcome = MIGRATION_DONE;
    } else {
        if (backfill_prepare(&run.bf, errp) != 0)
            goto out;
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
    result->wall_ms = (clock_monotonic_us() - run.start_us) / 1000;
    if (backfill_report(&run, result, 1, errp) != 0)
        goto out;
    backfill_log_end(env, &run.params, result,
                     result->outcome == MIGRATION_DONE ? "done" : "cancelled");
    rc = 0;

out:
    if (rc != 0) {
        result->outcome = MIGRATION_FAILED;
        result->wall_ms = (clock_monotonic_us() - run.start_us) / 1000;
        backfill_log_failure(env, result);
    }
    backfill_release(&run.bf);
    return rc;
}
