/* worker.h: the worker daemon's configuration and the entry points of its parts. */
#ifndef MESHSCOPE_WORKER_H
#define MESHSCOPE_WORKER_H

#include <stdint.h>

#include "ingest.h"
#include "throttle.h"

struct worker_config {
    const char *db_path;
    struct ingest_config ingest; /* ingest.socket_path NULL: no ingest socket */
    int64_t batch_size;        /* 0: adaptive */
    int64_t target_batch_ms;   /* hold-time target of adaptive batches */
    int64_t yield_ms;
    int64_t memory_mib;        /* working memory of a migration's in-memory pass */
    int run_once;
    const char *stats_json;    /* NULL: no migration stats file */
    const char *control_socket; /* NULL: no control socket */
    const char *control_group;  /* NULL: the socket is 0600 */
    struct throttle_config throttle;
};

#endif
