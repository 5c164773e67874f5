/* test_common_migration_info.c: the migration info rules of docs/api.md (status, times, elapsed/rate/ETA, stall, no NaN). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <time.h>

#include <cmocka.h>

#include "encode.h"
#include "utf8.h"
#include "migration_info.h"
#include "timefmt.h"

/* 2024-01-01T00:00:00Z */
#define T0 1704067200LL
#define MS(s) ((int64_t)(s) * 1000)
#define STALL MS(60)

static void status_mapping_by_table(void **state)
{
    (void)state;
    static const struct {
        const char *stored;
        enum migration_state status;
        const char *name;
    } cases[] = {
        {"pending_async", MIGRATION_STATE_RUNNING, "running"},
        {"done", MIGRATION_STATE_DONE, "done"},
        {"failed", MIGRATION_STATE_FAILED, "failed"},
        {"running", MIGRATION_STATE_UNKNOWN, "unknown"},
        {"pending", MIGRATION_STATE_UNKNOWN, "unknown"},
        {"PENDING_ASYNC", MIGRATION_STATE_UNKNOWN, "unknown"},
        {"pending_async ", MIGRATION_STATE_UNKNOWN, "unknown"},
        {"", MIGRATION_STATE_UNKNOWN, "unknown"},
        {"cancelled", MIGRATION_STATE_UNKNOWN, "unknown"},
        {NULL, MIGRATION_STATE_UNKNOWN, "unknown"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        enum migration_state s = migration_status_map(cases[i].stored);
        if (s != cases[i].status)
            fail_msg("case %zu (%s): mapped to %s", i, cases[i].stored ? cases[i].stored : "NULL",
                     migration_status_name(s));
        assert_string_equal(migration_status_name(s), cases[i].name);
    }
}

/* Computes and serializes one row, returning the parsed JSON object (caller puts it). */
static struct json_object *info_json(struct migration_row *row, int64_t now_ms, struct migration_info *info)
{
    migration_info_compute(row, now_ms, STALL, info);
    struct json_object *obj = migration_info_to_json(info);
    const char *text = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN);
    struct json_object *parsed = json_tokener_parse(text);
    if (parsed == NULL)
        fail_msg("not JSON: %s", text);
    json_object_put(obj);
    return parsed;
}

static const char *get_str(struct json_object *obj, const char *key)
{
    struct json_object *v = NULL;
    return json_object_object_get_ex(obj, key, &v) ? json_object_get_string(v) : NULL;
}

static double get_num(struct json_object *obj, const char *key)
{
    struct json_object *v = NULL;
    if (!json_object_object_get_ex(obj, key, &v))
        fail_msg("missing %s", key);
    return json_object_get_double(v);
}

static void both_timestamp_formats_parse_to_the_same_instant(void **state)
{
    (void)state;
    struct migration_row row = {
        .name = "m", .status = "done",
        .started_at = "2024-01-01 00:00:00",   /* datetime('now') form */
        .ended_at = "2024-01-01T00:01:40Z",     /* RFC 3339 form */
        .last_update_at = "2024-01-01T00:01:39Z",
        .rows_processed = 500, .rows_total = 500,
    };
    struct migration_info info;
    struct json_object *j = info_json(&row, MS(T0 + 1000), &info);
    assert_int_equal(info.started_at, T0);
    assert_int_equal(info.ended_at, T0 + 100);
    assert_string_equal(get_str(j, "startedAt"), "2024-01-01T00:00:00Z");
    assert_string_equal(get_str(j, "endedAt"), "2024-01-01T00:01:40Z");
    assert_string_equal(get_str(j, "lastUpdateAt"), "2024-01-01T00:01:39Z");
    assert_null(get_str(j, "errorMessage"));
    assert_true(get_num(j, "elapsedSec") == 100.0);
    assert_true(get_num(j, "ratePerSec") == 5.0);
    assert_true(get_num(j, "etaSec") == 0.0);
    migration_info_free(&info);
    json_object_put(j);
}

struct parse_error_case {
    const char *status;
    const char *started_at, *ended_at, *last_update_at;
    const char *error;
    const char *expected_message; /* exact errorMessage, or NULL for none */
};

static void parse_errors_append_to_error_message_whatever_the_status(void **state)
{
    (void)state;
    static const struct parse_error_case cases[] = {
        {"pending_async", "yesterday", NULL, NULL, NULL,
         "started_at: unparseable timestamp 'yesterday'"},
        {"done", "2024-01-01 00:00:00", "2024-13-01 00:00:00", NULL, "ignored",
         "ended_at: timestamp out of range '2024-13-01 00:00:00'"},
        {"failed", "2024-01-01 00:00:00", "2024-01-01T00:00:05", NULL, "disk full",
         "disk full; ended_at: unparseable timestamp '2024-01-01T00:00:05'"},
        {"failed", "2024-01-01 00:00:00", NULL, NULL, NULL, NULL},
        {"failed", "2024-01-01 00:00:00", NULL, NULL, "boom", "boom"},
        {"done", "2024-01-01 00:00:00", NULL, NULL, "stale error from an earlier run", NULL},
        {"pending_async", "2024-01-01 00:00:00", NULL, NULL, "stale", NULL},
        {"whatever", "2024-02-30 00:00:00", "", "2024-01-01 00:00:00Z", "x",
         "started_at: timestamp out of range '2024-02-30 00:00:00'; ended_at: unparseable "
         "timestamp ''; last_update_at: unparseable timestamp '2024-01-01 00:00:00Z'"},
        {"pending_async", "2024-01-01 00:00:00", NULL, "2024-01-01T24:00:00Z", NULL,
         "last_update_at: timestamp out of range '2024-01-01T24:00:00Z'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct parse_error_case *c = &cases[i];
        struct migration_row row = {
            .name = "m", .status = (char *)c->status, .started_at = (char *)c->started_at,
            .ended_at = (char *)c->ended_at, .last_update_at = (char *)c->last_update_at,
            .error = (char *)c->error, .rows_processed = 1, .rows_total = 2,
        };
        struct migration_info info;
        struct json_object *j = info_json(&row, MS(T0 + 10), &info);
        const char *msg = get_str(j, "errorMessage");
        if (c->expected_message == NULL && msg != NULL)
            fail_msg("case %zu: unexpected errorMessage '%s'", i, msg);
        if (c->expected_message != NULL && (msg == NULL || strcmp(msg, c->expected_message) != 0))
            fail_msg("case %zu: errorMessage '%s', expected '%s'", i, msg ? msg : "(none)",
                     c->expected_message);
        migration_info_free(&info);
        json_object_put(j);
    }
}

struct arith_case {
    const char *what;
    const char *status;
    int64_t started, ended, last_update; /* seconds after T0; INT64_MIN: column NULL */
    int64_t processed, total;
    int64_t now;                         /* seconds after T0 */
    double elapsed, rate, eta;
    int stalled;
};

#define NONE INT64_MIN

/* The datetime('now') form, as the worker writes started_at and ended_at. */
static char *stamp(int64_t offset, char *buf, size_t size)
{
    if (offset == NONE)
        return NULL;
    time_t t = (time_t)(T0 + offset);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm);
    return buf;
}

static void elapsed_rate_and_eta_by_table(void **state)
{
    (void)state;
    static const struct arith_case cases[] = {
        {"running: rate and ETA from progress", "pending_async", 0, NONE, 99, 1000, 5000, 100,
         100.0, 10.0, 400.0, 0},
        {"running: zero rows processed gives no rate and an unknown (0) ETA", "pending_async", 0,
         NONE, NONE, 0, 5000, 50, 50.0, 0.0, 0.0, 0},
        {"running: zero rows total", "pending_async", 0, NONE, 10, 0, 0, 20, 20.0, 0.0, 0.0, 0},
        {"running: zero elapsed", "pending_async", 50, NONE, NONE, 10, 100, 50, 0.0, 0.0, 0.0, 0},
        {"running: start in the future clamps to zero", "pending_async", 500, NONE, NONE, 10, 100,
         50, 0.0, 0.0, 0.0, 0},
        {"running: processed beyond total leaves nothing remaining", "pending_async", 0, NONE, 9,
         150, 100, 10, 10.0, 15.0, 0.0, 0},
        {"running: negative stored counts count as zero", "pending_async", 0, NONE, 9, -5, -1, 10,
         10.0, 0.0, 0.0, 0},
        {"running: no start time", "pending_async", NONE, NONE, NONE, 10, 100, 10, 0.0, 0.0, 0.0,
         0},
        {"done: elapsed is ended minus started", "done", 0, 40, 39, 400, 400, 5000, 40.0, 10.0, 0.0,
         0},
        {"done: ended before started clamps to zero", "done", 40, 0, NONE, 400, 400, 5000, 0.0, 0.0,
         0.0, 0},
        {"done: without ended_at elapsed is unknown (0)", "done", 0, NONE, NONE, 400, 400, 5000, 0.0,
         0.0, 0.0, 0},
        {"failed: elapsed is ended minus started", "failed", 0, 20, NONE, 100, 400, 5000, 20.0, 5.0,
         0.0, 0},
        {"unknown: never gets an ETA nor stalls", "bogus", 0, NONE, NONE, 100, 400, 5000, 0.0, 0.0,
         0.0, 0},
        {"running: stalled after 60 s without progress", "pending_async", 0, NONE, 100, 100, 400,
         161, 161.0, 100.0 / 161.0, 300.0 * 161.0 / 100.0, 1},
        {"running: exactly 60 s is not yet stalled", "pending_async", 0, NONE, 100, 100, 400, 160,
         160.0, 100.0 / 160.0, 300.0 * 160.0 / 100.0, 0},
        {"running: no progress write yet stalls from the start", "pending_async", 0, NONE, NONE, 0,
         400, 61, 61.0, 0.0, 0.0, 1},
        {"running: progress written in the future is not stalled", "pending_async", 0, NONE, 500,
         10, 400, 100, 100.0, 0.1, 3900.0, 0},
        {"done: an old last update never stalls", "done", 0, 10, 0, 10, 10, 100000, 10.0, 1.0, 0.0,
         0},
        {"failed: never stalls", "failed", 0, NONE, 0, 10, 100, 100000, 0.0, 0.0, 0.0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct arith_case *c = &cases[i];
        char b1[64], b2[64], b3[64];
        struct migration_row row = {
            .name = "m", .status = (char *)c->status,
            .started_at = stamp(c->started, b1, sizeof b1),
            .ended_at = stamp(c->ended, b2, sizeof b2),
            .last_update_at = stamp(c->last_update, b3, sizeof b3),
            .rows_processed = c->processed, .rows_total = c->total,
        };
        struct migration_info info;
        migration_info_compute(&row, MS(T0 + c->now), STALL, &info);
        if (info.error_message != NULL)
            fail_msg("%s: unexpected error %s", c->what, info.error_message);
        if (fabs(info.elapsed_sec - c->elapsed) > 1e-9 || fabs(info.rate_per_sec - c->rate) > 1e-9 ||
            fabs(info.eta_sec - c->eta) > 1e-6 || info.stalled != c->stalled)
            fail_msg("%s: elapsed %g rate %g eta %g stalled %d; expected %g %g %g %d", c->what,
                     info.elapsed_sec, info.rate_per_sec, info.eta_sec, info.stalled, c->elapsed,
                     c->rate, c->eta, c->stalled);
        migration_info_free(&info);
    }
}

static void stall_threshold_is_configurable(void **state)
{
    (void)state;
    struct migration_row row = {
        .name = "m", .status = "pending_async", .started_at = "2024-01-01 00:00:00",
        .last_update_at = "2024-01-01T00:00:10Z", .rows_processed = 1, .rows_total = 2,
    };
    struct migration_info info;
    migration_info_compute(&row, MS(T0 + 16), MS(5), &info);
    assert_true(info.stalled);
    migration_info_compute(&row, MS(T0 + 16), MS(10), &info);
    assert_false(info.stalled);
}

static void json_has_exactly_the_contract_fields(void **state)
{
    (void)state;
    struct migration_row row = {
        .name = "tx_last_seen_backfill_v1", .status = "failed", .started_at = "2024-01-01 00:00:00",
        .ended_at = "2024-01-01 00:00:10", .last_update_at = "2024-01-01T00:00:09Z",
        .error = "database is locked", .rows_processed = 10, .rows_total = 20,
    };
    struct migration_info info;
    struct json_object *j = info_json(&row, MS(T0 + 100), &info);
    static const char *const keys[] = {"name", "status", "startedAt", "endedAt", "lastUpdateAt",
                                       "rowsProcessed", "rowsTotal", "elapsedSec", "etaSec",
                                       "ratePerSec", "errorMessage", "stalled", "kind"};
    assert_int_equal(json_object_object_length(j), sizeof keys / sizeof keys[0]);
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        if (!json_object_object_get_ex(j, keys[i], NULL))
            fail_msg("missing %s", keys[i]);
    }
    assert_string_equal(get_str(j, "status"), "failed");
    assert_string_equal(get_str(j, "errorMessage"), "database is locked");
    assert_string_equal(get_str(j, "kind"), "migration");
    migration_info_free(&info);
    json_object_put(j);

    /* Optional fields are absent, not null, when the row has nothing for them. */
    struct migration_row bare = {.name = "m", .status = "pending_async"};
    j = info_json(&bare, MS(T0), &info);
    assert_int_equal(json_object_object_length(j), 9);
    assert_false(json_object_object_get_ex(j, "startedAt", NULL));
    assert_false(json_object_object_get_ex(j, "errorMessage", NULL));
    migration_info_free(&info);
    json_object_put(j);
}

static void recurring_job_says_its_kind_interval_and_next_run(void **state)
{
    (void)state;
    struct migration_row row = {
        .name = "retention", .status = "done", .started_at = "2024-01-01 00:00:00",
        .ended_at = "2024-01-01 00:00:10", .rows_processed = 5, .rows_total = 5,
        .recurring = 1, .every_s = 3600, .next_run_at = "2024-01-01T01:00:10Z",
    };
    struct migration_info info;
    struct json_object *j = info_json(&row, MS(T0 + 100), &info);
    assert_string_equal(get_str(j, "kind"), "recurring");
    assert_int_equal((int64_t)get_num(j, "everySec"), 3600);
    assert_string_equal(get_str(j, "nextRunAt"), "2024-01-01T01:00:10Z");
    assert_null(info.error_message);
    migration_info_free(&info);
    json_object_put(j);

    /* While a run is on (or after --run-once) there is no next run: the field is absent. */
    row.status = "pending_async";
    row.next_run_at = NULL;
    j = info_json(&row, MS(T0 + 100), &info);
    assert_string_equal(get_str(j, "status"), "running");
    assert_false(json_object_object_get_ex(j, "nextRunAt", NULL));
    migration_info_free(&info);
    json_object_put(j);

    /* A damaged next run is reported like every other unreadable time. */
    row.status = "done";
    row.next_run_at = "soon";
    j = info_json(&row, MS(T0 + 100), &info);
    assert_non_null(strstr(get_str(j, "errorMessage"), "next_run_at"));
    migration_info_free(&info);
    json_object_put(j);
}

static void invalid_utf8_from_the_database_never_reaches_json(void **state)
{
    (void)state;
    struct migration_row row = {
        .name = "m\xff", .status = "failed", .started_at = "2024\xc0-01-01 00:00:00",
        .error = "bad \xed\xa0\x80 bytes", .rows_processed = 1, .rows_total = 1,
    };
    struct migration_info info;
    migration_info_compute(&row, MS(T0), STALL, &info);
    struct json_object *obj = migration_info_to_json(&info);
    const char *text = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN);
    assert_true(utf8_valid(text, strlen(text)));
    assert_non_null(strstr(text, "\"m\xef\xbf\xbd\""));
    migration_info_free(&info);
    json_object_put(obj);
}

static void no_number_is_ever_nan_or_infinite(void **state)
{
    (void)state;
    static const int64_t counts[] = {0, 1, -1, INT64_MAX, INT64_MIN, 1000000};
    static const char *const statuses[] = {"pending_async", "done", "failed", "x"};
    static const char *const times[] = {NULL, "0000-01-01 00:00:00", "1970-01-01 00:00:00",
                                        "2024-01-01 00:00:00", "9999-12-31T23:59:59Z", "junk"};
    static const int64_t nows[] = {0, MS(T0), INT64_MAX / 4, -MS(T0)};
    size_t checked = 0;
    for (size_t s = 0; s < 4; s++)
        for (size_t p = 0; p < 6; p++)
            for (size_t t = 0; t < 6; t++)
                for (size_t a = 0; a < 6; a++)
                    for (size_t e = 0; e < 6; e++)
                        for (size_t n = 0; n < 4; n++) {
                            struct migration_row row = {
                                .name = "m", .status = (char *)statuses[s],
                                .started_at = (char *)times[a], .ended_at = (char *)times[e],
                                .last_update_at = (char *)times[(a + e) % 6],
                                .rows_processed = counts[p], .rows_total = counts[t],
                            };
                            struct migration_info info;
                            migration_info_compute(&row, nows[n], STALL, &info);
                            assert_true(isfinite(info.elapsed_sec) && info.elapsed_sec >= 0);
                            assert_true(isfinite(info.rate_per_sec) && info.rate_per_sec >= 0);
                            assert_true(isfinite(info.eta_sec) && info.eta_sec >= 0);
                            struct json_object *obj = migration_info_to_json(&info);
                            const char *text = json_object_to_json_string(obj);
                            if (strcasestr(text, "nan") || strcasestr(text, "inf"))
                                fail_msg("non-finite number in %s", text);
                            struct json_object *back = json_tokener_parse(text);
                            if (back == NULL)
                                fail_msg("not JSON: %s", text);
                            json_object_put(back);
                            json_object_put(obj);
                            migration_info_free(&info);
                            checked++;
                        }
    assert_int_equal(checked, 4 * 6 * 6 * 6 * 6 * 4);
}

/* Operator control: paused status, rate over active time, ETA from the recent rate, stall while paused. */
static void operator_control_fields(void **state)
{
    (void)state;
    struct migration_row row = {
        .name = "m", .status = "pending_async", .started_at = "2024-01-01 00:00:00",
        .last_update_at = "2024-01-01T00:01:40Z", .rows_processed = 1000, .rows_total = 3000,
        .has_control = 1, .active_ms = 50000, .paused_ms = 40000, .throttled_ms = 10000,
        .recent_rate = 40.0,
    };
    struct migration_info info;
    /* Running: 1000 rows in 50 active seconds = 20/s; ETA 2000 / 40 recent = 50 s. */
    struct json_object *j = info_json(&row, MS(T0 + 100), &info);
    assert_string_equal(get_str(j, "status"), "running");
    assert_true(get_num(j, "ratePerSec") == 20.0);
    assert_true(get_num(j, "recentRatePerSec") == 40.0);
    assert_true(get_num(j, "etaSec") == 50.0);
    assert_true(get_num(j, "activeSec") == 50.0);
    assert_true(get_num(j, "pausedSec") == 40.0);
    assert_true(get_num(j, "throttledSec") == 10.0);
    assert_null(get_str(j, "throttleReason"));
    assert_null(get_str(j, "pauseReason"));
    migration_info_free(&info);
    json_object_put(j);

    /* No recent rate yet: the lifetime (active) rate. Throttled: the reason. */
    row.recent_rate = 0;
    row.throttle_reason = "WAL 70.0 MB not checkpointed (limit 64 MB)";
    j = info_json(&row, MS(T0 + 100), &info);
    assert_true(get_num(j, "etaSec") == 100.0);
    assert_string_equal(get_str(j, "throttleReason"), row.throttle_reason);
    assert_true(info.throttled);
    migration_info_free(&info);
    json_object_put(j);

    /* Paused: status paused with its time and reason, ETA 0, never stalled while the heartbeat runs. */
    row.paused = 1;
    row.paused_at = "2024-01-01T00:01:00Z";
    row.pause_reason = "backup";
    j = info_json(&row, MS(T0 + 110), &info);
    assert_string_equal(get_str(j, "status"), "paused");
    assert_string_equal(get_str(j, "pausedAt"), "2024-01-01T00:01:00Z");
    assert_string_equal(get_str(j, "pauseReason"), "backup");
    assert_true(get_num(j, "etaSec") == 0.0);
    assert_false(info.stalled);
    migration_info_free(&info);
    json_object_put(j);
    /* ... but a dead worker's paused job is stalled after the threshold. */
    migration_info_compute(&row, MS(T0 + 100) + STALL + 1000, STALL, &info);
    assert_int_equal(info.status, MIGRATION_STATE_PAUSED);
    assert_true(info.stalled);
    migration_info_free(&info);

    /* A stored pause on a finished migration changes nothing; a database without control adds no fields. */
    row.status = "done";
    row.ended_at = "2024-01-01T00:02:00Z";
    j = info_json(&row, MS(T0 + 200), &info);
    assert_string_equal(get_str(j, "status"), "done");
    assert_null(get_str(j, "pauseReason"));
    assert_false(info.throttled);
    migration_info_free(&info);
    json_object_put(j);
    row.has_control = 0;
    j = info_json(&row, MS(T0 + 200), &info);
    assert_false(json_object_object_get_ex(j, "activeSec", NULL));
    assert_false(json_object_object_get_ex(j, "throttled", NULL));
    migration_info_free(&info);
    json_object_put(j);
}

/*
 * Every timestamp that parses is one the formatter can write back in full:
 * a leap second that rolls 9999 into year 10000 is unparseable (it used to
 * overflow the formatter's buffer), and years before 1000 are padded to four
 * digits as RFC 3339 requires.
 */
static void timestamps_round_trip_or_are_unparseable(void **state)
{
    (void)state;
    static const struct {
        const char *stored;
        const char *json; /* NULL: unparseable */
    } cases[] = {
        {"9999-12-31 23:59:59", "9999-12-31T23:59:59Z"},
        {"9999-12-31T23:59:59Z", "9999-12-31T23:59:59Z"},
        {"9999-12-31 23:59:60", NULL},
        {"9999-12-31T23:59:60Z", NULL},
        {"2016-12-31 23:59:60", "2017-01-01T00:00:00Z"},
        {"1000-01-01 00:00:00", "1000-01-01T00:00:00Z"},
        {"0999-12-31 23:59:59", "0999-12-31T23:59:59Z"},
        {"0001-01-01T00:00:00Z", "0001-01-01T00:00:00Z"},
        {"0000-01-01 00:00:00", "0000-01-01T00:00:00Z"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct migration_row row = {
            .name = "m", .status = "done", .started_at = (char *)cases[i].stored,
            .rows_processed = 1, .rows_total = 1,
        };
        struct migration_info info;
        struct json_object *j = info_json(&row, MS(T0), &info);
        const char *got = get_str(j, "startedAt");
        const char *msg = get_str(j, "errorMessage");
        if (cases[i].json != NULL) {
            if (got == NULL || strcmp(got, cases[i].json) != 0 || msg != NULL)
                fail_msg("case %zu (%s): startedAt %s, errorMessage %s", i, cases[i].stored,
                         got ? got : "absent", msg ? msg : "absent");
        } else {
            char *want = NULL;
            if (asprintf(&want, "started_at: unparseable timestamp '%s'", cases[i].stored) < 0)
                fail();
            if (got != NULL || msg == NULL || strcmp(msg, want) != 0)
                fail_msg("case %zu (%s): startedAt %s, errorMessage %s", i, cases[i].stored,
                         got ? got : "absent", msg ? msg : "absent");
            free(want);
        }
        migration_info_free(&info);
        json_object_put(j);
    }
    /* The formatter refuses what it cannot write in full, leaving an empty string. */
    char buf[TIMEFMT_RFC3339_LEN];
    assert_int_equal(timefmt_rfc3339(253402300799LL, buf), 0);
    assert_string_equal(buf, "9999-12-31T23:59:59Z");
    assert_int_equal(timefmt_rfc3339(253402300800LL, buf), -1);
    assert_string_equal(buf, "");
    assert_int_equal(timefmt_rfc3339(INT64_MAX, buf), -1);
    assert_int_equal(timefmt_rfc3339(INT64_MIN, buf), -1);
    assert_int_equal(timefmt_rfc3339(-62167219200LL, buf), 0);
    assert_string_equal(buf, "0000-01-01T00:00:00Z");
    assert_int_equal(timefmt_rfc3339(-62167219201LL, buf), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(status_mapping_by_table),
        cmocka_unit_test(both_timestamp_formats_parse_to_the_same_instant),
        cmocka_unit_test(parse_errors_append_to_error_message_whatever_the_status),
        cmocka_unit_test(elapsed_rate_and_eta_by_table),
        cmocka_unit_test(stall_threshold_is_configurable),
        cmocka_unit_test(json_has_exactly_the_contract_fields),
        cmocka_unit_test(recurring_job_says_its_kind_interval_and_next_run),
        cmocka_unit_test(invalid_utf8_from_the_database_never_reaches_json),
        cmocka_unit_test(no_number_is_ever_nan_or_infinite),
        cmocka_unit_test(operator_control_fields),
        cmocka_unit_test(timestamps_round_trip_or_are_unparseable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
