/* migration_observers_backfill.h: observers_backfill_v1, which adds a legacy database's observations to observers. */
#ifndef MESHSCOPE_MIGRATION_OBSERVERS_BACKFILL_H
#define MESHSCOPE_MIGRATION_OBSERVERS_BACKFILL_H

#include "migration.h"

#define OBSERVERS_BACKFILL_NAME "observers_backfill_v1"
int observers_backfill_run(const struct migration_env *env, struct migration_result *result,
                           char **errp);

#endif
