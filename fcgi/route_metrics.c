/* route_metrics.c: GET /api/metrics, the pool and migration figures in the Prometheus text format 0.0.4. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "encode.h"
#include "ingest_liveness.h"
#include "log.h"
#include "poolstats.h"
#include "ingest_stats.h"
#include "migrations.h"
#include "observer_metrics.h"
#include "router.h"
#include "util.h"
#include "writer_stats.h"

static const char *const class_names[POOLSTATS_CLASSES] = {"2xx", "3xx", "4xx", "5xx"};

static void family(FILE *out, const char *name, const char *type, const char *help)
{
    fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void write_http(FILE *out, const struct poolstats_snapshot *snap)
{
    int endpoints = router_endpoint_count();
    family(out, "meshscope_http_requests_total", "counter",
           "Requests answered by the responder pool, by endpoint and status class.");
    for (int e = 0; e < endpoints; e++) {
        for (int k = 0; k < POOLSTATS_CLASSES; k++) {
            fputs("meshscope_http_requests_total{endpoint=\"", out);
            encode_prom_label(out, router_endpoint_name(e));
            fprintf(out, "\",code=\"%s\"} %llu\n", class_names[k],
                    (unsigned long long)snap->totals.requests[e][k]);
        }
    }
    family(out, "meshscope_http_request_duration_seconds", "histogram",
           "Time from accepting a request to handing its whole response to libfcgi, pool-wide.");
    for (int e = 0; e < endpoints; e++) {
        /* _count is the +Inf bucket, so the series agree even while responders keep counting. */
        uint64_t cumulative = 0;
        for (int b = 0; b <= POOLSTATS_BUCKETS; b++) {
            cumulative = poolstats_add_saturating(cumulative, snap->totals.latency[e][b]);
            fputs("meshscope_http_request_duration_seconds_bucket{endpoint=\"", out);
            encode_prom_label(out, router_endpoint_name(e));
            if (b < POOLSTATS_BUCKETS)
                fprintf(out, "\",le=\"%g\"} %llu\n", (double)poolstats_bucket_bounds_us[b] / 1e6,
                        (unsigned long long)cumulative);
            else
                fprintf(out, "\",le=\"+Inf\"} %llu\n", (unsigned long long)cumulative);
        }
        fputs("meshscope_http_request_duration_seconds_sum{endpoint=\"", out);
        encode_prom_label(out, router_endpoint_name(e));
        fputs("\"} ", out);
        encode_prom_value(out, (double)snap->totals.latency_sum_us[e] / 1e6);
        fputs("\nmeshscope_http_request_duration_seconds_count{endpoint=\"", out);
        encode_prom_label(out, router_endpoint_name(e));
        fprintf(out, "\"} %llu\n", (unsigned long long)cumulative);
    }
}

static void write_responders(FILE *out, const struct poolstats_snapshot *snap)
{
    family(out, "meshscope_responders", "gauge", "Responder processes alive in the pool.");
    fprintf(out, "meshscope_responders %d\n", snap->responder_count);
    family(out, "meshscope_responder_resident_memory_bytes", "gauge",
           "Resident memory of each responder, as it last published it.");
    for (int i = 0; i < snap->responder_count; i++)
        fprintf(out, "meshscope_responder_resident_memory_bytes{slot=\"%d\",pid=\"%d\"} %llu\n",
                snap->responders[i].slot, snap->responders[i].pid,
                (unsigned long long)snap->responders[i].rss_bytes);
    family(out, "meshscope_responder_uptime_seconds", "gauge", "Seconds since each responder started.");
    for (int i = 0; i < snap->responder_count; i++) {
        fprintf(out, "meshscope_responder_uptime_seconds{slot=\"%d\",pid=\"%d\"} ",
                snap->responders[i].slot, snap->responders[i].pid);
        encode_prom_value(out, snap->responders[i].uptime_sec);
        fputc('\n', out);
    }
}

enum migration_figure {
    FIG_PROCESSED, FIG_PLANNED, FIG_ETA, FIG_STALLED, FIG_ELAPSED, FIG_RATE,
    FIG_PAUSED, FIG_THROTTLED, FIG_THROTTLED_SECONDS, FIG_RECENT_RATE
};

static double figure(const struct migration_info *m, enum migration_figure f)
{
    switch (f) {
    case FIG_PROCESSED: return (double)m->rows_processed;
    case FIG_PLANNED: return (double)m->rows_total;
    case FIG_ETA: return m->eta_sec;
    case FIG_STALLED: return m->stalled;
    case FIG_ELAPSED: return m->elapsed_sec;
    case FIG_PAUSED: return m->status == MIGRATION_STATE_PAUSED;
    case FIG_THROTTLED: return m->throttled;
    case FIG_THROTTLED_SECONDS: return m->throttled_sec;
    case FIG_RECENT_RATE: return m->recent_rate_per_sec;
    case FIG_RATE: break;
    }
    return m->rate_per_sec;
}

/*
 * name="..." for one migration. A label value must be UTF-8, so a name that
 * is not plain text (a NUL, invalid UTF-8, a BLOB) is shown sanitized and its
 * exact type and bytes follow in name_raw: no two migrations share a series.
 */
static void name_labels(FILE *out, const struct migration_set *set, size_t i,
                        const struct migration_info *m)
{
    fputs("name=\"", out);
    encode_prom_label(out, m->name);
    fputc('"', out);
    if (set->name_raw[i] != NULL)
        fprintf(out, ",name_raw=\"%s\"", set->name_raw[i]);
}

/* One family over every migration, labelled by name. */
static void migration_family(FILE *out, const char *name, const char *type, const char *help,
                             const struct migration_set *set, const struct migration_info *infos,
                             enum migration_figure field)
{
    if (set->count == 0)
        return;
    family(out, name, type, help);
    for (size_t i = 0; i < set->count; i++) {
        const struct migration_info *m = &infos[i];
        double v = figure(m, field);
        fprintf(out, "%s{", name);
        name_labels(out, set, i, m);
        fputs("} ", out);
        encode_prom_value(out, v);
        fputc('\n', out);
    }
}

static void migration_gauge(FILE *out, const char *name, const char *help,
                            const struct migration_set *set, const struct migration_info *infos,
                            enum migration_figure field)
{
    migration_family(out, name, "gauge", help, set, infos, field);
}

/* Operator control (docs/operations.md): pause, throttle and the recent rate. */
static void write_migration_control(FILE *out, const struct migration_set *set,
                                    const struct migration_info *infos)
{
    migration_gauge(out, "meshscope_async_migration_paused",
                    "1 while an operator (or a critical WAL size) has the migration paused.",
                    set, infos, FIG_PAUSED);
    migration_gauge(out, "meshscope_async_migration_throttled",
                    "1 while a health factor holds the migration back (see throttleReason).",
                    set, infos, FIG_THROTTLED);
    migration_family(out, "meshscope_async_migration_throttled_seconds_total", "counter",
                     "Seconds this run of the migration has spent throttled.", set, infos,
                     FIG_THROTTLED_SECONDS);
    migration_gauge(out, "meshscope_async_migration_recent_rate",
                    "Rows per second over about the last 30 s of active time (what the ETA uses).",
                    set, infos, FIG_RECENT_RATE);
}

static void write_migrations(FILE *out, struct responder *r, const struct migration_set *set,
                             int read_failed)
{
    family(out, "meshscope_async_migrations_read_error", "gauge",
           "1 when the responder could not read _async_migrations (see the X-Async-Migrations-Error header).");
    fprintf(out, "meshscope_async_migrations_read_error %d\n", read_failed);
    size_t count = set ? set->count : 0;
    if (count == 0)
        return;
    struct migration_info *infos = xcalloc(count, sizeof *infos);
    int64_t now_ms = r->wall_clock_ms();
    for (size_t i = 0; i < count; i++)
        migration_info_compute(&set->rows[i], now_ms, r->stalled_after_ms, &infos[i]);

    migration_gauge(out, "meshscope_async_migration_rows_processed",
                    "Rows the migration has processed so far.", set, infos, FIG_PROCESSED);
    migration_gauge(out, "meshscope_async_migration_rows_planned",
                    "Rows the migration intends to process (its rows_total).", set, infos, FIG_PLANNED);
    migration_gauge(out, "meshscope_async_migration_eta_seconds",
                    "Estimated seconds until a running migration finishes; 0 when unknown or not running.",
                    set, infos, FIG_ETA);
    migration_gauge(out, "meshscope_async_migration_stalled",
                    "1 when a running migration has written no progress for longer than the stall threshold.",
                    set, infos, FIG_STALLED);
    migration_gauge(out, "meshscope_async_migration_elapsed_seconds",
                    "Seconds the migration has run (until now, or until it ended).", set, infos, FIG_ELAPSED);
    migration_gauge(out, "meshscope_async_migration_rate_rows_per_second",
                    "Average rows processed per second.", set, infos, FIG_RATE);
    write_migration_control(out, set, infos);

    /* A state set: one series per possible status, exactly one of them 1. */
    family(out, "meshscope_async_migration_status", "gauge",
           "1 for the migration's current status (running, paused, done, failed or unknown), else 0.");
    static const enum migration_state statuses[] = {MIGRATION_STATE_RUNNING, MIGRATION_STATE_PAUSED,
                                                     MIGRATION_STATE_DONE, MIGRATION_STATE_FAILED,
                                                     MIGRATION_STATE_UNKNOWN};
    for (size_t i = 0; i < count; i++) {
        for (size_t s = 0; s < sizeof statuses / sizeof statuses[0]; s++) {
            fputs("meshscope_async_migration_status{", out);
            name_labels(out, set, i, &infos[i]);
            fprintf(out, ",status=\"%s\"} %d\n", migration_status_name(statuses[s]),
                    infos[i].status == statuses[s]);
        }
    }
    for (size_t i = 0; i < count; i++)
        migration_info_free(&infos[i]);
    free(infos);
}

static void write_ingest(FILE *out, const struct ingest_stats *s)
{
    static const struct {
        const char *name, *help;
    } counters[] = {
        {"meshscope_ingest_lines_accepted_total", "Ingest lines stored by the worker."},
        {"meshscope_ingest_lines_rejected_total", "Malformed ingest lines the worker refused."},
        {"meshscope_ingest_lines_acked_total", "Ingest lines acknowledged after their commit."},
        {"meshscope_ingest_commits_total", "Group commits of ingested lines."},
    };
    const int64_t values[] = {s->lines_accepted, s->lines_rejected, s->lines_acked, s->commits};
    for (size_t i = 0; i < sizeof counters / sizeof counters[0]; i++) {
        family(out, counters[i].name, "counter", counters[i].help);
        fprintf(out, "%s %lld\n", counters[i].name, (long long)values[i]);
    }
    family(out, "meshscope_ingest_commit_rows_max", "gauge", "Most lines in one group commit.");
    fprintf(out, "meshscope_ingest_commit_rows_max %lld\n", (long long)s->commit_rows_max);
    family(out, "meshscope_ingest_ack_latency_p50_seconds", "gauge",
           "Median time from receiving an ingest line to acknowledging it.");
    fputs("meshscope_ingest_ack_latency_p50_seconds ", out);
    encode_prom_value(out, s->ack_latency_p50_ms / 1e3);
    fputc('\n', out);
    family(out, "meshscope_ingest_ack_latency_p99_seconds", "gauge",
           "99th percentile time from receiving an ingest line to acknowledging it.");
    fputs("meshscope_ingest_ack_latency_p99_seconds ", out);
    encode_prom_value(out, s->ack_latency_p99_ms / 1e3);
    fputc('\n', out);
}

/*
 * The database and WAL file sizes, from stat() alone (no query), so a WAL that
 * grows because checkpoints cannot complete is visible even while reads fail.
 * Nothing is written before the worker has created the file.
 */
static void write_sqlite_files(FILE *out, const char *db_path)
{
    struct stat db_st, wal_st;
    if (db_path == NULL || stat(db_path, &db_st) != 0)
        return;
    char *wal_path = xasprintf("%s-wal", db_path);
    int64_t wal_bytes = stat(wal_path, &wal_st) == 0 ? (int64_t)wal_st.st_size : 0;
    free(wal_path);
    family(out, "meshscope_sqlite_database_bytes", "gauge", "Size of the database file.");
    fprintf(out, "meshscope_sqlite_database_bytes %lld\n", (long long)db_st.st_size);
    family(out, "meshscope_sqlite_wal_bytes", "gauge",
           "Size of the database's -wal file (0 when there is none).");
    fprintf(out, "meshscope_sqlite_wal_bytes %lld\n", (long long)wal_bytes);
}

static void metrics(struct responder *r, const struct http_request *req,
                    struct http_response *resp)
{
    (void)req;
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    if (out == NULL)
        abort();

    struct poolstats_snapshot *snap = xmalloc(sizeof *snap);
    poolstats_snapshot(r->stats, snap);
    write_http(out, snap);
    write_responders(out, snap);
    free(snap);

    struct migration_set *set = NULL;
    char *err = NULL;
    if (migrations_get(r, &set, &err) != 0) {
        log_warnx("/api/metrics: %s", err);
        http_response_add_header(resp, "X-Async-Migrations-Error", err);
        write_migrations(out, r, NULL, 1);
        free(err);
    } else {
        write_migrations(out, r, set, 0);
        migration_set_release(set);
    }

    struct ingest_stats ingest = {0};
    enum reader_presence presence;
    if (ingest_stats_read(&r->reader, &ingest, &presence, &err) != 0) {
        log_warnx("/api/metrics: %s", err);
        free(err);
    } else if (presence == READER_PRESENT) {
        write_ingest(out, &ingest);
        ingest_stats_free(&ingest);
    }
    struct writer_stats ws;
    if (writer_stats_read(&r->reader, &ws, &presence, &err) != 0) {
        log_warnx("/api/metrics: %s", err);
        free(err);
    } else if (presence == READER_PRESENT) {
        writer_stats_metrics(out, &ws);
        writer_stats_free(&ws);
    }
    observer_metrics_write(out, r);
    write_sqlite_files(out, r->reader.path);
    if (r->liveness_path != NULL) {
        struct ingest_liveness *l = xmalloc(sizeof *l);
        if (ingest_liveness_read(r->liveness_path, l, &err) == 0)
            ingest_liveness_metrics(out, l);
        else
            free(err);
        free(l);
    }
    fclose(out);
    http_response_text(resp, 200, "text/plain; version=0.0.4", text);
}

const struct route route_metrics_entry = {
    .path = "/api/metrics",
    .handler = metrics,
};
