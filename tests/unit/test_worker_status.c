/* test_worker_status.c: `meshscope-worker status` against real database files, in both output forms. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>
#include <sqlite3.h>

#include "log.h"
#include "status.h"
#include "util.h"
#include "worker_testlib.h"

/* Runs status_main with stdout sent to a file; returns the exit code and the output (heap). */
static int run_status(struct test_db *t, const char *db_path, int json, char **output)
{
    char *out_path = xasprintf("%s/status.out", t->dir);
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(saved >= 0 && fd >= 0);
    dup2(fd, STDOUT_FILENO);
    close(fd);
    char *argv[] = {"status", "--db", (char *)db_path, json ? "--json" : NULL, NULL};
    int rc = status_main(json ? 4 : 3, argv);
    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);

    FILE *in = fopen(out_path, "r");
    assert_non_null(in);
    char *text = xcalloc(1, 65536);
    size_t n = fread(text, 1, 65535, in);
    text[n] = '\0';
    fclose(in);
    unlink(out_path);
    free(out_path);
    *output = text;
    return rc;
}

static json_object *status_json(struct test_db *t)
{
    char *text = NULL;
    assert_int_equal(run_status(t, t->path, 1, &text), 0);
    json_object *doc = json_tokener_parse(text);
    if (doc == NULL || !json_object_is_type(doc, json_type_array))
        fail_msg("not a JSON array: %s", text);
    free(text);
    return doc;
}

static json_object *field(json_object *obj, const char *key)
{
    json_object *value = NULL;
    if (!json_object_object_get_ex(obj, key, &value))
        fail_msg("missing %s in %s", key, json_object_to_json_string(obj));
    return value;
}

static void running_migration_shows_progress_rate_and_eta(void **state)
{
    struct test_db *t = *state;
    test_exec(t->db, "INSERT INTO _async_migrations(name, status, started_at, rows_processed,"
                     " rows_total, last_update_at) VALUES ('m', 'pending_async',"
                     " datetime('now', '-100 seconds'), 1000, 3000, '2026-01-01T00:00:00Z')");
    json_object *doc = status_json(t);
    json_object *m = json_object_array_get_idx(doc, 0);
    assert_string_equal(json_object_get_string(field(m, "status")), "pending_async");
    assert_int_equal(json_object_get_int64(field(m, "rowsProcessed")), 1000);
    assert_int_equal(json_object_get_int64(field(m, "rowsTotal")), 3000);
    /* 100 s elapsed (101 if the clock ticked): ~10 rows/s and ~200 s to go. */
    double rate = json_object_get_double(field(m, "ratePerSec"));
    double eta = json_object_get_double(field(m, "etaSec"));
    assert_true(rate > 9.8 && rate <= 10.0);
    assert_true(eta >= 200.0 && eta < 205.0);
    assert_string_equal(json_object_get_string(field(m, "lastUpdateAt")), "2026-01-01T00:00:00Z");
    json_object_put(doc);
}

static void finished_migrations_measure_from_start_to_end(void **state)
{
    struct test_db *t = *state;
    test_exec(t->db, "INSERT INTO _async_migrations(name, status, started_at, ended_at, error,"
                     " rows_processed, rows_total) VALUES"
                     " ('a_done', 'done', '2026-01-01 00:00:00', '2026-01-01 00:00:50', NULL,"
                     " 500, 500),"
                     " ('b_failed', 'failed', '2026-01-01 00:00:00', '2026-01-01T00:00:10Z',"
                     " 'disk on fire', 20, 500)");
    json_object *doc = status_json(t);
    assert_int_equal(json_object_array_length(doc), 2);
    json_object *done = json_object_array_get_idx(doc, 0);
    assert_true(json_object_get_double(field(done, "elapsedSec")) == 50.0);
    assert_true(json_object_get_double(field(done, "ratePerSec")) == 10.0);
    assert_true(json_object_get_double(field(done, "etaSec")) == 0.0);
    json_object *failed = json_object_array_get_idx(doc, 1);
    assert_string_equal(json_object_get_string(field(failed, "error")), "disk on fire");
    assert_true(json_object_get_double(field(failed, "ratePerSec")) == 2.0);
    json_object_put(doc);
}

static void table_shows_one_line_per_migration(void **state)
{
    struct test_db *t = *state;
    test_exec(t->db, "INSERT INTO _async_migrations(name, status, started_at, ended_at, error,"
                     " rows_processed, rows_total) VALUES"
                     " ('a_done', 'done', '2026-01-01 00:00:00', '2026-01-01 00:00:50', NULL,"
                     " 500, 500),"
                     " ('b_failed', 'failed', '2026-01-01 00:00:00', '2026-01-01 00:00:10',"
                     " 'disk on fire', 20, 500)");
    char *text = NULL;
    assert_int_equal(run_status(t, t->path, 0, &text), 0);
    assert_non_null(strstr(text, "NAME"));
    assert_non_null(strstr(text, "ETA"));
    const char *done = strstr(text, "a_done");
    const char *failed = strstr(text, "b_failed");
    assert_non_null(done);
    assert_non_null(failed);
    assert_non_null(strstr(done, "500/500 (100.0%)"));
    assert_non_null(strstr(failed, "disk on fire"));
    free(text);
}

static void legacy_table_without_progress_columns_is_read(void **state)
{
    struct test_db *t = *state;
    test_exec(t->db, "DROP TABLE _async_migrations;"
                     "CREATE TABLE _async_migrations(name TEXT PRIMARY KEY, status TEXT NOT NULL,"
                     " started_at TEXT NOT NULL DEFAULT (datetime('now')), ended_at TEXT,"
                     " error TEXT);"
                     "INSERT INTO _async_migrations(name, status) VALUES ('old', 'done')");
    json_object *doc = status_json(t);
    json_object *m = json_object_array_get_idx(doc, 0);
    assert_string_equal(json_object_get_string(field(m, "name")), "old");
    assert_int_equal(json_object_get_int64(field(m, "rowsProcessed")), 0);
    json_object_put(doc);
}

static void missing_table_is_an_empty_list(void **state)
{
    struct test_db *t = *state;
    test_exec(t->db, "DROP TABLE _async_migrations");
    json_object *doc = status_json(t);
    assert_int_equal(json_object_array_length(doc), 0);
    json_object_put(doc);
}

static void unparseable_times_give_zeros_and_a_message(void **state)
{
    struct test_db *t = *state;
    test_exec(t->db, "INSERT INTO _async_migrations(name, status, started_at, rows_processed,"
                     " rows_total) VALUES ('m', 'pending_async', 'yesterday-ish', 10, 20)");
    char *text = NULL;
    assert_int_equal(run_status(t, t->path, 1, &text), 0);
    assert_null(strstr(text, "nan"));
    assert_null(strstr(text, "inf"));
    json_object *doc = json_tokener_parse(text);
    json_object *m = json_object_array_get_idx(doc, 0);
    assert_true(json_object_get_double(field(m, "ratePerSec")) == 0.0);
    assert_non_null(strstr(json_object_get_string(field(m, "timeError")), "yesterday-ish"));
    json_object_put(doc);
    free(text);
}

/* The CLI prints the API's object: its state, stall flag and error message, beside the stored status. */
static void json_carries_the_api_object_beside_the_stored_status(void **state)
{
    struct test_db *t = *state;
    test_exec(t->db, "INSERT INTO _async_migrations(name, status, started_at, ended_at, error,"
                     " rows_processed, rows_total, last_update_at) VALUES"
                     " ('a_quiet', 'pending_async', datetime('now', '-3600 seconds'), NULL, NULL,"
                     "  10, 20, strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-600 seconds')),"
                     " ('b_failed', 'failed', '2026-01-01 00:00:00', '2026-01-01 00:00:10',"
                     "  'disk on fire', 1, 2, NULL),"
                     " ('c_odd', 'paused?', '2026-01-01 00:00:00', NULL, 'stale', 0, 0, NULL)");
    json_object *doc = status_json(t);
    assert_int_equal(json_object_array_length(doc), 3);
    json_object *quiet = json_object_array_get_idx(doc, 0);
    assert_string_equal(json_object_get_string(field(quiet, "status")), "pending_async");
    assert_string_equal(json_object_get_string(field(quiet, "state")), "running");
    assert_true(json_object_get_boolean(field(quiet, "stalled")));
    json_object *failed = json_object_array_get_idx(doc, 1);
    assert_string_equal(json_object_get_string(field(failed, "state")), "failed");
    assert_false(json_object_get_boolean(field(failed, "stalled")));
    assert_string_equal(json_object_get_string(field(failed, "errorMessage")), "disk on fire");
    assert_string_equal(json_object_get_string(field(failed, "endedAt")), "2026-01-01T00:00:10Z");
    /* An unknown stored status is never running, and its stale error is not an errorMessage. */
    json_object *odd = json_object_array_get_idx(doc, 2);
    assert_string_equal(json_object_get_string(field(odd, "state")), "unknown");
    assert_string_equal(json_object_get_string(field(odd, "error")), "stale");
    assert_false(json_object_object_get_ex(odd, "errorMessage", NULL));
    json_object_put(doc);
}

static void missing_database_fails_without_creating_one(void **state)
{
    struct test_db *t = *state;
    char *path = xasprintf("%s/absent.db", t->dir);
    char *text = NULL;
    assert_int_equal(run_status(t, path, 1, &text), 1);
    free(text);
    struct stat st;
    assert_int_equal(stat(path, &st), -1);
    free(path);
}

int main(void)
{
    log_init("test", LOG_LEVEL_ERROR);
    const struct CMUnitTest tests[] = {
#define DB_TEST(fn) cmocka_unit_test_setup_teardown(fn, test_db_setup, test_db_teardown)
        DB_TEST(running_migration_shows_progress_rate_and_eta),
        DB_TEST(finished_migrations_measure_from_start_to_end),
        DB_TEST(table_shows_one_line_per_migration),
        DB_TEST(legacy_table_without_progress_columns_is_read),
        DB_TEST(missing_table_is_an_empty_list),
        DB_TEST(unparseable_times_give_zeros_and_a_message),
        DB_TEST(json_carries_the_api_object_beside_the_stored_status),
        DB_TEST(missing_database_fails_without_creating_one),
#undef DB_TEST
    };
    return cmocka_run_group_tests_name("status", tests, NULL, NULL);
}
