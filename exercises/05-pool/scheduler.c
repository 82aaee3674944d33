/* scheduler.c: the pool's thread: start workers, hand out chunks, collect answers, replace the dead. */
#define _GNU_SOURCE /* strsignal() */
#include "pool_internal.h"

#include "../01-process/deadline.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/*
 * Stage 01 keeps one list of children per process and is not written for
 * threads: every call of it made by a pool takes this lock, so two pools
 * never start, kill or reap workers at once.
 */
static pthread_mutex_t processes = PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP;

static unsigned workers_started; /* for the workers' names, under `processes` */

/*
 * Fork worker @w with its settings @wa (@len bytes), into *@p, and make
 * its socket pair: our end becomes w->conn. Under `processes`: from the
 * socket pair to the close of the worker's end no other pool may fork, or a
 * worker of another pool would keep a copy of this worker's end, and we
 * would never see end-of-file when this worker dies.
 */
static int fork_worker(struct worker *w, struct worker_arg *wa, size_t len, mp_process **p)
{
	int sv[2];
	if (mp__fault("socketpair") || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	int rc = mp_conn_from_fd(&w->conn, sv[0], true, true);
	if (rc < 0) {
		close(sv[0]);
		close(sv[1]);
		return rc;
	}
	wa->fd = sv[1];
	wa->parent_fd = sv[0];
	rc = mp_process_new(p, MP__POOL_WORKER_TARGET, wa, len);
	if (rc == 0) {
		/* Daemonic: a task may not start processes, and the workers are ours to stop. */
		mp_process_set_daemon(*p, true);
		/*
		 * SIGKILL, not SIGTERM, when we die: a task may catch SIGTERM. The
		 * "parent" this watches is the thread that forks, this pool's thread,
		 * which lives exactly as long as the workers should.
		 */
		mp_process_set_parent_death_signal(*p, SIGKILL);
		char name[32];
		snprintf(name, sizeof name, "PoolWorker-%u", ++workers_started);
		mp_process_set_name(*p, name);
		rc = mp_process_start(*p); /* (when it fails, no child is left running) */
	}
	close(sv[1]); /* the worker's end: it has its copy now */
	return rc;
}

/* Start the worker process of slot @w (number @slot). */
static int start_worker(struct mp_pool *pool, struct worker *w, unsigned slot)
{
	size_t len = sizeof(struct worker_arg) + pool->initarg_len;
	struct worker_arg *wa = mp__pool_calloc(1, len);
	if (!wa)
		return -ENOMEM;
	w->progress = &pool->progress[slot]; /* (the last worker's count, until this one begins its first chunk) */
	wa->progress = w->progress;
	wa->max_answer = pool->max_answer ? pool->max_answer : ANSWER_MAX;
	wa->maxtasks = pool->maxtasksperchild;
	strcpy(wa->initializer, pool->initializer);
	wa->initarg_len = pool->initarg_len;
	if (pool->initarg_len)
		memcpy(wa + 1, pool->initarg, pool->initarg_len);
	/*
	 * The answers come back through a queue of stage 02, in memory both
	 * processes map: the pool takes a worker's answers without a system
	 * call each, and those put before a death survive it. (The pool's
	 * loop asks for its descriptor before it first sleeps, so that a put
	 * into the empty queue rings it.) Its cap is max_answer: the worker's
	 * copy of the handle then refuses to put a larger answer.
	 */
	int rc = mp_queue_new(&w->answers, 0);
	if (rc == 0)
		rc = mp_queue_set_max_message(w->answers, wa->max_answer);
	wa->answers = w->answers;
	mp_process *p = NULL;
	if (rc == 0) {
		mp__lock(&processes);
		rc = fork_worker(w, wa, len, &p);
		mp__unlock(&processes);
	}
	free(wa);
	if (rc < 0) {
		mp_process_free(p);
		mp_conn_free(w->conn);
		mp_queue_free(w->answers);
		w->conn = NULL;
		w->answers = NULL;
		return rc;
	}
	w->process = p;
	w->sentinel = mp_process_sentinel(p); /* (a started child always has one) */
	pool->stats.started++;
	w->head = w->nheld = 0;
	w->held_bytes = 0;
	w->tasks = 0;
	w->quick = false; /* until its first chunk has shown how long chunks take */
	w->conn_done = false;
	w->kill_code = 0;
	return 0;
}

/* Kill worker @w, and say what its chunk fails with; its sentinel then leads to bury(). */
static void kill_worker(struct worker *w, int code, const char *reason)
{
	w->kill_code = code;
	w->kill_tasks = w->tasks;
	snprintf(w->kill_reason, sizeof w->kill_reason, "%s", reason);
	w->conn_done = true; /* nothing it still sends is wanted */
	mp__lock(&processes);
	mp_process_kill(w->process);
	mp__unlock(&processes);
}

/* Reap the worker of slot @w (it has ended, or is about to) and empty the slot. Returns its exit code. */
static int reap_worker(struct worker *w)
{
	int code = 0;
	mp__lock(&processes);
	mp_process_join(w->process, MP_FOREVER);
	mp_process_exitcode(w->process, &code);
	mp_process_free(w->process);
	mp__unlock(&processes);
	mp_conn_free(w->conn);
	mp_queue_free(w->answers);
	w->process = NULL;
	w->conn = NULL;
	w->answers = NULL;
	return code;
}

/* Seconds before an empty slot is tried again, after a worker that could not start. */
#define RETRY_S 0.1

static bool passed(const struct mp__deadline *d)
{
	struct timespec left;
	mp__deadline_left(d, &left);
	return left.tv_sec == 0 && left.tv_nsec == 0;
}

static size_t chunk_bytes(const struct chunk *c)
{
	return c->count * c->job->in_size;
}

/* The oldest chunk worker @w holds, and the one it runs. */
static const struct chunk *oldest(const struct worker *w)
{
	return &w->held[w->head];
}

static void hold(struct worker *w, const struct chunk *c)
{
	w->held[(w->head + w->nheld) % HELD_MAX] = *c;
	w->held_bytes += chunk_bytes(c);
	if (w->nheld++ == 0)
		clock_gettime(CLOCK_MONOTONIC, &w->since);
}

/* Take the oldest chunk off worker @w; the next one, if any, is now the one it runs. */
static struct chunk let_go(struct worker *w)
{
	struct chunk c = *oldest(w);
	w->head = (w->head + 1) % HELD_MAX;
	w->held_bytes -= chunk_bytes(&c);
	w->nheld--;
	clock_gettime(CLOCK_MONOTONIC, &w->since); /* the next one begins now (if there is one) */
	return c;
}

/*
 * Whether worker @w may take chunk @c, beside the @more chunks of
 * @more_bytes it is about to get. A worker about to retire (it has been
 * given its maxtasksperchild chunks) gets nothing more: it exits, and its
 * replacement takes the work. On a thread that submits (@idle_only), only a
 * worker with nothing to do gets a chunk. A busy worker gets more only of
 * the job it runs, while its chunks are quick (the last one was, and this
 * one is so far): a call of another job, or a slow chunk, never keeps a
 * chunk waiting behind it that an idle worker could have run.
 */
static bool can_take(const struct mp_pool *pool, const struct worker *w, unsigned more, size_t more_bytes,
		     const struct chunk *c, bool idle_only)
{
	unsigned held = w->nheld + more;
	if (!w->process || w->conn_done)
		return false;
	if (pool->maxtasksperchild && w->tasks + held >= pool->maxtasksperchild)
		return false;
	if (held == 0)
		return true; /* of any size: the worker is reading, so the send cannot block for long */
	if (idle_only || !w->quick || held >= HELD_MAX || w->held_bytes + more_bytes + chunk_bytes(c) > HELD_BYTES_MAX)
		return false;
	if (w->nheld == 0)
		return true; /* an idle worker getting a batch: gather() keeps the batch to one job */
	return c->job == oldest(w)->job && mp__ns_since(&w->since) < QUICK_CHUNK_NS;
}

/* The next chunk to hand out, left in place: one handed back by a dead worker first, else the oldest job's next. */
static bool next_chunk(struct mp_pool *pool, struct chunk *c)
{
	if (pool->nreturned > 0) {
		*c = pool->returned[0];
		return true;
	}
	struct mp_result *job = pool->queue;
	if (!job || job->n == 0)
		return false; /* a map of no records is finished on the pool's thread only */
	size_t left = job->n - job->next;
	*c = (struct chunk){ job, job->next, left < job->chunksize ? left : job->chunksize };
	return true;
}

/* Take the chunk next_chunk() gave off the pool's lists. */
static void take_chunk(struct mp_pool *pool, const struct chunk *c)
{
	if (pool->nreturned > 0) {
		memmove(pool->returned, pool->returned + 1, --pool->nreturned * sizeof *pool->returned);
		return;
	}
	struct mp_result *job = c->job;
	job->next += c->count;
	if (job->next == job->n) {
		pool->queue = job->next_queued;
		if (!pool->queue)
			pool->queue_tail = NULL;
		job->next_queued = NULL;
	}
}

/*
 * Take off the pool's lists the chunks worker @w gets now, into @batch:
 * consecutive chunks of one job, which go in one message. A worker that
 * holds chunks already gets more only once it runs low (half its ring),
 * so that the messages carry many chunks each, not one per answer.
 */
static unsigned gather(struct mp_pool *pool, const struct worker *w, struct chunk *batch, bool idle_only)
{
	if (w->nheld > HELD_MAX / 2)
		return 0;
	unsigned n = 0;
	size_t bytes = 0;
	struct chunk c;
	while (next_chunk(pool, &c) && can_take(pool, w, n, bytes, &c, idle_only)) {
		/*
		 * One message says: this task, these records, in chunks of
		 * batch[0].count. So the chunks must follow one another in one job:
		 * then they are of one size, but the job's last, which ends a batch.
		 */
		if (n > 0 && (c.job != batch[0].job || c.first != batch[n - 1].first + batch[n - 1].count))
			break;
		take_chunk(pool, &c);
		batch[n++] = c;
		bytes += chunk_bytes(&c);
	}
	return n;
}

/* Send the @n chunks of @batch (as gather() made it) to worker @w, in one message. */
static int send_chunks(struct worker *w, const struct chunk *batch, unsigned n)
{
	struct mp_result *job = batch[0].job;
	size_t count = batch[n - 1].first + batch[n - 1].count - batch[0].first;
	size_t name_len = strlen(job->task);
	size_t len = sizeof(struct run_header) + name_len + count * job->in_size;
	char *msg = mp__pool_malloc(len);
	if (!msg)
		return -ENOMEM;
	struct run_header h = { .kind = MSG_RUN, .name_len = (uint32_t)name_len,
				.count = count, .size = job->in_size, .chunk = batch[0].count };
	memcpy(msg, &h, sizeof h);
	memcpy(msg + sizeof h, job->task, name_len);
	if (count * job->in_size > 0)
		memcpy(msg + sizeof h + name_len, job->in + batch[0].first * job->in_size, count * job->in_size);
	int rc = mp_conn_send_bytes(w->conn, msg, len);
	free(msg);
	return rc;
}

/*
 * Give the @n chunks of @batch to worker @w: held first, then sent, so that
 * a worker that dies at once still accounts for them. Lock held.
 */
static void give(struct worker *w, const struct chunk *batch, unsigned n)
{
	/* TODO: your code goes here.
	 * Hint: hold() each chunk in the worker's ring, then send_chunks()
	 * them. A send that fails with -EPIPE or -ECONNRESET means the worker
	 * has gone: leave it, its sentinel will say how. Any other failure
	 * leaves a live worker we cannot talk to (part of the message may have
	 * gone): kill_worker() with the send's code and a reason that says
	 * "could not be sent".
	 * Lesson 05, "How tasks and results flow".
	 */
	(void)w; (void)batch; (void)n; (void)send_chunks; (void)hold; return;
}

/* Count, for mp_pool_stats(), a message of the @n chunks of @batch. */
static void count_message(struct mp_pool_stats *st, const struct chunk *batch, unsigned n)
{
	st->chunks += n;
	st->messages++;
	if (n > st->most_chunks)
		st->most_chunks = n;
	size_t bytes = 0;
	for (unsigned k = 0; n > 1 && k < n; k++)
		bytes += chunk_bytes(&batch[k]);
	if (bytes > st->most_batch_bytes)
		st->most_batch_bytes = bytes;
}

/* Hand chunks to the workers that hold some already (@busy) or to those that hold none. */
static void hand_out(struct mp_pool *pool, bool busy, bool on_pool_thread)
{
	for (unsigned i = 0; i < pool->nworkers; i++) {
		struct worker *w = &pool->workers[i];
		if ((w->nheld > 0) != busy) /* speed only: the order workers are offered chunks in; each pass offers the others */
			continue;
		struct chunk batch[HELD_MAX];
		unsigned n = gather(pool, w, batch, !on_pool_thread);
		if (n > 0) {
			give(w, batch, n);
			count_message(&pool->stats, batch, n);
		}
	}
}

void mp__pool_dispatch(struct mp_pool *pool, bool on_pool_thread)
{
	/* A map of no records is done as soon as its turn comes: on the pool's thread, for its callback. */
	while (on_pool_thread && pool->queue && pool->queue->n == 0) {
		struct mp_result *job = pool->queue;
		pool->queue = job->next_queued;
		if (!pool->queue)
			pool->queue_tail = NULL;
		job->next_queued = NULL;
		mp__result_finish_if_done(job);
	}
	/* Idle workers first, then the others, so that no worker waits while another gets more. */
	hand_out(pool, false, on_pool_thread);
	hand_out(pool, true, on_pool_thread); /* speed only: a busy worker's refill, before it runs dry */
}

/* Copy @n bytes at *@p into @into and step past them, if as many are left before @end. */
static bool take(const char **p, const char *end, void *into, size_t n)
{
	if ((size_t)(end - *p) < n)
		return false;
	memcpy(into, *p, n);
	*p += n;
	return true;
}

/* Record @msg, worker @w's answers to its oldest chunk, in their job. Lock held (dropped while callbacks run). */
static void answered(struct worker *w, const char *msg, size_t len)
{
	struct chunk c = let_go(w);
	w->tasks++;

	/* First the time the chunk took, by the worker's clock: not the round trip, which a busy machine stretches. */
	const char *p = msg, *end = msg + len;
	uint64_t ran_ns = QUICK_CHUNK_NS;
	take(&p, end, &ran_ns, sizeof ran_ns);
	w->quick = ran_ns < QUICK_CHUNK_NS;
	size_t done = 0;
	struct answer_header h;
	while (done < c.count && take(&p, end, &h, sizeof h) && h.len <= (size_t)(end - p)) {
		mp__result_answer(c.job, c.first + done, h.status, h.by_worker, p, h.len);
		p += h.len;
		done++;
	}
	if (done < c.count)
		mp__result_fail_records(c.job, c.first + done, c.count - done, MP_EBADMSG,
					"the worker's answer was cut short");
	mp__result_finish_if_done(c.job);
}

/*
 * Take every answer worker @w has put in its queue, a chunk's at a time,
 * oldest first. An empty message is a chunk it hands back unbegun (its
 * chunks turned slow): another worker gets it. Lock held (dropped while
 * callbacks run).
 */
static void collect(struct mp_pool *pool, struct worker *w)
{
	while (w->nheld > 0) {
		void *msg;
		size_t len;
		int rc = mp_queue_get(w->answers, &msg, &len, 0);
		if (rc == MP_EEMPTY)
			return;
		if (rc < 0) {
			/*
			 * An answer we cannot read (no memory for it, or the queue's
			 * memory written over by a wild task): kill the worker; its
			 * chunk fails with the reason.
			 */
			char reason[96];
			snprintf(reason, sizeof reason, "its answer could not be read: %s", mp_strerror(rc));
			kill_worker(w, rc, reason);
			return;
		}
		if (len == 0) {
			pool->returned[pool->nreturned++] = let_go(w);
			pool->stats.handed_back++;
			w->quick = false;
		} else {
			answered(w, msg, len);
		}
		free(msg);
	}
}

/*
 * Worker @w has ended: read what it sent before dying, fail the chunk it was
 * running, hand the others back to the pool, free the slot. Lock held.
 */
static void bury(struct mp_pool *pool, struct worker *w)
{
	/* TODO: your code goes here.
	 * Hint: the loop has taken what the worker put in its queue before
	 * it died (collect() before bury()). Read w->progress->begun, then
	 * reap_worker() for the exit code. The oldest chunk it still holds
	 * fails if it was running it: it has begun more chunks than it
	 * answered, or the pool killed it for that chunk (w->kill_code, and
	 * no answer since: w->kill_tasks), or it never answered anything (it
	 * died starting up: its initializer failed, say). Fail
	 * those records with MP_EWORKERDIED and a message that says which
	 * worker, which task and how it died ("killed by signal 9 (Killed)",
	 * or "exited with status 3": strsignal() names a signal), or with
	 * w->kill_code and w->kill_reason; then finish the job if that was its
	 * last chunk. Every other chunk it holds never began: let_go() each
	 * into pool->returned, for the next worker.
	 * Lesson 05, "When a worker dies".
	 */
	(void)pool; (void)w; (void)reap_worker; return;
}

/* Fail chunk @c: the pool is terminated. */
static void fail_terminated(const struct chunk *c, const char *why)
{
	mp__result_fail_records(c->job, c->first, c->count, MP_ETERMINATED, why);
	mp__result_finish_if_done(c->job);
}

/* mp_pool_terminate(): kill every worker, fail everything not done. Lock held. */
static void terminate_all(struct mp_pool *pool)
{
	for (unsigned i = 0; i < pool->nworkers; i++) {
		struct worker *w = &pool->workers[i];
		if (!w->process)
			continue;
		mp__lock(&processes);
		mp_process_kill(w->process);
		mp__unlock(&processes);
		reap_worker(w);
		for (bool running = true; w->nheld > 0; running = false) {
			struct chunk c = let_go(w);
			fail_terminated(&c, running ? "the pool was terminated before the task finished"
						    : "the pool was terminated before the task started");
		}
	}
	while (pool->nreturned > 0)
		fail_terminated(&pool->returned[--pool->nreturned], "the pool was terminated before the task started");
	while (pool->queue) {
		struct mp_result *job = pool->queue;
		pool->queue = job->next_queued;
		job->next_queued = NULL;
		struct chunk rest = { job, job->next, job->n - job->next };
		job->next = job->n;
		fail_terminated(&rest, "the pool was terminated before the task started"); /* (a map of none: finished) */
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
 * none is). A chunk's time counts from when it became the oldest its worker
 * holds: the worker begins it then, having answered the one before. Lock held.
 */
static int expire(struct mp_pool *pool)
{
	if (pool->task_timeout <= 0)
		return -1;
	double soonest = INFINITY;
	for (unsigned i = 0; i < pool->nworkers; i++) {
		struct worker *w = &pool->workers[i];
		if (!w->process || w->nheld == 0 || w->kill_code)
			continue;
		double ran = (double)mp__ns_since(&w->since) / 1e9;
		double left = pool->task_timeout * (double)oldest(w)->count - ran;
		if (left <= 0) {
			char reason[96];
			snprintf(reason, sizeof reason, "it ran past the time limit of %g s", pool->task_timeout);
			kill_worker(w, MP_ETIMEDOUT, reason);
		} else {
			soonest = fmin(soonest, left);
		}
	}
	/* In milliseconds, rounded up: poll() then wakes just after the limit, never before it. */
	return isinf(soonest) ? -1 : (int)ceil(soonest * 1000);
}

void *mp__pool_thread(void *arg)
{
	struct mp_pool *pool = arg;
	size_t nfds = 1 + 2 * (size_t)pool->nworkers;
	struct pollfd *fds = mp__pool_calloc(nfds, sizeof *fds);

	struct timespec news = { 0, 0 }; /* speed only: when poll() last had news; it looks without sleeping for SPIN_NS after */

	mp__lock(&pool->lock);
	int rc = fds ? 0 : -ENOMEM;
	for (unsigned i = 0; i < pool->nworkers && rc == 0; i++)
		rc = start_worker(pool, &pool->workers[i], i);
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
		mp__pool_dispatch(pool, true);
		int timeout = expire(pool);

		/* Watch the wake-up counter, and each worker's answer queue and sentinel. */
		bool empty_slot = false, queued = false;
		fds[0] = (struct pollfd){ .fd = pool->wake, .events = POLLIN };
		for (unsigned i = 0; i < pool->nworkers; i++) {
			struct worker *w = &pool->workers[i];
			empty_slot |= !w->process;
			queued |= w->nheld > 1; /* speed only */
			fds[1 + 2 * i] = (struct pollfd){ .fd = w->process && !w->conn_done ? mp_queue_fileno(w->answers) : -1,
							  .events = POLLIN };
			fds[2 + 2 * i] = (struct pollfd){ .fd = w->process ? w->sentinel : -1, .events = POLLIN };
		}
		mp__unlock(&pool->lock);
		/* An empty slot (a worker that could not start) is tried again after RETRY_S. */
		if (empty_slot && (timeout < 0 || timeout > RETRY_S * 1000))
			timeout = (int)(RETRY_S * 1000);
		/*
		 * Busy a moment ago: look again without sleeping, for a little
		 * while, since waking a thread that sleeps costs more here than
		 * the work of a tiny task (lesson 05, "Sleeping costs a round
		 * trip"). Not while workers have chunks queued: they are busy
		 * for a while, and need the CPUs more than we do.
		 */
		if (timeout != 0 && !queued && mp__spinning(&news)) /* speed only */
			timeout = 0;                                 /* speed only */
		int n = poll(fds, nfds, timeout);
		mp__lock(&pool->lock);
		if (n < 0)
			continue; /* EINTR; nothing else can fail with these arguments */
		if (n > 0)                     /* speed only */
			mp__spin_start(&news); /* speed only */
		if (fds[0].revents) {
			uint64_t count;
			ssize_t emptied = read(pool->wake, &count, sizeof count);
			(void)emptied; /* the counter is zero now, or was already: either way there is nothing to do */
		}
		for (unsigned i = 0; i < pool->nworkers; i++) {
			struct worker *w = &pool->workers[i];
			/*
			 * Answers before the sentinel: a worker that answers and then
			 * exits (it retires) has its answer read before it is buried.
			 * (An empty slot was polled as -1: nothing comes back for it.)
			 */
			if (fds[1 + 2 * i].revents)
				collect(pool, w);
			if (fds[2 + 2 * i].revents) {
				/* Everything it put before it died is in its queue now. */
				collect(pool, w);
				/*
				 * One that died before answering anything (its initializer
				 * failed?) is replaced 100 ms later, not at once: a worker
				 * that cannot start must not make us fork in a tight loop.
				 */
				bool answered = w->tasks > 0;
				bury(pool, w);
				if (!answered)
					mp__deadline_start(&w->retry, RETRY_S);
			}
			/* A dead worker is replaced while the pool has work, or may get some. */
			if (!w->process && (pool->state == RUNNING || (pool->state == CLOSED && pool->jobs > 0)) &&
			    passed(&w->retry) && start_worker(pool, w, i) < 0)
				mp__deadline_start(&w->retry, RETRY_S);
		}
	}
	pool->state = FINISHED; /* every job is done, and its waiters were woken as it was */
	mp__unlock(&pool->lock);
	free(fds);
	return NULL;
}
