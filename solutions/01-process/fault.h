/* fault.h: the library's side of the fault-injection seam (the tests' side is <mp/fault.h>). */
#ifndef MP_FAULT_INTERNAL_H
#define MP_FAULT_INTERNAL_H

#include <stdbool.h>

extern bool mp__faults_armed; /* set while any fault is armed: the one test on the fast path */

bool mp__fault_due(const char *call);

/*
 * True, with errno set, when a test has asked this call of @call to fail.
 * Written in front of the system call it guards:
 *
 *	int fd = mp__fault("pidfd_open") ? -1 : pidfd_open(pid, 0);
 */
static inline bool mp__fault(const char *call)
{
	return __builtin_expect(mp__faults_armed, 0) && mp__fault_due(call);
}

#endif
