/* semaphore.c: Semaphore and BoundedSemaphore across processes. */
#define _POSIX_C_SOURCE 200809L /* process-shared, robust pthread objects */
#include <mp.h>

#include "guard.h"
#include "../01-process/fault.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>

/*
 * A counter under a guard, and a wake-up to sleep on while it is zero. (A
 * futex on the counter alone would do, as sem_t does; the guard keeps the
 * bound check and the increment one step, and the code plain.)
 */
struct shared {
	struct mp__mutex guard;
	struct mp__wakeup nonzero; /* every sleeper woken before value goes up */
	int value;
	int bound;              /* the most it may hold; -1: unbounded (a bound of 0 is a bound) */
};

struct mp_semaphore {
	struct shared *shared;
};

static int semaphore_new(mp_semaphore **out, unsigned value, bool bounded)
{
	if (!out || value > INT_MAX)
		return -EINVAL;
	mp_semaphore *s = mp__fault("calloc") ? NULL : calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	s->shared = mp__shared_alloc(sizeof *s->shared);
	int rc = s->shared ? mp__mutex_init(&s->shared->guard, PTHREAD_MUTEX_ERRORCHECK) : -ENOMEM;
	if (rc < 0) {
		mp_semaphore_free(s);
		return rc;
	}
	s->shared->value = (int)value;
	s->shared->bound = bounded ? (int)value : -1;
	*out = s;
	return 0;
}

int mp_semaphore_new(mp_semaphore **out, unsigned value)
{
	return semaphore_new(out, value, false);
}

int mp_bounded_semaphore_new(mp_semaphore **out, unsigned value)
{
	return semaphore_new(out, value, true);
}

void mp_semaphore_free(mp_semaphore *s)
{
	if (!s)
		return;
	mp__shared_free(s->shared, sizeof *s->shared);
	free(s);
}

int mp_semaphore_acquire(mp_semaphore *s, double timeout)
{
	if (!s)
		return -EINVAL;
	struct mp__deadline d;
	if (mp__deadline_start(&d, timeout) < 0)
		return -EINVAL;
	struct shared *sh = s->shared;
	/* BEGIN SOLUTION stub: return MP_ETODO;
	 * Hint: take the guard (mp__guard_lock), then while the value is 0,
	 * mp__sleep() on `nonzero` until the deadline (ETIMEDOUT: give up,
	 * unlocking the guard first). Take one unit, unlock.
	 * Lesson 04, "Semaphores, events and conditions".
	 */
	if (mp__guard_lock(&sh->guard, &d) < 0)
		return MP_ETIMEDOUT;
	while (sh->value == 0) {
		if (mp__sleep(&sh->nonzero, &sh->guard, &d) == ETIMEDOUT) {
			mp__mutex_unlock(&sh->guard);
			return MP_ETIMEDOUT;
		}
	}
	sh->value--;
	mp__mutex_unlock(&sh->guard);
	return 0;
	/* END SOLUTION */
}

int mp_semaphore_release(mp_semaphore *s)
{
	if (!s)
		return -EINVAL;
	struct shared *sh = s->shared;
	/* BEGIN SOLUTION stub: return MP_ETODO;
	 * Hint: under the guard, refuse to go past a bound (MP_EBOUND), then
	 * mp__wake_all() the sleepers on `nonzero` *before* you add one: a
	 * release killed between the two must not leave them asleep with a
	 * unit free. Wake them all: each looks, one takes the unit, the rest
	 * sleep again; a single one woken could die before it looked.
	 * Lesson 04, "Semaphores, events and conditions".
	 */
	mp__guard_lock(&sh->guard, &mp__forever);
	int rc = 0;
	if (sh->bound >= 0 && sh->value >= sh->bound) {
		rc = MP_EBOUND;
	} else {
		mp__wake_all(&sh->nonzero);
		sh->value++;
	}
	mp__mutex_unlock(&sh->guard);
	return rc;
	/* END SOLUTION */
}

int mp_semaphore_value(const mp_semaphore *s)
{
	return s ? __atomic_load_n(&s->shared->value, __ATOMIC_RELAXED) : -EINVAL;
}
