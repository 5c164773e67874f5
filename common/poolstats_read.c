/* poolstats_read.c: copying the pool's stats file with pread and summing its latency histograms. */
#include "poolstats_read.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "poolstats_file.h"
#include "util.h"

static int read_all(int fd, struct pool_file *f)
{
    size_t done = 0;
    while (done < sizeof *f) {
        ssize_t n = pread(fd, (char *)f + done, sizeof *f - done, (off_t)done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        done += (size_t)n;
    }
    return 0;
}

static void sum_latency(uint64_t buckets[POOLSTATS_BUCKETS + 1], const struct poolstats_counters *c)
{
    for (int e = 0; e < POOLSTATS_MAX_ENDPOINTS; e++)
        for (int b = 0; b <= POOLSTATS_BUCKETS; b++)
            buckets[b] = poolstats_add_saturating(buckets[b], c->latency[e][b]);
}

/* Copies the file under a bounded shared lock; 0, or -1 with *errp. */
static int copy_file(int fd, const char *path, struct pool_file *f, char **errp)
{
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        return set_error(errp, "stats file %s is not a regular file", path);
    if ((size_t)st.st_size != sizeof *f)
        return set_error(errp, "stats file %s has %lld bytes, not the %zu of this build", path,
                         (long long)st.st_size, sizeof *f);
    int locked = poolstats_flock_bounded(fd, LOCK_SH) == 0;
    int rc = read_all(fd, f);
    if (locked)
        flock(fd, LOCK_UN);
    if (rc != 0)
        return set_error(errp, "cannot read stats file %s: %s", path,
                         errno ? strerror(errno) : "short read");
    if (f->magic != POOLSTATS_MAGIC || f->slot_count != POOLSTATS_SLOTS ||
        f->slot_size != sizeof(struct pool_slot))
        return set_error(errp, "stats file %s has no pool figures of this build", path);
    return 0;
}

int poolstats_read_latency(const char *path, uint64_t buckets[POOLSTATS_BUCKETS + 1], char **errp)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return set_error(errp, "cannot open stats file %s: %s", path, strerror(errno));
    struct pool_file *f = xcalloc(1, sizeof *f);
    errno = 0;
    int rc = copy_file(fd, path, f, errp);
    close(fd);
    if (rc == 0) {
        memset(buckets, 0, sizeof(uint64_t) * (POOLSTATS_BUCKETS + 1));
        sum_latency(buckets, &f->retired);
        for (int i = 0; i < POOLSTATS_SLOTS; i++)
            if (f->slots[i].pid != 0)
                sum_latency(buckets, &f->slots[i].c);
    }
    free(f);
    return rc;
}
