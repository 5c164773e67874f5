/* worker_testlib.c: temp-dir SQLite databases and helpers shared by the worker's unit suites. */
#include "worker_testlib.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "db.h"
#include "schema.h"
#include "util.h"

const char test_reference_update_sql[] =
    "UPDATE transmissions SET last_seen = COALESCE((SELECT MAX(timestamp) FROM observations"
    " WHERE transmission_id = transmissions.id), last_seen) WHERE last_seen = 0";

void test_exec(sqlite3 *db, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
        fail_msg("%s: %s", sql, err);
}

int64_t test_query_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    if (sqlite3_step(stmt) != SQLITE_ROW)
        fail_msg("%s: no row: %s", sql, sqlite3_errmsg(db));
    int64_t value = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    return value;
}

sqlite3 *test_connect(const char *path, int busy_timeout_ms)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
        fail_msg("open %s: %s", path, sqlite3_errmsg(db));
    sqlite3_busy_timeout(db, busy_timeout_ms);
    return db;
}

int test_db_setup(void **state)
{
    struct test_db *t = xcalloc(1, sizeof *t);
    const char *tmp = getenv("TMPDIR");
    snprintf(t->dir, sizeof t->dir, "%s/meshscope-unit-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(t->dir) == NULL)
        fail_msg("mkdtemp %s failed", t->dir);
    snprintf(t->path, sizeof t->path, "%s/test.db", t->dir);
    char *err = NULL;
    if (db_open(t->path, DB_READ_WRITE_CREATE, DB_SHARED, 5000, &t->db, &err) != 0)
        fail_msg("open: %s", err);
    test_exec(t->db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF");
    if (schema_upgrade(t->db, &err) != 0)
        fail_msg("schema: %s", err);
    *state = t;
    return 0;
}

int test_db_teardown(void **state)
{
    struct test_db *t = *state;
    if (t->db != NULL)
        sqlite3_close(t->db);
    DIR *dir = opendir(t->dir);
    if (dir != NULL) {
        struct dirent *entry;
        while ((entry = readdir(dir)) != NULL) {
            if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0)
                continue;
            char *file = xasprintf("%s/%s", t->dir, entry->d_name);
            unlink(file);
            free(file);
        }
        closedir(dir);
    }
    rmdir(t->dir);
    free(t);
    return 0;
}

void test_seed(sqlite3 *db, int64_t first, int64_t count, int observations_each)
{
    sqlite3_stmt *tx = NULL, *obs = NULL;
    test_exec(db, "BEGIN");
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "INSERT INTO transmissions(id, hash, raw_hex, first_seen)"
                                        " VALUES (?1, printf('h%d', ?1), '00', 1)",
                                        -1, &tx, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "INSERT INTO observations(transmission_id, timestamp)"
                                        " VALUES (?1, ?2)",
                                        -1, &obs, NULL),
                     SQLITE_OK);
    for (int64_t id = first; id < first + count; id++) {
        sqlite3_bind_int64(tx, 1, id);
        assert_int_equal(sqlite3_step(tx), SQLITE_DONE);
        sqlite3_reset(tx);
        for (int k = 0; k < observations_each; k++) {
            sqlite3_bind_int64(obs, 1, id);
            /* Out of order on purpose: the MAX is not the last one inserted. */
            sqlite3_bind_int64(obs, 2, 1000 + id * 10 + (k * 7) % observations_each);
            assert_int_equal(sqlite3_step(obs), SQLITE_DONE);
            sqlite3_reset(obs);
        }
    }
    sqlite3_finalize(tx);
    sqlite3_finalize(obs);
    test_exec(db, "COMMIT");
}

char *test_reference_copy(struct test_db *t, const char *name)
{
    char *path = xasprintf("%s/%s", t->dir, name);
    unlink(path);
    char *sql = sqlite3_mprintf("VACUUM INTO %Q", path);
    test_exec(t->db, sql);
    sqlite3_free(sql);
    sqlite3 *ref = test_connect(path, 1000);
    test_exec(ref, test_reference_update_sql);
    sqlite3_close(ref);
    return path;
}

int64_t test_diff_from_reference(sqlite3 *db, const char *reference_path)
{
    char *attach = sqlite3_mprintf("ATTACH %Q AS ref", reference_path);
    test_exec(db, attach);
    sqlite3_free(attach);
    /* EXCEPT compares values with their types, so 5 and '5' differ. */
    int64_t diff = test_query_int(
        db, "SELECT (SELECT count(*) FROM (SELECT id, last_seen, typeof(last_seen)"
            " FROM main.transmissions EXCEPT SELECT id, last_seen, typeof(last_seen)"
            " FROM ref.transmissions))"
            " + (SELECT count(*) FROM (SELECT id, last_seen, typeof(last_seen)"
            " FROM ref.transmissions EXCEPT SELECT id, last_seen, typeof(last_seen)"
            " FROM main.transmissions))");
    test_exec(db, "DETACH ref");
    return diff;
}
