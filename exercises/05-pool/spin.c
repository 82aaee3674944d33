/* spin.c: the pool's clock, and a moment of looking for news without sleeping before a thread sleeps. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime() */
#include "pool_internal.h"

#include <sched.h>

uint64_t mp__ns_since(const struct timespec *t0)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)((now.tv_sec - t0->tv_sec) * 1000000000L + (now.tv_nsec - t0->tv_nsec));
}

void mp__spin_start(struct timespec *since)
{
	clock_gettime(CLOCK_MONOTONIC, since);
}

bool mp__spinning(const struct timespec *since)
{
	/* Let a thread that waits for this CPU (one just woken, say) have it first. */
	sched_yield(); /* speed only */
	return mp__ns_since(since) < SPIN_NS; /* speed only: it says how long a thread looks, never what it finds */
}
