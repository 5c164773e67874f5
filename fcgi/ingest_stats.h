/* ingest_stats.h: the worker's live-ingest figures, as the responders read them. */
#ifndef MESHSCOPE_INGEST_STATS_H
#define MESHSCOPE_INGEST_STATS_H

#include <stdint.h>

#include "reader_db.h"

struct ingest_stats {
    int64_t lines_accepted, lines_rejected, lines_acked, commits, commit_rows_max;
    double ack_latency_p50_ms, ack_latency_p99_ms;
    char *updated_at; /* heap, may be NULL */
};

/*
 * Reads the row. Returns 0 with *presence READER_PRESENT and *out filled, or
 * the presence that says why there is nothing (no database, no table: an
 * older worker, no row yet); -1 and *errp on a read error.
 */
int ingest_stats_read(struct reader_db *rd, struct ingest_stats *out,
                      enum reader_presence *presence, char **errp);
void ingest_stats_free(struct ingest_stats *s);

#endif
