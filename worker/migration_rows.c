/* migration_rows.c: every statement the runner runs on _async_migrations, each bound and checked. */
#include "migration_rows.h"

#include "schema.h"
#include "util.h"
#include "writer_accounting.h"

#define RFC3339_NOW "strftime('%Y-%m-%dT%H:%M:%SZ', 'now')"

/* The integers a statement binds from ?3 on: a run's counts, or one value. */
struct rows_ints {
    int64_t v[2];
    int n;
};

static struct rows_ints counts_of(const struct migration_result *result)
{
    return (struct rows_ints){{result->processed, result->total}, 2};
}

/* Runs one bound statement to completion; *changes gets sqlite3_changes64. */
static int rows_exec(sqlite3 *db, const char *sql, const char *name, const char *text,
                     const struct rows_ints *ints, int64_t *changes, char **errp)
{
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK)
        return set_error(errp, "%s", sqlite3_errmsg(db));
    sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
    if (text != NULL)
        sqlite3_bind_text(stmt, 2, text, -1, SQLITE_STATIC);
    for (int i = 0; ints != NULL && i < ints->n; i++)
        sqlite3_bind_int64(stmt, 3 + i, ints->v[i]);
    int rc = writer_acct_step_progress(stmt);
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

/* rows_exec of an UPDATE that must match the row; errors start with `what`. */
static int rows_update(sqlite3 *db, const char *sql, const char *name,
                       const struct rows_ints *ints, const char *what, char **errp)
{
    int64_t changes = 0;
    char *err = NULL;
    if (rows_exec(db, sql, name, NULL, ints, &changes, &err) != 0) {
        set_error(errp, "%s failed: %s", what, err);
        free(err);
        return -1;
    }
    if (changes == 0)
        return set_error(errp, "%s failed: bookkeeping row missing", what);
    return 0;
}

int migration_rows_register(sqlite3 *db, const struct migration *registry, size_t registry_len,
                            char **errp)
{
    static const char sql[] = "INSERT INTO " SCHEMA_MIGRATIONS_TABLE "(name, status)"
                              " VALUES (?1, '" MIGRATION_STATUS_PENDING "')"
                              " ON CONFLICT(name) DO NOTHING";
    char *err = NULL;
    struct writer_txn txn;
    if (writer_txn_begin(db, WRITER_SOURCE_PROGRESS, "registering migrations", &txn, errp) != 0)
        return -1;
    for (size_t i = 0; i < registry_len; i++) {
        if (registry[i].kind != JOB_ONE_OFF)
            continue;
        if (rows_exec(db, sql, registry[i].name, NULL, NULL, NULL, &err) != 0) {
            set_error(errp, "registering migration %s: %s", registry[i].name, err);
            free(err);
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            return -1;
        }
    }
    if (writer_txn_commit(db, &txn, "registering migrations", errp) != 0) {
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return 0;
}

int migration_rows_register_recurring(sqlite3 *db, const char *name, int64_t every_s,
                                      char **errp)
{
    static const char sql[] = "INSERT INTO " SCHEMA_MIGRATIONS_TABLE "(name, status, every_s)"
                              " VALUES (?1, '" MIGRATION_STATUS_PENDING "', ?3)"
                              " ON CONFLICT(name) DO UPDATE SET every_s = excluded.every_s";
    struct rows_ints ints = {{every_s, 0}, 1};
    char *err = NULL;
    if (rows_exec(db, sql, name, NULL, &ints, NULL, &err) != 0) {
        set_error(errp, "registering %s: %s", name, err);
        free(err);
        return -1;
    }
    return 0;
}

int migration_rows_schedule(sqlite3 *db, const char *name, int64_t next_run_unix, char **errp)
{
    static const char sql[] = "UPDATE " SCHEMA_MIGRATIONS_TABLE
                              " SET next_run_at = strftime('%Y-%m-%dT%H:%M:%SZ', ?3, 'unixepoch')"
                              " WHERE name = ?1";
    struct rows_ints ints = {{next_run_unix, 0}, 1};
    return rows_update(db, sql, name, &ints, "recording the next run", errp);
}

int migration_rows_read_status(sqlite3 *db, const char *name, char **status, char **errp)
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

int migration_rows_reset(sqlite3 *db, const char *name, char **errp)
{
    static const char sql[] = "UPDATE " SCHEMA_MIGRATIONS_TABLE
                              " SET status = '" MIGRATION_STATUS_PENDING "',"
                              " started_at = datetime('now'), ended_at = NULL, error = NULL,"
                              " rows_processed = 0, rows_total = 0, last_update_at = NULL,"
                              " active_ms = 0, paused_ms = 0, throttled_ms = 0, recent_rate = 0,"
                              " throttle_reason = NULL, next_run_at = NULL"
                              " WHERE name = ?1";
    return rows_update(db, sql, name, NULL, "resetting progress", errp);
}

int migration_rows_mark_done(sqlite3 *db, const char *name, const struct migration_result *result,
                             char **errp)
{
    static const char sql[] = "UPDATE " SCHEMA_MIGRATIONS_TABLE
                              " SET status = '" MIGRATION_STATUS_DONE "',"
                              " ended_at = datetime('now'), error = NULL,"
                              " rows_processed = ?3, rows_total = ?4, throttle_reason = NULL,"
                              " last_update_at = " RFC3339_NOW " WHERE name = ?1";
    struct rows_ints counts = counts_of(result);
    return rows_update(db, sql, name, &counts, "recording done", errp);
}

int migration_rows_mark_stopped(sqlite3 *db, const char *name,
                                const struct migration_result *result, char **errp)
{
    static const char sql[] = "UPDATE " SCHEMA_MIGRATIONS_TABLE
                              " SET rows_processed = ?3, rows_total = ?4, throttle_reason = NULL,"
                              " last_update_at = " RFC3339_NOW " WHERE name = ?1";
    struct rows_ints counts = counts_of(result);
    return rows_update(db, sql, name, &counts, "recording the stop", errp);
}

int migration_rows_mark_failed(sqlite3 *db, const char *name, const char *error,
                               const struct migration_result *result, char **errp)
{
    static const char sql[] =
        "INSERT INTO " SCHEMA_MIGRATIONS_TABLE
        "(name, status, ended_at, error, rows_processed, rows_total, last_update_at)"
        " VALUES (?1, '" MIGRATION_STATUS_FAILED "', datetime('now'), ?2, ?3, ?4, " RFC3339_NOW ")"
        " ON CONFLICT(name) DO UPDATE SET status = excluded.status,"
        " ended_at = excluded.ended_at, error = excluded.error,"
        " rows_processed = excluded.rows_processed, rows_total = excluded.rows_total,"
        " last_update_at = excluded.last_update_at";
    struct rows_ints counts = counts_of(result);
    return rows_exec(db, sql, name, error, &counts, NULL, errp);
}
