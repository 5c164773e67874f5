/* router.c: the route table; maps a path to its handler, validates its parameters, and rejects what none accepts. */
#include <assert.h>
#include <string.h>

#include "router.h"
#include "util.h"

static const struct route *const routes[] = {
    &route_healthz_entry,
    &route_perf_migrations_entry,
    &route_perf_sqlite_entry,
    &route_perf_entry,
    &route_stats_entry,
    &route_packets_entry,
    &route_metrics_entry,
    &route_observers_entry,
    &route_packet_entry,
    &route_traffic_entry,
};

#define ROUTE_COUNT ((int)(sizeof routes / sizeof routes[0]))

int router_endpoint_count(void)
{
    return ROUTE_COUNT + 1;
}

const char *router_endpoint_name(int index)
{
    /* Unknown paths share one bucket: raw paths would be unbounded and possibly not UTF-8. */
    return index >= 0 && index < ROUTE_COUNT ? routes[index]->path : "other";
}

char *router_layout_name(void)
{
    char *name = xstrdup("");
    for (int i = 0; i <= ROUTE_COUNT; i++) {
        char *next = xasprintf("%s%s\n", name, router_endpoint_name(i));
        free(name);
        name = next;
    }
    return name;
}

int router_dispatch(struct responder *r, const struct http_request *req,
                    struct http_response *resp)
{
    for (int i = 0; i < ROUTE_COUNT; i++) {
        const struct route *route = routes[i];
        if (route->prefix ? strncmp(req->path, route->path, strlen(route->path)) != 0
                          : strcmp(req->path, route->path) != 0)
            continue;
        if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
            http_response_error(resp, 405, "method not allowed: use GET or HEAD");
            http_response_add_header(resp, "Allow", "GET, HEAD");
            return i;
        }
        assert(route->param_count <= PARAMS_MAX);
        struct param_value values[PARAMS_MAX];
        char *err = NULL;
        if (params_parse(req->query, route->params, route->param_count, values, &err) != 0) {
            http_response_error(resp, 400, err);
            free(err);
            return i;
        }
        struct http_request validated = *req;
        validated.params = values;
        route->handler(r, &validated, resp);
        return i;
    }
    http_response_error(resp, 404, "no such endpoint");
    return ROUTE_COUNT;
}
