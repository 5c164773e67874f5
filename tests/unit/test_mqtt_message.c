/* test_mqtt_message.c: meshcoretomqtt messages into ingest lines, and the reasons bad ones are refused for. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "message.h"
#include "mqtt_config.h"
#include "util.h"

#define TXT "09046F17C47ED00A13E16AB5B94B1CC2D1A5059C6E5A6253C60D"
#define TOPIC "meshcore/SEA/OBS1/packets"
#define RECEIPT 1760000000

struct msg_case {
    const char *name, *topic, *payload;
    enum message_kind kind;
    const char *reason;
};

static const struct msg_case cases[] = {
    {"meshcoretomqtt's own shape", TOPIC,
     "{\"origin\":\"Rpt\",\"origin_id\":\"OBS1\",\"timestamp\":\"2025-09-21T12:00:00\","
     "\"type\":\"PACKET\",\"direction\":\"rx\",\"raw\":\"" TXT "\",\"SNR\":\"12\",\"RSSI\":\"-60\","
     "\"hash\":\"ABCD\"}",
     MESSAGE_PACKET, NULL},
    {"numbers as numbers", TOPIC, "{\"raw\":\"" TXT "\",\"snr\":-7.5,\"rssi\":-101}", MESSAGE_PACKET,
     NULL},
    {"status", "meshcore/SEA/OBS1/status", "{\"model\":\"Heltec V3\",\"firmware_version\":\"1.9\"}",
     MESSAGE_STATUS, NULL},
    {"not JSON", TOPIC, "hello", MESSAGE_BAD, "not_json"},
    {"truncated JSON", TOPIC, "{\"raw\":\"" TXT "\"", MESSAGE_BAD, "not_json"},
    {"JSON array", TOPIC, "[1,2]", MESSAGE_BAD, "not_object"},
    {"no raw", TOPIC, "{\"SNR\":1}", MESSAGE_BAD, "no_raw"},
    {"raw not a string", TOPIC, "{\"raw\":12}", MESSAGE_BAD, "bad_raw"},
    {"raw empty", TOPIC, "{\"raw\":\"\"}", MESSAGE_BAD, "empty_raw"},
    {"odd-length raw", TOPIC, "{\"raw\":\"0904A\"}", MESSAGE_BAD, "odd_hex"},
    {"non-hex raw", TOPIC, "{\"raw\":\"0904ZZ\"}", MESSAGE_BAD, "bad_hex"},
    {"path longer than the packet", TOPIC, "{\"raw\":\"09046F17\"}", MESSAGE_BAD,
     "truncated_path"},
    {"header only", TOPIC, "{\"raw\":\"05\"}", MESSAGE_BAD, "truncated_path_length"},
    {"invalid UTF-8 in origin", TOPIC, "{\"origin\":\"\xff\xfe\",\"raw\":\"" TXT "\"}", MESSAGE_BAD,
     "invalid_utf8"},
    {"control character in origin", TOPIC, "{\"origin\":\"a\\u0001b\",\"raw\":\"" TXT "\"}",
     MESSAGE_BAD, "bad_origin"},
    {"SNR a word", TOPIC, "{\"raw\":\"" TXT "\",\"SNR\":\"loud\"}", MESSAGE_BAD, "bad_snr"},
    {"SNR an object", TOPIC, "{\"raw\":\"" TXT "\",\"SNR\":{}}", MESSAGE_BAD, "bad_snr"},
    {"RSSI out of range", TOPIC, "{\"raw\":\"" TXT "\",\"RSSI\":\"500\"}", MESSAGE_BAD, "bad_rssi"},
    {"timestamp garbage", TOPIC, "{\"raw\":\"" TXT "\",\"timestamp\":\"yesterday\"}", MESSAGE_BAD,
     "bad_timestamp"},
    {"topic without a region", "meshcore/SEA/packets", "{\"raw\":\"" TXT "\"}", MESSAGE_BAD,
     "bad_topic"},
    {"topic too short", "meshcore/packets", "{\"raw\":\"" TXT "\"}", MESSAGE_BAD, "bad_topic"},
    {"topic of another kind", "meshcore/SEA/OBS1/debug", "{}", MESSAGE_BAD, "bad_topic"},
    {"empty observer level", "meshcore/SEA//packets", "{\"raw\":\"" TXT "\"}", MESSAGE_BAD,
     "bad_topic"},
    {"region not allowed", "meshcore/LAX/OBS1/packets", "{\"raw\":\"" TXT "\"}", MESSAGE_FILTERED,
     NULL},
};

static const char *const regions[] = {"SEA", "PDX", NULL};

static void classifies_messages_by_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct message m;
        message_parse(cases[i].topic, cases[i].payload, strlen(cases[i].payload), regions,
                      RECEIPT, &m);
        if (m.kind != cases[i].kind || (cases[i].reason && strcmp(m.reason, cases[i].reason)))
            fail_msg("%s: kind %d reason %s", cases[i].name, (int)m.kind,
                     m.reason ? m.reason : "-");
        message_clear(&m);
    }
}

static void a_good_message_becomes_the_ingest_line(void **state)
{
    (void)state;
    const char *payload = "{\"raw\":\"" TXT "\",\"SNR\":\"12.5\",\"RSSI\":-60,"
                          "\"timestamp\":\"2025-09-21T12:00:00Z\"}";
    struct message m;
    message_parse(TOPIC, payload, strlen(payload), NULL, RECEIPT, &m);
    assert_int_equal(m.kind, MESSAGE_PACKET);
    assert_string_equal(m.line,
                        "{\"hash\":\"ed5d121dc09272c4\",\"raw_hex\":\"" "09046f17c47ed00a13e16ab5b94b1cc2d1a5059c6e5a6253c60d"
                        "\",\"payload_type\":2,\"observer\":\"OBS1\",\"snr\":12.5,\"rssi\":-60.0,"
                        "\"path\":[\"6f\",\"17\",\"c4\",\"7e\"],\"timestamp\":1758456000,"
                        "\"region\":\"SEA\"}");
    message_clear(&m);
}

/* A status message also becomes an observer_status ingest line; odd fields are left out. */
static void a_status_message_becomes_an_observer_status_line(void **state)
{
    (void)state;
    const char *payload = "{\"status\":\"online\",\"origin\":\"Roof\",\"model\":\"unknown\","
                          "\"firmware_version\":\"v1.9.0\",\"timestamp\":\"2025-09-21T12:00:00Z\","
                          "\"stats\":{\"battery_mv\":4100,\"uptime_secs\":-5,\"noise_floor\":-112}}";
    struct message m;
    message_parse("meshcore/SEA/OBS1/status", payload, strlen(payload), NULL, RECEIPT, &m);
    assert_int_equal(m.kind, MESSAGE_STATUS);
    assert_string_equal(m.line,
                        "{\"kind\":\"observer_status\",\"observer\":\"OBS1\",\"timestamp\":1758456000,"
                        "\"region\":\"SEA\",\"observer_name\":\"Roof\",\"firmware\":\"v1.9.0\","
                        "\"battery_mv\":4100,\"noise_floor\":-112.0}");
    message_clear(&m);
}

static void timestamps_without_a_zone_use_the_receipt_time(void **state)
{
    (void)state;
    static const struct {
        const char *ts;
        int64_t expected;
    } cases[] = {
        {"\"2025-09-21T12:00:00\"", RECEIPT},
        {"\"2025-09-21T12:00:00.123456\"", RECEIPT},
        {"\"2025-09-21T14:00:00+02:00\"", 1758456000},
        {"1758456000", 1758456000},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char payload[256];
        snprintf(payload, sizeof payload, "{\"raw\":\"%s\",\"timestamp\":%s}", TXT, cases[i].ts);
        struct message m;
        message_parse(TOPIC, payload, strlen(payload), NULL, RECEIPT, &m);
        assert_int_equal(m.kind, MESSAGE_PACKET);
        char expect[64];
        snprintf(expect, sizeof expect, "\"timestamp\":%lld,", (long long)cases[i].expected);
        assert_non_null(strstr(m.line, expect));
        message_clear(&m);
    }
}

static void an_oversized_payload_is_refused_unread(void **state)
{
    (void)state;
    size_t len = 2 * 1024 * 1024;
    char *big = malloc(len);
    memset(big, ' ', len);
    big[0] = '{';
    big[len - 1] = '}';
    struct message m;
    message_parse(TOPIC, big, len, NULL, RECEIPT, &m);
    assert_int_equal(m.kind, MESSAGE_BAD);
    assert_string_equal(m.reason, "too_large");
    free(big);
}

static char *write_temp(const char *text)
{
    char *path = xstrdup("/tmp/meshscope-mqtt-config-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static void config_errors_name_the_line(void **state)
{
    (void)state;
    static const struct {
        const char *text, *error_part;
    } cases[] = {
        {"broker = mqtt://x\n", ":1: 'broker' outside a [source NAME] section"},
        {"[source a]\nbroker = mqtt://x\nbrokr = y\n", ":3: unknown key 'brokr'"},
        {"[source a]\nbroker = http://x\n", ":2: broker: expected mqtt://"},
        {"[source a]\nbroker = mqtt://x:99999\n", ":2: broker port"},
        {"[source a]\nbroker = mqtt://x\nqos = 3\n", ":3: qos"},
        {"[source a]\nbroker = mqtt://x\n[source a]\n", ":3: source 'a' defined twice"},
        {"[sauce a]\n", ":1: expected [source NAME]"},
        {"[source a]\njust words\n", ":2: expected KEY = VALUE"},
        {"[source a]\nqos = 1\n", "source 'a': no broker"},
        {"# nothing\n", "no [source NAME] section"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *path = write_temp(cases[i].text);
        struct bridge_config c;
        char *err = NULL;
        assert_int_equal(config_load(path, &c, &err), -1);
        if (strstr(err, cases[i].error_part) == NULL)
            fail_msg("case %zu: '%s' lacks '%s'", i, err, cases[i].error_part);
        free(err);
        unlink(path);
        free(path);
    }
}

static void config_fills_the_defaults(void **state)
{
    (void)state;
    char *path = write_temp("# two sources\n[source one]\nbroker = mqtts://b.example:8884\n"
                            "ca_file = /x/ca.crt\nregions = SEA, PDX\n\n[source two]\n"
                            "broker = mqtt://127.0.0.1\ntopic = a/+/+/packets\n");
    struct bridge_config c;
    char *err = NULL;
    assert_int_equal(config_load(path, &c, &err), 0);
    assert_int_equal(c.source_count, 2);
    assert_string_equal(c.sources[0].host, "b.example");
    assert_int_equal(c.sources[0].port, 8884);
    assert_true(c.sources[0].tls);
    assert_string_equal(c.sources[0].client_id, "meshscope-one");
    assert_int_equal(c.sources[0].topic_count, 2);
    assert_string_equal(c.sources[0].topics[0], "meshcore/+/+/packets");
    assert_int_equal(c.sources[0].region_count, 2);
    assert_string_equal(c.sources[0].regions[1], "PDX");
    assert_int_equal(c.sources[0].qos, 1);
    assert_int_equal(c.sources[1].port, 1883);
    assert_int_equal(c.sources[1].topic_count, 1);
    config_free(&c);
    unlink(path);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(classifies_messages_by_table),
        cmocka_unit_test(a_good_message_becomes_the_ingest_line),
        cmocka_unit_test(timestamps_without_a_zone_use_the_receipt_time),
        cmocka_unit_test(a_status_message_becomes_an_observer_status_line),
        cmocka_unit_test(an_oversized_payload_is_refused_unread),
        cmocka_unit_test(config_errors_name_the_line),
        cmocka_unit_test(config_fills_the_defaults),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
