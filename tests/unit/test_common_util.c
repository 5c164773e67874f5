/* test_common_util.c: the shared library's schema upgrade, time parsing and number parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "db.h"
#include "schema.h"
#include "timefmt.h"
#include "utf8.h"
#include "util.h"

static sqlite3 *open_memory_db(void)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
    return db;
}

static void exec_ok(sqlite3 *db, const char *sql)
{
    char *err = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
    if (rc != SQLITE_OK)
        fail_msg("%s: %s", sql, err);
}

static int64_t query_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *stmt = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    int64_t value = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    return value;
}

static void add_column_tolerates_duplicate_column(void **state)
{
    (void)state;
    sqlite3 *db = open_memory_db();
    exec_ok(db, "CREATE TABLE t(a INTEGER)");
    char *err = NULL;
    assert_int_equal(schema_add_column(db, "t", "b INTEGER NOT NULL DEFAULT 0", &err), 0);
    assert_int_equal(schema_add_column(db, "t", "b INTEGER NOT NULL DEFAULT 0", &err), 0);
    assert_null(err);
    sqlite3_close(db);
}

static void add_column_reports_every_other_error(void **state)
{
    (void)state;
    sqlite3 *db = open_memory_db();
    char *err = NULL;
    assert_int_equal(schema_add_column(db, "no_such_table", "b INTEGER", &err), -1);
    assert_non_null(strstr(err, "no such table"));
    free(err);
    err = NULL;
    exec_ok(db, "CREATE TABLE t(a INTEGER)");
    /* SQLite refuses to add a PRIMARY KEY column: not a duplicate, so an error. */
    assert_int_equal(schema_add_column(db, "t", "c INTEGER PRIMARY KEY", &err), -1);
    assert_non_null(err);
    free(err);
    sqlite3_close(db);
}

static void upgrade_creates_current_schema_on_empty_db(void **state)
{
    (void)state;
    sqlite3 *db = open_memory_db();
    char *err = NULL;
    assert_int_equal(schema_upgrade(db, &err), 0);
    exec_ok(db, "INSERT INTO transmissions(hash, raw_hex, first_seen) VALUES ('h', '00', 1)");
    assert_int_equal(query_int(db, "SELECT last_seen FROM transmissions"), 0);
    exec_ok(db, "INSERT INTO _async_migrations(name, status) VALUES ('m', 'done')");
    assert_int_equal(query_int(db, "SELECT rows_processed + rows_total FROM _async_migrations"), 0);
    /* A second start is a no-op. */
    assert_int_equal(schema_upgrade(db, &err), 0);
    sqlite3_close(db);
}

static void upgrade_keeps_every_legacy_row(void **state)
{
    (void)state;
    sqlite3 *db = open_memory_db();
    exec_ok(db,
            "CREATE TABLE transmissions(id INTEGER PRIMARY KEY AUTOINCREMENT, hash TEXT NOT NULL "
            "UNIQUE, raw_hex TEXT NOT NULL, payload_type INTEGER, first_seen INTEGER NOT NULL);"
            "CREATE TABLE observations(id INTEGER PRIMARY KEY AUTOINCREMENT, transmission_id "
            "INTEGER NOT NULL, observer TEXT, snr REAL, rssi REAL, path_json TEXT, timestamp "
            "INTEGER NOT NULL);"
            "CREATE INDEX legacy_obs_tx ON observations(transmission_id);"
            "CREATE TABLE _async_migrations(name TEXT PRIMARY KEY, status TEXT NOT NULL, "
            "started_at TEXT NOT NULL DEFAULT (datetime('now')), ended_at TEXT, error TEXT);"
            "INSERT INTO transmissions(hash, raw_hex, first_seen) VALUES ('a','01',5),('b','02',6);"
            "INSERT INTO observations(transmission_id, timestamp) VALUES (1, 10), (1, 20);"
            "INSERT INTO _async_migrations(name, status) VALUES ('old', 'done');");
    char *err = NULL;
    assert_int_equal(schema_upgrade(db, &err), 0);
    assert_int_equal(query_int(db, "SELECT count(*) FROM transmissions WHERE last_seen = 0"), 2);
    assert_int_equal(query_int(db, "SELECT count(*) FROM observations"), 2);
    assert_int_equal(query_int(db, "SELECT count(*) FROM _async_migrations WHERE rows_total = 0 "
                                   "AND last_update_at IS NULL"),
                     1);
    /* The legacy index on observations(transmission_id) is reused, not duplicated;
     * the timestamp index for the time windows is added. */
    assert_int_equal(query_int(db, "SELECT count(*) FROM pragma_index_list('observations')"
                                   " WHERE name <> 'idx_observations_timestamp'"), 1);
    assert_int_equal(query_int(db, "SELECT count(*) FROM pragma_index_list('observations')"
                                   " WHERE name = 'idx_observations_timestamp'"), 1);
    sqlite3_close(db);
}

static int file_exists(const char *path)
{
    return access(path, F_OK) == 0;
}

/*
 * Production responders run as a user that may read the database directory but
 * not create files in it, and SQLite can open a WAL database read-only only if
 * its -wal and -shm files exist (docs/architecture.md, "Known traps"). So the last meshscope connection
 * to close must leave them in place instead of deleting them.
 */
static void configured_connection_leaves_wal_files_for_readonly_readers(void **state)
{
    (void)state;
    char dir[] = "/tmp/meshscope-test-common-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *path = xasprintf("%s/wal.db", dir);
    char *wal = xasprintf("%s-wal", path);
    char *shm = xasprintf("%s-shm", path);

    sqlite3 *db = NULL;
    char *err = NULL;
    assert_int_equal(db_open(path, DB_READ_WRITE_CREATE, DB_ONE_THREAD, 100, &db, &err), 0);
    exec_ok(db, "PRAGMA journal_mode = WAL; CREATE TABLE t(a); INSERT INTO t VALUES (1)");
    assert_true(file_exists(wal));
    assert_true(file_exists(shm));
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
    assert_true(file_exists(wal));
    assert_true(file_exists(shm));

    /* A read-only connection without them can still read everything. */
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(query_int(db, "SELECT count(*) FROM t"), 1);
    sqlite3_close(db);

    unlink(shm);
    unlink(wal);
    unlink(path);
    rmdir(dir);
    free(shm);
    free(wal);
    free(path);
}

static void timefmt_accepts_both_formats(void **state)
{
    (void)state;
    int64_t a = 0, b = 0;
    assert_int_equal(timefmt_parse("2026-11-25 10:00:05", &a, NULL), 0);
    assert_int_equal(timefmt_parse("2026-11-25T10:00:05Z", &b, NULL), 0);
    assert_int_equal(a, b);
    assert_int_equal(a, 1795600805);
    char buf[TIMEFMT_RFC3339_LEN];
    timefmt_rfc3339(a, buf);
    assert_string_equal(buf, "2026-11-25T10:00:05Z");
}

static void timefmt_rejects_malformed_text(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "", "garbage", "2026-11-25", "2026-11-25T10:00:05", "2026-11-25 10:00:05Z",
        "2026-13-01 00:00:00", "2026-02-30 00:00:00", "2026-11-25 24:00:00",
        "2026-11-25T10:00:05+01:00", "20a6-11-25 10:00:05",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t t = 0;
        char *err = NULL;
        assert_int_equal(timefmt_parse(bad[i], &t, &err), -1);
        assert_non_null(err);
        free(err);
    }
    char *err = NULL;
    int64_t t = 0;
    assert_int_equal(timefmt_parse(NULL, &t, &err), -1);
    free(err);
}

static void parse_int64_table(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int64_t min, max;
        int ok;
        int64_t value;
    } cases[] = {
        {"0", 0, 10, 1, 0},           {"10", 0, 10, 1, 10},      {"11", 0, 10, 0, 0},
        {"-1", 0, 10, 0, 0},          {"-1", -5, 10, 1, -1},     {"", 0, 10, 0, 0},
        {"1x", 0, 10, 0, 0},          {" 1", 0, 10, 0, 0},       {"+1", 0, 10, 0, 0},
        {"99999999999999999999", 0, INT64_MAX, 0, 0},
        {"9223372036854775807", 0, INT64_MAX, 1, INT64_MAX},
        {"123456789012345678901", 0, INT64_MAX, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t out = -42;
        char *err = NULL;
        int rc = parse_int64(cases[i].text, cases[i].min, cases[i].max, "n", &out, &err);
        if (cases[i].ok) {
            assert_int_equal(rc, 0);
            assert_int_equal(out, cases[i].value);
        } else {
            assert_int_equal(rc, -1);
            assert_non_null(err);
            free(err);
        }
    }
}

static void hex_digits_of_both_cases_and_nothing_else(void **state)
{
    (void)state;
    assert_int_equal(hex_digit_value('0'), 0);
    assert_int_equal(hex_digit_value('9'), 9);
    assert_int_equal(hex_digit_value('a'), 10);
    assert_int_equal(hex_digit_value('F'), 15);
    static const char not_hex[] = "gG/:@`xX \n";
    for (size_t i = 0; i < sizeof not_hex - 1; i++)
        assert_int_equal(hex_digit_value(not_hex[i]), -1);
    assert_int_equal(hex_digit_value('\0'), -1);
    assert_int_equal(hex_digit_value(0xe9), -1);
}

static void printable_text_is_utf8_without_controls(void **state)
{
    (void)state;
    assert_true(utf8_printable("caf\xc3\xa9 ok", 8));
    assert_true(utf8_printable("", 0));
    assert_false(utf8_printable("a\nb", 3));
    assert_false(utf8_printable("a\x7f", 2));
    assert_false(utf8_printable("a\0b", 3));
    assert_false(utf8_printable("\xc3", 1)); /* truncated sequence */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hex_digits_of_both_cases_and_nothing_else),
        cmocka_unit_test(printable_text_is_utf8_without_controls),
        cmocka_unit_test(add_column_tolerates_duplicate_column),
        cmocka_unit_test(add_column_reports_every_other_error),
        cmocka_unit_test(upgrade_creates_current_schema_on_empty_db),
        cmocka_unit_test(upgrade_keeps_every_legacy_row),
        cmocka_unit_test(configured_connection_leaves_wal_files_for_readonly_readers),
        cmocka_unit_test(timefmt_accepts_both_formats),
        cmocka_unit_test(timefmt_rejects_malformed_text),
        cmocka_unit_test(parse_int64_table),
    };
    return cmocka_run_group_tests_name("common", tests, NULL, NULL);
}
