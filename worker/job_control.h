/* job_control.h: what operators set on each writer job (pause, settings) and what the job reports back, shared by the control and migration threads. */
#ifndef MESHSCOPE_JOB_CONTROL_H
#define MESHSCOPE_JOB_CONTROL_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>
#include <sqlite3.h>

#include "migration.h"

/* Upper bound of set JOB max-rows-per-sec. */
#define JOB_MAX_ROWS_PER_SEC 100000000
#define JOB_REASON_MAX 200

enum job_phase { JOB_PENDING, JOB_RUNNING, JOB_DONE, JOB_FAILED, JOB_STOPPED };

/* Settings an operator stored; -1 leaves the command line's value. batch_size 0: adaptive. */
struct job_settings {
    int64_t target_batch_ms;
    int64_t yield_ms;
    int64_t batch_size;
    int64_t max_rows_per_sec;
};

/* What the job last told the control plane, for `status`. */
struct job_report {
    int64_t processed, total;
    int64_t active_ms, paused_ms, throttled_ms;
    double recent_rate;
    int throttled;
    char throttle_reason[JOB_REASON_MAX];
};

struct job_control;

/*
 * One entry per registered job, with the command line's parameters as the
 * base the stored settings override. Returns 0 and sets *out.
 */
int job_control_new(const struct migration *registry, size_t count,
                    const struct migration_params *base, struct job_control **out, char **errp);
void job_control_free(struct job_control *ctl);

/* Reads the stored pauses and settings (a missing table means none). Call before threads start. */
int job_control_load(struct job_control *ctl, sqlite3 *db, char **errp);

/* The migration thread's waits: a command wakes them so it takes effect at once. */
void job_control_set_wake(struct job_control *ctl, struct migration_cancel *wake);
/* A descriptor the control thread polls; a byte is written to it whenever a job settles. */
void job_control_set_notify(struct job_control *ctl, int fd);

/* The job's index, or -1. */
int job_control_find(const struct job_control *ctl, const char *name);
size_t job_control_count(const struct job_control *ctl);

/*
 * Commands, from any thread, with that thread's own connection: each stores
 * the job's row in _job_control before it changes anything in memory, so
 * what an operator was told survives a kill -9. name may be "all". A ticket
 * from job_control_pause is settled once every job it named is between
 * batches (or not running); after that the jobs write no data.
 */
int job_control_pause(struct job_control *ctl, sqlite3 *db, const char *name, const char *reason,
                      uint64_t *ticket, char **errp);
int job_control_pause_settled(struct job_control *ctl, const char *name, uint64_t ticket);
int job_control_resume(struct job_control *ctl, sqlite3 *db, const char *name, char **errp);
/* key: target-batch-ms, yield-ms, batch-size, adaptive, max-rows-per-sec; value checked as the flags are. */
int job_control_set(struct job_control *ctl, sqlite3 *db, const char *name, const char *key,
                    const char *value, char **errp);
/* {"jobs": [...]}: phase, pause, throttle, counts, times, effective settings. */
struct json_object *job_control_status(struct job_control *ctl);

/* The migration thread's side. */
void job_control_set_phase(struct job_control *ctl, int job, enum job_phase phase);
/* The effective parameters and rate cap; *generation changes with every set. */
void job_control_params(struct job_control *ctl, int job, struct migration_params *params,
                        int64_t *max_rows_per_sec, uint64_t *generation);
/* Whether the job is paused; *ticket gets the pause to settle (0 when already settled). */
int job_control_paused(struct job_control *ctl, int job, uint64_t *ticket);
/*
 * The job is between batches and has written its last row: the pausing
 * command gets its reply, and from then on the job writes no data.
 */
void job_control_settle(struct job_control *ctl, int job, uint64_t ticket);
void job_control_report(struct job_control *ctl, int job, const struct job_report *report);
/* The job pauses itself (critical WAL); stored like an operator's pause. */
int job_control_self_pause(struct job_control *ctl, sqlite3 *db, int job, const char *reason,
                           char **errp);
/* The stored pause reason and time, for the log (reason "" when none). */
void job_control_pause_info(struct job_control *ctl, int job, char *reason, size_t size);

#endif
