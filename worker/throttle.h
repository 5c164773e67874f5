/* throttle.h: the health factors that hold a job back (any factor wins), with hysteresis. */
#ifndef MESHSCOPE_THROTTLE_H
#define MESHSCOPE_THROTTLE_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#define THROTTLE_DEFAULT_WAL_MB 64
#define THROTTLE_DEFAULT_INGEST_WAIT_MS 20
#define THROTTLE_DEFAULT_CRITICAL_WAL_MB 1024
/* A job leaves the throttle once every factor is under this share of its limit. */
#define THROTTLE_HYSTERESIS 0.8
/* Ingest's wait for the writer is judged over this much recent time. */
#define THROTTLE_INGEST_WINDOW_MS 10000

/* Limits; 0 (or NULL) turns a factor off. */
struct throttle_config {
    int64_t wal_mb;
    int64_t ingest_wait_ms;
    int64_t critical_wal_mb;
    int64_t reader_p99_ms;      /* the responder pool's reader p99 over 10 s; 0: off */
    const char *pool_stats_file; /* where that is read from (fcgi --stats-file) */
    const char *flag_file;
};

void throttle_config_default(struct throttle_config *config);

/* One look at the factors. */
struct throttle_reading {
    double wal_mb;             /* WAL not yet checkpointed after a PASSIVE attempt */
    double ingest_wait_p99_ms; /* ingest's wait for the writer, p99 over the window */
    double reader_p99_ms;      /* the responder pool's reader p99 over the window */
    int flag_file;             /* the flag file exists */
};

struct throttle_state {
    int throttled;
    char reason[160];
};

/*
 * Updates *state from a reading: a job enters the throttle when any factor
 * is over its limit and leaves once all are under THROTTLE_HYSTERESIS of it.
 * state->reason names the factor and its measured value. Returns 1 when the
 * state changed (entered or left), for the one log line each way.
 */
int throttle_decide(const struct throttle_config *config, const struct throttle_reading *reading,
                    struct throttle_state *state);

/* Whether the WAL is over the critical size; *reason (size bytes) says by how much. */
int throttle_critical(const struct throttle_config *config,
                      const struct throttle_reading *reading, char *reason, size_t size);

/*
 * Takes a reading on db, the job's own connection, between batches: the WAL
 * file's size, and when that is near a limit a PASSIVE checkpoint to learn
 * how much of it is not yet copied back (a checkpointed WAL keeps its size on
 * disk, so the file alone would throttle for ever).
 */
void throttle_read(const struct throttle_config *config, sqlite3 *db,
                   struct throttle_reading *reading);

#endif
