/* faultvfs.h: a test-only SQLite VFS that wraps the default one and fails the Nth write, sync or truncate. */
#ifndef MESHSCOPE_FAULTVFS_H
#define MESHSCOPE_FAULTVFS_H

#include <stdint.h>

/* The name to open a database through: "file:PATH?vfs=" FAULTVFS_NAME with SQLITE_OPEN_URI. */
#define FAULTVFS_NAME "faultvfs"

/* The file operations a plan counts; only counted operations can fail. */
enum faultvfs_op {
    FAULTVFS_WRITE = 1,    /* xWrite */
    FAULTVFS_SYNC = 2,     /* xSync */
    FAULTVFS_TRUNCATE = 4, /* xTruncate */
};

/*
 * Fail the nth counted operation (1-based) with `code`: SQLITE_FULL as it is,
 * or SQLITE_IOERR as the extended code of the operation (SQLITE_IOERR_WRITE,
 * _FSYNC, _TRUNCATE), as the unix VFS reports them. A persistent fault fails
 * every counted operation from the nth on, as a full disk does until space is
 * freed; otherwise only the nth fails, as a transient I/O error does.
 */
struct faultvfs_plan {
    int ops;      /* a mask of enum faultvfs_op */
    int64_t nth;  /* 0: never fail, only count */
    int code;     /* SQLITE_FULL or SQLITE_IOERR */
    int persistent;
};

/* Registers the VFS (not as the default) over the current default; idempotent. Returns an SQLite code. */
int faultvfs_register(void);

/* Starts counting from zero under `plan`. */
void faultvfs_arm(const struct faultvfs_plan *plan);
/* Stops failing; counting goes on. */
void faultvfs_disarm(void);
/* Counted operations since faultvfs_arm. */
int64_t faultvfs_count(void);
/* Operations failed since faultvfs_arm. */
int64_t faultvfs_injected(void);
/* The enum faultvfs_op of the first operation failed since faultvfs_arm; 0 when none. */
int faultvfs_first_op(void);

#endif
