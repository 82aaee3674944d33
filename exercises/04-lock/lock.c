/* lock.c: Lock and RLock across processes, and what happens when a holder dies. */
#define _GNU_SOURCE /* gettid() */
#include <mp.h>

#include "guard.h"
#include "../01-process/fault.h"
#include "lock_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

/*
 * A lock is a robust, process-shared pthread mutex. Underneath it is a
 * futex: an integer in shared memory that holds the owner's thread id. An
 * uncontended acquire is one atomic compare-and-swap in user space; only a
 * process that must wait enters the kernel (FUTEX_WAIT), and only a release
 * that sees waiters wakes them (FUTEX_WAKE, guard.h). "Robust" means each thread
 * keeps, in user memory, a list of the robust mutexes it holds and tells the
 * kernel where (set_robust_list). When a thread dies, the kernel walks that
 * list, marks each mutex "owner died" and wakes a waiter, which then gets
 * EOWNERDEAD together with the lock.
 */

/*
 * The calling thread's id, to compare with the holder's in the lock word
 * ("do I hold it?", which a condition asks). gettid() is a system call,
 * dearer than the whole uncontended lock, so each thread asks once and keeps
 * the answer. A child made by fork() is a new thread with a new id: the
 * handler below empties the copy it inherits.
 */
static _Thread_local pid_t cached_tid;
static pthread_once_t fork_handler_once = PTHREAD_ONCE_INIT;

static void forget_tid(void)
{
	cached_tid = 0;
}

static void register_fork_handler(void)
{
	pthread_atfork(NULL, NULL, forget_tid);
}

static pid_t my_tid(void)
{
	if (!cached_tid) {
		pthread_once(&fork_handler_once, register_fork_handler);
		cached_tid = gettid();
	}
	return cached_tid;
}

static int lock_new(mp_lock **out, bool recursive)
{
	if (!out)
		return -EINVAL;
	mp_lock *l = mp__fault("calloc") ? NULL : calloc(1, sizeof *l);
	if (!l)
		return -ENOMEM;
	l->mutex = mp__shared_alloc(sizeof *l->mutex);
	if (!l->mutex) {
		free(l);
		return -ENOMEM;
	}
	int rc = mp__mutex_init(l->mutex, recursive ? PTHREAD_MUTEX_RECURSIVE : PTHREAD_MUTEX_ERRORCHECK);
	if (rc < 0) {
		mp_lock_free(l);
		return rc;
	}
	*out = l;
	return 0;
}

int mp_lock_new(mp_lock **out)
{
	return lock_new(out, false);
}

int mp_rlock_new(mp_lock **out)
{
	return lock_new(out, true);
}

void mp_lock_free(mp_lock *l)
{
	if (!l)
		return;
	mp__shared_free(l->mutex, sizeof *l->mutex);
	free(l);
}

int mp_lock_acquire(mp_lock *l, double timeout)
{
	if (!l)
		return -EINVAL;
	/* For ever is the common case, and needs no deadline: not even a call, on the path every acquire takes. */
	struct mp__deadline d = { .forever = true };
	if (!(timeout < 0) && mp__deadline_start(&d, timeout) < 0)
		return -EINVAL;
	/* TODO: your code goes here.
	 * Hint: mp__mutex_lock() does the waiting; map what it says.
	 * EOWNERDEAD: you hold it, and its last holder died holding it
	 * (MP_EOWNERDEAD); ETIMEDOUT: MP_ETIMEDOUT; ENOTRECOVERABLE:
	 * MP_EUNRECOVERABLE; anything else as a negated errno (EDEADLK: a
	 * plain lock taken again by its holder).
	 * Lesson 04, "When the holder dies: robust mutexes".
	 */
	return MP_ETODO;
}

int mp_lock_release(mp_lock *l)
{
	if (!l)
		return -EINVAL;
	/* TODO: your code goes here.
	 * Hint: mp__mutex_unlock(). A robust mutex refuses an unlock by any
	 * thread but its holder (EPERM): that is MP_ENOTOWNER.
	 * Lesson 04, "How a process-shared mutex works".
	 */
	return MP_ETODO;
}

int mp_lock_mark_consistent(mp_lock *l)
{
	if (!l)
		return -EINVAL;
	/* TODO: your code goes here.
	 * Hint: pthread_mutex_consistent(), by the holder only
	 * (mp__lock_held(); -EINVAL for anyone else: glibc does not check).
	 * Lesson 04, "When the holder dies: robust mutexes".
	 */
	return MP_ETODO;
}

bool mp__lock_held(const mp_lock *l)
{
	return mp__lock_owner(l) == my_tid();
}
