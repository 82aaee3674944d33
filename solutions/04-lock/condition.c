/* condition.c: Condition: wait for a change of shared state, under a lock. */
#define _GNU_SOURCE /* syscall(), for the futex */
#include <mp.h>

#include "guard.h"
#include "../01-process/fault.h"
#include "lock_internal.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

/*
 * What the waiters and notifiers share, changed only by the holder of the
 * condition's lock. A waiter counts itself in `waiting`, reads `seq`, lets
 * the lock go and sleeps on `seq` with FUTEX_WAIT; a notify hands out
 * `notified` tickets and changes `seq`. Since both read and change `seq`
 * holding the lock, no notify falls between a waiter's look and its sleep.
 * Nothing is kept for a waiter in the kernel: one killed asleep leaves only
 * its place in `waiting` (see mp_condition_notify()).
 */
struct room {
	_Atomic uint32_t seq; /* a futex: changes at every notify */
	unsigned waiting;     /* waits begun and not ended */
	unsigned notified;    /* tickets handed out and not yet taken; never more than waiting */
};

struct mp_condition {
	mp_lock *lock;     /* the lock guarding the state waited for */
	bool own_lock;     /* made here, freed here */
	struct room *room; /* in shared memory */
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
	if (rc == 0 && !(c->room = mp__shared_alloc(sizeof *c->room)))
		rc = -ENOMEM;
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
	mp__shared_free(c->room, sizeof *c->room);
	free(c);
}

mp_lock *mp_condition_lock(mp_condition *c)
{
	return c ? c->lock : NULL;
}

static long futex(_Atomic uint32_t *word, int op, uint32_t val, const struct timespec *timeout)
{
	return syscall(SYS_futex, word, op, val, timeout, NULL, 0);
}

/* Let go of every level of the lock, which this thread holds @depth times: while it waits, nobody holds it. */
static void let_go(struct mp__mutex *m, unsigned depth)
{
	for (unsigned i = 0; i < depth; i++)
		mp__mutex_unlock(m);
}

/*
 * Take the lock back, @depth times. Returns what the first lock said: 0,
 * EOWNERDEAD, or ENOTRECOVERABLE, and then the lock is not held: a holder
 * died meanwhile, and the next one let it go without repair.
 */
static int take_back(struct mp__mutex *m, unsigned depth)
{
	int rc = mp__mutex_lock(m, &mp__forever);
	for (unsigned i = 1; i < depth && rc != ENOTRECOVERABLE; i++)
		mp__mutex_lock(m, &mp__forever);
	return rc;
}

int mp_condition_wait(mp_condition *c, double timeout)
{
	if (!c)
		return -EINVAL;
	struct mp__deadline d;
	if (mp__deadline_start(&d, timeout) < 0)
		return -EINVAL;
	struct mp__mutex *m = c->lock->mutex;
	struct room *r = c->room;
	/* BEGIN SOLUTION stub: return MP_ETODO;
	 * Hint: the caller must hold the lock (mp__lock_held). Count yourself
	 * in r->waiting. Then, until you take a ticket: read r->seq, let_go()
	 * of the lock (all its levels: a re-entrant lock may be held several
	 * times), FUTEX_WAIT on r->seq with the value read and the time left,
	 * take_back() the lock. A ticket (r->notified > 0) means you were
	 * notified: take it. EOWNERDEAD from take_back() means a holder died
	 * meanwhile: take your ticket if one waits, then return MP_EOWNERDEAD
	 * either way. A timeout with no ticket is MP_ETIMEDOUT. Count yourself
	 * out of r->waiting before you return, except after ENOTRECOVERABLE:
	 * the lock is not held then, and lost for good (MP_EUNRECOVERABLE).
	 * Lesson 04, "Semaphores, events and conditions".
	 */
	if (!mp__lock_held(c->lock))
		return MP_ENOTOWNER;
	unsigned depth = mp__lock_depth(c->lock);
	r->waiting++;
	int rc;
	bool holder_died = false;
	for (;;) {
		struct timespec left;
		const struct timespec *t = mp__deadline_left(&d, &left);
		bool timed_out = t && t->tv_sec == 0 && t->tv_nsec == 0;
		if (!timed_out) {
			uint32_t seen = atomic_load(&r->seq);
			let_go(m, depth);
			mp__pause_for_the_tests("nap:before-sleep"); /* a notify that comes now must not be lost */
			timed_out = futex(&r->seq, FUTEX_WAIT, seen, t) < 0 && errno == ETIMEDOUT;
			int back = take_back(m, depth);
			if (back == ENOTRECOVERABLE)
				return MP_EUNRECOVERABLE; /* not held: the room is nobody's to touch now */
			holder_died |= back == EOWNERDEAD;
		}
		if (r->notified > 0) {
			r->notified--; /* ours, even if the notifier died after handing it out */
			rc = holder_died ? MP_EOWNERDEAD : 0;
			break;
		}
		if (holder_died) {
			rc = MP_EOWNERDEAD;
			break;
		}
		if (timed_out) {
			rc = MP_ETIMEDOUT;
			break;
		}
	}
	r->waiting--;
	if (r->notified > r->waiting)
		r->notified = r->waiting; /* a ticket nobody can take any more */
	return rc;
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

/* Hand out up to @n tickets, one a waiter, and wake every waiter: each looks, and those with no ticket sleep again. */
static void notify(struct room *r, unsigned n)
{
	/* BEGIN SOLUTION stub:
	 * Hint: no more tickets than waiters without one (r->waiting less
	 * r->notified); none, nothing to do. Change r->seq and FUTEX_WAKE
	 * every sleeper on it, then add the tickets: the caller holds the lock,
	 * so the woken look only once they are out. Why wake them all, and
	 * not n? One woken and then killed would take its wake-up with it.
	 * Lesson 04, "Semaphores, events and conditions".
	 */
	unsigned free_waiters = r->waiting - r->notified;
	if (n > free_waiters)
		n = free_waiters;
	if (n == 0)
		return;
	/* Wake first, then hand out: the lock is held, so the woken look only once the tickets are out. */
	atomic_fetch_add(&r->seq, 1);
	futex(&r->seq, FUTEX_WAKE, INT_MAX, NULL);
	r->notified += n;
	/* END SOLUTION */
}

int mp_condition_notify(mp_condition *c, unsigned n)
{
	if (!c)
		return -EINVAL;
	if (!mp__lock_held(c->lock))
		return MP_ENOTOWNER;
	notify(c->room, n);
	return 0;
}

int mp_condition_notify_all(mp_condition *c)
{
	if (!c)
		return -EINVAL;
	if (!mp__lock_held(c->lock))
		return MP_ENOTOWNER;
	notify(c->room, UINT_MAX);
	return 0;
}
