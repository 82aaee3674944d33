/* error.c: one sentence for every error code the library returns. */
#define _GNU_SOURCE /* strerrorname_np() */
#include <mp.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* The library's own codes, in the order of enum mp_error. */
static const struct {
	int code;
	const char *name;
	const char *message;
} errors[] = {
	{ MP_ETODO, "MP_ETODO", "not written yet: this is an exercise for you to fill in" },
	{ MP_ETIMEDOUT, "MP_ETIMEDOUT", "the timeout passed before the wait was over" },
	{ MP_ESTARTED, "MP_ESTARTED", "the process has already been started" },
	{ MP_ENOTSTARTED, "MP_ENOTSTARTED", "the process has not been started" },
	{ MP_ERUNNING, "MP_ERUNNING", "the process is still running" },
	{ MP_EJOINSELF, "MP_EJOINSELF", "a process cannot join itself" },
	{ MP_ENOTCHILD, "MP_ENOTCHILD", "only the process that started a child may wait for or signal it" },
	{ MP_EDAEMONIC, "MP_EDAEMONIC", "daemonic processes are not allowed to have children" },
	{ MP_ENOTARGET, "MP_ENOTARGET", "no target is registered under that name" },
	{ MP_EEMPTY, "MP_EEMPTY", "no message came within the timeout" },
	{ MP_EFULL, "MP_EFULL", "no room came free within the timeout" },
	{ MP_ECLOSED, "MP_ECLOSED", "this process has closed the queue for putting" },
	{ MP_EEOF, "MP_EEOF", "every writer is gone and nothing is left to read" },
	{ MP_ETYPE, "MP_ETYPE", "the message is not of the type asked for (it was removed)" },
	{ MP_EBADMSG, "MP_EBADMSG", "the bytes received are not a well-formed message (dropped)" },
	{ MP_ETASKDONE, "MP_ETASKDONE", "task_done() called more times than messages were put" },
	{ MP_EBROKEN, "MP_EBROKEN", "the connection lost its place in the stream and must be closed" },
	{ MP_EAUTH, "MP_EAUTH", "authentication failed: the two sides hold different keys" },
	{ MP_EOWNERDEAD, "MP_EOWNERDEAD", "acquired, but the previous holder died holding it: repair the data, then mark it consistent" },
	{ MP_EUNRECOVERABLE, "MP_EUNRECOVERABLE", "the lock's holder died and nobody repaired it: the lock is unusable" },
	{ MP_ENOTOWNER, "MP_ENOTOWNER", "this process does not hold the lock" },
	{ MP_EBOUND, "MP_EBOUND", "released more often than acquired" },
	{ MP_EBROKENBARRIER, "MP_EBROKENBARRIER", "the barrier is broken (a timeout, an abort, a reset or a failed action)" },
	{ MP_EBUSY, "MP_EBUSY", "another handle still uses it" },
	{ MP_ETASKFAILED, "MP_ETASKFAILED", "the task failed (mp_result_error() says why)" },
	{ MP_EWORKERDIED, "MP_EWORKERDIED", "the worker running the task died before it answered" },
	{ MP_ETERMINATED, "MP_ETERMINATED", "the pool was terminated before the task finished" },
	{ MP_EPOOLCLOSED, "MP_EPOOLCLOSED", "the pool is closed or terminated: it takes no new work" },
	{ MP_EPOOLRUNNING, "MP_EPOOLRUNNING", "the pool still takes work: close or terminate it first" },
	{ MP_ENOTASK, "MP_ENOTASK", "no task is registered under that name" },
	{ MP_EREMOTE, "MP_EREMOTE", "the manager's object raised an exception, or its server refused the call" },
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

const char *mp_strerror(int code)
{
	if (code >= 0)
		return "success";
	for (size_t i = 0; i < COUNT(errors); i++)
		if (errors[i].code == code)
			return errors[i].message;
	if (code > -4096)
		return strerror(-code); /* a negated errno: the C library knows it */
	return "unknown error";
}

/*
 * "-ENOMEM" and the like, for every errno the C library can name, made once.
 * Each name has its own slot and stays valid for good, so a message that asks
 * for two names at once (got this, expected that) gets two right answers.
 */
#define MAX_ERRNO 256

static char errno_names[MAX_ERRNO][24];

static void name_errnos(void)
{
	for (int e = 1; e < MAX_ERRNO; e++) {
		const char *name = strerrorname_np(e);
		if (name)
			snprintf(errno_names[e], sizeof errno_names[e], "-%s", name);
	}
}

const char *mp_err_name(int code)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	if (code >= 0)
		return "0";
	for (size_t i = 0; i < COUNT(errors); i++)
		if (errors[i].code == code)
			return errors[i].name;
	if (code > -MAX_ERRNO) {
		pthread_once(&once, name_errnos);
		if (errno_names[-code][0])
			return errno_names[-code];
	}
	return "an unknown code";
}
