/* test_queue.c: stage 02, Queue: Python's Queue, SimpleQueue and JoinableQueue, and what they get wrong. */
#define _GNU_SOURCE
#include "mp_test.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MP_LESSON "lessons/02-queue.md"

/*
 * Children get the queue as the bytes of a pointer: under fork the child's
 * copy of the object sits at the same address. Children never assert: they
 * report through their exit status, or through the queue itself.
 */
struct job {
	mp_queue *q;
	mp_queue *results; /* where a consumer reports, when it does */
	int id;            /* which producer this is */
	int count;         /* how many messages to put */
	size_t size;       /* how large, 0 for a mix */
	double pause;      /* seconds to wait before starting */
	const char *point; /* where a child arms its own death (fault.h): the string is in the parent's image, which fork() copied */
	int cpu;           /* > 0: the child runs only on CPU cpu - 1 */
	bool idle;         /* ... and at SCHED_IDLE, so that a busy process there starves it */
	int ready;         /* > 0: a pipe's write end, where the child writes a byte before it acts */
	double timeout;
};

static void sleep_seconds(double s)
{
	struct timespec t = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };
	while (nanosleep(&t, &t) < 0 && errno == EINTR)
		;
}

/* A cheap checksum (FNV-1a), to see a torn or mixed-up message. */
static uint64_t checksum(const unsigned char *p, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211ULL;
	return h;
}

/*
 * A self-checking message: producer id, sequence number, then filler made
 * from both, then a checksum of all that comes before it.
 */
static unsigned char *make_message(int id, int seq, size_t size)
{
	if (size < 16)
		size = 16;
	unsigned char *m = malloc(size);
	if (!m)
		return NULL;
	int32_t head[2] = { id, seq };
	memcpy(m, head, sizeof head);
	for (size_t i = 8; i < size - 8; i++)
		m[i] = (unsigned char)(i * 31 + (size_t)seq * 7 + (size_t)id);
	uint64_t sum = checksum(m, size - 8);
	memcpy(m + size - 8, &sum, 8);
	return m;
}

/* 0 if @m is intact, with its producer and sequence number; -1 if not. */
static int check_message(const void *m, size_t len, int *id, int *seq)
{
	if (len < 16)
		return -1;
	uint64_t sum;
	memcpy(&sum, (const char *)m + len - 8, 8);
	if (sum != checksum(m, len - 8))
		return -1;
	int32_t head[2];
	memcpy(head, m, sizeof head);
	*id = head[0];
	*seq = head[1];
	return 0;
}

/* Sizes that cross the inline limit (64 KiB) both ways. */
static size_t mixed_size(int seq)
{
	static const size_t sizes[] = { 16, 200, 4096, 65536, 65537 + 8, 300000, 1000 };
	return sizes[seq % (int)(sizeof sizes / sizeof sizes[0])];
}

MP_TARGET(producer)(const void *arg, size_t len)
{
	(void)len;
	const struct job *j = arg;
	sleep_seconds(j->pause);
	for (int seq = 0; j->count < 0 || seq < j->count; seq++) {
		size_t size = j->size ? j->size : mixed_size(seq);
		unsigned char *m = make_message(j->id, seq, size);
		if (!m || mp_queue_put(j->q, m, size, 10) != 0)
			return 1;
		free(m);
	}
	return 0;
}

struct report {
	int64_t count[4];   /* messages from each producer */
	int64_t seq_sum[4]; /* sum of their sequence numbers */
	int64_t bad;        /* torn, out of order, or not ours */
	int64_t status;     /* how the consumer's last get ended */
};

/* Get until end-of-stream, checking every message; send a report through j->results. */
MP_TARGET(consumer)(const void *arg, size_t len)
{
	(void)len;
	const struct job *j = arg;
	mp_queue_close(j->q); /* consumers put nothing: end-of-stream must not wait for us */
	struct report r = { 0 };
	int last[4] = { -1, -1, -1, -1 };
	for (;;) {
		void *m;
		size_t n;
		int rc = mp_queue_get(j->q, &m, &n, 10);
		if (rc != 0) {
			r.status = rc;
			break;
		}
		int id, seq;
		if (check_message(m, n, &id, &seq) < 0 || id < 0 || id > 3 || seq <= last[id]) {
			r.bad++;
		} else {
			last[id] = seq;
			r.count[id]++;
			r.seq_sum[id] += seq;
		}
		free(m);
	}
	return mp_queue_put(j->results, &r, sizeof r, 10) == 0 ? 0 : 1;
}

MP_TARGET(put_ints_and_return)(const void *arg, size_t len)
{
	(void)len;
	const struct job *j = arg;
	sleep_seconds(j->pause);
	for (int i = 0; i < j->count; i++)
		if (mp_queue_put_int(j->q, i, 10) != 0)
			return 1;
	return 0;
}

MP_TARGET(put_one_after_a_pause)(const void *arg, size_t len)
{
	(void)len;
	const struct job *j = arg;
	sleep_seconds(j->pause);
	return mp_queue_put_int(j->q, 42, 10) == 0 ? 0 : 1;
}

/* Joinable: take j->count messages and mark each done after a pause. */
MP_TARGET(do_tasks)(const void *arg, size_t len)
{
	(void)len;
	const struct job *j = arg;
	for (int i = 0; i < j->count; i++) {
		int64_t v;
		if (mp_queue_get_int(j->q, &v, 10) != 0)
			return 1;
		sleep_seconds(j->pause);
		if (mp_queue_task_done(j->q) != 0)
			return 2;
	}
	return 0;
}

MP_TARGET(put_large)(const void *arg, size_t len)
{
	(void)len;
	const struct job *j = arg;
	unsigned char *m = make_message(j->id, 0, j->size);
	int rc = m ? mp_queue_put(j->q, m, j->size, 30) : -1;
	free(m);
	return rc == 0 ? 0 : 1;
}

/* ------------------------------------------------------------------------- */

static mp_queue *new_queue(size_t maxsize)
{
	mp_queue *q = NULL;
	mp_expect_status(mp_queue_new(&q, maxsize), 0);
	cr_assert(q, "mp_queue_new returned 0 but gave no queue");
	return q;
}

static mp_process *start(const char *target, const struct job *j)
{
	mp_process *p = NULL;
	mp_expect_status(mp_process_new(&p, target, j, sizeof *j), 0);
	mp_expect_status(mp_process_start(p), 0);
	return p;
}

static void join(mp_process *p, int expect)
{
	int rc = mp_process_join(p, 20), code = -1;
	cr_assert(rc == 0, "a child did not end within 20 s (%s)", mp_err_name(rc));
	mp_process_exitcode(p, &code);
	cr_assert_eq(code, expect, "a child ended with %d, expected %d", code, expect);
	mp_process_free(p);
}

static void put_bytes(mp_queue *q, size_t size, int seq)
{
	unsigned char *m = make_message(0, seq, size);
	cr_assert(m);
	mp_expect_status(mp_queue_put(q, m, size, 5), 0);
	free(m);
}

static void expect_message(mp_queue *q, size_t size, int seq)
{
	void *m = NULL;
	size_t n = 0;
	mp_expect_status(mp_queue_get(q, &m, &n, 5), 0);
	cr_assert_eq(n, size, "got a message of %zu bytes, expected %zu", n, size);
	int id, got;
	cr_assert(check_message(m, n, &id, &got) == 0, "the message of %zu bytes came out changed", size);
	cr_assert_eq(got, seq, "got message %d, expected %d: messages must come out in order", got, seq);
	free(m);
}

static void no_op_handler(int sig)
{
	(void)sig;
}

/* ------------------------------------------------------------------------- */
/* What the kernel makes atomic */

MP_TEST(queue, put_then_get_gives_back_the_same_bytes, 3, "What the kernel makes atomic")
{
	mp_queue *q = new_queue(0);
	static const size_t sizes[] = { 16, 17, 1000, 4096, 65536, 65537, 200000, 1 << 20 };
	for (int i = 0; i < 8; i++) {
		put_bytes(q, sizes[i], i);
		expect_message(q, sizes[i], i);
	}
	mp_queue_free(q);
}

MP_TEST(queue, a_message_of_one_byte_is_that_byte, 1, "A ring of shared memory")
{
	mp_queue *q = new_queue(0);
	for (int c = 'a'; c <= 'c'; c++)
		mp_expect_status(mp_queue_put(q, &(char){ (char)c }, 1, 0), 0);
	for (int c = 'a'; c <= 'c'; c++) {
		void *m = NULL;
		size_t n = 0;
		mp_expect_status(mp_queue_get(q, &m, &n, 0), 0);
		cr_assert(n == 1 && m && *(char *)m == c, "a message of the one byte '%c' came out as %zu byte(s): '%c'", c, n,
			  m && n ? *(char *)m : '?');
		free(m);
	}
	mp_queue_free(q);
}

MP_TEST(queue, an_empty_message_is_a_message, 1, "What the kernel makes atomic")
{
	mp_queue *q = new_queue(0);
	mp_expect_status(mp_queue_put(q, NULL, 0, 1), 0);
	mp_expect_status(mp_queue_put_int(q, 7, 1), 0);
	void *m = (void *)1;
	size_t n = 99;
	mp_expect_status(mp_queue_get(q, &m, &n, 1), 0);
	cr_assert(n == 0 && m == NULL, "an empty message gives (NULL, 0), got (%p, %zu)", m, n);
	int64_t v;
	mp_expect_status(mp_queue_get_int(q, &v, 1), 0);
	cr_assert_eq(v, 7);
	mp_queue_free(q);
}

MP_TEST(queue, messages_come_out_in_the_order_they_went_in, 2, "What the kernel makes atomic")
{
	mp_queue *q = new_queue(0);
	for (int round = 0; round < 3; round++) {
		for (int64_t i = 0; i < 200; i++)
			mp_expect_status(mp_queue_put_int(q, i, 1), 0);
		for (int64_t i = 0; i < 200; i++) {
			int64_t v = -1;
			mp_expect_status(mp_queue_get_int(q, &v, 1), 0);
			cr_assert_eq(v, i, "got %lld, expected %lld: a queue is first in, first out",
				     (long long)v, (long long)i);
		}
	}
	mp_queue_free(q);
}

MP_TEST(queue, a_child_gets_what_its_parent_puts, 2, "What the kernel makes atomic")
{
	mp_queue *q = new_queue(0), *results = new_queue(0);
	mp_process *c = start("consumer", &(struct job){ .q = q, .results = results });
	for (int i = 0; i < 50; i++)
		put_bytes(q, mixed_size(i), i);
	mp_queue_close(q); /* so the child sees the end once it has all 50 */
	join(c, 0);
	struct report *r = NULL;
	size_t n;
	mp_expect_status(mp_queue_get(results, (void **)&r, &n, 5), 0);
	cr_assert_eq(r->count[0], 50, "the child got %lld of 50 messages", (long long)r->count[0]);
	cr_assert_eq(r->bad, 0, "%lld messages came out torn or out of order", (long long)r->bad);
	mp_expect_status((int)r->status, MP_EEOF);
	free(r);
	mp_queue_free(q);
	mp_queue_free(results);
}

MP_TEST(queue, many_producers_and_consumers_lose_and_duplicate_nothing, 3, "What the kernel makes atomic")
{
	mp_queue *q = new_queue(0), *results = new_queue(0);
	enum { PRODUCERS = 3, CONSUMERS = 2, EACH = 400 };
	mp_process *p[PRODUCERS], *c[CONSUMERS];
	for (int i = 0; i < CONSUMERS; i++)
		c[i] = start("consumer", &(struct job){ .q = q, .results = results });
	for (int i = 0; i < PRODUCERS; i++)
		p[i] = start("producer", &(struct job){ .q = q, .id = i, .count = EACH });
	mp_queue_close(q); /* the producers' exits then end the stream */
	for (int i = 0; i < PRODUCERS; i++)
		join(p[i], 0);
	int64_t count[PRODUCERS] = { 0 }, sum[PRODUCERS] = { 0 };
	for (int i = 0; i < CONSUMERS; i++) {
		struct report *r = NULL;
		size_t n;
		mp_expect_status(mp_queue_get(results, (void **)&r, &n, 15), 0);
		cr_assert_eq(r->bad, 0, "a consumer saw %lld torn, foreign or reordered messages", (long long)r->bad);
		mp_expect_status((int)r->status, MP_EEOF);
		for (int k = 0; k < PRODUCERS; k++) {
			count[k] += r->count[k];
			sum[k] += r->seq_sum[k];
		}
		free(r);
	}
	for (int i = 0; i < CONSUMERS; i++)
		join(c[i], 0);
	for (int k = 0; k < PRODUCERS; k++) {
		cr_assert_eq(count[k], EACH, "producer %d put %d messages, %lld came out", k, EACH, (long long)count[k]);
		cr_assert_eq(sum[k], (int64_t)EACH * (EACH - 1) / 2,
			     "producer %d's messages came out with duplicates or gaps", k);
	}
	mp_queue_free(q);
	mp_queue_free(results);
}

/* ------------------------------------------------------------------------- */
/* Framing: a header, and a memfd for large messages */

MP_TEST(queue, a_256_mib_message_arrives_intact, 2, "A ring of shared memory")
{
	mp_queue *q = new_queue(0);
	size_t size = 256u << 20;
	mp_process *p = start("put_large", &(struct job){ .q = q, .id = 3, .size = size });
	void *m = NULL;
	size_t n = 0;
	mp_expect_status(mp_queue_get(q, &m, &n, 60), 0);
	cr_assert_eq(n, size, "got %zu bytes, expected 256 MiB", n);
	int id, seq;
	cr_assert(check_message(m, n, &id, &seq) == 0 && id == 3, "the 256 MiB message came out changed");
	free(m);
	join(p, 0);
	mp_queue_free(q);
}

MP_TEST(queue, a_message_over_the_size_cap_is_refused_both_ways, 2, "Getting: copy, wake, commit")
{
	mp_queue *q = new_queue(0);
	mp_expect_status(mp_queue_set_max_message(q, 0), -EINVAL);
	mp_expect_status(mp_queue_set_max_message(q, 300000), 0);
	unsigned char *big = make_message(0, 0, 300001);
	mp_expect_status(mp_queue_put(q, big, 300001, 1), -EMSGSIZE);
	free(big);
	put_bytes(q, 1000, 1);   /* inline */
	put_bytes(q, 200000, 2); /* in a memfd */
	put_bytes(q, 100, 3);
	mp_expect_status(mp_queue_set_max_message(q, 500), 0); /* as if put by a less careful peer */
	void *m;
	size_t n;
	mp_expect_status(mp_queue_get(q, &m, &n, 1), MP_EBADMSG);
	mp_expect_status(mp_queue_get(q, &m, &n, 1), MP_EBADMSG);
	expect_message(q, 100, 3); /* and the queue goes on */
	mp_queue_free(q);
}

/* ------------------------------------------------------------------------- */
/* Typed messages and why not pickle */

MP_TEST(queue, typed_helpers_round_trip_and_check_the_type, 2, "Typed messages and why not pickle")
{
	mp_queue *q = new_queue(0);
	mp_expect_status(mp_queue_put_int(q, -1234567890123LL, 1), 0);
	mp_expect_status(mp_queue_put_double(q, 2.5e-300, 1), 0);
	mp_expect_status(mp_queue_put_str(q, "hello, queue", 1), 0);
	mp_expect_status(mp_queue_put_str(q, "", 1), 0);
	mp_expect_status(mp_queue_put_int(q, 5, 1), 0);

	int64_t i;
	double d;
	char *s;
	mp_expect_status(mp_queue_get_int(q, &i, 1), 0);
	cr_assert_eq(i, -1234567890123LL);
	mp_expect_status(mp_queue_get_double(q, &d, 1), 0);
	cr_assert(d == 2.5e-300, "the double changed on the way");
	mp_expect_status(mp_queue_get_str(q, &s, 1), 0);
	cr_assert_str_eq(s, "hello, queue");
	free(s);
	mp_expect_status(mp_queue_get_str(q, &s, 1), 0);
	cr_assert_str_eq(s, "", "an empty string comes back empty (and NUL-terminated)");
	free(s);
	mp_expect_status(mp_queue_get_double(q, &d, 1), MP_ETYPE);
	mp_expect_status(mp_queue_put_str(q, NULL, 1), -EINVAL);
	mp_queue_free(q);
}

/* ------------------------------------------------------------------------- */
/* Timeouts: empty and full */

MP_TEST(queue, get_on_an_empty_queue_reports_empty_after_the_timeout, 2, "Timeouts: empty and full")
{
	mp_queue *q = new_queue(0);
	int64_t v;
	double t0 = mp_test_now();
	mp_expect_status(mp_queue_get_int(q, &v, 0), MP_EEMPTY);
	cr_assert(mp_test_now() - t0 < 0.1, "get with timeout 0 must not wait");
	t0 = mp_test_now();
	mp_expect_status(mp_queue_get_int(q, &v, 0.2), MP_EEMPTY);
	double took = mp_test_now() - t0;
	cr_assert(took >= 0.19 && took < 2, "get(0.2) on an empty queue took %.3f s", took);
	mp_expect_status(mp_queue_put_int(q, 1, 0), 0);
	mp_expect_status(mp_queue_get_int(q, &v, 0), 0);
	mp_queue_free(q);
}

MP_TEST(queue, get_wakes_when_a_child_puts, 2, "Timeouts: empty and full")
{
	mp_queue *q = new_queue(0);
	mp_process *p = start("put_one_after_a_pause", &(struct job){ .q = q, .pause = 0.1 });
	double t0 = mp_test_now();
	int64_t v = 0;
	mp_expect_status(mp_queue_get_int(q, &v, 10), 0);
	cr_assert(mp_test_now() - t0 < 3, "get(10) must return as soon as the message comes");
	cr_assert_eq(v, 42);
	join(p, 0);
	mp_queue_free(q);
}

MP_TEST(queue, get_is_not_cut_short_by_signals, 1, "Timeouts: empty and full")
{
	struct sigaction sa = { .sa_handler = no_op_handler };
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval every_10ms = { { 0, 10000 }, { 0, 10000 } };
	setitimer(ITIMER_REAL, &every_10ms, NULL);
	mp_queue *q = new_queue(0);
	int64_t v;
	double t0 = mp_test_now();
	int rc = mp_queue_get_int(q, &v, 0.3);
	double took = mp_test_now() - t0;
	struct itimerval off = { 0 };
	setitimer(ITIMER_REAL, &off, NULL);
	mp_expect_status(rc, MP_EEMPTY);
	cr_assert(took >= 0.29 && took < 2, "with signals arriving, get(0.3) took %.3f s", took);
	mp_expect_status(mp_queue_put_int(q, 1, 0.3), 0);
	mp_queue_free(q);
}

MP_TEST(queue, qsize_empty_and_full_follow_the_queue, 2, "Timeouts: empty and full")
{
	mp_queue *q = new_queue(3);
	cr_assert(mp_queue_empty(q) && !mp_queue_full(q) && mp_queue_qsize(q) == 0, "a new queue is empty");
	for (int i = 0; i < 3; i++)
		mp_expect_status(mp_queue_put_int(q, i, 1), 0);
	cr_assert_eq(mp_queue_qsize(q), 3);
	cr_assert(!mp_queue_empty(q) && mp_queue_full(q), "with 3 of 3 messages the queue is full");
	int64_t v;
	mp_expect_status(mp_queue_get_int(q, &v, 1), 0);
	cr_assert_eq(mp_queue_qsize(q), 2);
	cr_assert(!mp_queue_full(q), "after a get there is room again");
	mp_queue_free(q);
}

/* ------------------------------------------------------------------------- */
/* Bounded queues: a pipe of free places */

MP_TEST(queue, a_bounded_queue_reports_full_after_the_timeout, 3, "Bounded queues: a count in the books")
{
	mp_queue *q = new_queue(2);
	mp_expect_status(mp_queue_put_int(q, 1, 0), 0);
	mp_expect_status(mp_queue_put_int(q, 2, 0), 0);
	mp_expect_status(mp_queue_put_int(q, 3, 0), MP_EFULL);
	double t0 = mp_test_now();
	mp_expect_status(mp_queue_put_int(q, 3, 0.2), MP_EFULL);
	double took = mp_test_now() - t0;
	cr_assert(took >= 0.19 && took < 2, "put(0.2) on a full queue took %.3f s", took);
	int64_t v;
	mp_expect_status(mp_queue_get_int(q, &v, 0), 0);
	mp_expect_status(mp_queue_put_int(q, 3, 0), 0);
	for (int64_t want = 2; want <= 3; want++) {
		mp_expect_status(mp_queue_get_int(q, &v, 0), 0);
		cr_assert_eq(v, want, "a refused put must not have queued anything");
	}
	mp_queue_free(q);
}

MP_TEST(queue, a_blocked_put_resumes_when_a_consumer_gets, 2, "Bounded queues: a count in the books")
{
	mp_queue *q = new_queue(1);
	mp_expect_status(mp_queue_put_int(q, 0, 0), 0);
	mp_process *p = start("put_ints_and_return", &(struct job){ .q = q, .count = 1 });
	mp_expect_status(mp_process_join(p, 0.2), MP_ETIMEDOUT); /* waiting for room */
	int64_t v = -1;
	mp_expect_status(mp_queue_get_int(q, &v, 1), 0);
	cr_assert_eq(v, 0);
	join(p, 0);
	mp_expect_status(mp_queue_put_int(q, 1, 0), MP_EFULL); /* the child's put took the place it waited for */
	mp_expect_status(mp_queue_get_int(q, &v, 1), 0);
	cr_assert_eq(v, 0, "the child's put went through once there was room");
	mp_queue_free(q);
}

/* ------------------------------------------------------------------------- */
/* Closing, and the end of the stream */

MP_TEST(queue, put_after_close_is_an_error_but_get_still_works, 1, "Closing, and the end of the stream")
{
	mp_queue *q = new_queue(0);
	mp_expect_status(mp_queue_put_int(q, 9, 1), 0);
	mp_expect_status(mp_queue_close(q), 0);
	mp_expect_status(mp_queue_close(q), 0);
	mp_expect_status(mp_queue_put_int(q, 10, 1), MP_ECLOSED);
	int64_t v;
	mp_expect_status(mp_queue_get_int(q, &v, 1), 0);
	cr_assert_eq(v, 9);
	mp_expect_status(mp_queue_get_int(q, &v, 1), MP_EEOF);
	mp_queue_free(q);
}

MP_TEST(queue, consumers_see_the_end_once_every_producer_is_gone, 3, "Closing, and the end of the stream")
{
	mp_queue *q = new_queue(0);
	mp_process *p[2];
	for (int i = 0; i < 2; i++)
		p[i] = start("put_ints_and_return", &(struct job){ .q = q, .count = 100, .pause = 0.05 * i });
	mp_queue_close(q);
	int got = 0, rc;
	int64_t v;
	while ((rc = mp_queue_get_int(q, &v, 5)) == 0)
		got++;
	mp_expect_status(rc, MP_EEOF);
	cr_assert_eq(got, 200, "got %d of the 200 messages before the end of the stream", got);
	for (int i = 0; i < 2; i++)
		join(p[i], 0);
	mp_queue_free(q);
}

/* ------------------------------------------------------------------------- */
/* Joinable queues */

MP_TEST(queue, join_returns_once_every_task_is_done, 3, "Joinable queues")
{
	mp_queue *q = NULL;
	mp_expect_status(mp_queue_new_joinable(&q, 0), 0);
	mp_expect_status(mp_queue_join(q, 0), 0); /* nothing put, nothing to wait for */
	for (int i = 0; i < 4; i++)
		mp_expect_status(mp_queue_put_int(q, i, 1), 0);
	mp_expect_status(mp_queue_join(q, 0.05), MP_ETIMEDOUT);
	mp_process *p = start("do_tasks", &(struct job){ .q = q, .count = 4, .pause = 0.02 });
	double t0 = mp_test_now();
	mp_expect_status(mp_queue_join(q, 10), 0);
	cr_assert(mp_test_now() - t0 < 5, "join must wake when the last task is done");
	join(p, 0);
	mp_queue_free(q);
}

MP_TEST(queue, task_done_too_many_times_is_an_error, 1, "Joinable queues")
{
	mp_queue *q = NULL, *plain = new_queue(0);
	mp_expect_status(mp_queue_new_joinable(&q, 2), 0);
	mp_expect_status(mp_queue_put_str(q, "task", 1), 0);
	char *s;
	mp_expect_status(mp_queue_get_str(q, &s, 1), 0);
	free(s);
	mp_expect_status(mp_queue_task_done(q), 0);
	mp_expect_status(mp_queue_task_done(q), MP_ETASKDONE);
	mp_expect_status(mp_queue_join(q, 0), 0);
	mp_expect_status(mp_queue_task_done(plain), -EINVAL);
	mp_expect_status(mp_queue_join(plain, 0), -EINVAL);
	mp_queue_free(q);
	mp_queue_free(plain);
}

/* ------------------------------------------------------------------------- */
/* Python's join deadlock, and why it cannot happen here */

MP_TEST(queue, a_producer_can_be_joined_before_its_messages_are_read, 3, "Python's join deadlock, and why it cannot happen here")
{
	mp_queue *q = new_queue(0);
	mp_process *p = start("put_ints_and_return", &(struct job){ .q = q, .count = 100 });
	int rc = mp_process_join(p, 5);
	cr_assert(rc == 0, "the producer did not end: its 100 messages must be in the kernel once put "
		  "returns, not waiting in the producer (join said %s)", mp_err_name(rc));
	join(p, 0);
	for (int64_t i = 0; i < 100; i++) {
		int64_t v = -1;
		mp_expect_status(mp_queue_get_int(q, &v, 1), 0);
		cr_assert_eq(v, i);
	}
	mp_queue_free(q);
}

MP_TEST(queue, an_unbounded_queue_holds_a_million_messages_put_before_any_get, 3, "A ring of shared memory")
{
	/* Python's Queue holds what memory holds: a program may put all its work before it starts a worker. */
	enum { N = 1000000 };
	mp_queue *q = new_queue(0);
	for (int64_t i = 0; i < N; i++) {
		int rc = mp_queue_put_int(q, i, 0);
		cr_assert(rc == 0, "put %lld of %d into an unbounded queue, with no consumer yet, returned %s, expected 0: "
			  "an unbounded queue holds as many messages as memory allows", (long long)i + 1, N, mp_err_name(rc));
	}
	cr_assert_eq(mp_queue_qsize(q), (size_t)N, "qsize counts every message waiting");
	cr_assert(!mp_queue_full(q), "an unbounded queue holding 24 MB is not full");
	for (int64_t i = 0; i < N; i++) {
		int64_t v = -1;
		int rc = mp_queue_get_int(q, &v, 0);
		cr_assert(rc == 0 && v == i, "get %lld returned %s and %lld, expected 0 and %lld: in order, none lost",
			  (long long)i + 1, mp_err_name(rc), (long long)v, (long long)i);
	}
	cr_assert(mp_queue_empty(q));
	mp_queue_free(q);
}

MP_TEST(queue, an_unbounded_queue_holds_ten_thousand_64_kib_messages, 2, "A ring of shared memory")
{
	/* 640 MiB in flight, in one process: the memory comes from the kernel as the ring fills and goes back as it empties. */
	enum { N = 10000, SIZE = 64 * 1024 };
	mp_queue *q = new_queue(0);
	unsigned char *m = malloc(SIZE);
	cr_assert(m);
	for (int i = 0; i < N; i++) {
		memset(m, (unsigned char)i, SIZE);
		memcpy(m, &i, sizeof i);
		int rc = mp_queue_put(q, m, SIZE, 0);
		cr_assert(rc == 0, "put %d of %d messages of 64 KiB returned %s, expected 0", i + 1, N, mp_err_name(rc));
	}
	for (int i = 0; i < N; i++) {
		void *got = NULL;
		size_t n = 0;
		mp_expect_status(mp_queue_get(q, &got, &n, 0), 0);
		memset(m, (unsigned char)i, SIZE);
		memcpy(m, &i, sizeof i);
		cr_assert(n == SIZE && memcmp(got, m, SIZE) == 0, "message %d of 64 KiB came out changed, or out of order", i);
		free(got);
	}
	free(m);
	mp_queue_free(q);
}

/* Joinable: take tasks until the end of the stream, marking each done; exit with how many, in hundreds. */
MP_TARGET(worker)(const void *arg, size_t len)
{
	(void)len;
	const struct job *j = arg;
	mp_queue_close(j->q);
	int64_t v, done = 0;
	int rc;
	while ((rc = mp_queue_get_int(j->q, &v, 10)) == 0) {
		if (mp_queue_task_done(j->q) != 0)
			return 255;
		done++;
	}
	if (rc != MP_EEOF)
		return 254;
	return mp_queue_put_int(j->results, done, 10) == 0 ? 0 : 253;
}

MP_TEST(queue, ten_thousand_tasks_put_then_two_workers_then_join, 3, "Joinable queues")
{
	/* The pattern of a thousand Python tutorials: fill the queue, then start the workers, then join. */
	enum { TASKS = 10000 };
	mp_queue *q = NULL, *results = new_queue(0);
	mp_expect_status(mp_queue_new_joinable(&q, 0), 0);
	for (int64_t i = 0; i < TASKS; i++)
		mp_expect_status(mp_queue_put_int(q, i, 0), 0);
	mp_process *w[2];
	for (int i = 0; i < 2; i++)
		w[i] = start("worker", &(struct job){ .q = q, .results = results });
	mp_expect_status(mp_queue_close(q), 0);
	int rc = mp_queue_join(q, 10 * MP_TEST_TIMEOUT_SCALE / 2.0);
	cr_assert(rc == 0, "join() after putting %d tasks and starting two workers returned %s, expected 0: "
		  "every task was marked done", TASKS, mp_err_name(rc));
	for (int i = 0; i < 2; i++)
		join(w[i], 0);
	int64_t total = 0, n;
	while (mp_queue_get_int(results, &n, 0) == 0)
		total += n;
	cr_assert_eq(total, TASKS, "the workers did %lld tasks of %d", (long long)total, TASKS);
	mp_queue_free(q);
	mp_queue_free(results);
}

MP_TEST(queue, large_messages_need_no_descriptors, 2, "A ring of shared memory")
{
	/* With every descriptor in use, a process can still put and get messages of any size. */
	int fds[256], used = 0;
	mp_queue *q = new_queue(0);
	struct rlimit was, small = { 64, 64 };
	getrlimit(RLIMIT_NOFILE, &was);
	small.rlim_max = was.rlim_max;
	cr_assert(setrlimit(RLIMIT_NOFILE, &small) == 0, "setrlimit(RLIMIT_NOFILE, 64): %s", strerror(errno));
	while (used < 256 && (fds[used] = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0)
		used++;
	int err = errno;
	if (used == 256 || err != EMFILE)
		setrlimit(RLIMIT_NOFILE, &was);
	cr_assert(used < 256 && err == EMFILE, "could not fill a table of 64 descriptors (%d open)", used);
	for (int i = 0; i < 70; i++) {
		size_t size = i % 2 ? 100000 : 300;
		unsigned char *m = make_message(0, i, size);
		int rc = m ? mp_queue_put(q, m, size, 0) : -ENOMEM;
		free(m);
		cr_assert(rc == 0, "with the descriptor table full, put %d (%zu bytes) returned %s, expected 0", i + 1,
			  size, mp_err_name(rc));
	}
	for (int i = 0; i < 70; i++)
		expect_message(q, i % 2 ? 100000 : 300, i);
	setrlimit(RLIMIT_NOFILE, &was);
	while (used > 0)
		close(fds[--used]);
	mp_queue_free(q);
}

/* ------------------------------------------------------------------------- */
/* When a process dies mid-message */

MP_TEST(queue, a_producer_killed_mid_message_corrupts_nothing, 3, "When a process dies mid-message")
{
	srand((unsigned)getpid());
	for (int round = 0; round < 6; round++) {
		mp_queue *q = new_queue(0);
		/* Endless messages from 16 bytes to 300 KB: the kill lands mid-message sooner or later. */
		mp_process *p = start("producer", &(struct job){ .q = q, .id = 1, .count = -1 });
		mp_queue_close(q);
		int got = 0, rc, last = -1;
		double kill_at = mp_test_now() + (rand() % 30) / 1000.0;
		for (;;) {
			if (kill_at && mp_test_now() >= kill_at) {
				mp_process_kill(p);
				kill_at = 0;
			}
			void *m;
			size_t n;
			rc = mp_queue_get(q, &m, &n, 5);
			if (rc != 0)
				break;
			int id, seq;
			cr_assert(check_message(m, n, &id, &seq) == 0, "round %d: message %d came out torn", round, got);
			cr_assert(id == 1 && seq == last + 1, "round %d: expected message %d, got %d", round, last + 1, seq);
			last = seq;
			got++;
			free(m);
		}
		mp_expect_status(rc, MP_EEOF);
		int code = 0;
		mp_expect_status(mp_process_join(p, 5), 0);
		mp_expect_status(mp_process_exitcode(p, &code), 0);
		cr_assert_eq(code, -SIGKILL);
		mp_process_free(p);
		mp_queue_free(q);
	}
}

MP_TEST(queue, a_consumer_killed_mid_message_leaves_the_rest_intact, 3, "When a process dies mid-message")
{
	enum { TOTAL = 400 };
	mp_queue *q = new_queue(0), *results = new_queue(0);
	mp_process *victim = start("consumer", &(struct job){ .q = q, .results = results });
	mp_process *survivor = start("consumer", &(struct job){ .q = q, .results = results });
	mp_process *p = start("producer", &(struct job){ .q = q, .id = 2, .count = TOTAL });
	mp_queue_close(q);
	usleep((useconds_t)(20000 + rand() % 20000));
	mp_process_kill(victim);
	join(p, 0);
	int code = 0;
	mp_expect_status(mp_process_join(victim, 5), 0);
	mp_expect_status(mp_process_exitcode(victim, &code), 0);
	mp_process_free(victim);
	join(survivor, 0);
	/* One report from the survivor; two if the victim had finished before the kill. */
	int reports = 0;
	int64_t got = 0;
	struct report *r = NULL;
	size_t n;
	while (mp_queue_get(results, (void **)&r, &n, 0.5) == 0) {
		cr_assert_eq(r->bad, 0, "a consumer got %lld torn messages", (long long)r->bad);
		mp_expect_status((int)r->status, MP_EEOF);
		got += r->count[2];
		reports++;
		free(r);
	}
	cr_assert(reports >= 1, "the surviving consumer never reported");
	cr_assert(got > 0 && got <= TOTAL, "the consumers got %lld of %d messages", (long long)got, TOTAL);
	mp_queue_free(q);
	mp_queue_free(results);
}

/* Storms: take messages for ever, checking each and marking it done; exit 2 at a torn one. */
MP_TARGET(storm_consumer)(const void *arg, size_t len)
{
	(void)len;
	const struct job *j = arg;
	mp_queue_close(j->q);
	for (;;) {
		void *m;
		size_t n;
		int rc = mp_queue_get(j->q, &m, &n, 30), id, seq;
		if (rc != 0)
			return rc == MP_EEOF ? 0 : 3;
		bool bad = check_message(m, n, &id, &seq) < 0;
		free(m);
		if (bad)
			return 2;
		if (mp_queue_task_done(j->q) != 0)
			return 4;
	}
}

/* Kill @p, which must have been running (not ended on its own), and start another like it in its place. */
static mp_process *kill_and_replace(mp_process *p, const char *target, const struct job *j, const char *what)
{
	mp_process_kill(p);
	int code = 0;
	mp_expect_status(mp_process_join(p, 10), 0);
	mp_expect_status(mp_process_exitcode(p, &code), 0);
	cr_assert(code == -SIGKILL, "a %s ended on its own with %d before the kill (2: it got a torn message)", what, code);
	mp_process_free(p);
	return target ? start(target, j) : NULL;
}

MP_TEST(queue, kill_storms_lose_no_place_count_or_task, 3, "When a process dies mid-message")
{
	/*
	 * A bounded joinable queue of 50, two producers of mixed sizes up to
	 * 300 KB and two consumers, and a kill every few milliseconds. First
	 * only producers die: once the survivors drain the queue, join() must
	 * return. Then consumers die too: afterwards all 50 places must be there.
	 */
	enum { PLACES = 50, KILLS = 60 };
	srand((unsigned)getpid());
	mp_queue *q = NULL;
	mp_expect_status(mp_queue_new_joinable(&q, PLACES), 0);
	struct job pj = { .q = q, .id = 1, .count = -1 }, cj = { .q = q };
	mp_process *prod[2] = { start("producer", &pj), start("producer", &pj) };
	mp_process *cons[2] = { start("storm_consumer", &cj), start("storm_consumer", &cj) };
	for (int phase = 0; phase < 2; phase++) {
		for (int k = 0; k < KILLS; k++) {
			usleep((useconds_t)(rand() % 8000));
			int victim = rand() % (phase ? 4 : 2);
			if (victim < 2)
				prod[victim] = kill_and_replace(prod[victim], "producer", &pj, "producer");
			else
				cons[victim - 2] = kill_and_replace(cons[victim - 2], "storm_consumer", &cj, "consumer");
		}
		for (int i = 0; i < 2; i++)
			kill_and_replace(prod[i], NULL, NULL, "producer");
		if (phase == 0) {
			/* Every message a killed producer committed is taken and done; every one it did not is no task. */
			int rc = mp_queue_join(q, 5 * MP_TEST_TIMEOUT_SCALE), code[2] = { 0, 0 };
			for (int i = 0; i < 2 && rc != 0; i++)
				if (!mp_process_is_alive(cons[i]))
					mp_process_exitcode(cons[i], &code[i]);
			cr_assert(rc == 0, "after %d producer kills, join() returned %s with %zu messages left and the consumers "
				  "%s (exit %d, %d: 2 a torn message, 3 a get that failed): a killed put left a task counted, or "
				  "the consumers stopped", KILLS, mp_err_name(rc), mp_queue_qsize(q),
				  code[0] || code[1] ? "ended" : "alive", code[0], code[1]);
			prod[0] = start("producer", &pj);
			prod[1] = start("producer", &pj);
		}
	}
	for (int i = 0; i < 2; i++)
		kill_and_replace(cons[i], NULL, NULL, "consumer");
	void *m;
	size_t n;
	int id, seq;
	while (mp_queue_get(q, &m, &n, 0) == 0) {
		cr_assert(check_message(m, n, &id, &seq) == 0, "after the storm, a message came out torn");
		free(m);
	}
	cr_assert_eq(mp_queue_qsize(q), 0, "the queue was drained, yet qsize says %zu", mp_queue_qsize(q));
	for (int i = 0; i < PLACES; i++) {
		int rc = mp_queue_put_int(q, i, 0);
		cr_assert(rc == 0, "after %d kills of producers and consumers, put %d into the empty queue of %d returned %s: "
			  "places were lost", 2 * KILLS, i + 1, PLACES, mp_err_name(rc));
	}
	mp_expect_status(mp_queue_put_int(q, -1, 0), MP_EFULL);
	cr_assert_eq(mp_queue_qsize(q), (size_t)PLACES);
	mp_queue_free(q);
}

/*
 * Wait in the call j->id names (0 a get on an empty queue, 1 a put on a full
 * one, 2 a join) for up to 5 s, first arming j->point (fault.h) if there is
 * one. Exit 0 if the call returned 0.
 */
MP_TARGET(wait_in)(const void *arg, size_t len)
{
	(void)len;
	const struct job *j = arg;
	if (j->point)
		mp_fault_inject(j->point, 0, EIO);
	int64_t v;
	int rc = j->id == 0 ? mp_queue_get_int(j->q, &v, 5) : j->id == 1 ? mp_queue_put_int(j->q, 7, 5) : mp_queue_join(j->q, 5);
	return rc == 0 ? 0 : 1;
}

MP_TEST(queue, a_process_killed_while_it_waits_stops_no_other, 3, "Sleeping, waking, and a waker that dies")
{
	static const char *what[] = { "a get on an empty queue", "a put on a full queue", "a join" };
	for (int call = 0; call < 3; call++) {
		mp_queue *q = NULL;
		mp_expect_status(mp_queue_new_joinable(&q, 1), 0);
		if (call > 0)
			mp_expect_status(mp_queue_put_int(q, 1, 0), 0);
		mp_process *w[4];
		for (int i = 0; i < 4; i++)
			w[i] = start("wait_in", &(struct job){ .q = q, .id = call });
		usleep(200000); /* all four asleep */
		for (int i = 0; i < 3; i++)
			kill_and_replace(w[i], NULL, NULL, "waiter");
		int64_t v;
		if (call == 0) {
			mp_expect_status(mp_queue_put_int(q, 5, 0), 0);
		} else {
			mp_expect_status(mp_queue_get_int(q, &v, 0), 0);
			if (call == 2)
				mp_expect_status(mp_queue_task_done(q), 0);
		}
		int rc = mp_process_join(w[3], 5), code = -1;
		mp_process_exitcode(w[3], &code);
		cr_assert(rc == 0 && code == 0, "three processes were killed in %s; the fourth did not return 0 within 5 s "
			  "of the call that should end its wait (%s, exit %d)", what[call], mp_err_name(rc), code);
		mp_process_free(w[3]);
		mp_queue_free(q);
	}
}

/* ------------------------------------------------------------------------- */
/* A ring of shared memory: round its end, and full */

static bool readable(int fd);

static mp_queue *new_small_queue(size_t maxsize, bool joinable)
{
	mp_queue *q = NULL;
	mp_expect_status(mp_queue_new_sized(&q, maxsize, 2 << 20, joinable), 0);
	cr_assert(q, "mp_queue_new_sized returned 0 but gave no queue");
	return q;
}

/* Whether this process maps a file whose name holds @name (in /proc/self/maps). */
static bool mapped(const char *name)
{
	FILE *f = fopen("/proc/self/maps", "re");
	cr_assert(f);
	char line[512];
	bool found = false;
	while (!found && fgets(line, sizeof line, f))
		found = strstr(line, name) != NULL;
	fclose(f);
	return found;
}

/* Kilobytes of shared memory this process has resident (RssShmem in /proc/self/status). */
static long resident_shared_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	cr_assert(f, "cannot read /proc/self/status");
	char line[256];
	long kib = -1;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "RssShmem: %ld kB", &kib) == 1)
			break;
	fclose(f);
	cr_assert(kib >= 0, "no RssShmem line in /proc/self/status");
	return kib;
}

MP_TEST(queue, memory_goes_back_as_messages_are_read, 2, "A ring of shared memory")
{
	/* 64 MiB put, then read: the queue must hold a few MiB afterwards, not 64. */
	enum { SIZE = 256 * 1024, N = 256 };
	mp_queue *q = new_queue(0);
	long before = resident_shared_kib();
	unsigned char *m = calloc(1, SIZE);
	cr_assert(m);
	for (int i = 0; i < N; i++)
		mp_expect_status(mp_queue_put(q, m, SIZE, 0), 0);
	long full = resident_shared_kib();
	cr_assert(full - before >= 60 * 1024, "64 MiB in the queue, yet only %ld KiB of shared memory is resident",
		  full - before);
	for (int i = 0; i < N; i++) {
		void *got;
		size_t n;
		mp_expect_status(mp_queue_get(q, &got, &n, 0), 0);
		free(got);
	}
	long after = resident_shared_kib();
	cr_assert(after - before <= 4 * 1024, "every message was read, yet the queue still holds %ld KiB: read chunks "
		  "must go back to the kernel (give_back())", after - before);
	free(m);

	/* Round a 64 MiB ring four times, a message in and out at a time: memory goes back on every lap. */
	mp_queue_free(q);
	mp_expect_status(mp_queue_new_sized(&q, 0, 64 << 20, false), 0);
	m = calloc(1, 1 << 20);
	cr_assert(m);
	for (int i = 0; i < 256; i++) {
		mp_expect_status(mp_queue_put(q, m, 1 << 20, 0), 0);
		void *got;
		size_t n;
		mp_expect_status(mp_queue_get(q, &got, &n, 0), 0);
		free(got);
	}
	free(m);
	after = resident_shared_kib();
	cr_assert(after - before <= 4 * 1024, "256 MiB went through a 64 MiB ring, and it still holds %ld KiB: chunks "
		  "read on the later laps must go back too", after - before);

	/* One message of 32 MiB: one get frees 32 chunks at once, and every one must go. */
	enum { BIG = 32 << 20 };
	m = calloc(1, BIG);
	cr_assert(m);
	mp_expect_status(mp_queue_put(q, m, BIG, 0), 0);
	free(m);
	void *got;
	size_t n;
	mp_expect_status(mp_queue_get(q, &got, &n, 0), 0);
	free(got);
	after = resident_shared_kib();
	cr_assert(after - before <= 4 * 1024, "a 32 MiB message was read, yet the queue still holds %ld KiB: every chunk "
		  "read must go back, not only the first (give_back())", after - before);
	mp_queue_free(q);
}

MP_TEST(queue, messages_go_round_the_end_of_the_ring_intact, 3, "A ring of shared memory")
{
	/* A ring of 2 MiB and 40 MiB through it, in sizes that land headers and bytes across its end. */
	mp_queue *q = new_small_queue(0, false);
	mp_process *p = start("producer", &(struct job){ .q = q, .id = 1, .count = 500 });
	mp_queue_close(q);
	int got = 0, id, seq, rc;
	void *m;
	size_t n;
	while ((rc = mp_queue_get(q, &m, &n, 10)) == 0) {
		cr_assert(check_message(m, n, &id, &seq) == 0, "message %d came out changed: a record that went round the "
			  "end of the ring must be copied in two pieces, each from the right place", got);
		cr_assert(id == 1 && seq == got && n == mixed_size(seq), "expected message %d of %zu bytes, got %d of %zu",
			  got, mixed_size(got), seq, n);
		free(m);
		got++;
	}
	mp_expect_status(rc, MP_EEOF);
	cr_assert_eq(got, 500);
	join(p, 0);
	mp_queue_free(q);
}

MP_TEST(queue, a_message_that_fills_the_whole_ring_fits, 1, "A ring of shared memory")
{
	/* A 2 MiB ring holds one record of exactly 2 MiB, header included; one byte more never fits. */
	enum { RING = 2 << 20, HEADER = 16 };
	mp_queue *q = new_small_queue(0, false);
	unsigned char *m = make_message(5, 0, RING - HEADER);
	cr_assert(m);
	mp_expect_status(mp_queue_put(q, m, RING - HEADER, 0), 0);
	void *got;
	size_t n;
	int id, seq;
	mp_expect_status(mp_queue_get(q, &got, &n, 0), 0);
	cr_assert(n == RING - HEADER && check_message(got, n, &id, &seq) == 0 && id == 5,
		  "a message that fills the ring came out changed");
	free(got);
	free(m);
	m = calloc(1, RING - HEADER + 1);
	cr_assert(m);
	mp_expect_status(mp_queue_put(q, m, RING - HEADER + 1, 0), -EMSGSIZE);
	free(m);
	mp_queue_free(q);
}

MP_TARGET(get_one_int)(const void *arg, size_t len)
{
	(void)len;
	const struct job *j = arg;
	int64_t v;
	return mp_queue_get_int(j->q, &v, 10) == 0 ? 0 : 1;
}

MP_TEST(queue, a_get_on_an_empty_queue_sleeps_after_the_doorbell_rang, 2, "The doorbell")
{
	/*
	 * A consumer asleep when a message comes makes the put ring the doorbell;
	 * it takes the message and leaves. A get that then waits on the empty
	 * queue must sleep, not find the old byte in the pipe again and again.
	 */
	mp_queue *q = new_queue(0);
	mp_process *c = start("get_one_int", &(struct job){ .q = q });
	sleep_seconds(0.2); /* asleep in poll() by now */
	mp_expect_status(mp_queue_put_int(q, 1, 1), 0);
	join(c, 0);
	int64_t v;
	double cpu0 = mp_test_cpu_seconds();
	mp_expect_status(mp_queue_get_int(q, &v, 0.5), MP_EEMPTY);
	double cpu = mp_test_cpu_seconds() - cpu0;
	cr_assert(cpu < 0.1, "a get(0.5) on an empty queue used %.2f s of CPU: a consumer must take the old doorbell "
		  "byte out (silence()) before it sleeps in poll()", cpu);
	mp_queue_free(q);
	cr_assert(!mapped("memfd:mp-queue"), "mp_queue_free() left the queue's memory mapped");
}

MP_TEST(queue, a_full_ring_makes_put_wait_and_a_get_makes_room, 2, "A ring of shared memory")
{
	mp_queue *q = new_small_queue(0, false);
	static char block[100000];
	int put = 0, rc;
	while ((rc = mp_queue_put(q, block, sizeof block, 0)) == 0 && put < 1000)
		put++;
	mp_expect_status(rc, MP_EFULL);
	cr_assert(put >= 10 && put <= 21, "a ring of 2 MiB took %d messages of 100 KB before it was full", put);
	cr_assert(!mp_queue_full(q), "a ring with room for a small message is not full");
	double t0 = mp_test_now();
	mp_expect_status(mp_queue_put(q, block, sizeof block, 0.2), MP_EFULL);
	cr_assert(mp_test_now() - t0 >= 0.19, "put(0.2) on a full ring must wait 0.2 s");
	mp_process *c = start("get_one_after_a_pause", &(struct job){ .q = q, .pause = 0.2 });
	rc = mp_queue_put(q, block, sizeof block, 5);
	cr_assert(rc == 0, "a put waiting for room in the ring returned %s after a get made room", mp_err_name(rc));
	join(c, 0);
	cr_assert_eq(mp_queue_qsize(q), (size_t)put);
	int small = 0;
	while (mp_queue_put_int(q, small, 0) == 0 && small < 100000)
		small++;
	cr_assert(small > 0 && small < 100000 && mp_queue_full(q), "a ring that refuses even an integer (after %d of "
		  "them) is full", small);
	/* A message that needs more than the ring can ever give is refused at once, not waited for. */
	void *big = calloc(1, 2 << 20);
	cr_assert(big);
	mp_expect_status(mp_queue_put(q, big, 2 << 20, MP_FOREVER), -EMSGSIZE);
	free(big);
	mp_expect_status(mp_queue_new_sized(&(mp_queue *){ NULL }, 0, (size_t)65 << 30, false), -EINVAL);
	mp_queue_free(q);
}

/* ------------------------------------------------------------------------- */
/* Sleeping, waking, and a waker that dies */

/* Put one message, but first arm the fault that kills this process at the instant j->name says. */
MP_TARGET(put_and_die_at)(const void *arg, size_t len)
{
	(void)len;
	const struct job *j = arg;
	mp_fault_inject(j->point, 0, EIO);
	mp_queue_put_int(j->q, 42, 5);
	return 1; /* not reached if the point was reached */
}

/* Get one message, dying at j->point. */
MP_TARGET(get_and_die_at)(const void *arg, size_t len)
{
	(void)len;
	const struct job *j = arg;
	int64_t v;
	mp_fault_inject(j->point, 0, EIO);
	mp_queue_get_int(j->q, &v, 5);
	return 1;
}

/* Mark one task done, dying at j->point. */
MP_TARGET(task_done_and_die_at)(const void *arg, size_t len)
{
	(void)len;
	const struct job *j = arg;
	mp_fault_inject(j->point, 0, EIO);
	mp_queue_task_done(j->q);
	return 1;
}


/* Start @target with @j, and check that it died by SIGKILL, at the point it armed. */
static void run_to_its_death(const char *target, const struct job *j)
{
	mp_process *p = start(target, j);
	int code = 0;
	mp_expect_status(mp_process_join(p, 10), 0);
	mp_expect_status(mp_process_exitcode(p, &code), 0);
	mp_process_free(p);
	cr_assert_eq(code, -SIGKILL, "the process meant to die at \"%s\" ended with %d instead", j->point, code);
}

/* The sleeper must end well, and soon: woken, not timed out. */
static void expect_woken(mp_process *sleeper, double since, const char *what)
{
	int rc = mp_process_join(sleeper, 10), code = -1;
	mp_process_exitcode(sleeper, &code);
	mp_process_free(sleeper);
	double took = mp_test_now() - since;
	cr_assert(rc == 0 && code == 0 && took < 2.5, "%s: the sleeper %s after %.1f s, where it should have been woken "
		  "at once. Wake before the commit, never after: a waker killed just after its commit has woken "
		  "nobody otherwise", what, code == 0 ? "ended" : "timed out", took);
}

MP_TEST(queue, a_waker_killed_just_after_its_commit_has_woken_the_sleepers, 3, "Sleeping, waking, and a waker that dies")
{
	/* A get asleep on an empty queue; a put killed the instant after its commit. */
	mp_queue *q = new_queue(0);
	mp_process *sleeper = start("wait_in", &(struct job){ .q = q, .id = 0 });
	sleep_seconds(0.3);
	double t0 = mp_test_now();
	run_to_its_death("put_and_die_at", &(struct job){ .q = q, .point = "die:commit" });
	expect_woken(sleeper, t0, "a get asleep, and a put killed just after its commit");
	mp_queue_free(q);

	/* A put asleep on a full queue; a get killed the instant after its commit. */
	q = new_queue(1);
	mp_expect_status(mp_queue_put_int(q, 1, 0), 0);
	sleeper = start("wait_in", &(struct job){ .q = q, .id = 1 });
	sleep_seconds(0.3);
	t0 = mp_test_now();
	run_to_its_death("get_and_die_at", &(struct job){ .q = q, .point = "die:commit" });
	expect_woken(sleeper, t0, "a put asleep on a full queue, and a get killed just after its commit");
	mp_queue_free(q);

	/* A join asleep; the last task_done killed the instant after its commit. */
	mp_expect_status(mp_queue_new_joinable(&q, 0), 0);
	mp_expect_status(mp_queue_put_int(q, 1, 0), 0);
	int64_t v;
	mp_expect_status(mp_queue_get_int(q, &v, 0), 0);
	sleeper = start("wait_in", &(struct job){ .q = q, .id = 2 });
	sleep_seconds(0.3);
	t0 = mp_test_now();
	run_to_its_death("task_done_and_die_at", &(struct job){ .q = q, .point = "die:commit" });
	expect_woken(sleeper, t0, "a join asleep, and the last task_done killed just after its commit");
	mp_queue_free(q);
}


MP_TEST(queue, a_wake_up_between_a_look_and_a_sleep_is_not_lost, 3, "Sleeping, waking, and a waker that dies")
{
	/*
	 * The lost wake-up, made to happen: each sleeper pauses 0.3 s after it
	 * let the guard go and before it sleeps, and the change it waits for
	 * comes in that pause. It must not then sleep through its own timeout.
	 */
	static const char *what[] = { "a get on an empty queue", "a put on a full queue", "a join" };
	for (int call = 0; call < 3; call++) {
		mp_queue *q = NULL;
		mp_expect_status(mp_queue_new_joinable(&q, 1), 0);
		if (call > 0)
			mp_expect_status(mp_queue_put_int(q, 1, 0), 0);
		mp_process *p = start("wait_in", &(struct job){ .q = q, .id = call,
					.point = call == 0 ? "nap:before-poll" : "nap:before-sleep" });
		sleep_seconds(0.15); /* the child is in its pause now */
		int64_t v;
		if (call == 0)
			mp_expect_status(mp_queue_put_int(q, 2, 0), 0);
		else
			mp_expect_status(mp_queue_get_int(q, &v, 0), 0);
		if (call == 2)
			mp_expect_status(mp_queue_task_done(q), 0);
		double t0 = mp_test_now();
		int rc = mp_process_join(p, 10), code = -1;
		mp_process_exitcode(p, &code);
		mp_process_free(p);
		cr_assert(rc == 0 && code == 0 && mp_test_now() - t0 < 2, "%s: the change came while the sleeper was between "
			  "its look and its sleep, and it slept through it (%.1f s, exit %d): the futex word must change with "
			  "every wake-up, and the doorbell byte must stay until a get takes the message", what[call],
			  mp_test_now() - t0, code);
		mp_queue_free(q);
	}
}

/* Put one integer, pausing at j->point; exit 0 if the put returned 0. */
MP_TARGET(put_slowly)(const void *arg, size_t len)
{
	(void)len;
	const struct job *j = arg;
	mp_fault_inject(j->point, 0, EIO);
	return mp_queue_put_int(j->q, 11, 5) == 0 ? 0 : 1;
}

MP_TEST(queue, a_stalled_holder_delays_others_only_until_their_timeouts, 2, "The guard, and a holder that dies")
{
	/* A put that stalls 0.3 s holding the guard: the others' short timeouts still hold, and nothing is mixed up. */
	mp_queue *q = new_queue(0);
	mp_process *p = start("put_slowly", &(struct job){ .q = q, .point = "nap:holding-guard" });
	sleep_seconds(0.1); /* the child holds the guard now, for 0.2 s more */
	int64_t v = 0;
	double t0 = mp_test_now();
	mp_expect_status(mp_queue_get_int(q, &v, 0.05), MP_EEMPTY);
	int rc = mp_queue_put_int(q, 22, 0.05);
	double took = mp_test_now() - t0;
	cr_assert(rc == MP_EFULL, "a put(0.05) while another process holds the guard must give up with MP_EFULL, not %s: "
		  "a lock that timed out is not held", mp_err_name(rc));
	cr_assert(took < 0.1 + 0.1 * MP_TEST_TIMEOUT_SCALE, "a get(0.05) and a put(0.05) behind a stalled holder took "
		  "%.2f s in all: the guard must be waited for with the caller's deadline", took);
	join(p, 0);
	mp_expect_status(mp_queue_get_int(q, &v, 0), 0);
	cr_assert_eq(v, 11, "the stalled put's message, intact");
	mp_expect_status(mp_queue_get_int(q, &v, 0), MP_EEMPTY);
	mp_queue_free(q);
}

MP_TEST(queue, a_death_at_the_doorbell_leaves_it_working, 3, "The doorbell")
{
	/* A put killed just before it writes the doorbell byte: the next put must still ring for the sleeper. */
	mp_queue *q = new_queue(0);
	mp_process *sleeper = start("wait_in", &(struct job){ .q = q, .id = 0 });
	sleep_seconds(0.3);
	run_to_its_death("put_and_die_at", &(struct job){ .q = q, .point = "die:bell" });
	double t0 = mp_test_now();
	mp_expect_status(mp_queue_put_int(q, 5, 0), 0);
	int rc = mp_process_join(sleeper, 10), code = -1;
	mp_process_exitcode(sleeper, &code);
	mp_process_free(sleeper);
	cr_assert(rc == 0 && code == 0 && mp_test_now() - t0 < 2.5, "a put killed just before its doorbell byte left "
		  "the next put unable to wake a sleeping get (rung set before the byte was in the pipe?)");
	mp_queue_free(q);

	/* A get killed just after it emptied the doorbell: a descriptor being polled must still become readable. */
	q = new_queue(0);
	int fd = mp_queue_fileno(q);
	mp_expect_status(mp_queue_put_int(q, 1, 0), 0);
	cr_assert(readable(fd));
	run_to_its_death("get_and_die_at", &(struct job){ .q = q, .point = "die:silence" });
	cr_assert(!readable(fd) && mp_queue_qsize(q) == 0, "the get took the only message and emptied the doorbell");
	mp_expect_status(mp_queue_put_int(q, 2, 0), 0);
	cr_assert(readable(fd), "after a get killed just after it emptied the doorbell, a put left the descriptor "
		  "unreadable (rung cleared after the pipe was emptied, not before?)");
	mp_queue_free(q);

	/* A doorbell that cannot be written is not rung: the next put tries again. */
	q = new_queue(0);
	sleeper = start("wait_in", &(struct job){ .q = q, .id = 0 });
	sleep_seconds(0.3);
	mp_expect_status(mp_fault_inject("write", 0, EIO), 0);
	mp_expect_status(mp_queue_put_int(q, 1, 0), 0);
	mp_fault_clear();
	mp_expect_status(mp_queue_put_int(q, 2, 0), 0);
	rc = mp_process_join(sleeper, 10);
	mp_process_exitcode(sleeper, &code);
	mp_process_free(sleeper);
	cr_assert(rc == 0 && code == 0, "a doorbell write that failed was taken for a ring: the next put did not ring");
	mp_queue_free(q);
}

/* ------------------------------------------------------------------------- */
/* Every documented return code, every promise of queue.h */

/*
 * A storm of signals: SIGALRM every 5 ms, caught by a handler installed
 * without SA_RESTART, so each one interrupts whatever system call is
 * sleeping. A call that lets EINTR through, or restarts its wait with the full
 * timeout, or gives up early, shows it. Children do not inherit the timer.
 */
static void signal_storm(bool on)
{
	struct sigaction sa = { .sa_handler = no_op_handler }; /* sa_flags 0: no SA_RESTART */
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval every_5ms = { { 0, 5000 }, { 0, 5000 } }, off = { { 0, 0 }, { 0, 0 } };
	setitimer(ITIMER_REAL, on ? &every_5ms : &off, NULL);
}

/* Get one message of @len bytes, then exit: a consumer that makes room after a pause. */
/* ---- A woken waiter killed before it takes the guard ---- */

/* Say so on j->ready, then put one integer: exit 0, 2 on a timeout, 1 on another error (3: no CPU). */
MP_TARGET(put_when_ready)(const void *arg, size_t len)
{
	(void)len;
	const struct job *j = arg;
	if (j->cpu > 0 && !mp_test_pin(j->cpu - 1, j->idle))
		return 3;
	if (write(j->ready, "r", 1) != 1)
		return 4;
	if (j->point)
		mp_fault_inject(j->point, 0, EIO);
	int rc = mp_queue_put_int(j->q, 7, j->timeout);
	return rc == 0 ? 0 : rc == MP_ETIMEDOUT ? 2 : 1;
}

static mp_process *start_and_see_asleep(const struct job *j, int ready_rd, const char *who)
{
	mp_process *p = start("put_when_ready", j);
	char byte;
	cr_assert(mp_test_read(ready_rd, &byte, 1, 10) && mp_test_wait_asleep(mp_process_pid(p), 10),
		  "%s never went to sleep", who);
	return p;
}

/* The scene of the test below, once: B's exit code, or -1 if A ran before it was killed (try again). */
static int hand_the_guard_to_a_dying_waiter(mp_queue *q)
{
	int ready[2];
	mp_test_pipe(ready);
	int ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN), other = ncpu > 1 ? 2 : 1;
	/* H takes the guard and stalls holding it (the nap seam), and is stopped there until we are ready. */
	mp_process *h = start_and_see_asleep(&(struct job){ .q = q, .point = "nap:holding-guard", .cpu = other,
							    .ready = ready[1], .timeout = 5 }, ready[0], "the holder");
	kill(mp_process_pid(h), SIGSTOP);
	mp_process *a = start_and_see_asleep(&(struct job){ .q = q, .cpu = 1, .idle = true, .ready = ready[1],
							    .timeout = 10 }, ready[0], "the first waiter");
	mp_process *b = start_and_see_asleep(&(struct job){ .q = q, .cpu = other, .ready = ready[1], .timeout = 3 * MP_TEST_TIMEOUT_SCALE },
					     ready[0], "the second waiter");
	close(ready[0]);
	close(ready[1]);

	mp_test_take_cpu0();

	/* H goes on, lets the guard go (which wakes A), and ends; we spin meanwhile, so A cannot run. */
	kill(mp_process_pid(h), SIGCONT);
	while (mp_test_pid_running(mp_process_pid(h)))
		continue;
	mp_process_kill(a);
	/* Take the guard, and hold it (the nap) while A dies: the kernel then wakes nobody for it. */
	mp_fault_inject("nap:holding-guard", 0, EIO);
	int rc = mp_queue_put_int(q, 8, 5);
	mp_fault_clear();

	mp_test_leave_cpu0();
	mp_expect_status(rc, 0);
	join(h, 0);
	int first = -1000;
	cr_assert_eq(mp_process_join(a, 20), 0);
	mp_process_exitcode(a, &first);
	mp_process_free(a);
	cr_assert_neq(first, 3, "the first waiter could not be put on CPU 0 at SCHED_IDLE");
	int code = -1000;
	cr_assert_eq(mp_process_join(b, 20), 0);
	mp_process_exitcode(b, &code);
	mp_process_free(b);
	int64_t v;
	while (mp_queue_get_int(q, &v, 0) == 0)
		continue;
	return first == -SIGKILL ? code : -1;
}

MP_TEST(queue, a_waiter_killed_as_it_is_handed_the_guard_strands_no_other, 2, "The guard, and a holder that dies")
{
	/*
	 * Two puts, A then B, wait for the guard that H holds. H lets it go,
	 * which wakes A; A is killed before it runs (it shares CPU 0 with this
	 * process at SCHED_IDLE), and this process takes the guard and holds it
	 * while A dies. B must still get the guard. glibc's unlock wakes one
	 * sleeper, A, and the kernel wakes another for a waiter that dies so
	 * only if the guard is free at that instant.
	 */
	mp_queue *q = new_queue(0);
	int code = -1;
	for (int attempt = 0; attempt < 5 && code < 0; attempt++)
		code = hand_the_guard_to_a_dying_waiter(q);
	cr_assert_neq(code, -1, "in 5 tries, the first waiter always ran before it could be killed: is the machine "
		      "too busy?");
	cr_assert_eq(code, 0, "the second waiter never got the guard (exit %d; 2: its put timed out after 3 s): an "
		     "unlock must wake every sleeper on the guard when any sleeps", code);
	mp_queue_free(q);
}

/* ---- Bytes written over ---- */

/* The first byte of the ring of the one queue this process has: after its page of books (the mapping in /proc). */
static unsigned char *find_the_ring(void)
{
	FILE *f = fopen("/proc/self/maps", "re");
	cr_assert(f);
	char line[512];
	unsigned long start = 0;
	while (fgets(line, sizeof line, f))
		if (strstr(line, "memfd:mp-queue") && sscanf(line, "%lx-", &start) == 1)
			break;
	fclose(f);
	cr_assert(start, "no mapping named memfd:mp-queue in /proc/self/maps");
	return (unsigned char *)start + 4096;
}

MP_TEST(queue, a_record_written_over_is_refused_and_kept, 2, "When a process dies mid-message")
{
	/*
	 * Every process that holds the queue can write its memory, and one with a
	 * stray pointer may. A get trusts a record only if its check matches and
	 * its length lies within the books: otherwise MP_EBADMSG, nothing read
	 * past the tail, nothing removed.
	 */
	mp_queue *q = new_queue(0);
	mp_expect_status(mp_queue_put(q, "0123456789abcdef", 16, 0), 0);
	uint64_t *record = (uint64_t *)find_the_ring(); /* len, then type and check in one word */
	uint64_t len = record[0], rest = record[1];
	cr_assert_eq(len, 16, "the ring should start with the record of the message just put");
	void *m;
	size_t n;
	record[1] ^= 1ULL << 40; /* the check */
	mp_expect_status(mp_queue_get(q, &m, &n, 0), MP_EBADMSG);
	record[1] = rest;
	/* A length past the tail with a check that matches it: a writer that knew the formula. */
	uint32_t type = (uint32_t)rest;
	uint64_t bad = len + 8;
	record[0] = bad;
	record[1] = type | (uint64_t)(0x3151504du ^ (uint32_t)bad ^ (type << 24)) << 32;
	cr_assert_eq(record[1] >> 32, (rest >> 32) ^ (uint32_t)len ^ (uint32_t)bad, "the test's copy of CHECK() is wrong");
	mp_expect_status(mp_queue_get(q, &m, &n, 0), MP_EBADMSG);
	record[0] = len;
	record[1] = rest;
	cr_assert_eq(mp_queue_qsize(q), 1, "a refused record must stay in the queue");
	mp_expect_status(mp_queue_get(q, &m, &n, 0), 0);
	cr_assert(n == 16 && memcmp(m, "0123456789abcdef", 16) == 0, "once mended, the message comes out as it went in");
	free(m);
	mp_queue_free(q);
}

MP_TARGET(get_one_after_a_pause)(const void *arg, size_t len)
{
	(void)len;
	const struct job *j = arg;
	sleep_seconds(j->pause);
	void *m = NULL;
	size_t n;
	int rc = mp_queue_get(j->q, &m, &n, 10);
	free(m);
	return rc == 0 ? 0 : 1;
}

/* Joinable: mark one task done after a pause. */
MP_TARGET(task_done_after_a_pause)(const void *arg, size_t len)
{
	(void)len;
	const struct job *j = arg;
	sleep_seconds(j->pause);
	return mp_queue_task_done(j->q) == 0 ? 0 : 1;
}

/* Joinable: exit 0 if join(j->pause seconds) returns 0. */
MP_TARGET(join_the_queue)(const void *arg, size_t len)
{
	(void)len;
	const struct job *j = arg;
	return mp_queue_join(j->q, j->pause) == 0 ? 0 : 1;
}

/* Put integers with timeout 0 until the queue is full; exit with how many went in. */
MP_TARGET(put_until_full)(const void *arg, size_t len)
{
	(void)len;
	const struct job *j = arg;
	int n = 0, rc;
	while ((rc = mp_queue_put_int(j->q, n, 0)) == 0 && n < 200)
		n++;
	return rc == MP_EFULL ? n : 255;
}

/* Hold the queue open for a while without putting: no end-of-stream meanwhile. */
MP_TARGET(hold_the_queue_open)(const void *arg, size_t len)
{
	(void)len;
	const struct job *j = arg;
	sleep_seconds(j->pause);
	return 0;
}

static bool readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	return poll(&p, 1, 0) == 1 && (p.revents & (POLLIN | POLLHUP));
}

MP_TEST(queue, new_refuses_bad_arguments_and_leaves_out_untouched, 1, "Bounded queues: a count in the books")
{
	mp_expect_status(mp_queue_new(NULL, 0), -EINVAL);
	mp_expect_status(mp_queue_new_joinable(NULL, 0), -EINVAL);
	mp_queue *q = (mp_queue *)&q; /* a sentinel: a failed new must not write it */
	mp_expect_status(mp_fault_inject("calloc", 0, ENOMEM), 0);
	int rc = mp_queue_new(&q, 1);
	mp_fault_clear();
	mp_expect_status(rc, -ENOMEM);
	cr_assert(q == (mp_queue *)&q, "mp_queue_new changed *out although it failed");
	/* Any bound is fine: Python's maxsize has no limit but memory. */
	mp_expect_status(mp_queue_new(&q, 100000), 0);
	for (int64_t i = 0; i < 99999; i++)
		mp_expect_status(mp_queue_put_int(q, i, 0), 0);
	cr_assert(!mp_queue_full(q), "a queue of 100000 places is not full with 99999");
	mp_expect_status(mp_queue_put_int(q, 99999, 0), 0);
	cr_assert(mp_queue_full(q), "a queue of 100000 places is full with 100000");
	mp_expect_status(mp_queue_put_int(q, 0, 0), MP_EFULL);
	mp_queue_free(q);
	mp_queue_free(NULL); /* NULL is fine */
}

MP_TEST(queue, a_queue_that_cannot_be_made_says_why_and_leaks_nothing, 2, "What the kernel makes atomic")
{
	static const struct { const char *call; int err; size_t maxsize; } faults[] = {
		{ "calloc", ENOMEM, 0 }, { "pipe2", EMFILE, 4 }, { "pipe2", ENFILE, 1 }, { "memfd_create", EMFILE, 0 },
		{ "memfd_create", ENFILE, 3 }, { "ftruncate", ENOSPC, 0 }, { "mmap", ENOMEM, 0 }, { "mmap", ENOMEM, 2 },
	};
	for (size_t i = 0; i < sizeof faults / sizeof faults[0]; i++) {
		for (int joinable = 0; joinable < 2; joinable++) {
			mp_queue *q = (mp_queue *)&q;
			mp_expect_status(mp_fault_inject(faults[i].call, 0, faults[i].err), 0);
			int rc = joinable ? mp_queue_new_joinable(&q, faults[i].maxsize) : mp_queue_new(&q, faults[i].maxsize);
			mp_fault_clear();
			cr_assert(rc == -faults[i].err, "with %s failing (%s), mp_queue_new%s(maxsize %zu) returned %s, "
				  "expected the failure passed on", faults[i].call, strerror(faults[i].err),
				  joinable ? "_joinable" : "", faults[i].maxsize, mp_err_name(rc));
			cr_assert(q == (mp_queue *)&q, "a failed mp_queue_new changed *out");
		}
	}
	/* The descriptors made before the failure are closed: the check after the test counts them. */
	mp_queue *q = new_queue(1);
	put_bytes(q, 100, 7); /* and the next queue works */
	expect_message(q, 100, 7);
	mp_queue_free(q);
}

/* Put one large message after another, for ever: a kill lands in the middle of one sooner or later. */
MP_TARGET(put_large_for_ever)(const void *arg, size_t len)
{
	(void)len;
	const struct job *j = arg;
	unsigned char *m = make_message(j->id, 0, j->size);
	while (m && mp_queue_put(j->q, m, j->size, MP_FOREVER) == 0)
		continue;
	return 1;
}

MP_TEST(queue, a_put_killed_half_way_leaves_no_trace, 3, "When a process dies mid-message")
{
	/* A queue of one place; a producer killed while it copies 16 MiB in must not keep the place, nor count a task. */
	enum { SIZE = 16 << 20 };
	srand((unsigned)getpid());
	for (int round = 0; round < 4; round++) {
		mp_queue *q = NULL;
		mp_expect_status(mp_queue_new_joinable(&q, 1), 0);
		mp_process *p = start("put_large_for_ever", &(struct job){ .q = q, .id = 3, .size = SIZE });
		int64_t got = 0;
		/* Take a few, so that the producer is mid-copy, blocked, or between puts when the kill comes. */
		for (int i = 0; i < round; i++) {
			expect_message(q, SIZE, 0);
			mp_expect_status(mp_queue_task_done(q), 0);
		}
		usleep((useconds_t)(rand() % 20000));
		mp_process_kill(p);
		int code = 0;
		mp_expect_status(mp_process_join(p, 10), 0);
		mp_expect_status(mp_process_exitcode(p, &code), 0);
		mp_process_free(p);
		size_t left = mp_queue_qsize(q);
		cr_assert(left <= 1, "round %d: qsize is %zu in a queue of one place", round, left);
		for (void *m; mp_queue_get(q, &m, &(size_t){ 0 }, 0) == 0; got++) {
			int id, seq;
			cr_assert(check_message(m, SIZE, &id, &seq) == 0 && id == 3, "round %d: a message came out torn", round);
			free(m);
			mp_expect_status(mp_queue_task_done(q), 0);
		}
		cr_assert_eq((size_t)got, left, "round %d: qsize said %zu, but %lld came out", round, left, (long long)got);
		int rc = mp_queue_join(q, 0);
		cr_assert(rc == 0, "round %d: with every message taken and done, join(0) returned %s: the killed put "
			  "left an unfinished task behind", round, mp_err_name(rc));
		rc = mp_queue_put_int(q, 1, 0);
		cr_assert(rc == 0, "round %d: the queue is empty, yet put(0) returned %s: the killed put kept the "
			  "only place", round, mp_err_name(rc));
		mp_queue_free(q);
	}
}

MP_TEST(queue, bad_arguments_are_refused_and_change_nothing, 1, "Typed messages and why not pickle")
{
	mp_queue *q = new_queue(2), *plain = new_queue(0);
	void *m = NULL;
	size_t n = 0;
	int64_t v;
	mp_expect_status(mp_queue_put(NULL, "x", 1, 0), -EINVAL);
	mp_expect_status(mp_queue_put(q, NULL, 5, 0), -EINVAL);
	mp_expect_status(mp_queue_put(q, "x", 1, NAN), -EINVAL);
	mp_expect_status(mp_queue_put_int(q, 1, NAN), -EINVAL);
	mp_expect_status(mp_queue_put_str(q, NULL, 0), -EINVAL);
	cr_assert_eq(mp_queue_qsize(q), 0, "a refused put must not count");
	mp_expect_status(mp_queue_put_int(q, 1, 0), 0);
	mp_expect_status(mp_queue_put_int(q, 2, 0), 0); /* both places were still free */
	mp_expect_status(mp_queue_get(NULL, &m, &n, 0), -EINVAL);
	mp_expect_status(mp_queue_get(q, NULL, &n, 0), -EINVAL);
	mp_expect_status(mp_queue_get(q, &m, NULL, 0), -EINVAL);
	mp_expect_status(mp_queue_get(q, &m, &n, NAN), -EINVAL);
	mp_expect_status(mp_queue_get_int(q, NULL, 0), -EINVAL);
	mp_expect_status(mp_queue_get_double(q, NULL, 0), -EINVAL);
	mp_expect_status(mp_queue_get_str(q, NULL, 0), -EINVAL);
	cr_assert_eq(mp_queue_qsize(q), 2, "a refused get must not take a message");
	mp_expect_status(mp_queue_get_int(q, &v, 0), 0);
	cr_assert_eq(v, 1, "a refused get must not take a message");
	mp_expect_status(mp_queue_get_int(q, &v, 0), 0);
	cr_assert_eq(v, 2);
	mp_expect_status(mp_queue_set_max_message(NULL, 10), -EINVAL);
	mp_expect_status(mp_queue_close(NULL), -EINVAL);
	mp_expect_status(mp_queue_task_done(NULL), -EINVAL);
	mp_expect_status(mp_queue_join(NULL, 0), -EINVAL);
	cr_assert(mp_queue_fileno(NULL) < 0, "fileno(NULL) must be an error, not a descriptor");
	cr_assert(mp_queue_qsize(NULL) == 0 && mp_queue_empty(NULL) && !mp_queue_full(NULL),
		  "no queue holds nothing: qsize 0, empty, not full");
	cr_assert(mp_queue_fileno(plain) >= 0);
	mp_queue_free(q);
	mp_queue_free(plain);
}

MP_TEST(queue, a_message_of_the_wrong_type_is_removed_and_the_queue_goes_on, 2, "Typed messages and why not pickle")
{
	mp_queue *q = new_queue(4);
	int64_t eight = 8, v = 0;
	double d = 0;
	char *s = NULL;
	mp_expect_status(mp_queue_put_str(q, "text", 0), 0);
	mp_expect_status(mp_queue_put_int(q, 11, 0), 0);
	mp_expect_status(mp_queue_put(q, &eight, sizeof eight, 0), 0); /* 8 plain bytes are not an integer */
	mp_expect_status(mp_queue_put_double(q, 0.5, 0), 0);
	mp_expect_status(mp_queue_get_int(q, &v, 0), MP_ETYPE);
	mp_expect_status(mp_queue_get_int(q, &v, 0), 0);
	cr_assert_eq(v, 11, "after MP_ETYPE the next get takes the next message");
	mp_expect_status(mp_queue_get_int(q, &v, 0), MP_ETYPE);
	mp_expect_status(mp_queue_get_str(q, &s, 0), MP_ETYPE);
	cr_assert_eq(mp_queue_qsize(q), 0, "a message refused with MP_ETYPE is removed all the same");
	mp_expect_status(mp_queue_get_int(q, &v, 0), MP_EEMPTY);
	/* ...and gives back its place: four puts go through at once. */
	for (int i = 0; i < 4; i++)
		mp_expect_status(mp_queue_put_double(q, i, 0), 0);
	mp_expect_status(mp_queue_get_double(q, &d, 0), 0);
	cr_assert(d == 0.0);
	mp_expect_status(mp_queue_get_str(q, &s, 0), MP_ETYPE);
	mp_queue_free(q);
}

MP_TEST(queue, the_size_cap_is_inclusive_both_ways, 2, "Getting: copy, wake, commit")
{
	static const size_t caps[] = { 1000, 100000 }; /* one inline, one in a memfd */
	for (int i = 0; i < 2; i++) {
		mp_queue *q = new_queue(2);
		size_t cap = caps[i];
		unsigned char *m = make_message(0, 1, cap + 1);
		mp_expect_status(mp_queue_set_max_message(q, cap), 0);
		mp_expect_status(mp_queue_put(q, m, cap + 1, 0), -EMSGSIZE);
		cr_assert_eq(mp_queue_qsize(q), 0, "a put refused for its size must not count");
		free(m);
		put_bytes(q, cap, 1); /* exactly the cap: allowed */
		put_bytes(q, cap, 2);
		expect_message(q, cap, 1);
		mp_expect_status(mp_queue_set_max_message(q, cap - 1), 0);
		void *got = NULL;
		size_t n;
		mp_expect_status(mp_queue_get(q, &got, &n, 0), MP_EBADMSG);
		cr_assert_eq(mp_queue_qsize(q), 0, "a refused message has left the queue");
		/* Its place came back: two puts go through at once. */
		mp_expect_status(mp_queue_put_int(q, 1, 0), 0);
		mp_expect_status(mp_queue_put_int(q, 2, 0), 0);
		mp_queue_free(q);
	}
}

MP_TEST(queue, a_bounded_queue_holds_exactly_maxsize, 3, "Bounded queues: a count in the books")
{
	static const size_t sizes[] = { 1, 5, 64 };
	for (int i = 0; i < 3; i++) {
		size_t max = sizes[i];
		mp_queue *q = new_queue(max);
		for (size_t k = 0; k < max; k++) {
			int rc = mp_queue_put_int(q, (int64_t)k, 0);
			cr_assert(rc == 0, "put %zu of a queue of %zu returned %s, expected 0", k + 1, max, mp_err_name(rc));
		}
		cr_assert(mp_queue_full(q), "a queue of %zu holding %zu is full", max, max);
		cr_assert_eq(mp_queue_qsize(q), max);
		mp_expect_status(mp_queue_put_int(q, -1, 0), MP_EFULL);
		cr_assert_eq(mp_queue_qsize(q), max, "a put refused as full must not count");
		for (size_t k = 0; k < max; k++) {
			int64_t v = -1;
			mp_expect_status(mp_queue_get_int(q, &v, 0), 0);
			cr_assert_eq(v, (int64_t)k);
		}
		cr_assert(mp_queue_empty(q) && !mp_queue_full(q) && mp_queue_qsize(q) == 0);
		for (size_t k = 0; k < max; k++)
			mp_expect_status(mp_queue_put_int(q, (int64_t)k, 0), 0);
		mp_expect_status(mp_queue_close(q), 0);
		cr_assert(mp_queue_full(q), "a bounded queue stays full when this process closes it");
		mp_queue_free(q);
	}
	/* Three producers at once fill it to exactly its bound, not one more. */
	mp_queue *q = new_queue(20);
	mp_process *p[3];
	for (int i = 0; i < 3; i++)
		p[i] = start("put_until_full", &(struct job){ .q = q });
	int total = 0;
	for (int i = 0; i < 3; i++) {
		int rc = mp_process_join(p[i], 20), code = -1;
		cr_assert(rc == 0, "a producer did not end");
		mp_process_exitcode(p[i], &code);
		cr_assert(code >= 0 && code <= 20, "a producer's puts ended in an error, not MP_EFULL");
		total += code;
		mp_process_free(p[i]);
	}
	cr_assert_eq(total, 20, "three producers put %d messages into a queue of 20", total);
	cr_assert_eq(mp_queue_qsize(q), 20);
	mp_queue_free(q);
}

MP_TEST(queue, put_on_a_full_queue_honours_its_timeout_under_signals, 2, "Timeouts: empty and full")
{
	static const size_t bounds[] = { 1, 3 };
	for (int i = 0; i < 2; i++) {
		mp_queue *q = new_queue(bounds[i]);
		for (size_t k = 0; k < bounds[i]; k++)
			mp_expect_status(mp_queue_put_int(q, 0, 0), 0);
		signal_storm(true);
		double t0 = mp_test_now();
		int rc = mp_queue_put(q, "x", 1, 0.3);
		double took = mp_test_now() - t0;
		signal_storm(false);
		cr_assert(rc == MP_EFULL, "a put(0.3) on a full queue of %zu, with signals arriving, returned %s, "
			  "expected MP_EFULL", bounds[i], mp_err_name(rc));
		cr_assert(took >= 0.29 && took < 0.3 + 1.7 * MP_TEST_TIMEOUT_SCALE, "with signals arriving, put(0.3) on a full queue of %zu took %.3f s",
			  bounds[i], took);
		mp_queue_free(q);
	}
}

MP_TEST(queue, waits_without_a_timeout_survive_signals, 3, "Timeouts: empty and full")
{
	int64_t v = 0;
	/* get(MP_FOREVER) on an empty queue; a child puts 0.3 s later. */
	mp_queue *q = new_queue(0);
	mp_process *p = start("put_one_after_a_pause", &(struct job){ .q = q, .pause = 0.3 });
	signal_storm(true);
	int rc = mp_queue_get_int(q, &v, MP_FOREVER);
	signal_storm(false);
	mp_expect_status(rc, 0);
	cr_assert_eq(v, 42, "get(MP_FOREVER) must wait through the signals for the child's message");
	join(p, 0);
	mp_queue_free(q);

	/* put(MP_FOREVER) on a full bounded queue; a child takes one 0.3 s later. */
	q = new_queue(1);
	mp_expect_status(mp_queue_put_int(q, 1, 0), 0);
	p = start("get_one_after_a_pause", &(struct job){ .q = q, .pause = 0.3 });
	signal_storm(true);
	rc = mp_queue_put_int(q, 2, MP_FOREVER);
	signal_storm(false);
	mp_expect_status(rc, 0);
	join(p, 0);
	mp_expect_status(mp_queue_put_int(q, 3, 0), MP_EFULL); /* the put that waited took the freed place */
	mp_expect_status(mp_queue_get_int(q, &v, 0), 0);
	cr_assert_eq(v, 2);
	mp_queue_free(q);

	/* join(MP_FOREVER); a child marks the one task done 0.3 s later. */
	mp_expect_status(mp_queue_new_joinable(&q, 0), 0);
	mp_expect_status(mp_queue_put_int(q, 1, 0), 0);
	mp_expect_status(mp_queue_get_int(q, &v, 0), 0);
	p = start("task_done_after_a_pause", &(struct job){ .q = q, .pause = 0.3 });
	signal_storm(true);
	rc = mp_queue_join(q, MP_FOREVER);
	signal_storm(false);
	mp_expect_status(rc, 0);
	join(p, 0);
	mp_queue_free(q);
}

MP_TEST(queue, waits_sleep_rather_than_spin, 1, "Sleeping, waking, and a waker that dies")
{
	mp_queue *q = NULL;
	mp_expect_status(mp_queue_new_joinable(&q, 1), 0);
	mp_expect_status(mp_queue_put_int(q, 1, 0), 0);
	static const char *what[] = { "join(0.3) with a task undone", "put(0.3) on a full queue", "get(0.3) on an empty queue" };
	for (int i = 0; i < 3; i++) {
		int64_t v;
		if (i == 2)
			mp_expect_status(mp_queue_get_int(q, &v, 0), 0);
		double cpu = mp_test_cpu_seconds();
		int rc = i == 0 ? mp_queue_join(q, 0.3) : i == 1 ? mp_queue_put_int(q, 2, 0.3) : mp_queue_get_int(q, &v, 0.3);
		cpu = mp_test_cpu_seconds() - cpu;
		mp_expect_status(rc, i == 0 ? MP_ETIMEDOUT : i == 1 ? MP_EFULL : MP_EEMPTY);
		cr_assert(cpu < 0.15 * MP_TEST_TIMEOUT_SCALE, "%s used %.3f s of CPU: a wait must sleep in the kernel (a futex, ppoll), not spin",
			  what[i], cpu);
	}
	mp_queue_free(q);
}

MP_TEST(queue, join_honours_its_timeout_under_signals, 2, "Joinable queues")
{
	mp_queue *q = NULL;
	mp_expect_status(mp_queue_new_joinable(&q, 0), 0);
	mp_expect_status(mp_queue_put_int(q, 1, 0), 0);
	double t0 = mp_test_now();
	mp_expect_status(mp_queue_join(q, 0), MP_ETIMEDOUT);
	cr_assert(mp_test_now() - t0 < 0.1 * MP_TEST_TIMEOUT_SCALE, "join(0) with a task undone must not wait");
	mp_expect_status(mp_queue_join(q, NAN), -EINVAL);
	signal_storm(true);
	t0 = mp_test_now();
	int rc = mp_queue_join(q, 0.3);
	double took = mp_test_now() - t0;
	signal_storm(false);
	mp_expect_status(rc, MP_ETIMEDOUT);
	cr_assert(took >= 0.29 && took < 0.3 + 1.7 * MP_TEST_TIMEOUT_SCALE, "with signals arriving, join(0.3) took %.3f s", took);
	mp_queue_free(q);
}

MP_TEST(queue, task_done_counts_every_put_and_wakes_every_joiner, 3, "Joinable queues")
{
	mp_queue *q = NULL;
	mp_expect_status(mp_queue_new_joinable(&q, 0), 0);
	for (int i = 0; i < 3; i++)
		mp_expect_status(mp_queue_put_int(q, i, 0), 0);
	mp_process *joiner[2];
	for (int i = 0; i < 2; i++)
		joiner[i] = start("join_the_queue", &(struct job){ .q = q, .pause = 5 });
	int64_t v;
	for (int i = 0; i < 3; i++)
		mp_expect_status(mp_queue_get_int(q, &v, 0), 0);
	mp_expect_status(mp_queue_task_done(q), 0);
	mp_expect_status(mp_queue_task_done(q), 0);
	mp_expect_status(mp_queue_join(q, 0), MP_ETIMEDOUT); /* one of three still undone */
	mp_expect_status(mp_process_join(joiner[0], 0.2), MP_ETIMEDOUT);
	double t0 = mp_test_now();
	mp_expect_status(mp_queue_task_done(q), 0);
	for (int i = 0; i < 2; i++)
		join(joiner[i], 0);
	cr_assert(mp_test_now() - t0 < 3 * MP_TEST_TIMEOUT_SCALE, "the last task_done must wake every joiner at once");
	mp_expect_status(mp_queue_join(q, 0), 0);
	mp_expect_status(mp_queue_task_done(q), MP_ETASKDONE);
	mp_expect_status(mp_queue_join(q, 0), 0); /* the refused task_done changed nothing */
	mp_expect_status(mp_queue_put_int(q, 9, 0), 0);
	mp_expect_status(mp_queue_join(q, 0), MP_ETIMEDOUT);
	mp_queue_free(q);
}

MP_TEST(queue, the_end_comes_only_after_the_last_producer_and_stays, 3, "Closing, and the end of the stream")
{
	for (int bounded = 0; bounded < 2; bounded++) {
		mp_queue *q = new_queue(bounded ? 3 : 0);
		mp_process *quiet = start("hold_the_queue_open", &(struct job){ .q = q, .pause = 0.6 });
		mp_process *p = start("put_one_after_a_pause", &(struct job){ .q = q, .pause = 0.2 });
		mp_expect_status(mp_queue_close(q), 0);
		int64_t v = 0;
		mp_expect_status(mp_queue_get_int(q, &v, 0), MP_EEMPTY); /* producers still hold it */
		mp_expect_status(mp_queue_get_int(q, &v, 5), 0);
		cr_assert_eq(v, 42);
		join(p, 0);
		/* One producer is gone, the quiet one is not: still no end. */
		mp_expect_status(mp_queue_get_int(q, &v, 0.1), MP_EEMPTY);
		mp_expect_status(mp_queue_get_int(q, &v, 5), MP_EEOF);
		join(quiet, 0);
		mp_expect_status(mp_queue_get_int(q, &v, 0), MP_EEOF);
		mp_expect_status(mp_queue_get_int(q, &v, MP_FOREVER), MP_EEOF);
		mp_queue_free(q);
	}
}

MP_TEST(queue, fileno_is_readable_when_a_message_or_the_end_waits, 1, "Closing, and the end of the stream")
{
	mp_queue *q = new_queue(0);
	int fd = mp_queue_fileno(q);
	cr_assert(fd >= 0);
	cr_assert(!readable(fd), "the descriptor of an empty queue must not be readable");
	mp_expect_status(mp_queue_put_int(q, 1, 0), 0);
	cr_assert(readable(fd), "a message waits: the descriptor must be readable");
	int64_t v;
	mp_expect_status(mp_queue_put_int(q, 3, 0), 0);
	mp_expect_status(mp_queue_get_int(q, &v, 0), 0);
	cr_assert(readable(fd), "one of two messages was taken: the other waits, and the descriptor must stay readable");
	mp_expect_status(mp_queue_get_int(q, &v, 0), 0);
	cr_assert(!readable(fd), "the queue is empty again: the descriptor must not be readable");
	mp_expect_status(mp_queue_put_int(q, 2, 0), 0);
	mp_expect_status(mp_queue_close(q), 0);
	cr_assert(readable(fd), "a message waits, and every producer is gone: the descriptor must be readable");
	/* The last get empties the doorbell of a pipe nobody can write to any more: it must not wait for more. */
	mp_expect_status(mp_queue_get_int(q, &v, 0), 0);
	cr_assert_eq(v, 2);
	cr_assert(readable(fd), "every producer is gone: the end of the stream must make it readable");
	mp_expect_status(mp_queue_get_int(q, &v, 0), MP_EEOF);
	mp_queue_free(q);
}

MP_TEST(queue, empty_full_and_qsize_follow_an_unbounded_queue, 1, "Timeouts: empty and full")
{
	mp_queue *q = new_queue(0);
	cr_assert(mp_queue_empty(q) && !mp_queue_full(q) && mp_queue_qsize(q) == 0, "a new queue is empty");
	mp_expect_status(mp_queue_put(q, NULL, 0, 0), 0);
	cr_assert(!mp_queue_empty(q), "an empty message is still a message: the queue is not empty");
	cr_assert_eq(mp_queue_qsize(q), 1);
	void *m;
	size_t n;
	mp_expect_status(mp_queue_get(q, &m, &n, 0), 0);
	cr_assert(mp_queue_empty(q) && mp_queue_qsize(q) == 0);
	static char kib[1024];
	for (int i = 0; i < 5000; i++)
		mp_expect_status(mp_queue_put(q, kib, sizeof kib, 0), 0);
	cr_assert(!mp_queue_full(q), "an unbounded queue holding 5 MB is not full");
	cr_assert_eq(mp_queue_qsize(q), 5000);
	mp_expect_status(mp_queue_close(q), 0);
	cr_assert(!mp_queue_full(q) && mp_queue_qsize(q) == 5000, "closing changes neither full nor qsize");
	mp_queue_free(q);
}

MP_TEST(queue, a_failed_get_takes_nothing, 2, "Getting: copy, wake, commit")
{
	mp_queue *q = new_queue(1);
	put_bytes(q, 5000, 5);
	for (int forever = 0; forever < 2; forever++) {
		void *m = (void *)&q;
		size_t n = 7;
		mp_expect_status(mp_fault_inject("malloc", 0, ENOMEM), 0);
		int rc = mp_queue_get(q, &m, &n, forever ? MP_FOREVER : 1);
		mp_fault_clear();
		cr_assert(rc == -ENOMEM, "with malloc() failing, get returned %s, expected -ENOMEM", mp_err_name(rc));
		cr_assert(m == (void *)&q && n == 7, "a get that failed must leave its outputs alone");
		cr_assert_eq(mp_queue_qsize(q), 1, "a get that failed must not take the message");
		mp_expect_status(mp_queue_put_int(q, 6, 0), MP_EFULL); /* nor give back its place */
	}
	expect_message(q, 5000, 5);
	mp_expect_status(mp_queue_get_int(q, &(int64_t){ 0 }, 0), MP_EEMPTY);
	mp_queue_free(q);
}

/* Close descriptor 0, keeping a copy of it to put back: a process may well run without stdin. */
static int hide_stdin(void)
{
	int saved = fcntl(0, F_DUPFD_CLOEXEC, 3);
	cr_assert(saved >= 0, "cannot keep a copy of stdin: %s", strerror(errno));
	close(0);
	return saved;
}

static void restore_stdin(int saved)
{
	dup2(saved, 0);
	close(saved);
}

static bool fd_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

MP_TEST(queue, descriptor_0_is_a_descriptor_like_any_other, 1, "What the kernel makes atomic")
{
	int saved = hide_stdin();
	/* The queue's read end lands on 0, the lowest free number; freeing the queue must close it. */
	mp_queue *q = new_queue(0);
	cr_assert_eq(mp_queue_fileno(q), 0, "with descriptor 0 free, the queue's first descriptor should be 0");
	int64_t v = 0;
	mp_expect_status(mp_queue_put_int(q, 3, 0), 0);
	mp_expect_status(mp_queue_get_int(q, &v, 0), 0);
	cr_assert_eq(v, 3);
	mp_queue_free(q);
	cr_assert(!fd_open(0), "mp_queue_free() left descriptor 0 open: 0 is a valid descriptor, test for >= 0");
	restore_stdin(saved);
	/* A creation that fails before it has a descriptor closes none, descriptor 0 included. */
	mp_expect_status(mp_fault_inject("pipe2", 0, EMFILE), 0);
	int failed = mp_queue_new(&q, 4);
	mp_fault_clear();
	mp_expect_status(failed, -EMFILE);
	cr_assert(fd_open(0), "a mp_queue_new() that failed before it made a descriptor closed descriptor 0");
	saved = hide_stdin();
	/* The same on the way out of a failed creation. */
	static const char *calls[] = { "memfd_create", "mmap" };
	for (int i = 0; i < 2; i++) {
		mp_expect_status(mp_fault_inject(calls[i], 0, ENOMEM), 0);
		int rc = mp_queue_new(&q, 4);
		mp_fault_clear();
		mp_expect_status(rc, -ENOMEM);
		cr_assert(!fd_open(0), "a mp_queue_new() that failed at %s() left descriptor 0 open", calls[i]);
	}
	restore_stdin(saved);
}
