/* test_fcgi_migration_cache.c: the TTL cache of migration reads, driven by an injected clock. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "migration_cache.h"
#include "util.h"

static int64_t fake_now;
static int64_t fake_clock(void)
{
    return fake_now;
}

/* A loader whose outcome the test scripts; it records what it saw. */
struct fake_loader {
    struct migration_cache *cache;
    int fail;             /* next load fails */
    int loads;
    int lock_was_free;    /* every load found the cache's lock free */
    int64_t advance_ms;   /* the query "takes" this long */
};

static int fake_load(void *ctx, struct migration_set **out, char **errp)
{
    struct fake_loader *f = ctx;
    f->loads++;
    if (pthread_mutex_trylock(&f->cache->lock) == 0)
        pthread_mutex_unlock(&f->cache->lock);
    else
        f->lock_was_free = 0;
    fake_now += f->advance_ms;
    if (f->fail)
        return set_error(errp, "database is locked");
    struct migration_set *set = migration_set_new(READER_PRESENT);
    struct migration_row row = {.name = xasprintf("load-%d", f->loads), .status = xstrdup("done")};
    migration_set_add(set, &row, NULL);
    *out = set;
    return 0;
}

static const char *get_name(struct migration_cache *cache, int *rc_out)
{
    static char name[64];
    struct migration_set *set = NULL;
    char *err = NULL;
    int rc = migration_cache_get(cache, &set, &err);
    *rc_out = rc;
    if (rc != 0) {
        snprintf(name, sizeof name, "error: %s", err);
        free(err);
        return name;
    }
    snprintf(name, sizeof name, "%s", set->rows[0].name);
    migration_set_release(set);
    return name;
}

static void results_are_reused_until_the_ttl_passes(void **state)
{
    (void)state;
    struct migration_cache cache;
    struct fake_loader f = {.cache = &cache, .lock_was_free = 1};
    fake_now = 10000;
    migration_cache_init(&cache, 1000, fake_clock, fake_load, &f);
    int rc;
    assert_string_equal(get_name(&cache, &rc), "load-1");
    fake_now += 999;
    assert_string_equal(get_name(&cache, &rc), "load-1");
    fake_now += 1;
    assert_string_equal(get_name(&cache, &rc), "load-2");
    assert_int_equal(f.loads, 2);
    assert_int_equal(cache.loads, 2);
    migration_cache_destroy(&cache);
}

static void freshness_counts_from_before_the_query(void **state)
{
    (void)state;
    struct migration_cache cache;
    struct fake_loader f = {.cache = &cache, .lock_was_free = 1, .advance_ms = 300};
    fake_now = 0;
    migration_cache_init(&cache, 1000, fake_clock, fake_load, &f);
    int rc;
    assert_string_equal(get_name(&cache, &rc), "load-1"); /* read at 0, returned at 300 */
    fake_now = 999;
    assert_string_equal(get_name(&cache, &rc), "load-1");
    fake_now = 1000;
    assert_string_equal(get_name(&cache, &rc), "load-2");
    migration_cache_destroy(&cache);
}

static void errors_are_never_cached(void **state)
{
    (void)state;
    struct migration_cache cache;
    struct fake_loader f = {.cache = &cache, .lock_was_free = 1, .fail = 1};
    fake_now = 5000;
    migration_cache_init(&cache, 1000, fake_clock, fake_load, &f);
    int rc;
    assert_string_equal(get_name(&cache, &rc), "error: database is locked");
    assert_int_equal(rc, -1);
    /* Same instant: an error must not be served from the cache, the read is retried. */
    assert_string_equal(get_name(&cache, &rc), "error: database is locked");
    assert_int_equal(f.loads, 2);
    f.fail = 0;
    assert_string_equal(get_name(&cache, &rc), "load-3");
    assert_int_equal(rc, 0);
    assert_string_equal(get_name(&cache, &rc), "load-3");
    assert_int_equal(f.loads, 3);
    migration_cache_destroy(&cache);
}

static void an_error_after_expiry_is_reported_not_hidden_by_old_data(void **state)
{
    (void)state;
    struct migration_cache cache;
    struct fake_loader f = {.cache = &cache, .lock_was_free = 1};
    fake_now = 0;
    migration_cache_init(&cache, 1000, fake_clock, fake_load, &f);
    int rc;
    assert_string_equal(get_name(&cache, &rc), "load-1");
    fake_now = 1500;
    f.fail = 1;
    assert_string_equal(get_name(&cache, &rc), "error: database is locked");
    f.fail = 0;
    assert_string_equal(get_name(&cache, &rc), "load-3");
    migration_cache_destroy(&cache);
}

static void ttl_zero_disables_the_cache(void **state)
{
    (void)state;
    struct migration_cache cache;
    struct fake_loader f = {.cache = &cache, .lock_was_free = 1};
    fake_now = 0;
    migration_cache_init(&cache, 0, fake_clock, fake_load, &f);
    int rc;
    assert_string_equal(get_name(&cache, &rc), "load-1");
    assert_string_equal(get_name(&cache, &rc), "load-2");
    assert_string_equal(get_name(&cache, &rc), "load-3");
    assert_null(cache.current);
    migration_cache_destroy(&cache);
}

static void a_clock_that_goes_backwards_forces_a_reload(void **state)
{
    (void)state;
    struct migration_cache cache;
    struct fake_loader f = {.cache = &cache, .lock_was_free = 1};
    fake_now = 10000;
    migration_cache_init(&cache, 1000, fake_clock, fake_load, &f);
    int rc;
    assert_string_equal(get_name(&cache, &rc), "load-1");
    fake_now = 5000;
    assert_string_equal(get_name(&cache, &rc), "load-2");
    migration_cache_destroy(&cache);
}

static void the_lock_is_never_held_while_querying(void **state)
{
    (void)state;
    struct migration_cache cache;
    struct fake_loader f = {.cache = &cache, .lock_was_free = 1};
    fake_now = 0;
    migration_cache_init(&cache, 1000, fake_clock, fake_load, &f);
    int rc;
    get_name(&cache, &rc);
    fake_now = 2000;
    get_name(&cache, &rc);
    f.fail = 1;
    fake_now = 4000;
    get_name(&cache, &rc);
    assert_int_equal(f.loads, 3);
    assert_true(f.lock_was_free);
    migration_cache_destroy(&cache);
}

static void a_result_outlives_its_replacement_while_referenced(void **state)
{
    (void)state;
    struct migration_cache cache;
    struct fake_loader f = {.cache = &cache, .lock_was_free = 1};
    fake_now = 0;
    migration_cache_init(&cache, 1000, fake_clock, fake_load, &f);
    struct migration_set *held = NULL;
    assert_int_equal(migration_cache_get(&cache, &held, NULL), 0);
    fake_now = 5000;
    int rc;
    assert_string_equal(get_name(&cache, &rc), "load-2");
    /* ASan would flag this read if the replaced result had been freed under us. */
    assert_string_equal(held->rows[0].name, "load-1");
    migration_set_release(held);
    migration_cache_destroy(&cache);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(results_are_reused_until_the_ttl_passes),
        cmocka_unit_test(freshness_counts_from_before_the_query),
        cmocka_unit_test(errors_are_never_cached),
        cmocka_unit_test(an_error_after_expiry_is_reported_not_hidden_by_old_data),
        cmocka_unit_test(ttl_zero_disables_the_cache),
        cmocka_unit_test(a_clock_that_goes_backwards_forces_a_reload),
        cmocka_unit_test(the_lock_is_never_held_while_querying),
        cmocka_unit_test(a_result_outlives_its_replacement_while_referenced),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
