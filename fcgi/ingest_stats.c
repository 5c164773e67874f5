/* ingest_stats.c: reads the worker's live-ingest figures from _ingest_stats, when the table exists. */
#include <stdlib.h>

#include "ingest_stats.h"

#include "schema.h"
#include "util.h"

static const struct reader_query ingest_query = {
    .sql = "SELECT lines_accepted, lines_rejected, lines_acked, commits, commit_rows_max,"
           " ack_latency_p50_ms, ack_latency_p99_ms, updated_at FROM " SCHEMA_INGEST_STATS_TABLE
           " WHERE id = 1",
    .table = SCHEMA_INGEST_STATS_TABLE,
};

int ingest_stats_read(struct reader_db *rd, struct ingest_stats *out,
                      enum reader_presence *presence, char **errp)
{
    sqlite3_stmt *stmt = NULL;
    char *err = NULL;
    if (reader_db_prepare(rd, &ingest_query, &stmt, presence, &err) != 0) {
        set_error(errp, "reading %s: %s", SCHEMA_INGEST_STATS_TABLE, err);
        free(err);
        return -1;
    }
    if (*presence != READER_PRESENT)
        return 0; /* an older worker, or none yet: nothing to report */
    int rc = reader_db_step(stmt);
    if (rc == SQLITE_DONE) {
        reader_db_release(stmt);
        *presence = READER_NO_ROW;
        return 0;
    }
    if (rc != SQLITE_ROW) {
        set_error(errp, "reading %s: %s", SCHEMA_INGEST_STATS_TABLE, reader_db_errmsg(rd));
        reader_db_release(stmt);
        return -1;
    }
    out->lines_accepted = sqlite3_column_int64(stmt, 0);
    out->lines_rejected = sqlite3_column_int64(stmt, 1);
    out->lines_acked = sqlite3_column_int64(stmt, 2);
    out->commits = sqlite3_column_int64(stmt, 3);
    out->commit_rows_max = sqlite3_column_int64(stmt, 4);
    out->ack_latency_p50_ms = sqlite3_column_double(stmt, 5);
    out->ack_latency_p99_ms = sqlite3_column_double(stmt, 6);
    const unsigned char *updated = sqlite3_column_text(stmt, 7);
    out->updated_at = updated ? xstrdup((const char *)updated) : NULL;
    reader_db_release(stmt);
    return 0;
}

void ingest_stats_free(struct ingest_stats *s)
{
    free(s->updated_at);
    s->updated_at = NULL;
}
