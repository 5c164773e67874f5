/* job_retention.h: the recurring retention job, deleting observations and orphaned transmissions older than the cutoff. */
#ifndef MESHSCOPE_JOB_RETENTION_H
#define MESHSCOPE_JOB_RETENTION_H

#include <stdint.h>

#include "migration.h"

#define RETENTION_JOB_NAME "retention"
#define RETENTION_DEFAULT_EVERY_MIN 60
/* Pages one incremental_vacuum transaction may return, and the most a run returns. */
#define RETENTION_VACUUM_CHUNK_PAGES 64
#define RETENTION_VACUUM_MAX_PAGES 262144

/*
 * The cutoff of the next run, in Unix seconds: rows with timestamp (observations)
 * or first_seen (transmissions) strictly below it go. Set before the run; 0
 * leaves every row (retention off).
 */
void retention_set_cutoff(int64_t cutoff_unix);

/* The registry's hooks: every retain_every_min while retain_days > 0; the cutoff is now - retain_days. */
int64_t retention_every_ms(const struct recurring_config *config);
void retention_prepare(const struct recurring_config *config);

/*
 * One run, in the shape of a migration's run function so the runner's pacing
 * (hold target, yields, pauses, throttles) applies: observations older than
 * the cutoff in windows of ids, then transmissions older than the cutoff with
 * no observation left, then a bounded incremental_vacuum. Every window is one
 * committed transaction of whole deletes, so a kill leaves a consistent
 * database and the next run carries on from what is left. processed counts
 * the ids walked over both tables.
 */
int retention_run(const struct migration_env *env, struct migration_result *result, char **errp);

#endif
