/* test_fcgi_params.c: every query-parameter validator, as tables of valid and invalid inputs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "encode.h"
#include "utf8.h"
#include "params.h"

static const struct param_spec limit_spec = {"limit", PARAM_INT, 1, 500, 20, 50};
static const struct param_spec before_spec = {"before", PARAM_INT, 1, INT64_MAX, 20, INT64_MAX};
static const struct param_spec signed_spec = {"offset", PARAM_INT, -10, 10, 4, 0};

struct int_case {
    const struct param_spec *spec;
    const char *value;
    size_t len; /* 0: strlen(value) */
    int ok;
    int64_t expected;
    const char *error_part; /* substring of the message when !ok */
};

static void int_validator_accepts_and_rejects_by_table(void **state)
{
    (void)state;
    static const struct int_case cases[] = {
        {&limit_spec, "1", 0, 1, 1, NULL},
        {&limit_spec, "500", 0, 1, 500, NULL},
        {&limit_spec, "050", 0, 1, 50, NULL},
        {&before_spec, "9223372036854775807", 0, 1, INT64_MAX, NULL},
        {&signed_spec, "-10", 0, 1, -10, NULL},
        {&signed_spec, "7", 0, 1, 7, NULL},
        {&limit_spec, "0", 0, 0, 0, "from 1 to 500"},
        {&limit_spec, "501", 0, 0, 0, "from 1 to 500"},
        {&limit_spec, "-1", 0, 0, 0, "from 1 to 500"},
        {&limit_spec, "+5", 0, 0, 0, "from 1 to 500"},
        {&limit_spec, " 5", 0, 0, 0, "from 1 to 500"},
        {&limit_spec, "5 ", 0, 0, 0, "from 1 to 500"},
        {&limit_spec, "1e2", 0, 0, 0, "from 1 to 500"},
        {&limit_spec, "0x10", 0, 0, 0, "from 1 to 500"},
        {&limit_spec, "5.0", 0, 0, 0, "from 1 to 500"},
        {&limit_spec, "abc", 0, 0, 0, "from 1 to 500"},
        {&limit_spec, "-", 0, 0, 0, "from 1 to 500"},
        {&signed_spec, "-", 0, 0, 0, "from -10 to 10"},
        {&signed_spec, "--1", 0, 0, 0, "from -10 to 10"},
        {&signed_spec, "-11", 0, 0, 0, "from -10 to 10"},
        {&before_spec, "9223372036854775808", 0, 0, 0, "from 1 to"},
        {&before_spec, "99999999999999999999", 0, 0, 0, "from 1 to"},
        {&limit_spec, "", 0, 0, 0, "is empty"},
        {&limit_spec, "000000000000000000001", 0, 0, 0, "longer than 20 bytes"},
        {&signed_spec, "00001", 0, 0, 0, "longer than 4 bytes"},
        {&limit_spec, "5\0" "0", 3, 0, 0, "NUL byte"},
        {&limit_spec, "\xff", 0, 0, 0, "not valid UTF-8"},
        {&limit_spec, "\xc3\xa9", 0, 0, 0, "from 1 to 500"},
        {&limit_spec, "\xef\xbc\x95", 0, 0, 0, "from 1 to 500"}, /* fullwidth digit five */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct int_case *c = &cases[i];
        size_t len = c->len ? c->len : strlen(c->value);
        struct param_value v = {0};
        char *err = NULL;
        int rc = params_validate(c->spec, c->value, len, &v, &err);
        if (c->ok) {
            if (rc != 0)
                fail_msg("case %zu (%s): rejected: %s", i, c->value, err);
            assert_int_equal(v.present, 1);
            assert_int_equal(v.i, c->expected);
        } else {
            if (rc == 0)
                fail_msg("case %zu (%s): accepted as %lld", i, c->value, (long long)v.i);
            assert_non_null(err);
            if (strstr(err, c->error_part) == NULL)
                fail_msg("case %zu: message '%s' lacks '%s'", i, err, c->error_part);
            /* Messages name the parameter and never quote the raw value. */
            assert_non_null(strstr(err, c->spec->name));
            assert_true(utf8_valid(err, strlen(err)));
            free(err);
        }
    }
}

static const struct param_spec page_specs[] = {
    {"limit", PARAM_INT, 1, 500, 20, 50},
    {"before", PARAM_INT, 1, INT64_MAX, 20, INT64_MAX},
};

struct query_case {
    const char *query;
    int ok;
    int64_t limit, before;
    int limit_present;
    const char *error_part;
};

static void query_parser_applies_specs_by_table(void **state)
{
    (void)state;
    static const struct query_case cases[] = {
        {"", 1, 50, INT64_MAX, 0, NULL},
        {"limit=10", 1, 10, INT64_MAX, 1, NULL},
        {"limit=10&before=99", 1, 10, 99, 1, NULL},
        {"before=99;limit=3", 1, 3, 99, 1, NULL},
        {"lim%69t=7", 1, 7, INT64_MAX, 1, NULL},
        {"limit=%31%32", 1, 12, INT64_MAX, 1, NULL},
        {"_=1700000000&limit=2", 1, 2, INT64_MAX, 1, NULL},
        {"unknown=%zz&limit=2", 1, 2, INT64_MAX, 1, NULL},
        {"%zz=1", 1, 50, INT64_MAX, 0, NULL},
        {"&&limit=4&", 1, 4, INT64_MAX, 1, NULL},
        {"flag", 1, 50, INT64_MAX, 0, NULL},
        {"limit=1&limit=2", 0, 0, 0, 0, "more than once"},
        {"limit=1&lim%69t=1", 0, 0, 0, 0, "more than once"},
        {"limit", 0, 0, 0, 0, "is empty"},
        {"limit=", 0, 0, 0, 0, "is empty"},
        {"limit=%", 0, 0, 0, 0, "percent-encoded"},
        {"limit=%4", 0, 0, 0, 0, "percent-encoded"},
        {"limit=%g1", 0, 0, 0, 0, "percent-encoded"},
        {"limit=%00", 0, 0, 0, 0, "NUL byte"},
        {"limit=1%002", 0, 0, 0, 0, "NUL byte"},
        {"limit=%ff", 0, 0, 0, 0, "not valid UTF-8"},
        {"limit=%c0%80", 0, 0, 0, 0, "not valid UTF-8"},
        {"limit=+5", 0, 0, 0, 0, "from 1 to 500"},
        {"limit=5%20", 0, 0, 0, 0, "from 1 to 500"},
        {"before=0", 0, 0, 0, 0, "'before'"},
        {"before=-5", 0, 0, 0, 0, "'before'"},
        {"limit=100000000000000000000000", 0, 0, 0, 0, "longer than"},
        {"a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&"
         "a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1&a=1",
         0, 0, 0, 0, "more than 32"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct query_case *c = &cases[i];
        struct param_value v[2];
        char *err = NULL;
        int rc = params_parse(c->query, page_specs, 2, v, &err);
        if (c->ok) {
            if (rc != 0)
                fail_msg("case %zu (%s): rejected: %s", i, c->query, err);
            assert_int_equal(v[0].i, c->limit);
            assert_int_equal(v[0].present, c->limit_present);
            assert_int_equal(v[1].i, c->before);
        } else {
            if (rc == 0)
                fail_msg("case %zu (%s): accepted", i, c->query);
            if (strstr(err, c->error_part) == NULL)
                fail_msg("case %zu (%s): message '%s' lacks '%s'", i, c->query, err,
                         c->error_part);
            assert_true(utf8_valid(err, strlen(err)));
            free(err);
        }
    }
}

static void query_parser_without_specs_ignores_everything(void **state)
{
    (void)state;
    char *err = NULL;
    assert_int_equal(params_parse("x=%ff&y&%%%", NULL, 0, NULL, &err), 0);
    assert_int_equal(params_parse(NULL, NULL, 0, NULL, &err), 0);
}

struct decode_case {
    const char *in;
    int ok;
    const char *out; /* the decoded bytes, or the error message */
    size_t out_len;
};

static void percent_decoding_by_table(void **state)
{
    (void)state;
    static const struct decode_case cases[] = {
        {"abc", 1, "abc", 3},       {"a+b", 1, "a b", 3},    {"%41%62", 1, "Ab", 2},
        {"%2b", 1, "+", 1},         {"%00", 1, "\0", 1},     {"", 1, "", 0},
        {"%", 0, "'%' at byte 0 is not followed by two characters", 0},
        {"%a", 0, "'%' at byte 0 is not followed by two characters", 0},
        {"%ag", 0, "'%' at byte 0 is not followed by two hex digits", 0},
        {"ab%", 0, "'%' at byte 2 is not followed by two characters", 0},
        {"x%41%G0", 0, "'%' at byte 4 is not followed by two hex digits", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *out = NULL;
        size_t len = 0;
        char *err = NULL;
        int rc = params_percent_decode(cases[i].in, strlen(cases[i].in), &out, &len, &err);
        if (!cases[i].ok) {
            if (rc == 0)
                fail_msg("case %zu (%s): decoded", i, cases[i].in);
            assert_string_equal(err, cases[i].out);
            free(err);
            continue;
        }
        assert_int_equal(rc, 0);
        assert_int_equal(len, cases[i].out_len);
        assert_memory_equal(out, cases[i].out, len);
        free(out);
    }
}

struct utf8_case {
    const char *bytes;
    int valid;
};

static void utf8_check_by_table(void **state)
{
    (void)state;
    static const struct utf8_case cases[] = {
        {"plain", 1},
        {"caf\xc3\xa9", 1},
        {"\xe2\x82\xac", 1},          /* euro sign */
        {"\xf0\x9f\x93\xa1", 1},      /* satellite antenna */
        {"\xf4\x8f\xbf\xbf", 1},      /* U+10FFFF */
        {"\xed\x9f\xbf", 1},          /* U+D7FF, last before the surrogates */
        {"\xff", 0},
        {"\x80", 0},                  /* lone continuation */
        {"\xc3", 0},                  /* truncated */
        {"\xe2\x82", 0},              /* truncated */
        {"\xc0\xaf", 0},              /* overlong '/' */
        {"\xc1\xbf", 0},              /* overlong */
        {"\xe0\x80\xaf", 0},          /* overlong */
        {"\xf0\x80\x80\xaf", 0},      /* overlong */
        {"\xed\xa0\x80", 0},          /* surrogate U+D800 */
        {"\xf4\x90\x80\x80", 0},      /* U+110000 */
        {"\xf5\x80\x80\x80", 0},
        {"a\xc3(", 0},                /* bad continuation */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int valid = utf8_valid(cases[i].bytes, strlen(cases[i].bytes));
        if (valid != cases[i].valid)
            fail_msg("case %zu: expected %s", i, cases[i].valid ? "valid" : "invalid");
        /* Sanitizing always yields valid UTF-8, and leaves valid text alone. */
        char *clean = encode_utf8_sanitize(cases[i].bytes);
        assert_true(utf8_valid(clean, strlen(clean)));
        if (cases[i].valid)
            assert_string_equal(clean, cases[i].bytes);
        else
            assert_non_null(strstr(clean, "\xef\xbf\xbd"));
        free(clean);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(int_validator_accepts_and_rejects_by_table),
        cmocka_unit_test(query_parser_applies_specs_by_table),
        cmocka_unit_test(query_parser_without_specs_ignores_everything),
        cmocka_unit_test(percent_decoding_by_table),
        cmocka_unit_test(utf8_check_by_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
