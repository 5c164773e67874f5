/* message.c: the meshcoretomqtt message convention (docs/mqtt.md) into ingest lines; pure, no I/O. */
#include "message.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "packet_hash.h"
#include "utf8.h"
#include "util.h"

#define MESSAGE_JSON_DEPTH 8
#define MESSAGE_STATUS_MAX 4096
#define TIMESTAMP_MIN INT64_C(946684800)  /* 2000-01-01, as the worker's ingest */
#define TIMESTAMP_MAX INT64_C(4102444800) /* 2100-01-01 */

const char *const message_reasons[] = {
    "bad_topic", "too_large", "invalid_utf8", "not_json", "not_object", "no_raw", "bad_raw",
    "empty_raw", "odd_hex", "bad_hex", "bad_snr", "bad_rssi", "bad_origin", "bad_timestamp",
    "status_too_large", "empty_packet", "truncated_transport_codes", "truncated_path_length",
    "reserved_path_hash_size", "path_too_long", "truncated_path", "no_payload",
    "packet_too_long", NULL,
};

/* The worker's limits for an observer_status line (docs/ingest.md). */
#define STATUS_TEXT_MAX 128
#define STATUS_TS_MIN INT64_C(946684800)
#define STATUS_TS_MAX INT64_C(4102444800)

static int copy_level(const char *start, size_t len, char *dst)
{
    if (len < 1 || len > MESSAGE_ID_MAX || !utf8_printable(start, len) || memchr(start, '+', len) ||
        memchr(start, '#', len))
        return -1;
    memcpy(dst, start, len);
    dst[len] = '\0';
    return 0;
}

/* PREFIX/REGION/OBSERVER/{packets,status}, PREFIX one level or more: the kind, or -1 for another shape. */
static int parse_topic(const char *topic, struct message *out)
{
    const char *levels[64];
    size_t n = 0;
    const char *p = topic;
    levels[n++] = p;
    for (; *p; p++) {
        if (*p == '/') {
            if (n == 64)
                return -1;
            levels[n++] = p + 1;
        }
    }
    if (n < 4)
        return -1;
    const char *last = levels[n - 1];
    int kind;
    if (strcmp(last, "packets") == 0)
        kind = MESSAGE_PACKET;
    else if (strcmp(last, "status") == 0)
        kind = MESSAGE_STATUS;
    else
        return -1;
    if (copy_level(levels[n - 3], (size_t)(levels[n - 2] - levels[n - 3] - 1), out->region) ||
        copy_level(levels[n - 2], (size_t)(last - levels[n - 2] - 1), out->observer))
        return -1;
    return kind;
}

static int region_allowed(const char *const *regions, const char *region)
{
    if (regions == NULL || regions[0] == NULL)
        return 1;
    for (size_t i = 0; regions[i] != NULL; i++) {
        if (strcmp(regions[i], region) == 0)
            return 1;
    }
    return 0;
}

static struct json_object *parse_json(const char *text, size_t len)
{
    struct json_tokener *tok = json_tokener_new_ex(MESSAGE_JSON_DEPTH);
    if (tok == NULL)
        return NULL;
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    struct json_object *obj = json_tokener_parse_ex(tok, text, (int)len);
    if (obj != NULL) {
        size_t end = json_tokener_get_parse_end(tok);
        while (end < len && strchr(" \t\r\n", text[end]) != NULL)
            end++;
        if (json_tokener_get_error(tok) != json_tokener_success || end != len) {
            json_object_put(obj);
            obj = NULL;
        }
    }
    json_tokener_free(tok);
    return obj;
}

/*
 * A number, or a string holding one: meshcoretomqtt publishes SNR and RSSI
 * as the strings its serial regex captured ("SNR": "12"). Returns 1 when
 * present and valid, 0 when absent, -1 when present but not a number in range.
 */
static int number_field(struct json_object *obj, const char *upper, const char *lower,
                        double min, double max, double *out)
{
    struct json_object *v = NULL;
    if (!json_object_object_get_ex(obj, upper, &v) && !json_object_object_get_ex(obj, lower, &v))
        return 0;
    if (v == NULL)
        return 0;
    double d;
    if (json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double)) {
        d = json_object_get_double(v);
    } else if (json_object_is_type(v, json_type_string)) {
        const char *s = json_object_get_string(v);
        char *end = NULL;
        if (*s == '\0' || *s == ' ' || *s == '+')
            return -1;
        d = strtod(s, &end);
        if (*end != '\0')
            return -1;
    } else {
        return -1;
    }
    if (!isfinite(d) || d < min || d > max)
        return -1;
    *out = d;
    return 1;
}

/* ISO 8601 with a zone (Z or +-HH:MM): 1 with *out; 0 zoneless (local time of an unknown zone); -1 bad. */
static int parse_iso(const char *s, int64_t *out)
{
    struct tm tm = {0};
    const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (p == NULL)
        return -1;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return -1;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    int64_t offset = 0;
    if (*p == '\0')
        return 0;
    if (strcmp(p, "Z") != 0) {
        int hh, mm;
        char sign = *p;
        if ((sign != '+' && sign != '-') || strlen(p) != 6 || p[3] != ':' ||
            sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2 || hh > 23 || mm > 59)
            return -1;
        offset = (sign == '+' ? 1 : -1) * (hh * 3600 + mm * 60);
    }
    *out = (int64_t)timegm(&tm) - offset;
    return 1;
}

static int timestamp_field(struct json_object *obj, int64_t receipt, int64_t *out)
{
    struct json_object *v = NULL;
    *out = receipt;
    if (!json_object_object_get_ex(obj, "timestamp", &v) || v == NULL)
        return 0;
    if (json_object_is_type(v, json_type_int)) {
        *out = json_object_get_int64(v);
    } else if (json_object_is_type(v, json_type_double)) {
        double d = json_object_get_double(v);
        if (!isfinite(d) || d < 0 || d > 1e10)
            return -1;
        *out = (int64_t)d;
    } else if (json_object_is_type(v, json_type_string)) {
        int rc = parse_iso(json_object_get_string(v), out);
        if (rc < 0)
            return -1;
        if (rc == 0)
            *out = receipt;
    } else {
        return -1;
    }
    return *out >= TIMESTAMP_MIN && *out < TIMESTAMP_MAX ? 0 : -1;
}

static const char *raw_field(struct json_object *obj, uint8_t *bytes, long *n, char *hex_lower)
{
    struct json_object *v = NULL;
    if (!json_object_object_get_ex(obj, "raw", &v) || v == NULL)
        return "no_raw";
    if (!json_object_is_type(v, json_type_string))
        return "bad_raw";
    const char *hex = json_object_get_string(v);
    size_t len = (size_t)json_object_get_string_len(v);
    if (len == 0)
        return "empty_raw";
    if (len % 2 != 0)
        return "odd_hex";
    if (len / 2 > PACKET_MAX_RAW)
        return "packet_too_long";
    *n = packet_from_hex(hex, len, bytes, PACKET_MAX_RAW);
    if (*n < 0)
        return "bad_hex";
    for (size_t i = 0; i < len; i++)
        hex_lower[i] = (char)(hex[i] >= 'A' && hex[i] <= 'F' ? hex[i] + 32 : hex[i]);
    hex_lower[len] = '\0';
    return NULL;
}

static struct json_object *path_json(const struct packet *p)
{
    static const char digits[] = "0123456789abcdef";
    struct json_object *arr = json_object_new_array();
    for (unsigned h = 0; h < p->hops; h++) {
        char hop[7];
        for (unsigned b = 0; b < p->hash_size; b++) {
            uint8_t v = p->path[h * p->hash_size + b];
            hop[2 * b] = digits[v >> 4];
            hop[2 * b + 1] = digits[v & 0x0f];
        }
        hop[2 * p->hash_size] = '\0';
        json_object_array_add(arr, json_object_new_string(hop));
    }
    return arr;
}

/* A string member that is 1..128 bytes of printable text, else NULL; "unknown" counts as absent. */
static const char *status_text(struct json_object *obj, const char *name)
{
    struct json_object *v = NULL;
    if (!json_object_object_get_ex(obj, name, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    const char *s = json_object_get_string(v);
    size_t len = (size_t)json_object_get_string_len(v);
    if (len < 1 || len > STATUS_TEXT_MAX || !utf8_printable(s, len) || strcmp(s, "unknown") == 0)
        return NULL;
    return s;
}

static const char *packet_line(struct json_object *obj, int64_t receipt, struct message *out)
{
    uint8_t bytes[PACKET_MAX_RAW];
    char hex[2 * PACKET_MAX_RAW + 1];
    long n = 0;
    const char *reason = raw_field(obj, bytes, &n, hex);
    if (reason != NULL)
        return reason;
    struct packet p;
    enum packet_error perr = packet_decode(bytes, (size_t)n, &p);
    if (perr != PACKET_OK)
        return packet_error_name(perr);
    double snr = 0, rssi = 0;
    int has_snr = number_field(obj, "SNR", "snr", -100, 100, &snr);
    if (has_snr < 0)
        return "bad_snr";
    int has_rssi = number_field(obj, "RSSI", "rssi", -200, 20, &rssi);
    if (has_rssi < 0)
        return "bad_rssi";
    struct json_object *origin = NULL;
    if (json_object_object_get_ex(obj, "origin", &origin) && origin != NULL &&
        (!json_object_is_type(origin, json_type_string) ||
         !utf8_printable(json_object_get_string(origin), (size_t)json_object_get_string_len(origin))))
        return "bad_origin";
    int64_t ts;
    if (timestamp_field(obj, receipt, &ts) != 0)
        return "bad_timestamp";

    packet_hash(&p, out->hash);
    struct json_object *line = json_object_new_object();
    json_object_object_add(line, "hash", json_object_new_string(out->hash));
    json_object_object_add(line, "raw_hex", json_object_new_string(hex));
    json_object_object_add(line, "payload_type", json_object_new_int((int)p.payload_type));
    json_object_object_add(line, "observer", json_object_new_string(out->observer));
    if (has_snr)
        json_object_object_add(line, "snr", json_object_new_double(snr));
    if (has_rssi)
        json_object_object_add(line, "rssi", json_object_new_double(rssi));
    json_object_object_add(line, "path", path_json(&p));
    json_object_object_add(line, "timestamp", json_object_new_int64(ts));
    /* The observer's name and region, for the observers table. */
    const char *name = status_text(obj, "origin");
    if (name != NULL)
        json_object_object_add(line, "observer_name", json_object_new_string(name));
    if (out->region[0] != '\0')
        json_object_object_add(line, "region", json_object_new_string(out->region));
    out->line = xstrdup(json_object_to_json_string_ext(
        line, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(line);
    return NULL;
}

/* Adds stats.NAME as `field` when it is an integer (a number for noise_floor) within range. */
static void status_stat(struct json_object *stats, const char *name, struct json_object *line,
                        const char *field, double min, double max, int integer)
{
    struct json_object *v = NULL;
    if (stats == NULL || !json_object_object_get_ex(stats, name, &v))
        return;
    if (!json_object_is_type(v, json_type_int) &&
        (integer || !json_object_is_type(v, json_type_double)))
        return;
    double d = json_object_get_double(v);
    if (!(d >= min && d <= max))
        return;
    json_object_object_add(line, field, integer ? json_object_new_int64(json_object_get_int64(v))
                                                : json_object_new_double(d));
}

/*
 * The ingest line of a status message (docs/ingest.md, kind observer_status),
 * from meshcoretomqtt's fields: origin, model, firmware_version and
 * stats.{battery_mv, uptime_secs, noise_floor}. What is missing or out of
 * range is left out rather than refusing the status.
 */
static char *status_line(struct json_object *obj, int64_t receipt, const struct message *m)
{
    int64_t ts;
    if (timestamp_field(obj, receipt, &ts) != 0 || ts < STATUS_TS_MIN || ts > STATUS_TS_MAX)
        ts = receipt;
    struct json_object *line = json_object_new_object();
    json_object_object_add(line, "kind", json_object_new_string("observer_status"));
    json_object_object_add(line, "observer", json_object_new_string(m->observer));
    json_object_object_add(line, "timestamp", json_object_new_int64(ts));
    if (m->region[0] != '\0')
        json_object_object_add(line, "region", json_object_new_string(m->region));
    static const char *const texts[][2] = {
        {"origin", "observer_name"}, {"model", "model"}, {"firmware_version", "firmware"}};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        const char *v = status_text(obj, texts[i][0]);
        if (v != NULL)
            json_object_object_add(line, texts[i][1], json_object_new_string(v));
    }
    struct json_object *stats = NULL;
    if (!json_object_object_get_ex(obj, "stats", &stats) ||
        !json_object_is_type(stats, json_type_object))
        stats = NULL;
    status_stat(stats, "battery_mv", line, "battery_mv", 0, 100000, 1);
    status_stat(stats, "uptime_secs", line, "uptime_s", 0, 3153600000.0, 1);
    status_stat(stats, "noise_floor", line, "noise_floor", -200, 20, 0);
    char *text = xstrdup(json_object_to_json_string_ext(
        line, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(line);
    return text;
}

static void set_bad(struct message *out, const char *reason)
{
    out->kind = MESSAGE_BAD;
    out->reason = reason;
}

void message_parse(const char *topic, const void *payload, size_t len,
                   const char *const *regions, int64_t receipt_unix, struct message *out)
{
    memset(out, 0, sizeof *out);
    int kind = parse_topic(topic, out);
    if (kind < 0)
        return set_bad(out, "bad_topic");
    if (!region_allowed(regions, out->region)) {
        out->kind = MESSAGE_FILTERED;
        return;
    }
    if (len > MESSAGE_PAYLOAD_MAX)
        return set_bad(out, "too_large");
    if (!utf8_valid(payload, len))
        return set_bad(out, "invalid_utf8");
    if (memchr(payload, '\0', len) != NULL)
        return set_bad(out, "not_json");
    struct json_object *obj = parse_json(payload, len);
    if (obj == NULL)
        return set_bad(out, "not_json");
    if (!json_object_is_type(obj, json_type_object)) {
        json_object_put(obj);
        return set_bad(out, "not_object");
    }
    if (kind == MESSAGE_STATUS) {
        const char *s = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN |
                                                                JSON_C_TO_STRING_NOSLASHESCAPE);
        if (strlen(s) > MESSAGE_STATUS_MAX) {
            set_bad(out, "status_too_large");
        } else {
            out->kind = MESSAGE_STATUS;
            out->status = xstrdup(s);
            out->line = status_line(obj, receipt_unix, out);
        }
        json_object_put(obj);
        return;
    }
    const char *reason = packet_line(obj, receipt_unix, out);
    json_object_put(obj);
    if (reason != NULL)
        return set_bad(out, reason);
    out->kind = MESSAGE_PACKET;
}

void message_clear(struct message *m)
{
    free(m->line);
    free(m->status);
    memset(m, 0, sizeof *m);
}
