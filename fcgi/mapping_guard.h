/* mapping_guard.h: keeps a shared file mapping that someone truncated from killing the process with SIGBUS. */
#ifndef MESHSCOPE_MAPPING_GUARD_H
#define MESHSCOPE_MAPPING_GUARD_H

#include <stddef.h>

/*
 * Watches [addr, addr + len), a MAP_SHARED mapping of a file other processes
 * can shorten. A fault inside it (SIGBUS: the page is past the file's end)
 * puts private zero pages in its place, so the access completes, and marks
 * the mapping lost; the owner then stops trusting it. Faults anywhere else
 * keep their default action. Returns a handle, or -1 when too many mappings
 * are watched (the caller then does without the file).
 */
int mapping_guard_add(void *addr, size_t len);
/* 1 once the mapping has been replaced by zero pages. */
int mapping_guard_lost(int handle);
/* Stops watching; accepts -1. The memory stays mapped: munmap it afterwards. */
void mapping_guard_remove(int handle);

#endif
