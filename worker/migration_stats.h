/* migration_stats.h: every batch's writer hold, and the --stats-json file written when the migrations stop. */
#ifndef MESHSCOPE_MIGRATION_STATS_H
#define MESHSCOPE_MIGRATION_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "migration.h"

/* Every batch's writer hold, kept only when a stats file was asked for. */
struct migration_holds {
    int64_t *us;
    size_t len, cap;
};
void migration_holds_add(struct migration_holds *holds, int64_t hold_us);
void migration_holds_release(struct migration_holds *holds);

/* What one migration of a pass did. */
struct migration_stat {
    const char *name;
    const char *status; /* the stored status it was left in */
    struct migration_result result;
    struct migration_holds holds;
};

/*
 * Writes {"migrations": [...]}: per migration its status, rows, batches,
 * wall, yield and work time and every batch's hold in ms. Written to a
 * temporary name and renamed, so a reader never sees half a file.
 */
int migration_stats_write(const char *path, const struct migration_stat *stats, size_t count,
                          char **errp);

#endif
