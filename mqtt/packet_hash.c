/* packet_hash.c: MeshCore's path-independent packet hash (firmware Packet::calculatePacketHash), with nettle's SHA-256. */
#include "packet_hash.h"

#include <nettle/sha2.h>

void packet_hash(const struct packet *p, char out[PACKET_HASH_HEX])
{
    struct sha256_ctx ctx;
    uint8_t digest[SHA256_DIGEST_SIZE];
    uint8_t type = (uint8_t)p->payload_type;
    sha256_init(&ctx);
    sha256_update(&ctx, 1, &type);
    if (p->payload_type == PACKET_TYPE_TRACE) {
        /* Firmware hashes its uint16_t path_len member as stored on a little-endian MCU. */
        uint8_t path_len[2] = {(uint8_t)p->path_byte, 0};
        sha256_update(&ctx, 2, path_len);
    }
    sha256_update(&ctx, p->payload_len, p->payload);
    sha256_digest(&ctx, sizeof digest, digest);
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 8; i++) {
        out[2 * i] = hex[digest[i] >> 4];
        out[2 * i + 1] = hex[digest[i] & 0x0f];
    }
    out[16] = '\0';
}
