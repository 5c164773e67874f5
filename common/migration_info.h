/* migration_info.h: turns one _async_migrations row into the migration info object of design §4. */
#ifndef MESHSCOPE_MIGRATION_INFO_H
#define MESHSCOPE_MIGRATION_INFO_H

#include <stdint.h>

#include <json-c/json.h>

/* The stall threshold when --stalled-after-s is not given. */
#define MIGRATION_STALLED_AFTER_MS_DEFAULT 60000

enum migration_state {
    MIGRATION_STATE_RUNNING,
    MIGRATION_STATE_DONE,
    MIGRATION_STATE_FAILED,
    MIGRATION_STATE_UNKNOWN,
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
};

struct migration_info {
    const char *name;              /* borrowed from the row */
    enum migration_state status;
    int has_started_at, has_ended_at, has_last_update_at;
    int64_t started_at, ended_at, last_update_at; /* unix seconds, when has_* */
    int64_t rows_processed, rows_total;
    double elapsed_sec, rate_per_sec, eta_sec;     /* always finite and >= 0 */
    char *error_message;           /* heap; NULL when there is none */
    int stalled;
};

/* pending_async -> running, done, failed; anything else (NULL included) -> unknown. */
enum migration_state migration_status_map(const char *stored);
const char *migration_status_name(enum migration_state status);

/*
 * Computes the info for row at wall-clock time now_ms. A running migration
 * whose last progress write (or start, before the first) is more than
 * stalled_after_ms old is stalled. Free with migration_info_free.
 */
void migration_info_compute(const struct migration_row *row, int64_t now_ms,
                            int64_t stalled_after_ms, struct migration_info *info);
void migration_info_free(struct migration_info *info);

/* The JSON object of design §4; optional fields are left out when absent. */
struct json_object *migration_info_to_json(const struct migration_info *info);

#endif
