/* worker.c: the worker process: take chunks, run the task on each record, put each chunk's answers in the pool's queue. */
#define _GNU_SOURCE
#include "pool_internal.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A buffer that grows as answers are added to it. */
struct buffer {
	char *bytes;
	size_t len, cap;
};

static int append(struct buffer *b, const void *bytes, size_t len)
{
	if (len == 0)
		return 0; /* (bytes may then be NULL, which memcpy() must not get) */
	if (b->len + len > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + len)
			cap *= 2;
		char *grown = mp__fault("realloc") ? NULL : realloc(b->bytes, cap);
		if (!grown)
			return -ENOMEM;
		b->bytes = grown;
		b->cap = cap;
	}
	memcpy(b->bytes + b->len, bytes, len);
	b->len += len;
	return 0;
}

/*
 * Run @fn on one record and append its answer to @reply: a status, a length,
 * then the bytes the task gave back, or the message it failed with.
 */
static int answer_one(mp_task_fn fn, const char *name, const void *record, size_t size,
		      struct buffer *reply)
{
	/* TODO: your code goes here.
	 * Hint: call fn(record, size, &out) with a zeroed mp_task_out. A
	 * status of 0 sends out.data and out.len; any other status sends the
	 * message instead (out.message, or one of your own when the task gave
	 * none, naming the task and what it returned). Append a struct
	 * answer_header, then the bytes; free what the task allocated.
	 * Lesson 05, "How tasks and results flow".
	 */
	return MP_ETODO;
}

/* What the worker's loop works with. */
struct me {
	mp_conn *conn;                /* chunks come in here */
	mp_queue *answers;            /* and their answers go out here */
	size_t max_answer;            /* the largest answer message our queue takes (for the message that says so) */
	uint64_t begun;               /* chunks begun */
	volatile uint64_t *progress;  /* the pool's copy of begun, in memory we share */
};

/* Append one record's failure, made by the worker (not the task): the pool reports @code as it is. */
static int append_failure(struct buffer *reply, int code, const char *why)
{
	struct answer_header a = { .status = code, .by_worker = 1, .len = strlen(why) };
	int rc = append(reply, &a, sizeof a);
	return rc == 0 ? append(reply, why, a.len) : rc;
}

/* Put @reply, a chunk's answers, in the pool's queue, after the time the chunk took. */
static int put_answers(struct me *me, struct buffer *reply, uint64_t took)
{
	memcpy(reply->bytes, &took, sizeof took);
	return mp_queue_put(me->answers, reply->bytes, reply->len, MP_FOREVER);
}

/*
 * Run the chunk of @count records at @records, and put its answers in one
 * message, after the time it took (*ran_ns too): the pool keeps a worker's
 * socket stocked only while its chunks are quick.
 */
static int run_chunk(struct me *me, mp_task_fn fn, const char *name, const char *records, size_t count,
		     size_t size, uint64_t *ran_ns)
{
	struct buffer reply = { 0 };
	uint64_t took = 0;
	int rc = append(&reply, &took, sizeof took); /* the time goes here once it is known */
	char why[MP_TASK_NAME_MAX + 96];
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (size_t i = 0; i < count && rc == 0; i++) {
		if (fn) {
			rc = answer_one(fn, name, records + i * size, size, &reply);
		} else {
			/* Only under spawn could a worker lack a task its parent has. */
			snprintf(why, sizeof why, "no task is registered as '%s' in the worker", name);
			rc = append_failure(&reply, MP_ENOTASK, why);
		}
	}
	took = mp__ns_since(&t0);
	if (rc == 0)
		rc = put_answers(me, &reply, took);
	if (rc == -EMSGSIZE) {
		/* Past the queue's cap, which is the pool's max_answer: each record fails instead, and says why. */
		snprintf(why, sizeof why, "its answers came to %zu bytes, past the pool's cap of %zu (max_answer)",
			 reply.len, me->max_answer);
		reply.len = sizeof took;
		rc = 0;
		for (size_t i = 0; i < count && rc == 0; i++)
			rc = append_failure(&reply, -EMSGSIZE, why);
		if (rc == 0)
			rc = put_answers(me, &reply, took);
	}
	free(reply.bytes);
	*ran_ns = took;
	return rc;
}

/*
 * A RUN message: @msg is a struct run_header, the task's name, then the
 * records, in chunks. Each chunk is counted in me->progress (which the pool
 * reads) as it begins, and answered as it ends: if we die, the pool knows
 * which one was running, and has the answers to those before it. After a
 * slow chunk, the rest of the message goes back unbegun.
 */
static int run_chunks(struct me *me, const char *msg, size_t len)
{
	struct run_header h;
	memcpy(&h, msg, sizeof h);
	char name[MP_TASK_NAME_MAX + 1];
	if (h.name_len > MP_TASK_NAME_MAX || h.chunk == 0 || sizeof h + h.name_len + h.count * h.size != len)
		return MP_EBADMSG;
	memcpy(name, msg + sizeof h, h.name_len);
	name[h.name_len] = '\0';
	const char *records = msg + sizeof h + h.name_len;
	mp_task_fn fn = mp_task_find(name);
	int rc = 0;
	bool slow = false;
	for (uint64_t first = 0; first < h.count && rc == 0; first += h.chunk) {
		/*
		 * The pool sent these while our chunks were quick. One that was
		 * not: hand the rest back (an empty message each, "not begun"),
		 * for a worker that may be idle while we run them one by one.
		 */
		if (slow) {
			rc = mp_queue_put(me->answers, NULL, 0, MP_FOREVER);
			continue;
		}
		if (mp__fault("die:between-chunks"))
			raise(SIGKILL); /* a test's instant: every chunk before answered, this one not begun */
		__atomic_store_n(me->progress, ++me->begun, __ATOMIC_RELAXED);
		size_t count = h.count - first < h.chunk ? h.count - first : h.chunk;
		uint64_t ran_ns; /* (run_chunk() always sets it) */
		rc = run_chunk(me, fn, name, records + first * h.size, count, h.size, &ran_ns);
		slow = ran_ns >= QUICK_CHUNK_NS;
	}
	return rc;
}

/*
 * The worker's target. It gets its end of the socket pair and the pool's
 * settings as bytes (struct worker_arg, then the initializer's argument),
 * and finds its answer queue and progress counter where the pool made them:
 * fork() keeps both at the same address.
 */
int mp__pool_worker_main(const void *arg, size_t len)
{
	struct worker_arg wa;
	if (len < sizeof wa)
		return 2;
	memcpy(&wa, arg, sizeof wa);
	/* The pool's thread blocks every signal; its children must not inherit that. */
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	close(wa.parent_fd); /* the parent's end, copied by fork(): ours is wa.fd */

	struct me me = { .answers = wa.answers, .max_answer = wa.max_answer, .progress = &wa.progress->begun };
	if (mp_conn_from_fd(&me.conn, wa.fd, true, true) < 0)
		return 2;
	if (wa.initializer[0]) {
		mp_task_out out = { 0 };
		int rc = mp_task_find(wa.initializer)((const char *)arg + sizeof wa, wa.initarg_len, &out);
		free(out.data);
		free(out.message);
		if (rc != 0) {
			mp_conn_free(me.conn);
			return 1; /* as Python's worker: it dies, and the pool starts another */
		}
	}

	/* TODO: your code goes here.
	 * Hint: loop: receive a message (mp_conn_recv_bytes); stop on an error
	 * (end-of-file: the pool is gone) or on a MSG_STOP; else
	 * run_chunks() it (which counts each chunk it begins in me.begun and
	 * in the pool's copy), free it, and stop once you have begun
	 * wa.maxtasks chunks when that is not 0, or when run_chunks() fails.
	 * Free the connection and return 0, or 2 if run_chunks() failed.
	 * Lesson 05, "The worker's loop".
	 */
	mp_conn_free(me.conn); return 3;
}
