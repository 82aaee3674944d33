/* deadline.c: a timeout in seconds, turned into the time left on each retry. */
#define _GNU_SOURCE /* ppoll() */
#include <mp.h>

#include "deadline.h"
#include "fault.h"

#include <errno.h>
#include <math.h>
#include <poll.h>

#define NSEC_PER_SEC 1000000000L

int mp__deadline_start(struct mp__deadline *d, double timeout)
{
	if (isnan(timeout))
		return -EINVAL;
	d->forever = timeout < 0 || isinf(timeout);
	if (d->forever)
		return 0;

	/* Past a century the wait is as good as forever, and the sum cannot overflow. */
	if (timeout > 3.2e9) {
		d->forever = true;
		return 0;
	}
	clock_gettime(CLOCK_MONOTONIC, &d->end);
	double whole = floor(timeout);
	d->end.tv_sec += (time_t)whole;
	d->end.tv_nsec += (long)((timeout - whole) * NSEC_PER_SEC);
	if (d->end.tv_nsec >= NSEC_PER_SEC) {
		d->end.tv_sec++;
		d->end.tv_nsec -= NSEC_PER_SEC;
	}
	return 0;
}

struct timespec *mp__deadline_left(const struct mp__deadline *d, struct timespec *left)
{
	if (d->forever)
		return NULL;

	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	left->tv_sec = d->end.tv_sec - now.tv_sec;
	left->tv_nsec = d->end.tv_nsec - now.tv_nsec;
	if (left->tv_nsec < 0) {
		left->tv_sec--;
		left->tv_nsec += NSEC_PER_SEC;
	}
	if (left->tv_sec < 0)
		left->tv_sec = left->tv_nsec = 0;
	return left;
}

/* ppoll() through the seam the tests use to make it fail (or be interrupted) at will. */
static int ppoll_or_fault(struct pollfd *p, const struct timespec *timeout)
{
	return mp__fault("ppoll") ? -1 : ppoll(p, 1, timeout, NULL);
}

int mp__deadline_wait_fd(int fd, short events, const struct mp__deadline *d)
{
	/* TODO: your code goes here.
	 * Hint: ppoll_or_fault() one pollfd, with mp__deadline_left() as its timeout
	 * (NULL waits forever). More than 0: ready. 0: MP_ETIMEDOUT. EINTR: a
	 * signal cut the sleep short, so loop, and the deadline gives the time
	 * that is left. Lesson 01, "Waiting with a timeout".
	 */
	return MP_ETODO;
}
