/* router.c: the route table; maps a path to its handler and rejects what none accepts. */
#include <string.h>

#include "responder.h"

static const struct route {
    const char *path;
    route_handler handler;
} routes[] = {
    {"/api/healthz", route_healthz},
};

void router_dispatch(struct responder *r, const struct http_request *req,
                     struct http_response *resp)
{
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (strcmp(req->path, routes[i].path) != 0)
            continue;
        if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
            http_response_error(resp, 405, "method not allowed: use GET or HEAD");
            http_response_add_header(resp, "Allow", "GET, HEAD");
            return;
        }
        routes[i].handler(r, req, resp);
        return;
    }
    http_response_error(resp, 404, "no such endpoint");
}
