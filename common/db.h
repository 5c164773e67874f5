/* db.h: opening a connection with the project's settings, and small statement helpers. */
#ifndef MESHSCOPE_DB_H
#define MESHSCOPE_DB_H

#include <sqlite3.h>

enum db_access {
    DB_READ_ONLY,     /* SQLITE_OPEN_READONLY plus PRAGMA query_only: cannot write */
    DB_READ_WRITE,    /* an existing file */
    DB_READ_WRITE_CREATE,
};

enum db_threading {
    DB_ONE_THREAD,    /* SQLITE_OPEN_NOMUTEX: the connection never leaves its thread */
    DB_SHARED,        /* SQLITE_OPEN_FULLMUTEX */
};

/*
 * Opens `path` and applies the settings every meshscope connection uses
 * (busy timeout, persistent -wal/-shm, foreign keys off; query_only for
 * DB_READ_ONLY). Journal mode and synchronous are the caller's choice.
 * Returns 0 and sets *out, or -1 with a message naming the path in *errp.
 */
int db_open(const char *path, enum db_access access, enum db_threading threading,
            int busy_timeout_ms, sqlite3 **out, char **errp);

/* A heap copy of a column's text, or NULL when the value is NULL. */
char *db_column_text_dup(sqlite3_stmt *stmt, int col);

/* Sets *present to 1 when a table named `table` exists in the main schema. */
int db_table_exists(sqlite3 *db, const char *table, int *present, char **errp);

/* Rolls back the open transaction, if any (cleanup after an error: nothing to report). */
void db_rollback_if_open(sqlite3 *db);

/* Runs SQL without results; on failure *errp is "WHAT: sqlite's message". */
int db_exec(sqlite3 *db, const char *sql, const char *what, char **errp);

#endif
