/* route_packet.c: GET /api/packets/ID, one transmission with its decoded header and every observation. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encode.h"
#include "packet.h"
#include "route_query.h"
#include "router.h"
#include "util.h"

#define PACKET_PREFIX "/api/packets/"

static const struct param_spec packet_id_spec = {"id", PARAM_INT, 1, INT64_MAX, 19, 0};

static const struct reader_query packet_query = {
    .sql = "SELECT id, hash, raw_hex, payload_type, first_seen, last_seen FROM transmissions"
           " WHERE id = ?1",
    .table = "transmissions",
};

/* The observations of one transmission, by the observations(transmission_id) index. */
static const struct reader_query packet_obs_query = {
    .sql = "SELECT observer, snr, rssi, path_json, timestamp FROM observations"
           " WHERE transmission_id = ?1 ORDER BY timestamp, id",
    .table = "observations",
};

static struct json_object *hex_json(const uint8_t *b, size_t n)
{
    char *s = xcalloc(1, 2 * n + 1);
    for (size_t i = 0; i < n; i++)
        snprintf(s + 2 * i, 3, "%02x", b[i]);
    struct json_object *o = json_object_new_string(s);
    free(s);
    return o;
}

/* The header fields of raw_hex as MeshCore lays them out, or why they cannot be read. */
static struct json_object *decoded_json(const char *raw_hex)
{
    struct json_object *d = json_object_new_object();
    uint8_t raw[PACKET_MAX_RAW + 1];
    long n = raw_hex ? packet_from_hex(raw_hex, strlen(raw_hex), raw, sizeof raw) : -1;
    struct packet p;
    enum packet_error e = n < 0 ? PACKET_EMPTY : packet_decode(raw, (size_t)n, &p);
    if (n < 0 || e != PACKET_OK) {
        json_object_object_add(d, "error", json_object_new_string(
                                               n < 0 ? "not hex" : packet_error_name(e)));
        return d;
    }
    json_object_object_add(d, "header", json_object_new_int64(p.header));
    json_object_object_add(d, "routeType", json_object_new_string(packet_route_name(p.route)));
    json_object_object_add(d, "payloadType", json_object_new_int64(p.payload_type));
    json_object_object_add(d, "payloadTypeName",
                           json_object_new_string(packet_type_name(p.payload_type)));
    json_object_object_add(d, "payloadVersion", json_object_new_int64(p.payload_version));
    if (p.has_transport) {
        struct json_object *codes = json_object_new_array();
        json_object_array_add(codes, json_object_new_int64(p.transport_codes[0]));
        json_object_array_add(codes, json_object_new_int64(p.transport_codes[1]));
        json_object_object_add(d, "transportCodes", codes);
    } else {
        json_object_object_add(d, "transportCodes", NULL);
    }
    json_object_object_add(d, "hashSize", json_object_new_int64(p.hash_size));
    json_object_object_add(d, "hopCount", json_object_new_int64(p.hops));
    struct json_object *path = json_object_new_array();
    for (unsigned i = 0; i < p.hops; i++)
        json_object_array_add(path, hex_json(p.path + (size_t)i * p.hash_size, p.hash_size));
    json_object_object_add(d, "path", path);
    json_object_object_add(d, "payloadLength", json_object_new_int64((int64_t)p.payload_len));
    return d;
}

/* An observation's path as stored (a JSON array of strings); anything else is null. */
static struct json_object *path_json(const char *text)
{
    if (text == NULL)
        return NULL;
    char *clean = encode_utf8_sanitize(text);
    struct json_object *v = json_tokener_parse(clean);
    free(clean);
    if (v != NULL && !json_object_is_type(v, json_type_array)) {
        json_object_put(v);
        v = NULL;
    }
    return v;
}

static struct json_object *nullable_number(sqlite3_stmt *st, int col)
{
    return sqlite3_column_type(st, col) == SQLITE_NULL ? NULL
                                                       : encode_json_number(sqlite3_column_double(st, col));
}

static int observations_json(struct responder *r, int64_t id, struct json_object *list,
                             char **errp)
{
    sqlite3_stmt *st = NULL;
    int open = route_query_open(r, &packet_obs_query, &st, errp);
    if (open != 0)
        return open > 0 ? 0 : -1;
    sqlite3_bind_int64(st, 1, id);
    int rc;
    while ((rc = reader_db_step(st)) == SQLITE_ROW) {
        struct json_object *o = json_object_new_object();
        const char *observer = (const char *)sqlite3_column_text(st, 0);
        json_object_object_add(o, "observer", observer ? encode_json_string(observer) : NULL);
        json_object_object_add(o, "snr", nullable_number(st, 1));
        json_object_object_add(o, "rssi", nullable_number(st, 2));
        struct json_object *path = path_json((const char *)sqlite3_column_text(st, 3));
        json_object_object_add(o, "hops", path ? json_object_new_int64(
                                                     (int64_t)json_object_array_length(path))
                                               : NULL);
        json_object_object_add(o, "path", path);
        json_object_object_add(o, "timestamp", json_object_new_int64(sqlite3_column_int64(st, 4)));
        json_object_array_add(list, o);
    }
    if (rc != SQLITE_DONE)
        set_error(errp, "%s", reader_db_errmsg(&r->reader));
    reader_db_release(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* Fills *body for transmission id; returns 200, 404 or 500 (with *errp). */
static int packet_body(struct responder *r, int64_t id, struct json_object **body, char **errp)
{
    sqlite3_stmt *st = NULL;
    int open = route_query_open(r, &packet_query, &st, errp);
    if (open != 0)
        return open > 0 ? 404 : 500;
    sqlite3_bind_int64(st, 1, id);
    int rc = reader_db_step(st);
    if (rc != SQLITE_ROW) {
        if (rc != SQLITE_DONE)
            set_error(errp, "%s", reader_db_errmsg(&r->reader));
        reader_db_release(st);
        return rc == SQLITE_DONE ? 404 : 500;
    }
    struct json_object *b = json_object_new_object();
    json_object_object_add(b, "id", json_object_new_int64(sqlite3_column_int64(st, 0)));
    json_object_object_add(b, "hash", encode_json_string((const char *)sqlite3_column_text(st, 1)));
    json_object_object_add(b, "rawHex", encode_json_string((const char *)sqlite3_column_text(st, 2)));
    json_object_object_add(b, "payloadType", sqlite3_column_type(st, 3) == SQLITE_NULL ? NULL
                               : json_object_new_int64(sqlite3_column_int64(st, 3)));
    json_object_object_add(b, "firstSeen", json_object_new_int64(sqlite3_column_int64(st, 4)));
    json_object_object_add(b, "lastSeen", json_object_new_int64(sqlite3_column_int64(st, 5)));
    json_object_object_add(b, "decoded", decoded_json((const char *)sqlite3_column_text(st, 2)));
    reader_db_release(st);
    struct json_object *list = json_object_new_array();
    json_object_object_add(b, "observations", list);
    if (observations_json(r, id, list, errp) != 0) {
        json_object_put(b);
        return 500;
    }
    *body = b;
    return 200;
}

static void packet(struct responder *r, const struct http_request *req,
                   struct http_response *resp)
{
    const char *text = req->path + strlen(PACKET_PREFIX);
    struct param_value id;
    char *err = NULL;
    if (params_validate(&packet_id_spec, text, strlen(text), &id, &err) != 0) {
        http_response_error(resp, 400, err);
        free(err);
        return;
    }
    struct json_object *body = NULL;
    int status = packet_body(r, id.i, &body, &err);
    if (status == 200)
        http_response_json(resp, 200, body);
    else
        http_response_error(resp, status, status == 404 ? "no such packet" : err);
    free(err);
}

const struct route route_packet_entry = {
    .path = PACKET_PREFIX,
    .prefix = 1,
    .handler = packet,
};
