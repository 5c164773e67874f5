/* migration_rows.h: the runner's bookkeeping in _async_migrations: register, reset, done, stopped, failed. */
#ifndef MESHSCOPE_MIGRATION_ROWS_H
#define MESHSCOPE_MIGRATION_ROWS_H

#include <stddef.h>

#include <sqlite3.h>

#include "migration.h"

/*
 * Inserts a pending_async row for every one-off migration of registry that
 * has none, in one short transaction, so readers see the pending work from
 * the start. Recurring jobs get their row when they first run.
 */
int migration_rows_register(sqlite3 *db, const struct migration *registry, size_t registry_len,
                            char **errp);

/*
 * A recurring job's row before a run: created when missing, its interval
 * (every_s, which marks the row as a recurring job's) kept current.
 */
int migration_rows_register_recurring(sqlite3 *db, const char *name, int64_t every_s,
                                      char **errp);

/* Records when a recurring job runs next (Unix seconds). */
int migration_rows_schedule(sqlite3 *db, const char *name, int64_t next_run_unix, char **errp);

/* Sets *status to a heap copy of the row's status, or NULL when there is no row. */
int migration_rows_read_status(sqlite3 *db, const char *name, char **status, char **errp);

/*
 * A re-run starts from zero: the counts, last_update_at and the start time
 * (so rate = processed / elapsed stays true for this run), and no end or error.
 */
int migration_rows_reset(sqlite3 *db, const char *name, char **errp);

/*
 * The terminal row writes, made whatever the progress callback last wrote:
 * done with ended_at and the final counts; stopped (cancelled) keeps
 * pending_async and writes the counts reached. A missing row is an error.
 */
int migration_rows_mark_done(sqlite3 *db, const char *name, const struct migration_result *result,
                             char **errp);
int migration_rows_mark_stopped(sqlite3 *db, const char *name,
                                const struct migration_result *result, char **errp);

/*
 * An upsert, so a failure is recorded even when the failure was the row going
 * missing. The counts are those the run reached, written with the status.
 */
int migration_rows_mark_failed(sqlite3 *db, const char *name, const char *error,
                               const struct migration_result *result, char **errp);

#endif
