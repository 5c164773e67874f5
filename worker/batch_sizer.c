/* batch_sizer.c: the adaptive batch size of the migrations (chunk-time, as pt-online-schema-change has it). */
#include "batch_sizer.h"

void batch_sizer_init(struct batch_sizer *sizer, const struct migration_params *params)
{
    sizer->adaptive = params->adaptive;
    sizer->target_us = params->target_batch_ms * 1000;
    sizer->size = params->adaptive ? BATCH_SIZER_FIRST : params->batch_size;
    sizer->rows_per_sec = 0.0;
}

/* Sets the size from the measured rate, within the floor, the growth cap and the maximum. */
static void batch_sizer_resize(struct batch_sizer *sizer, double cap)
{
    double want = sizer->rows_per_sec * (double)sizer->target_us * BATCH_SIZER_AIM / 1e6;
    if (want > cap)
        want = cap;
    if (want > MIGRATION_MAX_BATCH_SIZE)
        want = MIGRATION_MAX_BATCH_SIZE;
    if (want < BATCH_SIZER_FLOOR)
        want = BATCH_SIZER_FLOOR;
    sizer->size = (int64_t)want;
}

void batch_sizer_retune(struct batch_sizer *sizer, const struct migration_params *params)
{
    if (!params->adaptive) {
        sizer->adaptive = 0;
        sizer->size = params->batch_size;
        return;
    }
    if (!sizer->adaptive) {
        batch_sizer_init(sizer, params);
        return;
    }
    sizer->target_us = params->target_batch_ms * 1000;
    /* A lower target must take effect in the very next batch, not after halvings. */
    if (sizer->rows_per_sec > 0.0)
        batch_sizer_resize(sizer, (double)sizer->size * BATCH_SIZER_GROWTH);
}

int64_t batch_sizer_chunk(const struct batch_sizer *sizer)
{
    if (!sizer->adaptive)
        return sizer->size;
    int64_t chunk = sizer->size / BATCH_SIZER_CHUNKS;
    return chunk < BATCH_SIZER_FLOOR ? BATCH_SIZER_FLOOR : chunk;
}

int batch_sizer_continue(const struct batch_sizer *sizer, int64_t elapsed_us, int64_t rows_done,
                         int64_t next_rows)
{
    if (!sizer->adaptive || rows_done <= 0)
        return 1;
    double predicted = (double)elapsed_us * (1.0 + (double)next_rows / (double)rows_done);
    return predicted <= (double)sizer->target_us * BATCH_SIZER_DEADLINE;
}

void batch_sizer_observe(struct batch_sizer *sizer, int64_t rows, int64_t hold_us)
{
    if (!sizer->adaptive || rows <= 0)
        return;
    if (hold_us < 1)
        hold_us = 1;
    double rate = (double)rows * 1e6 / (double)hold_us;
    if (sizer->rows_per_sec <= 0.0)
        sizer->rows_per_sec = rate;
    else if (hold_us > sizer->target_us && rate < sizer->rows_per_sec)
        sizer->rows_per_sec = rate; /* over target: believe the slow sample at once */
    else
        sizer->rows_per_sec = 0.3 * rate + 0.7 * sizer->rows_per_sec;
    batch_sizer_resize(sizer, (double)sizer->size * BATCH_SIZER_GROWTH);
}
