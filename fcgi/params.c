/* params.c: query-string decoding and the validators route tables refer to. */
#include "params.h"

#include <string.h>

#include "encode.h"
#include "utf8.h"
#include "util.h"

int params_percent_decode(const char *in, size_t len, char **out, size_t *out_len, char **errp)
{
    char *buf = xmalloc(len + 1);
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (in[i] == '%') {
            /* Offsets, never the bytes: the input may not be UTF-8. */
            const char *why = len - i < 3 ? "two characters"
                              : hex_digit_value(in[i + 1]) < 0 || hex_digit_value(in[i + 2]) < 0
                                  ? "two hex digits"
                                  : NULL;
            if (why != NULL) {
                free(buf);
                return set_error(errp, "'%%' at byte %zu is not followed by %s", i, why);
            }
            buf[o++] = (char)(hex_digit_value(in[i + 1]) * 16 + hex_digit_value(in[i + 2]));
            i += 2;
        } else if (in[i] == '+') {
            buf[o++] = ' ';
        } else {
            buf[o++] = in[i];
        }
    }
    buf[o] = '\0';
    *out = buf;
    *out_len = o;
    return 0;
}

static int validate_int(const struct param_spec *spec, const char *value, struct param_value *out,
                        char **errp)
{
    const char *p = value;
    if (*p == '-' && spec->min < 0)
        p++;
    if (*p == '\0')
        goto bad;
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            goto bad;
    }
    int64_t v = 0;
    if (parse_int64(value, spec->min, spec->max, spec->name, &v, NULL) != 0)
        goto bad;
    out->present = 1;
    out->i = v;
    return 0;

bad:
    return set_error(errp, "parameter '%s' must be an integer from %lld to %lld", spec->name,
                     (long long)spec->min, (long long)spec->max);
}

int params_validate(const struct param_spec *spec, const char *value, size_t len,
                    struct param_value *out, char **errp)
{
    if (len == 0)
        return set_error(errp, "parameter '%s' is empty", spec->name);
    if (len > spec->max_len)
        return set_error(errp, "parameter '%s' is longer than %zu bytes", spec->name,
                         spec->max_len);
    if (memchr(value, '\0', len) != NULL)
        return set_error(errp, "parameter '%s' contains a NUL byte", spec->name);
    if (!utf8_valid(value, len))
        return set_error(errp, "parameter '%s' is not valid UTF-8", spec->name);
    switch (spec->kind) {
    case PARAM_INT:
        return validate_int(spec, value, out, errp);
    }
    return set_error(errp, "parameter '%s' has no validator", spec->name);
}

static const struct param_spec *find_spec(const struct param_spec *specs, size_t count,
                                          const char *name, size_t name_len, size_t *index)
{
    for (size_t i = 0; i < count; i++) {
        if (strlen(specs[i].name) == name_len && memcmp(specs[i].name, name, name_len) == 0) {
            *index = i;
            return &specs[i];
        }
    }
    return NULL;
}

int params_parse(const char *query, const struct param_spec *specs, size_t count,
                 struct param_value *out, char **errp)
{
    for (size_t i = 0; i < count; i++) {
        out[i].present = 0;
        out[i].i = specs[i].default_value;
    }
    int seen[PARAMS_MAX] = {0};
    int pairs = 0;
    const char *p = query ? query : "";
    while (*p) {
        size_t pair_len = strcspn(p, "&;");
        if (pair_len > 0 && ++pairs > PARAMS_MAX_PAIRS)
            return set_error(errp, "more than %d query parameters", PARAMS_MAX_PAIRS);
        const char *eq = memchr(p, '=', pair_len);
        size_t raw_name_len = eq ? (size_t)(eq - p) : pair_len;
        char *name = NULL;
        size_t name_len = 0;
        size_t index = 0;
        /* A name that does not decode cannot be one we declared: ignore it like any unknown name. */
        if (pair_len > 0 && params_percent_decode(p, raw_name_len, &name, &name_len, NULL) == 0) {
            const struct param_spec *spec = find_spec(specs, count, name, name_len, &index);
            free(name);
            if (spec != NULL) {
                if (seen[index])
                    return set_error(errp, "parameter '%s' is given more than once", spec->name);
                seen[index] = 1;
                const char *raw_value = eq ? eq + 1 : p + pair_len;
                size_t raw_value_len = (size_t)(p + pair_len - raw_value);
                char *value = NULL;
                size_t value_len = 0;
                char *why = NULL;
                if (params_percent_decode(raw_value, raw_value_len, &value, &value_len, &why) != 0) {
                    set_error(errp, "parameter '%s' is badly percent-encoded: %s", spec->name, why);
                    free(why);
                    return -1;
                }
                int rc = params_validate(spec, value, value_len, &out[index], errp);
                free(value);
                if (rc != 0)
                    return -1;
            }
        }
        p += pair_len;
        if (*p)
            p++;
    }
    return 0;
}
