/* migration_info.h: turns one _async_migrations row into the migration info object of docs/api.md. */
#ifndef MESHSCOPE_MIGRATION_INFO_H
#define MESHSCOPE_MIGRATION_INFO_H

#include <stdint.h>

#include <json-c/json.h>
#include <sqlite3.h>

#include "schema.h"

/* The stall threshold when --stalled-after-s is not given. */
#define MIGRATION_STALLED_AFTER_MS_DEFAULT 60000

enum migration_state {
    MIGRATION_STATE_RUNNING,
    MIGRATION_STATE_DONE,
    MIGRATION_STATE_FAILED,
    MIGRATION_STATE_UNKNOWN,
    MIGRATION_STATE_PAUSED, /* pending_async with a pause stored in _job_control */
};

/* One row as stored; every text may be NULL. */
struct migration_row {
    char *name;
    char *status;
    char *started_at;
    char *ended_at;
    char *error;
    char *last_update_at;
    int64_t rows_processed;
    int64_t rows_total;
    /* Operator control (docs/operations.md); has_control is 0 for a database without it. */
    int has_control;
    int64_t active_ms, paused_ms, throttled_ms;
    double recent_rate;
    char *throttle_reason; /* NULL: not throttled */
    int paused;
    char *paused_at;
    char *pause_reason;
    /* A recurring job's row (every_s is not NULL): its interval and next run. */
    int recurring;
    int64_t every_s;
    char *next_run_at;
};

/*
 * The columns migration_row_read expects, in its order, from
 * _async_migrations joined with _job_control; MIGRATION_ROW_SELECT_BASIC
 * reads a database without operator control (its extra columns are NULL).
 */
#define MIGRATION_ROW_SELECT                                                                 \
    "SELECT m.name, m.status, m.started_at, m.ended_at, m.error, m.rows_processed,"           \
    " m.rows_total, m.last_update_at, 1, m.active_ms, m.paused_ms, m.throttled_ms,"           \
    " m.recent_rate, m.throttle_reason, c.paused, c.paused_at, c.pause_reason,"               \
    " m.every_s IS NOT NULL, m.every_s, m.next_run_at"                                        \
    " FROM " SCHEMA_MIGRATIONS_TABLE " AS m LEFT JOIN " SCHEMA_JOB_CONTROL_TABLE " AS c"         \
    " ON c.name = m.name"             \
    " ORDER BY m.name"
#define MIGRATION_ROW_SELECT_BASIC                                                           \
    "SELECT name, status, started_at, ended_at, error, rows_processed, rows_total,"           \
    " last_update_at, 0, 0, 0, 0, 0, NULL, 0, NULL, NULL, 0, NULL, NULL"                        \
    " FROM " SCHEMA_MIGRATIONS_TABLE                                                            \
    " ORDER BY name"

/* Fills *row from the current result row of a MIGRATION_ROW_SELECT statement (heap copies). */
void migration_row_read(sqlite3_stmt *stmt, struct migration_row *row);
void migration_row_free(struct migration_row *row);

struct migration_info {
    const char *name;              /* borrowed from the row */
    enum migration_state status;
    int has_started_at, has_ended_at, has_last_update_at;
    int64_t started_at, ended_at, last_update_at; /* unix seconds, when has_* */
    int64_t rows_processed, rows_total;
    double elapsed_sec, rate_per_sec, eta_sec;     /* always finite and >= 0 */
    char *error_message;           /* heap; NULL when there is none */
    int stalled;
    /* Operator control, when the row has it (has_control). */
    int has_control;
    double active_sec, paused_sec, throttled_sec, recent_rate_per_sec;
    int throttled;
    const char *throttle_reason;   /* borrowed from the row */
    int has_paused_at;
    int64_t paused_at;
    const char *pause_reason;      /* borrowed from the row; NULL unless paused */
    /* A recurring job (retention): it never warms the site up, and says when it runs next. */
    int recurring;
    int64_t every_s;
    int has_next_run_at;
    int64_t next_run_at;
};

/* pending_async -> running (paused when a pause is stored), done, failed; anything else (NULL included) -> unknown. */
enum migration_state migration_status_map(const char *stored);
const char *migration_status_name(enum migration_state status);

/*
 * Computes the info for row at wall-clock time now_ms. A running or paused
 * migration whose last progress write (or start, before the first) is more
 * than stalled_after_ms old is stalled: the worker refreshes the row of a
 * live job, paused or throttled too, well within that. With operator
 * control, the rate is over active time (wall time minus paused and
 * throttled time) and the ETA uses the worker's recent rate (the lifetime
 * rate until there is one), 0 while paused. Free with migration_info_free.
 */
void migration_info_compute(const struct migration_row *row, int64_t now_ms,
                            int64_t stalled_after_ms, struct migration_info *info);
void migration_info_free(struct migration_info *info);

/* The migration info object of docs/api.md; optional fields are left out when absent. */
struct json_object *migration_info_to_json(const struct migration_info *info);

#endif
