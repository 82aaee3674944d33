/* condition.c: Condition: wait for a change of shared state, under a lock. */
#define _POSIX_C_SOURCE 200809L /* process-shared, robust pthread objects */
#include <mp.h>

#include "guard.h"
#include "../01-process/fault.h"
#include "lock_internal.h"

#include <errno.h>
#include <stdlib.h>

/*
 * A process-shared pthread condition variable, paired with the mutex of an
 * mp_lock. pthread_cond_wait() releases the mutex and sleeps in one step, so
 * no notification can slip in between; it takes the mutex again on waking.
 */
struct mp_condition {
	mp_lock *lock;          /* the lock guarding the state waited for */
	bool own_lock;          /* made here, freed here */
	pthread_cond_t *cond;   /* in shared memory */
};

int mp_condition_new(mp_condition **out, mp_lock *lock)
{
	if (!out)
		return -EINVAL;
	mp_condition *c = mp__fault("calloc") ? NULL : calloc(1, sizeof *c);
	if (!c)
		return -ENOMEM;
	int rc = 0;
	c->lock = lock;
	if (!lock) {
		rc = mp_rlock_new(&c->lock);
		c->own_lock = rc == 0;
	}
	if (rc == 0)
		rc = (c->cond = mp__shared_alloc(sizeof *c->cond)) ? mp__cond_init(c->cond) : -ENOMEM;
	if (rc < 0) {
		mp_condition_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

void mp_condition_free(mp_condition *c)
{
	if (!c)
		return;
	if (c->own_lock)
		mp_lock_free(c->lock);
	mp__shared_free(c->cond, sizeof *c->cond);
	free(c);
}

mp_lock *mp_condition_lock(mp_condition *c)
{
	return c ? c->lock : NULL;
}

int mp_condition_wait(mp_condition *c, double timeout)
{
	if (!c)
		return -EINVAL;
	struct mp__deadline d;
	if (mp__deadline_start(&d, timeout) < 0)
		return -EINVAL;
	struct mp__lock_shared *l = c->lock->shared;
	/* BEGIN SOLUTION stub: return MP_ETODO;
	 * Hint: the caller must hold the lock (mp__lock_held). A re-entrant
	 * lock may be held several times, but the wait must release it all:
	 * unlock the extra levels yourself, wait, then take them back. While
	 * waiting, the lock has no holder: clear owner and depth, and restore
	 * them after (mp__lock_owner(), mp__lock_set_owner()). EOWNERDEAD on waking means a holder died meanwhile.
	 * Lesson 04, "Semaphores, events and conditions".
	 */
	if (!mp__lock_held(c->lock))
		return MP_ENOTOWNER;
	unsigned depth = l->depth;
	for (unsigned i = 1; i < depth; i++)
		pthread_mutex_unlock(&l->mutex);
	pid_t owner = mp__lock_owner(l);
	mp__lock_set_owner(l, 0);
	l->depth = 0;
	int rc = d.forever ? pthread_cond_wait(c->cond, &l->mutex)
			   : pthread_cond_timedwait(c->cond, &l->mutex, &d.end);
	mp__lock_set_owner(l, owner);
	l->depth = depth;
	for (unsigned i = 1; i < depth; i++)
		pthread_mutex_lock(&l->mutex);
	if (rc == EOWNERDEAD)
		return MP_EOWNERDEAD;
	return rc == ETIMEDOUT ? MP_ETIMEDOUT : -rc;
	/* END SOLUTION */
}

int mp_condition_wait_for(mp_condition *c, bool (*predicate)(void *), void *arg, double timeout)
{
	if (!c || !predicate)
		return -EINVAL;
	struct mp__deadline d;
	if (mp__deadline_start(&d, timeout) < 0)
		return -EINVAL;
	while (!predicate(arg)) {
		struct timespec left;
		const struct timespec *t = mp__deadline_left(&d, &left);
		double seconds = t ? (double)t->tv_sec + (double)t->tv_nsec / 1e9 : MP_FOREVER;
		if (t && seconds == 0)
			return 0;
		int rc = mp_condition_wait(c, seconds);
		if (rc < 0 && rc != MP_ETIMEDOUT)
			return rc;
	}
	return 1;
}

int mp_condition_notify(mp_condition *c, unsigned n)
{
	if (!c)
		return -EINVAL;
	/* BEGIN SOLUTION stub: return MP_ETODO;
	 * Hint: only the lock's holder may notify. pthread_cond_signal() wakes
	 * at least one waiter if there is any: call it n times.
	 * Lesson 04, "Semaphores, events and conditions".
	 */
	if (!mp__lock_held(c->lock))
		return MP_ENOTOWNER;
	for (unsigned i = 0; i < n; i++)
		pthread_cond_signal(c->cond);
	return 0;
	/* END SOLUTION */
}

int mp_condition_notify_all(mp_condition *c)
{
	if (!c)
		return -EINVAL;
	if (!mp__lock_held(c->lock))
		return MP_ENOTOWNER;
	pthread_cond_broadcast(c->cond);
	return 0;
}
