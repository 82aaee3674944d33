/**
 * @file sync.h
 * @brief Synchronisation between processes: Python's `Lock`, `RLock`,
 *        `Semaphore`, `BoundedSemaphore`, `Condition`, `Event` and `Barrier`.
 *
 * Create an object, then start the processes that use it: it lives in memory
 * shared with them through fork(). Each process frees its own handle; the
 * memory goes when the last process lets go (or exits).
 *
 * Every acquire and wait takes a timeout in seconds: 0 not to wait (Python's
 * `block=False`), ::MP_FOREVER to wait as long as it takes.
 *
 * Beyond Python: a process that dies holding a lock does not freeze the
 * others. The next process to acquire it gets it, with `MP_EOWNERDEAD`: the
 * data the lock protects may be half-updated. Repair it, call
 * mp_lock_mark_consistent(), and go on; release it without doing so and the
 * lock is unusable from then on (`MP_EUNRECOVERABLE`).
 *
 * A process killed while it *waits* on a semaphore, an event, a condition or
 * a barrier leaves nothing behind that could stop the others, and one killed
 * inside a barrier's action breaks that round (`MP_EBROKENBARRIER`) rather
 * than leaving the others waiting. Lesson 04, "Semaphores, events and
 * conditions".
 */
#ifndef MP_SYNC_H
#define MP_SYNC_H

#include <stdbool.h>
#include <stddef.h>

/** A lock, re-entrant or not, shared between processes. */
typedef struct mp_lock mp_lock;

/**
 * Create a lock: Python's `Lock`. Only its holder may release it (Python
 * lets any process release a `Lock`; here that is an error, `MP_ENOTOWNER`).
 * @return 0; `-ENOMEM`.
 */
int mp_lock_new(mp_lock **out);

/**
 * Create a re-entrant lock: Python's `RLock`. Its holder may acquire it
 * again, and must release it as many times.
 * @return 0; `-ENOMEM`.
 */
int mp_rlock_new(mp_lock **out);

/**
 * Acquire the lock, waiting at most @p timeout seconds.
 * @param l the lock.
 * @param timeout 0 not to wait, ::MP_FOREVER for no limit.
 * @return 0; `MP_ETIMEDOUT`; `MP_EOWNERDEAD` when the previous holder died
 *         holding it: the lock is now yours, see mp_lock_mark_consistent();
 *         `MP_EUNRECOVERABLE` after an unrepaired death; `-EDEADLK` when the
 *         holder of a plain lock tries again (it would wait for itself).
 */
int mp_lock_acquire(mp_lock *l, double timeout);

/**
 * Release the lock (one level of a re-entrant one).
 * @return 0; `MP_ENOTOWNER` if this process does not hold it.
 */
int mp_lock_release(mp_lock *l);

/**
 * After `MP_EOWNERDEAD`: declare that the data is repaired, so that the lock
 * can be used again once released.
 * @return 0; `-EINVAL` if the lock is not in that state or not held here.
 */
int mp_lock_mark_consistent(mp_lock *l);

/** Release this process's handle; NULL is fine. */
void mp_lock_free(mp_lock *l);

/** A counting semaphore shared between processes. */
typedef struct mp_semaphore mp_semaphore;

/**
 * Create a semaphore holding @p value units: Python's `Semaphore(value)`.
 * @return 0; `-EINVAL` for a value beyond INT_MAX; `-ENOMEM`.
 */
int mp_semaphore_new(mp_semaphore **out, unsigned value);

/**
 * Create a semaphore that may never hold more than its initial @p value:
 * Python's `BoundedSemaphore(value)`.
 * @return as mp_semaphore_new().
 */
int mp_bounded_semaphore_new(mp_semaphore **out, unsigned value);

/**
 * Take one unit, waiting at most @p timeout seconds for one.
 * @return 0; `MP_ETIMEDOUT`.
 */
int mp_semaphore_acquire(mp_semaphore *s, double timeout);

/**
 * Give one unit back.
 * @return 0; `MP_EBOUND` if a bounded semaphore would exceed its bound.
 */
int mp_semaphore_release(mp_semaphore *s);

/** The units it holds now (a snapshot: other processes may change it at once). */
int mp_semaphore_value(const mp_semaphore *s);

/** Release this process's handle; NULL is fine. */
void mp_semaphore_free(mp_semaphore *s);

/** A flag processes can wait for. */
typedef struct mp_event mp_event;

/** Create an event, not set: Python's `Event`. @return 0; `-ENOMEM`. */
int mp_event_new(mp_event **out);

/** Set the flag and wake every waiter. @return 0. */
int mp_event_set(mp_event *e);

/** Clear the flag. @return 0. */
int mp_event_clear(mp_event *e);

/** Whether the flag is set. */
bool mp_event_is_set(const mp_event *e);

/**
 * Wait until the flag is set, at most @p timeout seconds.
 * @return 0 once it is set; `MP_ETIMEDOUT`.
 */
int mp_event_wait(mp_event *e, double timeout);

/** Release this process's handle; NULL is fine. */
void mp_event_free(mp_event *e);

/** A condition variable, with the lock that guards its state. */
typedef struct mp_condition mp_condition;

/**
 * Create a condition: Python's `Condition(lock)`.
 * @param out receives the condition.
 * @param lock the lock to use (still yours to free, after the condition);
 *        NULL for a new re-entrant lock of its own.
 * @return 0; `-ENOMEM`.
 */
int mp_condition_new(mp_condition **out, mp_lock *lock);

/** The condition's lock: acquire it before waiting or notifying. */
mp_lock *mp_condition_lock(mp_condition *c);

/**
 * Release the lock, wait for a notification (at most @p timeout seconds),
 * and acquire the lock again before returning, even after a timeout.
 * @return 0 when notified (or, once, early, after a waiter was killed
 *         asleep: test your state in a loop); `MP_ETIMEDOUT`; `MP_ENOTOWNER`
 *         without the lock; `MP_EOWNERDEAD` if the lock came back from a
 *         holder that died (notified or not: repair, then test your state);
 *         `MP_EUNRECOVERABLE` if the lock became unrecoverable meanwhile:
 *         then, alone of all the answers, without the lock held.
 */
int mp_condition_wait(mp_condition *c, double timeout);

/**
 * Wait until @p predicate(@p arg) is true, checking it first and after each
 * wake, for at most @p timeout seconds in all: Python's `wait_for`.
 * @return 1 if the predicate became true, 0 if time ran out first; or an
 *         error as mp_condition_wait().
 */
int mp_condition_wait_for(mp_condition *c, bool (*predicate)(void *arg), void *arg, double timeout);

/**
 * Wake up to @p n waiters: exactly @p n of the waits under way end, or all
 * of them if fewer wait. The caller must hold the lock.
 * @return 0; `MP_ENOTOWNER` without the lock.
 */
int mp_condition_notify(mp_condition *c, unsigned n);

/** Wake every waiter. @return as mp_condition_notify(). */
int mp_condition_notify_all(mp_condition *c);

/** Release this process's handle; NULL is fine. */
void mp_condition_free(mp_condition *c);

/** A barrier: the parties wait until all of them have arrived. */
typedef struct mp_barrier mp_barrier;

/**
 * Create a barrier for @p parties processes: Python's `Barrier`.
 * @param out receives the barrier.
 * @param parties how many must arrive; at least 1.
 * @param action a registered target (see target.h) that the last process to
 *        arrive runs, before the others go on; NULL for none. If it returns
 *        non-zero, or its process dies, the barrier breaks. It runs without
 *        the barrier's guard: the others' timeouts hold meanwhile.
 * @return 0; `MP_ENOTARGET`; `-EINVAL`; `-ENOMEM`.
 */
int mp_barrier_new(mp_barrier **out, unsigned parties, const char *action);

/**
 * Arrive and wait for the others, at most @p timeout seconds.
 * @return this party's arrival index, from 0 (first) to parties - 1 (last,
 *         the one that runs the action); `MP_EBROKENBARRIER` if the barrier is
 *         or becomes broken (a timeout, an abort, a reset, a failed or dead
 *         action); `MP_ETIMEDOUT`
 *         for the party whose timeout broke it.
 */
int mp_barrier_wait(mp_barrier *b, double timeout);

/** Break the barrier: every waiter, now and later, gets `MP_EBROKENBARRIER`. @return 0. */
int mp_barrier_abort(mp_barrier *b);

/** Return the barrier to its first state; current waiters get `MP_EBROKENBARRIER`. @return 0. */
int mp_barrier_reset(mp_barrier *b);

/** How many parties it waits for. */
unsigned mp_barrier_parties(const mp_barrier *b);

/** How many are waiting now. */
unsigned mp_barrier_n_waiting(const mp_barrier *b);

/** Whether the barrier is broken. */
bool mp_barrier_broken(const mp_barrier *b);

/** Release this process's handle; NULL is fine. */
void mp_barrier_free(mp_barrier *b);

#endif
