/* migrations.c: reads _async_migrations through the TTL cache and renders the info array. */
#include <stdio.h>
#include <string.h>

#include "migrations.h"

#include "db.h"
#include "schema.h"
#include "utf8.h"
#include "util.h"

static const struct reader_query migrations_query = {
    .sql = "SELECT name, status, started_at, ended_at, error, rows_processed, rows_total,"
           " last_update_at FROM " SCHEMA_MIGRATIONS_TABLE " ORDER BY name",
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
    if (reader_db_prepare(&r->reader, &migrations_query, &stmt, &presence, &err) != 0) {
        set_error(errp, "reading %s: %s", SCHEMA_MIGRATIONS_TABLE, err);
        free(err);
        return -1;
    }
    if (presence != READER_PRESENT) {
        *out = migration_set_new(presence);
        return 0;
    }
    struct migration_set *set = migration_set_new(READER_PRESENT);
    int rc;
    while ((rc = reader_db_step(stmt)) == SQLITE_ROW) {
        char *raw = name_raw(stmt, 0);
        struct migration_row row = {
            .name = db_column_text_dup(stmt, 0),
            .status = db_column_text_dup(stmt, 1),
            .started_at = db_column_text_dup(stmt, 2),
            .ended_at = db_column_text_dup(stmt, 3),
            .error = db_column_text_dup(stmt, 4),
            .rows_processed = sqlite3_column_int64(stmt, 5),
            .rows_total = sqlite3_column_int64(stmt, 6),
            .last_update_at = db_column_text_dup(stmt, 7),
        };
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
        *running |= info.status == MIGRATION_STATE_RUNNING;
        json_object_array_add(array, migration_info_to_json(&info));
        migration_info_free(&info);
    }
    return array;
}
