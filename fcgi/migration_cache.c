/* migration_cache.c: TTL cache of migration reads; errors pass through uncached. */
#include "migration_cache.h"

#include <string.h>

#include "util.h"

struct migration_set *migration_set_new(enum reader_presence presence)
{
    struct migration_set *set = xcalloc(1, sizeof *set);
    set->refs = 1;
    set->presence = presence;
    return set;
}

void migration_set_add(struct migration_set *set, const struct migration_row *row, char *name_raw)
{
    set->rows = xrealloc(set->rows, (set->count + 1) * sizeof *set->rows);
    set->name_raw = xrealloc(set->name_raw, (set->count + 1) * sizeof *set->name_raw);
    set->name_raw[set->count] = name_raw;
    set->rows[set->count++] = *row;
}

void migration_set_release(struct migration_set *set)
{
    if (set == NULL || __atomic_sub_fetch(&set->refs, 1, __ATOMIC_ACQ_REL) > 0)
        return;
    for (size_t i = 0; i < set->count; i++) {
        migration_row_free(&set->rows[i]);
        free(set->name_raw[i]);
    }
    free(set->rows);
    free(set->name_raw);
    free(set);
}

static struct migration_set *retain(struct migration_set *set)
{
    __atomic_add_fetch(&set->refs, 1, __ATOMIC_RELAXED);
    return set;
}

void migration_cache_init(struct migration_cache *cache, int64_t ttl_ms,
                          int64_t (*clock_ms)(void), migration_loader load, void *load_ctx)
{
    memset(cache, 0, sizeof *cache);
    pthread_mutex_init(&cache->lock, NULL);
    cache->ttl_ms = ttl_ms;
    cache->clock_ms = clock_ms ? clock_ms : clock_monotonic_ms;
    cache->load = load;
    cache->load_ctx = load_ctx;
}

void migration_cache_destroy(struct migration_cache *cache)
{
    migration_set_release(cache->current);
    cache->current = NULL;
    pthread_mutex_destroy(&cache->lock);
}

int migration_cache_get(struct migration_cache *cache, struct migration_set **out, char **errp)
{
    if (cache->ttl_ms > 0) {
        pthread_mutex_lock(&cache->lock);
        int64_t now = cache->clock_ms();
        if (cache->current != NULL && now - cache->loaded_at_ms < cache->ttl_ms &&
            now >= cache->loaded_at_ms) {
            *out = retain(cache->current);
            pthread_mutex_unlock(&cache->lock);
            return 0;
        }
        pthread_mutex_unlock(&cache->lock);
    }

    /* The query runs unlocked: a slow read must not stall callers that could use the old result. */
    __atomic_add_fetch(&cache->loads, 1, __ATOMIC_RELAXED);
    /* Aged from before the query, so a result is never served past ttl_ms after it was read. */
    int64_t read_at = cache->clock_ms();
    struct migration_set *fresh = NULL;
    if (cache->load(cache->load_ctx, &fresh, errp) != 0)
        return -1;

    if (cache->ttl_ms > 0) {
        pthread_mutex_lock(&cache->lock);
        struct migration_set *old = cache->current;
        cache->current = retain(fresh);
        cache->loaded_at_ms = read_at;
        pthread_mutex_unlock(&cache->lock);
        migration_set_release(old);
    }
    *out = fresh;
    return 0;
}
