/* reader_db.h: a responder's read-only SQLite connection and its prepared-statement cache. */
#ifndef MESHSCOPE_READER_DB_H
#define MESHSCOPE_READER_DB_H

#include <sqlite3.h>

/* A statement a route runs; routes declare these static so the cache can key on their address. */
struct reader_query {
    const char *sql;
    const char *table; /* the table whose absence means "no schema yet", or NULL */
};

/*
 * What a successful read found: the one way every part of the responder says
 * "nothing there yet". A failed read is never a presence: it returns -1.
 */
enum reader_presence {
    READER_PRESENT,  /* the database and the query's table exist */
    READER_NO_DB,    /* the database file does not exist yet */
    READER_NO_TABLE, /* the query's table does not exist yet: the worker has not created it */
    READER_NO_ROW,   /* the table exists but holds no row of the kind asked for */
};

#define READER_STMT_CACHE_MAX 32

struct reader_db {
    const char *path;
    sqlite3 *db; /* opened lazily, read-only; NULL until the file exists */
    struct {
        const struct reader_query *query;
        sqlite3_stmt *stmt;
    } stmts[READER_STMT_CACHE_MAX]; /* prepared once per connection, reused by every request */
    int stmt_count;
};

/*
 * The read-only connection, opened on first use. Returns 0 with *presence
 * READER_PRESENT and *db set, or READER_NO_DB; -1 and *errp on failure.
 */
int reader_db_get(struct reader_db *rd, sqlite3 **db, enum reader_presence *presence, char **errp);
/*
 * q's statement, prepared once per connection and reused afterwards. Returns 0
 * with *presence READER_PRESENT and *out set, or READER_NO_DB / READER_NO_TABLE
 * (q->table missing) with *out NULL; -1 and *errp on failure. Hand the
 * statement back with reader_db_release when done with it.
 */
int reader_db_prepare(struct reader_db *rd, const struct reader_query *q, sqlite3_stmt **out,
                      enum reader_presence *presence, char **errp);
/*
 * sqlite3_step for the responders: also rides out the transient errors a
 * reader with a read-only -shm file meets while the writer updates the
 * wal-index (see reader_db.c). Use it for every step.
 */
int reader_db_step(sqlite3_stmt *stmt);
/* Resets the statement and clears its bindings; accepts NULL. */
void reader_db_release(sqlite3_stmt *stmt);
const char *reader_db_errmsg(struct reader_db *rd);
void reader_db_close(struct reader_db *rd);

#endif
