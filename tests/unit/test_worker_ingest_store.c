/* test_worker_ingest_store.c: ingest's group commit on real SQLite: last_seen, isolation, duplicates. */
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

/* EXPLAIN QUERY PLAN of `sql`, its detail lines joined by "; ". */
static char *query_plan(sqlite3 *db, const char *sql)
{
    char *eqp = xasprintf("EXPLAIN QUERY PLAN %s", sql);
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2(db, eqp, -1, &stmt, NULL) != SQLITE_OK)
        fail_msg("%s: %s", eqp, sqlite3_errmsg(db));
    char *plan = xstrdup("");
    while (sqlite3_step(stmt) == SQLITE_ROW) {
        char *next = xasprintf("%s%s%s", plan, *plan ? "; " : "",
                               (const char *)sqlite3_column_text(stmt, 3));
        free(plan);
        plan = next;
    }
    sqlite3_finalize(stmt);
    free(eqp);
    return plan;
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
    struct ingest_result results[8];
    struct ingest_stats_delta d = {0};
    int rc = ingest_store_commit(store, ptrs, n, results, &d, errp);
    for (size_t i = 0; i < n; i++) {
        if (rc == 0 && results[i].outcome != INGEST_STORED)
            fail_msg("line %zu of %s: outcome %d (%s)", i, hash, (int)results[i].outcome,
                     results[i].error ? results[i].error : "");
        free(results[i].error);
        ingest_obs_clear(&obs[i]);
    }
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
    struct ingest_result results[2];
    struct ingest_stats_delta d = {0};
    char *err = NULL;
    assert_int_equal(ingest_store_commit(store, ptrs, 2, results, &d, &err), 0);
    assert_int_equal(results[0].outcome, INGEST_STORED);
    assert_int_equal(results[1].outcome, INGEST_STORED);
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

/*
 * A legacy table's own constraint (here a trigger) refuses the third line:
 * that line alone fails, with the constraint's message, and the group's
 * other lines and its figures commit.
 */
static void store_a_constraint_fails_only_its_line(void **state)
{
    struct fixture *f = *state;
    exec_ok(f->db, "CREATE TRIGGER poison BEFORE INSERT ON observations"
                   " WHEN NEW.timestamp = 1760000003 BEGIN SELECT RAISE(ABORT, 'poisoned'); END");
    struct ingest_store *store = open_store(f, 1000);
    struct ingest_obs obs[4];
    const struct ingest_obs *ptrs[4];
    for (int i = 0; i < 4; i++) {
        /* The poisoned line is a new hash: its transmission row must go too. */
        obs[i] = make_obs(i == 2 ? "p-new" : "p", T0 + 1 + i);
        ptrs[i] = &obs[i];
    }
    struct ingest_result results[4];
    struct ingest_stats_delta d = {.rejected = 5};
    char *err = NULL;
    assert_int_equal(ingest_store_commit(store, ptrs, 4, results, &d, &err), 0);
    ingest_store_close(store);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(results[i].outcome, i == 2 ? INGEST_FAILED : INGEST_STORED);
        if (i == 2)
            assert_non_null(strstr(results[i].error, "poisoned"));
        else
            assert_null(results[i].error);
        free(results[i].error);
        ingest_obs_clear(&obs[i]);
    }
    assert_int_equal(query_int(f->db, "SELECT count(*) FROM transmissions"), 1);
    assert_int_equal(query_int(f->db, "SELECT count(*) FROM observations"), 3);
    assert_int_equal(query_int(f->db, "SELECT last_seen FROM transmissions"), T0 + 4);
    assert_int_equal(query_int(f->db, "SELECT lines_accepted FROM _ingest_stats"), 3);
    assert_int_equal(query_int(f->db, "SELECT lines_rejected FROM _ingest_stats"), 5 + 1);
    assert_int_equal(query_int(f->db, "SELECT commits FROM _ingest_stats"), 1);
}

/* A failure of the transaction itself (here the lock) writes nothing and sets no result error. */
static void store_commit_failure_writes_nothing(void **state)
{
    struct fixture *f = *state;
    struct ingest_store *store = open_store(f, 50);
    exec_ok(f->db, "BEGIN IMMEDIATE");
    struct ingest_obs a = make_obs("x", T0);
    const struct ingest_obs *ptrs[] = {&a};
    struct ingest_result results[1];
    struct ingest_stats_delta d = {.rejected = 1};
    char *err = NULL;
    assert_int_equal(ingest_store_commit(store, ptrs, 1, results, &d, &err), -1);
    assert_non_null(strstr(err, "locked"));
    assert_null(results[0].error);
    free(err);
    exec_ok(f->db, "COMMIT");
    ingest_store_close(store);
    ingest_obs_clear(&a);
    assert_int_equal(query_int(f->db, "SELECT count(*) FROM observations"), 0);
    assert_int_equal(query_int(f->db, "SELECT count(*) FROM _ingest_stats"), 0);
}

/*
 * One line whose own statements fail is answered for itself; the rest of its
 * group commits. Ids exhausted (the highest transmission id is INT64_MAX, so
 * a new hash cannot get one) and an extra constraint of a legacy table.
 */
static void store_a_failing_line_fails_alone(void **state)
{
    struct fixture *f = *state;
    exec_ok(f->db, "INSERT INTO transmissions(id, hash, raw_hex, first_seen, last_seen)"
                   " VALUES (9223372036854775807, 'known', '00', 1760000000, 1760000000)");
    struct ingest_store *store = open_store(f, 1000);
    /* SQLITE_FULL from the id ends the whole transaction: the lines before it are redone. */
    struct ingest_obs obs[] = {make_obs("known", T0 + 1), make_obs("fresh", T0 + 2),
                               make_obs("known", T0 + 3)};
    const struct ingest_obs *ptrs[] = {&obs[0], &obs[1], &obs[2]};
    struct ingest_result results[3];
    struct ingest_stats_delta d = {0};
    char *err = NULL;
    int rc = ingest_store_commit(store, ptrs, 3, results, &d, &err);
    if (rc != 0)
        fail_msg("the group failed: %s", err);
    assert_int_equal(results[0].outcome, INGEST_STORED);
    assert_int_equal(results[1].outcome, INGEST_FAILED);
    assert_non_null(strstr(results[1].error, "full"));
    assert_int_equal(results[2].outcome, INGEST_STORED);
    assert_int_equal(query_int(f->db, "SELECT count(*) FROM observations"), 2);
    assert_int_equal(query_int(f->db, "SELECT count(*) FROM transmissions"), 1);
    assert_int_equal(query_int(f->db, "SELECT last_seen FROM transmissions WHERE hash = 'known'"),
                     T0 + 3);
    assert_int_equal(query_int(f->db, "SELECT lines_accepted FROM _ingest_stats"), 2);
    assert_int_equal(query_int(f->db, "SELECT lines_rejected FROM _ingest_stats"), 1);
    for (int i = 0; i < 3; i++) {
        free(results[i].error);
        ingest_obs_clear(&obs[i]);
    }
    ingest_store_close(store);
}

/*
 * An observation identical to a stored one (same transmission, observer,
 * timestamp and path; an absent observer or path equals an absent one) is a
 * duplicate: not stored again, counted apart. Any other difference in those
 * four makes it new; snr and rssi are not part of the identity.
 */
static void store_answers_a_repeated_observation_as_a_duplicate(void **state)
{
    struct fixture *f = *state;
    static const struct {
        const char *hash, *observer, *path;
        int64_t ts;
        double snr;
        enum ingest_outcome want;
    } lines[] = {
        {"d", "o1", "[\"a3\"]", T0, 1, INGEST_STORED},
        {"d", "o1", "[\"a3\"]", T0, 1, INGEST_DUPLICATE},  /* same group */
        {"d", "o1", "[\"a3\"]", T0, -9, INGEST_DUPLICATE}, /* snr is not identity */
        {"d", "o2", "[\"a3\"]", T0, 1, INGEST_STORED},
        {"d", "o1", "[\"a3\"]", T0 + 1, 1, INGEST_STORED},
        {"d", "o1", "[]", T0, 1, INGEST_STORED},
        {"d", "o1", NULL, T0, 1, INGEST_STORED},
        {"d", NULL, NULL, T0, 1, INGEST_STORED},
        {"d", NULL, NULL, T0, 1, INGEST_DUPLICATE},
        {"e", "o1", "[\"a3\"]", T0, 1, INGEST_STORED}, /* another transmission */
    };
    enum { N = sizeof lines / sizeof lines[0] };
    struct ingest_obs obs[N];
    const struct ingest_obs *ptrs[N];
    for (size_t i = 0; i < N; i++) {
        obs[i] = make_obs(lines[i].hash, lines[i].ts);
        obs[i].observer = lines[i].observer ? xstrdup(lines[i].observer) : NULL;
        obs[i].path_json = lines[i].path ? xstrdup(lines[i].path) : NULL;
        obs[i].has_snr = 1;
        obs[i].snr = lines[i].snr;
        ptrs[i] = &obs[i];
    }
    struct ingest_store *store = open_store(f, 1000);
    struct ingest_result results[N];
    struct ingest_stats_delta d = {0};
    char *err = NULL;
    /* All in one group, then all again in a second, which is all duplicates. */
    assert_int_equal(ingest_store_commit(store, ptrs, N, results, &d, &err), 0);
    for (size_t i = 0; i < N; i++) {
        if (results[i].outcome != lines[i].want)
            fail_msg("line %zu: outcome %d, want %d", i, (int)results[i].outcome,
                     (int)lines[i].want);
    }
    assert_int_equal(ingest_store_commit(store, ptrs, N, results, &d, &err), 0);
    for (size_t i = 0; i < N; i++) {
        assert_int_equal(results[i].outcome, INGEST_DUPLICATE);
        ingest_obs_clear(&obs[i]);
    }
    ingest_store_close(store);
    assert_int_equal(query_int(f->db, "SELECT count(*) FROM observations"), 7);
    assert_int_equal(query_int(f->db, "SELECT lines_accepted FROM _ingest_stats"), 7);
    assert_int_equal(query_int(f->db, "SELECT lines_duplicate FROM _ingest_stats"), 3 + N);
    assert_int_equal(query_int(f->db, "SELECT lines_acked FROM _ingest_stats"), 2 * N);
    assert_int_equal(query_int(f->db, "SELECT commits FROM _ingest_stats"), 2);
    assert_int_equal(query_int(f->db, "SELECT commit_rows_max FROM _ingest_stats"), N);
}

/* On a new database the duplicate check is one index seek, not a walk of the transmission. */
static void store_duplicate_check_seeks_an_index(void **state)
{
    struct fixture *f = *state;
    char *plan = query_plan(f->db, "SELECT 1 FROM observations WHERE transmission_id = 1 AND"
                                   " timestamp = 2 AND observer IS 'o' AND path_json IS NULL"
                                   " LIMIT 1");
    if (strstr(plan, "(transmission_id=? AND timestamp=?)") == NULL)
        fail_msg("plan: %s", plan);
    free(plan);
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
    struct ingest_stats_delta d2 = {.accepted = 3, .duplicates = 4, .rejected = 1, .acked = 7,
                                    .commits = 2, .commit_rows_max = 2};
    assert_int_equal(ingest_store_write_stats(store, &d2, &err), 0);
    ingest_store_close(store);
    assert_int_equal(query_int(f->db, "SELECT lines_accepted FROM _ingest_stats"), 8);
    assert_int_equal(query_int(f->db, "SELECT lines_rejected FROM _ingest_stats"), 3);
    assert_int_equal(query_int(f->db, "SELECT lines_duplicate FROM _ingest_stats"), 4);
    assert_int_equal(query_int(f->db, "SELECT lines_acked FROM _ingest_stats"), 12);
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
 * then run the one-statement reference backfill (docs/database.md): every row ends
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
            obs[k].observer = xasprintf("r%d-%d", round, k); /* never a duplicate */
            ptrs[k] = &obs[k];
        }
        struct ingest_result results[7];
        struct ingest_stats_delta d = {0};
        assert_int_equal(ingest_store_commit(store, ptrs, 7, results, &d, &err), 0);
        for (int k = 0; k < 7; k++) {
            assert_int_equal(results[k].outcome, INGEST_STORED);
            ingest_obs_clear(&obs[k]);
        }
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

/*
 * A legacy index on observations(transmission_id) spares building one at
 * startup only if lookups by transmission can use it: a full index whose
 * leading column is transmission_id, in BINARY collation. A partial one, a
 * NOCASE one or one led by another column must not count, or ingest's MAX
 * for unreached rows and the backfill scan the whole table per row.
 */
static void upgrade_counts_only_a_usable_legacy_index(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        const char *ddl;
        int builds; /* the upgrade must add its own index */
    } cases[] = {
        {"partial", "CREATE INDEX legacy_obs_tx ON observations(transmission_id)"
                    " WHERE snr IS NOT NULL", 1},
        {"NOCASE", "CREATE INDEX legacy_obs_tx ON observations(transmission_id COLLATE NOCASE)",
         1},
        {"led by another column",
         "CREATE INDEX legacy_obs_tx ON observations(timestamp, transmission_id)", 1},
        {"full", "CREATE INDEX legacy_obs_tx ON observations(transmission_id)", 0},
        {"full, descending, wider",
         "CREATE INDEX legacy_obs_tx ON observations(transmission_id DESC, observer)", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sqlite3 *db = NULL;
        assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
        exec_ok(db, "CREATE TABLE transmissions(id INTEGER PRIMARY KEY AUTOINCREMENT, hash TEXT"
                    " NOT NULL UNIQUE, raw_hex TEXT NOT NULL, payload_type INTEGER,"
                    " first_seen INTEGER NOT NULL);"
                    "CREATE TABLE observations(id INTEGER PRIMARY KEY AUTOINCREMENT,"
                    " transmission_id INTEGER NOT NULL REFERENCES transmissions(id),"
                    " observer TEXT, snr REAL, rssi REAL, path_json TEXT,"
                    " timestamp INTEGER NOT NULL);");
        exec_ok(db, cases[i].ddl);
        char *err = NULL;
        if (schema_upgrade(db, &err) != 0)
            fail_msg("%s: %s", cases[i].name, err);
        int64_t indexes = query_int(db, "SELECT count(*) FROM pragma_index_list('observations')"
                                     " WHERE name <> 'idx_observations_timestamp'");
        char *plan = query_plan(db, "SELECT MAX(timestamp) FROM observations"
                                    " WHERE transmission_id = 1");
        if (indexes != 1 + cases[i].builds || strstr(plan, "INDEX") == NULL ||
            strstr(plan, "(transmission_id=?") == NULL)
            fail_msg("%s: %lld indexes (want %d), plan '%s'", cases[i].name,
                     (long long)indexes, 1 + cases[i].builds, plan);
        free(plan);
        sqlite3_close(db);
    }
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
        cmocka_unit_test_setup_teardown(store_a_constraint_fails_only_its_line, setup, teardown),
        cmocka_unit_test_setup_teardown(store_commit_failure_writes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(store_a_failing_line_fails_alone, setup, teardown),
        cmocka_unit_test_setup_teardown(store_answers_a_repeated_observation_as_a_duplicate,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(store_duplicate_check_seeks_an_index, setup, teardown),
        cmocka_unit_test_setup_teardown(store_accumulates_figures_across_commits, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(store_waits_for_another_writers_short_transaction, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(ingest_then_reference_backfill_settles_every_row, setup,
                                        teardown),
        cmocka_unit_test(upgrade_counts_only_a_usable_legacy_index),
        cmocka_unit_test(latency_percentiles_table),
    };
    return cmocka_run_group_tests_name("ingest_store", tests, NULL, NULL);
}
