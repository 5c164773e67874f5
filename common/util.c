/* util.c: the small helpers every meshscope component leans on. */
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static void out_of_memory(void)
{
    fputs("meshscope: out of memory\n", stderr);
    abort();
}

void *xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (p == NULL)
        out_of_memory();
    return p;
}

void *xcalloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (p == NULL)
        out_of_memory();
    return p;
}

void *xrealloc(void *ptr, size_t size)
{
    void *p = realloc(ptr, size ? size : 1);
    if (p == NULL)
        out_of_memory();
    return p;
}

char *xstrdup(const char *s)
{
    char *p = strdup(s);
    if (p == NULL)
        out_of_memory();
    return p;
}

static char *xvasprintf(const char *fmt, va_list ap)
{
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        out_of_memory();
    return s;
}

char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = xvasprintf(fmt, ap);
    va_end(ap);
    return s;
}

int set_error(char **errp, const char *fmt, ...)
{
    if (errp != NULL) {
        va_list ap;
        va_start(ap, fmt);
        *errp = xvasprintf(fmt, ap);
        va_end(ap);
    }
    return -1;
}

int parse_int64(const char *text, int64_t min, int64_t max, const char *what,
                int64_t *out, char **errp)
{
    if (text == NULL || *text == '\0')
        return set_error(errp, "%s: expected an integer, got an empty value", what);
    if (strlen(text) > 20)
        return set_error(errp, "%s: value is too long", what);
    for (const char *p = text; *p; p++) {
        if (!((*p >= '0' && *p <= '9') || (p == text && *p == '-' && min < 0)))
            return set_error(errp, "%s: expected a decimal integer", what);
    }
    errno = 0;
    char *end = NULL;
    long long value = strtoll(text, &end, 10);
    if (errno == ERANGE || end == text || *end != '\0')
        return set_error(errp, "%s: integer is out of range", what);
    if (value < min || value > max)
        return set_error(errp, "%s: %lld is out of range [%lld, %lld]", what, value,
                         (long long)min, (long long)max);
    *out = (int64_t)value;
    return 0;
}

static int64_t clock_ms(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t clock_monotonic_ms(void)
{
    return clock_ms(CLOCK_MONOTONIC);
}

int hex_digit_value(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int64_t clock_monotonic_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t clock_realtime_ms(void)
{
    return clock_ms(CLOCK_REALTIME);
}
