/* mqtt_config.h: meshscope-mqtt's sources, from a config file or from the command line. */
#ifndef MESHSCOPE_MQTT_CONFIG_H
#define MESHSCOPE_MQTT_CONFIG_H

#define CONFIG_MAX_SOURCES 16
#define CONFIG_MAX_TOPICS 16
#define CONFIG_MAX_REGIONS 64

struct source_config {
    char *name;
    char *host;
    int port;
    int tls;          /* mqtts:// */
    char *ca_file;    /* NULL: the system's CA directory */
    char *username;   /* NULL: anonymous */
    char *password;   /* read from password_file */
    char *password_file;
    char *client_id;  /* fixed, so the broker keeps the session */
    char *topics[CONFIG_MAX_TOPICS + 1];
    int topic_count;
    int qos;
    char *regions[CONFIG_MAX_REGIONS + 1]; /* NULL-terminated; empty: every region */
    int region_count;
};

struct bridge_config {
    struct source_config sources[CONFIG_MAX_SOURCES];
    int source_count;
};

/*
 * Reads an INI-style file:
 *   [source NAME]
 *   broker = mqtt://HOST:PORT | mqtts://HOST:PORT
 *   ca_file = PATH          username = U        password_file = PATH
 *   client_id = ID          topic = T (repeatable)
 *   qos = 0|1|2             regions = SEA, PDX
 * On error *errp is "PATH:LINE: reason".
 */
int config_load(const char *path, struct bridge_config *out, char **errp);

/* Applies one key to a source (shared by the file and the command line). */
int config_set(struct source_config *s, const char *key, const char *value, char **errp);
/* Fills defaults (topics, client id, port), checks what is required, reads the password file. */
int config_finish(struct source_config *s, char **errp);
void config_free(struct bridge_config *c);

#endif
