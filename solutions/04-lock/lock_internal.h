/* lock_internal.h: the inside of a lock, for the condition variables built on it (internal). */
#ifndef MP_LOCK_INTERNAL_H
#define MP_LOCK_INTERNAL_H

#include <mp.h>

#include "guard.h"

#include <linux/futex.h>
#include <stdbool.h>
#include <sys/types.h>

/*
 * A lock is a mutex in shared memory, nothing more. A glibc robust mutex
 * already knows who holds it and how many times: the holder's thread id is
 * the low bits of its futex word (where the kernel looks, for each mutex on
 * a dead thread's robust list, whether it still held it), and glibc counts the levels of a
 * re-entrant one in __count (1 for a plain lock). Copies of our own would
 * cost two stores an acquire and three accesses a release: a tenth more than
 * the mutex itself, for nothing it does not know.
 */
struct mp_lock {
	struct mp__mutex *mutex; /* in shared memory */
};

/*
 * The holder's thread id, 0 if none. It is read without the mutex, by any
 * thread that asks "do I hold the lock?", while another process may be
 * changing the word: so one indivisible load, and relaxed is enough. The
 * only value the question cares about is the asker's own id, which no other
 * thread ever stores, and a thread always sees its own stores in the order
 * it made them. Whatever else it reads (0, or another thread's id, old or
 * new) means "not me", which is true.
 */
static inline pid_t mp__lock_owner(const mp_lock *l)
{
	unsigned word = (unsigned)__atomic_load_n(&l->mutex->m.__data.__lock, __ATOMIC_RELAXED);
	return (pid_t)(word & FUTEX_TID_MASK);
}

/* How many times the holder holds @l. For the holder only: nobody else may read a field it writes. */
static inline unsigned mp__lock_depth(const mp_lock *l)
{
	return l->mutex->m.__data.__count;
}

/* Whether the calling thread holds @l. */
bool mp__lock_held(const mp_lock *l);

#endif
