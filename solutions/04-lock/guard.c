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

int mp__mutex_init(struct mp__mutex *m, int type)
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
		rc = pthread_mutex_init(&m->m, &a);
	pthread_mutexattr_destroy(&a);
	atomic_store(&m->sleepers, 0);
	return -rc;
}

static long futex(_Atomic uint32_t *word, int op, uint32_t val, const struct timespec *timeout)
{
	return syscall(SYS_futex, word, op, val, timeout, NULL, 0);
}

/* The futex word under glibc's mutex: its holder's thread id, and flag bits. */
static _Atomic uint32_t *lock_word(struct mp__mutex *m)
{
	return (_Atomic uint32_t *)&m->m.__data.__lock;
}

/* The lock was held at the first try: sleep for it, counted among its sleepers meanwhile. */
int mp__mutex_wait(struct mp__mutex *m, const struct mp__deadline *d)
{
	struct timespec left;
	const struct timespec *t = mp__deadline_left(d, &left);
	if (t && t->tv_sec == 0 && t->tv_nsec == 0)
		return ETIMEDOUT; /* a timeout of 0: the one try was all */
	atomic_fetch_add(&m->sleepers, 1);
	int rc = d->forever ? pthread_mutex_lock(&m->m) : pthread_mutex_clocklock(&m->m, CLOCK_MONOTONIC, &d->end);
	atomic_fetch_sub(&m->sleepers, 1);
	return rc;
}

void mp__mutex_wake_sleepers(struct mp__mutex *m)
{
	futex(lock_word(m), FUTEX_WAKE, INT_MAX, NULL);
}

void mp__pause_for_the_tests(const char *point)
{
	struct timespec t = { 0, 300000000 };
	if (mp__fault(point))
		while (nanosleep(&t, &t) < 0 && errno == EINTR)
			continue;
}

/* For the tests (fault.h): die, or stall, holding a guard, as a process killed or set aside then would. */
static void for_the_tests_while_holding(void)
{
	if (mp__fault("die:holding-guard"))
		raise(SIGKILL);
	mp__pause_for_the_tests("nap:holding-guard");
}

int mp__guard_lock(struct mp__mutex *m, const struct mp__deadline *d)
{
	int rc = mp__mutex_lock(m, d);
	if (rc == EOWNERDEAD) {
		pthread_mutex_consistent(&m->m);
		rc = 0;
	}
	if (rc == 0)
		for_the_tests_while_holding();
	return rc == 0 ? 0 : MP_ETIMEDOUT;
}

int mp__sleep(struct mp__wakeup *w, struct mp__mutex *m, const struct mp__deadline *d)
{
	struct timespec left;
	const struct timespec *t = mp__deadline_left(d, &left);
	if (t && t->tv_sec == 0 && t->tv_nsec == 0)
		return ETIMEDOUT;
	/* Read under the guard: a waker changes it under the guard too, so no wake-up falls in between. */
	uint32_t seen = atomic_load(&w->seq);
	atomic_fetch_add(&w->asleep, 1);
	mp__mutex_unlock(m);
	mp__pause_for_the_tests("nap:before-sleep"); /* a wake-up that comes now must not be lost */
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
