/* test_fcgi_poolstats.c: slots claimed safely in the shared stats file, pool-wide sums, and latency quantiles. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "poolstats.h"
#include "poolstats_file.h"
#include "poolstats_read.h"
#include "util.h"

#define ENDPOINTS 3
#define LAYOUT "/a\n/b\nother\n"

static char dir[] = "/tmp/meshscope-poolstats-XXXXXX";
static int file_seq;

static int setup(void **state)
{
    (void)state;
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char *cmd = xasprintf("rm -rf '%s'", dir);
    int rc = system(cmd);
    free(cmd);
    return rc;
}

static char *fresh_path(void)
{
    return xasprintf("%s/stats-%d", dir, ++file_seq);
}

/* poolstats_open as an expression: the opened statistics, or NULL. */
static struct poolstats *open_ps(const char *path, enum poolstats_role role, const char *layout,
                                 char **errp)
{
    struct poolstats *ps = NULL;
    return poolstats_open(path, role, ENDPOINTS, layout, &ps, errp) == 0 ? ps : NULL;
}

static struct poolstats *member(const char *path)
{
    char *err = NULL;
    struct poolstats *ps = NULL;
    if (poolstats_open(path, POOLSTATS_MEMBER, ENDPOINTS, LAYOUT, &ps, &err) != 0)
        fail_msg("poolstats_open: %s", err);
    return ps;
}

static uint64_t requests(struct poolstats *ps, int endpoint)
{
    struct poolstats_snapshot *snap = xmalloc(sizeof *snap);
    poolstats_snapshot(ps, snap);
    uint64_t n = poolstats_endpoint_requests(&snap->totals, endpoint);
    free(snap);
    return n;
}

static int live(struct poolstats *ps)
{
    struct poolstats_snapshot *snap = xmalloc(sizeof *snap);
    poolstats_snapshot(ps, snap);
    int n = snap->responder_count;
    free(snap);
    return n;
}

static void every_member_gets_its_own_slot_and_sees_the_pool(void **state)
{
    (void)state;
    char *path = fresh_path();
    /* Each open is its own open file description, so one process can play two responders. */
    struct poolstats *a = member(path), *b = member(path);
    for (int i = 0; i < 5; i++)
        poolstats_record(a, 0, 200, 100);
    for (int i = 0; i < 7; i++)
        poolstats_record(b, 0, 404, 100);
    poolstats_record(b, 1, 500, 100);

    struct poolstats_snapshot *snap = xmalloc(sizeof *snap);
    poolstats_snapshot(a, snap);
    assert_true(snap->shared);
    assert_int_equal(snap->responder_count, 2);
    assert_int_not_equal(snap->responders[0].slot, snap->responders[1].slot);
    assert_int_equal(snap->totals.requests[0][0], 5); /* 2xx */
    assert_int_equal(snap->totals.requests[0][2], 7); /* 4xx */
    assert_int_equal(snap->totals.requests[1][3], 1); /* 5xx */
    assert_int_equal(poolstats_endpoint_requests(&snap->totals, 0), 12);
    int selves = 0;
    for (int i = 0; i < 2; i++) {
        selves += snap->responders[i].self;
        assert_int_equal(snap->responders[i].pid, getpid());
        assert_true(snap->responders[i].rss_bytes > 0);
    }
    assert_int_equal(selves, 1);
    /* Whichever member answers, the figures are the same. */
    assert_int_equal(requests(b, 0), 12);
    free(snap);
    poolstats_close(a);
    poolstats_close(b);
    free(path);
}

static void a_dead_members_counts_survive_the_reuse_of_its_slot(void **state)
{
    (void)state;
    char *path = fresh_path();
    struct poolstats *a = member(path);
    poolstats_record(a, 0, 200, 10);

    /* A child responder that counts and then dies without cleaning up (a crash). */
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        struct poolstats *c = open_ps(path, POOLSTATS_MEMBER, LAYOUT, NULL);
        if (c == NULL)
            _exit(2);
        for (int i = 0; i < 9; i++)
            poolstats_record(c, 0, 200, 10);
        _exit(0);
    }
    int status = 0;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    assert_int_equal(live(a), 1);         /* the dead one is no longer listed */
    assert_int_equal(requests(a, 0), 10); /* but its requests still count */

    /* Its replacement takes over the slot; the totals neither drop nor double. */
    struct poolstats *replacement = member(path);
    struct poolstats_snapshot *snap = xmalloc(sizeof *snap);
    poolstats_snapshot(replacement, snap);
    assert_int_equal(snap->own_slot, 1);
    assert_int_equal(snap->responder_count, 2);
    assert_int_equal(poolstats_endpoint_requests(&snap->totals, 0), 10);
    poolstats_record(replacement, 0, 200, 10);
    assert_int_equal(requests(a, 0), 11);
    free(snap);
    poolstats_close(replacement);
    poolstats_close(a);
    free(path);
}

static void concurrent_processes_claim_distinct_slots(void **state)
{
    (void)state;
    char *path = fresh_path();
    enum { CHILDREN = 8, EACH = 1000 };
    int ready[2], go[2], release[2];
    assert_int_equal(pipe(ready), 0);
    assert_int_equal(pipe(go), 0);
    assert_int_equal(pipe(release), 0);
    pid_t pids[CHILDREN];
    for (int i = 0; i < CHILDREN; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            close(go[1]);
            close(release[1]);
            char c;
            /* Everyone opens at once, after the parent lets go. */
            if (read(go[0], &c, 1) < 0)
                _exit(3);
            struct poolstats *ps =
                open_ps(path, POOLSTATS_MEMBER, LAYOUT, NULL);
            if (ps == NULL)
                _exit(2);
            for (int k = 0; k < EACH; k++)
                poolstats_record(ps, 2, 200, k);
            struct poolstats_snapshot *snap = xmalloc(sizeof *snap);
            poolstats_snapshot(ps, snap);
            char slot = (char)snap->own_slot;
            if (write(ready[1], &slot, 1) != 1)
                _exit(4);
            /* Stay alive until the parent has looked, so slots cannot be reused. */
            if (read(release[0], &c, 1) < 0)
                _exit(3);
            _exit(0);
        }
    }
    close(go[0]);
    close(ready[1]);
    close(release[0]);
    char all[CHILDREN] = {0};
    assert_int_equal(write(go[1], all, CHILDREN), CHILDREN);
    int seen[POOLSTATS_SLOTS] = {0};
    for (int i = 0; i < CHILDREN; i++) {
        char slot;
        assert_int_equal(read(ready[0], &slot, 1), 1);
        assert_true(slot >= 0 && slot < POOLSTATS_SLOTS);
        assert_int_equal(seen[(int)slot]++, 0);
    }
    char *err = NULL;
    struct poolstats *observer = open_ps(path, POOLSTATS_OBSERVER, LAYOUT, &err);
    if (observer == NULL)
        fail_msg("observer: %s", err);
    assert_int_equal(live(observer), CHILDREN);
    assert_int_equal(requests(observer, 2), CHILDREN * EACH);
    assert_int_equal(write(release[1], all, CHILDREN), CHILDREN);
    for (int i = 0; i < CHILDREN; i++) {
        int status = 0;
        waitpid(pids[i], &status, 0);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    assert_int_equal(live(observer), 0);
    assert_int_equal(requests(observer, 2), CHILDREN * EACH);
    poolstats_close(observer);
    close(go[1]);
    close(ready[0]);
    close(release[1]);
    free(path);
}

static void an_observer_claims_nothing_and_needs_an_existing_file(void **state)
{
    (void)state;
    char *path = fresh_path();
    char *err = NULL;
    assert_null(open_ps(path, POOLSTATS_OBSERVER, LAYOUT, &err));
    assert_non_null(strstr(err, "cannot open"));
    free(err);
    struct poolstats *a = member(path);
    poolstats_record(a, 0, 200, 1);
    struct poolstats *o = open_ps(path, POOLSTATS_OBSERVER, LAYOUT, NULL);
    assert_non_null(o);
    poolstats_record(o, 0, 200, 1); /* ignored: an observer owns no slot */
    struct poolstats_snapshot *snap = xmalloc(sizeof *snap);
    poolstats_snapshot(o, snap);
    assert_int_equal(snap->own_slot, -1);
    assert_int_equal(snap->responder_count, 1);
    assert_int_equal(poolstats_endpoint_requests(&snap->totals, 0), 1);
    free(snap);
    poolstats_close(o);
    poolstats_close(a);
    free(path);
}

static void a_file_of_another_layout_is_replaced_only_when_nobody_uses_it(void **state)
{
    (void)state;
    char *path = fresh_path();
    struct poolstats *old = member(path);
    poolstats_record(old, 0, 200, 1);
    char *err = NULL;
    assert_null(open_ps(path, POOLSTATS_MEMBER, "/x\n/y\nother\n", &err));
    assert_non_null(strstr(err, "another build"));
    free(err);
    poolstats_close(old);
    struct poolstats *next = open_ps(path, POOLSTATS_MEMBER, "/x\n/y\nother\n", &err);
    assert_non_null(next);
    assert_int_equal(requests(next, 0), 0);
    poolstats_close(next);

    /* Garbage of the right size is re-initialised too. */
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    fputs("garbage", f);
    fclose(f);
    next = member(path);
    assert_int_equal(requests(next, 0), 0);
    poolstats_close(next);
    free(path);
}

static void symlinks_and_foreign_files_are_refused(void **state)
{
    (void)state;
    char *target = fresh_path();
    char *link = fresh_path();
    FILE *f = fopen(target, "w");
    fclose(f);
    assert_int_equal(symlink(target, link), 0);
    char *err = NULL;
    assert_null(open_ps(link, POOLSTATS_MEMBER, LAYOUT, &err));
    free(err);
    if (geteuid() == 0) {
        char *foreign = fresh_path();
        f = fopen(foreign, "w");
        fclose(f);
        assert_int_equal(chown(foreign, 65534, 65534), 0);
        assert_null(open_ps(foreign, POOLSTATS_MEMBER, LAYOUT, &err));
        assert_non_null(strstr(err, "owned by this user"));
        free(err);
        free(foreign);
    }
    free(target);
    free(link);
}

static void a_full_file_refuses_one_more_member(void **state)
{
    (void)state;
    char *path = fresh_path();
    struct poolstats *all[POOLSTATS_SLOTS];
    for (int i = 0; i < POOLSTATS_SLOTS; i++)
        all[i] = member(path);
    char *err = NULL;
    assert_null(open_ps(path, POOLSTATS_MEMBER, LAYOUT, &err));
    assert_non_null(strstr(err, "slots are held"));
    free(err);
    poolstats_close(all[17]);
    struct poolstats *late = member(path);
    struct poolstats_snapshot *snap = xmalloc(sizeof *snap);
    poolstats_snapshot(late, snap);
    assert_int_equal(snap->own_slot, 17);
    free(snap);
    poolstats_close(late);
    for (int i = 0; i < POOLSTATS_SLOTS; i++) {
        if (i != 17)
            poolstats_close(all[i]);
    }
    free(path);
}

static void private_statistics_count_this_process_only(void **state)
{
    (void)state;
    struct poolstats *ps = poolstats_open_private(ENDPOINTS);
    poolstats_record(ps, 1, 503, 1);
    poolstats_record(ps, 7, 200, 1); /* out of range: ignored, never a crash */
    poolstats_record(ps, -1, 200, 1);
    struct poolstats_snapshot *snap = xmalloc(sizeof *snap);
    poolstats_snapshot(ps, snap);
    assert_false(snap->shared);
    assert_int_equal(snap->responder_count, 1);
    assert_int_equal(snap->totals.requests[1][3], 1);
    assert_int_equal(poolstats_endpoint_requests(&snap->totals, 0), 0);
    free(snap);
    poolstats_close(ps);
}

static void latencies_land_in_the_right_bucket(void **state)
{
    (void)state;
    struct poolstats *ps = poolstats_open_private(ENDPOINTS);
    static const struct {
        int64_t us;
        int bucket;
    } cases[] = {
        {-5, 0}, {0, 0}, {25, 0}, {26, 1}, {100, 2}, {101, 3}, {10000000, 17}, {10000001, 18},
        {INT64_MAX, 18},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        poolstats_record(ps, 0, 200, cases[i].us);
    struct poolstats_snapshot *snap = xmalloc(sizeof *snap);
    poolstats_snapshot(ps, snap);
    uint64_t expected[POOLSTATS_BUCKETS + 1] = {0};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expected[cases[i].bucket]++;
    for (int b = 0; b <= POOLSTATS_BUCKETS; b++) {
        if (snap->totals.latency[0][b] != expected[b])
            fail_msg("bucket %d: %llu, expected %llu", b,
                     (unsigned long long)snap->totals.latency[0][b], (unsigned long long)expected[b]);
    }
    free(snap);
    poolstats_close(ps);
}

static void quantiles_interpolate_within_buckets(void **state)
{
    (void)state;
    static const struct {
        const char *what;
        int bucket[3];
        uint64_t count[3];
        double q;
        double expected_s;
    } cases[] = {
        {"no samples", {0, 0, 0}, {0, 0, 0}, 0.5, 0.0},
        {"all in the first bucket: half way", {0, 0, 0}, {10, 0, 0}, 0.5, 12.5e-6},
        {"all in the first bucket: p100", {0, 0, 0}, {10, 0, 0}, 1.0, 25e-6},
        {"two buckets: median at the boundary", {0, 2, 2}, {50, 50, 0}, 0.5, 25e-6},
        {"two buckets: p99 near the top of the second", {2, 5, 5}, {50, 50, 0}, 0.99,
         (500 + (1000 - 500) * 0.98) / 1e6},
        {"overflow reports the largest bound", {18, 18, 18}, {10, 0, 0}, 0.99, 10.0},
        {"q > 1 is clamped", {0, 0, 0}, {4, 0, 0}, 7.0, 25e-6},
        {"q <= 0 is 0", {0, 0, 0}, {4, 0, 0}, 0.0, 0.0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint64_t buckets[POOLSTATS_BUCKETS + 1] = {0};
        for (int k = 0; k < 3; k++)
            buckets[cases[i].bucket[k]] += cases[i].count[k];
        double got = poolstats_quantile(buckets, cases[i].q);
        if (got < cases[i].expected_s - 1e-12 || got > cases[i].expected_s + 1e-12)
            fail_msg("%s: %g, expected %g", cases[i].what, got, cases[i].expected_s);
    }
}

/* Runs fn(arg) in a child and fails the test unless it exits 0 (a signal, say). */
static void in_child(int (*fn)(const char *), const char *arg)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        signal(SIGBUS, SIG_DFL); /* cmocka's handler would run the next tests in the child */
        signal(SIGSEGV, SIG_DFL);
        _exit(fn(arg));
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (WIFSIGNALED(status))
        fail_msg("the child died of signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
    if (WEXITSTATUS(status) != 0)
        fail_msg("the child exited %d", WEXITSTATUS(status));
}

static int truncate_under_a_member(const char *path)
{
    struct poolstats *ps = member(path);
    poolstats_record(ps, 0, 200, 10);
    int fd = open(path, O_RDWR);
    if (fd < 0 || ftruncate(fd, 0) != 0)
        return 10;
    close(fd);
    poolstats_record(ps, 0, 200, 10);
    poolstats_refresh_rss(ps);
    struct poolstats_snapshot *snap = xmalloc(sizeof *snap);
    poolstats_snapshot(ps, snap);
    int rc = snap->shared ? 11 : 0;
    free(snap);
    poolstats_close(ps);
    return rc;
}

/* Whoever can write the file can cut it short: the member keeps serving, with its own figures. */
static void a_truncated_file_costs_the_figures_not_the_process(void **state)
{
    (void)state;
    char *path = fresh_path();
    in_child(truncate_under_a_member, path);
    free(path);
}

static int64_t elapsed_ms(const struct timespec *since)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - since->tv_sec) * 1000 + (now.tv_nsec - since->tv_nsec) / 1000000;
}

static void a_held_lock_delays_open_and_snapshot_a_bounded_time(void **state)
{
    (void)state;
    char *path = fresh_path();
    struct poolstats *m = member(path);
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(flock(fd, LOCK_EX), 0);
    alarm(10); /* the unbounded version waits forever: fail loudly instead */
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct poolstats_snapshot *snap = xmalloc(sizeof *snap);
    poolstats_snapshot(m, snap);
    assert_true(snap->shared);
    char *err = NULL;
    struct poolstats *o = open_ps(path, POOLSTATS_OBSERVER, LAYOUT, &err);
    if (o != NULL)
        poolstats_close(o);
    free(err);
    err = NULL;
    struct poolstats *late = open_ps(path, POOLSTATS_MEMBER, LAYOUT, &err);
    if (late == NULL)
        assert_non_null(strstr(err, "lock"));
    poolstats_close(late);
    free(err);
    int64_t took = elapsed_ms(&t0);
    alarm(0);
    if (took > 1000)
        fail_msg("a held lock delayed a snapshot and two opens by %lld ms", (long long)took);
    close(fd);
    free(snap);
    poolstats_close(m);
    free(path);
}

static struct pool_file *map_file(const char *path)
{
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    void *p = mmap(NULL, sizeof(struct pool_file), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    assert_true(p != MAP_FAILED);
    close(fd);
    return p;
}

/* Anyone who can write the file chooses its numbers: none may overflow or go backwards. */
static void values_in_the_file_are_range_checked(void **state)
{
    (void)state;
    char *path = fresh_path();
    struct poolstats *a = member(path);
    struct poolstats *b = member(path);
    struct pool_file *f = map_file(path);
    f->slots[0].started_ms = INT64_MAX;
    f->slots[1].started_ms = INT64_MIN;
    f->slots[1].requests = UINT64_MAX;
    f->slots[0].c.latency[0][0] = UINT64_MAX - 1;
    f->slots[1].c.latency[0][0] = 5;
    f->slots[0].c.requests[0][0] = UINT64_MAX;
    f->slots[1].c.requests[0][1] = UINT64_MAX;
    f->retired.latency_sum_us[0] = UINT64_MAX;
    f->slots[0].c.latency_sum_us[0] = UINT64_MAX;
    struct poolstats_snapshot *snap = xmalloc(sizeof *snap);
    poolstats_snapshot(a, snap);
    assert_int_equal(snap->responder_count, 2);
    for (int i = 0; i < snap->responder_count; i++) {
        double up = snap->responders[i].uptime_sec;
        if (!isfinite(up) || up < 0 || up > 1e7)
            fail_msg("slot %d: uptime %g", snap->responders[i].slot, up);
        assert_true(snap->responders[i].requests <= (uint64_t)INT64_MAX);
    }
    assert_true(snap->totals.latency[0][0] == UINT64_MAX);
    assert_true(snap->totals.latency_sum_us[0] == UINT64_MAX);
    assert_true(poolstats_endpoint_requests(&snap->totals, 0) == UINT64_MAX);
    free(snap);
    munmap(f, sizeof *f);
    poolstats_close(a);
    poolstats_close(b);
    free(path);
}

static void a_fifo_at_the_path_is_refused_at_once(void **state)
{
    (void)state;
    char *path = fresh_path();
    assert_int_equal(mkfifo(path, 0600), 0);
    alarm(10); /* opening a FIFO without O_NONBLOCK waits for a writer forever */
    char *err = NULL;
    assert_null(open_ps(path, POOLSTATS_OBSERVER, LAYOUT, &err));
    assert_non_null(strstr(err, "regular file"));
    free(err);
    err = NULL;
    assert_null(open_ps(path, POOLSTATS_MEMBER, LAYOUT, &err));
    assert_non_null(strstr(err, "regular file"));
    free(err);
    alarm(0);
    free(path);
}

/* The worker's one-shot copy (common/poolstats_read.c) sums what the members wrote, dead slots included. */
static void a_reader_outside_the_pool_sums_every_slots_latency(void **state)
{
    (void)state;
    char *path = fresh_path();
    struct poolstats *a = member(path), *b = member(path);
    for (int i = 0; i < 5; i++)
        poolstats_record(a, 0, 200, 30);     /* bucket 1: (25, 50] us */
    for (int i = 0; i < 3; i++)
        poolstats_record(b, 2, 200, 200000); /* bucket 12: (100, 250] ms, another endpoint */
    poolstats_close(b); /* dead: its counts stay in the file */
    uint64_t buckets[POOLSTATS_BUCKETS + 1];
    char *err = NULL;
    if (poolstats_read_latency(path, buckets, &err) != 0)
        fail_msg("%s", err);
    assert_int_equal(buckets[1], 5);
    assert_int_equal(buckets[12], 3);
    uint64_t total = 0;
    for (int i = 0; i <= POOLSTATS_BUCKETS; i++)
        total += buckets[i];
    assert_int_equal(total, 8);
    poolstats_close(a);
    free(path);
}

static void a_reader_refuses_fifos_short_files_and_foreign_headers_at_once(void **state)
{
    (void)state;
    uint64_t buckets[POOLSTATS_BUCKETS + 1];
    char *err = NULL;
    char *fifo = fresh_path();
    assert_int_equal(mkfifo(fifo, 0600), 0);
    alarm(10); /* a blocking open of a FIFO would wait for a writer forever */
    assert_int_equal(poolstats_read_latency(fifo, buckets, &err), -1);
    assert_non_null(strstr(err, "regular file"));
    free(err);
    err = NULL;
    char *shortf = fresh_path();
    FILE *f = fopen(shortf, "w");
    fputs("not a pool", f);
    fclose(f);
    assert_int_equal(poolstats_read_latency(shortf, buckets, &err), -1);
    assert_non_null(strstr(err, "bytes"));
    free(err);
    err = NULL;
    char *path = fresh_path();
    struct poolstats *m = member(path);
    struct pool_file *p = map_file(path);
    p->slot_size = 1; /* what another build, or a hostile writer, would leave */
    assert_int_equal(poolstats_read_latency(path, buckets, &err), -1);
    assert_non_null(strstr(err, "no pool figures"));
    free(err);
    munmap(p, sizeof *p);
    poolstats_close(m);
    /* A held lock delays the copy a bounded time, then it is taken anyway. */
    struct poolstats *m2 = member(shortf);
    int fd = open(shortf, O_RDONLY);
    assert_int_equal(flock(fd, LOCK_EX), 0);
    assert_int_equal(poolstats_read_latency(shortf, buckets, &err), 0);
    close(fd);
    poolstats_close(m2);
    alarm(0);
    free(fifo);
    free(shortf);
    free(path);
}

static int open_on_a_full_filesystem(const char *path)
{
    char *err = NULL;
    struct poolstats *ps = open_ps(path, POOLSTATS_MEMBER, LAYOUT, &err);
    if (ps != NULL) {
        poolstats_record(ps, 0, 200, 10); /* what used to die of SIGBUS */
        poolstats_close(ps);
        return 12;
    }
    int rc = strstr(err, "No space left") ? 0 : 13;
    free(err);
    return rc;
}

/* A full /run: the pages are reserved up front, so a member falls back instead of dying of SIGBUS. */
static void a_full_filesystem_is_an_error_not_a_sigbus(void **state)
{
    (void)state;
    char *mnt = xasprintf("%s/full", dir);
    assert_int_equal(mkdir(mnt, 0700), 0);
    if (geteuid() != 0 || mount("tmpfs", mnt, "tmpfs", 0, "size=64k") != 0) {
        rmdir(mnt);
        free(mnt);
        skip();
    }
    char *filler = xasprintf("%s/filler", mnt);
    int fd = open(filler, O_WRONLY | O_CREAT, 0600);
    char block[4096] = {0};
    while (write(fd, block, sizeof block) > 0)
        ;
    close(fd);
    char *path = xasprintf("%s/fcgi.stats", mnt);
    in_child(open_on_a_full_filesystem, path);
    assert_int_equal(umount2(mnt, MNT_DETACH), 0);
    rmdir(mnt);
    free(path);
    free(filler);
    free(mnt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_member_gets_its_own_slot_and_sees_the_pool),
        cmocka_unit_test(a_dead_members_counts_survive_the_reuse_of_its_slot),
        cmocka_unit_test(concurrent_processes_claim_distinct_slots),
        cmocka_unit_test(an_observer_claims_nothing_and_needs_an_existing_file),
        cmocka_unit_test(a_file_of_another_layout_is_replaced_only_when_nobody_uses_it),
        cmocka_unit_test(symlinks_and_foreign_files_are_refused),
        cmocka_unit_test(a_full_file_refuses_one_more_member),
        cmocka_unit_test(private_statistics_count_this_process_only),
        cmocka_unit_test(latencies_land_in_the_right_bucket),
        cmocka_unit_test(quantiles_interpolate_within_buckets),
        cmocka_unit_test(a_truncated_file_costs_the_figures_not_the_process),
        cmocka_unit_test(a_reader_outside_the_pool_sums_every_slots_latency),
        cmocka_unit_test(a_reader_refuses_fifos_short_files_and_foreign_headers_at_once),
        cmocka_unit_test(a_held_lock_delays_open_and_snapshot_a_bounded_time),
        cmocka_unit_test(values_in_the_file_are_range_checked),
        cmocka_unit_test(a_fifo_at_the_path_is_refused_at_once),
        cmocka_unit_test(a_full_filesystem_is_an_error_not_a_sigbus),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
