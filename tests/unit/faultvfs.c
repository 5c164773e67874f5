/* faultvfs.c: a test-only SQLite VFS shim (the pattern of SQLite's test_vfs.c) that injects SQLITE_FULL or SQLITE_IOERR on the Nth write, sync or truncate. */
#include "faultvfs.h"

#include <pthread.h>
#include <string.h>

#include <sqlite3.h>

/*
 * Every file opened through the shim is a fault_file followed by the real
 * file of the wrapped VFS (szOsFile covers both), as in test_vfs.c. Only the
 * three operations that change what is on disk are intercepted; everything
 * else, the WAL index (xShm*) and memory maps (xFetch) included, is passed
 * through, so locking and WAL recovery are the real VFS's.
 */
struct fault_file {
    sqlite3_file base;
    sqlite3_file *real;
};

static struct {
    pthread_mutex_t mutex;
    struct faultvfs_plan plan;
    int armed;
    int64_t count;
    int64_t injected;
    int first_op; /* the kind of the first operation failed */
} state = {.mutex = PTHREAD_MUTEX_INITIALIZER};

static sqlite3_vfs fault_vfs;

static sqlite3_vfs *real_vfs(void)
{
    return (sqlite3_vfs *)fault_vfs.pAppData;
}

/* Counts one operation of kind `op`; returns the code to fail it with, or SQLITE_OK. */
static int fault_check(enum faultvfs_op op)
{
    int rc = SQLITE_OK;
    pthread_mutex_lock(&state.mutex);
    if (state.plan.ops & op) {
        int64_t n = ++state.count;
        int hit = state.armed && state.plan.nth > 0 &&
                  (state.plan.persistent ? n >= state.plan.nth : n == state.plan.nth);
        if (hit) {
            if (state.injected++ == 0)
                state.first_op = op;
            if (state.plan.code == SQLITE_FULL)
                rc = SQLITE_FULL;
            else if (op == FAULTVFS_WRITE)
                rc = SQLITE_IOERR_WRITE;
            else if (op == FAULTVFS_SYNC)
                rc = SQLITE_IOERR_FSYNC;
            else
                rc = SQLITE_IOERR_TRUNCATE;
        }
    }
    pthread_mutex_unlock(&state.mutex);
    return rc;
}

void faultvfs_arm(const struct faultvfs_plan *plan)
{
    pthread_mutex_lock(&state.mutex);
    state.plan = *plan;
    state.armed = 1;
    state.count = 0;
    state.injected = 0;
    state.first_op = 0;
    pthread_mutex_unlock(&state.mutex);
}

void faultvfs_disarm(void)
{
    pthread_mutex_lock(&state.mutex);
    state.armed = 0;
    pthread_mutex_unlock(&state.mutex);
}

int64_t faultvfs_count(void)
{
    pthread_mutex_lock(&state.mutex);
    int64_t n = state.count;
    pthread_mutex_unlock(&state.mutex);
    return n;
}

int64_t faultvfs_injected(void)
{
    pthread_mutex_lock(&state.mutex);
    int64_t n = state.injected;
    pthread_mutex_unlock(&state.mutex);
    return n;
}

/* File methods */

static sqlite3_file *real_of(sqlite3_file *file)
{
    return ((struct fault_file *)file)->real;
}

static int ff_close(sqlite3_file *file)
{
    return real_of(file)->pMethods->xClose(real_of(file));
}

static int ff_read(sqlite3_file *file, void *buf, int amt, sqlite3_int64 off)
{
    return real_of(file)->pMethods->xRead(real_of(file), buf, amt, off);
}

static int ff_write(sqlite3_file *file, const void *buf, int amt, sqlite3_int64 off)
{
    int rc = fault_check(FAULTVFS_WRITE);
    if (rc != SQLITE_OK)
        return rc;
    return real_of(file)->pMethods->xWrite(real_of(file), buf, amt, off);
}

static int ff_truncate(sqlite3_file *file, sqlite3_int64 size)
{
    int rc = fault_check(FAULTVFS_TRUNCATE);
    if (rc != SQLITE_OK)
        return rc;
    return real_of(file)->pMethods->xTruncate(real_of(file), size);
}

/*
 * A sync that does not fail is not passed on: these tests are about errors,
 * not power loss, and a sweep performs thousands of commits whose fsyncs
 * would otherwise be most of its run time.
 */
static int ff_sync(sqlite3_file *file, int flags)
{
    (void)file;
    (void)flags;
    return fault_check(FAULTVFS_SYNC);
}

static int ff_file_size(sqlite3_file *file, sqlite3_int64 *size)
{
    return real_of(file)->pMethods->xFileSize(real_of(file), size);
}

static int ff_lock(sqlite3_file *file, int level)
{
    return real_of(file)->pMethods->xLock(real_of(file), level);
}

static int ff_unlock(sqlite3_file *file, int level)
{
    return real_of(file)->pMethods->xUnlock(real_of(file), level);
}

static int ff_check_reserved_lock(sqlite3_file *file, int *out)
{
    return real_of(file)->pMethods->xCheckReservedLock(real_of(file), out);
}

static int ff_file_control(sqlite3_file *file, int op, void *arg)
{
    return real_of(file)->pMethods->xFileControl(real_of(file), op, arg);
}

static int ff_sector_size(sqlite3_file *file)
{
    return real_of(file)->pMethods->xSectorSize(real_of(file));
}

static int ff_device_characteristics(sqlite3_file *file)
{
    return real_of(file)->pMethods->xDeviceCharacteristics(real_of(file));
}

static int ff_shm_map(sqlite3_file *file, int page, int page_size, int extend,
                      void volatile **out)
{
    return real_of(file)->pMethods->xShmMap(real_of(file), page, page_size, extend, out);
}

static int ff_shm_lock(sqlite3_file *file, int offset, int n, int flags)
{
    return real_of(file)->pMethods->xShmLock(real_of(file), offset, n, flags);
}

static void ff_shm_barrier(sqlite3_file *file)
{
    real_of(file)->pMethods->xShmBarrier(real_of(file));
}

static int ff_shm_unmap(sqlite3_file *file, int delete_flag)
{
    return real_of(file)->pMethods->xShmUnmap(real_of(file), delete_flag);
}

static int ff_fetch(sqlite3_file *file, sqlite3_int64 off, int amt, void **out)
{
    return real_of(file)->pMethods->xFetch(real_of(file), off, amt, out);
}

static int ff_unfetch(sqlite3_file *file, sqlite3_int64 off, void *page)
{
    return real_of(file)->pMethods->xUnfetch(real_of(file), off, page);
}

/* Version 3 methods: the unix VFS's files are version 3 (WAL index and mmap). */
static const sqlite3_io_methods fault_io_methods = {
    .iVersion = 3,
    .xClose = ff_close,
    .xRead = ff_read,
    .xWrite = ff_write,
    .xTruncate = ff_truncate,
    .xSync = ff_sync,
    .xFileSize = ff_file_size,
    .xLock = ff_lock,
    .xUnlock = ff_unlock,
    .xCheckReservedLock = ff_check_reserved_lock,
    .xFileControl = ff_file_control,
    .xSectorSize = ff_sector_size,
    .xDeviceCharacteristics = ff_device_characteristics,
    .xShmMap = ff_shm_map,
    .xShmLock = ff_shm_lock,
    .xShmBarrier = ff_shm_barrier,
    .xShmUnmap = ff_shm_unmap,
    .xFetch = ff_fetch,
    .xUnfetch = ff_unfetch,
};

/* VFS methods: only xOpen wraps; the rest are the real VFS's own. */

static int fv_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags,
                   int *out_flags)
{
    (void)vfs;
    struct fault_file *ff = (struct fault_file *)file;
    ff->real = (sqlite3_file *)&ff[1];
    int rc = real_vfs()->xOpen(real_vfs(), name, ff->real, flags, out_flags);
    /* No methods means SQLite will not call xClose, as the contract of xOpen says. */
    ff->base.pMethods = ff->real->pMethods != NULL ? &fault_io_methods : NULL;
    return rc;
}

static int fv_delete(sqlite3_vfs *vfs, const char *name, int sync_dir)
{
    (void)vfs;
    return real_vfs()->xDelete(real_vfs(), name, sync_dir);
}

static int fv_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
    (void)vfs;
    return real_vfs()->xAccess(real_vfs(), name, flags, out);
}

static int fv_full_pathname(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
    (void)vfs;
    return real_vfs()->xFullPathname(real_vfs(), name, n, out);
}

static void *fv_dl_open(sqlite3_vfs *vfs, const char *name)
{
    (void)vfs;
    return real_vfs()->xDlOpen(real_vfs(), name);
}

static void fv_dl_error(sqlite3_vfs *vfs, int n, char *out)
{
    (void)vfs;
    real_vfs()->xDlError(real_vfs(), n, out);
}

static void (*fv_dl_sym(sqlite3_vfs *vfs, void *handle, const char *symbol))(void)
{
    (void)vfs;
    return real_vfs()->xDlSym(real_vfs(), handle, symbol);
}

static void fv_dl_close(sqlite3_vfs *vfs, void *handle)
{
    (void)vfs;
    real_vfs()->xDlClose(real_vfs(), handle);
}

static int fv_randomness(sqlite3_vfs *vfs, int n, char *out)
{
    (void)vfs;
    return real_vfs()->xRandomness(real_vfs(), n, out);
}

static int fv_sleep(sqlite3_vfs *vfs, int us)
{
    (void)vfs;
    return real_vfs()->xSleep(real_vfs(), us);
}

static int fv_current_time(sqlite3_vfs *vfs, double *out)
{
    (void)vfs;
    return real_vfs()->xCurrentTime(real_vfs(), out);
}

static int fv_get_last_error(sqlite3_vfs *vfs, int n, char *out)
{
    (void)vfs;
    return real_vfs()->xGetLastError(real_vfs(), n, out);
}

static int fv_current_time_int64(sqlite3_vfs *vfs, sqlite3_int64 *out)
{
    (void)vfs;
    return real_vfs()->xCurrentTimeInt64(real_vfs(), out);
}

int faultvfs_register(void)
{
    if (sqlite3_vfs_find(FAULTVFS_NAME) != NULL)
        return SQLITE_OK;
    sqlite3_vfs *real = sqlite3_vfs_find(NULL);
    if (real == NULL || real->iVersion < 2)
        return SQLITE_ERROR;
    fault_vfs = (sqlite3_vfs){
        .iVersion = 2,
        .szOsFile = (int)sizeof(struct fault_file) + real->szOsFile,
        .mxPathname = real->mxPathname,
        .zName = FAULTVFS_NAME,
        .pAppData = real,
        .xOpen = fv_open,
        .xDelete = fv_delete,
        .xAccess = fv_access,
        .xFullPathname = fv_full_pathname,
        .xDlOpen = fv_dl_open,
        .xDlError = fv_dl_error,
        .xDlSym = fv_dl_sym,
        .xDlClose = fv_dl_close,
        .xRandomness = fv_randomness,
        .xSleep = fv_sleep,
        .xCurrentTime = fv_current_time,
        .xGetLastError = fv_get_last_error,
        .xCurrentTimeInt64 = fv_current_time_int64,
    };
    return sqlite3_vfs_register(&fault_vfs, 0);
}

int faultvfs_first_op(void)
{
    pthread_mutex_lock(&state.mutex);
    int op = state.first_op;
    pthread_mutex_unlock(&state.mutex);
    return op;
}
