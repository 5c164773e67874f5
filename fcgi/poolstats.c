/* poolstats.c: the shared stats file (one slot per responder, claimed by OFD byte-range locks) and its readers. */
#include "poolstats.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mapping_guard.h"
#include "poolstats_file.h"
#include "log.h"
#include "util.h"

struct poolstats {
    int fd;                 /* -1 when private (or the file was lost) */
    struct pool_file *file; /* mapped, shared or anonymous */
    int guard;              /* mapping_guard handle, -1 when not shared */
    int own_slot;           /* -1 for an observer */
    int endpoint_count;
    int64_t rss_refreshed_ms;
};

static uint64_t load(const uint64_t *p)
{
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static void add(uint64_t *p, uint64_t v)
{
    __atomic_fetch_add(p, v, __ATOMIC_RELAXED);
}

/* Reads this process's resident set size from /proc/self/statm; 0 when unknown. */
static uint64_t rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL)
        return 0;
    unsigned long long size = 0, resident = 0;
    int n = fscanf(f, "%llu %llu", &size, &resident);
    fclose(f);
    long page = sysconf(_SC_PAGESIZE);
    return n == 2 && page > 0 ? (uint64_t)resident * (uint64_t)page : 0;
}

static uint64_t layout_hash(const char *layout_name, int endpoint_count)
{
    /* FNV-1a over everything that gives the bytes their meaning. */
    uint64_t h = 1469598103934665603ULL;
    char extra[128];
    snprintf(extra, sizeof extra, "|%d|%zu|%zu|%d|%d", endpoint_count, sizeof(struct pool_file),
             sizeof(struct pool_slot), POOLSTATS_BUCKETS, POOLSTATS_CLASSES);
    for (const char *s = layout_name; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    for (const char *s = extra; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    for (int i = 0; i < POOLSTATS_BUCKETS; i++)
        h = (h ^ poolstats_bucket_bounds_us[i]) * 1099511628211ULL;
    return h;
}

static off_t slot_offset(int slot)
{
    return (off_t)(offsetof(struct pool_file, slots) + (size_t)slot * sizeof(struct pool_slot));
}

/* Open-file-description locks: owned by this open file, dropped by the kernel when the owner dies. */
static int slot_lock(int fd, int slot, int cmd, short type, pid_t *holder)
{
    struct flock fl = {
        .l_type = type,
        .l_whence = SEEK_SET,
        .l_start = slot_offset(slot),
        .l_len = (off_t)sizeof(struct pool_slot),
    };
    if (fcntl(fd, cmd, &fl) != 0)
        return -1;
    if (holder != NULL)
        *holder = fl.l_type == F_UNLCK ? 0 : fl.l_pid;
    return 0;
}

static int slot_is_held(int fd, int slot)
{
    pid_t holder = 0;
    if (slot_lock(fd, slot, F_OFD_GETLK, F_WRLCK, &holder) != 0)
        return 0;
    return holder != 0;
}

static int any_slot_held(int fd)
{
    for (int i = 0; i < POOLSTATS_SLOTS; i++) {
        if (slot_is_held(fd, i))
            return 1;
    }
    return 0;
}

/* Sums saturate: the file is input anyone with write access chooses, and totals must never wrap. */
static void counters_add(struct poolstats_counters *into, const struct poolstats_counters *from,
                         int atomic_into)
{
    const uint64_t *src = (const uint64_t *)from;
    uint64_t *dst = (uint64_t *)into;
    for (size_t i = 0; i < sizeof *from / sizeof(uint64_t); i++) {
        uint64_t sum = poolstats_add_saturating(load(&dst[i]), load(&src[i]));
        if (atomic_into)
            __atomic_store_n(&dst[i], sum, __ATOMIC_RELAXED); /* readers may be summing */
        else
            dst[i] = sum;
    }
}

static int valid_header(const struct pool_file *f, uint64_t layout)
{
    return f->magic == POOLSTATS_MAGIC && f->layout == layout && f->slot_count == POOLSTATS_SLOTS &&
           f->slot_size == sizeof(struct pool_slot);
}

static void claim_slot(struct poolstats *ps, int slot)
{
    struct pool_slot *s = &ps->file->slots[slot];
    /* A previous owner died holding this slot: keep its counts in the pool's totals. */
    if (s->pid != 0)
        counters_add(&ps->file->retired, &s->c, 1);
    memset(s, 0, sizeof *s);
    s->started_ms = clock_realtime_ms();
    s->rss_bytes = rss_bytes();
    __atomic_store_n(&s->pid, (int32_t)getpid(), __ATOMIC_RELEASE);
    ps->own_slot = slot;
}

/*
 * O_NOFOLLOW and the owner check keep another user from steering us into
 * their file; O_NONBLOCK keeps a FIFO put at the path from hanging the open.
 */
static int open_file(const char *path, int member, int *fd_out, char **errp)
{
    /* Group-readable: the worker's user reads the pool's latency from it (docs/operations.md). */
    int fd = open(path, (member ? O_RDWR | O_CREAT : O_RDONLY) | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK,
                  0640);
    if (fd < 0)
        return set_error(errp, "cannot open stats file %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
        close(fd);
        return set_error(errp, "stats file %s is not a regular file owned by this user", path);
    }
    if (member)
        (void)fchmod(fd, 0640); /* a file made before it was group-readable */
    *fd_out = fd;
    return 0;
}

static struct pool_file *map(int fd, int writable)
{
    void *p = mmap(NULL, sizeof(struct pool_file), writable ? PROT_READ | PROT_WRITE : PROT_READ,
                   MAP_SHARED, fd, 0);
    return p == MAP_FAILED ? NULL : p;
}

/* Sizes the file with every page allocated, so a full tmpfs is an error now, never a SIGBUS later. */
static int reserve(int fd, const char *path, int fresh, char **errp)
{
    if (fresh && (ftruncate(fd, 0) != 0 || ftruncate(fd, (off_t)sizeof(struct pool_file)) != 0))
        return set_error(errp, "cannot size stats file %s: %s", path, strerror(errno));
    int rc = posix_fallocate(fd, 0, (off_t)sizeof(struct pool_file));
    if (rc != 0)
        return set_error(errp, "cannot reserve stats file %s: %s", path, strerror(rc));
    return 0;
}

/* Maps the file under the flock, (re)initialising it when a member finds no usable header. */
static int map_file(struct poolstats *ps, const char *path, int member, uint64_t layout,
                    char **errp)
{
    struct stat st;
    if (fstat(ps->fd, &st) != 0)
        return set_error(errp, "cannot stat stats file %s: %s", path, strerror(errno));
    int fresh = (size_t)st.st_size != sizeof(struct pool_file);
    if (!fresh && (ps->file = map(ps->fd, member)) != NULL && !valid_header(ps->file, layout))
        fresh = 1;
    if (fresh && !member)
        return set_error(errp, "stats file %s has no pool figures of this build", path);
    /* Another build's responders may still be writing it; never pull the file from under them. */
    if (fresh && any_slot_held(ps->fd))
        return set_error(errp, "stats file %s is in use by responders of another build", path);
    if (fresh && ps->file != NULL) {
        munmap(ps->file, sizeof *ps->file);
        ps->file = NULL;
    }
    if (member && reserve(ps->fd, path, fresh, errp) != 0)
        return -1;
    if (ps->file == NULL && (ps->file = map(ps->fd, member)) == NULL)
        return set_error(errp, "cannot map stats file %s: %s", path, strerror(errno));
    if (fresh) {
        ps->file->layout = layout;
        ps->file->slot_count = POOLSTATS_SLOTS;
        ps->file->slot_size = sizeof(struct pool_slot);
        __atomic_store_n(&ps->file->magic, POOLSTATS_MAGIC, __ATOMIC_RELEASE);
    }
    return 0;
}

static int claim_free_slot(struct poolstats *ps, const char *path, char **errp)
{
    for (int i = 0; i < POOLSTATS_SLOTS; i++) {
        if (slot_lock(ps->fd, i, F_OFD_SETLK, F_WRLCK, NULL) == 0) {
            claim_slot(ps, i);
            return 0;
        }
    }
    return set_error(errp, "stats file %s: all %d slots are held by live responders", path,
                     POOLSTATS_SLOTS);
}

static void release(struct poolstats *ps)
{
    mapping_guard_remove(ps->guard);
    if (ps->file != NULL) {
        munmap(ps->file, sizeof *ps->file);
        ps->file = NULL;
    }
    if (ps->fd >= 0)
        close(ps->fd); /* drops the slot lock; the next claimer folds our counts */
    ps->fd = -1;
}

int poolstats_open(const char *path, enum poolstats_role role, int endpoint_count,
                   const char *layout_name, struct poolstats **out, char **errp)
{
    if (endpoint_count > POOLSTATS_MAX_ENDPOINTS)
        return set_error(errp, "%d endpoints exceed POOLSTATS_MAX_ENDPOINTS", endpoint_count);
    int member = role == POOLSTATS_MEMBER;
    struct poolstats *ps = xcalloc(1, sizeof *ps);
    ps->guard = -1;
    ps->own_slot = -1;
    ps->endpoint_count = endpoint_count;
    if (open_file(path, member, &ps->fd, errp) != 0) {
        free(ps);
        return -1;
    }
    /* flock serialises claims and folding; readers take it shared while they sum. */
    if (poolstats_flock_bounded(ps->fd, member ? LOCK_EX : LOCK_SH) != 0) {
        set_error(errp, "cannot lock stats file %s: %s", path, strerror(errno));
        goto err;
    }
    if (map_file(ps, path, member, layout_hash(layout_name, endpoint_count), errp) != 0)
        goto err;
    if ((ps->guard = mapping_guard_add(ps->file, sizeof *ps->file)) < 0) {
        set_error(errp, "stats file %s: too many shared mappings in one process", path);
        goto err;
    }
    if (member && claim_free_slot(ps, path, errp) != 0)
        goto err;
    flock(ps->fd, LOCK_UN);
    ps->rss_refreshed_ms = clock_monotonic_ms();
    *out = ps;
    return 0;

err:
    release(ps);
    free(ps);
    return -1;
}

static struct pool_file *anonymous_file(void)
{
    void *p = mmap(NULL, sizeof(struct pool_file), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        abort(); /* as xcalloc would on a failed allocation */
    return p;
}

struct poolstats *poolstats_open_private(int endpoint_count)
{
    struct poolstats *ps = xcalloc(1, sizeof *ps);
    ps->fd = -1;
    ps->guard = -1;
    ps->endpoint_count = endpoint_count;
    ps->file = anonymous_file();
    claim_slot(ps, 0);
    ps->rss_refreshed_ms = clock_monotonic_ms();
    return ps;
}

/*
 * Someone truncated the shared file and the guard put zero pages in its
 * place: from now on this process reports its own figures, as without a file.
 */
static void check_lost(struct poolstats *ps)
{
    if (!mapping_guard_lost(ps->guard))
        return;
    log_warnx("stats file was truncated under this responder: reporting its own figures only");
    mapping_guard_remove(ps->guard);
    ps->guard = -1;
    close(ps->fd);
    ps->fd = -1;
    if (ps->own_slot >= 0)
        claim_slot(ps, 0);
}

void poolstats_close(struct poolstats *ps)
{
    if (ps == NULL)
        return;
    release(ps);
    free(ps);
}

static int status_class(int status)
{
    int c = status / 100 - 2;
    return c < 0 ? 0 : c >= POOLSTATS_CLASSES ? POOLSTATS_CLASSES - 1 : c;
}

void poolstats_record(struct poolstats *ps, int endpoint, int status, int64_t latency_us)
{
    if (ps == NULL || ps->own_slot < 0 || endpoint < 0 || endpoint >= ps->endpoint_count)
        return;
    check_lost(ps);
    struct pool_slot *s = &ps->file->slots[ps->own_slot];
    uint64_t us = latency_us > 0 ? (uint64_t)latency_us : 0;
    int bucket = 0;
    while (bucket < POOLSTATS_BUCKETS && us > poolstats_bucket_bounds_us[bucket])
        bucket++;
    add(&s->c.latency[endpoint][bucket], 1);
    add(&s->c.latency_sum_us[endpoint], us);
    add(&s->c.requests[endpoint][status_class(status)], 1);
    add(&s->requests, 1);
}

void poolstats_refresh_rss(struct poolstats *ps)
{
    if (ps == NULL || ps->own_slot < 0)
        return;
    int64_t now = clock_monotonic_ms();
    if (now - ps->rss_refreshed_ms < 1000)
        return;
    ps->rss_refreshed_ms = now;
    check_lost(ps);
    __atomic_store_n(&ps->file->slots[ps->own_slot].rss_bytes, rss_bytes(),
                     __ATOMIC_RELAXED);
}

/* One live responder's line, every value range-checked: the slot holds whatever was written there. */
static void describe(const struct pool_slot *s, int slot, int self, int32_t pid, int64_t now_ms,
                     struct poolstats_responder *r)
{
    r->slot = slot;
    r->pid = pid;
    r->self = self;
    int64_t started = __atomic_load_n(&s->started_ms, __ATOMIC_RELAXED);
    r->uptime_sec = started > 0 && now_ms > started ? (double)(now_ms - started) / 1000.0 : 0.0;
    uint64_t rss = self ? rss_bytes() : load(&s->rss_bytes);
    uint64_t requests = load(&s->requests);
    r->rss_bytes = rss > (uint64_t)INT64_MAX ? (uint64_t)INT64_MAX : rss;
    r->requests = requests > (uint64_t)INT64_MAX ? (uint64_t)INT64_MAX : requests;
}

void poolstats_snapshot(struct poolstats *ps, struct poolstats_snapshot *out)
{
    check_lost(ps);
    memset(out, 0, sizeof *out);
    out->shared = ps->fd >= 0;
    out->own_slot = ps->own_slot;
    int64_t now = clock_realtime_ms();
    /*
     * Shared: a claimer folding a dead slot into `retired` must not be seen
     * half-way. Past the bound, the sums are read anyway: a fold caught
     * mid-way miscounts one snapshot, a request stuck on the lock would be worse.
     */
    int locked = ps->fd >= 0 && poolstats_flock_bounded(ps->fd, LOCK_SH) == 0;
    counters_add(&out->totals, &ps->file->retired, 0);
    for (int i = 0; i < POOLSTATS_SLOTS; i++) {
        struct pool_slot *s = &ps->file->slots[i];
        int32_t pid = __atomic_load_n(&s->pid, __ATOMIC_ACQUIRE);
        if (pid == 0)
            continue;
        counters_add(&out->totals, &s->c, 0);
        int self = i == ps->own_slot;
        if (!self && (ps->fd < 0 || !slot_is_held(ps->fd, i)))
            continue; /* dead: its counts stay in the totals, it is not listed */
        describe(s, i, self, pid, now, &out->responders[out->responder_count++]);
    }
    if (locked)
        flock(ps->fd, LOCK_UN);
}
