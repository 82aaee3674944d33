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
 * badly: an abort, a reset, a timeout, a failed action or a dead one breaks
 * it, and its waiters wake to MP_EBROKENBARRIER.
 *
 * The action is user code, so it runs without the guard, holding `in_action`
 * instead, a second robust mutex. While it runs, the other parties wait to
 * take `in_action` rather than sleep: if the action's process dies, the
 * kernel hands `in_action` to one of them with EOWNERDEAD, and it breaks the
 * round for all. Their timeouts hold meanwhile, since the guard is free.
 */
struct shared {
	struct mp__mutex guard;
	struct mp__mutex in_action;  /* held by the party running the action */
	struct mp__wakeup next;     /* every sleeper woken before a generation ends, or its action starts */
	unsigned parties;
	unsigned arrived;         /* in the current generation */
	unsigned generation;
	unsigned broken_gen;      /* the last generation that ended broken, plus one (0: none) */
	bool broken;              /* broken now, until a reset */
	bool acting;              /* the current generation's action is running */
	_Atomic unsigned action_died; /* the generation whose action's process died, plus one */
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
		rc = mp__mutex_init(&b->shared->in_action, PTHREAD_MUTEX_ERRORCHECK);
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
	mp__wake_all(&sh->next);
	sh->broken = true;
	sh->broken_gen = sh->generation + 1;
	sh->arrived = 0;
	sh->acting = false;
	sh->generation++;
}

/* End the current generation well. With the guard held. */
static void next_generation(struct shared *sh)
{
	mp__wake_all(&sh->next);
	sh->arrived = 0;
	sh->acting = false;
	sh->generation++;
}

/*
 * The last party: run the action, without the guard, holding `in_action`.
 * Returns whether it succeeded, with the guard held again and `in_action`
 * still held: it goes only once the round is over, so that no party can
 * find `in_action` free while the round still says the action runs.
 */
static bool run_action(struct shared *sh, mp_target_fn action)
{
	if (mp__mutex_lock(&sh->in_action, &mp__forever) == EOWNERDEAD)
		pthread_mutex_consistent(&sh->in_action.m); /* an earlier action died, and nobody was waiting to see it */
	mp__wake_all(&sh->next); /* the sleepers must now watch `in_action` instead */
	sh->acting = true;
	mp__mutex_unlock(&sh->guard);
	bool ok = action(NULL, 0) == 0;
	mp__guard_lock(&sh->guard, &mp__forever);
	return ok;
}

/*
 * A waiting party, while the action runs: wait until `in_action` is free.
 * Returns 0 (look again), ETIMEDOUT, or EOWNERDEAD if the action's process
 * died. Called with the guard held, returns with it held.
 */
static int wait_for_action(struct shared *sh, const struct mp__deadline *d)
{
	unsigned gen = sh->generation;
	mp__mutex_unlock(&sh->guard);
	int rc = mp__mutex_lock(&sh->in_action, d);
	if (rc == EOWNERDEAD) {
		/* Said before `in_action` goes, for the parties that take it after us, before we have the guard. */
		atomic_store(&sh->action_died, gen + 1);
		pthread_mutex_consistent(&sh->in_action.m);
	}
	if (rc == 0 || rc == EOWNERDEAD)
		mp__mutex_unlock(&sh->in_action); /* only the answer was wanted */
	mp__guard_lock(&sh->guard, &mp__forever);
	if (rc == ETIMEDOUT)
		return ETIMEDOUT;
	return atomic_load(&sh->action_died) == gen + 1 ? EOWNERDEAD : 0;
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
	/* BEGIN SOLUTION stub: mp__mutex_unlock(&sh->guard); return MP_ETODO;
	 * Hint: a broken barrier answers MP_EBROKENBARRIER at once. Your index
	 * is how many arrived before you. The last to arrive runs the action
	 * with run_action() (mp_target_find(sh->action); a failure breaks the
	 * barrier) and starts the next generation. The others wait until the
	 * generation changes: with mp__sleep(), or, while sh->acting, with
	 * wait_for_action(), whose EOWNERDEAD (the action died) breaks the
	 * round. Then it was broken if it is the one recorded in broken_gen.
	 * A timeout breaks it for everyone.
	 * Lesson 04, "Barriers".
	 */
	int rc;
	if (sh->broken) {
		rc = MP_EBROKENBARRIER;
	} else if (sh->arrived + 1 == sh->parties) {
		rc = (int)sh->arrived;
		unsigned gen = sh->generation;
		mp_target_fn action = sh->action[0] ? mp_target_find(sh->action) : NULL;
		bool ok = action ? run_action(sh, action) : true;
		if (gen != sh->generation) {
			rc = MP_EBROKENBARRIER; /* a timeout, an abort or a reset ended the round during the action */
		} else if (!ok) {
			break_generation(sh); /* the action failed */
			rc = MP_EBROKENBARRIER;
		} else {
			next_generation(sh);
		}
		if (action)
			mp__mutex_unlock(&sh->in_action);
	} else {
		unsigned gen = sh->generation;
		rc = (int)sh->arrived++;
		while (gen == sh->generation) {
			int woke = sh->acting ? wait_for_action(sh, &d) : mp__sleep(&sh->next, &sh->guard, &d);
			if (gen != sh->generation)
				break;
			if (woke == EOWNERDEAD) {
				break_generation(sh); /* the action's process died: the round cannot end well */
			} else if (woke == ETIMEDOUT) {
				break_generation(sh); /* Python's rule: one timeout breaks it for all */
				mp__mutex_unlock(&sh->guard);
				return MP_ETIMEDOUT;
			}
		}
		if (sh->broken_gen == gen + 1)
			rc = MP_EBROKENBARRIER;
	}
	mp__mutex_unlock(&sh->guard);
	return rc;
	/* END SOLUTION */
}

int mp_barrier_abort(mp_barrier *b)
{
	if (!b)
		return -EINVAL;
	mp__guard_lock(&b->shared->guard, &mp__forever);
	break_generation(b->shared);
	mp__mutex_unlock(&b->shared->guard);
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
	mp__mutex_unlock(&b->shared->guard);
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
