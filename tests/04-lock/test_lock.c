/* test_lock.c: stage 04, locks, the other synchronisation primitives and shared memory, with dying holders. */
#define _GNU_SOURCE
#include "mp_test.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MP_LESSON "lessons/04-lock.md"

/*
 * Children get the objects as the bytes of pointers: under fork, the
 * child's copies of the handles sit at the same addresses and point at the
 * same shared memory. Children never assert: they report with exit codes.
 */
struct job {
	mp_lock *lock;
	mp_semaphore *sem;
	mp_event *event;
	mp_condition *cond;
	mp_barrier *barrier;
	mp_array *array;
	char name[64];
	int count;
	double timeout;
	int fd;            /* a pipe's read end, for children that must wait for word from the parent */
	int fd_close;      /* its write end, which such a child must close, or EOF never comes */
	int ready;         /* > 0: a pipe's write end, where the child writes a byte once it is set */
	int expect;        /* the status a child expects from its call */
	double pause;      /* seconds a child waits before it acts */
	mp_shm *shm;       /* a handle the child inherits */
	int idle_on;       /* > 0: the child runs only on CPU idle_on - 1, at SCHED_IDLE: a busy process there starves it */
};

static void sleep_ms(int ms)
{
	struct timespec t = { ms / 1000, (long)(ms % 1000) * 1000000L };
	while (nanosleep(&t, &t) < 0 && errno == EINTR)
		;
}

/* Block until the other end of the pipe is closed. */
static void wait_for_close(int fd)
{
	char c;
	while (read(fd, &c, 1) > 0 || errno == EINTR)
		;
}

/* Add 1 to a shared counter, job->count times, under the lock (if any). */
MP_TARGET(count_up)(const void *arg, size_t len)
{
	(void)len;
	const struct job *j = arg;
	volatile int64_t *n = mp_array_data(j->array);
	for (int i = 0; i < j->count; i++) {
		if (j->lock && mp_lock_acquire(j->lock, 10) != 0)
			return 1;
		int64_t v = *n;
		*n = v + 1;
		if (j->lock && mp_lock_release(j->lock) != 0)
			return 2;
	}
	return 0;
}

/* Try the lock: exit 0 if acquire(j->timeout) says MP_ETIMEDOUT, 1 if it got it. */
MP_TARGET(try_lock)(const void *arg, size_t len)
{
	(void)len;
	const struct job *j = arg;
	int rc = mp_lock_acquire(j->lock, j->timeout);
	if (rc == 0) {
		int rel = mp_lock_release(j->lock);
		return rel == 0 ? 1 : 3;
	}
	return rc == MP_ETIMEDOUT ? 0 : 2;
}

/* Take the lock, half-update the shared pair, and die without a word. */
MP_TARGET(die_holding_the_lock)(const void *arg, size_t len)
{
	(void)len;
	const struct job *j = arg;
	int64_t *pair = mp_array_data(j->array);
	if (mp_lock_acquire(j->lock, 5) != 0)
		return 1;
	pair[0]++; /* the invariant pair[0] == pair[1] is broken until pair[1]++ */
	raise(SIGKILL);
	return 2;
}

/* Update the pair under the lock forever (until killed), repairing after dead holders. */
MP_TARGET(update_pairs_forever)(const void *arg, size_t len)
{
	(void)len;
	const struct job *j = arg;
	volatile int64_t *pair = mp_array_data(j->array);
	for (;;) {
		int rc = mp_lock_acquire(j->lock, 5);
		if (rc == MP_EOWNERDEAD) {
			pair[1] = pair[0];
			mp_lock_mark_consistent(j->lock);
		} else if (rc != 0) {
			return 1;
		}
		pair[0]++;
		pair[1]++;
		mp_lock_release(j->lock);
	}
}

MP_TARGET(take_the_semaphore)(const void *arg, size_t len)
{
	(void)len;
	const struct job *j = arg;
	return mp_semaphore_acquire(j->sem, j->timeout) == 0 ? 0 : 1;
}

MP_TARGET(wait_for_event)(const void *arg, size_t len)
{
	(void)len;
	const struct job *j = arg;
	return mp_event_wait(j->event, j->timeout) == 0 ? 0 : 1;
}

static bool counter_positive(void *arg)
{
	return *(volatile int64_t *)arg > 0;
}

/* Wait on the condition for the counter to become positive, then take one. */
MP_TARGET(wait_on_condition)(const void *arg, size_t len)
{
	(void)len;
	const struct job *j = arg;
	int64_t *n = mp_array_data(j->array);
	mp_lock *l = mp_condition_lock(j->cond);
	if (mp_lock_acquire(l, 10) != 0)
		return 1;
	if (j->ready > 0 && write(j->ready, "r", 1) != 1) /* while holding the lock: see count_waiters() */
		return 3;
	int rc = mp_condition_wait_for(j->cond, counter_positive, n, j->timeout);
	if (rc == 1)
		(*n)--;
	mp_lock_release(l);
	return rc == 1 ? 0 : 2;
}

/* The barrier's action: count the rounds in the shared array. */
static mp_array *rounds;

MP_TARGET(count_round)(const void *arg, size_t len)
{
	(void)arg;
	(void)len;
	((int64_t *)mp_array_data(rounds))[0]++;
	return 0;
}

MP_TARGET(fail_action)(const void *arg, size_t len)
{
	(void)arg;
	(void)len;
	return 1;
}

/* Wait at the barrier; exit with the index, or 100 + the error's distance from MP_EBROKENBARRIER. */
MP_TARGET(wait_at_barrier)(const void *arg, size_t len)
{
	(void)len;
	const struct job *j = arg;
	int rc = mp_barrier_wait(j->barrier, j->timeout);
	if (rc >= 0)
		return rc;
	return rc == MP_EBROKENBARRIER ? 100 : rc == MP_ETIMEDOUT ? 101 : 102;
}

MP_TARGET(write_pattern)(const void *arg, size_t len)
{
	(void)len;
	const struct job *j = arg;
	unsigned char *p = mp_array_data(j->array);
	for (size_t i = 0; i < mp_array_length(j->array); i++)
		p[i] = (unsigned char)(i * 7 + 1);
	return 0;
}

/* Attach a named block, write to it, hold it until told, detach. */
MP_TARGET(use_named_block)(const void *arg, size_t len)
{
	(void)len;
	const struct job *j = arg;
	mp_shm *s;
	if (mp_shm_attach(&s, j->name) != 0)
		return 1;
	memcpy(mp_shm_data(s), "from the child", 15);
	if (j->fd >= 0) {
		close(j->fd_close);
		wait_for_close(j->fd);
	}
	mp_shm_detach(s);
	return 0;
}

/* Write through the inherited handle j->shm, then hold it until the parent closes the pipe. */
MP_TARGET(use_inherited_block)(const void *arg, size_t len)
{
	(void)len;
	const struct job *j = arg;
	memcpy(mp_shm_data(j->shm), "from the child", 15);
	close(j->fd_close);
	wait_for_close(j->fd);
	mp_shm_detach(j->shm);
	return 0;
}

/* ------------------------------------------------------------------------- */

static int count_mappings(void);

static mp_process *start(const char *target, const struct job *j)
{
	mp_process *p = NULL;
	mp_expect_status(mp_process_new(&p, target, j, sizeof *j), 0);
	mp_expect_status(mp_process_start(p), 0);
	return p;
}

static int finish(mp_process *p)
{
	int code = -1000;
	int rc = mp_process_join(p, 20);
	cr_assert(rc == 0, "a child did not end within 20 s (%s)", mp_err_name(rc));
	mp_process_exitcode(p, &code);
	mp_process_free(p);
	return code;
}

static mp_array *new_array(size_t elem, size_t count, bool with_lock)
{
	mp_array *a = NULL;
	mp_expect_status(mp_array_new(&a, elem, count, with_lock), 0);
	cr_assert(a && mp_array_data(a));
	return a;
}

static mp_lock *new_lock(bool recursive)
{
	mp_lock *l = NULL;
	mp_expect_status(recursive ? mp_rlock_new(&l) : mp_lock_new(&l), 0);
	return l;
}

/* ------------------------------------------------------------------------- */
/* A race, shown and fixed */

MP_TEST(lock, a_lock_makes_a_shared_counter_exact, 3, "A race, shown and fixed")
{
	mp_array *counter = new_array(sizeof(int64_t), 1, false);
	mp_lock *l = new_lock(false);
	struct job j = { .lock = l, .array = counter, .count = 20000 };
	mp_process *a = start("count_up", &j), *b = start("count_up", &j);
	cr_assert_eq(finish(a), 0, "a counting child failed to acquire or release the lock");
	cr_assert_eq(finish(b), 0);
	int64_t n = *(int64_t *)mp_array_data(counter);
	cr_assert_eq(n, 40000, "two processes added 20000 each under the lock, the counter says %lld", (long long)n);
	mp_lock_free(l);
	mp_array_free(counter);
}

/* ------------------------------------------------------------------------- */
/* How a process-shared mutex works */

MP_TEST(lock, acquire_waits_for_the_holder_up_to_the_timeout, 3, "How a process-shared mutex works")
{
	mp_lock *l = new_lock(false);
	mp_expect_status(mp_lock_acquire(l, 0), 0);
	mp_process *p = start("try_lock", &(struct job){ .lock = l, .timeout = 0 });
	cr_assert_eq(finish(p), 0, "acquire(0) on a held lock must say MP_ETIMEDOUT at once");
	double t0 = mp_test_now();
	p = start("try_lock", &(struct job){ .lock = l, .timeout = 0.2 });
	cr_assert_eq(finish(p), 0, "acquire(0.2) on a held lock must time out");
	cr_assert(mp_test_now() - t0 >= 0.19, "acquire(0.2) gave up too early");
	mp_expect_status(mp_lock_release(l), 0);
	p = start("try_lock", &(struct job){ .lock = l, .timeout = 5 });
	cr_assert_eq(finish(p), 1, "once released, another process must get the lock");
	mp_lock_free(l);
}

MP_TEST(lock, only_the_holder_may_release_a_lock, 2, "How a process-shared mutex works")
{
	mp_lock *l = new_lock(false);
	mp_expect_status(mp_lock_release(l), MP_ENOTOWNER);
	mp_expect_status(mp_lock_acquire(l, 1), 0);
	mp_expect_status(mp_lock_acquire(l, 1), -EDEADLK);
	mp_expect_status(mp_lock_release(l), 0);
	mp_expect_status(mp_lock_release(l), MP_ENOTOWNER);
	mp_lock_free(l);
}

/* ------------------------------------------------------------------------- */
/* Re-entrant locks */

MP_TEST(lock, an_rlock_is_released_as_many_times_as_acquired, 2, "Re-entrant locks")
{
	mp_lock *l = new_lock(true);
	for (int i = 0; i < 3; i++)
		mp_expect_status(mp_lock_acquire(l, 1), 0);
	mp_expect_status(mp_lock_release(l), 0);
	mp_expect_status(mp_lock_release(l), 0);
	mp_process *p = start("try_lock", &(struct job){ .lock = l, .timeout = 0.05 });
	cr_assert_eq(finish(p), 0, "held once more, the rlock must still keep others out");
	mp_expect_status(mp_lock_release(l), 0);
	mp_expect_status(mp_lock_release(l), MP_ENOTOWNER);
	p = start("try_lock", &(struct job){ .lock = l, .timeout = 5 });
	cr_assert_eq(finish(p), 1);
	mp_lock_free(l);
}

/* ------------------------------------------------------------------------- */
/* When the holder dies: robust mutexes */

MP_TEST(lock, a_holder_that_dies_does_not_freeze_the_lock, 3, "When the holder dies: robust mutexes")
{
	mp_array *pair = new_array(sizeof(int64_t), 2, false);
	mp_lock *l = new_lock(false);
	mp_process *p = start("die_holding_the_lock", &(struct job){ .lock = l, .array = pair });
	cr_assert_eq(finish(p), -SIGKILL);
	int64_t *v = mp_array_data(pair);
	int rc = mp_lock_acquire(l, 5);
	mp_expect_status(rc, MP_EOWNERDEAD);
	cr_assert(v[0] == 1 && v[1] == 0, "the dead holder left the pair half-updated, as expected");
	v[1] = v[0]; /* repair */
	mp_expect_status(mp_lock_mark_consistent(l), 0);
	mp_expect_status(mp_lock_release(l), 0);
	mp_expect_status(mp_lock_acquire(l, 1), 0);
	mp_expect_status(mp_lock_release(l), 0);
	mp_lock_free(l);
	mp_array_free(pair);
}

MP_TEST(lock, a_lock_nobody_repairs_becomes_unrecoverable, 1, "When the holder dies: robust mutexes")
{
	mp_array *pair = new_array(sizeof(int64_t), 2, false);
	mp_lock *l = new_lock(false);
	mp_process *p = start("die_holding_the_lock", &(struct job){ .lock = l, .array = pair });
	cr_assert_eq(finish(p), -SIGKILL);
	mp_expect_status(mp_lock_acquire(l, 5), MP_EOWNERDEAD);
	mp_expect_status(mp_lock_release(l), 0); /* without mark_consistent */
	mp_expect_status(mp_lock_acquire(l, 1), MP_EUNRECOVERABLE);
	mp_lock_free(l);
	mp_array_free(pair);
}

MP_TEST(lock, holders_killed_at_random_never_freeze_or_corrupt, 3, "When the holder dies: robust mutexes")
{
	srand((unsigned)getpid());
	mp_array *pair = new_array(sizeof(int64_t), 2, false);
	mp_lock *l = new_lock(false);
	volatile int64_t *v = mp_array_data(pair);
	int deaths = 0;
	for (int round = 0; round < 8; round++) {
		mp_process *p = start("update_pairs_forever", &(struct job){ .lock = l, .array = pair });
		sleep_ms(5 + rand() % 20);
		mp_process_kill(p);
		cr_assert_eq(finish(p), -SIGKILL);
		int rc = mp_lock_acquire(l, 5);
		cr_assert(rc == 0 || rc == MP_EOWNERDEAD, "round %d: acquire after a kill returned %s", round,
			  mp_err_name(rc));
		if (rc == MP_EOWNERDEAD) {
			deaths++;
			cr_assert(v[0] - v[1] <= 1, "round %d: the pair is off by more than one update", round);
			v[1] = v[0];
			mp_expect_status(mp_lock_mark_consistent(l), 0);
		} else {
			cr_assert_eq(v[0], v[1], "round %d: the lock was free, yet the pair is inconsistent", round);
		}
		mp_expect_status(mp_lock_release(l), 0);
	}
	cr_assert(v[0] > 0, "the children never got to update the pair");
	(void)deaths; /* how often the kill landed inside the lock is up to chance */
	mp_lock_free(l);
	mp_array_free(pair);
}

/* ------------------------------------------------------------------------- */
/* Semaphores, events and conditions */

MP_TEST(lock, a_semaphore_counts_its_units, 2, "Semaphores, events and conditions")
{
	mp_semaphore *s = NULL;
	mp_expect_status(mp_semaphore_new(&s, 2), 0);
	mp_expect_status(mp_semaphore_acquire(s, 0), 0);
	mp_expect_status(mp_semaphore_acquire(s, 0), 0);
	cr_assert_eq(mp_semaphore_value(s), 0);
	double t0 = mp_test_now();
	mp_expect_status(mp_semaphore_acquire(s, 0.2), MP_ETIMEDOUT);
	cr_assert(mp_test_now() - t0 >= 0.19, "acquire(0.2) gave up too early");
	mp_process *p = start("take_the_semaphore", &(struct job){ .sem = s, .timeout = 5 });
	sleep_ms(50);
	mp_expect_status(mp_semaphore_release(s), 0);
	cr_assert_eq(finish(p), 0, "a release must wake a process waiting for a unit");
	mp_expect_status(mp_semaphore_release(s), 0);
	mp_expect_status(mp_semaphore_release(s), 0);
	mp_expect_status(mp_semaphore_release(s), 0); /* unbounded: may go past where it began */
	cr_assert_eq(mp_semaphore_value(s), 3);
	mp_semaphore_free(s);
}

MP_TEST(lock, a_bounded_semaphore_refuses_to_overflow, 1, "Semaphores, events and conditions")
{
	mp_semaphore *s = NULL;
	mp_expect_status(mp_bounded_semaphore_new(&s, 1), 0);
	mp_expect_status(mp_semaphore_release(s), MP_EBOUND);
	mp_expect_status(mp_semaphore_acquire(s, 1), 0);
	mp_expect_status(mp_semaphore_release(s), 0);
	mp_expect_status(mp_semaphore_release(s), MP_EBOUND);
	cr_assert_eq(mp_semaphore_value(s), 1);
	mp_semaphore_free(s);
}

MP_TEST(lock, an_event_wakes_every_waiter, 2, "Semaphores, events and conditions")
{
	mp_event *e = NULL;
	mp_expect_status(mp_event_new(&e), 0);
	cr_assert(!mp_event_is_set(e));
	mp_expect_status(mp_event_wait(e, 0.1), MP_ETIMEDOUT);
	mp_process *p[3];
	for (int i = 0; i < 3; i++)
		p[i] = start("wait_for_event", &(struct job){ .event = e, .timeout = 10 });
	sleep_ms(50);
	mp_expect_status(mp_event_set(e), 0);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(finish(p[i]), 0, "every waiter must wake when the event is set");
	cr_assert(mp_event_is_set(e));
	mp_expect_status(mp_event_wait(e, 0), 0);
	mp_expect_status(mp_event_clear(e), 0);
	cr_assert(!mp_event_is_set(e));
	mp_expect_status(mp_event_wait(e, 0.05), MP_ETIMEDOUT);
	mp_event_free(e);
}

MP_TEST(lock, a_condition_wakes_waiters_one_or_all, 3, "Semaphores, events and conditions")
{
	mp_array *counter = new_array(sizeof(int64_t), 1, false);
	mp_condition *c = NULL;
	mp_expect_status(mp_condition_new(&c, NULL), 0);
	mp_lock *l = mp_condition_lock(c);
	int64_t *n = mp_array_data(counter);
	struct job j = { .cond = c, .array = counter, .timeout = 10 };
	mp_process *p[3];
	for (int i = 0; i < 3; i++)
		p[i] = start("wait_on_condition", &j);
	sleep_ms(100);
	mp_expect_status(mp_lock_acquire(l, 5), 0);
	*n = 1;
	mp_expect_status(mp_condition_notify(c, 1), 0);
	mp_expect_status(mp_lock_release(l), 0);
	sleep_ms(200);
	mp_expect_status(mp_lock_acquire(l, 5), 0);
	cr_assert_eq(*n, 0, "one notify with one unit: exactly one waiter should have taken it");
	*n = 2;
	mp_expect_status(mp_condition_notify_all(c), 0);
	mp_expect_status(mp_lock_release(l), 0);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(finish(p[i]), 0, "a waiter did not see the counter it waited for");
	cr_assert_eq(*n, 0);
	mp_condition_free(c);
	mp_array_free(counter);
}

MP_TEST(lock, condition_calls_need_the_lock_and_keep_it_after_a_timeout, 2, "Semaphores, events and conditions")
{
	mp_lock *l = new_lock(true);
	mp_condition *c = NULL;
	mp_expect_status(mp_condition_new(&c, l), 0);
	cr_assert(mp_condition_lock(c) == l);
	mp_expect_status(mp_condition_wait(c, 0.01), MP_ENOTOWNER);
	mp_expect_status(mp_condition_notify(c, 1), MP_ENOTOWNER);
	mp_expect_status(mp_lock_acquire(l, 1), 0);
	mp_expect_status(mp_lock_acquire(l, 1), 0); /* twice: the wait must release both levels */
	mp_process *p = start("try_lock", &(struct job){ .lock = l, .timeout = 5 });
	mp_expect_status(mp_condition_wait(c, 0.5), MP_ETIMEDOUT);
	cr_assert_eq(finish(p), 1, "while this process waited, another should have got the lock");
	mp_expect_status(mp_lock_release(l), 0);
	mp_expect_status(mp_lock_release(l), 0); /* both levels are back after the wait */
	mp_expect_status(mp_lock_release(l), MP_ENOTOWNER);
	mp_condition_free(c);
	mp_lock_free(l);
}

/* ------------------------------------------------------------------------- */
/* Barriers */

MP_TEST(lock, a_barrier_lets_all_parties_through_together, 3, "Barriers")
{
	rounds = new_array(sizeof(int64_t), 1, false);
	mp_barrier *b = NULL;
	mp_expect_status(mp_barrier_new(&b, 3, "count_round"), 0);
	cr_assert_eq(mp_barrier_parties(b), 3);
	struct job j = { .barrier = b, .timeout = 10 };
	bool seen[3] = { false };
	for (int round = 0; round < 2; round++) {
		mp_process *p[2] = { start("wait_at_barrier", &j), start("wait_at_barrier", &j) };
		int mine = mp_barrier_wait(b, 10);
		cr_assert(mine >= 0 && mine < 3, "wait returned %s", mp_err_name(mine));
		memset(seen, 0, sizeof seen);
		seen[mine] = true;
		for (int i = 0; i < 2; i++) {
			int code = finish(p[i]);
			cr_assert(code >= 0 && code < 3 && !seen[code], "the arrival indices must be 0, 1 and 2, once each");
			seen[code] = true;
		}
	}
	cr_assert_eq(*(int64_t *)mp_array_data(rounds), 2, "the action runs once per round");
	cr_assert(!mp_barrier_broken(b) && mp_barrier_n_waiting(b) == 0);
	mp_barrier_free(b);
	mp_array_free(rounds);
}

MP_TEST(lock, a_timeout_breaks_the_barrier_for_everyone_until_reset, 2, "Barriers")
{
	mp_barrier *b = NULL;
	mp_expect_status(mp_barrier_new(&b, 3, NULL), 0);
	mp_process *p = start("wait_at_barrier", &(struct job){ .barrier = b, .timeout = 10 });
	sleep_ms(50);
	cr_assert_eq(mp_barrier_n_waiting(b), 1);
	mp_expect_status(mp_barrier_wait(b, 0.2), MP_ETIMEDOUT);
	cr_assert_eq(finish(p), 100, "the other waiter must see the barrier broken");
	cr_assert(mp_barrier_broken(b));
	mp_expect_status(mp_barrier_wait(b, 1), MP_EBROKENBARRIER);
	mp_expect_status(mp_barrier_reset(b), 0);
	cr_assert(!mp_barrier_broken(b));
	mp_barrier_free(b);

	mp_expect_status(mp_barrier_new(&b, 2, NULL), 0);
	p = start("wait_at_barrier", &(struct job){ .barrier = b, .timeout = 10 });
	cr_assert(mp_barrier_wait(b, 10) >= 0, "after a fresh start, two parties pass");
	cr_assert(finish(p) < 2);
	mp_barrier_free(b);
}

MP_TEST(lock, abort_and_a_failed_action_break_the_barrier, 2, "Barriers")
{
	mp_barrier *b = NULL;
	mp_expect_status(mp_barrier_new(&b, 2, "no_such_action"), MP_ENOTARGET);
	mp_expect_status(mp_barrier_new(&b, 3, NULL), 0);
	mp_process *p = start("wait_at_barrier", &(struct job){ .barrier = b, .timeout = 10 });
	sleep_ms(50);
	mp_expect_status(mp_barrier_abort(b), 0);
	cr_assert_eq(finish(p), 100, "abort must wake the waiter with MP_EBROKENBARRIER");
	mp_barrier_free(b);

	mp_expect_status(mp_barrier_new(&b, 2, "fail_action"), 0);
	p = start("wait_at_barrier", &(struct job){ .barrier = b, .timeout = 10 });
	mp_expect_status(mp_barrier_wait(b, 10), MP_EBROKENBARRIER);
	cr_assert_eq(finish(p), 100, "an action that fails breaks the barrier for all");
	mp_barrier_free(b);
}

/* ------------------------------------------------------------------------- */
/* Sharing memory */

MP_TEST(lock, an_array_is_shared_not_copied, 2, "Sharing memory")
{
	mp_array *a = new_array(1, 4096, false);
	cr_assert_null(mp_array_lock(a), "a raw array has no lock");
	cr_assert_eq(mp_array_length(a), 4096);
	unsigned char *p = mp_array_data(a);
	for (int i = 0; i < 4096; i++)
		cr_assert_eq(p[i], 0, "a new array is zero-filled");
	mp_process *child = start("write_pattern", &(struct job){ .array = a });
	cr_assert_eq(finish(child), 0);
	for (int i = 0; i < 4096; i++)
		cr_assert_eq(p[i], (unsigned char)(i * 7 + 1), "byte %d: the child's write did not reach the parent", i);
	mp_array *bad = NULL;
	mp_expect_status(mp_array_new(&bad, 0, 1, false), -EINVAL);
	mp_expect_status(mp_array_new(&bad, SIZE_MAX / 2, 3, false), -EINVAL);
	mp_array_free(a);
}

MP_TEST(lock, a_value_with_its_own_lock_counts_exactly, 2, "Sharing memory")
{
	mp_array *v = new_array(sizeof(int64_t), 1, true);
	mp_lock *l = mp_array_lock(v);
	cr_assert_not_null(l, "Array/Value come with a lock of their own");
	struct job j = { .lock = l, .array = v, .count = 10000 };
	mp_process *a = start("count_up", &j), *b = start("count_up", &j);
	cr_assert_eq(finish(a), 0);
	cr_assert_eq(finish(b), 0);
	cr_assert_eq(*(int64_t *)mp_array_data(v), 20000);
	mp_array_free(v);
}

/* ------------------------------------------------------------------------- */
/* Named shared memory, and who may remove it */

MP_TEST(lock, a_named_block_is_found_by_name_and_removed_when_free, 3, "Named shared memory, and who may remove it")
{
	mp_shm *s = NULL;
	mp_expect_status(mp_shm_create(&s, NULL, 8192), 0);
	cr_assert_eq(mp_shm_size(s), 8192);
	struct job j = { .fd = -1 };
	snprintf(j.name, sizeof j.name, "%s", mp_shm_name(s));
	mp_process *p = start("use_named_block", &j);
	cr_assert_eq(finish(p), 0, "the child could not attach the block by its name");
	cr_assert_str_eq((char *)mp_shm_data(s), "from the child");
	mp_shm *again = NULL;
	mp_expect_status(mp_shm_create(&again, j.name, 10), -EEXIST);
	mp_expect_status(mp_shm_unlink(s), 0);
	mp_expect_status(mp_shm_attach(&again, j.name), -ENOENT);
	mp_expect_status(mp_shm_create(&again, "bad/name", 10), -EINVAL);
	mp_expect_status(mp_shm_create(&again, "", 10), -EINVAL);
	mp_shm_detach(s);
}

MP_TEST(lock, a_block_in_use_elsewhere_is_not_unlinked, 3, "Named shared memory, and who may remove it")
{
	mp_shm *s = NULL;
	mp_expect_status(mp_shm_create(&s, NULL, 4096), 0);
	int fds[2];
	mp_test_pipe(fds);
	struct job j = { .fd = fds[0], .fd_close = fds[1] };
	snprintf(j.name, sizeof j.name, "%s", mp_shm_name(s));
	mp_process *p = start("use_named_block", &j);
	close(fds[0]);
	double end = mp_test_now() + 5;
	while (strcmp(mp_shm_data(s), "from the child") != 0 && mp_test_now() < end)
		sleep_ms(5);
	mp_expect_status(mp_shm_unlink(s), MP_EBUSY);
	close(fds[1]); /* the child detaches and ends */
	cr_assert_eq(finish(p), 0);
	mp_expect_status(mp_shm_unlink(s), 0);
	mp_shm_detach(s);
}

MP_TEST(lock, a_killed_user_does_not_pin_a_block_forever, 2, "Named shared memory, and who may remove it")
{
	mp_shm *s = NULL;
	mp_expect_status(mp_shm_create(&s, NULL, 4096), 0);
	int fds[2];
	mp_test_pipe(fds);
	struct job j = { .fd = fds[0], .fd_close = fds[1] };
	snprintf(j.name, sizeof j.name, "%s", mp_shm_name(s));
	mp_process *p = start("use_named_block", &j);
	close(fds[0]);
	double end = mp_test_now() + 5;
	while (strcmp(mp_shm_data(s), "from the child") != 0 && mp_test_now() < end)
		sleep_ms(5);
	mp_expect_status(mp_shm_unlink(s), MP_EBUSY);
	mp_process_kill(p);
	cr_assert_eq(finish(p), -SIGKILL);
	mp_expect_status(mp_shm_unlink(s), 0);
	mp_shm_detach(s);
	close(fds[1]);
}

/* Attach the block named j->name and try to unlink it: exit 0 if refused as in use (MP_EBUSY), 1 if it went. */
MP_TARGET(try_to_unlink)(const void *arg, size_t len)
{
	(void)len;
	const struct job *j = arg;
	mp_shm *s;
	if (mp_shm_attach(&s, j->name) != 0)
		return 2;
	int rc = mp_shm_unlink(s);
	mp_shm_detach(s);
	return rc == MP_EBUSY ? 0 : rc == 0 ? 1 : 3;
}

MP_TEST(lock, a_block_stays_in_use_through_a_second_handle_and_a_forked_child, 2, "Named shared memory, and who may remove it")
{
	/* Two handles in one process: detaching one leaves the block in use through the other. */
	mp_shm *s = NULL, *s2 = NULL;
	mp_expect_status(mp_shm_create(&s, NULL, 4096), 0);
	struct job j = { .fd = -1 };
	snprintf(j.name, sizeof j.name, "%s", mp_shm_name(s));
	mp_expect_status(mp_shm_attach(&s2, j.name), 0);
	mp_shm_detach(s2);
	cr_assert_eq(finish(start("try_to_unlink", &j)), 0, "this process still uses the block through its first "
		     "handle, yet another process could unlink it once the second handle was detached (a lock that "
		     "belongs to the process, not to the handle, goes with any of its descriptors)");
	/* A child using the handle it inherited: the block is in use while it runs, though the parent let go. */
	int fds[2];
	mp_test_pipe(fds);
	j.fd = fds[0];
	j.fd_close = fds[1];
	mp_process *user = start("use_inherited_block", &(struct job){ .fd = fds[0], .fd_close = fds[1], .shm = s });
	close(fds[0]);
	mp_shm_detach(s);
	j.fd = -1;
	cr_assert_eq(finish(start("try_to_unlink", &j)), 0, "a child still uses the block through the handle it "
		     "inherited, yet another process could unlink it");
	close(fds[1]); /* the child lets go and ends */
	cr_assert_eq(finish(user), 0);
	cr_assert_eq(finish(start("try_to_unlink", &j)), 1, "once nobody uses the block, it can be unlinked");
}

/* ------------------------------------------------------------------------- */
/* Every documented return code, every promise of sync.h and shared.h */

static void no_op_handler(int sig)
{
	(void)sig;
}

/*
 * A storm of signals: SIGALRM every 5 ms, caught by a handler installed
 * without SA_RESTART, so each one interrupts whatever system call is
 * sleeping. A wait that lets EINTR through, restarts with the full timeout
 * or gives up early shows it. Children do not inherit the timer.
 */
static void signal_storm(bool on)
{
	struct sigaction sa = { .sa_handler = no_op_handler }; /* sa_flags 0: no SA_RESTART */
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval every_5ms = { { 0, 5000 }, { 0, 5000 } }, off = { { 0, 0 }, { 0, 0 } };
	setitimer(ITIMER_REAL, on ? &every_5ms : &off, NULL);
}

static void sleep_seconds(double s)
{
	sleep_ms((int)(s * 1000));
}

/* Take the lock j->count times, say so on j->ready, hold it until j->fd closes, wait j->pause, release. */
MP_TARGET(hold_lock_until_closed)(const void *arg, size_t len)
{
	(void)len;
	const struct job *j = arg;
	close(j->fd_close);
	for (int i = 0; i < j->count; i++)
		if (mp_lock_acquire(j->lock, 5) != 0)
			return 1;
	if (write(j->ready, "r", 1) != 1)
		return 2;
	wait_for_close(j->fd);
	sleep_seconds(j->pause);
	for (int i = 0; i < j->count; i++)
		if (mp_lock_release(j->lock) != 0)
			return 3;
	return 0;
}

/* Exit 0 if acquire(j->timeout) returns j->expect (repairing and releasing what it got). */
MP_TARGET(acquire_expecting)(const void *arg, size_t len)
{
	(void)len;
	const struct job *j = arg;
	int rc = mp_lock_acquire(j->lock, j->timeout);
	if (rc != j->expect)
		return 1;
	if (rc == MP_EOWNERDEAD && mp_lock_mark_consistent(j->lock) != 0)
		return 2;
	if ((rc == 0 || rc == MP_EOWNERDEAD) && mp_lock_release(j->lock) != 0)
		return 3;
	return 0;
}

/* Exit 0 if this process, which does not hold the lock, may neither release nor repair nor take it. */
MP_TARGET(meddle_with_a_held_lock)(const void *arg, size_t len)
{
	(void)len;
	const struct job *j = arg;
	if (mp_lock_release(j->lock) != MP_ENOTOWNER)
		return 1;
	if (mp_lock_mark_consistent(j->lock) != -EINVAL)
		return 2;
	if (mp_lock_acquire(j->lock, 0) != MP_ETIMEDOUT)
		return 3;
	return 0;
}

MP_TARGET(release_semaphore_after_a_pause)(const void *arg, size_t len)
{
	(void)len;
	const struct job *j = arg;
	sleep_seconds(j->pause);
	return mp_semaphore_release(j->sem) == 0 ? 0 : 1;
}

MP_TARGET(set_event_after_a_pause)(const void *arg, size_t len)
{
	(void)len;
	const struct job *j = arg;
	sleep_seconds(j->pause);
	return mp_event_set(j->event) == 0 ? 0 : 1;
}

/* Notify every 20 ms, under the condition's lock, until j->fd closes (at most 10 s). */
MP_TARGET(notify_again_and_again)(const void *arg, size_t len)
{
	(void)len;
	const struct job *j = arg;
	close(j->fd_close);
	mp_lock *l = mp_condition_lock(j->cond);
	for (int i = 0; i < 500; i++) {
		struct pollfd p = { .fd = j->fd, .events = POLLIN };
		if (poll(&p, 1, 0) == 1)
			return 0; /* EOF: the parent is done */
		if (mp_lock_acquire(l, 5) != 0 || mp_condition_notify_all(j->cond) != 0 || mp_lock_release(l) != 0)
			return 1;
		sleep_ms(20);
	}
	return 2;
}

/* Notify once, j->pause seconds from now. */
MP_TARGET(notify_after_a_pause)(const void *arg, size_t len)
{
	(void)len;
	const struct job *j = arg;
	sleep_seconds(j->pause);
	mp_lock *l = mp_condition_lock(j->cond);
	if (mp_lock_acquire(l, 5) != 0 || mp_condition_notify_all(j->cond) != 0 || mp_lock_release(l) != 0)
		return 1;
	return 0;
}

/* Take the condition's lock, make the counter positive, notify, and die holding the lock. */
MP_TARGET(notify_and_die)(const void *arg, size_t len)
{
	(void)len;
	const struct job *j = arg;
	if (mp_lock_acquire(mp_condition_lock(j->cond), 5) != 0)
		return 1;
	if (j->array)
		((int64_t *)mp_array_data(j->array))[0] = 1;
	if (mp_condition_notify(j->cond, 1) != 0)
		return 2;
	raise(SIGKILL);
	return 3;
}

/*
 * Pass the barrier j->count times; after each pass the action (count_round)
 * must already have run for this round. Exit with the sum of this party's
 * arrival indices, or 200 and more on an error.
 */
MP_TARGET(pass_the_barrier_rounds)(const void *arg, size_t len)
{
	(void)len;
	const struct job *j = arg;
	int sum = 0;
	for (int round = 0; round < j->count; round++) {
		int rc = mp_barrier_wait(j->barrier, j->timeout);
		if (rc < 0)
			return 200;
		if (((volatile int64_t *)mp_array_data(rounds))[0] != round + 1)
			return 201;
		sum += rc;
	}
	return sum;
}

MP_TARGET(arrive_after_a_pause)(const void *arg, size_t len)
{
	(void)len;
	const struct job *j = arg;
	sleep_seconds(j->pause);
	int rc = mp_barrier_wait(j->barrier, j->timeout);
	return rc >= 0 ? rc : rc == MP_EBROKENBARRIER ? 100 : 101;
}

static bool always(void *arg)
{
	(void)arg;
	return true;
}

static bool never(void *arg)
{
	(void)arg;
	return false;
}

/* A child holding @l (@levels times); let_go() makes it release after @pause seconds. */
struct holder {
	mp_process *p;
	int go; /* closing it tells the child to release */
};

static struct holder hold_in_child(mp_lock *l, int levels, double pause)
{
	int go[2], ready[2];
	mp_test_pipe(go);
	mp_test_pipe(ready);
	struct job j = { .lock = l, .count = levels, .fd = go[0], .fd_close = go[1], .ready = ready[1], .pause = pause };
	mp_process *p = start("hold_lock_until_closed", &j);
	close(go[0]);
	close(ready[1]);
	char c;
	bool held = mp_test_read(ready[0], &c, 1, 5);
	close(ready[0]);
	cr_assert(held, "a child could not take the lock");
	return (struct holder){ p, go[1] };
}

static void let_go(struct holder h)
{
	close(h.go);
}

static int kill_holder(struct holder h)
{
	mp_process_kill(h.p);
	int code = finish(h.p);
	close(h.go);
	return code;
}

/* Run @call under a storm of signals and check that it lasted its whole @timeout. */
#define expect_timed_out_under_signals(call, timeout, want)                                      \
	do {                                                                                      \
		signal_storm(true);                                                               \
		double t0_ = mp_test_now();                                                       \
		int rc_ = (call);                                                                 \
		double took_ = mp_test_now() - t0_;                                               \
		signal_storm(false);                                                              \
		mp_expect_status(rc_, want);                                                      \
		cr_assert(took_ >= (timeout) - 0.01 && took_ < (timeout) + 1.5 * MP_TEST_TIMEOUT_SCALE, \
			  "with signals arriving every 5 ms, %s took %.3f s: a wait must last its " \
			  "whole timeout, no more and no less", #call, took_);                    \
	} while (0)

/* Wait up to 5 s for *@v to become @want. */
static bool becomes(volatile int64_t *v, int64_t want)
{
	double end = mp_test_now() + 5;
	while (*v != want && mp_test_now() < end)
		sleep_ms(2);
	return *v == want;
}

MP_TEST(lock, constructors_refuse_bad_arguments, 1, "Sharing memory")
{
	mp_lock *l = (mp_lock *)&l;
	mp_expect_status(mp_lock_new(NULL), -EINVAL);
	mp_expect_status(mp_rlock_new(NULL), -EINVAL);
	mp_semaphore *s = (mp_semaphore *)&s;
	mp_expect_status(mp_semaphore_new(NULL, 1), -EINVAL);
	mp_expect_status(mp_semaphore_new(&s, (unsigned)INT_MAX + 1), -EINVAL);
	mp_expect_status(mp_bounded_semaphore_new(&s, (unsigned)INT_MAX + 1), -EINVAL);
	cr_assert(s == (mp_semaphore *)&s, "a failed constructor must leave *out untouched");
	mp_expect_status(mp_semaphore_new(&s, INT_MAX), 0);
	cr_assert_eq(mp_semaphore_value(s), INT_MAX);
	mp_semaphore_free(s);
	mp_expect_status(mp_event_new(NULL), -EINVAL);
	mp_expect_status(mp_condition_new(NULL, NULL), -EINVAL);
	mp_barrier *b = (mp_barrier *)&b;
	char long_name[MP_TARGET_NAME_MAX + 2];
	memset(long_name, 'a', sizeof long_name - 1);
	long_name[sizeof long_name - 1] = '\0';
	mp_expect_status(mp_barrier_new(NULL, 1, NULL), -EINVAL);
	mp_expect_status(mp_barrier_new(&b, 0, NULL), -EINVAL);
	mp_expect_status(mp_barrier_new(&b, 2, long_name), -EINVAL);
	cr_assert(b == (mp_barrier *)&b, "a failed constructor must leave *out untouched");
	mp_array *a = (mp_array *)&a;
	mp_expect_status(mp_array_new(NULL, 1, 1, false), -EINVAL);
	mp_expect_status(mp_array_new(&a, 1, 0, false), -EINVAL);
	mp_expect_status(mp_array_new(&a, 2, SIZE_MAX / 2 + 1, true), -EINVAL);
	cr_assert(a == (mp_array *)&a, "a failed constructor must leave *out untouched");
	mp_expect_status(mp_array_new(&a, 2, 1, false), 0);
	cr_assert_eq(mp_array_length(a), 1);
	mp_array_free(a);
	(void)l;
}

MP_TEST(lock, constructors_report_a_failed_mmap_and_leak_nothing, 2, "Sharing memory")
{
	union {
		mp_lock *l;
		mp_semaphore *s;
		mp_event *e;
		mp_condition *c;
		mp_barrier *b;
		mp_array *a;
		mp_shm *m;
		void *p;
	} out;
	mp_lock *mine = new_lock(false);
	mp_shm *named = NULL;
	mp_expect_status(mp_shm_create(&named, NULL, 100), 0);
	int mappings = count_mappings();
	for (int which = 0; which < 13; which++) {
		int skip = which == 6 || which == 11 ? 1 : 0; /* the second mmap of the constructor fails */
		out.p = &out;
		mp_expect_status(mp_fault_inject("mmap", skip, ENOMEM), 0);
		int rc = which == 0 ? mp_lock_new(&out.l)
		       : which == 1 ? mp_rlock_new(&out.l)
		       : which == 2 ? mp_semaphore_new(&out.s, 1)
		       : which == 3 ? mp_bounded_semaphore_new(&out.s, 1)
		       : which == 4 ? mp_event_new(&out.e)
		       : which == 5 || which == 6 ? mp_condition_new(&out.c, NULL)
		       : which == 7 ? mp_condition_new(&out.c, mine)
		       : which == 8 ? mp_barrier_new(&out.b, 2, NULL)
		       : which == 9 ? mp_array_new(&out.a, 8, 4, false)
		       : which == 10 || which == 11 ? mp_array_new(&out.a, 8, 4, true)
		       : which == 12 ? mp_shm_create(&out.m, NULL, 4096)
		       : mp_shm_attach(&out.m, mp_shm_name(named));
		mp_fault_clear();
		cr_assert(rc == -ENOMEM, "constructor %d, with mmap failing, returned %s, expected -ENOMEM", which,
			  mp_err_name(rc));
		cr_assert(out.p == &out, "constructor %d failed but changed *out", which);
	}
	mp_expect_status(mp_fault_inject("mmap", 0, ENOMEM), 0);
	mp_expect_status(mp_shm_attach(&out.m, mp_shm_name(named)), -ENOMEM);
	mp_fault_clear();
	/* And the handle's own allocation (calloc() through the seam). */
	for (int which = 0; which < 9; which++) {
		out.p = &out;
		mp_expect_status(mp_fault_inject("calloc", 0, ENOMEM), 0);
		int rc = which == 0 ? mp_lock_new(&out.l)
		       : which == 1 ? mp_semaphore_new(&out.s, 1)
		       : which == 2 ? mp_event_new(&out.e)
		       : which == 3 ? mp_condition_new(&out.c, mine)
		       : which == 4 ? mp_barrier_new(&out.b, 2, NULL)
		       : which == 5 ? mp_array_new(&out.a, 8, 4, true)
		       : which == 6 ? mp_shm_create(&out.m, NULL, 4096)
		       : which == 7 ? mp_shm_attach(&out.m, mp_shm_name(named))
		       : mp_rlock_new(&out.l);
		mp_fault_clear();
		cr_assert(rc == -ENOMEM, "constructor %d, with calloc failing, returned %s, expected -ENOMEM", which,
			  mp_err_name(rc));
		cr_assert(out.p == &out, "constructor %d failed but changed *out", which);
	}
	cr_assert_eq(count_mappings(), mappings, "a constructor that failed half-way left %d mappings behind: undo what "
		     "was made before the failure", count_mappings() - mappings);
	/* A failed create left no name behind (the check after the test looks in /dev/shm); attach still works. */
	mp_expect_status(mp_shm_attach(&out.m, mp_shm_name(named)), 0);
	mp_shm_detach(out.m);
	mp_expect_status(mp_shm_unlink(named), 0);
	mp_shm_detach(named);
	mp_lock_free(mine);
}

MP_TEST(lock, lock_calls_refuse_bad_arguments, 1, "How a process-shared mutex works")
{
	mp_lock *l = new_lock(false);
	mp_expect_status(mp_lock_acquire(NULL, 0), -EINVAL);
	mp_expect_status(mp_lock_acquire(l, NAN), -EINVAL);
	mp_expect_status(mp_lock_release(NULL), -EINVAL);
	mp_expect_status(mp_lock_mark_consistent(NULL), -EINVAL);
	mp_expect_status(mp_lock_acquire(l, 0), 0); /* the refused calls took nothing */
	mp_expect_status(mp_lock_release(l), 0);
	mp_lock_free(l);
	mp_lock_free(NULL);
}

MP_TEST(lock, acquire_honours_its_timeout_under_signals, 3, "How a process-shared mutex works")
{
	mp_lock *l = new_lock(false);
	struct holder h = hold_in_child(l, 1, 0.3);
	double t0 = mp_test_now();
	mp_expect_status(mp_lock_acquire(l, 0), MP_ETIMEDOUT);
	cr_assert(mp_test_now() - t0 < 0.1 * MP_TEST_TIMEOUT_SCALE, "acquire(0) on a held lock must not wait");
	expect_timed_out_under_signals(mp_lock_acquire(l, 0.3), 0.3, MP_ETIMEDOUT);
	let_go(h); /* the child releases 0.3 s from now */
	signal_storm(true);
	int rc = mp_lock_acquire(l, MP_FOREVER);
	signal_storm(false);
	mp_expect_status(rc, 0);
	int code = finish(h.p);
	cr_assert_eq(code, 0, "the child holding the lock ended with %d (1: its acquire failed, 3: its release failed)", code);
	mp_expect_status(mp_lock_release(l), 0);
	mp_lock_free(l);
}

MP_TEST(lock, only_the_holder_may_release_or_repair, 2, "When the holder dies: robust mutexes")
{
	for (int recursive = 0; recursive < 2; recursive++) {
		mp_lock *l = new_lock(recursive);
		mp_expect_status(mp_lock_mark_consistent(l), -EINVAL); /* not held */
		mp_expect_status(mp_lock_acquire(l, 1), 0);
		mp_expect_status(mp_lock_mark_consistent(l), -EINVAL); /* held, but nothing to repair */
		mp_process *p = start("meddle_with_a_held_lock", &(struct job){ .lock = l });
		cr_assert_eq(finish(p), 0, "a process that does not hold the lock may not release, repair or take it");
		mp_expect_status(mp_lock_release(l), 0);
		/* And the other way round: held by a child, refused to the parent. */
		struct holder h = hold_in_child(l, 1, 0);
		mp_expect_status(mp_lock_release(l), MP_ENOTOWNER);
		mp_expect_status(mp_lock_mark_consistent(l), -EINVAL);
		mp_expect_status(mp_lock_acquire(l, 0), MP_ETIMEDOUT);
		let_go(h);
		cr_assert_eq(finish(h.p), 0, "the child's release failed: a refused release must change nothing");
		mp_expect_status(mp_lock_acquire(l, 1), 0);
		mp_expect_status(mp_lock_release(l), 0);
		mp_lock_free(l);
	}
}

MP_TEST(lock, a_waiting_acquirer_gets_the_lock_when_its_holder_dies, 3, "When the holder dies: robust mutexes")
{
	mp_lock *l = new_lock(false);
	struct holder h = hold_in_child(l, 1, 0);
	mp_process *waiter = start("acquire_expecting", &(struct job){ .lock = l, .timeout = 10, .expect = MP_EOWNERDEAD });
	sleep_ms(100); /* the waiter sleeps in acquire by now */
	cr_assert_eq(kill_holder(h), -SIGKILL);
	double t0 = mp_test_now();
	cr_assert_eq(finish(waiter), 0, "a process waiting for a lock whose holder dies must get it, with MP_EOWNERDEAD, "
		     "then repair and release it");
	cr_assert(mp_test_now() - t0 < 5 * MP_TEST_TIMEOUT_SCALE, "the waiter must be woken by the death, not by its timeout");
	mp_expect_status(mp_lock_acquire(l, 1), 0);
	mp_expect_status(mp_lock_release(l), 0);
	mp_lock_free(l);
}

MP_TEST(lock, an_rlock_left_by_a_dead_holder_is_held_once, 2, "When the holder dies: robust mutexes")
{
	mp_lock *l = new_lock(true);
	mp_condition *c = NULL;
	mp_expect_status(mp_condition_new(&c, l), 0);
	struct holder h = hold_in_child(l, 3, 0);
	cr_assert_eq(kill_holder(h), -SIGKILL);
	mp_expect_status(mp_lock_acquire(l, 1), MP_EOWNERDEAD);
	mp_expect_status(mp_lock_mark_consistent(l), 0);
	mp_expect_status(mp_lock_mark_consistent(l), -EINVAL); /* repaired already */
	/* Held once: a condition wait releases that one level and takes it back. */
	mp_expect_status(mp_condition_wait(c, 0.05), MP_ETIMEDOUT);
	mp_expect_status(mp_lock_release(l), 0);
	mp_expect_status(mp_lock_release(l), MP_ENOTOWNER); /* the dead holder's three levels died with it */
	mp_process *p = start("acquire_expecting", &(struct job){ .lock = l, .timeout = 1, .expect = 0 });
	cr_assert_eq(finish(p), 0, "after one release the repaired rlock must be free for others");
	mp_condition_free(c);
	mp_lock_free(l);
}

MP_TEST(lock, an_unrepaired_lock_fails_at_once_for_every_process, 2, "When the holder dies: robust mutexes")
{
	mp_lock *l = new_lock(false);
	struct holder h = hold_in_child(l, 1, 0);
	cr_assert_eq(kill_holder(h), -SIGKILL);
	mp_expect_status(mp_lock_acquire(l, 1), MP_EOWNERDEAD);
	mp_expect_status(mp_lock_release(l), 0); /* without mark_consistent */
	mp_process *p = start("acquire_expecting", &(struct job){ .lock = l, .timeout = 5, .expect = MP_EUNRECOVERABLE });
	cr_assert_eq(finish(p), 0, "another process must get MP_EUNRECOVERABLE too");
	double t0 = mp_test_now();
	mp_expect_status(mp_lock_acquire(l, MP_FOREVER), MP_EUNRECOVERABLE);
	mp_expect_status(mp_lock_acquire(l, 5), MP_EUNRECOVERABLE);
	cr_assert(mp_test_now() - t0 < 1 * MP_TEST_TIMEOUT_SCALE, "MP_EUNRECOVERABLE comes at once, without waiting");
	mp_expect_status(mp_lock_release(l), MP_ENOTOWNER);
	mp_expect_status(mp_lock_mark_consistent(l), -EINVAL);
	/* A timeout of 0 says the same, and leaves the lock as it was, for this process and the others. */
	mp_expect_status(mp_lock_acquire(l, 0), MP_EUNRECOVERABLE);
	mp_expect_status(mp_lock_acquire(l, 1), MP_EUNRECOVERABLE);
	p = start("acquire_expecting", &(struct job){ .lock = l, .timeout = 1, .expect = MP_EUNRECOVERABLE });
	cr_assert_eq(finish(p), 0, "after an acquire(0), another process must still get MP_EUNRECOVERABLE "
		     "(glibc's trylock would have left this process's id in the lock word)");
	mp_lock_free(l);
}

MP_TEST(lock, a_semaphore_waits_up_to_its_timeout_under_signals, 2, "Semaphores, events and conditions")
{
	mp_semaphore *s = NULL;
	mp_expect_status(mp_semaphore_new(&s, 0), 0);
	double t0 = mp_test_now();
	mp_expect_status(mp_semaphore_acquire(s, 0), MP_ETIMEDOUT);
	cr_assert(mp_test_now() - t0 < 0.1 * MP_TEST_TIMEOUT_SCALE, "acquire(0) on an empty semaphore must not wait");
	mp_expect_status(mp_semaphore_acquire(s, NAN), -EINVAL);
	mp_expect_status(mp_semaphore_acquire(NULL, 0), -EINVAL);
	mp_expect_status(mp_semaphore_release(NULL), -EINVAL);
	cr_assert(mp_semaphore_value(NULL) < 0);
	expect_timed_out_under_signals(mp_semaphore_acquire(s, 0.3), 0.3, MP_ETIMEDOUT);
	mp_process *p = start("release_semaphore_after_a_pause", &(struct job){ .sem = s, .pause = 0.3 });
	signal_storm(true);
	int rc = mp_semaphore_acquire(s, MP_FOREVER);
	signal_storm(false);
	mp_expect_status(rc, 0);
	cr_assert_eq(finish(p), 0);
	cr_assert_eq(mp_semaphore_value(s), 0);
	mp_semaphore_free(s);
	mp_semaphore_free(NULL);
}

MP_TEST(lock, each_release_wakes_one_waiter, 2, "Semaphores, events and conditions")
{
	mp_semaphore *s = NULL;
	mp_expect_status(mp_semaphore_new(&s, 0), 0);
	mp_process *p[3];
	for (int i = 0; i < 3; i++)
		p[i] = start("take_the_semaphore", &(struct job){ .sem = s, .timeout = 10 });
	sleep_ms(100);
	mp_expect_status(mp_semaphore_release(s), 0);
	mp_expect_status(mp_semaphore_release(s), 0);
	bool ended[3] = { false };
	int n_ended = 0;
	for (double end = mp_test_now() + 5; n_ended < 2 && mp_test_now() < end; sleep_ms(5))
		for (int i = 0; i < 3; i++)
			if (!ended[i] && mp_process_join(p[i], 0) == 0)
				ended[i] = true, n_ended++;
	cr_assert_eq(n_ended, 2, "two releases must wake two waiters, %d woke", n_ended);
	sleep_ms(200);
	for (int i = 0; i < 3; i++)
		if (!ended[i])
			mp_expect_status(mp_process_join(p[i], 0), MP_ETIMEDOUT); /* the third has no unit */
	cr_assert_eq(mp_semaphore_value(s), 0);
	mp_expect_status(mp_semaphore_release(s), 0);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(finish(p[i]), 0, "each waiter must get a unit");
	mp_semaphore_free(s);
}

MP_TEST(lock, a_bounded_semaphore_holds_at_most_its_initial_value, 1, "Semaphores, events and conditions")
{
	mp_semaphore *s = NULL;
	mp_expect_status(mp_bounded_semaphore_new(&s, 3), 0);
	mp_expect_status(mp_semaphore_release(s), MP_EBOUND);
	for (int i = 0; i < 3; i++)
		mp_expect_status(mp_semaphore_acquire(s, 0), 0);
	mp_expect_status(mp_semaphore_acquire(s, 0), MP_ETIMEDOUT);
	for (int i = 0; i < 3; i++)
		mp_expect_status(mp_semaphore_release(s), 0);
	mp_expect_status(mp_semaphore_release(s), MP_EBOUND);
	cr_assert_eq(mp_semaphore_value(s), 3, "a refused release must not add a unit");
	mp_semaphore_free(s);
	mp_expect_status(mp_bounded_semaphore_new(&s, 0), 0);
	mp_expect_status(mp_semaphore_release(s), MP_EBOUND);
	cr_assert_eq(mp_semaphore_value(s), 0);
	mp_semaphore_free(s);
	mp_expect_status(mp_semaphore_new(&s, 0), 0);
	mp_expect_status(mp_semaphore_release(s), 0); /* unbounded: no bound at 0 either */
	cr_assert_eq(mp_semaphore_value(s), 1);
	mp_semaphore_free(s);
}

MP_TEST(lock, event_wait_honours_its_timeout_under_signals, 2, "Semaphores, events and conditions")
{
	mp_event *e = NULL;
	mp_expect_status(mp_event_new(&e), 0);
	double t0 = mp_test_now();
	mp_expect_status(mp_event_wait(e, 0), MP_ETIMEDOUT);
	cr_assert(mp_test_now() - t0 < 0.1 * MP_TEST_TIMEOUT_SCALE, "wait(0) on a clear event must not wait");
	mp_expect_status(mp_event_wait(e, NAN), -EINVAL);
	expect_timed_out_under_signals(mp_event_wait(e, 0.3), 0.3, MP_ETIMEDOUT);
	mp_process *p = start("set_event_after_a_pause", &(struct job){ .event = e, .pause = 0.3 });
	signal_storm(true);
	int rc = mp_event_wait(e, MP_FOREVER);
	signal_storm(false);
	mp_expect_status(rc, 0);
	cr_assert_eq(finish(p), 0);
	mp_event_free(e);
}

MP_TEST(lock, a_set_event_stays_set_until_cleared, 1, "Semaphores, events and conditions")
{
	mp_event *e = NULL;
	mp_expect_status(mp_event_new(&e), 0);
	mp_expect_status(mp_event_set(e), 0);
	mp_expect_status(mp_event_set(e), 0);
	cr_assert(mp_event_is_set(e));
	for (int i = 0; i < 3; i++)
		mp_expect_status(mp_event_wait(e, 0), 0); /* a wait does not consume the flag */
	mp_process *p = start("wait_for_event", &(struct job){ .event = e, .timeout = 0 });
	cr_assert_eq(finish(p), 0, "another process must see the flag set");
	mp_expect_status(mp_event_clear(e), 0);
	mp_expect_status(mp_event_clear(e), 0);
	cr_assert(!mp_event_is_set(e));
	p = start("wait_for_event", &(struct job){ .event = e, .timeout = 0.05 });
	cr_assert_eq(finish(p), 1, "another process must see the flag cleared");
	mp_expect_status(mp_event_set(NULL), -EINVAL);
	mp_expect_status(mp_event_clear(NULL), -EINVAL);
	mp_expect_status(mp_event_wait(NULL, 0), -EINVAL);
	cr_assert(!mp_event_is_set(NULL));
	mp_event_free(e);
	mp_event_free(NULL);
}

/*
 * Start three children that wait on @c for the counter to be positive. Each
 * writes to the ready pipe while it holds the lock, and the wait releases the
 * lock only as it sleeps: once the parent has read three bytes and got the
 * lock, all three are asleep in the wait.
 */
static void start_waiters(mp_condition *c, mp_array *counter, mp_process *p[3])
{
	int ready[2];
	mp_test_pipe(ready);
	struct job j = { .cond = c, .array = counter, .timeout = 10, .ready = ready[1] };
	for (int i = 0; i < 3; i++)
		p[i] = start("wait_on_condition", &j);
	close(ready[1]);
	char buf[3];
	cr_assert(mp_test_read(ready[0], buf, 3, 5), "the waiters did not start");
	close(ready[0]);
}

MP_TEST(lock, notify_wakes_as_many_waiters_as_asked, 3, "Semaphores, events and conditions")
{
	mp_array *counter = new_array(sizeof(int64_t), 1, false);
	volatile int64_t *n = mp_array_data(counter);
	mp_condition *c = NULL;
	mp_expect_status(mp_condition_new(&c, NULL), 0);
	mp_lock *l = mp_condition_lock(c);
	mp_process *p[3];
	start_waiters(c, counter, p);
	static const struct { unsigned notify; int64_t left; } steps[] = { { 1, 2 }, { 0, 2 }, { 2, 0 } };
	mp_expect_status(mp_lock_acquire(l, 5), 0);
	*n = 3;
	for (int i = 0; i < 3; i++) {
		if (i > 0)
			mp_expect_status(mp_lock_acquire(l, 5), 0);
		mp_expect_status(mp_condition_notify(c, steps[i].notify), 0);
		mp_expect_status(mp_lock_release(l), 0);
		cr_assert(becomes(n, steps[i].left), "notify(%u) must wake that many waiters: %lld of 3 units left, "
			  "expected %lld", steps[i].notify, (long long)*n, (long long)steps[i].left);
		sleep_ms(200);
		cr_assert_eq(*n, steps[i].left, "notify(%u) woke more waiters than asked", steps[i].notify);
	}
	for (int i = 0; i < 3; i++)
		cr_assert_eq(finish(p[i]), 0);
	mp_expect_status(mp_condition_notify_all(c), MP_ENOTOWNER);
	mp_condition_free(c);
	mp_array_free(counter);
}

/* Release j->sem, dying or stalling at j->name (a point of fault.h) while holding its guard. */
/* Arm j->name, then reset the barrier (which takes its guard). */
MP_TARGET(reset_at)(const void *arg, size_t len)
{
	(void)len;
	const struct job *j = arg;
	mp_fault_inject(j->name, 0, EIO);
	return mp_barrier_reset(j->barrier) == 0 ? 0 : 1;
}

MP_TARGET(release_and_stop_at)(const void *arg, size_t len)
{
	(void)len;
	const struct job *j = arg;
	mp_fault_inject(j->name, 0, EIO);
	return mp_semaphore_release(j->sem) == 0 ? 0 : 1;
}

MP_TEST(lock, a_guard_holder_that_dies_or_stalls_stops_no_other, 2, "Semaphores, events and conditions")
{
	/* Killed holding the semaphore's guard: the next taker gets the guard and the unit that was there. */
	mp_semaphore *s = NULL;
	mp_expect_status(mp_semaphore_new(&s, 1), 0);
	struct job j = { .sem = s };
	snprintf(j.name, sizeof j.name, "die:holding-guard");
	cr_assert_eq(finish(start("release_and_stop_at", &j)), -SIGKILL, "the child was to die holding the guard");
	int rc = mp_semaphore_acquire(s, 0.5);
	cr_assert(rc == 0, "the guard's holder died, and a unit was free: acquire returned %s, expected 0 (a guard "
		  "taken with EOWNERDEAD is taken)", mp_err_name(rc));
	mp_expect_status(mp_semaphore_acquire(s, 0), MP_ETIMEDOUT);
	/* Stalled holding it: a short timeout still holds, and takes nothing. */
	snprintf(j.name, sizeof j.name, "nap:holding-guard");
	mp_process *p = start("release_and_stop_at", &j);
	sleep_ms(100);
	double t0 = mp_test_now();
	rc = mp_semaphore_acquire(s, 0.05);
	double took = mp_test_now() - t0;
	cr_assert(rc == MP_ETIMEDOUT && took < 0.1 + 0.1 * MP_TEST_TIMEOUT_SCALE, "acquire(0.05) behind a stalled guard "
		  "holder returned %s after %.2f s, expected MP_ETIMEDOUT at once: a guard not taken in time is not held",
		  mp_err_name(rc), took);
	cr_assert_eq(finish(p), 0);
	mp_expect_status(mp_semaphore_acquire(s, 1), 0); /* the stalled release's unit */
	mp_semaphore_free(s);

	/* A barrier's wait that cannot take the guard in time has not arrived: MP_ETIMEDOUT, not an index. */
	mp_barrier *b = NULL;
	mp_expect_status(mp_barrier_new(&b, 2, NULL), 0);
	p = start("reset_at", &(struct job){ .barrier = b, .name = "nap:holding-guard" });
	sleep_ms(100);
	rc = mp_barrier_wait(b, 0.05);
	cr_assert(rc == MP_ETIMEDOUT, "a barrier wait(0.05) behind a stalled guard holder returned %s, expected "
		  "MP_ETIMEDOUT", mp_err_name(rc));
	cr_assert_eq(finish(p), 0);
	mp_barrier_free(b);
}

/* Arm j->name, then wait on the condition (j->timeout): exit 0 if notified. */
MP_TARGET(wait_pausing_at)(const void *arg, size_t len)
{
	(void)len;
	const struct job *j = arg;
	mp_lock *l = j->cond ? mp_condition_lock(j->cond) : NULL;
	if (l && mp_lock_acquire(l, 5) != 0)
		return 2;
	mp_fault_inject(j->name, 0, EIO);
	int rc = l ? mp_condition_wait(j->cond, j->timeout) : mp_semaphore_acquire(j->sem, j->timeout);
	if (l && mp_lock_release(l) != 0)
		return 3;
	return rc == 0 ? 0 : 1;
}

MP_TEST(lock, a_wake_up_as_the_waiter_goes_to_sleep_is_not_lost, 2, "Semaphores, events and conditions")
{
	/*
	 * The waiter pauses (the nap seam) between letting go and sleeping; the
	 * notify, or the release, comes in that pause. The wait must end as soon
	 * as the pause does: a waker changes the word the waiter sleeps on, so
	 * the late sleep does not begin. Otherwise it sleeps out its 5 s.
	 */
	for (int kind = 0; kind < 2; kind++) {
		mp_condition *c = NULL;
		mp_semaphore *s = NULL;
		mp_expect_status(kind == 0 ? mp_condition_new(&c, NULL) : mp_semaphore_new(&s, 0), 0);
		double t0 = mp_test_now();
		mp_process *p = start("wait_pausing_at", &(struct job){ .cond = c, .sem = s, .timeout = 5,
									 .name = "nap:before-sleep" });
		sleep_ms(150); /* in the pause by now */
		if (c) {
			mp_lock *l = mp_condition_lock(c);
			mp_expect_status(mp_lock_acquire(l, 5), 0);
			mp_expect_status(mp_condition_notify(c, 1), 0);
			mp_expect_status(mp_lock_release(l), 0);
		} else {
			mp_expect_status(mp_semaphore_release(s), 0);
		}
		int code = finish(p);
		double took = mp_test_now() - t0;
		cr_assert(code == 0 && took < 2, "a %s wait woken during its pause before sleeping ended after %.1f s (exit "
			  "%d): the wake-up was lost, and it slept until its timeout", c ? "condition" : "semaphore", took, code);
		mp_condition_free(c);
		mp_semaphore_free(s);
	}
}

MP_TEST(lock, a_notify_with_nobody_waiting_is_lost, 1, "Semaphores, events and conditions")
{
	/* As in Python: a notify wakes the waits under way, and none to come. A wait that ended counts out. */
	mp_condition *c = NULL;
	mp_expect_status(mp_condition_new(&c, NULL), 0);
	mp_lock *l = mp_condition_lock(c);
	mp_expect_status(mp_lock_acquire(l, 1), 0);
	for (int i = 0; i < 3; i++) {
		mp_expect_status(mp_condition_wait(c, 0.02), MP_ETIMEDOUT);
		mp_expect_status(mp_condition_notify(c, 2), 0);
		int rc = mp_condition_wait(c, 0.05);
		cr_assert(rc == MP_ETIMEDOUT, "round %d: a wait begun after a notify with nobody waiting returned %s, "
			  "expected MP_ETIMEDOUT: a wait that timed out must count itself out of the waiters", i + 1,
			  mp_err_name(rc));
	}
	mp_expect_status(mp_lock_release(l), 0);
	mp_condition_free(c);
}

MP_TEST(lock, wait_for_tests_first_and_keeps_one_deadline, 3, "Semaphores, events and conditions")
{
	mp_condition *c = NULL;
	mp_expect_status(mp_condition_new(&c, NULL), 0);
	mp_lock *l = mp_condition_lock(c);
	mp_expect_status(mp_condition_wait_for(c, never, NULL, 0.01), MP_ENOTOWNER);
	mp_expect_status(mp_lock_acquire(l, 1), 0);
	mp_expect_status(mp_condition_wait_for(NULL, always, NULL, 0), -EINVAL);
	mp_expect_status(mp_condition_wait_for(c, NULL, NULL, 0), -EINVAL);
	mp_expect_status(mp_condition_wait_for(c, always, NULL, NAN), -EINVAL);
	mp_expect_status(mp_condition_wait(c, NAN), -EINVAL);
	double t0 = mp_test_now();
	mp_expect_status(mp_condition_wait_for(c, always, NULL, 10), 1);
	mp_expect_status(mp_condition_wait_for(c, never, NULL, 0), 0);
	cr_assert(mp_test_now() - t0 < 0.1 * MP_TEST_TIMEOUT_SCALE, "a predicate already true, or a timeout of 0, must not wait");
	expect_timed_out_under_signals(mp_condition_wait_for(c, never, NULL, 0.3), 0.3, 0);
	expect_timed_out_under_signals(mp_condition_wait(c, 0.3), 0.3, MP_ETIMEDOUT);
	/* Woken every 20 ms, a wait_for(0.5) still ends after 0.5 s in all. */
	int stop[2];
	mp_test_pipe(stop);
	mp_process *p = start("notify_again_and_again", &(struct job){ .cond = c, .fd = stop[0], .fd_close = stop[1] });
	close(stop[0]);
	t0 = mp_test_now();
	mp_expect_status(mp_condition_wait_for(c, never, NULL, 0.5), 0);
	double took = mp_test_now() - t0;
	close(stop[1]);
	mp_expect_status(mp_lock_release(l), 0);
	cr_assert_eq(finish(p), 0, "the notifying child failed");
	cr_assert(took >= 0.49 && took < 0.5 + 1.5 * MP_TEST_TIMEOUT_SCALE, "under a stream of notifications wait_for(0.5) took %.3f s: "
		  "each wait must get only the time left of one deadline", took);
	/* Woken once half-way, a wait_for(1) waits the rest of its second, not a second more. */
	p = start("notify_after_a_pause", &(struct job){ .cond = c, .pause = 0.5 });
	mp_expect_status(mp_lock_acquire(l, 1), 0);
	t0 = mp_test_now();
	mp_expect_status(mp_condition_wait_for(c, never, NULL, 1), 0);
	took = mp_test_now() - t0;
	mp_expect_status(mp_lock_release(l), 0);
	cr_assert_eq(finish(p), 0, "the notifying child failed");
	cr_assert(took >= 0.99 && took < 1 + 0.35 * MP_TEST_TIMEOUT_SCALE, "woken once after 0.5 s, wait_for(1) took %.3f s: after a wake-up, "
		  "wait only for what is left of the one deadline", took);
	mp_expect_status(mp_lock_release(l), MP_ENOTOWNER); /* one level, given back after every wait */
	mp_condition_free(c);
}

MP_TEST(lock, a_wait_reports_a_notifier_that_died_holding_the_lock, 2, "Semaphores, events and conditions")
{
	mp_condition *c = NULL;
	mp_expect_status(mp_condition_new(&c, NULL), 0);
	mp_lock *l = mp_condition_lock(c);
	mp_expect_status(mp_lock_acquire(l, 1), 0);
	mp_expect_status(mp_lock_acquire(l, 1), 0);
	mp_process *p = start("notify_and_die", &(struct job){ .cond = c });
	mp_expect_status(mp_condition_wait(c, 5), MP_EOWNERDEAD);
	cr_assert_eq(finish(p), -SIGKILL);
	mp_expect_status(mp_lock_mark_consistent(l), 0); /* this process holds it again, and repairs */
	/* The dead notifier's ticket was this wait's: none is left for the next. */
	int rc = mp_condition_wait(c, 0.2);
	cr_assert(rc == MP_ETIMEDOUT, "a wait after the one the dead notifier woke returned %s, expected MP_ETIMEDOUT: "
		  "a wait that comes back with MP_EOWNERDEAD must still take its ticket", mp_err_name(rc));
	mp_expect_status(mp_lock_release(l), 0);
	mp_expect_status(mp_lock_release(l), 0); /* both levels came back */
	mp_expect_status(mp_lock_release(l), MP_ENOTOWNER);
	p = start("acquire_expecting", &(struct job){ .lock = l, .timeout = 1, .expect = 0 });
	cr_assert_eq(finish(p), 0, "once repaired and released the lock is free for others");
	mp_condition_free(c);
}

/* Take the lock, which a holder died holding, and let it go without repair: it is unrecoverable then. */
MP_TARGET(take_over_and_give_up)(const void *arg, size_t len)
{
	(void)len;
	const struct job *j = arg;
	sleep_seconds(j->pause);
	if (mp_lock_acquire(j->lock, 5) != MP_EOWNERDEAD)
		return 1;
	return mp_lock_release(j->lock) == 0 ? 0 : 2;
}

MP_TEST(lock, a_lock_lost_during_a_wait_is_reported_unrecoverable, 2, "Semaphores, events and conditions")
{
	/*
	 * While this process waits, one child takes the lock and dies holding
	 * it, and another takes it over and lets it go unrepaired. The wait
	 * cannot take the lock back: MP_EUNRECOVERABLE, and the lock not held.
	 */
	for (int recursive = 0; recursive < 2; recursive++) {
		mp_lock *l = new_lock(recursive);
		mp_condition *c = NULL;
		mp_expect_status(mp_condition_new(&c, l), 0);
		int levels = recursive ? 2 : 1;
		for (int i = 0; i < levels; i++)
			mp_expect_status(mp_lock_acquire(l, 1), 0);
		mp_array *pair = new_array(sizeof(int64_t), 2, false);
		mp_process *dies = start("die_holding_the_lock", &(struct job){ .lock = l, .array = pair });
		mp_process *gives_up = start("take_over_and_give_up", &(struct job){ .lock = l, .pause = 0.3 });
		int rc = mp_condition_wait(c, 1);
		cr_assert_eq(finish(dies), -SIGKILL);
		cr_assert_eq(finish(gives_up), 0, "the second child should have found the lock abandoned (EOWNERDEAD)");
		cr_assert(rc == MP_EUNRECOVERABLE, "a wait whose lock became unrecoverable returned %s, expected "
			  "MP_EUNRECOVERABLE (%s lock)", mp_err_name(rc), recursive ? "a re-entrant" : "a plain");
		mp_expect_status(mp_lock_release(l), MP_ENOTOWNER);
		mp_expect_status(mp_lock_acquire(l, 0), MP_EUNRECOVERABLE);
		mp_condition_free(c);
		mp_array_free(pair);
		mp_lock_free(l);
	}
}

/* Take the condition's lock, hold it j->pause seconds, notify one, let go. */
MP_TARGET(hold_then_notify)(const void *arg, size_t len)
{
	(void)len;
	const struct job *j = arg;
	mp_lock *l = mp_condition_lock(j->cond);
	if (mp_lock_acquire(l, 5) != 0)
		return 1;
	sleep_seconds(j->pause);
	if (mp_condition_notify(j->cond, 1) != 0)
		return 2;
	return mp_lock_release(l) == 0 ? 0 : 3;
}

MP_TEST(lock, a_notify_that_comes_while_the_waiter_takes_the_lock_back_counts, 1, "Semaphores, events and conditions")
{
	/*
	 * The wait's time runs out while a notifier holds the lock; the notifier
	 * then notifies, and lets go. The waiter, taking the lock back, finds the
	 * ticket: it was notified (0), even though its time had run out.
	 */
	mp_condition *c = NULL;
	mp_expect_status(mp_condition_new(&c, NULL), 0);
	mp_lock *l = mp_condition_lock(c);
	mp_expect_status(mp_lock_acquire(l, 1), 0);
	mp_process *p = start("hold_then_notify", &(struct job){ .cond = c, .pause = 0.5 });
	int rc = mp_condition_wait(c, 0.2);
	cr_assert_eq(finish(p), 0);
	cr_assert(rc == 0, "a wait notified while it took the lock back, after its time ran out, returned %s, "
		  "expected 0: look for a ticket before deciding it timed out", mp_err_name(rc));
	mp_expect_status(mp_lock_release(l), 0);
	mp_condition_free(c);
}

MP_TEST(lock, a_notify_gives_no_more_tickets_than_waiters_without_one, 1, "Semaphores, events and conditions")
{
	/* One waiter, notified twice: one ticket. A wait begun next must not find a second one. */
	mp_condition *c = NULL;
	mp_expect_status(mp_condition_new(&c, NULL), 0);
	mp_lock *l = mp_condition_lock(c);
	mp_array *counter = new_array(sizeof(int64_t), 1, false);
	int ready[2];
	mp_test_pipe(ready);
	mp_process *w = start("wait_on_condition", &(struct job){ .cond = c, .array = counter, .timeout = 5,
								     .ready = ready[1] });
	char byte;
	cr_assert(mp_test_read(ready[0], &byte, 1, 5), "the waiter never started waiting");
	mp_expect_status(mp_lock_acquire(l, 5), 0); /* once it waits, and has let the lock go */
	((int64_t *)mp_array_data(counter))[0] = 1;
	mp_expect_status(mp_condition_notify(c, 1), 0);
	mp_expect_status(mp_condition_notify(c, 1), 0);
	int rc = mp_condition_wait(c, 0.3); /* the waiter takes its ticket meanwhile; ours must not be there */
	cr_assert_eq(finish(w), 0, "the waiter should have been notified");
	cr_assert(rc == MP_ETIMEDOUT, "a second notify with one waiter handed out a second ticket: a wait begun "
		  "after it returned %s, expected MP_ETIMEDOUT", mp_err_name(rc));
	mp_expect_status(mp_lock_release(l), 0);
	close(ready[0]);
	close(ready[1]);
	mp_array_free(counter);
	mp_condition_free(c);
}

/* Take the lock its holder died holding, say so, and hold it until j->fd closes; then repair and release. */
MP_TARGET(hold_what_the_dead_left)(const void *arg, size_t len)
{
	(void)len;
	const struct job *j = arg;
	close(j->fd_close);
	if (mp_lock_acquire(j->lock, 5) != MP_EOWNERDEAD)
		return 1;
	if (write(j->ready, "r", 1) != 1)
		return 2;
	wait_for_close(j->fd);
	return mp_lock_mark_consistent(j->lock) == 0 && mp_lock_release(j->lock) == 0 ? 0 : 3;
}

MP_TEST(lock, only_the_holder_may_repair_an_abandoned_lock, 1, "When the holder dies: robust mutexes")
{
	/* glibc's pthread_mutex_consistent() checks no holder: any process could mark it. mp_lock's may not. */
	mp_lock *l = new_lock(false);
	mp_array *pair = new_array(sizeof(int64_t), 2, false);
	cr_assert_eq(finish(start("die_holding_the_lock", &(struct job){ .lock = l, .array = pair })), -SIGKILL);
	int go[2], ready[2];
	mp_test_pipe(go);
	mp_test_pipe(ready);
	mp_process *h = start("hold_what_the_dead_left", &(struct job){ .lock = l, .fd = go[0], .fd_close = go[1],
									 .ready = ready[1] });
	close(go[0]);
	close(ready[1]);
	char byte;
	cr_assert(mp_test_read(ready[0], &byte, 1, 5), "the child did not take over the abandoned lock");
	close(ready[0]);
	mp_expect_status(mp_lock_mark_consistent(l), -EINVAL);
	close(go[1]);
	cr_assert_eq(finish(h), 0, "the holder's own repair must still work after a refused one");
	mp_array_free(pair);
	mp_lock_free(l);
}

/* Say so on j->ready and wait (j->timeout): exit 0 if notified, 1 for MP_EOWNERDEAD (repaired), 2 on a timeout. */
MP_TARGET(wait_and_tell)(const void *arg, size_t len)
{
	(void)len;
	const struct job *j = arg;
	mp_lock *l = mp_condition_lock(j->cond);
	if (mp_lock_acquire(l, 5) != 0 || write(j->ready, "r", 1) != 1)
		return 3;
	int rc = mp_condition_wait(j->cond, j->timeout);
	if (rc == MP_EOWNERDEAD && mp_lock_mark_consistent(l) != 0)
		return 4;
	if (mp_lock_release(l) != 0)
		return 5;
	return rc == 0 ? 0 : rc == MP_EOWNERDEAD ? 1 : rc == MP_ETIMEDOUT ? 2 : 6;
}

MP_TEST(lock, the_ticket_of_a_notifier_that_died_is_taken_once, 2, "Semaphores, events and conditions")
{
	/*
	 * Two waiters; a notifier hands out one ticket and dies holding the lock.
	 * One waiter gets the lock back with MP_EOWNERDEAD, and with it the
	 * ticket, whichever it is: the other, never notified, must time out.
	 */
	mp_condition *c = NULL;
	mp_expect_status(mp_condition_new(&c, NULL), 0);
	mp_lock *l = mp_condition_lock(c);
	int ready[2];
	mp_test_pipe(ready);
	mp_process *w = start("wait_and_tell", &(struct job){ .cond = c, .timeout = 1.5, .ready = ready[1] });
	char byte;
	cr_assert(mp_test_read(ready[0], &byte, 1, 5), "the first waiter never started");
	mp_expect_status(mp_lock_acquire(l, 5), 0); /* the child waits now */
	mp_process *n = start("notify_and_die", &(struct job){ .cond = c });
	int rc = mp_condition_wait(c, 1.5);
	if (rc == MP_EOWNERDEAD)
		mp_expect_status(mp_lock_mark_consistent(l), 0);
	mp_expect_status(mp_lock_release(l), 0);
	cr_assert_eq(finish(n), -SIGKILL);
	int child = finish(w);
	cr_assert((rc == MP_EOWNERDEAD && child == 2) || (child == 1 && rc == MP_ETIMEDOUT),
		  "with one ticket handed out before the notifier died, this waiter got %s and the other exited %d (1: "
		  "MP_EOWNERDEAD, 2: timed out, 0: notified): the one that gets MP_EOWNERDEAD must take the ticket too",
		  mp_err_name(rc), child);
	close(ready[0]);
	close(ready[1]);
	mp_condition_free(c);
}

MP_TEST(lock, condition_calls_refuse_a_lock_held_elsewhere, 1, "Semaphores, events and conditions")
{
	mp_lock *l = new_lock(false); /* a plain lock works too */
	mp_condition *c = NULL;
	mp_expect_status(mp_condition_new(&c, l), 0);
	struct holder h = hold_in_child(l, 1, 0);
	double t0 = mp_test_now();
	mp_expect_status(mp_condition_wait(c, 1), MP_ENOTOWNER);
	cr_assert(mp_test_now() - t0 < 0.5 * MP_TEST_TIMEOUT_SCALE, "a wait without the lock is refused at once");
	mp_expect_status(mp_condition_notify(c, 1), MP_ENOTOWNER);
	mp_expect_status(mp_condition_notify_all(c), MP_ENOTOWNER);
	let_go(h);
	cr_assert_eq(finish(h.p), 0);
	mp_expect_status(mp_lock_acquire(l, 1), 0);
	mp_expect_status(mp_condition_wait(c, 0.05), MP_ETIMEDOUT);
	mp_expect_status(mp_condition_notify_all(c), 0);
	mp_expect_status(mp_lock_release(l), 0);
	mp_expect_status(mp_lock_release(l), MP_ENOTOWNER);
	mp_expect_status(mp_condition_wait(NULL, 0), -EINVAL);
	mp_expect_status(mp_condition_notify(NULL, 1), -EINVAL);
	mp_expect_status(mp_condition_notify_all(NULL), -EINVAL);
	cr_assert_null(mp_condition_lock(NULL));
	mp_condition_free(c);
	mp_condition_free(NULL);
	mp_lock_free(l);
}

MP_TEST(lock, a_barrier_of_one_passes_at_once, 1, "Barriers")
{
	rounds = new_array(sizeof(int64_t), 1, false);
	mp_barrier *b = NULL;
	mp_expect_status(mp_barrier_new(&b, 1, "count_round"), 0);
	for (int i = 0; i < 3; i++)
		mp_expect_status(mp_barrier_wait(b, 0), 0);
	cr_assert_eq(*(int64_t *)mp_array_data(rounds), 3, "the action runs at every pass, by the last (here the only) party");
	cr_assert(!mp_barrier_broken(b) && mp_barrier_n_waiting(b) == 0 && mp_barrier_parties(b) == 1);
	mp_barrier_free(b);
	mp_expect_status(mp_barrier_new(&b, 1, "fail_action"), 0);
	mp_expect_status(mp_barrier_wait(b, 0), MP_EBROKENBARRIER);
	cr_assert(mp_barrier_broken(b), "a failed action leaves the barrier broken");
	mp_expect_status(mp_barrier_wait(b, 0), MP_EBROKENBARRIER);
	mp_barrier_free(b);
	mp_expect_status(mp_barrier_wait(NULL, 0), -EINVAL);
	mp_expect_status(mp_barrier_abort(NULL), -EINVAL);
	mp_expect_status(mp_barrier_reset(NULL), -EINVAL);
	cr_assert(mp_barrier_parties(NULL) == 0 && mp_barrier_n_waiting(NULL) == 0 && !mp_barrier_broken(NULL));
	mp_barrier_free(NULL);
	mp_array_free(rounds);
}

MP_TEST(lock, a_barrier_serves_round_after_round, 3, "Barriers")
{
	rounds = new_array(sizeof(int64_t), 1, false);
	mp_barrier *b = NULL;
	mp_expect_status(mp_barrier_new(&b, 3, "count_round"), 0);
	enum { ROUNDS = 20 };
	struct job j = { .barrier = b, .timeout = 10, .count = ROUNDS };
	mp_process *p[2] = { start("pass_the_barrier_rounds", &j), start("pass_the_barrier_rounds", &j) };
	int sum = 0;
	for (int round = 0; round < ROUNDS; round++) {
		int rc = mp_barrier_wait(b, 10);
		cr_assert(rc >= 0 && rc < 3, "round %d: wait returned %s", round, mp_err_name(rc));
		cr_assert_eq(*(volatile int64_t *)mp_array_data(rounds), round + 1,
			     "round %d: the action must have run once per round before anyone goes on", round);
		sum += rc;
	}
	for (int i = 0; i < 2; i++) {
		int code = finish(p[i]);
		cr_assert(code < 200, "a party failed a round (%s)", code == 200 ? "wait failed" : "the action had not run");
		sum += code;
	}
	cr_assert_eq(sum, ROUNDS * 3, "each round's arrival indices must be 0, 1 and 2, once each");
	cr_assert(!mp_barrier_broken(b) && mp_barrier_n_waiting(b) == 0);
	mp_barrier_free(b);
	mp_array_free(rounds);
}

/* One full round of @b (3 parties): two children and this process; the indices must be 0, 1, 2. */
static void pass_one_round(mp_barrier *b)
{
	mp_process *p[2];
	for (int i = 0; i < 2; i++)
		p[i] = start("arrive_after_a_pause", &(struct job){ .barrier = b, .timeout = 10 });
	int mine = mp_barrier_wait(b, 10);
	cr_assert(mine >= 0 && mine < 3, "a round after a reset: wait returned %s", mp_err_name(mine));
	int sum = mine;
	for (int i = 0; i < 2; i++) {
		int code = finish(p[i]);
		cr_assert(code >= 0 && code < 3, "a round after a reset: a child's wait failed (%d)", code);
		sum += code;
	}
	cr_assert_eq(sum, 3, "the arrival indices must be 0, 1 and 2, once each");
}

MP_TEST(lock, reset_breaks_the_waiters_and_makes_the_barrier_new, 2, "Barriers")
{
	mp_barrier *b = NULL;
	mp_expect_status(mp_barrier_new(&b, 3, NULL), 0);
	mp_process *p = start("arrive_after_a_pause", &(struct job){ .barrier = b, .timeout = 10 });
	double end = mp_test_now() + 5;
	while (mp_barrier_n_waiting(b) != 1 && mp_test_now() < end)
		sleep_ms(2);
	cr_assert_eq(mp_barrier_n_waiting(b), 1);
	mp_expect_status(mp_barrier_reset(b), 0);
	cr_assert_eq(finish(p), 100, "a reset must wake the waiter with MP_EBROKENBARRIER");
	cr_assert(!mp_barrier_broken(b) && mp_barrier_n_waiting(b) == 0, "after a reset the barrier is as new");
	pass_one_round(b);
	pass_one_round(b);
	mp_expect_status(mp_barrier_abort(b), 0);
	cr_assert(mp_barrier_broken(b));
	double t0 = mp_test_now();
	mp_expect_status(mp_barrier_wait(b, 5), MP_EBROKENBARRIER);
	cr_assert(mp_test_now() - t0 < 0.5 * MP_TEST_TIMEOUT_SCALE, "a wait on a broken barrier must fail at once");
	mp_expect_status(mp_barrier_reset(b), 0);
	cr_assert(!mp_barrier_broken(b));
	pass_one_round(b);
	mp_barrier_free(b);
}

MP_TEST(lock, barrier_wait_honours_its_timeout_under_signals, 2, "Barriers")
{
	mp_barrier *b = NULL;
	mp_expect_status(mp_barrier_new(&b, 2, NULL), 0);
	mp_expect_status(mp_barrier_wait(b, NAN), -EINVAL);
	cr_assert_eq(mp_barrier_n_waiting(b), 0, "a refused wait does not count as an arrival");
	expect_timed_out_under_signals(mp_barrier_wait(b, 0.3), 0.3, MP_ETIMEDOUT);
	cr_assert(mp_barrier_broken(b) && mp_barrier_n_waiting(b) == 0);
	mp_expect_status(mp_barrier_reset(b), 0);
	mp_process *p = start("arrive_after_a_pause", &(struct job){ .barrier = b, .timeout = 10, .pause = 0.3 });
	signal_storm(true);
	int rc = mp_barrier_wait(b, MP_FOREVER);
	signal_storm(false);
	mp_expect_status(rc, 0); /* first to arrive */
	cr_assert_eq(finish(p), 1, "the child arrived last: its index is 1");
	mp_barrier_free(b);
}

MP_TEST(lock, an_array_with_a_lock_has_a_reentrant_lock_of_its_own, 2, "Sharing memory")
{
	mp_array *a = new_array(sizeof(double), 1, true), *b = new_array(sizeof(double), 1, true);
	cr_assert(*(double *)mp_array_data(a) == 0.0, "a new value is zero");
	mp_lock *la = mp_array_lock(a), *lb = mp_array_lock(b);
	cr_assert(la && lb && la != lb, "each Array comes with a lock of its own");
	mp_expect_status(mp_lock_acquire(la, 1), 0);
	mp_expect_status(mp_lock_acquire(la, 1), 0); /* re-entrant, as Python's */
	mp_process *p = start("try_lock", &(struct job){ .lock = lb, .timeout = 1 });
	cr_assert_eq(finish(p), 1, "holding one array's lock must not hold another's");
	mp_expect_status(mp_lock_release(la), 0);
	p = start("try_lock", &(struct job){ .lock = la, .timeout = 0.05 });
	cr_assert_eq(finish(p), 0, "held once more, the array's lock keeps others out");
	mp_expect_status(mp_lock_release(la), 0);
	cr_assert_null(mp_array_data(NULL));
	cr_assert_eq(mp_array_length(NULL), 0);
	cr_assert_null(mp_array_lock(NULL));
	mp_array_free(NULL);
	mp_array_free(a);
	mp_array_free(b);
}

MP_TEST(lock, named_memory_checks_its_arguments, 1, "Named shared memory, and who may remove it")
{
	mp_shm *s = (mp_shm *)&s;
	char name[256];
	int prefix = snprintf(name, sizeof name, "mp-%d-", (int)getpid());
	memset(name + prefix, 'n', 201 - (size_t)prefix);
	name[201] = '\0';
	mp_expect_status(mp_shm_create(&s, name, 10), -EINVAL); /* 201 characters: too long */
	mp_expect_status(mp_shm_create(&s, NULL, 0), -EINVAL);
	mp_expect_status(mp_shm_create(NULL, NULL, 10), -EINVAL);
	mp_expect_status(mp_shm_attach(&s, NULL), -EINVAL);
	mp_expect_status(mp_shm_attach(&s, "a/b"), -EINVAL);
	mp_expect_status(mp_shm_attach(&s, ""), -EINVAL);
	cr_assert(s == (mp_shm *)&s, "a failed create or attach must leave *out untouched");
	name[200] = '\0';
	mp_expect_status(mp_shm_create(&s, name, 10), 0); /* 200: the longest allowed */
	cr_assert_str_eq(mp_shm_name(s), name);
	mp_expect_status(mp_shm_unlink(s), 0);
	mp_expect_status(mp_shm_unlink(s), -ENOENT);
	mp_shm_detach(s);
	mp_expect_status(mp_shm_unlink(NULL), -EINVAL);
	cr_assert(mp_shm_size(NULL) == 0 && mp_shm_data(NULL) == NULL && strcmp(mp_shm_name(NULL), "") == 0);
	mp_shm_detach(NULL);
}

MP_TEST(lock, an_attached_block_is_the_same_memory_and_outlives_its_name, 2, "Named shared memory, and who may remove it")
{
	mp_shm *s = NULL, *t = NULL, *other = NULL;
	mp_expect_status(mp_shm_create(&s, NULL, 10000), 0);
	mp_expect_status(mp_shm_create(&other, NULL, 10), 0);
	cr_assert_str_neq(mp_shm_name(s), mp_shm_name(other), "two fresh names must differ");
	unsigned char *p = mp_shm_data(s);
	for (int i = 0; i < 10000; i++)
		cr_assert_eq(p[i], 0, "a new block is zero-filled");
	char path[300];
	snprintf(path, sizeof path, "/dev/shm/%s", mp_shm_name(s));
	struct stat st;
	cr_assert(stat(path, &st) == 0, "the block's name must be %s", path);
	cr_assert_eq(st.st_mode & 0777, 0600, "a named block is for its owner only (mode 0600), not %o", st.st_mode & 0777);
	mp_expect_status(mp_shm_attach(&t, mp_shm_name(s)), 0);
	cr_assert_eq(mp_shm_size(t), 10000, "attach must find the creator's size");
	cr_assert_str_eq(mp_shm_name(t), mp_shm_name(s));
	p[9999] = 7;
	cr_assert_eq(((unsigned char *)mp_shm_data(t))[9999], 7, "two attachments are the same memory");
	/* Each handle is a use, even in one process: unlinking waits for the other to go. */
	mp_expect_status(mp_shm_unlink(t), MP_EBUSY);
	mp_shm_detach(t);
	mp_expect_status(mp_shm_unlink(s), 0);
	mp_shm *again = NULL;
	mp_expect_status(mp_shm_attach(&again, mp_shm_name(s)), -ENOENT);
	p[0] = 9; /* unlinked, still attached: the memory stays */
	cr_assert_eq(p[0], 9);
	mp_shm_detach(s);
	mp_expect_status(mp_shm_unlink(other), 0);
	mp_shm_detach(other);
}

MP_TEST(lock, a_block_not_yet_sized_cannot_be_attached, 1, "Named shared memory, and who may remove it")
{
	char name[64];
	snprintf(name, sizeof name, "/mp-%d-unsized", (int)getpid());
	int fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
	cr_assert(fd >= 0, "shm_open: %s", strerror(errno));
	close(fd);
	mp_shm *s = (mp_shm *)&s;
	int rc = mp_shm_attach(&s, name + 1);
	shm_unlink(name);
	mp_expect_status(rc, -EINVAL);
	cr_assert(s == (mp_shm *)&s);
	mp_expect_status(mp_shm_create(&s, name + 1, 1), 0); /* the name is free again */
	mp_shm *t = NULL;
	mp_expect_status(mp_shm_attach(&t, name + 1), 0); /* one byte is a size */
	cr_assert_eq(mp_shm_size(t), 1);
	mp_shm_detach(t);
	mp_expect_status(mp_shm_unlink(s), 0);
	mp_shm_detach(s);
}

/* Exit 0 if the wait ends as it should: at once with the flag seen, or after its whole timeout. */
MP_TARGET(wait_for_event_timed)(const void *arg, size_t len)
{
	(void)len;
	const struct job *j = arg;
	double t0 = mp_test_now();
	int rc = mp_event_wait(j->event, j->timeout);
	double took = mp_test_now() - t0;
	if (rc == 0)
		return 0;
	return rc == MP_ETIMEDOUT && took >= j->timeout - 0.01 ? 0 : 1;
}

MP_TEST(lock, a_waiter_that_wakes_to_a_cleared_event_sleeps_again, 1, "Semaphores, events and conditions")
{
	mp_event *e = NULL;
	mp_expect_status(mp_event_new(&e), 0);
	for (int round = 0; round < 5; round++) {
		mp_process *p = start("wait_for_event_timed", &(struct job){ .event = e, .timeout = 0.5 });
		sleep_ms(50);
		mp_expect_status(mp_event_set(e), 0);
		mp_expect_status(mp_event_clear(e), 0); /* most often before the waiter wakes */
		cr_assert_eq(finish(p), 0, "round %d: a waiter woken with the flag down again must go back to sleep "
			     "for the rest of its timeout, not give up early", round);
	}
	mp_event_free(e);
}

MP_TARGET(take_the_semaphore_or_time_out)(const void *arg, size_t len)
{
	(void)len;
	const struct job *j = arg;
	int rc = mp_semaphore_acquire(j->sem, j->timeout);
	return rc == 0 ? 0 : rc == MP_ETIMEDOUT ? 1 : 2;
}

MP_TEST(lock, a_unit_taken_before_the_waiter_wakes_is_not_taken_twice, 2, "Semaphores, events and conditions")
{
	mp_semaphore *s = NULL;
	mp_expect_status(mp_semaphore_new(&s, 0), 0);
	for (int round = 0; round < 5; round++) {
		mp_process *p = start("take_the_semaphore_or_time_out", &(struct job){ .sem = s, .timeout = 0.3 });
		sleep_ms(50);
		mp_expect_status(mp_semaphore_release(s), 0);
		int mine = mp_semaphore_acquire(s, 0); /* most often this takes the unit first */
		int code = finish(p);
		cr_assert(code == 0 || code == 1, "round %d: the waiter's acquire failed (%d)", round, code);
		int taken = (mine == 0) + (code == 0);
		cr_assert_eq(taken, 1, "round %d: one release gave %d units: a waiter that wakes to find the unit "
			     "gone must wait again", round, taken);
		cr_assert_eq(mp_semaphore_value(s), 0, "round %d: the value went to %d", round, mp_semaphore_value(s));
	}
	mp_semaphore_free(s);
}

/* A barrier action that dies, as a process can at any instant: it holds the barrier's guard. */
MP_TARGET(die_in_action)(const void *arg, size_t len)
{
	(void)arg;
	(void)len;
	raise(SIGKILL);
	return 1;
}

MP_TEST(lock, a_barrier_whose_action_died_is_broken_for_the_others_until_reset, 2, "Barriers")
{
	mp_barrier *b = NULL;
	mp_expect_status(mp_barrier_new(&b, 2, "die_in_action"), 0);
	mp_process *first = start("arrive_after_a_pause", &(struct job){ .barrier = b, .timeout = 10 });
	double end = mp_test_now() + 5;
	while (mp_barrier_n_waiting(b) != 1 && mp_test_now() < end)
		sleep_ms(2);
	double t0 = mp_test_now();
	mp_process *last = start("arrive_after_a_pause", &(struct job){ .barrier = b, .timeout = 10 });
	cr_assert_eq(finish(last), -SIGKILL, "the last party runs the action, and the action killed it");
	/* Nobody aborts: the death of the action's process is itself what breaks the round. */
	cr_assert_eq(finish(first), 100, "the party waiting while the action's process died must wake with "
		     "MP_EBROKENBARRIER, as for a failed action, not wait out its timeout");
	cr_assert(mp_test_now() - t0 < 5, "the waiting party learnt of the death only after %.1f s", mp_test_now() - t0);
	cr_assert(mp_barrier_broken(b), "the barrier stays broken until a reset");
	mp_expect_status(mp_barrier_reset(b), 0);
	cr_assert(!mp_barrier_broken(b) && mp_barrier_n_waiting(b) == 0);
	mp_barrier_free(b);
	/* The same barrier without the action: a new round passes. */
	mp_expect_status(mp_barrier_new(&b, 2, NULL), 0);
	mp_process *p = start("arrive_after_a_pause", &(struct job){ .barrier = b, .timeout = 10 });
	int rc = mp_barrier_wait(b, 5);
	cr_assert(rc == 0 || rc == 1, "a round after the reset: wait returned %s", mp_err_name(rc));
	cr_assert_eq(finish(p), 1 - rc);
	mp_barrier_free(b);
}

MP_TARGET(release_many_times)(const void *arg, size_t len)
{
	(void)len;
	const struct job *j = arg;
	close(j->fd_close);
	wait_for_close(j->fd); /* both start at once, for as much overlap as two cores give */
	for (int i = 0; i < j->count; i++)
		if (mp_semaphore_release(j->sem) != 0)
			return 1;
	return 0;
}

MP_TARGET(acquire_many_times)(const void *arg, size_t len)
{
	(void)len;
	const struct job *j = arg;
	for (int i = 0; i < j->count; i++)
		if (mp_semaphore_acquire(j->sem, 10) != 0)
			return 1;
	return 0;
}

MP_TEST(lock, concurrent_releases_and_acquires_count_exactly, 2, "Semaphores, events and conditions")
{
	mp_semaphore *s = NULL;
	mp_expect_status(mp_semaphore_new(&s, 0), 0);
	int gate[2];
	mp_test_pipe(gate);
	struct job j = { .sem = s, .count = 200000, .fd = gate[0], .fd_close = gate[1] };
	mp_process *p[2] = { start("release_many_times", &j), start("release_many_times", &j) };
	close(gate[0]);
	close(gate[1]);
	for (int i = 0; i < 2; i++)
		cr_assert_eq(finish(p[i]), 0);
	cr_assert_eq(mp_semaphore_value(s), 400000, "two processes released 200000 times each, the value is %d: "
		     "each release must count under the guard", mp_semaphore_value(s));
	p[0] = start("acquire_many_times", &j);
	p[1] = start("acquire_many_times", &j);
	for (int i = 0; i < 2; i++)
		cr_assert_eq(finish(p[i]), 0, "a unit released was not there to acquire");
	cr_assert_eq(mp_semaphore_value(s), 0);
	mp_semaphore_free(s);
}

/* How many mappings this process has: every object of this stage is one or two. */
static int count_mappings(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	cr_assert(f, "cannot read /proc/self/maps");
	int n = 0, c;
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

static void make_and_free_one_of_each(void)
{
	mp_lock *l = new_lock(false), *r = new_lock(true);
	mp_semaphore *s = NULL, *bs = NULL;
	mp_event *e = NULL;
	mp_condition *c = NULL, *own = NULL;
	mp_barrier *b = NULL;
	mp_shm *m = NULL;
	mp_expect_status(mp_semaphore_new(&s, 1), 0);
	mp_expect_status(mp_bounded_semaphore_new(&bs, 1), 0);
	mp_expect_status(mp_event_new(&e), 0);
	mp_expect_status(mp_condition_new(&c, l), 0);
	mp_expect_status(mp_condition_new(&own, NULL), 0);
	mp_expect_status(mp_barrier_new(&b, 2, NULL), 0);
	mp_array *raw = new_array(8, 100, false), *locked = new_array(8, 100, true);
	mp_expect_status(mp_shm_create(&m, NULL, 4096), 0);
	mp_expect_status(mp_shm_unlink(m), 0);
	mp_shm_detach(m);
	mp_array_free(locked);
	mp_array_free(raw);
	mp_barrier_free(b);
	mp_condition_free(own);
	mp_condition_free(c);
	mp_event_free(e);
	mp_semaphore_free(bs);
	mp_semaphore_free(s);
	mp_lock_free(r);
	mp_lock_free(l);
}

MP_TEST(lock, freeing_an_object_unmaps_its_memory, 1, "Sharing memory")
{
	make_and_free_one_of_each(); /* once first: the allocator's own mappings come and stay */
	int before = count_mappings();
	for (int i = 0; i < 3; i++)
		make_and_free_one_of_each();
	int after = count_mappings();
	cr_assert_eq(after, before, "made and freed three of each object, and %d mappings are left over: "
		     "each free must unmap what its new mapped", after - before);
}

MP_TEST(lock, size_limits_are_exact, 1, "Sharing memory")
{
	mp_array *a = (mp_array *)&a;
	/* SIZE_MAX / 2 elements of 2 bytes do not overflow: too big to map, not invalid. */
	mp_expect_status(mp_array_new(&a, 2, SIZE_MAX / 2, false), -ENOMEM);
	mp_expect_status(mp_array_new(&a, 2, SIZE_MAX / 2 + 1, false), -EINVAL);
	cr_assert(a == (mp_array *)&a);
	char name[MP_TARGET_NAME_MAX + 1];
	memset(name, 'z', MP_TARGET_NAME_MAX);
	name[MP_TARGET_NAME_MAX] = '\0';
	mp_barrier *b = NULL;
	mp_expect_status(mp_barrier_new(&b, 2, name), MP_ENOTARGET); /* the longest name is valid, just unknown */
}

/* Take the lock (free, or soon to be), release it, and check it is no longer held here. */
MP_TARGET(take_release_and_check)(const void *arg, size_t len)
{
	(void)len;
	const struct job *j = arg;
	mp_lock *l = mp_condition_lock(j->cond);
	if (mp_lock_acquire(l, 5) != 0)
		return 1;
	if (mp_lock_release(l) != 0)
		return 2;
	if (mp_condition_notify(j->cond, 1) != MP_ENOTOWNER)
		return 3; /* released: no longer the holder */
	return 0;
}

/* In a child of the lock's holder: the child does not hold it, so may not wait or notify. */
MP_TARGET(use_a_condition_without_its_lock)(const void *arg, size_t len)
{
	(void)len;
	const struct job *j = arg;
	if (mp_condition_wait(j->cond, 0.05) != MP_ENOTOWNER)
		return 1;
	if (mp_condition_notify(j->cond, 1) != MP_ENOTOWNER || mp_condition_notify_all(j->cond) != MP_ENOTOWNER)
		return 2;
	if (mp_lock_release(mp_condition_lock(j->cond)) != MP_ENOTOWNER)
		return 3;
	return 0;
}

MP_TEST(lock, a_child_of_the_holder_does_not_hold_the_lock, 2, "Re-entrant locks")
{
	mp_condition *c = NULL;
	mp_expect_status(mp_condition_new(&c, NULL), 0);
	mp_lock *l = mp_condition_lock(c);
	mp_expect_status(mp_lock_acquire(l, 1), 0);
	mp_process *p = start("use_a_condition_without_its_lock", &(struct job){ .cond = c });
	cr_assert_eq(finish(p), 0, "a child forked by the holder has a thread id of its own and does not hold "
		     "the lock (the cached id must be forgotten in the child)");
	mp_expect_status(mp_lock_release(l), 0); /* the child changed nothing */
	mp_expect_status(mp_lock_release(l), MP_ENOTOWNER);
	/* Nor does a sibling of the holder, a child too. */
	struct holder h = hold_in_child(l, 1, 0);
	p = start("use_a_condition_without_its_lock", &(struct job){ .cond = c });
	cr_assert_eq(finish(p), 0, "a process that does not hold the lock (a sibling of its holder) may not use it");
	let_go(h);
	cr_assert_eq(finish(h.p), 0);
	/* While this process waits, another takes the lock and gives it back: then it holds it no more. */
	mp_expect_status(mp_lock_acquire(l, 1), 0);
	p = start("take_release_and_check", &(struct job){ .cond = c });
	mp_expect_status(mp_condition_wait(c, 0.3), MP_ETIMEDOUT);
	mp_expect_status(mp_lock_release(l), 0);
	cr_assert_eq(finish(p), 0, "a process that took the lock during a wait and released it must not be its holder "
		     "any more: the wait clears owner and depth");
	mp_condition_free(c);
}

/* Ping-pong: take a unit of ping, give one to pong, so many rounds. */
struct ping_pong {
	mp_semaphore *ping, *pong;
	int rounds;
};

MP_TARGET(pong)(const void *arg, size_t len)
{
	(void)len;
	const struct ping_pong *pp = arg;
	for (int i = 0; i < pp->rounds; i++) {
		if (mp_semaphore_acquire(pp->ping, 2) != 0)
			return 1;
		if (mp_semaphore_release(pp->pong) != 0)
			return 2;
	}
	return 0;
}

MP_TEST(lock, a_release_never_slips_past_a_waiter_going_to_sleep, 2, "Semaphores, events and conditions")
{
	struct ping_pong pp = { .rounds = 2000 };
	mp_expect_status(mp_semaphore_new(&pp.ping, 0), 0);
	mp_expect_status(mp_semaphore_new(&pp.pong, 0), 0);
	mp_process *p = NULL;
	mp_expect_status(mp_process_new(&p, "pong", &pp, sizeof pp), 0);
	mp_expect_status(mp_process_start(p), 0);
	int lost = -1;
	for (int i = 0; i < pp.rounds; i++) {
		mp_expect_status(mp_semaphore_release(pp.ping), 0);
		if (mp_semaphore_acquire(pp.pong, 2) != 0) {
			lost = i;
			break;
		}
	}
	int code = finish(p);
	cr_assert(lost < 0 && code == 0, "ping-pong between two processes stalled at round %d (child %d): a "
		  "release that does not take the guard can signal before the waiter sleeps, and the wake-up is lost",
		  lost, code);
	mp_semaphore_free(pp.ping);
	mp_semaphore_free(pp.pong);
}

/* A barrier action that dies the first time it runs (holding the barrier's guard), and succeeds after. */
MP_TARGET(die_in_the_first_action)(const void *arg, size_t len)
{
	(void)arg;
	(void)len;
	volatile int64_t *n = mp_array_data(rounds);
	if ((*n)++ == 0)
		raise(SIGKILL);
	return 0;
}

MP_TARGET(a_long_action)(const void *arg, size_t len)
{
	(void)arg;
	(void)len;
	sleep_seconds(1);
	return 0;
}

MP_TEST(lock, timeouts_hold_while_the_barrier_action_runs, 2, "Barriers")
{
	/* The action is user code: it runs without the barrier's guard, so the others' timeouts still count. */
	mp_barrier *b = NULL;
	mp_expect_status(mp_barrier_new(&b, 3, "a_long_action"), 0);
	mp_process *first = start("arrive_after_a_pause", &(struct job){ .barrier = b, .timeout = 10 });
	mp_process *last = start("arrive_after_a_pause", &(struct job){ .barrier = b, .timeout = 10, .pause = 0.2 });
	double t0 = mp_test_now();
	int rc = mp_barrier_wait(b, 0.5); /* the last party arrives at 0.2 s and runs its 1 s action */
	double took = mp_test_now() - t0;
	mp_expect_status(rc, MP_ETIMEDOUT);
	cr_assert(took < 0.5 + 0.3 * MP_TEST_TIMEOUT_SCALE, "a wait(0.5) during a 1 s action took %.2f s: the action "
		  "must not run holding the guard the waiters need", took);
	cr_assert_eq(finish(last), 100, "the party whose action ran in a round broken meanwhile gets MP_EBROKENBARRIER");
	cr_assert_eq(finish(first), 100, "the other waiter sees the round broken by the timeout");
	mp_barrier_free(b);
}

MP_TARGET(wait_on_the_object)(const void *arg, size_t len)
{
	(void)len;
	const struct job *j = arg;
	int rc;
	if (j->sem)
		rc = mp_semaphore_acquire(j->sem, j->timeout);
	else if (j->event)
		rc = mp_event_wait(j->event, j->timeout);
	else if (j->barrier)
		rc = mp_barrier_wait(j->barrier, j->timeout);
	else {
		mp_lock *l = mp_condition_lock(j->cond);
		rc = mp_lock_acquire(l, j->timeout);
		if (rc == 0)
			rc = mp_condition_wait(j->cond, j->timeout);
		if (rc == 0 && mp_lock_release(l) != 0)
			rc = -1;
	}
	return rc == 0 || (j->barrier && rc > 0) ? 0 : rc == MP_EBROKENBARRIER ? 100 : 1;
}

/* Start @n waiters on the object of @j and wait until they are all asleep in the kernel. */
static void start_sleepers(const struct job *j, mp_process **p, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = start("wait_on_the_object", j);
	sleep_ms(300);
}

MP_TEST(lock, a_waiter_killed_in_any_primitive_stops_no_other, 3, "Semaphores, events and conditions")
{
	/*
	 * For each object: two waiters asleep in it are killed; then what ends a
	 * wait must still return, and wake the survivors, twice over. With
	 * glibc's process-shared condition variables, the second release hung
	 * for ever, holding the object's guard.
	 */
	static const char *what[] = { "semaphore", "event", "condition", "barrier" };
	for (int kind = 0; kind < 4; kind++) {
		struct job j = { .timeout = 10 };
		mp_expect_status(kind == 0 ? mp_semaphore_new(&j.sem, 0) : kind == 1 ? mp_event_new(&j.event)
				 : kind == 2 ? mp_condition_new(&j.cond, NULL) : mp_barrier_new(&j.barrier, 4, NULL), 0);
		for (int round = 0; round < 2; round++) {
			mp_process *p[3];
			start_sleepers(&j, p, 3);
			for (int i = 0; i < 2; i++) {
				mp_process_kill(p[i]);
				cr_assert_eq(finish(p[i]), -SIGKILL);
			}
			double t0 = mp_test_now();
			if (kind == 0) {
				mp_expect_status(mp_semaphore_release(j.sem), 0);
			} else if (kind == 1) {
				mp_expect_status(mp_event_set(j.event), 0);
			} else if (kind == 2) {
				mp_lock *l = mp_condition_lock(j.cond);
				mp_expect_status(mp_lock_acquire(l, 5), 0);
				mp_expect_status(mp_condition_notify_all(j.cond), 0);
				mp_expect_status(mp_lock_release(l), 0);
			} else {
				mp_expect_status(mp_barrier_abort(j.barrier), 0); /* two parties died: the round cannot fill */
			}
			cr_assert(mp_test_now() - t0 < 1, "round %d: after two waiters were killed in a %s, the call that "
				  "ends a wait took %.1f s", round + 1, what[kind], mp_test_now() - t0);
			int code = finish(p[2]);
			cr_assert_eq(code, kind == 3 ? 100 : 0, "round %d: the surviving waiter on the %s did not wake as it "
				     "should (exit %d)", round + 1, what[kind], code);
			if (kind == 1)
				mp_expect_status(mp_event_clear(j.event), 0);
			if (kind == 3)
				mp_expect_status(mp_barrier_reset(j.barrier), 0);
		}
		mp_semaphore_free(j.sem);
		mp_event_free(j.event);
		mp_condition_free(j.cond);
		mp_barrier_free(j.barrier);
	}
}

/*
 * Say so on j->ready, take the lock and let it go: exit 0, 2 on a timeout, 1
 * on another error, 3 if the CPU could not be set, 4 if the pipe failed.
 */
MP_TARGET(take_the_lock)(const void *arg, size_t len)
{
	(void)len;
	const struct job *j = arg;
	if (j->idle_on > 0 && !mp_test_pin(j->idle_on - 1, true))
		return 3;
	if (write(j->ready, "r", 1) != 1)
		return 4;
	int rc = mp_lock_acquire(j->lock, j->timeout);
	if (rc == 0)
		rc = mp_lock_release(j->lock);
	return rc == 0 ? 0 : rc == MP_ETIMEDOUT ? 2 : 1;
}

/*
 * The scene of the test below, once: B's exit code, or -1 if A ran before
 * this process took the lock back (the scheduler's doing, not the
 * library's: the caller tries again).
 */
static int hand_the_lock_to_a_dying_waiter(mp_lock *l)
{
	mp_expect_status(mp_lock_acquire(l, 0), 0);
	int ready[2];
	mp_test_pipe(ready);
	mp_process *a = start("take_the_lock", &(struct job){ .lock = l, .timeout = 10, .idle_on = 1, .ready = ready[1] });
	char byte;
	cr_assert(mp_test_read(ready[0], &byte, 1, 10) && mp_test_wait_asleep(mp_process_pid(a), 10),
		  "the first waiter never went to sleep in mp_lock_acquire()");
	mp_process *b = start("take_the_lock", &(struct job){ .lock = l, .timeout = 3 * MP_TEST_TIMEOUT_SCALE, .ready = ready[1] });
	cr_assert(mp_test_read(ready[0], &byte, 1, 10) && mp_test_wait_asleep(mp_process_pid(b), 10),
		  "the second waiter never went to sleep in mp_lock_acquire()");
	close(ready[0]);
	close(ready[1]);

	/* On CPU 0 with A, and real-time where allowed (as root): then nothing lets A run until we sleep. */
	mp_test_take_cpu0();

	mp_expect_status(mp_lock_release(l), 0); /* wakes A */
	mp_process_kill(a);
	int rc = mp_lock_acquire(l, 0);

	mp_test_leave_cpu0();
	int first = finish(a); /* A dies now, while we hold the lock */
	cr_assert_neq(first, 3, "the first waiter could not be put on CPU 0 at SCHED_IDLE");
	if (rc == 0)
		mp_expect_status(mp_lock_release(l), 0);
	int code = finish(b);
	return first == -SIGKILL && rc == 0 ? code : -1;
}

MP_TEST(lock, a_waiter_killed_as_it_is_handed_the_lock_strands_no_other, 2, "A waiter that dies")
{
	/*
	 * Two processes wait for the lock, A first. The release wakes A, and A
	 * is killed before it runs (it shares CPU 0 with this process at
	 * SCHED_IDLE, so it cannot run while this process does), and this
	 * process takes the lock again before A's death. B must still get the
	 * lock. glibc's unlock wakes one sleeper, A, and nobody else; the
	 * kernel wakes another for a waiter that dies so, but only if the lock
	 * is free at that instant: here it is held, as it would be by any
	 * process that came along meanwhile, and B would sleep on for ever.
	 */
	mp_lock *l = new_lock(false);
	int code = -1;
	for (int attempt = 0; attempt < 5 && code < 0; attempt++)
		code = hand_the_lock_to_a_dying_waiter(l);
	cr_assert_neq(code, -1, "in 5 tries, the first waiter always ran before it could be killed: is the machine "
		      "too busy?");
	cr_assert_eq(code, 0, "the second waiter did not get the lock (exit %d; 2: it timed out after 3 s): a release "
		     "must wake every waiter when one may have died between its wake-up and its take", code);
	mp_lock_free(l);
}

MP_TARGET(use_everything_for_ever)(const void *arg, size_t len)
{
	(void)len;
	const struct job *j = arg;
	mp_lock *l = mp_condition_lock(j->cond);
	for (;;) {
		if (mp_semaphore_acquire(j->sem, 0.01) == 0)
			mp_semaphore_release(j->sem);
		mp_event_wait(j->event, 0.005);
		int rc = mp_lock_acquire(l, 0.05);
		if (rc == MP_EOWNERDEAD)
			mp_lock_mark_consistent(l);
		if (rc == 0 || rc == MP_EOWNERDEAD) {
			mp_condition_notify(j->cond, 1);
			if (mp_condition_wait(j->cond, 0.005) == MP_EOWNERDEAD) /* a holder died while we waited */
				mp_lock_mark_consistent(l);
			mp_lock_release(l);
		}
	}
	return 0;
}

MP_TEST(lock, kill_storms_leave_every_primitive_working, 3, "Semaphores, events and conditions")
{
	/* Four processes wait, take, notify and release at random; one is killed every few milliseconds. */
	enum { KILLS = 80 };
	struct job j = { .timeout = 10 };
	mp_expect_status(mp_semaphore_new(&j.sem, 2), 0);
	mp_expect_status(mp_event_new(&j.event), 0);
	mp_expect_status(mp_condition_new(&j.cond, NULL), 0);
	mp_process *p[4];
	for (int i = 0; i < 4; i++)
		p[i] = start("use_everything_for_ever", &j);
	srand((unsigned)getpid());
	for (int k = 0; k < KILLS; k++) {
		usleep((useconds_t)(rand() % 6000));
		int v = rand() % 4;
		mp_process_kill(p[v]);
		cr_assert_eq(finish(p[v]), -SIGKILL, "a process using the primitives ended on its own");
		p[v] = start("use_everything_for_ever", &j);
	}
	for (int i = 0; i < 4; i++) {
		mp_process_kill(p[i]);
		finish(p[i]);
	}
	/* Every call returns at once; units held by the dead died with them, so count from what is left. */
	double t0 = mp_test_now();
	for (int i = 0; i < 3; i++)
		mp_expect_status(mp_semaphore_release(j.sem), 0);
	int got = 0;
	while (mp_semaphore_acquire(j.sem, 0) == 0)
		got++;
	cr_assert(got >= 3 && got <= 5, "after the storm and three releases, %d units could be taken", got);
	mp_expect_status(mp_event_set(j.event), 0);
	mp_expect_status(mp_event_wait(j.event, 0), 0);
	mp_lock *l = mp_condition_lock(j.cond);
	int rc = mp_lock_acquire(l, 1);
	cr_assert(rc == 0 || rc == MP_EOWNERDEAD, "after the storm, the condition's lock: %s", mp_err_name(rc));
	if (rc == MP_EOWNERDEAD)
		mp_expect_status(mp_lock_mark_consistent(l), 0);
	mp_expect_status(mp_condition_notify_all(j.cond), 0);
	/* A waiter killed asleep still counts as waiting, as in Python: its turn may go to the next wait, at once. */
	rc = mp_condition_wait(j.cond, 0.05);
	cr_assert(rc == MP_ETIMEDOUT || rc == 0, "after the storm, a condition wait returned %s", mp_err_name(rc));
	mp_expect_status(mp_lock_release(l), 0);
	cr_assert(mp_test_now() - t0 < 2, "after %d kills, the calls took %.1f s", KILLS, mp_test_now() - t0);
	mp_semaphore_free(j.sem);
	mp_event_free(j.event);
	mp_condition_free(j.cond);
}

MP_TEST(lock, two_nameless_blocks_differ_in_their_random_part, 1, "Named shared memory, and who may remove it")
{
	/* A fresh name is the pid, a counter and random bits: the random part must differ too, or a name is guessable. */
	mp_shm *a = NULL, *b = NULL;
	mp_expect_status(mp_shm_create(&a, NULL, 4096), 0);
	mp_expect_status(mp_shm_create(&b, NULL, 4096), 0);
	const char *ra = strrchr(mp_shm_name(a), '-'), *rb = strrchr(mp_shm_name(b), '-');
	cr_assert(ra && rb && strcmp(ra, rb) != 0, "two fresh names must differ in their random part, not only in the "
		  "counter: \"%s\" and \"%s\"", mp_shm_name(a), mp_shm_name(b));
	mp_expect_status(mp_shm_unlink(a), 0);
	mp_expect_status(mp_shm_unlink(b), 0);
	mp_shm_detach(a);
	mp_shm_detach(b);
}

MP_TEST(lock, a_named_block_on_descriptor_0_is_closed_too, 1, "Named shared memory, and who may remove it")
{
	int saved = fcntl(0, F_DUPFD_CLOEXEC, 3);
	cr_assert(saved >= 0);
	close(0); /* a process may run without stdin: the block's descriptor is then 0 */
	mp_shm *s = NULL;
	mp_expect_status(mp_shm_create(&s, NULL, 4096), 0);
	cr_assert(fcntl(0, F_GETFD) >= 0, "with descriptor 0 free, the block's descriptor should be 0");
	mp_expect_status(mp_shm_unlink(s), 0);
	mp_shm_detach(s);
	cr_assert(fcntl(0, F_GETFD) < 0, "mp_shm_detach() left descriptor 0 open: 0 is a valid descriptor");
	mp_expect_status(mp_fault_inject("mmap", 0, ENOMEM), 0);
	int rc = mp_shm_create(&s, NULL, 4096);
	mp_fault_clear();
	mp_expect_status(rc, -ENOMEM);
	cr_assert(fcntl(0, F_GETFD) < 0, "a failed create left descriptor 0 open");
	/* And its name: the check after the test looks in /dev/shm. */
	dup2(saved, 0);
	close(saved);
}
