/* migration.c: the calls a migration's run function makes back into its environment. */
#include "migration.h"

#include <time.h>

#include "util.h"

int migration_report(const struct migration_env *env, int64_t processed, int64_t total,
                     int final, char **errp)
{
    if (env->progress == NULL)
        return 0;
    struct migration_progress progress = {processed, total, final};
    if (env->progress(env->progress_arg, &progress, errp) != 0) {
        if (errp != NULL && *errp == NULL)
            set_error(errp, "progress report failed");
        return -1;
    }
    return 0;
}

int migration_between(const struct migration_env *env, struct migration_params *params,
                      char **errp)
{
    if (env->between != NULL)
        return env->between(env->between_arg, params, errp);
    int64_t ms = params->yield_ms;
    if (ms <= 0)
        return 0;
    if (env->cancel != NULL) {
        int64_t end = clock_monotonic_ms() + ms;
        for (int64_t now = clock_monotonic_ms(); now < end; now = clock_monotonic_ms())
            if (migration_cancel_wait(env->cancel, end - now))
                break;
        return 0;
    }
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
    return 0;
}
