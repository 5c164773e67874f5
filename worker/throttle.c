/* throttle.c: reading the health factors and deciding, with hysteresis, whether a job waits. */
#include "throttle.h"

#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "reader_latency.h"
#include "util.h"
#include "writer_accounting.h"
#include "writer_demand.h"

/* Each WAL frame is a page plus its 24-byte header. */
#define THROTTLE_WAL_FRAME_HEADER 24

void throttle_config_default(struct throttle_config *config)
{
    *config = (struct throttle_config){
        .wal_mb = THROTTLE_DEFAULT_WAL_MB,
        .ingest_wait_ms = THROTTLE_DEFAULT_INGEST_WAIT_MS,
        .critical_wal_mb = THROTTLE_DEFAULT_CRITICAL_WAL_MB,
    };
}

/* Whether value is over limit (entering) or at least THROTTLE_HYSTERESIS of it (staying). */
static int over(double value, int64_t limit, int staying)
{
    if (limit <= 0)
        return 0;
    return staying ? value >= (double)limit * THROTTLE_HYSTERESIS : value > (double)limit;
}

int throttle_decide(const struct throttle_config *config, const struct throttle_reading *reading,
                    struct throttle_state *state)
{
    int staying = state->throttled;
    char reason[sizeof state->reason] = "";
    if (config->flag_file != NULL && reading->flag_file)
        snprintf(reason, sizeof reason, "flag file %s exists", config->flag_file);
    else if (over(reading->wal_mb, config->wal_mb, staying))
        snprintf(reason, sizeof reason, "WAL %.1f MB not checkpointed (limit %lld MB)",
                 reading->wal_mb, (long long)config->wal_mb);
    else if (over(reading->ingest_wait_p99_ms, config->ingest_wait_ms, staying))
        snprintf(reason, sizeof reason, "ingest waits %.1f ms for the writer at p99 (limit %lld ms)",
                 reading->ingest_wait_p99_ms, (long long)config->ingest_wait_ms);
    else if (over(reading->reader_p99_ms, config->reader_p99_ms, staying))
        snprintf(reason, sizeof reason, "readers answer in %.1f ms at p99 (limit %lld ms)",
                 reading->reader_p99_ms, (long long)config->reader_p99_ms);
    int throttled = reason[0] != '\0';
    int changed = throttled != state->throttled;
    state->throttled = throttled;
    if (throttled)
        snprintf(state->reason, sizeof state->reason, "%s", reason);
    else if (changed)
        snprintf(state->reason, sizeof state->reason,
                 "WAL %.1f MB, ingest wait p99 %.1f ms, reader p99 %.1f ms", reading->wal_mb,
                 reading->ingest_wait_p99_ms, reading->reader_p99_ms);
    return changed;
}

int throttle_critical(const struct throttle_config *config,
                      const struct throttle_reading *reading, char *reason, size_t size)
{
    if (config->critical_wal_mb <= 0 || reading->wal_mb <= (double)config->critical_wal_mb)
        return 0;
    snprintf(reason, size, "critical WAL size: %.1f MB not checkpointed (limit %lld MB)",
             reading->wal_mb, (long long)config->critical_wal_mb);
    return 1;
}

/* The smallest WAL limit in force, in MB; 0 when no WAL factor is on. */
static double throttle_wal_floor(const struct throttle_config *config)
{
    int64_t floor = config->wal_mb;
    if (config->critical_wal_mb > 0 && (floor <= 0 || config->critical_wal_mb < floor))
        floor = config->critical_wal_mb;
    return floor > 0 ? (double)floor : 0.0;
}

static double throttle_wal_mb(const struct throttle_config *config, sqlite3 *db)
{
    double floor = throttle_wal_floor(config);
    const char *path = sqlite3_db_filename(db, "main");
    if (floor <= 0 || path == NULL || *path == '\0')
        return 0.0;
    char *wal = xasprintf("%s-wal", path);
    struct stat st;
    int present = stat(wal, &st) == 0;
    free(wal);
    double file_mb = present ? (double)st.st_size / (1024.0 * 1024.0) : 0.0;
    if (file_mb < floor * THROTTLE_HYSTERESIS)
        return file_mb; /* the whole file is under every threshold: no need to look closer */
    int log_frames = 0, done_frames = 0;
    int64_t began = clock_monotonic_us();
    int rc = sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log_frames,
                                       &done_frames);
    writer_acct_record(WRITER_SOURCE_CHECKPOINT, 0, clock_monotonic_us() - began);
    if (rc != SQLITE_OK || log_frames < 0)
        return file_mb;
    writer_acct_checkpoint(log_frames, done_frames, done_frames == log_frames);
    sqlite3_stmt *stmt = NULL;
    int64_t page = 4096;
    if (sqlite3_prepare_v2(db, "PRAGMA page_size", -1, &stmt, NULL) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW)
        page = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    double backlog = (double)(log_frames - done_frames) * (double)(page + THROTTLE_WAL_FRAME_HEADER);
    return backlog / (1024.0 * 1024.0);
}

void throttle_read(const struct throttle_config *config, sqlite3 *db,
                   struct throttle_reading *reading)
{
    *reading = (struct throttle_reading){0};
    reading->wal_mb = throttle_wal_mb(config, db);
    if (config->ingest_wait_ms > 0)
        reading->ingest_wait_p99_ms =
            (double)writer_demand_wait_p99_us(THROTTLE_INGEST_WINDOW_MS) / 1000.0;
    if (config->reader_p99_ms > 0 && config->pool_stats_file != NULL)
        reading->reader_p99_ms =
            reader_latency_p99_ms(config->pool_stats_file, clock_monotonic_ms());
    reading->flag_file = config->flag_file != NULL && access(config->flag_file, F_OK) == 0;
}
