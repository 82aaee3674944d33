/* guard.c: process-shared mutexes, condition variables and memory, the ground stage 04 stands on. */
#define _GNU_SOURCE /* pthread_mutex_clocklock() */
#include <mp.h>

#include "guard.h"
#include "../01-process/fault.h"

#include <errno.h>
#include <sys/mman.h>

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

int mp__cond_init(pthread_cond_t *c)
{
	pthread_condattr_t a;
	int rc = pthread_condattr_init(&a);
	if (rc == 0)
		rc = pthread_condattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	if (rc == 0)
		rc = pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	if (rc == 0)
		rc = pthread_cond_init(c, &a);
	pthread_condattr_destroy(&a);
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

int mp__guard_lock(pthread_mutex_t *m, const struct mp__deadline *d)
{
	int rc = mp__mutex_lock(m, d);
	if (rc == EOWNERDEAD) {
		pthread_mutex_consistent(m);
		rc = 0;
	}
	return rc == 0 ? 0 : MP_ETIMEDOUT;
}

int mp__cond_wait(pthread_cond_t *c, pthread_mutex_t *m, const struct mp__deadline *d)
{
	int rc = d->forever ? pthread_cond_wait(c, m) : pthread_cond_timedwait(c, m, &d->end);
	if (rc == EOWNERDEAD) {
		pthread_mutex_consistent(m); /* a guard: see mp__guard_lock() */
		rc = 0;
	}
	return rc;
}
