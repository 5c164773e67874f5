/* writer_stats.c: reads _writer_stats and publishes it as JSON and as Prometheus histograms. */
#include "writer_stats.h"

#include <stdlib.h>
#include <string.h>

#include "encode.h"
#include "util.h"

static const int64_t bounds_us[WRITER_STATS_BUCKETS] = WRITER_STATS_BOUNDS_US;

static const struct reader_query writer_query = {
    .sql = "SELECT source, transactions, wait_sum_us, hold_sum_us, hold_max_us, wait_buckets,"
           " hold_buckets, checkpoint_at, checkpoint_log_frames, checkpoint_done_frames,"
           " checkpoint_completed FROM " SCHEMA_WRITER_STATS_TABLE " ORDER BY source",
    .table = SCHEMA_WRITER_STATS_TABLE,
};

/* Space-separated counts; missing or damaged entries read as 0, never past the array. */
static void parse_buckets(const unsigned char *text, int64_t *counts)
{
    memset(counts, 0, (WRITER_STATS_BUCKETS + 1) * sizeof counts[0]);
    const char *p = (const char *)text;
    for (int b = 0; p != NULL && b <= WRITER_STATS_BUCKETS; b++) {
        char *end = NULL;
        long long v = strtoll(p, &end, 10);
        if (end == p)
            break;
        counts[b] = v < 0 ? 0 : v;
        p = end;
    }
}

static void read_checkpoint(sqlite3_stmt *stmt, struct writer_checkpoint *c)
{
    const unsigned char *at = sqlite3_column_text(stmt, 7);
    if (at == NULL)
        return;
    c->present = 1;
    c->at = xstrdup((const char *)at);
    c->log_frames = sqlite3_column_int64(stmt, 8);
    c->done_frames = sqlite3_column_int64(stmt, 9);
    c->completed = sqlite3_column_int(stmt, 10) != 0;
}

static void read_row(sqlite3_stmt *stmt, struct writer_stats *out)
{
    out->sources = xrealloc(out->sources, (out->count + 1) * sizeof out->sources[0]);
    struct writer_source *s = &out->sources[out->count++];
    const unsigned char *name = sqlite3_column_text(stmt, 0);
    s->source = xstrdup(name ? (const char *)name : "");
    s->transactions = sqlite3_column_int64(stmt, 1);
    s->wait_sum_us = sqlite3_column_int64(stmt, 2);
    s->hold_sum_us = sqlite3_column_int64(stmt, 3);
    s->hold_max_us = sqlite3_column_int64(stmt, 4);
    parse_buckets(sqlite3_column_text(stmt, 5), s->wait_buckets);
    parse_buckets(sqlite3_column_text(stmt, 6), s->hold_buckets);
    if (!out->checkpoint.present)
        read_checkpoint(stmt, &out->checkpoint);
}

int writer_stats_read(struct reader_db *rd, struct writer_stats *out,
                      enum reader_presence *presence, char **errp)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *stmt = NULL;
    char *err = NULL;
    if (reader_db_prepare(rd, &writer_query, &stmt, presence, &err) != 0) {
        set_error(errp, "reading %s: %s", SCHEMA_WRITER_STATS_TABLE, err);
        free(err);
        return -1;
    }
    if (*presence != READER_PRESENT)
        return 0;
    int rc;
    while ((rc = reader_db_step(stmt)) == SQLITE_ROW)
        read_row(stmt, out);
    if (rc != SQLITE_DONE) {
        set_error(errp, "reading %s: %s", SCHEMA_WRITER_STATS_TABLE, reader_db_errmsg(rd));
        reader_db_release(stmt);
        writer_stats_free(out);
        return -1;
    }
    reader_db_release(stmt);
    if (out->count == 0)
        *presence = READER_NO_ROW;
    return 0;
}

void writer_stats_free(struct writer_stats *s)
{
    for (size_t i = 0; i < s->count; i++)
        free(s->sources[i].source);
    free(s->sources);
    free(s->checkpoint.at);
    memset(s, 0, sizeof *s);
}

static struct json_object *buckets_json(const int64_t *counts)
{
    struct json_object *arr = json_object_new_array();
    for (int b = 0; b <= WRITER_STATS_BUCKETS; b++) {
        struct json_object *o = json_object_new_object();
        if (b < WRITER_STATS_BUCKETS)
            json_object_object_add(o, "leMs", encode_json_number((double)bounds_us[b] / 1e3));
        else
            json_object_object_add(o, "leMs", NULL); /* above every bound */
        json_object_object_add(o, "count", json_object_new_int64(counts[b]));
        json_object_array_add(arr, o);
    }
    return arr;
}

struct json_object *writer_stats_json(const struct writer_stats *s)
{
    struct json_object *obj = json_object_new_object();
    for (size_t i = 0; i < s->count; i++) {
        const struct writer_source *w = &s->sources[i];
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "transactions", json_object_new_int64(w->transactions));
        json_object_object_add(o, "waitSumMs", encode_json_number((double)w->wait_sum_us / 1e3));
        json_object_object_add(o, "holdSumMs", encode_json_number((double)w->hold_sum_us / 1e3));
        json_object_object_add(o, "holdMaxMs", encode_json_number((double)w->hold_max_us / 1e3));
        json_object_object_add(o, "waitBuckets", buckets_json(w->wait_buckets));
        json_object_object_add(o, "holdBuckets", buckets_json(w->hold_buckets));
        json_object_object_add(obj, w->source, o);
    }
    return obj;
}

static void histogram(FILE *out, const char *name, const char *source, const int64_t *counts,
                      int64_t sum_us)
{
    unsigned long long cumulative = 0;
    for (int b = 0; b <= WRITER_STATS_BUCKETS; b++) {
        cumulative += (unsigned long long)counts[b];
        fprintf(out, "%s_bucket{source=\"", name);
        encode_prom_label(out, source);
        if (b < WRITER_STATS_BUCKETS)
            fprintf(out, "\",le=\"%g\"} %llu\n", (double)bounds_us[b] / 1e6, cumulative);
        else
            fprintf(out, "\",le=\"+Inf\"} %llu\n", cumulative);
    }
    fprintf(out, "%s_sum{source=\"", name);
    encode_prom_label(out, source);
    fputs("\"} ", out);
    encode_prom_value(out, (double)sum_us / 1e6);
    fprintf(out, "\n%s_count{source=\"", name);
    encode_prom_label(out, source);
    fprintf(out, "\"} %llu\n", cumulative);
}

void writer_stats_metrics(FILE *out, const struct writer_stats *s)
{
    fputs("# HELP meshscope_writer_hold_seconds How long each worker write transaction held"
          " SQLite's writer, by source.\n# TYPE meshscope_writer_hold_seconds histogram\n",
          out);
    for (size_t i = 0; i < s->count; i++)
        histogram(out, "meshscope_writer_hold_seconds", s->sources[i].source,
                  s->sources[i].hold_buckets, s->sources[i].hold_sum_us);
    fputs("# HELP meshscope_writer_wait_seconds How long each worker write transaction waited"
          " for SQLite's writer, by source.\n# TYPE meshscope_writer_wait_seconds histogram\n",
          out);
    for (size_t i = 0; i < s->count; i++)
        histogram(out, "meshscope_writer_wait_seconds", s->sources[i].source,
                  s->sources[i].wait_buckets, s->sources[i].wait_sum_us);
}
