/* guard.c: process-shared mutexes, wake-ups and memory, the ground stage 04 stands on. */
#define _GNU_SOURCE /* pthread_mutex_clocklock() */
#include <mp.h>

#include "guard.h"
#include "../01-process/fault.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>


void *mp__shared_alloc(size_t size)
{
	if (mp__fault("mmap")) /* the seam: tests make it fail to see -ENOMEM handled */
		return NULL;
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

void mp__shared_free(void *block, size_t size)
{
	if (block)
		munmap(block, size);
}

int mp__mutex_init(pthread_mutex_t *m, int type)
{
	pthread_mutexattr_t a;
	int rc = pthread_mutexattr_init(&a);
	if (rc == 0)
		rc = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	if (rc == 0)
		rc = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	if (rc == 0)
		rc = pthread_mutexattr_settype(&a, type);
	if (rc == 0)
		rc = pthread_mutex_init(m, &a);
	pthread_mutexattr_destroy(&a);
	return -rc;
}

int mp__mutex_lock(pthread_mutex_t *m, const struct mp__deadline *d)
{
	if (d->forever)
		return pthread_mutex_lock(m);
	/*
	 * A deadline that has passed (a timeout of 0) goes here too: clocklock
	 * tries once and answers ETIMEDOUT at once. Not pthread_mutex_trylock():
	 * on a robust mutex that is not recoverable, glibc 2.36's trylock leaves
	 * the caller's thread id in the lock word, and the lock is then wrecked
	 * for every process (their locks time out, the caller's say EDEADLK).
	 */
	return pthread_mutex_clocklock(m, CLOCK_MONOTONIC, &d->end);
}

/* For the tests (fault.h): die, or stall 0.3 s, holding a guard, as a process killed or set aside then would. */
static void for_the_tests_while_holding(void)
{
	struct timespec t = { 0, 300000000 };
	if (mp__fault("die:holding-guard"))
		raise(SIGKILL);
	if (mp__fault("nap:holding-guard"))
		while (nanosleep(&t, &t) < 0 && errno == EINTR)
			continue;
}

int mp__guard_lock(pthread_mutex_t *m, const struct mp__deadline *d)
{
	int rc = mp__mutex_lock(m, d);
	if (rc == EOWNERDEAD) {
		pthread_mutex_consistent(m);
		rc = 0;
	}
	if (rc == 0)
		for_the_tests_while_holding();
	return rc == 0 ? 0 : MP_ETIMEDOUT;
}

static long futex(_Atomic uint32_t *word, int op, uint32_t val, const struct timespec *timeout)
{
	return syscall(SYS_futex, word, op, val, timeout, NULL, 0);
}

int mp__sleep(struct mp__wakeup *w, pthread_mutex_t *m, const struct mp__deadline *d)
{
	struct timespec left;
	const struct timespec *t = mp__deadline_left(d, &left);
	if (t && t->tv_sec == 0 && t->tv_nsec == 0)
		return ETIMEDOUT;
	/* Read under the guard: a waker changes it under the guard too, so no wake-up falls in between. */
	uint32_t seen = atomic_load(&w->seq);
	atomic_fetch_add(&w->asleep, 1);
	pthread_mutex_unlock(m);
	long rc = futex(&w->seq, FUTEX_WAIT, seen, t);
	int err = errno;
	atomic_fetch_sub(&w->asleep, 1);
	mp__guard_lock(m, &mp__forever);
	return rc < 0 && err == ETIMEDOUT ? ETIMEDOUT : 0;
}

void mp__wake_all(struct mp__wakeup *w)
{
	if (atomic_load(&w->asleep) == 0)
		return;
	atomic_fetch_add(&w->seq, 1);
	futex(&w->seq, FUTEX_WAKE, INT_MAX, NULL);
}
