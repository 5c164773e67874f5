/* message.h: one MQTT message (topic + payload) into an ingest line or an observer status; pure, no I/O. */
#ifndef MESHSCOPE_MESSAGE_H
#define MESHSCOPE_MESSAGE_H

#include <stddef.h>
#include <stdint.h>

/* A message larger than this is refused unread: real ones are under 2 KiB. */
#define MESSAGE_PAYLOAD_MAX (64 * 1024)
#define MESSAGE_ID_MAX 128

enum message_kind {
    MESSAGE_PACKET,   /* line holds the ingest line (no newline) */
    MESSAGE_STATUS,   /* status holds the observer's details as compact JSON */
    MESSAGE_FILTERED, /* a region outside the allow-list: not an error */
    MESSAGE_BAD,      /* reason says why */
};

struct message {
    enum message_kind kind;
    const char *reason; /* static label for MESSAGE_BAD ("not_json", "bad_hex", ...) */
    char region[MESSAGE_ID_MAX + 1];
    char observer[MESSAGE_ID_MAX + 1];
    char *line;   /* heap: MESSAGE_PACKET's ingest line; MESSAGE_STATUS's observer_status line */
    char *status; /* heap, MESSAGE_STATUS */
    char hash[17];
};

/*
 * Classifies one message. `regions` (NULL-terminated, may be NULL) is the
 * allow-list; `receipt_unix` stands in for a missing or zoneless timestamp.
 * The caller frees with message_clear.
 */
void message_parse(const char *topic, const void *payload, size_t len,
                   const char *const *regions, int64_t receipt_unix, struct message *out);
void message_clear(struct message *m);

/* Every label message_parse may put in reason, for tests and documentation. */
extern const char *const message_reasons[];

#endif
