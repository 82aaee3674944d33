/* test_pool.c: stage 05, Pool and AsyncResult: what Python's Pool does, and what it should when a worker dies. */
#define _GNU_SOURCE
#include "mp_test.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mp/fault.h>

#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#else
#define RUNNING_ON_VALGRIND 0
#endif
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1 /* gcc says so; AddressSanitizer keeps freed memory aside for a while */
#else
#define UNDER_ASAN 0
#endif

#define MP_LESSON "lessons/05-pool.md"

/* "Returns promptly", loose enough for a loaded machine; slower runs scale it. */
#define PROMPT (0.5 * MP_TEST_TIMEOUT_SCALE)

/*
 * Tasks. They run in the workers, where no cr_assert may run: they answer
 * through the bytes they give back, or fail with a message.
 */

static void nap(double seconds)
{
	struct timespec ts = { (time_t)seconds, (long)((seconds - (time_t)seconds) * 1e9) };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* An int64 in, its square out. */
MP_TASK(square)(const void *in, size_t len, mp_task_out *out)
{
	int64_t x;
	if (len != sizeof x)
		return mp_task_fail(out, "square wants 8 bytes, got %zu", len);
	memcpy(&x, in, sizeof x);
	x *= x;
	return mp_task_return(out, &x, sizeof x);
}

/* The bytes in, reversed. */
MP_TASK(reverse)(const void *in, size_t len, mp_task_out *out)
{
	char *r = malloc(len + 1);
	if (!r)
		return -ENOMEM;
	for (size_t i = 0; i < len; i++)
		r[i] = ((const char *)in)[len - 1 - i];
	int rc = mp_task_return(out, r, len);
	free(r);
	return rc;
}

/* Sleeps the double it gets, then answers "slept". */
MP_TASK(sleeper)(const void *in, size_t len, mp_task_out *out)
{
	double s = 0;
	if (len == sizeof s)
		memcpy(&s, in, sizeof s);
	nap(s);
	return mp_task_return(out, "slept", 5);
}

/* The worker's pid, as an int32. */
MP_TASK(whoami)(const void *in, size_t len, mp_task_out *out)
{
	(void)in;
	(void)len;
	int32_t pid = getpid();
	return mp_task_return(out, &pid, sizeof pid);
}

/* Fails with a message naming its int64 input when it ends in 3; else squares it. */
MP_TASK(picky)(const void *in, size_t len, mp_task_out *out)
{
	int64_t x;
	memcpy(&x, in, sizeof x);
	if (x % 10 == 3)
		return mp_task_fail(out, "I do not like %lld", (long long)x);
	return square(in, len, out);
}

/* Fails without a word. */
MP_TASK(mute)(const void *in, size_t len, mp_task_out *out)
{
	(void)in;
	(void)len;
	(void)out;
	return 42;
}

/* Gives back 3 bytes, whatever map expects. */
MP_TASK(three_bytes)(const void *in, size_t len, mp_task_out *out)
{
	(void)in;
	(void)len;
	return mp_task_return(out, "abc", 3);
}

enum death { BY_SIGKILL, BY_SEGFAULT, BY_ABORT, BY_EXIT, BY_EXIT0 };

/* Dies the way its int says. raise(SIGSEGV) stands for a bad pointer: valgrind would count a real one. */
MP_TASK(die)(const void *in, size_t len, mp_task_out *out)
{
	(void)len;
	(void)out;
	int how;
	memcpy(&how, in, sizeof how);
	switch (how) {
	case BY_SIGKILL: raise(SIGKILL); break;
	case BY_SEGFAULT: signal(SIGSEGV, SIG_DFL); raise(SIGSEGV); break;
	case BY_ABORT: abort();
	case BY_EXIT: _exit(3);
	case BY_EXIT0: _exit(0);
	}
	return 0;
}

/* Writes its pid to the descriptor it gets, then sleeps: the test kills it from outside. */
MP_TASK(report_and_wait)(const void *in, size_t len, mp_task_out *out)
{
	(void)len;
	int fd;
	memcpy(&fd, in, sizeof fd);
	int32_t pid = getpid();
	if (write(fd, &pid, sizeof pid) != sizeof pid)
		return mp_task_fail(out, "cannot report");
	nap(30);
	return 0;
}

MP_TARGET(nothing)(const void *arg, size_t len)
{
	(void)arg;
	(void)len;
	return 0;
}

/* Tries to start a process, then a pool, and answers both codes. */
MP_TASK(start_a_child)(const void *in, size_t len, mp_task_out *out)
{
	(void)in;
	(void)len;
	int32_t codes[2] = { 0, 0 };
	mp_process *p;
	codes[0] = mp_process_new(&p, "nothing", NULL, 0);
	if (codes[0] == 0) {
		codes[0] = mp_process_start(p);
		if (codes[0] == 0)
			mp_process_join(p, MP_FOREVER);
		mp_process_free(p);
	}
	mp_pool *pool = NULL;
	codes[1] = mp_pool_new(&pool, 1, NULL);
	mp_pool_free(pool);
	return mp_task_return(out, codes, sizeof codes);
}

static int32_t initialized = -1; /* set in each worker by `remember` */

MP_TASK(remember)(const void *in, size_t len, mp_task_out *out)
{
	(void)out;
	if (len == sizeof initialized)
		memcpy(&initialized, in, len);
	return 0;
}

MP_TASK(recall)(const void *in, size_t len, mp_task_out *out)
{
	(void)in;
	(void)len;
	return mp_task_return(out, &initialized, sizeof initialized);
}

/* Helpers for the test process. */

static mp_pool *pool_of(unsigned n, const struct mp_pool_options *options)
{
	mp_pool *pool = NULL;
	mp_expect_status(mp_pool_new(&pool, n, options), 0);
	cr_assert(pool, "mp_pool_new() returned 0 but gave no pool");
	return pool;
}

static mp_result *submit(mp_pool *pool, const char *task, const void *in, size_t len,
			 const struct mp_callbacks *cb)
{
	mp_result *r = NULL;
	mp_expect_status(mp_pool_apply_async(pool, task, in, len, cb, &r), 0);
	cr_assert(r, "mp_pool_apply_async() returned 0 but gave no result");
	return r;
}

static int64_t get_int64(mp_result *r)
{
	const void *data = NULL;
	size_t len = 0;
	mp_expect_status(mp_result_get(r, MP_FOREVER, &data, &len), 0);
	cr_assert(len == sizeof(int64_t) && data, "the answer should be 8 bytes, got %zu", len);
	int64_t x;
	memcpy(&x, data, sizeof x);
	return x;
}

/* What a callback saw: the thread, whether another callback ran at the same time. */
struct seen {
	pthread_mutex_t lock;
	pthread_t thread;
	int calls, successes, errors, inside, overlaps, threads;
	int64_t sum;
	int last_code;
	char last_message[256];
};

static void note_thread(struct seen *s)
{
	if (__atomic_add_fetch(&s->inside, 1, __ATOMIC_SEQ_CST) > 1)
		__atomic_add_fetch(&s->overlaps, 1, __ATOMIC_SEQ_CST);
	pthread_mutex_lock(&s->lock);
	if (s->calls++ == 0)
		s->thread = pthread_self();
	else if (!pthread_equal(s->thread, pthread_self()))
		s->threads++;
	pthread_mutex_unlock(&s->lock);
	nap(0.001); /* long enough for a second callback to overlap, if one could */
	__atomic_sub_fetch(&s->inside, 1, __ATOMIC_SEQ_CST);
}

static void on_success(const void *data, size_t len, void *arg)
{
	struct seen *s = arg;
	note_thread(s);
	int64_t x = 0;
	if (len == sizeof x)
		memcpy(&x, data, sizeof x);
	__atomic_add_fetch(&s->sum, x, __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&s->successes, 1, __ATOMIC_SEQ_CST);
}

static void on_error(int code, const char *message, void *arg)
{
	struct seen *s = arg;
	note_thread(s);
	pthread_mutex_lock(&s->lock);
	s->last_code = code;
	snprintf(s->last_message, sizeof s->last_message, "%s", message);
	pthread_mutex_unlock(&s->lock);
	__atomic_add_fetch(&s->errors, 1, __ATOMIC_SEQ_CST);
}

/* The tests. */

MP_TEST(pool, apply_gives_back_the_task_answer, 2, "How tasks and results flow")
{
	mp_pool *pool = pool_of(2, NULL);
	void *out = NULL;
	size_t len = 0;
	mp_expect_status(mp_pool_apply(pool, "reverse", "stressed", 8, &out, &len), 0);
	cr_assert(len == 8 && memcmp(out, "desserts", 8) == 0, "apply(reverse, \"stressed\") should give \"desserts\", got %zu bytes \"%.*s\"", len, (int)len, (char *)out);
	cr_assert(((char *)out)[len] == '\0', "apply's answer should have a NUL after it");
	free(out);
	/* An empty input and an empty answer are bytes like any other. */
	mp_expect_status(mp_pool_apply(pool, "reverse", NULL, 0, &out, &len), 0);
	cr_assert(len == 0, "reverse of nothing should be nothing, got %zu bytes", len);
	free(out);
	mp_pool_free(pool);
}

MP_TEST(pool, default_pool_has_one_worker_a_cpu, 1, "The pool's thread")
{
	mp_pool *pool = pool_of(0, NULL);
	cr_assert(mp_pool_workers(pool) == (unsigned)mp_cpu_count(), "a pool of 0 workers should have mp_cpu_count() = %d, has %u", mp_cpu_count(), mp_pool_workers(pool));
	mp_result *r = submit(pool, "whoami", NULL, 0, NULL);
	mp_expect_status(mp_result_get(r, MP_FOREVER, NULL, NULL), 0);
	mp_result_free(r);
	mp_pool_free(pool);
}

MP_TEST(pool, bad_arguments_and_unknown_tasks_are_refused, 2, "Tasks: functions with names, bytes in and out")
{
	mp_expect_status(mp_task_register(NULL, square), -EINVAL);
	mp_expect_status(mp_task_register("", square), -EINVAL);
	mp_expect_status(mp_task_register("square", reverse), -EEXIST);
	mp_expect_status(mp_task_register("square", square), 0);
	char long_name[MP_TASK_NAME_MAX + 2];
	memset(long_name, 'x', sizeof long_name - 1);
	long_name[sizeof long_name - 1] = '\0';
	mp_expect_status(mp_task_register(long_name, square), -ENAMETOOLONG);
	cr_assert(mp_task_find("square") == square && mp_task_find("no such task") == NULL, "mp_task_find() should find what MP_TASK() registered, and nothing else");

	mp_pool *pool = NULL;
	struct mp_pool_options bad = { .initializer = "no such task" };
	mp_expect_status(mp_pool_new(&pool, 1, &bad), MP_ENOTASK);
	mp_expect_status(mp_pool_new(NULL, 1, NULL), -EINVAL);
	pool = pool_of(1, NULL);
	mp_result *r = NULL;
	mp_expect_status(mp_pool_apply_async(pool, "no such task", NULL, 0, NULL, &r), MP_ENOTASK);
	mp_expect_status(mp_pool_apply_async(pool, "square", NULL, 4, NULL, &r), -EINVAL);
	int64_t x = 2, y;
	mp_expect_status(mp_pool_map(pool, "no such task", &x, 1, sizeof x, &y, sizeof y, 0, NULL), MP_ENOTASK);
	mp_expect_status(mp_pool_join(pool), MP_EPOOLRUNNING);
	mp_pool_free(pool);
}

MP_TEST(pool, apply_async_result_is_ready_and_successful_once_done, 2, "Results: waiting for an outcome")
{
	mp_pool *pool = pool_of(2, NULL);
	int64_t x = 12;
	mp_result *r = submit(pool, "square", &x, sizeof x, NULL);
	mp_expect_status(mp_result_wait(r, MP_FOREVER), 0);
	cr_assert(mp_result_ready(r) && mp_result_successful(r), "once waited for, the result should be ready and successful");
	cr_assert(strcmp(mp_result_error(r), "") == 0, "a successful result has no error, got \"%s\"", mp_result_error(r));
	cr_assert(get_int64(r) == 144, "square(12) should be 144");
	cr_assert(get_int64(r) == 144, "a result can be read again");
	mp_result_free(r);
	mp_result_free(NULL);
	mp_pool_free(pool);
}

MP_TEST(pool, get_with_a_timeout_returns_while_the_task_runs, 2, "Results: waiting for an outcome")
{
	mp_pool *pool = pool_of(1, NULL);
	double s = 0.6;
	mp_result *r = submit(pool, "sleeper", &s, sizeof s, NULL);
	double t0 = mp_test_now();
	mp_expect_status(mp_result_get(r, 0.05, NULL, NULL), MP_ETIMEDOUT);
	mp_expect_status(mp_result_wait(r, 0), MP_ETIMEDOUT);
	double waited = mp_test_now() - t0;
	cr_assert(waited >= 0.04 && waited < PROMPT, "get(0.05 s) on a running task should time out after about 0.05 s, took %.3f s", waited);
	cr_assert(!mp_result_ready(r) && !mp_result_successful(r), "a running task's result is neither ready nor successful");
	mp_expect_status(mp_result_wait(r, 0.0 / 0.0), -EINVAL);
	const void *data;
	size_t len;
	mp_expect_status(mp_result_get(r, MP_FOREVER, &data, &len), 0);
	cr_assert(len == 5 && memcmp(data, "slept", 5) == 0, "the sleeper should answer \"slept\"");
	mp_result_free(r);
	mp_pool_free(pool);
}

MP_TEST(pool, callbacks_run_on_one_thread_never_two_at_once, 3, "Callbacks")
{
	mp_pool *pool = pool_of(2, NULL);
	struct seen s = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct mp_callbacks cb = { on_success, on_error, &s };
	enum { N = 60 };
	mp_result *r[N];
	for (int64_t i = 0; i < N; i++)
		r[i] = submit(pool, i % 10 == 3 ? "picky" : "square", &i, sizeof i, &cb);
	int64_t want = 0;
	for (int i = 0; i < N; i++) {
		mp_result_wait(r[i], MP_FOREVER);
		want += i % 10 == 3 ? 0 : (int64_t)i * i;
		mp_result_free(r[i]);
	}
	/* Every result is ready only after its callback returned: the counts are final now. */
	cr_assert(s.successes == N - 6 && s.errors == 6, "expected %d success and 6 error callbacks, got %d and %d", N - 6, s.successes, s.errors);
	cr_assert(s.sum == want, "the success callbacks should see every answer: sum %lld, expected %lld", (long long)s.sum, (long long)want);
	cr_assert(s.threads == 0, "every callback should run on the same thread (the pool's); %d ran elsewhere", s.threads);
	cr_assert(!pthread_equal(s.thread, pthread_self()), "callbacks run on the pool's thread, not the caller's");
	cr_assert(s.overlaps == 0, "two callbacks ran at the same time %d times", s.overlaps);
	cr_assert(s.last_code == MP_ETASKFAILED && strncmp(s.last_message, "I do not like ", 14) == 0, "the error callback should get MP_ETASKFAILED and the task's message, got %d \"%s\"", s.last_code, s.last_message);
	mp_pool_free(pool);
}

MP_TEST(pool, a_hundred_thousand_tasks_at_once_all_complete, 2, "How tasks and results flow")
{
	/*
	 * Python's pattern: submit everything, then collect. 10^5 apply_async
	 * calls before a single answer is taken, then a map of 10^5 records:
	 * nothing deadlocks, nothing is lost or answered twice. (10^4 under
	 * valgrind, which is 50 times slower.)
	 */
	const int64_t n = MP_TEST_TIMEOUT_SCALE > 1 ? 10000 : 100000;
	mp_pool *pool = pool_of(2, NULL);
	mp_result **r = calloc((size_t)n, sizeof *r);
	cr_assert(r);
	for (int64_t i = 0; i < n; i++)
		r[i] = submit(pool, "square", &i, sizeof i, NULL);
	for (int64_t i = 0; i < n; i++) {
		const void *data;
		size_t len;
		int rc = mp_result_get(r[i], 30, &data, &len);
		cr_assert(rc == 0 && len == sizeof i && *(const int64_t *)data == i * i,
			  "task %lld of %lld submitted at once: %s", (long long)i, (long long)n, mp_err_name(rc));
		mp_result_free(r[i]);
	}
	free(r);
	int64_t *in = malloc((size_t)n * sizeof *in), *out = calloc((size_t)n, sizeof *out);
	cr_assert(in && out);
	for (int64_t i = 0; i < n; i++)
		in[i] = i;
	mp_expect_status(mp_pool_map(pool, "square", in, (size_t)n, sizeof *in, out, sizeof *out, 0, NULL), 0);
	for (int64_t i = 0; i < n; i++)
		cr_assert(out[i] == i * i, "record %lld of a map of %lld came back as %lld", (long long)i, (long long)n,
			  (long long)out[i]);
	free(in);
	free(out);
	mp_expect_status(mp_pool_close(pool), 0);
	mp_expect_status(mp_pool_join(pool), 0);
	mp_pool_free(pool);
}

MP_TEST(pool, map_keeps_the_order_whatever_the_chunk_size, 3, "Chunks")
{
	mp_pool *pool = pool_of(2, NULL);
	enum { N = 1000 };
	static int64_t in[N], out[N];
	for (int i = 0; i < N; i++)
		in[i] = i - 500;
	size_t sizes[] = { 0, 1, 7, 250, N, 5000 };
	for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
		memset(out, 0xff, sizeof out);
		mp_expect_status(mp_pool_map(pool, "square", in, N, sizeof in[0], out, sizeof out[0], sizes[k], NULL), 0);
		for (int i = 0; i < N; i++)
			cr_assert(out[i] == in[i] * in[i], "chunk size %zu: out[%d] should be %lld, is %lld", sizes[k], i, (long long)(in[i] * in[i]), (long long)out[i]);
	}
	mp_expect_status(mp_pool_map(pool, "square", NULL, 0, sizeof in[0], NULL, sizeof out[0], 0, NULL), 0);
	mp_pool_free(pool);
}

MP_TEST(pool, default_chunk_size_is_pythons, 1, "Chunks")
{
	mp_pool *pool = pool_of(2, NULL);
	size_t n[] = { 0, 1, 8, 9, 100, 1000000 }, want[] = { 0, 1, 1, 2, 13, 125000 };
	for (size_t i = 0; i < sizeof n / sizeof n[0]; i++)
		cr_assert(mp_pool_default_chunksize(pool, n[i]) == want[i], "with 2 workers, %zu records go in chunks of ceil(%zu / 8) = %zu, not %zu", n[i], n[i], want[i], mp_pool_default_chunksize(pool, n[i]));
	mp_pool_free(pool);
}

MP_TEST(pool, a_chunk_runs_in_one_worker, 2, "Chunks")
{
	mp_pool *pool = pool_of(2, NULL);
	enum { N = 24, CHUNK = 4 };
	char in[N] = { 0 };
	int32_t pid[N];
	mp_expect_status(mp_pool_map(pool, "whoami", in, N, 1, pid, sizeof pid[0], CHUNK, NULL), 0);
	for (int i = 0; i < N; i++)
		cr_assert(pid[i] == pid[i - i % CHUNK], "records %d and %d are in one chunk: one worker should run both", i - i % CHUNK, i);
	mp_pool_free(pool);
}

MP_TEST(pool, a_failing_task_gives_its_message_to_the_caller, 3, "How errors travel back")
{
	mp_pool *pool = pool_of(2, NULL);
	int64_t x = 13;
	mp_result *r = submit(pool, "picky", &x, sizeof x, NULL);
	const void *data = &x;
	mp_expect_status(mp_result_get(r, MP_FOREVER, &data, NULL), MP_ETASKFAILED);
	cr_assert(data == NULL, "a failed result gives no data");
	cr_assert(mp_result_ready(r) && !mp_result_successful(r), "a failed result is ready and not successful");
	cr_assert(strcmp(mp_result_error(r), "I do not like 13") == 0, "the caller should get the task's own message, got \"%s\"", mp_result_error(r));
	mp_result_free(r);

	r = submit(pool, "mute", NULL, 0, NULL);
	mp_expect_status(mp_result_get(r, MP_FOREVER, NULL, NULL), MP_ETASKFAILED);
	cr_assert(strstr(mp_result_error(r), "mute") && strstr(mp_result_error(r), "42"), "a task that fails without a message: the error should name it and what it returned, got \"%s\"", mp_result_error(r));
	mp_result_free(r);

	void *out;
	size_t len;
	mp_expect_status(mp_pool_apply(pool, "picky", &x, sizeof x, &out, &len), MP_ETASKFAILED);
	cr_assert(out && strcmp(out, "I do not like 13") == 0, "apply gives the message of a failed call in *out, got \"%s\"", out ? (char *)out : "(null)");
	free(out);
	x = 14;
	r = submit(pool, "picky", &x, sizeof x, NULL);
	cr_assert(get_int64(r) == 196, "after a failed call, the pool goes on: picky(14) should be 196");
	mp_result_free(r);
	mp_pool_free(pool);
}

MP_TEST(pool, map_reports_the_first_failed_record_and_does_the_rest, 3, "How errors travel back")
{
	mp_pool *pool = pool_of(2, NULL);
	enum { N = 100 };
	int64_t in[N], out[N];
	for (int i = 0; i < N; i++)
		in[i] = i;
	size_t sizes[] = { 1, 0, 10 };
	for (size_t k = 0; k < 3; k++) {
		struct mp_map_failure f = { .index = 999 };
		memset(out, 0, sizeof out);
		mp_expect_status(mp_pool_map(pool, "picky", in, N, sizeof in[0], out, sizeof out[0], sizes[k], &f), MP_ETASKFAILED);
		cr_assert(f.index == 3 && strcmp(f.message, "I do not like 3") == 0, "chunk size %zu: the first failure is record 3, \"I do not like 3\"; got %zu, \"%s\"", sizes[k], f.index, f.message);
		for (int i = 0; i < N; i++)
			if (i % 10 != 3)
				cr_assert(out[i] == (int64_t)i * i, "chunk size %zu: the records that succeed are answered all the same; out[%d] = %lld", sizes[k], i, (long long)out[i]);
	}
	struct mp_map_failure f;
	char small[4] = { 0 };
	int64_t big[4];
	mp_expect_status(mp_pool_map(pool, "three_bytes", small, 4, 1, big, sizeof big[0], 0, &f), MP_ETYPE);
	cr_assert(f.index == 0 && strstr(f.message, "3 bytes"), "an answer of the wrong size fails its record with MP_ETYPE, saying so; got %zu, \"%s\"", f.index, f.message);
	/* A map that succeeds leaves the failure alone: there is none to say. */
	struct mp_map_failure untouched = { .index = 77, .message = "untouched" };
	mp_expect_status(mp_pool_map(pool, "square", in, N, sizeof in[0], out, sizeof out[0], 0, &untouched), 0);
	cr_assert(untouched.index == 77 && strcmp(untouched.message, "untouched") == 0,
		  "a map that succeeded wrote its failure: index %zu, \"%s\" (mp_pool_map() in apply.c)", untouched.index,
		  untouched.message);
	mp_pool_free(pool);
}

/* Runs the `die` task as record @victim of 12 calls on 2 workers: only it must fail, and the pool must go on. */
static void only_the_dead_workers_task_fails(enum death how, const char *want)
{
	mp_pool *pool = pool_of(2, NULL);
	enum { N = 12, VICTIM = 5 };
	mp_result *r[N];
	for (int64_t i = 0; i < N; i++) {
		int h = how;
		r[i] = i == VICTIM ? submit(pool, "die", &h, sizeof h, NULL) : submit(pool, "square", &i, sizeof i, NULL);
	}
	for (int i = 0; i < N; i++) {
		if (i == VICTIM) {
			mp_expect_status(mp_result_get(r[i], MP_FOREVER, NULL, NULL), MP_EWORKERDIED);
			cr_assert(strstr(mp_result_error(r[i]), want) && strstr(mp_result_error(r[i]), "die"), "the dead worker's task should fail with \"%s\" and the task's name in its error, got \"%s\"", want, mp_result_error(r[i]));
		} else {
			cr_assert(get_int64(r[i]) == (int64_t)i * i, "task %d did not run in the dead worker: it should succeed", i);
		}
		mp_result_free(r[i]);
	}
	/* The pool replaced the worker and goes on. */
	for (int64_t i = 0; i < 4; i++) {
		mp_result *again = submit(pool, "square", &i, sizeof i, NULL);
		cr_assert(get_int64(again) == i * i, "after a worker died, the pool should still run tasks");
		mp_result_free(again);
	}
	int64_t in[8] = { 1, 2, 3, 4, 5, 6, 7, 8 }, out[8];
	mp_expect_status(mp_pool_map(pool, "square", in, 8, sizeof in[0], out, sizeof out[0], 1, NULL), 0);
	cr_assert(out[7] == 64, "after a worker died, the pool should still map");
	mp_pool_free(pool);
}

MP_TEST(death, sigkill_fails_only_that_task, 3, "When a worker dies")
{
	only_the_dead_workers_task_fails(BY_SIGKILL, "killed by signal 9");
}

MP_TEST(death, segfault_fails_only_that_task, 2, "When a worker dies")
{
	only_the_dead_workers_task_fails(BY_SEGFAULT, "killed by signal 11");
}

MP_TEST(death, abort_fails_only_that_task, 2, "When a worker dies")
{
	only_the_dead_workers_task_fails(BY_ABORT, "killed by signal 6");
}

MP_TEST(death, exit_inside_a_task_fails_only_that_task, 2, "When a worker dies")
{
	only_the_dead_workers_task_fails(BY_EXIT, "exited with status 3");
	/* Status 0 is no signal either: an exit, however happy, in the middle of a task. */
	only_the_dead_workers_task_fails(BY_EXIT0, "exited with status 0");
}

MP_TEST(death, worker_killed_from_outside_mid_task, 3, "When a worker dies")
{
	int fds[2];
	mp_test_pipe(fds); /* before the pool: its workers inherit the writing end */
	mp_pool *pool = pool_of(2, NULL);
	for (int round = 0; round < 3; round++) {
		mp_result *victim = submit(pool, "report_and_wait", &fds[1], sizeof fds[1], NULL);
		int32_t pid;
		cr_assert(mp_test_read(fds[0], &pid, sizeof pid, 5.0 * MP_TEST_TIMEOUT_SCALE), "the task should report its worker's pid");
		int64_t x = round;
		mp_result *other = submit(pool, "square", &x, sizeof x, NULL);
		kill(pid, SIGKILL);
		mp_expect_status(mp_result_get(victim, MP_FOREVER, NULL, NULL), MP_EWORKERDIED);
		char want[64];
		snprintf(want, sizeof want, "worker %d", (int)pid);
		cr_assert(strstr(mp_result_error(victim), want) && strstr(mp_result_error(victim), "signal 9"), "the error should name the worker (%s) and SIGKILL, got \"%s\"", want, mp_result_error(victim));
		cr_assert(get_int64(other) == x * x, "the other task should complete");
		mp_result_free(victim);
		mp_result_free(other);
	}
	close(fds[0]);
	close(fds[1]);
	mp_pool_free(pool);
}

MP_TEST(death, a_dead_worker_is_replaced, 2, "When a worker dies")
{
	mp_pool *pool = pool_of(1, NULL);
	void *out;
	size_t len;
	mp_expect_status(mp_pool_apply(pool, "whoami", NULL, 0, &out, &len), 0);
	int32_t before = *(int32_t *)out;
	free(out);
	int how = BY_SIGKILL;
	mp_expect_status(mp_pool_apply(pool, "die", &how, sizeof how, &out, &len), MP_EWORKERDIED);
	free(out);
	mp_expect_status(mp_pool_apply(pool, "whoami", NULL, 0, &out, &len), 0);
	int32_t after = *(int32_t *)out;
	free(out);
	cr_assert(after != before && !mp_test_pid_running(before), "a new worker (not %d) should run the next task", (int)before);
	mp_pool_free(pool);
}

MP_TEST(death, a_chunk_in_a_dead_worker_fails_and_the_map_completes, 2, "When a worker dies")
{
	mp_pool *pool = pool_of(2, NULL);
	enum { N = 16 };
	int in[N], out[N];
	for (int i = 0; i < N; i++)
		in[i] = i == 9 ? BY_SIGKILL : -1; /* -1: the die task returns without dying */
	struct mp_map_failure f;
	mp_expect_status(mp_pool_map(pool, "die", in, N, sizeof in[0], out, 0, 4, &f), MP_EWORKERDIED);
	cr_assert(f.index == 8 && strstr(f.message, "signal 9"), "the chunk [8, 12) died with its worker: the first failure is record 8, by signal 9; got %zu, \"%s\"", f.index, f.message);
	mp_pool_free(pool);
}

MP_TEST(lifetime, terminate_with_tasks_in_flight_returns_promptly, 3, "Close, terminate, join")
{
	for (int round = 0; round < 2; round++) {
		mp_pool *pool = pool_of(2, NULL);
		struct seen s = { .lock = PTHREAD_MUTEX_INITIALIZER };
		struct mp_callbacks cb = { on_success, on_error, &s };
		enum { N = 8 };
		mp_result *r[N];
		double sleep = 20;
		for (int i = 0; i < N; i++)
			r[i] = submit(pool, "sleeper", &sleep, sizeof sleep, &cb);
		nap(0.05);
		double t0 = mp_test_now();
		mp_expect_status(mp_pool_terminate(pool), 0);
		double took = mp_test_now() - t0;
		cr_assert(took < PROMPT, "terminate with tasks in flight should return promptly, took %.3f s", took);
		int running = 0;
		for (int i = 0; i < N; i++) {
			mp_expect_status(mp_result_get(r[i], 0, NULL, NULL), MP_ETERMINATED);
			cr_assert(strstr(mp_result_error(r[i]), "terminated"), "the error should say the pool was terminated, got \"%s\"", mp_result_error(r[i]));
			running += strstr(mp_result_error(r[i]), "before the task finished") != NULL;
			mp_result_free(r[i]);
		}
		cr_assert(running == 2, "the 2 calls running when the pool was terminated should say it was \"before the task finished\", the 6 queued \"before the task started\": %d said finished", running);
		cr_assert(s.errors == N, "every call's error callback should have run, %d did", s.errors);
		mp_result *late = NULL;
		mp_expect_status(mp_pool_apply_async(pool, "square", NULL, 0, NULL, &late), MP_EPOOLCLOSED);
		mp_expect_status(mp_pool_join(pool), 0);
		mp_expect_status(mp_pool_terminate(pool), 0);
		mp_pool_free(pool);
	}
}

MP_TEST(lifetime, close_then_join_finishes_every_task, 2, "Close, terminate, join")
{
	mp_pool *pool = pool_of(2, NULL);
	enum { N = 20 };
	mp_result *r[N];
	double s = 0.01;
	for (int i = 0; i < N; i++)
		r[i] = submit(pool, "sleeper", &s, sizeof s, NULL);
	mp_expect_status(mp_pool_close(pool), 0);
	mp_result *late = NULL;
	mp_expect_status(mp_pool_apply_async(pool, "sleeper", &s, sizeof s, NULL, &late), MP_EPOOLCLOSED);
	int64_t x = 3, y;
	mp_expect_status(mp_pool_map(pool, "square", &x, 1, sizeof x, &y, sizeof y, 0, NULL), MP_EPOOLCLOSED);
	mp_expect_status(mp_pool_join(pool), 0);
	for (int i = 0; i < N; i++) {
		cr_assert(mp_result_successful(r[i]), "after close and join, task %d should have succeeded: %s", i, mp_result_error(r[i]));
		mp_result_free(r[i]);
	}
	mp_pool_free(pool);
}

MP_TEST(lifetime, freeing_a_running_pool_terminates_it, 2, "Close, terminate, join")
{
	mp_pool *pool = pool_of(2, NULL);
	double s = 20;
	mp_result *r = submit(pool, "sleeper", &s, sizeof s, NULL);
	double t0 = mp_test_now();
	mp_pool_free(pool);
	cr_assert(mp_test_now() - t0 < PROMPT, "freeing a running pool should terminate it promptly");
	/* The result outlives its pool. */
	mp_expect_status(mp_result_get(r, 0, NULL, NULL), MP_ETERMINATED);
	mp_result_free(r);
	mp_pool_free(NULL);
}

MP_TEST(lifetime, a_result_freed_early_still_runs_its_callback, 1, "Callbacks")
{
	mp_pool *pool = pool_of(1, NULL);
	struct seen s = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct mp_callbacks cb = { on_success, on_error, &s };
	int64_t x = 5;
	mp_result_free(submit(pool, "square", &x, sizeof x, &cb));
	mp_result *last = submit(pool, "square", &x, sizeof x, NULL);
	get_int64(last);
	mp_result_free(last);
	cr_assert(s.successes == 1 && s.sum == 25, "the freed result's callback should still run, once, with 25");
	mp_pool_free(pool);
}

static mp_pool *callback_pool;
static int submitted_from_callback;
static int terminate_from_callback;
static int join_from_callback;

static void resubmit(const void *data, size_t len, void *arg)
{
	(void)data;
	(void)len;
	mp_result **slot = arg;
	int64_t x = 7;
	submitted_from_callback = mp_pool_apply_async(callback_pool, "square", &x, sizeof x, NULL, slot);
	terminate_from_callback = mp_pool_terminate(callback_pool);
	mp_pool_close(callback_pool);
	join_from_callback = mp_pool_join(callback_pool); /* closed: join would wait for this very thread */
}

MP_TEST(lifetime, a_callback_may_submit_but_not_terminate, 1, "Callbacks")
{
	callback_pool = pool_of(1, NULL);
	mp_result *second = NULL;
	struct mp_callbacks cb = { resubmit, NULL, &second };
	int64_t x = 1;
	mp_result *first = submit(callback_pool, "square", &x, sizeof x, &cb);
	mp_expect_status(mp_result_wait(first, MP_FOREVER), 0);
	mp_expect_status(submitted_from_callback, 0);
	mp_expect_status(terminate_from_callback, -EDEADLK);
	mp_expect_status(join_from_callback, -EDEADLK);
	cr_assert(second && get_int64(second) == 49, "the call submitted from a callback should complete");
	mp_expect_status(mp_result_wait(first, 0), 0); /* ready: a wait returns 0 at once */
	mp_result_free(first);
	mp_result_free(second);
	mp_pool_free(callback_pool);
}

MP_TEST(daemonic, a_worker_cannot_start_a_process_or_a_pool, 2, "Why workers are daemonic")
{
	mp_pool *pool = pool_of(1, NULL);
	void *out;
	size_t len;
	mp_expect_status(mp_pool_apply(pool, "start_a_child", NULL, 0, &out, &len), 0);
	int32_t codes[2];
	memcpy(codes, out, sizeof codes);
	free(out);
	mp_expect_status(codes[0], MP_EDAEMONIC);
	mp_expect_status(codes[1], MP_EDAEMONIC);
	cr_assert(strcmp(mp_strerror(codes[0]), "daemonic processes are not allowed to have children") == 0, "the message Python users know");
	mp_pool_free(pool);
}

MP_TEST(options, the_initializer_runs_in_each_worker, 2, "Tasks: functions with names, bytes in and out")
{
	int32_t value = 1234;
	struct mp_pool_options o = { .initializer = "remember", .initarg = &value, .initarg_len = sizeof value };
	mp_pool *pool = pool_of(2, &o);
	char in[8] = { 0 };
	int32_t out[8];
	mp_expect_status(mp_pool_map(pool, "recall", in, 8, 1, out, sizeof out[0], 1, NULL), 0);
	for (int i = 0; i < 8; i++)
		cr_assert(out[i] == 1234, "every worker ran the initializer with its argument: record %d saw %d", i, out[i]);
	cr_assert(initialized == -1, "the initializer runs in the workers, not in the caller");
	mp_pool_free(pool);
}

MP_TEST(options, a_worker_retires_after_maxtasksperchild, 2, "Tasks: functions with names, bytes in and out")
{
	struct mp_pool_options o = { .maxtasksperchild = 2 };
	mp_pool *pool = pool_of(1, &o);
	int32_t pids[6];
	for (int i = 0; i < 6; i++) {
		void *out;
		size_t len;
		mp_expect_status(mp_pool_apply(pool, "whoami", NULL, 0, &out, &len), 0);
		memcpy(&pids[i], out, sizeof pids[i]);
		free(out);
	}
	for (int i = 0; i < 6; i += 2)
		cr_assert(pids[i] == pids[i + 1] && (i == 0 || pids[i] != pids[i - 1]), "with maxtasksperchild 2, each worker should run two tasks, then a new one take over: pids %d %d %d %d %d %d", pids[0], pids[1], pids[2], pids[3], pids[4], pids[5]);
	mp_pool_free(pool);
}

MP_TEST(load, ten_thousand_apply_async_at_once_complete, 3, "The pool's thread")
{
	mp_pool *pool = pool_of(2, NULL);
	enum { N = 10000 };
	mp_result **r = malloc(N * sizeof *r);
	cr_assert(r);
	for (int64_t i = 0; i < N; i++)
		r[i] = submit(pool, "square", &i, sizeof i, NULL);
	for (int64_t i = 0; i < N; i++) {
		int64_t y = get_int64(r[i]);
		cr_assert(y == i * i, "task %lld should give %lld, gave %lld", (long long)i, (long long)(i * i), (long long)y);
		mp_result_free(r[i]);
	}
	free(r);
	mp_pool_free(pool);
}

MP_TEST(faults, a_pool_that_cannot_start_leaves_nothing_behind, 2, "The pool's thread")
{
	mp_pool *pool = NULL;
	bool stdin_open = fcntl(0, F_GETFD) != -1;
	/* The second worker's socket pair fails: the first worker must be stopped and reaped. */
	mp_expect_status(mp_fault_inject("socketpair", 1, EMFILE), 0);
	mp_expect_status(mp_pool_new(&pool, 2, NULL), -EMFILE);
	mp_fault_clear();
	cr_assert(!stdin_open || fcntl(0, F_GETFD) != -1, "a socket pair that could not be made closes nothing: descriptor 0 was closed");
	cr_assert(pool == NULL, "a failed mp_pool_new() leaves *out alone");
	mp_expect_status(mp_fault_inject("eventfd", 0, EMFILE), 0);
	mp_expect_status(mp_pool_new(&pool, 2, NULL), -EMFILE);
	mp_fault_clear();
	mp_expect_status(mp_fault_inject("fork", 0, EAGAIN), 0);
	mp_expect_status(mp_pool_new(&pool, 2, NULL), -EAGAIN);
	mp_fault_clear();
}

/* Gives back as many bytes as its size_t input says. */
MP_TASK(blob)(const void *in, size_t len, mp_task_out *out)
{
	(void)len;
	size_t n;
	memcpy(&n, in, sizeof n);
	char *b = calloc(1, n);
	if (!b)
		return -ENOMEM;
	int rc = mp_task_return(out, b, n);
	free(b);
	return rc;
}

MP_TEST(limits, a_task_past_its_time_limit_fails_and_its_worker_is_replaced, 3, "Time limits and size caps")
{
	struct mp_pool_options o = { .task_timeout = 0.2 * MP_TEST_TIMEOUT_SCALE };
	mp_pool *pool = pool_of(2, &o);
	double long_nap = 30, short_nap = 0.01;
	double t0 = mp_test_now();
	mp_result *slow = submit(pool, "sleeper", &long_nap, sizeof long_nap, NULL);
	mp_result *quick = submit(pool, "sleeper", &short_nap, sizeof short_nap, NULL);
	mp_expect_status(mp_result_get(slow, MP_FOREVER, NULL, NULL), MP_ETIMEDOUT);
	double took = mp_test_now() - t0;
	cr_assert(mp_result_ready(slow), "a call stopped by its time limit is ready (it failed)");
	cr_assert(took >= 0.19 * MP_TEST_TIMEOUT_SCALE && took < 0.2 * MP_TEST_TIMEOUT_SCALE + PROMPT, "the call should be stopped after its 0.2 s limit, took %.3f s", took);
	cr_assert(strstr(mp_result_error(slow), "time limit"), "the error should say the call ran past its time limit, got \"%s\"", mp_result_error(slow));
	mp_expect_status(mp_result_get(quick, MP_FOREVER, NULL, NULL), 0);
	mp_result_free(slow);
	mp_result_free(quick);
	int64_t x = 9;
	mp_result *after = submit(pool, "square", &x, sizeof x, NULL);
	cr_assert(get_int64(after) == 81, "the pool goes on after a call ran out of time");
	mp_result_free(after);
	mp_pool_free(pool);
	o.task_timeout = -1;
	mp_expect_status(mp_pool_new(&pool, 1, &o), -EINVAL);
}

MP_TEST(limits, an_answer_past_the_cap_fails_its_call_not_the_pool, 2, "Time limits and size caps")
{
	struct mp_pool_options o = { .max_answer = 4096 };
	mp_pool *pool = pool_of(1, &o);
	size_t sizes[] = { 100, 1 << 20, 200 };
	mp_result *r[3];
	for (int i = 0; i < 3; i++)
		r[i] = submit(pool, "blob", &sizes[i], sizeof sizes[i], NULL);
	size_t len;
	const void *data;
	mp_expect_status(mp_result_get(r[0], MP_FOREVER, &data, &len), 0);
	mp_expect_status(mp_result_get(r[1], MP_FOREVER, &data, &len), -EMSGSIZE);
	cr_assert(strstr(mp_result_error(r[1]), "past the pool's cap of 4096"), "the error should say the answer is past the pool's cap of 4096 bytes, got \"%s\"", mp_result_error(r[1]));
	mp_expect_status(mp_result_get(r[2], MP_FOREVER, &data, &len), 0);
	cr_assert(len == 200, "the call after the one too large should get its 200 bytes, got %zu", len);
	for (int i = 0; i < 3; i++)
		mp_result_free(r[i]);
	mp_pool_free(pool);
}

MP_TEST(death, a_parent_killed_by_sigkill_leaves_no_worker, 3, "When the parent dies")
{
	int fds[2];
	mp_test_pipe(fds);
	pid_t child = fork();
	cr_assert(child >= 0, "fork failed");
	if (child == 0) {
		/* No cr_assert here: report the workers' pids down the pipe, then wait to be killed. */
		close(fds[0]);
		mp_pool *pool;
		if (mp_pool_new(&pool, 2, NULL) < 0)
			_exit(1);
		/* One task running: the parent dies with work in flight. */
		double s = 30;
		mp_result *r;
		if (mp_pool_apply_async(pool, "sleeper", &s, sizeof s, NULL, &r) < 0)
			_exit(2);
		/* The workers are this process's only children. */
		mp_process *kids[8];
		int n = mp_active_children(kids, 8);
		int32_t all[8];
		for (int i = 0; i < n && i < 8; i++)
			all[i] = mp_process_pid(kids[i]);
		if (write(fds[1], &n, sizeof n) != sizeof n || write(fds[1], all, sizeof all[0] * (size_t)n) < 0)
			_exit(4);
		pause();
		_exit(0);
	}
	close(fds[1]);
	int n = 0;
	int32_t pids[8];
	cr_assert(mp_test_read(fds[0], &n, sizeof n, 5.0 * MP_TEST_TIMEOUT_SCALE) && n == 2, "the child's pool should have 2 workers, says %d", n);
	cr_assert(mp_test_read(fds[0], pids, sizeof pids[0] * 2, 5.0 * MP_TEST_TIMEOUT_SCALE), "the child should report its workers");
	close(fds[0]);
	kill(child, SIGKILL);
	mp_test_wait_pid(child, 5.0 * MP_TEST_TIMEOUT_SCALE);
	/*
	 * The workers come to us (the test is their subreaper): each must end by
	 * itself, through end-of-file on its socket or the parent-death signal,
	 * whichever comes first. mp_test_wait_pid() fails the test if one does not.
	 */
	for (int i = 0; i < 2; i++)
		mp_test_wait_pid(pids[i], 2.0 * MP_TEST_TIMEOUT_SCALE);
}

/* Checks mp_task_return() and mp_task_fail() from the inside, and answers what it saw. */
MP_TASK(task_api)(const void *in, size_t len, mp_task_out *out)
{
	(void)in;
	(void)len;
	int32_t codes[4];
	codes[0] = mp_task_return(NULL, "x", 1);
	codes[1] = mp_task_return(out, NULL, 3);
	codes[2] = mp_task_fail(NULL, "nowhere");
	codes[3] = mp_task_return(out, "first", 5);
	/* A later call replaces the answer: the caller sees these codes, not "first". */
	return mp_task_return(out, codes, sizeof codes);
}

MP_TEST(pool, the_task_side_checks_its_arguments_and_replaces_answers, 1, "Tasks: functions with names, bytes in and out")
{
	mp_pool *pool = pool_of(1, NULL);
	void *out;
	size_t len;
	mp_expect_status(mp_pool_apply(pool, "task_api", NULL, 0, &out, &len), 0);
	cr_assert(len == 4 * sizeof(int32_t), "the last mp_task_return() is the answer: 16 bytes, got %zu", len);
	int32_t codes[4];
	memcpy(codes, out, sizeof codes);
	free(out);
	mp_expect_status(codes[0], -EINVAL);
	mp_expect_status(codes[1], -EINVAL);
	mp_expect_status(codes[2], MP_ETASKFAILED);
	mp_expect_status(codes[3], 0);
	mp_pool_free(pool);
}

MP_TEST(pool, every_call_checks_its_arguments, 1, "What you will build")
{
	mp_pool *pool = pool_of(1, NULL);
	mp_result *r = NULL;
	void *out;
	size_t len;
	int64_t x = 1, y;
	char long_name[MP_TASK_NAME_MAX + 2];
	memset(long_name, 's', sizeof long_name - 1);
	long_name[sizeof long_name - 1] = '\0';
	mp_expect_status(mp_pool_apply_async(NULL, "square", &x, sizeof x, NULL, &r), -EINVAL);
	mp_expect_status(mp_pool_apply_async(pool, NULL, &x, sizeof x, NULL, &r), -EINVAL);
	mp_expect_status(mp_pool_apply_async(pool, "square", &x, sizeof x, NULL, NULL), -EINVAL);
	mp_expect_status(mp_pool_apply_async(pool, long_name, &x, sizeof x, NULL, &r), MP_ENOTASK);
	cr_assert(r == NULL, "a refused submission leaves *out alone");
	mp_expect_status(mp_pool_apply(pool, "square", &x, sizeof x, NULL, &len), -EINVAL);
	mp_expect_status(mp_pool_apply(pool, "square", &x, sizeof x, &out, NULL), -EINVAL);
	mp_expect_status(mp_pool_apply(pool, "no such task", &x, sizeof x, &out, &len), MP_ENOTASK);
	cr_assert(out == NULL && len == 0, "apply that cannot submit gives no bytes");
	mp_expect_status(mp_pool_map(NULL, "square", &x, 1, sizeof x, &y, sizeof y, 0, NULL), -EINVAL);
	mp_expect_status(mp_pool_map(pool, NULL, &x, 1, sizeof x, &y, sizeof y, 0, NULL), -EINVAL);
	mp_expect_status(mp_pool_map(pool, "square", NULL, 1, sizeof x, &y, sizeof y, 0, NULL), -EINVAL);
	mp_expect_status(mp_pool_map(pool, "square", &x, 1, sizeof x, NULL, sizeof y, 0, NULL), -EINVAL);
	mp_expect_status(mp_pool_map(pool, long_name, &x, 1, sizeof x, &y, sizeof y, 0, NULL), MP_ENOTASK);
	mp_expect_status(mp_result_wait(NULL, 0), -EINVAL);
	mp_expect_status(mp_result_get(NULL, 0, NULL, NULL), -EINVAL);
	cr_assert(!mp_result_ready(NULL) && !mp_result_successful(NULL) && strcmp(mp_result_error(NULL), "") == 0, "a NULL result is not ready, not successful, and has no error");
	cr_assert(mp_pool_workers(NULL) == 0 && mp_pool_default_chunksize(NULL, 10) == 0, "a NULL pool has no workers and no chunks");
	mp_expect_status(mp_pool_close(NULL), -EINVAL);
	mp_expect_status(mp_pool_terminate(NULL), -EINVAL);
	mp_expect_status(mp_pool_join(NULL), -EINVAL);
	struct mp_pool_options o = { .initarg_len = 4 };
	mp_pool *other = NULL;
	mp_expect_status(mp_pool_new(&other, 1, &o), -EINVAL);
	o = (struct mp_pool_options){ .task_timeout = 0.0 / 0.0 };
	mp_expect_status(mp_pool_new(&other, 1, &o), -EINVAL);
	o = (struct mp_pool_options){ .initializer = long_name };
	mp_expect_status(mp_pool_new(&other, 1, &o), MP_ENOTASK);
	cr_assert(other == NULL, "a refused mp_pool_new() leaves *out alone");
	mp_pool_free(pool);
}

struct order {
	pthread_mutex_t lock;
	int n;
	int64_t seen[32];
};

static void note_order(const void *data, size_t len, void *arg)
{
	struct order *o = arg;
	int64_t x = 0;
	if (len == sizeof x)
		memcpy(&x, data, sizeof x);
	pthread_mutex_lock(&o->lock);
	if (o->n < 32)
		o->seen[o->n++] = x;
	pthread_mutex_unlock(&o->lock);
}

MP_TEST(pool, calls_start_in_the_order_they_were_submitted, 2, "The pool's thread")
{
	mp_pool *pool = pool_of(1, NULL);
	struct order o = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct mp_callbacks cb = { note_order, NULL, &o };
	enum { N = 20 };
	mp_result *r[N];
	for (int64_t i = 0; i < N; i++)
		r[i] = submit(pool, "square", &i, sizeof i, &cb);
	for (int i = 0; i < N; i++) {
		mp_result_wait(r[i], MP_FOREVER);
		mp_result_free(r[i]);
	}
	cr_assert(o.n == N, "every callback should have run: %d did", o.n);
	for (int i = 0; i < N; i++)
		cr_assert(o.seen[i] == (int64_t)i * i, "one worker runs the calls in the order submitted: callback %d saw %lld", i, (long long)o.seen[i]);
	mp_pool_free(pool);
}

MP_TEST(lifetime, a_closed_pool_replaces_a_dead_worker_and_finishes, 2, "Close, terminate, join")
{
	mp_pool *pool = pool_of(1, NULL);
	enum { N = 6 };
	mp_result *r[N];
	int how = BY_SIGKILL;
	r[0] = submit(pool, "die", &how, sizeof how, NULL);
	for (int64_t i = 1; i < N; i++)
		r[i] = submit(pool, "square", &i, sizeof i, NULL);
	mp_expect_status(mp_pool_close(pool), 0);
	mp_expect_status(mp_pool_close(pool), 0);
	mp_expect_status(mp_pool_join(pool), 0);
	mp_expect_status(mp_result_get(r[0], 0, NULL, NULL), MP_EWORKERDIED);
	for (int64_t i = 1; i < N; i++) {
		cr_assert(get_int64(r[i]) == i * i, "after its only worker died, a closed pool should start another and finish task %lld", (long long)i);
	}
	for (int i = 0; i < N; i++)
		mp_result_free(r[i]);
	mp_expect_status(mp_pool_join(pool), 0);
	mp_expect_status(mp_pool_terminate(pool), 0);
	mp_pool_free(pool);
}

MP_TEST(limits, a_chunk_gets_the_limit_once_per_record, 1, "Time limits and size caps")
{
	/* Four records of 0.1 s in one chunk, under a limit of 0.3 s a record: 0.4 s in all, well within 1.2 s. */
	struct mp_pool_options o = { .task_timeout = 0.3 * MP_TEST_TIMEOUT_SCALE };
	mp_pool *pool = pool_of(1, &o);
	double in[4] = { 0.1, 0.1, 0.1, 0.1 };
	char out[4 * 5];
	mp_expect_status(mp_pool_map(pool, "sleeper", in, 4, sizeof in[0], out, 5, 4, NULL), 0);
	cr_assert(memcmp(out, "slept", 5) == 0, "each record answers \"slept\"");
	mp_pool_free(pool);
}

MP_TEST(faults, a_call_that_cannot_be_sent_fails_alone, 2, "How tasks and results flow")
{
	mp_pool *pool = pool_of(1, NULL);
	/* The next sendmsg() of this process is the pool's thread sending the chunk. */
	mp_expect_status(mp_fault_inject("sendmsg", 0, ENOBUFS), 0);
	int64_t x = 4;
	mp_result *r = submit(pool, "square", &x, sizeof x, NULL);
	mp_expect_status(mp_result_get(r, MP_FOREVER, NULL, NULL), -ENOBUFS);
	mp_fault_clear();
	cr_assert(strstr(mp_result_error(r), "could not be sent"), "the error should say the call could not be sent, got \"%s\"", mp_result_error(r));
	mp_result_free(r);
	r = submit(pool, "square", &x, sizeof x, NULL);
	cr_assert(get_int64(r) == 16, "the pool goes on after a call it could not send");
	mp_result_free(r);
	mp_pool_free(pool);
}

MP_TEST(options, a_retiring_worker_gets_no_more_work, 2, "Tasks: functions with names, bytes in and out")
{
	/* All at once: the pool must not hand a call to a worker that is about to exit. */
	struct mp_pool_options o = { .maxtasksperchild = 1 };
	mp_pool *pool = pool_of(1, &o);
	enum { N = 10 };
	mp_result *r[N];
	for (int i = 0; i < N; i++)
		r[i] = submit(pool, "whoami", NULL, 0, NULL);
	int32_t pids[N];
	for (int i = 0; i < N; i++) {
		const void *data;
		size_t len;
		mp_expect_status(mp_result_get(r[i], MP_FOREVER, &data, &len), 0);
		memcpy(&pids[i], data, sizeof pids[i]);
		mp_result_free(r[i]);
		for (int j = 0; j < i; j++)
			cr_assert(pids[j] != pids[i], "with maxtasksperchild 1, calls %d and %d should run in different workers", j, i);
	}
	mp_pool_free(pool);
}

static volatile sig_atomic_t usr1_seen;

static void count_usr1(int sig)
{
	(void)sig;
	usr1_seen++;
}

MP_TEST(pool, signals_for_the_caller_never_land_on_the_pools_thread, 1, "The pool's thread")
{
	struct sigaction sa = { .sa_handler = count_usr1 }, old;
	sigaction(SIGUSR1, &sa, &old);
	sigset_t usr1, before;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &usr1, &before);
	mp_pool *pool = pool_of(1, NULL);
	/* Blocked here: only a thread that does not block it could take it now. */
	kill(getpid(), SIGUSR1);
	int64_t x = 2;
	mp_result *r = submit(pool, "square", &x, sizeof x, NULL);
	get_int64(r);
	mp_result_free(r);
	sigset_t pending;
	sigpending(&pending);
	bool still_pending = sigismember(&pending, SIGUSR1);
	int seen = usr1_seen;
	struct timespec none = { 0, 0 };
	sigtimedwait(&usr1, NULL, &none);
	pthread_sigmask(SIG_SETMASK, &before, NULL);
	sigaction(SIGUSR1, &old, NULL);
	mp_pool_free(pool);
	cr_assert(still_pending && seen == 0, "a signal sent to the process, blocked by the caller, should wait for the caller: the pool's thread took it");
}

struct waiter {
	mp_result *r;
	int rc;
};

static void *wait_for_it(void *arg)
{
	struct waiter *w = arg;
	w->rc = mp_result_wait(w->r, MP_FOREVER) == 0 ? mp_result_get(w->r, 0, NULL, NULL) : -1;
	return NULL;
}

MP_TEST(lifetime, a_thread_waiting_when_the_pool_is_freed_wakes, 1, "Results: waiting for an outcome")
{
	for (int round = 0; round < 3; round++) {
		mp_pool *pool = pool_of(1, NULL);
		double s = 20;
		struct waiter w = { submit(pool, "sleeper", &s, sizeof s, NULL), 0 };
		pthread_t t;
		cr_assert(pthread_create(&t, NULL, wait_for_it, &w) == 0);
		nap(0.02);
		mp_pool_free(pool);
		pthread_join(t, NULL);
		mp_expect_status(w.rc, MP_ETERMINATED);
		mp_result_free(w.r);
	}
}

MP_TASK(refuse)(const void *in, size_t len, mp_task_out *out)
{
	(void)in;
	(void)len;
	return mp_task_fail(out, "no");
}

MP_TEST(options, a_failing_initializer_runs_no_task, 1, "Tasks: functions with names, bytes in and out")
{
	struct mp_pool_options o = { .initializer = "refuse" };
	mp_pool *pool = pool_of(1, &o);
	int64_t x = 3;
	/* Each worker dies as it starts: the call handed to it fails, and never runs. */
	for (int i = 0; i < 2; i++) {
		mp_result *r = submit(pool, "square", &x, sizeof x, NULL);
		mp_expect_status(mp_result_get(r, MP_FOREVER, NULL, NULL), MP_EWORKERDIED);
		cr_assert(strstr(mp_result_error(r), "exited with status 1"), "a worker whose initializer failed exits with status 1, got \"%s\"", mp_result_error(r));
		mp_result_free(r);
	}
	mp_pool_free(pool);
}

MP_TEST(pool, map_uses_the_default_chunk_size_when_given_0, 1, "Chunks")
{
	mp_pool *pool = pool_of(2, NULL);
	enum { N = 80, CHUNK = 10 }; /* ceil(80 / (4 x 2)) */
	char in[N] = { 0 };
	int32_t pid[N];
	mp_expect_status(mp_pool_map(pool, "whoami", in, N, 1, pid, sizeof pid[0], 0, NULL), 0);
	for (int i = 0; i < N; i++)
		cr_assert(pid[i] == pid[i - i % CHUNK], "chunk size 0 means %d here: records %d and %d should share a worker", CHUNK, i - i % CHUNK, i);
	mp_pool_free(pool);
}

/* How many of this process's descriptors are sockets. */
static int count_sockets(void)
{
	int n = 0;
	for (int fd = 0; fd < 1024; fd++) {
		char path[64], target[64];
		snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
		ssize_t len = readlink(path, target, sizeof target - 1);
		if (len > 0) {
			target[len] = '\0';
			n += strncmp(target, "socket:", 7) == 0;
		}
	}
	return n;
}

MP_TASK(sockets)(const void *in, size_t len, mp_task_out *out)
{
	(void)in;
	(void)len;
	int32_t n = count_sockets();
	return mp_task_return(out, &n, sizeof n);
}

MP_TEST(pool, a_worker_keeps_only_its_own_end_of_the_socket, 1, "The worker's loop")
{
	int before = count_sockets();
	mp_pool *pool = pool_of(1, NULL);
	void *out;
	size_t len;
	mp_expect_status(mp_pool_apply(pool, "sockets", NULL, 0, &out, &len), 0);
	int32_t in_worker;
	memcpy(&in_worker, out, sizeof in_worker);
	free(out);
	cr_assert(in_worker == before + 1, "the worker should hold the %d sockets it inherited and its own end, %d in all; it holds %d (the parent's end closed?)", before, before + 1, in_worker);
	mp_pool_free(pool);
}

/* The initializer that fails, after writing a byte to the descriptor it gets: a count of worker starts. */
MP_TASK(refuse_loudly)(const void *in, size_t len, mp_task_out *out)
{
	(void)len;
	int fd;
	memcpy(&fd, in, sizeof fd);
	(void)!write(fd, "s", 1);
	return mp_task_fail(out, "no");
}

MP_TEST(options, a_failing_initializer_does_not_make_the_pool_fork_in_a_loop, 1, "Tasks: functions with names, bytes in and out")
{
	int fds[2];
	mp_test_pipe(fds);
	struct mp_pool_options o = { .initializer = "refuse_loudly", .initarg = &fds[1], .initarg_len = sizeof fds[1] };
	mp_pool *pool = pool_of(1, &o);
	nap(0.5);
	mp_pool_free(pool);
	close(fds[1]);
	char buf[4096];
	ssize_t starts = read(fds[0], buf, sizeof buf);
	close(fds[0]);
	cr_assert(starts >= 1 && starts <= 12, "in 0.5 s, a worker that dies as it starts should be started again every 100 ms (about 5 times), not %zd times", starts);
}

/*
 * The fault test of the stage: workers killed at random during a map. The
 * records say their index; the task notes which worker started each one in
 * shared memory (made before the pool, so every worker inherits it), naps a
 * little so that kills land mid-chunk, and squares the index.
 */
static int32_t *started_by; /* shared: the pid that started record i, 0 if none did */

MP_TASK(noted_square)(const void *in, size_t len, mp_task_out *out)
{
	(void)len;
	int64_t i;
	memcpy(&i, in, sizeof i);
	__atomic_store_n(&started_by[i], (int32_t)getpid(), __ATOMIC_SEQ_CST);
	nap(0.0001);
	int64_t y = i * i;
	return mp_task_return(out, &y, sizeof y);
}

struct killer {
	int n;              /* records */
	int kills_wanted;
	int32_t killed[8];  /* the pids it killed */
	int kills;
	volatile bool stop;
};

/* Every few ms, SIGKILL the worker that started the latest record: it is running a chunk now. */
static void *kill_workers(void *arg)
{
	struct killer *k = arg;
	nap(0.01);
	while (!k->stop && k->kills < k->kills_wanted) {
		int32_t victim = 0;
		for (int i = k->n - 1; i >= 0 && !victim; i--)
			victim = __atomic_load_n(&started_by[i], __ATOMIC_SEQ_CST);
		bool again = false;
		for (int j = 0; j < k->kills; j++)
			again |= k->killed[j] == victim;
		if (victim && !again && kill(victim, SIGKILL) == 0)
			k->killed[k->kills++] = victim;
		nap(0.005);
	}
	return NULL;
}

MP_TEST(death, workers_killed_during_a_map_fail_exactly_their_chunks, 4, "When a worker dies")
{
	enum { N = 4000, CHUNK = 10 };
	mp_array *shared;
	mp_expect_status(mp_array_new(&shared, sizeof(int32_t), N, false), 0);
	started_by = mp_array_data(shared);
	static int64_t in[N], out[N];
	int total_failed = 0, total_kills = 0;
	for (int round = 0; round < 2; round++) {
		memset(started_by, 0, N * sizeof *started_by);
		for (int i = 0; i < N; i++) {
			in[i] = i;
			out[i] = -1; /* a failed record's answer is left as it was */
		}
		mp_pool *pool = pool_of(2, NULL);
		struct killer k = { .n = N, .kills_wanted = 3 };
		pthread_t t;
		cr_assert(pthread_create(&t, NULL, kill_workers, &k) == 0);
		struct mp_map_failure f = { 0 };
		int rc = mp_pool_map(pool, "noted_square", in, N, sizeof in[0], out, sizeof out[0], CHUNK, &f);
		k.stop = true;
		pthread_join(t, NULL);
		mp_pool_free(pool);

		cr_assert(k.kills >= 1, "round %d: the test should have killed a worker during the map", round);
		int failed_chunks = 0;
		for (int c = 0; c < N; c += CHUNK) {
			bool failed = out[c] != (int64_t)c * c;
			if (!failed) {
				for (int i = c; i < c + CHUNK; i++)
					cr_assert(out[i] == (int64_t)i * i, "round %d: record %d should be %lld, is %lld: a chunk is answered whole or fails whole", round, i, (long long)i * i, (long long)out[i]);
				continue;
			}
			failed_chunks++;
			for (int i = c; i < c + CHUNK; i++)
				cr_assert(out[i] == -1, "round %d: chunk [%d, %d) failed, yet record %d was answered", round, c, c + CHUNK, i);
			/* Its worker is one the test killed (or it died before starting the chunk: 0). */
			int32_t by = started_by[c];
			bool killed = by == 0;
			for (int j = 0; j < k.kills; j++)
				killed |= k.killed[j] == by;
			cr_assert(killed, "round %d: chunk [%d, %d) failed, but its worker %d was not killed", round, c, c + CHUNK, (int)by);
		}
		cr_assert(failed_chunks <= k.kills, "round %d: %d chunks failed, more than the %d workers killed", round, failed_chunks, k.kills);
		total_failed += failed_chunks;
		total_kills += k.kills;
		if (failed_chunks > 0) {
			mp_expect_status(rc, MP_EWORKERDIED);
			cr_assert(f.index % CHUNK == 0 && strstr(f.message, "signal 9"), "round %d: the first failure starts a chunk and names SIGKILL; got %zu, \"%s\"", round, f.index, f.message);
		} else {
			mp_expect_status(rc, 0);
		}
	}
	mp_array_free(shared);
	cr_log_info("%d workers killed, %d chunks failed", total_kills, total_failed);
}

/* A producer of the int64s 0 .. n-1 and a consumer that checks them, for imap. */
struct stream {
	int64_t n, produced, taken;
	int64_t lead;          /* the most records produced and not yet taken */
	int64_t stop_at;       /* the producer fails there with -EIO (-1: never) */
	bool ended;            /* the producer has said the input ended */
	bool called_after_end; /* and was called again */
	int64_t refuse_at;     /* the consumer says stop there (-1: never) */
	bool ordered;
	bool seen_out_of_order;
	size_t first_taken;
	unsigned char *seen;   /* n flags */
	int wrong, failures;
	char message[64];
};

static int produce(void *record, void *arg)
{
	struct stream *s = arg;
	if (s->produced == s->stop_at)
		return -EIO;
	if (s->produced == s->n) {
		s->called_after_end |= s->ended;
		s->ended = true;
		return 0;
	}
	memcpy(record, &s->produced, sizeof s->produced);
	s->produced++;
	if (s->produced - s->taken > s->lead)
		s->lead = s->produced - s->taken;
	return 1;
}

static int consume(size_t index, int code, const void *answer, size_t len, const char *error, void *arg)
{
	struct stream *s = arg;
	if (s->taken == 0)
		s->first_taken = index;
	if ((int64_t)index != s->taken)
		s->seen_out_of_order = true;
	if (s->refuse_at == s->taken)
		return 7;
	s->taken++;
	if (index >= (size_t)s->n || s->seen[index]++) {
		s->wrong++;
		return 0;
	}
	if (code != 0) {
		if (answer || len)
			s->wrong++; /* a failed record has no answer */
		s->failures++;
		snprintf(s->message, sizeof s->message, "%s", error);
		return 0;
	}
	int64_t y;
	if (len != sizeof y || !answer) {
		s->wrong++;
		return 0;
	}
	memcpy(&y, answer, sizeof y);
	s->wrong += y != (int64_t)index * (int64_t)index;
	return 0;
}

static struct stream stream_of(int64_t n)
{
	struct stream s = { .n = n, .stop_at = -1, .refuse_at = -1 };
	s.seen = calloc((size_t)n + 1, 1);
	cr_assert(s.seen);
	return s;
}

MP_TEST(imap, imap_is_ordered_and_lazy, 3, "imap: lazy and ordered, or not")
{
	mp_pool *pool = pool_of(2, NULL);
	size_t chunks[] = { 1, 7, 0 };
	for (int k = 0; k < 3; k++) {
		struct stream s = stream_of(20000);
		mp_expect_status(mp_pool_imap(pool, "square", sizeof(int64_t), sizeof(int64_t), chunks[k], true, produce, consume, &s), 0);
		size_t c = chunks[k] ? chunks[k] : 1;
		cr_assert(s.taken == s.n && s.wrong == 0 && !s.seen_out_of_order, "chunk size %zu: imap should give all %lld answers, right and in order: %lld taken, %d wrong", c, (long long)s.n, (long long)s.taken, s.wrong);
		/* Two chunks a worker in flight, the last of them perhaps being made: all the input held at once. */
		cr_assert(s.lead <= (int64_t)(2 * 2 * c), "chunk size %zu: imap read %lld records ahead of the answers taken; it should read at most %zu ahead", c, (long long)s.lead, 2 * 2 * c);
		cr_assert(!s.called_after_end, "chunk size %zu: the producer was called again after it said the input had ended", c);
		free(s.seen);
	}
	mp_pool_free(pool);
}

MP_TASK(slow_first)(const void *in, size_t len, mp_task_out *out)
{
	int64_t x;
	memcpy(&x, in, sizeof x);
	if (x == 0)
		nap(0.3);
	return square(in, len, out);
}

MP_TEST(imap, imap_unordered_gives_answers_as_they_finish, 2, "imap: lazy and ordered, or not")
{
	mp_pool *pool = pool_of(2, NULL);
	struct stream s = stream_of(50);
	mp_expect_status(mp_pool_imap(pool, "slow_first", sizeof(int64_t), sizeof(int64_t), 1, false, produce, consume, &s), 0);
	cr_assert(s.taken == s.n && s.wrong == 0, "imap_unordered should give every answer once, right: %lld taken, %d wrong", (long long)s.taken, s.wrong);
	cr_assert(s.first_taken != 0, "record 0 takes 0.3 s, the others none: unordered, another answer comes first");
	free(s.seen);
	s = stream_of(50);
	mp_expect_status(mp_pool_imap(pool, "slow_first", sizeof(int64_t), sizeof(int64_t), 1, true, produce, consume, &s), 0);
	cr_assert(s.first_taken == 0 && !s.seen_out_of_order, "ordered, record 0 comes first however long it takes");
	free(s.seen);
	mp_pool_free(pool);
}

MP_TEST(imap, imap_hands_over_each_failure_and_stops_when_asked, 2, "imap: lazy and ordered, or not")
{
	mp_pool *pool = pool_of(2, NULL);
	struct stream s = stream_of(100);
	mp_expect_status(mp_pool_imap(pool, "picky", sizeof(int64_t), sizeof(int64_t), 4, true, produce, consume, &s), 0);
	cr_assert(s.taken == 100 && s.failures == 10 && s.wrong == 0, "every record ending in 3 fails, alone, and the others succeed: %d failures, %d wrong", s.failures, s.wrong);
	cr_assert(strcmp(s.message, "I do not like 93") == 0, "each failure comes with its own message, got \"%s\"", s.message);
	free(s.seen);

	s = stream_of(1000);
	s.stop_at = 50;
	mp_expect_status(mp_pool_imap(pool, "square", sizeof(int64_t), sizeof(int64_t), 1, true, produce, consume, &s), -EIO);
	cr_assert(s.taken <= 50 && s.wrong == 0, "a producer that fails stops the imap: %lld taken", (long long)s.taken);
	free(s.seen);

	/* The same in the middle of a chunk (of 4): its error is what imap returns, and that chunk is dropped. */
	s = stream_of(1000);
	s.stop_at = 50;
	mp_expect_status(mp_pool_imap(pool, "square", sizeof(int64_t), sizeof(int64_t), 4, true, produce, consume, &s), -EIO);
	cr_assert(s.taken <= 48 && s.wrong == 0, "a producer that fails at record 50 stops the imap before the chunk it fails in: %lld taken", (long long)s.taken);
	free(s.seen);

	s = stream_of(1000);
	s.refuse_at = 20;
	mp_expect_status(mp_pool_imap(pool, "square", sizeof(int64_t), sizeof(int64_t), 1, false, produce, consume, &s), 7);
	cr_assert(s.taken == 20, "a consumer that returns 7 stops the imap, which returns 7");
	free(s.seen);

	mp_expect_status(mp_pool_imap(pool, "no such task", 8, 8, 1, true, produce, consume, &s), MP_ENOTASK);
	mp_expect_status(mp_pool_imap(pool, "square", 8, 8, 1, true, NULL, consume, &s), -EINVAL);
	mp_expect_status(mp_pool_imap(NULL, "square", 8, 8, 1, true, produce, consume, &s), -EINVAL);
	mp_expect_status(mp_pool_imap(pool, NULL, 8, 8, 1, true, produce, consume, &s), -EINVAL);
	mp_expect_status(mp_pool_imap(pool, "square", 8, 8, 1, true, produce, NULL, &s), -EINVAL);
	mp_pool_free(pool);
}

/* At exit, the code a call in flight failed with, written to the descriptor in @arg. */
static void report_code(int code, const char *message, void *arg)
{
	(void)message;
	int32_t c = code;
	(void)!write(*(int *)arg, &c, sizeof c);
}

MP_TEST(lifetime, exit_with_a_pool_running_terminates_it, 2, "Close, terminate, join")
{
	int fds[2];
	mp_test_pipe(fds);
	pid_t child = fork();
	cr_assert(child >= 0, "fork failed");
	if (child == 0) {
		/* No cr_assert here: report the workers, then exit() with the pool busy and never freed. */
		close(fds[0]);
		mp_pool *pool;
		if (mp_pool_new(&pool, 2, NULL) < 0)
			_exit(1);
		double s = 20;
		mp_result *r;
		struct mp_callbacks cb = { .on_error = report_code, .arg = &fds[1] };
		if (mp_pool_apply_async(pool, "sleeper", &s, sizeof s, &cb, &r) < 0)
			_exit(2);
		mp_process *kids[8];
		int32_t pids[8];
		int n = mp_active_children(kids, 8);
		for (int i = 0; i < n && i < 8; i++)
			pids[i] = mp_process_pid(kids[i]);
		if (write(fds[1], &n, sizeof n) != sizeof n || write(fds[1], pids, sizeof pids[0] * (size_t)n) < 0)
			_exit(4);
		nap(0.05);
		/*
		 * exit(), not _exit(), against the rule for children of a test: the
		 * exit handlers are what is tested. This child never asserted, so
		 * Criterion's own handlers have nothing to report for it.
		 */
		exit(3);
	}
	close(fds[1]);
	int n = 0;
	int32_t pids[8];
	cr_assert(mp_test_read(fds[0], &n, sizeof n, 5.0 * MP_TEST_TIMEOUT_SCALE) && n == 2, "the child's pool should have 2 workers, says %d", n);
	cr_assert(mp_test_read(fds[0], pids, sizeof pids[0] * 2, 5.0 * MP_TEST_TIMEOUT_SCALE), "the child should report its workers");
	/* exit() terminates the pool as mp_pool_terminate() would: the call in flight fails, and its callback says so. */
	int32_t code = 0;
	cr_assert(mp_test_read(fds[0], &code, sizeof code, 5.0 * MP_TEST_TIMEOUT_SCALE), "at exit, the call in flight should fail and its error callback run (the pool is terminated)");
	mp_expect_status(code, MP_ETERMINATED);
	close(fds[0]);
	double t0 = mp_test_now();
	int status = mp_test_wait_pid(child, 5.0 * MP_TEST_TIMEOUT_SCALE);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 3, "exit(3) with a pool running should end the program with status 3, status %#x", status);
	cr_assert(mp_test_now() - t0 < PROMPT, "exit with a pool running should not wait for its task (20 s): took %.3f s", mp_test_now() - t0);
	for (int i = 0; i < 2; i++)
		cr_assert(!mp_test_pid_running(pids[i]), "worker %d should be gone once its program exited", (int)pids[i]);
}

static pthread_t map_done_thread;

static void note_map_done(const void *data, size_t len, void *arg)
{
	(void)data;
	(void)len;
	map_done_thread = pthread_self();
	__atomic_add_fetch((int *)arg, 1, __ATOMIC_SEQ_CST);
}

MP_TEST(pool, map_async_returns_at_once_and_fills_the_array_by_the_time_it_is_ready, 2, "Chunks")
{
	mp_pool *pool = pool_of(2, NULL);
	enum { N = 500 };
	static int64_t in[N], out[N];
	for (int i = 0; i < N; i++)
		in[i] = i;
	int done = 0;
	struct mp_callbacks cb = { note_map_done, NULL, &done };
	mp_result *r = NULL;
	mp_expect_status(mp_pool_map_async(pool, "square", in, N, sizeof in[0], out, sizeof out[0], 0, &cb, &r), 0);
	const void *data = in;
	mp_expect_status(mp_result_get(r, MP_FOREVER, &data, NULL), 0);
	cr_assert(data == NULL && done == 1, "a map's result has no data of its own, and its callback ran once before it was ready (%d)", done);
	for (int i = 0; i < N; i++)
		cr_assert(out[i] == (int64_t)i * i, "out[%d] should be %lld once the map is ready", i, (long long)i * i);
	mp_result_free(r);

	int64_t picky_in[20];
	for (int i = 0; i < 20; i++)
		picky_in[i] = i;
	mp_expect_status(mp_pool_map_async(pool, "picky", picky_in, 20, sizeof picky_in[0], out, sizeof out[0], 3, NULL, &r), 0);
	mp_expect_status(mp_result_get(r, MP_FOREVER, NULL, NULL), MP_ETASKFAILED);
	cr_assert(strcmp(mp_result_error(r), "I do not like 3") == 0, "the first failure's message, got \"%s\"", mp_result_error(r));
	mp_result_free(r);

	/* No records: ready at once, its callback on the pool's thread all the same. */
	mp_expect_status(mp_pool_map_async(pool, "square", NULL, 0, 8, NULL, 8, 0, &cb, &r), 0);
	mp_expect_status(mp_result_get(r, MP_FOREVER, NULL, NULL), 0);
	cr_assert(done == 2, "the empty map's callback should have run");
	cr_assert(!pthread_equal(map_done_thread, pthread_self()), "the empty map's callback should run on the pool's thread, not on the caller's");
	mp_result_free(r);
	mp_expect_status(mp_pool_map_async(pool, "square", in, N, sizeof in[0], out, sizeof out[0], 0, NULL, NULL), -EINVAL);
	mp_pool_free(pool);
}

/* Squares its int64, but the worker that gets record `doomed` kills itself there. */
static int64_t doomed = -1;

MP_TASK(square_or_die)(const void *in, size_t len, mp_task_out *out)
{
	(void)len;
	int64_t i;
	memcpy(&i, in, sizeof i);
	if (i == doomed)
		raise(SIGKILL);
	int64_t y = i * i;
	return mp_task_return(out, &y, sizeof y);
}

MP_TEST(death, chunks_queued_behind_a_dead_workers_task_run_elsewhere, 3, "Keeping every worker busy")
{
	/*
	 * Quick tasks, chunks of 1: each worker holds many chunks at once, the
	 * one it runs and those waiting in its socket. Only the one it ran may
	 * fail; the others never began and must be answered by another worker.
	 */
	enum { N = 6000 };
	static int64_t in[N], out[N];
	for (int round = 0; round < 3; round++) {
		doomed = 1000 + 1500 * round; /* before the pool: its workers are forked with it */
		mp_pool *pool = pool_of(2, NULL);
		for (int i = 0; i < N; i++) {
			in[i] = i;
			out[i] = -1;
		}
		struct mp_map_failure f = { 0 };
		int rc = mp_pool_map(pool, "square_or_die", in, N, sizeof in[0], out, sizeof out[0], 1, &f);
		mp_expect_status(rc, MP_EWORKERDIED);
		cr_assert(f.index == (size_t)doomed && strstr(f.message, "signal 9"), "round %d: record %lld killed its worker: it alone should fail, with SIGKILL; got record %zu, \"%s\"", round, (long long)doomed, f.index, f.message);
		int wrong = 0, first_wrong = -1;
		for (int i = 0; i < N; i++)
			if (i != doomed && out[i] != (int64_t)i * i && wrong++ == 0)
				first_wrong = i;
		cr_assert(wrong == 0, "round %d: %d records besides %lld were not answered (the first: %d): the chunks a dead worker held but had not begun go to another worker", round, wrong, (long long)doomed, first_wrong);
		cr_assert(out[doomed] == -1, "round %d: the record that killed its worker has no answer", round);
		struct mp_pool_stats st;
		mp_expect_status(mp_pool_stats(pool, &st), 0);
		cr_assert(st.started == 3, "round %d: 2 workers and one replacement: %llu started", round, (unsigned long long)st.started);
		cr_assert(st.chunks == N + st.returned + st.handed_back, "round %d: each chunk is sent once, and again for each time it came back: %llu sent, %llu returned by the dead worker, %llu handed back", round, (unsigned long long)st.chunks, (unsigned long long)st.returned, (unsigned long long)st.handed_back);
		mp_pool_free(pool);
	}
}

MP_TEST(pool, a_slow_call_keeps_no_other_waiting_behind_it, 2, "Keeping every worker busy")
{
	mp_pool *pool = pool_of(2, NULL);
	/* Quick chunks first, so that both workers are ones the pool sends several chunks at once. */
	enum { N = 2000 };
	static int64_t in[N], out[N];
	for (int i = 0; i < N; i++)
		in[i] = i;
	mp_expect_status(mp_pool_map(pool, "square", in, N, sizeof in[0], out, sizeof out[0], 1, NULL), 0);

	double slow = 2 * PROMPT;
	mp_result *s = submit(pool, "sleeper", &slow, sizeof slow, NULL);
	enum { Q = 40 };
	mp_result *q[Q];
	double t0 = mp_test_now();
	for (int64_t i = 0; i < Q; i++)
		q[i] = submit(pool, "square", &i, sizeof i, NULL);
	for (int i = 0; i < Q; i++) {
		mp_expect_status(mp_result_wait(q[i], PROMPT), 0);
		cr_assert(get_int64(q[i]) == (int64_t)i * i, "call %d: square(%d)", i, i);
		mp_result_free(q[i]);
	}
	double took = mp_test_now() - t0;
	cr_assert(!mp_result_ready(s) || took < slow, "the %d quick calls took %.3f s: they should not wait behind the slow call of %.1f s", Q, took, slow);
	mp_expect_status(mp_result_get(s, MP_FOREVER, NULL, NULL), 0);
	mp_result_free(s);
	mp_pool_free(pool);
}

/* Records from `slow_from` on nap 50 ms and answer the worker's pid; those before are squared at once. */
static int64_t slow_from = 1 << 30;

MP_TASK(quick_then_slow)(const void *in, size_t len, mp_task_out *out)
{
	(void)len;
	int64_t i, y;
	memcpy(&i, in, sizeof i);
	if (i >= slow_from) {
		nap(0.05);
		y = getpid();
	} else {
		y = i * i;
	}
	return mp_task_return(out, &y, sizeof y);
}

MP_TEST(pool, a_worker_whose_chunks_turn_slow_hands_back_those_it_has_not_begun, 2, "Keeping every worker busy")
{
	/*
	 * A map of quick records ending in slow ones: each worker was sent
	 * many chunks while they were quick. Without a hand-back, the worker
	 * that got the last of them would run every slow record while the
	 * other one sat idle.
	 */
	enum { N = 4000, SLOW = 16 };
	slow_from = N - SLOW; /* before the pool: its workers are forked with it */
	static int64_t in[N], out[N];
	for (int i = 0; i < N; i++)
		in[i] = i;
	mp_pool *pool = pool_of(2, NULL);
	mp_expect_status(mp_pool_map(pool, "quick_then_slow", in, N, sizeof in[0], out, sizeof out[0], 1, NULL), 0);
	struct mp_pool_stats st;
	mp_expect_status(mp_pool_stats(pool, &st), 0);
	mp_pool_free(pool);
	for (int i = 0; i < N - SLOW; i++)
		cr_assert(out[i] == (int64_t)i * i, "record %d should be %lld, is %lld", i, (long long)i * i, (long long)out[i]);
	int64_t first = out[N - SLOW];
	int by_first = 0;
	for (int i = N - SLOW; i < N; i++)
		by_first += out[i] == first;
	int most = by_first > SLOW - by_first ? by_first : SLOW - by_first;
	cr_assert(most <= SLOW / 2 + 3, "one worker ran %d of the %d slow records: a worker whose chunk was slow should hand back the chunks it had not begun, for the idle one", most, SLOW);
	cr_assert(st.chunks == N + st.handed_back, "every chunk is sent once, and once more for each time it was handed back: %llu sent for %d records, %llu handed back", (unsigned long long)st.chunks, N, (unsigned long long)st.handed_back);
}

/*
 * Kilobytes of this process's memory, its own and the shared memory it
 * touched, from /proc/self/status: @what is "VmRSS" (resident now) or
 * "VmHWM" (the most resident since the last reset_peak_memory()).
 */
static long resident_kib(const char *what)
{
	FILE *f = fopen("/proc/self/status", "r");
	cr_assert(f, "cannot read /proc/self/status");
	char line[256], format[32];
	snprintf(format, sizeof format, "%s: %%ld kB", what);
	long kib = -1;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, format, &kib) == 1)
			break;
	fclose(f);
	cr_assert(kib >= 0, "no %s line in /proc/self/status", what);
	return kib;
}

/* Make VmHWM start again from what is resident now (Linux 4.0 and later). */
static void reset_peak_memory(void)
{
	FILE *f = fopen("/proc/self/clear_refs", "w");
	cr_assert(f && fputs("5", f) >= 0 && fclose(f) == 0, "cannot reset the peak of resident memory through /proc/self/clear_refs");
}

MP_TEST(load, a_map_costs_memory_for_the_chunks_in_flight_not_for_its_input, 2, "Keeping every worker busy")
{
	/*
	 * Two million records (16 MiB in, 16 MiB out), in chunks of 1: the pool
	 * sends them from the caller's array and takes the answers through the
	 * workers' queues, so what it holds at once is the chunks in flight, a
	 * few hundred KiB, not a copy of the input or of the answers.
	 */
	if (RUNNING_ON_VALGRIND || UNDER_ASAN)
		cr_skip_test("under valgrind or AddressSanitizer, their own memory counts in this process's: the peak says nothing of the pool's");
	size_t n = MP_TEST_TIMEOUT_SCALE > 1 ? 200000 : 2000000;
	int64_t *in = malloc(n * sizeof *in), *out = malloc(n * sizeof *out);
	cr_assert(in && out);
	for (size_t i = 0; i < n; i++) {
		in[i] = (int64_t)i;
		out[i] = -1;
	}
	mp_pool *pool = pool_of(2, NULL);
	mp_expect_status(mp_pool_map(pool, "square", in, 1000, sizeof in[0], out, sizeof out[0], 1, NULL), 0);
	long before = resident_kib("VmRSS");
	reset_peak_memory();
	mp_expect_status(mp_pool_map(pool, "square", in, n, sizeof in[0], out, sizeof out[0], 1, NULL), 0);
	long grew = resident_kib("VmHWM") - before;
	mp_pool_free(pool);
	for (size_t i = 0; i < n; i++)
		if (out[i] != (int64_t)i * (int64_t)i)
			cr_assert_fail("record %zu should be %lld, is %lld", i, (long long)i * (long long)i, (long long)out[i]);
	free(in);
	free(out);
	cr_assert(grew < 8 * 1024, "during a map of %zu records the caller's process grew by %ld KiB at its peak: the pool should hold only the chunks in flight (a few hundred KiB), not a copy of the %zu MiB of input, nor of the answers", n, grew, n * sizeof *in >> 20);
	cr_log_info("a map of %zu records: the caller's process grew by %ld KiB at its peak", n, grew);
}


MP_TEST(limits, the_nearest_time_limit_is_watched_while_a_longer_one_runs, 2, "Time limits and size caps")
{
	/*
	 * One worker runs a chunk of 10 naps (a limit of 10 x 0.2 s), the other
	 * one nap of 5 s (a limit of 0.2 s): the second must be stopped at 0.2 s,
	 * not when the first one's deadline comes.
	 */
	double limit = 0.2 * MP_TEST_TIMEOUT_SCALE;
	struct mp_pool_options o = { .task_timeout = limit };
	mp_pool *pool = pool_of(2, &o);
	double naps[10];
	for (int i = 0; i < 10; i++)
		naps[i] = limit / 2;
	static char out[10 * 5];
	mp_result *map = NULL, *late = NULL;
	mp_expect_status(mp_pool_map_async(pool, "sleeper", naps, 10, sizeof naps[0], out, 5, 10, NULL, &map), 0);
	double five = 5, t0 = mp_test_now();
	late = submit(pool, "sleeper", &five, sizeof five, NULL);
	mp_expect_status(mp_result_get(late, MP_FOREVER, NULL, NULL), MP_ETIMEDOUT);
	double took = mp_test_now() - t0;
	cr_assert(took < limit + PROMPT, "a call with a limit of %.1f s should be stopped by then, not after %.3f s (when the other worker's longer limit ends)", limit, took);
	mp_expect_status(mp_result_get(map, MP_FOREVER, NULL, NULL), 0);
	mp_result_free(late);
	mp_result_free(map);
	mp_pool_free(pool);
}

MP_TEST(limits, a_time_limit_kills_no_idle_worker, 1, "Time limits and size caps")
{
	/* Two workers under a limit of 0.1 s answer a call each, then sit idle for three times the limit: neither is killed. */
	double limit = 0.1 * MP_TEST_TIMEOUT_SCALE;
	struct mp_pool_options o = { .task_timeout = limit };
	mp_pool *pool = pool_of(2, &o);
	double naps[2] = { 0, 0 };
	char out[2][5];
	mp_expect_status(mp_pool_map(pool, "sleeper", naps, 2, sizeof naps[0], out, 5, 1, NULL), 0);
	nap(3 * limit);
	struct mp_pool_stats st;
	mp_expect_status(mp_pool_stats(pool, &st), 0);
	cr_assert(st.started == 2, "idle workers were killed for a time limit they were not running under: %llu workers started, not 2 "
		  "(expire() in scheduler.c looks at busy workers only)", (unsigned long long)st.started);
	mp_expect_status(mp_pool_map(pool, "sleeper", naps, 2, sizeof naps[0], out, 5, 1, NULL), 0);
	mp_pool_free(pool);
}

/* Squares its int64 after 40 us of work: quick enough for a worker to hold many, slow enough that it never runs out. */
MP_TASK(square_in_40us)(const void *in, size_t len, mp_task_out *out)
{
	(void)len;
	double end = mp_test_now() + 40e-6;
	while (mp_test_now() < end)
		;
	int64_t x;
	memcpy(&x, in, sizeof x); /* a record in a message need not be aligned */
	int64_t y = x * x;
	return mp_task_return(out, &y, sizeof y);
}

MP_TEST(limits, a_time_limit_counts_from_when_a_chunk_begins, 2, "Time limits and size caps")
{
	/*
	 * Chunks of 40 us, many of them waiting in each worker's socket at once
	 * (it never runs out), under a limit of 0.25 s a chunk, in a map of
	 * about a second: the limit is a chunk's, counted from when its worker
	 * begins it, not the map's, nor counted from when the worker got its
	 * first chunk, so none is stopped.
	 */
	struct mp_pool_options o = { .task_timeout = 0.25 * MP_TEST_TIMEOUT_SCALE };
	mp_pool *pool = pool_of(2, &o);
	size_t n = MP_TEST_TIMEOUT_SCALE > 1 ? 5000 : 50000;
	int64_t *in = malloc(n * sizeof *in), *out = malloc(n * sizeof *out);
	cr_assert(in && out);
	for (size_t i = 0; i < n; i++)
		in[i] = (int64_t)i;
	double t0 = mp_test_now();
	struct mp_map_failure f = { 0 };
	int rc = mp_pool_map(pool, "square_in_40us", in, n, sizeof in[0], out, sizeof out[0], 1, &f);
	double took = mp_test_now() - t0;
	cr_assert(rc == 0, "a map of quick records under a limit of 0.25 s a record: record %zu failed with %s, \"%s\" (the map took %.3f s in all)", f.index, mp_err_name(rc), f.message, took);
	for (size_t i = 0; i < n; i++)
		if (out[i] != (int64_t)i * (int64_t)i)
			cr_assert_fail("record %zu should be %lld", i, (long long)i * (long long)i);
	free(in);
	free(out);
	mp_pool_free(pool);
}

/* For imap: three records that each ask `blob` for 2,000 bytes, and a consumer that keeps each record's code. */
struct three_blobs {
	int produced, taken, codes[3];
};

static int produce_2000(void *record, void *arg)
{
	struct three_blobs *t = arg;
	if (t->produced == 3)
		return 0;
	size_t n = 2000;
	memcpy(record, &n, sizeof n);
	t->produced++;
	return 1;
}

static int take_code(size_t index, int code, const void *answer, size_t len, const char *error, void *arg)
{
	(void)answer;
	(void)len;
	(void)error;
	struct three_blobs *t = arg;
	if (index < 3)
		t->codes[index] = code;
	t->taken++;
	return 0;
}

MP_TEST(limits, the_cap_counts_a_chunks_whole_answer_and_fails_each_record, 2, "Time limits and size caps")
{
	/* The answer message of a call: 8 bytes of time, a 16-byte header, the bytes. */
	enum { CAP = 4096, FITS = CAP - 8 - 16 };
	struct mp_pool_options o = { .max_answer = ((size_t)3 << 30) + 1 };
	mp_pool *pool = NULL;
	mp_expect_status(mp_pool_new(&pool, 1, &o), -EINVAL); /* past 3 GiB: more than an answer queue is made to hold */
	o.max_answer = CAP;
	pool = pool_of(1, &o);
	size_t size = FITS;
	mp_result *r = submit(pool, "blob", &size, sizeof size, NULL);
	const void *data;
	size_t len;
	mp_expect_status(mp_result_get(r, MP_FOREVER, &data, &len), 0);
	cr_assert(len == FITS, "an answer that comes to exactly the cap (%d bytes) is taken: got %zu bytes", CAP, len);
	mp_result_free(r);
	size++;
	r = submit(pool, "blob", &size, sizeof size, NULL);
	mp_expect_status(mp_result_get(r, MP_FOREVER, &data, &len), -EMSGSIZE);
	mp_result_free(r);
	/* A chunk of three records whose answers come to more than the cap together: each fails so. */
	struct three_blobs t = { 0 };
	mp_expect_status(mp_pool_imap(pool, "blob", sizeof(size_t), 2000, 3, true, produce_2000, take_code, &t), 0);
	cr_assert(t.taken == 3, "imap hands over every record, failed or not: %d", t.taken);
	for (int i = 0; i < 3; i++)
		cr_assert(t.codes[i] == -EMSGSIZE, "record %d of the chunk whose answers are past the cap should fail with -EMSGSIZE, not %s", i, mp_err_name(t.codes[i]));
	mp_pool_free(pool);
}

MP_TASK(a_task_whose_name_is_as_long_as_a_name_may_be_sixty_three_chars)(const void *in, size_t len, mp_task_out *out)
{
	(void)in;
	(void)len;
	initialized = 63;
	return mp_task_return(out, "long", 4);
}

MP_TASK(g)(const void *in, size_t len, mp_task_out *out)
{
	(void)in;
	(void)len;
	(void)out;
	initialized = 1;
	return 0;
}

MP_TEST(options, names_of_any_allowed_length_serve_as_tasks_and_initializers, 1, "Tasks: functions with names, bytes in and out")
{
	const char *longest = "a_task_whose_name_is_as_long_as_a_name_may_be_sixty_three_chars";
	cr_assert(strlen(longest) == MP_TASK_NAME_MAX);
	/* The longest name, as a task and as an initializer. */
	struct mp_pool_options o = { .initializer = longest };
	mp_pool *pool = pool_of(1, &o);
	void *out = NULL;
	size_t len;
	mp_expect_status(mp_pool_apply(pool, longest, NULL, 0, &out, &len), 0);
	cr_assert(len == 4 && memcmp(out, "long", 4) == 0, "a task named with %d characters runs", MP_TASK_NAME_MAX);
	free(out);
	mp_expect_status(mp_pool_apply(pool, "recall", NULL, 0, &out, &len), 0);
	cr_assert(*(int32_t *)out == 63, "its initializer (the same task) ran in the worker: it saw %d", *(int32_t *)out);
	free(out);
	mp_pool_free(pool);
	/* The shortest: a name of one letter, as Python's documentation has `initializer=g`. */
	o.initializer = "g";
	pool = pool_of(1, &o);
	mp_expect_status(mp_pool_apply(pool, "recall", NULL, 0, &out, &len), 0);
	cr_assert(*(int32_t *)out == 1, "an initializer named \"g\" runs in each worker: the worker saw %d", *(int32_t *)out);
	free(out);
	/* A task that answers nothing, mapped: answers of 0 bytes need no output array. */
	char records[4] = { 0 };
	mp_expect_status(mp_pool_map(pool, "g", records, 4, 1, NULL, 0, 1, NULL), 0);
	mp_pool_free(pool);
	/* And registering: 0 for a new name or the same function again, -EEXIST for another function. */
	mp_expect_status(mp_task_register("g", mp_task_find("g")), 0);
	mp_expect_status(mp_task_register("g", mp_task_find("square")), -EEXIST);
	mp_expect_status(mp_task_register("a_name_registered_at_run_time", mp_task_find("square")), 0);
	cr_assert(mp_task_find("a_name_registered_at_run_time") == mp_task_find("square"));
}


MP_TEST(pool, quick_chunks_go_many_to_a_message, 2, "Keeping every worker busy")
{
	/*
	 * 20,000 records of a quick task in chunks of 1: each worker holds many
	 * chunks, refilled in batches once it is down to half of them, so the
	 * messages are far fewer than the chunks.
	 */
	if (RUNNING_ON_VALGRIND || UNDER_ASAN)
		cr_skip_test("under valgrind or AddressSanitizer tasks are not reliably quick (0.1 ms): chunks may rightly go fewer to a message");
	enum { N = 20000 };
	static int64_t in[N], out[N];
	for (int i = 0; i < N; i++)
		in[i] = i;
	mp_pool *pool = pool_of(2, NULL);
	struct mp_pool_stats st;
	mp_expect_status(mp_pool_stats(NULL, &st), -EINVAL);
	mp_expect_status(mp_pool_stats(pool, NULL), -EINVAL);
	mp_expect_status(mp_pool_stats(pool, &st), 0);
	cr_assert(st.started == 2 && st.chunks == 0 && st.messages == 0, "a new pool of 2 has started 2 workers and sent nothing: %llu, %llu, %llu", (unsigned long long)st.started, (unsigned long long)st.chunks, (unsigned long long)st.messages);
	mp_expect_status(mp_pool_map(pool, "square", in, N, sizeof in[0], out, sizeof out[0], 1, NULL), 0);
	mp_expect_status(mp_pool_stats(pool, &st), 0);
	mp_pool_free(pool);
	for (int i = 0; i < N; i++)
		cr_assert(out[i] == (int64_t)i * i, "record %d", i);
	cr_assert(st.chunks == N + st.handed_back, "%d chunks of 1 record should have been sent, and one more for each handed back (%llu): not %llu", N, (unsigned long long)st.handed_back, (unsigned long long)st.chunks);
	cr_assert(st.messages <= N / 4, "%d quick chunks took %llu messages: a busy worker whose chunks are quick should get them many at a time", N, (unsigned long long)st.messages);
	cr_log_info("%d chunks of 1 quick record in %llu messages", N, (unsigned long long)st.messages);
}

/*
 * Allocation failures. Every allocation of the pool goes through the fault
 * seam, so each can be made to fail in turn (the n-th "calloc", the n-th
 * "malloc"): what fails must say -ENOMEM, leave nothing behind (the checks
 * after each test count descriptors and children), and leave a running pool
 * usable.
 */

MP_TEST(faults, each_allocation_of_mp_pool_new_can_fail_and_leaves_nothing_behind, 2, "The pool's thread")
{
	static const char *const calls[] = { "calloc", "malloc", "mmap" };
	char initarg[100] = "an argument the pool copies";
	struct mp_pool_options o = { .initializer = "remember", .initarg = initarg, .initarg_len = sizeof initarg };
	/* Stage 01 allocates its own records once, on first use: done here, so the faults below are the pool's. */
	mp_pool_free(pool_of(1, NULL));
	for (size_t c = 0; c < sizeof calls / sizeof calls[0]; c++) {
		int failures = 0;
		for (int skip = 0; skip < 64; skip++) {
			mp_pool *pool = NULL;
			mp_expect_status(mp_fault_inject(calls[c], skip, ENOMEM), 0);
			int rc = mp_pool_new(&pool, 2, &o);
			mp_fault_clear();
			if (rc == 0) {
				cr_assert(pool, "mp_pool_new() returned 0 but gave no pool");
				struct mp_pool_stats st;
				mp_expect_status(mp_pool_stats(pool, &st), 0);
				cr_assert(st.started == 2, "mp_pool_new() returned 0 with %llu of its 2 workers started (%s number %d failing)", (unsigned long long)st.started, calls[c], skip + 1);
				mp_pool_free(pool);
				break; /* every allocation mp_pool_new() makes has been failed once */
			}
			char what[64];
			snprintf(what, sizeof what, "mp_pool_new() with %s number %d failing", calls[c], skip + 1);
			mp_expect_status(rc, -ENOMEM);
			cr_assert(pool == NULL, "%s: a failed mp_pool_new() leaves *out alone", what);
			failures++;
		}
		cr_assert(failures > 0, "the first %s of mp_pool_new() failing should make it fail with -ENOMEM", calls[c]);
		cr_log_info("mp_pool_new(): %d %s calls failed in turn", failures, calls[c]);
	}
}

MP_TEST(faults, a_call_with_no_memory_fails_alone_and_the_pool_goes_on, 2, "How tasks and results flow")
{
	static const char *const calls[] = { "calloc", "malloc" };
	mp_pool *pool = pool_of(1, NULL);
	int64_t x = 7;
	for (size_t c = 0; c < sizeof calls / sizeof calls[0]; c++) {
		int failures = 0;
		for (int skip = 0; skip < 6; skip++) {
			/* Each round begins with a live, idle worker: a call that works. */
			void *out = NULL;
			size_t len = 0;
			mp_expect_status(mp_pool_apply(pool, "square", &x, sizeof x, &out, &len), 0);
			free(out);
			/*
			 * The n-th allocation on the call's way fails: the copy of its
			 * argument, its result, the message to the worker, the reading
			 * of the answer, the answer's copy; past them, none.
			 */
			mp_expect_status(mp_fault_inject(calls[c], skip, ENOMEM), 0);
			int rc = mp_pool_apply(pool, "square", &x, sizeof x, &out, &len);
			mp_fault_clear();
			if (rc == 0) {
				/* (An answer that could not be read at once is read when its worker, killed for it, has gone.) */
				int64_t y = 0;
				cr_assert(out && len == sizeof y, "a call that succeeds gives back its 8 bytes, not %zu", len);
				memcpy(&y, out, sizeof y);
				cr_assert(y == 49, "square(7) should be 49, got %lld", (long long)y);
				free(out);
				continue;
			}
			char what[64];
			snprintf(what, sizeof what, "mp_pool_apply() with %s number %d failing", calls[c], skip + 1);
			mp_expect_status(rc, -ENOMEM);
			cr_assert(len == (out ? strlen(out) : 0), "%s: the length given is the message's", what);
			free(out);
			failures++;
		}
		cr_assert(failures > 0, "the first %s on a call's way failing should fail the call with -ENOMEM", calls[c]);
		cr_log_info("mp_pool_apply(): %d %s calls failed in turn", failures, calls[c]);
	}
	/* A map's result is the first allocation on its way. */
	int64_t in[3] = { 1, 2, 3 }, got[3];
	mp_result *r = NULL;
	mp_expect_status(mp_fault_inject("calloc", 0, ENOMEM), 0);
	int rc = mp_pool_map_async(pool, "square", in, 3, sizeof in[0], got, sizeof got[0], 1, NULL, &r);
	mp_fault_clear();
	mp_expect_status(rc, -ENOMEM);
	cr_assert(r == NULL, "a map that could not be submitted leaves *result alone");
	mp_pool_free(pool);
}

MP_TEST(faults, imap_with_no_memory_fails_clearly_and_loses_no_record_silently, 2, "imap: lazy and ordered, or not")
{
	static const char *const calls[] = { "calloc", "malloc" };
	mp_pool *pool = pool_of(2, NULL);
	for (size_t c = 0; c < sizeof calls / sizeof calls[0]; c++) {
		int failed_imaps = 0;
		for (int skip = 0; skip < 12; skip++) {
			struct stream s = stream_of(9);
			mp_expect_status(mp_fault_inject(calls[c], skip, ENOMEM), 0);
			int rc = mp_pool_imap(pool, "square", sizeof(int64_t), sizeof(int64_t), 2, true, produce, consume, &s);
			mp_fault_clear();
			char what[64];
			snprintf(what, sizeof what, "imap with %s number %d failing", calls[c], skip + 1);
			if (rc < 0) {
				mp_expect_status(rc, -ENOMEM);
				failed_imaps++;
			}
			cr_assert(s.wrong == 0, "%s: %d records were answered wrong or twice", what, s.wrong);
			/* What was not lost to the failed imap was handed over, failed with -ENOMEM at worst. */
			cr_assert(rc < 0 || s.taken == 9, "%s: imap returned 0 but handed over %lld records of 9", what, (long long)s.taken);
			cr_assert(s.failures == 0 || strlen(s.message) > 0, "%s: a record that failed should say why", what);
			free(s.seen);
		}
		cr_assert(failed_imaps > 0, "the first %s of an imap failing should make it return -ENOMEM", calls[c]);
	}
	mp_pool_free(pool);
}

MP_TEST(faults, a_worker_out_of_memory_for_its_answer_fails_that_call_and_is_replaced, 1, "When a worker dies")
{
	/* Armed before the pool starts, the fault is inherited by its worker: the first answer it builds fails. */
	mp_expect_status(mp_fault_inject("realloc", 0, ENOMEM), 0);
	mp_pool *pool = pool_of(1, NULL);
	mp_fault_clear();
	int64_t x = 5;
	mp_result *r = submit(pool, "square", &x, sizeof x, NULL);
	mp_expect_status(mp_result_get(r, MP_FOREVER, NULL, NULL), MP_EWORKERDIED);
	cr_assert(strstr(mp_result_error(r), "square") && strstr(mp_result_error(r), "exited with status 2"),
		  "the error names the task and the worker's status, 2: \"%s\"", mp_result_error(r));
	mp_result_free(r);
	r = submit(pool, "square", &x, sizeof x, NULL);
	cr_assert(get_int64(r) == 25, "the worker that replaces it answers");
	mp_result_free(r);
	mp_pool_free(pool);

	/* The second realloc: the room for an answer of 1,000 bytes (the first made room for the header). */
	mp_expect_status(mp_fault_inject("realloc", 1, ENOMEM), 0);
	pool = pool_of(1, NULL);
	mp_fault_clear();
	size_t n = 1000;
	r = submit(pool, "blob", &n, sizeof n, NULL);
	mp_expect_status(mp_result_get(r, MP_FOREVER, NULL, NULL), MP_EWORKERDIED);
	cr_assert(strstr(mp_result_error(r), "exited with status 2"), "a worker with no room for a task's answer exits with status 2: \"%s\"", mp_result_error(r));
	mp_result_free(r);
	mp_pool_free(pool);
}

MP_TEST(faults, registering_a_task_with_no_memory_fails_clearly, 1, "Tasks: functions with names, bytes in and out")
{
	mp_expect_status(mp_fault_inject("malloc", 0, ENOMEM), 0);
	mp_expect_status(mp_task_register("registered_without_memory", square), -ENOMEM);
	mp_fault_clear();
	cr_assert(mp_task_find("registered_without_memory") == NULL, "a task that could not be registered is not found");
	/* Registered once there is memory, it serves a pool made after. */
	mp_expect_status(mp_task_register("registered_without_memory", square), 0);
	mp_pool *pool = pool_of(1, NULL);
	int64_t x = 6;
	mp_result *r = submit(pool, "registered_without_memory", &x, sizeof x, NULL);
	cr_assert(get_int64(r) == 36, "a task registered at run time runs in the workers of a pool made after");
	mp_result_free(r);
	mp_pool_free(pool);
}

/* A record of 4 KiB in, its first 8 bytes out. */
MP_TASK(head_of_page)(const void *in, size_t len, mp_task_out *out)
{
	if (len < sizeof(int64_t))
		return mp_task_fail(out, "head_of_page wants 8 bytes or more, got %zu", len);
	return mp_task_return(out, in, sizeof(int64_t));
}

MP_TEST(pool, a_worker_holds_at_most_64_chunks_and_32_kib_of_records, 2, "Keeping every worker busy")
{
	/*
	 * Quick chunks of 1 go many to a message, but a worker holds at most
	 * HELD_MAX (64) chunks, and HELD_BYTES_MAX (32 KiB) of records in all
	 * (but one chunk of any size): no message carries more. The bounds hold
	 * however slow the machine; that chunks go several to a message at all
	 * is checked only where tasks are quick (not under valgrind or ASan).
	 */
	enum { N = 20000, PAGES = 800, PAGE = 4096 };
	bool quick = !RUNNING_ON_VALGRIND && !UNDER_ASAN;
	static int64_t in[N], out[N];
	for (int i = 0; i < N; i++)
		in[i] = i;
	mp_pool *pool = pool_of(2, NULL);
	struct mp_pool_stats st;
	mp_expect_status(mp_pool_map(pool, "square", in, N, sizeof in[0], out, sizeof out[0], 1, NULL), 0);
	mp_expect_status(mp_pool_stats(pool, &st), 0);
	cr_assert(st.most_chunks <= 64, "a message carried %llu chunks: more than the 64 a worker may hold (HELD_MAX)", (unsigned long long)st.most_chunks);
	cr_assert(st.messages * 64 >= st.chunks, "%llu chunks went in %llu messages: more than 64 a message", (unsigned long long)st.chunks, (unsigned long long)st.messages);
	cr_assert(st.most_batch_bytes <= 64 * sizeof in[0], "a message of several chunks of 8 bytes carried %llu bytes of records", (unsigned long long)st.most_batch_bytes);
	cr_assert(!quick || st.most_chunks > 32, "quick chunks of 1 should go more than 32 to a message at times (the most was %llu)", (unsigned long long)st.most_chunks);
	uint64_t most_tiny = st.most_chunks;

	char *pages = calloc(PAGES, PAGE);
	cr_assert(pages);
	for (int i = 0; i < PAGES; i++)
		memcpy(pages + (size_t)i * PAGE, &(int64_t){ i }, sizeof(int64_t));
	mp_pool_free(pool);
	pool = pool_of(2, NULL);
	mp_expect_status(mp_pool_map(pool, "head_of_page", pages, PAGES, PAGE, out, sizeof out[0], 1, NULL), 0);
	mp_expect_status(mp_pool_stats(pool, &st), 0);
	free(pages);
	mp_pool_free(pool);
	for (int i = 0; i < PAGES; i++)
		cr_assert(out[i] == i, "record %d of 4 KiB should give back its first 8 bytes, %d; gave %lld", i, i, (long long)out[i]);
	cr_assert(st.most_batch_bytes <= 32 * 1024, "a message of several chunks carried %llu bytes of records: past the 32 KiB a worker may hold (HELD_BYTES_MAX)", (unsigned long long)st.most_batch_bytes);
	cr_assert(st.most_chunks <= 8, "a message carried %llu chunks of 4 KiB: past the 32 KiB a worker may hold (HELD_BYTES_MAX)", (unsigned long long)st.most_chunks);
	cr_assert(!quick || st.most_batch_bytes == 32 * 1024, "quick chunks of 4 KiB should fill a worker up to 32 KiB at times: the most a message carried was %llu bytes", (unsigned long long)st.most_batch_bytes);
	cr_log_info("at most %llu chunks of 8 bytes in a message; of 4 KiB, at most %llu (%llu bytes); %llu chunks of 4 KiB in %llu messages",
		    (unsigned long long)most_tiny, (unsigned long long)st.most_chunks, (unsigned long long)st.most_batch_bytes,
		    (unsigned long long)st.chunks, (unsigned long long)st.messages);
}

MP_TEST(pool, a_call_with_one_callback_runs_only_that_one, 1, "Callbacks")
{
	/* Either callback may be NULL: a success with only an error callback runs none, and so on. */
	mp_pool *pool = pool_of(1, NULL);
	struct seen s = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct mp_callbacks only_error = { .on_error = on_error, .arg = &s };
	struct mp_callbacks only_success = { .on_success = on_success, .arg = &s };
	int64_t ok = 4, bad = 3;
	mp_result *r[4] = {
		submit(pool, "picky", &ok, sizeof ok, &only_error),
		submit(pool, "picky", &bad, sizeof bad, &only_success),
		submit(pool, "picky", &ok, sizeof ok, &only_success),
		submit(pool, "picky", &bad, sizeof bad, &only_error),
	};
	for (int i = 0; i < 4; i++) {
		mp_result_wait(r[i], MP_FOREVER);
		mp_result_free(r[i]);
	}
	cr_assert(s.successes == 1 && s.errors == 1, "each callback should run once, for the call that has it and ends its way: %d success and %d error callbacks ran", s.successes, s.errors);
	cr_assert(s.sum == 16, "the success callback should see 4 squared, saw %lld", (long long)s.sum);
	mp_pool_free(pool);
}

/* The name of the process it runs in. */
MP_TASK(my_name)(const void *in, size_t len, mp_task_out *out)
{
	(void)in;
	(void)len;
	const char *name = mp_process_name(mp_current_process());
	return mp_task_return(out, name, strlen(name));
}

MP_TEST(pool, workers_are_named_pool_worker_n_in_the_order_they_start, 1, "The pool's thread")
{
	/* As Python's ForkPoolWorker-1, -2, ...: numbered for the program, replacements included. */
	struct mp_pool_options o = { .maxtasksperchild = 1 };
	mp_pool *pool = pool_of(1, &o);
	unsigned last = 0;
	for (int i = 0; i < 3; i++) {
		void *name = NULL;
		size_t len = 0;
		mp_expect_status(mp_pool_apply(pool, "my_name", NULL, 0, &name, &len), 0);
		unsigned n = 0;
		int end = 0;
		cr_assert(sscanf(name, "PoolWorker-%u%n", &n, &end) == 1 && (size_t)end == len,
			  "a worker should be named PoolWorker-N, not \"%s\"", (char *)name);
		cr_assert(i == 0 || n == last + 1, "the worker that replaced PoolWorker-%u (which retired) should be PoolWorker-%u, not %s", last, last + 1, (char *)name);
		last = n;
		free(name);
	}
	mp_pool_free(pool);
}

MP_TEST(options, a_retiring_worker_is_given_only_the_chunks_it_will_run, 1, "Tasks: functions with names, bytes in and out")
{
	/* Quick chunks go several to a worker, but never past its maxtasksperchild: none comes back unrun. */
	struct mp_pool_options o = { .maxtasksperchild = 3 };
	mp_pool *pool = pool_of(2, &o);
	enum { N = 300 };
	static int64_t in[N], out[N];
	for (int i = 0; i < N; i++)
		in[i] = i;
	mp_expect_status(mp_pool_map(pool, "square", in, N, sizeof in[0], out, sizeof out[0], 1, NULL), 0);
	struct mp_pool_stats st;
	mp_expect_status(mp_pool_stats(pool, &st), 0);
	mp_pool_free(pool);
	for (int i = 0; i < N; i++)
		cr_assert(out[i] == (int64_t)i * i, "record %d", i);
	cr_assert(st.returned == 0, "%llu chunks were given to a worker past its maxtasksperchild (3), and came back unrun when it retired", (unsigned long long)st.returned);
	cr_assert(st.started >= N / 3, "%d chunks at 3 a worker need %d workers or more, not %llu: a worker ran more than its maxtasksperchild", N, N / 3, (unsigned long long)st.started);
}

/* Succeeds and gives back nothing. */
MP_TASK(nothing_back)(const void *in, size_t len, mp_task_out *out)
{
	(void)in;
	(void)len;
	(void)out;
	return 0;
}

/* Gives back no bytes, through mp_task_return(). */
MP_TASK(returns_no_bytes)(const void *in, size_t len, mp_task_out *out)
{
	(void)in;
	(void)len;
	return mp_task_return(out, NULL, 0);
}

/* Tries to give back 3 bytes with no memory left for them (the fault armed here, in the worker), and says what it got. */
MP_TASK(returns_with_no_memory)(const void *in, size_t len, mp_task_out *out)
{
	(void)in;
	(void)len;
	mp_fault_inject("malloc", 0, ENOMEM);
	int rc = mp_task_return(out, "abc", 3);
	mp_fault_clear();
	return rc;
}

MP_TEST(pool, a_task_that_cannot_copy_its_answer_fails_with_enomem, 1, "Tasks: functions with names, bytes in and out")
{
	mp_pool *pool = pool_of(1, NULL);
	mp_result *r = submit(pool, "returns_with_no_memory", NULL, 0, NULL);
	mp_expect_status(mp_result_get(r, MP_FOREVER, NULL, NULL), MP_ETASKFAILED);
	cr_assert(strstr(mp_result_error(r), "returned -12"), "mp_task_return() with no memory should return -ENOMEM (-12), which the "
		  "task gave back: \"%s\" (task.c)", mp_result_error(r));
	mp_result_free(r);
	mp_pool_free(pool);
}

MP_TEST(pool, a_task_may_give_back_no_bytes, 1, "Tasks: functions with names, bytes in and out")
{
	mp_pool *pool = pool_of(1, NULL);
	void *out = NULL;
	size_t len = 99;
	mp_expect_status(mp_pool_apply(pool, "nothing_back", NULL, 0, &out, &len), 0);
	cr_assert(len == 0 && out, "an empty answer is 0 bytes (a NUL after them), got %zu bytes", len);
	free(out);
	len = 99;
	mp_expect_status(mp_pool_apply(pool, "returns_no_bytes", NULL, 0, &out, &len), 0);
	cr_assert(len == 0 && out, "mp_task_return(out, NULL, 0) gives back 0 bytes, got %zu", len);
	free(out);
	/* A map whose records answer 0 bytes each, as out_size 0 says. */
	char in[10] = { 0 };
	mp_expect_status(mp_pool_map(pool, "nothing_back", in, 10, 1, NULL, 0, 5, NULL), 0);
	mp_pool_free(pool);
}

MP_TEST(pool, slow_chunks_go_one_to_a_message, 1, "Keeping every worker busy")
{
	/*
	 * A worker whose last chunk took 0.1 ms or more (by its own clock) gets
	 * one chunk at a time: none waits in its socket while an idle worker
	 * could run it, and none has to be handed back.
	 */
	enum { N = 30 };
	double in[N];
	char out[N][5];
	for (int i = 0; i < N; i++)
		in[i] = 0.005;
	mp_pool *pool = pool_of(2, NULL);
	mp_expect_status(mp_pool_map(pool, "sleeper", in, N, sizeof in[0], out, 5, 1, NULL), 0);
	struct mp_pool_stats st;
	mp_expect_status(mp_pool_stats(pool, &st), 0);
	mp_pool_free(pool);
	cr_assert(st.most_chunks == 1, "chunks of 5 ms went up to %llu to a message: a worker whose chunks are slow should get them one at a time", (unsigned long long)st.most_chunks);
	cr_assert(st.handed_back == 0, "%llu slow chunks were handed back: none should have been sent to a worker busy with a slow one", (unsigned long long)st.handed_back);
	cr_assert(st.chunks == N && st.messages == N, "%d chunks in %d messages, not %llu in %llu", N, N, (unsigned long long)st.chunks, (unsigned long long)st.messages);
}

MP_TEST(pool, an_idle_worker_takes_a_call_without_waking_the_pools_thread, 1, "Keeping every worker busy")
{
	/*
	 * A call that an idle worker can take goes to it from the submitting
	 * thread itself: the pool's thread, asleep in poll(), is woken only for
	 * what it alone does (the rest of a map, a time limit to watch).
	 */
	mp_pool *pool = pool_of(1, NULL);
	int64_t x = 3;
	for (int i = 0; i < 5; i++) {
		void *out = NULL;
		size_t len = 0;
		mp_expect_status(mp_pool_apply(pool, "square", &x, sizeof x, &out, &len), 0);
		free(out);
	}
	struct mp_pool_stats st;
	mp_expect_status(mp_pool_stats(pool, &st), 0);
	cr_assert(st.wakes == 0, "5 calls, one after the other, each to an idle worker, woke the pool's thread %llu times, not 0: "
		  "the submitting thread should send such a call itself (mp__pool_submit() in pool.c)", (unsigned long long)st.wakes);
	int64_t in[4] = { 1, 2, 3, 4 }, got[4];
	mp_expect_status(mp_pool_map(pool, "square", in, 4, sizeof in[0], got, sizeof got[0], 1, NULL), 0);
	mp_expect_status(mp_pool_stats(pool, &st), 0);
	cr_assert(st.wakes == 1, "a map of 4 chunks on 1 idle worker should wake the pool's thread once, for the 3 chunks the worker "
		  "could not take at once: it woke it %llu times", (unsigned long long)st.wakes);
	mp_pool_free(pool);

	struct mp_pool_options o = { .task_timeout = 10 };
	pool = pool_of(1, &o);
	for (int i = 0; i < 3; i++) {
		void *out = NULL;
		size_t len = 0;
		mp_expect_status(mp_pool_apply(pool, "square", &x, sizeof x, &out, &len), 0);
		free(out);
	}
	mp_expect_status(mp_pool_stats(pool, &st), 0);
	mp_pool_free(pool);
	cr_assert(st.wakes == 3, "under a time limit only the pool's thread watches the clock: each of 3 calls should wake it, not %llu",
		  (unsigned long long)st.wakes);
}

MP_TEST(death, a_worker_killed_between_two_chunks_fails_neither, 2, "When a worker dies")
{
	/*
	 * Killed (by the fault seam) after answering 5 chunks and before it
	 * begins the 6th, with more queued behind: no chunk was running, so none
	 * fails; every one it held goes to its replacement.
	 */
	mp_expect_status(mp_fault_inject("die:between-chunks", 5, EINTR), 0);
	mp_pool *pool = pool_of(1, NULL);
	mp_fault_clear(); /* the worker has its copy; its replacement will not */
	enum { N = 200 };
	static int64_t in[N], out[N];
	for (int i = 0; i < N; i++)
		in[i] = i;
	struct mp_map_failure f = { 0 };
	mp_expect_status(mp_pool_map(pool, "square", in, N, sizeof in[0], out, sizeof out[0], 1, &f), 0);
	struct mp_pool_stats st;
	mp_expect_status(mp_pool_stats(pool, &st), 0);
	mp_pool_free(pool);
	for (int i = 0; i < N; i++)
		cr_assert(out[i] == (int64_t)i * i, "record %d", i);
	cr_assert(st.started >= 2, "the killed worker should have been replaced (%llu started)", (unsigned long long)st.started);
	cr_assert(st.returned >= 1, "the chunk it had not begun should have gone to its replacement (%llu returned)", (unsigned long long)st.returned);
}

/* Fails with an empty message of its own. */
MP_TASK(says_nothing)(const void *in, size_t len, mp_task_out *out)
{
	(void)in;
	(void)len;
	return mp_task_fail(out, "%s", "");
}

MP_TEST(pool, a_task_that_fails_with_an_empty_message_gives_that_message, 1, "How errors travel back")
{
	/* As Python's str(Exception("")): the caller gets what the task said, even nothing, not a message made up for it. */
	mp_pool *pool = pool_of(1, NULL);
	mp_result *r = submit(pool, "says_nothing", NULL, 0, NULL);
	mp_expect_status(mp_result_get(r, MP_FOREVER, NULL, NULL), MP_ETASKFAILED);
	cr_assert(strcmp(mp_result_error(r), "") == 0, "the task failed with \"\": the error should be that, not \"%s\"", mp_result_error(r));
	mp_result_free(r);
	mp_pool_free(pool);
}

MP_TEST(faults, a_worker_that_cannot_be_replaced_at_once_is_tried_again_a_moment_later, 1, "When a worker dies")
{
	/*
	 * The worker retires after one call; the fork of its replacement fails
	 * (the fault seam). The slot is tried again 0.1 s later, with nothing
	 * else to wake the pool's thread, and the next call runs then.
	 */
	struct mp_pool_options o = { .maxtasksperchild = 1 };
	mp_pool *pool = pool_of(1, &o);
	mp_expect_status(mp_fault_inject("fork", 0, EAGAIN), 0);
	int64_t x = 3;
	mp_result *r = submit(pool, "square", &x, sizeof x, NULL);
	cr_assert(get_int64(r) == 9, "square(3)");
	mp_result_free(r);
	double t0 = mp_test_now();
	r = submit(pool, "square", &x, sizeof x, NULL);
	mp_expect_status(mp_result_wait(r, 5 * PROMPT), 0);
	double took = mp_test_now() - t0;
	mp_fault_clear();
	cr_assert(get_int64(r) == 9, "the call after a failed start runs in the worker started at the second try");
	mp_result_free(r);
	struct mp_pool_stats st;
	mp_expect_status(mp_pool_stats(pool, &st), 0);
	mp_pool_free(pool);
	cr_assert(st.started >= 2, "a replacement should have started at the second try (%llu started)", (unsigned long long)st.started);
	cr_log_info("the call waited %.3f s for the second try", took);
}

MP_TEST(lifetime, terminate_fails_the_chunks_a_dead_worker_left_unbegun, 1, "Close, terminate, join")
{
	/*
	 * The only worker dies between two chunks (the fault seam) and its
	 * replacement cannot start (fork fails): the chunks it held wait in the
	 * pool, unbegun. Terminate then fails them as never started.
	 */
	mp_expect_status(mp_fault_inject("die:between-chunks", 5, EINTR), 0);
	mp_pool *pool = pool_of(1, NULL);
	mp_fault_clear();
	mp_expect_status(mp_fault_inject("fork", 0, EAGAIN), 0);
	enum { N = 200 };
	static int64_t in[N], out[N];
	for (int i = 0; i < N; i++)
		in[i] = i;
	mp_result *r = NULL;
	mp_expect_status(mp_pool_map_async(pool, "square", in, N, sizeof in[0], out, sizeof out[0], 1, NULL, &r), 0);
	struct mp_pool_stats st = { 0 };
	double t0 = mp_test_now();
	while (st.returned == 0 && mp_test_now() - t0 < 5 * PROMPT) {
		mp_expect_status(mp_pool_stats(pool, &st), 0);
		nap(0.001);
	}
	cr_assert(st.returned > 0, "the chunks the dead worker held should have come back to the pool");
	mp_expect_status(mp_pool_terminate(pool), 0);
	mp_fault_clear();
	mp_expect_status(mp_result_get(r, 0, NULL, NULL), MP_ETERMINATED);
	/* (Unless the slot's second try, 0.1 s after the death, came first: then a worker was running one.) */
	cr_assert(st.started > 1 || RUNNING_ON_VALGRIND || strstr(mp_result_error(r), "before the task started"),
		  "no worker ran the records left: they fail as never started, not \"%s\"", mp_result_error(r));
	for (int i = 0; i < 5; i++)
		cr_assert(out[i] == (int64_t)i * i, "record %d was answered before the worker died", i);
	mp_result_free(r);
	mp_pool_free(pool);
}

MP_TEST(pool, a_map_of_no_records_or_of_empty_records_needs_no_arrays, 1, "Chunks")
{
	/* Arrays may be NULL where they would hold no bytes: no records, or records of 0 bytes. */
	mp_pool *pool = pool_of(1, NULL);
	mp_result *r = NULL;
	mp_expect_status(mp_pool_map_async(pool, "square", NULL, 0, 8, NULL, 8, 0, NULL, &r), 0);
	mp_expect_status(mp_result_get(r, MP_FOREVER, NULL, NULL), 0);
	mp_result_free(r);
	mp_expect_status(mp_pool_map(pool, "nothing_back", NULL, 3, 0, NULL, 0, 1, NULL), 0);
	/* And a map of one record, or of none, is a map like any other. */
	int64_t one = 9, got = 0;
	mp_expect_status(mp_pool_map(pool, "square", &one, 1, sizeof one, &got, sizeof got, 0, NULL), 0);
	cr_assert(got == 81, "a map of the one record 9 should give 81, not %lld (mp_pool_map() in apply.c)", (long long)got);
	mp_expect_status(mp_pool_map(pool, "square", NULL, 0, sizeof one, NULL, sizeof got, 0, NULL), 0);
	mp_expect_status(mp_pool_map(pool, "no_such_task", NULL, 0, sizeof one, NULL, sizeof got, 0, NULL), MP_ENOTASK);
	mp_pool_close(pool);
	mp_expect_status(mp_pool_map(pool, "square", NULL, 0, sizeof one, NULL, sizeof got, 0, NULL), MP_EPOOLCLOSED);
	mp_pool_free(pool);
}
