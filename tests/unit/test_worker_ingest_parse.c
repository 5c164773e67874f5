/* test_worker_ingest_parse.c: the ingest line protocol's validation, table-driven (docs/ingest.md). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ingest.h"
#include "utf8.h"
#include "util.h"

#define VALID_TAIL "\"raw_hex\":\"0a1B\",\"timestamp\":1760000000"

/* Lines the protocol rejects, with a fragment the reason must contain. */
static const struct {
    const char *name;
    const char *line;
    const char *reason;
} invalid_lines[] = {
    /* not an object */
    {"empty line", "", "empty line"},
    {"blank line", "   \t", "empty line"},
    {"array", "[1,2]", "expected a JSON object"},
    {"string", "\"hash\"", "expected a JSON object"},
    {"number", "42", "expected a JSON object"},
    {"null", "null", "expected a JSON object"},
    {"bare word", "hello", "invalid JSON"},
    {"truncated object", "{\"hash\":\"a\",", "invalid JSON"},
    {"trailing garbage", "{\"hash\":\"a\"," VALID_TAIL "} x", "invalid JSON"},
    {"two objects", "{\"hash\":\"a\"," VALID_TAIL "}{}", "invalid JSON"},
    {"single quotes", "{'hash':'a'}", "invalid JSON"},
    {"NaN literal", "{\"hash\":\"a\",\"snr\":NaN," VALID_TAIL "}", "invalid JSON"},
    {"too deep", "{\"hash\":\"a\",\"path\":[[[[[\"x\"]]]]]," VALID_TAIL "}", "invalid JSON"},
    {"duplicate field", "{\"hash\":\"a\",\"hash\":\"b\"," VALID_TAIL "}", "duplicate field"},
    {"leading zero", "{\"hash\":\"a\",\"raw_hex\":\"00\",\"timestamp\":01760000000}", "invalid JSON"},
    {"raw NUL byte", "{\"hash\":\"a\0\"," VALID_TAIL "}", "NUL"},
    /* missing fields */
    {"missing hash", "{" VALID_TAIL "}", "missing field \"hash\""},
    {"missing raw_hex", "{\"hash\":\"a\",\"timestamp\":1760000000}", "missing field \"raw_hex\""},
    {"missing timestamp", "{\"hash\":\"a\",\"raw_hex\":\"00\"}", "missing field \"timestamp\""},
    {"null hash", "{\"hash\":null," VALID_TAIL "}", "missing field \"hash\""},
    {"empty object", "{}", "missing field"},
    /* mistyped fields */
    {"hash number", "{\"hash\":12," VALID_TAIL "}", "\"hash\": expected a string"},
    {"raw_hex array", "{\"hash\":\"a\",\"raw_hex\":[\"00\"],\"timestamp\":1760000000}",
     "\"raw_hex\": expected a string"},
    {"timestamp string", "{\"hash\":\"a\",\"raw_hex\":\"00\",\"timestamp\":\"1760000000\"}",
     "\"timestamp\": expected an integer"},
    {"timestamp float", "{\"hash\":\"a\",\"raw_hex\":\"00\",\"timestamp\":1760000000.5}",
     "\"timestamp\": expected an integer"},
    {"timestamp bool", "{\"hash\":\"a\",\"raw_hex\":\"00\",\"timestamp\":true}",
     "\"timestamp\": expected an integer"},
    {"payload_type float", "{\"hash\":\"a\",\"payload_type\":1.5," VALID_TAIL "}",
     "\"payload_type\": expected an integer"},
    {"payload_type string", "{\"hash\":\"a\",\"payload_type\":\"4\"," VALID_TAIL "}",
     "\"payload_type\": expected an integer"},
    {"snr string", "{\"hash\":\"a\",\"snr\":\"5\"," VALID_TAIL "}", "\"snr\": expected a number"},
    {"rssi bool", "{\"hash\":\"a\",\"rssi\":false," VALID_TAIL "}", "\"rssi\": expected a number"},
    {"observer number", "{\"hash\":\"a\",\"observer\":7," VALID_TAIL "}",
     "\"observer\": expected a string"},
    {"path string", "{\"hash\":\"a\",\"path\":\"a,b\"," VALID_TAIL "}",
     "\"path\": expected an array"},
    {"path of numbers", "{\"hash\":\"a\",\"path\":[1,2]," VALID_TAIL "}",
     "\"path\": expected an array of strings"},
    {"path with null", "{\"hash\":\"a\",\"path\":[\"a\",null]," VALID_TAIL "}",
     "\"path\": expected an array of strings"},
    {"unknown field", "{\"hash\":\"a\",\"timestmap\":1," VALID_TAIL "}",
     "unknown field \"timestmap\""},
    {"unknown field, unprintable name", "{\"hash\":\"a\",\"t\\n\":1," VALID_TAIL "}",
     "unknown field"},
    /* bad strings */
    {"empty hash", "{\"hash\":\"\"," VALID_TAIL "}", "\"hash\": expected 1-128"},
    {"hash with space", "{\"hash\":\"a b\"," VALID_TAIL "}", "\"hash\": expected 1-128"},
    {"hash with escaped NUL", "{\"hash\":\"a\\u0000b\"," VALID_TAIL "}", "NUL"},
    /* json-c cuts member names at an escaped NUL: this one would pass as "timestamp". */
    {"escaped NUL in a member name",
     "{\"hash\":\"nulkey\",\"raw_hex\":\"aa\",\"timestamp\\u0000zz\":1700000000}", "NUL"},
    {"escaped NUL ending a known name", "{\"hash\\u0000\":\"a\"," VALID_TAIL "}", "NUL"},
    {"escaped NUL in a path hop", "{\"hash\":\"a\",\"path\":[\"a\\u0000\"]," VALID_TAIL "}",
     "NUL"},
    {"empty observer", "{\"hash\":\"a\",\"observer\":\"\"," VALID_TAIL "}",
     "\"observer\": expected 1-128"},
    {"observer with newline", "{\"hash\":\"a\",\"observer\":\"x\\ny\"," VALID_TAIL "}",
     "\"observer\""},
    {"empty path hop", "{\"hash\":\"a\",\"path\":[\"\"]," VALID_TAIL "}", "\"path\""},
    /* bad hex */
    {"raw_hex odd length", "{\"hash\":\"a\",\"raw_hex\":\"abc\",\"timestamp\":1760000000}",
     "\"raw_hex\": odd number of hex digits"},
    {"raw_hex non-hex", "{\"hash\":\"a\",\"raw_hex\":\"zz\",\"timestamp\":1760000000}",
     "\"raw_hex\": not a hex digit"},
    {"raw_hex 0x prefix", "{\"hash\":\"a\",\"raw_hex\":\"0x00\",\"timestamp\":1760000000}",
     "\"raw_hex\": not a hex digit"},
    {"raw_hex empty", "{\"hash\":\"a\",\"raw_hex\":\"\",\"timestamp\":1760000000}",
     "\"raw_hex\": empty"},
    /* numbers out of range */
    {"timestamp too old", "{\"hash\":\"a\",\"raw_hex\":\"00\",\"timestamp\":946684799}",
     "\"timestamp\": out of range"},
    {"timestamp too new", "{\"hash\":\"a\",\"raw_hex\":\"00\",\"timestamp\":4102444801}",
     "\"timestamp\": out of range"},
    {"timestamp negative", "{\"hash\":\"a\",\"raw_hex\":\"00\",\"timestamp\":-1}",
     "\"timestamp\": out of range"},
    {"timestamp beyond int64",
     "{\"hash\":\"a\",\"raw_hex\":\"00\",\"timestamp\":99999999999999999999999}",
     "\"timestamp\""},
    {"payload_type negative", "{\"hash\":\"a\",\"payload_type\":-1," VALID_TAIL "}",
     "\"payload_type\": out of range"},
    {"payload_type too big", "{\"hash\":\"a\",\"payload_type\":256," VALID_TAIL "}",
     "\"payload_type\": out of range"},
    {"snr too high", "{\"hash\":\"a\",\"snr\":100.5," VALID_TAIL "}", "\"snr\": out of range"},
    {"snr overflowing double", "{\"hash\":\"a\",\"snr\":1e999," VALID_TAIL "}", "\"snr\""},
    {"rssi too low", "{\"hash\":\"a\",\"rssi\":-200.01," VALID_TAIL "}", "\"rssi\": out of range"},
    {"rssi too high", "{\"hash\":\"a\",\"rssi\":21," VALID_TAIL "}", "\"rssi\": out of range"},
    /* invalid UTF-8 */
    {"invalid UTF-8 byte", "{\"hash\":\"a\",\"observer\":\"\xff\"," VALID_TAIL "}", "UTF-8"},
    {"overlong slash", "{\"hash\":\"a\",\"observer\":\"\xc0\xaf\"," VALID_TAIL "}", "UTF-8"},
    {"UTF-8 surrogate", "{\"hash\":\"a\",\"observer\":\"\xed\xa0\x80\"," VALID_TAIL "}",
     "UTF-8"},
    {"truncated sequence", "{\"hash\":\"a\",\"observer\":\"\xe2\x82\"," VALID_TAIL "}", "UTF-8"},
    {"escaped lone surrogate", "{\"hash\":\"a\",\"observer\":\"\\ud800\"," VALID_TAIL "}",
     "lone UTF-16 surrogate"},
    {"status without observer", "{\"kind\":\"observer_status\",\"timestamp\":1760000000}",
     "missing field \"observer\""},
    {"status with a packet field", "{\"kind\":\"observer_status\",\"observer\":\"o\","
     "\"timestamp\":1760000000,\"hash\":\"a\"}", "unknown field \"hash\""},
    {"observation with a status field", "{\"hash\":\"a\",\"model\":\"x\"," VALID_TAIL "}",
     "unknown field \"model\""},
    {"unknown kind", "{\"kind\":\"weather\",\"hash\":\"a\"," VALID_TAIL "}", "field \"kind\""},
    {"kind not a string", "{\"kind\":1,\"hash\":\"a\"," VALID_TAIL "}", "field \"kind\""},
    {"battery out of range", "{\"kind\":\"observer_status\",\"observer\":\"o\","
     "\"timestamp\":1760000000,\"battery_mv\":-1}", "field \"battery_mv\""},
    {"noise floor not finite", "{\"kind\":\"observer_status\",\"observer\":\"o\","
     "\"timestamp\":1760000000,\"noise_floor\":\"-110\"}", "field \"noise_floor\""},
    {"empty region", "{\"hash\":\"a\",\"region\":\"\"," VALID_TAIL "}", "field \"region\""},
    {"escaped low surrogate first", "{\"hash\":\"a\",\"observer\":\"\\udc00\\ud800\"," VALID_TAIL
     "}", "lone UTF-16 surrogate"},
};

static void parse_rejects_invalid_lines_with_a_reason(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof invalid_lines / sizeof invalid_lines[0]; i++) {
        const char *line = invalid_lines[i].line;
        /* The raw-NUL case needs its true length, not strlen's. */
        size_t len = strlen(line);
        if (strcmp(invalid_lines[i].name, "raw NUL byte") == 0)
            len += 1 + strlen(line + len + 1);
        struct ingest_obs obs;
        memset(&obs, 0x5a, sizeof obs);
        char *err = NULL;
        int rc = ingest_parse_line(line, len, &obs, &err);
        if (rc != -1)
            fail_msg("case '%s' was accepted", invalid_lines[i].name);
        if (err == NULL || strstr(err, invalid_lines[i].reason) == NULL)
            fail_msg("case '%s': reason '%s' lacks '%s'", invalid_lines[i].name,
                     err ? err : "(null)", invalid_lines[i].reason);
        if (strlen(err) > INGEST_REASON_MAX || strchr(err, '\n') != NULL)
            fail_msg("case '%s': reason is not one bounded line: '%s'", invalid_lines[i].name,
                     err);
        assert_null(obs.hash);
        assert_null(obs.raw_hex);
        assert_null(obs.observer);
        assert_null(obs.path_json);
        free(err);
    }
}

/* An observer_status line fills the status fields and nothing of an observation. */
static void parse_accepts_an_observer_status_line(void **state)
{
    (void)state;
    const char *line = "{\"kind\":\"observer_status\",\"observer\":\"OBS1\",\"timestamp\":1760000000,"
                       "\"observer_name\":\"Roof\",\"region\":\"SEA\",\"model\":\"T-Beam\","
                       "\"firmware\":\"v1.9\",\"battery_mv\":4100,\"uptime_s\":60,\"noise_floor\":-112.5}";
    struct ingest_obs obs;
    char *err = NULL;
    if (ingest_parse_line(line, strlen(line), &obs, &err) != 0)
        fail_msg("refused: %s", err);
    assert_int_equal(obs.kind, INGEST_KIND_OBSERVER_STATUS);
    assert_null(obs.hash);
    assert_string_equal(obs.observer, "OBS1");
    assert_string_equal(obs.observer_name, "Roof");
    assert_string_equal(obs.region, "SEA");
    assert_string_equal(obs.model, "T-Beam");
    assert_string_equal(obs.firmware, "v1.9");
    assert_true(obs.has_battery_mv && obs.battery_mv == 4100);
    assert_true(obs.has_uptime_s && obs.uptime_s == 60);
    assert_true(obs.has_noise_floor && obs.noise_floor == -112.5);
    ingest_obs_clear(&obs);
}

/* Builds a line of exactly `len` bytes whose hash field is padded to reach it. */
static char *line_of_length(size_t len)
{
    static const char head[] = "{\"hash\":\"a\",\"observer\":\"";
    static const char tail[] = "\"," VALID_TAIL "}";
    size_t fixed = strlen(head) + strlen(tail);
    assert_true(len > fixed);
    char *line = xmalloc(len + 1);
    memcpy(line, head, strlen(head));
    memset(line + strlen(head), 'x', len - fixed);
    memcpy(line + len - strlen(tail), tail, strlen(tail) + 1);
    return line;
}

static void parse_rejects_oversized_lines(void **state)
{
    (void)state;
    char *line = line_of_length(INGEST_LINE_MAX + 1);
    struct ingest_obs obs = {0};
    char *err = NULL;
    assert_int_equal(ingest_parse_line(line, INGEST_LINE_MAX + 1, &obs, &err), -1);
    assert_non_null(strstr(err, "line too long"));
    free(err);
    free(line);
}

/*
 * The cap counts the line without its newline, and a '\r' before the newline
 * is not part of the line: a line of exactly INGEST_LINE_MAX bytes passes
 * with or without it, and one byte more fails either way.
 */
/* A valid observation padded with spaces to exactly `len` bytes. */
static char *valid_line_of_length(size_t len)
{
    static const char body[] = "{\"hash\":\"a\"," VALID_TAIL "}";
    assert_true(len >= strlen(body));
    char *line = xmalloc(len + 1);
    memset(line, ' ', len);
    memcpy(line, body, strlen(body));
    line[len] = '\0';
    return line;
}

static void parse_cap_ignores_a_trailing_carriage_return(void **state)
{
    (void)state;
    static const struct {
        size_t body; /* bytes before the optional '\r' */
        int cr;
        int ok;
    } cases[] = {
        {INGEST_LINE_MAX, 0, 1},
        {INGEST_LINE_MAX, 1, 1},
        {INGEST_LINE_MAX + 1, 0, 0},
        {INGEST_LINE_MAX + 1, 1, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *line = valid_line_of_length(cases[i].body);
        size_t len = cases[i].body;
        if (cases[i].cr) {
            line = xrealloc(line, len + 2);
            line[len++] = '\r';
            line[len] = '\0';
        }
        struct ingest_obs obs = {0};
        char *err = NULL;
        int rc = ingest_parse_line(line, len, &obs, &err);
        if ((rc == 0) != cases[i].ok)
            fail_msg("%zu bytes%s: %s", cases[i].body, cases[i].cr ? " + CR" : "",
                     rc == 0 ? "accepted" : err);
        if (!cases[i].ok)
            assert_non_null(strstr(err, "line too long"));
        free(err);
        ingest_obs_clear(&obs);
        free(line);
    }
}

static void parse_rejects_overlong_fields(void **state)
{
    (void)state;
    static const struct {
        const char *field;
        size_t len;
        const char *reason;
    } cases[] = {
        {"hash", INGEST_HASH_MAX + 1, "\"hash\": expected 1-128"},
        {"raw_hex", INGEST_RAW_HEX_MAX + 2, "\"raw_hex\": longer than"},
        {"observer", INGEST_OBSERVER_MAX + 1, "\"observer\": expected 1-128"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *value = xmalloc(cases[i].len + 1);
        memset(value, 'a', cases[i].len);
        value[cases[i].len] = '\0';
        char *line;
        if (strcmp(cases[i].field, "hash") == 0)
            line = xasprintf("{\"hash\":\"%s\"," VALID_TAIL "}", value);
        else if (strcmp(cases[i].field, "raw_hex") == 0)
            line = xasprintf("{\"hash\":\"a\",\"raw_hex\":\"%s\",\"timestamp\":1760000000}",
                             value);
        else
            line = xasprintf("{\"hash\":\"a\",\"%s\":\"%s\"," VALID_TAIL "}", cases[i].field,
                             value);
        struct ingest_obs obs = {0};
        char *err = NULL;
        assert_int_equal(ingest_parse_line(line, strlen(line), &obs, &err), -1);
        if (strstr(err, cases[i].reason) == NULL)
            fail_msg("field %s: reason '%s' lacks '%s'", cases[i].field, err, cases[i].reason);
        free(err);
        free(line);
        free(value);
    }

    /* A path with one hop too many, and one hop one byte too long. */
    char *path = xstrdup("[");
    for (int i = 0; i <= INGEST_PATH_HOPS_MAX; i++) {
        char *next = xasprintf("%s%s\"h\"", path, i ? "," : "");
        free(path);
        path = next;
    }
    char *line = xasprintf("{\"hash\":\"a\",\"path\":%s]," VALID_TAIL "}", path);
    struct ingest_obs obs = {0};
    char *err = NULL;
    assert_int_equal(ingest_parse_line(line, strlen(line), &obs, &err), -1);
    assert_non_null(strstr(err, "\"path\": more than 64 hops"));
    free(err);
    free(line);
    free(path);
    char hop[INGEST_PATH_HOP_MAX + 2];
    memset(hop, 'h', sizeof hop - 1);
    hop[sizeof hop - 1] = '\0';
    line = xasprintf("{\"hash\":\"a\",\"path\":[\"%s\"]," VALID_TAIL "}", hop);
    assert_int_equal(ingest_parse_line(line, strlen(line), &obs, &err), -1);
    assert_non_null(strstr(err, "\"path\""));
    free(err);
    free(line);
}

static void parse_accepts_lines_at_the_limits(void **state)
{
    (void)state;
    /* Exactly INGEST_LINE_MAX bytes is allowed; the observer is too long, so
     * shrink it to the maximum and pad with whitespace instead. */
    char observer[INGEST_OBSERVER_MAX + 1];
    memset(observer, 'o', INGEST_OBSERVER_MAX);
    observer[INGEST_OBSERVER_MAX] = '\0';
    char *body = xasprintf("{\"hash\":\"a\",\"observer\":\"%s\"," VALID_TAIL "}", observer);
    char *line = xmalloc(INGEST_LINE_MAX + 1);
    memset(line, ' ', INGEST_LINE_MAX);
    memcpy(line, body, strlen(body));
    line[INGEST_LINE_MAX] = '\0';
    struct ingest_obs obs = {0};
    char *err = NULL;
    assert_int_equal(ingest_parse_line(line, INGEST_LINE_MAX, &obs, &err), 0);
    assert_string_equal(obs.observer, observer);
    ingest_obs_clear(&obs);
    free(line);
    free(body);

    static const char *const edge[] = {
        "{\"hash\":\"a\",\"raw_hex\":\"00\",\"timestamp\":946684800}",
        "{\"hash\":\"a\",\"raw_hex\":\"00\",\"timestamp\":4102444800}",
        "{\"hash\":\"a\",\"payload_type\":0,\"snr\":-100,\"rssi\":20," VALID_TAIL "}",
        "{\"hash\":\"a\",\"payload_type\":255,\"snr\":100.0,\"rssi\":-200," VALID_TAIL "}",
        "{\"hash\":\"a\",\"path\":[]," VALID_TAIL "}",
        "{\"hash\":\"a\",\"observer\":\"\xc3\xa9t\xc3\xa9 \xf0\x9f\x93\xa1\"," VALID_TAIL "}",
        "  {\"hash\":\"a\"," VALID_TAIL "}  \r",
        "{\"hash\":\"a\",\"observer\":\"\\ud83d\\udce1 \\u00e9\\\"\",\"path\":[\"\\/\"]," VALID_TAIL "}",
    };
    for (size_t i = 0; i < sizeof edge / sizeof edge[0]; i++) {
        err = NULL;
        if (ingest_parse_line(edge[i], strlen(edge[i]), &obs, &err) != 0)
            fail_msg("edge case %zu rejected: %s", i, err);
        ingest_obs_clear(&obs);
    }
}

static void parse_accepts_a_full_observation(void **state)
{
    (void)state;
    const char *line = "{\"hash\":\"9f2c41aa\",\"raw_hex\":\"0A1b2C\",\"payload_type\":4,"
                       "\"observer\":\"roof-north\",\"snr\":-7.25,\"rssi\":-101,"
                       "\"path\":[\"a3\",\"7f/x\"],\"timestamp\":1760000123}";
    struct ingest_obs obs = {0};
    char *err = NULL;
    assert_int_equal(ingest_parse_line(line, strlen(line), &obs, &err), 0);
    assert_null(err);
    assert_string_equal(obs.hash, "9f2c41aa");
    assert_string_equal(obs.raw_hex, "0A1b2C");
    assert_true(obs.has_payload_type);
    assert_int_equal(obs.payload_type, 4);
    assert_string_equal(obs.observer, "roof-north");
    assert_true(obs.has_snr);
    assert_true(obs.snr == -7.25);
    assert_true(obs.has_rssi);
    assert_true(obs.rssi == -101.0);
    assert_string_equal(obs.path_json, "[\"a3\",\"7f/x\"]");
    assert_int_equal(obs.timestamp, 1760000123);
    ingest_obs_clear(&obs);
    assert_null(obs.hash);
}

static void parse_treats_null_and_absent_optionals_alike(void **state)
{
    (void)state;
    static const char *const lines[] = {
        "{\"hash\":\"h\"," VALID_TAIL "}",
        "{\"hash\":\"h\",\"payload_type\":null,\"observer\":null,\"snr\":null,\"rssi\":null,"
        "\"path\":null," VALID_TAIL "}",
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        struct ingest_obs obs = {0};
        char *err = NULL;
        assert_int_equal(ingest_parse_line(lines[i], strlen(lines[i]), &obs, &err), 0);
        assert_false(obs.has_payload_type);
        assert_null(obs.observer);
        assert_false(obs.has_snr);
        assert_false(obs.has_rssi);
        assert_null(obs.path_json);
        assert_int_equal(obs.timestamp, 1760000000);
        ingest_obs_clear(&obs);
    }
}

static void utf8_validator_table(void **state)
{
    (void)state;
    static const struct {
        const char *bytes;
        int valid;
    } cases[] = {
        {"", 1},
        {"ascii", 1},
        {"\xc3\xa9", 1},             /* é */
        {"\xe2\x82\xac", 1},         /* € */
        {"\xf0\x9f\x93\xa1", 1},     /* U+1F4E1 */
        {"\xf4\x8f\xbf\xbf", 1},     /* U+10FFFF */
        {"\x80", 0},                 /* lone continuation */
        {"\xc3", 0},                 /* truncated */
        {"\xc0\x80", 0},             /* overlong NUL */
        {"\xe0\x80\xaf", 0},         /* overlong */
        {"\xed\xbf\xbf", 0},         /* surrogate */
        {"\xf4\x90\x80\x80", 0},     /* > U+10FFFF */
        {"\xf8\x88\x80\x80\x80", 0}, /* five-byte form */
        {"\xfe", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int got = utf8_valid(cases[i].bytes, strlen(cases[i].bytes));
        if (got != cases[i].valid)
            fail_msg("case %zu: expected %d", i, cases[i].valid);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_rejects_invalid_lines_with_a_reason),
        cmocka_unit_test(parse_accepts_an_observer_status_line),
        cmocka_unit_test(parse_rejects_oversized_lines),
        cmocka_unit_test(parse_cap_ignores_a_trailing_carriage_return),
        cmocka_unit_test(parse_rejects_overlong_fields),
        cmocka_unit_test(parse_accepts_lines_at_the_limits),
        cmocka_unit_test(parse_accepts_a_full_observation),
        cmocka_unit_test(parse_treats_null_and_absent_optionals_alike),
        cmocka_unit_test(utf8_validator_table),
    };
    return cmocka_run_group_tests_name("ingest_parse", tests, NULL, NULL);
}
