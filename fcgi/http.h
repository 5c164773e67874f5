/* http.h: the request and response a route handler sees, independent of FastCGI or CGI. */
#ifndef MESHSCOPE_HTTP_H
#define MESHSCOPE_HTTP_H

#include <json-c/json.h>

#define HTTP_MAX_HEADERS 8
/* Longer header values are cut: they carry short diagnostics, never payloads. */
#define HTTP_MAX_HEADER_VALUE 512

struct param_value;

struct http_request {
    const char *method; /* "GET", "HEAD", ... */
    const char *path;   /* without the query string */
    const char *query;  /* "" when absent */
    const struct param_value *params; /* the route's declared parameters, validated, in table order */
};

struct http_response {
    int status;
    const char *content_type;         /* static string */
    struct json_object *json;         /* owned; serialized when text is NULL */
    char *text;                       /* owned; a non-JSON body */
    const char *header_names[HTTP_MAX_HEADERS];
    char *header_values[HTTP_MAX_HEADERS]; /* owned */
    int header_count;
};

void http_response_init(struct http_response *resp);
void http_response_free(struct http_response *resp);

/* Takes ownership of body. */
void http_response_json(struct http_response *resp, int status, struct json_object *body);
/* Takes ownership of text (a heap string); content_type must be a static string. */
void http_response_text(struct http_response *resp, int status, const char *content_type,
                        char *text);
/* Sets a JSON body {"error": message}; message is made valid UTF-8. */
void http_response_error(struct http_response *resp, int status, const char *message);
/* Copies value; name must be a static string. */
void http_response_add_header(struct http_response *resp, const char *name, const char *value);

/* Serializes status line, headers and (unless head_only) body into a heap buffer. */
char *http_response_serialize(const struct http_response *resp, int head_only, size_t *len_out);

#endif
