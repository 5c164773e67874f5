/* request.c: turns the CGI/FastCGI parameters of one request into its serialized answer. */
#include <string.h>

#include "request.h"

#include "router.h"
#include "util.h"

/* Request targets longer than this are refused before any route sees them. */
#define MAX_REQUEST_TARGET 8192

char *request_answer(struct responder *r, const char *method, const char *request_uri,
                     const char *script_name, const char *path_info, const char *query,
                     int *endpoint, int *status, size_t *len_out)
{
    struct http_response resp;
    http_response_init(&resp);

    char *path = NULL;
    if (request_uri != NULL && *request_uri != '\0') {
        size_t n = strcspn(request_uri, "?");
        path = xmalloc(n + 1);
        memcpy(path, request_uri, n);
        path[n] = '\0';
    } else {
        path = xasprintf("%s%s", script_name ? script_name : "", path_info ? path_info : "");
    }
    if (method == NULL)
        method = "GET";
    if (query == NULL)
        query = "";

    *endpoint = router_endpoint_count() - 1;
    if (strlen(path) > MAX_REQUEST_TARGET || strlen(query) > MAX_REQUEST_TARGET) {
        http_response_error(&resp, 400, "request target too long");
    } else {
        struct http_request req = {.method = method, .path = path, .query = query};
        *endpoint = router_dispatch(r, &req, &resp);
    }
    *status = resp.status;
    char *out = http_response_serialize(&resp, strcmp(method, "HEAD") == 0, len_out);
    http_response_free(&resp);
    free(path);
    return out;
}
