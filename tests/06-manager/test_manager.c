/* test_manager.c: stage 06, the manager: shared objects in a server, used from C and from CPython unchanged. */
#define _GNU_SOURCE
#include "manager_calls.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MP_LESSON "lessons/06-manager.md"



MP_TEST(manager, a_shared_dict_is_python_s_dict, 3, "The manager's protocol")
{
	mp_manager *m = start();
	mp_proxy *d = create(m, "dict", NULL, NULL);
	cr_assert_str_eq(mp_proxy_typeid(d), "dict");
	mp_value_free(call(d, "__setitem__", T(2, S("k"), I(1))));
	mp_value_free(call(d, "update", T(1, mp_value_list_of(1, T(2, S("a"), I(2))))));
	mp_value_free(call(d, "__setitem__", T(2, T(2, I(1), I(2)), mp_value_list_of(0))));
	expect_repr(call(d, "__getitem__", T(1, S("k"))), "1", "d['k']");
	expect_repr(call(d, "__len__", NULL), "3", "len(d)");
	expect_repr(call(d, "__contains__", T(1, S("a"))), "True", "'a' in d");
	expect_repr(call(d, "keys", NULL), "['k', 'a', (1, 2)]", "d.keys()");
	expect_repr(call(d, "items", NULL), "[('k', 1), ('a', 2), ((1, 2), [])]", "d.items()");
	expect_repr(call(d, "get", T(2, S("nope"), I(5))), "5", "d.get('nope', 5)");
	expect_repr(call(d, "setdefault", T(2, S("s"), S("x"))), "'x'", "d.setdefault('s', 'x')");
	expect_repr(call(d, "pop", T(1, S("s"))), "'x'", "d.pop('s')");
	expect_repr(call(d, "#GETVALUE", NULL), "{'k': 1, 'a': 2, (1, 2): []}", "d._getvalue()");
	expect_repr(call(d, "__repr__", NULL), "\"{'k': 1, 'a': 2, (1, 2): []}\"", "repr(d)");
	raises(d, "__getitem__", T(1, S("missing")), "KeyError", "'missing'");
	raises(d, "__setitem__", T(2, mp_value_list_of(0), I(1)), "TypeError", "unhashable type: 'list'");
	raises(d, "pop", T(1, S("missing")), "KeyError", "'missing'");
	raises(d, "nosuch", NULL, "RemoteError", "not exposed");
	mp_value_free(call(d, "__delitem__", T(1, S("k"))));
	expect_repr(call(d, "popitem", NULL), "((1, 2), [])", "d.popitem()");
	mp_value_free(call(d, "clear", NULL));
	raises(d, "popitem", NULL, "KeyError", "dictionary is empty");
	mp_proxy_free(d);
	mp_expect_status(mp_manager_shutdown(m), 0);
	mp_manager_free(m);
}

MP_TEST(manager, a_shared_list_value_and_namespace_are_python_s, 3, "The manager's protocol")
{
	mp_manager *m = start();
	mp_proxy *l = create(m, "list", T(1, mp_value_list_of(2, I(3), I(1))), NULL);
	mp_value_free(call(l, "append", T(1, I(2))));
	mp_value_free(call(l, "insert", T(2, I(0), S("zero"))));
	expect_repr(call(l, "__getitem__", T(1, I(-1))), "2", "l[-1]");
	raises(l, "__getitem__", T(1, I(9)), "IndexError", "list index out of range");
	raises(l, "sort", NULL, "TypeError", "'<' not supported");
	mp_value_free(call(l, "remove", T(1, S("zero"))));
	mp_value_free(call(l, "sort", NULL));
	expect_repr(call(l, "#GETVALUE", NULL), "[1, 2, 3]", "l after sort()");
	mp_value_free(call(l, "extend", T(1, T(2, I(7), I(8)))));
	expect_repr(call(l, "pop", NULL), "8", "l.pop()");
	expect_repr(call(l, "__mul__", T(1, I(2))), "[1, 2, 3, 7, 1, 2, 3, 7]", "l * 2");
	expect_repr(call(l, "index", T(1, I(7))), "3", "l.index(7)");
	raises(l, "remove", T(1, I(99)), "ValueError", "not in list");
	mp_proxy_free(l);

	mp_proxy *v = create(m, "Value", T(2, S("i"), I(0)), NULL);
	expect_repr(call(v, "get", NULL), "0", "v.value");
	mp_value_free(call(v, "set", T(1, I(42))));
	expect_repr(call(v, "get", NULL), "42", "v.value after v.value = 42");
	mp_proxy_free(v);

	mp_value *kw = mp_value_dict_new();
	mp_value_dict_set(kw, S("x"), I(1));
	mp_proxy *ns = create(m, "Namespace", NULL, kw);
	expect_repr(call(ns, "__getattribute__", T(1, S("x"))), "1", "ns.x");
	mp_value_free(call(ns, "__setattr__", T(2, S("y"), S("two"))));
	expect_repr(call(ns, "__getattribute__", T(1, S("y"))), "'two'", "ns.y");
	mp_value_free(call(ns, "__delattr__", T(1, S("y"))));
	raises(ns, "__getattribute__", T(1, S("y")), "AttributeError", "has no attribute 'y'");
	mp_proxy_free(ns);

	mp_proxy *bad = NULL;
	mp_remote_error err;
	mp_expect_status(mp_manager_create(m, "nosuchtype", NULL, NULL, &bad, &err), MP_EREMOTE);
	cr_assert(bad == NULL && strstr(err.message, "nosuchtype"), "an unknown type is refused, and named: \"%s\"", err.message);
	mp_manager_free(m);
}

/* A CPython client, unchanged: SyncManager(address, authkey).connect(), then what tutorials do. */
static const char python_client[] =
	"import os, sys\n"
	"from multiprocessing.managers import SyncManager\n"
	"address, key = os.environ['MP_PY_ARG'].split('\\t')\n"
	"m = SyncManager(address=address, authkey=key.encode())\n"
	"m.connect()\n"
	"d = m.dict()\n"
	"d['k'] = 1\n"
	"d.update(a=2)\n"
	"print(d['k'], len(d), 'a' in d, sorted(d.keys()), d.get('z', 'dflt'))\n"
	"try:\n"
	"    d['missing']\n"
	"except KeyError as e:\n"
	"    print('KeyError', e)\n"
	"l = m.list([3, 1, 2])\n"
	"l.append(4)\n"
	"l.sort()\n"
	"print(l[0], l[-1], len(l), list(l._getvalue()), str(l))\n"
	"try:\n"
	"    l[10]\n"
	"except IndexError as e:\n"
	"    print('IndexError', e)\n"
	"v = m.Value('i', 0)\n"
	"v.value += 5\n"
	"ns = m.Namespace(x=1)\n"
	"ns.y = 'two'\n"
	"print(v.value, ns.x, ns.y)\n"
	"try:\n"
	"    ns.nope\n"
	"except AttributeError as e:\n"
	"    print('AttributeError', e)\n"
	"d2 = m.dict({'n': [1, (2, 3.5)], 'b': b'\\x00'})\n"
	"print(d2._getvalue())\n"
	"print(m._number_of_objects())\n"
	"del d, l, v, ns, d2\n"
	"import gc; gc.collect()  # before 3.13, a proxy whose call raised sits in a cycle until then (gh-106558)\n"
	"print(m._number_of_objects())\n";

MP_TEST(manager, a_cpython_client_uses_our_manager_unchanged, 4, "Speaking with CPython")
{
	struct pythons py;
	py_find(&py);
	mp_manager *m = start();
	char arg[320];
	snprintf(arg, sizeof arg, "%s\t%s", mp_manager_address(m), MANAGER_KEY);
	for (int i = 0; i < py.n; i++) {
		char *out = py_run(py.path[i], python_client, arg);
		const char *want =
			"1 2 True ['a', 'k'] dflt\n"
			"KeyError 'missing'\n"
			"1 4 4 [1, 2, 3, 4] [1, 2, 3, 4]\n"
			"IndexError list index out of range\n"
			"5 1 two\n"
			"AttributeError 'Namespace' object has no attribute 'nope'\n"
			"{'n': [1, (2, 3.5)], 'b': b'\\x00'}\n"
			"5\n"
			"0\n";
		cr_assert_str_eq(out, want, "Python %s, with our manager, printed\n%s\nwhere Python's own manager prints\n%s"
				 "(lesson 06, section \"Speaking with CPython\")", py.version[i], out, want);
		cr_log_info("Python %s used our manager unchanged", py.version[i]);
		free(out);
	}
	mp_manager_free(m);
}

/* A raw connection to @m's server, past the handshake: a client that says what it likes. */
static mp_conn *raw(mp_manager *m)
{
	mp_conn *c = NULL;
	mp_expect_status(mp_client(&c, mp_manager_address(m), MANAGER_KEY, sizeof MANAGER_KEY - 1, 5), 0);
	return c;
}

/* Send @len bytes as one message and read the reply, which must be a traceback saying @words. */
static void refused(mp_manager *m, const void *bytes, size_t len, const char *words, const char *what)
{
	mp_conn *c = raw(m);
	mp_expect_status(mp_conn_send_bytes(c, bytes, len), 0);
	void *reply;
	size_t n;
	mp_expect_status(mp_conn_recv_bytes(c, &reply, &n), 0);
	mp_value *v = NULL;
	mp_expect_status(mp_pickle_loads(reply, n, &v, NULL, NULL), 0);
	char *r = repr_of(v);
	cr_assert(strncmp(r, "('#TRACEBACK', ", 15) == 0 && strstr(r, words),
		  "%s: the server should answer with a traceback that says \"%s\", not %s (lesson 06, section \"Bad input\")",
		  what, words, r);
	free(r);
	free(reply);
	/* A control connection carries one request: then the server hangs up. */
	mp_expect_status(mp_conn_recv_bytes(c, &reply, &n), MP_EEOF);
	mp_conn_free(c);
}

/* @v (taken) as a pickle, sent as a request. */
static void refused_value(mp_manager *m, mp_value *v, const char *words, const char *what)
{
	size_t len;
	unsigned char *bytes = py_dumps_ok(v, &len);
	mp_value_free(v);
	refused(m, bytes, len, words, what);
	free(bytes);
}

MP_TEST(manager, bad_requests_get_an_answer_and_the_server_serves_on, 3, "Bad input")
{
	mp_manager *m = start();
	char path[64];
	snprintf(path, sizeof path, "/tmp/mp-test-owned-%d", (int)getpid());
	char evil[96];
	int n = snprintf(evil, sizeof evil, "\x80\x02" "cposix\nsystem\nX%c%c%c%ctouch %s\x85R.", 0, 0, 0, 0, path);
	evil[17] = (char)(strlen(path) + 6); /* BINUNICODE's length, little-endian (after PROTO 2, GLOBAL and X) */
	refused(m, evil, (size_t)n, "names 'posix system', code: refused", "a pickle that calls os.system");
	cr_assert(access(path, F_OK) != 0, "the pickle's command ran: %s exists", path);
	refused(m, "garbage", 7, "could not be read", "bytes that are no pickle");
	refused_value(m, T(3, mp_value_none(), S("dummy"), T(0)), "not a tuple of 4", "a request of 3 items");
	refused_value(m, T(4, I(7), S("dummy"), T(0), mp_value_dict_new()), "ident is neither None nor a str", "an int for an ident");
	refused_value(m, T(4, mp_value_none(), S("bogus"), T(0), mp_value_dict_new()), "'bogus' unrecognized", "an unknown control request");
	refused_value(m, T(4, mp_value_none(), S("decref"), T(1, S("c999")), mp_value_dict_new()), "KeyError: 'c999'",
		      "a decref of an object that never was");
	refused_value(m, T(4, mp_value_none(), S("create"), T(1, I(1)), mp_value_dict_new()), "needs a typeid",
		      "a create without a typeid");

	/* A message past the cap: the connection is closed, and nothing is allocated for it. */
	mp_conn *c = raw(m);
	int fd = mp_conn_fileno(c);
	cr_assert(write(fd, "\x7f\xff\xff\xf0", 4) == 4);
	void *reply;
	size_t len;
	int rc = mp_conn_recv_bytes(c, &reply, &len);
	cr_assert(rc == MP_EEOF || rc == -ECONNRESET, "a 2 GiB message should close the connection, not %s", mp_err_name(rc));
	mp_conn_free(c);

	/* A wrong key never gets in; a client that stalls holds up no one. */
	mp_conn *stranger = NULL;
	mp_expect_status(mp_client(&stranger, mp_manager_address(m), "wrong", 5, 5), MP_EAUTH);
	mp_conn *staller = raw(m);
	mp_proxy *d = create(m, "dict", NULL, NULL);
	mp_value_free(call(d, "__setitem__", T(2, S("still"), S("serving"))));
	expect_repr(call(d, "__getitem__", T(1, S("still"))), "'serving'", "d['still'] after all that");
	/* A call of an object that is gone: the server says so. */
	mp_proxy *gone = create(m, "list", NULL, NULL);
	mp_conn *ctl = raw(m);
	mp_value *req = T(4, mp_value_none(), S("decref"), T(1, S(mp_proxy_ident(gone))), mp_value_dict_new());
	unsigned char *bytes = py_dumps_ok(req, &len);
	mp_value_free(req);
	mp_expect_status(mp_conn_send_bytes(ctl, bytes, len), 0);
	free(bytes);
	mp_expect_status(mp_conn_recv_bytes(ctl, &reply, &len), 0);
	free(reply);
	mp_conn_free(ctl);
	raises(gone, "append", T(1, I(1)), "RemoteError", "KeyError");
	mp_proxy_free(gone);
	mp_conn_free(staller);
	mp_proxy_free(d);
	mp_manager_free(m);
}

MP_TEST(manager, objects_live_as_long_as_a_proxy_refers_to_them, 2, "Objects live as long as a proxy refers to them")
{
	mp_manager *m = start();
	size_t n = 99;
	mp_expect_status(mp_manager_objects(m, &n), 0);
	cr_assert(n == 0, "a new manager holds no object, not %zu", n);
	mp_proxy *a = create(m, "dict", NULL, NULL), *b = create(m, "list", NULL, NULL);
	mp_expect_status(mp_manager_objects(m, &n), 0);
	cr_assert(n == 2, "two proxies, two objects: not %zu", n);
	mp_proxy_free(a);
	mp_expect_status(mp_manager_objects(m, &n), 0);
	cr_assert(n == 1, "with its one proxy freed, the dict should be gone: %zu objects left", n);
	cr_assert(strcmp(mp_proxy_ident(b), "") != 0 && mp_proxy_ident(NULL)[0] == '\0' && mp_proxy_typeid(NULL)[0] == '\0');
	mp_proxy_free(b);
	mp_expect_status(mp_manager_objects(m, &n), 0);
	cr_assert(n == 0, "every proxy freed: %zu objects left", n);
	mp_proxy_free(NULL);
	mp_manager_free(m);
}

MP_TEST(manager, a_dead_server_gives_every_client_an_error_at_once, 3, "When the server dies")
{
	mp_manager *m = start();
	mp_proxy *d = create(m, "dict", NULL, NULL);
	mp_value_free(call(d, "__setitem__", T(2, S("k"), I(1))));
	int pid = mp_manager_pid(m);
	cr_assert(pid > 0, "a manager this process started has a server pid");
	kill(pid, SIGKILL);
	double t0 = mp_test_now();
	mp_value *result = NULL;
	mp_remote_error err;
	mp_value *args = T(1, S("k"));
	int rc = mp_proxy_call(d, "__getitem__", args, NULL, &result, &err);
	mp_value_free(args);
	cr_assert(rc < 0 && rc != MP_EREMOTE && result == NULL, "a call on a dead server must fail, not %s", mp_err_name(rc));
	cr_assert(mp_test_now() - t0 < 2.0, "and at once: it took %.1f s", mp_test_now() - t0);
	mp_proxy *e = NULL;
	rc = mp_manager_create(m, "dict", NULL, NULL, &e, &err);
	cr_assert(rc < 0 && e == NULL, "so must a create: %s", mp_err_name(rc));
	mp_proxy_free(d); /* its decref finds no server: nothing to do */
	mp_expect_status(mp_manager_shutdown(m), 0);
	mp_manager_free(m);
}

MP_TEST(manager, a_server_ends_with_sigterm_or_with_its_parent, 2, "When the server dies")
{
	/* SIGTERM: a clean shutdown, its socket file gone. */
	mp_manager *m = start();
	mp_proxy *d = create(m, "dict", NULL, NULL);
	mp_value_free(call(d, "__setitem__", T(2, S("k"), I(1))));
	char path[256];
	snprintf(path, sizeof path, "%s", mp_manager_address(m));
	kill(mp_manager_pid(m), SIGTERM);
	for (int i = 0; i < 100 && access(path, F_OK) == 0; i++)
		usleep(20000);
	cr_assert(access(path, F_OK) != 0, "a server told SIGTERM should shut down and remove %s", path);
	mp_proxy_free(d);
	mp_manager_free(m);

	/* A parent killed with SIGKILL: its server must not live on unnoticed. */
	int fds[2];
	mp_test_pipe(fds);
	pid_t child = fork();
	cr_assert(child >= 0);
	if (child == 0) {
		close(fds[0]);
		mp_manager *mine = NULL;
		if (mp_manager_start(&mine, NULL, MANAGER_KEY, sizeof MANAGER_KEY - 1) < 0)
			_exit(1);
		int server = mp_manager_pid(mine);
		if (write(fds[1], &server, sizeof server) != sizeof server)
			_exit(1);
		raise(SIGKILL);
	}
	close(fds[1]);
	int server = 0;
	cr_assert(read(fds[0], &server, sizeof server) == sizeof server, "the child could not start a manager");
	close(fds[0]);
	mp_test_wait_pid(child, 5);
	/* We are the subreaper: the orphaned server is ours to wait for. */
	int status = mp_test_wait_pid(server, 5);
	cr_assert(WIFEXITED(status) || WIFSIGNALED(status), "the server of a dead parent should end");
}

MP_TEST(manager, clients_killed_at_any_instant_disturb_no_one, 3, "When a client dies")
{
	/*
	 * Children call the shared dict through the proxies they inherited
	 * (each on a connection of its own), and are killed with SIGKILL at
	 * random instants: in a handshake, in the middle of a request, waiting
	 * for a reply. The parent calls all the while; every one of its calls
	 * must succeed, and the server must go on serving.
	 */
	mp_manager *m = start();
	mp_proxy *d = create(m, "dict", NULL, NULL);
	srand((unsigned)getpid());
	int64_t mine = 0;
	for (int round = 0; round < 12; round++) {
		pid_t kids[3];
		for (int k = 0; k < 3; k++) {
			kids[k] = fork();
			cr_assert(kids[k] >= 0);
			if (kids[k] == 0) {
				for (int64_t n = 0;; n++) {
					char name[32];
					snprintf(name, sizeof name, "child-%d", (int)getpid());
					mp_value *args = T(2, S(name), I(n));
					mp_proxy_call(d, "__setitem__", args, NULL, NULL, NULL);
					mp_value_free(args);
					if (n % 7 == 0) { /* now and then a create and a free: control connections too */
						mp_proxy *l = NULL;
						if (mp_manager_create(m, "list", NULL, NULL, &l, NULL) == 0)
							mp_proxy_free(l);
					}
				}
			}
		}
		for (int k = 0; k < 3; k++) {
			struct timespec nap = { 0, (rand() % 20000) * 1000L };
			nanosleep(&nap, NULL);
			mp_value_free(call(d, "__setitem__", T(2, S("parent"), I(++mine))));
			kill(kids[k], SIGKILL);
		}
		for (int k = 0; k < 3; k++)
			mp_test_wait_pid(kids[k], 5);
		mp_value *v = call(d, "get", T(1, S("parent")));
		cr_assert(mp_value_as_int(v) == mine, "round %d: the parent's last write was %lld, the dict says %lld", round,
			  (long long)mine, (long long)mp_value_as_int(v));
		mp_value_free(v);
	}
	size_t n = 0;
	mp_expect_status(mp_manager_objects(m, &n), 0);
	cr_log_info("36 children killed at random instants; the server still serves, and holds %zu objects", n);
	mp_proxy_free(d);
	mp_manager_free(m);
}

MP_TEST(manager, missing_or_wrong_arguments_raise_type_errors_and_crash_nothing, 2, "Bad input")
{
	mp_manager *m = start();
	refused_value(m, T(4, mp_value_none(), S("create"), T(0), mp_value_dict_new()), "needs a typeid", "a create of nothing");
	refused_value(m, T(4, mp_value_none(), S("incref"), T(0), mp_value_dict_new()), "takes one ident", "an incref of nothing");
	mp_proxy *bad = NULL;
	mp_remote_error err;
	mp_expect_status(mp_manager_create(m, "Value", NULL, NULL, &bad, &err), MP_EREMOTE);
	mp_value *three = T(1, I(3));
	mp_expect_status(mp_manager_create(m, "list", three, NULL, &bad, &err), MP_EREMOTE);
	mp_value_free(three);
	cr_assert(bad == NULL);
	mp_proxy *d = create(m, "dict", NULL, NULL), *l = create(m, "list", NULL, NULL), *ns = create(m, "Namespace", NULL, NULL);
	raises(d, "__getitem__", NULL, "TypeError", "expected 1 argument");
	raises(d, "update", T(1, I(5)), "TypeError", "not iterable");
	raises(d, "update", T(1, mp_value_list_of(1, I(5))), "TypeError", "sequence element #0");
	raises(l, "__getitem__", NULL, "TypeError", "list indices must be integers");
	raises(l, "__getitem__", T(1, S("x")), "TypeError", "list indices must be integers");
	raises(l, "insert", T(1, I(0)), "TypeError", "insert()");
	raises(l, "extend", NULL, "TypeError", "can only extend a list");
	raises(l, "__mul__", NULL, "TypeError", "can't multiply");
	raises(l, "pop", NULL, "IndexError", "pop from empty list");
	raises(ns, "__getattribute__", NULL, "TypeError", "attribute name must be string");
	raises(ns, "__setattr__", T(2, I(1), I(2)), "TypeError", "attribute name must be string");
	/* After all that, the server serves. */
	mp_value_free(call(l, "append", T(1, I(1))));
	expect_repr(call(l, "__len__", NULL), "1", "len(l)");
	mp_proxy_free(d);
	mp_proxy_free(l);
	mp_proxy_free(ns);
	mp_manager_free(m);
}

static mp_value *kw(const char *name, mp_value *v)
{
	mp_value *d = mp_value_dict_new();
	mp_value_dict_set(d, mp_value_str(name), v);
	return d;
}

MP_TEST(manager, a_shared_queue_is_python_s_and_its_waits_time_out, 3, "A queue, and calls that wait")
{
	mp_manager *m = start();
	mp_proxy *q = create(m, "Queue", T(1, I(2)), NULL);
	expect_repr(call(q, "empty", NULL), "True", "q.empty()");
	mp_value_free(call(q, "put", T(1, S("a"))));
	mp_value_free(call(q, "put_nowait", T(1, mp_value_list_of(1, I(2)))));
	expect_repr(call(q, "full", NULL), "True", "q.full() with 2 items of 2");
	raises(q, "put_nowait", T(1, I(3)), "queue.Full", "");
	/* put(item, timeout=0.1) on a full queue: queue.Full, after the timeout. */
	mp_value *args = T(1, I(3)), *kwds = kw("timeout", mp_value_float(0.1)), *result = NULL;
	mp_remote_error err;
	double t0 = mp_test_now();
	mp_expect_status(mp_proxy_call(q, "put", args, kwds, &result, &err), MP_EREMOTE);
	double took = mp_test_now() - t0;
	cr_assert_str_eq(err.type, "queue.Full");
	cr_assert(took >= 0.09 && took < 2, "put(timeout=0.1) on a full queue waited %.3f s", took);
	mp_value_free(args);
	mp_value_free(kwds);
	expect_repr(call(q, "qsize", NULL), "2", "q.qsize()");
	expect_repr(call(q, "get", NULL), "'a'", "q.get()");
	expect_repr(call(q, "get", T(2, mp_value_bool(true), mp_value_float(5))), "[2]", "q.get(True, 5)");
	raises(q, "get_nowait", NULL, "_queue.Empty", "");
	t0 = mp_test_now();
	raises(q, "get", T(2, mp_value_bool(true), mp_value_float(0.1)), "_queue.Empty", "");
	took = mp_test_now() - t0;
	cr_assert(took >= 0.09 && took < 2, "get(True, 0.1) on an empty queue waited %.3f s", took);
	raises(q, "get", T(2, mp_value_bool(true), mp_value_float(-1)), "ValueError", "non-negative");
	mp_value_free(call(q, "task_done", NULL));
	mp_value_free(call(q, "task_done", NULL));
	raises(q, "task_done", NULL, "ValueError", "too many times");
	mp_value_free(call(q, "join", NULL));
	mp_proxy_free(q);
	mp_manager_free(m);
}

struct getter {
	mp_proxy *q;
	mp_value *got;
	int rc;
};

static void *get_in_a_thread(void *arg)
{
	struct getter *g = arg;
	g->rc = mp_proxy_call(g->q, "get", NULL, NULL, &g->got, NULL);
	return NULL;
}

MP_TEST(manager, a_call_that_waits_blocks_only_its_own_client, 3, "A queue, and calls that wait")
{
	mp_manager *m = start(), *other = NULL;
	mp_proxy *q = create(m, "Queue", NULL, NULL), *d = create(m, "dict", NULL, NULL);
	/* A second handle, with a connection of its own, and a proxy of the same queue on it. */
	mp_expect_status(mp_manager_connect(&other, mp_manager_address(m), MANAGER_KEY, sizeof MANAGER_KEY - 1), 0);
	struct getter g = { 0 };
	mp_expect_status(mp_manager_proxy(other, mp_proxy_typeid(q), mp_proxy_ident(q), &g.q), 0);
	pthread_t t;
	cr_assert(pthread_create(&t, NULL, get_in_a_thread, &g) == 0);
	usleep(100000);
	/* The get() waits in the server; the first handle's calls go through meanwhile. */
	double t0 = mp_test_now();
	for (int i = 0; i < 20; i++)
		mp_value_free(call(d, "__setitem__", T(2, S("k"), I(i))));
	cr_assert(mp_test_now() - t0 < 2, "20 calls of another client took %.1f s while a get() waited", mp_test_now() - t0);
	cr_assert(g.got == NULL && g.rc == 0, "the get() returned before anything was put");
	mp_value_free(call(q, "put", T(1, S("hello"))));
	pthread_join(t, NULL);
	mp_expect_status(g.rc, 0);
	expect_repr(g.got, "'hello'", "the waiting get()");
	size_t n = 0;
	mp_expect_status(mp_manager_objects(m, &n), 0);
	cr_assert(n == 2, "a second proxy of the queue is a second reference, not a second queue: %zu objects", n);
	mp_proxy_free(g.q);
	mp_proxy_free(q);
	mp_proxy_free(d);
	mp_manager_free(other);
	mp_manager_free(m);
}

MP_TEST(manager, a_client_that_dies_waiting_takes_nothing_with_it, 3, "A queue, and calls that wait")
{
	/*
	 * A child waits in q.get() and is killed. CPython's server thread
	 * would wait on, take the next item and lose it sending it to the dead;
	 * here the wait gives up within 50 ms, and the item goes to the living.
	 */
	mp_manager *m = start();
	mp_proxy *q = create(m, "Queue", NULL, NULL);
	pid_t child = fork();
	cr_assert(child >= 0);
	if (child == 0) {
		mp_value *got = NULL;
		mp_proxy_call(q, "get", NULL, NULL, &got, NULL);
		_exit(3); /* (never: it is killed first) */
	}
	usleep(200000);
	kill(child, SIGKILL);
	mp_test_wait_pid(child, 5);
	usleep(200000);
	mp_value_free(call(q, "put", T(1, S("for the living"))));
	expect_repr(call(q, "get", T(2, mp_value_bool(true), mp_value_float(5))), "'for the living'", "the get() after the death");
	mp_proxy_free(q);
	mp_manager_free(m);
}
