/* test_client_feedgen.c: the demo feeder's traffic is valid protocol and looks like a mesh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ingest.h"
#include "ingest_tool.h"
#include "util.h"

#define NOW INT64_C(1760000000)
#define LINES 5000

struct seen_tx {
    char *hash;
    char *raw_hex;
    int observations;
};

static void feedgen_lines_pass_the_parser_and_mix_new_repeat_late(void **state)
{
    (void)state;
    static const struct {
        uint64_t seed;
        int observers;
    } cases[] = {{1, 6}, {42, 1}, {7, 32}, {UINT64_MAX, 3}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        struct feed_gen *g = feed_gen_new(cases[c].seed, cases[c].observers);
        struct seen_tx *txs = xcalloc(LINES, sizeof *txs);
        size_t ntx = 0;
        int late = 0, observers_seen[FEED_MAX_OBSERVERS] = {0};
        for (int i = 0; i < LINES; i++) {
            char *line = feed_gen_line(g, NOW);
            struct ingest_obs obs;
            char *err = NULL;
            if (ingest_parse_line(line, strlen(line), &obs, &err) != 0)
                fail_msg("seed %zu line %d refused (%s): %s", c, i, err, line);
            assert_true(obs.timestamp <= NOW);
            assert_true(obs.timestamp >= NOW - 605);
            if (obs.timestamp < NOW)
                late++;
            int o = atoi(obs.observer + strlen("observer-"));
            assert_true(o >= 0 && o < cases[c].observers);
            observers_seen[o] = 1;
            size_t k = 0;
            while (k < ntx && strcmp(txs[k].hash, obs.hash) != 0)
                k++;
            if (k == ntx) {
                txs[ntx].hash = xstrdup(obs.hash);
                txs[ntx].raw_hex = xstrdup(obs.raw_hex);
                ntx++;
            } else {
                /* A repeat is the same packet: same bytes. */
                assert_string_equal(txs[k].raw_hex, obs.raw_hex);
            }
            txs[k].observations++;
            ingest_obs_clear(&obs);
            free(line);
        }
        /* About 35% new transmissions, repeats for the rest, a few late ones. */
        assert_in_range(ntx, LINES * 30 / 100, LINES * 40 / 100);
        assert_in_range(late, LINES * 3 / 100, LINES * 8 / 100);
        for (int o = 0; o < cases[c].observers; o++)
            assert_true(observers_seen[o]);
        for (size_t k = 0; k < ntx; k++) {
            free(txs[k].hash);
            free(txs[k].raw_hex);
        }
        free(txs);
        feed_gen_free(g);
    }
}

static void feedgen_is_deterministic_per_seed(void **state)
{
    (void)state;
    struct feed_gen *a = feed_gen_new(99, 6), *b = feed_gen_new(99, 6), *c = feed_gen_new(100, 6);
    int differs = 0;
    for (int i = 0; i < 100; i++) {
        char *la = feed_gen_line(a, NOW), *lb = feed_gen_line(b, NOW), *lc = feed_gen_line(c, NOW);
        assert_string_equal(la, lb);
        differs |= strcmp(la, lc) != 0;
        free(la);
        free(lb);
        free(lc);
    }
    assert_true(differs);
    feed_gen_free(a);
    feed_gen_free(b);
    feed_gen_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(feedgen_lines_pass_the_parser_and_mix_new_repeat_late),
        cmocka_unit_test(feedgen_is_deterministic_per_seed),
    };
    return cmocka_run_group_tests_name("ingest_feedgen", tests, NULL, NULL);
}
