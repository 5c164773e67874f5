/* migration_cancel.c: cancellation with waits on the monotonic clock that a request cuts short. */
#include "migration_cancel.h"

#include <errno.h>
#include <time.h>

void migration_cancel_init(struct migration_cancel *cancel)
{
    pthread_condattr_t attr;
    pthread_mutex_init(&cancel->mutex, NULL);
    pthread_condattr_init(&attr);
    /* Waits are measured on the monotonic clock so a wall-clock step cannot stretch a yield. */
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&cancel->cond, &attr);
    pthread_condattr_destroy(&attr);
    cancel->requested = 0;
    cancel->wakes = 0;
}

void migration_cancel_destroy(struct migration_cancel *cancel)
{
    pthread_cond_destroy(&cancel->cond);
    pthread_mutex_destroy(&cancel->mutex);
}

void migration_cancel_request(struct migration_cancel *cancel)
{
    pthread_mutex_lock(&cancel->mutex);
    cancel->requested = 1;
    pthread_cond_broadcast(&cancel->cond);
    pthread_mutex_unlock(&cancel->mutex);
}

void migration_cancel_wake(struct migration_cancel *cancel)
{
    pthread_mutex_lock(&cancel->mutex);
    cancel->wakes++;
    pthread_cond_broadcast(&cancel->cond);
    pthread_mutex_unlock(&cancel->mutex);
}

int migration_cancel_requested(struct migration_cancel *cancel)
{
    pthread_mutex_lock(&cancel->mutex);
    int requested = cancel->requested;
    pthread_mutex_unlock(&cancel->mutex);
    return requested;
}

int migration_cancel_wait(struct migration_cancel *cancel, int64_t ms)
{
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += ms / 1000;
    deadline.tv_nsec += (ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&cancel->mutex);
    /* A wake (a control command) also ends the wait, so the caller re-reads its state. */
    unsigned wakes = cancel->wakes;
    while (!cancel->requested && cancel->wakes == wakes) {
        if (pthread_cond_timedwait(&cancel->cond, &cancel->mutex, &deadline) == ETIMEDOUT)
            break;
    }
    int requested = cancel->requested;
    pthread_mutex_unlock(&cancel->mutex);
    return requested;
}
