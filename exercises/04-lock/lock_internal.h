/* lock_internal.h: the inside of a lock, for the condition variables built on it (internal). */
#ifndef MP_LOCK_INTERNAL_H
#define MP_LOCK_INTERNAL_H

#include <mp.h>

#include "guard.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/types.h>

/* What all processes share: the mutex, and who holds it how many times. */
struct mp__lock_shared {
	struct mp__mutex mutex;
	_Atomic pid_t owner; /* thread id of the holder, 0 if none; written only by the holder */
	unsigned depth;      /* how many times the holder has acquired it; only the holder touches it */
};

/*
 * `owner` is read without the mutex, by any thread that asks "do I hold the
 * lock?", while the holder may be writing it: with a plain field that is a
 * data race, undefined behaviour in C11. So it is atomic, and relaxed is
 * enough: the only value the question cares about is the asker's own id, which
 * no other thread ever stores, and a thread always sees its own stores in the
 * order it made them. Whatever else it reads (0, or another thread's id, old
 * or new) means "not me", which is true. The data the lock protects is ordered
 * by the mutex itself, not by this field.
 */
static inline pid_t mp__lock_owner(const struct mp__lock_shared *l)
{
	return atomic_load_explicit(&l->owner, memory_order_relaxed);
}

static inline void mp__lock_set_owner(struct mp__lock_shared *l, pid_t tid)
{
	atomic_store_explicit(&l->owner, tid, memory_order_relaxed);
}

struct mp_lock {
	struct mp__lock_shared *shared; /* in shared memory */
};

/* Whether the calling thread holds @l. */
bool mp__lock_held(const mp_lock *l);

#endif
