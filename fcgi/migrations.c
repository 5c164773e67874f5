/* migrations.c: reads _async_migrations through the TTL cache and renders the info array. */
#include <string.h>

#include "responder.h"
#include "db.h"
#include "schema.h"
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

static int migrations_load(void *ctx, struct migration_set **out, char **errp)
{
    struct responder *r = ctx;
    sqlite3_stmt *stmt = NULL;
    char *err = NULL;
    enum reader_result state = reader_db_prepare(r, &migrations_query, &stmt, &err);
    /* Only a database without operator control falls back; a locked or damaged one fails once. */
    if (state == READER_ERROR && err != NULL && strstr(err, "no such ") != NULL) {
        free(err);
        err = NULL;
        state = reader_db_prepare(r, &migrations_query_basic, &stmt, &err);
    }
    switch (state) {
    case READER_NO_DB:
        *out = migration_set_new(MIGRATIONS_NO_DB);
        return 0;
    case READER_NO_TABLE:
        *out = migration_set_new(MIGRATIONS_NO_TABLE);
        return 0;
    case READER_ERROR:
        set_error(errp, "reading %s: %s", SCHEMA_MIGRATIONS_TABLE, err);
        free(err);
        return -1;
    case READER_OK:
        break;
    }
    struct migration_set *set = migration_set_new(MIGRATIONS_OK);
    int rc;
    while ((rc = reader_db_step(stmt)) == SQLITE_ROW) {
        struct migration_row row;
        migration_row_read(stmt, &row);
        migration_set_add(set, &row);
    }
    if (rc != SQLITE_DONE) {
        set_error(errp, "reading %s: %s", SCHEMA_MIGRATIONS_TABLE, reader_db_errmsg(r));
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
        /* A paused migration keeps the site warming up: its data is still incomplete. */
        *running |= info.status == MIGRATION_STATE_RUNNING || info.status == MIGRATION_STATE_PAUSED;
        json_object_array_add(array, migration_info_to_json(&info));
        migration_info_free(&info);
    }
    return array;
}
