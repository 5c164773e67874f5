/* test_fcgi_reader_db.c: the responder's connection cannot write, reuses statements, and tells "no schema" from failure. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "reader_db.h"
#include "schema.h"
#include "util.h"

static char dir[] = "/tmp/meshscope-reader-XXXXXX";

static int setup(void **state)
{
    (void)state;
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char *cmd = xasprintf("rm -rf '%s'", dir);
    int rc = system(cmd);
    free(cmd);
    return rc;
}

static char *path_in_dir(const char *name)
{
    return xasprintf("%s/%s", dir, name);
}

static void exec_ok(sqlite3 *db, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
        fail_msg("%s: %s", sql, err);
}

/* Creates a current-schema database in WAL mode with a few rows, as the worker would. */
static char *make_db(const char *name)
{
    char *path = path_in_dir(name);
    unlink(path);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    exec_ok(db, "PRAGMA journal_mode = WAL");
    char *err = NULL;
    if (schema_upgrade(db, &err) != 0)
        fail_msg("schema_upgrade: %s", err);
    exec_ok(db, "INSERT INTO transmissions(hash, raw_hex, payload_type, first_seen, last_seen)"
                " VALUES ('aa', '00', 1, 100, 200), ('bb', '01', 2, 110, 210);"
                "INSERT INTO observations(transmission_id, timestamp) VALUES (1, 200), (2, 210);"
                "INSERT INTO _async_migrations(name, status) VALUES ('m', 'done');");
    /* Keep the -wal and -shm files (read-only access needs them: docs/architecture.md). */
    exec_ok(db, "PRAGMA wal_checkpoint(TRUNCATE)");
    int persist = 1;
    sqlite3_file_control(db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
    sqlite3_close(db);
    return path;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        *len = 0;
        return NULL;
    }
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        buf = xrealloc(buf, cap += 65536);
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    fclose(f);
    *len = n;
    return buf;
}

/* reader_db_prepare's outcome as one value: its presence, or -1 for an error. */
static int outcome(struct reader_db *r, const struct reader_query *q, sqlite3_stmt **stmt,
                   char **err)
{
    enum reader_presence presence;
    return reader_db_prepare(r, q, stmt, &presence, err) != 0 ? -1 : (int)presence;
}

static int get_db(struct reader_db *r, sqlite3 **db)
{
    enum reader_presence presence;
    return reader_db_get(r, db, &presence, NULL) != 0 ? -1 : (int)presence;
}

static void the_connection_refuses_every_write_and_leaves_the_file_unchanged(void **state)
{
    (void)state;
    char *path = make_db("invariant.db");
    char *wal = xasprintf("%s-wal", path);
    char *attach_target = path_in_dir("attached.db");
    size_t before_len = 0, wal_before_len = 0;
    char *before = read_file(path, &before_len);
    char *wal_before = read_file(wal, &wal_before_len);
    assert_true(before_len > 0);

    struct reader_db r = {.path = path};
    sqlite3 *db = NULL;
    assert_int_equal(get_db(&r, &db), READER_PRESENT);
    assert_int_equal(sqlite3_db_readonly(db, "main"), 1);

    char *attach = xasprintf("ATTACH '%s' AS side; CREATE TABLE side.t(a)", attach_target);
    const char *writes[] = {
        "INSERT INTO transmissions(hash, raw_hex, first_seen) VALUES ('cc', '02', 1)",
        "UPDATE transmissions SET last_seen = 0",
        "DELETE FROM observations",
        "UPDATE _async_migrations SET status = 'failed'",
        "CREATE TABLE extra(a)",
        "DROP TABLE observations",
        "CREATE INDEX extra_idx ON observations(observer)",
        "PRAGMA query_only = 0; INSERT INTO transmissions(hash, raw_hex, first_seen) VALUES ('dd', '03', 1)",
        "PRAGMA query_only = 0; PRAGMA journal_mode = DELETE; DELETE FROM observations",
        "PRAGMA user_version = 7",
        "VACUUM",
        attach,
    };
    for (size_t i = 0; i < sizeof writes / sizeof writes[0]; i++) {
        char *err = NULL;
        int rc = sqlite3_exec(db, writes[i], NULL, NULL, &err);
        if (rc == SQLITE_OK)
            fail_msg("write %zu succeeded: %s", i, writes[i]);
        sqlite3_free(err);
        sqlite3_exec(db, "ROLLBACK; DETACH side", NULL, NULL, NULL);
    }
    /* The reads still work on the same connection afterwards. */
    sqlite3_stmt *stmt = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM transmissions", -1, &stmt, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int64(stmt, 0), 2);
    sqlite3_finalize(stmt);
    reader_db_close(&r);

    size_t after_len = 0, wal_after_len = 0;
    char *after = read_file(path, &after_len);
    char *wal_after = read_file(wal, &wal_after_len);
    assert_int_equal(after_len, before_len);
    assert_memory_equal(after, before, before_len);
    assert_int_equal(wal_after_len, wal_before_len);
    if (wal_before_len > 0)
        assert_memory_equal(wal_after, wal_before, wal_before_len);
    assert_int_equal(access(attach_target, F_OK), -1);
    free(before);
    free(after);
    free(wal_before);
    free(wal_after);
    free(attach);
    free(attach_target);
    free(wal);
    free(path);
}

static void query_only_is_set_on_the_connection(void **state)
{
    (void)state;
    char *path = make_db("query_only.db");
    struct reader_db r = {.path = path};
    sqlite3 *db = NULL;
    assert_int_equal(get_db(&r, &db), READER_PRESENT);
    sqlite3_stmt *stmt = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA query_only", -1, &stmt, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(stmt, 0), 1);
    sqlite3_finalize(stmt);
    reader_db_close(&r);
    free(path);
}

static const struct reader_query count_query = {"SELECT COUNT(*) FROM transmissions",
                                                "transmissions"};
static const struct reader_query migrations_query = {
    "SELECT name, rows_processed, last_update_at FROM _async_migrations", "_async_migrations"};

static void prepared_statements_are_reused_across_requests(void **state)
{
    (void)state;
    char *path = make_db("reuse.db");
    struct reader_db r = {.path = path};
    sqlite3_stmt *first = NULL, *second = NULL;
    assert_int_equal(outcome(&r, &count_query, &first, NULL), READER_PRESENT);
    assert_int_equal(sqlite3_step(first), SQLITE_ROW);
    reader_db_release(first);
    assert_int_equal(outcome(&r, &count_query, &second, NULL), READER_PRESENT);
    assert_ptr_equal(first, second);
    assert_int_equal(r.stmt_count, 1);
    /* Released statements hold no read transaction open (which would pin the WAL). */
    assert_int_equal(sqlite3_stmt_busy(second), 0);
    reader_db_release(second);
    reader_db_close(&r);
    free(path);
}

static void missing_file_missing_table_and_failures_are_told_apart(void **state)
{
    (void)state;
    char *missing = path_in_dir("does-not-exist.db");
    struct reader_db r = {.path = missing};
    sqlite3_stmt *stmt = NULL;
    char *err = NULL;
    assert_int_equal(outcome(&r, &count_query, &stmt, &err), READER_NO_DB);
    assert_int_equal(access(missing, F_OK), -1); /* opening never creates the file */
    free(missing);

    /* A database without the table: the worker has not created the schema yet. */
    char *empty = path_in_dir("empty.db");
    sqlite3 *w = NULL;
    assert_int_equal(sqlite3_open(empty, &w), SQLITE_OK);
    exec_ok(w, "CREATE TABLE unrelated(a)");
    r = (struct reader_db){.path = empty};
    assert_int_equal(outcome(&r, &count_query, &stmt, &err), READER_NO_TABLE);
    assert_int_equal(r.stmt_count, 1); /* only the sqlite_master probe is kept */

    /* A failed prepare is not cached: once the table exists the next request sees it. */
    exec_ok(w, "CREATE TABLE transmissions(id INTEGER PRIMARY KEY)");
    assert_int_equal(outcome(&r, &count_query, &stmt, &err), READER_PRESENT);
    reader_db_release(stmt);

    /* A legacy table lacking columns is a read failure, not "no schema". */
    exec_ok(w, "CREATE TABLE _async_migrations(name TEXT PRIMARY KEY, status TEXT NOT NULL,"
               " started_at TEXT, ended_at TEXT, error TEXT)");
    assert_int_equal(outcome(&r, &migrations_query, &stmt, &err), -1);
    assert_non_null(strstr(err, "no such column"));
    free(err);
    err = NULL;
    reader_db_close(&r);
    sqlite3_close(w);
    free(empty);

    /* Not a database at all. */
    char *garbage = path_in_dir("garbage.db");
    FILE *f = fopen(garbage, "wb");
    for (int i = 0; i < 512; i++)
        fputs("not a database ", f);
    fclose(f);
    r = (struct reader_db){.path = garbage};
    assert_int_equal(outcome(&r, &count_query, &stmt, &err), -1);
    assert_non_null(err);
    free(err);
    reader_db_close(&r);
    free(garbage);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Commits small transactions for `ms` milliseconds; writes one byte to `ready` after the first. */
static void run_writer(const char *path, int ready, int64_t ms)
{
    sqlite3 *w = NULL;
    /* No syncs: as many wal-index header updates per second as possible. */
    if (sqlite3_open(path, &w) != SQLITE_OK || sqlite3_busy_timeout(w, 2000) != SQLITE_OK ||
        sqlite3_exec(w, "PRAGMA synchronous = OFF", NULL, NULL, NULL) != SQLITE_OK)
        _exit(2);
    int64_t end = now_ms() + ms;
    for (int n = 0; now_ms() < end; n++) {
        if (sqlite3_exec(w, "BEGIN IMMEDIATE; INSERT INTO observations(transmission_id, timestamp)"
                            " VALUES (1, 300); COMMIT", NULL, NULL, NULL) != SQLITE_OK)
            _exit(3);
        if (n == 0 && write(ready, "x", 1) != 1)
            _exit(4);
    }
    sqlite3_close(w);
    _exit(0);
}

/*
 * In production the responders may read the -shm file but not write it
 * (docs/architecture.md, deploy/setup-users.sh); readonly_shm=1 opens it the same way
 * even as root. Such a reader that catches the wal-index header while the
 * writer is updating it cannot repair it, and SQLite answers
 * SQLITE_READONLY_RECOVERY instead of retrying: a 500 under load, found by
 * the production load test. reader_db_step rides it out.
 */
static void steps_ride_out_a_live_writer_through_a_read_only_shm(void **state)
{
    (void)state;
    char *path = make_db("readonly-shm.db");
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        close(ready[0]);
        run_writer(path, ready[1], 2000);
    }
    close(ready[1]);
    char c;
    assert_int_equal(read(ready[0], &c, 1), 1);
    close(ready[0]);

    char *uri = xasprintf("file:%s?readonly_shm=1", path);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(uri, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_busy_timeout(db, 250), SQLITE_OK);
    sqlite3_stmt *stmt = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT max(id) FROM observations", -1, &stmt, NULL),
                     SQLITE_OK);
    long reads = 0, failures = 0;
    int status = 0;
    char first_error[256] = "";
    while (waitpid(child, &status, WNOHANG) == 0) {
        int rc = reader_db_step(stmt);
        if (rc != SQLITE_ROW && failures++ == 0)
            snprintf(first_error, sizeof first_error, "%s (%d)", sqlite3_errmsg(db),
                     sqlite3_extended_errcode(db));
        sqlite3_reset(stmt);
        reads++;
    }
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    if (failures != 0)
        fail_msg("%ld of %ld reads failed, first: %s", failures, reads, first_error);
    assert_true(reads > 100);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    free(uri);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_connection_refuses_every_write_and_leaves_the_file_unchanged),
        cmocka_unit_test(query_only_is_set_on_the_connection),
        cmocka_unit_test(prepared_statements_are_reused_across_requests),
        cmocka_unit_test(missing_file_missing_table_and_failures_are_told_apart),
        cmocka_unit_test(steps_ride_out_a_live_writer_through_a_read_only_shm),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
