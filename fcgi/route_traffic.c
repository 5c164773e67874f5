/* route_traffic.c: GET /api/traffic?minutes=N, observations and packets per minute for a chart. */
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>

#include <json-c/printbuf.h>

#include "route_query.h"
#include "router.h"
#include "util.h"

enum { TRAFFIC_MINUTES };

#define TRAFFIC_MINUTES_DEFAULT 60
#define TRAFFIC_MINUTES_MAX 1440

static const struct param_spec traffic_params[] = {
    [TRAFFIC_MINUTES] = {"minutes", PARAM_INT, 1, TRAFFIC_MINUTES_MAX, 4,
                         TRAFFIC_MINUTES_DEFAULT},
};

/*
 * A range of the observations(timestamp) index: the rows of the window only.
 * Timestamps stored as text fall outside any numeric range and are left out.
 */
static const struct reader_query traffic_query = {
    .sql = "SELECT (CAST(timestamp AS INTEGER) - ?1) / 60, count(*),"
           " count(DISTINCT transmission_id) FROM observations"
           " WHERE timestamp >= ?1 AND timestamp < ?2 GROUP BY 1",
    .table = "observations",
};

/* The per-minute counts, owned by the bucket list's serializer from the moment it is attached. */
struct traffic_buckets {
    int64_t start, minutes;
    int64_t *obs, *packets;
};

static void buckets_free(struct json_object *jso, void *userdata)
{
    (void)jso;
    struct traffic_buckets *b = userdata;
    free(b->obs);
    free(b->packets);
    free(b);
}

static int buckets_to_json(struct json_object *jso, struct printbuf *pb, int level, int flags)
{
    (void)level;
    (void)flags;
    const struct traffic_buckets *b = json_object_get_userdata(jso);
    printbuf_strappend(pb, "[");
    for (int64_t i = 0; i < b->minutes; i++)
        sprintbuf(pb, "%s{\"startUnix\":%" PRId64 ",\"observations\":%" PRId64
                  ",\"packets\":%" PRId64 "}", i > 0 ? "," : "", b->start + i * 60, b->obs[i],
                  b->packets[i]);
    printbuf_strappend(pb, "]");
    return 0;
}

/*
 * The bucket list as one json-c value that prints itself: a json-c object per
 * bucket costs about a kilobyte (its hash table), so a day of minutes built
 * as objects took 1.7 MB of a responder's heap; the counts alone take 23 KB.
 */
static struct json_object *buckets_json(struct traffic_buckets *b)
{
    struct json_object *list = json_object_new_array();
    json_object_set_serializer(list, buckets_to_json, b, buckets_free);
    return list;
}

static void traffic(struct responder *r, const struct http_request *req,
                    struct http_response *resp)
{
    int64_t minutes = req->params[TRAFFIC_MINUTES].i;
    /* Whole minutes, the last one being the current one. */
    int64_t end = (r->wall_clock_ms() / 60000 + 1) * 60;
    int64_t start = end - minutes * 60;
    int64_t *obs = xcalloc((size_t)minutes, sizeof *obs);
    int64_t *packets = xcalloc((size_t)minutes, sizeof *packets);
    sqlite3_stmt *st = NULL;
    char *err = NULL;
    int open = route_query_open(r, &traffic_query, &st, &err);
    if (open < 0)
        goto fail;
    if (open == 0) {
        sqlite3_bind_int64(st, 1, start);
        sqlite3_bind_int64(st, 2, end);
        int rc;
        while ((rc = reader_db_step(st)) == SQLITE_ROW) {
            int64_t i = sqlite3_column_int64(st, 0);
            if (i >= 0 && i < minutes) {
                obs[i] += sqlite3_column_int64(st, 1);
                packets[i] += sqlite3_column_int64(st, 2);
            }
        }
        if (rc != SQLITE_DONE)
            err = xstrdup(reader_db_errmsg(&r->reader));
        reader_db_release(st);
        if (err != NULL)
            goto fail;
    }
    struct json_object *body = json_object_new_object();
    json_object_object_add(body, "minutes", json_object_new_int64(minutes));
    json_object_object_add(body, "fromUnix", json_object_new_int64(start));
    json_object_object_add(body, "toUnix", json_object_new_int64(end));
    struct traffic_buckets *buckets = xmalloc(sizeof *buckets);
    *buckets = (struct traffic_buckets){start, minutes, obs, packets};
    json_object_object_add(body, "buckets", buckets_json(buckets));
    http_response_json(resp, 200, body);
    return;

fail:
    free(obs);
    free(packets);
    http_response_error(resp, 500, err);
    free(err);
}

const struct route route_traffic_entry = {
    .path = "/api/traffic",
    .handler = traffic,
    .params = traffic_params,
    .param_count = sizeof traffic_params / sizeof traffic_params[0],
};
