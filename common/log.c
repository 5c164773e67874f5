/* log.c: writes "TIME LEVEL component: message" lines to stderr. */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define LOG_LINE_MAX 2048

static const char *log_component = "meshscope";
static enum log_level log_threshold = LOG_LEVEL_INFO;

static const char *const log_level_names[] = {"error", "warn", "info", "debug"};

void log_init(const char *component, enum log_level level)
{
    log_component = component;
    log_threshold = level;
}

int log_level_parse(const char *name, enum log_level *level)
{
    for (size_t i = 0; i < sizeof log_level_names / sizeof log_level_names[0]; i++) {
        if (strcmp(name, log_level_names[i]) == 0) {
            *level = (enum log_level)i;
            return 0;
        }
    }
    return -1;
}

/* Copies `text` into out (size >= 1), writing control bytes as \xHH; truncates. */
static void log_escape(const char *text, char *out, size_t size)
{
    static const char hex[] = "0123456789abcdef";
    size_t used = 0;
    for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++) {
        int control = *p < 0x20 || *p == 0x7f;
        size_t need = control ? 4 : 1;
        if (used + need >= size)
            break;
        if (control) {
            out[used++] = '\\';
            out[used++] = 'x';
            out[used++] = hex[*p >> 4];
            out[used++] = hex[*p & 0x0f];
        } else {
            out[used++] = (char)*p;
        }
    }
    out[used] = '\0';
}

static void log_write(enum log_level level, const char *message, const char *suffix)
{
    struct timespec now;
    struct tm tm;
    char stamp[32];
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);

    char escaped[LOG_LINE_MAX];
    log_escape(message, escaped, sizeof escaped);
    /* One fprintf per line so concurrent threads never interleave halves of lines. */
    fprintf(stderr, "%s.%03ldZ %-5s %s: %s%s%s\n", stamp, now.tv_nsec / 1000000L,
            log_level_names[level], log_component, escaped, suffix ? ": " : "",
            suffix ? suffix : "");
}

static void log_vmsg(enum log_level level, const char *suffix, const char *fmt, va_list ap)
{
    char message[LOG_LINE_MAX];
    vsnprintf(message, sizeof message, fmt, ap);
    log_write(level, message, suffix);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    if (level > log_threshold)
        return;
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(level, NULL, fmt, ap);
    va_end(ap);
}

void log_msg_errno(enum log_level level, const char *fmt, ...)
{
    int saved_errno = errno;
    if (level > log_threshold)
        return;
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(level, strerror(saved_errno), fmt, ap);
    va_end(ap);
}
