/* mqtt_config.c: the bridge's config file (one [source NAME] section per broker) and its checks. */
#include "mqtt_config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1]))
        *--end = '\0';
    return s;
}

static int name_ok(const char *s)
{
    if (*s == '\0' || strlen(s) > 64)
        return 0;
    for (; *s; s++) {
        if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' && *s != '.')
            return 0;
    }
    return 1;
}

static int parse_broker(struct source_config *s, const char *url, char **errp)
{
    const char *rest;
    if (strncmp(url, "mqtt://", 7) == 0) {
        s->tls = 0;
        rest = url + 7;
    } else if (strncmp(url, "mqtts://", 8) == 0) {
        s->tls = 1;
        rest = url + 8;
    } else {
        return set_error(errp, "broker: expected mqtt://HOST[:PORT] or mqtts://HOST[:PORT]");
    }
    const char *colon = strrchr(rest, ':');
    size_t host_len = colon ? (size_t)(colon - rest) : strlen(rest);
    if (host_len == 0 || memchr(rest, '/', host_len) != NULL)
        return set_error(errp, "broker: expected a host name after the scheme");
    int64_t port = s->tls ? 8883 : 1883;
    if (colon != NULL && parse_int64(colon + 1, 1, 65535, "broker port", &port, errp) != 0)
        return -1;
    free(s->host);
    s->host = xasprintf("%.*s", (int)host_len, rest);
    s->port = (int)port;
    return 0;
}

static int add_regions(struct source_config *s, const char *value, char **errp)
{
    char *copy = xstrdup(value);
    char *save = NULL;
    for (char *tok = strtok_r(copy, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
        if (s->region_count == CONFIG_MAX_REGIONS) {
            free(copy);
            return set_error(errp, "regions: more than %d", CONFIG_MAX_REGIONS);
        }
        s->regions[s->region_count++] = xstrdup(tok);
    }
    free(copy);
    return 0;
}

static void replace(char **slot, const char *value)
{
    free(*slot);
    *slot = xstrdup(value);
}

int config_set(struct source_config *s, const char *key, const char *value, char **errp)
{
    if (*value == '\0')
        return set_error(errp, "%s: empty value", key);
    if (strcmp(key, "broker") == 0)
        return parse_broker(s, value, errp);
    if (strcmp(key, "ca_file") == 0) {
        replace(&s->ca_file, value);
    } else if (strcmp(key, "username") == 0) {
        replace(&s->username, value);
    } else if (strcmp(key, "password_file") == 0) {
        replace(&s->password_file, value);
    } else if (strcmp(key, "client_id") == 0) {
        if (strlen(value) > 128)
            return set_error(errp, "client_id: longer than 128 bytes");
        replace(&s->client_id, value);
    } else if (strcmp(key, "topic") == 0) {
        if (s->topic_count == CONFIG_MAX_TOPICS)
            return set_error(errp, "topic: more than %d", CONFIG_MAX_TOPICS);
        s->topics[s->topic_count++] = xstrdup(value);
    } else if (strcmp(key, "qos") == 0) {
        int64_t q;
        if (parse_int64(value, 0, 2, "qos", &q, errp) != 0)
            return -1;
        s->qos = (int)q;
    } else if (strcmp(key, "regions") == 0) {
        return add_regions(s, value, errp);
    } else {
        return set_error(errp, "unknown key '%.40s'", key);
    }
    return 0;
}

static int read_password(struct source_config *s, char **errp)
{
    FILE *f = fopen(s->password_file, "r");
    if (f == NULL)
        return set_error(errp, "password_file %s: %s", s->password_file, strerror(errno));
    char buf[512];
    char *line = fgets(buf, sizeof buf, f);
    fclose(f);
    if (line == NULL)
        return set_error(errp, "password_file %s: empty", s->password_file);
    buf[strcspn(buf, "\r\n")] = '\0';
    replace(&s->password, buf);
    return 0;
}

int config_finish(struct source_config *s, char **errp)
{
    if (s->host == NULL)
        return set_error(errp, "source '%s': no broker", s->name);
    if (s->password_file != NULL && s->username == NULL)
        return set_error(errp, "source '%s': password_file without username", s->name);
    if (s->ca_file != NULL && !s->tls)
        return set_error(errp, "source '%s': ca_file needs an mqtts:// broker", s->name);
    if (s->password_file != NULL && read_password(s, errp) != 0)
        return -1;
    if (s->topic_count == 0) {
        s->topics[s->topic_count++] = xstrdup("meshcore/+/+/packets");
        s->topics[s->topic_count++] = xstrdup("meshcore/+/+/status");
    }
    if (s->client_id == NULL)
        s->client_id = xasprintf("meshscope-%s", s->name);
    return 0;
}

static struct source_config *new_source(struct bridge_config *c, const char *name, char **errp)
{
    if (!name_ok(name))
        return set_error(errp, "section [source NAME]: NAME must be 1-64 of A-Z a-z 0-9 - _ ."),
               NULL;
    for (int i = 0; i < c->source_count; i++) {
        if (strcmp(c->sources[i].name, name) == 0)
            return set_error(errp, "source '%s' defined twice", name), NULL;
    }
    if (c->source_count == CONFIG_MAX_SOURCES)
        return set_error(errp, "more than %d sources", CONFIG_MAX_SOURCES), NULL;
    struct source_config *s = &c->sources[c->source_count++];
    s->name = xstrdup(name);
    s->qos = 1;
    return s;
}

static int config_line(struct bridge_config *c, struct source_config **cur, char *line,
                       char **errp)
{
    char *t = trim(line);
    if (*t == '\0' || *t == '#' || *t == ';')
        return 0;
    if (*t == '[') {
        char *close = strchr(t, ']');
        if (close == NULL || trim(close + 1)[0] != '\0')
            return set_error(errp, "expected [source NAME]");
        *close = '\0';
        char *inner = trim(t + 1);
        if (strncmp(inner, "source", 6) != 0 || !isspace((unsigned char)inner[6]))
            return set_error(errp, "expected [source NAME]");
        *cur = new_source(c, trim(inner + 6), errp);
        return *cur ? 0 : -1;
    }
    char *eq = strchr(t, '=');
    if (eq == NULL)
        return set_error(errp, "expected KEY = VALUE");
    *eq = '\0';
    if (*cur == NULL)
        return set_error(errp, "'%.40s' outside a [source NAME] section", trim(t));
    return config_set(*cur, trim(t), trim(eq + 1), errp);
}

int config_load(const char *path, struct bridge_config *out, char **errp)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return set_error(errp, "%s: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    int lineno = 0, rc = 0;
    struct source_config *cur = NULL;
    char *err = NULL;
    while (getline(&line, &cap, f) >= 0) {
        lineno++;
        if (strlen(line) > 4096 || config_line(out, &cur, line, &err) != 0) {
            rc = set_error(errp, "%s:%d: %s", path, lineno, err ? err : "line too long");
            break;
        }
    }
    free(line);
    fclose(f);
    free(err);
    if (rc == 0 && out->source_count == 0)
        rc = set_error(errp, "%s: no [source NAME] section", path);
    for (int i = 0; rc == 0 && i < out->source_count; i++) {
        if (config_finish(&out->sources[i], &err) != 0) {
            rc = set_error(errp, "%s: %s", path, err);
            free(err);
        }
    }
    if (rc != 0)
        config_free(out);
    return rc;
}

void config_free(struct bridge_config *c)
{
    for (int i = 0; i < c->source_count; i++) {
        struct source_config *s = &c->sources[i];
        free(s->name);
        free(s->host);
        free(s->ca_file);
        free(s->username);
        free(s->password);
        free(s->password_file);
        free(s->client_id);
        for (int t = 0; t < s->topic_count; t++)
            free(s->topics[t]);
        for (int r = 0; r < s->region_count; r++)
            free(s->regions[r]);
    }
    memset(c, 0, sizeof *c);
}
