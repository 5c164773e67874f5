/* main.c: meshscope-worker's command line, startup, and the wait for SIGTERM. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "db.h"
#include "config.h"
#include "log.h"
#include "control_client.h"
#include "control_server.h"
#include "job_control.h"
#include "job_retention.h"
#include "job_registry.h"
#include "migration_rows.h"
#include "runner_thread.h"
#include "schema.h"
#include "status.h"
#include "testhook.h"
#include "util.h"
#include "worker.h"
#include "writer_accounting.h"

#define WORKER_BUSY_TIMEOUT_MS 5000

static volatile sig_atomic_t stop_requested;
static pthread_t main_thread;

/* SIGUSR1 only ends the main thread's sigsuspend() or ppoll() so it re-checks its loop condition. */
static void on_wake_signal(int signo)
{
    (void)signo;
}

/*
 * The stop signals stay blocked in every thread and are taken here with
 * sigwait(). A stop then cancels the migration at once, even while the main
 * thread sits in a long SQLite call (an ingest commit waiting for the writer
 * behind a batch): with the cancel left until ingest had drained, a backfill
 * without yields kept taking the writer, ingest's commit waited out its busy
 * timeout, and SIGTERM took over 30 s (tests/integration/worker-stop.test.mjs).
 * SIGUSR1 then wakes the main thread from ppoll() or sigsuspend().
 */
struct stop_watch {
    pthread_t thread;
    sigset_t signals;
    struct runner *runner;
};

static void *stop_watch_main(void *arg)
{
    struct stop_watch *watch = arg;
    int signo = 0;
    if (sigwait(&watch->signals, &signo) != 0)
        return NULL;
    stop_requested = 1;
    log_info("%s received, shutting down", signo == SIGINT ? "SIGINT" : "SIGTERM");
    runner_cancel(watch->runner);
    pthread_kill(main_thread, SIGUSR1);
    return NULL;
}

/* Called from the migration thread when it has nothing left to run. */
static void on_migrations_finished(void *arg)
{
    (void)arg;
    pthread_kill(main_thread, SIGUSR1);
}

static void usage(FILE *out)
{
    fputs("Usage: meshscope-worker --db PATH [options]\n"
          "       meshscope-worker status --db PATH [--json]\n"
          "       meshscope-worker ctl [--socket PATH] [--json] COMMAND... (see ctl --help)\n"
          "\n"
          "The only writer of a meshscope database: upgrades the schema, runs async\n"
          "migrations in short batches, and ingests live observations.\n"
          "\n"
          "Options:\n"
          "  --db PATH             SQLite database (created if missing)\n"
          "  --ingest-socket PATH  unix socket to accept NDJSON observations on\n"
          "  --ingest-socket-mode MODE\n"
          "                        its permissions, octal (default 0660)\n"
          "  --ingest-socket-group NAME\n"
          "                        its group (default: the worker's)\n"
          "  --ingest-batch-rows N lines per group commit, at most (default 256)\n"
          "  --ingest-batch-ms N   wait up to N ms for more lines before a commit\n"
          "                        (default 0: commit at once; lines arriving during a\n"
          "                        commit form the next group)\n"
          "  --ingest-max-clients N\n"
          "                        concurrent ingest connections (default 256)\n"
          "  --ingest-synchronous full|normal\n"
          "                        full (default): each commit is fsynced before its\n"
          "                        lines are acknowledged; normal: acknowledged lines\n"
          "                        survive a crash of the worker, not of the machine\n"
          "  --batch-size N        fixed migration batch size (default: adaptive)\n"
          "  --target-batch-ms N   adaptive batches aim at N/2 ms of writer hold and stop\n"
          "                        at 3N/4 (default 30)\n"
          "  --yield-ms N          pause between migration batches (default 100)\n"
          "  --migration-memory-mib N\n"
          "                        memory a migration may hold for its in-memory pass\n"
          "                        (default 16; the backfill needs 16 bytes a row)\n"
          "  --run-once            upgrade, run pending migrations to the end, exit\n"
          "  --stats-json PATH     when migrations stop, write their batch figures to PATH\n"
          "  --control-socket PATH unix socket for `meshscope-worker ctl` (mode 0600)\n"
          "  --control-socket-group NAME\n"
          "                        make it 0660 and owned by this group\n"
          "  --throttle-wal-mb N   hold jobs back while N MB of WAL are not checkpointed\n"
          "                        (default 64; 0: off)\n"
          "  --throttle-ingest-wait-ms N\n"
          "                        hold jobs back while ingest's wait for the writer is\n"
          "                        over N ms at p99 over 10 s (default 20; 0: off)\n"
          "  --throttle-reader-p99-ms N\n"
          "                        hold jobs back while the responders answer in over\n"
          "                        N ms at p99 over 10 s (default 0: off; needs\n"
          "                        --pool-stats-file)\n"
          "  --pool-stats-file PATH\n"
          "                        the responders' --stats-file, read for that p99\n"
          "  --throttle-flag-file PATH\n"
          "                        hold jobs back while PATH exists\n"
          "  --critical-wal-mb N   pause jobs (until resumed) past N MB of WAL\n"
          "                        (default 1024; 0: off)\n"
          "  --retain-days N       delete observations older than N days, and transmissions\n"
          "                        left without any (default 0: keep everything)\n"
          "  --retain-every-min N  minutes between retention runs (default 60)\n"
          "  --slow-hold-ms N      log a write transaction holding the writer over N ms,\n"
          "                        with its source (default 200; 0: off)\n"
          "  --log-level LEVEL     error, warn, info (default) or debug\n"
          "  --help                show this help\n"
          "  --version             show the version\n",
          out);
}

static int open_database(const char *path, sqlite3 **out, char **errp)
{
    sqlite3 *db = NULL;
    if (db_open(path, DB_READ_WRITE_CREATE, DB_SHARED, WORKER_BUSY_TIMEOUT_MS, &db, errp) != 0)
        return -1;
    char *err = NULL;
    /*
     * auto_vacuum first: it takes effect only on a database with no table yet,
     * and no longer once the WAL switch has written the header. On an existing
     * file it changes nothing (retention then cannot shrink it; see the README).
     */
    if (db_exec(db, "PRAGMA auto_vacuum = INCREMENTAL; PRAGMA journal_mode = WAL;"
                " PRAGMA synchronous = NORMAL", "setting WAL mode", &err) != 0) {
        set_error(errp, "cannot use database %s: %s", path, err);
        free(err);
        sqlite3_close(db);
        return -1;
    }
    *out = db;
    return 0;
}

enum {
    OPT_DB = 256, OPT_INGEST, OPT_BATCH, OPT_TARGET, OPT_YIELD, OPT_RUN_ONCE, OPT_STATS,
    OPT_LOG, OPT_HELP, OPT_VERSION, OPT_INGEST_MODE, OPT_INGEST_GROUP, OPT_INGEST_ROWS,
    OPT_INGEST_MS, OPT_INGEST_CLIENTS, OPT_INGEST_SYNC, OPT_MEMORY, OPT_CONTROL,
    OPT_CONTROL_GROUP, OPT_THROTTLE_WAL, OPT_THROTTLE_INGEST, OPT_THROTTLE_FLAG, OPT_CRITICAL_WAL,
    OPT_THROTTLE_READER, OPT_POOL_STATS, OPT_SLOW_HOLD, OPT_RETAIN_DAYS, OPT_RETAIN_EVERY
};

static const struct option worker_options[] = {
    {"db", required_argument, NULL, OPT_DB},
    {"ingest-socket", required_argument, NULL, OPT_INGEST},
    {"ingest-socket-mode", required_argument, NULL, OPT_INGEST_MODE},
    {"ingest-socket-group", required_argument, NULL, OPT_INGEST_GROUP},
    {"ingest-batch-rows", required_argument, NULL, OPT_INGEST_ROWS},
    {"ingest-batch-ms", required_argument, NULL, OPT_INGEST_MS},
    {"ingest-max-clients", required_argument, NULL, OPT_INGEST_CLIENTS},
    {"ingest-synchronous", required_argument, NULL, OPT_INGEST_SYNC},
    {"batch-size", required_argument, NULL, OPT_BATCH},
    {"target-batch-ms", required_argument, NULL, OPT_TARGET},
    {"yield-ms", required_argument, NULL, OPT_YIELD},
    {"migration-memory-mib", required_argument, NULL, OPT_MEMORY},
    {"run-once", no_argument, NULL, OPT_RUN_ONCE},
    {"stats-json", required_argument, NULL, OPT_STATS},
    {"control-socket", required_argument, NULL, OPT_CONTROL},
    {"control-socket-group", required_argument, NULL, OPT_CONTROL_GROUP},
    {"throttle-wal-mb", required_argument, NULL, OPT_THROTTLE_WAL},
    {"throttle-ingest-wait-ms", required_argument, NULL, OPT_THROTTLE_INGEST},
    {"throttle-flag-file", required_argument, NULL, OPT_THROTTLE_FLAG},
    {"throttle-reader-p99-ms", required_argument, NULL, OPT_THROTTLE_READER},
    {"pool-stats-file", required_argument, NULL, OPT_POOL_STATS},
    {"critical-wal-mb", required_argument, NULL, OPT_CRITICAL_WAL},
    {"slow-hold-ms", required_argument, NULL, OPT_SLOW_HOLD},
    {"retain-days", required_argument, NULL, OPT_RETAIN_DAYS},
    {"retain-every-min", required_argument, NULL, OPT_RETAIN_EVERY},
    {"log-level", required_argument, NULL, OPT_LOG},
    {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

/* The --ingest-* options; returns 0, -1 with *errp set, or 1 when opt is not one of them. */
static int parse_ingest_option(int opt, const char *arg, struct ingest_config *ingest,
                               char **errp)
{
    int64_t n = 0;
    switch (opt) {
    case OPT_INGEST:
        ingest->socket_path = arg;
        return 0;
    case OPT_INGEST_MODE: {
        char *end = NULL;
        long mode = strtol(arg, &end, 8);
        if (*arg == '\0' || *end != '\0' || mode < 0 || mode > 0777)
            return set_error(errp, "--ingest-socket-mode: expected an octal mode such as 0660");
        ingest->socket_mode = (mode_t)mode;
        return 0;
    }
    case OPT_INGEST_GROUP:
        ingest->socket_group = arg;
        return 0;
    case OPT_INGEST_ROWS:
        if (parse_int64(arg, 1, 100000, "--ingest-batch-rows", &n, errp))
            return -1;
        ingest->batch_rows = (int)n;
        return 0;
    case OPT_INGEST_MS:
        if (parse_int64(arg, 0, 60000, "--ingest-batch-ms", &n, errp))
            return -1;
        ingest->batch_ms = (int)n;
        return 0;
    case OPT_INGEST_CLIENTS:
        if (parse_int64(arg, 1, 10000, "--ingest-max-clients", &n, errp))
            return -1;
        ingest->max_clients = (int)n;
        return 0;
    case OPT_INGEST_SYNC:
        if (strcmp(arg, "full") != 0 && strcmp(arg, "normal") != 0)
            return set_error(errp, "--ingest-synchronous: expected full or normal");
        ingest->durable = strcmp(arg, "full") == 0;
        return 0;
    }
    return 1;
}

/* The control and throttle options; same returns as parse_ingest_option. */
static int parse_control_option(int opt, const char *arg, struct worker_config *config,
                                char **errp)
{
    struct throttle_config *t = &config->throttle;
    switch (opt) {
    case OPT_CONTROL:
        config->control_socket = arg;
        return 0;
    case OPT_CONTROL_GROUP:
        config->control_group = arg;
        return 0;
    case OPT_THROTTLE_WAL:
        return parse_int64(arg, 0, 1000000, "--throttle-wal-mb", &t->wal_mb, errp);
    case OPT_THROTTLE_INGEST:
        return parse_int64(arg, 0, 60000, "--throttle-ingest-wait-ms", &t->ingest_wait_ms, errp);
    case OPT_THROTTLE_FLAG:
        t->flag_file = arg;
        return 0;
    case OPT_THROTTLE_READER:
        return parse_int64(arg, 0, 60000, "--throttle-reader-p99-ms", &t->reader_p99_ms, errp);
    case OPT_POOL_STATS:
        t->pool_stats_file = arg;
        return 0;
    case OPT_CRITICAL_WAL:
        return parse_int64(arg, 0, 1000000, "--critical-wal-mb", &t->critical_wal_mb, errp);
    case OPT_RETAIN_DAYS:
        return parse_int64(arg, 0, 365000, "--retain-days", &config->retain_days, errp);
    case OPT_RETAIN_EVERY:
        return parse_int64(arg, 1, 10080, "--retain-every-min", &config->retain_every_min, errp);
    case OPT_SLOW_HOLD: {
        /* Set before any thread starts, like the test hooks. */
        int64_t ms = 0;
        if (parse_int64(arg, 0, 3600000, "--slow-hold-ms", &ms, errp) != 0)
            return -1;
        writer_acct_configure(ms);
        return 0;
    }
    }
    return 1;
}

/* The migration and general options; same returns as parse_ingest_option. */
static int parse_worker_option(int opt, const char *arg, struct worker_config *config,
                               enum log_level *level, char **errp)
{
    switch (opt) {
    case OPT_DB:
        config->db_path = arg;
        return 0;
    case OPT_BATCH:
        return parse_int64(arg, 1, MIGRATION_MAX_BATCH_SIZE, "--batch-size",
                           &config->batch_size, errp);
    case OPT_TARGET:
        return parse_int64(arg, 1, MIGRATION_MAX_TARGET_BATCH_MS, "--target-batch-ms",
                           &config->target_batch_ms, errp);
    case OPT_YIELD:
        return parse_int64(arg, 0, MIGRATION_MAX_YIELD_MS, "--yield-ms", &config->yield_ms,
                           errp);
    case OPT_MEMORY:
        return parse_int64(arg, 1, MIGRATION_MAX_MEMORY_KIB / 1024, "--migration-memory-mib",
                           &config->memory_mib, errp);
    case OPT_RUN_ONCE:
        config->run_once = 1;
        return 0;
    case OPT_STATS:
        config->stats_json = arg;
        return 0;
    case OPT_LOG:
        if (log_level_parse(arg, level) != 0)
            return set_error(errp, "--log-level: expected error, warn, info or debug");
        return 0;
    case OPT_HELP:
        usage(stdout);
        exit(0);
    case OPT_VERSION:
        printf("meshscope-worker %s\n", PACKAGE_VERSION);
        exit(0);
    }
    return 1;
}

static int parse_options(int argc, char **argv, struct worker_config *config)
{
    enum log_level level = LOG_LEVEL_INFO;
    char *err = NULL;
    int opt;

    config->yield_ms = MIGRATION_DEFAULT_YIELD_MS;
    config->target_batch_ms = MIGRATION_DEFAULT_TARGET_BATCH_MS;
    config->memory_mib = MIGRATION_DEFAULT_MEMORY_KIB / 1024;
    ingest_config_defaults(&config->ingest);
    throttle_config_default(&config->throttle);
    config->retain_every_min = RETENTION_DEFAULT_EVERY_MIN;
    while ((opt = getopt_long(argc, argv, "", worker_options, NULL)) != -1) {
        int rc = parse_ingest_option(opt, optarg, &config->ingest, &err);
        if (rc == 1)
            rc = parse_control_option(opt, optarg, config, &err);
        if (rc == 1)
            rc = parse_worker_option(opt, optarg, config, &level, &err);
        if (rc == 1) {
            usage(stderr);
            return -1;
        }
        if (rc != 0)
            goto bad;
    }
    if (optind < argc) {
        err = xasprintf("unexpected argument '%s'", argv[optind]);
        goto bad;
    }
    if (config->db_path == NULL) {
        err = xasprintf("--db PATH is required");
        goto bad;
    }
    if (config->control_group != NULL && config->control_socket == NULL) {
        err = xasprintf("--control-socket-group needs --control-socket");
        goto bad;
    }
    if (config->throttle.reader_p99_ms > 0 && config->throttle.pool_stats_file == NULL) {
        err = xasprintf("--throttle-reader-p99-ms needs --pool-stats-file");
        goto bad;
    }
    config->ingest.db_path = config->db_path;
    log_init("worker", level);
    return 0;

bad:
    fprintf(stderr, "meshscope-worker: %s (try --help)\n", err);
    free(err);
    return -1;
}

/*
 * Blocks the stop signals in every thread (those started later inherit the
 * mask): one that arrives early stays pending for the stop watch. SIGUSR1
 * is unblocked only inside the main thread's waits, via *wait_mask.
 */
static void block_stop_signals(sigset_t *wait_mask)
{
    sigset_t stop_signals, previous;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGUSR1);
    sigprocmask(SIG_BLOCK, &stop_signals, &previous);
    *wait_mask = previous;
    sigaddset(wait_mask, SIGTERM);
    sigaddset(wait_mask, SIGINT);
    sigdelset(wait_mask, SIGUSR1);
    struct sigaction sa = {0};
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_wake_signal;
    sigaction(SIGUSR1, &sa, NULL);
    main_thread = pthread_self();
    signal(SIGPIPE, SIG_IGN);
}

/*
 * Upgrades the schema and starts the migration thread. Registration is one
 * short write, so readers see pending_async from the start; the migrations
 * themselves run in their own thread and connection, beside ingest rather
 * than before it.
 */
struct worker {
    sqlite3 *db;
    struct job_control *control;
    struct runner *runner;
    struct control_server *server;
};

static struct recurring_config worker_recurring(const struct worker_config *config)
{
    return (struct recurring_config){config->retain_days, config->retain_every_min};
}

/* Pauses and settings stored by an operator outlive restarts: they are read before any job runs. */
static int worker_load_control(const struct worker_config *config, struct worker *w,
                               const struct migration_params *params, char **errp)
{
    /* The control plane knows the jobs that can run: every migration, the recurring jobs the flags turn on. */
    struct recurring_config recurring = worker_recurring(config);
    size_t count = 0;
    struct migration *jobs = job_registry_enabled(&recurring, &count);
    int rc = job_control_new(jobs, count, params, &w->control, errp);
    free(jobs); /* job_control keeps the names, which are string literals */
    if (rc != 0 || job_control_load(w->control, w->db, errp) != 0)
        return -1;
    if (config->control_socket == NULL)
        return 0;
    struct control_config cc = {config->control_socket, config->control_group, config->db_path};
    return control_server_start(&cc, w->control, &w->server, errp);
}

static int worker_start(const struct worker_config *config, struct worker *w, char **errp)
{
    if (open_database(config->db_path, &w->db, errp) != 0)
        return -1;
    /* Its lock wait and hold are one figure: schema_upgrade runs its own transactions. */
    int64_t upgrade_from = clock_monotonic_us();
    if (schema_upgrade(w->db, errp) != 0)
        return -1;
    writer_acct_record(WRITER_SOURCE_SCHEMA, 0, clock_monotonic_us() - upgrade_from);
    log_info("schema ready in %s (meshscope %s, sqlite %s)", config->db_path, PACKAGE_VERSION,
             sqlite3_libversion());
    struct migration_params params;
    migration_params_default(&params);
    params.adaptive = config->batch_size == 0;
    params.batch_size = config->batch_size;
    params.target_batch_ms = config->target_batch_ms;
    params.yield_ms = config->yield_ms;
    params.memory_kib = config->memory_mib * 1024;
    if (migration_params_validate(&params, errp) != 0 ||
        migration_rows_register(w->db, job_registry, job_registry_len, errp) != 0 ||
        worker_load_control(config, w, &params, errp) != 0)
        return -1;
    struct runner_config rc = {
        .params = &params,
        .stats_path = config->stats_json,
        .control = w->control,
        .throttle = &config->throttle,
        .recurring = worker_recurring(config),
        .run_once = config->run_once,
        .on_finished = on_migrations_finished,
    };
    return runner_start(config->db_path, &rc, &w->runner, errp);
}

static void worker_close(struct worker *w)
{
    control_server_stop(w->server);
    w->server = NULL;
    char *err = NULL;
    if (w->db != NULL && writer_acct_write_alone(w->db, &err) != 0) {
        log_warnx("the last writer figures were not saved: %s", err);
        free(err);
    }
    sqlite3_close(w->db);
    job_control_free(w->control);
}

/*
 * --run-once waits for the migrations; the daemon waits for SIGTERM, serving
 * ingest on this thread (and its own connection) when a socket is given.
 */
static int worker_serve(const struct worker_config *config, struct runner *runner,
                        const sigset_t *wait_mask)
{
    char *err = NULL;
    if (!config->run_once && config->ingest.socket_path != NULL) {
        if (ingest_serve(&config->ingest, &stop_requested, wait_mask, &err) != 0) {
            log_error("%s", err);
            free(err);
            return 1;
        }
        return 0;
    }
    while (!stop_requested && !(config->run_once && runner_finished(runner)))
        sigsuspend(wait_mask);
    return 0;
}

int main(int argc, char **argv)
{
    struct worker_config config = {0};
    log_init("worker", LOG_LEVEL_INFO);
    if (argc > 1 && strcmp(argv[1], "status") == 0)
        return status_main(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "ctl") == 0)
        return control_client_main(argc - 1, argv + 1);
    if (parse_options(argc, argv, &config) != 0)
        return 2;
    char *err = NULL;
    if (testhook_init(&err) != 0) {
        fprintf(stderr, "meshscope-worker: %s\n", err);
        free(err);
        return 2;
    }
    sigset_t wait_mask;
    block_stop_signals(&wait_mask);

    struct worker w = {0};
    if (worker_start(&config, &w, &err) != 0) {
        log_error("startup failed: %s", err);
        free(err);
        worker_close(&w);
        return 1;
    }
    struct runner *runner = w.runner;
    struct stop_watch watch = {.runner = runner};
    sigemptyset(&watch.signals);
    sigaddset(&watch.signals, SIGTERM);
    sigaddset(&watch.signals, SIGINT);
    int rc = pthread_create(&watch.thread, NULL, stop_watch_main, &watch);
    if (rc != 0) {
        log_error("startup failed: cannot start the signal thread: %s", strerror(rc));
        runner_cancel(runner);
        runner_join(runner, NULL);
        worker_close(&w);
        return 1;
    }
    int status = worker_serve(&config, runner, &wait_mask);
    /* sigwait() is a cancellation point; the watch touches the runner only before it returns. */
    pthread_cancel(watch.thread);
    pthread_join(watch.thread, NULL);
    /* The control thread goes first: a pause waiting for the job is told the worker stops. */
    control_server_stop(w.server);
    w.server = NULL;
    runner_cancel(runner);
    struct runner_summary summary;
    runner_join(runner, &summary);
    worker_close(&w);
    log_info("stopped (migrations: %d done, %d already done, %d failed, %d interrupted)",
             summary.done, summary.skipped, summary.failed, summary.cancelled);
    if (config.run_once)
        return summary.failed > 0 || summary.cancelled > 0 ? 1 : 0;
    return status;
}
