/* migrations.h: the responder's reads of _async_migrations, through the TTL cache. */
#ifndef MESHSCOPE_MIGRATIONS_H
#define MESHSCOPE_MIGRATIONS_H

#include <json-c/json.h>

#include "responder.h"

void migrations_init(struct responder *r);
/* A reference to a result at most cache_ttl_ms old; release it with migration_set_release. */
int migrations_get(struct responder *r, struct migration_set **out, char **errp);
/*
 * The info array for set (never NULL: [] when nothing is there). *running is
 * 1 when any migration is running.
 */
struct json_object *migrations_to_json(struct responder *r, const struct migration_set *set,
                                       int *running);

#endif
