/* packet.c: MeshCore's wire layout (firmware src/Packet.h, Packet.cpp); pure, shared by the bridge and the responders (docs/mqtt.md). */
#include "packet.h"

#include <string.h>

#include "util.h"

/* Firmware's PAYLOAD_TYPE_* names; 0x0C-0x0E are unassigned. */
static const char *const type_names[16] = {
    "REQ",     "RESPONSE", "TXT_MSG", "ACK",       "ADVERT",  "GRP_TXT", "GRP_DATA", "ANON_REQ",
    "PATH",    "TRACE",    "MULTIPART", "CONTROL", "UNKNOWN", "UNKNOWN", "UNKNOWN",  "RAW_CUSTOM",
};

static const char *const route_names[4] = {"TRANSPORT_FLOOD", "FLOOD", "DIRECT", "TRANSPORT_DIRECT"};

const char *packet_type_name(unsigned payload_type)
{
    return payload_type < 16 ? type_names[payload_type] : "UNKNOWN";
}

const char *packet_route_name(enum packet_route route)
{
    return route_names[route & 3];
}

const char *packet_error_name(enum packet_error err)
{
    switch (err) {
    case PACKET_OK: return "ok";
    case PACKET_EMPTY: return "empty_packet";
    case PACKET_TRUNCATED_TRANSPORT: return "truncated_transport_codes";
    case PACKET_TRUNCATED_PATH_LEN: return "truncated_path_length";
    case PACKET_RESERVED_HASH_SIZE: return "reserved_path_hash_size";
    case PACKET_PATH_TOO_LONG: return "path_too_long";
    case PACKET_TRUNCATED_PATH: return "truncated_path";
    case PACKET_NO_PAYLOAD: return "no_payload";
    case PACKET_TOO_LONG: return "packet_too_long";
    }
    return "unknown";
}

enum packet_error packet_decode(const uint8_t *raw, size_t len, struct packet *out)
{
    memset(out, 0, sizeof *out);
    if (len == 0)
        return PACKET_EMPTY;
    if (len > PACKET_MAX_RAW)
        return PACKET_TOO_LONG;
    size_t i = 0;
    out->header = raw[i++];
    out->route = (enum packet_route)(out->header & 0x03);
    out->payload_type = (out->header >> 2) & 0x0f;
    out->payload_version = (out->header >> 6) & 0x03;
    out->has_transport = out->route == PACKET_ROUTE_TRANSPORT_FLOOD ||
                         out->route == PACKET_ROUTE_TRANSPORT_DIRECT;
    if (out->has_transport) {
        if (len - i < 4)
            return PACKET_TRUNCATED_TRANSPORT;
        out->transport_codes[0] = (uint16_t)(raw[i] | raw[i + 1] << 8);
        out->transport_codes[1] = (uint16_t)(raw[i + 2] | raw[i + 3] << 8);
        i += 4;
    }
    if (i >= len)
        return PACKET_TRUNCATED_PATH_LEN;
    out->path_byte = raw[i++];
    out->hops = out->path_byte & 0x3f;
    out->hash_size = (out->path_byte >> 6) + 1;
    /* Firmware's Packet::isValidPathLen: size 4 is reserved, and 64 path bytes at most. */
    if (out->hash_size == 4)
        return PACKET_RESERVED_HASH_SIZE;
    size_t path_len = (size_t)out->hops * out->hash_size;
    if (path_len > PACKET_MAX_PATH)
        return PACKET_PATH_TOO_LONG;
    if (len - i < path_len)
        return PACKET_TRUNCATED_PATH;
    out->path = raw + i;
    i += path_len;
    /* Firmware's readFrom refuses a packet with nothing after the path. */
    if (i >= len)
        return PACKET_NO_PAYLOAD;
    out->payload = raw + i;
    out->payload_len = len - i;
    return PACKET_OK;
}

long packet_from_hex(const char *hex, size_t hex_len, uint8_t *out, size_t out_max)
{
    if (hex_len % 2 != 0 || hex_len / 2 > out_max)
        return -1;
    for (size_t i = 0; i < hex_len; i += 2) {
        int hi = hex_digit_value(hex[i]), lo = hex_digit_value(hex[i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i / 2] = (uint8_t)(hi << 4 | lo);
    }
    return (long)(hex_len / 2);
}
