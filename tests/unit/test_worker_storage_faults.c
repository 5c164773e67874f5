/* test_worker_storage_faults.c: the backfill and ingest's group commit under injected SQLITE_FULL and SQLITE_IOERR (docs/database.md, docs/ingest.md). */
#include <setjmp.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "faultvfs.h"
#include "ingest.h"
#include "log.h"
#include "schema.h"
#include "migration_rows.h"
#include "migration_tx_last_seen_backfill.h"
#include "progress.h"
#include "runner.h"
#include "util.h"
#include "worker_testlib.h"

#define ALL_OPS (FAULTVFS_WRITE | FAULTVFS_SYNC | FAULTVFS_TRUNCATE)
#define T0 INT64_C(1760000000)

/*
 * One pristine database image, restored before every faulted run so that
 * each N meets the same sequence of file operations. `uri` opens the working
 * copy through the shim; `work` is the same file for the plain unix VFS.
 */
struct fixture {
    struct test_db *t;
    char work[400];
    char uri[480];
    char *reference; /* the pristine database after the one-statement reference UPDATE */
    unsigned char *image;
    size_t image_len;
};

static const struct migration backfill_registry[] = {
    {.name = TX_LAST_SEEN_BACKFILL_NAME, .run = tx_last_seen_backfill_run},
};

static char *query_text(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    char *value = NULL;
    if (sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_type(stmt, 0) != SQLITE_NULL)
        value = xstrdup((const char *)sqlite3_column_text(stmt, 0));
    sqlite3_finalize(stmt);
    return value;
}

static unsigned char *read_file(const char *path, size_t *len)
{
    FILE *in = fopen(path, "rb");
    if (in == NULL)
        fail_msg("open %s", path);
    fseek(in, 0, SEEK_END);
    long size = ftell(in);
    fseek(in, 0, SEEK_SET);
    unsigned char *bytes = xmalloc((size_t)size);
    assert_int_equal(fread(bytes, 1, (size_t)size, in), (size_t)size);
    fclose(in);
    *len = (size_t)size;
    return bytes;
}

/* The working copy back to the pristine image, with no WAL or WAL index left over. */
static void restore(struct fixture *f)
{
    static const char *const suffixes[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        char *path = xasprintf("%s%s", f->work, suffixes[i]);
        unlink(path);
        free(path);
    }
    FILE *out = fopen(f->work, "wb");
    if (out == NULL)
        fail_msg("create %s", f->work);
    assert_int_equal(fwrite(f->image, 1, f->image_len, out), f->image_len);
    assert_int_equal(fclose(out), 0);
}

/*
 * 300 transmissions with three observations each and 10 orphans; ids 1..10
 * already hold their maximum (as if a backfill or ingest had filled them),
 * the rest wait at last_seen = 0. The backfill is registered, pending.
 */
static int setup(void **state)
{
    assert_int_equal(faultvfs_register(), SQLITE_OK);
    struct fixture *f = xcalloc(1, sizeof *f);
    void *tstate = NULL;
    test_db_setup(&tstate);
    f->t = tstate;
    sqlite3 *db = f->t->db;
    test_seed(db, 1, 300, 3);
    test_seed(db, 301, 10, 0);
    test_exec(db, "UPDATE transmissions SET last_seen = (SELECT MAX(timestamp) FROM observations"
                  " WHERE transmission_id = transmissions.id) WHERE id <= 10");
    char *err = NULL;
    if (migration_rows_register(db, backfill_registry, 1, &err) != 0)
        fail_msg("register: %s", err);
    /* A start time in the past, so the re-run's reset always rewrites the row: SQLite
     * skips writing a row that an UPDATE leaves byte for byte the same, and would make
     * the count of file operations depend on whether a second had passed. */
    test_exec(db, "UPDATE _async_migrations SET started_at = '2000-01-01 00:00:00'");
    f->reference = test_reference_copy(f->t, "reference.db");
    test_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)");
    sqlite3_close(db);
    f->t->db = NULL;
    f->image = read_file(f->t->path, &f->image_len);
    snprintf(f->work, sizeof f->work, "%s/work.db", f->t->dir);
    snprintf(f->uri, sizeof f->uri, "file:%s?vfs=" FAULTVFS_NAME, f->work);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    void *tstate = f->t;
    test_db_teardown(&tstate);
    free(f->reference);
    free(f->image);
    free(f);
    return 0;
}

static const char *expected_text(int code)
{
    /* sqlite3_errstr() of the primary code, which sqlite3_errmsg() reports. */
    return code == SQLITE_FULL ? "database or disk is full" : "disk I/O error";
}

static const char *op_name(int op)
{
    return op == FAULTVFS_WRITE ? "write" : op == FAULTVFS_SYNC ? "sync"
                                       : op == FAULTVFS_TRUNCATE ? "truncate" : "none";
}

/* The shim itself: the nth write fails with the code asked for, once or from then on. */
static void shim_fails_the_nth_write_once_or_persistently(void **state)
{
    struct fixture *f = *state;
    static const struct {
        int code, persistent;
        int want_second; /* what the next statement gets */
    } cases[] = {
        {SQLITE_FULL, 0, SQLITE_OK},
        {SQLITE_FULL, 1, SQLITE_FULL},
        {SQLITE_IOERR, 0, SQLITE_OK},
        {SQLITE_IOERR, 1, SQLITE_IOERR},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        restore(f);
        sqlite3 *db = NULL;
        assert_int_equal(sqlite3_open_v2(f->uri, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_URI,
                                         NULL),
                         SQLITE_OK);
        struct faultvfs_plan plan = {FAULTVFS_WRITE, 1, cases[i].code, cases[i].persistent};
        faultvfs_arm(&plan);
        int rc = sqlite3_exec(db, "UPDATE transmissions SET raw_hex = 'aa' WHERE id = 1", NULL,
                              NULL, NULL);
        assert_int_equal(rc, cases[i].code);
        assert_string_equal(sqlite3_errmsg(db), expected_text(cases[i].code));
        rc = sqlite3_exec(db, "UPDATE transmissions SET raw_hex = 'bb' WHERE id = 2", NULL, NULL,
                          NULL);
        assert_int_equal(rc, cases[i].want_second);
        assert_int_equal(faultvfs_first_op(), FAULTVFS_WRITE);
        assert_true(faultvfs_injected() >= 1);
        faultvfs_disarm();
        sqlite3_close(db);
        db = test_connect(f->work, 1000);
        char *ok = query_text(db, "PRAGMA integrity_check");
        assert_string_equal(ok, "ok");
        free(ok);
        assert_int_equal(test_query_int(db, "SELECT count(*) FROM transmissions WHERE id = 1"
                                            " AND raw_hex = 'aa'"),
                         0);
        sqlite3_close(db);
    }
}

/* A fake clock a little over a second apart per reading, so every progress report is written. */
static int64_t stepping_clock(void *arg)
{
    int64_t *now = arg;
    *now += PROGRESS_WRITE_INTERVAL_MS + 100;
    return *now;
}

/* One worker start's worth of migrations on `path` (a URI selects the shim). */
static void run_backfill(const char *path, struct runner_summary *summary)
{
    sqlite3 *db = NULL;
    char *err = NULL;
    if (runner_open_connection(path, &db, &err) != 0)
        fail_msg("open %s: %s", path, err);
    int64_t now = 0;
    struct runner_options options;
    runner_options_default(&options);
    options.registry = backfill_registry;
    options.registry_len = 1;
    options.params.adaptive = 0;
    options.params.batch_size = 25;
    options.params.yield_ms = 0;
    options.clock = stepping_clock;
    options.clock_arg = &now;
    memset(summary, 0, sizeof *summary);
    /* -1 means the bookkeeping could not be read; the summary still counts it as a failure. */
    if (runner_run_pending(db, &options, summary, &err) != 0) {
        summary->failed++;
        free(err);
    }
    /* Closing may checkpoint; under a fault that fails too, and the WAL keeps the commits.
     * SQLITE_BUSY here would mean a statement left unfinalized on some path. */
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

/*
 * The working copy through the plain unix VFS, as the next process would open
 * it. synchronous=OFF only spares the checkpoint at close its fsyncs, which
 * would otherwise dominate the sweep; what is read is unaffected.
 */
static sqlite3 *open_plain(const struct fixture *f)
{
    sqlite3 *db = test_connect(f->work, 1000);
    test_exec(db, "PRAGMA synchronous = OFF");
    return db;
}

static void assert_integrity_ok(sqlite3 *db, const char *what, int64_t n)
{
    char *ok = query_text(db, "PRAGMA integrity_check");
    if (ok == NULL || strcmp(ok, "ok") != 0)
        fail_msg("%s, fault at %" PRId64 ": integrity_check says %s", what, n, ok ? ok : "nothing");
    free(ok);
}

struct sweep_figures {
    int64_t runs;
    int64_t done, failed, pending;
    int64_t unreported_commits; /* failed by the API, yet on disk after recovery */
    int64_t by_op[5];
};

/*
 * Runs the backfill with the nth operation failing, for every n a clean run
 * performs. Each time: whatever the outcome, integrity_check passes after
 * reopening without the shim; `done` means the reference result already;
 * `failed` carries the error text and never claims more rows than are on
 * disk; `pending_async` is allowed only when the fault persists, because then
 * recording the failure fails too (a full disk stays full), and the next
 * start re-runs it. Then a run without the fault completes with the
 * reference result.
 */
static void sweep_backfill(struct fixture *f, int code, int persistent,
                           struct sweep_figures *fig)
{
    struct faultvfs_plan plan = {ALL_OPS, 0, code, persistent};
    struct runner_summary summary;
    restore(f);
    faultvfs_arm(&plan);
    run_backfill(f->uri, &summary);
    int64_t ops = faultvfs_count();
    faultvfs_disarm();
    assert_int_equal(summary.done, 1);
    assert_true(ops > 20);

    for (int64_t n = 1; n <= ops; n++) {
        restore(f);
        plan.nth = n;
        faultvfs_arm(&plan);
        run_backfill(f->uri, &summary);
        int64_t injected = faultvfs_injected();
        int op = faultvfs_first_op();
        faultvfs_disarm();
        assert_true(injected >= 1);
        fig->runs++;
        fig->by_op[op]++;

        sqlite3 *db = open_plain(f);
        assert_integrity_ok(db, "after the fault", n);
        char *status = query_text(db, "SELECT status FROM _async_migrations");
        char *error = query_text(db, "SELECT error FROM _async_migrations");
        int64_t reported = test_query_int(db, "SELECT rows_processed FROM _async_migrations");
        int64_t filled = test_query_int(db, "SELECT count(*) FROM transmissions"
                                            " WHERE last_seen != 0 AND id > 10");
        assert_non_null(status);
        if (strcmp(status, MIGRATION_STATUS_DONE) == 0) {
            /* The fault was absorbed: an advisory progress write, or the checkpoint at close. */
            if (test_diff_from_reference(db, f->reference) != 0)
                fail_msg("fault at %" PRId64 " (%s): done but not the reference result", n,
                         op_name(op));
            fig->done++;
            if (summary.failed > 0)
                fig->unreported_commits++;
        } else if (strcmp(status, MIGRATION_STATUS_FAILED) == 0) {
            if (error == NULL || strstr(error, expected_text(code)) == NULL)
                fail_msg("fault at %" PRId64 " (%s): failed with error '%s'", n, op_name(op),
                         error ? error : "(null)");
            assert_int_equal(summary.failed, 1);
            fig->failed++;
        } else if (strcmp(status, MIGRATION_STATUS_PENDING) == 0) {
            if (!persistent)
                fail_msg("fault at %" PRId64 " (%s): a one-off fault left pending_async", n,
                         op_name(op));
            assert_int_equal(summary.failed, 1);
            fig->pending++;
        } else {
            fail_msg("fault at %" PRId64 ": status '%s'", n, status);
        }
        /* Progress never over-reports, whatever failed. */
        if (reported > filled)
            fail_msg("fault at %" PRId64 " (%s): %" PRId64 " rows reported, %" PRId64 " on disk",
                     n, op_name(op), reported, filled);
        free(status);
        free(error);
        sqlite3_close(db);

        /* The fault cleared: the next start finishes with the reference result. */
        run_backfill(f->uri, &summary);
        assert_int_equal(summary.failed, 0);
        db = open_plain(f);
        assert_integrity_ok(db, "after the re-run", n);
        char *final_status = query_text(db, "SELECT status FROM _async_migrations");
        assert_string_equal(final_status, MIGRATION_STATUS_DONE);
        free(final_status);
        assert_int_equal(test_diff_from_reference(db, f->reference), 0);
        sqlite3_close(db);
    }
}

static void report(const char *what, const struct sweep_figures *fig)
{
    print_message("%s: %" PRId64 " faults injected (first failed op: %" PRId64 " writes, %" PRId64
                  " syncs, %" PRId64 " truncates): %" PRId64 " ended failed, %" PRId64
                  " left pending_async, %" PRId64 " absorbed and done (%" PRId64
                  " of them reported failed, then recovered as committed)\n",
                  what, fig->runs, fig->by_op[FAULTVFS_WRITE], fig->by_op[FAULTVFS_SYNC],
                  fig->by_op[FAULTVFS_TRUNCATE], fig->failed, fig->pending, fig->done,
                  fig->unreported_commits);
}

static void backfill_survives_a_transient_fault_at_every_write_and_sync(void **state)
{
    struct fixture *f = *state;
    static const int codes[] = {SQLITE_FULL, SQLITE_IOERR};
    for (size_t i = 0; i < 2; i++) {
        struct sweep_figures fig = {0};
        sweep_backfill(f, codes[i], 0, &fig);
        report(codes[i] == SQLITE_FULL ? "backfill, one SQLITE_FULL" : "backfill, one SQLITE_IOERR",
               &fig);
        /* A one-off fault is recorded as a failure, never left unexplained. */
        assert_true(fig.failed > 0);
        assert_int_equal(fig.pending, 0);
    }
}

static void backfill_survives_a_persistent_fault_from_every_write_and_sync(void **state)
{
    struct fixture *f = *state;
    static const int codes[] = {SQLITE_FULL, SQLITE_IOERR};
    for (size_t i = 0; i < 2; i++) {
        struct sweep_figures fig = {0};
        sweep_backfill(f, codes[i], 1, &fig);
        report(codes[i] == SQLITE_FULL ? "backfill, disk full from then on"
                                       : "backfill, SQLITE_IOERR from then on",
               &fig);
        assert_true(fig.pending > 0);
    }
}

/*
 * One ingest group commit: late (older) and newer observations of rows the
 * backfill filled already, of rows it has not reached (last_seen = 0, with
 * older observations), and of new hashes.
 */
#define INGEST_BATCH 40
static void ingest_batch(struct ingest_obs *obs, const struct ingest_obs **ptrs)
{
    for (int i = 0; i < INGEST_BATCH; i++) {
        char hash[32];
        int64_t ts;
        if (i < 10) { /* filled rows 1..10, half late */
            snprintf(hash, sizeof hash, "h%d", 1 + i);
            ts = i % 2 ? 1000 : T0 + i;
        } else if (i < 30) { /* rows not reached, older than what they hold, then newer */
            snprintf(hash, sizeof hash, "h%d", 100 + i);
            ts = i < 20 ? 1001 : T0 + i;
        } else { /* new transmissions, two observations each, the second older */
            snprintf(hash, sizeof hash, "new%d", (i - 30) / 2);
            ts = T0 + 100 - i;
        }
        obs[i] = (struct ingest_obs){.hash = xstrdup(hash), .raw_hex = xstrdup("0a0b"),
                                     .timestamp = ts};
        ptrs[i] = &obs[i];
    }
}

/* Rows ingest has written hold exactly MAX(observations.timestamp). */
static int64_t rows_off_their_max(sqlite3 *db)
{
    return test_query_int(db, "SELECT count(*) FROM transmissions t WHERE last_seen != 0 AND"
                              " last_seen IS NOT (SELECT MAX(timestamp) FROM observations"
                              " WHERE transmission_id = t.id)");
}

/*
 * ingest_store_commit with the nth operation failing, for every n of a clean
 * commit. A commit that returned 0 (its lines would be acknowledged) is on
 * disk; one that failed left all or nothing; the database passes
 * integrity_check; and the same connection commits the batch once the fault
 * is cleared, as the server does with its next batch.
 */
static void ingest_commit_is_all_or_nothing_under_every_fault(void **state)
{
    struct fixture *f = *state;
    static const struct {
        int code, persistent;
    } configs[] = {{SQLITE_FULL, 0}, {SQLITE_FULL, 1}, {SQLITE_IOERR, 0}, {SQLITE_IOERR, 1}};
    struct ingest_obs obs[INGEST_BATCH];
    const struct ingest_obs *ptrs[INGEST_BATCH];
    ingest_batch(obs, ptrs);
    struct ingest_result results[INGEST_BATCH];
    struct ingest_stats_delta delta = {0};
    int64_t base = 300 * 3;

    for (size_t c = 0; c < sizeof configs / sizeof configs[0]; c++) {
        struct faultvfs_plan plan = {ALL_OPS, 0, configs[c].code, configs[c].persistent};
        struct ingest_store *store = NULL;
        char *err = NULL;
        restore(f);
        faultvfs_arm(&plan);
        if (ingest_store_open(f->uri, 1000, 1, &store, &err) != 0)
            fail_msg("open: %s", err);
        assert_int_equal(
            ingest_store_commit(store, ptrs, INGEST_BATCH, results, &delta, &err), 0);
        ingest_store_close(store);
        int64_t ops = faultvfs_count();
        faultvfs_disarm();
        assert_true(ops > 3);

        struct sweep_figures fig = {0};
        for (int64_t n = 1; n <= ops; n++) {
            restore(f);
            plan.nth = n;
            faultvfs_arm(&plan);
            if (ingest_store_open(f->uri, 1000, 1, &store, &err) != 0)
                fail_msg("open: %s", err);
            int rc = ingest_store_commit(store, ptrs, INGEST_BATCH, results, &delta, &err);
            int op = faultvfs_first_op();
            fig.runs++;
            fig.by_op[op]++;
            if (rc != 0) {
                if (strstr(err, expected_text(configs[c].code)) == NULL)
                    fail_msg("fault at %" PRId64 " (%s): error '%s'", n, op_name(op), err);
                free(err);
                err = NULL;
                fig.failed++;
                /* Cleared: the server's next batch on the same connection. */
                faultvfs_disarm();
                if (ingest_store_commit(store, ptrs, INGEST_BATCH, results, &delta, &err) != 0)
                    fail_msg("fault at %" PRId64 " (%s): retry failed: %s", n, op_name(op),
                             err);
            } else {
                fig.done++;
            }
            ingest_store_close(store);
            faultvfs_disarm();

            sqlite3 *db = open_plain(f);
            assert_integrity_ok(db, "ingest", n);
            int64_t rows = test_query_int(db, "SELECT count(*) FROM observations");
            /* Once acknowledged, or committed by the retry; twice only when the failed
             * commit reached the disk after all (an fsync that failed after the write). */
            if (rows == base + 2 * INGEST_BATCH && rc != 0)
                fig.unreported_commits++;
            else if (rows != base + INGEST_BATCH)
                fail_msg("fault at %" PRId64 " (%s): %" PRId64 " observations, want %" PRId64, n,
                         op_name(op), rows, base + INGEST_BATCH);
            assert_int_equal(rows_off_their_max(db), 0);
            assert_int_equal(test_query_int(db, "SELECT count(*) FROM transmissions"), 310 + 5);
            sqlite3_close(db);
        }
        char what[64];
        snprintf(what, sizeof what, "ingest commit, %s%s",
                 configs[c].code == SQLITE_FULL ? "SQLITE_FULL" : "SQLITE_IOERR",
                 configs[c].persistent ? " from then on" : " once");
        report(what, &fig);
        assert_true(fig.failed > 0);
    }
    for (int i = 0; i < INGEST_BATCH; i++)
        ingest_obs_clear(&obs[i]);
}

int main(void)
{
    log_init("worker", LOG_LEVEL_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(shim_fails_the_nth_write_once_or_persistently, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(backfill_survives_a_transient_fault_at_every_write_and_sync,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            backfill_survives_a_persistent_fault_from_every_write_and_sync, setup, teardown),
        cmocka_unit_test_setup_teardown(ingest_commit_is_all_or_nothing_under_every_fault, setup,
                                        teardown),
    };
    return cmocka_run_group_tests_name("storage_faults", tests, NULL, NULL);
}
