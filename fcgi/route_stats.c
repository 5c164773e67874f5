/* route_stats.c: GET /api/stats, totals that stay cheap at any database size. */
#include <stdlib.h>

#include "encode.h"
#include "router.h"
#include "schema.h"
#include "util.h"

/*
 * COUNT(*) is a full scan: 1.5M observations on every dashboard poll would
 * cost tens of milliseconds each. Ids only grow (AUTOINCREMENT, one writer),
 * so each responder counts a table once and afterwards adds only the rows
 * above the highest id it has seen: an index range over the new rows. MAX(id)
 * is not used as the count itself because upserts burn AUTOINCREMENT ids.
 * Only retention deletes rows, and it counts them in _row_deletions in the
 * same transaction: when that count moves, or the highest id goes down (a
 * replaced database), the count starts over.
 */
struct counted_table {
    const char *name;
    struct reader_query full;
    struct reader_query delta;
};

static const struct counted_table transmissions_table = {
    "transmissions",
    {"SELECT COUNT(*), COALESCE(MAX(id), 0) FROM transmissions", "transmissions"},
    {"SELECT (SELECT COUNT(*) FROM transmissions WHERE id > ?1),"
     " (SELECT COALESCE(MAX(id), 0) FROM transmissions)",
     "transmissions"},
};

static const struct counted_table observations_table = {
    "observations",
    {"SELECT COUNT(*), COALESCE(MAX(id), 0) FROM observations", "observations"},
    {"SELECT (SELECT COUNT(*) FROM observations WHERE id > ?1),"
     " (SELECT COALESCE(MAX(id), 0) FROM observations)",
     "observations"},
};

/* Retention deletes from both tables in one run, so one total serves both counts. */
static const struct reader_query deletions_query = {
    "SELECT COALESCE(SUM(deleted), 0) FROM " SCHEMA_ROW_DELETIONS_TABLE,
    SCHEMA_ROW_DELETIONS_TABLE,
};

/* Rows retention has deleted so far; 0 without the table (an older schema). */
static int deletions_so_far(struct responder *r, int64_t *out, char **errp)
{
    sqlite3_stmt *stmt = NULL;
    enum reader_presence presence;
    *out = 0;
    if (reader_db_prepare(&r->reader, &deletions_query, &stmt, &presence, errp) != 0)
        return -1;
    if (presence != READER_PRESENT)
        return 0;
    int rc = reader_db_step(stmt);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(stmt, 0);
    else
        set_error(errp, "reading the deletions: %s", reader_db_errmsg(&r->reader));
    reader_db_release(stmt);
    return rc == SQLITE_ROW ? 0 : -1;
}

/* MAX over an indexed column is one index probe (SQLite's min/max optimisation). */
static const struct reader_query newest_query = {
    "SELECT MAX(last_seen) FROM transmissions",
    "transmissions",
};

/* 0 with *presence; when READER_PRESENT the counter is current. -1 and *errp on failure. */
static int count_rows(struct responder *r, const struct counted_table *t, struct row_counter *c,
                      int64_t deletions, enum reader_presence *presence, char **errp)
{
    if (c->valid && deletions != c->deletions)
        c->valid = 0;
    for (int attempt = 0; attempt < 2; attempt++) {
        sqlite3_stmt *stmt = NULL;
        int full = !c->valid;
        if (reader_db_prepare(&r->reader, full ? &t->full : &t->delta, &stmt, presence, errp) != 0)
            return -1;
        if (*presence != READER_PRESENT)
            return 0;
        if (!full)
            sqlite3_bind_int64(stmt, 1, c->max_id);
        if (reader_db_step(stmt) != SQLITE_ROW) {
            set_error(errp, "counting %s: %s", t->name, reader_db_errmsg(&r->reader));
            reader_db_release(stmt);
            return -1;
        }
        int64_t count = sqlite3_column_int64(stmt, 0);
        int64_t max_id = sqlite3_column_int64(stmt, 1);
        reader_db_release(stmt);
        if (full) {
            c->valid = 1;
            c->count = count;
            c->max_id = max_id;
            c->deletions = deletions;
            return 0;
        }
        if (max_id >= c->max_id) {
            c->count += count;
            c->max_id = max_id;
            return 0;
        }
        c->valid = 0; /* the ids went backwards: recount from scratch */
    }
    return set_error(errp, "counting %s: ids keep going backwards", t->name);
}

static void stats(struct responder *r, const struct http_request *req, struct http_response *resp)
{
    (void)req;
    char *err = NULL;
    struct json_object *body = json_object_new_object();
    enum reader_presence tx, obs;
    /* Read before the counts: a deletion between them then shows as a change next time. */
    int64_t deletions = 0;
    if (deletions_so_far(r, &deletions, &err) != 0 ||
        count_rows(r, &transmissions_table, &r->transmissions, deletions, &tx, &err) != 0 ||
        count_rows(r, &observations_table, &r->observations, deletions, &obs, &err) != 0)
        goto fail;
    json_object_object_add(body, "transmissions",
                           json_object_new_int64(tx == READER_PRESENT ? r->transmissions.count : 0));
    json_object_object_add(body, "observations",
                           json_object_new_int64(obs == READER_PRESENT ? r->observations.count : 0));

    struct json_object *newest = NULL;
    if (tx == READER_PRESENT) {
        sqlite3_stmt *stmt = NULL;
        enum reader_presence presence;
        if (reader_db_prepare(&r->reader, &newest_query, &stmt, &presence, &err) != 0)
            goto fail;
        if (presence == READER_PRESENT) {
            int rc = reader_db_step(stmt);
            if (rc != SQLITE_ROW) {
                err = xasprintf("reading newest last_seen: %s", reader_db_errmsg(&r->reader));
                reader_db_release(stmt);
                goto fail;
            }
            /* 0 means "not backfilled yet", not a time. */
            if (sqlite3_column_type(stmt, 0) != SQLITE_NULL && sqlite3_column_int64(stmt, 0) > 0)
                newest = json_object_new_int64(sqlite3_column_int64(stmt, 0));
            reader_db_release(stmt);
        }
    }
    json_object_object_add(body, "newestLastSeen", newest);
    http_response_json(resp, 200, body);
    return;

fail:
    json_object_put(body);
    http_response_error(resp, 500, err);
    free(err);
}

const struct route route_stats_entry = {
    .path = "/api/stats",
    .handler = stats,
};
