/* router.h: the route table that maps a request path to its handler and declared parameters. */
#ifndef MESHSCOPE_ROUTER_H
#define MESHSCOPE_ROUTER_H

#include <stddef.h>

#include "http.h"
#include "params.h"
#include "responder.h"

typedef void (*route_handler)(struct responder *r, const struct http_request *req,
                              struct http_response *resp);

struct route {
    const char *path;
    int prefix; /* path is a prefix ending in '/'; the handler reads the rest of req->path */
    route_handler handler;
    const struct param_spec *params; /* validated before the handler runs */
    size_t param_count;
};

/* Answers every request, including 400/404/405; returns the endpoint index for statistics. */
int router_dispatch(struct responder *r, const struct http_request *req,
                    struct http_response *resp);
/* Endpoints are the routes in table order plus one "other" bucket for unknown paths. */
int router_endpoint_count(void);
const char *router_endpoint_name(int index);
/* The endpoint names in order: what processes sharing a stats file must agree on (heap string). */
char *router_layout_name(void);

/* One file per endpoint, each defining its entry (path, handler, parameters). */
extern const struct route route_healthz_entry;
extern const struct route route_perf_entry;
extern const struct route route_perf_migrations_entry;
extern const struct route route_perf_sqlite_entry;
extern const struct route route_stats_entry;
extern const struct route route_packets_entry;
extern const struct route route_metrics_entry;
extern const struct route route_observers_entry;
extern const struct route route_packet_entry;
extern const struct route route_traffic_entry;

#endif
