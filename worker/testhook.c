/* testhook.c: test-only pauses at named points (MESHSCOPE_TEST_PAUSE), so tests can stop a process in a known phase without timing luck. */
#include "testhook.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "util.h"

#define TESTHOOK_NAME_MAX 32

struct testhook_point {
    char name[TESTHOOK_NAME_MAX + 1];
    int64_t ms;
};

/* Written only before threads start (testhook_init), read-only afterwards. */
static struct testhook_point points[TESTHOOK_MAX_POINTS];
static size_t npoints;

int testhook_configure(const char *spec, char **errp)
{
    struct testhook_point parsed[TESTHOOK_MAX_POINTS] = {0};
    size_t n = 0;
    const char *p = spec != NULL ? spec : "";
    while (*p != '\0') {
        const char *end = strchr(p, ',');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        if (eq == NULL || eq == p || (size_t)(eq - p) > TESTHOOK_NAME_MAX)
            return set_error(errp, "%s: expected point=ms[,point=ms...]", TESTHOOK_ENV);
        if (n == TESTHOOK_MAX_POINTS)
            return set_error(errp, "%s: at most %d points", TESTHOOK_ENV, TESTHOOK_MAX_POINTS);
        char number[24];
        size_t number_len = len - (size_t)(eq + 1 - p);
        if (number_len == 0 || number_len >= sizeof number)
            return set_error(errp, "%s: expected a number of ms after '='", TESTHOOK_ENV);
        memcpy(number, eq + 1, number_len);
        number[number_len] = '\0';
        if (parse_int64(number, 0, TESTHOOK_MAX_MS, TESTHOOK_ENV, &parsed[n].ms, errp) != 0)
            return -1;
        memcpy(parsed[n].name, p, (size_t)(eq - p));
        parsed[n].name[eq - p] = '\0';
        n++;
        p = end != NULL ? end + 1 : p + len;
    }
    memcpy(points, parsed, n * sizeof parsed[0]);
    npoints = n;
    return 0;
}

int testhook_init(char **errp)
{
    if (testhook_configure(getenv(TESTHOOK_ENV), errp) != 0)
        return -1;
    for (size_t i = 0; i < npoints; i++)
        log_warnx("test hook: %s set: every time it reaches %s this process pauses %" PRId64
                 " ms (for tests only)",
                 TESTHOOK_ENV, points[i].name, points[i].ms);
    return 0;
}

int64_t testhook_pause_ms(const char *point)
{
    for (size_t i = 0; i < npoints; i++) {
        if (strcmp(points[i].name, point) == 0)
            return points[i].ms;
    }
    return 0;
}

void testhook_pause(const char *point)
{
    int64_t ms = testhook_pause_ms(point);
    if (ms <= 0)
        return;
    log_info("test hook: pausing %" PRId64 " ms at %s", ms, point);
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}
