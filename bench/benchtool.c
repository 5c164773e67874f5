/* benchtool.c: the benchmark's C helpers: the one-statement reference backfill and retention, a peak-RSS exec wrapper, and a writer-lock probe. */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <sqlite3.h>

#include "db.h"
#include "schema.h"
#include "util.h"

/* The worker's connection settings (worker/main.c), so the reference pays the same costs. */
#define BENCH_BUSY_TIMEOUT_MS 5000

/*
 * The one-statement backfill that the chunked one must equal in result and
 * not trail by much in time (docs/benchmark.md, docs/database.md).
 */
static const char benchtool_reference_sql[] =
    "UPDATE transmissions SET last_seen = COALESCE((SELECT MAX(timestamp) FROM observations"
    " WHERE transmission_id = transmissions.id), last_seen) WHERE last_seen = 0";

/* Sub-millisecond: lock waits are fractions of a millisecond, which clock_monotonic_ms() rounds away. */
static double now_ms(void)
{
    return (double)clock_monotonic_us() / 1e3;
}

/* A duration in milliseconds, serialized with three decimals as bench/lib expects. */
static struct json_object *json_ms(double ms)
{
    char text[64];
    snprintf(text, sizeof text, "%.3f", ms);
    return json_object_new_double_s(ms, text);
}

/* Writes obj as one line of plain JSON and frees it. */
static int json_put_line(FILE *out, struct json_object *obj)
{
    int rc = fprintf(out, "%s\n",
                     json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN |
                                                             JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(obj);
    return rc < 0 ? -1 : 0;
}

static int open_like_worker(const char *path, sqlite3 **out, char **errp)
{
    sqlite3 *db = NULL;
    if (db_open(path, DB_READ_WRITE, DB_SHARED, BENCH_BUSY_TIMEOUT_MS, &db, errp) != 0)
        return -1;
    if (db_exec(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL", path, errp) != 0)
        goto err;
    *out = db;
    return 0;
err:
    sqlite3_close(db);
    return -1;
}

/*
 * Runs the worker's own startup upgrade (ADD COLUMN last_seen and the indexes),
 * untimed for the comparison, then times the reference UPDATE alone. The
 * autocommit step includes the commit and the automatic checkpoint it triggers,
 * exactly as each of the worker's batches does.
 */
static int benchtool_reference(const char *path, char **errp)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = NULL;
    if (open_like_worker(path, &db, errp) != 0)
        return -1;
    double t0 = now_ms();
    if (schema_upgrade(db, errp) != 0)
        goto err;
    double t1 = now_ms();
    if (sqlite3_prepare_v2(db, benchtool_reference_sql, -1, &stmt, NULL) != SQLITE_OK) {
        set_error(errp, "preparing the reference update: %s", sqlite3_errmsg(db));
        goto err;
    }
    double t2 = now_ms();
    if (sqlite3_step(stmt) != SQLITE_DONE) {
        set_error(errp, "reference update: %s", sqlite3_errmsg(db));
        goto err;
    }
    double t3 = now_ms();
    sqlite3_int64 rows = sqlite3_changes64(db);
    sqlite3_finalize(stmt);
    if (sqlite3_close(db) != SQLITE_OK)
        return set_error(errp, "closing %s failed", path);
    struct json_object *obj = json_object_new_object();
    json_object_object_add(obj, "upgrade_ms", json_ms(t1 - t0));
    json_object_object_add(obj, "update_ms", json_ms(t3 - t2));
    json_object_object_add(obj, "rows", json_object_new_int64(rows));
    json_object_object_add(obj, "sqlite", json_object_new_string(sqlite3_libversion()));
    return json_put_line(stdout, obj);
err:
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return -1;
}

/*
 * The one-transaction retention that the worker's batched one must equal row
 * for row (docs/benchmark.md): old observations, then the old transmissions
 * left without any. ?1 is the cutoff, in unix seconds.
 */
static const char *const benchtool_retention_sql[] = {
    "DELETE FROM observations WHERE timestamp < ?1",
    "DELETE FROM transmissions WHERE first_seen < ?1"
    " AND NOT EXISTS (SELECT 1 FROM observations o WHERE o.transmission_id = transmissions.id)",
};

static int step_bound(sqlite3 *db, const char *sql, int64_t cutoff, sqlite3_int64 *changes,
                      char **errp)
{
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK) {
        set_error(errp, "preparing %s: %s", sql, sqlite3_errmsg(db));
        sqlite3_finalize(stmt);
        return -1;
    }
    sqlite3_bind_int64(stmt, 1, cutoff);
    int rc = sqlite3_step(stmt);
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE)
        return set_error(errp, "%s: %s", sql, sqlite3_errmsg(db));
    *changes = sqlite3_changes64(db);
    return 0;
}

/*
 * Times both DELETEs in one write transaction, from BEGIN IMMEDIATE holding
 * the lock to COMMIT returning: the reference's work time and its writer
 * hold at once (the commit and the checkpoint it triggers included, as in
 * each of the worker's batches).
 */
static int benchtool_retention_reference(const char *path, int64_t cutoff, char **errp)
{
    sqlite3 *db = NULL;
    sqlite3_int64 deleted[2] = {0, 0};
    if (open_like_worker(path, &db, errp) != 0)
        return -1;
    if (db_exec(db, "BEGIN IMMEDIATE", path, errp) != 0)
        goto err;
    double t0 = now_ms();
    for (size_t i = 0; i < 2; i++) {
        if (step_bound(db, benchtool_retention_sql[i], cutoff, &deleted[i], errp) != 0)
            goto err;
    }
    if (db_exec(db, "COMMIT", path, errp) != 0)
        goto err;
    double t1 = now_ms();
    if (sqlite3_close(db) != SQLITE_OK)
        return set_error(errp, "closing %s failed", path);
    struct json_object *obj = json_object_new_object();
    json_object_object_add(obj, "hold_ms", json_ms(t1 - t0));
    json_object_object_add(obj, "cutoff", json_object_new_int64(cutoff));
    json_object_object_add(obj, "observations", json_object_new_int64(deleted[0]));
    json_object_object_add(obj, "transmissions", json_object_new_int64(deleted[1]));
    return json_put_line(stdout, obj);
err:
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(db);
    return -1;
}

/*
 * Runs a command and reports its wall time and peak resident set. ru_maxrss of
 * the reaped child is the kernel's VmHWM at exit, which /proc can no longer
 * show once the process is gone.
 */
static int benchtool_exec(const char *out_path, char **argv, char **errp)
{
    double t0 = now_ms();
    pid_t pid = fork();
    if (pid < 0)
        return set_error(errp, "fork: %s", strerror(errno));
    if (pid == 0) {
        execvp(argv[0], argv);
        fprintf(stderr, "benchtool: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    int status = 0;
    struct rusage ru;
    while (wait4(pid, &status, 0, &ru) < 0) {
        if (errno != EINTR)
            return set_error(errp, "wait4: %s", strerror(errno));
    }
    double wall = now_ms() - t0;
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    FILE *out = fopen(out_path, "w");
    if (out == NULL)
        return set_error(errp, "cannot write %s: %s", out_path, strerror(errno));
    struct json_object *obj = json_object_new_object();
    json_object_object_add(obj, "exit", json_object_new_int(code));
    json_object_object_add(obj, "wall_ms", json_ms(wall));
    json_object_object_add(obj, "maxrss_kb", json_object_new_int64(ru.ru_maxrss));
    int written = json_put_line(out, obj);
    if (fclose(out) != 0 || written != 0)
        return set_error(errp, "writing %s: %s", out_path, strerror(errno));
    return 0;
}

static volatile sig_atomic_t probe_stop;

static void on_probe_signal(int signo)
{
    (void)signo;
    probe_stop = 1;
}

/* Retries every 0.2 ms so the measured wait is the lock holder's time, not SQLite's back-off. */
static int probe_busy_handler(void *arg, int count)
{
    (void)arg;
    (void)count;
    struct timespec pause = {0, 200000};
    nanosleep(&pause, NULL);
    return !probe_stop;
}

/*
 * Every interval, takes the write lock (BEGIN IMMEDIATE) and releases it at
 * once, recording how long acquiring it took: the longest anyone waits for the
 * writer. An empty transaction writes nothing, so the probe adds no WAL
 * traffic. Prints one JSON object with every wait in milliseconds.
 */
static int benchtool_writer_probe(const char *path, int64_t interval_ms, int64_t duration_ms,
                                  char **errp)
{
    sqlite3 *db = NULL;
    if (db_open(path, DB_READ_WRITE, DB_ONE_THREAD, BENCH_BUSY_TIMEOUT_MS, &db, errp) != 0)
        return -1;
    /* Replaces the busy timeout db_open set, with the fine-grained retry above. */
    sqlite3_busy_handler(db, probe_busy_handler, NULL);
    struct sigaction sa = {0};
    sa.sa_handler = on_probe_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    size_t cap = 1024, n = 0, failures = 0;
    double *waits = xmalloc(cap * sizeof *waits);
    double start = now_ms(), next = start;
    while (!probe_stop && now_ms() - start < (double)duration_ms) {
        double t0 = now_ms();
        int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
        double waited = now_ms() - t0;
        if (rc == SQLITE_OK) {
            sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
            if (n == cap)
                waits = xrealloc(waits, (cap *= 2) * sizeof *waits);
            waits[n++] = waited;
        } else {
            failures++;
        }
        next += (double)interval_ms;
        double sleep_ms = next - now_ms();
        if (sleep_ms > 0) {
            struct timespec ts = {(time_t)(sleep_ms / 1e3),
                                  (long)((sleep_ms - (double)(time_t)(sleep_ms / 1e3) * 1e3) * 1e6)};
            nanosleep(&ts, NULL);
        } else {
            next = now_ms(); /* a long wait: restart the schedule rather than burst */
        }
    }
    struct json_object *obj = json_object_new_object(), *list = json_object_new_array();
    json_object_object_add(obj, "failures", json_object_new_int64((int64_t)failures));
    for (size_t i = 0; i < n; i++)
        json_object_array_add(list, json_ms(waits[i]));
    json_object_object_add(obj, "waits_ms", list);
    free(waits);
    sqlite3_close(db);
    return json_put_line(stdout, obj);
}

static void usage(FILE *out)
{
    fputs("Usage: benchtool reference --db PATH\n"
          "       benchtool retention-reference --db PATH --cutoff UNIX_SECONDS\n"
          "       benchtool exec --out FILE -- COMMAND [ARG...]\n"
          "       benchtool writer-probe --db PATH --interval-ms N --duration-ms N\n",
          out);
}

int main(int argc, char **argv)
{
    char *err = NULL;
    int rc = -1;
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "reference") == 0 && argc == 4 && strcmp(argv[2], "--db") == 0) {
        rc = benchtool_reference(argv[3], &err);
    } else if (strcmp(cmd, "retention-reference") == 0 && argc == 6 &&
               strcmp(argv[2], "--db") == 0 && strcmp(argv[4], "--cutoff") == 0) {
        int64_t cutoff = 0;
        if (parse_int64(argv[5], 1, INT64_MAX, "--cutoff", &cutoff, &err) == 0)
            rc = benchtool_retention_reference(argv[3], cutoff, &err);
    } else if (strcmp(cmd, "exec") == 0 && argc >= 6 && strcmp(argv[2], "--out") == 0 &&
               strcmp(argv[4], "--") == 0) {
        rc = benchtool_exec(argv[3], argv + 5, &err);
    } else if (strcmp(cmd, "writer-probe") == 0 && argc == 8 && strcmp(argv[2], "--db") == 0 &&
               strcmp(argv[4], "--interval-ms") == 0 && strcmp(argv[6], "--duration-ms") == 0) {
        int64_t interval = 0, duration = 0;
        if (parse_int64(argv[5], 1, 60000, "--interval-ms", &interval, &err) == 0 &&
            parse_int64(argv[7], 1, 3600000, "--duration-ms", &duration, &err) == 0)
            rc = benchtool_writer_probe(argv[3], interval, duration, &err);
    } else if (strcmp(cmd, "--help") == 0) {
        usage(stdout);
        return 0;
    } else {
        usage(stderr);
        return 2;
    }
    if (rc != 0) {
        fprintf(stderr, "benchtool %s: %s\n", cmd, err ? err : "failed");
        free(err);
        return 1;
    }
    return 0;
}
