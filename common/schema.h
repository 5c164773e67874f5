/* schema.h: table names, the current schema, and the in-place upgrade from legacy databases. */
#ifndef MESHSCOPE_SCHEMA_H
#define MESHSCOPE_SCHEMA_H

#include <sqlite3.h>

#define SCHEMA_MIGRATIONS_TABLE "_async_migrations"
#define SCHEMA_INGEST_STATS_TABLE "_ingest_stats"
#define SCHEMA_OBSERVERS_TABLE "observers"
#define SCHEMA_OBSERVERS_BACKFILL_TABLE "_observers_backfill"
#define SCHEMA_JOB_CONTROL_TABLE "_job_control"
#define SCHEMA_ROW_DELETIONS_TABLE "_row_deletions"

/* Status values stored in _async_migrations.status (docs/database.md). */
#define MIGRATION_STATUS_PENDING "pending_async"
#define MIGRATION_STATUS_DONE "done"
#define MIGRATION_STATUS_FAILED "failed"

/*
 * Creates missing tables and indexes and adds the columns a legacy database
 * lacks. Only the cheap parts run here; filling transmissions.last_seen is the
 * async migration's job. Safe to run on every start.
 */
int schema_upgrade(sqlite3 *db, char **errp);

/*
 * Runs one ALTER TABLE ... ADD COLUMN. SQLite's "duplicate column name" error
 * means an earlier start already added it and counts as success; every other
 * error is returned.
 */
int schema_add_column(sqlite3 *db, const char *table, const char *column_ddl, char **errp);

#endif
