/* job_registry.h: every writer job the worker knows, one-off migrations and recurring jobs, in the order they run. */
#ifndef MESHSCOPE_JOB_REGISTRY_H
#define MESHSCOPE_JOB_REGISTRY_H

#include <stddef.h>

#include "migration.h"

/*
 * The one-off async migrations run first, in table order, each until it is
 * done; the recurring jobs after them, each when it falls due. Jobs run one at
 * a time on the runner's thread, so no two of them ever hold the writer together.
 */
extern const struct migration job_registry[];
extern const size_t job_registry_len;

/* The registered job called name, or NULL. */
const struct migration *job_registry_find(const char *name);

/* The jobs the flags in config turn on (every one-off, the recurring ones with an interval); *count entries, free with free(). */
struct migration *job_registry_enabled(const struct recurring_config *config, size_t *count);

#endif
