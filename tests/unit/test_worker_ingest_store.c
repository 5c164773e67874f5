/* test_worker_ingest_store.c: ingest's group commit on a real SQLite file: last_seen, atomicity, figures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "ingest.h"
#include "schema.h"
#include "util.h"

#define T0 INT64_C(1760000000)

struct fixture {
    char dir[64];
    char path[128];
    sqlite3 *db; /* a second connection, as the migration runner would hold */
};

static void exec_ok(sqlite3 *db, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
        fail_msg("%s: %s", sql, err);
}

static int64_t query_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    int64_t value = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    return value;
}

static double query_double(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *stmt = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    double value = sqlite3_column_double(stmt, 0);
    sqlite3_finalize(stmt);
    return value;
}

static int setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof *f);
    strcpy(f->dir, "/tmp/meshscope-ingest-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/t.db", f->dir);
    assert_int_equal(sqlite3_open(f->path, &f->db), SQLITE_OK);
    exec_ok(f->db, "PRAGMA journal_mode = WAL");
    char *err = NULL;
    assert_int_equal(schema_upgrade(f->db, &err), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    sqlite3_close(f->db);
    char *cmd = xasprintf("rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    free(f);
    return 0;
}

static struct ingest_obs make_obs(const char *hash, int64_t ts)
{
    struct ingest_obs o = {0};
    o.hash = xstrdup(hash);
    o.raw_hex = xstrdup("0a0b");
    o.timestamp = ts;
    return o;
}

/* Commits one batch of observations of `hash` with the given timestamps. */
static int commit_batch(struct ingest_store *store, const char *hash, const int64_t *ts,
                        size_t n, char **errp)
{
    struct ingest_obs obs[8];
    const struct ingest_obs *ptrs[8];
    assert_true(n <= 8);
    for (size_t i = 0; i < n; i++) {
        obs[i] = make_obs(hash, ts[i]);
        ptrs[i] = &obs[i];
    }
    struct ingest_stats_delta d = {.accepted = (int64_t)n, .acked = (int64_t)n, .commits = 1,
                                   .commit_rows_max = (int64_t)n};
    int rc = ingest_store_commit(store, ptrs, n, &d, errp);
    for (size_t i = 0; i < n; i++)
        ingest_obs_clear(&obs[i]);
    return rc;
}

static struct ingest_store *open_store(struct fixture *f, int busy_ms)
{
    struct ingest_store *store = NULL;
    char *err = NULL;
    if (ingest_store_open(f->path, busy_ms, 1, &store, &err) != 0)
        fail_msg("open: %s", err);
    return store;
}

/*
 * last_seen after ingest, for the states a transmission can be in: absent,
 * current (last_seen > 0), or not yet reached by the backfill (last_seen = 0,
 * possibly with older observations); with newer, older and out-of-order
 * observations, in one batch or in several.
 */
static void store_keeps_last_seen_at_the_max_of_all_observations(void **state)
{
    static const struct {
        const char *name;
        int exists;
        int64_t last_seen;   /* stored before ingest */
        int64_t first_seen;
        int64_t old_ts[3];   /* observations already stored (0 ends) */
        int64_t new_ts[4];   /* observations ingested (0 ends) */
        int one_batch;       /* all new observations in one commit */
        int64_t want_last, want_first;
    } cases[] = {
        {"new transmission starts at its timestamp", 0, 0, 0, {0}, {T0 + 10}, 1, T0 + 10, T0 + 10},
        {"newer observation raises last_seen", 1, T0 + 10, T0 + 10, {T0 + 10}, {T0 + 20}, 1,
         T0 + 20, T0 + 10},
        {"late older observation keeps last_seen, lowers first_seen", 1, T0 + 20, T0 + 10,
         {T0 + 10, T0 + 20}, {T0 + 5}, 1, T0 + 20, T0 + 5},
        {"unreached row gets the max over all observations, not the new one", 1, 0, T0,
         {T0 + 30, T0 + 50}, {T0 + 40}, 1, T0 + 50, T0},
        {"unreached row with only older observations takes the new one", 1, 0, T0, {T0 + 30},
         {T0 + 40}, 1, T0 + 40, T0},
        {"unreached row without observations takes the new one", 1, 0, T0, {0}, {T0 + 40}, 1,
         T0 + 40, T0},
        {"out of order in one batch", 0, 0, 0, {0}, {T0 + 30, T0 + 10, T0 + 20}, 1, T0 + 30,
         T0 + 10},
        {"out of order across batches", 0, 0, 0, {0}, {T0 + 30, T0 + 10, T0 + 20, T0 + 25}, 0,
         T0 + 30, T0 + 10},
        {"unreached row, older then newer across batches", 1, 0, T0, {T0 + 50},
         {T0 + 20, T0 + 60}, 0, T0 + 60, T0},
    };
    struct fixture *f = *state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        exec_ok(f->db, "DELETE FROM observations; DELETE FROM transmissions");
        if (cases[i].exists) {
            char *sql = sqlite3_mprintf("INSERT INTO transmissions(id, hash, raw_hex, first_seen,"
                                        " last_seen) VALUES (7, 'h', '00', %lld, %lld)",
                                        (long long)cases[i].first_seen,
                                        (long long)cases[i].last_seen);
            exec_ok(f->db, sql);
            sqlite3_free(sql);
            for (int k = 0; k < 3 && cases[i].old_ts[k]; k++) {
                sql = sqlite3_mprintf("INSERT INTO observations(transmission_id, timestamp)"
                                      " VALUES (7, %lld)", (long long)cases[i].old_ts[k]);
                exec_ok(f->db, sql);
                sqlite3_free(sql);
            }
        }
        size_t n = 0;
        while (n < 4 && cases[i].new_ts[n])
            n++;
        struct ingest_store *store = open_store(f, 1000);
        char *err = NULL;
        if (cases[i].one_batch) {
            assert_int_equal(commit_batch(store, "h", cases[i].new_ts, n, &err), 0);
        } else {
            for (size_t k = 0; k < n; k++)
                assert_int_equal(commit_batch(store, "h", &cases[i].new_ts[k], 1, &err), 0);
        }
        ingest_store_close(store);

        int64_t last = query_int(f->db, "SELECT last_seen FROM transmissions WHERE hash = 'h'");
        int64_t first = query_int(f->db, "SELECT first_seen FROM transmissions WHERE hash = 'h'");
        int64_t max = query_int(f->db, "SELECT MAX(timestamp) FROM observations");
        if (last != cases[i].want_last || last != max || first != cases[i].want_first)
            fail_msg("%s: last_seen %lld (want %lld, max %lld), first_seen %lld (want %lld)",
                     cases[i].name, (long long)last, (long long)cases[i].want_last,
                     (long long)max, (long long)first, (long long)cases[i].want_first);
        assert_int_equal(query_int(f->db, "SELECT count(*) FROM transmissions"), 1);
        int64_t stored = 0;
        while (cases[i].exists && stored < 3 && cases[i].old_ts[stored])
            stored++;
        assert_int_equal(query_int(f->db, "SELECT count(*) FROM observations"),
                         stored + (int64_t)n);
    }
}

static void store_writes_every_field_and_reuses_the_transmission(void **state)
{
    struct fixture *f = *state;
    struct ingest_store *store = open_store(f, 1000);
    struct ingest_obs a = make_obs("abc", T0);
    a.observer = xstrdup("roof");
    a.has_snr = 1;
    a.snr = -7.5;
    a.has_rssi = 1;
    a.rssi = -101;
    a.path_json = xstrdup("[\"a3\"]");
    struct ingest_obs b = make_obs("abc", T0 + 1);
    b.has_payload_type = 1;
    b.payload_type = 4;
    const struct ingest_obs *ptrs[] = {&a, &b};
    struct ingest_stats_delta d = {.accepted = 2, .acked = 2, .commits = 1, .commit_rows_max = 2};
    char *err = NULL;
    assert_int_equal(ingest_store_commit(store, ptrs, 2, &d, &err), 0);
    ingest_obs_clear(&a);
    ingest_obs_clear(&b);
    ingest_store_close(store);

    assert_int_equal(query_int(f->db, "SELECT count(*) FROM transmissions"), 1);
    /* The second observation supplies the payload type the first lacked. */
    assert_int_equal(query_int(f->db, "SELECT payload_type FROM transmissions"), 4);
    assert_int_equal(query_int(f->db, "SELECT count(*) FROM observations WHERE observer = 'roof'"
                                      " AND snr = -7.5 AND rssi = -101 AND path_json = '[\"a3\"]'"
                                      " AND timestamp = 1760000000"),
                     1);
    assert_int_equal(query_int(f->db, "SELECT count(*) FROM observations WHERE observer IS NULL"
                                      " AND snr IS NULL AND rssi IS NULL AND path_json IS NULL"),
                     1);
    /* Repeats do not spend AUTOINCREMENT ids. */
    assert_int_equal(query_int(f->db, "SELECT seq FROM sqlite_sequence WHERE name ="
                                      " 'transmissions'"),
                     1);
}

static void store_commit_is_all_or_nothing(void **state)
{
    struct fixture *f = *state;
    /* Fault injection: the third row of the batch fails inside the transaction. */
    exec_ok(f->db, "CREATE TRIGGER poison BEFORE INSERT ON observations"
                   " WHEN NEW.timestamp = 1760000003 BEGIN SELECT RAISE(ABORT, 'poisoned'); END");
    struct ingest_store *store = open_store(f, 1000);
    int64_t ts[] = {T0 + 1, T0 + 2, T0 + 3, T0 + 4};
    char *err = NULL;
    assert_int_equal(commit_batch(store, "p", ts, 4, &err), -1);
    assert_non_null(strstr(err, "poisoned"));
    free(err);
    ingest_store_close(store);
    assert_int_equal(query_int(f->db, "SELECT count(*) FROM transmissions"), 0);
    assert_int_equal(query_int(f->db, "SELECT count(*) FROM observations"), 0);
    assert_int_equal(query_int(f->db, "SELECT count(*) FROM _ingest_stats"), 0);
}

static void store_accumulates_figures_across_commits(void **state)
{
    struct fixture *f = *state;
    struct ingest_store *store = open_store(f, 1000);
    char *err = NULL;
    struct ingest_stats_delta d1 = {.accepted = 5, .rejected = 2, .acked = 5, .commits = 1,
                                    .commit_rows_max = 5, .has_latency = 1, .p50_ms = 1.5,
                                    .p99_ms = 9.25};
    assert_int_equal(ingest_store_write_stats(store, &d1, &err), 0);
    struct ingest_stats_delta d2 = {.accepted = 3, .rejected = 1, .acked = 3, .commits = 2,
                                    .commit_rows_max = 2};
    assert_int_equal(ingest_store_write_stats(store, &d2, &err), 0);
    ingest_store_close(store);
    assert_int_equal(query_int(f->db, "SELECT lines_accepted FROM _ingest_stats"), 8);
    assert_int_equal(query_int(f->db, "SELECT lines_rejected FROM _ingest_stats"), 3);
    assert_int_equal(query_int(f->db, "SELECT lines_acked FROM _ingest_stats"), 8);
    assert_int_equal(query_int(f->db, "SELECT commits FROM _ingest_stats"), 3);
    assert_int_equal(query_int(f->db, "SELECT commit_rows_max FROM _ingest_stats"), 5);
    /* A write without latency samples keeps the last gauges. */
    assert_true(query_double(f->db, "SELECT ack_latency_p50_ms FROM _ingest_stats") == 1.5);
    assert_true(query_double(f->db, "SELECT ack_latency_p99_ms FROM _ingest_stats") == 9.25);
    assert_int_equal(query_int(f->db, "SELECT count(*) FROM _ingest_stats WHERE updated_at"
                                      " GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T*Z'"),
                     1);
}

struct holder {
    sqlite3 *db;
    int hold_ms;
};

static void *hold_then_commit(void *arg)
{
    struct holder *h = arg;
    usleep((useconds_t)h->hold_ms * 1000);
    exec_ok(h->db, "COMMIT");
    return NULL;
}

/* The runner's short transaction delays a commit; it does not fail it. */
static void store_waits_for_another_writers_short_transaction(void **state)
{
    struct fixture *f = *state;
    struct ingest_store *store = open_store(f, 5000);
    exec_ok(f->db, "BEGIN IMMEDIATE");
    exec_ok(f->db, "UPDATE transmissions SET last_seen = last_seen");
    struct holder h = {f->db, 150};
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, hold_then_commit, &h), 0);
    int64_t start = clock_monotonic_ms();
    int64_t ts[] = {T0};
    char *err = NULL;
    assert_int_equal(commit_batch(store, "w", ts, 1, &err), 0);
    int64_t waited = clock_monotonic_ms() - start;
    pthread_join(thread, NULL);
    assert_true(waited >= 100);
    assert_int_equal(query_int(f->db, "SELECT count(*) FROM observations"), 1);

    /* Held past busy_timeout, the commit fails and writes nothing. */
    ingest_store_close(store);
    store = open_store(f, 50);
    exec_ok(f->db, "BEGIN IMMEDIATE");
    assert_int_equal(commit_batch(store, "w", ts, 1, &err), -1);
    assert_non_null(strstr(err, "locked"));
    free(err);
    exec_ok(f->db, "COMMIT");
    ingest_store_close(store);
    assert_int_equal(query_int(f->db, "SELECT count(*) FROM observations"), 1);
}

/*
 * Ingest into a legacy-like database whose rows the backfill has not reached,
 * then run the one-statement reference backfill of design §3: every row ends
 * with last_seen = MAX(observations.timestamp), whichever wrote it.
 */
static void ingest_then_reference_backfill_settles_every_row(void **state)
{
    struct fixture *f = *state;
    exec_ok(f->db, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200)"
                   " INSERT INTO transmissions(id, hash, raw_hex, first_seen, last_seen)"
                   " SELECT i, 'h' || i, '00', 1760000000, 0 FROM n;"
                   "WITH RECURSIVE n(j) AS (SELECT 1 UNION ALL SELECT j + 1 FROM n WHERE j < 1000)"
                   " INSERT INTO observations(transmission_id, timestamp)"
                   " SELECT 1 + (j * 7919) % 190, 1760000000 + (j * 104729) % 5000 FROM n;");
    struct ingest_store *store = open_store(f, 1000);
    char *err = NULL;
    /* Hashes h1..h210: existing rows (some without observations) and new ones;
     * timestamps both older and newer than what is stored. */
    for (int round = 0; round < 30; round++) {
        struct ingest_obs obs[7];
        const struct ingest_obs *ptrs[7];
        for (int k = 0; k < 7; k++) {
            char hash[16];
            snprintf(hash, sizeof hash, "h%d", 1 + (round * 7 + k) * 37 % 210);
            obs[k] = make_obs(hash, T0 + (round * 7919 + k * 613) % 6000);
            ptrs[k] = &obs[k];
        }
        struct ingest_stats_delta d = {.accepted = 7, .acked = 7, .commits = 1};
        assert_int_equal(ingest_store_commit(store, ptrs, 7, &d, &err), 0);
        for (int k = 0; k < 7; k++)
            ingest_obs_clear(&obs[k]);
    }
    ingest_store_close(store);
    exec_ok(f->db, "UPDATE transmissions SET last_seen = COALESCE((SELECT MAX(timestamp) FROM"
                   " observations WHERE transmission_id = transmissions.id), last_seen)"
                   " WHERE last_seen = 0");
    assert_int_equal(query_int(f->db, "SELECT count(*) FROM transmissions t WHERE last_seen IS NOT"
                                      " (SELECT MAX(timestamp) FROM observations o"
                                      "  WHERE o.transmission_id = t.id)"
                                      " AND EXISTS (SELECT 1 FROM observations o"
                                      "  WHERE o.transmission_id = t.id)"),
                     0);
    assert_int_equal(query_int(f->db, "SELECT count(*) FROM observations"), 1000 + 30 * 7);
    assert_true(query_int(f->db, "SELECT count(*) FROM transmissions") > 200);
}

static void latency_percentiles_table(void **state)
{
    (void)state;
    static const struct {
        int n;          /* samples 1..n ms, added in reverse */
        double p50, p99;
    } cases[] = {
        {1, 1, 1}, {2, 1, 2}, {10, 5, 10}, {100, 50, 99}, {1000, 500, 990},
        /* More than the window: only the newest 2048 (1..2048 added last) count. */
        {3000, 1024, 2028},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct ingest_latency *lat = xcalloc(1, sizeof *lat);
        double p50 = -1, p99 = -1;
        assert_int_equal(ingest_latency_percentiles(lat, &p50, &p99), -1);
        for (int k = cases[i].n; k >= 1; k--)
            ingest_latency_add(lat, k);
        assert_int_equal(ingest_latency_percentiles(lat, &p50, &p99), 0);
        if (p50 != cases[i].p50 || p99 != cases[i].p99)
            fail_msg("n=%d: p50 %g p99 %g, want %g %g", cases[i].n, p50, p99, cases[i].p50,
                     cases[i].p99);
        free(lat);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(store_keeps_last_seen_at_the_max_of_all_observations,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(store_writes_every_field_and_reuses_the_transmission,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(store_commit_is_all_or_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(store_accumulates_figures_across_commits, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(store_waits_for_another_writers_short_transaction, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(ingest_then_reference_backfill_settles_every_row, setup,
                                        teardown),
        cmocka_unit_test(latency_percentiles_table),
    };
    return cmocka_run_group_tests_name("ingest_store", tests, NULL, NULL);
}
