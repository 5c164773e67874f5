/* timefmt.c: strict parsing of the timestamp formats the schema promises readers. */
#include "timefmt.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "util.h"

static int digits(const char *s, int count, int *out)
{
    int value = 0;
    for (int i = 0; i < count; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        value = value * 10 + (s[i] - '0');
    }
    *out = value;
    return 0;
}

static int days_in_month(int year, int month)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return month == 2 && leap ? 29 : days[month - 1];
}

int timefmt_parse(const char *text, int64_t *epoch_out, char **errp)
{
    if (text == NULL)
        return set_error(errp, "timestamp is missing");

    size_t len = strlen(text);
    int rfc3339 = len == 20 && text[10] == 'T' && text[19] == 'Z';
    int sqlite_form = len == 19 && text[10] == ' ';
    int year, month, day, hour, minute, second;
    if ((!rfc3339 && !sqlite_form) || text[4] != '-' || text[7] != '-' || text[13] != ':' ||
        text[16] != ':' || digits(text, 4, &year) || digits(text + 5, 2, &month) ||
        digits(text + 8, 2, &day) || digits(text + 11, 2, &hour) ||
        digits(text + 14, 2, &minute) || digits(text + 17, 2, &second))
        return set_error(errp, "unparseable timestamp '%.40s'", text);
    if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) || hour > 23 ||
        minute > 59 || second > 60)
        return set_error(errp, "timestamp out of range '%.40s'", text);

    struct tm tm = {0};
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = minute;
    tm.tm_sec = second;
    int64_t epoch = (int64_t)timegm(&tm);
    /* Second 60 rolls over; past 9999-12-31 the value could not be written back in four digits. */
    if (epoch < TIMEFMT_MIN_EPOCH || epoch > TIMEFMT_MAX_EPOCH)
        return set_error(errp, "unparseable timestamp '%.40s'", text);
    *epoch_out = epoch;
    return 0;
}

int timefmt_rfc3339(int64_t epoch, char *buf)
{
    buf[0] = '\0';
    if (epoch < TIMEFMT_MIN_EPOCH || epoch > TIMEFMT_MAX_EPOCH)
        return -1;
    time_t t = (time_t)epoch;
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL)
        return -1;
    /* %Y would not pad years before 1000; RFC 3339 wants exactly four digits. */
    int n = snprintf(buf, TIMEFMT_RFC3339_LEN, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    if (n != TIMEFMT_RFC3339_LEN - 1) {
        buf[0] = '\0';
        return -1;
    }
    return 0;
}
