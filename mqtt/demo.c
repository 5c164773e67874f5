/* demo.c: meshscope-mqtt-demo, publishes MeshCore-format packets as observers would, for the local stack and tests. */
#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mosquitto.h>

#include "config.h"
#include "log.h"
#include "mqtt_config.h"
#include "util.h"

static volatile sig_atomic_t stop;

static void on_signal(int signo)
{
    (void)signo;
    stop = 1;
}

static atomic_int connected;

static void on_connect(struct mosquitto *mosq, void *obj, int rc)
{
    (void)mosq;
    (void)obj;
    if (rc == 0)
        atomic_store(&connected, 1);
    else
        log_warnx("broker refused the connection: %s", mosquitto_connack_string(rc));
}

static uint64_t rng_state;

static uint32_t rnd(void)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(rng_state >> 33);
}

static void hex_append(char *out, const uint8_t *bytes, size_t n)
{
    static const char digits[] = "0123456789ABCDEF";
    size_t len = strlen(out);
    for (size_t i = 0; i < n; i++) {
        out[len++] = digits[bytes[i] >> 4];
        out[len++] = digits[bytes[i] & 15];
    }
    out[len] = '\0';
}

/* A flood packet of a common type with `hops` one-byte path hashes: what repeaters forward. */
static void make_packet(const uint8_t *payload, size_t payload_len, unsigned type, int hops,
                        const uint8_t *path, char *hex)
{
    uint8_t head[2] = {(uint8_t)(type << 2 | 1), (uint8_t)hops};
    hex[0] = '\0';
    hex_append(hex, head, 2);
    hex_append(hex, path, (size_t)hops);
    hex_append(hex, payload, payload_len);
}

static void usage(FILE *out)
{
    fputs("Usage: meshscope-mqtt-demo --broker URL [--rate N] [--count N] [--observers N]\n"
          "                           [--region R] [--seed N] [--username U --password-file F]\n"
          "                           [--ca-file F]\n"
          "Publishes demo MeshCore packets to meshcore/REGION/OBSERVER/packets (QoS 1),\n"
          "each transmission heard by one to three observers over different paths.\n",
          out);
}

struct demo {
    struct source_config src;
    int64_t rate, count, observers, seed;
    const char *region;
};

static int parse(int argc, char **argv, struct demo *d, char **errp)
{
    static const struct option opts[] = {
        {"broker", required_argument, NULL, 'b'}, {"rate", required_argument, NULL, 'r'},
        {"count", required_argument, NULL, 'c'}, {"observers", required_argument, NULL, 'o'},
        {"region", required_argument, NULL, 'g'}, {"seed", required_argument, NULL, 's'},
        {"username", required_argument, NULL, 'u'}, {"password-file", required_argument, NULL, 'p'},
        {"ca-file", required_argument, NULL, 'a'}, {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'}, {NULL, 0, NULL, 0},
    };
    d->rate = 10, d->count = 0, d->observers = 4, d->seed = 1, d->region = "DEMO";
    d->src.name = xstrdup("demo");
    int opt;
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        const char *key = NULL;
        switch (opt) {
        case 'b': key = "broker"; break;
        case 'u': key = "username"; break;
        case 'p': key = "password_file"; break;
        case 'a': key = "ca_file"; break;
        case 'r': if (parse_int64(optarg, 1, 100000, "--rate", &d->rate, errp)) return -1; break;
        case 'c': if (parse_int64(optarg, 0, INT64_MAX, "--count", &d->count, errp)) return -1; break;
        case 'o': if (parse_int64(optarg, 1, 64, "--observers", &d->observers, errp)) return -1; break;
        case 's': if (parse_int64(optarg, 0, INT64_MAX, "--seed", &d->seed, errp)) return -1; break;
        case 'g': d->region = optarg; break;
        case 'h': usage(stdout); exit(0);
        case 'V': printf("meshscope-mqtt-demo %s\n", PACKAGE_VERSION); exit(0);
        default: return set_error(errp, "unknown option");
        }
        if (key != NULL && config_set(&d->src, key, optarg, errp) != 0)
            return -1;
    }
    return config_finish(&d->src, errp);
}

/* Publishes one transmission as heard by 1-3 observers; returns messages published. */
static int publish_one(struct mosquitto *mosq, const struct demo *d, int64_t seq)
{
    static const unsigned types[] = {5, 5, 5, 4, 2, 3, 1};
    unsigned type = types[rnd() % (sizeof types / sizeof types[0])];
    uint8_t payload[48];
    size_t plen = 20 + rnd() % 28;
    for (size_t i = 0; i < plen; i++)
        payload[i] = (uint8_t)rnd();
    memcpy(payload, &seq, sizeof seq); /* distinct content, so distinct hashes */
    int heard = 1 + (int)(rnd() % 3);
    uint8_t path[8];
    int published = 0;
    for (int h = 0; h < heard; h++) {
        int hops = (int)(rnd() % 4);
        for (int i = 0; i < hops; i++)
            path[i] = (uint8_t)rnd();
        char hex[2 * 64 + 16] = "";
        make_packet(payload, plen, type, hops, path, hex);
        int obs = (int)((seq + h) % d->observers);
        char topic[128], body[512], stamp[32];
        snprintf(topic, sizeof topic, "meshcore/%s/DEMO%060d/packets", d->region, obs);
        time_t now = time(NULL);
        strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
        int len = snprintf(body, sizeof body,
                           "{\"origin\":\"demo observer %d\",\"origin_id\":\"DEMO%060d\","
                           "\"timestamp\":\"%s\",\"type\":\"PACKET\",\"direction\":\"rx\","
                           "\"raw\":\"%s\",\"SNR\":\"%d\",\"RSSI\":\"%d\"}",
                           obs, obs, stamp, hex, (int)(rnd() % 30) - 15,
                           -60 - (int)(rnd() % 60));
        if (mosquitto_publish(mosq, NULL, topic, len, body, 1, false) == MOSQ_ERR_SUCCESS)
            published++;
    }
    return published;
}

int main(int argc, char **argv)
{
    struct demo d = {0};
    char *err = NULL;
    log_init("mqtt-demo", LOG_LEVEL_INFO);
    if (parse(argc, argv, &d, &err) != 0) {
        fprintf(stderr, "meshscope-mqtt-demo: %s (try --help)\n", err);
        return 2;
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    rng_state = (uint64_t)d.seed * 2654435761u + 1;
    mosquitto_lib_init();
    struct mosquitto *mosq = mosquitto_new(NULL, true, NULL);
    if (d.src.username)
        mosquitto_username_pw_set(mosq, d.src.username, d.src.password);
    if (d.src.tls)
        mosquitto_tls_set(mosq, d.src.ca_file, d.src.ca_file ? NULL : "/etc/ssl/certs", NULL,
                          NULL, NULL);
    mosquitto_connect_callback_set(mosq, on_connect);
    mosquitto_reconnect_delay_set(mosq, 1, 30, true);
    /* The library's thread reconnects on its own; the broker may start after us. */
    mosquitto_connect_async(mosq, d.src.host, d.src.port, 30);
    mosquitto_loop_start(mosq);
    while (!stop && !atomic_load(&connected)) {
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
    log_info("publishing to %s:%d at %lld transmissions/s", d.src.host, d.src.port,
             (long long)d.rate);
    /* Each observer's details, retained as observers publish them; the bridge keeps the last. */
    for (int64_t o = 0; o < d.observers; o++) {
        char topic[128], body[256];
        snprintf(topic, sizeof topic, "meshcore/%s/DEMO%060d/status", d.region, (int)o);
        int len = snprintf(body, sizeof body,
                           "{\"origin\":\"demo observer %d\",\"status\":\"online\","
                           "\"model\":\"demo\",\"firmware_version\":\"%s\"}",
                           (int)o, PACKAGE_VERSION);
        mosquitto_publish(mosq, NULL, topic, len, body, 1, true);
    }
    int64_t start = clock_monotonic_ms(), published = 0;
    for (int64_t seq = 0; !stop && (d.count == 0 || seq < d.count); seq++) {
        int64_t due = start + seq * 1000 / d.rate;
        int64_t now = clock_monotonic_ms();
        if (due > now) {
            struct timespec ts = {(due - now) / 1000, ((due - now) % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        }
        published += publish_one(mosq, &d, seq + d.seed * 1000000000LL);
    }
    log_info("published %lld message(s)", (long long)published);
    mosquitto_disconnect(mosq);
    mosquitto_loop_stop(mosq, false);
    mosquitto_destroy(mosq);
    mosquitto_lib_cleanup();
    return 0;
}
