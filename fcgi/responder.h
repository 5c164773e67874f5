/* responder.h: state shared by every route of one meshscope-fcgi process. */
#ifndef MESHSCOPE_RESPONDER_H
#define MESHSCOPE_RESPONDER_H

#include <sqlite3.h>
#include <stdint.h>

#include "http.h"

struct responder {
    const char *db_path;
    sqlite3 *db;          /* opened lazily, read-only; NULL until the file exists */
    int64_t cache_ttl_ms;
};

enum reader_db_state { READER_DB_OK, READER_DB_MISSING, READER_DB_ERROR };

/*
 * Returns the read-only connection, opening it on first use. READER_DB_MISSING
 * means the file does not exist yet (the worker has not created it); on
 * READER_DB_ERROR *errp says why.
 */
enum reader_db_state reader_db_get(struct responder *r, sqlite3 **db, char **errp);
void reader_db_close(struct responder *r);

typedef void (*route_handler)(struct responder *r, const struct http_request *req,
                              struct http_response *resp);

/* router.c: answers every request, including 404/405 for what no route accepts. */
void router_dispatch(struct responder *r, const struct http_request *req,
                     struct http_response *resp);

/* One handler per endpoint file. */
void route_healthz(struct responder *r, const struct http_request *req,
                   struct http_response *resp);

#endif
