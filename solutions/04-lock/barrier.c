/* barrier.c: Barrier: the parties wait until all have arrived, then go on together. */
#define _POSIX_C_SOURCE 200809L /* process-shared, robust pthread objects */
#include <mp.h>

#include "guard.h"
#include "../01-process/fault.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/*
 * Each round of the barrier is a generation. A party that arrives notes the
 * generation and sleeps until it changes: the last to arrive runs the action,
 * starts the next generation and wakes everyone. A generation can also end
 * badly: an abort, a reset, a timeout or a failed action breaks it, and its
 * waiters wake to MP_EBROKENBARRIER.
 */
struct shared {
	pthread_mutex_t guard;
	pthread_cond_t next;      /* broadcast when a generation ends */
	unsigned parties;
	unsigned arrived;         /* in the current generation */
	unsigned generation;
	unsigned broken_gen;      /* the last generation that ended broken, plus one (0: none) */
	bool broken;              /* broken now, until a reset */
	char action[MP_TARGET_NAME_MAX + 1];
};

struct mp_barrier {
	struct shared *shared;
};

int mp_barrier_new(mp_barrier **out, unsigned parties, const char *action)
{
	if (!out || parties == 0 || (action && strlen(action) > MP_TARGET_NAME_MAX))
		return -EINVAL;
	if (action && !mp_target_find(action))
		return MP_ENOTARGET;
	mp_barrier *b = mp__fault("calloc") ? NULL : calloc(1, sizeof *b);
	if (!b)
		return -ENOMEM;
	b->shared = mp__shared_alloc(sizeof *b->shared);
	int rc = b->shared ? mp__mutex_init(&b->shared->guard, PTHREAD_MUTEX_ERRORCHECK) : -ENOMEM;
	if (rc == 0)
		rc = mp__cond_init(&b->shared->next);
	if (rc < 0) {
		mp_barrier_free(b);
		return rc;
	}
	b->shared->parties = parties;
	if (action)
		strcpy(b->shared->action, action);
	*out = b;
	return 0;
}

void mp_barrier_free(mp_barrier *b)
{
	if (!b)
		return;
	mp__shared_free(b->shared, sizeof *b->shared);
	free(b);
}

/* End the current generation badly: its waiters, woken, see it broken. With the guard held. */
static void break_generation(struct shared *sh)
{
	sh->broken = true;
	sh->broken_gen = sh->generation + 1;
	sh->arrived = 0;
	sh->generation++;
	pthread_cond_broadcast(&sh->next);
}

int mp_barrier_wait(mp_barrier *b, double timeout)
{
	if (!b)
		return -EINVAL;
	struct mp__deadline d;
	if (mp__deadline_start(&d, timeout) < 0)
		return -EINVAL;
	struct shared *sh = b->shared;
	if (mp__guard_lock(&sh->guard, &d) < 0)
		return MP_ETIMEDOUT;
	/* BEGIN SOLUTION stub: pthread_mutex_unlock(&sh->guard); return MP_ETODO;
	 * Hint: a broken barrier answers MP_EBROKENBARRIER at once. Your index
	 * is how many arrived before you. The last to arrive runs the action
	 * (mp_target_find(sh->action), called with no argument; non-zero
	 * breaks the barrier), starts the next generation and wakes all. The
	 * others wait until the generation changes; then it was broken if it
	 * is the one recorded in broken_gen. A timeout breaks it for everyone.
	 * Lesson 04, "Barriers".
	 */
	int rc;
	if (sh->broken) {
		rc = MP_EBROKENBARRIER;
	} else if (sh->arrived + 1 == sh->parties) {
		rc = (int)sh->arrived;
		mp_target_fn action = sh->action[0] ? mp_target_find(sh->action) : NULL;
		if (action && action(NULL, 0) != 0) {
			break_generation(sh);
			rc = MP_EBROKENBARRIER;
		} else {
			sh->arrived = 0;
			sh->generation++;
			pthread_cond_broadcast(&sh->next);
		}
	} else {
		unsigned gen = sh->generation;
		rc = (int)sh->arrived++;
		while (gen == sh->generation) {
			if (mp__cond_wait(&sh->next, &sh->guard, &d) == ETIMEDOUT && gen == sh->generation) {
				break_generation(sh); /* Python's rule: one timeout breaks it for all */
				pthread_mutex_unlock(&sh->guard);
				return MP_ETIMEDOUT;
			}
		}
		if (sh->broken_gen == gen + 1)
			rc = MP_EBROKENBARRIER;
	}
	pthread_mutex_unlock(&sh->guard);
	return rc;
	/* END SOLUTION */
}

int mp_barrier_abort(mp_barrier *b)
{
	if (!b)
		return -EINVAL;
	mp__guard_lock(&b->shared->guard, &mp__forever);
	break_generation(b->shared);
	pthread_mutex_unlock(&b->shared->guard);
	return 0;
}

int mp_barrier_reset(mp_barrier *b)
{
	if (!b)
		return -EINVAL;
	mp__guard_lock(&b->shared->guard, &mp__forever);
	if (b->shared->arrived > 0)
		break_generation(b->shared); /* those waiting now are told it broke */
	b->shared->broken = false;
	pthread_mutex_unlock(&b->shared->guard);
	return 0;
}

unsigned mp_barrier_parties(const mp_barrier *b)
{
	return b ? b->shared->parties : 0;
}

unsigned mp_barrier_n_waiting(const mp_barrier *b)
{
	return b ? __atomic_load_n(&b->shared->arrived, __ATOMIC_RELAXED) : 0;
}

bool mp_barrier_broken(const mp_barrier *b)
{
	return b && __atomic_load_n(&b->shared->broken, __ATOMIC_RELAXED);
}
