/* migration_tx_last_seen_backfill.h: tx_last_seen_backfill_v1, which fills transmissions.last_seen. */
#ifndef MESHSCOPE_MIGRATION_TX_LAST_SEEN_BACKFILL_H
#define MESHSCOPE_MIGRATION_TX_LAST_SEEN_BACKFILL_H

#include "migration.h"

#define TX_LAST_SEEN_BACKFILL_NAME "tx_last_seen_backfill_v1"
int tx_last_seen_backfill_run(const struct migration_env *env, struct migration_result *result,
                              char **errp);

#endif
