/* wal_housekeeping.c: truncates the WAL once readers let go, never making a writer wait for readers. */
#include "wal_housekeeping.h"

#include <sys/stat.h>

#include "log.h"
#include "util.h"
#include "writer_accounting.h"
#include "writer_demand.h"

static int64_t wal_bytes(sqlite3 *db)
{
    const char *path = sqlite3_db_filename(db, "main");
    if (path == NULL || *path == '\0')
        return 0;
    char *wal = xasprintf("%s-wal", path);
    struct stat st;
    int64_t size = stat(wal, &st) == 0 ? (int64_t)st.st_size : 0;
    free(wal);
    return size;
}

static int checkpoint(sqlite3 *db, int mode, int *log_frames, int *done_frames)
{
    int64_t start = clock_monotonic_us();
    int rc = sqlite3_wal_checkpoint_v2(db, NULL, mode, log_frames, done_frames);
    writer_acct_record(WRITER_SOURCE_CHECKPOINT, 0, clock_monotonic_us() - start);
    writer_acct_checkpoint(*log_frames, *done_frames,
                           rc == SQLITE_OK && *log_frames == *done_frames);
    return rc;
}

int wal_housekeeping_step(sqlite3 *db, int64_t limit_mb, char **errp)
{
    int64_t size = wal_bytes(db);
    if (limit_mb <= 0 || size <= limit_mb * 1024 * 1024 || writer_demand_pending())
        return 0;
    int log_frames = 0, done_frames = 0;
    int rc = checkpoint(db, SQLITE_CHECKPOINT_PASSIVE, &log_frames, &done_frames);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY)
        return set_error(errp, "checkpoint: %s", sqlite3_errmsg(db));
    if (rc != SQLITE_OK || log_frames != done_frames)
        return 0; /* a reader still uses old frames: try again at the next quiet moment */
    /* Every frame is back in the database: TRUNCATE only resets the file. No busy wait for readers. */
    sqlite3_busy_timeout(db, 0);
    rc = checkpoint(db, SQLITE_CHECKPOINT_TRUNCATE, &log_frames, &done_frames);
    sqlite3_busy_timeout(db, 10000);
    if (rc != SQLITE_OK)
        return 0;
    log_info("WAL housekeeping: truncated the WAL (%.1f MB, over %lld MB)",
             (double)size / (1024.0 * 1024.0), (long long)limit_mb);
    return 1;
}
