/* job_control.c: pauses and settings per job, stored in _job_control and shared under one mutex. */
#include "job_control.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "encode.h"
#include "migration_params.h"
#include "schema.h"
#include "timefmt.h"
#include "util.h"
#include "writer_accounting.h"

struct job_entry {
    const char *name; /* the registry's */
    enum job_phase phase;
    int paused;
    int64_t paused_at; /* unix seconds */
    char pause_reason[JOB_REASON_MAX];
    uint64_t pause_ticket;  /* the ticket of the pause in force */
    uint64_t settled;       /* the highest ticket the job has settled */
    struct job_settings settings;
    uint64_t generation;    /* bumped by every set */
    struct job_report report;
};

struct job_control {
    pthread_mutex_t mutex;
    struct job_entry *jobs;
    size_t count;
    struct migration_params base;
    uint64_t next_ticket;
    struct migration_cancel *wake;
    int notify_fd;
};

static const struct job_settings job_settings_unset = {-1, -1, -1, -1};

int job_control_new(const struct migration *registry, size_t count,
                    const struct migration_params *base, struct job_control **out, char **errp)
{
    (void)errp;
    struct job_control *ctl = xcalloc(1, sizeof *ctl);
    pthread_mutex_init(&ctl->mutex, NULL);
    ctl->jobs = xcalloc(count ? count : 1, sizeof *ctl->jobs);
    ctl->count = count;
    ctl->base = *base;
    ctl->notify_fd = -1;
    for (size_t i = 0; i < count; i++) {
        ctl->jobs[i].name = registry[i].name;
        ctl->jobs[i].settings = job_settings_unset;
    }
    *out = ctl;
    return 0;
}

void job_control_free(struct job_control *ctl)
{
    if (ctl == NULL)
        return;
    pthread_mutex_destroy(&ctl->mutex);
    free(ctl->jobs);
    free(ctl);
}

void job_control_set_wake(struct job_control *ctl, struct migration_cancel *wake)
{
    pthread_mutex_lock(&ctl->mutex);
    ctl->wake = wake;
    pthread_mutex_unlock(&ctl->mutex);
}

void job_control_set_notify(struct job_control *ctl, int fd)
{
    pthread_mutex_lock(&ctl->mutex);
    ctl->notify_fd = fd;
    pthread_mutex_unlock(&ctl->mutex);
}

size_t job_control_count(const struct job_control *ctl)
{
    return ctl->count;
}

int job_control_find(const struct job_control *ctl, const char *name)
{
    for (size_t i = 0; i < ctl->count; i++)
        if (strcmp(ctl->jobs[i].name, name) == 0)
            return (int)i;
    return -1;
}

static int64_t column_or_unset(sqlite3_stmt *stmt, int col)
{
    return sqlite3_column_type(stmt, col) == SQLITE_NULL ? -1 : sqlite3_column_int64(stmt, col);
}

static void copy_reason(char *dst, const char *src)
{
    snprintf(dst, JOB_REASON_MAX, "%s", src ? src : "");
}

int job_control_load(struct job_control *ctl, sqlite3 *db, char **errp)
{
    static const char sql[] = "SELECT name, paused, paused_at, pause_reason, target_batch_ms,"
                              " yield_ms, batch_size, max_rows_per_sec FROM "
                              SCHEMA_JOB_CONTROL_TABLE;
    int present = 0;
    if (db_table_exists(db, SCHEMA_JOB_CONTROL_TABLE, &present, errp) != 0)
        return -1;
    if (!present)
        return 0;
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK)
        return set_error(errp, "reading %s: %s", SCHEMA_JOB_CONTROL_TABLE, sqlite3_errmsg(db));
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(stmt, 0);
        int i = name ? job_control_find(ctl, name) : -1;
        if (i < 0)
            continue; /* a job this build no longer has */
        struct job_entry *job = &ctl->jobs[i];
        job->paused = sqlite3_column_int(stmt, 1) != 0;
        const char *at = (const char *)sqlite3_column_text(stmt, 2);
        if (at == NULL || timefmt_parse(at, &job->paused_at, NULL) != 0)
            job->paused_at = 0;
        copy_reason(job->pause_reason, (const char *)sqlite3_column_text(stmt, 3));
        job->settings = (struct job_settings){column_or_unset(stmt, 4), column_or_unset(stmt, 5),
                                              column_or_unset(stmt, 6), column_or_unset(stmt, 7)};
    }
    if (rc != SQLITE_DONE) {
        set_error(errp, "reading %s: %s", SCHEMA_JOB_CONTROL_TABLE, sqlite3_errmsg(db));
        sqlite3_finalize(stmt);
        return -1;
    }
    sqlite3_finalize(stmt);
    return 0;
}

static void bind_or_null(sqlite3_stmt *stmt, int col, int64_t v)
{
    if (v < 0)
        sqlite3_bind_null(stmt, col);
    else
        sqlite3_bind_int64(stmt, col, v);
}

/* Stores one job's pause and settings as they are about to become (the caller holds the mutex). */
static int job_store(sqlite3 *db, const char *name, int paused, int64_t paused_at,
                     const char *reason, const struct job_settings *s, char **errp)
{
    static const char sql[] =
        "INSERT INTO " SCHEMA_JOB_CONTROL_TABLE "(name, paused, paused_at, pause_reason,"
        " target_batch_ms, yield_ms, batch_size, max_rows_per_sec, updated_at)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))"
        " ON CONFLICT(name) DO UPDATE SET paused = excluded.paused,"
        " paused_at = excluded.paused_at, pause_reason = excluded.pause_reason,"
        " target_batch_ms = excluded.target_batch_ms, yield_ms = excluded.yield_ms,"
        " batch_size = excluded.batch_size, max_rows_per_sec = excluded.max_rows_per_sec,"
        " updated_at = excluded.updated_at";
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK)
        return set_error(errp, "storing the control of %s: %s", name, sqlite3_errmsg(db));
    char stamp[TIMEFMT_RFC3339_LEN];
    sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int(stmt, 2, paused);
    if (paused) {
        timefmt_rfc3339(paused_at, stamp);
        sqlite3_bind_text(stmt, 3, stamp, -1, SQLITE_STATIC);
        sqlite3_bind_text(stmt, 4, reason, -1, SQLITE_STATIC);
    }
    bind_or_null(stmt, 5, s->target_batch_ms);
    bind_or_null(stmt, 6, s->yield_ms);
    bind_or_null(stmt, 7, s->batch_size);
    bind_or_null(stmt, 8, s->max_rows_per_sec);
    int rc = sqlite3_step(stmt);
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE)
        return set_error(errp, "storing the control of %s: %s", name, sqlite3_errmsg(db));
    return 0;
}

/* Under the mutex, so the runner cannot take its waits away meanwhile (lock order: ours, then the wait's). */
static void job_control_wake(struct job_control *ctl)
{
    pthread_mutex_lock(&ctl->mutex);
    if (ctl->wake != NULL)
        migration_cancel_wake(ctl->wake);
    pthread_mutex_unlock(&ctl->mutex);
}

static void job_control_notify(struct job_control *ctl)
{
    pthread_mutex_lock(&ctl->mutex);
    if (ctl->notify_fd >= 0) {
        char byte = 1;
        /* Non-blocking: a full pipe already holds a wake-up, so a failure loses nothing. */
        ssize_t ignored = write(ctl->notify_fd, &byte, 1);
        (void)ignored;
    }
    pthread_mutex_unlock(&ctl->mutex);
}

/* Resolves name ("all" or a job) to [*first, *end); -1 with a message when there is none. */
static int job_range(const struct job_control *ctl, const char *name, size_t *first, size_t *end,
                     char **errp)
{
    if (strcmp(name, "all") == 0) {
        *first = 0;
        *end = ctl->count;
        return 0;
    }
    int i = job_control_find(ctl, name);
    if (i < 0)
        return set_error(errp, "no job named '%s' (status lists them)", name);
    *first = (size_t)i;
    *end = (size_t)i + 1;
    return 0;
}

/* Stores then applies one job's new pause state; the caller holds the mutex and a transaction. */
static int job_apply_pause(sqlite3 *db, struct job_entry *job, int paused, const char *reason,
                           uint64_t ticket, char **errp)
{
    int64_t at = paused ? (job->paused ? job->paused_at : (int64_t)time(NULL)) : 0;
    const char *why = paused ? (reason && *reason ? reason : "operator") : NULL;
    if (job_store(db, job->name, paused, at, why, &job->settings, errp) != 0)
        return -1;
    job->paused = paused;
    job->paused_at = at;
    copy_reason(job->pause_reason, why);
    if (paused)
        job->pause_ticket = ticket;
    return 0;
}

/* Applies pause or resume to every job of name in one transaction. */
static int job_control_change_pause(struct job_control *ctl, sqlite3 *db, const char *name,
                                    int paused, const char *reason, uint64_t *ticket,
                                    char **errp)
{
    size_t first = 0, end = 0;
    if (job_range(ctl, name, &first, &end, errp) != 0)
        return -1;
    struct writer_txn txn;
    if (writer_txn_begin(db, WRITER_SOURCE_CONTROL, "storing the pause", &txn, errp) != 0)
        return -1;
    pthread_mutex_lock(&ctl->mutex);
    uint64_t t = ++ctl->next_ticket;
    int rc = 0;
    size_t n = end - first;
    struct job_entry *saved = xcalloc(n ? n : 1, sizeof *saved);
    memcpy(saved, &ctl->jobs[first], n * sizeof *saved);
    for (size_t i = first; i < end && rc == 0; i++)
        rc = job_apply_pause(db, &ctl->jobs[i], paused, reason, t, errp);
    if (rc == 0 && writer_txn_commit(db, &txn, "storing the pause", errp) != 0)
        rc = -1;
    if (rc != 0) {
        memcpy(&ctl->jobs[first], saved, n * sizeof *saved); /* nothing changed after all */
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    }
    pthread_mutex_unlock(&ctl->mutex);
    free(saved);
    if (rc == 0)
        job_control_wake(ctl);
    if (ticket != NULL)
        *ticket = t;
    return rc;
}

int job_control_pause(struct job_control *ctl, sqlite3 *db, const char *name, const char *reason,
                      uint64_t *ticket, char **errp)
{
    return job_control_change_pause(ctl, db, name, 1, reason, ticket, errp);
}

int job_control_resume(struct job_control *ctl, sqlite3 *db, const char *name, char **errp)
{
    return job_control_change_pause(ctl, db, name, 0, NULL, NULL, errp);
}

int job_control_pause_settled(struct job_control *ctl, const char *name, uint64_t ticket)
{
    size_t first = 0, end = 0;
    if (job_range(ctl, name, &first, &end, NULL) != 0)
        return 1;
    int settled = 1;
    pthread_mutex_lock(&ctl->mutex);
    for (size_t i = first; i < end; i++) {
        const struct job_entry *job = &ctl->jobs[i];
        /* Resumed since, superseded by a later pause, or not running: nothing to wait for. */
        if (job->paused && job->pause_ticket == ticket && job->phase == JOB_RUNNING &&
            job->settled < ticket)
            settled = 0;
    }
    pthread_mutex_unlock(&ctl->mutex);
    return settled;
}

/* Parses VALUE for KEY into *s, with the bounds and messages of the command-line flags. */
static int job_parse_setting(const char *key, const char *value, struct job_settings *s,
                             char **errp)
{
    if (strcmp(key, "adaptive") == 0) {
        if (value != NULL && strcmp(value, "on") != 0 && strcmp(value, "true") != 0 &&
            strcmp(value, "1") != 0)
            return set_error(errp, "adaptive takes no value (or 'on'); for fixed batches use"
                                   " set JOB batch-size N");
        s->batch_size = 0;
        return 0;
    }
    if (value == NULL)
        return set_error(errp, "set %s needs a value", key);
    if (strcmp(key, "target-batch-ms") == 0)
        return parse_int64(value, 1, MIGRATION_MAX_TARGET_BATCH_MS, "--target-batch-ms",
                           &s->target_batch_ms, errp);
    if (strcmp(key, "yield-ms") == 0)
        return parse_int64(value, 0, MIGRATION_MAX_YIELD_MS, "--yield-ms", &s->yield_ms, errp);
    if (strcmp(key, "batch-size") == 0)
        return parse_int64(value, 1, MIGRATION_MAX_BATCH_SIZE, "--batch-size", &s->batch_size,
                           errp);
    if (strcmp(key, "max-rows-per-sec") == 0)
        return parse_int64(value, 0, JOB_MAX_ROWS_PER_SEC, "max-rows-per-sec",
                           &s->max_rows_per_sec, errp);
    return set_error(errp, "unknown setting '%s' (target-batch-ms, yield-ms, batch-size,"
                           " adaptive, max-rows-per-sec)", key);
}

int job_control_set(struct job_control *ctl, sqlite3 *db, const char *name, const char *key,
                    const char *value, char **errp)
{
    size_t first = 0, end = 0;
    if (job_range(ctl, name, &first, &end, errp) != 0)
        return -1;
    struct job_settings probe = job_settings_unset;
    if (job_parse_setting(key, value, &probe, errp) != 0)
        return -1;
    struct writer_txn txn;
    if (writer_txn_begin(db, WRITER_SOURCE_CONTROL, "storing the setting", &txn, errp) != 0)
        return -1;
    int rc = 0;
    pthread_mutex_lock(&ctl->mutex);
    struct job_settings *next = xcalloc(end > first ? end - first : 1, sizeof *next);
    for (size_t i = first; i < end && rc == 0; i++) {
        struct job_entry *job = &ctl->jobs[i];
        next[i - first] = job->settings;
        job_parse_setting(key, value, &next[i - first], NULL);
        rc = job_store(db, job->name, job->paused, job->paused_at, job->pause_reason,
                       &next[i - first], errp);
    }
    if (rc == 0 && writer_txn_commit(db, &txn, "storing the setting", errp) != 0)
        rc = -1;
    if (rc == 0) {
        for (size_t i = first; i < end; i++) {
            ctl->jobs[i].settings = next[i - first];
            ctl->jobs[i].generation++;
        }
    } else {
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    }
    pthread_mutex_unlock(&ctl->mutex);
    free(next);
    if (rc == 0)
        job_control_wake(ctl);
    return rc;
}

/* The base parameters with the job's stored settings over them (the caller holds the mutex). */
static void job_effective(const struct job_control *ctl, const struct job_entry *job,
                          struct migration_params *params, int64_t *max_rows)
{
    *params = ctl->base;
    const struct job_settings *s = &job->settings;
    if (s->target_batch_ms > 0)
        params->target_batch_ms = s->target_batch_ms;
    if (s->yield_ms >= 0)
        params->yield_ms = s->yield_ms;
    if (s->batch_size == 0) {
        params->adaptive = 1;
    } else if (s->batch_size > 0) {
        params->adaptive = 0;
        params->batch_size = s->batch_size;
    }
    *max_rows = s->max_rows_per_sec > 0 ? s->max_rows_per_sec : 0;
}

void job_control_params(struct job_control *ctl, int job, struct migration_params *params,
                        int64_t *max_rows_per_sec, uint64_t *generation)
{
    pthread_mutex_lock(&ctl->mutex);
    job_effective(ctl, &ctl->jobs[job], params, max_rows_per_sec);
    if (generation != NULL)
        *generation = ctl->jobs[job].generation;
    pthread_mutex_unlock(&ctl->mutex);
}

void job_control_set_phase(struct job_control *ctl, int job, enum job_phase phase)
{
    pthread_mutex_lock(&ctl->mutex);
    ctl->jobs[job].phase = phase;
    pthread_mutex_unlock(&ctl->mutex);
    job_control_notify(ctl); /* a job that stops running settles its pauses */
}

int job_control_paused(struct job_control *ctl, int job, uint64_t *ticket)
{
    pthread_mutex_lock(&ctl->mutex);
    struct job_entry *entry = &ctl->jobs[job];
    int paused = entry->paused;
    *ticket = paused && entry->settled < entry->pause_ticket ? entry->pause_ticket : 0;
    pthread_mutex_unlock(&ctl->mutex);
    return paused;
}

void job_control_settle(struct job_control *ctl, int job, uint64_t ticket)
{
    pthread_mutex_lock(&ctl->mutex);
    if (ctl->jobs[job].settled < ticket)
        ctl->jobs[job].settled = ticket;
    pthread_mutex_unlock(&ctl->mutex);
    job_control_notify(ctl);
}

void job_control_report(struct job_control *ctl, int job, const struct job_report *report)
{
    pthread_mutex_lock(&ctl->mutex);
    ctl->jobs[job].report = *report;
    pthread_mutex_unlock(&ctl->mutex);
}

int job_control_self_pause(struct job_control *ctl, sqlite3 *db, int job, const char *reason,
                           char **errp)
{
    return job_control_pause(ctl, db, ctl->jobs[job].name, reason, NULL, errp);
}

void job_control_pause_info(struct job_control *ctl, int job, char *reason, size_t size)
{
    pthread_mutex_lock(&ctl->mutex);
    snprintf(reason, size, "%s", ctl->jobs[job].paused ? ctl->jobs[job].pause_reason : "");
    pthread_mutex_unlock(&ctl->mutex);
}

static const char *job_phase_name(enum job_phase phase)
{
    switch (phase) {
    case JOB_PENDING: return "pending";
    case JOB_RUNNING: return "running";
    case JOB_DONE: return "done";
    case JOB_FAILED: return "failed";
    case JOB_STOPPED: return "stopped";
    }
    return "unknown";
}

static void add_int(json_object *obj, const char *key, int64_t v)
{
    json_object_object_add(obj, key, json_object_new_int64(v));
}

static json_object *job_settings_json(const struct job_control *ctl, const struct job_entry *job)
{
    struct migration_params p;
    int64_t max_rows = 0;
    job_effective(ctl, job, &p, &max_rows);
    json_object *s = json_object_new_object();
    json_object_object_add(s, "adaptive", json_object_new_boolean(p.adaptive));
    add_int(s, "targetBatchMs", p.target_batch_ms);
    if (!p.adaptive)
        add_int(s, "batchSize", p.batch_size);
    add_int(s, "yieldMs", p.yield_ms);
    add_int(s, "maxRowsPerSec", max_rows);
    return s;
}

static json_object *job_json(const struct job_control *ctl, const struct job_entry *job)
{
    const struct job_report *r = &job->report;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "name", json_object_new_string(job->name));
    /* A pending job with a stored pause will start paused: it reads paused already. */
    int live = job->phase == JOB_RUNNING || job->phase == JOB_PENDING;
    const char *state = live && job->paused            ? "paused"
                        : job->phase != JOB_RUNNING    ? job_phase_name(job->phase)
                        : r->throttled                 ? "throttled"
                                                       : "running";
    json_object_object_add(o, "state", json_object_new_string(state));
    json_object_object_add(o, "paused", json_object_new_boolean(job->paused));
    if (job->paused) {
        char stamp[TIMEFMT_RFC3339_LEN];
        timefmt_rfc3339(job->paused_at, stamp);
        json_object_object_add(o, "pausedAt", json_object_new_string(stamp));
        json_object_object_add(o, "pauseReason", encode_json_string(job->pause_reason));
    }
    json_object_object_add(o, "throttled", json_object_new_boolean(r->throttled));
    if (r->throttled)
        json_object_object_add(o, "throttleReason", encode_json_string(r->throttle_reason));
    add_int(o, "rowsProcessed", r->processed);
    add_int(o, "rowsTotal", r->total);
    json_object_object_add(o, "activeSec", encode_json_number((double)r->active_ms / 1000.0));
    json_object_object_add(o, "pausedSec", encode_json_number((double)r->paused_ms / 1000.0));
    json_object_object_add(o, "throttledSec",
                           encode_json_number((double)r->throttled_ms / 1000.0));
    double rate = r->active_ms > 0 ? (double)r->processed * 1000.0 / (double)r->active_ms : 0.0;
    json_object_object_add(o, "ratePerSec", encode_json_number(rate));
    json_object_object_add(o, "recentRatePerSec", encode_json_number(r->recent_rate));
    double pace = r->recent_rate > 0 ? r->recent_rate : rate;
    double eta = !job->paused && pace > 0 && r->total > r->processed
                     ? (double)(r->total - r->processed) / pace : 0.0;
    json_object_object_add(o, "etaSec", encode_json_number(eta));
    json_object_object_add(o, "settings", job_settings_json(ctl, job));
    return o;
}

struct json_object *job_control_status(struct job_control *ctl)
{
    json_object *list = json_object_new_array();
    pthread_mutex_lock(&ctl->mutex);
    for (size_t i = 0; i < ctl->count; i++)
        json_object_array_add(list, job_json(ctl, &ctl->jobs[i]));
    pthread_mutex_unlock(&ctl->mutex);
    return list;
}
