/* batch_sizer.h: sizes a migration's batches so each holds SQLite's writer about a target time. */
#ifndef MESHSCOPE_BATCH_SIZER_H
#define MESHSCOPE_BATCH_SIZER_H

#include <stdint.h>

#include "migration_params.h"

/*
 * A decaying average of rows per second sets the next batch so that it holds
 * the writer for BATCH_SIZER_AIM of the target, never below a floor and never
 * more than double the last. A batch runs as BATCH_SIZER_CHUNKS statements
 * and stops early when the next one would take it past BATCH_SIZER_DEADLINE
 * of the target. The target is a ceiling, not an average: the rest is
 * headroom for the last chunk and for scheduling jitter (on a shared 2-vCPU
 * VM an 11 ms CPU-bound loop was seen to take up to 35 ms).
 */
#define BATCH_SIZER_AIM 0.5
#define BATCH_SIZER_DEADLINE 0.75
#define BATCH_SIZER_CHUNKS 4
#define BATCH_SIZER_FIRST 100
#define BATCH_SIZER_FLOOR 10
#define BATCH_SIZER_GROWTH 2

struct batch_sizer {
    int adaptive;
    int64_t target_us;
    int64_t size;
    double rows_per_sec; /* 0 until the first measurement */
};

void batch_sizer_init(struct batch_sizer *sizer, const struct migration_params *params);
/*
 * Follows new parameters between batches: a new target keeps the measured
 * rate (the next size follows from it); a switch to fixed or a new fixed size
 * takes the given size; back to adaptive starts again from BATCH_SIZER_FIRST.
 */
void batch_sizer_retune(struct batch_sizer *sizer, const struct migration_params *params);
void batch_sizer_observe(struct batch_sizer *sizer, int64_t rows, int64_t hold_us);
/* Rows per statement within a batch (the whole batch when fixed). */
int64_t batch_sizer_chunk(const struct batch_sizer *sizer);
/* Whether a batch that held the writer elapsed_us for rows_done rows may run next_rows more. */
int batch_sizer_continue(const struct batch_sizer *sizer, int64_t elapsed_us, int64_t rows_done,
                         int64_t next_rows);

#endif
