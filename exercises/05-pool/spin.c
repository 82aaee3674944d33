/* spin.c: a moment of looking for news without sleeping, before a pool's thread or worker sleeps. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime() */
#include "pool_internal.h"

#include <sched.h>

void mp__spin_start(struct timespec *until)
{
	clock_gettime(CLOCK_MONOTONIC, until);
	until->tv_nsec += SPIN_NS;
	if (until->tv_nsec >= 1000000000L) {
		until->tv_sec++;
		until->tv_nsec -= 1000000000L;
	}
}

bool mp__spinning(const struct timespec *until)
{
	/* Let a thread that waits for this CPU (one just woken, say) have it first. */
	sched_yield();
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec < until->tv_sec || (now.tv_sec == until->tv_sec && now.tv_nsec < until->tv_nsec);
}
