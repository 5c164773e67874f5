/* reader_db.c: the responder's read-only SQLite connection and its prepared-statement cache (docs/architecture.md). */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db.h"
#include "log.h"
#include "reader_db.h"
#include "schema.h"
#include "util.h"

/* Short: a reader must answer quickly even when something holds an exclusive lock. */
#define READER_BUSY_TIMEOUT_MS 250

static const struct reader_query table_exists_query = {
    .sql = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
    .table = "sqlite_master",
};

int reader_db_get(struct reader_db *rd, sqlite3 **db, enum reader_presence *presence, char **errp)
{
    *presence = READER_PRESENT;
    if (rd->db != NULL) {
        *db = rd->db;
        return 0;
    }
    struct stat st;
    if (stat(rd->path, &st) != 0 && errno == ENOENT) {
        *presence = READER_NO_DB;
        *db = NULL;
        return 0;
    }

    /*
     * READONLY is the guarantee (no code path here can write, whatever SQL
     * runs); query_only is the second lock that also refuses statements that
     * would only fail later at commit. A failed open is not kept: the next
     * request tries again, so a file that becomes readable is picked up.
     */
    sqlite3 *conn = NULL;
    if (db_open(rd->path, DB_READ_ONLY, DB_ONE_THREAD, READER_BUSY_TIMEOUT_MS, &conn, errp) != 0)
        return -1;
    rd->db = conn;
    *db = conn;
    return 0;
}

static sqlite3_stmt **cached_slot(struct reader_db *rd, const struct reader_query *q)
{
    for (int i = 0; i < rd->stmt_count; i++) {
        if (rd->stmts[i].query == q)
            return &rd->stmts[i].stmt;
    }
    return NULL;
}

static int prepare(struct reader_db *rd, sqlite3 *db, const struct reader_query *q,
                   sqlite3_stmt **out, char **errp)
{
    sqlite3_stmt **slot = cached_slot(rd, q);
    if (slot != NULL) {
        *out = *slot;
        return 0;
    }
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v3(db, q->sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL) != SQLITE_OK)
        return set_error(errp, "%s", sqlite3_errmsg(db));
    /* Only successful statements are kept, so a table created later is seen on the next request. */
    if (rd->stmt_count < READER_STMT_CACHE_MAX) {
        rd->stmts[rd->stmt_count].query = q;
        rd->stmts[rd->stmt_count].stmt = stmt;
        rd->stmt_count++;
    } else {
        log_warnx("prepared-statement cache full; raise READER_STMT_CACHE_MAX");
    }
    *out = stmt;
    return 0;
}

/* Distinguishes "the worker has not created this table yet" from a real read failure. */
static int table_present(struct reader_db *rd, sqlite3 *db, const char *table, int *present,
                         char **errp)
{
    sqlite3_stmt *stmt = NULL;
    if (prepare(rd, db, &table_exists_query, &stmt, errp) != 0)
        return -1;
    sqlite3_bind_text(stmt, 1, table, -1, SQLITE_STATIC);
    int rc = reader_db_step(stmt);
    *present = rc == SQLITE_ROW;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        set_error(errp, "%s", sqlite3_errmsg(db));
        reader_db_release(stmt);
        return -1;
    }
    reader_db_release(stmt);
    return 0;
}

int reader_db_prepare(struct reader_db *rd, const struct reader_query *q, sqlite3_stmt **out,
                      enum reader_presence *presence, char **errp)
{
    sqlite3 *db = NULL;
    *out = NULL;
    if (reader_db_get(rd, &db, presence, errp) != 0)
        return -1;
    if (*presence != READER_PRESENT)
        return 0;
    char *prepare_err = NULL;
    if (prepare(rd, db, q, out, &prepare_err) == 0)
        return 0;
    int present = 1;
    if (q->table != NULL) {
        char *check_err = NULL;
        if (table_present(rd, db, q->table, &present, &check_err) != 0)
            present = 1; /* the probe failed too: report the original failure */
        free(check_err);
    }
    if (!present) {
        free(prepare_err);
        *presence = READER_NO_TABLE;
        return 0;
    }
    set_error(errp, "%s", prepare_err);
    free(prepare_err);
    return -1;
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

const char *reader_db_errmsg(struct reader_db *rd)
{
    return rd->db ? sqlite3_errmsg(rd->db) : "no database connection";
}

void reader_db_close(struct reader_db *rd)
{
    for (int i = 0; i < rd->stmt_count; i++)
        sqlite3_finalize(rd->stmts[i].stmt);
    rd->stmt_count = 0;
    sqlite3_close(rd->db);
    rd->db = NULL;
}
