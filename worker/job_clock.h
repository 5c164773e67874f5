/* job_clock.h: a job's honest time (active, paused, throttled) and its recent rate over active time. */
#ifndef MESHSCOPE_JOB_CLOCK_H
#define MESHSCOPE_JOB_CLOCK_H

#include <stdint.h>

/* The recent rate covers about this much active time. */
#define JOB_CLOCK_RECENT_WINDOW_MS 30000
/* Below this much active time in the window there is no recent rate yet. */
#define JOB_CLOCK_RECENT_MIN_MS 2000
#define JOB_CLOCK_SAMPLES 512
/* Samples closer together than this replace the newest one. */
#define JOB_CLOCK_SAMPLE_SPACING_MS 100

enum job_mode { JOB_ACTIVE, JOB_PAUSED, JOB_THROTTLED };

struct job_clock_sample {
    int64_t active_ms;
    int64_t processed;
};

/*
 * Active time is the run's wall time minus paused and throttled time. The
 * recent rate is rows per active second between the oldest sample of the last
 * JOB_CLOCK_RECENT_WINDOW_MS of active time and the newest: a window rather
 * than an exponential average, so that once the window has moved past a
 * change of pace the old pace no longer counts at all.
 */
struct job_clock {
    enum job_mode mode;
    int64_t since_ms; /* when the current mode's accrual last ran */
    int64_t active_ms, paused_ms, throttled_ms;
    struct job_clock_sample samples[JOB_CLOCK_SAMPLES];
    int first, count; /* a ring */
};

void job_clock_start(struct job_clock *clock, int64_t now_ms);
/* Accrues the time since the last call to the current mode, then switches. */
void job_clock_set_mode(struct job_clock *clock, enum job_mode mode, int64_t now_ms);
void job_clock_update(struct job_clock *clock, int64_t now_ms);
/* Records the rows processed so far (call after each batch's report). */
void job_clock_sample(struct job_clock *clock, int64_t processed, int64_t now_ms);
/* Forgets the window: after a change of settings the old pace predicts nothing. */
void job_clock_restart_recent(struct job_clock *clock);
/* Rows per active second over the window; 0 while there is no recent rate. */
double job_clock_recent_rate(const struct job_clock *clock);

#endif
