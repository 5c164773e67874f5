/* runner_thread.c: starts, cancels and joins the thread that runs the pending migrations. */
#include "runner_thread.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include <unistd.h>

#include "job_retention.h"
#include "log.h"
#include "wal_housekeeping.h"
#include "util.h"

struct runner {
    pthread_t thread;
    sqlite3 *db;
    struct migration_cancel cancel;
    struct runner_options options;
    struct runner_summary summary;
    atomic_int finished;
    int64_t retain_days, retain_every_min;
    int run_once;
    void (*on_finished)(void *arg);
    void *arg;
};

/*
 * The backfill is CPU-bound work nobody waits for, on a machine that also runs
 * the responders and this process's ingest loop. A lower priority for this
 * thread alone (Linux applies nice per thread) lets those preempt it; the
 * migration only slows when the CPU is actually contended.
 */
#define RUNNER_THREAD_NICE 10

static void runner_retention_once(struct runner *runner)
{
    static const struct migration job = {RETENTION_JOB_NAME, retention_run};
    retention_set_cutoff((int64_t)time(NULL) - runner->retain_days * 86400);
    struct runner_summary s = {0};
    char *err = NULL;
    if (runner_run_job(runner->db, &runner->options, &job, &s, &err) != 0) {
        log_error("retention: %s", err);
        free(err);
    }
    runner->summary.failed += s.failed;
}

/*
 * After the migrations, the recurring jobs, one at a time on this thread:
 * retention at once and then every retain_every_min, and between its runs
 * the WAL housekeeping every few seconds.
 */
static void runner_scheduler(struct runner *runner)
{
    int64_t wal_mb = runner->options.throttle ? runner->options.throttle->wal_mb : 0;
    if (runner->run_once) {
        if (runner->retain_days > 0)
            runner_retention_once(runner);
        return;
    }
    if (runner->retain_days <= 0 && wal_mb <= 0)
        return;
    int64_t next_retention = runner->retain_days > 0 ? clock_monotonic_ms() : INT64_MAX;
    while (!migration_cancel_requested(&runner->cancel)) {
        if (clock_monotonic_ms() >= next_retention) {
            runner_retention_once(runner);
            next_retention = clock_monotonic_ms() + runner->retain_every_min * 60000;
        }
        char *err = NULL;
        if (wal_housekeeping_step(runner->db, wal_mb, &err) < 0) {
            log_warnx("WAL housekeeping: %s", err);
            free(err);
        }
        int64_t wait = next_retention - clock_monotonic_ms();
        if (wait > WAL_HOUSEKEEPING_EVERY_MS || wait < 0)
            wait = WAL_HOUSEKEEPING_EVERY_MS;
        if (migration_cancel_wait(&runner->cancel, wait) != 0)
            break;
    }
}

static void *runner_main(void *arg)
{
    struct runner *runner = arg;
    char *err = NULL;
    if (setpriority(PRIO_PROCESS, (id_t)gettid(), RUNNER_THREAD_NICE) != 0)
        log_debug("could not lower the migration thread's priority: %s", strerror(errno));
    if (runner_run_pending(runner->db, &runner->options, &runner->summary, &err) != 0) {
        log_error("migrations stopped: %s", err);
        free(err);
        runner->summary.failed++;
    }
    runner_scheduler(runner);
    sqlite3_close(runner->db);
    runner->db = NULL;
    atomic_store(&runner->finished, 1);
    if (runner->on_finished != NULL)
        runner->on_finished(runner->arg);
    return NULL;
}

int runner_start(const char *path, const struct runner_config *config, struct runner **out,
                 char **errp)
{
    *out = NULL;
    if (migration_params_validate(config->params, errp) != 0)
        return -1;
    struct runner *runner = xcalloc(1, sizeof *runner);
    if (runner_open_connection(path, &runner->db, errp) != 0) {
        free(runner);
        return -1;
    }
    migration_cancel_init(&runner->cancel);
    runner_options_default(&runner->options);
    runner->options.params = *config->params;
    runner->options.cancel = &runner->cancel;
    runner->options.stats_path = config->stats_path;
    runner->options.control = config->control;
    runner->options.throttle = config->throttle;
    if (config->control != NULL)
        job_control_set_wake(config->control, &runner->cancel);
    runner->retain_days = config->retain_days;
    runner->retain_every_min = config->retain_every_min;
    runner->run_once = config->run_once;
    runner->on_finished = config->on_finished;
    runner->arg = config->arg;
    atomic_init(&runner->finished, 0);
    int rc = pthread_create(&runner->thread, NULL, runner_main, runner);
    if (rc != 0) {
        set_error(errp, "cannot start the migration thread: %s", strerror(rc));
        sqlite3_close(runner->db);
        migration_cancel_destroy(&runner->cancel);
        free(runner);
        return -1;
    }
    *out = runner;
    return 0;
}

int runner_finished(struct runner *runner)
{
    return atomic_load(&runner->finished);
}

void runner_cancel(struct runner *runner)
{
    migration_cancel_request(&runner->cancel);
}

void runner_join(struct runner *runner, struct runner_summary *summary)
{
    pthread_join(runner->thread, NULL);
    if (runner->options.control != NULL)
        job_control_set_wake(runner->options.control, NULL);
    if (summary != NULL)
        *summary = runner->summary;
    migration_cancel_destroy(&runner->cancel);
    free(runner);
}
