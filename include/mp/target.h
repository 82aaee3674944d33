/**
 * @file target.h
 * @brief Functions that a child process can run, found by name.
 *
 * A child process runs a *target*: a function registered under a name. With
 * the fork start method a function pointer would do, but after `exec` (the
 * spawn start method) a pointer from the parent means nothing in the child,
 * while a name does: the child looks it up in its own copy of the table. So
 * targets are always named, and their argument travels as bytes.
 */
#ifndef MP_TARGET_H
#define MP_TARGET_H

#include <stddef.h>

/**
 * A function run in a child process.
 * @param arg a copy of the bytes given to mp_process_new() (NULL when there were none).
 * @param len how many bytes @p arg holds.
 * @return the child's exit status, 0 to 255, as a `main` function returns it.
 */
typedef int (*mp_target_fn)(const void *arg, size_t len);

/** The longest target name, not counting its terminating NUL. */
#define MP_TARGET_NAME_MAX 63

/**
 * Register @p fn under @p name, so that processes can be started with it.
 * Do it in every program before the first process starts; MP_TARGET() does it
 * for you before `main` runs.
 * @return 0; `-EINVAL` if an argument is NULL or the name empty; `-ENAMETOOLONG`
 *         past ::MP_TARGET_NAME_MAX; `-EEXIST` if the name is taken by another
 *         function (registering the same pair twice is harmless); `-ENOMEM`.
 */
int mp_target_register(const char *name, mp_target_fn fn);

/**
 * Find the function registered under @p name.
 * @return the function, or NULL if no target has that name.
 */
mp_target_fn mp_target_find(const char *name);

/**
 * Define a target and register it under its own name before `main` runs:
 * @code
 * MP_TARGET(worker)(const void *arg, size_t len) { ...; return 0; }
 * @endcode
 * The function is `static`; start it with `mp_process_new(&p, "worker", …)`.
 */
#define MP_TARGET(fn)                                                          \
	static int fn(const void *, size_t);                                   \
	__attribute__((constructor)) static void mp__register_##fn(void)       \
	{                                                                      \
		(void)mp_target_register(#fn, fn);                             \
	}                                                                      \
	static int fn

#endif
