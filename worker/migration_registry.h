/* migration_registry.h: every async migration the worker knows, in the order they run. */
#ifndef MESHSCOPE_MIGRATION_REGISTRY_H
#define MESHSCOPE_MIGRATION_REGISTRY_H

#include <stddef.h>

#include "migration.h"

extern const struct migration migration_registry[];
extern const size_t migration_registry_len;

/* The registered migration called name, or NULL. */
const struct migration *migration_registry_find(const char *name);

#endif
