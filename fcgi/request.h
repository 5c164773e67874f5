/* request.h: one request's CGI/FastCGI parameters in, its serialized answer out. */
#ifndef MESHSCOPE_REQUEST_H
#define MESHSCOPE_REQUEST_H

#include <stddef.h>

#include "responder.h"

/*
 * Answers one request given its CGI/FastCGI parameters (any may be NULL):
 * the path comes from REQUEST_URI, else SCRIPT_NAME + PATH_INFO. Returns the
 * heap-allocated "Status:" header block and body; *endpoint and *status say
 * what was answered, for the statistics. Both serving modes (and the fuzz
 * target) go through here.
 */
char *request_answer(struct responder *r, const char *method, const char *request_uri,
                     const char *script_name, const char *path_info, const char *query,
                     int *endpoint, int *status, size_t *len_out);

#endif
