/* route_packets.c: GET /api/packets?limit=N&before=ID, recent transmissions newest first, keyset-paginated. */
#include <stdint.h>
#include <stdlib.h>

#include "encode.h"
#include "router.h"

enum { PACKETS_LIMIT, PACKETS_BEFORE };

#define PACKETS_LIMIT_DEFAULT 50
#define PACKETS_LIMIT_MAX 500

static const struct param_spec packets_params[] = {
    [PACKETS_LIMIT] = {"limit", PARAM_INT, 1, PACKETS_LIMIT_MAX, 20, PACKETS_LIMIT_DEFAULT},
    [PACKETS_BEFORE] = {"before", PARAM_INT, 1, INT64_MAX, 20, 0},
};

/*
 * Keyset pagination on the primary key: each page is one index range scan
 * whatever its depth, unlike OFFSET. The per-row count is a range scan of
 * observations(transmission_id), so it costs what that transmission has.
 * The first page has no upper bound: no sentinel id can stand for "none"
 * when a row may hold INT64_MAX itself.
 */
#define PACKETS_COLUMNS                                                                            \
    "SELECT t.id, t.hash, t.payload_type, t.first_seen, t.last_seen,"                              \
    " (SELECT COUNT(*) FROM observations AS o WHERE o.transmission_id = t.id)"                     \
    " FROM transmissions AS t"

static const struct reader_query packets_before_query = {
    .sql = PACKETS_COLUMNS " WHERE t.id < ?1 ORDER BY t.id DESC LIMIT ?2",
    .table = "transmissions",
};

static const struct reader_query packets_first_query = {
    .sql = PACKETS_COLUMNS " ORDER BY t.id DESC LIMIT ?2",
    .table = "transmissions",
};

static void packets(struct responder *r, const struct http_request *req,
                    struct http_response *resp)
{
    int64_t limit = req->params[PACKETS_LIMIT].i;
    const struct param_value *before = &req->params[PACKETS_BEFORE];
    struct json_object *list = json_object_new_array();
    struct json_object *body = json_object_new_object();
    json_object_object_add(body, "packets", list);

    sqlite3_stmt *stmt = NULL;
    enum reader_presence presence;
    char *err = NULL;
    if (reader_db_prepare(&r->reader, before->present ? &packets_before_query : &packets_first_query,
                          &stmt, &presence, &err) != 0) {
        json_object_put(body);
        http_response_error(resp, 500, err);
        free(err);
        return;
    }
    if (presence != READER_PRESENT) {
        /* Nothing stored yet is an empty page, not an error. */
        json_object_object_add(body, "next", NULL);
        http_response_json(resp, 200, body);
        return;
    }

    /* One row past the page says whether there is a next page. */
    if (before->present)
        sqlite3_bind_int64(stmt, 1, before->i);
    sqlite3_bind_int64(stmt, 2, limit + 1);
    int64_t rows = 0, last_id = 0;
    int more = 0;
    int rc;
    while ((rc = reader_db_step(stmt)) == SQLITE_ROW) {
        if (rows == limit) {
            more = 1;
            break;
        }
        struct json_object *p = json_object_new_object();
        last_id = sqlite3_column_int64(stmt, 0);
        json_object_object_add(p, "id", json_object_new_int64(last_id));
        json_object_object_add(p, "hash",
                               encode_json_string((const char *)sqlite3_column_text(stmt, 1)));
        json_object_object_add(p, "payloadType",
                               sqlite3_column_type(stmt, 2) == SQLITE_NULL
                                   ? NULL
                                   : json_object_new_int64(sqlite3_column_int64(stmt, 2)));
        json_object_object_add(p, "firstSeen", json_object_new_int64(sqlite3_column_int64(stmt, 3)));
        json_object_object_add(p, "lastSeen", json_object_new_int64(sqlite3_column_int64(stmt, 4)));
        json_object_object_add(p, "observations",
                               json_object_new_int64(sqlite3_column_int64(stmt, 5)));
        json_object_array_add(list, p);
        rows++;
    }
    if (!more && rc != SQLITE_DONE) {
        json_object_put(body);
        http_response_error(resp, 500, reader_db_errmsg(&r->reader));
        reader_db_release(stmt);
        return;
    }
    reader_db_release(stmt);
    json_object_object_add(body, "next", more ? json_object_new_int64(last_id) : NULL);
    http_response_json(resp, 200, body);
}

const struct route route_packets_entry = {
    .path = "/api/packets",
    .handler = packets,
    .params = packets_params,
    .param_count = sizeof packets_params / sizeof packets_params[0],
};
