/* test_sync.c: stage 06, the shared Lock, RLock, Semaphore, BoundedSemaphore and Event. */
#define _GNU_SOURCE
#include "manager_calls.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MP_LESSON "lessons/06-manager.md"

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

#define B(b) mp_value_bool(b)
#define F(f) mp_value_float(f)

/* A second client of @m's server (a connection of its own, so another owner), and its proxy of @p's object. */
static mp_manager *second_client(mp_manager *m, mp_proxy *p, mp_proxy **theirs)
{
	mp_manager *other = NULL;
	mp_expect_status(mp_manager_connect(&other, mp_manager_address(m), MANAGER_KEY, sizeof MANAGER_KEY - 1), 0);
	mp_expect_status(mp_manager_proxy(other, mp_proxy_typeid(p), mp_proxy_ident(p), theirs), 0);
	return other;
}

/* A call made in a thread of its own, and how long it took. */
struct waiter {
	mp_proxy *p;
	const char *method;
	mp_value *args; /* taken */
	pthread_t thread;
	int rc;
	mp_value *got;
	double took;
};

static void *call_in_a_thread(void *arg)
{
	struct waiter *w = arg;
	double t0 = now();
	w->rc = mp_proxy_call(w->p, w->method, w->args, NULL, &w->got, NULL);
	w->took = now() - t0;
	mp_value_free(w->args);
	return NULL;
}

static void start_waiter(struct waiter *w, mp_proxy *p, const char *method, mp_value *args)
{
	*w = (struct waiter){ .p = p, .method = method, .args = args };
	cr_assert(pthread_create(&w->thread, NULL, call_in_a_thread, w) == 0);
	usleep(100000); /* (long enough for the call to be waiting in the server) */
}

/* The waiter's call must have answered @want within a second of what woke it. */
static void expect_woken(struct waiter *w, const char *want, const char *what)
{
	pthread_join(w->thread, NULL);
	mp_expect_status(w->rc, 0);
	cr_assert(w->took < 1.1, "%s took %.2f s: a waiter must be woken at once, not find out at its timeout", what, w->took);
	expect_repr(w->got, want, what);
}

MP_TEST(sync, a_shared_lock_and_rlock_are_python_s, 3, "Locks, semaphores and events")
{
	mp_manager *m = start();
	mp_proxy *l = create(m, "Lock", NULL, NULL);
	expect_repr(call(l, "acquire", NULL), "True", "lock.acquire()");
	expect_repr(call(l, "acquire", T(1, B(false))), "False", "lock.acquire(False) of a held lock");
	double t0 = now();
	expect_repr(call(l, "acquire", T(2, B(true), F(0.2))), "False", "lock.acquire(True, 0.2) of a held lock");
	cr_assert(now() - t0 >= 0.19, "lock.acquire(True, 0.2) of a held lock gave up after %.3f s, not 0.2 s", now() - t0);
	raises(l, "acquire", T(2, B(false), F(1)), "ValueError", "non-blocking");
	raises(l, "acquire", T(2, B(true), F(-2)), "ValueError", "non-negative");
	/* A Lock has no owner: another client may release it, as a thread may in Python. */
	mp_proxy *theirs = NULL;
	mp_manager *other = second_client(m, l, &theirs);
	mp_value_free(call(theirs, "release", NULL));
	raises(l, "release", NULL, "RuntimeError", "release unlocked lock");
	expect_repr(call(l, "acquire", T(2, B(true), F(-1))), "True", "lock.acquire(True, -1) of a free lock");
	struct waiter w;
	start_waiter(&w, theirs, "acquire", T(2, B(true), F(5)));
	mp_value_free(call(l, "release", NULL));
	expect_woken(&w, "True", "another client's lock.acquire(True, 5), once the lock was released");
	mp_value_free(call(theirs, "release", NULL));
	mp_proxy_free(theirs);
	mp_proxy_free(l);

	mp_proxy *r = create(m, "RLock", NULL, NULL);
	expect_repr(call(r, "acquire", NULL), "True", "rlock.acquire()");
	expect_repr(call(r, "acquire", T(1, B(false))), "True", "rlock.acquire(False) by its owner");
	mp_expect_status(mp_manager_proxy(other, "RLock", mp_proxy_ident(r), &theirs), 0);
	expect_repr(call(theirs, "acquire", T(1, B(false))), "False", "rlock.acquire(False) by another client");
	raises(theirs, "release", NULL, "RuntimeError", "un-acquired");
	mp_value_free(call(r, "release", NULL));
	expect_repr(call(theirs, "acquire", T(1, B(false))), "False", "rlock.acquire(False) after one of two releases");
	mp_value_free(call(r, "release", NULL));
	raises(r, "release", NULL, "RuntimeError", "un-acquired");
	expect_repr(call(theirs, "acquire", T(1, B(false))), "True", "rlock.acquire(False) once its owner let go");
	mp_value_free(call(theirs, "release", NULL));
	mp_proxy_free(theirs);
	mp_proxy_free(r);
	mp_manager_free(other);
	mp_expect_status(mp_manager_shutdown(m), 0);
	mp_manager_free(m);
}

MP_TEST(sync, semaphores_count_and_a_bounded_one_refuses_too_many_releases, 2, "Locks, semaphores and events")
{
	mp_manager *m = start();
	mp_proxy *s = create(m, "Semaphore", T(1, I(2)), NULL);
	expect_repr(call(s, "acquire", NULL), "True", "sem.acquire() of Semaphore(2)");
	expect_repr(call(s, "acquire", NULL), "True", "the second sem.acquire() of Semaphore(2)");
	expect_repr(call(s, "acquire", T(2, B(true), F(0.05))), "False", "a third sem.acquire(True, 0.05) of Semaphore(2)");
	expect_repr(call(s, "acquire", T(2, B(true), F(-1))), "False", "sem.acquire(True, -1): a negative timeout waits not");
	raises(s, "acquire", T(2, B(false), F(1)), "ValueError", "non-blocking");
	raises(s, "release", T(1, I(0)), "ValueError", "one or more");
	mp_value_free(call(s, "release", T(1, I(5)))); /* an unbounded one goes past its start */
	for (int i = 0; i < 5; i++)
		expect_repr(call(s, "acquire", T(1, B(false))), "True", "sem.acquire(False) after release(5)");
	expect_repr(call(s, "acquire", T(1, B(false))), "False", "a sixth sem.acquire(False) after release(5)");
	mp_proxy_free(s);

	mp_proxy *b = create(m, "BoundedSemaphore", T(1, I(1)), NULL);
	raises(b, "release", NULL, "ValueError", "released too many times");
	expect_repr(call(b, "acquire", NULL), "True", "bsem.acquire()");
	mp_value_free(call(b, "release", NULL));
	raises(b, "release", NULL, "ValueError", "released too many times");
	mp_proxy_free(b);

	mp_proxy *bad = NULL;
	mp_remote_error err;
	mp_value *negative = T(1, I(-1));
	mp_expect_status(mp_manager_create(m, "Semaphore", negative, NULL, &bad, &err), MP_EREMOTE);
	/* A create that fails is a traceback, in CPython as here: the client sees a RemoteError. */
	cr_assert(strstr(err.message, "ValueError: semaphore initial value must be >= 0"),
		  "Semaphore(-1) raised %s (%s), not Python's ValueError", err.type, err.message);
	mp_value_free(negative);
	mp_expect_status(mp_manager_shutdown(m), 0);
	mp_manager_free(m);
}

MP_TEST(sync, an_event_wakes_its_waiters_and_wait_says_whether_it_was_set, 3, "Locks, semaphores and events")
{
	mp_manager *m = start();
	mp_proxy *e = create(m, "Event", NULL, NULL);
	expect_repr(call(e, "is_set", NULL), "False", "a new event's is_set()");
	double t0 = now();
	expect_repr(call(e, "wait", T(1, F(0.2))), "False", "event.wait(0.2) of a clear event");
	cr_assert(now() - t0 >= 0.19, "event.wait(0.2) of a clear event returned after %.3f s, not 0.2 s", now() - t0);
	/* One client waits for ever; another sets the flag, and the waiter wakes. */
	mp_proxy *theirs = NULL;
	mp_manager *other = second_client(m, e, &theirs);
	struct waiter w;
	start_waiter(&w, theirs, "wait", T(1, F(5)));
	mp_value_free(call(e, "set", NULL));
	expect_woken(&w, "True", "event.wait(5) once another client called set()");
	expect_repr(call(e, "wait", T(1, F(0))), "True", "event.wait(0) of a set event");
	mp_value_free(call(e, "clear", NULL));
	expect_repr(call(e, "is_set", NULL), "False", "is_set() after clear()");
	mp_proxy_free(theirs);
	mp_proxy_free(e);
	mp_manager_free(other);
	mp_expect_status(mp_manager_shutdown(m), 0);
	mp_manager_free(m);
}

MP_TEST(sync, a_client_that_dies_holding_a_lock_lets_go_of_it, 3, "Locks, semaphores and events")
{
	/*
	 * CPython's server keeps a dead client's lock locked for ever, and every
	 * other client hangs in acquire(). Here the server lets go of it once
	 * the client's connection ends.
	 */
	mp_manager *m = start();
	const char *types[] = { "Lock", "RLock" };
	for (int k = 0; k < 2; k++) {
		mp_proxy *l = create(m, types[k], NULL, NULL);
		int ready[2];
		cr_assert(pipe(ready) == 0);
		pid_t child = fork();
		cr_assert(child >= 0);
		if (child == 0) {
			mp_value *held = NULL;
			if (mp_proxy_call(l, "acquire", NULL, NULL, &held, NULL) == 0 && mp_value_as_bool(held))
				(void)!write(ready[1], "x", 1);
			pause();
			_exit(3);
		}
		close(ready[1]);
		char x;
		cr_assert(read(ready[0], &x, 1) == 1, "the child could not acquire the %s", types[k]);
		close(ready[0]);
		expect_repr(call(l, "acquire", T(1, B(false))), "False", "acquire(False) of a lock a live child holds");
		kill(child, SIGKILL);
		mp_test_wait_pid(child, 5);
		expect_repr(call(l, "acquire", T(2, B(true), F(5))), "True",
			    "acquire(True, 5) of a lock whose holder was killed (lesson 06, \"Locks, semaphores and events\")");
		mp_value_free(call(l, "release", NULL));
		mp_proxy_free(l);
	}
	mp_expect_status(mp_manager_shutdown(m), 0);
	mp_manager_free(m);
}

/* What a CPython program does with a SyncManager's locks and events, unchanged. */
static const char python_client[] =
	"import os, threading\n"
	"from multiprocessing.managers import SyncManager\n"
	"address, key = os.environ['MP_PY_ARG'].split('\\t')\n"
	"m = SyncManager(address=address, authkey=key.encode())\n"
	"m.connect()\n"
	"lock = m.Lock()\n"
	"with lock:\n"
	"    print(lock.acquire(False), lock.acquire(True, 0.05))\n"
	"try:\n"
	"    lock.release()\n"
	"except RuntimeError as e:\n"
	"    print('RuntimeError', e)\n"
	"r = m.RLock()\n"
	"with r:\n"
	"    with r:\n"
	"        print('twice')\n"
	"s = m.BoundedSemaphore(2)\n"
	"print(s.acquire(), s.acquire(), s.acquire(timeout=0.05))\n"
	"s.release(); s.release()\n"
	"try:\n"
	"    s.release()\n"
	"except ValueError as e:\n"
	"    print('ValueError', e)\n"
	"e = m.Event()\n"
	"threading.Timer(0.1, e.set).start()\n"
	"print(e.is_set(), e.wait(5), e.is_set())\n"
	"e.clear()\n"
	"print(e.wait(0.05))\n";

MP_TEST(sync, a_cpython_client_uses_our_locks_and_events_unchanged, 3, "Speaking with CPython")
{
	struct pythons py;
	py_find(&py);
	mp_manager *m = start();
	char arg[320];
	snprintf(arg, sizeof arg, "%s\t%s", mp_manager_address(m), MANAGER_KEY);
	for (int i = 0; i < py.n; i++) {
		char *out = py_run(py.path[i], python_client, arg);
		const char *want =
			"False False\n"
			"RuntimeError release unlocked lock\n"
			"twice\n"
			"True True False\n"
			"ValueError Semaphore released too many times\n"
			"False True True\n"
			"False\n";
		cr_assert_str_eq(out, want, "Python %s, with our manager, printed\n%s\nwhere Python's own manager prints\n%s"
				 "(lesson 06, section \"Locks, semaphores and events\")", py.version[i], out, want);
		free(out);
	}
	mp_expect_status(mp_manager_shutdown(m), 0);
	mp_manager_free(m);
}
