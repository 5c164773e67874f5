/* migration_params.h: how a migration paces itself (batch size or hold target, yield), and its bounds. */
#ifndef MESHSCOPE_MIGRATION_PARAMS_H
#define MESHSCOPE_MIGRATION_PARAMS_H

#include <stdint.h>

/* Defaults and bounds of the batch policy (docs/database.md, docs/command-lines.md). */
#define MIGRATION_DEFAULT_TARGET_BATCH_MS 50
#define MIGRATION_DEFAULT_YIELD_MS 100
#define MIGRATION_MAX_BATCH_SIZE 10000000
#define MIGRATION_MAX_TARGET_BATCH_MS 60000
#define MIGRATION_MAX_YIELD_MS 3600000

/* How a migration sizes its batches. */
struct migration_params {
    int adaptive;            /* 1: size batches so each holds the writer ~target_batch_ms */
    int64_t batch_size;      /* rows per batch when !adaptive */
    int64_t target_batch_ms; /* hold-time target when adaptive */
    int64_t yield_ms;        /* sleep between batches, cut short by cancellation */
};

/* Adaptive batches, 50 ms target, 100 ms yield. */
void migration_params_default(struct migration_params *params);
/* Rejects a batch size <= 0 (when fixed), a target <= 0 (when adaptive) and a negative yield. */
int migration_params_validate(const struct migration_params *params, char **errp);

#endif
