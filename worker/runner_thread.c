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
    struct recurring_config recurring;
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

/* A recurring job the flags turned on, and when it runs next (monotonic ms). */
struct recurring_slot {
    const struct migration *job;
    int64_t every_ms, due_ms;
};

static void runner_recurring_once(struct runner *runner, struct recurring_slot *slot)
{
    if (slot->job->prepare != NULL)
        slot->job->prepare(&runner->recurring);
    struct runner_summary s = {0};
    char *err = NULL;
    if (runner_run_job(runner->db, &runner->options, slot->job, slot->every_ms / 1000,
                       !runner->run_once, &s, &err) != 0) {
        log_error("%s: %s", slot->job->name, err);
        free(err);
    }
    runner->summary.failed += s.failed;
    slot->due_ms = clock_monotonic_ms() + slot->every_ms;
}

/* The registry's recurring jobs that the flags turn on, each due at once; *count entries. */
static struct recurring_slot *runner_recurring_slots(struct runner *runner, size_t *count)
{
    const struct runner_options *o = &runner->options;
    struct recurring_slot *slots = xcalloc(o->registry_len ? o->registry_len : 1, sizeof *slots);
    size_t n = 0;
    int64_t now = clock_monotonic_ms();
    for (size_t i = 0; i < o->registry_len; i++) {
        const struct migration *job = &o->registry[i];
        int64_t every = job->kind == JOB_RECURRING ? job->every_ms(&runner->recurring) : 0;
        if (every > 0)
            slots[n++] = (struct recurring_slot){job, every, now};
    }
    *count = n;
    return slots;
}

/*
 * After the migrations, the recurring jobs, one at a time on this thread:
 * each at once and then every interval, and between their runs the WAL
 * housekeeping every few seconds.
 */
static void runner_scheduler(struct runner *runner)
{
    int64_t wal_mb = runner->options.throttle ? runner->options.throttle->wal_mb : 0;
    size_t count = 0;
    struct recurring_slot *slots = runner_recurring_slots(runner, &count);
    if (runner->run_once) {
        for (size_t i = 0; i < count; i++)
            runner_recurring_once(runner, &slots[i]);
        count = 0;
        wal_mb = 0;
    }
    while ((count > 0 || wal_mb > 0) && !migration_cancel_requested(&runner->cancel)) {
        int64_t next_due = INT64_MAX;
        for (size_t i = 0; i < count && !migration_cancel_requested(&runner->cancel); i++) {
            if (clock_monotonic_ms() >= slots[i].due_ms)
                runner_recurring_once(runner, &slots[i]);
            if (slots[i].due_ms < next_due)
                next_due = slots[i].due_ms;
        }
        char *err = NULL;
        if (wal_housekeeping_step(runner->db, wal_mb, &err) < 0) {
            log_warnx("WAL housekeeping: %s", err);
            free(err);
        }
        int64_t wait = next_due - clock_monotonic_ms();
        if (wait > WAL_HOUSEKEEPING_EVERY_MS || wait < 0)
            wait = WAL_HOUSEKEEPING_EVERY_MS;
        if (migration_cancel_wait(&runner->cancel, wait) != 0)
            break;
    }
    free(slots);
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
    runner->recurring = config->recurring;
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
