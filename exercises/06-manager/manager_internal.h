/* manager_internal.h: what the files of the manager share: the server, its objects, the wire (internal). */
#ifndef MP_MANAGER_INTERNAL_H
#define MP_MANAGER_INTERNAL_H

#include <mp.h>
#include <mp/manager.h>

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

/* ---- The wire (wire.c): a message is one pickle; requests and replies are tuples. -------------- */

/* The largest message either side reads: a request or a reply of a shared object's value. */
#define MANAGER_MAX_MESSAGE ((size_t)64 << 20)

/* A request, parsed: what (ident, method, args, kwds) held, still owned by the decoded tuple. */
struct request {
	mp_value *tuple;         /* the whole request, owned */
	const char *ident;       /* NULL for None: a control request */
	const char *method;
	const mp_value *args;    /* a tuple */
	const mp_value *kwds;    /* a dict */
};

/*
 * Receive one message from @conn and parse it as a request. 0; the
 * connection's errors (MP_EEOF: the peer has gone; after any of them the
 * connection is done); MP_ETYPE for a message that is not a request, with
 * *why saying what it is instead (the connection goes on).
 */
int mp__request_receive(mp_conn *conn, struct request *r, char *why, size_t whylen);
void mp__request_free(struct request *r);

/* Send @v (taken) as one pickle. */
int mp__wire_send(mp_conn *conn, mp_value *v);

/* A str of printf()'s text, or NULL without memory. */
mp_value *mp__str_vprintf(const char *fmt, va_list ap);

/* The replies: ('#RETURN', value), ('#ERROR', <module>.<exception>(*args)), ('#TRACEBACK', text). Each takes what it is given. */
mp_value *mp__reply_return(mp_value *value);
mp_value *mp__reply_error(const char *module, const char *exception, mp_value *args);
mp_value *mp__reply_traceback(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Read a reply (@v, a decoded message) into *result (taken out of it) or an
 * error: 0; MP_EREMOTE with @err filled; MP_EBADMSG for no reply at all.
 */
int mp__reply_read(mp_value *v, mp_value **result, mp_remote_error *err);

/* ---- The server's objects (objects.c). ----------------------------------------------------------- */

struct object {
	char ident[24];                 /* "c1", "c2"...: how requests name it */
	const struct mp_shared_type *type;
	void *state;                    /* the type's, from its create() */
	long refs;                      /* proxies' references: incref and decref (table lock) */
	long calls;                     /* calls running on it now: it outlives them (table lock) */
	bool released;                  /* its last reference is gone: out of the table, freed after the last call */
	pthread_mutex_t lock;           /* the monitor: its methods run one at a time */
	pthread_cond_t changed;         /* mp_call_notify_all() */
	unsigned long changes;          /* notifies so far: a wait whose slice ended as one came still sees it */
	struct object *next;            /* in its bucket of the table */
};

/* One client connection, served by a thread of its own (server.c). */
struct connection {
	mp_conn *conn;
	unsigned long id;               /* mp_call_client() */
	pthread_t thread;
	bool finished;                  /* its thread has ended: join it (server lock) */
	struct connection *next;
};

struct mp_call {
	struct object *object;
	struct connection *client;
	const mp_value *args, *kwds;
	mp_value *reply;                /* the answer, once made */
};

/* The type registered as @typeid, or NULL. */
const struct mp_shared_type *mp__type_find(const char *typeid);

/* Make an object of @type from @call's arguments, with one reference; the reply says what went wrong otherwise. */
int mp__object_create(const struct mp_shared_type *type, mp_call *call, struct object **out);
/* The object named @ident, held for a call (released with mp__object_put()), or NULL. */
struct object *mp__object_get(const char *ident);
void mp__object_put(struct object *o);
/* incref and decref: 0, or -ENOENT for no such object. */
int mp__object_incref(const char *ident);
int mp__object_decref(const char *ident);
/* How many objects are alive; and a text of each with its count (debug_info), to free. */
size_t mp__object_count(void);
char *mp__object_debug_info(void);
/* At shutdown: every waiting call gives up (mp_call_wait() answers MP_ECLOSED), then every object is freed. */
void mp__objects_stop(void);
void mp__objects_free_all(void);
/* Whether the server is stopping (mp_call_wait() checks it). */
bool mp__server_stopping(void);

/* The built-in types (types_*.c). */
extern const struct mp_shared_type mp__type_dict, mp__type_list, mp__type_value, mp__type_namespace, mp__type_queue,
	mp__type_joinable_queue, mp__type_lock, mp__type_rlock, mp__type_semaphore, mp__type_bounded_semaphore,
	mp__type_event;

/* For the built-in types: the argument @i of the call, or NULL when there are fewer. */
const mp_value *mp__arg(const mp_call *c, size_t i);
/* The argument @i, or the keyword argument @name when there are fewer; NULL when neither is there. */
const mp_value *mp__param(const mp_call *c, size_t i, const char *name);
struct mp__deadline;
/* One mp_call_wait() bounded by @d: 0 (look again), MP_ETIMEDOUT once @d has passed, or MP_ECLOSED. */
int mp__call_wait_until(mp_call *c, const struct mp__deadline *d);
/* The client @client has hung up: each object whose type asks (client_gone) lets go of what it held. */
void mp__objects_client_gone(unsigned long client);

/* Answer with an exception of another module than builtins, as _queue.Empty (@args, a tuple, taken). */
int mp__call_raise_object(mp_call *c, const char *module, const char *exception, mp_value *args);

/* Whether @v is there and of kind @k: a client may leave out any argument, and mp_value_kind_of() wants a value. */
static inline bool mp__is(const mp_value *v, mp_value_kind k)
{
	return v && mp_value_kind_of(v) == k;
}

#endif
