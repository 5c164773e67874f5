/* runner_thread.c: starts, cancels and joins the thread that runs the pending migrations. */
#include "runner_thread.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

struct runner {
    pthread_t thread;
    sqlite3 *db;
    struct migration_cancel cancel;
    struct runner_options options;
    struct runner_summary summary;
    atomic_int finished;
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
