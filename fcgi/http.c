/* http.c: builds JSON responses and serializes them as CGI/FastCGI output. */
#include "http.h"

#include <stdio.h>
#include <string.h>

#include "encode.h"
#include "util.h"

void http_response_init(struct http_response *resp)
{
    memset(resp, 0, sizeof *resp);
    resp->status = 200;
    resp->content_type = "application/json";
}

void http_response_free(struct http_response *resp)
{
    json_object_put(resp->json);
    free(resp->text);
    for (int i = 0; i < resp->header_count; i++)
        free(resp->header_values[i]);
    memset(resp, 0, sizeof *resp);
}

void http_response_json(struct http_response *resp, int status, struct json_object *body)
{
    free(resp->text);
    resp->text = NULL;
    json_object_put(resp->json);
    resp->json = body;
    resp->status = status;
    resp->content_type = "application/json";
}

void http_response_text(struct http_response *resp, int status, const char *content_type,
                        char *text)
{
    json_object_put(resp->json);
    resp->json = NULL;
    free(resp->text);
    resp->text = text;
    resp->status = status;
    resp->content_type = content_type;
}

void http_response_error(struct http_response *resp, int status, const char *message)
{
    struct json_object *body = json_object_new_object();
    json_object_object_add(body, "error", encode_json_string(message ? message : "error"));
    http_response_json(resp, status, body);
}

void http_response_add_header(struct http_response *resp, const char *name, const char *value)
{
    if (resp->header_count >= HTTP_MAX_HEADERS)
        return;
    /* Header values must stay on one line and in printable ASCII whatever the caller passes. */
    char *copy = xstrdup(value);
    if (strlen(copy) > HTTP_MAX_HEADER_VALUE)
        copy[HTTP_MAX_HEADER_VALUE] = '\0';
    for (char *p = copy; *p; p++) {
        if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
            *p = ' ';
    }
    resp->header_names[resp->header_count] = name;
    resp->header_values[resp->header_count] = copy;
    resp->header_count++;
}

static const char *http_status_text(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Unknown";
    }
}

char *http_response_serialize(const struct http_response *resp, int head_only, size_t *len_out)
{
    const char *body = resp->text;
    if (body == NULL && resp->json != NULL)
        body = json_object_to_json_string_ext(resp->json, JSON_C_TO_STRING_PLAIN |
                                                              JSON_C_TO_STRING_NOSLASHESCAPE);
    if (body == NULL)
        body = "";
    size_t body_len = strlen(body);

    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    if (out == NULL)
        abort();
    fprintf(out, "Status: %d %s\r\nContent-Type: %s\r\nCache-Control: no-store\r\n",
            resp->status, http_status_text(resp->status), resp->content_type);
    fprintf(out, "Content-Length: %zu\r\n", body_len);
    for (int i = 0; i < resp->header_count; i++)
        fprintf(out, "%s: %s\r\n", resp->header_names[i], resp->header_values[i]);
    fputs("\r\n", out);
    if (!head_only)
        fwrite(body, 1, body_len, out);
    fclose(out);
    *len_out = len;
    return buf;
}
