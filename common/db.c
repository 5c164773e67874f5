/* db.c: the one place connections are opened and configured. */
#include "db.h"

#include "util.h"

/* Negative: KiB, as PRAGMA cache_size takes it. */
#define DB_READER_CACHE_KIB "-256"

/*
 * cache_size loads the schema, which a database another process holds
 * exclusively refuses; such a connection keeps SQLite's default (2 MiB more
 * at most) rather than failing to open, and its queries then report the lock.
 */
static void db_reader_cache(sqlite3 *db)
{
    sqlite3_exec(db, "PRAGMA cache_size = " DB_READER_CACHE_KIB, NULL, NULL, NULL);
}

static int db_configure(sqlite3 *db, enum db_access access, int busy_timeout_ms, char **errp)
{
    if (sqlite3_busy_timeout(db, busy_timeout_ms) != SQLITE_OK)
        return set_error(errp, "setting busy timeout: %s", sqlite3_errmsg(db));
    /*
     * By default the last connection to close deletes -wal and -shm. Readers
     * that may not create files in the database's directory (the production
     * responders) could then no longer open a WAL database at all, so keep
     * them. An in-memory database has no file to control: nothing to do.
     */
    int persist_wal = 1;
    sqlite3_file_control(db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist_wal);
    if (db_exec(db, "PRAGMA foreign_keys = OFF", "configuring connection", errp) != 0)
        return -1;
    /* Whichever writer resets the WAL cuts the file back to 64 MiB, not left at its peak. */
    if (access != DB_READ_ONLY &&
        db_exec(db, "PRAGMA journal_size_limit = 67108864", "configuring connection", errp) != 0)
        return -1;
    /* READONLY is the guarantee; query_only also refuses statements that would fail at commit. */
    if (access == DB_READ_ONLY &&
        db_exec(db, "PRAGMA query_only = 1", "configuring connection", errp) != 0)
        return -1;
    /*
     * A reader's page cache is private to its process and the kernel's page
     * cache holds the same pages for every responder. SQLite's default of
     * 2 MiB per connection fills on the first full count of observations and
     * was half of a responder's peak RSS; a small cache keeps the hot
     * b-tree interior pages and leaves the rest to the kernel.
     */
    if (access == DB_READ_ONLY)
        db_reader_cache(db);
    return 0;
}

int db_open(const char *path, enum db_access access, enum db_threading threading,
            int busy_timeout_ms, sqlite3 **out, char **errp)
{
    int flags = threading == DB_SHARED ? SQLITE_OPEN_FULLMUTEX : SQLITE_OPEN_NOMUTEX;
    switch (access) {
    case DB_READ_ONLY:
        flags |= SQLITE_OPEN_READONLY;
        break;
    case DB_READ_WRITE:
        flags |= SQLITE_OPEN_READWRITE;
        break;
    case DB_READ_WRITE_CREATE:
        flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
        break;
    }
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, flags, NULL);
    if (rc != SQLITE_OK) {
        set_error(errp, "cannot open database %s: %s", path,
                  db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return -1;
    }
    char *err = NULL;
    if (db_configure(db, access, busy_timeout_ms, &err) != 0) {
        set_error(errp, "cannot use database %s: %s", path, err);
        free(err);
        sqlite3_close(db);
        return -1;
    }
    *out = db;
    return 0;
}

char *db_column_text_dup(sqlite3_stmt *stmt, int col)
{
    const unsigned char *text = sqlite3_column_text(stmt, col);
    return text ? xstrdup((const char *)text) : NULL;
}

int db_table_exists(sqlite3 *db, const char *table, int *present, char **errp)
{
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
                           -1, &stmt, NULL) != SQLITE_OK)
        return set_error(errp, "checking for table %s: %s", table, sqlite3_errmsg(db));
    sqlite3_bind_text(stmt, 1, table, -1, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        set_error(errp, "checking for table %s: %s", table, sqlite3_errmsg(db));
        sqlite3_finalize(stmt);
        return -1;
    }
    *present = rc == SQLITE_ROW;
    sqlite3_finalize(stmt);
    return 0;
}

int db_exec(sqlite3 *db, const char *sql, const char *what, char **errp)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK)
        return 0;
    set_error(errp, "%s: %s", what, msg ? msg : sqlite3_errmsg(db));
    sqlite3_free(msg);
    return -1;
}

void db_rollback_if_open(sqlite3 *db)
{
    if (!sqlite3_get_autocommit(db))
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
}
