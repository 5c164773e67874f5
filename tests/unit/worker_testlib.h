/* worker_testlib.h: temp-dir SQLite files, seeding and queries for the worker's suites. */
#ifndef MESHSCOPE_WORKER_TESTLIB_H
#define MESHSCOPE_WORKER_TESTLIB_H

#include <stdint.h>

#include <sqlite3.h>

/* A fresh directory holding one database with the current schema, in WAL mode. */
struct test_db {
    char dir[256];
    char path[320];
    sqlite3 *db;
};

/* cmocka setup/teardown: *state becomes a struct test_db. */
int test_db_setup(void **state);
int test_db_teardown(void **state);

/* Another connection to path (WAL, current schema assumed), with the given busy timeout. */
sqlite3 *test_connect(const char *path, int busy_timeout_ms);

void test_exec(sqlite3 *db, const char *sql);
int64_t test_query_int(sqlite3 *db, const char *sql);

/*
 * Inserts transmissions with ids first..first+count-1 at last_seen 0. Each
 * gets observations_each observations with timestamps 1000+id*10+k, so its
 * MAX is known; observations_each 0 makes orphans.
 */
void test_seed(sqlite3 *db, int64_t first, int64_t count, int observations_each);

/*
 * Copies the database to `<dir>/<name>` with VACUUM INTO and applies the
 * one-statement reference UPDATE (docs/database.md) to the copy. Returns the copy's path (heap).
 */
char *test_reference_copy(struct test_db *t, const char *name);
/* Counts rows of transmissions that differ in (id, last_seen) between main and the copy. */
int64_t test_diff_from_reference(sqlite3 *db, const char *reference_path);

/* The reference statement itself. */
extern const char test_reference_update_sql[];

#endif
