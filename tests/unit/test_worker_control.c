/* test_worker_control.c: the control protocol's parser, pauses and settings in _job_control, the throttle's hysteresis and the job clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>
#include <sqlite3.h>

#include "control_command.h"
#include "job_clock.h"
#include "job_control.h"
#include "log.h"
#include "migration_params.h"
#include "throttle.h"
#include "util.h"
#include "worker_testlib.h"

static void command_table(void **state)
{
    (void)state;
    static const struct {
        const char *line;
        int ok;
        enum control_verb verb;
        const char *job, *key, *value, *reason, *error;
    } cases[] = {
        {"status", 1, CONTROL_STATUS, NULL, NULL, NULL, NULL, NULL},
        {"status\r", 1, CONTROL_STATUS, NULL, NULL, NULL, NULL, NULL},
        {"  status  ", 1, CONTROL_STATUS, NULL, NULL, NULL, NULL, NULL},
        {"pause all", 1, CONTROL_PAUSE, "all", NULL, NULL, NULL, NULL},
        {"pause jobA nightly  backup ", 1, CONTROL_PAUSE, "jobA", NULL, NULL, "nightly  backup", NULL},
        {"resume\tjobA", 1, CONTROL_RESUME, "jobA", NULL, NULL, NULL, NULL},
        {"set jobA yield-ms 300", 1, CONTROL_SET, "jobA", "yield-ms", "300", NULL, NULL},
        {"set jobA adaptive", 1, CONTROL_SET, "jobA", "adaptive", NULL, NULL, NULL},
        {"", 0, 0, NULL, NULL, NULL, NULL, "empty command"},
        {"   ", 0, 0, NULL, NULL, NULL, NULL, "empty command"},
        {"stat", 0, 0, NULL, NULL, NULL, NULL, "unknown command 'stat'"},
        {"status now", 0, 0, NULL, NULL, NULL, NULL, "takes no arguments"},
        {"pause", 0, 0, NULL, NULL, NULL, NULL, "needs a job name"},
        {"resume a b", 0, 0, NULL, NULL, NULL, NULL, "one job name"},
        {"set jobA", 0, 0, NULL, NULL, NULL, NULL, "usage: set JOB KEY VALUE"},
        {"set jobA yield-ms 1 2", 0, 0, NULL, NULL, NULL, NULL, "one value"},
        {"pause a\001b", 0, 0, NULL, NULL, NULL, NULL, "control characters"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct control_command cmd;
        char *err = NULL;
        int rc = control_command_parse(cases[i].line, &cmd, &err);
        if (rc != (cases[i].ok ? 0 : -1))
            fail_msg("'%s': rc %d (%s)", cases[i].line, rc, err ? err : "");
        if (!cases[i].ok) {
            if (strstr(err, cases[i].error) == NULL)
                fail_msg("'%s': error '%s', want '%s'", cases[i].line, err, cases[i].error);
            free(err);
            continue;
        }
        assert_int_equal(cmd.verb, cases[i].verb);
#define SAME(field)                                                                   \
    do {                                                                              \
        if (cases[i].field == NULL)                                                   \
            assert_null(cmd.field);                                                   \
        else                                                                          \
            assert_string_equal(cmd.field, cases[i].field);                           \
    } while (0)
        SAME(job);
        SAME(key);
        SAME(value);
        SAME(reason);
#undef SAME
        control_command_free(&cmd);
    }
    /* Over the cap (with or without CR) is refused; at the cap it parses. */
    char *line = xcalloc(1, CONTROL_LINE_MAX + 3);
    memcpy(line, "pause all ", 10);
    memset(line + 10, 'x', CONTROL_LINE_MAX - 10);
    struct control_command cmd;
    char *err = NULL;
    assert_int_equal(control_command_parse(line, &cmd, &err), 0);
    control_command_free(&cmd);
    line[CONTROL_LINE_MAX] = '\r';
    assert_int_equal(control_command_parse(line, &cmd, &err), 0);
    control_command_free(&cmd);
    line[CONTROL_LINE_MAX] = 'x';
    assert_int_equal(control_command_parse(line, &cmd, &err), -1);
    assert_non_null(strstr(err, "too long"));
    free(err);
    free(line);
}

static const struct migration two_jobs[] = {{.name = "job_a"}, {.name = "job_b"}};

static struct job_control *new_control(void)
{
    struct migration_params base;
    migration_params_default(&base);
    struct job_control *ctl = NULL;
    char *err = NULL;
    assert_int_equal(job_control_new(two_jobs, 2, &base, &ctl, &err), 0);
    return ctl;
}

static void pauses_and_settings_are_stored_and_reloaded(void **state)
{
    struct test_db *t = *state;
    struct job_control *ctl = new_control();
    char *err = NULL;
    uint64_t ticket = 0;
    assert_int_equal(job_control_pause(ctl, t->db, "job_a", "backup window", &ticket, &err), 0);
    assert_int_equal(job_control_set(ctl, t->db, "job_b", "yield-ms", "300", &err), 0);
    assert_int_equal(job_control_set(ctl, t->db, "job_b", "batch-size", "500", &err), 0);
    assert_int_equal(job_control_set(ctl, t->db, "all", "max-rows-per-sec", "1000", &err), 0);
    job_control_free(ctl);

    /* A restart: a new control plane reads what was stored. */
    ctl = new_control();
    assert_int_equal(job_control_load(ctl, t->db, &err), 0);
    assert_int_equal(job_control_paused(ctl, 0, &ticket), 1);
    assert_int_equal(job_control_paused(ctl, 1, &ticket), 0);
    char reason[JOB_REASON_MAX];
    job_control_pause_info(ctl, 0, reason, sizeof reason);
    assert_string_equal(reason, "backup window");
    struct migration_params p;
    int64_t max_rows = 0;
    job_control_params(ctl, 1, &p, &max_rows, NULL);
    assert_int_equal(p.yield_ms, 300);
    assert_int_equal(p.adaptive, 0);
    assert_int_equal(p.batch_size, 500);
    assert_int_equal(max_rows, 1000);
    job_control_params(ctl, 0, &p, &max_rows, NULL);
    assert_int_equal(p.adaptive, 1);
    assert_int_equal(p.yield_ms, MIGRATION_DEFAULT_YIELD_MS);
    /* Back to adaptive, then resume: both stored. */
    assert_int_equal(job_control_set(ctl, t->db, "job_b", "adaptive", NULL, &err), 0);
    assert_int_equal(job_control_resume(ctl, t->db, "all", &err), 0);
    assert_int_equal(test_query_int(t->db, "SELECT count(*) FROM _job_control WHERE paused = 0"), 2);
    assert_int_equal(test_query_int(t->db, "SELECT batch_size FROM _job_control WHERE name = 'job_b'"), 0);
    job_control_free(ctl);
}

static void bad_settings_and_jobs_are_refused_and_change_nothing(void **state)
{
    struct test_db *t = *state;
    struct job_control *ctl = new_control();
    static const struct {
        const char *job, *key, *value, *error;
    } cases[] = {
        {"job_a", "target-batch-ms", "0", "--target-batch-ms"},
        {"job_a", "target-batch-ms", "60001", "--target-batch-ms"},
        {"job_a", "yield-ms", "-1", "--yield-ms"},
        {"job_a", "yield-ms", "soon", "--yield-ms"},
        {"job_a", "batch-size", "0", "--batch-size"},
        {"job_a", "max-rows-per-sec", "-5", "max-rows-per-sec"},
        {"job_a", "adaptive", "off", "batch-size N"},
        {"job_a", "speed", "11", "unknown setting 'speed'"},
        {"job_a", "yield-ms", NULL, "needs a value"},
        {"nope", "yield-ms", "5", "no job named 'nope'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *err = NULL;
        assert_int_equal(job_control_set(ctl, t->db, cases[i].job, cases[i].key, cases[i].value,
                                         &err),
                         -1);
        if (strstr(err, cases[i].error) == NULL)
            fail_msg("set %s %s: '%s', want '%s'", cases[i].key, cases[i].value, err,
                     cases[i].error);
        free(err);
    }
    char *err = NULL;
    assert_int_equal(job_control_pause(ctl, t->db, "nope", NULL, NULL, &err), -1);
    assert_non_null(strstr(err, "no job named"));
    free(err);
    assert_int_equal(test_query_int(t->db, "SELECT count(*) FROM _job_control"), 0);
    job_control_free(ctl);
}

/* A pause is answered only once a running job has been between batches; not running: at once. */
static void pause_settles_between_batches(void **state)
{
    struct test_db *t = *state;
    struct job_control *ctl = new_control();
    char *err = NULL;
    uint64_t ticket = 0, to_settle = 0;
    assert_int_equal(job_control_pause(ctl, t->db, "job_b", NULL, &ticket, &err), 0);
    assert_true(job_control_pause_settled(ctl, "job_b", ticket)); /* pending: nothing to wait for */
    job_control_set_phase(ctl, 0, JOB_RUNNING);
    assert_int_equal(job_control_pause(ctl, t->db, "all", "ops", &ticket, &err), 0);
    assert_false(job_control_pause_settled(ctl, "all", ticket));
    assert_false(job_control_pause_settled(ctl, "job_a", ticket));
    assert_true(job_control_paused(ctl, 0, &to_settle));
    assert_int_equal(to_settle, ticket);
    job_control_settle(ctl, 0, to_settle);
    assert_true(job_control_pause_settled(ctl, "all", ticket));
    assert_true(job_control_paused(ctl, 0, &to_settle));
    assert_int_equal(to_settle, 0); /* settled once */
    /* A job that stops running settles a pause it never reached. */
    assert_int_equal(job_control_pause(ctl, t->db, "job_a", NULL, &ticket, &err), 0);
    assert_false(job_control_pause_settled(ctl, "job_a", ticket));
    job_control_set_phase(ctl, 0, JOB_STOPPED);
    assert_true(job_control_pause_settled(ctl, "job_a", ticket));
    json_object *status = job_control_status(ctl);
    json_object *a = json_object_array_get_idx(status, 0), *v = NULL;
    assert_true(json_object_object_get_ex(a, "state", &v));
    assert_string_equal(json_object_get_string(v), "stopped");
    assert_true(json_object_object_get_ex(a, "pauseReason", &v));
    assert_string_equal(json_object_get_string(v), "operator");
    json_object_put(status);
    job_control_free(ctl);
}

static void throttle_enters_over_the_limit_and_leaves_under_80_percent(void **state)
{
    (void)state;
    struct throttle_config cfg = {.wal_mb = 100, .ingest_wait_ms = 20, .critical_wal_mb = 1000,
                                  .reader_p99_ms = 200, .flag_file = "/tmp/flag"};
    static const struct {
        double wal_mb, wait_ms;
        int flag;
        double reader_ms;
        int throttled, changed;
        const char *reason;
    } steps[] = {
        {50, 5, 0, 0, 0, 0, NULL},
        {100, 5, 0, 0, 0, 0, NULL},          /* at the limit is not over it */
        {101, 5, 0, 0, 1, 1, "WAL 101.0 MB"},
        {90, 5, 0, 0, 1, 0, "WAL 90.0 MB"},  /* still >= 80 */
        {80, 5, 0, 0, 1, 0, "WAL 80.0 MB"},
        {79.9, 5, 0, 0, 0, 1, NULL},         /* under 80 % of every limit: out */
        {79.9, 21, 0, 0, 1, 1, "ingest waits 21.0 ms"},
        {10, 16, 0, 0, 1, 0, "ingest waits 16.0 ms"},
        {10, 15.9, 0, 0, 0, 1, NULL},
        {10, 1, 1, 0, 1, 1, "flag file /tmp/flag exists"},
        {10, 1, 0, 0, 0, 1, NULL},
        {10, 1, 0, 200, 0, 0, NULL},       /* at the reader limit is not over it */
        {10, 1, 0, 248.5, 1, 1, "readers answer in 248.5 ms at p99 (limit 200 ms)"},
        {10, 1, 0, 160, 1, 0, "readers answer in 160.0 ms"},
        {10, 1, 0, 159.9, 0, 1, "reader p99 159.9 ms"},
    };
    struct throttle_state st = {0};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        struct throttle_reading r = {.wal_mb = steps[i].wal_mb,
                                     .ingest_wait_p99_ms = steps[i].wait_ms,
                                     .reader_p99_ms = steps[i].reader_ms,
                                     .flag_file = steps[i].flag};
        int changed = throttle_decide(&cfg, &r, &st);
        if (st.throttled != steps[i].throttled || changed != steps[i].changed)
            fail_msg("step %zu: throttled %d changed %d", i, st.throttled, changed);
        if (steps[i].reason != NULL && strstr(st.reason, steps[i].reason) == NULL)
            fail_msg("step %zu: reason '%s'", i, st.reason);
    }
    char reason[200];
    struct throttle_reading big = {.wal_mb = 1000.5};
    assert_true(throttle_critical(&cfg, &big, reason, sizeof reason));
    assert_non_null(strstr(reason, "critical WAL size: 1000.5 MB"));
    struct throttle_reading small = {.wal_mb = 999};
    assert_false(throttle_critical(&cfg, &small, reason, sizeof reason));
    cfg.critical_wal_mb = 0;
    assert_false(throttle_critical(&cfg, &big, reason, sizeof reason));
}

static void job_clock_splits_time_and_keeps_a_recent_rate(void **state)
{
    (void)state;
    struct job_clock c;
    job_clock_start(&c, 0);
    /* 40 s at 1000 rows/s, sampled every 200 ms. */
    for (int64_t t = 200; t <= 40000; t += 200)
        job_clock_sample(&c, t, t);
    assert_int_equal(c.active_ms, 40000);
    double r = job_clock_recent_rate(&c);
    assert_true(r > 999 && r < 1001);
    /* Paused for 10 s and throttled for 5 s: neither counts as active. */
    job_clock_set_mode(&c, JOB_PAUSED, 40000);
    job_clock_set_mode(&c, JOB_THROTTLED, 50000);
    job_clock_set_mode(&c, JOB_ACTIVE, 55000);
    assert_int_equal(c.active_ms, 40000);
    assert_int_equal(c.paused_ms, 10000);
    assert_int_equal(c.throttled_ms, 5000);
    /* The pause did not dilute the rate. */
    r = job_clock_recent_rate(&c);
    assert_true(r > 999 && r < 1001);
    /* Then 100 rows/s: after a full window the old pace no longer counts at all. */
    int64_t rows = 40000;
    for (int64_t t = 55200; t <= 55000 + 31000; t += 200) {
        rows += 20;
        job_clock_sample(&c, rows, t);
    }
    r = job_clock_recent_rate(&c);
    assert_true(r > 99 && r < 101);
    /* A restart forgets the window; with under 2 s of samples there is no recent rate. */
    job_clock_restart_recent(&c);
    assert_true(job_clock_recent_rate(&c) == 0.0);
    for (int64_t t = 86200; t <= 88400; t += 200) {
        rows += 500;
        job_clock_sample(&c, rows, t);
    }
    r = job_clock_recent_rate(&c);
    assert_true(r > 2490 && r < 2510);
}

int main(void)
{
    log_init("test", LOG_LEVEL_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(command_table),
#define DB_TEST(fn) cmocka_unit_test_setup_teardown(fn, test_db_setup, test_db_teardown)
        DB_TEST(pauses_and_settings_are_stored_and_reloaded),
        DB_TEST(bad_settings_and_jobs_are_refused_and_change_nothing),
        DB_TEST(pause_settles_between_batches),
#undef DB_TEST
        cmocka_unit_test(throttle_enters_over_the_limit_and_leaves_under_80_percent),
        cmocka_unit_test(job_clock_splits_time_and_keeps_a_recent_rate),
    };
    return cmocka_run_group_tests_name("control", tests, NULL, NULL);
}
