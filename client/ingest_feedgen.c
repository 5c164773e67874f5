/* ingest_feedgen.c: the demo feeder's generator of realistic observations, deterministic per seed. */
#include "ingest_tool.h"

#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "util.h"

#define FEED_RECENT 64      /* transmissions that may still be heard again */
#define FEED_REPEAT_FROM 16 /* repeats pick among the newest this many */
#define FEED_NEW_PERCENT 35 /* lines that start a new transmission */
#define FEED_LATE_PERCENT 8 /* repeats that arrive late with an older timestamp */

struct feed_tx {
    char hash[17];
    char raw_hex[2 * 96 + 1];
    int payload_type;
    uint32_t heard_by; /* observers that already reported it */
};

struct feed_gen {
    uint64_t state;
    int observers;
    struct feed_tx recent[FEED_RECENT];
    size_t nrecent, next;
};

/* splitmix64: small, fast, and good enough to make demo traffic look random. */
static uint64_t feed_rand(struct feed_gen *g)
{
    uint64_t z = (g->state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static unsigned feed_below(struct feed_gen *g, unsigned n)
{
    return (unsigned)(feed_rand(g) % n);
}

struct feed_gen *feed_gen_new(uint64_t seed, int observers)
{
    struct feed_gen *g = xcalloc(1, sizeof *g);
    g->state = seed;
    g->observers = observers < 1 ? 1 : observers > FEED_MAX_OBSERVERS ? FEED_MAX_OBSERVERS
                                                                       : observers;
    return g;
}

void feed_gen_free(struct feed_gen *g)
{
    free(g);
}

/* MeshCore-like payload types, weighted as a busy mesh carries them. */
static int feed_payload_type(struct feed_gen *g)
{
    static const struct {
        int type, weight;
    } mix[] = {{4, 25}, {5, 25}, {2, 20}, {3, 15}, {8, 10}, {1, 5}};
    unsigned r = feed_below(g, 100);
    for (size_t i = 0; i < sizeof mix / sizeof mix[0]; i++) {
        if (r < (unsigned)mix[i].weight)
            return mix[i].type;
        r -= (unsigned)mix[i].weight;
    }
    return 0;
}

static struct feed_tx *feed_new_tx(struct feed_gen *g)
{
    struct feed_tx *tx = &g->recent[g->next];
    g->next = (g->next + 1) % FEED_RECENT;
    if (g->nrecent < FEED_RECENT)
        g->nrecent++;
    snprintf(tx->hash, sizeof tx->hash, "%016llx", (unsigned long long)feed_rand(g));
    tx->payload_type = feed_payload_type(g);
    static const char hex[] = "0123456789abcdef";
    unsigned bytes = 12 + feed_below(g, 85);
    for (unsigned i = 0; i < bytes; i++) {
        /* The first byte is a packet header carrying the payload type, as on air. */
        unsigned b = i == 0 ? (unsigned)(tx->payload_type << 2 | 1) & 0xff : feed_below(g, 256);
        tx->raw_hex[2 * i] = hex[b >> 4];
        tx->raw_hex[2 * i + 1] = hex[b & 15];
    }
    tx->raw_hex[2 * bytes] = '\0';
    tx->heard_by = 0;
    return tx;
}

/* Prefers an observer that has not reported this transmission yet. */
static int feed_observer(struct feed_gen *g, struct feed_tx *tx)
{
    int start = (int)feed_below(g, (unsigned)g->observers);
    for (int k = 0; k < g->observers; k++) {
        int o = (start + k) % g->observers;
        if (!(tx->heard_by & (UINT32_C(1) << o))) {
            tx->heard_by |= UINT32_C(1) << o;
            return o;
        }
    }
    return start;
}

char *feed_gen_line(struct feed_gen *g, int64_t now_sec)
{
    struct feed_tx *tx;
    int64_t ts = now_sec;
    if (g->nrecent == 0 || feed_below(g, 100) < FEED_NEW_PERCENT) {
        tx = feed_new_tx(g);
    } else {
        size_t window = g->nrecent < FEED_REPEAT_FROM ? g->nrecent : FEED_REPEAT_FROM;
        size_t back = 1 + feed_below(g, (unsigned)window);
        tx = &g->recent[(g->next + FEED_RECENT - back) % FEED_RECENT];
        if (feed_below(g, 100) < FEED_LATE_PERCENT)
            ts = now_sec - 5 - feed_below(g, 600);
    }
    char observer[32];
    snprintf(observer, sizeof observer, "observer-%02d", feed_observer(g, tx));

    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "hash", json_object_new_string(tx->hash));
    json_object_object_add(o, "raw_hex", json_object_new_string(tx->raw_hex));
    json_object_object_add(o, "payload_type", json_object_new_int(tx->payload_type));
    json_object_object_add(o, "observer", json_object_new_string(observer));
    json_object_object_add(o, "snr", json_object_new_double(-20.0 + feed_below(g, 129) * 0.25));
    json_object_object_add(o, "rssi", json_object_new_int(-125 + (int)feed_below(g, 81)));
    struct json_object *path = json_object_new_array();
    unsigned hops = feed_below(g, 5);
    for (unsigned i = 0; i < hops; i++) {
        static const char hex[] = "0123456789abcdef";
        unsigned b = feed_below(g, 256);
        char hop[3] = {hex[b >> 4], hex[b & 15], '\0'};
        json_object_array_add(path, json_object_new_string(hop));
    }
    json_object_object_add(o, "path", path);
    json_object_object_add(o, "timestamp", json_object_new_int64(ts));
    char *line = xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    return line;
}
