/* responder.h: the state one meshscope-fcgi process keeps between requests, which every route sees. */
#ifndef MESHSCOPE_RESPONDER_H
#define MESHSCOPE_RESPONDER_H

#include <stdint.h>

#include "migration_cache.h"
#include "reader_db.h"

struct poolstats;

/* An exact row count kept up to date by counting only rows above the last id seen. */
struct row_counter {
    int valid;
    int64_t count;
    int64_t max_id;
    int64_t deletions; /* rows retention had deleted when counted: a change means recount */
};

struct responder {
    struct reader_db reader;

    int64_t cache_ttl_ms;
    int64_t stalled_after_ms;
    int64_t (*wall_clock_ms)(void); /* "now" for migration elapsed/ETA/stall */
    struct migration_cache migrations;

    struct poolstats *stats;
    const char *liveness_path; /* the MQTT bridge's status file, or NULL */
    struct row_counter transmissions, observations;
};

#endif
