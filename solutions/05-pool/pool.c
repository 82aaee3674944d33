/* pool.c: the pool's thread: start workers, hand out chunks, collect answers, replace the dead. */
#define _GNU_SOURCE /* eventfd(), strsignal(), pthread_sigmask() */
#include "pool_internal.h"

#include "../01-process/deadline.h"
#include "../01-process/fault.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

/*
 * Stage 01 keeps one list of children per process and is not written for
 * threads: every call of it made by a pool (from the pool's own thread)
 * takes this lock, so two pools never start or reap workers at once.
 */
static pthread_mutex_t processes = PTHREAD_MUTEX_INITIALIZER;

static unsigned workers_started; /* for the workers' names, under `processes` */

/*
 * The pools not yet freed, under `processes`. At exit they are terminated
 * before stage 01's own exit handler reaps the children: that handler is not
 * written for threads, and the pools' threads would be reaping the same
 * workers at the same time.
 */
static struct mp_pool *pools;

static void terminate_pools_at_exit(void)
{
	pthread_mutex_lock(&processes);
	struct mp_pool *list = pools;
	pools = NULL;
	pthread_mutex_unlock(&processes);
	for (struct mp_pool *p = list; p; p = p->next_pool)
		if (p->owner == getpid()) /* a child made by fork() has copies, without their threads */
			mp_pool_terminate(p);
}

/* Put @pool on the list, the first time with the exit handler (after stage 01's: it runs first). */
static void remember_pool(struct mp_pool *pool)
{
	static bool registered;
	pthread_mutex_lock(&processes);
	if (!registered)
		registered = atexit(terminate_pools_at_exit) == 0;
	pool->next_pool = pools;
	pools = pool;
	pthread_mutex_unlock(&processes);
}

static void forget_pool(struct mp_pool *pool)
{
	pthread_mutex_lock(&processes);
	for (struct mp_pool **link = &pools; *link; link = &(*link)->next_pool)
		if (*link == pool) {
			*link = pool->next_pool;
			break;
		}
	pthread_mutex_unlock(&processes);
}

/* Tell the pool's thread that something changed: a new job, close, terminate. */
static void wake(struct mp_pool *pool)
{
	uint64_t one = 1;
	/* A full counter already wakes the thread: nothing to do when this fails. */
	(void)!write(pool->wake, &one, sizeof one);
}

int mp__pool_start_worker(struct mp_pool *pool, struct worker *w)
{
	size_t len = sizeof(struct worker_arg) + pool->initarg_len;
	struct worker_arg *wa = calloc(1, len);
	if (!wa)
		return -ENOMEM;
	/*
	 * From the socket pair to the close of the worker's end, no other pool
	 * may fork: a worker of another pool would keep a copy of this worker's
	 * end, and we would never see end-of-file when this worker dies.
	 */
	pthread_mutex_lock(&processes);
	int sv[2] = { -1, -1 };
	mp_process *p = NULL;
	int rc = 0;
	if (mp__fault("socketpair") || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		rc = -errno;
	if (rc == 0) {
		wa->fd = sv[1];
		wa->parent_fd = sv[0];
		wa->maxtasks = pool->maxtasksperchild;
		strcpy(wa->initializer, pool->initializer);
		wa->initarg_len = pool->initarg_len;
		if (pool->initarg_len)
			memcpy(wa + 1, pool->initarg, pool->initarg_len);
		rc = mp_process_new(&p, MP__POOL_WORKER_TARGET, wa, len);
	}
	if (rc == 0) {
		/* Daemonic: a task may not start processes, and the workers are ours to stop. */
		mp_process_set_daemon(p, true);
		/*
		 * SIGKILL, not SIGTERM, when we die: a task may catch SIGTERM. The
		 * "parent" this watches is the thread that forks, this pool's thread,
		 * which lives exactly as long as the workers should.
		 */
		mp_process_set_parent_death_signal(p, SIGKILL);
		char name[32];
		snprintf(name, sizeof name, "PoolWorker-%u", ++workers_started);
		mp_process_set_name(p, name);
		rc = mp_process_start(p);
	}
	if (sv[1] >= 0)
		close(sv[1]); /* the worker's end: it has its copy now */
	pthread_mutex_unlock(&processes);
	free(wa);

	if (rc == 0)
		rc = mp_conn_from_fd(&w->conn, sv[0], true, true);
	else if (sv[0] >= 0)
		close(sv[0]);
	if (rc == 0 && pool->max_answer)
		rc = mp_conn_set_max_message(w->conn, pool->max_answer);
	if (rc == 0) {
		w->sentinel = mp_process_sentinel(p);
		rc = w->sentinel < 0 ? w->sentinel : 0;
	}
	if (rc < 0) {
		if (mp_process_pid(p)) {
			pthread_mutex_lock(&processes);
			mp_process_kill(p);
			mp_process_join(p, MP_FOREVER);
			pthread_mutex_unlock(&processes);
		}
		mp_process_free(p);
		mp_conn_free(w->conn);
		w->conn = NULL;
		return rc;
	}
	w->process = p;
	w->job = NULL;
	w->tasks = 0;
	w->conn_done = false;
	w->kill_code = 0;
	return 0;
}

/* Kill worker @w, and say what its chunk fails with; its sentinel then leads to bury(). */
static void kill_worker(struct worker *w, int code, const char *reason)
{
	w->kill_code = code;
	snprintf(w->kill_reason, sizeof w->kill_reason, "%s", reason);
	w->conn_done = true; /* nothing it still sends is wanted */
	pthread_mutex_lock(&processes);
	mp_process_kill(w->process);
	pthread_mutex_unlock(&processes);
}

/* Reap the worker of slot @w (it has ended, or is about to) and empty the slot. Returns its exit code. */
static int reap_worker(struct worker *w)
{
	int code = 0;
	pthread_mutex_lock(&processes);
	mp_process_join(w->process, MP_FOREVER);
	mp_process_exitcode(w->process, &code);
	mp_process_free(w->process);
	pthread_mutex_unlock(&processes);
	mp_conn_free(w->conn);
	w->process = NULL;
	w->conn = NULL;
	w->sentinel = -1;
	return code;
}

/* Send the chunk [first, first + count) of @job to the idle worker @w. */
static int send_chunk(struct worker *w, struct mp_result *job, size_t first, size_t count)
{
	size_t name_len = strlen(job->task);
	size_t len = sizeof(struct run_header) + name_len + count * job->in_size;
	char *msg = malloc(len);
	if (!msg)
		return -ENOMEM;
	struct run_header h = { .kind = MSG_RUN, .name_len = (uint32_t)name_len,
				.count = count, .size = job->in_size };
	memcpy(msg, &h, sizeof h);
	memcpy(msg + sizeof h, job->task, name_len);
	if (count * job->in_size > 0)
		memcpy(msg + sizeof h + name_len, job->in + first * job->in_size, count * job->in_size);
	int rc = mp_conn_send_bytes(w->conn, msg, len);
	free(msg);
	return rc;
}

/*
 * Hand a chunk to every idle worker while work waits. Lock held. A worker
 * about to retire (it has run its maxtasksperchild chunks) gets nothing: it
 * exits, and its replacement takes the work.
 */
static void dispatch(struct mp_pool *pool)
{
	/* A map of no records is done as soon as its turn comes: on this thread, for its callback. */
	while (pool->queue && pool->queue->n == 0) {
		struct mp_result *job = pool->queue;
		pool->queue = job->next_queued;
		if (!pool->queue)
			pool->queue_tail = NULL;
		job->next_queued = NULL;
		mp__result_finish_if_done(job);
	}
	for (unsigned i = 0; i < pool->nworkers && pool->queue; i++) {
		struct worker *w = &pool->workers[i];
		if (!w->process || w->job || w->conn_done ||
		    (pool->maxtasksperchild && w->tasks >= pool->maxtasksperchild))
			continue;
		/* BEGIN SOLUTION stub: return;
		 * Hint: take the job at the head of pool->queue; its next chunk is
		 * the records [job->next, job->next + chunksize), fewer at the end.
		 * Advance job->next; once every record is handed out, take the job
		 * off the queue. Record the chunk in the slot (w->job, w->first,
		 * w->count) BEFORE sending it, so that a worker that dies at once
		 * still fails the right records. If send_chunk() fails because
		 * the worker has gone (-EPIPE, -ECONNRESET), leave it: its sentinel
		 * will say how it died; any other failure, kill_worker() with it.
		 * With a time limit (pool->task_timeout), the chunk's deadline,
		 * count times the limit from now, goes in w->deadline first.
		 * Lesson 05, "How tasks and results flow".
		 */
		struct mp_result *job = pool->queue;
		size_t first = job->next;
		size_t count = job->n - first < job->chunksize ? job->n - first : job->chunksize;
		job->next += count;
		if (job->next == job->n) {
			pool->queue = job->next_queued;
			if (!pool->queue)
				pool->queue_tail = NULL;
			job->next_queued = NULL;
		}
		w->job = job;
		w->first = first;
		w->count = count;
		if (pool->task_timeout > 0) {
			struct mp__deadline d;
			mp__deadline_start(&d, pool->task_timeout * (double)count);
			w->deadline = d.end;
		}
		int rc = send_chunk(w, job, first, count);
		if (rc < 0 && rc != -EPIPE && rc != -ECONNRESET) {
			/* Not a worker that died (its sentinel will say so): one we cannot talk to. */
			char reason[96];
			snprintf(reason, sizeof reason, "the task could not be sent to it: %s", mp_strerror(rc));
			kill_worker(w, rc, reason);
		}
		/* END SOLUTION */
	}
}

/*
 * Read the answers of worker @w to its chunk. Lock held (dropped while
 * callbacks run). An error (end-of-file, a message cut short) means the
 * worker is dying: its sentinel will say how, and fail the chunk.
 */
static void collect(struct worker *w)
{
	void *msg;
	size_t len;
	int rc = mp_conn_recv_bytes(w->conn, &msg, &len);
	if (rc == MP_EEOF || rc == MP_EBADMSG || rc == -ECONNRESET) {
		w->conn_done = true; /* it is dying: only the sentinel is left to hear */
		return;
	}
	if (rc < 0) {
		/*
		 * An answer we cannot read (past the size cap, no memory for it):
		 * the stream is out of step, and the worker may be stuck writing
		 * the rest. Kill it; its chunk fails with the reason.
		 */
		char reason[96];
		snprintf(reason, sizeof reason, "its answer could not be read: %s", mp_strerror(rc));
		kill_worker(w, rc, reason);
		return;
	}
	struct mp_result *job = w->job;
	if (!job) {
		free(msg); /* an answer nobody asked for: cannot happen with our workers */
		return;
	}
	const char *p = msg, *end = p + len;
	size_t answered = 0;
	while (answered < w->count && (size_t)(end - p) >= sizeof(struct answer_header)) {
		struct answer_header h;
		memcpy(&h, p, sizeof h);
		p += sizeof h;
		if (h.len > (size_t)(end - p))
			break;
		mp__result_answer(job, w->first + answered, h.status, p, h.len);
		p += h.len;
		answered++;
	}
	if (answered < w->count)
		mp__result_fail_records(job, w->first + answered, w->count - answered, MP_EBADMSG,
					"the worker's answer was cut short");
	free(msg);
	w->job = NULL;
	w->tasks++;
	mp__result_finish_if_done(job);
}

/* Worker @w has ended: read what it sent before dying, fail what it held, free the slot. Lock held. */
static void bury(struct worker *w)
{
	/* BEGIN SOLUTION stub: return;
	 * Hint: the loop has collected what the worker sent before it died
	 * (it reads sockets before sentinels). reap_worker() gives its exit
	 * code. If it still held a chunk, fail those records
	 * with MP_EWORKERDIED and a message that says which worker, which task
	 * and how it died ("killed by signal 9 (Killed)", or "exited with
	 * status 3": strsignal() names a signal), or with w->kill_code and
	 * w->kill_reason when the pool killed it. Then finish the job if that
	 * was its last chunk.
	 * Lesson 05, "When a worker dies".
	 */
	pid_t pid = mp_process_pid(w->process);
	int code = reap_worker(w);
	struct mp_result *job = w->job;
	if (!job)
		return;
	char how[160], message[MP_TASK_NAME_MAX + 256];
	int fail = MP_EWORKERDIED;
	if (w->kill_code) {
		fail = w->kill_code;
		snprintf(how, sizeof how, "the pool killed it: %s", w->kill_reason);
	} else if (code < 0)
		snprintf(how, sizeof how, "killed by signal %d (%s)", -code, strsignal(-code));
	else
		snprintf(how, sizeof how, "exited with status %d", code);
	snprintf(message, sizeof message, "worker %d died running task '%s': %s", (int)pid, job->task, how);
	w->job = NULL;
	mp__result_fail_records(job, w->first, w->count, fail, message);
	mp__result_finish_if_done(job);
	/* END SOLUTION */
}

/* mp_pool_terminate(): kill every worker, fail everything not done. Lock held. */
static void terminate_all(struct mp_pool *pool)
{
	for (unsigned i = 0; i < pool->nworkers; i++) {
		struct worker *w = &pool->workers[i];
		if (!w->process)
			continue;
		pthread_mutex_lock(&processes);
		mp_process_kill(w->process);
		pthread_mutex_unlock(&processes);
		struct mp_result *job = w->job;
		w->job = NULL;
		reap_worker(w);
		if (job) {
			mp__result_fail_records(job, w->first, w->count, MP_ETERMINATED,
						"the pool was terminated before the task finished");
			mp__result_finish_if_done(job);
		}
	}
	while (pool->queue) {
		struct mp_result *job = pool->queue;
		pool->queue = job->next_queued;
		job->next_queued = NULL;
		size_t first = job->next;
		job->next = job->n;
		mp__result_fail_records(job, first, job->n - first, MP_ETERMINATED,
					"the pool was terminated before the task started");
		mp__result_finish_if_done(job);
	}
	pool->queue_tail = NULL;
}

/* After mp_pool_close() and the last job: ask every worker to exit, and reap it. Lock held. */
static void stop_workers(struct mp_pool *pool)
{
	struct run_header stop = { .kind = MSG_STOP };
	for (unsigned i = 0; i < pool->nworkers; i++)
		if (pool->workers[i].process && !pool->workers[i].conn_done)
			mp_conn_send_bytes(pool->workers[i].conn, &stop, sizeof stop);
	for (unsigned i = 0; i < pool->nworkers; i++) {
		struct worker *w = &pool->workers[i];
		if (!w->process)
			continue;
		reap_worker(w); /* idle, so it reads the stop at once and exits */
	}
}

/*
 * With a time limit: kill the workers whose chunk ran past it, and return
 * how many milliseconds poll() may sleep before the next one is due (-1:
 * none is). Lock held.
 */
static int expire(struct mp_pool *pool)
{
	if (pool->task_timeout <= 0)
		return -1;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	double soonest = -1;
	for (unsigned i = 0; i < pool->nworkers; i++) {
		struct worker *w = &pool->workers[i];
		if (!w->process || !w->job || w->kill_code)
			continue;
		double left = (double)(w->deadline.tv_sec - now.tv_sec) + (w->deadline.tv_nsec - now.tv_nsec) / 1e9;
		if (left <= 0) {
			char reason[96];
			snprintf(reason, sizeof reason, "it ran past the time limit of %g s", pool->task_timeout);
			kill_worker(w, MP_ETIMEDOUT, reason);
		} else if (soonest < 0 || left < soonest) {
			soonest = left;
		}
	}
	return soonest < 0 ? -1 : (int)(soonest * 1000) + 1;
}

/* The pool's thread. Only it touches the worker slots. */
static void *pool_thread(void *arg)
{
	struct mp_pool *pool = arg;
	size_t nfds = 1 + 2 * (size_t)pool->nworkers;
	struct pollfd *fds = calloc(nfds, sizeof *fds);

	pthread_mutex_lock(&pool->lock);
	int rc = fds ? 0 : -ENOMEM;
	for (unsigned i = 0; i < pool->nworkers && rc == 0; i++)
		rc = mp__pool_start_worker(pool, &pool->workers[i]);
	pool->start_error = rc;
	pool->started = true;
	pthread_cond_broadcast(&pool->changed);
	if (rc < 0)
		pool->state = TERMINATING;

	for (;;) {
		if (pool->state == TERMINATING) {
			terminate_all(pool);
			break;
		}
		if (pool->state == CLOSED && pool->jobs == 0) {
			stop_workers(pool);
			break;
		}
		dispatch(pool);
		int timeout = expire(pool);

		/* Watch the wake-up counter, and each worker's socket and sentinel. */
		bool empty_slot = false;
		fds[0] = (struct pollfd){ .fd = pool->wake, .events = POLLIN };
		for (unsigned i = 0; i < pool->nworkers; i++) {
			struct worker *w = &pool->workers[i];
			empty_slot |= !w->process;
			fds[1 + 2 * i] = (struct pollfd){ .fd = w->process && !w->conn_done ? mp_conn_fileno(w->conn) : -1,
							  .events = POLLIN };
			fds[2 + 2 * i] = (struct pollfd){ .fd = w->process ? w->sentinel : -1, .events = POLLIN };
		}
		pthread_mutex_unlock(&pool->lock);
		/* An empty slot (a worker that could not start) is tried again every 100 ms. */
		if (empty_slot && (timeout < 0 || timeout > 100))
			timeout = 100;
		int n = poll(fds, nfds, timeout);
		pthread_mutex_lock(&pool->lock);
		if (n < 0)
			continue; /* EINTR; nothing else can fail with these arguments */
		if (fds[0].revents) {
			uint64_t count;
			(void)!read(pool->wake, &count, sizeof count);
		}
		for (unsigned i = 0; i < pool->nworkers; i++) {
			struct worker *w = &pool->workers[i];
			/*
			 * The socket before the sentinel: a worker that answers and then
			 * exits (it retires) has its answer read before it is buried.
			 */
			if (w->process && !w->conn_done && fds[1 + 2 * i].revents)
				collect(w);
			if (w->process && fds[2 + 2 * i].revents) {
				/*
				 * One that died before answering anything (its initializer
				 * failed?) is replaced at the next 100 ms tick, not at once: a
				 * worker that cannot start must not make us fork in a tight loop.
				 */
				bool answered = w->tasks > 0;
				bury(w);
				if (!answered)
					continue;
			}
			/* A dead worker is replaced while the pool has work, or may get some. */
			if (!w->process && (pool->state == RUNNING || (pool->state == CLOSED && pool->jobs > 0)))
				mp__pool_start_worker(pool, w);
		}
	}
	pool->state = FINISHED;
	pthread_cond_broadcast(&pool->changed);
	pthread_mutex_unlock(&pool->lock);
	free(fds);
	return NULL;
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
	wake(pool);
	return 0;
}

static void pool_destroy(struct mp_pool *pool)
{
	if (pool->wake >= 0)
		close(pool->wake);
	pthread_cond_destroy(&pool->changed);
	pthread_mutex_destroy(&pool->join_lock);
	pthread_mutex_destroy(&pool->lock);
	free(pool->workers);
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
	if ((!options->initarg && options->initarg_len) || !(options->task_timeout >= 0))
		return -EINVAL;
	if (nworkers == 0) {
		int n = mp_cpu_count();
		if (n < 0)
			return n;
		nworkers = (unsigned)n;
	}

	/* BEGIN SOLUTION stub: return MP_ETODO;
	 * Hint: allocate the pool and its nworkers slots (sentinels at -1), a
	 * mutex, a condition on CLOCK_MONOTONIC (mp_result_wait() waits on it
	 * with a deadline), the wake-up eventfd (through the fault seam:
	 * mp__fault("eventfd")), and copy the options. Start pool_thread()
	 * with every signal blocked (a signal meant for the caller must not
	 * land there), wait until it says `started`, and hand back its
	 * start_error: on failure, join it and free everything. On success,
	 * note the owner's pid and remember_pool() (for the exit handler).
	 * Lesson 05, "The pool's thread".
	 */
	struct mp_pool *pool = calloc(1, sizeof *pool);
	if (!pool)
		return -ENOMEM;
	pool->wake = -1;
	pool->nworkers = nworkers;
	pool->maxtasksperchild = options->maxtasksperchild;
	pool->task_timeout = options->task_timeout;
	pool->max_answer = options->max_answer;
	pthread_mutex_init(&pool->lock, NULL);
	pthread_mutex_init(&pool->join_lock, NULL);
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&pool->changed, &attr);
	pthread_condattr_destroy(&attr);
	pool->workers = calloc(nworkers, sizeof *pool->workers);
	if (options->initializer)
		strcpy(pool->initializer, options->initializer);
	pool->initarg_len = options->initarg_len;
	pool->initarg = malloc(options->initarg_len ? options->initarg_len : 1);
	rc = pool->workers && pool->initarg ? 0 : -ENOMEM;
	if (rc == 0 && options->initarg_len)
		memcpy(pool->initarg, options->initarg, options->initarg_len);
	for (unsigned i = 0; rc == 0 && i < nworkers; i++)
		pool->workers[i].sentinel = -1;
	if (rc == 0) {
		pool->wake = mp__fault("eventfd") ? -1 : eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (pool->wake < 0)
			rc = -errno;
	}
	if (rc == 0) {
		sigset_t all, old;
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		rc = -pthread_create(&pool->thread, NULL, pool_thread, pool);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	if (rc < 0) {
		pool_destroy(pool);
		return rc;
	}

	pthread_mutex_lock(&pool->lock);
	while (!pool->started)
		pthread_cond_wait(&pool->changed, &pool->lock);
	rc = pool->start_error;
	pthread_mutex_unlock(&pool->lock);
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

int mp_pool_close(mp_pool *pool)
{
	if (!pool)
		return -EINVAL;
	pthread_mutex_lock(&pool->lock);
	if (pool->state == RUNNING)
		pool->state = CLOSED;
	wake(pool);
	pthread_mutex_unlock(&pool->lock);
	return 0;
}

/* Wait for the pool's thread to end (once). */
static int join_thread(mp_pool *pool)
{
	if (pthread_equal(pthread_self(), pool->thread))
		return -EDEADLK; /* a callback: the thread would wait for itself */
	pthread_mutex_lock(&pool->join_lock);
	if (!pool->joined) {
		pthread_join(pool->thread, NULL);
		pool->joined = true;
	}
	pthread_mutex_unlock(&pool->join_lock);
	return 0;
}

int mp_pool_terminate(mp_pool *pool)
{
	if (!pool)
		return -EINVAL;
	if (pthread_equal(pthread_self(), pool->thread))
		return -EDEADLK;
	pthread_mutex_lock(&pool->lock);
	if (pool->state == RUNNING || pool->state == CLOSED)
		pool->state = TERMINATING;
	wake(pool);
	pthread_mutex_unlock(&pool->lock);
	return join_thread(pool);
}

int mp_pool_join(mp_pool *pool)
{
	if (!pool)
		return -EINVAL;
	pthread_mutex_lock(&pool->lock);
	bool running = pool->state == RUNNING;
	pthread_mutex_unlock(&pool->lock);
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
	pthread_mutex_lock(&pool->lock);
	while (pool->waiters > 0)
		pthread_cond_wait(&pool->changed, &pool->lock);
	pthread_mutex_unlock(&pool->lock);
	pool_destroy(pool);
}
