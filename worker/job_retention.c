/* job_retention.c: deletes old rows in id windows under the hold target, then returns free pages. */
#include "job_retention.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "batch_sizer.h"
#include "log.h"
#include "schema.h"
#include "util.h"
#include "writer_accounting.h"
#include "writer_demand.h"

/* Ids one DELETE statement covers; a transaction runs statements until the hold target. */
#define RETENTION_WINDOW_IDS 250
/* Under this hold a batch keeps going even when ingest waits: a batch must make progress. */
#define RETENTION_MIN_HOLD_US 2000

static _Atomic int64_t retention_cutoff;

void retention_set_cutoff(int64_t cutoff_unix)
{
    atomic_store(&retention_cutoff, cutoff_unix);
}

int64_t retention_every_ms(const struct recurring_config *config)
{
    return config->retain_days > 0 ? config->retain_every_min * 60000 : 0;
}

void retention_prepare(const struct recurring_config *config)
{
    retention_set_cutoff((int64_t)time(NULL) - config->retain_days * 86400);
}

struct phase {
    const char *what;
    const char *delete_sql; /* ?1 cutoff, ?2 low id (exclusive), ?3 high id (inclusive) */
    const char *max_sql;
};

static const struct phase phases[] = {
    {"observations",
     "DELETE FROM observations WHERE id > ?2 AND id <= ?3 AND timestamp < ?1",
     "SELECT COALESCE(MAX(id), 0) FROM observations"},
    /* No observation left: one index probe per row on observations(transmission_id). */
    {"transmissions",
     "DELETE FROM transmissions WHERE id > ?2 AND id <= ?3 AND first_seen < ?1"
     " AND NOT EXISTS (SELECT 1 FROM observations o WHERE o.transmission_id = transmissions.id)",
     "SELECT COALESCE(MAX(id), 0) FROM transmissions"},
};

static int scalar(sqlite3 *db, const char *sql, int64_t *out, char **errp)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW) {
        set_error(errp, "%s: %s", sql, sqlite3_errmsg(db));
        sqlite3_finalize(st);
        return -1;
    }
    *out = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return 0;
}

/* The deletions of one batch, counted in its own transaction (tally binds ?1 table, ?2 rows). */
static int retention_tally(sqlite3 *db, sqlite3_stmt *tally, int64_t rows, char **errp)
{
    if (rows == 0)
        return 0;
    sqlite3_reset(tally);
    sqlite3_bind_int64(tally, 2, rows);
    if (sqlite3_step(tally) != SQLITE_DONE)
        return set_error(errp, "counting the deletions: %s", sqlite3_errmsg(db));
    return 0;
}

/* One table's walk: its statements, the cutoff, how far it got, and what the last commit cost. */
struct retention_walk {
    sqlite3_stmt *del, *tally; /* del binds ?1 cutoff, ?2 low id (exclusive), ?3 high id */
    int64_t cutoff, lo, max_id, deleted;
    int64_t commit_us; /* the previous batch's COMMIT: writing out its dirty pages */
};

/* Deletes one window (lo, hi]; returns 0, or -1 with *errp (the transaction rolled back). */
static int retention_window(sqlite3 *db, struct retention_walk *w, int64_t hi, char **errp)
{
    sqlite3_reset(w->del);
    sqlite3_bind_int64(w->del, 1, w->cutoff);
    sqlite3_bind_int64(w->del, 2, w->lo);
    sqlite3_bind_int64(w->del, 3, hi);
    if (sqlite3_step(w->del) != SQLITE_DONE) {
        set_error(errp, "retention delete: %s", sqlite3_errmsg(db));
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    w->deleted += sqlite3_changes64(db);
    w->lo = hi;
    return 0;
}

/*
 * One transaction of windows from w->lo up to at most w->max_id. It follows
 * the migrations' rule (batch_sizer.h): it stops when the next window, judged
 * by the slowest one so far, plus a COMMIT as costly as the last one would
 * end past BATCH_SIZER_DEADLINE of the target, the rest being headroom for
 * jitter; or early when ingest waits. Checking the target itself after each
 * window let holds run a window and a commit past it.
 */
static int retention_batch(const struct migration_env *env, struct retention_walk *w,
                           int64_t *hold_us, char **errp)
{
    int64_t deleted_before = w->deleted, from = w->lo;
    int64_t asked = clock_monotonic_us();
    if (sqlite3_exec(env->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return set_error(errp, "starting a retention batch: %s", sqlite3_errmsg(env->db));
    int64_t start = clock_monotonic_us();
    int64_t deadline_us = (int64_t)((double)env->params.target_batch_ms * 1000.0 *
                                    BATCH_SIZER_DEADLINE) - w->commit_us;
    int64_t slowest_window_us = 0;
    while (w->lo < w->max_id) {
        int64_t now = clock_monotonic_us(), held = now - start;
        if (w->lo > from && (held + slowest_window_us > deadline_us ||
                             (held >= RETENTION_MIN_HOLD_US && writer_demand_pending())))
            break;
        int64_t hi = w->lo + RETENTION_WINDOW_IDS < w->max_id ? w->lo + RETENTION_WINDOW_IDS
                                                               : w->max_id;
        if (retention_window(env->db, w, hi, errp) != 0)
            return -1;
        int64_t window_us = clock_monotonic_us() - now;
        if (window_us > slowest_window_us)
            slowest_window_us = window_us;
    }
    if (retention_tally(env->db, w->tally, w->deleted - deleted_before, errp) != 0) {
        sqlite3_exec(env->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    int64_t commit_from = clock_monotonic_us();
    if (sqlite3_exec(env->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        set_error(errp, "committing a retention batch: %s", sqlite3_errmsg(env->db));
        sqlite3_exec(env->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    int64_t end = clock_monotonic_us();
    w->commit_us = end - commit_from;
    *hold_us = end - start;
    writer_acct_record(WRITER_SOURCE_RETENTION, start - asked, *hold_us);
    return 0;
}

static void account(struct migration_result *r, int64_t hold_us)
{
    r->batches++;
    r->hold_total_us += hold_us;
    if (hold_us > r->max_hold_us)
        r->max_hold_us = hold_us;
}

static int between(const struct migration_env *env, struct migration_params *params, char **errp)
{
    if (env->between != NULL)
        return env->between(env->between_arg, params, errp);
    if (env->cancel != NULL)
        migration_cancel_wait(env->cancel, params->yield_ms);
    return 0;
}

static int cancelled(const struct migration_env *env)
{
    return env->cancel != NULL && migration_cancel_requested(env->cancel);
}

/* Walks one table's ids up to its MAX(id) at the start; rows added later are newer than any cutoff. */
static int retention_phase(const struct migration_env *env, struct migration_params *params,
                           const struct phase *ph, int64_t cutoff, int64_t done_before,
                           int64_t total, struct migration_result *r, char **errp)
{
    struct retention_walk w = {.cutoff = cutoff};
    if (scalar(env->db, ph->max_sql, &w.max_id, errp) != 0)
        return -1;
    static const char tally_sql[] =
        "INSERT INTO " SCHEMA_ROW_DELETIONS_TABLE "(table_name, deleted) VALUES (?1, ?2)"
        " ON CONFLICT(table_name) DO UPDATE SET deleted = deleted + excluded.deleted";
    if (sqlite3_prepare_v2(env->db, ph->delete_sql, -1, &w.del, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(env->db, tally_sql, -1, &w.tally, NULL) != SQLITE_OK) {
        set_error(errp, "retention: %s", sqlite3_errmsg(env->db));
        sqlite3_finalize(w.del);
        return -1;
    }
    sqlite3_bind_text(w.tally, 1, ph->what, -1, SQLITE_STATIC); /* the phase is named after its table */
    int rc = 0;
    while (w.lo < w.max_id && rc == 0) {
        struct migration_env batch_env = *env;
        batch_env.params = *params;
        int64_t hold_us = 0, before = w.deleted;
        rc = retention_batch(&batch_env, &w, &hold_us, errp);
        if (rc != 0)
            break;
        account(r, hold_us);
        r->processed = done_before + w.lo;
        if (w.deleted > before)
            rc = migration_report(env, r->processed, total, 0, errp);
        if (rc == 0 && w.lo < w.max_id) {
            rc = between(env, params, errp);
            if (rc == 0 && cancelled(env))
                break;
        }
    }
    sqlite3_finalize(w.del);
    sqlite3_finalize(w.tally);
    log_info("%s: deleted %" PRId64 " %s older than %" PRId64, env->name, w.deleted, ph->what,
             cutoff);
    return rc;
}

/* Gives free pages back in short transactions; a no-op unless auto_vacuum is INCREMENTAL. */
static int retention_vacuum(const struct migration_env *env, struct migration_params *params,
                            struct migration_result *r, char **errp)
{
    int64_t mode = 0, freelist = 0, returned = 0;
    if (scalar(env->db, "PRAGMA auto_vacuum", &mode, errp) != 0)
        return -1;
    if (mode != 2)
        return 0;
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA incremental_vacuum(%d)", RETENTION_VACUUM_CHUNK_PAGES);
    while (returned < RETENTION_VACUUM_MAX_PAGES && !cancelled(env)) {
        if (scalar(env->db, "PRAGMA freelist_count", &freelist, errp) != 0)
            return -1;
        if (freelist == 0)
            break;
        int64_t start = clock_monotonic_us();
        if (sqlite3_exec(env->db, sql, NULL, NULL, NULL) != SQLITE_OK)
            return set_error(errp, "incremental_vacuum: %s", sqlite3_errmsg(env->db));
        int64_t hold = clock_monotonic_us() - start;
        writer_acct_record(WRITER_SOURCE_RETENTION, 0, hold);
        account(r, hold);
        returned += freelist < RETENTION_VACUUM_CHUNK_PAGES ? freelist : RETENTION_VACUUM_CHUNK_PAGES;
        if (between(env, params, errp) != 0)
            return -1;
    }
    log_info("%s: returned %" PRId64 " free pages to the file system", env->name, returned);
    return 0;
}

int retention_run(const struct migration_env *env, struct migration_result *result, char **errp)
{
    memset(result, 0, sizeof *result);
    result->outcome = MIGRATION_FAILED;
    int64_t started = (int64_t)time(NULL), cutoff = atomic_load(&retention_cutoff);
    struct migration_params params = env->params;
    int64_t obs_max = 0, tx_max = 0;
    if (scalar(env->db, phases[0].max_sql, &obs_max, errp) != 0 ||
        scalar(env->db, phases[1].max_sql, &tx_max, errp) != 0)
        return -1;
    result->total = obs_max + tx_max;
    if (cutoff > 0) {
        if (retention_phase(env, &params, &phases[0], cutoff, 0, result->total, result, errp) != 0)
            return -1;
        if (!cancelled(env) &&
            retention_phase(env, &params, &phases[1], cutoff, obs_max, result->total, result,
                            errp) != 0)
            return -1;
    }
    if (!cancelled(env) && retention_vacuum(env, &params, result, errp) != 0)
        return -1;
    result->wall_ms = ((int64_t)time(NULL) - started) * 1000;
    result->outcome = cancelled(env) ? MIGRATION_CANCELLED : MIGRATION_DONE;
    if (result->outcome == MIGRATION_DONE) {
        result->processed = result->total;
        return migration_report(env, result->processed, result->total, 1, errp);
    }
    return 0;
}
