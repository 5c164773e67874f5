/* migration_registry.c: the table of async migrations; adding one is one file and one line here. */
#include "migration_registry.h"

#include <string.h>

#include "migration_observers_backfill.h"
#include "migration_tx_last_seen_backfill.h"

const struct migration migration_registry[] = {
    {TX_LAST_SEEN_BACKFILL_NAME, tx_last_seen_backfill_run},
    {OBSERVERS_BACKFILL_NAME, observers_backfill_run},
};
const size_t migration_registry_len = sizeof migration_registry / sizeof migration_registry[0];

const struct migration *migration_registry_find(const char *name)
{
    for (size_t i = 0; i < migration_registry_len; i++)
        if (strcmp(migration_registry[i].name, name) == 0)
            return &migration_registry[i];
    return NULL;
}
