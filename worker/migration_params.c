/* migration_params.c: the default batch policy and the validation of a given one. */
#include "migration_params.h"

#include <inttypes.h>

#include "util.h"

void migration_params_default(struct migration_params *params)
{
    params->adaptive = 1;
    params->batch_size = 0;
    params->target_batch_ms = MIGRATION_DEFAULT_TARGET_BATCH_MS;
    params->yield_ms = MIGRATION_DEFAULT_YIELD_MS;
    params->memory_kib = MIGRATION_DEFAULT_MEMORY_KIB;
}

int migration_params_validate(const struct migration_params *params, char **errp)
{
    if (!params->adaptive && params->batch_size <= 0)
        return set_error(errp,
                         "invalid batch size %" PRId64 ": it must be a positive number of rows",
                         params->batch_size);
    if (!params->adaptive && params->batch_size > MIGRATION_MAX_BATCH_SIZE)
        return set_error(errp, "invalid batch size %" PRId64 ": at most %d rows",
                         params->batch_size, MIGRATION_MAX_BATCH_SIZE);
    if (params->adaptive && params->target_batch_ms <= 0)
        return set_error(errp,
                         "invalid target batch time %" PRId64 " ms: it must be positive",
                         params->target_batch_ms);
    if (params->adaptive && params->target_batch_ms > MIGRATION_MAX_TARGET_BATCH_MS)
        return set_error(errp, "invalid target batch time %" PRId64 " ms: at most %d ms",
                         params->target_batch_ms, MIGRATION_MAX_TARGET_BATCH_MS);
    if (params->yield_ms < 0)
        return set_error(errp, "invalid yield %" PRId64 " ms: it must not be negative",
                         params->yield_ms);
    if (params->yield_ms > MIGRATION_MAX_YIELD_MS)
        return set_error(errp, "invalid yield %" PRId64 " ms: at most %d ms", params->yield_ms,
                         MIGRATION_MAX_YIELD_MS);
    if (params->memory_kib < 1 || params->memory_kib > MIGRATION_MAX_MEMORY_KIB)
        return set_error(errp, "invalid memory budget %" PRId64 " KiB: 1 to %d KiB",
                         params->memory_kib, MIGRATION_MAX_MEMORY_KIB);
    return 0;
}
