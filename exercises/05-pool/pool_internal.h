/* pool_internal.h: what the files of stage 05 share: jobs, workers and the messages between them (internal). */
#ifndef MP_POOL_INTERNAL_H
#define MP_POOL_INTERNAL_H

#include <mp.h>

#include "../01-process/deadline.h"
#include "../01-process/fault.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

/*
 * The pool's mutexes check who holds them (PTHREAD_MUTEX_ERRORCHECK), and
 * every lock, unlock and wait goes through these, which stop the program at
 * a misuse: a mutex taken twice by one thread, let go by a thread that does
 * not hold it, a wait without it. Such a bug would otherwise corrupt the
 * pool quietly, far from its cause.
 */
static inline void mp__lock(pthread_mutex_t *m)
{
	if (pthread_mutex_lock(m) != 0)
		abort();
}

static inline void mp__unlock(pthread_mutex_t *m)
{
	if (pthread_mutex_unlock(m) != 0)
		abort();
}

/* Wait on @c, with @m held, until @end (CLOCK_MONOTONIC) or for ever when NULL: 0, or ETIMEDOUT. */
static inline int mp__wait(pthread_cond_t *c, pthread_mutex_t *m, const struct timespec *end)
{
	int rc = end ? pthread_cond_timedwait(c, m, end) : pthread_cond_wait(c, m);
	if (rc != 0 && rc != ETIMEDOUT)
		abort();
	return rc;
}

/*
 * Every allocation of the pool goes through these: through the fault seam,
 * so that a test can make each fail in turn (<mp/fault.h>: "malloc" and
 * "calloc"), and never NULL for a size of 0, which malloc() may give.
 */
static inline void *mp__pool_malloc(size_t size)
{
	return mp__fault("malloc") ? NULL : malloc(size ? size : 1);
}

static inline void *mp__pool_calloc(size_t n, size_t size)
{
	return mp__fault("calloc") ? NULL : calloc(n ? n : 1, size);
}

/*
 * A job is one submission: one call for mp_pool_apply_async(), n records for
 * mp_pool_map(). mp_result is the job: the caller's handle on it.
 * Every field below `pool` is guarded by pool->lock, except where noted.
 */
struct mp_result {
	struct mp_pool *pool;
	int refs;                      /* the caller's handle + the pool's, until it is done */
	char task[MP_TASK_NAME_MAX + 1];
	struct mp_callbacks callbacks; /* zeroed when none */

	/* The input: records in_size bytes each; owned (a copy) for apply, the caller's for map. */
	const char *in;
	void *in_copy;                 /* what to free: the copy, or NULL */
	size_t n, in_size;
	size_t chunksize;
	size_t next;                   /* the first record not yet handed to a worker */
	size_t pending;                /* records handed out or waiting, not yet answered */

	/* The output: for map, n records of out_size in the caller's array; for apply, data. */
	char *out;
	size_t out_size;
	bool is_map;
	void *out_copy;                /* what to free: imap's own output buffer, or NULL */
	int *statuses;                 /* imap: each record's outcome (0 or a code); NULL otherwise */
	char **messages;               /* imap: each failed record's message; NULL otherwise */
	size_t first_index;            /* imap: the index of record 0 in the caller's stream */
	void *data;                    /* apply's answer, from malloc() */
	size_t len;

	int code;                      /* 0, or the failure of the record of lowest index */
	size_t failed_index;
	char *error;                   /* its message, from malloc(); NULL when none */
	bool ready;                    /* the outcome is final; callbacks have run */
	struct mp_result *next_queued; /* link in pool->queue while records wait for a worker */
};

/* A chunk: the records [first, first + count) of one job, sent to a worker as one message. */
struct chunk {
	struct mp_result *job;
	size_t first, count;
};

/*
 * How many chunks a worker may hold at once: the one it runs, and the next
 * ones, waiting in its socket so that it never sits idle between two. A
 * worker holds more than one only while its chunks run in less than
 * QUICK_CHUNK_NS (by its own clock), and only HELD_BYTES_MAX bytes of records in all (but one
 * chunk of any size): a slow chunk then keeps at most a few fast ones
 * waiting, and what is sent fits in the socket's buffer, so a send to a
 * busy worker never blocks.
 */
#define HELD_MAX 64
#define HELD_BYTES_MAX (32 * 1024)
#define QUICK_CHUNK_NS 100000 /* 0.1 ms */

/* The largest answer message a worker puts, unless the pool's max_answer says otherwise: the queue's own cap. */
#define ANSWER_MAX ((size_t)1 << 30)
/* The largest max_answer may be: well within what one answer queue holds (4 GiB). */
#define ANSWER_LIMIT ((size_t)3 << 30)

/*
 * A thread of the pool that has just had news looks for more, for SPIN_NS,
 * before it sleeps: a wake-up costs tens of microseconds on a virtual
 * machine, more than a tiny task, and the next message is often that close.
 */
#define SPIN_NS 50000 /* 50 us */

/* Nanoseconds from @t0 (CLOCK_MONOTONIC) to now (spin.c). */
uint64_t mp__ns_since(const struct timespec *t0);
/* Start a moment of looking without sleeping: from now (@since) for SPIN_NS. */
void mp__spin_start(struct timespec *since);
/* Whether that moment lasts still. */
bool mp__spinning(const struct timespec *since);

/*
 * Shared with one worker process (in memory both map): how many chunks it
 * has begun. When a worker dies, this says whether it was running its first
 * unanswered chunk (which then fails) or had not begun it yet (it goes to
 * another worker). A cache line each, so that two workers never share one.
 */
struct progress {
	uint64_t begun;
	char pad[56];
};

/* One worker process and what it holds. Guarded by pool->lock. */
struct worker {
	mp_process *process;     /* NULL for an empty slot */
	mp_conn *conn;           /* our end of the worker's socket pair: chunks go to it there */
	mp_queue *answers;       /* and their answers come back here, one message a chunk */
	int sentinel;            /* readable when the worker ends */
	struct chunk held[HELD_MAX]; /* a ring, oldest first: held[head] is the one it runs */
	unsigned head, nheld;
	size_t held_bytes;       /* the records' bytes of the chunks it holds */
	unsigned tasks;          /* chunks it has answered, for maxtasksperchild */
	bool quick;              /* its last chunk ran in less than QUICK_CHUNK_NS */
	struct timespec since;   /* when held[head] became the oldest: its time limit counts from there */
	struct progress *progress; /* the chunks it has begun, as the worker tells it */
	bool conn_done;          /* nothing more is sent to it or read from it: only the sentinel is left */
	struct mp__deadline retry; /* an empty slot: when to start a worker in it again */
	int kill_code;           /* 0, or why the pool killed it: what its chunk fails with */
	unsigned kill_tasks;     /* the chunks it had answered then: the oldest one then is the one killed for */
	char kill_reason[128];   /* and the sentence that says so */
};

enum pool_state {
	RUNNING,     /* takes work */
	CLOSED,      /* mp_pool_close(): finishes what it has, then the workers exit */
	TERMINATING, /* mp_pool_terminate(): kill the workers, fail what is left */
	FINISHED,    /* the pool's thread has ended: every job is done */
};

struct mp_pool {
	pthread_mutex_t lock;         /* guards what the caller and the pool's thread share */
	pthread_cond_t changed;       /* broadcast when a job becomes ready or the state changes */
	enum pool_state state;
	int start_error;              /* the first workers' start: 0, or why it failed */
	bool started;                 /* the pool's thread has started its first workers */
	struct mp_result *queue;      /* jobs with records waiting for a worker, oldest first */
	struct mp_result *queue_tail;
	struct chunk *returned;       /* chunks a dead worker held but had not begun: handed out first */
	size_t nreturned;             /* (never more than the workers can hold: nworkers x HELD_MAX) */
	size_t jobs;                  /* jobs not yet done */
	int wake;                     /* eventfd: written when there is news for the pool's thread */

	int waiters;                  /* threads inside mp_result_wait(): mp_pool_free() waits for them */

	pthread_t thread;
	pthread_mutex_t join_lock;    /* one thread at a time joins `thread` */
	bool joined;                  /* the thread has been joined */
	unsigned nworkers;
	struct worker *workers;       /* nworkers slots */
	struct progress *progress;    /* nworkers of them, in memory the workers share: */
	mp_array *shared;             /* that memory, a shared array of stage 04 */
	char initializer[MP_TASK_NAME_MAX + 1];
	void *initarg;
	size_t initarg_len;
	unsigned maxtasksperchild;
	pid_t owner;                  /* the process that made the pool: only it has the thread */
	struct mp_pool *next_pool;    /* link in the list of pools to terminate at exit */
	double task_timeout;          /* seconds a record may run (0: no limit) */
	size_t max_answer;            /* the largest answer message read from a worker (0: the default) */
	struct mp_pool_stats stats;   /* what mp_pool_stats() reports */
};

/*
 * The messages. Parent to worker: one or more chunks of one job,
 *	u32 kind (RUN or STOP), u32 name length, u64 count, u64 record size, u64 chunk size, name, records
 * Worker to parent, in its answer queue, a message for each chunk: u64 the nanoseconds it took to run,
 * then its answers, for each record in order
 *	i32 status (0, or the failure's code), u32 by_worker, u64 length, bytes (the answer, or the message)
 * An empty message hands a chunk back unbegun.
 * Integers are in the host's byte order: both ends are the same program.
 */
enum { MSG_RUN = 1, MSG_STOP = 2 };

struct run_header {
	uint32_t kind;
	uint32_t name_len;
	uint64_t count;  /* records in the message */
	uint64_t size;   /* bytes a record */
	uint64_t chunk;  /* records a chunk: each is begun and answered on its own (the last may be shorter) */
};

struct answer_header {
	int32_t status;     /* 0, or the failure's code */
	uint32_t by_worker; /* 1: the worker made the failure (the code is the pool's: MP_ENOTASK, -EMSGSIZE); 0: the task did */
	uint64_t len;
};

/* What a task writes into, in the worker (task.c). */
struct mp_task_out {
	void *data;     /* the answer, from malloc(); NULL for none */
	size_t len;
	char *message;  /* the failure's message, from malloc(); NULL for none */
};

/* The pool's thread (scheduler.c), started by mp_pool_new(). */
void *mp__pool_thread(void *pool);
/* Hand chunks to the workers that can take them (scheduler.c; lock held). */
void mp__pool_dispatch(struct mp_pool *pool, bool on_pool_thread);

/* The worker's target (worker.c), registered under this name by mp_pool_new(). */
#define MP__POOL_WORKER_TARGET "mp__pool_worker"
int mp__pool_worker_main(const void *arg, size_t len);

/* What the worker process gets as its target's argument. */
struct worker_arg {
	int fd;                       /* its end of the socket pair */
	struct progress *progress;    /* where it counts the chunks it begins (shared memory, same address after fork) */
	mp_queue *answers;            /* where it puts its answers (the same) */
	size_t max_answer;            /* the largest answer message the pool takes */
	int parent_fd;                /* the parent's end, which the worker closes */
	unsigned maxtasks;            /* 0: no limit */
	char initializer[MP_TASK_NAME_MAX + 1];
	size_t initarg_len;           /* the bytes follow */
};

/* Results (result.c). Called with pool->lock held unless noted. */
struct mp_result *mp__result_new(struct mp_pool *pool, const char *task);
/* Record the answers to records [first, first + count) of @job; may make it done. */
void mp__result_fail_records(struct mp_result *job, size_t first, size_t count, int code,
			     const char *message);
/* One answer: the record @i's status (made by the worker, or by the task) and bytes. */
void mp__result_answer(struct mp_result *job, size_t i, int status, bool by_worker, const void *bytes, size_t len);
/* If every record of @job is answered: run its callbacks (drops the lock), mark it ready. */
void mp__result_finish_if_done(struct mp_result *job);
/* Drop one reference (the lock held). */
void mp__result_unref(struct mp_result *job);
/* Free @job: its last reference is gone, or it was never submitted (nobody else has seen it). */
void mp__result_destroy(struct mp_result *job);
/* How many jobs this process has made and not yet freed: the tests' check that no handle leaks. */
size_t mp__pool_results_alive(void);
/* Wait until one of @jobs is ready, and return its index (the lock not held). */
size_t mp__result_wait_any(struct mp_result **jobs, size_t n);

/* Queue a job for the workers, hand out what can be, and wake the pool's thread if it must act (pool.c; lock held). */
int mp__pool_submit(struct mp_pool *pool, struct mp_result *job);

#endif
