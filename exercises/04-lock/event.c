/* event.c: Event, a flag that processes can wait for. */
#define _POSIX_C_SOURCE 200809L /* process-shared, robust pthread objects */
#include <mp.h>

#include "guard.h"
#include "../01-process/fault.h"

#include <errno.h>
#include <stdlib.h>

struct shared {
	struct mp__mutex guard;
	struct mp__wakeup changed; /* every sleeper woken before the flag is set */
	bool flag;
};

struct mp_event {
	struct shared *shared;
};

int mp_event_new(mp_event **out)
{
	if (!out)
		return -EINVAL;
	mp_event *e = mp__fault("calloc") ? NULL : calloc(1, sizeof *e);
	if (!e)
		return -ENOMEM;
	e->shared = mp__shared_alloc(sizeof *e->shared);
	int rc = e->shared ? mp__mutex_init(&e->shared->guard, PTHREAD_MUTEX_ERRORCHECK) : -ENOMEM;
	if (rc < 0) {
		mp_event_free(e);
		return rc;
	}
	*out = e;
	return 0;
}

void mp_event_free(mp_event *e)
{
	if (!e)
		return;
	mp__shared_free(e->shared, sizeof *e->shared);
	free(e);
}

int mp_event_set(mp_event *e)
{
	if (!e)
		return -EINVAL;
	/* TODO: your code goes here.
	 * Hint: under the guard, mp__wake_all() the sleepers on `changed`,
	 * then set the flag: wake first, so that a set killed in between
	 * leaves no sleeper asleep with the flag up.
	 * Lesson 04, "Semaphores, events and conditions".
	 */
	return MP_ETODO;
}

int mp_event_clear(mp_event *e)
{
	if (!e)
		return -EINVAL;
	mp__guard_lock(&e->shared->guard, &mp__forever);
	e->shared->flag = false;
	mp__mutex_unlock(&e->shared->guard);
	return 0;
}

bool mp_event_is_set(const mp_event *e)
{
	return e && __atomic_load_n(&e->shared->flag, __ATOMIC_ACQUIRE);
}

int mp_event_wait(mp_event *e, double timeout)
{
	if (!e)
		return -EINVAL;
	struct mp__deadline d;
	if (mp__deadline_start(&d, timeout) < 0)
		return -EINVAL;
	/* TODO: your code goes here.
	 * Hint: under the guard, mp__sleep() on `changed` while the flag is
	 * down. A wait can wake with nothing changed: always test the flag again.
	 * Lesson 04, "Semaphores, events and conditions".
	 */
	return MP_ETODO;
}
