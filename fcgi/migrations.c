/* migrations.c: reads _async_migrations through the TTL cache and renders the info array. */
#include <stdio.h>
#include <string.h>

#include "migrations.h"

#include "db.h"
#include "schema.h"
#include "utf8.h"
#include "util.h"

/* With pauses and throttles (the worker's schema), else as a database without them has it. */
static const struct reader_query migrations_query = {
    .sql = MIGRATION_ROW_SELECT,
    .table = SCHEMA_MIGRATIONS_TABLE,
};
static const struct reader_query migrations_query_basic = {
    .sql = MIGRATION_ROW_SELECT_BASIC,
    .table = SCHEMA_MIGRATIONS_TABLE,
};

/* See migration_set.name_raw. Reads the column's type before any conversion can change it. */
static char *name_raw(sqlite3_stmt *stmt, int col)
{
    int type = sqlite3_column_type(stmt, col);
    const unsigned char *bytes =
        type == SQLITE_BLOB ? sqlite3_column_blob(stmt, col) : sqlite3_column_text(stmt, col);
    size_t len = (size_t)sqlite3_column_bytes(stmt, col);
    if (type == SQLITE_TEXT && memchr(bytes, '\0', len) == NULL && utf8_valid(bytes, len))
        return NULL;
    const char *kind = type == SQLITE_TEXT ? "text" : type == SQLITE_BLOB ? "blob" : "null";
    char *raw = xmalloc(strlen(kind) + 1 + 2 * len + 1);
    char *p = raw + sprintf(raw, "%s:", kind);
    for (size_t i = 0; bytes != NULL && i < len; i++)
        p += sprintf(p, "%02x", bytes[i]);
    *p = '\0';
    return raw;
}

static int migrations_load(void *ctx, struct migration_set **out, char **errp)
{
    struct responder *r = ctx;
    sqlite3_stmt *stmt = NULL;
    enum reader_presence presence;
    char *err = NULL;
    int rc = reader_db_prepare(&r->reader, &migrations_query, &stmt, &presence, &err);
    /* Only a database without operator control falls back; a locked or damaged one fails once. */
    if (rc != 0 && err != NULL && strstr(err, "no such ") != NULL) {
        free(err);
        err = NULL;
        rc = reader_db_prepare(&r->reader, &migrations_query_basic, &stmt, &presence, &err);
    }
    if (rc != 0) {
        set_error(errp, "reading %s: %s", SCHEMA_MIGRATIONS_TABLE, err);
        free(err);
        return -1;
    }
    if (presence != READER_PRESENT) {
        *out = migration_set_new(presence);
        return 0;
    }
    struct migration_set *set = migration_set_new(READER_PRESENT);
    while ((rc = reader_db_step(stmt)) == SQLITE_ROW) {
        char *raw = name_raw(stmt, 0);
        struct migration_row row;
        migration_row_read(stmt, &row);
        migration_set_add(set, &row, raw);
    }
    if (rc != SQLITE_DONE) {
        set_error(errp, "reading %s: %s", SCHEMA_MIGRATIONS_TABLE, reader_db_errmsg(&r->reader));
        reader_db_release(stmt);
        migration_set_release(set);
        return -1;
    }
    reader_db_release(stmt);
    *out = set;
    return 0;
}

void migrations_init(struct responder *r)
{
    migration_cache_init(&r->migrations, r->cache_ttl_ms, clock_monotonic_ms, migrations_load, r);
}

int migrations_get(struct responder *r, struct migration_set **out, char **errp)
{
    return migration_cache_get(&r->migrations, out, errp);
}

struct json_object *migrations_to_json(struct responder *r, const struct migration_set *set,
                                       int *running)
{
    struct json_object *array = json_object_new_array();
    int64_t now_ms = r->wall_clock_ms();
    *running = 0;
    for (size_t i = 0; set != NULL && i < set->count; i++) {
        struct migration_info info;
        migration_info_compute(&set->rows[i], now_ms, r->stalled_after_ms, &info);
        /*
         * A paused migration keeps the site warming up: its data is still
         * incomplete. A recurring job's run (retention) does not: the data is whole.
         */
        *running |= !info.recurring && (info.status == MIGRATION_STATE_RUNNING ||
                                        info.status == MIGRATION_STATE_PAUSED);
        json_object_array_add(array, migration_info_to_json(&info));
        migration_info_free(&info);
    }
    return array;
}
