/* pool.c: a pool's life: make it, submit to it, close, terminate, join and free it. */
#define _GNU_SOURCE /* eventfd(), pthread_sigmask() */
#include "pool_internal.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

static pthread_mutex_t pools_lock = PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP;

/*
 * The pools not yet freed, under `pools_lock`. At exit they are terminated
 * before stage 01's own exit handler reaps the children: that handler is not
 * written for threads, and the pools' threads would be reaping the same
 * workers at the same time.
 */
static struct mp_pool *pools;

static void terminate_pools_at_exit(void)
{
	mp__lock(&pools_lock);
	struct mp_pool *list = pools;
	pools = NULL;
	mp__unlock(&pools_lock);
	for (struct mp_pool *p = list; p; p = p->next_pool)
		if (p->owner == getpid()) /* a child made by fork() has copies, without their threads */
			mp_pool_terminate(p);
}

static void register_exit_handler(void)
{
	/* atexit() fails only with no memory left; stage 01's handler then still kills the workers. */
	(void)atexit(terminate_pools_at_exit);
}

/* Put @pool on the list, the first time with the exit handler (after stage 01's: it runs first). */
static void remember_pool(struct mp_pool *pool)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, register_exit_handler);
	mp__lock(&pools_lock);
	pool->next_pool = pools;
	pools = pool;
	mp__unlock(&pools_lock);
}

static void forget_pool(struct mp_pool *pool)
{
	mp__lock(&pools_lock);
	for (struct mp_pool **link = &pools; *link; link = &(*link)->next_pool)
		if (*link == pool) {
			*link = pool->next_pool;
			break;
		}
	mp__unlock(&pools_lock);
}

/* Tell the pool's thread that something changed: a new job, close, terminate. */
static void wake(struct mp_pool *pool)
{
	uint64_t one = 1;
	ssize_t written = write(pool->wake, &one, sizeof one);
	(void)written; /* when this fails, the counter is full: it wakes the thread already */
}

int mp__pool_submit(struct mp_pool *pool, struct mp_result *job)
{
	if (pool->state != RUNNING)
		return MP_EPOOLCLOSED;
	job->next_queued = NULL;
	if (pool->queue_tail)
		pool->queue_tail->next_queued = job;
	else
		pool->queue = job;
	pool->queue_tail = job;
	pool->jobs++;
	/*
	 * An idle worker gets its chunk from this thread: one wake-up fewer
	 * on the way to the answer. The pool's thread is woken only for what
	 * it alone does: hand out the rest, finish a map of no records, watch
	 * a time limit.
	 */
	mp__pool_dispatch(pool, false);
	if (pool->queue || pool->task_timeout > 0) {
		wake(pool);
		pool->stats.wakes++;
	}
	return 0;
}

static void pool_destroy(struct mp_pool *pool)
{
	if (pool->wake >= 0)
		close(pool->wake);
	pthread_cond_destroy(&pool->changed);
	pthread_mutex_destroy(&pool->join_lock);
	pthread_mutex_destroy(&pool->lock);
	mp_array_free(pool->shared);
	free(pool->workers);
	free(pool->returned);
	free(pool->initarg);
	free(pool);
}

int mp_pool_new(mp_pool **out, unsigned nworkers, const struct mp_pool_options *options)
{
	static const struct mp_pool_options defaults;
	if (!out)
		return -EINVAL;
	if (!options)
		options = &defaults;
	if (mp_process_is_daemon(mp_current_process()))
		return MP_EDAEMONIC; /* a worker's task: it could not start the workers anyway */
	/* The workers' target, registered here: an archive's member that nothing calls is never linked. */
	int rc = mp_target_register(MP__POOL_WORKER_TARGET, mp__pool_worker_main);
	if (rc < 0)
		return rc;
	if (options->initializer && (strlen(options->initializer) > MP_TASK_NAME_MAX ||
				     !mp_task_find(options->initializer)))
		return MP_ENOTASK;
	if ((!options->initarg && options->initarg_len) || !(options->task_timeout >= 0) ||
	    options->max_answer > ANSWER_LIMIT)
		return -EINVAL;
	if (nworkers == 0) {
		int n = mp_cpu_count();
		if (n < 0)
			return n;
		nworkers = (unsigned)n;
	}

	/* BEGIN SOLUTION stub: return MP_ETODO;
	 * Hint: allocate the pool and its nworkers slots,
	 * room for the chunks dead workers hand back (nworkers x HELD_MAX),
	 * the workers' progress counters in memory they will share
	 * (stage 04's mp_array_new(): a fork keeps it shared), two
	 * mutexes that check their owner (PTHREAD_MUTEX_ERRORCHECK: see
	 * mp__lock()), a condition on CLOCK_MONOTONIC (mp_result_wait() waits
	 * on it with a deadline), the wake-up eventfd (through the fault seam:
	 * mp__fault("eventfd")), and copy the options. Start mp__pool_thread()
	 * with every signal blocked (a signal meant for the caller must not
	 * land there), wait until it says `started`, and hand back its
	 * start_error: on failure, join it and free everything. On success,
	 * note the owner's pid and remember_pool() (for the exit handler).
	 * Lesson 05, "The pool's thread".
	 */
	struct mp_pool *pool = mp__pool_calloc(1, sizeof *pool);
	if (!pool)
		return -ENOMEM;
	pool->wake = -1;
	pool->nworkers = nworkers;
	pool->maxtasksperchild = options->maxtasksperchild;
	pool->task_timeout = options->task_timeout;
	pool->max_answer = options->max_answer;
	pthread_mutexattr_t checked;
	pthread_mutexattr_init(&checked);
	pthread_mutexattr_settype(&checked, PTHREAD_MUTEX_ERRORCHECK); /* see mp__lock() */
	pthread_mutex_init(&pool->lock, &checked);
	pthread_mutex_init(&pool->join_lock, &checked);
	pthread_mutexattr_destroy(&checked);
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&pool->changed, &attr);
	pthread_condattr_destroy(&attr);
	pool->workers = mp__pool_calloc(nworkers, sizeof *pool->workers);
	pool->returned = mp__pool_calloc((size_t)nworkers * HELD_MAX, sizeof *pool->returned);
	/* Shared (stage 04's Array), so that a worker's count of the chunks it began outlives it (see struct progress). */
	if (mp_array_new(&pool->shared, sizeof *pool->progress, nworkers, false) == 0)
		pool->progress = mp_array_data(pool->shared);
	if (options->initializer)
		strcpy(pool->initializer, options->initializer);
	pool->initarg_len = options->initarg_len;
	pool->initarg = mp__pool_malloc(options->initarg_len);
	rc = pool->workers && pool->returned && pool->progress && pool->initarg ? 0 : -ENOMEM;
	if (rc == 0 && options->initarg_len)
		memcpy(pool->initarg, options->initarg, options->initarg_len);
	if (rc == 0) {
		pool->wake = mp__fault("eventfd") ? -1 : eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (pool->wake < 0)
			rc = -errno;
	}
	if (rc == 0) {
		sigset_t all, old;
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		rc = -pthread_create(&pool->thread, NULL, mp__pool_thread, pool);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	if (rc < 0) {
		pool_destroy(pool);
		return rc;
	}

	mp__lock(&pool->lock);
	while (!pool->started)
		mp__wait(&pool->changed, &pool->lock, NULL);
	rc = pool->start_error;
	mp__unlock(&pool->lock);
	if (rc < 0) {
		pthread_join(pool->thread, NULL);
		pool_destroy(pool);
		return rc;
	}
	pool->owner = getpid();
	remember_pool(pool);
	*out = pool;
	return 0;
	/* END SOLUTION */
}

unsigned mp_pool_workers(const mp_pool *pool)
{
	return pool ? pool->nworkers : 0;
}

size_t mp_pool_default_chunksize(const mp_pool *pool, size_t n)
{
	if (!pool)
		return 0;
	/* BEGIN SOLUTION stub: return 0;
	 * Hint: Python's map divides the records by four times the workers,
	 * and rounds up. Lesson 05, "Chunks".
	 */
	size_t per = 4 * (size_t)pool->nworkers;
	return (n + per - 1) / per;
	/* END SOLUTION */
}

int mp_pool_stats(mp_pool *pool, struct mp_pool_stats *out)
{
	if (!pool || !out)
		return -EINVAL;
	mp__lock(&pool->lock);
	*out = pool->stats;
	mp__unlock(&pool->lock);
	return 0;
}

int mp_pool_close(mp_pool *pool)
{
	if (!pool)
		return -EINVAL;
	mp__lock(&pool->lock);
	if (pool->state == RUNNING)
		pool->state = CLOSED;
	wake(pool);
	mp__unlock(&pool->lock);
	return 0;
}

/* Wait for the pool's thread to end (once). */
static int join_thread(mp_pool *pool)
{
	if (pthread_equal(pthread_self(), pool->thread))
		return -EDEADLK; /* a callback: the thread would wait for itself */
	mp__lock(&pool->join_lock);
	if (!pool->joined) {
		pthread_join(pool->thread, NULL);
		pool->joined = true;
	}
	mp__unlock(&pool->join_lock);
	return 0;
}

int mp_pool_terminate(mp_pool *pool)
{
	if (!pool)
		return -EINVAL;
	if (pthread_equal(pthread_self(), pool->thread))
		return -EDEADLK;
	mp__lock(&pool->lock);
	if (pool->state == RUNNING || pool->state == CLOSED)
		pool->state = TERMINATING;
	wake(pool);
	mp__unlock(&pool->lock);
	return join_thread(pool);
}

int mp_pool_join(mp_pool *pool)
{
	if (!pool)
		return -EINVAL;
	mp__lock(&pool->lock);
	bool running = pool->state == RUNNING;
	mp__unlock(&pool->lock);
	return running ? MP_EPOOLRUNNING : join_thread(pool);
}

void mp_pool_free(mp_pool *pool)
{
	if (!pool)
		return;
	if (mp_pool_terminate(pool) < 0)
		return; /* from a callback: freeing the pool under its own thread cannot be done */
	forget_pool(pool);
	/* Threads still inside mp_result_wait() on this pool's condition must leave it first. */
	mp__lock(&pool->lock);
	while (pool->waiters > 0)
		mp__wait(&pool->changed, &pool->lock, NULL);
	mp__unlock(&pool->lock);
	pool_destroy(pool);
}
