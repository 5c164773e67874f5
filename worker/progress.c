/* progress.c: rate-limited progress rows in _async_migrations, with held-back writes and a heartbeat. */
#include "progress.h"

#include <inttypes.h>
#include <time.h>

#include "log.h"
#include "schema.h"
#include "timefmt.h"
#include "util.h"
#include "writer_accounting.h"

static int64_t progress_clock_monotonic(void *arg)
{
    (void)arg;
    return clock_monotonic_ms();
}

static int64_t progress_now(const struct progress_writer *writer)
{
    return writer->clock(writer->clock_arg);
}

void progress_writer_init(struct progress_writer *writer, sqlite3 *db, const char *name,
                          migration_clock_fn clock, void *clock_arg)
{
    *writer = (struct progress_writer){
        .db = db,
        .name = name,
        .clock = clock ? clock : progress_clock_monotonic,
        .clock_arg = clock_arg,
    };
    rate_limiter_init(&writer->write_limit, PROGRESS_WRITE_INTERVAL_MS);
    rate_limiter_init(&writer->error_log_limit, PROGRESS_ERROR_LOG_INTERVAL_MS);
    writer->heartbeat_ms = PROGRESS_HEARTBEAT_MS;
    /* The runner's reset wrote the row just before: the heartbeat counts from there. */
    writer->last_write_ms = progress_now(writer);
}

static void progress_bind_extra(sqlite3_stmt *stmt, const struct progress_extra *x)
{
    sqlite3_bind_int64(stmt, 5, x->active_ms);
    sqlite3_bind_int64(stmt, 6, x->paused_ms);
    sqlite3_bind_int64(stmt, 7, x->throttled_ms);
    sqlite3_bind_double(stmt, 8, x->recent_rate);
    if (x->throttle_reason != NULL)
        sqlite3_bind_text(stmt, 9, x->throttle_reason, -1, SQLITE_TRANSIENT);
}

static int progress_write(struct progress_writer *writer, const struct migration_progress *p,
                          char **errp)
{
    static const char sql[] = "UPDATE " SCHEMA_MIGRATIONS_TABLE
                              " SET rows_processed = ?2, rows_total = ?3, last_update_at = ?4"
                              " WHERE name = ?1";
    static const char sql_extra[] =
        "UPDATE " SCHEMA_MIGRATIONS_TABLE
        " SET rows_processed = ?2, rows_total = ?3, last_update_at = ?4, active_ms = ?5,"
        " paused_ms = ?6, throttled_ms = ?7, recent_rate = ?8, throttle_reason = ?9"
        " WHERE name = ?1";
    char stamp[TIMEFMT_RFC3339_LEN];
    timefmt_rfc3339((int64_t)time(NULL), stamp);

    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2(writer->db, writer->extra ? sql_extra : sql, -1, &stmt, NULL) !=
        SQLITE_OK)
        return set_error(errp, "%s", sqlite3_errmsg(writer->db));
    sqlite3_bind_text(stmt, 1, writer->name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 2, p->processed);
    sqlite3_bind_int64(stmt, 3, p->total);
    sqlite3_bind_text(stmt, 4, stamp, -1, SQLITE_STATIC);
    if (writer->extra != NULL)
        progress_bind_extra(stmt, writer->extra);
    int rc = writer_acct_step_progress(stmt);
    if (rc != SQLITE_DONE) {
        set_error(errp, "%s", sqlite3_errmsg(writer->db));
        sqlite3_finalize(stmt);
        return -1;
    }
    sqlite3_finalize(stmt);
    if (sqlite3_changes64(writer->db) == 0)
        return set_error(errp, "bookkeeping row missing for %s in " SCHEMA_MIGRATIONS_TABLE,
                         writer->name);
    return 0;
}

/*
 * An intermediate row is advisory: the next write carries the counts anyway,
 * so the migration goes on. The failure is still logged; repeats are counted
 * rather than dropped, and reported with the next log line.
 */
static void progress_log_failure(struct progress_writer *writer, int64_t now, const char *err)
{
    int64_t held_back = 0;
    if (!rate_limiter_allow(&writer->error_log_limit, now, &held_back))
        return;
    writer->errors_logged++;
    if (held_back > 0)
        log_warnx("%s: progress write failed: %s (%" PRId64 " more failed since the last report)",
                  writer->name, err, held_back);
    else
        log_warnx("%s: progress write failed: %s", writer->name, err);
}

/* Writes writer->last now; a terminal report's failure is returned, others are logged. */
static int progress_flush(struct progress_writer *writer, int64_t now, char **errp)
{
    char *err = NULL;
    writer->last_write_ms = now;
    if (progress_write(writer, &writer->last, &err) == 0) {
        writer->writes++;
        writer->held = 0;
        return 0;
    }
    writer->write_errors++;
    if (writer->last.final) {
        set_error(errp, "final progress write failed: %s", err);
        free(err);
        return -1;
    }
    /* Still held: the next tick tries again once the limiter lets it. */
    progress_log_failure(writer, now, err);
    free(err);
    return 0;
}

int progress_writer_report(void *arg, const struct migration_progress *progress, char **errp)
{
    struct progress_writer *writer = arg;
    if (writer->observer != NULL && writer->observer(writer->observer_arg, progress, errp) != 0)
        return -1;

    int64_t now = progress_now(writer);
    writer->last = *progress;
    writer->held = 1;
    if (!progress->final && !rate_limiter_allow(&writer->write_limit, now, NULL))
        return 0;
    return progress_flush(writer, now, errp);
}

int64_t progress_writer_due_in(const struct progress_writer *writer)
{
    int64_t now = progress_now(writer);
    int64_t due = writer->last_write_ms + writer->heartbeat_ms;
    if (writer->held && writer->write_limit.used)
        due = writer->write_limit.last_ms + writer->write_limit.interval_ms < due
                  ? writer->write_limit.last_ms + writer->write_limit.interval_ms
                  : due;
    else if (writer->held)
        due = now;
    return due > now ? due - now : 0;
}

void progress_writer_touch(struct progress_writer *writer)
{
    writer->held = 1;
}

void progress_writer_flush(struct progress_writer *writer)
{
    int64_t now = progress_now(writer);
    rate_limiter_allow(&writer->write_limit, now, NULL); /* counts as this second's write */
    progress_flush(writer, now, NULL);
}

void progress_writer_tick(struct progress_writer *writer)
{
    int64_t now = progress_now(writer);
    int heartbeat = now - writer->last_write_ms >= writer->heartbeat_ms ||
                    now < writer->last_write_ms;
    if (!writer->held && !heartbeat)
        return;
    /* The heartbeat goes through the limiter too, so it never adds a second write in a second. */
    if (!rate_limiter_allow(&writer->write_limit, now, NULL))
        return;
    progress_flush(writer, now, NULL);
}
