/* migration_cancel.h: a stop request shared by the thread that stops the worker and a migration's thread. */
#ifndef MESHSCOPE_MIGRATION_CANCEL_H
#define MESHSCOPE_MIGRATION_CANCEL_H

#include <pthread.h>
#include <stdint.h>

/*
 * A flag plus a condition variable, so a yield ends the moment a stop is
 * requested rather than when its sleep runs out.
 */
struct migration_cancel {
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    int requested;
    unsigned wakes; /* bumped by migration_cancel_wake */
};
void migration_cancel_init(struct migration_cancel *cancel);
void migration_cancel_destroy(struct migration_cancel *cancel);
void migration_cancel_request(struct migration_cancel *cancel);
int migration_cancel_requested(struct migration_cancel *cancel);
/* Sleeps up to ms; returns 1 at once (or as soon as requested) when cancelled, else 0. */
int migration_cancel_wait(struct migration_cancel *cancel, int64_t ms);
/* Wakes a migration_cancel_wait early without cancelling (it returns 0). */
void migration_cancel_wake(struct migration_cancel *cancel);

#endif
