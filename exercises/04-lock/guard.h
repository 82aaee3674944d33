/* guard.h: the process-shared building blocks under every primitive of stage 04 (internal). */
#ifndef MP_GUARD_H
#define MP_GUARD_H

#include "../01-process/deadline.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

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
 * locker with EOWNERDEAD. And one that survives a *waiter's* death, which a
 * bare robust mutex does not: glibc's unlock wakes one sleeper, which then
 * takes the mutex itself; killed between its wake-up and its take, it takes
 * the wake-up with it, and the others sleep on with the mutex free. So the
 * sleepers are counted, and an unlock with any counted wakes them all (the
 * queue's guard does the same: lesson 02). A sleeper killed leaves its count
 * behind, which costs every later unlock a wake-up call for nobody.
 */
struct mp__mutex {
	pthread_mutex_t m;
	_Atomic uint32_t sleepers; /* lockers that found it held and wait */
};

/* Make @m ready: @type is PTHREAD_MUTEX_ERRORCHECK or _RECURSIVE. 0 or a negated errno. */
int mp__mutex_init(struct mp__mutex *m, int type);

/*
 * A place to sleep until the state under a guard changes, which keeps
 * nothing of its sleepers: a futex word that every wake-up changes, and how
 * many sleep, so that a wake-up with nobody asleep makes no system call. A
 * sleeper killed leaves only its count, which costs a wasted wake-up call.
 * (glibc's process-shared condition variables keep state for each waiter,
 * and one killed inside a wait can freeze every later signal: lesson 04.)
 * All zero is ready to use.
 */
struct mp__wakeup {
	_Atomic uint32_t seq;
	_Atomic uint32_t asleep;
};

/* The slow halves of the two calls below, in guard.c. */
int mp__mutex_wait(struct mp__mutex *m, const struct mp__deadline *d);
void mp__mutex_wake_sleepers(struct mp__mutex *m);

/*
 * Lock @m until the deadline: 0, EOWNERDEAD (locked), ETIMEDOUT, or another
 * errno value, as pthread_mutex_clocklock() returns them. Inline, like the
 * unlock: an uncontended lock and unlock take about 16 ns, and a call each
 * way would add a tenth.
 */
static inline int mp__mutex_lock(struct mp__mutex *m, const struct mp__deadline *d)
{
	/*
	 * One try first, all an uncontended lock needs: with a deadline long
	 * past (the epoch, on whatever clock), a timed lock tries once and
	 * answers ETIMEDOUT without sleeping.
	 * Not pthread_mutex_trylock(): on a robust mutex that is not
	 * recoverable, glibc 2.36's trylock leaves the caller's thread id in the
	 * lock word, and the lock is then wrecked for every process (their locks
	 * time out, the caller's say EDEADLK).
	 */
	static const struct timespec long_ago = { 0, 0 };
	int rc = pthread_mutex_timedlock(&m->m, &long_ago);
	return rc == ETIMEDOUT ? mp__mutex_wait(m, d) : rc;
}

/* Unlock @m, waking every sleeper if any sleeps: 0, or EPERM if the caller does not hold it. */
static inline int mp__mutex_unlock(struct mp__mutex *m)
{
	int rc = pthread_mutex_unlock(&m->m);
	/* The unlock's atomic exchange orders this load after it: a sleeper that counted itself too late finds the word free. */
	if (rc == 0 && atomic_load(&m->sleepers) > 0)
		mp__mutex_wake_sleepers(m);
	return rc;
}

/*
 * Lock a guard: a mutex held only for a few instructions inside the library,
 * never while user code runs. If a process died holding it, it died between
 * two simple stores that leave the state valid: the guard is marked
 * consistent and taken. Returns 0 or MP_ETIMEDOUT.
 */
int mp__guard_lock(struct mp__mutex *m, const struct mp__deadline *d);

/*
 * For the tests (fault.h): pause 0.3 s here if a test armed @point, so that
 * what may happen at this instant is made to happen.
 */
void mp__pause_for_the_tests(const char *point);

/* No deadline: how a release, a set, a clear, an abort or a reset takes its guard. */
static const struct mp__deadline mp__forever = { .forever = true };

/*
 * With the guard @m held: let it go, sleep on @w until woken or the
 * deadline, take @m again. Returns 0 (look again: a wake-up says something
 * changed, not what) or ETIMEDOUT, with @m held either way.
 */
int mp__sleep(struct mp__wakeup *w, struct mp__mutex *m, const struct mp__deadline *d);

/*
 * With the guard held, *before* the change that ends the waits: wake every
 * sleeper on @w. They must take the guard to look, so they see the change,
 * or, if the waker dies before making it, the guard handed over by the
 * kernel and the state as it was. Woken after the change, they would sleep
 * on for ever had the waker died in between.
 */
void mp__wake_all(struct mp__wakeup *w);

#endif
