/* guard.h: the process-shared building blocks under every primitive of stage 04 (internal). */
#ifndef MP_GUARD_H
#define MP_GUARD_H

#include "../01-process/deadline.h"

#include <pthread.h>
#include <stddef.h>

/*
 * Every object lives in its own block of anonymous shared memory, mapped
 * before fork() so that parent and children see the same bytes. The last
 * process to unmap it frees it: nothing has a name, so nothing can leak.
 */
void *mp__shared_alloc(size_t size);
void mp__shared_free(void *block, size_t size);

/*
 * A mutex that works across processes (PTHREAD_PROCESS_SHARED) and survives
 * a holder's death (PTHREAD_MUTEX_ROBUST): the kernel hands it to the next
 * locker with EOWNERDEAD. @type is PTHREAD_MUTEX_ERRORCHECK or _RECURSIVE.
 */
int mp__mutex_init(pthread_mutex_t *m, int type);

/* A condition variable across processes, timed on the monotonic clock. */
int mp__cond_init(pthread_cond_t *c);

/*
 * Lock @m until the deadline: 0, EOWNERDEAD (locked), ETIMEDOUT, or another
 * errno value, as pthread_mutex_clocklock() returns them.
 */
int mp__mutex_lock(pthread_mutex_t *m, const struct mp__deadline *d);

/*
 * Lock a guard: a mutex held only for a few instructions inside the library,
 * never while user code runs. If a process died holding it, it died between
 * two simple stores that leave the state valid: the guard is marked
 * consistent and taken. Returns 0 or MP_ETIMEDOUT.
 */
int mp__guard_lock(pthread_mutex_t *m, const struct mp__deadline *d);

/* No deadline: how a release, a set, a clear, an abort or a reset takes its guard. */
static const struct mp__deadline mp__forever = { .forever = true };

/* Wait on @c (with @m held) until woken or the deadline: 0 or ETIMEDOUT. */
int mp__cond_wait(pthread_cond_t *c, pthread_mutex_t *m, const struct mp__deadline *d);

#endif
