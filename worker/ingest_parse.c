/* ingest_parse.c: validates one ingest line into an observation; pure, no I/O (docs/ingest.md). */
#include "ingest.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "utf8.h"
#include "util.h"

/* A line is an object holding at most a path array: depth 2; allow one spare. */
#define INGEST_JSON_DEPTH 3

/*
 * json-c accepts more than RFC 8259 even with JSON_TOKENER_STRICT (NaN,
 * Infinity, single-quoted strings) and silently replaces a lone \ud800 with
 * U+FFFD. This scanner checks the strict grammar first so that such lines are
 * refused rather than stored altered; json-c then only builds the values.
 */
struct json_scan {
    const unsigned char *start;
    const unsigned char *p;
    const unsigned char *end;
    int depth;
    int top_keys; /* member count of the outermost object, to detect duplicate keys */
    const char *error;
};

static int scan_fail(struct json_scan *s, const char *what)
{
    s->error = what;
    return -1;
}

static void scan_ws(struct json_scan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static int scan_literal(struct json_scan *s, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
        return scan_fail(s, "unexpected character");
    s->p += n;
    return 0;
}

static int scan_hex4(struct json_scan *s, unsigned *code)
{
    if (s->end - s->p < 4)
        return scan_fail(s, "truncated \\u escape");
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int digit = hex_digit_value(s->p[i]);
        if (digit < 0)
            return scan_fail(s, "bad \\u escape");
        v = v << 4 | (unsigned)digit;
    }
    s->p += 4;
    *code = v;
    return 0;
}

static int scan_string(struct json_scan *s)
{
    s->p++; /* opening quote */
    while (s->p < s->end) {
        unsigned char c = *s->p;
        if (c == '"') {
            s->p++;
            return 0;
        }
        if (c < 0x20)
            return scan_fail(s, "control character in string");
        if (c != '\\') {
            s->p++;
            continue;
        }
        s->p++;
        if (s->p >= s->end)
            return scan_fail(s, "unterminated string");
        c = *s->p++;
        if (strchr("\"\\/bfnrt", c) != NULL && c != '\0')
            continue;
        if (c != 'u')
            return scan_fail(s, "bad escape in string");
        unsigned code;
        if (scan_hex4(s, &code) != 0)
            return -1;
        /* json-c ends member names at U+0000, so "timestamp\u0000zz" would pass
         * as "timestamp"; no field of the protocol may hold a NUL either. */
        if (code == 0)
            return scan_fail(s, "escaped NUL (\\u0000) in string");
        if (code >= 0xdc00 && code <= 0xdfff)
            return scan_fail(s, "lone UTF-16 surrogate escape");
        if (code >= 0xd800 && code <= 0xdbff) {
            unsigned low;
            if (s->end - s->p < 2 || s->p[0] != '\\' || s->p[1] != 'u')
                return scan_fail(s, "lone UTF-16 surrogate escape");
            s->p += 2;
            if (scan_hex4(s, &low) != 0)
                return -1;
            if (low < 0xdc00 || low > 0xdfff)
                return scan_fail(s, "lone UTF-16 surrogate escape");
        }
    }
    return scan_fail(s, "unterminated string");
}

static int scan_digits(struct json_scan *s)
{
    if (s->p >= s->end || *s->p < '0' || *s->p > '9')
        return scan_fail(s, "malformed number");
    while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
        s->p++;
    return 0;
}

static int scan_number(struct json_scan *s)
{
    if (*s->p == '-')
        s->p++;
    if (s->p < s->end && *s->p == '0') {
        s->p++;
        if (s->p < s->end && *s->p >= '0' && *s->p <= '9')
            return scan_fail(s, "leading zero in number");
    } else if (scan_digits(s) != 0) {
        return -1;
    }
    if (s->p < s->end && *s->p == '.') {
        s->p++;
        if (scan_digits(s) != 0)
            return -1;
    }
    if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
        s->p++;
        if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
            s->p++;
        if (scan_digits(s) != 0)
            return -1;
    }
    return 0;
}

static int scan_value(struct json_scan *s);

static int scan_container(struct json_scan *s, int is_object)
{
    if (++s->depth > INGEST_JSON_DEPTH)
        return scan_fail(s, "nesting too deep");
    int outermost = is_object && s->depth == 1;
    unsigned char close = is_object ? '}' : ']';
    s->p++;
    scan_ws(s);
    if (s->p < s->end && *s->p == close) {
        s->p++;
        s->depth--;
        return 0;
    }
    for (;;) {
        if (is_object) {
            if (s->p >= s->end || *s->p != '"')
                return scan_fail(s, "expected a member name");
            if (scan_string(s) != 0)
                return -1;
            scan_ws(s);
            if (s->p >= s->end || *s->p != ':')
                return scan_fail(s, "expected ':'");
            s->p++;
            scan_ws(s);
            if (outermost)
                s->top_keys++;
        }
        if (scan_value(s) != 0)
            return -1;
        scan_ws(s);
        if (s->p < s->end && *s->p == ',') {
            s->p++;
            scan_ws(s);
            continue;
        }
        if (s->p < s->end && *s->p == close) {
            s->p++;
            s->depth--;
            return 0;
        }
        return scan_fail(s, is_object ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static int scan_value(struct json_scan *s)
{
    if (s->p >= s->end)
        return scan_fail(s, "unexpected end of line");
    switch (*s->p) {
    case '{':
        return scan_container(s, 1);
    case '[':
        return scan_container(s, 0);
    case '"':
        return scan_string(s);
    case 't':
        return scan_literal(s, "true");
    case 'f':
        return scan_literal(s, "false");
    case 'n':
        return scan_literal(s, "null");
    default:
        if (*s->p == '-' || (*s->p >= '0' && *s->p <= '9'))
            return scan_number(s);
        return scan_fail(s, "unexpected character");
    }
}

/* Checks the strict grammar; on failure *errp says what and at which byte. */
static int scan_document(const unsigned char *line, size_t len, int *top_keys, char **errp)
{
    struct json_scan s = {.start = line, .p = line, .end = line + len};
    scan_ws(&s);
    if (scan_value(&s) == 0) {
        scan_ws(&s);
        if (s.p == s.end) {
            *top_keys = s.top_keys;
            return 0;
        }
        s.error = "trailing characters after the value";
    }
    return set_error(errp, "invalid JSON at byte %zu: %s", (size_t)(s.p - s.start), s.error);
}

/* Field validators: each checks one present, non-null member and fills `out`. */

static int string_value(struct json_object *v, const char *name, const char **str, size_t *len,
                        char **errp)
{
    if (!json_object_is_type(v, json_type_string))
        return set_error(errp, "field \"%s\": expected a string", name);
    *str = json_object_get_string(v);
    *len = (size_t)json_object_get_string_len(v);
    return 0;
}

static int field_hash(struct json_object *v, struct ingest_obs *out, char **errp)
{
    const char *s = NULL;
    size_t len = 0;
    if (string_value(v, "hash", &s, &len, errp) != 0)
        return -1;
    int ok = len >= 1 && len <= INGEST_HASH_MAX;
    for (size_t i = 0; ok && i < len; i++)
        ok = s[i] > 0x20 && s[i] < 0x7f;
    if (!ok)
        return set_error(errp, "field \"hash\": expected 1-%d printable ASCII characters "
                               "without spaces", INGEST_HASH_MAX);
    out->hash = xstrdup(s);
    return 0;
}

static int field_raw_hex(struct json_object *v, struct ingest_obs *out, char **errp)
{
    const char *s = NULL;
    size_t len = 0;
    if (string_value(v, "raw_hex", &s, &len, errp) != 0)
        return -1;
    if (len == 0)
        return set_error(errp, "field \"raw_hex\": empty");
    if (len > INGEST_RAW_HEX_MAX)
        return set_error(errp, "field \"raw_hex\": longer than %d hex digits", INGEST_RAW_HEX_MAX);
    for (size_t i = 0; i < len; i++) {
        if (hex_digit_value(s[i]) < 0)
            return set_error(errp, "field \"raw_hex\": not a hex digit at position %zu", i);
    }
    if (len % 2 != 0)
        return set_error(errp, "field \"raw_hex\": odd number of hex digits");
    out->raw_hex = xstrdup(s);
    return 0;
}

static int integer_value(struct json_object *v, const char *name, int64_t min, int64_t max,
                         int64_t *out, char **errp)
{
    if (!json_object_is_type(v, json_type_int))
        return set_error(errp, "field \"%s\": expected an integer", name);
    /* json-c saturates integers beyond int64 to INT64_MIN/MAX; both are out of range here. */
    int64_t n = json_object_get_int64(v);
    if (n < min || n > max)
        return set_error(errp, "field \"%s\": out of range [%lld, %lld]", name, (long long)min,
                         (long long)max);
    *out = n;
    return 0;
}

static int number_value(struct json_object *v, const char *name, double min, double max,
                        double *out, char **errp)
{
    if (!json_object_is_type(v, json_type_double) && !json_object_is_type(v, json_type_int))
        return set_error(errp, "field \"%s\": expected a number", name);
    double d = json_object_get_double(v);
    if (!isfinite(d))
        return set_error(errp, "field \"%s\": expected a finite number", name);
    if (d < min || d > max)
        return set_error(errp, "field \"%s\": out of range [%g, %g]", name, min, max);
    *out = d;
    return 0;
}

static int field_payload_type(struct json_object *v, struct ingest_obs *out, char **errp)
{
    if (integer_value(v, "payload_type", 0, INGEST_PAYLOAD_TYPE_MAX, &out->payload_type, errp))
        return -1;
    out->has_payload_type = 1;
    return 0;
}

static int field_observer(struct json_object *v, struct ingest_obs *out, char **errp)
{
    const char *s = NULL;
    size_t len = 0;
    if (string_value(v, "observer", &s, &len, errp) != 0)
        return -1;
    if (len < 1 || len > INGEST_OBSERVER_MAX || !utf8_printable(s, len))
        return set_error(errp, "field \"observer\": expected 1-%d bytes of printable UTF-8",
                         INGEST_OBSERVER_MAX);
    out->observer = xstrdup(s);
    return 0;
}

static int field_snr(struct json_object *v, struct ingest_obs *out, char **errp)
{
    if (number_value(v, "snr", INGEST_SNR_MIN, INGEST_SNR_MAX, &out->snr, errp) != 0)
        return -1;
    out->has_snr = 1;
    return 0;
}

static int field_rssi(struct json_object *v, struct ingest_obs *out, char **errp)
{
    if (number_value(v, "rssi", INGEST_RSSI_MIN, INGEST_RSSI_MAX, &out->rssi, errp) != 0)
        return -1;
    out->has_rssi = 1;
    return 0;
}

static int field_path(struct json_object *v, struct ingest_obs *out, char **errp)
{
    if (!json_object_is_type(v, json_type_array))
        return set_error(errp, "field \"path\": expected an array of strings");
    size_t n = json_object_array_length(v);
    if (n > INGEST_PATH_HOPS_MAX)
        return set_error(errp, "field \"path\": more than %d hops", INGEST_PATH_HOPS_MAX);
    for (size_t i = 0; i < n; i++) {
        struct json_object *hop = json_object_array_get_idx(v, i);
        if (!json_object_is_type(hop, json_type_string))
            return set_error(errp, "field \"path\": expected an array of strings");
        const char *s = json_object_get_string(hop);
        size_t len = (size_t)json_object_get_string_len(hop);
        if (len < 1 || len > INGEST_PATH_HOP_MAX || !utf8_printable(s, len))
            return set_error(errp, "field \"path\": hop %zu must be 1-%d bytes of printable "
                                   "UTF-8", i, INGEST_PATH_HOP_MAX);
    }
    /* Re-encoded rather than copied, so the stored text is canonical JSON. */
    out->path_json = xstrdup(json_object_to_json_string_ext(
        v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    return 0;
}

static int field_timestamp(struct json_object *v, struct ingest_obs *out, char **errp)
{
    return integer_value(v, "timestamp", INGEST_TIMESTAMP_MIN, INGEST_TIMESTAMP_MAX,
                         &out->timestamp, errp);
}

/* 1..INGEST_TEXT_MAX bytes of printable UTF-8, into *dst. */
static int text_field(struct json_object *v, const char *name, char **dst, char **errp)
{
    const char *s = NULL;
    size_t len = 0;
    if (string_value(v, name, &s, &len, errp) != 0)
        return -1;
    if (len < 1 || len > INGEST_TEXT_MAX || !utf8_printable(s, len))
        return set_error(errp, "field \"%s\": expected 1-%d bytes of printable UTF-8", name,
                         INGEST_TEXT_MAX);
    *dst = xstrdup(s);
    return 0;
}

static int field_observer_name(struct json_object *v, struct ingest_obs *out, char **errp)
{
    return text_field(v, "observer_name", &out->observer_name, errp);
}

static int field_region(struct json_object *v, struct ingest_obs *out, char **errp)
{
    return text_field(v, "region", &out->region, errp);
}

static int field_model(struct json_object *v, struct ingest_obs *out, char **errp)
{
    return text_field(v, "model", &out->model, errp);
}

static int field_firmware(struct json_object *v, struct ingest_obs *out, char **errp)
{
    return text_field(v, "firmware", &out->firmware, errp);
}

static int field_battery_mv(struct json_object *v, struct ingest_obs *out, char **errp)
{
    if (integer_value(v, "battery_mv", 0, INGEST_BATTERY_MV_MAX, &out->battery_mv, errp) != 0)
        return -1;
    out->has_battery_mv = 1;
    return 0;
}

static int field_uptime_s(struct json_object *v, struct ingest_obs *out, char **errp)
{
    if (integer_value(v, "uptime_s", 0, INGEST_UPTIME_S_MAX, &out->uptime_s, errp) != 0)
        return -1;
    out->has_uptime_s = 1;
    return 0;
}

static int field_noise_floor(struct json_object *v, struct ingest_obs *out, char **errp)
{
    if (number_value(v, "noise_floor", INGEST_NOISE_FLOOR_MIN, INGEST_NOISE_FLOOR_MAX,
                     &out->noise_floor, errp) != 0)
        return -1;
    out->has_noise_floor = 1;
    return 0;
}

/* "kind" itself is checked before the fields; here it only needs to be known. */
static int field_kind(struct json_object *v, struct ingest_obs *out, char **errp)
{
    (void)v;
    (void)out;
    (void)errp;
    return 0;
}

struct ingest_field {
    const char *name;
    int required;
    int (*validate)(struct json_object *v, struct ingest_obs *out, char **errp);
};

/* The fields of each kind of line, validated in this order; null counts as absent. */
static const struct ingest_field observation_fields[] = {
    {"kind", 0, field_kind},
    {"hash", 1, field_hash},
    {"raw_hex", 1, field_raw_hex},
    {"timestamp", 1, field_timestamp},
    {"payload_type", 0, field_payload_type},
    {"observer", 0, field_observer},
    {"snr", 0, field_snr},
    {"rssi", 0, field_rssi},
    {"path", 0, field_path},
    {"observer_name", 0, field_observer_name},
    {"region", 0, field_region},
    {NULL, 0, NULL},
};

static const struct ingest_field status_fields[] = {
    {"kind", 1, field_kind},
    {"observer", 1, field_observer},
    {"timestamp", 1, field_timestamp},
    {"observer_name", 0, field_observer_name},
    {"region", 0, field_region},
    {"model", 0, field_model},
    {"firmware", 0, field_firmware},
    {"battery_mv", 0, field_battery_mv},
    {"uptime_s", 0, field_uptime_s},
    {"noise_floor", 0, field_noise_floor},
    {NULL, 0, NULL},
};

static int known_field(const struct ingest_field *fields, const char *name)
{
    for (size_t i = 0; fields[i].name != NULL; i++) {
        if (strcmp(fields[i].name, name) == 0)
            return 1;
    }
    return 0;
}

/* Names a rejected member only when it is short plain ASCII, so replies never carry raw input. */
static int unknown_field_error(const char *name, char **errp)
{
    size_t len = strlen(name);
    int printable = len >= 1 && len <= 32;
    for (size_t i = 0; printable && i < len; i++)
        printable = name[i] >= 0x20 && name[i] < 0x7f && name[i] != '"' && name[i] != '\\';
    if (printable)
        return set_error(errp, "unknown field \"%s\"", name);
    return set_error(errp, "unknown field (name not shown)");
}

/* Picks the kind's field table from "kind": absent or null is an observation. */
static int line_kind(struct json_object *obj, struct ingest_obs *out,
                     const struct ingest_field **fields, char **errp)
{
    struct json_object *v = NULL;
    out->kind = INGEST_KIND_OBSERVATION;
    *fields = observation_fields;
    if (!json_object_object_get_ex(obj, "kind", &v) || json_object_is_type(v, json_type_null))
        return 0;
    if (!json_object_is_type(v, json_type_string))
        return set_error(errp, "field \"kind\": expected a string");
    const char *kind = json_object_get_string(v);
    if (strcmp(kind, "observation") == 0)
        return 0;
    if (strcmp(kind, "observer_status") == 0) {
        out->kind = INGEST_KIND_OBSERVER_STATUS;
        *fields = status_fields;
        return 0;
    }
    return set_error(errp, "field \"kind\": expected \"observation\" or \"observer_status\"");
}

static int validate_object(struct json_object *obj, struct ingest_obs *out, char **errp)
{
    const struct ingest_field *fields = NULL;
    if (line_kind(obj, out, &fields, errp) != 0)
        return -1;
    json_object_object_foreach(obj, key, unused)
    {
        (void)unused;
        if (!known_field(fields, key))
            return unknown_field_error(key, errp);
    }
    for (size_t i = 0; fields[i].name != NULL; i++) {
        struct json_object *v = NULL;
        if (!json_object_object_get_ex(obj, fields[i].name, &v) ||
            json_object_is_type(v, json_type_null)) {
            if (fields[i].required)
                return set_error(errp, "missing field \"%s\"", fields[i].name);
            continue;
        }
        if (fields[i].validate(v, out, errp) != 0)
            return -1;
    }
    return 0;
}

int ingest_parse_line(const char *line, size_t len, struct ingest_obs *out, char **errp)
{
    memset(out, 0, sizeof *out);
    /* The '\r' of a CRLF line is not part of it, so it does not count towards the cap. */
    if (len > 0 && line[len - 1] == '\r')
        len--;
    if (len > INGEST_LINE_MAX)
        return set_error(errp, "line too long (more than %d bytes)", INGEST_LINE_MAX);
    size_t first = 0;
    while (first < len && (line[first] == ' ' || line[first] == '\t' || line[first] == '\r'))
        first++;
    if (first == len)
        return set_error(errp, "empty line");
    const char *nul = memchr(line, '\0', len);
    if (nul != NULL)
        return set_error(errp, "line contains a NUL byte at byte %zu", (size_t)(nul - line));
    if (!utf8_valid(line, len))
        return set_error(errp, "line is not valid UTF-8");
    int top_keys = 0;
    if (scan_document((const unsigned char *)line, len, &top_keys, errp) != 0)
        return -1;
    if (line[first] != '{')
        return set_error(errp, "expected a JSON object");

    struct json_tokener *tok = json_tokener_new_ex(INGEST_JSON_DEPTH + 1);
    if (tok == NULL)
        return set_error(errp, "out of memory");
    struct json_object *obj = json_tokener_parse_ex(tok, line, (int)len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    json_tokener_free(tok);
    int rc = -1;
    if (obj == NULL) {
        /* The scanner accepted it, so this is json-c's own limit. */
        set_error(errp, "invalid JSON: %s", json_tokener_error_desc(jerr));
    } else if ((int)json_object_object_length(obj) != top_keys) {
        set_error(errp, "duplicate field");
    } else {
        rc = validate_object(obj, out, errp);
    }
    json_object_put(obj);
    if (rc != 0)
        ingest_obs_clear(out);
    return rc;
}

void ingest_obs_clear(struct ingest_obs *obs)
{
    free(obs->hash);
    free(obs->raw_hex);
    free(obs->observer);
    free(obs->path_json);
    free(obs->observer_name);
    free(obs->region);
    free(obs->model);
    free(obs->firmware);
    memset(obs, 0, sizeof *obs);
}
