/* route_perf.c: GET /api/perf, the whole pool's request counts and latencies, responders, migrations and ingest. */
#include <stdint.h>
#include <stdlib.h>

#include "encode.h"
#include "ingest_liveness.h"
#include "log.h"
#include "poolstats.h"
#include "ingest_stats.h"
#include "migrations.h"
#include "router.h"
#include "util.h"

static const char *const class_names[POOLSTATS_CLASSES] = {"2xx", "3xx", "4xx", "5xx"};

/* JSON integers are int64: a count read from the stats file may be larger, and must not turn negative. */
static struct json_object *count_json(uint64_t n)
{
    return json_object_new_int64(n > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)n);
}

static struct json_object *endpoint_json(const struct poolstats_counters *c, int e)
{
    struct json_object *obj = json_object_new_object();
    json_object_object_add(obj, "requests",
                           count_json(poolstats_endpoint_requests(c, e)));
    struct json_object *by = json_object_new_object();
    for (int k = 0; k < POOLSTATS_CLASSES; k++)
        json_object_object_add(by, class_names[k], count_json(c->requests[e][k]));
    json_object_object_add(obj, "byStatus", by);
    struct json_object *lat = json_object_new_object();
    json_object_object_add(lat, "p50", encode_json_number(poolstats_quantile(c->latency[e], 0.50) * 1e3));
    json_object_object_add(lat, "p95", encode_json_number(poolstats_quantile(c->latency[e], 0.95) * 1e3));
    json_object_object_add(lat, "p99", encode_json_number(poolstats_quantile(c->latency[e], 0.99) * 1e3));
    json_object_object_add(obj, "latencyMs", lat);
    return obj;
}

static struct json_object *ingest_json(const struct ingest_stats *s)
{
    struct json_object *obj = json_object_new_object();
    json_object_object_add(obj, "linesAccepted", json_object_new_int64(s->lines_accepted));
    json_object_object_add(obj, "linesRejected", json_object_new_int64(s->lines_rejected));
    json_object_object_add(obj, "linesAcked", json_object_new_int64(s->lines_acked));
    json_object_object_add(obj, "commits", json_object_new_int64(s->commits));
    json_object_object_add(obj, "commitRowsMax", json_object_new_int64(s->commit_rows_max));
    json_object_object_add(obj, "ackLatencyP50Ms", encode_json_number(s->ack_latency_p50_ms));
    json_object_object_add(obj, "ackLatencyP99Ms", encode_json_number(s->ack_latency_p99_ms));
    json_object_object_add(obj, "updatedAt", encode_json_string(s->updated_at));
    return obj;
}

static void perf(struct responder *r, const struct http_request *req, struct http_response *resp)
{
    (void)req;
    struct poolstats_snapshot *snap = xmalloc(sizeof *snap);
    poolstats_snapshot(r->stats, snap);
    struct json_object *body = json_object_new_object();

    struct json_object *pool = json_object_new_object();
    json_object_object_add(pool, "shared", json_object_new_boolean(snap->shared));
    json_object_object_add(pool, "responderCount", json_object_new_int(snap->responder_count));
    uint64_t total = 0;
    for (int e = 0; e < router_endpoint_count(); e++)
        total = poolstats_add_saturating(total, poolstats_endpoint_requests(&snap->totals, e));
    json_object_object_add(pool, "requests", count_json(total));
    json_object_object_add(body, "pool", pool);

    struct json_object *responders = json_object_new_array();
    for (int i = 0; i < snap->responder_count; i++) {
        const struct poolstats_responder *p = &snap->responders[i];
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "pid", json_object_new_int(p->pid));
        json_object_object_add(o, "slot", json_object_new_int(p->slot));
        json_object_object_add(o, "self", json_object_new_boolean(p->self));
        json_object_object_add(o, "uptimeSec", encode_json_number(p->uptime_sec));
        json_object_object_add(o, "rssBytes", count_json(p->rss_bytes));
        json_object_object_add(o, "requests", count_json(p->requests));
        json_object_array_add(responders, o);
    }
    json_object_object_add(body, "responders", responders);

    struct json_object *endpoints = json_object_new_object();
    for (int e = 0; e < router_endpoint_count(); e++)
        json_object_object_add(endpoints, router_endpoint_name(e), endpoint_json(&snap->totals, e));
    json_object_object_add(body, "endpoints", endpoints);
    free(snap);

    /* A failed migrations read must not hide the rest: report [] plus a header, and log it. */
    struct migration_set *set = NULL;
    char *err = NULL;
    int running = 0;
    if (migrations_get(r, &set, &err) != 0) {
        log_warnx("/api/perf: %s", err);
        http_response_add_header(resp, "X-Async-Migrations-Error", err);
        json_object_object_add(body, "async_migrations", json_object_new_array());
        free(err);
    } else {
        json_object_object_add(body, "async_migrations", migrations_to_json(r, set, &running));
        migration_set_release(set);
    }

    struct ingest_stats ingest = {0};
    enum reader_presence presence;
    if (ingest_stats_read(&r->reader, &ingest, &presence, &err) != 0) {
        log_warnx("/api/perf: %s", err);
        json_object_object_add(body, "ingest_error", encode_json_string(err));
        free(err);
    } else if (presence == READER_PRESENT) {
        json_object_object_add(body, "ingest", ingest_json(&ingest));
        ingest_stats_free(&ingest);
    }
    if (r->liveness_path != NULL) {
        struct ingest_liveness *l = xmalloc(sizeof *l);
        if (ingest_liveness_read(r->liveness_path, l, &err) == 0) {
            json_object_object_add(body, "ingest_liveness", ingest_liveness_perf_json(l));
        } else {
            json_object_object_add(body, "ingest_liveness_error", encode_json_string(err));
            free(err);
        }
        free(l);
    }
    http_response_json(resp, 200, body);
}

const struct route route_perf_entry = {
    .path = "/api/perf",
    .handler = perf,
};
