/* route_healthz.c: GET /api/healthz, the readiness probe every browser polls for the warm-up banner. */
#include <stdio.h>
#include <stdlib.h>

#include "encode.h"
#include "ingest_liveness.h"
#include "migrations.h"
#include "router.h"
#include "util.h"

static void not_ready(struct http_response *resp, const char *reason)
{
    struct json_object *body = json_object_new_object();
    json_object_object_add(body, "ready", json_object_new_boolean(0));
    json_object_object_add(body, "reason", json_object_new_string(reason));
    http_response_json(resp, 503, body);
}

/*
 * nginx keeps this answer in its microcache (nginx/meshscope-locations.conf)
 * until the end of the wall-clock second it was made in: X-Accel-Expires
 * takes an absolute time, so no cached answer outlives a second. The
 * generation time lets a client compute the answer's age, as Age would.
 */
static void cache_headers(struct responder *r, struct http_response *resp)
{
    int64_t now_ms = r->wall_clock_ms();
    char value[32];
    snprintf(value, sizeof value, "@%lld", (long long)(now_ms / 1000));
    http_response_add_header(resp, "X-Accel-Expires", value);
    snprintf(value, sizeof value, "%lld", (long long)now_ms);
    http_response_add_header(resp, "X-Generated-At-Ms", value);
}

/* Per MQTT source, when the bridge's file is configured; {} while it cannot be read. */
static void add_liveness(struct responder *r, struct json_object *body)
{
    if (r->liveness_path == NULL)
        return;
    struct ingest_liveness *l = xmalloc(sizeof *l);
    char *err = NULL;
    if (ingest_liveness_read(r->liveness_path, l, &err) == 0) {
        json_object_object_add(body, "ingest_liveness", ingest_liveness_healthz_json(l));
    } else {
        json_object_object_add(body, "ingest_liveness", json_object_new_object());
        free(err);
    }
    free(l);
}

static void healthz(struct responder *r, const struct http_request *req,
                    struct http_response *resp)
{
    (void)req;
    cache_headers(r, resp);
    struct migration_set *set = NULL;
    char *err = NULL;
    struct json_object *body = json_object_new_object();
    int running = 0;

    if (migrations_get(r, &set, &err) != 0) {
        /*
         * Fail closed: the site itself may be readable, but nobody can tell
         * whether a migration is running, so the banner stays up.
         */
        json_object_object_add(body, "ready", json_object_new_boolean(1));
        json_object_object_add(body, "async_migrations", json_object_new_array());
        json_object_object_add(body, "async_migrations_error", encode_json_string(err));
        running = 1;
        free(err);
    } else if (set->presence != READER_PRESENT) {
        json_object_put(body);
        not_ready(resp, set->presence == READER_NO_DB ? "no database yet" : "schema not created yet");
        migration_set_release(set);
        return;
    } else {
        json_object_object_add(body, "ready", json_object_new_boolean(1));
        json_object_object_add(body, "async_migrations", migrations_to_json(r, set, &running));
        migration_set_release(set);
    }
    json_object_object_add(body, "async_migrations_running", json_object_new_boolean(running));
    add_liveness(r, body);
    http_response_json(resp, 200, body);
}

const struct route route_healthz_entry = {
    .path = "/api/healthz",
    .handler = healthz,
};
