/* status.c: `meshscope-worker status`: each migration's progress, rate, ETA and error. */
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "db.h"
#include "migration.h"
#include "schema.h"
#include "timefmt.h"
#include "util.h"

#define STATUS_BUSY_TIMEOUT_MS 2000

struct status_row {
    char *name, *status, *started_at, *ended_at, *error, *last_update_at;
    int64_t processed, total;
    double elapsed_sec, rate_per_sec, eta_sec;
    char *time_error; /* an unparseable timestamp, reported beside the error */
};

static void status_row_free(struct status_row *row)
{
    free(row->name);
    free(row->status);
    free(row->started_at);
    free(row->ended_at);
    free(row->error);
    free(row->last_update_at);
    free(row->time_error);
}

/* Rate and ETA as the responders compute them (design §4), never NaN or infinite. */
static void status_row_derive(struct status_row *row, int64_t now)
{
    int64_t started = 0, ended = 0;
    char *err = NULL;
    int running = row->status && strcmp(row->status, MIGRATION_STATUS_PENDING) == 0;
    int has_start = timefmt_parse(row->started_at, &started, &err) == 0;
    if (!has_start) {
        row->time_error = err;
        err = NULL;
    }
    int has_end = 0;
    if (!running && row->ended_at != NULL) {
        has_end = timefmt_parse(row->ended_at, &ended, &err) == 0;
        if (!has_end && row->time_error == NULL)
            row->time_error = err;
        else
            free(err);
    }
    if (has_start && (running || has_end)) {
        int64_t elapsed = (running ? now : ended) - started;
        row->elapsed_sec = elapsed > 0 ? (double)elapsed : 0.0;
    }
    if (row->elapsed_sec > 0 && row->processed > 0)
        row->rate_per_sec = (double)row->processed / row->elapsed_sec;
    if (running && row->rate_per_sec > 0 && row->total > row->processed)
        row->eta_sec = (double)(row->total - row->processed) / row->rate_per_sec;
    if (!isfinite(row->rate_per_sec))
        row->rate_per_sec = 0;
    if (!isfinite(row->eta_sec))
        row->eta_sec = 0;
}

static int status_read(sqlite3 *db, struct status_row **rows_out, size_t *count_out, char **errp)
{
    /* A database the worker has not upgraded yet lacks the progress columns. */
    static const char *const queries[] = {
        "SELECT name, status, started_at, ended_at, error, rows_processed, rows_total,"
        " last_update_at FROM " SCHEMA_MIGRATIONS_TABLE " ORDER BY name",
        "SELECT name, status, started_at, ended_at, error, 0, 0, NULL FROM "
        SCHEMA_MIGRATIONS_TABLE " ORDER BY name",
    };
    *rows_out = NULL;
    *count_out = 0;
    int present = 0;
    if (db_table_exists(db, SCHEMA_MIGRATIONS_TABLE, &present, errp) != 0)
        return -1;
    if (!present)
        return 0;

    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2(db, queries[0], -1, &stmt, NULL) != SQLITE_OK &&
        sqlite3_prepare_v2(db, queries[1], -1, &stmt, NULL) != SQLITE_OK)
        return set_error(errp, "reading migrations: %s", sqlite3_errmsg(db));
    struct status_row *rows = NULL;
    size_t count = 0;
    int rc;
    int64_t now = (int64_t)time(NULL);
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        rows = xrealloc(rows, (count + 1) * sizeof *rows);
        struct status_row *row = &rows[count++];
        *row = (struct status_row){
            .name = db_column_text_dup(stmt, 0),
            .status = db_column_text_dup(stmt, 1),
            .started_at = db_column_text_dup(stmt, 2),
            .ended_at = db_column_text_dup(stmt, 3),
            .error = db_column_text_dup(stmt, 4),
            .processed = sqlite3_column_int64(stmt, 5),
            .total = sqlite3_column_int64(stmt, 6),
            .last_update_at = db_column_text_dup(stmt, 7),
        };
        status_row_derive(row, now);
    }
    if (rc != SQLITE_DONE) {
        set_error(errp, "reading migrations: %s", sqlite3_errmsg(db));
        sqlite3_finalize(stmt);
        for (size_t i = 0; i < count; i++)
            status_row_free(&rows[i]);
        free(rows);
        return -1;
    }
    sqlite3_finalize(stmt);
    *rows_out = rows;
    *count_out = count;
    return 0;
}

static void add_string(json_object *obj, const char *key, const char *value)
{
    if (value != NULL)
        json_object_object_add(obj, key, json_object_new_string(value));
}

static void status_print_json(const struct status_row *rows, size_t count)
{
    json_object *array = json_object_new_array();
    for (size_t i = 0; i < count; i++) {
        const struct status_row *row = &rows[i];
        json_object *obj = json_object_new_object();
        add_string(obj, "name", row->name ? row->name : "");
        add_string(obj, "status", row->status ? row->status : "");
        add_string(obj, "startedAt", row->started_at);
        add_string(obj, "endedAt", row->ended_at);
        add_string(obj, "lastUpdateAt", row->last_update_at);
        json_object_object_add(obj, "rowsProcessed", json_object_new_int64(row->processed));
        json_object_object_add(obj, "rowsTotal", json_object_new_int64(row->total));
        json_object_object_add(obj, "elapsedSec", json_object_new_double(row->elapsed_sec));
        json_object_object_add(obj, "ratePerSec", json_object_new_double(row->rate_per_sec));
        json_object_object_add(obj, "etaSec", json_object_new_double(row->eta_sec));
        add_string(obj, "error", row->error);
        add_string(obj, "timeError", row->time_error);
        json_object_array_add(array, obj);
    }
    puts(json_object_to_json_string_ext(array, JSON_C_TO_STRING_PLAIN));
    json_object_put(array);
}

static void status_print_table(const struct status_row *rows, size_t count)
{
    if (count == 0) {
        puts("no migrations recorded");
        return;
    }
    printf("%-28s %-14s %-26s %-12s %-9s %s\n", "NAME", "STATUS", "PROGRESS", "RATE", "ETA",
           "ERROR");
    for (size_t i = 0; i < count; i++) {
        const struct status_row *row = &rows[i];
        int running = row->status && strcmp(row->status, MIGRATION_STATUS_PENDING) == 0;
        char progress[64], rate[32], eta[32];
        if (row->total > 0)
            snprintf(progress, sizeof progress, "%" PRId64 "/%" PRId64 " (%.1f%%)",
                     row->processed, row->total,
                     100.0 * (double)row->processed / (double)row->total);
        else
            snprintf(progress, sizeof progress, "%" PRId64 "/%" PRId64, row->processed,
                     row->total);
        if (row->rate_per_sec > 0)
            snprintf(rate, sizeof rate, "%.0f/s", row->rate_per_sec);
        else
            snprintf(rate, sizeof rate, "-");
        if (running && row->eta_sec > 0)
            snprintf(eta, sizeof eta, "%.0fs", ceil(row->eta_sec));
        else
            snprintf(eta, sizeof eta, "-");
        const char *error = row->error ? row->error : row->time_error ? row->time_error : "-";
        printf("%-28s %-14s %-26s %-12s %-9s %s\n", row->name ? row->name : "",
               row->status ? row->status : "", progress, rate, eta, error);
    }
}

static void status_usage(FILE *out)
{
    fputs("Usage: meshscope-worker status --db PATH [--json]\n"
          "\n"
          "Prints each async migration's status, progress, rate, ETA and error.\n"
          "Opens the database read-only; safe beside a running worker.\n",
          out);
}

int status_main(int argc, char **argv)
{
    enum { OPT_DB = 256, OPT_JSON, OPT_HELP };
    static const struct option options[] = {
        {"db", required_argument, NULL, OPT_DB},
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    const char *path = NULL;
    int json = 0, opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case OPT_DB:
            path = optarg;
            break;
        case OPT_JSON:
            json = 1;
            break;
        case OPT_HELP:
            status_usage(stdout);
            return 0;
        default:
            status_usage(stderr);
            return 2;
        }
    }
    if (path == NULL || optind < argc) {
        fprintf(stderr, "meshscope-worker status: %s (try --help)\n",
                path == NULL ? "--db PATH is required" : "unexpected argument");
        return 2;
    }

    sqlite3 *db = NULL;
    char *err = NULL;
    struct status_row *rows = NULL;
    size_t count = 0;
    if (db_open(path, DB_READ_ONLY, DB_ONE_THREAD, STATUS_BUSY_TIMEOUT_MS, &db, &err) != 0) {
        fprintf(stderr, "meshscope-worker status: %s\n", err);
        free(err);
        return 1;
    }
    if (status_read(db, &rows, &count, &err) != 0) {
        fprintf(stderr, "meshscope-worker status: %s: %s\n", path,
                err ? err : sqlite3_errmsg(db));
        free(err);
        sqlite3_close(db);
        return 1;
    }
    sqlite3_close(db);
    if (json)
        status_print_json(rows, count);
    else
        status_print_table(rows, count);
    for (size_t i = 0; i < count; i++)
        status_row_free(&rows[i]);
    free(rows);
    return 0;
}
