/* job_registry.c: the table of writer jobs; adding one is one file and one line here. */
#include "job_registry.h"

#include <string.h>

#include "job_retention.h"
#include "migration_observers_backfill.h"
#include "migration_tx_last_seen_backfill.h"
#include "util.h"

const struct migration job_registry[] = {
    {TX_LAST_SEEN_BACKFILL_NAME, tx_last_seen_backfill_run, JOB_ONE_OFF, NULL, NULL},
    {OBSERVERS_BACKFILL_NAME, observers_backfill_run, JOB_ONE_OFF, NULL, NULL},
    {RETENTION_JOB_NAME, retention_run, JOB_RECURRING, retention_every_ms, retention_prepare},
};
const size_t job_registry_len = sizeof job_registry / sizeof job_registry[0];

const struct migration *job_registry_find(const char *name)
{
    for (size_t i = 0; i < job_registry_len; i++)
        if (strcmp(job_registry[i].name, name) == 0)
            return &job_registry[i];
    return NULL;
}

struct migration *job_registry_enabled(const struct recurring_config *config, size_t *count)
{
    struct migration *jobs = xcalloc(job_registry_len, sizeof *jobs);
    size_t n = 0;
    for (size_t i = 0; i < job_registry_len; i++)
        if (job_registry[i].kind == JOB_ONE_OFF || job_registry[i].every_ms(config) > 0)
            jobs[n++] = job_registry[i];
    *count = n;
    return jobs;
}
