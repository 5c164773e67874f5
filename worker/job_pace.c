/* job_pace.c: the loop a job waits in between batches, where operator control and throttling act. */
#include "job_pace.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "util.h"

/* A pause or a throttle re-checks at least this often (a throttle about every yield). */
#define JOB_PACE_PAUSE_CHECK_MS 1000
#define JOB_PACE_THROTTLE_MIN_CHECK_MS 100

void job_pace_init(struct job_pace *pace, sqlite3 *db, const char *name,
                   struct progress_writer *writer, struct migration_cancel *cancel,
                   struct job_control *control, int job, const struct throttle_config *throttle)
{
    *pace = (struct job_pace){
        .db = db,
        .name = name,
        .writer = writer,
        .cancel = cancel,
        .control = control,
        .job = job,
        .throttle = throttle,
    };
    int64_t now = clock_monotonic_ms();
    job_clock_start(&pace->clock, now);
    pace->cap_mark_ms = now;
    writer->extra = &pace->extra;
}

void job_pace_params(struct job_pace *pace, struct migration_params *params)
{
    if (pace->control != NULL)
        job_control_params(pace->control, pace->job, params, &pace->max_rows_per_sec,
                           &pace->generation);
}

/* Brings the stored extras and the control plane's view up to date. */
static void job_pace_publish(struct job_pace *pace)
{
    job_clock_update(&pace->clock, clock_monotonic_ms());
    pace->extra = (struct progress_extra){
        .active_ms = pace->clock.active_ms,
        .paused_ms = pace->clock.paused_ms,
        .throttled_ms = pace->clock.throttled_ms,
        .recent_rate = job_clock_recent_rate(&pace->clock),
        .throttle_reason = pace->throttled.throttled ? pace->throttled.reason : NULL,
    };
    if (pace->control == NULL)
        return;
    struct job_report report = {
        .processed = pace->processed,
        .total = pace->total,
        .active_ms = pace->extra.active_ms,
        .paused_ms = pace->extra.paused_ms,
        .throttled_ms = pace->extra.throttled_ms,
        .recent_rate = pace->extra.recent_rate,
        .throttled = pace->throttled.throttled,
    };
    snprintf(report.throttle_reason, sizeof report.throttle_reason, "%s", pace->throttled.reason);
    job_control_report(pace->control, pace->job, &report);
}

int job_pace_report(void *arg, const struct migration_progress *progress, char **errp)
{
    struct job_pace *pace = arg;
    pace->processed = progress->processed;
    pace->total = progress->total;
    job_clock_sample(&pace->clock, progress->processed, clock_monotonic_ms());
    job_pace_publish(pace);
    return progress_writer_report(pace->writer, progress, errp);
}

/* Sleeps up to ms, or until a command or a stop wakes the job; returns 1 when cancelled. */
static int job_pace_wait(struct job_pace *pace, int64_t ms)
{
    if (ms < 1)
        ms = 1;
    if (pace->cancel != NULL)
        return migration_cancel_wait(pace->cancel, ms);
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
    return 0;
}

static int64_t job_pace_min(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

/* Switches the clock's mode, marking the row for its next write; logs the way out. */
static void job_pace_enter(struct job_pace *pace, enum job_mode mode, int64_t now)
{
    if (pace->clock.mode == mode)
        return;
    if (pace->clock.mode == JOB_PAUSED) {
        log_info("%s: resumed after %.1f s paused", pace->name,
                 (double)(now - pace->mode_since_ms) / 1000.0);
        pace->writer->heartbeat_ms = PROGRESS_HEARTBEAT_MS;
    }
    job_clock_set_mode(&pace->clock, mode, now);
    pace->mode_since_ms = now;
    progress_writer_touch(pace->writer);
}

/*
 * Returns 1 while the job is paused. A pause starting writes the row (state
 * and counts) before the pause is settled, so after the reply the job writes
 * only its slow heartbeat.
 */
static int job_pace_paused(struct job_pace *pace, int64_t now)
{
    uint64_t ticket = 0;
    if (pace->control == NULL || !job_control_paused(pace->control, pace->job, &ticket))
        return 0;
    if (pace->clock.mode != JOB_PAUSED) {
        char reason[JOB_REASON_MAX];
        job_control_pause_info(pace->control, pace->job, reason, sizeof reason);
        job_pace_enter(pace, JOB_PAUSED, now);
        pace->writer->heartbeat_ms = PROGRESS_PAUSED_HEARTBEAT_MS;
        log_info("%s: paused between batches at %" PRId64 "/%" PRId64 " rows (%s)", pace->name,
                 pace->processed, pace->total, reason);
    }
    if (ticket != 0) {
        job_pace_publish(pace);
        progress_writer_flush(pace->writer);
        job_control_settle(pace->control, pace->job, ticket);
    }
    return 1;
}

/* Takes new settings when an operator changed them; the recent rate starts over. */
static void job_pace_settings(struct job_pace *pace, struct migration_params *params)
{
    if (pace->control == NULL)
        return;
    struct migration_params next;
    int64_t max_rows = 0;
    uint64_t generation = 0;
    job_control_params(pace->control, pace->job, &next, &max_rows, &generation);
    if (generation == pace->generation)
        return;
    pace->generation = generation;
    pace->max_rows_per_sec = max_rows;
    *params = next;
    job_clock_restart_recent(&pace->clock);
    log_info("%s: new settings: %s batches (%" PRId64 "%s), yield %" PRId64
             " ms, at most %" PRId64 " rows/s (0: no cap)",
             pace->name, params->adaptive ? "adaptive" : "fixed",
             params->adaptive ? params->target_batch_ms : params->batch_size,
             params->adaptive ? " ms target" : " rows", params->yield_ms, max_rows);
}

/* Returns 1 while a health factor holds the job back; pauses it on a critical WAL. */
static int job_pace_throttled(struct job_pace *pace, int64_t now)
{
    if (pace->throttle == NULL)
        return 0;
    struct throttle_reading reading;
    throttle_read(pace->throttle, pace->db, &reading);
    char critical[JOB_REASON_MAX];
    if (pace->control != NULL &&
        throttle_critical(pace->throttle, &reading, critical, sizeof critical)) {
        char *err = NULL;
        log_warnx("%s: pausing itself: %s; it stays paused until an operator resumes it",
                  pace->name, critical);
        if (job_control_self_pause(pace->control, pace->db, pace->job, critical, &err) != 0) {
            log_error("%s: storing the pause failed: %s", pace->name, err);
            free(err);
        }
        return 1; /* the pause takes over at the next look */
    }
    if (throttle_decide(pace->throttle, &reading, &pace->throttled)) {
        if (pace->throttled.throttled)
            log_info("%s: throttled: %s", pace->name, pace->throttled.reason);
        else
            log_info("%s: throttle lifted after %.1f s (%s)", pace->name,
                     (double)(now - pace->mode_since_ms) / 1000.0, pace->throttled.reason);
    }
    /* Also after a pause ends: a throttle in force before it still holds. */
    job_pace_enter(pace, pace->throttled.throttled ? JOB_THROTTLED : JOB_ACTIVE, now);
    return pace->throttled.throttled;
}

/* When the yield ends: yield_ms from now, later if the rows-per-second cap needs it. */
static int64_t job_pace_yield_end(const struct job_pace *pace,
                                  const struct migration_params *params, int64_t now)
{
    int64_t end = now + params->yield_ms;
    if (pace->max_rows_per_sec > 0) {
        int64_t rows = pace->processed - pace->cap_mark_processed;
        int64_t capped = pace->cap_mark_ms + rows * 1000 / pace->max_rows_per_sec;
        if (capped > end)
            end = capped;
    }
    return end;
}

int job_pace_between(void *arg, struct migration_params *params, char **errp)
{
    struct job_pace *pace = arg;
    if (pace->wal != NULL && job_wal_chores(pace->wal, pace->name, errp) != 0)
        return -1;
    int64_t yield_end = -1;
    int healthy = 0; /* the factors were looked at in this call and none held the job */
    for (;;) {
        int64_t now = clock_monotonic_ms();
        job_pace_publish(pace);
        progress_writer_tick(pace->writer);
        job_clock_sample(&pace->clock, pace->processed, now);
        if (pace->cancel != NULL && migration_cancel_requested(pace->cancel))
            break;
        int64_t due = progress_writer_due_in(pace->writer);
        if (job_pace_paused(pace, now)) {
            healthy = 0;
            job_pace_wait(pace, job_pace_min(due, JOB_PACE_PAUSE_CHECK_MS));
            continue;
        }
        if (pace->clock.mode == JOB_PAUSED)
            job_pace_enter(pace, pace->throttled.throttled ? JOB_THROTTLED : JOB_ACTIVE, now);
        job_pace_settings(pace, params);
        if (!healthy && job_pace_throttled(pace, now)) {
            int64_t check = params->yield_ms > JOB_PACE_THROTTLE_MIN_CHECK_MS
                                ? params->yield_ms : JOB_PACE_THROTTLE_MIN_CHECK_MS;
            job_pace_wait(pace, job_pace_min(due, check));
            continue;
        }
        healthy = 1;
        if (yield_end < 0)
            yield_end = job_pace_yield_end(pace, params, now);
        if (now >= yield_end)
            break;
        if (job_pace_wait(pace, job_pace_min(due, yield_end - now)))
            break;
    }
    pace->cap_mark_ms = clock_monotonic_ms();
    pace->cap_mark_processed = pace->processed;
    job_pace_publish(pace);
    return 0;
}
