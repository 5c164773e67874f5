/* mapping_guard.c: a SIGBUS handler that swaps a truncated shared mapping for zero pages. */
#include "mapping_guard.h"

#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

/* Each member holds one mapping; the unit suites open a full pool in one process. */
#define GUARD_MAX 96

struct guarded {
    char *addr; /* NULL: free entry */
    size_t len;
    int lost;
};

static struct guarded guarded[GUARD_MAX];

static void on_sigbus(int signo, siginfo_t *info, void *context)
{
    (void)context;
    char *fault = info->si_addr;
    for (int i = 0; i < GUARD_MAX; i++) {
        char *base = __atomic_load_n(&guarded[i].addr, __ATOMIC_ACQUIRE);
        if (base == NULL || fault < base || fault >= base + guarded[i].len)
            continue;
        /* mmap is a plain system call here: safe enough in a handler, and the only way out. */
        if (mmap(base, guarded[i].len, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != MAP_FAILED) {
            __atomic_store_n(&guarded[i].lost, 1, __ATOMIC_RELEASE);
            return; /* the faulting access runs again, on the zero pages */
        }
        break;
    }
    /* Not ours: die as the fault would have killed us. */
    signal(signo, SIG_DFL);
    raise(signo);
}

int mapping_guard_add(void *addr, size_t len)
{
    /* Every time, not once: a test harness may have put its own handler in between. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGBUS, &sa, NULL) != 0)
        return -1;
    for (int i = 0; i < GUARD_MAX; i++) {
        if (guarded[i].addr != NULL)
            continue;
        guarded[i].len = len;
        guarded[i].lost = 0;
        __atomic_store_n(&guarded[i].addr, (char *)addr, __ATOMIC_RELEASE);
        return i;
    }
    return -1;
}

int mapping_guard_lost(int handle)
{
    return handle >= 0 && __atomic_load_n(&guarded[handle].lost, __ATOMIC_ACQUIRE);
}

void mapping_guard_remove(int handle)
{
    if (handle >= 0)
        __atomic_store_n(&guarded[handle].addr, NULL, __ATOMIC_RELEASE);
}
