/* route_healthz.c: GET /api/healthz, the readiness probe browsers poll for the banner. */
#include <string.h>

#include "responder.h"
#include "schema.h"
#include "util.h"

static void not_ready(struct http_response *resp, const char *reason)
{
    struct json_object *body = json_object_new_object();
    json_object_object_add(body, "ready", json_object_new_boolean(0));
    json_object_object_add(body, "reason", json_object_new_string(reason));
    http_response_json(resp, 503, body);
}

void route_healthz(struct responder *r, const struct http_request *req,
                   struct http_response *resp)
{
    (void)req;
    sqlite3 *db = NULL;
    char *err = NULL;
    switch (reader_db_get(r, &db, &err)) {
    case READER_DB_MISSING:
        not_ready(resp, "no database yet");
        return;
    case READER_DB_ERROR:
        not_ready(resp, err);
        free(err);
        return;
    case READER_DB_OK:
        break;
    }

    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT name, status FROM " SCHEMA_MIGRATIONS_TABLE " ORDER BY name",
                           -1, &stmt, NULL) != SQLITE_OK) {
        not_ready(resp, "schema not created yet");
        return;
    }
    struct json_object *migrations = json_object_new_array();
    int running = 0;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        struct json_object *m = json_object_new_object();
        const char *status = (const char *)sqlite3_column_text(stmt, 1);
        json_object_object_add(m, "name",
                               json_object_new_string((const char *)sqlite3_column_text(stmt, 0)));
        json_object_object_add(m, "status", json_object_new_string(status ? status : ""));
        running |= status != NULL && strcmp(status, MIGRATION_STATUS_PENDING) == 0;
        json_object_array_add(migrations, m);
    }
    struct json_object *body = json_object_new_object();
    json_object_object_add(body, "ready", json_object_new_boolean(1));
    json_object_object_add(body, "async_migrations", migrations);
    if (rc != SQLITE_DONE) {
        json_object_object_add(body, "async_migrations_error",
                               json_object_new_string(sqlite3_errmsg(db)));
        running = 1; /* fail closed: keep the banner up */
    }
    json_object_object_add(body, "async_migrations_running", json_object_new_boolean(running));
    sqlite3_finalize(stmt);
    http_response_json(resp, 200, body);
}
