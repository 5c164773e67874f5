/* migration_info.c: status mapping, elapsed/rate/ETA arithmetic and stall detection (docs/api.md). */
#include "migration_info.h"

#include <math.h>
#include <string.h>

#include "db.h"
#include "encode.h"
#include "schema.h"
#include "timefmt.h"
#include "util.h"

enum migration_state migration_status_map(const char *stored)
{
    if (stored == NULL)
        return MIGRATION_STATE_UNKNOWN;
    if (strcmp(stored, MIGRATION_STATUS_PENDING) == 0)
        return MIGRATION_STATE_RUNNING;
    if (strcmp(stored, MIGRATION_STATUS_DONE) == 0)
        return MIGRATION_STATE_DONE;
    if (strcmp(stored, MIGRATION_STATUS_FAILED) == 0)
        return MIGRATION_STATE_FAILED;
    return MIGRATION_STATE_UNKNOWN;
}

const char *migration_status_name(enum migration_state status)
{
    switch (status) {
    case MIGRATION_STATE_RUNNING: return "running";
    case MIGRATION_STATE_DONE: return "done";
    case MIGRATION_STATE_FAILED: return "failed";
    case MIGRATION_STATE_PAUSED: return "paused";
    case MIGRATION_STATE_UNKNOWN: break;
    }
    return "unknown";
}

void migration_row_read(sqlite3_stmt *stmt, struct migration_row *row)
{
    *row = (struct migration_row){
        .name = db_column_text_dup(stmt, 0),
        .status = db_column_text_dup(stmt, 1),
        .started_at = db_column_text_dup(stmt, 2),
        .ended_at = db_column_text_dup(stmt, 3),
        .error = db_column_text_dup(stmt, 4),
        .rows_processed = sqlite3_column_int64(stmt, 5),
        .rows_total = sqlite3_column_int64(stmt, 6),
        .last_update_at = db_column_text_dup(stmt, 7),
        .has_control = sqlite3_column_int(stmt, 8),
        .active_ms = sqlite3_column_int64(stmt, 9),
        .paused_ms = sqlite3_column_int64(stmt, 10),
        .throttled_ms = sqlite3_column_int64(stmt, 11),
        .recent_rate = sqlite3_column_double(stmt, 12),
        .throttle_reason = db_column_text_dup(stmt, 13),
        .paused = sqlite3_column_int(stmt, 14) != 0,
        .paused_at = db_column_text_dup(stmt, 15),
        .pause_reason = db_column_text_dup(stmt, 16),
        .recurring = sqlite3_column_int(stmt, 17) != 0,
        .every_s = sqlite3_column_int64(stmt, 18),
        .next_run_at = db_column_text_dup(stmt, 19),
    };
}

void migration_row_free(struct migration_row *row)
{
    free(row->name);
    free(row->status);
    free(row->started_at);
    free(row->ended_at);
    free(row->error);
    free(row->last_update_at);
    free(row->throttle_reason);
    free(row->paused_at);
    free(row->pause_reason);
    free(row->next_run_at);
    *row = (struct migration_row){0};
}

/* Appends "column: message" to *message, separated by "; ". */
static void append_message(char **message, const char *text)
{
    char *joined = *message ? xasprintf("%s; %s", *message, text) : xstrdup(text);
    free(*message);
    *message = joined;
}

/* NULL is "absent", not an error; anything else must parse. */
static void parse_time(const char *column, const char *text, int *has, int64_t *epoch,
                       char **message)
{
    *has = 0;
    if (text == NULL)
        return;
    char *err = NULL;
    if (timefmt_parse(text, epoch, &err) == 0) {
        *has = 1;
        return;
    }
    char *line = xasprintf("%s: %s", column, err);
    append_message(message, line);
    free(line);
    free(err);
}

/* Non-negative, finite seconds between two instants given in milliseconds. */
static double seconds_between(double from_ms, double to_ms)
{
    double s = (to_ms - from_ms) / 1000.0;
    return isfinite(s) && s > 0 ? s : 0.0;
}

/* Non-negative, finite seconds from stored milliseconds. */
static double ms_to_sec(int64_t ms)
{
    return ms > 0 ? (double)ms / 1000.0 : 0.0;
}

/* The operator-control fields; the rate over active time and the recent-rate ETA. */
static void control_compute(const struct migration_row *row, struct migration_info *info,
                            double processed, double remaining)
{
    info->has_control = 1;
    info->active_sec = ms_to_sec(row->active_ms);
    info->paused_sec = ms_to_sec(row->paused_ms);
    info->throttled_sec = ms_to_sec(row->throttled_ms);
    info->recent_rate_per_sec = row->recent_rate > 0 ? encode_finite(row->recent_rate) : 0.0;
    int live = info->status == MIGRATION_STATE_RUNNING || info->status == MIGRATION_STATE_PAUSED;
    info->throttled = live && row->throttle_reason != NULL;
    info->throttle_reason = info->throttled ? row->throttle_reason : NULL;
    if (info->status == MIGRATION_STATE_PAUSED) {
        info->pause_reason = row->pause_reason ? row->pause_reason : "";
        parse_time("paused_at", row->paused_at, &info->has_paused_at, &info->paused_at,
                   &info->error_message);
    }
    /* Before the first progress write there is no active time yet: keep the wall-time rate. */
    if (info->active_sec > 0)
        info->rate_per_sec = processed / info->active_sec;
    if (info->status == MIGRATION_STATE_PAUSED) {
        info->eta_sec = 0.0;
    } else if (info->status == MIGRATION_STATE_RUNNING) {
        double pace = info->recent_rate_per_sec > 0 ? info->recent_rate_per_sec
                                                    : info->rate_per_sec;
        info->eta_sec = pace > 0 ? remaining / pace : 0.0;
    }
}

void migration_info_compute(const struct migration_row *row, int64_t now_ms,
                            int64_t stalled_after_ms, struct migration_info *info)
{
    memset(info, 0, sizeof *info);
    info->name = row->name ? row->name : "";
    info->status = migration_status_map(row->status);
    if (info->status == MIGRATION_STATE_RUNNING && row->has_control && row->paused)
        info->status = MIGRATION_STATE_PAUSED;
    info->rows_processed = row->rows_processed;
    info->rows_total = row->rows_total;

    /* The stored error explains a failure only; a parse problem is reported whatever the status. */
    if (info->status == MIGRATION_STATE_FAILED && row->error != NULL)
        info->error_message = xstrdup(row->error);
    parse_time("started_at", row->started_at, &info->has_started_at, &info->started_at,
               &info->error_message);
    parse_time("ended_at", row->ended_at, &info->has_ended_at, &info->ended_at,
               &info->error_message);
    parse_time("last_update_at", row->last_update_at, &info->has_last_update_at,
               &info->last_update_at, &info->error_message);

    /* Arithmetic in double: stored counts may be any int64, and double cannot overflow here. */
    double processed = row->rows_processed > 0 ? (double)row->rows_processed : 0.0;
    double total = row->rows_total > 0 ? (double)row->rows_total : 0.0;
    double remaining = total > processed ? total - processed : 0.0;
    double started_ms = (double)info->started_at * 1000.0;
    int live = info->status == MIGRATION_STATE_RUNNING || info->status == MIGRATION_STATE_PAUSED;

    if (live) {
        if (info->has_started_at)
            info->elapsed_sec = seconds_between(started_ms, (double)now_ms);
        if (info->elapsed_sec > 0)
            info->rate_per_sec = processed / info->elapsed_sec;
        if (info->rate_per_sec > 0)
            info->eta_sec = remaining / info->rate_per_sec;

        /* Without a progress write yet, the start is the last sign of life. */
        int has_ref = info->has_last_update_at || info->has_started_at;
        double ref_ms = info->has_last_update_at ? (double)info->last_update_at * 1000.0
                                                 : started_ms;
        info->stalled = has_ref && (double)now_ms - ref_ms > (double)stalled_after_ms;
    } else {
        if (info->has_started_at && info->has_ended_at)
            info->elapsed_sec = seconds_between(started_ms, (double)info->ended_at * 1000.0);
        if (info->elapsed_sec > 0)
            info->rate_per_sec = processed / info->elapsed_sec;
    }
    if (row->has_control)
        control_compute(row, info, processed, remaining);
    info->recurring = row->recurring;
    if (info->recurring) {
        info->every_s = row->every_s > 0 ? row->every_s : 0;
        parse_time("next_run_at", row->next_run_at, &info->has_next_run_at, &info->next_run_at,
                   &info->error_message);
    }
    info->elapsed_sec = encode_finite(info->elapsed_sec);
    info->rate_per_sec = encode_finite(info->rate_per_sec);
    info->eta_sec = encode_finite(info->eta_sec);
}

void migration_info_free(struct migration_info *info)
{
    free(info->error_message);
    info->error_message = NULL;
}

static void add_time(struct json_object *obj, const char *key, int has, int64_t epoch)
{
    if (!has)
        return;
    char buf[TIMEFMT_RFC3339_LEN];
    if (timefmt_rfc3339(epoch, buf) != 0)
        return; /* timefmt_parse yields only instants it can write back */
    json_object_object_add(obj, key, json_object_new_string(buf));
}

static void control_to_json(struct json_object *obj, const struct migration_info *info)
{
    json_object_object_add(obj, "activeSec", encode_json_number(info->active_sec));
    json_object_object_add(obj, "pausedSec", encode_json_number(info->paused_sec));
    json_object_object_add(obj, "throttledSec", encode_json_number(info->throttled_sec));
    json_object_object_add(obj, "recentRatePerSec", encode_json_number(info->recent_rate_per_sec));
    json_object_object_add(obj, "throttled", json_object_new_boolean(info->throttled));
    if (info->throttle_reason != NULL)
        json_object_object_add(obj, "throttleReason", encode_json_string(info->throttle_reason));
    add_time(obj, "pausedAt", info->has_paused_at, info->paused_at);
    if (info->pause_reason != NULL)
        json_object_object_add(obj, "pauseReason", encode_json_string(info->pause_reason));
}

struct json_object *migration_info_to_json(const struct migration_info *info)
{
    struct json_object *obj = json_object_new_object();
    json_object_object_add(obj, "name", encode_json_string(info->name));
    json_object_object_add(obj, "status",
                           json_object_new_string(migration_status_name(info->status)));
    add_time(obj, "startedAt", info->has_started_at, info->started_at);
    add_time(obj, "endedAt", info->has_ended_at, info->ended_at);
    add_time(obj, "lastUpdateAt", info->has_last_update_at, info->last_update_at);
    json_object_object_add(obj, "rowsProcessed", json_object_new_int64(info->rows_processed));
    json_object_object_add(obj, "rowsTotal", json_object_new_int64(info->rows_total));
    json_object_object_add(obj, "elapsedSec", encode_json_number(info->elapsed_sec));
    json_object_object_add(obj, "etaSec", encode_json_number(info->eta_sec));
    json_object_object_add(obj, "ratePerSec", encode_json_number(info->rate_per_sec));
    if (info->error_message != NULL)
        json_object_object_add(obj, "errorMessage", encode_json_string(info->error_message));
    json_object_object_add(obj, "stalled", json_object_new_boolean(info->stalled));
    if (info->has_control)
        control_to_json(obj, info);
    json_object_object_add(obj, "kind", json_object_new_string(info->recurring ? "recurring"
                                                                               : "migration"));
    if (info->recurring) {
        json_object_object_add(obj, "everySec", json_object_new_int64(info->every_s));
        add_time(obj, "nextRunAt", info->has_next_run_at, info->next_run_at);
    }
    return obj;
}
