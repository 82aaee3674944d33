/* server.c: a manager's server: accept clients, a thread each; control requests first, then calls. */
#define _GNU_SOURCE
#include "manager_internal.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

/*
 * A connection begins with one control request, as CPython's manager reads
 * it: `(None, name, args, kwds)` with name one of create, incref, decref,
 * dummy, shutdown, number_of_objects, debug_info, or accept_connection,
 * which turns the connection into one that serves calls, `(ident, method,
 * args, kwds)`, one reply each, until the client hangs up.
 */

/* The seconds a new connection may take to send its control request: a client that stalls holds a thread no longer. */
#define CONTROL_TIMEOUT 10.0
/* How often the accepting loop looks at a shutdown, a SIGTERM, and the threads that have ended. */
#define ACCEPT_SLICE 0.1

static struct {
	pthread_mutex_t lock;            /* the list of connections */
	struct connection *connections;  /* every thread not yet joined */
	unsigned long next_client;
	bool serving;                    /* one server a process */
} server = { .lock = PTHREAD_MUTEX_INITIALIZER };

static volatile sig_atomic_t terminated; /* SIGTERM came */

static void on_sigterm(int sig)
{
	(void)sig;
	terminated = 1;
}

/* A reply of @reply's error as a traceback's text: control requests never answer with '#ERROR', as in CPython. */
static mp_value *as_traceback(mp_value *reply)
{
	mp_remote_error err;
	mp_value *unused = NULL;
	int rc = mp__reply_read(reply, &unused, &err);
	mp_value_free(unused);
	mp_value_free(reply);
	return rc == MP_EREMOTE ? mp__reply_traceback("%s: %s", err.type, err.message) : mp__reply_traceback("the request failed");
}

/* create: (typeid, *args), **kwds. The reply is (ident, exposed), a plain tuple, as CPython's. */
static mp_value *create(struct connection *c, const struct request *r)
{
	const char *typeid = mp_value_data(mp_value_item(r->args, 0), NULL);
	if (!mp__is(mp_value_item(r->args, 0), MP_VALUE_STR))
		return mp__reply_traceback("TypeError: create() needs a typeid, a str, first");
	const struct mp_shared_type *type = mp__type_find(typeid);
	if (!type)
		return mp__reply_traceback("KeyError: '%s' (no shared type of this name is registered)", typeid);
	/* The constructor's arguments: those after the typeid. */
	size_t n = mp_value_len(r->args) - 1;
	mp_value **items = calloc(n ? n : 1, sizeof *items);
	for (size_t i = 0; items && i < n; i++)
		items[i] = mp_value_copy(mp_value_item(r->args, i + 1));
	mp_value *args = items ? mp_value_tuple_from(items, n) : NULL;
	free(items);
	if (!args)
		return NULL;
	mp_call call = { .client = c, .args = args, .kwds = r->kwds };
	struct object *o = NULL;
	int rc = mp__object_create(type, &call, &o);
	mp_value_free(args);
	if (rc < 0)
		return call.reply ? as_traceback(call.reply) : mp__reply_traceback("%s", mp_strerror(rc));
	mp_value_free(call.reply);
	mp_value **names = calloc(type->nmethods ? type->nmethods : 1, sizeof *names);
	for (size_t i = 0; names && i < type->nmethods; i++)
		names[i] = mp_value_str(type->methods[i].name);
	mp_value *exposed = names ? mp_value_tuple_from(names, type->nmethods) : NULL;
	free(names);
	return mp__reply_return(mp_value_tuple_of(2, mp_value_str(o->ident), exposed));
}

/* The object's ident, the one argument of incref and decref. */
static const char *ident_arg(const struct request *r)
{
	const mp_value *a = mp_value_item(r->args, 0);
	return mp__is(a, MP_VALUE_STR) && mp_value_len(r->args) == 1 ? mp_value_data(a, NULL) : NULL;
}

/* Answer one control request. *@serve becomes true for accept_connection. */
static mp_value *control(struct connection *c, const struct request *r, bool *serve)
{
	/* BEGIN SOLUTION stub: (void)c; (void)serve; (void)create; (void)ident_arg; return mp__reply_traceback("AssertionError: %s: not written yet", r->method);
	 * Hint: a string compare on r->method. dummy: ('#RETURN', None).
	 * create: create(c, r). incref and decref: mp__object_incref() or
	 * mp__object_decref() on ident_arg(r), None, or a traceback "KeyError:
	 * 'ident'" when there is no such object. accept_connection: None,
	 * and *serve = true. shutdown: None, then mp__objects_stop().
	 * number_of_objects: mp__object_count() as an int. debug_info:
	 * mp__object_debug_info() as a str. Anything else: a traceback
	 * "AssertionError: 'name' unrecognized", as CPython answers.
	 * Lesson 06, "The manager's protocol".
	 */
	const char *m = r->method;
	if (strcmp(m, "dummy") == 0)
		return mp__reply_return(mp_value_none());
	if (strcmp(m, "create") == 0)
		return create(c, r);
	if (strcmp(m, "incref") == 0 || strcmp(m, "decref") == 0) {
		const char *ident = ident_arg(r);
		if (!ident)
			return mp__reply_traceback("TypeError: %s() takes one ident, a str", m);
		int rc = m[0] == 'i' ? mp__object_incref(ident) : mp__object_decref(ident);
		return rc == 0 ? mp__reply_return(mp_value_none())
			       : mp__reply_traceback("KeyError: '%s' (no shared object has this ident: it was freed, or never made)", ident);
	}
	if (strcmp(m, "accept_connection") == 0) {
		*serve = true;
		return mp__reply_return(mp_value_none());
	}
	if (strcmp(m, "shutdown") == 0) {
		mp__objects_stop();
		return mp__reply_return(mp_value_none());
	}
	if (strcmp(m, "number_of_objects") == 0)
		return mp__reply_return(mp_value_int((int64_t)mp__object_count()));
	if (strcmp(m, "debug_info") == 0) {
		char *text = mp__object_debug_info();
		mp_value *v = text ? mp__reply_return(mp_value_str(text)) : NULL;
		free(text);
		return v;
	}
	return mp__reply_traceback("AssertionError: '%s' unrecognized", m);
	/* END SOLUTION */
}

/* The method @name of @type, or NULL. */
static mp_method_fn method_of(const struct mp_shared_type *type, const char *name)
{
	for (size_t i = 0; i < type->nmethods; i++)
		if (strcmp(type->methods[i].name, name) == 0)
			return type->methods[i].fn;
	return NULL;
}

/* The fallbacks every object answers, as CPython's: its value as data, and its repr (and str). */
static mp_value *fallback(struct object *o, const char *method)
{
	bool getvalue = strcmp(method, "#GETVALUE") == 0;
	if (!getvalue && strcmp(method, "__repr__") != 0 && strcmp(method, "__str__") != 0)
		return NULL;
	pthread_mutex_lock(&o->lock);
	mp_value *v = o->type->value ? o->type->value(o->state) : NULL;
	pthread_mutex_unlock(&o->lock);
	if (getvalue)
		return v ? mp__reply_return(v) : mp__reply_traceback("TypeError: a shared %s has no value to send", o->type->typeid);
	char *repr = NULL;
	if (v)
		mp_value_repr(v, &repr);
	mp_value_free(v);
	mp_value *reply = repr ? mp__reply_return(mp_value_str(repr)) : NULL;
	if (!v) {
		char own[96];
		snprintf(own, sizeof own, "<shared %s object %s>", o->type->typeid, o->ident);
		reply = mp__reply_return(mp_value_str(own));
	}
	free(repr);
	return reply;
}

/* Answer one call (ident, method, args, kwds), on a connection that serves calls. */
static mp_value *call(struct connection *c, const struct request *r)
{
	if (!r->ident)
		return mp__reply_traceback("KeyError: None (a control request, on a connection that serves calls)");
	struct object *o = mp__object_get(r->ident);
	if (!o)
		return mp__reply_traceback("KeyError: '%s' (no shared object has this ident: it was freed, or never made)",
					   r->ident);
	mp_value *reply = NULL;
	mp_method_fn fn = method_of(o->type, r->method);
	if (fn) {
		mp_call call = { .object = o, .client = c, .args = r->args, .kwds = r->kwds };
		pthread_mutex_lock(&o->lock);
		int rc = fn(o->state, &call);
		pthread_mutex_unlock(&o->lock);
		reply = call.reply;
		if (rc < 0 && !reply)
			reply = mp__reply_traceback("%s: %s", mp_err_name(rc), mp_strerror(rc));
		else if (!reply)
			reply = mp__reply_return(mp_value_none()); /* a method that answered nothing returned None */
	} else {
		reply = fallback(o, r->method);
		if (!reply)
			reply = mp__reply_traceback("AttributeError: method '%s' of a shared '%s' is not exposed", r->method,
						    o->type->typeid);
	}
	mp__object_put(o);
	return reply;
}

static void *serve_connection(void *arg)
{
	struct connection *c = arg;
	struct request r;
	char why[256];
	bool serving = false;
	mp_conn_set_max_message(c->conn, MANAGER_MAX_MESSAGE);
	mp_conn_set_timeout(c->conn, CONTROL_TIMEOUT);
	for (bool first = true; first || serving; first = false) {
		int rc = mp__request_receive(c->conn, &r, why, sizeof why);
		if (rc < 0 && rc != MP_ETYPE) {
			mp__request_free(&r);
			break; /* the client has gone, or stalled, or broke the framing: nothing to answer */
		}
		mp_value *reply = rc == MP_ETYPE ? mp__reply_traceback("ValueError: %s", why)
			: serving ? call(c, &r) : control(c, &r, &serving);
		mp__request_free(&r);
		if (serving && first)
			mp_conn_set_timeout(c->conn, MP_FOREVER); /* a proxy may be idle for as long as it likes */
		if (mp__wire_send(c->conn, reply ? reply : mp__reply_traceback("MemoryError: no memory for the reply")) < 0 ||
		    mp__server_stopping())
			break;
	}
	mp__objects_client_gone(c->id); /* a lock it held must not wait for it forever */
	pthread_mutex_lock(&server.lock);
	c->finished = true;
	pthread_mutex_unlock(&server.lock);
	return NULL;
}

/* Join the threads whose connections have ended, and free them; every one when @all (the server stops). */
static void reap(bool all)
{
	pthread_mutex_lock(&server.lock);
	struct connection **link = &server.connections;
	while (*link) {
		struct connection *c = *link;
		if (!all && !c->finished) {
			link = &c->next;
			continue;
		}
		*link = c->next;
		pthread_mutex_unlock(&server.lock);
		if (all) /* a thread asleep in a receive wakes to end-of-file */
			shutdown(mp_conn_fileno(c->conn), SHUT_RDWR);
		pthread_join(c->thread, NULL);
		mp_conn_free(c->conn);
		free(c);
		pthread_mutex_lock(&server.lock);
		link = &server.connections;
	}
	pthread_mutex_unlock(&server.lock);
}

/* A thread for a new client; the connection is closed when one cannot be had. */
static void welcome(mp_conn *conn)
{
	struct connection *c = calloc(1, sizeof *c);
	if (!c) {
		mp_conn_free(conn);
		return;
	}
	c->conn = conn;
	pthread_mutex_lock(&server.lock);
	c->id = ++server.next_client;
	int rc = pthread_create(&c->thread, NULL, serve_connection, c);
	if (rc == 0) {
		c->next = server.connections;
		server.connections = c;
	}
	pthread_mutex_unlock(&server.lock);
	if (rc != 0) {
		mp_conn_free(conn);
		free(c);
	}
}

int mp_manager_serve(const char *address, const void *authkey, size_t keylen,
		     void (*ready)(const char *address, void *arg), void *arg)
{
	if (!authkey || keylen == 0)
		return -EINVAL;
	pthread_mutex_lock(&server.lock);
	bool busy = server.serving;
	server.serving = true;
	pthread_mutex_unlock(&server.lock);
	if (busy)
		return -EBUSY;
	mp_listener *l = NULL;
	int rc = mp_listener_new(&l, address, authkey, keylen);
	if (rc < 0) {
		pthread_mutex_lock(&server.lock);
		server.serving = false;
		pthread_mutex_unlock(&server.lock);
		return rc;
	}
	struct sigaction term = { .sa_handler = on_sigterm }, old;
	sigemptyset(&term.sa_mask);
	terminated = 0;
	sigaction(SIGTERM, &term, &old);
	if (ready)
		ready(mp_listener_address(l), arg);

	while (!mp__server_stopping() && !terminated) {
		mp_conn *conn = NULL;
		rc = mp_listener_accept(l, &conn, ACCEPT_SLICE);
		if (rc == 0) {
			welcome(conn);
		} else if (rc != MP_ETIMEDOUT && rc != MP_EAUTH && rc != MP_EBADMSG) {
			/* No descriptor to accept with (EMFILE), say: the client waits, and we try again soon. */
			struct timespec nap = { 0, 50 * 1000 * 1000 };
			nanosleep(&nap, NULL);
		}
		reap(false);
	}

	/* Every waiting call gives up, every thread ends, then the objects go. */
	mp__objects_stop();
	reap(true);
	mp__objects_free_all();
	mp_listener_free(l);
	sigaction(SIGTERM, &old, NULL);
	pthread_mutex_lock(&server.lock);
	server.serving = false;
	pthread_mutex_unlock(&server.lock);
	return 0;
}
