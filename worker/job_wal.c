/* job_wal.c: the flush and the checkpoints a writer job does outside its write transactions. */
#include "job_wal.h"

#include <fcntl.h>
#include <unistd.h>

#include "log.h"
#include "util.h"
#include "writer_accounting.h"

static int job_wal_hook(void *arg, sqlite3 *db, const char *schema, int frames)
{
    (void)db;
    (void)schema;
    ((struct job_wal *)arg)->frames = frames;
    return SQLITE_OK;
}

void job_wal_attach(struct job_wal *wal, sqlite3 *db)
{
    *wal = (struct job_wal){.db = db, .fd = -1};
    sqlite3_wal_hook(db, job_wal_hook, wal); /* replaces the auto-checkpoint */
}

static void job_wal_flush(struct job_wal *wal)
{
    if (wal->fd < 0) {
        const char *db_path = sqlite3_db_filename(wal->db, "main");
        if (db_path == NULL || *db_path == '\0')
            return;
        char *wal_path = xasprintf("%s-wal", db_path);
        wal->fd = open(wal_path, O_RDONLY | O_CLOEXEC);
        free(wal_path);
        if (wal->fd < 0)
            return;
    }
    fdatasync(wal->fd);
}

int job_wal_chores(struct job_wal *wal, const char *job_name, char **errp)
{
    if (wal->db == NULL)
        return 0;
    job_wal_flush(wal);
    if (wal->frames < wal->checkpoint_frames)
        wal->checkpoint_frames = 0; /* the WAL was restarted from its beginning */
    if (wal->frames - wal->checkpoint_frames < JOB_WAL_CHECKPOINT_FRAMES)
        return 0;
    int log_frames = 0, done_frames = 0;
    int64_t start = clock_monotonic_us();
    int rc = sqlite3_wal_checkpoint_v2(wal->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log_frames,
                                       &done_frames);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY && rc != SQLITE_LOCKED)
        return set_error(errp, "checkpoint failed: %s", sqlite3_errmsg(wal->db));
    int64_t took = clock_monotonic_us() - start;
    writer_acct_record(WRITER_SOURCE_CHECKPOINT, 0, took);
    writer_acct_checkpoint(log_frames, done_frames, rc == SQLITE_OK && done_frames == log_frames);
    log_debug("%s: checkpoint of %d/%d WAL frames took %.1f ms", job_name, done_frames,
              log_frames, (double)took / 1000.0);
    wal->checkpoint_frames = wal->frames;
    return 0;
}

void job_wal_detach(struct job_wal *wal)
{
    if (wal->db == NULL)
        return;
    sqlite3_wal_hook(wal->db, NULL, NULL);
    sqlite3_wal_autocheckpoint(wal->db, JOB_WAL_CHECKPOINT_FRAMES);
    if (wal->fd >= 0)
        close(wal->fd);
    *wal = (struct job_wal){.fd = -1};
}
