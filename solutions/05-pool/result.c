/* result.c: a submitted call's outcome (Python's AsyncResult): recorded by the pool's thread, awaited by the caller. */
#define _GNU_SOURCE
#include "pool_internal.h"

#include "../01-process/deadline.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Jobs made and not yet freed, in this process: after each test, none may be left (mp__pool_results_alive()). */
static size_t alive;

size_t mp__pool_results_alive(void)
{
	return __atomic_load_n(&alive, __ATOMIC_RELAXED);
}

struct mp_result *mp__result_new(struct mp_pool *pool, const char *task)
{
	struct mp_result *job = mp__pool_calloc(1, sizeof *job);
	if (!job)
		return NULL;
	__atomic_add_fetch(&alive, 1, __ATOMIC_RELAXED);
	job->pool = pool;
	job->refs = 2; /* the caller's handle, and the pool's until the job is done */
	strcpy(job->task, task);
	return job;
}

void mp__result_destroy(struct mp_result *job)
{
	if (job->messages)
		for (size_t i = 0; i < job->n; i++)
			free(job->messages[i]);
	free(job->messages);
	free(job->statuses);
	free(job->out_copy);
	free(job->in_copy);
	free(job->data);
	free(job->error);
	free(job);
	__atomic_sub_fetch(&alive, 1, __ATOMIC_RELAXED);
}

/*
 * The last reference frees the job. The two holders are the caller and the
 * pool's thread, on different threads and not always under one lock (the
 * pool may be gone when the caller lets go), so the count is atomic.
 */
void mp__result_unref(struct mp_result *job)
{
	if (__atomic_sub_fetch(&job->refs, 1, __ATOMIC_ACQ_REL) == 0)
		mp__result_destroy(job);
}

/* @len bytes of @text with a NUL after them, from malloc() (through the fault seam); NULL without memory. */
static char *copy_text(const char *text, size_t len)
{
	char *copy = mp__pool_malloc(len + 1);
	if (copy) {
		memcpy(copy, text, len);
		copy[len] = '\0';
	}
	return copy;
}

/*
 * Keep the failure of the record of lowest index: the one Python's map would
 * raise. imap keeps every record's, since it hands each one to the caller.
 * Without memory for a message, the code is kept and the message is NULL.
 */
static void record_failure(struct mp_result *job, size_t i, int code, const char *message, size_t len)
{
	if (job->statuses) {
		job->statuses[i] = code;
		free(job->messages[i]);
		job->messages[i] = copy_text(message, len);
	}
	if (job->code != 0 && job->failed_index <= i)
		return;
	free(job->error);
	job->error = copy_text(message, len);
	job->code = code;
	job->failed_index = i;
}

void mp__result_fail_records(struct mp_result *job, size_t first, size_t count, int code,
			     const char *message)
{
	if (count == 0)
		return;
	for (size_t i = first; i < first + (job->statuses ? count : 1); i++)
		record_failure(job, i, code, message, strlen(message));
	job->pending -= count;
}

void mp__result_answer(struct mp_result *job, size_t i, int status, bool by_worker, const void *bytes, size_t len)
{
	job->pending--;
	if (status != 0) {
		/* A task's own code is its business: the caller learns that the task failed, and its message. */
		record_failure(job, i, by_worker ? status : MP_ETASKFAILED, bytes, len);
	} else if (job->is_map) {
		if (len == job->out_size) {
			if (len)
				memcpy(job->out + i * job->out_size, bytes, len);
		} else {
			char why[MP_TASK_NAME_MAX + 96];
			int n = snprintf(why, sizeof why, "task '%s' gave back %zu bytes where map expects %zu",
					 job->task, len, job->out_size);
			record_failure(job, i, MP_ETYPE, why, (size_t)n);
		}
	} else {
		/* A NUL after the bytes, so that an answer that is text can be printed as it is. */
		char *copy = copy_text(bytes, len);
		if (!copy) {
			const char *why = "no memory for the answer";
			record_failure(job, i, -ENOMEM, why, strlen(why));
			return;
		}
		free(job->data);
		job->data = copy;
		job->len = len;
	}
}

void mp__result_finish_if_done(struct mp_result *job)
{
	struct mp_pool *pool = job->pool;
	if (job->pending > 0 || job->ready)
		return;
	/*
	 * Callbacks run before the result is ready, without the lock (a callback
	 * may submit more work), and only ever on the pool's thread: so two of
	 * them never run at once, and once get() returns, the callback is done.
	 */
	const struct mp_callbacks *cb = &job->callbacks;
	if ((job->code == 0 && cb->on_success) || (job->code != 0 && cb->on_error)) {
		mp__unlock(&pool->lock);
		if (job->code == 0)
			cb->on_success(job->data, job->len, cb->arg);
		else
			cb->on_error(job->code, job->error ? job->error : "", cb->arg);
		mp__lock(&pool->lock);
	}
	__atomic_store_n(&job->ready, true, __ATOMIC_RELEASE);
	pool->jobs--;
	pthread_cond_broadcast(&pool->changed);
	mp__result_unref(job);
}

/* A thread that waited on @pool leaves (the lock held, then dropped): mp_pool_free() may wait for the last to go. */
static void leave_wait(struct mp_pool *pool)
{
	pool->waiters--;
	pthread_cond_broadcast(&pool->changed);
	mp__unlock(&pool->lock);
}

int mp_result_wait(mp_result *r, double timeout)
{
	if (!r)
		return -EINVAL;
	struct mp__deadline d;
	if (mp__deadline_start(&d, timeout) < 0)
		return -EINVAL;
	/* Once ready, the outcome never changes and the pool may be gone: no lock needed. */
	if (__atomic_load_n(&r->ready, __ATOMIC_ACQUIRE))
		return 0;
	/* BEGIN SOLUTION stub: return MP_ETODO;
	 * Hint: under pool->lock (mp__lock()), wait on pool->changed until
	 * r->ready, with mp__wait() and the deadline's `end` (the condition
	 * runs on CLOCK_MONOTONIC) unless d.forever. Count yourself in
	 * pool->waiters meanwhile, and go with leave_wait(), which says so to
	 * mp_pool_free(): it waits for the waiters before it destroys the
	 * condition.
	 * Lesson 05, "Results: waiting for an outcome".
	 */
	struct mp_pool *pool = r->pool;
	mp__lock(&pool->lock);
	pool->waiters++;
	int rc = 0;
	while (!r->ready && rc == 0)
		rc = mp__wait(&pool->changed, &pool->lock, d.forever ? NULL : &d.end);
	bool ready = r->ready;
	leave_wait(pool);
	return ready ? 0 : MP_ETIMEDOUT;
	/* END SOLUTION */
}

size_t mp__result_wait_any(struct mp_result **jobs, size_t n)
{
	struct mp_pool *pool = jobs[0]->pool;
	mp__lock(&pool->lock);
	pool->waiters++;
	size_t i;
	for (;;) {
		for (i = 0; i < n && !jobs[i]->ready; i++)
			;
		if (i < n)
			break;
		mp__wait(&pool->changed, &pool->lock, NULL);
	}
	leave_wait(pool);
	return i;
}

int mp_result_get(mp_result *r, double timeout, const void **data, size_t *len)
{
	int rc = mp_result_wait(r, timeout);
	if (rc < 0)
		return rc;
	/* A failed call has no data (nor length): only a success stores an answer. */
	if (data)
		*data = r->data;
	if (len)
		*len = r->len;
	return r->code;
}

bool mp_result_ready(const mp_result *r)
{
	return r && __atomic_load_n(&r->ready, __ATOMIC_ACQUIRE);
}

bool mp_result_successful(const mp_result *r)
{
	return mp_result_ready(r) && r->code == 0;
}

const char *mp_result_error(const mp_result *r)
{
	return mp_result_ready(r) && r->error ? r->error : "";
}

void mp_result_free(mp_result *r)
{
	if (r)
		mp__result_unref(r);
}
