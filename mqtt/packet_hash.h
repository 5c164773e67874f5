/* packet_hash.h: the transmission hash of a decoded packet (docs/mqtt.md); needs nettle. */
#ifndef MESHSCOPE_PACKET_HASH_H
#define MESHSCOPE_PACKET_HASH_H

#include "packet.h"

/* 8 bytes of SHA-256, as firmware's MAX_HASH_SIZE; 16 hex digits plus NUL. */
#define PACKET_HASH_HEX 17

/*
 * The firmware's Packet::calculatePacketHash, as 16 lowercase hex digits:
 * SHA-256 over the payload type byte, for TRACE the 16-bit path length
 * (little-endian: the path byte, then 0), then the payload; first 8 bytes.
 */
void packet_hash(const struct packet *p, char out[PACKET_HASH_HEX]);

#endif
