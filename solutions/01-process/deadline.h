/* deadline.h: a timeout in seconds, turned into the time left on each retry (internal). */
#ifndef MP_DEADLINE_H
#define MP_DEADLINE_H

#include <stdbool.h>
#include <time.h>

/*
 * A wait that a signal interrupts (EINTR) must go on for only the time that
 * is left, not start again from the full timeout. So a wait records when it
 * must end, on the monotonic clock, which never jumps when the date is set.
 */
struct mp__deadline {
	bool forever;        /* no limit: the timeout was negative */
	struct timespec end; /* CLOCK_MONOTONIC time at which the wait gives up */
};

/* Start counting @timeout seconds from now. Returns 0, or -EINVAL for NaN. */
int mp__deadline_start(struct mp__deadline *d, double timeout);

/*
 * The time left, in the form ppoll() and sem_timedwait()-style calls take:
 * NULL when there is no limit, else @left (zero once the deadline passed).
 */
struct timespec *mp__deadline_left(const struct mp__deadline *d, struct timespec *left);

/*
 * Sleep until @fd reports one of @events (POLLIN, POLLOUT) or the deadline
 * passes, going back to sleep for the time left when a signal interrupts.
 * Returns 0 when ready (an error or hang-up on @fd counts: the next call on it
 * will not block), MP_ETIMEDOUT, or a negated errno.
 */
int mp__deadline_wait_fd(int fd, short events, const struct mp__deadline *d);

#endif
