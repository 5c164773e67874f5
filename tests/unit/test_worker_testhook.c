/* test_worker_testhook.c: the worker's test-only pauses (MESHSCOPE_TEST_PAUSE) and how they are configured. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testhook.h"

/* MESHSCOPE_TEST_PAUSE: what configures a pause, what is rejected, and that a rejection keeps the old setting. */
static void testhook_spec_table(void **state)
{
    (void)state;
    static const struct {
        const char *spec;
        int ok;
        int64_t batch_ms, commit_ms; /* when ok */
    } cases[] = {
        {NULL, 1, 0, 0},
        {"", 1, 0, 0},
        {"backfill-batch=1500", 1, 1500, 0},
        {"backfill-batch=0,ingest-commit=60000", 1, 0, 60000},
        {"ingest-commit=5,backfill-batch=7", 1, 7, 5},
        {"backfill-batch", 0, 0, 0},
        {"=100", 0, 0, 0},
        {"backfill-batch=", 0, 0, 0},
        {"backfill-batch=-1", 0, 0, 0},
        {"backfill-batch=60001", 0, 0, 0},
        {"backfill-batch=1x", 0, 0, 0},
        {"backfill-batch=100000000000000000000000", 0, 0, 0},
        {"a=1,b=1,c=1,d=1,e=1,f=1,g=1,h=1,i=1", 0, 0, 0},
        {"a-point-name-longer-than-32-bytes-in-all=1", 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *err = NULL;
        assert_int_equal(testhook_configure("backfill-batch=3,ingest-commit=4", &err), 0);
        int rc = testhook_configure(cases[i].spec, &err);
        if (rc != (cases[i].ok ? 0 : -1))
            fail_msg("'%s': rc %d (%s)", cases[i].spec ? cases[i].spec : "(null)", rc,
                     err ? err : "");
        int64_t want_batch = cases[i].ok ? cases[i].batch_ms : 3;
        int64_t want_commit = cases[i].ok ? cases[i].commit_ms : 4;
        if (testhook_pause_ms(TESTHOOK_BACKFILL_BATCH) != want_batch ||
            testhook_pause_ms(TESTHOOK_INGEST_COMMIT) != want_commit)
            fail_msg("'%s': pauses %lld/%lld, want %lld/%lld", cases[i].spec ? cases[i].spec : "(null)",
                     (long long)testhook_pause_ms(TESTHOOK_BACKFILL_BATCH),
                     (long long)testhook_pause_ms(TESTHOOK_INGEST_COMMIT), (long long)want_batch,
                     (long long)want_commit);
        if (!cases[i].ok)
            assert_non_null(strstr(err, TESTHOOK_ENV));
        free(err);
    }
    assert_int_equal(testhook_configure(NULL, NULL), 0);
    assert_int_equal(testhook_pause_ms("unknown-point"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(testhook_spec_table),
    };
    return cmocka_run_group_tests_name("testhook", tests, NULL, NULL);
}
