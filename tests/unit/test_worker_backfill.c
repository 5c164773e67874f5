/* test_worker_backfill.c: tx_last_seen_backfill_v1 on real SQLite files, against the migration rules of docs/database.md. */
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
#include <sqlite3.h>

#include "log.h"
#include "batch_sizer.h"
#include "migration.h"
#include "migration_tx_last_seen_backfill.h"
#include "util.h"
#include "worker_testlib.h"
#include "writer_demand.h"

#define MAX_CALLS 4096

/* Records every progress call and what the database held when it was made. */
struct recorder {
    struct migration_progress calls[MAX_CALLS];
    int64_t filled_at_call[MAX_CALLS];
    int count;
    sqlite3 *db; /* counts filled rows at each call when set */
    int (*hook)(struct recorder *recorder, const struct migration_progress *p, char **errp);
    void *hook_arg;
};

static int record_progress(void *arg, const struct migration_progress *p, char **errp)
{
    struct recorder *r = arg;
    assert_true(r->count < MAX_CALLS);
    r->calls[r->count] = *p;
    if (r->db != NULL)
        r->filled_at_call[r->count] =
            test_query_int(r->db, "SELECT count(*) FROM transmissions WHERE last_seen != 0");
    r->count++;
    return r->hook ? r->hook(r, p, errp) : 0;
}

static struct migration_env fixed_env(sqlite3 *db, int64_t batch_size, struct recorder *r)
{
    struct migration_env env = {
        .db = db,
        .name = "test_backfill",
        .progress = record_progress,
        .progress_arg = r,
    };
    migration_params_default(&env.params);
    env.params.adaptive = 0;
    env.params.batch_size = batch_size;
    env.params.yield_ms = 0;
    return env;
}

static int64_t filled_rows(sqlite3 *db)
{
    return test_query_int(db, "SELECT count(*) FROM transmissions WHERE last_seen != 0");
}

/*
 * Every call carries new counts, none over-reports, and only the last may be
 * final: a terminal call comes only when its counts differ from the last
 * report (a completed run may lower its total to the rows it wrote).
 */
static void assert_progress_contract(const struct recorder *r)
{
    assert_true(r->count >= 1);
    for (int i = 0; i < r->count; i++) {
        if (r->calls[i].final)
            assert_int_equal(i, r->count - 1);
        if (i > 0)
            assert_true(r->calls[i].processed > r->calls[i - 1].processed ||
                        (r->calls[i].final && r->calls[i].total != r->calls[i - 1].total));
        if (r->db != NULL)
            assert_true(r->calls[i].processed <= r->filled_at_call[i]);
    }
}

/* Progress is never a batch behind: each call carries exactly what has been committed. */
static void progress_is_reported_right_after_each_batch_commits(void **state)
{
    struct test_db *t = *state;
    test_seed(t->db, 1, 12000, 2);
    struct recorder r = {.db = t->db};
    struct migration_env env = fixed_env(t->db, 5000, &r);
    struct migration_result result;
    char *err = NULL;

    assert_int_equal(tx_last_seen_backfill_run(&env, &result, &err), 0);
    assert_int_equal(result.outcome, MIGRATION_DONE);
    assert_int_equal(r.count, 3);
    static const int64_t want[] = {5000, 10000, 12000};
    for (int i = 0; i < r.count; i++) {
        assert_int_equal(r.calls[i].processed, want[i]);
        assert_int_equal(r.calls[i].processed, r.filled_at_call[i]);
        assert_int_equal(r.calls[i].total, 12000);
        /* The last batch's report already carries the final counts: no terminal call. */
        assert_false(r.calls[i].final);
    }
    assert_progress_contract(&r);
}

/* A done run whose total shrinks (ingest filled rows first) still tells its callback. */
static int fill_rows_by_hand_at_first_call(struct recorder *r, const struct migration_progress *p,
                                           char **errp)
{
    (void)errp;
    if (r->count == 1 && !p->final)
        test_exec(r->db, "UPDATE transmissions SET last_seen = 1 WHERE id > 11000");
    return 0;
}

static void terminal_call_comes_when_the_final_counts_are_new(void **state)
{
    struct test_db *t = *state;
    test_seed(t->db, 1, 12000, 2);
    struct recorder r = {.db = t->db, .hook = fill_rows_by_hand_at_first_call};
    struct migration_env env = fixed_env(t->db, 5000, &r);
    struct migration_result result;
    char *err = NULL;

    assert_int_equal(tx_last_seen_backfill_run(&env, &result, &err), 0);
    assert_int_equal(result.outcome, MIGRATION_DONE);
    assert_int_equal(result.processed, 11000);
    assert_int_equal(result.total, 11000);
    assert_int_equal(r.count, 4);
    assert_int_equal(r.calls[2].processed, 11000);
    assert_int_equal(r.calls[2].total, 12000);
    assert_true(r.calls[3].final);
    assert_int_equal(r.calls[3].processed, 11000);
    assert_int_equal(r.calls[3].total, 11000);
    assert_progress_contract(&r);
}

static void no_progress_call_follows_an_empty_batch(void **state)
{
    struct test_db *t = *state;
    /* The final id range holds only orphans, so the last batch updates nothing. */
    test_seed(t->db, 1, 12000, 1);
    test_seed(t->db, 12001, 5000, 0);
    struct recorder r = {.db = t->db};
    struct migration_env env = fixed_env(t->db, 5000, &r);
    struct migration_result result;
    char *err = NULL;

    assert_int_equal(tx_last_seen_backfill_run(&env, &result, &err), 0);
    assert_int_equal(result.batches, 4);
    assert_progress_contract(&r);
    assert_int_equal(r.calls[r.count - 1].processed, 12000);
    assert_int_equal(r.calls[r.count - 1].total, 12000);
}

/* A backfill that looks right but keeps one transaction open across its reports. */
static int one_transaction_backfill(const struct migration_env *env,
                                    struct migration_result *result, char **errp)
{
    memset(result, 0, sizeof *result);
    int64_t max_id = test_query_int(env->db, "SELECT MAX(id) FROM transmissions");
    test_exec(env->db, "BEGIN IMMEDIATE");
    for (int64_t lo = 1; lo <= max_id; lo += env->params.batch_size) {
        char *sql = sqlite3_mprintf("%s AND id BETWEEN %lld AND %lld", test_reference_update_sql,
                                    (long long)lo, (long long)(lo + env->params.batch_size - 1));
        test_exec(env->db, sql);
        sqlite3_free(sql);
        result->processed += sqlite3_changes64(env->db);
        struct migration_progress p = {result->processed, max_id,
                                       lo + env->params.batch_size > max_id};
        if (env->progress(env->progress_arg, &p, errp) != 0)
            return -1;
    }
    test_exec(env->db, "COMMIT");
    result->outcome = MIGRATION_DONE;
    return 0;
}

struct writer_probe {
    sqlite3 *other; /* busy_timeout 0: any held write lock makes its write fail at once */
    int busy;
};

static int probe_write(struct recorder *r, const struct migration_progress *p, char **errp)
{
    (void)p;
    (void)errp;
    struct writer_probe *probe = r->hook_arg;
    int rc = sqlite3_exec(probe->other, "INSERT INTO probe(n) VALUES (1)", NULL, NULL, NULL);
    if (rc == SQLITE_BUSY)
        probe->busy++;
    else
        assert_int_equal(rc, SQLITE_OK);
    return 0;
}

/* Runs `run` over 12,000 rows in batches of 5,000; counts reports made with the writer held. */
static int reports_with_writer_held(struct test_db *t, migration_run_fn run, int *reports)
{
    test_seed(t->db, 1, 12000, 1);
    test_exec(t->db, "CREATE TABLE probe(n INTEGER)");
    struct writer_probe probe = {.other = test_connect(t->path, 0)};
    struct recorder r = {.hook = probe_write, .hook_arg = &probe};
    struct migration_env env = fixed_env(t->db, 5000, &r);
    struct migration_result result;
    char *err = NULL;
    assert_int_equal(run(&env, &result, &err), 0);
    sqlite3_close(probe.other);
    *reports = r.count;
    return probe.busy;
}

static void writer_is_released_at_every_progress_call(void **state)
{
    int reports = 0;
    assert_int_equal(reports_with_writer_held(*state, tx_last_seen_backfill_run, &reports), 0);
    assert_true(reports >= 3);
}

/* The probe above can fail: a one-transaction backfill is caught by it. */
static void writer_probe_catches_a_one_transaction_backfill(void **state)
{
    int reports = 0;
    int held = reports_with_writer_held(*state, one_transaction_backfill, &reports);
    assert_true(reports >= 3);
    assert_int_equal(held, reports);
}

static int cancel_at_first_call(struct recorder *r, const struct migration_progress *p,
                                char **errp)
{
    (void)errp;
    if (!p->final && r->count == 1)
        migration_cancel_request(r->hook_arg);
    return 0;
}

static void cancellation_mid_loop_returns_cancelled_with_partial_commits(void **state)
{
    struct test_db *t = *state;
    test_seed(t->db, 1, 12000, 1);
    struct migration_cancel cancel;
    migration_cancel_init(&cancel);
    struct recorder r = {.db = t->db, .hook = cancel_at_first_call, .hook_arg = &cancel};
    struct migration_env env = fixed_env(t->db, 1000, &r);
    env.cancel = &cancel;
    struct migration_result result;
    char *err = NULL;

    assert_int_equal(tx_last_seen_backfill_run(&env, &result, &err), 0);
    migration_cancel_destroy(&cancel);
    assert_int_equal(result.outcome, MIGRATION_CANCELLED);
    /* The first call comes right after batch 1; the cancel lands before batch 2. */
    assert_int_equal(result.processed, 1000);
    assert_int_equal(result.total, 12000);
    assert_int_equal(filled_rows(t->db), 1000);
    assert_progress_contract(&r);
    /* The terminal counts equal that report, so there is no terminal call. */
    assert_int_equal(r.count, 1);
    assert_int_equal(r.calls[0].processed, 1000);
}

struct run_thread {
    struct migration_env env;
    struct migration_result result;
    int rc;
    char *err;
};

static void *run_thread_main(void *arg)
{
    struct run_thread *rt = arg;
    rt->rc = tx_last_seen_backfill_run(&rt->env, &rt->result, &rt->err);
    return NULL;
}

static void cancellation_cuts_a_yield_short(void **state)
{
    struct test_db *t = *state;
    test_seed(t->db, 1, 3000, 1);
    struct migration_cancel cancel;
    migration_cancel_init(&cancel);
    struct recorder r = {0};
    struct run_thread rt = {.env = fixed_env(t->db, 1000, &r)};
    rt.env.cancel = &cancel;
    rt.env.params.yield_ms = 600000; /* ten minutes: only a cancellation ends it early */

    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, run_thread_main, &rt), 0);
    sqlite3 *other = test_connect(t->path, 1000);
    /* Await the first batch's commit; the run is then in its yield. */
    int64_t deadline = clock_monotonic_ms() + 30000;
    while (filled_rows(other) == 0) {
        assert_true(clock_monotonic_ms() < deadline);
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
    sqlite3_close(other);
    migration_cancel_request(&cancel);
    pthread_join(thread, NULL);
    migration_cancel_destroy(&cancel);

    assert_int_equal(rt.rc, 0);
    assert_int_equal(rt.result.outcome, MIGRATION_CANCELLED);
    assert_int_equal(rt.result.processed, 1000);
    assert_true(rt.result.wall_ms < rt.env.params.yield_ms);
    /* The batch's report; the terminal one would repeat its counts and is left out. */
    assert_int_equal(r.count, 1);
    assert_false(r.calls[0].final);
}

static int insert_rows_at_each_call(struct recorder *r, const struct migration_progress *p,
                                    char **errp)
{
    (void)p;
    (void)errp;
    int64_t *next_id = r->hook_arg;
    test_seed(r->db, *next_id, 200, 2); /* new rows with observations */
    test_seed(r->db, *next_id + 200, 200, 0);
    *next_id += 400;
    return 0;
}

static void rows_inserted_after_the_snapshot_do_not_trap_the_loop(void **state)
{
    struct test_db *t = *state;
    test_seed(t->db, 1, 2000, 1);
    int64_t next_id = 2001;
    struct recorder r = {.db = t->db, .hook = insert_rows_at_each_call, .hook_arg = &next_id};
    struct migration_env env = fixed_env(t->db, 100, &r);
    struct migration_result result;
    char *err = NULL;

    assert_int_equal(tx_last_seen_backfill_run(&env, &result, &err), 0);
    assert_int_equal(result.outcome, MIGRATION_DONE);
    assert_int_equal(result.processed, 2000);
    assert_int_equal(result.total, 2000);
    assert_int_equal(result.batches, 20);
    /* Out of scope: ingest keeps rows past the snapshot current itself. */
    assert_int_equal(test_query_int(t->db, "SELECT count(*) FROM transmissions"
                                           " WHERE id > 2000 AND last_seen != 0"),
                     0);
    assert_true(next_id > 2001 + 400 * 10);
}

static void orphans_and_zero_maxima_are_skipped_and_the_loop_ends(void **state)
{
    struct test_db *t = *state;
    /* Every third row has observations; the rest are orphans. Some maxima are 0
     * or negative, so those rows keep last_seen = 0 or get a negative value. */
    for (int64_t id = 1; id <= 3000; id++)
        test_seed(t->db, id, 1, id % 3 == 0 ? 2 : 0);
    test_exec(t->db, "UPDATE observations SET timestamp = 0 WHERE transmission_id % 9 = 0;"
                     "UPDATE observations SET timestamp = -5 WHERE transmission_id % 15 = 0");
    char *reference = test_reference_copy(t, "reference.db");
    struct recorder r = {.db = t->db};
    struct migration_env env = fixed_env(t->db, 7, &r);
    struct migration_result result;
    char *err = NULL;

    assert_int_equal(tx_last_seen_backfill_run(&env, &result, &err), 0);
    assert_int_equal(result.outcome, MIGRATION_DONE);
    assert_int_equal(result.total, 1000);
    assert_int_equal(result.processed, 1000);
    /* Each batch walks 7 rows still at 0, orphans included, and never revisits them. */
    assert_true(result.batches <= 3000 / 7 + 1);
    assert_int_equal(test_diff_from_reference(t->db, reference), 0);
    free(reference);
}

/*
 * Live ingest between batches, as worker/ingest_store.c does it (docs/ingest.md):
 * insert the observation, then a row still at 0 gets the maximum over all its
 * observations and a filled row MAX(last_seen, timestamp); new transmissions
 * start at their one timestamp.
 */
struct ingest_sim {
    int64_t round;
    int64_t taken; /* rows ingest filled before the backfill reached them */
};

static int ingest_between_batches(struct recorder *r, const struct migration_progress *p,
                                  char **errp)
{
    (void)p;
    (void)errp;
    struct ingest_sim *sim = r->hook_arg;
    int64_t *round = &sim->round;
    (*round)++;
    test_exec(r->db, "BEGIN IMMEDIATE");
    for (int k = 0; k < 20; k++) {
        int64_t id = 1 + (*round * 7919 + k * 104729) % 6000;
        /* Every other one arrives late, older than what the row has seen. */
        int64_t ts = k % 2 ? 500 + k : 1000000 + *round * 100 + k;
        char *probe = sqlite3_mprintf("SELECT last_seen = 0 FROM transmissions WHERE id = %lld",
                                      (long long)id);
        sim->taken += test_query_int(r->db, probe);
        sqlite3_free(probe);
        char *sql = sqlite3_mprintf(
            "INSERT INTO observations(transmission_id, timestamp) VALUES (%lld, %lld);"
            "UPDATE transmissions SET last_seen = CASE WHEN last_seen = 0"
            " THEN (SELECT MAX(timestamp) FROM observations WHERE transmission_id = %lld)"
            " ELSE MAX(last_seen, %lld) END WHERE id = %lld AND last_seen < %lld;",
            (long long)id, (long long)ts, (long long)id, (long long)ts, (long long)id,
            (long long)ts);
        test_exec(r->db, sql);
        sqlite3_free(sql);
    }
    char *sql = sqlite3_mprintf(
        "INSERT INTO transmissions(hash, raw_hex, first_seen, last_seen)"
        " VALUES ('new-%lld', '00', 1, 2000000);"
        "INSERT INTO observations(transmission_id, timestamp)"
        " VALUES (last_insert_rowid(), 2000000);",
        (long long)*round);
    test_exec(r->db, sql);
    sqlite3_free(sql);
    test_exec(r->db, "COMMIT");
    return 0;
}

static void backfill_and_ingest_settle_on_the_maximum(void **state)
{
    struct test_db *t = *state;
    test_seed(t->db, 1, 6000, 3);
    struct ingest_sim sim = {0};
    struct recorder r = {.hook = ingest_between_batches, .hook_arg = &sim};
    r.db = t->db;
    struct migration_env env = fixed_env(t->db, 250, &r);
    struct migration_result result;
    char *err = NULL;

    assert_int_equal(tx_last_seen_backfill_run(&env, &result, &err), 0);
    assert_int_equal(result.outcome, MIGRATION_DONE);
    assert_true(sim.round > 10);
    assert_int_equal(test_query_int(t->db,
                                    "SELECT count(*) FROM transmissions AS t"
                                    " WHERE last_seen IS NOT (SELECT MAX(timestamp)"
                                    " FROM observations WHERE transmission_id = t.id)"),
                     0);
    /* Rows ingest filled first were counted but not updated by the backfill;
     * the finished run reports only the rows it wrote, as complete. */
    assert_true(sim.taken > 0);
    assert_int_equal(result.taken_by_ingest, sim.taken);
    assert_int_equal(result.processed + sim.taken, 6000);
    assert_int_equal(result.total, result.processed);
    const struct migration_progress *terminal = &r.calls[r.count - 1];
    assert_true(terminal->final);
    assert_int_equal(terminal->processed, result.processed);
    assert_int_equal(terminal->total, result.processed);
}

/*
 * While live ingest waits for the writer (writer_demand.h), a batch stops
 * writing once it has held the writer for its minimum and commits, leaving the
 * rest for the next batch. 20,000 single-row updates take far longer than the
 * 2 ms minimum, so the first batch of a fixed 20,000 is always cut short; the
 * run still finishes with every row filled.
 */
static void a_batch_yields_the_writer_to_waiting_ingest(void **state)
{
    struct test_db *t = *state;
    test_seed(t->db, 1, 30000, 2);
    char *reference = test_reference_copy(t, "reference.db");
    struct recorder r = {0};
    struct migration_env env = fixed_env(t->db, 20000, &r);
    struct migration_result result;
    char *err = NULL;

    writer_demand_begin();
    int rc = tx_last_seen_backfill_run(&env, &result, &err);
    writer_demand_end();
    assert_int_equal(rc, 0);
    assert_int_equal(result.outcome, MIGRATION_DONE);
    assert_true(r.count >= 2);
    assert_true(r.calls[0].processed > 0);
    assert_true(r.calls[0].processed < 20000);
    assert_true(result.batches > 2);
    assert_int_equal(result.processed, 30000);
    assert_int_equal(test_diff_from_reference(t->db, reference), 0);
    free(reference);
    assert_false(writer_demand_pending());
}

static void bad_parameters_are_rejected(void **state)
{
    struct test_db *t = *state;
    test_seed(t->db, 1, 100, 1);
    static const struct {
        int adaptive;
        int64_t batch_size, target_ms, yield_ms;
        const char *message;
    } cases[] = {
        {0, 0, 50, 0, "batch size"},
        {0, -1, 50, 0, "batch size"},
        {0, MIGRATION_MAX_BATCH_SIZE + 1, 50, 0, "batch size"},
        {1, 0, 0, 0, "target"},
        {1, 0, -5, 0, "target"},
        {1, 0, MIGRATION_MAX_TARGET_BATCH_MS + 1, 0, "target"},
        {1, 0, 50, -1, "yield"},
        {0, 10, 50, -100, "yield"},
        {1, 0, 50, MIGRATION_MAX_YIELD_MS + 1, "yield"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct recorder r = {0};
        struct migration_env env = fixed_env(t->db, cases[i].batch_size, &r);
        env.params.adaptive = cases[i].adaptive;
        env.params.target_batch_ms = cases[i].target_ms;
        env.params.yield_ms = cases[i].yield_ms;
        struct migration_result result;
        char *err = NULL;
        assert_int_equal(tx_last_seen_backfill_run(&env, &result, &err), -1);
        assert_int_equal(result.outcome, MIGRATION_FAILED);
        assert_non_null(err);
        if (strstr(err, cases[i].message) == NULL || strstr(err, "invalid") == NULL)
            fail_msg("case %zu: unclear error '%s'", i, err);
        free(err);
        assert_int_equal(r.count, 0);
        assert_int_equal(filled_rows(t->db), 0);
    }
}

static int close_database_at_first_call(struct recorder *r, const struct migration_progress *p,
                                        char **errp)
{
    (void)p;
    (void)errp;
    if (r->count == 1) {
        /* The backfill's prepared statements keep the handle alive as a zombie:
         * every later call on it fails with SQLITE_MISUSE, defined behaviour. */
        assert_int_equal(sqlite3_close_v2(r->hook_arg), SQLITE_OK);
    }
    return 0;
}

static void closed_database_fails_the_run_with_partial_counts(void **state)
{
    struct test_db *t = *state;
    test_seed(t->db, 1, 5000, 1);
    sqlite3 *db = test_connect(t->path, 1000);
    struct recorder r = {.hook = close_database_at_first_call, .hook_arg = db};
    struct migration_env env = fixed_env(db, 1000, &r);
    struct migration_result result;
    char *err = NULL;

    assert_int_equal(tx_last_seen_backfill_run(&env, &result, &err), -1);
    assert_int_equal(result.outcome, MIGRATION_FAILED);
    /* The first call comes right after batch 1; batch 2 finds the handle closed. */
    assert_int_equal(result.processed, 1000);
    assert_non_null(strstr(err, "misuse"));
    free(err);
    assert_int_equal(filled_rows(t->db), 1000);
}

static void snapshot_error_propagates(void **state)
{
    struct test_db *t = *state;
    test_exec(t->db, "DROP TABLE transmissions");
    struct recorder r = {0};
    struct migration_env env = fixed_env(t->db, 10, &r);
    struct migration_result result;
    char *err = NULL;
    assert_int_equal(tx_last_seen_backfill_run(&env, &result, &err), -1);
    assert_non_null(strstr(err, "snapshot"));
    assert_non_null(strstr(err, "no such table"));
    free(err);
    assert_int_equal(r.count, 0);
}

static void count_error_propagates(void **state)
{
    struct test_db *t = *state;
    test_seed(t->db, 1, 10, 0);
    test_exec(t->db, "DROP TABLE observations");
    struct recorder r = {0};
    struct migration_env env = fixed_env(t->db, 10, &r);
    struct migration_result result;
    char *err = NULL;
    assert_int_equal(tx_last_seen_backfill_run(&env, &result, &err), -1);
    assert_non_null(strstr(err, "count"));
    assert_non_null(strstr(err, "no such table"));
    free(err);
    assert_int_equal(r.count, 0);
}

static void update_error_propagates_and_keeps_earlier_batches(void **state)
{
    struct test_db *t = *state;
    test_seed(t->db, 1, 12000, 1);
    test_exec(t->db, "CREATE TRIGGER boom BEFORE UPDATE OF last_seen ON transmissions"
                     " WHEN OLD.id = 7000 BEGIN SELECT RAISE(ABORT, 'boom at 7000'); END");
    struct recorder r = {0};
    struct migration_env env = fixed_env(t->db, 5000, &r);
    struct migration_result result;
    char *err = NULL;

    assert_int_equal(tx_last_seen_backfill_run(&env, &result, &err), -1);
    assert_int_equal(result.outcome, MIGRATION_FAILED);
    assert_non_null(strstr(err, "update of ids"));
    assert_non_null(strstr(err, "boom at 7000"));
    free(err);
    assert_int_equal(result.processed, 5000);
    assert_int_equal(filled_rows(t->db), 5000);
    /* The failed batch was rolled back, so the connection is usable again. */
    assert_int_not_equal(sqlite3_get_autocommit(t->db), 0);
}

static int refuse_progress(struct recorder *r, const struct migration_progress *p, char **errp)
{
    (void)r;
    (void)p;
    return set_error(errp, "observer says no");
}

static void progress_callback_error_fails_the_run(void **state)
{
    struct test_db *t = *state;
    test_seed(t->db, 1, 3000, 1);
    struct recorder r = {.hook = refuse_progress};
    struct migration_env env = fixed_env(t->db, 1000, &r);
    struct migration_result result;
    char *err = NULL;

    assert_int_equal(tx_last_seen_backfill_run(&env, &result, &err), -1);
    assert_non_null(strstr(err, "observer says no"));
    free(err);
    assert_int_equal(r.count, 1);
    assert_int_equal(result.outcome, MIGRATION_FAILED);
}

static void empty_table_gives_one_terminal_call(void **state)
{
    struct test_db *t = *state;
    struct recorder r = {0};
    struct migration_env env = fixed_env(t->db, 10, &r);
    struct migration_result result;
    char *err = NULL;
    assert_int_equal(tx_last_seen_backfill_run(&env, &result, &err), 0);
    assert_int_equal(result.outcome, MIGRATION_DONE);
    assert_int_equal(r.count, 1);
    assert_true(r.calls[0].final);
    assert_int_equal(r.calls[0].processed, 0);
    assert_int_equal(result.batches, 0);
}

static struct batch_sizer adaptive_sizer(int64_t target_ms)
{
    struct migration_params params;
    migration_params_default(&params);
    params.target_batch_ms = target_ms;
    struct batch_sizer sizer;
    batch_sizer_init(&sizer, &params);
    return sizer;
}

static void batch_sizer_starts_small_and_grows_at_most_double(void **state)
{
    (void)state;
    struct batch_sizer sizer = adaptive_sizer(50);
    assert_int_equal(sizer.size, BATCH_SIZER_FIRST);
    /* Rows that cost nothing would justify a huge batch; growth is capped. */
    for (int i = 0; i < 5; i++) {
        int64_t before = sizer.size;
        batch_sizer_observe(&sizer, sizer.size, 1);
        assert_int_equal(sizer.size, before * BATCH_SIZER_GROWTH);
    }
}

static void batch_sizer_table(void **state)
{
    (void)state;
    static const struct {
        int64_t size, rows, hold_us;
        int64_t expect;
        const char *why;
    } cases[] = {
        /* 5,000 rows/s, target 50 ms aimed at 25 ms: 125 rows. */
        {1000, 1000, 200000, 125, "a batch over target shrinks at once"},
        {100, 100, 10000000, BATCH_SIZER_FLOOR, "never below the floor"},
        {1000, 1000, 25000, 1000, "on the aim stays put"},
        {1000, 1000, 12500, 2000, "twice as fast grows to double"},
        {1000, 1000, 5000, 2000, "much faster still only doubles"},
        {MIGRATION_MAX_BATCH_SIZE, MIGRATION_MAX_BATCH_SIZE, 1, MIGRATION_MAX_BATCH_SIZE,
         "never above the maximum"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct batch_sizer sizer = adaptive_sizer(50);
        sizer.size = cases[i].size;
        batch_sizer_observe(&sizer, cases[i].rows, cases[i].hold_us);
        if (sizer.size != cases[i].expect)
            fail_msg("%s: size %lld, expected %lld", cases[i].why, (long long)sizer.size,
                     (long long)cases[i].expect);
    }
}

static void batch_sizer_converges_on_its_aim_below_the_target(void **state)
{
    (void)state;
    /* A steady 20 us per row: half of 50 ms is 1,250 rows. */
    struct batch_sizer sizer = adaptive_sizer(50);
    for (int i = 0; i < 40; i++)
        batch_sizer_observe(&sizer, sizer.size, sizer.size * 20);
    assert_in_range(sizer.size, 1200, 1300);
    /* One slow batch (a cold cache) is believed at once... */
    batch_sizer_observe(&sizer, sizer.size, 80000);
    assert_true(sizer.size < 500);
    /* ...and the decaying average climbs back, at most doubling per batch. */
    for (int i = 0; i < 40; i++) {
        int64_t before = sizer.size;
        batch_sizer_observe(&sizer, sizer.size, sizer.size * 20);
        assert_true(sizer.size <= before * BATCH_SIZER_GROWTH);
    }
    assert_in_range(sizer.size, 1200, 1300);
}

static void slow_batch_stops_before_its_deadline(void **state)
{
    (void)state;
    struct batch_sizer sizer = adaptive_sizer(50); /* deadline: 37.5 ms */
    sizer.size = 1000;
    assert_int_equal(batch_sizer_chunk(&sizer), 250);
    static const struct {
        int64_t elapsed_us, done, next;
        int go_on;
        const char *why;
    } cases[] = {
        {6250, 250, 250, 1, "on pace: 12.5 ms after two chunks"},
        {18750, 750, 250, 1, "on pace: 25 ms after the last chunk"},
        {12500, 250, 250, 1, "twice as slow: 25 ms predicted"},
        {25000, 500, 250, 1, "twice as slow: 37.5 ms predicted, just the deadline"},
        {37500, 750, 250, 0, "twice as slow: 50 ms predicted after three"},
        {20000, 250, 250, 0, "over three times as slow: 40 ms predicted"},
        {36000, 750, 10, 1, "a small last chunk still fits"},
        {0, 0, 250, 1, "the first chunk always runs"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (batch_sizer_continue(&sizer, cases[i].elapsed_us, cases[i].done, cases[i].next) !=
            cases[i].go_on)
            fail_msg("%s", cases[i].why);
    }
    /* Small batches run at the floor; fixed batches are one statement and never cut. */
    sizer.size = 20;
    assert_int_equal(batch_sizer_chunk(&sizer), BATCH_SIZER_FLOOR);
    struct migration_params params;
    migration_params_default(&params);
    params.adaptive = 0;
    params.batch_size = 5000;
    batch_sizer_init(&sizer, &params);
    assert_int_equal(batch_sizer_chunk(&sizer), 5000);
    assert_true(batch_sizer_continue(&sizer, 10000000, 1, 5000));
}

static void fixed_batch_size_is_never_adapted(void **state)
{
    (void)state;
    struct migration_params params;
    migration_params_default(&params);
    params.adaptive = 0;
    params.batch_size = 5000;
    struct batch_sizer sizer;
    batch_sizer_init(&sizer, &params);
    batch_sizer_observe(&sizer, 5000, 900000);
    batch_sizer_observe(&sizer, 5000, 1);
    assert_int_equal(sizer.size, 5000);
}

/* xorshift64*: reproducible random databases; a failure prints its seed. */
static uint64_t rng_state;
static uint64_t rng_next(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1DULL;
}
static int64_t rng_range(int64_t lo, int64_t hi)
{
    return lo + (int64_t)(rng_next() % (uint64_t)(hi - lo + 1));
}

static void bind_random_timestamp(sqlite3_stmt *stmt, int column, int64_t shared)
{
    switch (rng_range(0, 19)) {
    case 0:
        sqlite3_bind_int64(stmt, column, 0);
        break;
    case 1:
        sqlite3_bind_int64(stmt, column, -rng_range(1, 1000));
        break;
    case 2:
        sqlite3_bind_int64(stmt, column, shared);
        break;
    case 3:
        sqlite3_bind_double(stmt, column, 1.5 + (double)rng_range(0, 10));
        break;
    case 4:
        sqlite3_bind_text(stmt, column, "not-a-time", -1, SQLITE_STATIC);
        break;
    case 5:
        sqlite3_bind_int64(stmt, column, INT64_MAX - rng_range(0, 3));
        break;
    default:
        sqlite3_bind_int64(stmt, column, rng_range(1, 2000000000));
    }
}

static int64_t random_id(int shape, int64_t i)
{
    switch (shape) {
    case 0:
        return i + 1; /* dense, the common case */
    case 1:
        return rng_range(-1000000, 1000000); /* sparse, negative ids too */
    case 2:
        return i * ((int64_t)1 << 40) + rng_range(0, 5); /* huge gaps */
    default:
        switch (rng_range(0, 3)) { /* the extremes of a rowid */
        case 0:
            return INT64_MIN + rng_range(0, 3);
        case 1:
            return INT64_MAX - rng_range(0, 3);
        default:
            return rng_range(-50, 50);
        }
    }
}

static void random_database(sqlite3 *db)
{
    test_exec(db, "BEGIN; DELETE FROM observations; DELETE FROM transmissions;");
    sqlite3_stmt *tx = NULL, *obs = NULL;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "INSERT OR IGNORE INTO transmissions"
                                        "(id, hash, raw_hex, first_seen, last_seen)"
                                        " VALUES (?1, printf('h%d', ?1), '00', 1, ?2)",
                                        -1, &tx, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "INSERT INTO observations(transmission_id, timestamp)"
                                        " VALUES (?1, ?2)",
                                        -1, &obs, NULL),
                     SQLITE_OK);
    int shape = (int)rng_range(0, 3);
    int64_t rows = rng_range(0, 150);
    int orphan_pct = (int)rng_range(0, 90);
    for (int64_t i = 0; i < rows; i++) {
        int64_t id = random_id(shape, i);
        int64_t last_seen = rng_range(0, 9) < 8 ? 0 : rng_range(-3, 3) * 1000;
        sqlite3_bind_int64(tx, 1, id);
        sqlite3_bind_int64(tx, 2, last_seen);
        assert_int_equal(sqlite3_step(tx), SQLITE_DONE);
        sqlite3_reset(tx);
        int64_t n = rng_range(0, 99) < orphan_pct ? 0 : rng_range(1, 6);
        if (rng_range(0, 29) == 0)
            n = 120; /* a busy transmission */
        int64_t shared = rng_range(1, 100);
        for (int64_t k = 0; k < n; k++) {
            sqlite3_bind_int64(obs, 1, id);
            bind_random_timestamp(obs, 2, shared);
            assert_int_equal(sqlite3_step(obs), SQLITE_DONE);
            sqlite3_reset(obs);
        }
    }
    /* Observations of transmissions that do not exist. */
    for (int64_t k = rng_range(0, 5); k > 0; k--) {
        sqlite3_bind_int64(obs, 1, rng_range(2000000, 3000000));
        sqlite3_bind_int64(obs, 2, rng_range(1, 100));
        assert_int_equal(sqlite3_step(obs), SQLITE_DONE);
        sqlite3_reset(obs);
    }
    sqlite3_finalize(tx);
    sqlite3_finalize(obs);
    test_exec(db, "COMMIT");
}

static int cancel_at_call_k(struct recorder *r, const struct migration_progress *p, char **errp)
{
    (void)p;
    (void)errp;
    struct migration_cancel *cancel = r->hook_arg;
    if (r->count == 1 + (int)(rng_state % 3))
        migration_cancel_request(cancel);
    return 0;
}

static void chunked_result_equals_reference_on_random_databases(void **state)
{
    struct test_db *t = *state;
    const char *seed_env = getenv("MESHSCOPE_PROPERTY_SEED");
    uint64_t seed = seed_env ? strtoull(seed_env, NULL, 10) : 20261125;
    int rounds = 150;
    for (int round = 0; round < rounds; round++) {
        rng_state = seed * 1000003u + (uint64_t)round + 1;
        random_database(t->db);
        char *reference = test_reference_copy(t, "reference.db");
        struct migration_cancel cancel;
        migration_cancel_init(&cancel);
        struct recorder r = {0};
        struct migration_env env = fixed_env(t->db, rng_range(1, 40), &r);
        if (rng_range(0, 1)) {
            env.params.adaptive = 1;
            env.params.target_batch_ms = rng_range(1, 5);
        }
        int interrupted = rng_range(0, 9) < 4;
        if (interrupted) {
            /* A stop part-way, then a fresh run: kill -9 leaves the same
             * state, since each batch commits alone or not at all. */
            r.hook = cancel_at_call_k;
            r.hook_arg = &cancel;
            env.cancel = &cancel;
        }
        struct migration_result result;
        char *err = NULL;
        if (tx_last_seen_backfill_run(&env, &result, &err) != 0)
            fail_msg("seed %llu round %d: %s", (unsigned long long)seed, round, err);
        if (interrupted) {
            struct recorder again = {0};
            env.progress_arg = &again;
            env.cancel = NULL;
            if (tx_last_seen_backfill_run(&env, &result, &err) != 0)
                fail_msg("seed %llu round %d (re-run): %s", (unsigned long long)seed, round,
                         err);
        }
        migration_cancel_destroy(&cancel);
        assert_int_equal(result.outcome, MIGRATION_DONE);
        assert_int_equal(result.processed, result.total);
        int64_t diff = test_diff_from_reference(t->db, reference);
        if (diff != 0)
            fail_msg("seed %llu round %d: %lld rows differ from the reference",
                     (unsigned long long)seed, round, (long long)diff);
        free(reference);
    }
}

/*
 * A memory budget too small for the rows at 0 splits them into windows, each
 * with its own pass over the observations; the result is still the
 * reference's, on the same random databases as above (1 KiB holds 64 rows).
 */
static void a_small_memory_budget_takes_more_windows_and_equals_the_reference(void **state)
{
    struct test_db *t = *state;
    for (int round = 0; round < 60; round++) {
        rng_state = 777001u + (uint64_t)round;
        random_database(t->db);
        char *reference = test_reference_copy(t, "reference.db");
        struct recorder r = {0};
        struct migration_env env = fixed_env(t->db, rng_range(1, 40), &r);
        env.params.memory_kib = 1;
        struct migration_result result;
        char *err = NULL;
        if (tx_last_seen_backfill_run(&env, &result, &err) != 0)
            fail_msg("round %d: %s", round, err);
        assert_int_equal(result.outcome, MIGRATION_DONE);
        assert_int_equal(result.processed, result.total);
        int64_t diff = test_diff_from_reference(t->db, reference);
        if (diff != 0)
            fail_msg("round %d: %lld rows differ from the reference", round, (long long)diff);
        free(reference);
    }
}

/* 1 KiB holds 64 rows: 3,000 rows take 47 windows, and progress still follows every batch. */
static void windows_keep_the_progress_rules(void **state)
{
    struct test_db *t = *state;
    test_seed(t->db, 1, 3000, 2);
    char *reference = test_reference_copy(t, "reference.db");
    struct recorder r = {.db = t->db};
    struct migration_env env = fixed_env(t->db, 25, &r);
    env.params.memory_kib = 1;
    struct migration_result result;
    char *err = NULL;
    assert_int_equal(tx_last_seen_backfill_run(&env, &result, &err), 0);
    assert_int_equal(result.outcome, MIGRATION_DONE);
    assert_int_equal(result.processed, 3000);
    /* 64 rows a window, batches of 25: 25, 25, 14 for 46 windows, then 25, 25, 6. */
    assert_int_equal(result.batches, 46 * 3 + 3);
    for (int i = 0; i < r.count; i++)
        assert_int_equal(r.calls[i].processed, r.filled_at_call[i]);
    assert_progress_contract(&r);
    assert_int_equal(test_diff_from_reference(t->db, reference), 0);
    free(reference);
}

/*
 * Timestamps of every type, mixed within one transmission: SQLite's MAX
 * orders NULL < INTEGER/REAL (compared as numbers) < TEXT < BLOB, and the
 * backfill must store exactly what the reference stores, type included.
 */
static void mixed_type_timestamps_equal_the_reference(void **state)
{
    struct test_db *t = *state;
    test_seed(t->db, 1, 12, 0);
    test_exec(t->db,
              "INSERT INTO observations(transmission_id, timestamp) VALUES"
              " (1, 5), (1, 7),"                      /* integers only */
              " (2, 5), (2, 7.5),"                    /* a real above the integers */
              " (3, 9), (3, 8.5),"                    /* a real below them */
              " (4, 9), (4, 'text'),"                 /* text beats any number */
              " (5, x'00'), (5, 'zzz'), (5, 3),"      /* a blob beats text */
              " (6, 9223372036854775807), (6, 9.3e18)," /* int64 max against a larger real */
              " (7, -3), (7, 0),"                     /* a maximum of 0 stays 0 */
              " (8, 2.0),"                            /* a whole real */
              " (9, '12'), (9, 11),"                  /* numeric text, stored as an integer */
              " (11, -9223372036854775808)");         /* int64 min */
    char *reference = test_reference_copy(t, "reference.db");
    struct recorder r = {0};
    struct migration_env env = fixed_env(t->db, 4, &r);
    struct migration_result result;
    char *err = NULL;
    assert_int_equal(tx_last_seen_backfill_run(&env, &result, &err), 0);
    assert_int_equal(result.outcome, MIGRATION_DONE);
    assert_int_equal(result.total, 10);
    /* The diff compares types too: 7.5 is not 7, '12' is not 12. */
    assert_int_equal(test_diff_from_reference(t->db, reference), 0);
    free(reference);
}

/*
 * Live ingest while the pass reads the observations (between two of its read
 * chunks, as the runner's between-batches call runs): it adds observations to
 * rows still at 0 and fills them with their maximum, as worker/ingest_store.c
 * does. The pass computed those rows' maxima without the new observations;
 * the guarded write must leave ingest's value, so every row ends at its MAX.
 */
static int ingest_during_the_pass(void *arg, struct migration_params *params, char **errp)
{
    (void)params;
    (void)errp;
    struct recorder *r = arg;
    if (r->count > 0 || r->hook_arg != NULL)
        return 0; /* once, before the first batch */
    r->hook_arg = r;
    test_exec(r->db, "BEGIN IMMEDIATE;"
                     "INSERT INTO observations(transmission_id, timestamp)"
                     " SELECT id, 5000000 FROM transmissions WHERE id % 97 = 0;"
                     "UPDATE transmissions SET last_seen = (SELECT MAX(timestamp) FROM observations"
                     " WHERE transmission_id = transmissions.id)"
                     " WHERE id % 97 = 0 AND last_seen = 0;"
                     "COMMIT");
    return 0;
}

static void ingest_during_the_pass_keeps_its_maximum(void **state)
{
    struct test_db *t = *state;
    test_seed(t->db, 1, 40000, 2); /* 80,000 observations: two read chunks */
    struct recorder r = {.db = t->db};
    struct migration_env env = fixed_env(t->db, 5000, &r);
    env.between = ingest_during_the_pass;
    env.between_arg = &r;
    struct migration_result result;
    char *err = NULL;
    assert_int_equal(tx_last_seen_backfill_run(&env, &result, &err), 0);
    assert_int_equal(result.outcome, MIGRATION_DONE);
    assert_non_null(r.hook_arg); /* ingest ran during the pass */
    assert_int_equal(r.calls[0].total, 40000);
    assert_int_equal(result.taken_by_ingest, 40000 / 97);
    assert_int_equal(test_query_int(t->db,
                                    "SELECT count(*) FROM transmissions AS t"
                                    " WHERE last_seen IS NOT (SELECT MAX(timestamp)"
                                    " FROM observations WHERE transmission_id = t.id)"),
                     0);
    assert_int_equal(test_query_int(t->db, "SELECT count(*) FROM transmissions WHERE last_seen = 5000000"),
                     40000 / 97);
}

static void a_memory_budget_under_one_kib_is_rejected(void **state)
{
    struct test_db *t = *state;
    test_seed(t->db, 1, 10, 1);
    struct recorder r = {0};
    struct migration_env env = fixed_env(t->db, 10, &r);
    env.params.memory_kib = 0;
    struct migration_result result;
    char *err = NULL;
    assert_int_equal(tx_last_seen_backfill_run(&env, &result, &err), -1);
    assert_non_null(strstr(err, "invalid memory budget"));
    free(err);
    assert_int_equal(filled_rows(t->db), 0);
}

int main(void)
{
    log_init("test", LOG_LEVEL_ERROR);
    const struct CMUnitTest tests[] = {
#define DB_TEST(fn) cmocka_unit_test_setup_teardown(fn, test_db_setup, test_db_teardown)
        DB_TEST(no_progress_call_follows_an_empty_batch),
        DB_TEST(progress_is_reported_right_after_each_batch_commits),
        DB_TEST(terminal_call_comes_when_the_final_counts_are_new),
        DB_TEST(writer_is_released_at_every_progress_call),
        DB_TEST(writer_probe_catches_a_one_transaction_backfill),
        DB_TEST(cancellation_mid_loop_returns_cancelled_with_partial_commits),
        DB_TEST(cancellation_cuts_a_yield_short),
        DB_TEST(rows_inserted_after_the_snapshot_do_not_trap_the_loop),
        DB_TEST(orphans_and_zero_maxima_are_skipped_and_the_loop_ends),
        DB_TEST(backfill_and_ingest_settle_on_the_maximum),
        DB_TEST(a_batch_yields_the_writer_to_waiting_ingest),
        DB_TEST(bad_parameters_are_rejected),
        DB_TEST(closed_database_fails_the_run_with_partial_counts),
        DB_TEST(snapshot_error_propagates),
        DB_TEST(count_error_propagates),
        DB_TEST(update_error_propagates_and_keeps_earlier_batches),
        DB_TEST(progress_callback_error_fails_the_run),
        DB_TEST(empty_table_gives_one_terminal_call),
        cmocka_unit_test(batch_sizer_starts_small_and_grows_at_most_double),
        cmocka_unit_test(batch_sizer_table),
        cmocka_unit_test(batch_sizer_converges_on_its_aim_below_the_target),
        cmocka_unit_test(fixed_batch_size_is_never_adapted),
        cmocka_unit_test(slow_batch_stops_before_its_deadline),
        DB_TEST(chunked_result_equals_reference_on_random_databases),
        DB_TEST(a_small_memory_budget_takes_more_windows_and_equals_the_reference),
        DB_TEST(windows_keep_the_progress_rules),
        DB_TEST(mixed_type_timestamps_equal_the_reference),
        DB_TEST(ingest_during_the_pass_keeps_its_maximum),
        DB_TEST(a_memory_budget_under_one_kib_is_rejected),
#undef DB_TEST
    };
    return cmocka_run_group_tests_name("backfill", tests, NULL, NULL);
}
