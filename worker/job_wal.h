/* job_wal.h: a writer job's WAL chores, done between its batches with no lock held. */
#ifndef MESHSCOPE_JOB_WAL_H
#define MESHSCOPE_JOB_WAL_H

#include <sqlite3.h>

/* Checkpoint after this many new WAL frames, as SQLite's auto-checkpoint would. */
#define JOB_WAL_CHECKPOINT_FRAMES 1000

struct job_wal {
    sqlite3 *db;
    int fd;                /* the -wal file, for the flush; -1 until opened */
    int frames;            /* WAL size after the last commit, from the WAL hook */
    int checkpoint_frames; /* WAL size after our last checkpoint */
};

/*
 * Takes over the connection's checkpoints for one job run. SQLite's
 * auto-checkpoint runs inside the COMMIT call (after the write lock is
 * released), so its copy and fsync were timed as the job's hold and its slow
 * holds blamed on the job; a WAL hook replaces it and job_wal_chores
 * checkpoints between batches instead, PASSIVE so it never waits for readers
 * or ingest.
 */
void job_wal_attach(struct job_wal *wal, sqlite3 *db);

/*
 * Between batches, with no transaction open. The job connection commits with
 * synchronous=NORMAL, so no fsync happens while it holds the writer; but live
 * ingest commits with a full fsync of the WAL, which would then write out
 * every page the job left in the OS cache, holding the writer as long. So
 * the job flushes its own pages here (fdatasync through a second descriptor;
 * a failure only costs ingest that flush), then runs a PASSIVE checkpoint
 * once JOB_WAL_CHECKPOINT_FRAMES new frames have piled up, counted under the
 * writer source `checkpoint`. Returns 0, or -1 with *errp on a checkpoint error.
 */
int job_wal_chores(struct job_wal *wal, const char *job_name, char **errp);

/* Gives the connection its auto-checkpoint back and closes the descriptor. */
void job_wal_detach(struct job_wal *wal);

#endif
