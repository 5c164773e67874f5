/* runner.c: a pass over the migrations, and the runner's side of a migration's pauses between batches. */
#include "runner.h"

#include <assert.h>
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "log.h"
#include "job_registry.h"
#include "migration_rows.h"
#include "job_pace.h"
#include "job_wal.h"
#include "migration_stats.h"
#include "progress.h"
#include "schema.h"
#include "util.h"

/* Ingest commits in short groups; a batch may wait this long for the writer. */
#define RUNNER_BUSY_TIMEOUT_MS 10000

void runner_options_default(struct runner_options *options)
{
    *options = (struct runner_options){
        .registry = job_registry,
        .registry_len = job_registry_len,
    };
    migration_params_default(&options->params);
}

int runner_open_connection(const char *path, sqlite3 **out, char **errp)
{
    if (db_open(path, DB_READ_WRITE, DB_SHARED, RUNNER_BUSY_TIMEOUT_MS, out, errp) != 0)
        return -1;
    /*
     * synchronous is per connection, and Debian's SQLite defaults WAL
     * connections to FULL: every batch would fsync the WAL while holding the
     * writer. NORMAL loses nothing on a crash of the process; the job flushes
     * its pages between batches instead (job_wal.h).
     */
    if (db_exec(*out, "PRAGMA synchronous = NORMAL", "configuring the job connection", errp) != 0) {
        sqlite3_close(*out);
        *out = NULL;
        return -1;
    }
    return 0;
}

static void runner_fail(sqlite3 *db, const char *name, const char *error,
                        const struct migration_result *result, struct runner_summary *summary)
{
    char *err = NULL;
    summary->failed++;
    log_error("migration %s failed: %s", name, error);
    if (migration_rows_mark_failed(db, name, error, result, &err) != 0) {
        log_error("migration %s: recording the failure failed too: %s", name, err);
        free(err);
    }
}

/* Records how a run that returned 0 ended; the terminal row write always happens. */
static int runner_record_end(sqlite3 *db, const struct migration *migration,
                             const struct migration_result *result,
                             struct runner_summary *summary, struct migration_stat *stat,
                             char **errp)
{
    if (result->outcome == MIGRATION_CANCELLED) {
        if (migration_rows_mark_stopped(db, migration->name, result, errp) != 0)
            return -1;
        stat->status = MIGRATION_STATUS_PENDING;
        summary->cancelled++;
        log_info("migration %s stopped; it stays %s and resumes on the next start",
                 migration->name, MIGRATION_STATUS_PENDING);
        return 0;
    }
    assert(result->outcome == MIGRATION_DONE);
    if (migration_rows_mark_done(db, migration->name, result, errp) != 0)
        return -1;
    stat->status = MIGRATION_STATUS_DONE;
    summary->done++;
    return 0;
}

/* The job's phase for the control plane, when there is one. */
static void runner_phase(const struct runner_options *options, int job, enum job_phase phase)
{
    if (options->control != NULL && job >= 0)
        job_control_set_phase(options->control, job, phase);
}

/* Runs the migration with its pacing; a job paused before it starts waits here first. */
static int runner_run_paced(const struct runner_options *options,
                            const struct migration *migration, struct migration_env *env,
                            struct migration_result *result, struct job_pace *pace, char **errp)
{
    struct migration_params params = options->params;
    job_pace_params(pace, &params);
    struct migration_params gate = params;
    gate.yield_ms = 0;
    if (job_pace_between(pace, &gate, errp) != 0)
        return -1;
    gate.yield_ms = params.yield_ms;
    env->params = gate;
    if (options->cancel != NULL && migration_cancel_requested(options->cancel)) {
        *result = (struct migration_result){.outcome = MIGRATION_CANCELLED};
        return 0;
    }
    return migration->run(env, result, errp);
}

static void runner_run_one(sqlite3 *db, const struct runner_options *options,
                           const struct migration *migration, struct runner_summary *summary,
                           struct migration_stat *stat)
{
    struct migration_result result = {.outcome = MIGRATION_FAILED};
    char *err = NULL;
    stat->name = migration->name;
    stat->status = MIGRATION_STATUS_FAILED;
    if (migration_rows_reset(db, migration->name, &err) != 0) {
        runner_fail(db, migration->name, err, &result, summary);
        free(err);
        return;
    }

    /* A fresh writer per run: its limiters never carry over from a previous attempt. */
    struct progress_writer writer;
    progress_writer_init(&writer, db, migration->name, options->clock, options->clock_arg);
    writer.observer = options->observer;
    writer.observer_arg = options->observer_arg;
    int job = options->control ? job_control_find(options->control, migration->name) : -1;
    struct job_pace pace;
    job_pace_init(&pace, db, migration->name, &writer, options->cancel,
                  job >= 0 ? options->control : NULL, job, options->throttle);
    struct migration_env env = {
        .db = db,
        .name = migration->name,
        .cancel = options->cancel,
        .progress = job_pace_report,
        .progress_arg = &pace,
        .between = job_pace_between,
        .between_arg = &pace,
        .clock = options->clock,
        .clock_arg = options->clock_arg,
        .holds = options->stats_path != NULL ? &stat->holds : NULL,
    };
    struct job_wal wal;
    job_wal_attach(&wal, db);
    pace.wal = &wal;
    runner_phase(options, job, JOB_RUNNING);
    int rc = runner_run_paced(options, migration, &env, &result, &pace, &err);
    if (rc == 0) /* after the last batch too; a failed run keeps its own error */
        rc = job_wal_chores(&wal, migration->name, &err);
    job_wal_detach(&wal);
    stat->result = result;
    if (rc == 0 && writer.write_errors > 0)
        log_warnx("migration %s: %" PRId64 " progress writes failed during the run",
                  migration->name, writer.write_errors);
    if (rc != 0 || runner_record_end(db, migration, &result, summary, stat, &err) != 0) {
        stat->status = MIGRATION_STATUS_FAILED;
        runner_fail(db, migration->name, err ? err : "unknown error", &result, summary);
        free(err);
        runner_phase(options, job, JOB_FAILED);
        return;
    }
    runner_phase(options, job, result.outcome == MIGRATION_DONE ? JOB_DONE : JOB_STOPPED);
}

int runner_run_job(sqlite3 *db, const struct runner_options *options, const struct migration *job,
                   int64_t every_s, int schedule_next, struct runner_summary *summary,
                   char **errp)
{
    if (migration_rows_register_recurring(db, job->name, every_s, errp) != 0)
        return -1;
    struct migration_stat stat = {0};
    runner_run_one(db, options, job, summary, &stat);
    migration_holds_release(&stat.holds);
    /* A stopped run is not rescheduled: the next start runs it at once. */
    if (!schedule_next || strcmp(stat.status, MIGRATION_STATUS_PENDING) == 0)
        return 0;
    char *err = NULL;
    if (migration_rows_schedule(db, job->name, (int64_t)time(NULL) + every_s, &err) != 0) {
        log_warnx("%s: recording the next run: %s", job->name, err);
        free(err);
    }
    return 0;
}

int runner_run_pending(sqlite3 *db, const struct runner_options *options,
                       struct runner_summary *summary, char **errp)
{
    *summary = (struct runner_summary){0};
    if (migration_rows_register(db, options->registry, options->registry_len, errp) != 0)
        return -1;
    struct migration_stat *stats = xcalloc(options->registry_len, sizeof *stats);
    size_t ran = 0;
    int rc = 0;
    for (size_t i = 0; i < options->registry_len; i++) {
        const struct migration *migration = &options->registry[i];
        if (migration->kind != JOB_ONE_OFF)
            continue; /* the scheduler runs recurring jobs when they fall due */
        if (options->cancel != NULL && migration_cancel_requested(options->cancel)) {
            summary->cancelled++;
            break;
        }
        char *status = NULL;
        if (migration_rows_read_status(db, migration->name, &status, errp) != 0) {
            rc = -1;
            break;
        }
        int done = status != NULL && strcmp(status, MIGRATION_STATUS_DONE) == 0;
        free(status);
        if (done) {
            summary->skipped++;
            runner_phase(options, options->control ? job_control_find(options->control,
                                                                        migration->name) : -1,
                         JOB_DONE);
            continue;
        }
        runner_run_one(db, options, migration, summary, &stats[ran++]);
        if (summary->cancelled > 0)
            break;
    }
    char *err = NULL;
    if (options->stats_path != NULL &&
        migration_stats_write(options->stats_path, stats, ran, &err) != 0) {
        log_error("migration stats: %s", err);
        free(err);
    }
    for (size_t i = 0; i < ran; i++)
        migration_holds_release(&stats[i].holds);
    free(stats);
    return rc;
}
