/* poolstats_file.h: the bytes of the shared stats file, for poolstats.c and the tests that damage it. */
#ifndef MESHSCOPE_POOLSTATS_FILE_H
#define MESHSCOPE_POOLSTATS_FILE_H

#include <stdint.h>

#include "poolstats_layout.h"

#define POOLSTATS_MAGIC 0x3174617473687365ULL /* "eshstat1" */

struct pool_slot {
    int32_t pid;        /* 0: never claimed since the file was made */
    int32_t unused;
    int64_t started_ms; /* wall clock */
    uint64_t rss_bytes;
    uint64_t requests;
    struct poolstats_counters c;
} __attribute__((aligned(64)));

struct pool_file {
    uint64_t magic;     /* written last when the file is initialised */
    uint64_t layout;    /* hash of the layout; a mismatch means another build made the file */
    uint32_t slot_count;
    uint32_t slot_size;
    struct poolstats_counters retired; /* counts of dead responders whose slots were reused */
    struct pool_slot slots[POOLSTATS_SLOTS];
};

#endif
