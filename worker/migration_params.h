/* migration_params.h: how a migration paces itself (batch size or hold target, yield), and its bounds. */
#ifndef MESHSCOPE_MIGRATION_PARAMS_H
#define MESHSCOPE_MIGRATION_PARAMS_H

#include <stdint.h>

/* Defaults and bounds of the batch policy (docs/database.md, docs/command-lines.md). */
#define MIGRATION_DEFAULT_TARGET_BATCH_MS 30
#define MIGRATION_DEFAULT_YIELD_MS 100
#define MIGRATION_MAX_BATCH_SIZE 10000000
#define MIGRATION_MAX_TARGET_BATCH_MS 60000
#define MIGRATION_MAX_YIELD_MS 3600000
/* Working memory of a job's in-memory pass (the backfill's maxima), in KiB. */
#define MIGRATION_DEFAULT_MEMORY_KIB 16384
#define MIGRATION_MAX_MEMORY_KIB 4194304

/* How a migration sizes its batches. */
struct migration_params {
    int adaptive;            /* 1: size batches so each holds the writer ~target_batch_ms */
    int64_t batch_size;      /* rows per batch when !adaptive */
    int64_t target_batch_ms; /* hold-time target when adaptive */
    int64_t yield_ms;        /* sleep between batches, cut short by cancellation */
    int64_t memory_kib;      /* memory a job may hold for its work between batches */
};

/* Adaptive batches, 30 ms target (aimed at 15, cut at 22.5: the longest hold stays under 25 ms), 100 ms yield, 16 MiB of working memory. */
void migration_params_default(struct migration_params *params);
/* Rejects a batch size <= 0 (when fixed), a target <= 0 (when adaptive), a negative yield
 * and a memory budget under 1 KiB. */
int migration_params_validate(const struct migration_params *params, char **errp);

#endif
