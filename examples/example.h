/* example.h: what the examples share: stop with a clear message when a call of the library fails. */
#ifndef MP_EXAMPLE_H
#define MP_EXAMPLE_H

#define _DEFAULT_SOURCE /* usleep() and clock_gettime() under -std=c11 */

#include <mp.h>

#include <stdio.h>
#include <stdlib.h>

/*
 * Python raises an exception and stops; the C twin checks every status the same way,
 * naming the call that failed, so the examples stay as short as their Python.
 */
#define check(call)                                                                        \
	do {                                                                               \
		int check_rc_ = (call);                                                    \
		if (check_rc_ < 0) {                                                       \
			fprintf(stderr, "%s:%d: %s: %s (%s)\n", __FILE__, __LINE__, #call,     \
				mp_err_name(check_rc_), mp_strerror(check_rc_));           \
			exit(1);                                                           \
		}                                                                          \
	} while (0)

#endif
