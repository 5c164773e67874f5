/* migration_cache.h: a short-lived cache of _async_migrations reads (docs/api.md). */
#ifndef MESHSCOPE_MIGRATION_CACHE_H
#define MESHSCOPE_MIGRATION_CACHE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "migration_info.h"
#include "reader_db.h"

/* An immutable, reference-counted result; readers keep it while the cache moves on. */
struct migration_set {
    int refs;
    enum reader_presence presence; /* READER_PRESENT: the table exists; rows may be empty */
    struct migration_row *rows; /* ordered by name */
    /*
     * Parallel to rows: NULL when the stored name is TEXT, valid UTF-8 and
     * NUL-free, so row.name shows it exactly; otherwise its type and bytes
     * ("blob:61", "text:610062"), which tell apart names row.name cannot.
     */
    char **name_raw;
    size_t count;
};

struct migration_set *migration_set_new(enum reader_presence presence);
/* Appends a row, taking ownership of its strings (and of name_raw, which may be NULL). */
void migration_set_add(struct migration_set *set, const struct migration_row *row, char *name_raw);
/* Drops one reference; accepts NULL. */
void migration_set_release(struct migration_set *set);

/* Reads the table. On success *out holds one reference; on failure returns -1 and sets *errp. */
typedef int (*migration_loader)(void *ctx, struct migration_set **out, char **errp);

struct migration_cache {
    pthread_mutex_t lock;        /* guards current and loaded_at_ms only, never held across a load */
    int64_t ttl_ms;              /* 0 disables caching */
    int64_t (*clock_ms)(void);   /* monotonic; injectable for tests */
    migration_loader load;
    void *load_ctx;
    struct migration_set *current;
    int64_t loaded_at_ms;
    uint64_t loads;              /* how many times load ran */
};

void migration_cache_init(struct migration_cache *cache, int64_t ttl_ms,
                          int64_t (*clock_ms)(void), migration_loader load, void *load_ctx);
void migration_cache_destroy(struct migration_cache *cache);

/*
 * Returns a reference to a result at most ttl_ms old, loading a fresh one on a
 * miss. Errors are returned to the caller and never cached, so the next call
 * tries again. Release *out with migration_set_release.
 */
int migration_cache_get(struct migration_cache *cache, struct migration_set **out, char **errp);

#endif
