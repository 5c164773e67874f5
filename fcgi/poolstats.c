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

#include "util.h"

#define POOLSTATS_MAGIC 0x3174617473687365ULL /* "eshstat1" */

const uint64_t poolstats_bucket_bounds_us[POOLSTATS_BUCKETS] = {
    25,    50,    100,    250,    500,    1000,    2500,    5000,    10000,
    25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000,
};

struct pool_slot {
    int32_t pid;        /* 0: never claimed since the file was made */
    int32_t unused;
    int64_t started_ms; /* wall clock */
    uint64_t rss_bytes;
    uint64_t requests;
    struct poolstats_counters c;
} __attribute__((aligned(64)));

struct pool_file {
    uint64_t magic;     /* written last when the file is initialised */
    uint64_t layout;    /* hash of the layout; a mismatch means another build made the file */
    uint32_t slot_count;
    uint32_t slot_size;
    struct poolstats_counters retired; /* counts of dead responders whose slots were reused */
    struct pool_slot slots[POOLSTATS_SLOTS];
};

struct poolstats {
    int fd;                 /* -1 when private */
    struct pool_file *file; /* mapped */
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

static void counters_add(struct poolstats_counters *into, const struct poolstats_counters *from,
                         int atomic_into)
{
    const uint64_t *src = (const uint64_t *)from;
    uint64_t *dst = (uint64_t *)into;
    for (size_t i = 0; i < sizeof *from / sizeof(uint64_t); i++) {
        if (atomic_into)
            add(&dst[i], load(&src[i]));
        else
            dst[i] += load(&src[i]);
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
    s->rss_bytes = poolstats_rss_bytes();
    __atomic_store_n(&s->pid, (int32_t)getpid(), __ATOMIC_RELEASE);
    ps->own_slot = slot;
}

struct poolstats *poolstats_open(const char *path, enum poolstats_role role, int endpoint_count,
                                 const char *layout_name, char **errp)
{
    if (endpoint_count > POOLSTATS_MAX_ENDPOINTS) {
        set_error(errp, "%d endpoints exceed POOLSTATS_MAX_ENDPOINTS", endpoint_count);
        return NULL;
    }
    int member = role == POOLSTATS_MEMBER;
    uint64_t layout = layout_hash(layout_name, endpoint_count);
    size_t size = sizeof(struct pool_file);
    /* O_NOFOLLOW and the owner check keep another user from steering us into their file. */
    int fd = open(path, (member ? O_RDWR | O_CREAT : O_RDONLY) | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        set_error(errp, "cannot open stats file %s: %s", path, strerror(errno));
        return NULL;
    }
    struct poolstats *ps = xcalloc(1, sizeof *ps);
    ps->fd = fd;
    ps->own_slot = -1;
    ps->endpoint_count = endpoint_count;
    ps->file = MAP_FAILED;

    /* flock serialises claims and folding; readers take it shared while they sum. */
    if (flock(fd, member ? LOCK_EX : LOCK_SH) != 0) {
        set_error(errp, "cannot lock stats file %s: %s", path, strerror(errno));
        goto err;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
        set_error(errp, "stats file %s is not a regular file owned by this user", path);
        goto err;
    }
    int fresh = (size_t)st.st_size != size;
    ps->file = mmap(NULL, size, member ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd, 0);
    if (!fresh && ps->file != MAP_FAILED && !valid_header(ps->file, layout))
        fresh = 1;
    if (fresh) {
        if (!member) {
            set_error(errp, "stats file %s has no pool figures of this build", path);
            goto err;
        }
        /* Another build's responders may still be writing it; never pull the file from under them. */
        if (any_slot_held(fd)) {
            set_error(errp, "stats file %s is in use by responders of another build", path);
            goto err;
        }
        if (ps->file != MAP_FAILED)
            munmap(ps->file, size);
        if (ftruncate(fd, 0) != 0 || ftruncate(fd, (off_t)size) != 0) {
            set_error(errp, "cannot size stats file %s: %s", path, strerror(errno));
            ps->file = MAP_FAILED;
            goto err;
        }
        ps->file = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (ps->file != MAP_FAILED) {
            ps->file->layout = layout;
            ps->file->slot_count = POOLSTATS_SLOTS;
            ps->file->slot_size = sizeof(struct pool_slot);
            __atomic_store_n(&ps->file->magic, POOLSTATS_MAGIC, __ATOMIC_RELEASE);
        }
    }
    if (ps->file == MAP_FAILED) {
        set_error(errp, "cannot map stats file %s: %s", path, strerror(errno));
        goto err;
    }
    if (member) {
        for (int i = 0; i < POOLSTATS_SLOTS && ps->own_slot < 0; i++) {
            if (slot_lock(fd, i, F_OFD_SETLK, F_WRLCK, NULL) == 0)
                claim_slot(ps, i);
        }
        if (ps->own_slot < 0) {
            set_error(errp, "stats file %s: all %d slots are held by live responders", path,
                      POOLSTATS_SLOTS);
            goto err;
        }
    }
    flock(fd, LOCK_UN);
    ps->rss_refreshed_ms = clock_monotonic_ms();
    return ps;

err:
    if (ps->file != MAP_FAILED)
        munmap(ps->file, size);
    close(fd);
    free(ps);
    return NULL;
}

struct poolstats *poolstats_open_private(int endpoint_count)
{
    struct poolstats *ps = xcalloc(1, sizeof *ps);
    ps->fd = -1;
    ps->endpoint_count = endpoint_count;
    ps->file = xcalloc(1, sizeof *ps->file);
    claim_slot(ps, 0);
    ps->rss_refreshed_ms = clock_monotonic_ms();
    return ps;
}

void poolstats_close(struct poolstats *ps)
{
    if (ps == NULL)
        return;
    if (ps->fd >= 0) {
        munmap(ps->file, sizeof *ps->file);
        close(ps->fd); /* drops the slot lock; the next claimer folds our counts */
    } else {
        free(ps->file);
    }
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

uint64_t poolstats_rss_bytes(void)
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

void poolstats_refresh_rss(struct poolstats *ps)
{
    if (ps == NULL || ps->own_slot < 0)
        return;
    int64_t now = clock_monotonic_ms();
    if (now - ps->rss_refreshed_ms < 1000)
        return;
    ps->rss_refreshed_ms = now;
    __atomic_store_n(&ps->file->slots[ps->own_slot].rss_bytes, poolstats_rss_bytes(),
                     __ATOMIC_RELAXED);
}

void poolstats_snapshot(struct poolstats *ps, struct poolstats_snapshot *out)
{
    memset(out, 0, sizeof *out);
    out->shared = ps->fd >= 0;
    out->own_slot = ps->own_slot;
    int64_t now = clock_realtime_ms();
    /* Shared: a claimer folding a dead slot into `retired` must not be seen half-way. */
    if (ps->fd >= 0)
        flock(ps->fd, LOCK_SH);
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
        struct poolstats_responder *r = &out->responders[out->responder_count++];
        r->slot = i;
        r->pid = pid;
        r->self = self;
        int64_t started = __atomic_load_n(&s->started_ms, __ATOMIC_RELAXED);
        r->uptime_sec = now > started ? (double)(now - started) / 1000.0 : 0.0;
        r->rss_bytes = self ? poolstats_rss_bytes() : load(&s->rss_bytes);
        r->requests = load(&s->requests);
    }
    if (ps->fd >= 0)
        flock(ps->fd, LOCK_UN);
}

uint64_t poolstats_endpoint_requests(const struct poolstats_counters *c, int endpoint)
{
    uint64_t n = 0;
    for (int k = 0; k < POOLSTATS_CLASSES; k++)
        n += c->requests[endpoint][k];
    return n;
}

double poolstats_quantile(const uint64_t buckets[POOLSTATS_BUCKETS + 1], double q)
{
    uint64_t total = 0;
    for (int i = 0; i <= POOLSTATS_BUCKETS; i++)
        total += buckets[i];
    if (total == 0 || !(q > 0))
        return 0.0;
    if (q > 1)
        q = 1;
    double rank = q * (double)total;
    uint64_t below = 0;
    for (int i = 0; i < POOLSTATS_BUCKETS; i++) {
        if (buckets[i] > 0 && (double)(below + buckets[i]) >= rank) {
            double lower = i == 0 ? 0.0 : (double)poolstats_bucket_bounds_us[i - 1];
            double upper = (double)poolstats_bucket_bounds_us[i];
            double fraction = (rank - (double)below) / (double)buckets[i];
            return (lower + (upper - lower) * fraction) / 1e6;
        }
        below += buckets[i];
    }
    return (double)poolstats_bucket_bounds_us[POOLSTATS_BUCKETS - 1] / 1e6;
}
