/* job_clock.c: accrual of active, paused and throttled time, and the sliding-window recent rate. */
#include "job_clock.h"

#include <string.h>

void job_clock_start(struct job_clock *clock, int64_t now_ms)
{
    memset(clock, 0, sizeof *clock);
    clock->mode = JOB_ACTIVE;
    clock->since_ms = now_ms;
}

void job_clock_update(struct job_clock *clock, int64_t now_ms)
{
    int64_t dt = now_ms - clock->since_ms;
    clock->since_ms = now_ms;
    if (dt <= 0)
        return; /* a clock that went back adds nothing */
    switch (clock->mode) {
    case JOB_ACTIVE: clock->active_ms += dt; break;
    case JOB_PAUSED: clock->paused_ms += dt; break;
    case JOB_THROTTLED: clock->throttled_ms += dt; break;
    }
}

void job_clock_set_mode(struct job_clock *clock, enum job_mode mode, int64_t now_ms)
{
    job_clock_update(clock, now_ms);
    clock->mode = mode;
}

static struct job_clock_sample *sample_at(struct job_clock *clock, int i)
{
    return &clock->samples[(clock->first + i) % JOB_CLOCK_SAMPLES];
}

void job_clock_sample(struct job_clock *clock, int64_t processed, int64_t now_ms)
{
    job_clock_update(clock, now_ms);
    struct job_clock_sample s = {clock->active_ms, processed};
    if (clock->count > 1 &&
        s.active_ms - sample_at(clock, clock->count - 2)->active_ms < JOB_CLOCK_SAMPLE_SPACING_MS) {
        *sample_at(clock, clock->count - 1) = s;
    } else if (clock->count < JOB_CLOCK_SAMPLES) {
        *sample_at(clock, clock->count++) = s;
    } else {
        clock->first = (clock->first + 1) % JOB_CLOCK_SAMPLES;
        *sample_at(clock, clock->count - 1) = s;
    }
    /* Keep one sample at or before the window's start, so the window is full. */
    while (clock->count > 2 &&
           s.active_ms - sample_at(clock, 1)->active_ms >= JOB_CLOCK_RECENT_WINDOW_MS) {
        clock->first = (clock->first + 1) % JOB_CLOCK_SAMPLES;
        clock->count--;
    }
}

void job_clock_restart_recent(struct job_clock *clock)
{
    if (clock->count == 0)
        return;
    struct job_clock_sample newest = *sample_at(clock, clock->count - 1);
    clock->first = 0;
    clock->count = 1;
    clock->samples[0] = newest;
}

double job_clock_recent_rate(const struct job_clock *clock)
{
    if (clock->count < 2)
        return 0.0;
    const struct job_clock_sample *oldest = &clock->samples[clock->first];
    const struct job_clock_sample *newest =
        &clock->samples[(clock->first + clock->count - 1) % JOB_CLOCK_SAMPLES];
    int64_t span = newest->active_ms - oldest->active_ms;
    if (span < JOB_CLOCK_RECENT_MIN_MS || newest->processed < oldest->processed)
        return 0.0;
    return (double)(newest->processed - oldest->processed) * 1000.0 / (double)span;
}
