/* status.c: `meshscope-worker status`: each migration's info object, as the API computes it, as a table or JSON. */
#include "status.h"

#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "db.h"
#include "encode.h"
#include "migration_info.h"
#include "schema.h"
#include "timefmt.h"
#include "util.h"

#define STATUS_BUSY_TIMEOUT_MS 2000

/* A row as stored, and the info the API would compute from it. */
struct status_entry {
    struct migration_row row;
    struct migration_info info;
    char *time_error; /* the info's parse messages alone, without the stored error */
};

static void status_entry_free(struct status_entry *entry)
{
    migration_info_free(&entry->info);
    free(entry->time_error);
    migration_row_free(&entry->row);
}

static void status_entries_free(struct status_entry *entries, size_t count)
{
    for (size_t i = 0; i < count; i++)
        status_entry_free(&entries[i]);
    free(entries);
}

/*
 * The API's computation (common/migration_info.h), so the CLI and the API
 * cannot disagree. The parse messages are computed once more from the row
 * without its error, since the CLI shows them apart from the stored error.
 */
static void status_entry_compute(struct status_entry *entry, int64_t now_ms)
{
    migration_info_compute(&entry->row, now_ms, MIGRATION_STALLED_AFTER_MS_DEFAULT,
                           &entry->info);
    struct migration_row times = entry->row;
    times.error = NULL;
    struct migration_info parsed;
    migration_info_compute(&times, now_ms, MIGRATION_STALLED_AFTER_MS_DEFAULT, &parsed);
    entry->time_error = parsed.error_message;
}

static int status_read(sqlite3 *db, struct status_entry **out, size_t *count_out, char **errp)
{
    /* A database the worker has not upgraded yet lacks operator control or even the progress columns. */
    static const char *const queries[] = {
        MIGRATION_ROW_SELECT,
        MIGRATION_ROW_SELECT_BASIC,
        "SELECT name, status, started_at, ended_at, error, 0, 0, NULL, 0, 0, 0, 0, 0, NULL, 0,"
        " NULL, NULL, 0, NULL, NULL FROM " SCHEMA_MIGRATIONS_TABLE " ORDER BY name",
    };
    *out = NULL;
    *count_out = 0;
    int present = 0;
    if (db_table_exists(db, SCHEMA_MIGRATIONS_TABLE, &present, errp) != 0)
        return -1;
    if (!present)
        return 0;

    sqlite3_stmt *stmt = NULL;
    size_t q = 0;
    while (q < sizeof queries / sizeof queries[0] &&
           sqlite3_prepare_v2(db, queries[q], -1, &stmt, NULL) != SQLITE_OK)
        q++;
    if (stmt == NULL)
        return set_error(errp, "reading migrations: %s", sqlite3_errmsg(db));
    struct status_entry *entries = NULL;
    size_t count = 0;
    int rc;
    int64_t now_ms = clock_realtime_ms();
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        entries = xrealloc(entries, (count + 1) * sizeof *entries);
        entries[count] = (struct status_entry){0};
        migration_row_read(stmt, &entries[count].row);
        status_entry_compute(&entries[count], now_ms);
        count++;
    }
    if (rc != SQLITE_DONE) {
        set_error(errp, "reading migrations: %s", sqlite3_errmsg(db));
        sqlite3_finalize(stmt);
        status_entries_free(entries, count);
        return -1;
    }
    sqlite3_finalize(stmt);
    *out = entries;
    *count_out = count;
    return 0;
}

/*
 * The API's object, plus what scripts read here: `status` stays the stored
 * status (pending_async, done, failed) with the API's mapping in `state`,
 * `error` is the stored error whatever the status, and `timeError` names an
 * unparseable timestamp.
 */
static json_object *status_entry_json(const struct status_entry *entry)
{
    json_object *obj = migration_info_to_json(&entry->info);
    json_object_object_add(obj, "state",
                           json_object_new_string(migration_status_name(entry->info.status)));
    json_object_object_add(obj, "status", encode_json_string(entry->row.status ? entry->row.status
                                                                               : ""));
    if (entry->row.error != NULL)
        json_object_object_add(obj, "error", encode_json_string(entry->row.error));
    if (entry->time_error != NULL)
        json_object_object_add(obj, "timeError", encode_json_string(entry->time_error));
    return obj;
}

static void status_print_json(const struct status_entry *entries, size_t count)
{
    json_object *array = json_object_new_array();
    for (size_t i = 0; i < count; i++)
        json_object_array_add(array, status_entry_json(&entries[i]));
    puts(json_object_to_json_string_ext(array, JSON_C_TO_STRING_PLAIN));
    json_object_put(array);
}

static void status_print_line(const struct status_entry *entry)
{
    const struct migration_info *info = &entry->info;
    char progress[64], rate[32], eta[32];
    if (info->rows_total > 0)
        snprintf(progress, sizeof progress, "%" PRId64 "/%" PRId64 " (%.1f%%)",
                 info->rows_processed, info->rows_total,
                 100.0 * (double)info->rows_processed / (double)info->rows_total);
    else
        snprintf(progress, sizeof progress, "%" PRId64 "/%" PRId64, info->rows_processed,
                 info->rows_total);
    if (info->rate_per_sec > 0)
        snprintf(rate, sizeof rate, "%.0f/s", info->rate_per_sec);
    else
        snprintf(rate, sizeof rate, "-");
    if (info->status == MIGRATION_STATE_RUNNING && info->eta_sec > 0)
        snprintf(eta, sizeof eta, "%.0fs", ceil(info->eta_sec));
    else
        snprintf(eta, sizeof eta, "-");
    char note[256], when[TIMEFMT_RFC3339_LEN];
    if (info->status == MIGRATION_STATE_PAUSED)
        snprintf(note, sizeof note, "paused: %s", info->pause_reason);
    else if (info->throttled)
        snprintf(note, sizeof note, "throttled: %s", info->throttle_reason);
    else if (info->recurring && info->has_next_run_at &&
             timefmt_rfc3339(info->next_run_at, when) == 0)
        snprintf(note, sizeof note, "next run %s", when);
    else
        snprintf(note, sizeof note, "-");
    const char *error = entry->row.error      ? entry->row.error
                        : entry->time_error ? entry->time_error
                                            : note;
    /* The stored status, except that a paused job says so. */
    const char *status = info->status == MIGRATION_STATE_PAUSED ? "paused"
                         : entry->row.status                    ? entry->row.status
                                                                : "";
    printf("%-28s %-14s %-26s %-12s %-9s %s\n", info->name, status, progress, rate, eta, error);
}

static void status_print_table(const struct status_entry *entries, size_t count)
{
    if (count == 0) {
        puts("no migrations recorded");
        return;
    }
    printf("%-28s %-14s %-26s %-12s %-9s %s\n", "NAME", "STATUS", "PROGRESS", "RATE", "ETA",
           "ERROR");
    for (size_t i = 0; i < count; i++)
        status_print_line(&entries[i]);
}

static void status_usage(FILE *out)
{
    fputs("Usage: meshscope-worker status --db PATH [--json]\n"
          "\n"
          "Prints each async migration's status, progress, rate, ETA and error.\n"
          "Opens the database read-only; safe beside a running worker.\n",
          out);
}

/* Returns -1 to go on, or the exit code. */
static int status_parse(int argc, char **argv, const char **path, int *json)
{
    enum { OPT_DB = 256, OPT_JSON, OPT_HELP };
    static const struct option options[] = {
        {"db", required_argument, NULL, OPT_DB},
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case OPT_DB:
            *path = optarg;
            break;
        case OPT_JSON:
            *json = 1;
            break;
        case OPT_HELP:
            status_usage(stdout);
            return 0;
        default:
            status_usage(stderr);
            return 2;
        }
    }
    if (*path == NULL || optind < argc) {
        fprintf(stderr, "meshscope-worker status: %s (try --help)\n",
                *path == NULL ? "--db PATH is required" : "unexpected argument");
        return 2;
    }
    return -1;
}

int status_main(int argc, char **argv)
{
    const char *path = NULL;
    int json = 0;
    int code = status_parse(argc, argv, &path, &json);
    if (code >= 0)
        return code;

    sqlite3 *db = NULL;
    char *err = NULL;
    struct status_entry *entries = NULL;
    size_t count = 0;
    if (db_open(path, DB_READ_ONLY, DB_ONE_THREAD, STATUS_BUSY_TIMEOUT_MS, &db, &err) != 0) {
        fprintf(stderr, "meshscope-worker status: %s\n", err);
        free(err);
        return 1;
    }
    if (status_read(db, &entries, &count, &err) != 0) {
        fprintf(stderr, "meshscope-worker status: %s: %s\n", path,
                err ? err : sqlite3_errmsg(db));
        free(err);
        sqlite3_close(db);
        return 1;
    }
    sqlite3_close(db);
    if (json)
        status_print_json(entries, count);
    else
        status_print_table(entries, count);
    status_entries_free(entries, count);
    return 0;
}
