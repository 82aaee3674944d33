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
	pthread_mutex_lock(&pool->lock);
	int rc = mp__pool_submit(pool, job);
	pthread_mutex_unlock(&pool->lock);
	if (rc < 0) {
		job->refs = 1;
		mp__result_unref(job);
	}
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
	job->in_copy = malloc(len ? len : 1);
	if (!job->in_copy) {
		job->refs = 1;
		mp__result_unref(job);
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
	const void *data;
	size_t n;
	rc = mp_result_get(r, MP_FOREVER, &data, &n);
	const char *bytes = rc == 0 ? data : mp_result_error(r);
	size_t count = rc == 0 ? n : strlen(bytes);
	char *copy = malloc(count + 1);
	if (copy) {
		memcpy(copy, bytes, count);
		copy[count] = '\0';
		*out = copy;
		*out_len = count;
	} else if (rc == 0) {
		rc = -ENOMEM;
	}
	mp_result_free(r);
	return rc;
}

int mp_pool_map(mp_pool *pool, const char *task, const void *in, size_t n, size_t in_size,
		void *out, size_t out_size, size_t chunksize, struct mp_map_failure *failure)
{
	if (!pool || !task || (!in && n > 0 && in_size > 0) || (!out && n > 0 && out_size > 0))
		return -EINVAL;
	int rc = check_task(task);
	if (rc < 0 || n == 0)
		return rc;
	mp_result *job = mp__result_new(pool, task);
	if (!job)
		return -ENOMEM;
	/* The caller waits for the map: its arrays outlive the job, and need no copy. */
	job->in = in;
	job->n = n;
	job->in_size = in_size;
	job->out = out;
	job->out_size = out_size;
	job->is_map = true;
	job->chunksize = chunksize ? chunksize : mp_pool_default_chunksize(pool, n);
	job->pending = n;
	rc = submit(pool, job);
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
