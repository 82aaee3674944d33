/**
 * @file queue.h
 * @brief A message queue between processes: Python's `Queue`,
 *        `SimpleQueue` and `JoinableQueue`.
 *
 * Create the queue, then start the processes that use it: they inherit it
 * through fork(). Any number of processes may put and get at once. Each
 * message arrives whole, exactly once, and in the order its producer put it;
 * a producer or consumer killed at any instant, even half-way through a large
 * message, cannot tear a message for the others, lose a place of a bounded
 * queue, put a count out, or leave another process waiting for ever.
 *
 * Messages are bytes, from 0 bytes up to a cap (1 GiB unless set with
 * mp_queue_set_max_message()); typed helpers cover integers, doubles and
 * strings. A message is kept in shared memory, not by the process that put
 * it, so a producer may exit as soon as its put returns.
 *
 * An unbounded queue (maxsize 0) holds as many messages as memory allows, up
 * to 4 GiB of them at once (each takes its bytes, rounded up to 8, plus 16).
 * Memory is taken as messages come and given back as they are read. No
 * message takes a descriptor.
 *
 * A handle is not safe to use from two threads at once.
 */
#ifndef MP_QUEUE_H
#define MP_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** A queue shared by the processes that inherit it. */
typedef struct mp_queue mp_queue;

/**
 * Create a queue.
 * @param out receives the queue; left untouched on failure.
 * @param maxsize how many messages it may hold before put waits; 0 for no
 *        limit but memory.
 * @return 0; `-EINVAL`; `-EMFILE`, `-ENFILE`, `-ENOMEM`.
 */
int mp_queue_new(mp_queue **out, size_t maxsize);

/**
 * Create a joinable queue: one that also counts unfinished tasks, for
 * mp_queue_task_done() and mp_queue_join(). Python's `JoinableQueue`.
 * @return as mp_queue_new().
 */
int mp_queue_new_joinable(mp_queue **out, size_t maxsize);

/**
 * Create a queue that holds at most about @p bytes of messages at once (each
 * takes its bytes, rounded up to 8, plus 16): beyond Python, a bound on
 * memory as well as, or instead of, a count. mp_queue_new() is this with
 * 4 GiB. A put that finds the bytes in use waits for room, as for maxsize.
 * @param out receives the queue; left untouched on failure.
 * @param maxsize as mp_queue_new(); 0 for no bound but @p bytes.
 * @param bytes rounded up to a power of two of at least 2 MiB; at most
 *        64 GiB. A message that would take more than that can never fit:
 *        its put fails with `-EMSGSIZE`.
 * @param joinable as mp_queue_new_joinable().
 * @return as mp_queue_new(); `-EINVAL` for more than 64 GiB.
 */
int mp_queue_new_sized(mp_queue **out, size_t maxsize, size_t bytes, bool joinable);

/**
 * Put a message: a copy of @p len bytes from @p data.
 * @param q the queue.
 * @param data the bytes; may be NULL when @p len is 0.
 * @param len how many bytes.
 * @param timeout seconds to wait for room; 0 not to wait; ::MP_FOREVER.
 * @return 0; `MP_EFULL` if there was no room within the timeout;
 *         `MP_ECLOSED` after mp_queue_close() in this process; `-EMSGSIZE`
 *         beyond the size cap, or for a message the queue's memory could
 *         never hold; `-EINVAL`.
 */
int mp_queue_put(mp_queue *q, const void *data, size_t len, double timeout);

/**
 * Take the oldest message.
 * @param q the queue.
 * @param data receives the message in memory from malloc() (free it), or
 *        NULL for an empty message.
 * @param len receives its length.
 * @param timeout seconds to wait for a message; 0 not to wait; ::MP_FOREVER.
 * @return 0; `MP_EEMPTY` if none came within the timeout; `MP_EEOF` once
 *         every process has closed the queue for putting and it is drained;
 *         `MP_EBADMSG` for a message over this handle's size cap (it is
 *         removed), or for a queue whose shared memory was written over;
 *         `-ENOMEM` (the message stays for the next get); `-EINVAL`.
 */
int mp_queue_get(mp_queue *q, void **data, size_t *len, double timeout);

/** Put a 64-bit integer. @return as mp_queue_put(). */
int mp_queue_put_int(mp_queue *q, int64_t value, double timeout);

/**
 * Take a message put with mp_queue_put_int().
 * @return as mp_queue_get(), and `MP_ETYPE` if the oldest message was of
 *         another kind (it is removed all the same).
 */
int mp_queue_get_int(mp_queue *q, int64_t *value, double timeout);

/** Put a double. @return as mp_queue_put(). */
int mp_queue_put_double(mp_queue *q, double value, double timeout);

/** Take a message put with mp_queue_put_double(). @return as mp_queue_get_int(). */
int mp_queue_get_double(mp_queue *q, double *value, double timeout);

/** Put a NUL-terminated string. @return as mp_queue_put(). */
int mp_queue_put_str(mp_queue *q, const char *s, double timeout);

/**
 * Take a message put with mp_queue_put_str().
 * @param q the queue.
 * @param s receives a NUL-terminated string from malloc(); free it.
 * @param timeout as mp_queue_get().
 * @return as mp_queue_get_int().
 */
int mp_queue_get_str(mp_queue *q, char **s, double timeout);

/**
 * How many messages are in the queue: exact at the instant it is read, even
 * after processes were killed mid-put or mid-get, but other processes may put
 * and get before the answer is used.
 * @return the count.
 */
size_t mp_queue_qsize(const mp_queue *q);

/** Whether a get would find no message right now (as qsize, stale once read). */
bool mp_queue_empty(const mp_queue *q);

/**
 * Whether a put would have to wait right now (as qsize, stale once read): a
 * bounded queue holds maxsize messages, or the queue's memory (4 GiB unless
 * chosen) has no room left for an integer. Closing the queue in this
 * process does not change the answer.
 */
bool mp_queue_full(const mp_queue *q);

/**
 * Declare that this process will put no more messages: Python's `close()`.
 * It may still get. When every process that holds the queue has closed it
 * (or exited), consumers get `MP_EEOF` once the queue is drained.
 * @return 0, also when already closed.
 */
int mp_queue_close(mp_queue *q);

/**
 * Set the largest message this handle will put or accept, in bytes. A
 * larger incoming message is removed and refused with `MP_EBADMSG`, before
 * any memory is allocated for it.
 * @return 0; `-EINVAL` for 0, or for more than the queue can hold (4 GiB
 *         unless made with mp_queue_new_sized()).
 */
int mp_queue_set_max_message(mp_queue *q, size_t bytes);

/**
 * A descriptor that is readable when a message (or end-of-file) waits, for
 * poll() and for waiting on many objects. It belongs to the queue. Once any
 * process has asked for it, every put into an empty queue writes a byte to
 * it (a system call), which puts otherwise skip when no get is asleep. A
 * process killed at the wrong instant can leave it readable with nothing to
 * read: try a get with timeout 0, and poll again on `MP_EEMPTY`.
 * @return the descriptor; `-EINVAL`.
 */
int mp_queue_fileno(const mp_queue *q);

/**
 * Joinable queues: mark one message taken with get as processed.
 * @return 0; `MP_ETASKDONE` if called more times than messages were put;
 *         `-EINVAL` on a queue that is not joinable.
 */
int mp_queue_task_done(mp_queue *q);

/**
 * Joinable queues: wait until every message put has been marked done.
 * @return 0; `MP_ETIMEDOUT`; `-EINVAL` on a queue that is not joinable.
 */
int mp_queue_join(mp_queue *q, double timeout);

/** Release this process's handle; NULL is fine. The queue lives on in the others. */
void mp_queue_free(mp_queue *q);

#endif
