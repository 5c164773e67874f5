/* source.c: one broker connection per thread: connect, subscribe, reconnect with back-off, silence watchdog. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <mosquitto.h>

#include "bridge.h"
#include "log.h"
#include "util.h"

#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 60000
#define KEEPALIVE_S 30
#define CONNACK_TIMEOUT_MS 30000

struct link {
    struct source *s;
    struct mosquitto *mosq;
    int connack;       /* -1 waiting, 0 accepted, else the broker's refusal code */
    int subscribed;
    char last_error[256]; /* the library's last error log line, for the next warning */
};

void source_lib_init(void)
{
    mosquitto_lib_init();
}

static void set_connected(struct source *s, int connected)
{
    pthread_mutex_lock(&s->bridge->lock);
    s->stats.connected = connected;
    s->bridge->dirty = 1;
    pthread_mutex_unlock(&s->bridge->lock);
}

static void on_connect(struct mosquitto *mosq, void *obj, int rc)
{
    struct link *l = obj;
    l->connack = rc;
    if (rc != 0) {
        log_warnx("source %s: broker %s:%d refused the connection: %s", l->s->config->name,
                  l->s->config->host, l->s->config->port, mosquitto_connack_string(rc));
        return;
    }
    for (int i = 0; i < l->s->config->topic_count; i++) {
        int src = mosquitto_subscribe(mosq, NULL, l->s->config->topics[i], l->s->config->qos);
        if (src != MOSQ_ERR_SUCCESS)
            log_warnx("source %s: cannot subscribe to %s: %s", l->s->config->name,
                      l->s->config->topics[i], mosquitto_strerror(src));
    }
    log_info("source %s: connected to %s:%d as %s", l->s->config->name, l->s->config->host,
             l->s->config->port, l->s->config->client_id);
    set_connected(l->s, 1);
}

static void on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *msg)
{
    (void)mosq;
    struct link *l = obj;
    bridge_take(l->s->bridge, l->s->index, msg->topic ? msg->topic : "", msg->payload,
                msg->payloadlen > 0 ? (size_t)msg->payloadlen : 0);
}

static void on_log(struct mosquitto *mosq, void *obj, int level, const char *text)
{
    (void)mosq;
    struct link *l = obj;
    if (level == MOSQ_LOG_ERR || level == MOSQ_LOG_WARNING)
        snprintf(l->last_error, sizeof l->last_error, "%s", text);
}

/* The library's code, plus errno or its own last error line when those say more. */
static void describe(struct link *l, int rc, char *buf, size_t n)
{
    if (l->last_error[0] != '\0')
        snprintf(buf, n, "%s (%s)", mosquitto_strerror(rc), l->last_error);
    else if (rc == MOSQ_ERR_ERRNO)
        snprintf(buf, n, "%s", strerror(errno));
    else
        snprintf(buf, n, "%s", mosquitto_strerror(rc));
    l->last_error[0] = '\0';
}

static int configure(struct link *l, char **errp)
{
    const struct source_config *c = l->s->config;
    /* clean_session false with a fixed client id: the broker keeps what arrives while we are away. */
    l->mosq = mosquitto_new(c->client_id, false, l);
    if (l->mosq == NULL)
        return set_error(errp, "source %s: mosquitto_new: %s", c->name, strerror(errno));
    mosquitto_connect_callback_set(l->mosq, on_connect);
    mosquitto_message_callback_set(l->mosq, on_message);
    mosquitto_log_callback_set(l->mosq, on_log);
    int rc = MOSQ_ERR_SUCCESS;
    if (c->username != NULL)
        rc = mosquitto_username_pw_set(l->mosq, c->username, c->password);
    if (rc == MOSQ_ERR_SUCCESS && c->tls)
        rc = mosquitto_tls_set(l->mosq, c->ca_file, c->ca_file ? NULL : "/etc/ssl/certs", NULL,
                               NULL, NULL);
    if (rc != MOSQ_ERR_SUCCESS)
        return set_error(errp, "source %s: %s", c->name, mosquitto_strerror(rc));
    return 0;
}

/* Sleeps ms, waking early on stop. */
static void pause_ms(struct bridge *b, int64_t ms)
{
    int64_t end = clock_monotonic_ms() + ms;
    while (!atomic_load(&b->stop) && clock_monotonic_ms() < end) {
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

static int64_t last_receipt(struct source *s)
{
    pthread_mutex_lock(&s->bridge->lock);
    int64_t t = s->stats.last_receipt_unix;
    pthread_mutex_unlock(&s->bridge->lock);
    return t;
}

/* Runs one connection until it drops, the watchdog fires, or the bridge stops. Returns 1 if it was accepted. */
static int run_connection(struct link *l)
{
    const struct source_config *c = l->s->config;
    struct bridge *b = l->s->bridge;
    char why[400];
    l->connack = -1;
    int rc = mosquitto_connect(l->mosq, c->host, c->port, KEEPALIVE_S);
    if (rc != MOSQ_ERR_SUCCESS) {
        describe(l, rc, why, sizeof why);
        log_warnx("source %s: cannot connect to %s:%d: %s", c->name, c->host, c->port, why);
        return 0;
    }
    int64_t since_ms = clock_monotonic_ms();
    int64_t since_unix = time(NULL);
    while (!atomic_load(&b->stop)) {
        rc = mosquitto_loop(l->mosq, 500, 1);
        if (rc != MOSQ_ERR_SUCCESS || (l->connack > 0))
            break;
        if (l->connack < 0 && clock_monotonic_ms() - since_ms > CONNACK_TIMEOUT_MS) {
            log_warnx("source %s: no answer to CONNECT from %s:%d in %d s", c->name, c->host,
                      c->port, CONNACK_TIMEOUT_MS / 1000);
            break;
        }
        if (l->connack == 0 && b->silent_reconnect_ms > 0) {
            int64_t last = last_receipt(l->s);
            int64_t silent_ms = last > since_unix ? (time(NULL) - last) * 1000
                                                  : clock_monotonic_ms() - since_ms;
            if (silent_ms >= b->silent_reconnect_ms) {
                log_warnx("source %s: no message for %lld s while connected: reconnecting",
                          c->name, (long long)(silent_ms / 1000));
                break;
            }
        }
    }
    int accepted = l->connack == 0;
    if (accepted && rc != MOSQ_ERR_SUCCESS && !atomic_load(&b->stop)) {
        describe(l, rc, why, sizeof why);
        log_warnx("source %s: connection to %s:%d lost: %s", c->name, c->host, c->port, why);
    } else if (l->connack < 0 && rc != MOSQ_ERR_SUCCESS) {
        describe(l, rc, why, sizeof why);
        log_warnx("source %s: cannot connect to %s:%d: %s", c->name, c->host, c->port, why);
    }
    mosquitto_disconnect(l->mosq);
    /* Let the DISCONNECT go out; the socket is closed by the next connect or destroy. */
    mosquitto_loop(l->mosq, 10, 1);
    set_connected(l->s, 0);
    return accepted;
}

static void *source_main(void *arg)
{
    struct source *s = arg;
    struct link l = {.s = s};
    char *err = NULL;
    if (configure(&l, &err) != 0) {
        log_error("%s", err);
        free(err);
        mosquitto_destroy(l.mosq);
        return NULL;
    }
    int64_t backoff = BACKOFF_MIN_MS;
    while (!atomic_load(&s->bridge->stop)) {
        if (run_connection(&l))
            backoff = BACKOFF_MIN_MS;
        if (atomic_load(&s->bridge->stop))
            break;
        log_info("source %s: reconnecting in %lld ms", s->config->name, (long long)backoff);
        pause_ms(s->bridge, backoff);
        backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
    }
    mosquitto_destroy(l.mosq);
    return NULL;
}

int source_start(struct source *s, char **errp)
{
    int rc = pthread_create(&s->thread, NULL, source_main, s);
    if (rc != 0)
        return set_error(errp, "source %s: pthread_create: %s", s->config->name, strerror(rc));
    return 0;
}

void source_join(struct source *s)
{
    pthread_join(s->thread, NULL);
}
