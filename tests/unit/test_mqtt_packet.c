/*
 * test_mqtt_packet.c: MeshCore packet decoding and its hash, as a table of
 * real packets from public sources (michaelhart/meshcore-decoder's tests:
 * TRACE, a transport flood, zero-hop and multi-hop packets) with hashes
 * computed independently (Python hashlib) by the firmware's rule.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "packet_hash.h"

struct decode_case {
    const char *name;
    const char *hex;
    enum packet_error err;
    unsigned route, type, version, path_byte, hops, hash_size;
    const char *path_hex;
    size_t payload_len;
    const char *hash;
};

static const struct decode_case cases[] = {
    /* TRACE, direct route, one hop; the hash covers the path byte and a zero byte. */
    {"trace", "260130A24D89BD0000000000FB", PACKET_OK, PACKET_ROUTE_DIRECT, 9, 0, 1, 1, 1, "30",
     10, "2c9d6ab99d59069c"},
    /* GRP_TXT over TRANSPORT_FLOOD: codes 0x1afa, 0, then three hops. */
    {"transport flood",
     "14FA1A0000034E927D596EA23622BCB4D5945E49348165AF7DABA3F5DCEED85F430E0856DB5B591E86AB3363"
     "BC00E1BA30776698F72FC57C7168E66A4875CDB710F3C175FC2B3FE75A036EF14FA59A709062D3A9FF7014F2"
     "E7A8512C",
     PACKET_OK, PACKET_ROUTE_TRANSPORT_FLOOD, 5, 0, 3, 3, 1, "4e927d", 83, "de517617e6b2504c"},
    {"zero-hop response", "0600DE1FDFCAD56E6C38B756FEE81C24199C6043AC5B", PACKET_OK,
     PACKET_ROUTE_DIRECT, 1, 0, 0, 0, 1, "", 20, "616af2bff47a09ad"},
    {"zero-hop advert",
     "11007E7662676F7F0850A8A355BAAFBFC1EB7B4174C340442D7D7161C9474A2C94006CE7CF682E58408DD8FC"
     "C51906ECA98EBF94A037886BDADE7ECD09FD92B839491DF3809C9454F5286D1D3370AC31A34593D569E9A042"
     "A3B41FD331DFFB7E18599CE1E60992A076D50238C5B8F85757375354522F50756765744D65736820436F7567"
     "6172",
     PACKET_OK, PACKET_ROUTE_FLOOD, 4, 0, 0, 0, 1, "", 132, "75b10cb12c391078"},
    {"group text", "150011C3C1354D619BAE9590E4D177DB7EEAF982F5BDCF78005D75157D9535FA90178F785D",
     PACKET_OK, PACKET_ROUTE_FLOOD, 5, 0, 0, 0, 1, "", 35, "b35e8ec0e974a30b"},
    /* The same TXT_MSG heard over four hops, two other hops, and 2-byte hop hashes: one hash. */
    {"text message, 4 hops", "09046F17C47ED00A13E16AB5B94B1CC2D1A5059C6E5A6253C60D", PACKET_OK,
     PACKET_ROUTE_FLOOD, 2, 0, 4, 4, 1, "6f17c47e", 20, "ed5d121dc09272c4"},
    {"text message, 2 other hops", "0902AABBD00A13E16AB5B94B1CC2D1A5059C6E5A6253C60D", PACKET_OK,
     PACKET_ROUTE_FLOOD, 2, 0, 2, 2, 1, "aabb", 20, "ed5d121dc09272c4"},
    {"text message, 2-byte hop hashes", "09426F17C47ED00A13E16AB5B94B1CC2D1A5059C6E5A6253C60D",
     PACKET_OK, PACKET_ROUTE_FLOOD, 2, 0, 0x42, 2, 2, "6f17c47e", 20, "ed5d121dc09272c4"},
    /* Too short for their own header. */
    {"empty", "", PACKET_EMPTY, 0, 0, 0, 0, 0, 0, NULL, 0, NULL},
    {"header only", "05", PACKET_TRUNCATED_PATH_LEN, 0, 0, 0, 0, 0, 0, NULL, 0, NULL},
    {"header and path byte, no payload", "0600", PACKET_NO_PAYLOAD, 0, 0, 0, 0, 0, 0, NULL, 0,
     NULL},
    {"transport codes cut short", "14FA1A", PACKET_TRUNCATED_TRANSPORT, 0, 0, 0, 0, 0, 0, NULL,
     0, NULL},
    {"transport codes, no path byte", "14FA1A0000", PACKET_TRUNCATED_PATH_LEN, 0, 0, 0, 0, 0, 0,
     NULL, 0, NULL},
    {"path claims more than there is", "09046F17C4", PACKET_TRUNCATED_PATH, 0, 0, 0, 0, 0, 0,
     NULL, 0, NULL},
    {"path with nothing after it", "09046F17C47E", PACKET_NO_PAYLOAD, 0, 0, 0, 0, 0, 0, NULL, 0,
     NULL},
    {"reserved hash size 4", "09C16F17C47E00", PACKET_RESERVED_HASH_SIZE, 0, 0, 0, 0, 0, 0, NULL,
     0, NULL},
    {"path over 64 bytes", "09BF00", PACKET_PATH_TOO_LONG, 0, 0, 0, 0, 0, 0, NULL, 0, NULL},
};

static void hex_of(const uint8_t *b, size_t n, char *out)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[b[i] >> 4];
        out[2 * i + 1] = d[b[i] & 15];
    }
    out[2 * n] = '\0';
}

static void decodes_real_packets_by_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct decode_case *c = &cases[i];
        uint8_t raw[PACKET_MAX_RAW];
        long n = packet_from_hex(c->hex, strlen(c->hex), raw, sizeof raw);
        assert_true(n >= 0);
        struct packet p;
        enum packet_error err = packet_decode(raw, (size_t)n, &p);
        if (err != c->err)
            fail_msg("%s: expected %s, got %s", c->name, packet_error_name(c->err),
                     packet_error_name(err));
        if (err != PACKET_OK)
            continue;
        assert_int_equal(p.route, c->route);
        assert_int_equal(p.payload_type, c->type);
        assert_int_equal(p.payload_version, c->version);
        assert_int_equal(p.path_byte, c->path_byte);
        assert_int_equal(p.hops, c->hops);
        assert_int_equal(p.hash_size, c->hash_size);
        char path[2 * PACKET_MAX_PATH + 1];
        hex_of(p.path, (size_t)p.hops * p.hash_size, path);
        assert_string_equal(path, c->path_hex);
        assert_int_equal(p.payload_len, c->payload_len);
        char hash[PACKET_HASH_HEX];
        packet_hash(&p, hash);
        if (strcmp(hash, c->hash) != 0)
            fail_msg("%s: hash %s, expected %s", c->name, hash, c->hash);
    }
}

static void transport_codes_are_little_endian(void **state)
{
    (void)state;
    uint8_t raw[8] = {0x14, 0xfa, 0x1a, 0x34, 0x12, 0x00, 0xaa, 0xbb};
    struct packet p;
    assert_int_equal(packet_decode(raw, sizeof raw, &p), PACKET_OK);
    assert_true(p.has_transport);
    assert_int_equal(p.transport_codes[0], 0x1afa);
    assert_int_equal(p.transport_codes[1], 0x1234);
}

static void trace_hash_depends_on_the_path_byte(void **state)
{
    (void)state;
    /* Firmware: TRACE packets can revisit a node on the way back, so hop count is part of the hash. */
    uint8_t a[] = {0x26, 0x01, 0x30, 0xa2, 0x4d, 0x89, 0xbd, 0, 0, 0, 0, 0, 0xfb};
    uint8_t b[] = {0x26, 0x02, 0x30, 0x31, 0xa2, 0x4d, 0x89, 0xbd, 0, 0, 0, 0, 0, 0xfb};
    struct packet pa, pb;
    char ha[PACKET_HASH_HEX], hb[PACKET_HASH_HEX];
    assert_int_equal(packet_decode(a, sizeof a, &pa), PACKET_OK);
    assert_int_equal(packet_decode(b, sizeof b, &pb), PACKET_OK);
    packet_hash(&pa, ha);
    packet_hash(&pb, hb);
    assert_string_not_equal(ha, hb);
}

static void names_follow_the_firmware(void **state)
{
    (void)state;
    static const char *const names[16] = {
        "REQ", "RESPONSE", "TXT_MSG", "ACK", "ADVERT", "GRP_TXT", "GRP_DATA", "ANON_REQ",
        "PATH", "TRACE", "MULTIPART", "CONTROL", "UNKNOWN", "UNKNOWN", "UNKNOWN", "RAW_CUSTOM"};
    for (unsigned t = 0; t < 16; t++)
        assert_string_equal(packet_type_name(t), names[t]);
    assert_string_equal(packet_route_name(PACKET_ROUTE_TRANSPORT_FLOOD), "TRANSPORT_FLOOD");
    assert_string_equal(packet_route_name(PACKET_ROUTE_TRANSPORT_DIRECT), "TRANSPORT_DIRECT");
}

static void hex_parsing_refuses_odd_and_non_hex(void **state)
{
    (void)state;
    uint8_t out[4];
    assert_int_equal(packet_from_hex("aBcD", 4, out, sizeof out), 2);
    assert_int_equal(out[0], 0xab);
    assert_int_equal(packet_from_hex("abc", 3, out, sizeof out), -1);
    assert_int_equal(packet_from_hex("zz", 2, out, sizeof out), -1);
    assert_int_equal(packet_from_hex("0011223344", 10, out, sizeof out), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(decodes_real_packets_by_table),
        cmocka_unit_test(transport_codes_are_little_endian),
        cmocka_unit_test(trace_hash_depends_on_the_path_byte),
        cmocka_unit_test(names_follow_the_firmware),
        cmocka_unit_test(hex_parsing_refuses_odd_and_non_hex),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
