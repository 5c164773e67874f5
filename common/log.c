/* log.c: writes "TIME LEVEL component: message" lines to stderr. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

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

enum log_level log_get_level(void)
{
    return log_threshold;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    if (level > log_threshold)
        return;

    struct timespec now;
    struct tm tm;
    char stamp[32];
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);

    /* Format into one buffer so concurrent threads never interleave halves of lines. */
    char line[2048];
    int used = snprintf(line, sizeof line, "%s.%03ldZ %-5s %s: ", stamp,
                        now.tv_nsec / 1000000L, log_level_names[level], log_component);
    va_list ap;
    va_start(ap, fmt);
    if (used > 0 && (size_t)used < sizeof line)
        vsnprintf(line + used, sizeof line - (size_t)used, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s\n", line);
}
