/**
 * @file pool.h
 * @brief A pool of worker processes: Python's `Pool` and `AsyncResult`.
 *
 * A pool starts a fixed number of worker processes and hands them *tasks*:
 * functions registered by name (like stage 01's targets) that take bytes and
 * give back bytes. mp_pool_apply_async() submits one call and returns a result
 * handle at once; mp_pool_map() runs one task over an array of fixed-size
 * records, as `qsort` sees its array, cut into chunks.
 *
 * Unlike CPython's pool, a worker that dies in the middle of a task (SIGKILL,
 * a segfault, abort(), _exit() inside the task) fails **only the task it
 * held**, with the signal or exit status in the result's error message; a new
 * worker takes its place and every other task completes.
 *
 * Threads: each pool runs one thread of its own in the calling process, which
 * starts the workers, hands out the work and collects the results. The
 * callbacks given to mp_pool_apply_async() run on that thread, one after the
 * other: two callbacks of one pool never run at once. A callback must return
 * quickly and must not wait for a result of its own pool (it would wait for
 * itself); it may submit new work. The other functions may be called from any
 * thread. While a pool runs, its thread starts and reaps worker processes with
 * stage 01's functions: do not start or join other processes from a second
 * thread at the same time.
 *
 * Workers are daemonic (see mp_process_set_daemon()): a task may not start a
 * process, nor a pool, of its own (`MP_EDAEMONIC`, "daemonic processes are
 * not allowed to have children").
 */
#ifndef MP_POOL_H
#define MP_POOL_H

#include "error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The pool's error codes (MP_ETASKFAILED, MP_EWORKERDIED, MP_ETERMINATED,
 * MP_EPOOLCLOSED, MP_EPOOLRUNNING, MP_ENOTASK) are in error.h with the
 * others; mp_result_error() says what happened in more words.
 */

/** What a task writes its result, or its failure, into. */
typedef struct mp_task_out mp_task_out;

/**
 * A function run in a worker process.
 * @param in the bytes submitted with the call (a record, for mp_pool_map()).
 * @param len how many bytes @p in holds.
 * @param out where the task puts its result, with mp_task_return(), or its
 *        failure, with mp_task_fail().
 * @return 0 on success; anything else fails the call (with the message given
 *         to mp_task_fail(), or one that says what the task returned).
 */
typedef int (*mp_task_fn)(const void *in, size_t len, mp_task_out *out);

/** The longest task name, not counting its terminating NUL. */
#define MP_TASK_NAME_MAX 63

/**
 * Register @p fn under @p name, so that pools can run it. MP_TASK() does it
 * before `main` runs.
 * @return 0; `-EINVAL` for a NULL argument or an empty name; `-ENAMETOOLONG`
 *         past ::MP_TASK_NAME_MAX; `-EEXIST` if the name is taken by another
 *         function (the same pair twice is harmless); `-ENOMEM`.
 */
int mp_task_register(const char *name, mp_task_fn fn);

/** The function registered under @p name, or NULL if there is none. */
mp_task_fn mp_task_find(const char *name);

/**
 * Define a task and register it under its own name before `main` runs:
 * @code
 * MP_TASK(square)(const void *in, size_t len, mp_task_out *out) { ...; return 0; }
 * @endcode
 */
#define MP_TASK(fn)                                                            \
	static int fn(const void *, size_t, mp_task_out *);                    \
	__attribute__((constructor)) static void mp__register_task_##fn(void)  \
	{                                                                      \
		(void)mp_task_register(#fn, fn);                               \
	}                                                                      \
	static int fn

/**
 * Give the task's result: a copy of @p len bytes (a later call replaces it).
 * A task that never calls it gives back no bytes.
 * @return 0; `-ENOMEM` (return it: the call then fails); `-EINVAL`.
 */
int mp_task_return(mp_task_out *out, const void *buf, size_t len);

/**
 * Fail the task with a message for the caller, printf-style, as Python
 * passes the exception back. The caller sees it in mp_result_error().
 * @return ::MP_ETASKFAILED, for the task to return.
 */
int mp_task_fail(mp_task_out *out, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/** A pool of worker processes. */
typedef struct mp_pool mp_pool;

/** One submitted call: Python's `AsyncResult`. */
typedef struct mp_result mp_result;

/** How to make a pool; a zeroed struct (or NULL) gives Python's defaults. */
struct mp_pool_options {
	const char *initializer;   /**< a task run once in each worker as it starts; NULL for none */
	const void *initarg;       /**< the bytes it gets (copied) */
	size_t initarg_len;        /**< how many */
	unsigned maxtasksperchild; /**< a worker retires after this many tasks (a map's chunk counts as one; 0: never) */
	/**
	 * Seconds a call may run (0: no limit; a map's chunk of k records gets k
	 * times as long). Past it, the worker is killed and replaced, and the
	 * call fails with `MP_ETIMEDOUT`.
	 */
	double task_timeout;
	/**
	 * The largest answer, in bytes, the pool takes from a worker (0: 1 GiB;
	 * at most 3 GiB; a map's chunk answers in one message). A larger one
	 * fails its call (each record of its chunk) with `-EMSGSIZE`; the
	 * worker goes on.
	 */
	size_t max_answer;
};

/**
 * Start a pool of @p nworkers worker processes.
 * If the initializer fails in a worker, that worker exits with status 1 and
 * is replaced, as in Python; a call already handed to it fails with
 * ::MP_EWORKERDIED. A worker that cannot answer a chunk (no memory for the
 * answer) exits with status 2: that chunk fails the same way. A worker that dies before answering anything is replaced
 * 100 ms later, not at once, so a failing initializer cannot make the pool
 * fork in a tight loop.
 * @param out receives the pool; left untouched on failure.
 * @param nworkers how many workers; 0 for mp_cpu_count().
 * @param options NULL for the defaults.
 * @return 0; `MP_EDAEMONIC` inside a worker (or any daemonic process);
 *         ::MP_ENOTASK for an unknown initializer; `-EINVAL` for a
 *         negative or NaN time limit, or a max_answer past 3 GiB; `-EAGAIN`, `-EMFILE`,
 *         `-ENOMEM` when the system refuses a process, a thread or a
 *         descriptor (then nothing is left behind); `-EINVAL`.
 */
int mp_pool_new(mp_pool **out, unsigned nworkers, const struct mp_pool_options *options);

/** Callbacks for one call; they run on the pool's thread, never two at once. */
struct mp_callbacks {
	/** Called with the result's bytes (valid during the call) when the call succeeds; may be NULL. */
	void (*on_success)(const void *data, size_t len, void *arg);
	/** Called with the error code and message when the call fails; may be NULL. */
	void (*on_error)(int code, const char *message, void *arg);
	void *arg; /**< passed to both */
};

/**
 * Submit one call of @p task with a copy of @p in, and return at once.
 * The callbacks, if any, run before the result becomes ready: once
 * mp_result_get() or mp_result_wait() returns, the callback is done.
 * @param pool the pool.
 * @param task the name the task was registered under.
 * @param in the bytes to pass it; may be NULL when @p len is 0.
 * @param len how many bytes.
 * @param callbacks NULL for none; copied.
 * @param out receives the result handle, to free with mp_result_free().
 * @return 0; ::MP_ENOTASK; ::MP_EPOOLCLOSED once the pool is closed or
 *         terminated; `-ENOMEM`; `-EINVAL`.
 */
int mp_pool_apply_async(mp_pool *pool, const char *task, const void *in, size_t len,
			const struct mp_callbacks *callbacks, mp_result **out);

/**
 * Run one call and wait for it: mp_pool_apply_async() and mp_result_get().
 * @param pool the pool.
 * @param task the name the task was registered under.
 * @param in the bytes to pass it; may be NULL when @p len is 0.
 * @param len how many bytes.
 * @param out receives, on success, the result's bytes from malloc() (with a
 *        NUL after them); when the call ran and failed (any code of
 *        mp_result_get()) its error message instead, a string from
 *        malloc(); NULL when it could not be submitted (or there was no
 *        memory for the message). Free it.
 * @param out_len receives how many bytes @p out holds.
 * @return 0, or the codes of mp_pool_apply_async() and mp_result_get().
 */
int mp_pool_apply(mp_pool *pool, const char *task, const void *in, size_t len,
		  void **out, size_t *out_len);

/**
 * Wait up to @p timeout seconds for the call to end, and give its outcome.
 * @param r the result.
 * @param timeout seconds; ::MP_FOREVER; 0 to only check.
 * @param data receives the bytes the task gave back, owned by @p r (valid
 *        until mp_result_free()); may be NULL.
 * @param len receives their length; may be NULL.
 * @return 0 when the call succeeded; `MP_ETIMEDOUT` if it has not ended
 *         (ready() says which `MP_ETIMEDOUT` it is: the wait's, or the
 *         call's time limit); ::MP_ETASKFAILED, ::MP_EWORKERDIED,
 *         ::MP_ETERMINATED, `-EMSGSIZE` (see mp_result_error());
 *         ::MP_ENOTASK; `-EINVAL`.
 */
int mp_result_get(mp_result *r, double timeout, const void **data, size_t *len);

/**
 * Wait up to @p timeout seconds for the call to end, whichever way.
 * @return 0 once it has ended; `MP_ETIMEDOUT`; `-EINVAL`.
 */
int mp_result_wait(mp_result *r, double timeout);

/** Whether the call has ended (Python's `ready()`). Never waits. */
bool mp_result_ready(const mp_result *r);

/** Whether the call has ended and succeeded (false while it runs). Never waits. */
bool mp_result_successful(const mp_result *r);

/**
 * Why the call failed, in one sentence: the task's own message, or how its
 * worker died ("worker 1234 was killed by signal 9 (Killed) ..."), or that
 * the pool was terminated. "" while it runs or when it succeeded; never NULL.
 * Valid until mp_result_free().
 */
const char *mp_result_error(const mp_result *r);

/**
 * Release a result handle; NULL is fine. A call still running goes on; its
 * outcome (and callbacks) are kept or run as usual, then dropped.
 */
void mp_result_free(mp_result *r);

/** Where mp_pool_map() says which record failed first, and why (left alone when none did). */
struct mp_map_failure {
	size_t index;       /**< the lowest index of a record whose call failed */
	char message[256];  /**< its error, as mp_result_error() gives it (cut to fit) */
};

/**
 * Call @p task on each of @p n records of @p in_size bytes in @p in, and put
 * the answers, @p out_size bytes each, in order, into @p out: Python's
 * `map`. The records travel to the workers in chunks of @p chunksize
 * consecutive records (0: Python's default, ceil(n / (4 × workers))).
 * Waits until every record is done.
 * @param pool the pool.
 * @param task the task's name; each call must give back exactly @p out_size
 *        bytes (else that record fails with `MP_ETYPE`).
 * @param in the records; may be NULL when @p n is 0.
 * @param n how many records.
 * @param in_size bytes a record.
 * @param out room for @p n answers of @p out_size bytes.
 * @param out_size bytes an answer (0 is fine: the answers are dropped).
 * @param chunksize records a chunk; 0 for the default.
 * @param failure receives the first failure when the map fails; may be NULL.
 * @return 0 when every record succeeded; else the code of the failed record
 *         of lowest index (::MP_ETASKFAILED, ::MP_EWORKERDIED, `MP_ETYPE`,
 *         ::MP_ETERMINATED; the other answers are in @p out all the same);
 *         ::MP_ENOTASK; ::MP_EPOOLCLOSED; `-ENOMEM`; `-EINVAL`.
 */
int mp_pool_map(mp_pool *pool, const char *task, const void *in, size_t n, size_t in_size,
		void *out, size_t out_size, size_t chunksize, struct mp_map_failure *failure);

/**
 * mp_pool_map() without the wait: Python's `map_async`. The arrays are not
 * copied: @p in and @p out must stay as they are until the result is ready.
 * mp_result_get() then returns the code mp_pool_map() would (its data is
 * NULL: the answers are in @p out), and mp_result_error() the first
 * failure's message. The callbacks run once, for the whole map.
 * @param pool the pool.
 * @param task the task's name.
 * @param in the records; may be NULL when @p n is 0.
 * @param n how many records (0 is fine: the result is ready at once, on the pool's thread).
 * @param in_size bytes a record.
 * @param out room for @p n answers of @p out_size bytes.
 * @param out_size bytes an answer.
 * @param chunksize records a chunk; 0 for the default.
 * @param callbacks NULL for none; copied.
 * @param result receives the result handle, to free with mp_result_free().
 * @return 0; ::MP_ENOTASK; ::MP_EPOOLCLOSED; `-ENOMEM`; `-EINVAL`.
 */
int mp_pool_map_async(mp_pool *pool, const char *task, const void *in, size_t n, size_t in_size,
		      void *out, size_t out_size, size_t chunksize, const struct mp_callbacks *callbacks,
		      mp_result **result);

/**
 * Where mp_pool_imap() gets its next record.
 * @param record room for one record of the imap's `in_size` bytes: fill it.
 * @param arg the imap's @p arg.
 * @return 1 when it filled @p record; 0 at the end of the input; a negative
 *         code to stop the imap with that code.
 */
typedef int (*mp_imap_next)(void *record, void *arg);

/**
 * Where mp_pool_imap() hands each answer.
 * @param index the record's place in the input, from 0.
 * @param code 0, or why that record's call failed (as mp_result_get()).
 * @param answer its `out_size` bytes (valid during the call); NULL when it failed.
 * @param len `out_size`, or 0 when it failed.
 * @param error the failure's message ("" on success).
 * @param arg the imap's @p arg.
 * @return 0 to go on; anything else stops the imap, which returns it.
 */
typedef int (*mp_imap_take)(size_t index, int code, const void *answer, size_t len,
			    const char *error, void *arg);

/**
 * Python's `imap` (@p ordered true) and `imap_unordered` (false), lazily:
 * records are taken from @p next only as workers free up (at most two chunks
 * a worker are in flight), so an input of any length never sits in memory
 * at once, and answers go to @p take as they are ready: in the input's order,
 * or in the order they finish. Both callbacks run on the calling thread,
 * which the imap blocks until the input is done and every answer taken.
 * @param pool the pool.
 * @param task the task's name; each call must give back @p out_size bytes.
 * @param in_size bytes a record.
 * @param out_size bytes an answer.
 * @param chunksize records a chunk; 0 for Python's default for imap, 1.
 * @param ordered true for imap, false for imap_unordered.
 * @param next produces the records.
 * @param take receives each record's answer or failure.
 * @param arg passed to both.
 * @return 0; the first negative code of @p next, or non-zero return of
 *         @p take (the calls in flight then finish, unseen); ::MP_ENOTASK;
 *         ::MP_EPOOLCLOSED; `-ENOMEM`; `-EINVAL`.
 */
int mp_pool_imap(mp_pool *pool, const char *task, size_t in_size, size_t out_size, size_t chunksize,
		 bool ordered, mp_imap_next next, mp_imap_take take, void *arg);

/**
 * The chunk size mp_pool_map() uses for @p n records when given 0, as
 * Python computes it: ceil(n / (4 × workers)), and 0 for no records.
 */
size_t mp_pool_default_chunksize(const mp_pool *pool, size_t n);

/** How many workers the pool keeps running. */
unsigned mp_pool_workers(const mp_pool *pool);

/** What a pool has done since it was made: to see chunking and its costs at work. */
struct mp_pool_stats {
	uint64_t chunks;      /**< chunks sent to workers */
	uint64_t messages;    /**< the messages that carried them (several chunks to one, for quick tasks) */
	uint64_t most_chunks; /**< the most chunks one message carried (at most 64: what a worker may hold) */
	uint64_t most_batch_bytes; /**< the most bytes of records a message of several chunks carried (at most 32 KiB; one chunk alone may be of any size) */
	uint64_t handed_back; /**< chunks a worker handed back unbegun, once its chunks turned slow */
	uint64_t returned;    /**< chunks a dead worker held but had not begun, sent again to another */
	uint64_t started;     /**< worker processes started, replacements included */
	uint64_t wakes;       /**< submissions that woke the pool's thread: those an idle worker could not take at once from the submitting thread, and all of them under a time limit */
};

/**
 * Read @p pool's counts into @p out.
 * @return 0; `-EINVAL` for a NULL argument.
 */
int mp_pool_stats(mp_pool *pool, struct mp_pool_stats *out);

/**
 * Take no more work (Python's `close()`): what was submitted still runs, then
 * the workers exit. Returns at once.
 * @return 0 (also when already closed or terminated); `-EINVAL`.
 */
int mp_pool_close(mp_pool *pool);

/**
 * Stop at once (Python's `terminate()`): kill every worker, fail every call
 * not yet done with ::MP_ETERMINATED, and wait for the pool's thread to end.
 * Returns promptly however much work was in flight. Not from a callback.
 * @return 0; `-EDEADLK` from one of the pool's callbacks; `-EINVAL`.
 */
int mp_pool_terminate(mp_pool *pool);

/**
 * Wait for the workers to exit and the pool's thread to end, after
 * mp_pool_close() (every call then done) or mp_pool_terminate().
 * @return 0; ::MP_EPOOLRUNNING if the pool was neither closed nor
 *         terminated; `-EDEADLK` from one of the pool's callbacks; `-EINVAL`.
 */
int mp_pool_join(mp_pool *pool);

/**
 * Release the pool; NULL is fine. A pool still running is terminated first,
 * as Python's `with Pool() as p:` block does on its way out. Result handles
 * stay valid until freed. From one of the pool's callbacks it does nothing
 * (the pool's thread cannot end under itself).
 */
void mp_pool_free(mp_pool *pool);

#endif
