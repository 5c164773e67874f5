/* test_worker_runner.c: the runner's bookkeeping, re-runs, progress writes, limiters and thread. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <json-c/json.h>
#include <sqlite3.h>

#include "log.h"
#include "migration.h"
#include "migration_rows.h"
#include "job_registry.h"
#include "job_retention.h"
#include "migration_tx_last_seen_backfill.h"
#include "progress.h"
#include "runner.h"
#include "runner_thread.h"
#include "util.h"
#include "worker_testlib.h"

struct fake_clock {
    int64_t now_ms;
};

static int64_t fake_clock_now(void *arg)
{
    return ((struct fake_clock *)arg)->now_ms;
}

/* A migration whose behaviour each test sets, and which records the row it started from. */
static struct {
    int calls;
    int fail;
    int cancel;
    int reports; /* intermediate reports before the terminal one */
    char status[32];
    int64_t processed, total;
    int last_update_null, error_null, ended_null, started_moved;
} fake;

static int fake_run(const struct migration_env *env, struct migration_result *result,
                    char **errp)
{
    fake.calls++;
    sqlite3_stmt *stmt = NULL;
    assert_int_equal(
        sqlite3_prepare_v2(env->db,
                           "SELECT status, rows_processed, rows_total, last_update_at IS NULL,"
                           " error IS NULL, ended_at IS NULL, started_at != '2000-01-01 00:00:00'"
                           " FROM _async_migrations WHERE name = ?1",
                           -1, &stmt, NULL),
        SQLITE_OK);
    sqlite3_bind_text(stmt, 1, env->name, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    snprintf(fake.status, sizeof fake.status, "%s", sqlite3_column_text(stmt, 0));
    fake.processed = sqlite3_column_int64(stmt, 1);
    fake.total = sqlite3_column_int64(stmt, 2);
    fake.last_update_null = sqlite3_column_int(stmt, 3);
    fake.error_null = sqlite3_column_int(stmt, 4);
    fake.ended_null = sqlite3_column_int(stmt, 5);
    fake.started_moved = sqlite3_column_int(stmt, 6);
    sqlite3_finalize(stmt);

    memset(result, 0, sizeof *result);
    result->total = fake.reports + 1;
    for (int i = 1; i <= fake.reports; i++) {
        struct migration_progress p = {i, result->total, 0};
        if (env->progress(env->progress_arg, &p, errp) != 0)
            return -1;
        result->processed = i;
    }
    if (fake.fail) {
        result->outcome = MIGRATION_FAILED;
        return set_error(errp, "fake failure");
    }
    if (!fake.cancel)
        result->processed = result->total;
    if (fake.cancel)
        result->processed = fake.reports + 1000; /* distinct from every earlier call */
    struct migration_progress terminal = {result->processed, result->total, 1};
    if (env->progress(env->progress_arg, &terminal, errp) != 0)
        return -1;
    result->outcome = fake.cancel ? MIGRATION_CANCELLED : MIGRATION_DONE;
    return 0;
}

static int fake_b_calls;
static int fake_b_run(const struct migration_env *env, struct migration_result *result,
                      char **errp)
{
    (void)env;
    (void)errp;
    fake_b_calls++;
    memset(result, 0, sizeof *result);
    result->outcome = MIGRATION_DONE;
    return 0;
}

static const struct migration fake_registry[] = {
    {.name = "fake_a", .run = fake_run},
    {.name = "fake_b", .run = fake_b_run},
};

static const struct migration backfill_registry[] = {
    {.name = TX_LAST_SEEN_BACKFILL_NAME, .run = tx_last_seen_backfill_run},
};

static int64_t every_hour(const struct recurring_config *config)
{
    (void)config;
    return 3600 * 1000;
}

/* A one-off migration and a recurring job, as the production registry mixes them. */
static const struct migration mixed_registry[] = {
    {"fake_a", fake_run, JOB_ONE_OFF, NULL, NULL},
    {"fake_r", fake_b_run, JOB_RECURRING, every_hour, NULL},
};

static int reset_fakes(void **state)
{
    memset(&fake, 0, sizeof fake);
    fake_b_calls = 0;
    return test_db_setup(state);
}

static struct runner_options fake_options(const struct migration *registry, size_t len)
{
    struct runner_options options;
    runner_options_default(&options);
    options.registry = registry;
    options.registry_len = len;
    options.params.adaptive = 0;
    options.params.batch_size = 1000;
    options.params.yield_ms = 0;
    return options;
}

static int64_t query_named(sqlite3 *db, const char *name, const char *expr)
{
    char *sql = sqlite3_mprintf("SELECT %s FROM _async_migrations WHERE name = %Q", expr, name);
    int64_t value = test_query_int(db, sql);
    sqlite3_free(sql);
    return value;
}

static void register_writes_pending_async_at_once(void **state)
{
    struct test_db *t = *state;
    test_exec(t->db, "INSERT INTO _async_migrations(name, status, rows_processed)"
                     " VALUES ('fake_b', 'done', 7)");
    char *err = NULL;
    assert_int_equal(migration_rows_register(t->db, fake_registry, 2, &err), 0);
    assert_int_equal(query_named(t->db, "fake_a", "status = 'pending_async'"), 1);
    assert_int_equal(query_named(t->db, "fake_a", "started_at IS NOT NULL"), 1);
    /* An existing row is left as it is. */
    assert_int_equal(query_named(t->db, "fake_b", "status = 'done' AND rows_processed = 7"), 1);
    assert_int_equal(fake.calls, 0);
}

static void done_is_never_rerun(void **state)
{
    struct test_db *t = *state;
    test_exec(t->db, "INSERT INTO _async_migrations(name, status, ended_at, rows_processed,"
                     " rows_total) VALUES ('fake_a', 'done', '2000-01-02 00:00:00', 7, 7)");
    struct runner_options options = fake_options(fake_registry, 1);
    struct runner_summary summary;
    char *err = NULL;
    assert_int_equal(runner_run_pending(t->db, &options, &summary, &err), 0);
    assert_int_equal(fake.calls, 0);
    assert_int_equal(summary.skipped, 1);
    assert_int_equal(summary.done, 0);
    assert_int_equal(query_named(t->db, "fake_a", "ended_at = '2000-01-02 00:00:00'"
                                                  " AND rows_processed = 7"),
                     1);
}

static void rerun_resets_progress_and_start(void **state)
{
    struct test_db *t = *state;
    static const char *const statuses[] = {"failed", "pending_async", "something-else"};
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++) {
        char *sql = sqlite3_mprintf(
            "DELETE FROM _async_migrations;"
            "INSERT INTO _async_migrations(name, status, started_at, ended_at, error,"
            " rows_processed, rows_total, last_update_at) VALUES ('fake_a', %Q,"
            " '2000-01-01 00:00:00', '2000-01-01 00:10:00', 'old error', 5, 9,"
            " '2000-01-01T00:05:00Z')",
            statuses[i]);
        test_exec(t->db, sql);
        sqlite3_free(sql);
        memset(&fake, 0, sizeof fake);
        struct runner_options options = fake_options(fake_registry, 1);
        struct runner_summary summary;
        char *err = NULL;
        assert_int_equal(runner_run_pending(t->db, &options, &summary, &err), 0);
        assert_int_equal(fake.calls, 1);
        assert_string_equal(fake.status, "pending_async");
        assert_int_equal(fake.processed, 0);
        assert_int_equal(fake.total, 0);
        assert_true(fake.last_update_null);
        assert_true(fake.error_null);
        assert_true(fake.ended_null);
        assert_true(fake.started_moved);
        assert_int_equal(summary.done, 1);
    }
}

static void success_records_done_and_ended_at(void **state)
{
    struct test_db *t = *state;
    fake.reports = 2;
    struct runner_options options = fake_options(fake_registry, 2);
    struct runner_summary summary;
    char *err = NULL;
    assert_int_equal(runner_run_pending(t->db, &options, &summary, &err), 0);
    assert_int_equal(summary.done, 2);
    assert_int_equal(query_named(t->db, "fake_a", "status = 'done' AND ended_at IS NOT NULL"
                                                  " AND error IS NULL"),
                     1);
    /* The terminal progress write carries the final counts. */
    assert_int_equal(query_named(t->db, "fake_a", "rows_processed"), 3);
    assert_int_equal(query_named(t->db, "fake_a", "rows_total"), 3);
    assert_int_equal(query_named(t->db, "fake_a", "last_update_at LIKE '____-__-__T__:__:__Z'"),
                     1);
}

static void error_records_failed_with_ended_at_and_error(void **state)
{
    struct test_db *t = *state;
    fake.fail = 1;
    fake.reports = 1;
    struct runner_options options = fake_options(fake_registry, 2);
    struct runner_summary summary;
    char *err = NULL;
    assert_int_equal(runner_run_pending(t->db, &options, &summary, &err), 0);
    assert_int_equal(summary.failed, 1);
    assert_int_equal(query_named(t->db, "fake_a", "status = 'failed' AND ended_at IS NOT NULL"
                                                  " AND error LIKE '%fake failure%'"),
                     1);
    assert_int_equal(query_named(t->db, "fake_a", "rows_processed"), 1);
    /* One failure does not hold back the migrations after it. */
    assert_int_equal(fake_b_calls, 1);
    assert_int_equal(summary.done, 1);
}

/* Two migrations, the first failing: the second completes, and the failed one runs again next start. */
static void failed_migration_reruns_at_the_next_start(void **state)
{
    struct test_db *t = *state;
    fake.fail = 1;
    fake.reports = 1;
    struct runner_options options = fake_options(fake_registry, 2);
    struct runner_summary summary;
    char *err = NULL;
    assert_int_equal(runner_run_pending(t->db, &options, &summary, &err), 0);
    assert_int_equal(summary.failed, 1);
    assert_int_equal(query_named(t->db, "fake_b", "status = 'done'"), 1);
    fake.fail = 0;
    assert_int_equal(runner_run_pending(t->db, &options, &summary, &err), 0);
    assert_int_equal(summary.failed, 0);
    assert_int_equal(summary.done, 1);
    assert_int_equal(summary.skipped, 1);
    assert_int_equal(query_named(t->db, "fake_a", "status = 'done' AND error IS NULL"), 1);
    assert_int_equal(fake_b_calls, 1);
}

static void cancelled_migration_stays_pending_with_terminal_progress(void **state)
{
    struct test_db *t = *state;
    fake.cancel = 1;
    fake.reports = 2;
    struct runner_options options = fake_options(fake_registry, 2);
    struct runner_summary summary;
    char *err = NULL;
    assert_int_equal(runner_run_pending(t->db, &options, &summary, &err), 0);
    assert_int_equal(summary.cancelled, 1);
    assert_int_equal(query_named(t->db, "fake_a", "status = 'pending_async'"
                                                  " AND ended_at IS NULL AND error IS NULL"),
                     1);
    assert_int_equal(query_named(t->db, "fake_a", "rows_processed"), 1002);
    /* A stop ends the pass: the next migration waits for the next start. */
    assert_int_equal(fake_b_calls, 0);
}

static void rerun_starts_with_a_fresh_write_limiter(void **state)
{
    struct test_db *t = *state;
    test_exec(t->db, "CREATE TABLE writes(n INTEGER);"
                     "CREATE TRIGGER count_writes AFTER UPDATE OF last_update_at"
                     " ON _async_migrations WHEN NEW.last_update_at IS NOT NULL"
                     " AND NEW.status = 'pending_async'"
                     " BEGIN INSERT INTO writes VALUES (1); END");
    struct fake_clock clock = {0};
    struct runner_options options = fake_options(fake_registry, 1);
    options.clock = fake_clock_now;
    options.clock_arg = &clock;
    struct runner_summary summary;
    char *err = NULL;
    fake.cancel = 1;
    fake.reports = 1;
    assert_int_equal(runner_run_pending(t->db, &options, &summary, &err), 0);
    /* The report, the terminal report, and the runner's terminal row write of the stop. */
    assert_int_equal(test_query_int(t->db, "SELECT count(*) FROM writes"), 3);
    /* Same instant: a limiter carried over would refuse the re-run's first write. */
    fake.cancel = 0;
    assert_int_equal(runner_run_pending(t->db, &options, &summary, &err), 0);
    assert_int_equal(test_query_int(t->db, "SELECT count(*) FROM writes"), 5);
}

static int delete_row_at_first_report(void *arg, const struct migration_progress *p,
                                      char **errp)
{
    (void)p;
    (void)errp;
    test_exec(arg, "DELETE FROM _async_migrations");
    return 0;
}

static void bookkeeping_row_missing_fails_the_migration(void **state)
{
    struct test_db *t = *state;
    test_seed(t->db, 1, 3000, 1);
    struct fake_clock clock = {0};
    struct runner_options options = fake_options(backfill_registry, 1);
    options.clock = fake_clock_now;
    options.clock_arg = &clock;
    options.observer = delete_row_at_first_report;
    options.observer_arg = t->db;
    struct runner_summary summary;
    char *err = NULL;
    assert_int_equal(runner_run_pending(t->db, &options, &summary, &err), 0);
    assert_int_equal(summary.failed, 1);
    /* The failure is still recorded: the row comes back as failed. */
    assert_int_equal(query_named(t->db, TX_LAST_SEEN_BACKFILL_NAME,
                                 "status = 'failed' AND ended_at IS NOT NULL"
                                 " AND error LIKE '%bookkeeping row missing%'"),
                     1);
}

static void reset_of_a_missing_row_is_an_error(void **state)
{
    struct test_db *t = *state;
    /* The row vanishes between registration and the reset. */
    test_exec(t->db, "CREATE TRIGGER vanish AFTER INSERT ON _async_migrations"
                     " WHEN NEW.status = 'pending_async'"
                     " BEGIN DELETE FROM _async_migrations WHERE name = NEW.name; END");
    struct runner_options options = fake_options(fake_registry, 1);
    struct runner_summary summary;
    char *err = NULL;
    assert_int_equal(runner_run_pending(t->db, &options, &summary, &err), 0);
    assert_int_equal(fake.calls, 0);
    assert_int_equal(summary.failed, 1);
    assert_int_equal(query_named(t->db, "fake_a", "status = 'failed'"
                                                  " AND error LIKE '%bookkeeping row missing%'"),
                     1);
}

static const char failing_progress_trigger[] =
    "CREATE TRIGGER refuse_progress BEFORE UPDATE ON _async_migrations"
    " WHEN NEW.status = 'pending_async' AND NEW.last_update_at IS NOT NULL"
    " BEGIN SELECT RAISE(ABORT, 'disk on fire'); END";

struct advance_clock {
    struct fake_clock *clock;
    int64_t step_ms;
    sqlite3 *db;
};

/* Advances the fake clock at every report, and lets the last batch's write through. */
static int advance_and_heal(void *arg, const struct migration_progress *p, char **errp)
{
    (void)errp;
    struct advance_clock *a = arg;
    a->clock->now_ms += a->step_ms;
    if (p->processed == p->total)
        test_exec(a->db, "DROP TRIGGER refuse_progress");
    return 0;
}

static void intermediate_progress_write_failure_is_logged_and_the_run_goes_on(void **state)
{
    struct test_db *t = *state;
    test_seed(t->db, 1, 5000, 1);
    char *err = NULL;
    assert_int_equal(migration_rows_register(t->db, backfill_registry, 1, &err), 0);
    test_exec(t->db, failing_progress_trigger);
    struct fake_clock clock = {0};
    struct advance_clock advance = {&clock, 2000, t->db};
    struct progress_writer writer;
    progress_writer_init(&writer, t->db, TX_LAST_SEEN_BACKFILL_NAME, fake_clock_now, &clock);
    writer.observer = advance_and_heal;
    writer.observer_arg = &advance;
    struct migration_env env = {
        .db = t->db,
        .name = TX_LAST_SEEN_BACKFILL_NAME,
        .progress = progress_writer_report,
        .progress_arg = &writer,
    };
    migration_params_default(&env.params);
    env.params.adaptive = 0;
    env.params.batch_size = 1000;
    env.params.yield_ms = 0;
    struct migration_result result;

    assert_int_equal(tx_last_seen_backfill_run(&env, &result, &err), 0);
    assert_int_equal(result.outcome, MIGRATION_DONE);
    /* Four intermediate reports, two seconds apart: each one tried and failed. */
    assert_int_equal(writer.write_errors, 4);
    assert_int_equal(writer.errors_logged, 1);
    assert_int_equal(query_named(t->db, TX_LAST_SEEN_BACKFILL_NAME, "rows_processed"), 5000);
}

static void final_progress_write_failure_fails_the_migration(void **state)
{
    struct test_db *t = *state;
    test_exec(t->db, failing_progress_trigger);
    fake.reports = 1;
    struct runner_options options = fake_options(fake_registry, 1);
    struct runner_summary summary;
    char *err = NULL;
    assert_int_equal(runner_run_pending(t->db, &options, &summary, &err), 0);
    assert_int_equal(summary.failed, 1);
    assert_int_equal(summary.done, 0);
    assert_int_equal(query_named(t->db, "fake_a",
                                 "status = 'failed' AND ended_at IS NOT NULL"
                                 " AND error LIKE '%final progress write failed%disk on fire%'"),
                     1);
}

/* The terminal row write happens even when no terminal report does, and its failure counts. */
static void terminal_row_write_failure_fails_the_migration(void **state)
{
    struct test_db *t = *state;
    test_seed(t->db, 1, 3000, 1);
    test_exec(t->db, "CREATE TRIGGER refuse_done BEFORE UPDATE ON _async_migrations"
                     " WHEN NEW.status = 'done'"
                     " BEGIN SELECT RAISE(ABORT, 'disk on fire'); END");
    struct runner_options options = fake_options(backfill_registry, 1);
    struct runner_summary summary;
    char *err = NULL;
    assert_int_equal(runner_run_pending(t->db, &options, &summary, &err), 0);
    assert_int_equal(summary.failed, 1);
    assert_int_equal(summary.done, 0);
    assert_int_equal(query_named(t->db, TX_LAST_SEEN_BACKFILL_NAME,
                                 "status = 'failed' AND ended_at IS NOT NULL"
                                 " AND rows_processed = 3000"
                                 " AND error LIKE '%recording done failed%disk on fire%'"),
                     1);
}

static void rate_limiter_allows_one_event_per_interval(void **state)
{
    (void)state;
    static const struct {
        int64_t now_ms;
        int allowed;
        int64_t held_back;
    } events[] = {
        {0, 1, 0},    {500, 0, 0},   {999, 0, 0},   {1000, 1, 2}, {1500, 0, 0},
        {2000, 1, 1}, {9000, 1, 0},  {9001, 0, 0},  {100, 1, 1}, /* clock went back */
        {600, 0, 0},  {1100, 1, 1},
    };
    struct rate_limiter limiter;
    rate_limiter_init(&limiter, 1000);
    for (size_t i = 0; i < sizeof events / sizeof events[0]; i++) {
        int64_t held_back = -1;
        int allowed = rate_limiter_allow(&limiter, events[i].now_ms, &held_back);
        if (allowed != events[i].allowed)
            fail_msg("event %zu at %lld ms: allowed %d", i, (long long)events[i].now_ms,
                     allowed);
        if (allowed)
            assert_int_equal(held_back, events[i].held_back);
    }
}

static void progress_rows_are_written_at_most_once_a_second(void **state)
{
    struct test_db *t = *state;
    char *err = NULL;
    assert_int_equal(migration_rows_register(t->db, fake_registry, 1, &err), 0);
    test_exec(t->db, "CREATE TABLE writes(at INTEGER);"
                     "CREATE TRIGGER count_writes AFTER UPDATE OF last_update_at"
                     " ON _async_migrations BEGIN INSERT INTO writes VALUES (1); END");
    struct fake_clock clock = {0};
    struct progress_writer writer;
    progress_writer_init(&writer, t->db, "fake_a", fake_clock_now, &clock);
    for (int i = 0; i < 30; i++) {
        clock.now_ms = i * 100;
        struct migration_progress p = {i + 1, 100, 0};
        assert_int_equal(progress_writer_report(&writer, &p, &err), 0);
    }
    assert_int_equal(test_query_int(t->db, "SELECT count(*) FROM writes"), 3);
    /* The terminal write is never limited. */
    clock.now_ms = 2950;
    struct migration_progress terminal = {100, 100, 1};
    assert_int_equal(progress_writer_report(&writer, &terminal, &err), 0);
    assert_int_equal(test_query_int(t->db, "SELECT count(*) FROM writes"), 4);
    assert_int_equal(query_named(t->db, "fake_a", "rows_processed"), 100);
    assert_int_equal(writer.writes, 4);
}

/* A report the limit holds back is written by the first tick after its second has passed. */
static void held_back_report_is_written_once_its_second_has_passed(void **state)
{
    struct test_db *t = *state;
    char *err = NULL;
    assert_int_equal(migration_rows_register(t->db, fake_registry, 1, &err), 0);
    struct fake_clock clock = {0};
    struct progress_writer writer;
    progress_writer_init(&writer, t->db, "fake_a", fake_clock_now, &clock);
    struct migration_progress first = {10, 20, 0}, second = {20, 20, 0};
    assert_int_equal(progress_writer_report(&writer, &first, &err), 0);
    clock.now_ms = 100;
    assert_int_equal(progress_writer_report(&writer, &second, &err), 0);
    assert_int_equal(query_named(t->db, "fake_a", "rows_processed"), 10);
    assert_int_equal(progress_writer_due_in(&writer), 900);
    clock.now_ms = 999;
    progress_writer_tick(&writer);
    assert_int_equal(query_named(t->db, "fake_a", "rows_processed"), 10);
    clock.now_ms = 1000;
    assert_int_equal(progress_writer_due_in(&writer), 0);
    progress_writer_tick(&writer);
    assert_int_equal(query_named(t->db, "fake_a", "rows_processed"), 20);
    assert_int_equal(writer.writes, 2);
    /* Nothing held any more: the next due is the heartbeat. */
    assert_int_equal(progress_writer_due_in(&writer), PROGRESS_HEARTBEAT_MS);
}

/* With no new counts the row is still rewritten every PROGRESS_HEARTBEAT_MS, and no more often. */
static void heartbeat_rewrites_the_row_while_counts_stand_still(void **state)
{
    struct test_db *t = *state;
    char *err = NULL;
    assert_int_equal(migration_rows_register(t->db, fake_registry, 1, &err), 0);
    test_exec(t->db, "CREATE TABLE writes(at INTEGER);"
                     "CREATE TRIGGER count_writes AFTER UPDATE OF last_update_at"
                     " ON _async_migrations BEGIN INSERT INTO writes VALUES (1); END");
    struct fake_clock clock = {0};
    struct progress_writer writer;
    progress_writer_init(&writer, t->db, "fake_a", fake_clock_now, &clock);
    struct migration_progress p = {7, 50, 0};
    assert_int_equal(progress_writer_report(&writer, &p, &err), 0);
    for (clock.now_ms = 0; clock.now_ms <= 3 * PROGRESS_HEARTBEAT_MS; clock.now_ms += 100)
        progress_writer_tick(&writer);
    /* The report, then one heartbeat at each of 5 s, 10 s and 15 s. */
    assert_int_equal(test_query_int(t->db, "SELECT count(*) FROM writes"), 4);
    assert_int_equal(query_named(t->db, "fake_a", "rows_processed"), 7);
    assert_int_equal(query_named(t->db, "fake_a", "last_update_at IS NOT NULL"), 1);
}

/* A migration that reports twice at once and then yields; the row is checked before it returns. */
static int64_t seen_after_yield;
static int yield_after_two_reports(const struct migration_env *env,
                                   struct migration_result *result, char **errp)
{
    memset(result, 0, sizeof *result);
    result->total = 20;
    if (migration_report(env, 10, 20, 0, errp) != 0 || migration_report(env, 20, 20, 0, errp))
        return -1;
    struct migration_params params = env->params;
    params.yield_ms = PROGRESS_WRITE_INTERVAL_MS + 300;
    if (migration_between(env, &params, errp) != 0)
        return -1;
    seen_after_yield = query_named(env->db, env->name, "rows_processed");
    result->processed = 20;
    result->outcome = MIGRATION_DONE;
    return 0;
}

static void held_back_report_is_written_during_the_yield(void **state)
{
    struct test_db *t = *state;
    static const struct migration registry[] = {{.name = "yielder", .run = yield_after_two_reports}};
    struct runner_options options = fake_options(registry, 1);
    struct runner_summary summary;
    char *err = NULL;
    seen_after_yield = -1;
    assert_int_equal(runner_run_pending(t->db, &options, &summary, &err), 0);
    assert_int_equal(summary.done, 1);
    assert_int_equal(seen_after_yield, 20);
}

static void progress_write_errors_are_logged_once_a_minute_and_never_silenced(void **state)
{
    struct test_db *t = *state;
    char *err = NULL;
    assert_int_equal(migration_rows_register(t->db, fake_registry, 1, &err), 0);
    test_exec(t->db, failing_progress_trigger);
    struct fake_clock clock = {0};
    struct progress_writer writer;
    progress_writer_init(&writer, t->db, "fake_a", fake_clock_now, &clock);
    /* Five minutes of failures, one attempt a second. */
    for (int i = 0; i < 300; i++) {
        clock.now_ms = (int64_t)i * 1000;
        struct migration_progress p = {i + 1, 1000, 0};
        assert_int_equal(progress_writer_report(&writer, &p, &err), 0);
    }
    assert_int_equal(writer.write_errors, 300);
    assert_int_equal(writer.errors_logged, 5);
    /* A failing terminal write is an error for the caller, not a log line. */
    struct migration_progress terminal = {1000, 1000, 1};
    assert_int_equal(progress_writer_report(&writer, &terminal, &err), -1);
    assert_non_null(strstr(err, "disk on fire"));
    free(err);
}

static void await_filled_rows(const char *path)
{
    sqlite3 *other = test_connect(path, 1000);
    int64_t deadline = clock_monotonic_ms() + 30000;
    while (test_query_int(other, "SELECT count(*) FROM transmissions WHERE last_seen != 0") ==
           0) {
        assert_true(clock_monotonic_ms() < deadline);
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
    sqlite3_close(other);
}

struct finished_flag {
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    int finished;
};

static void mark_finished(void *arg)
{
    struct finished_flag *flag = arg;
    pthread_mutex_lock(&flag->mutex);
    flag->finished = 1;
    pthread_cond_signal(&flag->cond);
    pthread_mutex_unlock(&flag->mutex);
}

static void await_finished(struct finished_flag *flag)
{
    pthread_mutex_lock(&flag->mutex);
    while (!flag->finished)
        pthread_cond_wait(&flag->cond, &flag->mutex);
    pthread_mutex_unlock(&flag->mutex);
}

static void runner_thread_runs_pending_migrations_to_done(void **state)
{
    struct test_db *t = *state;
    test_seed(t->db, 1, 2000, 2);
    struct migration_params params;
    migration_params_default(&params);
    params.yield_ms = 0;
    struct finished_flag flag = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
    char *err = NULL;
    struct runner *runner = NULL;
    assert_int_equal(runner_start(t->path, &(struct runner_config){.params = &params, .on_finished = mark_finished, .arg = &flag}, &runner, &err), 0);
    assert_non_null(runner);
    await_finished(&flag);
    assert_true(runner_finished(runner));
    struct runner_summary summary;
    runner_join(runner, &summary);
    int one_off = 0;
    for (size_t i = 0; i < job_registry_len; i++)
        one_off += job_registry[i].kind == JOB_ONE_OFF;
    assert_int_equal(summary.done, one_off); /* every registered migration; no recurring job is on */
    assert_int_equal(query_named(t->db, RETENTION_JOB_NAME, "count(*)"), 0);
    assert_int_equal(summary.failed, 0);
    assert_int_equal(query_named(t->db, TX_LAST_SEEN_BACKFILL_NAME, "status = 'done'"), 1);
    assert_int_equal(test_query_int(t->db, "SELECT count(*) FROM transmissions"
                                           " WHERE last_seen = 0"),
                     0);
}

static void pending_pass_runs_the_migrations_and_leaves_recurring_jobs_alone(void **state)
{
    struct test_db *t = *state;
    struct runner_options options = fake_options(mixed_registry, 2);
    struct runner_summary summary;
    char *err = NULL;
    assert_int_equal(runner_run_pending(t->db, &options, &summary, &err), 0);
    assert_int_equal(summary.done, 1);
    assert_int_equal(fake.calls, 1);
    assert_int_equal(fake_b_calls, 0);
    /* A recurring job gets its row when it first runs, not at registration. */
    assert_int_equal(query_named(t->db, "fake_r", "count(*)"), 0);
    assert_int_equal(query_named(t->db, "fake_a", "every_s IS NULL AND next_run_at IS NULL"), 1);
}

static void recurring_run_records_its_interval_and_next_run(void **state)
{
    struct test_db *t = *state;
    struct runner_options options = fake_options(mixed_registry, 2);
    struct runner_summary summary = {0};
    char *err = NULL;
    assert_int_equal(runner_run_job(t->db, &options, &mixed_registry[1], 3600, 1, &summary, &err),
                     0);
    assert_int_equal(fake_b_calls, 1);
    assert_int_equal(query_named(t->db, "fake_r", "status = 'done' AND every_s = 3600"), 1);
    /* RFC 3339, an interval after the run ended (both read off the same clock, a second apart at most). */
    assert_int_equal(query_named(t->db, "fake_r", "next_run_at GLOB"
                                 " '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]Z'"),
                     1);
    assert_int_equal(query_named(t->db, "fake_r", "abs(strftime('%s', next_run_at)"
                                 " - strftime('%s', ended_at) - 3600) <= 1"),
                     1);
    /* The next run clears it while it runs; a run with nothing after it (--run-once) leaves none. */
    assert_int_equal(runner_run_job(t->db, &options, &mixed_registry[1], 3600, 0, &summary, &err),
                     0);
    assert_int_equal(fake_b_calls, 2);
    assert_int_equal(query_named(t->db, "fake_r", "status = 'done' AND next_run_at IS NULL"), 1);
}

static void runner_thread_runs_recurring_jobs_after_the_migrations(void **state)
{
    struct test_db *t = *state;
    test_seed(t->db, 1, 2000, 2);
    test_exec(t->db, "INSERT INTO observations(transmission_id, timestamp) VALUES (1, 1)");
    struct migration_params params;
    migration_params_default(&params);
    params.yield_ms = 0;
    struct finished_flag flag = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
    struct runner_config config = {.params = &params, .recurring = {.retain_days = 1, .retain_every_min = 5},
                                   .run_once = 1, .on_finished = mark_finished, .arg = &flag};
    char *err = NULL;
    struct runner *runner = NULL;
    assert_int_equal(runner_start(t->path, &config, &runner, &err), 0);
    await_finished(&flag);
    struct runner_summary summary;
    runner_join(runner, &summary);
    assert_int_equal(summary.failed, 0);
    assert_int_equal(query_named(t->db, RETENTION_JOB_NAME, "status = 'done' AND every_s = 300"
                                 " AND next_run_at IS NULL"), 1);
    /* One at a time: retention started only once the last migration had ended. */
    assert_int_equal(test_query_int(t->db, "SELECT count(*) FROM _async_migrations AS r"
                                           " WHERE r.name = 'retention' AND r.started_at >="
                                           " (SELECT max(ended_at) FROM _async_migrations"
                                           "  WHERE every_s IS NULL)"), 1);
    assert_int_equal(test_query_int(t->db, "SELECT count(*) FROM observations WHERE timestamp = 1"),
                     0);
}

static void runner_thread_stops_at_once_and_leaves_pending_async(void **state)
{
    struct test_db *t = *state;
    test_seed(t->db, 1, 2000, 1);
    struct migration_params params;
    migration_params_default(&params);
    params.adaptive = 0;
    params.batch_size = 100;
    params.yield_ms = 600000;
    char *err = NULL;
    struct runner *runner = NULL;
    assert_int_equal(runner_start(t->path, &(struct runner_config){.params = &params}, &runner, &err), 0);
    assert_non_null(runner);
    await_filled_rows(t->path);
    int64_t start = clock_monotonic_ms();
    runner_cancel(runner);
    struct runner_summary summary;
    runner_join(runner, &summary);
    assert_true(clock_monotonic_ms() - start < params.yield_ms);
    assert_int_equal(summary.cancelled, 1);
    assert_int_equal(query_named(t->db, TX_LAST_SEEN_BACKFILL_NAME,
                                 "status = 'pending_async' AND ended_at IS NULL"),
                     1);
    /* The terminal progress write happened and matches the committed batch. */
    assert_int_equal(query_named(t->db, TX_LAST_SEEN_BACKFILL_NAME, "rows_processed"), 100);
    assert_int_equal(query_named(t->db, TX_LAST_SEEN_BACKFILL_NAME, "rows_total"), 2000);
    assert_int_equal(query_named(t->db, TX_LAST_SEEN_BACKFILL_NAME,
                                 "last_update_at IS NOT NULL"),
                     1);
}

static void stats_file_lists_every_batch_hold(void **state)
{
    struct test_db *t = *state;
    test_seed(t->db, 1, 3500, 1);
    char *path = xasprintf("%s/stats.json", t->dir);
    struct runner_options options = fake_options(backfill_registry, 1);
    options.stats_path = path;
    struct runner_summary summary;
    char *err = NULL;
    assert_int_equal(runner_run_pending(t->db, &options, &summary, &err), 0);

    json_object *doc = json_object_from_file(path);
    assert_non_null(doc);
    json_object *list = NULL, *m = NULL, *holds = NULL, *field = NULL;
    assert_true(json_object_object_get_ex(doc, "migrations", &list));
    assert_int_equal(json_object_array_length(list), 1);
    m = json_object_array_get_idx(list, 0);
    assert_true(json_object_object_get_ex(m, "status", &field));
    assert_string_equal(json_object_get_string(field), "done");
    assert_true(json_object_object_get_ex(m, "rows", &field));
    assert_int_equal(json_object_get_int64(field), 3500);
    assert_true(json_object_object_get_ex(m, "batches", &field));
    assert_int_equal(json_object_get_int64(field), 4);
    assert_true(json_object_object_get_ex(m, "holds_ms", &holds));
    assert_int_equal(json_object_array_length(holds), 4);
    assert_true(json_object_object_get_ex(m, "work_ms", &field));
    assert_true(json_object_get_double(field) >= 0);
    json_object_put(doc);
    free(path);
}

static void runner_start_rejects_bad_parameters(void **state)
{
    struct test_db *t = *state;
    struct migration_params params;
    migration_params_default(&params);
    params.yield_ms = -1;
    char *err = NULL;
    struct runner *runner = (struct runner *)&params; /* must be reset to NULL */
    assert_int_equal(runner_start(t->path, &(struct runner_config){.params = &params}, &runner, &err), -1);
    assert_null(runner);
    assert_non_null(strstr(err, "yield"));
    free(err);
}

int main(void)
{
    log_init("test", LOG_LEVEL_ERROR);
    const struct CMUnitTest tests[] = {
#define DB_TEST(fn) cmocka_unit_test_setup_teardown(fn, reset_fakes, test_db_teardown)
        DB_TEST(register_writes_pending_async_at_once),
        DB_TEST(done_is_never_rerun),
        DB_TEST(rerun_resets_progress_and_start),
        DB_TEST(success_records_done_and_ended_at),
        DB_TEST(error_records_failed_with_ended_at_and_error),
        DB_TEST(failed_migration_reruns_at_the_next_start),
        DB_TEST(cancelled_migration_stays_pending_with_terminal_progress),
        DB_TEST(rerun_starts_with_a_fresh_write_limiter),
        DB_TEST(bookkeeping_row_missing_fails_the_migration),
        DB_TEST(reset_of_a_missing_row_is_an_error),
        DB_TEST(intermediate_progress_write_failure_is_logged_and_the_run_goes_on),
        DB_TEST(final_progress_write_failure_fails_the_migration),
        DB_TEST(terminal_row_write_failure_fails_the_migration),
        cmocka_unit_test(rate_limiter_allows_one_event_per_interval),
        DB_TEST(progress_rows_are_written_at_most_once_a_second),
        DB_TEST(held_back_report_is_written_once_its_second_has_passed),
        DB_TEST(heartbeat_rewrites_the_row_while_counts_stand_still),
        DB_TEST(held_back_report_is_written_during_the_yield),
        DB_TEST(progress_write_errors_are_logged_once_a_minute_and_never_silenced),
        DB_TEST(runner_thread_runs_pending_migrations_to_done),
        DB_TEST(pending_pass_runs_the_migrations_and_leaves_recurring_jobs_alone),
        DB_TEST(recurring_run_records_its_interval_and_next_run),
        DB_TEST(runner_thread_runs_recurring_jobs_after_the_migrations),
        DB_TEST(runner_thread_stops_at_once_and_leaves_pending_async),
        DB_TEST(stats_file_lists_every_batch_hold),
        DB_TEST(runner_start_rejects_bad_parameters),
#undef DB_TEST
    };
    return cmocka_run_group_tests_name("runner", tests, NULL, NULL);
}
