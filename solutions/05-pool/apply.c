/* apply.c: submitting work: apply, apply_async and map. */
#include "pool_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Check a task's name as submissions do: known, and short enough to send. */
static int check_task(const char *task)
{
	return strlen(task) <= MP_TASK_NAME_MAX && mp_task_find(task) ? 0 : MP_ENOTASK;
}

/* Queue @job; on failure free it (nobody else has seen it). */
static int submit(mp_pool *pool, mp_result *job)
{
	mp__lock(&pool->lock);
	int rc = mp__pool_submit(pool, job);
	mp__unlock(&pool->lock);
	if (rc < 0)
		mp__result_destroy(job);
	return rc;
}

int mp_pool_apply_async(mp_pool *pool, const char *task, const void *in, size_t len,
			const struct mp_callbacks *callbacks, mp_result **out)
{
	if (!pool || !task || (!in && len > 0) || !out)
		return -EINVAL;
	int rc = check_task(task);
	if (rc < 0)
		return rc;
	mp_result *job = mp__result_new(pool, task);
	if (!job)
		return -ENOMEM;
	job->in_copy = mp__pool_malloc(len);
	if (!job->in_copy) {
		mp__result_destroy(job);
		return -ENOMEM;
	}
	if (len)
		memcpy(job->in_copy, in, len);
	job->in = job->in_copy;
	job->n = 1;
	job->in_size = len;
	job->chunksize = 1;
	job->pending = 1;
	if (callbacks)
		job->callbacks = *callbacks;
	rc = submit(pool, job);
	if (rc < 0)
		return rc;
	*out = job;
	return 0;
}

int mp_pool_apply(mp_pool *pool, const char *task, const void *in, size_t len,
		  void **out, size_t *out_len)
{
	if (!out || !out_len)
		return -EINVAL;
	*out = NULL;
	*out_len = 0;
	mp_result *r;
	int rc = mp_pool_apply_async(pool, task, in, len, NULL, &r);
	if (rc < 0)
		return rc;
	rc = mp_result_get(r, MP_FOREVER, NULL, NULL);
	/* The result's answer and its message have a NUL after them already: take them over. */
	if (rc == 0) {
		*out = r->data;
		*out_len = r->len;
		r->data = NULL;
	} else if (r->error) {
		*out = r->error;
		*out_len = strlen(r->error);
		r->error = NULL;
	}
	mp_result_free(r);
	return rc;
}

int mp_pool_map_async(mp_pool *pool, const char *task, const void *in, size_t n, size_t in_size,
		      void *out, size_t out_size, size_t chunksize, const struct mp_callbacks *callbacks,
		      mp_result **result)
{
	if (!pool || !task || (!in && n > 0 && in_size > 0) || (!out && n > 0 && out_size > 0) || !result)
		return -EINVAL;
	int rc = check_task(task);
	if (rc < 0)
		return rc;
	mp_result *job = mp__result_new(pool, task);
	if (!job)
		return -ENOMEM;
	/* No copies: the caller keeps both arrays as they are until the result is ready. */
	job->in = in;
	job->n = n;
	job->in_size = in_size;
	job->out = out;
	job->out_size = out_size;
	job->is_map = true;
	job->chunksize = chunksize ? chunksize : mp_pool_default_chunksize(pool, n);
	job->pending = n;
	if (callbacks)
		job->callbacks = *callbacks;
	rc = submit(pool, job);
	if (rc < 0)
		return rc;
	*result = job;
	return 0;
}

int mp_pool_map(mp_pool *pool, const char *task, const void *in, size_t n, size_t in_size,
		void *out, size_t out_size, size_t chunksize, struct mp_map_failure *failure)
{
	mp_result *job;
	int rc = mp_pool_map_async(pool, task, in, n, in_size, out, out_size, chunksize, NULL, &job);
	if (rc < 0)
		return rc;
	mp_result_wait(job, MP_FOREVER);
	rc = job->code;
	if (rc < 0 && failure) {
		failure->index = job->failed_index;
		snprintf(failure->message, sizeof failure->message, "%s", job->error ? job->error : "");
	}
	mp_result_free(job);
	return rc;
}

/*
 * One chunk of an imap: up to @chunksize records from the producer, copied,
 * as a job of its own with room for its answers. Returns the job, or NULL
 * with *rc set (the producer's error, or -ENOMEM) or, at the end of the
 * input, with *more false and *rc 0.
 */
static mp_result *imap_chunk(mp_pool *pool, const char *task, size_t in_size, size_t out_size,
			     size_t chunksize, mp_imap_next next, void *arg, bool *more, int *rc)
{
	mp_result *job = mp__result_new(pool, task);
	if (job) {
		job->in_copy = mp__pool_malloc(chunksize * in_size);
		job->out_copy = mp__pool_malloc(chunksize * out_size);
		job->statuses = mp__pool_calloc(chunksize, sizeof *job->statuses);
		job->messages = mp__pool_calloc(chunksize, sizeof *job->messages);
	}
	if (!job || !job->in_copy || !job->out_copy || !job->statuses || !job->messages) {
		*rc = -ENOMEM;
		goto fail;
	}
	size_t k = 0;
	while (k < chunksize) {
		int got = next((char *)job->in_copy + k * in_size, arg);
		if (got < 0)
			*rc = got;
		if (got <= 0) {
			*more = false;
			break;
		}
		k++;
	}
	if (k == 0 || *rc < 0)
		goto fail;
	job->in = job->in_copy;
	job->out = job->out_copy;
	job->n = k;
	job->in_size = in_size;
	job->out_size = out_size;
	job->is_map = true;
	job->chunksize = k;
	job->pending = k;
	return job;
fail:
	if (job)
		mp__result_destroy(job);
	return NULL;
}

int mp_pool_imap(mp_pool *pool, const char *task, size_t in_size, size_t out_size, size_t chunksize,
		 bool ordered, mp_imap_next next, mp_imap_take take, void *arg)
{
	if (!pool || !task || !next || !take)
		return -EINVAL;
	int rc = check_task(task);
	if (rc < 0)
		return rc;
	if (chunksize == 0)
		chunksize = 1; /* Python's default for imap */
	/*
	 * Two chunks a worker in flight: enough to keep every worker busy while
	 * answers come back, and all the input that is ever in memory at once.
	 */
	size_t window = 2 * (size_t)pool->nworkers;
	mp_result **inflight = mp__pool_calloc(window, sizeof *inflight);
	if (!inflight)
		return -ENOMEM;
	size_t count = 0, next_index = 0;
	bool more = true;
	for (;;) {
		while (rc == 0 && more && count < window) {
			mp_result *job = imap_chunk(pool, task, in_size, out_size, chunksize, next, arg, &more, &rc);
			if (!job)
				break;
			job->first_index = next_index;
			next_index += job->n;
			rc = submit(pool, job);
			if (rc == 0)
				inflight[count++] = job;
		}
		if (rc < 0 || count == 0)
			break;
		/* Ordered: the oldest chunk (the window is kept in submission order); else whichever is done. */
		size_t i = ordered ? 0 : mp__result_wait_any(inflight, count);
		mp_result *job = inflight[i];
		mp_result_wait(job, MP_FOREVER);
		for (size_t k = 0; k < job->n && rc == 0; k++) {
			int code = job->statuses[k];
			const char *why = code && job->messages[k] ? job->messages[k] : ""; /* (NULL: no memory was left for it) */
			rc = take(job->first_index + k, code, code ? NULL : job->out + k * out_size, code ? 0 : out_size,
				  why, arg);
		}
		mp_result_free(job);
		count--;
		memmove(&inflight[i], &inflight[i + 1], (count - i) * sizeof *inflight);
	}
	/* Stopped early: the chunks still out finish on their own; their handles go now. */
	for (size_t i = 0; i < count; i++)
		mp_result_free(inflight[i]);
	free(inflight);
	return rc;
}
