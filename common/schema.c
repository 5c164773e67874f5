/* schema.c: owns the DDL of docs/database.md and the startup half of the legacy upgrade. */
#include "schema.h"

#include <stdio.h>
#include <string.h>

#include "db.h"
#include "util.h"
#include "writer_stats_table.h"

static const char schema_create_tables[] =
    "CREATE TABLE IF NOT EXISTS transmissions("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " hash TEXT NOT NULL UNIQUE,"
    " raw_hex TEXT NOT NULL,"
    " payload_type INTEGER,"
    " first_seen INTEGER NOT NULL,"
    " last_seen INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS observations("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " transmission_id INTEGER NOT NULL REFERENCES transmissions(id),"
    " observer TEXT, snr REAL, rssi REAL, path_json TEXT,"
    " timestamp INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS " SCHEMA_MIGRATIONS_TABLE "("
    " name TEXT PRIMARY KEY,"
    " status TEXT NOT NULL,"
    " started_at TEXT NOT NULL DEFAULT (datetime('now')),"
    " ended_at TEXT,"
    " error TEXT,"
    " rows_processed INTEGER NOT NULL DEFAULT 0,"
    " rows_total INTEGER NOT NULL DEFAULT 0,"
    " last_update_at TEXT,"
    " active_ms INTEGER NOT NULL DEFAULT 0,"
    " paused_ms INTEGER NOT NULL DEFAULT 0,"
    " throttled_ms INTEGER NOT NULL DEFAULT 0,"
    " recent_rate REAL NOT NULL DEFAULT 0,"
    " throttle_reason TEXT,"
    /* A recurring job's interval (NULL for a one-off migration) and its next run, RFC 3339. */
    " every_s INTEGER,"
    " next_run_at TEXT);"
    /* Operators' pauses and settings per writer job (docs/operations.md), kept
     * across restarts; batch_size 0 means adaptive, NULL means the flag's value. */
    "CREATE TABLE IF NOT EXISTS " SCHEMA_JOB_CONTROL_TABLE "("
    " name TEXT PRIMARY KEY,"
    " paused INTEGER NOT NULL DEFAULT 0,"
    " paused_at TEXT,"
    " pause_reason TEXT,"
    " target_batch_ms INTEGER,"
    " yield_ms INTEGER,"
    " batch_size INTEGER,"
    " max_rows_per_sec INTEGER,"
    " updated_at TEXT);"
    /* One row of cumulative live-ingest figures, written by the worker inside
     * its group commits so the read-only responders can report them. */
    "CREATE TABLE IF NOT EXISTS " SCHEMA_INGEST_STATS_TABLE "("
    " id INTEGER PRIMARY KEY CHECK (id = 1),"
    " lines_accepted INTEGER NOT NULL DEFAULT 0,"
    " lines_rejected INTEGER NOT NULL DEFAULT 0,"
    " lines_acked INTEGER NOT NULL DEFAULT 0,"
    " commits INTEGER NOT NULL DEFAULT 0,"
    " commit_rows_max INTEGER NOT NULL DEFAULT 0,"
    " ack_latency_p50_ms REAL NOT NULL DEFAULT 0,"
    " ack_latency_p99_ms REAL NOT NULL DEFAULT 0,"
    " updated_at TEXT,"
    " lines_duplicate INTEGER NOT NULL DEFAULT 0);"
    /* Rows deleted per table (retention), counted in the deleting transaction:
     * the responders' incremental counts recount when it moves. */
    "CREATE TABLE IF NOT EXISTS " SCHEMA_ROW_DELETIONS_TABLE "("
    " table_name TEXT PRIMARY KEY,"
    " deleted INTEGER NOT NULL DEFAULT 0);"
    /* Cumulative per-source writer figures (common/writer_stats_table.h). */
    "CREATE TABLE IF NOT EXISTS " SCHEMA_WRITER_STATS_TABLE "("
    " source TEXT PRIMARY KEY,"
    " transactions INTEGER NOT NULL DEFAULT 0,"
    " wait_sum_us INTEGER NOT NULL DEFAULT 0,"
    " hold_sum_us INTEGER NOT NULL DEFAULT 0,"
    " hold_max_us INTEGER NOT NULL DEFAULT 0,"
    " wait_buckets TEXT, hold_buckets TEXT, updated_at TEXT,"
    " checkpoint_at TEXT, checkpoint_log_frames INTEGER,"
    " checkpoint_done_frames INTEGER, checkpoint_completed INTEGER);";

/*
 * One row per observer, kept by ingest inside its group commits (see
 * docs/ingest.md): the packet figures from observations, the rest from the
 * observer's status messages. On a database that had observations before
 * this table, the async migration observers_backfill_v1 adds the older ones.
 */
static const char schema_create_observers[] =
    "CREATE TABLE " SCHEMA_OBSERVERS_TABLE "("
    " id TEXT PRIMARY KEY,"
    " name TEXT, region TEXT,"
    " first_packet INTEGER, last_packet INTEGER,"
    " packet_count INTEGER NOT NULL DEFAULT 0,"
    " model TEXT, firmware TEXT, battery_mv INTEGER, uptime_s INTEGER, noise_floor REAL,"
    " status_at INTEGER);"
    /* The backfill's scope and cursor: observations with id <= snapshot are
     * its, later ones ingest's; done_through moves with each batch's commit. */
    "CREATE TABLE " SCHEMA_OBSERVERS_BACKFILL_TABLE "("
    " id INTEGER PRIMARY KEY CHECK (id = 1),"
    " snapshot INTEGER NOT NULL,"
    " done_through INTEGER NOT NULL);"
    "INSERT INTO " SCHEMA_OBSERVERS_BACKFILL_TABLE "(id, snapshot, done_through)"
    " SELECT 1, COALESCE(MAX(id), 0),"
    /* just below the lowest id: a legacy file may hold ids <= 0 */
    "  CASE WHEN MIN(id) > -9223372036854775807 THEN MIN(MIN(id) - 1, 0) ELSE 0 END"
    " FROM observations;";

/* Columns a legacy database, or one from an earlier meshscope, may lack; added at startup. */
static const struct {
    const char *table;
    const char *column_ddl;
} schema_added_columns[] = {
    {"transmissions", "last_seen INTEGER NOT NULL DEFAULT 0"},
    {SCHEMA_MIGRATIONS_TABLE, "rows_processed INTEGER NOT NULL DEFAULT 0"},
    {SCHEMA_MIGRATIONS_TABLE, "rows_total INTEGER NOT NULL DEFAULT 0"},
    {SCHEMA_MIGRATIONS_TABLE, "last_update_at TEXT"},
    {SCHEMA_MIGRATIONS_TABLE, "active_ms INTEGER NOT NULL DEFAULT 0"},
    {SCHEMA_MIGRATIONS_TABLE, "paused_ms INTEGER NOT NULL DEFAULT 0"},
    {SCHEMA_MIGRATIONS_TABLE, "throttled_ms INTEGER NOT NULL DEFAULT 0"},
    {SCHEMA_MIGRATIONS_TABLE, "recent_rate REAL NOT NULL DEFAULT 0"},
    {SCHEMA_MIGRATIONS_TABLE, "throttle_reason TEXT"},
    {SCHEMA_MIGRATIONS_TABLE, "every_s INTEGER"},
    {SCHEMA_MIGRATIONS_TABLE, "next_run_at TEXT"},
    {SCHEMA_INGEST_STATS_TABLE, "lines_duplicate INTEGER NOT NULL DEFAULT 0"},
};

/*
 * Indexes the readers, the backfill and ingest depend on. A new observations
 * index leads with transmission_id (lookups by transmission: the backfill's
 * and ingest's MAX) and adds timestamp, so ingest's duplicate check seeks the
 * exact observation instead of walking every observation of its transmission.
 */
static const struct {
    const char *name;
    const char *table;
    const char *leading; /* an existing index led by this column serves instead */
    const char *columns;
} schema_indexes[] = {
    {"idx_observations_transmission_ts", "observations", "transmission_id",
     "\"transmission_id\", \"timestamp\""},
    {"idx_transmissions_last_seen", "transmissions", "last_seen", "\"last_seen\""},
    /* Time windows (traffic, an observer's last hour) without a scan of every
     * observation; built at startup, about 1 s and 20 MB at operator scale. */
    {"idx_observations_timestamp", "observations", "timestamp", "\"timestamp\""},
};

int schema_add_column(sqlite3 *db, const char *table, const char *column_ddl, char **errp)
{
    char *sql = sqlite3_mprintf("ALTER TABLE \"%w\" ADD COLUMN %s", table, column_ddl);
    if (sql == NULL)
        return set_error(errp, "out of memory");
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    sqlite3_free(sql);
    if (rc == SQLITE_OK)
        return 0;
    const char *msg = sqlite3_errmsg(db);
    if (strncmp(msg, "duplicate column name", strlen("duplicate column name")) == 0)
        return 0;
    return set_error(errp, "adding column to %s failed: %s", table, msg);
}

/*
 * A legacy database may already index the column under another name; building
 * a second index over 1.5M observations would hold the writer for about a
 * second at startup, so an existing index counts when lookups by the column
 * can use it: full (a partial index serves only queries that imply its WHERE),
 * led by the column, in BINARY collation (the comparisons' collation; a NOCASE
 * index is not used for them).
 */
static int has_index_on(sqlite3 *db, const char *table, const char *column, int *present,
                        char **errp)
{
    sqlite3_stmt *stmt = NULL;
    const char *sql = "SELECT 1 FROM pragma_index_list(?1) AS l"
                      " JOIN pragma_index_xinfo(l.name) AS i"
                      " WHERE l.partial = 0 AND i.seqno = 0"
                      " AND i.name = ?2 COLLATE NOCASE AND i.coll = 'BINARY' COLLATE NOCASE";
    if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK)
        return set_error(errp, "listing indexes of %s: %s", table, sqlite3_errmsg(db));
    sqlite3_bind_text(stmt, 1, table, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, column, -1, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        set_error(errp, "listing indexes of %s: %s", table, sqlite3_errmsg(db));
        sqlite3_finalize(stmt);
        return -1;
    }
    *present = rc == SQLITE_ROW;
    sqlite3_finalize(stmt);
    return 0;
}

/* Creates each index of schema_indexes that no usable existing index replaces. */
static int create_missing_indexes(sqlite3 *db, char **errp)
{
    for (size_t i = 0; i < sizeof schema_indexes / sizeof schema_indexes[0]; i++) {
        int present = 0;
        if (has_index_on(db, schema_indexes[i].table, schema_indexes[i].leading, &present,
                         errp) != 0)
            return -1;
        if (present)
            continue;
        char *sql = sqlite3_mprintf("CREATE INDEX IF NOT EXISTS \"%w\" ON \"%w\"(%s)",
                                    schema_indexes[i].name, schema_indexes[i].table,
                                    schema_indexes[i].columns);
        if (sql == NULL)
            return set_error(errp, "out of memory");
        int rc = db_exec(db, sql, "upgrading the schema", errp);
        sqlite3_free(sql);
        if (rc != 0)
            return -1;
    }
    return 0;
}

static int table_exists(sqlite3 *db, const char *name, int *exists, char **errp)
{
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
                           -1, &stmt, NULL) != SQLITE_OK)
        return set_error(errp, "looking up table %s: %s", name, sqlite3_errmsg(db));
    sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    sqlite3_finalize(stmt);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return set_error(errp, "looking up table %s: %s", name, sqlite3_errmsg(db));
    *exists = rc == SQLITE_ROW;
    return 0;
}

/*
 * The observers table and the backfill's snapshot are created together, in
 * the upgrade's transaction, before ingest runs: every observation ingest
 * stores later has an id above the snapshot, so ingest and the backfill
 * count disjoint sets of observations.
 */
static int create_observers(sqlite3 *db, char **errp)
{
    int exists = 0;
    if (table_exists(db, SCHEMA_OBSERVERS_TABLE, &exists, errp) != 0)
        return -1;
    return exists ? 0 : db_exec(db, schema_create_observers, "upgrading the schema", errp);
}

int schema_upgrade(sqlite3 *db, char **errp)
{
    if (db_exec(db, "BEGIN IMMEDIATE", "upgrading the schema", errp) != 0)
        return -1;
    if (db_exec(db, schema_create_tables, "upgrading the schema", errp) != 0 ||
        create_observers(db, errp) != 0)
        goto err;
    for (size_t i = 0; i < sizeof schema_added_columns / sizeof schema_added_columns[0]; i++) {
        if (schema_add_column(db, schema_added_columns[i].table,
                              schema_added_columns[i].column_ddl, errp) != 0)
            goto err;
    }
    if (create_missing_indexes(db, errp) != 0)
        goto err;
    return db_exec(db, "COMMIT", "upgrading the schema", errp);

err:
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}
