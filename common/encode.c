/* encode.c: UTF-8 checking and repair, finite JSON numbers, Prometheus escaping. */
#include "encode.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"
#include "util.h"

char *encode_utf8_sanitize(const char *s)
{
    if (s == NULL)
        return xstrdup("");
    size_t len = strlen(s);
    /* Each bad byte becomes three bytes of U+FFFD. */
    char *out = xmalloc(len * 3 + 1);
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, o = 0;
    while (i < len) {
        size_t n = utf8_sequence_len(p + i, len - i);
        if (n == 0) {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
        } else {
            memcpy(out + o, p + i, n);
            o += n;
            i += n;
        }
    }
    out[o] = '\0';
    return out;
}

struct json_object *encode_json_string(const char *s)
{
    if (s == NULL)
        return NULL;
    if (utf8_valid(s, strlen(s)))
        return json_object_new_string(s);
    char *clean = encode_utf8_sanitize(s);
    struct json_object *obj = json_object_new_string(clean);
    free(clean);
    return obj;
}

double encode_finite(double v)
{
    return isfinite(v) ? v : 0.0;
}

struct json_object *encode_json_number(double v)
{
    v = encode_finite(v);
    char buf[64];
    if (fabs(v) < 1e15) {
        snprintf(buf, sizeof buf, "%.3f", v);
        /* Trim "12.500" to "12.5" and "3.000" to "3". */
        char *end = buf + strlen(buf) - 1;
        while (*end == '0')
            *end-- = '\0';
        if (*end == '.')
            *end = '\0';
        if (strcmp(buf, "-0") == 0)
            strcpy(buf, "0");
    } else {
        snprintf(buf, sizeof buf, "%.17g", v);
    }
    return json_object_new_double_s(v, buf);
}

void encode_prom_value(FILE *out, double v)
{
    v = encode_finite(v);
    if (v == floor(v) && fabs(v) < 1e15) {
        fprintf(out, "%.0f", v);
        return;
    }
    /* The shortest form that reads back as the same double: 0.0125, not 0.012500000000000001. */
    char buf[32];
    for (int precision = 15; precision <= 17; precision++) {
        snprintf(buf, sizeof buf, "%.*g", precision, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    fputs(buf, out);
}

void encode_prom_label(FILE *out, const char *s)
{
    char *clean = encode_utf8_sanitize(s);
    for (const char *p = clean; *p; p++) {
        switch (*p) {
        case '\\': fputs("\\\\", out); break;
        case '"': fputs("\\\"", out); break;
        case '\n': fputs("\\n", out); break;
        default: fputc(*p, out); break;
        }
    }
    free(clean);
}
