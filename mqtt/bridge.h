/* bridge.h: meshscope-mqtt's shared state: the in-flight window, per-source liveness, and the threads' entry points. */
#ifndef MESHSCOPE_BRIDGE_H
#define MESHSCOPE_BRIDGE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "mqtt_config.h"
#include "rate_limit.h"

#define BRIDGE_REASONS_MAX 32
#define BRIDGE_OBSERVERS_MAX 256
#define BRIDGE_WINDOW_DEFAULT 100

struct reason_count {
    char *reason;
    int64_t count;
    struct rate_limiter log_limit; /* one log line a minute per reason */
};

struct source_stats {
    int connected;
    int backlogged;                /* waiting for room in the window */
    int64_t last_receipt_unix;     /* 0: never */
    int64_t last_message_unix;     /* last line of this source the worker acknowledged */
    int64_t received, stored, duplicate, filtered, status;
    struct reason_count bad[BRIDGE_REASONS_MAX];
    int bad_count;
    struct reason_count refused[BRIDGE_REASONS_MAX];
    int refused_count;
};

struct source {
    struct bridge *bridge;
    const struct source_config *config;
    int index;
    pthread_t thread;
    struct source_stats stats; /* under bridge->lock */
};

/* One ingest line held until the worker answers it. */
struct pending {
    char *line;
    size_t len;
    int source;
    int64_t taken_us; /* monotonic, when the source handed it over */
};

/* Recent take-to-acknowledgement times, for the liveness file's p50/p99. */
#define BRIDGE_LATENCY_SAMPLES 2048

struct observer_status {
    char *id, *region, *status;
    int source;
    int64_t received_unix;
};

struct bridge {
    pthread_mutex_t lock;
    pthread_cond_t room;  /* signalled when the window has room, and on stop */
    struct pending *ring; /* window + one spare slot per source */
    int ring_cap, window, head, count;
    int wake_fd[2];       /* written when a line is queued, so the sink's poll wakes */
    atomic_int stop;      /* sources stop taking messages */
    int64_t silent_reconnect_ms;
    int worker_connected;
    struct source sources[CONFIG_MAX_SOURCES];
    int source_count;
    struct observer_status observers[BRIDGE_OBSERVERS_MAX];
    int observer_count;
    int dirty;            /* liveness changed since the file was written */
    double latency_ms[BRIDGE_LATENCY_SAMPLES];
    int latency_count, latency_next;
};

/* queue.c */
int bridge_init(struct bridge *b, const struct bridge_config *config, int window, char **errp);
void bridge_destroy(struct bridge *b);
/* Called by a source thread with a parsed message; may wait for room in the window. */
void bridge_take(struct bridge *b, int source, const char *topic, const void *payload,
                 size_t len);
/* Counts one occurrence of reason in the list, logging at most once a minute per reason. */
void bridge_count_reason(struct reason_count *list, int *count, const char *reason,
                         const char *source, const char *what);

/* source.c: one thread per configured broker. */
int source_start(struct source *s, char **errp);
void source_join(struct source *s);
void source_lib_init(void);

/* sink.c: the worker's ingest socket, run on the main thread until stopped and drained. */
int sink_run(struct bridge *b, const char *socket_path, const char *liveness_path,
             volatile int *terminate, int64_t drain_ms);

/* liveness.c */
/* Writes the status file atomically (temporary file, then rename). Caller holds no lock. */
int liveness_write(struct bridge *b, const char *path, char **errp);

#endif
