/* runner.c: the migration registry, _async_migrations bookkeeping, and the migration thread. */
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "db.h"
#include "log.h"
#include "migration.h"
#include "schema.h"
#include "util.h"

/* Adding a migration: one file with its run function, one line here. */
const struct migration migration_registry[] = {
    {TX_LAST_SEEN_BACKFILL_NAME, tx_last_seen_backfill_run},
};
const size_t migration_registry_len = sizeof migration_registry / sizeof migration_registry[0];

/* Ingest commits in short groups; a batch may wait this long for the writer. */
#define RUNNER_BUSY_TIMEOUT_MS 10000

void migration_params_default(struct migration_params *params)
{
    params->adaptive = 1;
    params->batch_size = 0;
    params->target_batch_ms = MIGRATION_DEFAULT_TARGET_BATCH_MS;
    params->yield_ms = MIGRATION_DEFAULT_YIELD_MS;
}

int migration_params_validate(const struct migration_params *params, char **errp)
{
    if (!params->adaptive && params->batch_size <= 0)
        return set_error(errp,
                         "invalid batch size %" PRId64 ": it must be a positive number of rows",
                         params->batch_size);
    if (!params->adaptive && params->batch_size > MIGRATION_MAX_BATCH_SIZE)
        return set_error(errp, "invalid batch size %" PRId64 ": at most %d rows",
                         params->batch_size, MIGRATION_MAX_BATCH_SIZE);
    if (params->adaptive && params->target_batch_ms <= 0)
        return set_error(errp,
                         "invalid target batch time %" PRId64 " ms: it must be positive",
                         params->target_batch_ms);
    if (params->adaptive && params->target_batch_ms > MIGRATION_MAX_TARGET_BATCH_MS)
        return set_error(errp, "invalid target batch time %" PRId64 " ms: at most %d ms",
                         params->target_batch_ms, MIGRATION_MAX_TARGET_BATCH_MS);
    if (params->yield_ms < 0)
        return set_error(errp, "invalid yield %" PRId64 " ms: it must not be negative",
                         params->yield_ms);
    if (params->yield_ms > MIGRATION_MAX_YIELD_MS)
        return set_error(errp, "invalid yield %" PRId64 " ms: at most %d ms", params->yield_ms,
                         MIGRATION_MAX_YIELD_MS);
    return 0;
}

void migration_cancel_init(struct migration_cancel *cancel)
{
    pthread_condattr_t attr;
    pthread_mutex_init(&cancel->mutex, NULL);
    pthread_condattr_init(&attr);
    /* Waits are measured on the monotonic clock so a wall-clock step cannot stretch a yield. */
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&cancel->cond, &attr);
    pthread_condattr_destroy(&attr);
    cancel->requested = 0;
}

void migration_cancel_destroy(struct migration_cancel *cancel)
{
    pthread_cond_destroy(&cancel->cond);
    pthread_mutex_destroy(&cancel->mutex);
}

void migration_cancel_request(struct migration_cancel *cancel)
{
    pthread_mutex_lock(&cancel->mutex);
    cancel->requested = 1;
    pthread_cond_broadcast(&cancel->cond);
    pthread_mutex_unlock(&cancel->mutex);
}

int migration_cancel_requested(struct migration_cancel *cancel)
{
    pthread_mutex_lock(&cancel->mutex);
    int requested = cancel->requested;
    pthread_mutex_unlock(&cancel->mutex);
    return requested;
}

int migration_cancel_wait(struct migration_cancel *cancel, int64_t ms)
{
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += ms / 1000;
    deadline.tv_nsec += (ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&cancel->mutex);
    while (!cancel->requested) {
        if (pthread_cond_timedwait(&cancel->cond, &cancel->mutex, &deadline) == ETIMEDOUT)
            break;
    }
    int requested = cancel->requested;
    pthread_mutex_unlock(&cancel->mutex);
    return requested;
}

void runner_options_default(struct runner_options *options)
{
    *options = (struct runner_options){
        .registry = migration_registry,
        .registry_len = migration_registry_len,
    };
    migration_params_default(&options->params);
}

int runner_open_connection(const char *path, sqlite3 **out, char **errp)
{
    return db_open(path, DB_READ_WRITE, DB_SHARED, RUNNER_BUSY_TIMEOUT_MS, out, errp);
}

/* Runs one bound statement to completion; *changes gets sqlite3_changes64. */
static int runner_exec(sqlite3 *db, const char *sql, const char *name, const char *text,
                       const struct migration_result *counts, int64_t *changes, char **errp)
{
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK)
        return set_error(errp, "%s", sqlite3_errmsg(db));
    sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
    if (text != NULL)
        sqlite3_bind_text(stmt, 2, text, -1, SQLITE_STATIC);
    if (counts != NULL) {
        sqlite3_bind_int64(stmt, 3, counts->processed);
        sqlite3_bind_int64(stmt, 4, counts->total);
    }
    int rc = sqlite3_step(stmt);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        set_error(errp, "%s", sqlite3_errmsg(db));
        sqlite3_finalize(stmt);
        return -1;
    }
    if (changes != NULL)
        *changes = sqlite3_changes64(db);
    sqlite3_finalize(stmt);
    return 0;
}

int runner_register(sqlite3 *db, const struct migration *registry, size_t registry_len,
                    char **errp)
{
    static const char sql[] = "INSERT INTO " SCHEMA_MIGRATIONS_TABLE "(name, status)"
                              " VALUES (?1, '" MIGRATION_STATUS_PENDING "')"
                              " ON CONFLICT(name) DO NOTHING";
    char *err = NULL;
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return set_error(errp, "registering migrations: %s", sqlite3_errmsg(db));
    for (size_t i = 0; i < registry_len; i++) {
        if (runner_exec(db, sql, registry[i].name, NULL, NULL, NULL, &err) != 0) {
            set_error(errp, "registering migration %s: %s", registry[i].name, err);
            free(err);
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            return -1;
        }
    }
    if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        set_error(errp, "registering migrations: %s", sqlite3_errmsg(db));
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return 0;
}

/* Sets *status to a heap copy of the row's status, or NULL when there is no row. */
static int runner_read_status(sqlite3 *db, const char *name, char **status, char **errp)
{
    static const char sql[] = "SELECT status FROM " SCHEMA_MIGRATIONS_TABLE " WHERE name = ?1";
    sqlite3_stmt *stmt = NULL;
    *status = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK)
        return set_error(errp, "reading the status of %s: %s", name, sqlite3_errmsg(db));
    sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        const unsigned char *text = sqlite3_column_text(stmt, 0);
        *status = xstrdup(text ? (const char *)text : "");
    } else if (rc != SQLITE_DONE) {
        set_error(errp, "reading the status of %s: %s", name, sqlite3_errmsg(db));
        sqlite3_finalize(stmt);
        return -1;
    }
    sqlite3_finalize(stmt);
    return 0;
}

/*
 * A re-run starts from zero: the counts, last_update_at and the start time
 * (so rate = processed / elapsed stays true for this run), and no end or error.
 */
static int runner_reset(sqlite3 *db, const char *name, char **errp)
{
    static const char sql[] = "UPDATE " SCHEMA_MIGRATIONS_TABLE
                              " SET status = '" MIGRATION_STATUS_PENDING "',"
                              " started_at = datetime('now'), ended_at = NULL, error = NULL,"
                              " rows_processed = 0, rows_total = 0, last_update_at = NULL"
                              " WHERE name = ?1";
    int64_t changes = 0;
    char *err = NULL;
    if (runner_exec(db, sql, name, NULL, NULL, &changes, &err) != 0) {
        set_error(errp, "resetting progress failed: %s", err);
        free(err);
        return -1;
    }
    if (changes == 0)
        return set_error(errp, "resetting progress failed: bookkeeping row missing");
    return 0;
}

static int runner_mark_done(sqlite3 *db, const char *name, char **errp)
{
    static const char sql[] = "UPDATE " SCHEMA_MIGRATIONS_TABLE
                              " SET status = '" MIGRATION_STATUS_DONE "',"
                              " ended_at = datetime('now'), error = NULL WHERE name = ?1";
    int64_t changes = 0;
    char *err = NULL;
    if (runner_exec(db, sql, name, NULL, NULL, &changes, &err) != 0) {
        set_error(errp, "recording done failed: %s", err);
        free(err);
        return -1;
    }
    if (changes == 0)
        return set_error(errp, "recording done failed: bookkeeping row missing");
    return 0;
}

/*
 * An upsert, so a failure is recorded even when the failure was the row going
 * missing. The counts are those the run reached, written with the status.
 */
static int runner_mark_failed(sqlite3 *db, const char *name, const char *error,
                              const struct migration_result *result, char **errp)
{
    static const char sql[] =
        "INSERT INTO " SCHEMA_MIGRATIONS_TABLE
        "(name, status, ended_at, error, rows_processed, rows_total, last_update_at)"
        " VALUES (?1, '" MIGRATION_STATUS_FAILED "', datetime('now'), ?2, ?3, ?4,"
        " strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))"
        " ON CONFLICT(name) DO UPDATE SET status = excluded.status,"
        " ended_at = excluded.ended_at, error = excluded.error,"
        " rows_processed = excluded.rows_processed, rows_total = excluded.rows_total,"
        " last_update_at = excluded.last_update_at";
    return runner_exec(db, sql, name, error, result, NULL, errp);
}

static void runner_fail(sqlite3 *db, const char *name, const char *error,
                        const struct migration_result *result, struct runner_summary *summary)
{
    char *err = NULL;
    summary->failed++;
    log_error("migration %s failed: %s", name, error);
    if (runner_mark_failed(db, name, error, result, &err) != 0) {
        log_error("migration %s: recording the failure failed too: %s", name, err);
        free(err);
    }
}

/* What one migration of a pass did, for the stats file. */
struct runner_stat {
    const char *name;
    const char *status;
    struct migration_result result;
    struct migration_holds holds;
};

void migration_holds_add(struct migration_holds *holds, int64_t hold_us)
{
    if (holds->len == holds->cap) {
        holds->cap = holds->cap ? holds->cap * 2 : 256;
        holds->us = xrealloc(holds->us, holds->cap * sizeof *holds->us);
    }
    holds->us[holds->len++] = hold_us;
}

void migration_holds_release(struct migration_holds *holds)
{
    free(holds->us);
    *holds = (struct migration_holds){0};
}

static void runner_run_one(sqlite3 *db, const struct runner_options *options,
                           const struct migration *migration, struct runner_summary *summary,
                           struct runner_stat *stat)
{
    struct migration_result result = {.outcome = MIGRATION_FAILED};
    char *err = NULL;
    stat->name = migration->name;
    stat->status = MIGRATION_STATUS_FAILED;
    if (runner_reset(db, migration->name, &err) != 0) {
        runner_fail(db, migration->name, err, &result, summary);
        free(err);
        return;
    }

    /* A fresh writer per run: its limiters never carry over from a previous attempt. */
    struct progress_writer writer;
    progress_writer_init(&writer, db, migration->name, options->clock, options->clock_arg);
    writer.observer = options->observer;
    writer.observer_arg = options->observer_arg;
    struct migration_env env = {
        .db = db,
        .name = migration->name,
        .params = options->params,
        .cancel = options->cancel,
        .progress = progress_writer_report,
        .progress_arg = &writer,
        .clock = options->clock,
        .clock_arg = options->clock_arg,
        .holds = options->stats_path != NULL ? &stat->holds : NULL,
    };
    int rc = migration->run(&env, &result, &err);
    stat->result = result;
    if (rc != 0) {
        runner_fail(db, migration->name, err ? err : "unknown error", &result, summary);
        free(err);
        return;
    }
    if (writer.write_errors > 0)
        log_warnx("migration %s: %" PRId64 " progress writes failed during the run",
                 migration->name, writer.write_errors);
    if (result.outcome == MIGRATION_CANCELLED) {
        stat->status = MIGRATION_STATUS_PENDING;
        summary->cancelled++;
        log_info("migration %s stopped; it stays %s and resumes on the next start",
                 migration->name, MIGRATION_STATUS_PENDING);
        return;
    }
    if (runner_mark_done(db, migration->name, &err) != 0) {
        runner_fail(db, migration->name, err, &result, summary);
        free(err);
        return;
    }
    stat->status = MIGRATION_STATUS_DONE;
    summary->done++;
}

static double us_to_ms(int64_t us)
{
    return (double)us / 1000.0;
}

/* Written to a temporary name and renamed, so a reader never sees half a file. */
static int runner_write_stats(const char *path, const struct runner_stat *stats, size_t count,
                              char **errp)
{
    json_object *list = json_object_new_array();
    for (size_t i = 0; i < count; i++) {
        const struct runner_stat *st = &stats[i];
        const struct migration_result *r = &st->result;
        json_object *m = json_object_new_object();
        json_object *holds = json_object_new_array();
        for (size_t k = 0; k < st->holds.len; k++)
            json_object_array_add(holds, json_object_new_double(us_to_ms(st->holds.us[k])));
        json_object_object_add(m, "name", json_object_new_string(st->name));
        json_object_object_add(m, "status", json_object_new_string(st->status));
        json_object_object_add(m, "rows", json_object_new_int64(r->processed));
        json_object_object_add(m, "total", json_object_new_int64(r->total));
        json_object_object_add(m, "batches", json_object_new_int64(r->batches));
        json_object_object_add(m, "wall_ms", json_object_new_int64(r->wall_ms));
        json_object_object_add(m, "yield_ms", json_object_new_double(us_to_ms(r->yield_us)));
        /* Work is wall minus yields: snapshot, batch bounds and checkpoints count too. */
        json_object_object_add(m, "work_ms",
                               json_object_new_double((double)r->wall_ms - us_to_ms(r->yield_us)));
        json_object_object_add(m, "hold_total_ms",
                               json_object_new_double(us_to_ms(r->hold_total_us)));
        json_object_object_add(m, "hold_max_ms",
                               json_object_new_double(us_to_ms(r->max_hold_us)));
        json_object_object_add(m, "holds_ms", holds);
        json_object_array_add(list, m);
    }
    json_object *doc = json_object_new_object();
    json_object_object_add(doc, "migrations", list);
    char *tmp = xasprintf("%s.tmp", path);
    int rc = 0;
    FILE *out = fopen(tmp, "w");
    const char *text = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN);
    if (out == NULL || fputs(text, out) < 0 || fputc('\n', out) == EOF) {
        rc = set_error(errp, "writing %s: %s", tmp, strerror(errno));
        if (out != NULL)
            fclose(out);
    } else if (fclose(out) != 0 || rename(tmp, path) != 0) {
        rc = set_error(errp, "writing %s: %s", path, strerror(errno));
    }
    if (rc != 0)
        remove(tmp);
    free(tmp);
    json_object_put(doc);
    return rc;
}

int runner_run_pending(sqlite3 *db, const struct runner_options *options,
                       struct runner_summary *summary, char **errp)
{
    *summary = (struct runner_summary){0};
    if (runner_register(db, options->registry, options->registry_len, errp) != 0)
        return -1;
    struct runner_stat *stats = xcalloc(options->registry_len, sizeof *stats);
    size_t ran = 0;
    int rc = 0;
    for (size_t i = 0; i < options->registry_len; i++) {
        const struct migration *migration = &options->registry[i];
        if (options->cancel != NULL && migration_cancel_requested(options->cancel)) {
            summary->cancelled++;
            break;
        }
        char *status = NULL;
        if (runner_read_status(db, migration->name, &status, errp) != 0) {
            rc = -1;
            break;
        }
        int done = status != NULL && strcmp(status, MIGRATION_STATUS_DONE) == 0;
        free(status);
        if (done) {
            summary->skipped++;
            continue;
        }
        runner_run_one(db, options, migration, summary, &stats[ran++]);
        if (summary->cancelled > 0)
            break;
    }
    char *err = NULL;
    if (options->stats_path != NULL && runner_write_stats(options->stats_path, stats, ran, &err)) {
        log_error("migration stats: %s", err);
        free(err);
    }
    for (size_t i = 0; i < ran; i++)
        migration_holds_release(&stats[i].holds);
    free(stats);
    return rc;
}

struct runner {
    pthread_t thread;
    sqlite3 *db;
    struct migration_cancel cancel;
    struct runner_options options;
    struct runner_summary summary;
    atomic_int finished;
    void (*on_finished)(void *arg);
    void *arg;
};

/*
 * The backfill is CPU-bound work nobody waits for, on a machine that also runs
 * the responders and this process's ingest loop. A lower priority for this
 * thread alone (Linux applies nice per thread) lets those preempt it; the
 * migration only slows when the CPU is actually contended.
 */
#define RUNNER_THREAD_NICE 10

static void *runner_main(void *arg)
{
    struct runner *runner = arg;
    char *err = NULL;
    if (setpriority(PRIO_PROCESS, (id_t)gettid(), RUNNER_THREAD_NICE) != 0)
        log_debug("could not lower the migration thread's priority: %s", strerror(errno));
    if (runner_run_pending(runner->db, &runner->options, &runner->summary, &err) != 0) {
        log_error("migrations stopped: %s", err);
        free(err);
        runner->summary.failed++;
    }
    sqlite3_close(runner->db);
    runner->db = NULL;
    atomic_store(&runner->finished, 1);
    if (runner->on_finished != NULL)
        runner->on_finished(runner->arg);
    return NULL;
}

struct runner *runner_start(const char *path, const struct migration_params *params,
                            const char *stats_path, void (*on_finished)(void *arg), void *arg,
                            char **errp)
{
    if (migration_params_validate(params, errp) != 0)
        return NULL;
    struct runner *runner = xcalloc(1, sizeof *runner);
    if (runner_open_connection(path, &runner->db, errp) != 0) {
        free(runner);
        return NULL;
    }
    migration_cancel_init(&runner->cancel);
    runner_options_default(&runner->options);
    runner->options.params = *params;
    runner->options.cancel = &runner->cancel;
    runner->options.stats_path = stats_path;
    runner->on_finished = on_finished;
    runner->arg = arg;
    atomic_init(&runner->finished, 0);
    int rc = pthread_create(&runner->thread, NULL, runner_main, runner);
    if (rc != 0) {
        set_error(errp, "cannot start the migration thread: %s", strerror(rc));
        sqlite3_close(runner->db);
        migration_cancel_destroy(&runner->cancel);
        free(runner);
        return NULL;
    }
    return runner;
}

int runner_finished(struct runner *runner)
{
    return atomic_load(&runner->finished);
}

void runner_cancel(struct runner *runner)
{
    migration_cancel_request(&runner->cancel);
}

void runner_join(struct runner *runner, struct runner_summary *summary)
{
    pthread_join(runner->thread, NULL);
    if (summary != NULL)
        *summary = runner->summary;
    migration_cancel_destroy(&runner->cancel);
    free(runner);
}
