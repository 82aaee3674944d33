/* lock_internal.h: the inside of a lock, for the condition variables built on it (internal). */
#ifndef MP_LOCK_INTERNAL_H
#define MP_LOCK_INTERNAL_H

#include <mp.h>

#include <pthread.h>
#include <stdbool.h>
#include <sys/types.h>

/* What all processes share: the mutex, and who holds it how many times. */
struct mp__lock_shared {
	pthread_mutex_t mutex;
	pid_t owner;    /* thread id of the holder, 0 if none; written only by the holder */
	unsigned depth; /* how many times the holder has acquired it */
	bool recursive;
};

struct mp_lock {
	struct mp__lock_shared *shared; /* in shared memory */
};

/* Whether the calling thread holds @l. */
bool mp__lock_held(const mp_lock *l);

#endif
