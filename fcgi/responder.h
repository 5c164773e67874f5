/* responder.h: state shared by every route of one meshscope-fcgi process, and the routes themselves. */
#ifndef MESHSCOPE_RESPONDER_H
#define MESHSCOPE_RESPONDER_H

#include <sqlite3.h>
#include <stdio.h>
#include <stdint.h>

#include "http.h"
#include "migration_cache.h"
#include "params.h"

struct poolstats;

/* A statement a route runs; routes declare these static so the cache can key on their address. */
struct reader_query {
    const char *sql;
    const char *table; /* the table whose absence means "no schema yet", or NULL */
};

#define READER_STMT_CACHE_MAX 16

/* An exact row count kept up to date by counting only rows above the last id seen. */
struct row_counter {
    int valid;
    int64_t count;
    int64_t max_id;
};

struct responder {
    const char *db_path;
    sqlite3 *db; /* opened lazily, read-only; NULL until the file exists */
    struct {
        const struct reader_query *query;
        sqlite3_stmt *stmt;
    } stmts[READER_STMT_CACHE_MAX]; /* prepared once per connection, reused by every request */
    int stmt_count;

    int64_t cache_ttl_ms;
    int64_t stalled_after_ms;
    int64_t (*wall_clock_ms)(void); /* "now" for migration elapsed/ETA/stall */
    struct migration_cache migrations;

    struct poolstats *stats;
    const char *liveness_path; /* the MQTT bridge's status file, or NULL */
    struct row_counter transmissions, observations;
};

/* reader_db.c */
enum reader_result {
    READER_OK,
    READER_NO_DB,    /* the database file does not exist yet */
    READER_NO_TABLE, /* the query's table does not exist yet */
    READER_ERROR,    /* *errp says why */
};

/* Returns the read-only connection, opening it on first use. */
enum reader_result reader_db_get(struct responder *r, sqlite3 **db, char **errp);
/*
 * Returns q's statement, prepared once per connection and reused afterwards.
 * When preparing fails because q->table is missing, answers READER_NO_TABLE.
 * Hand the statement back with reader_db_release when done with it.
 */
enum reader_result reader_db_prepare(struct responder *r, const struct reader_query *q,
                                     sqlite3_stmt **out, char **errp);
enum reader_result reader_db_table_exists(struct responder *r, const char *table, char **errp);
/*
 * sqlite3_step for the responders: also rides out the transient errors a
 * reader with a read-only -shm file meets while the writer updates the
 * wal-index (see reader_db.c). Use it for every step.
 */
int reader_db_step(sqlite3_stmt *stmt);
/* Resets the statement and clears its bindings; accepts NULL. */
void reader_db_release(sqlite3_stmt *stmt);
const char *reader_db_errmsg(struct responder *r);
void reader_db_close(struct responder *r);

/* migrations.c: _async_migrations through the TTL cache. */
void migrations_init(struct responder *r);
int migrations_get(struct responder *r, struct migration_set **out, char **errp);
/*
 * The info array for set (never NULL: [] when nothing is there). *running is
 * 1 when any migration is running.
 */
struct json_object *migrations_to_json(struct responder *r, const struct migration_set *set,
                                       int *running);

/* ingest_stats.c: the worker's live-ingest figures, when its table exists. */
struct ingest_stats {
    int64_t lines_accepted, lines_rejected, lines_acked, commits, commit_rows_max;
    double ack_latency_p50_ms, ack_latency_p99_ms;
    char *updated_at; /* heap, may be NULL */
};
/* Returns 1 with *out filled, 0 when there is no such table or row, -1 on a read error. */
int ingest_stats_read(struct responder *r, struct ingest_stats *out, char **errp);
void ingest_stats_free(struct ingest_stats *s);

/* observer_metrics.c: the per-observer series of /api/metrics. */
void observer_metrics_write(FILE *out, struct responder *r);

/* request.c */
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

/* router.c */
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
extern const struct route route_stats_entry;
extern const struct route route_packets_entry;
extern const struct route route_metrics_entry;
extern const struct route route_observers_entry;
extern const struct route route_packet_entry;
extern const struct route route_traffic_entry;

#endif
