/* writer_stats.h: the worker's per-source writer figures, as the responders read and publish them. */
#ifndef MESHSCOPE_FCGI_WRITER_STATS_H
#define MESHSCOPE_FCGI_WRITER_STATS_H

#include <stdint.h>
#include <stdio.h>

#include <json-c/json.h>

#include "reader_db.h"
#include "writer_stats_table.h"

struct writer_source {
    char *source;
    int64_t transactions, wait_sum_us, hold_sum_us, hold_max_us;
    int64_t wait_buckets[WRITER_STATS_BUCKETS + 1], hold_buckets[WRITER_STATS_BUCKETS + 1];
};

struct writer_checkpoint {
    int present;
    char *at; /* heap */
    int64_t log_frames, done_frames;
    int completed;
};

struct writer_stats {
    struct writer_source *sources;
    size_t count;
    struct writer_checkpoint checkpoint;
};

/* Reads every row; *presence as for ingest_stats_read. -1 and *errp on a read error. */
int writer_stats_read(struct reader_db *rd, struct writer_stats *out,
                      enum reader_presence *presence, char **errp);
void writer_stats_free(struct writer_stats *s);

/* {"SOURCE": {transactions, waitSumMs, holdSumMs, holdMaxMs, waitBuckets, holdBuckets}, ...} */
struct json_object *writer_stats_json(const struct writer_stats *s);
/* The meshscope_writer_hold_seconds and meshscope_writer_wait_seconds histograms. */
void writer_stats_metrics(FILE *out, const struct writer_stats *s);

#endif
