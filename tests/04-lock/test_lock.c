/* test_lock.c: stage 04, locks, the other synchronisation primitives and shared memory, with dying holders. */
#define _GNU_SOURCE
#include "mp_test.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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

/* ------------------------------------------------------------------------- */

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
