/* migration_observers_backfill.c: observers_backfill_v1, the observations stored before the observers table, in short batches. */
#include "migration_observers_backfill.h"

#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "batch_sizer.h"
#include "db.h"
#include "log.h"
#include "migration_stats.h"
#include "schema.h"
#include "util.h"

/*
 * Scope: observations with id <= _observers_backfill.snapshot, fixed when the
 * observers table was created, before ingest ran; ingest counts every later
 * one itself (docs/database.md). done_through is the last id whose
 * observation is already counted: it moves in the same transaction as the
 * counts it covers, so a kill -9 anywhere neither loses nor doubles a batch,
 * and a re-run carries on from it.
 */
static const char obf_cursor_sql[] =
    "SELECT snapshot, done_through FROM " SCHEMA_OBSERVERS_BACKFILL_TABLE " WHERE id = 1";
/* The honest denominator: exactly the observations the batches will add. */
static const char obf_count_sql[] =
    "SELECT count(*) FROM observations WHERE id > ?1 AND id <= ?2 AND observer IS NOT NULL";

/*
 * A batch is an id range (lo, hi] holding at most the batch size of rows,
 * walked by the primary key (obf_boundary). Its
 * rows never change (nothing updates or deletes observations), so they are
 * read before the write transaction, which then holds the writer only for
 * one upsert per observer the range holds. The observer is keyed as text,
 * as the observers.id column stores it.
 */
static const char obf_boundary_sql[] =
    "SELECT id FROM observations WHERE id > ?1 AND id <= ?2 ORDER BY id LIMIT 1 OFFSET ?3";
static const char obf_read_sql[] =
    "SELECT CAST(observer AS TEXT), count(*), MIN(timestamp), MAX(timestamp)"
    " FROM observations WHERE id > ?1 AND id <= ?2 AND observer IS NOT NULL"
    " GROUP BY CAST(observer AS TEXT)";
static const char obf_advance_sql[] =
    "UPDATE " SCHEMA_OBSERVERS_BACKFILL_TABLE " SET done_through = ?2"
    " WHERE id = 1 AND done_through = ?1";
static const char obf_apply_sql[] =
    /* MIN/MAX of a legacy group can be NULL; multi-argument MIN/MAX would spread it. */
    "INSERT INTO " SCHEMA_OBSERVERS_TABLE "(id, first_packet, last_packet, packet_count)"
    " VALUES (?1, ?2, ?3, ?4) ON CONFLICT(id) DO UPDATE SET"
    "  first_packet = CASE WHEN excluded.first_packet IS NULL THEN first_packet"
    "   WHEN first_packet IS NULL THEN excluded.first_packet"
    "   ELSE MIN(first_packet, excluded.first_packet) END,"
    "  last_packet = CASE WHEN excluded.last_packet IS NULL THEN last_packet"
    "   WHEN last_packet IS NULL THEN excluded.last_packet"
    "   ELSE MAX(last_packet, excluded.last_packet) END,"
    "  packet_count = packet_count + excluded.packet_count";

#define OBF_LOG_INTERVAL_MS 10000

struct obf_group {
    sqlite3_value *observer, *first, *last; /* as stored: any type, like the reference */
    int64_t count;
};

struct obf_run {
    const struct migration_env *env;
    sqlite3 *db;
    sqlite3_stmt *boundary, *read, *advance, *apply;
    struct migration_params params;
    struct batch_sizer sizer;
    int64_t snapshot, lo;
    struct obf_group *groups;
    size_t groups_len, groups_cap;
    int64_t last_log_ms;
    int reported; /* a report was made, with the counts below */
    int64_t reported_processed, reported_total;
};

static int step_int64s(sqlite3 *db, const char *sql, int64_t a, int64_t b, int nbind,
                       int64_t *x, int64_t *y, int *found, const char *what, char **errp)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return set_error(errp, "%s failed: %s", what, sqlite3_errmsg(db));
    if (nbind > 0)
        sqlite3_bind_int64(st, 1, a);
    if (nbind > 1)
        sqlite3_bind_int64(st, 2, b);
    int rc = sqlite3_step(st);
    *found = rc == SQLITE_ROW;
    if (rc == SQLITE_ROW) {
        *x = sqlite3_column_int64(st, 0);
        if (y != NULL)
            *y = sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return set_error(errp, "%s failed: %s", what, sqlite3_errmsg(db));
    return 0;
}

/* Reads the scope, the cursor and the denominator from one snapshot of the database. */
static int obf_snapshot(struct obf_run *run, int64_t *total, char **errp)
{
    int found = 0;
    *total = 0;
    if (sqlite3_exec(run->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        return set_error(errp, "snapshot failed: %s", sqlite3_errmsg(run->db));
    if (step_int64s(run->db, obf_cursor_sql, 0, 0, 0, &run->snapshot, &run->lo, &found,
                    "reading the backfill's cursor", errp) != 0)
        goto err;
    if (!found) /* no scope recorded: nothing predates the observers table */
        run->snapshot = run->lo = 0;
    if (run->lo < run->snapshot &&
        step_int64s(run->db, obf_count_sql, run->lo, run->snapshot, 2, total, NULL, &found,
                    "count of observations to add", errp) != 0)
        goto err;
    if (sqlite3_exec(run->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        set_error(errp, "snapshot failed: %s", sqlite3_errmsg(run->db));
        goto err;
    }
    return 0;

err:
    db_rollback_if_open(run->db);
    return -1;
}

static void obf_groups_clear(struct obf_run *run)
{
    for (size_t i = 0; i < run->groups_len; i++) {
        sqlite3_value_free(run->groups[i].observer);
        sqlite3_value_free(run->groups[i].first);
        sqlite3_value_free(run->groups[i].last);
    }
    run->groups_len = 0;
}

/* Reads the per-observer sums of (lo, hi] into run->groups; *rows gets their total. */
static int obf_read(struct obf_run *run, int64_t hi, int64_t *rows, char **errp)
{
    obf_groups_clear(run);
    *rows = 0;
    sqlite3_stmt *st = run->read;
    sqlite3_bind_int64(st, 1, run->lo);
    sqlite3_bind_int64(st, 2, hi);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (run->groups_len == run->groups_cap) {
            run->groups_cap = run->groups_cap ? run->groups_cap * 2 : 64;
            run->groups = xrealloc(run->groups, run->groups_cap * sizeof *run->groups);
        }
        struct obf_group *g = &run->groups[run->groups_len++];
        g->observer = sqlite3_value_dup(sqlite3_column_value(st, 0));
        g->count = sqlite3_column_int64(st, 1);
        g->first = sqlite3_value_dup(sqlite3_column_value(st, 2));
        g->last = sqlite3_value_dup(sqlite3_column_value(st, 3));
        *rows += g->count;
        if (g->observer == NULL || g->first == NULL || g->last == NULL) {
            sqlite3_reset(st);
            return set_error(errp, "reading ids %" PRId64 "..%" PRId64 ": out of memory",
                             run->lo + 1, hi);
        }
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return set_error(errp, "reading ids %" PRId64 "..%" PRId64 " failed: %s", run->lo + 1,
                         hi, sqlite3_errmsg(run->db));
    return 0;
}

static int obf_step_done(struct obf_run *run, sqlite3_stmt *st, const char *what, char **errp)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return set_error(errp, "%s failed: %s", what, sqlite3_errmsg(run->db));
    return 0;
}

/* Adds the groups read and moves the cursor to hi, in one short write transaction. */
static int obf_apply(struct obf_run *run, int64_t hi, int64_t *hold_us, char **errp)
{
    if (sqlite3_exec(run->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return set_error(errp, "starting the batch after id %" PRId64 " failed: %s", run->lo,
                         sqlite3_errmsg(run->db));
    int64_t start = clock_monotonic_us();
    sqlite3_bind_int64(run->advance, 1, run->lo);
    sqlite3_bind_int64(run->advance, 2, hi);
    if (obf_step_done(run, run->advance, "moving the cursor", errp) != 0)
        goto err;
    if (sqlite3_changes(run->db) != 1) {
        set_error(errp, "the cursor is no longer at id %" PRId64 " (another run?)", run->lo);
        goto err;
    }
    for (size_t i = 0; i < run->groups_len; i++) {
        const struct obf_group *g = &run->groups[i];
        sqlite3_bind_value(run->apply, 1, g->observer);
        sqlite3_bind_value(run->apply, 2, g->first);
        sqlite3_bind_value(run->apply, 3, g->last);
        sqlite3_bind_int64(run->apply, 4, g->count);
        if (obf_step_done(run, run->apply, "adding to observers", errp) != 0)
            goto err;
    }
    if (sqlite3_exec(run->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        set_error(errp, "commit of ids %" PRId64 "..%" PRId64 " failed: %s", run->lo + 1, hi,
                  sqlite3_errmsg(run->db));
        goto err;
    }
    *hold_us = clock_monotonic_us() - start;
    return 0;

err:
    db_rollback_if_open(run->db);
    return -1;
}

static void obf_account(struct obf_run *run, struct migration_result *result, int64_t rows,
                        int64_t hold_us)
{
    result->batches++;
    result->hold_total_us += hold_us;
    if (run->env->holds != NULL)
        migration_holds_add(run->env->holds, hold_us);
    if (hold_us > result->max_hold_us)
        result->max_hold_us = hold_us;
    result->processed += rows;
    if (result->processed > result->total) /* never report more done than there is */
        result->total = result->processed;
}

static void obf_log_progress(struct obf_run *run, const struct migration_result *result,
                             int64_t start_us)
{
    int64_t now_ms = clock_monotonic_ms();
    if (now_ms - run->last_log_ms < OBF_LOG_INTERVAL_MS)
        return;
    run->last_log_ms = now_ms;
    double secs = (double)(clock_monotonic_us() - start_us) / 1e6;
    double rate = secs > 0 ? (double)result->processed / secs : 0;
    log_info("%s: %" PRId64 "/%" PRId64 " observations, %.0f/s, through id %" PRId64,
             run->env->name, result->processed, result->total, rate, run->lo);
}

/*
 * The batch's end: the id of the span-th observation after the cursor, by the
 * primary key, or the snapshot. Counting rows rather than ids keeps the
 * number of batches bounded by rows / span however sparse the ids are.
 */
static int obf_boundary(struct obf_run *run, int64_t span, int64_t *hi, char **errp)
{
    sqlite3_stmt *st = run->boundary;
    sqlite3_bind_int64(st, 1, run->lo);
    sqlite3_bind_int64(st, 2, run->snapshot);
    sqlite3_bind_int64(st, 3, span - 1);
    int rc = sqlite3_step(st);
    *hi = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : run->snapshot;
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return set_error(errp, "finding the batch after id %" PRId64 " failed: %s", run->lo,
                         sqlite3_errmsg(run->db));
    return 0;
}

/* Reports the committed counts; the terminal report only when they are new. */
static int obf_report(struct obf_run *run, const struct migration_result *result, int final,
                      char **errp)
{
    if (final && run->reported && run->reported_processed == result->processed &&
        run->reported_total == result->total)
        return 0;
    run->reported = 1;
    run->reported_processed = result->processed;
    run->reported_total = result->total;
    return migration_report(run->env, result->processed, result->total, final, errp);
}

/* One batch: read, apply, report. The batch's whole time (read and hold) sizes the next. */
static int obf_batch(struct obf_run *run, struct migration_result *result, char **errp)
{
    int64_t span = run->sizer.size > 0 ? run->sizer.size : 1;
    int64_t start = clock_monotonic_us(), rows = 0, hold_us = 0, hi = 0;
    if (obf_boundary(run, span, &hi, errp) != 0 || obf_read(run, hi, &rows, errp) != 0 ||
        obf_apply(run, hi, &hold_us, errp) != 0)
        return -1;
    run->lo = hi;
    obf_account(run, result, rows, hold_us);
    log_debug("%s: batch %" PRId64 ": ids to %" PRId64 ", %" PRId64 " observations, %zu"
              " observers, held %.1f ms", run->env->name, result->batches, hi, rows,
              run->groups_len, (double)hold_us / 1000.0);
    if (rows > 0 && obf_report(run, result, 0, errp) != 0)
        return -1;
    batch_sizer_observe(&run->sizer, span, clock_monotonic_us() - start);
    return 0;
}

/*
 * A fixed --batch-size counts rows of the last_seen backfill, each of which
 * reads about 20 observations; one unit here is OBF_OBSERVATIONS_PER_UNIT
 * observations, so the same setting gives batches of about the same work.
 */
#define OBF_OBSERVATIONS_PER_UNIT 64

static void obf_fixed_size(struct obf_run *run)
{
    if (run->params.adaptive)
        return;
    int64_t n = run->params.batch_size;
    run->sizer.size = n > INT64_MAX / OBF_OBSERVATIONS_PER_UNIT ? INT64_MAX
                                                                : n * OBF_OBSERVATIONS_PER_UNIT;
}

static int obf_loop(struct obf_run *run, struct migration_result *result, int64_t start_us,
                    char **errp)
{
    const struct migration_env *env = run->env;
    while (run->lo < run->snapshot) {
        if (env->cancel != NULL && migration_cancel_requested(env->cancel)) {
            result->outcome = MIGRATION_CANCELLED;
            return 0;
        }
        if (obf_batch(run, result, errp) != 0)
            return -1;
        obf_log_progress(run, result, start_us);
        if (run->lo >= run->snapshot)
            break;
        struct migration_params before = run->params;
        int64_t y = clock_monotonic_us();
        int rc = migration_between(env, &run->params, errp);
        result->yield_us += clock_monotonic_us() - y;
        if (rc != 0)
            return -1;
        if (memcmp(&before, &run->params, sizeof before) != 0)
        {
            batch_sizer_retune(&run->sizer, &run->params);
            obf_fixed_size(run);
        }
    }
    result->outcome = MIGRATION_DONE;
    return 0;
}

static int obf_prepare(struct obf_run *run, char **errp)
{
    if (sqlite3_prepare_v2(run->db, obf_boundary_sql, -1, &run->boundary, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(run->db, obf_read_sql, -1, &run->read, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(run->db, obf_advance_sql, -1, &run->advance, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(run->db, obf_apply_sql, -1, &run->apply, NULL) != SQLITE_OK)
        return set_error(errp, "preparing the batch statements failed: %s",
                         sqlite3_errmsg(run->db));
    return 0;
}

static void obf_release(struct obf_run *run)
{
    sqlite3_finalize(run->boundary);
    sqlite3_finalize(run->read);
    sqlite3_finalize(run->advance);
    sqlite3_finalize(run->apply);
    obf_groups_clear(run);
    free(run->groups);
}

/*
 * Progress follows each batch that added observations, once committed; the
 * terminal report comes only when its counts differ from the last one.
 */
int observers_backfill_run(const struct migration_env *env, struct migration_result *result,
                           char **errp)
{
    struct obf_run run = {.env = env, .db = env->db, .params = env->params};
    int64_t start_us = clock_monotonic_us();
    memset(result, 0, sizeof *result);
    result->outcome = MIGRATION_FAILED;
    if (migration_params_validate(&env->params, errp) != 0)
        return -1;
    int rc = -1;
    if (obf_snapshot(&run, &result->total, errp) != 0)
        goto out;
    log_info("%s: starting: %" PRId64 " observations to add (ids %" PRId64 "..%" PRId64
             "), yield %" PRId64 " ms", env->name, result->total, run.lo + 1, run.snapshot,
             env->params.yield_ms);
    batch_sizer_init(&run.sizer, &run.params);
    obf_fixed_size(&run);
    if (run.params.adaptive)
        run.sizer.size = 1000; /* observations per batch to start; the sizer follows the time */
    run.last_log_ms = clock_monotonic_ms();
    if (obf_prepare(&run, errp) != 0 || obf_loop(&run, result, start_us, errp) != 0)
        goto out;
    result->wall_ms = (clock_monotonic_us() - start_us) / 1000;
    if (obf_report(&run, result, 1, errp) != 0)
        goto out;
    log_info("%s: %s: %" PRId64 "/%" PRId64 " observations in %" PRId64
             " batches, longest batch hold %.1f ms, wall time %.2f s", env->name,
             result->outcome == MIGRATION_DONE ? "done" : "cancelled", result->processed,
             result->total, result->batches, (double)result->max_hold_us / 1000.0,
             (double)result->wall_ms / 1000.0);
    rc = 0;

out:
    if (rc != 0) {
        result->outcome = MIGRATION_FAILED;
        result->wall_ms = (clock_monotonic_us() - start_us) / 1000;
        log_warnx("%s: failed after %" PRId64 "/%" PRId64 " observations in %" PRId64
                  " batches", env->name, result->processed, result->total, result->batches);
    }
    obf_release(&run);
    return rc;
}
