/* writer_stats_table.h: the table and histogram buckets the worker's writer accounting shares with the responders. */
#ifndef MESHSCOPE_WRITER_STATS_H
#define MESHSCOPE_WRITER_STATS_H

/*
 * One row per write source (ingest, migration:NAME, retention, checkpoint,
 * progress) with cumulative figures, written by the worker about once a
 * second so the read-only responders can publish them. The bucket columns
 * hold WRITER_STATS_BUCKETS + 1 space-separated per-bucket (not cumulative)
 * counts, the last one for holds or waits above every bound.
 */
#define SCHEMA_WRITER_STATS_TABLE "_writer_stats"

#define WRITER_STATS_BUCKETS 13
/* Upper bounds in microseconds, fixed so that any two scrapes can be compared. */
#define WRITER_STATS_BOUNDS_US                                                          \
    {1000, 2500, 5000, 10000, 25000, 50000, 100000, 200000, 500000, 1000000, 2500000, \
     5000000, 10000000}

#endif
