/* reader_db.c: the responder's read-only SQLite connection and its prepared-statement cache (design §1, §9). */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db.h"
#include "log.h"
#include "responder.h"
#include "schema.h"
#include "util.h"

/* Short: a reader must answer quickly even when something holds an exclusive lock. */
#define READER_BUSY_TIMEOUT_MS 250

static const struct reader_query table_exists_query = {
    .sql = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
    .table = "sqlite_master",
};

enum reader_result reader_db_get(struct responder *r, sqlite3 **db, char **errp)
{
    if (r->db != NULL) {
        *db = r->db;
        return READER_OK;
    }
    struct stat st;
    if (stat(r->db_path, &st) != 0 && errno == ENOENT)
        return READER_NO_DB;

    /*
     * READONLY is the guarantee (no code path here can write, whatever SQL
     * runs); query_only is the second lock that also refuses statements that
     * would only fail later at commit. A failed open is not kept: the next
     * request tries again, so a file that becomes readable is picked up.
     */
    sqlite3 *conn = NULL;
    if (db_open(r->db_path, DB_READ_ONLY, DB_ONE_THREAD, READER_BUSY_TIMEOUT_MS, &conn, errp) != 0)
        return READER_ERROR;
    r->db = conn;
    *db = conn;
    return READER_OK;
}

static sqlite3_stmt **cached_slot(struct responder *r, const struct reader_query *q)
{
    for (int i = 0; i < r->stmt_count; i++) {
        if (r->stmts[i].query == q)
            return &r->stmts[i].stmt;
    }
    return NULL;
}

static enum reader_result prepare(struct responder *r, sqlite3 *db, const struct reader_query *q,
                                  sqlite3_stmt **out, char **errp)
{
    sqlite3_stmt **slot = cached_slot(r, q);
    if (slot != NULL) {
        *out = *slot;
        return READER_OK;
    }
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v3(db, q->sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL) != SQLITE_OK) {
        set_error(errp, "%s", sqlite3_errmsg(db));
        return READER_ERROR;
    }
    /* Only successful statements are kept, so a table created later is seen on the next request. */
    if (r->stmt_count < READER_STMT_CACHE_MAX) {
        r->stmts[r->stmt_count].query = q;
        r->stmts[r->stmt_count].stmt = stmt;
        r->stmt_count++;
    } else {
        log_warnx("prepared-statement cache full; raise READER_STMT_CACHE_MAX");
    }
    *out = stmt;
    return READER_OK;
}

/* Distinguishes "the worker has not created this table yet" from a real read failure. */
static enum reader_result table_state(struct responder *r, sqlite3 *db, const char *table,
                                      char **errp)
{
    sqlite3_stmt *stmt = NULL;
    if (prepare(r, db, &table_exists_query, &stmt, errp) != READER_OK)
        return READER_ERROR;
    sqlite3_bind_text(stmt, 1, table, -1, SQLITE_STATIC);
    int rc = reader_db_step(stmt);
    enum reader_result result = rc == SQLITE_ROW ? READER_OK : READER_NO_TABLE;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        set_error(errp, "%s", sqlite3_errmsg(db));
        result = READER_ERROR;
    }
    reader_db_release(stmt);
    return result;
}

enum reader_result reader_db_prepare(struct responder *r, const struct reader_query *q,
                                     sqlite3_stmt **out, char **errp)
{
    sqlite3 *db = NULL;
    enum reader_result state = reader_db_get(r, &db, errp);
    if (state != READER_OK)
        return state;
    char *prepare_err = NULL;
    if (prepare(r, db, q, out, &prepare_err) == READER_OK)
        return READER_OK;
    if (q->table != NULL) {
        char *check_err = NULL;
        enum reader_result table = table_state(r, db, q->table, &check_err);
        free(check_err);
        if (table == READER_NO_TABLE) {
            free(prepare_err);
            return READER_NO_TABLE;
        }
    }
    set_error(errp, "%s", prepare_err);
    free(prepare_err);
    return READER_ERROR;
}

enum reader_result reader_db_table_exists(struct responder *r, const char *table, char **errp)
{
    sqlite3 *db = NULL;
    enum reader_result state = reader_db_get(r, &db, errp);
    if (state != READER_OK)
        return state;
    return table_state(r, db, table, errp);
}

/*
 * A connection that may not write the -shm file (the production responders,
 * whose user only reads the database's files) cannot rebuild a wal-index
 * header it caught half-written by the worker. Where a writable reader would
 * take the lock and retry, SQLite answers SQLITE_READONLY_RECOVERY (or
 * _CANTINIT) instead. While the worker lives that lasts microseconds, and it
 * can only happen in the step that opens the read transaction, before any row,
 * so repeating the step is safe. Bounded (about 10 ms): with no live writer to
 * finish the header it is a real failure and is reported as one.
 */
#define READER_SHM_RETRIES 100
#define READER_SHM_RETRY_PAUSE_US 100

int reader_db_step(sqlite3_stmt *stmt)
{
    for (int attempt = 0;; attempt++) {
        int rc = sqlite3_step(stmt);
        if (rc != SQLITE_READONLY || attempt >= READER_SHM_RETRIES)
            return rc;
        int extended = sqlite3_extended_errcode(sqlite3_db_handle(stmt));
        if (extended != SQLITE_READONLY_RECOVERY && extended != SQLITE_READONLY_CANTINIT)
            return rc;
        sqlite3_reset(stmt);
        if (attempt > 0)
            usleep(READER_SHM_RETRY_PAUSE_US);
    }
}

void reader_db_release(sqlite3_stmt *stmt)
{
    /* Resetting ends the statement's read transaction, so the worker's checkpoints can pass it. */
    if (stmt != NULL) {
        sqlite3_reset(stmt);
        sqlite3_clear_bindings(stmt);
    }
}

const char *reader_db_errmsg(struct responder *r)
{
    return r->db ? sqlite3_errmsg(r->db) : "no database connection";
}

void reader_db_close(struct responder *r)
{
    for (int i = 0; i < r->stmt_count; i++)
        sqlite3_finalize(r->stmts[i].stmt);
    r->stmt_count = 0;
    sqlite3_close(r->db);
    r->db = NULL;
}
