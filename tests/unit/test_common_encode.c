/* test_common_encode.c: the output encoders: finite JSON numbers, Prometheus values and label escaping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include <cmocka.h>

#include "encode.h"

static void number_encoder_guards_non_finite_values(void **state)
{
    (void)state;
    static const struct {
        double in;
        const char *out;
    } cases[] = {
        {NAN, "0"}, {INFINITY, "0"}, {-INFINITY, "0"}, {0.0, "0"}, {-0.0, "0"},
        {12.5, "12.5"}, {3.0, "3"}, {0.0004, "0"}, {-0.0004, "0"}, {1.23456, "1.235"},
        {1e20, "1e+20"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct json_object *obj = encode_json_number(cases[i].in);
        const char *text = json_object_to_json_string(obj);
        if (strcmp(text, cases[i].out) != 0)
            fail_msg("case %zu: %s, expected %s", i, text, cases[i].out);
        json_object_put(obj);
    }
}

static char *prom(void (*write)(FILE *, const void *), const void *arg)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    write(out, arg);
    fclose(out);
    return text;
}

static void write_value(FILE *out, const void *arg)
{
    encode_prom_value(out, *(const double *)arg);
}

static void write_label(FILE *out, const void *arg)
{
    encode_prom_label(out, arg);
}

static void prometheus_values_are_finite_and_shortest(void **state)
{
    (void)state;
    static const struct {
        double in;
        const char *out;
    } cases[] = {
        {0.0, "0"}, {42.0, "42"}, {-3.0, "-3"}, {0.0125, "0.0125"}, {0.1, "0.1"},
        {1.0 / 3.0, "0.3333333333333333"}, {2.5e-05, "2.5e-05"}, {NAN, "0"}, {INFINITY, "0"},
        {-INFINITY, "0"}, {1e300, "1e+300"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *text = prom(write_value, &cases[i].in);
        if (strcmp(text, cases[i].out) != 0)
            fail_msg("case %zu: %s, expected %s", i, text, cases[i].out);
        free(text);
    }
}

static void prometheus_labels_are_escaped_and_valid_utf8(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        const char *out;
    } cases[] = {
        {"plain", "plain"},
        {"a\\b", "a\\\\b"},
        {"say \"hi\"", "say \\\"hi\\\""},
        {"two\nlines", "two\\nlines"},
        {"bad\xff", "bad\xef\xbf\xbd"},
        {"caf\xc3\xa9", "caf\xc3\xa9"},
        {"", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *text = prom(write_label, cases[i].in);
        if (strcmp(text, cases[i].out) != 0)
            fail_msg("case %zu: '%s', expected '%s'", i, text, cases[i].out);
        free(text);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(number_encoder_guards_non_finite_values),
        cmocka_unit_test(prometheus_values_are_finite_and_shortest),
        cmocka_unit_test(prometheus_labels_are_escaped_and_valid_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
