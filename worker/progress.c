/* progress.c: rate-limited progress rows in _async_migrations, and the rate limiter. */
#include <inttypes.h>
#include <time.h>

#include "log.h"
#include "migration.h"
#include "schema.h"
#include "timefmt.h"
#include "util.h"

int64_t migration_clock_monotonic(void *arg)
{
    (void)arg;
    return clock_monotonic_ms();
}

void progress_writer_init(struct progress_writer *writer, sqlite3 *db, const char *name,
                          migration_clock_fn clock, void *clock_arg)
{
    *writer = (struct progress_writer){
        .db = db,
        .name = name,
        .clock = clock ? clock : migration_clock_monotonic,
        .clock_arg = clock_arg,
    };
    rate_limiter_init(&writer->write_limit, MIGRATION_PROGRESS_WRITE_INTERVAL_MS);
    rate_limiter_init(&writer->error_log_limit, MIGRATION_ERROR_LOG_INTERVAL_MS);
}

static int progress_write(struct progress_writer *writer, const struct migration_progress *p,
                          char **errp)
{
    static const char sql[] = "UPDATE " SCHEMA_MIGRATIONS_TABLE
                              " SET rows_processed = ?2, rows_total = ?3, last_update_at = ?4"
                              " WHERE name = ?1";
    char stamp[TIMEFMT_RFC3339_LEN];
    timefmt_rfc3339((int64_t)time(NULL), stamp);

    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2(writer->db, sql, -1, &stmt, NULL) != SQLITE_OK)
        return set_error(errp, "%s", sqlite3_errmsg(writer->db));
    sqlite3_bind_text(stmt, 1, writer->name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 2, p->processed);
    sqlite3_bind_int64(stmt, 3, p->total);
    sqlite3_bind_text(stmt, 4, stamp, -1, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
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

int progress_writer_report(void *arg, const struct migration_progress *progress, char **errp)
{
    struct progress_writer *writer = arg;
    if (writer->observer != NULL && writer->observer(writer->observer_arg, progress, errp) != 0)
        return -1;

    int64_t now = writer->clock(writer->clock_arg);
    if (!progress->final && !rate_limiter_allow(&writer->write_limit, now, NULL))
        return 0;
    char *err = NULL;
    if (progress_write(writer, progress, &err) == 0) {
        writer->writes++;
        return 0;
    }
    writer->write_errors++;
    if (progress->final) {
        set_error(errp, "final progress write failed: %s", err);
        free(err);
        return -1;
    }
    /* An intermediate row is advisory: the next write carries the counts
     * anyway, so the migration goes on. The failure is still logged; repeats
     * are counted rather than dropped, and reported with the next log line. */
    int64_t held_back = 0;
    if (rate_limiter_allow(&writer->error_log_limit, now, &held_back)) {
        writer->errors_logged++;
        if (held_back > 0)
            log_warnx("%s: progress write failed: %s (%" PRId64
                     " more failed since the last report)",
                     writer->name, err, held_back);
        else
            log_warnx("%s: progress write failed: %s", writer->name, err);
    }
    free(err);
    return 0;
}
