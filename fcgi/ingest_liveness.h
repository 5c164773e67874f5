/* ingest_liveness.h: the MQTT bridge's per-source liveness, read from its status file (untrusted input). */
#ifndef MESHSCOPE_INGEST_LIVENESS_H
#define MESHSCOPE_INGEST_LIVENESS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <json-c/json.h>

/* Bounds on what is believed: a larger file, or more entries, is cut off here. */
#define LIVENESS_FILE_MAX (256 * 1024)
#define LIVENESS_SOURCES_MAX 16
#define LIVENESS_REASONS_MAX 32
#define LIVENESS_NAME_MAX 64

struct liveness_reason {
    char name[LIVENESS_NAME_MAX + 1];
    int64_t count;
};

struct liveness_source {
    char name[LIVENESS_NAME_MAX + 1];
    int connected, backlogged;
    int64_t last_receipt_unix, last_message_unix; /* 0: never (null in the file) */
    int64_t received, stored, duplicate, filtered, status;
    struct liveness_reason bad[LIVENESS_REASONS_MAX], refused[LIVENESS_REASONS_MAX];
    int bad_count, refused_count;
};

struct ingest_liveness {
    int64_t updated_unix;
    int worker_connected;
    int64_t in_flight, window;
    int has_latency;
    double ack_p50_ms, ack_p99_ms; /* the bridge's take-to-acknowledgement times */
    struct liveness_source sources[LIVENESS_SOURCES_MAX];
    int source_count;
};

/*
 * Reads the file without blocking (O_NONBLOCK, a regular file of at most
 * LIVENESS_FILE_MAX bytes). Returns 0 with *out filled; -1 with *errp when
 * the file is missing, too big or not the bridge's JSON. A source entry that
 * does not validate is left out rather than failing the whole file.
 */
int ingest_liveness_read(const char *path, struct ingest_liveness *out, char **errp);

/* {SOURCE: {"lastReceiptUnix": N|null, "lastMessageUnix": N|null}} for /api/healthz. */
struct json_object *ingest_liveness_healthz_json(const struct ingest_liveness *l);
/* Everything, for /api/perf. */
struct json_object *ingest_liveness_perf_json(const struct ingest_liveness *l);
/* Prometheus families for /api/metrics. */
void ingest_liveness_metrics(FILE *out, const struct ingest_liveness *l);

#endif
