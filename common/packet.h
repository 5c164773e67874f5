/* packet.h: MeshCore packet decoding (docs/mqtt.md); pure, no I/O; the hash is mqtt/packet_hash.h. */
#ifndef MESHSCOPE_PACKET_H
#define MESHSCOPE_PACKET_H

#include <stddef.h>
#include <stdint.h>

/* MeshCore's limits (firmware src/MeshCore.h): a packet never exceeds these. */
#define PACKET_MAX_PATH 64
#define PACKET_MAX_RAW 256

enum packet_route {
    PACKET_ROUTE_TRANSPORT_FLOOD = 0,
    PACKET_ROUTE_FLOOD = 1,
    PACKET_ROUTE_DIRECT = 2,
    PACKET_ROUTE_TRANSPORT_DIRECT = 3,
};

#define PACKET_TYPE_TRACE 9

/* Why a packet could not be decoded; packet_error_name gives the counter's label. */
enum packet_error {
    PACKET_OK,
    PACKET_EMPTY,               /* no header byte */
    PACKET_TRUNCATED_TRANSPORT, /* a transport route without its 4 bytes of codes */
    PACKET_TRUNCATED_PATH_LEN,  /* no path length byte */
    PACKET_RESERVED_HASH_SIZE,  /* path byte bits 6-7 = 3 (hash size 4, reserved) */
    PACKET_PATH_TOO_LONG,       /* hops x hash size > 64 bytes */
    PACKET_TRUNCATED_PATH,      /* the path byte claims more path than there is */
    PACKET_NO_PAYLOAD,          /* nothing after the path */
    PACKET_TOO_LONG,            /* more than 256 bytes */
};

struct packet {
    unsigned header;
    enum packet_route route;
    unsigned payload_type;    /* 0-15 */
    unsigned payload_version; /* 0-3 */
    int has_transport;
    uint16_t transport_codes[2]; /* little-endian on the wire */
    unsigned path_byte;          /* as on the wire: bits 0-5 hops, bits 6-7 hash size - 1 */
    unsigned hash_size;          /* bytes per hop, 1-3 */
    unsigned hops;
    const uint8_t *path;      /* hops * hash_size bytes, points into the caller's buffer */
    const uint8_t *payload;   /* points into the caller's buffer */
    size_t payload_len;
};

/* Decodes the wire layout of `raw`; `out` points into `raw`. Returns PACKET_OK or why not. */
enum packet_error packet_decode(const uint8_t *raw, size_t len, struct packet *out);

/* "REQ", "TXT_MSG", ...; "UNKNOWN" for the types MeshCore has not assigned. */
const char *packet_type_name(unsigned payload_type);
const char *packet_route_name(enum packet_route route);
/* Short label for counters and logs ("truncated_path", ...). */
const char *packet_error_name(enum packet_error err);

/* Parses hex (either case) into bytes; returns the byte count, or -1 for odd length or a non-hex digit. */
long packet_from_hex(const char *hex, size_t hex_len, uint8_t *out, size_t out_max);

#endif
