/**
 * @file manager.h
 * @brief Python's `Manager`: a server process that owns shared objects, and
 *        proxies through which other processes use them. It speaks CPython's
 *        own manager protocol, so a Python program and a C program can share
 *        one dict.
 *
 * Every object lives once, in the server; every operation on it is a request
 * there and a reply back: `(ident, method, args, kwds)`, answered by a tuple
 * of a tag and a value (the tags are RETURN, ERROR and TRACEBACK, each after
 * a hash sign), as pickles (pickle.h) over stage 03's framed, authenticated
 * connections. An
 * object lives as long as a proxy refers to it: the server counts references,
 * as Python's does.
 *
 * The server serves each connection on a thread of its own, so a call that
 * blocks (a get from an empty shared queue) blocks only its own client. Each
 * object is a monitor: its methods run one at a time, under its own lock, and
 * one that must wait for another's change sleeps in mp_call_wait(), which
 * lets the lock go. A call whose client has gone, or that the server's
 * shutdown interrupts, stops waiting at once.
 *
 * The server knows these types, as Python's `SyncManager` registers them:
 * `dict`, `list`, `Value`, `Namespace`, `Queue`, `JoinableQueue`, `Lock`,
 * `RLock`, `Semaphore`, `BoundedSemaphore` and `Event` (more come with later
 * steps of the course); mp_manager_register() adds one of your own.
 */
#ifndef MP_MANAGER_H
#define MP_MANAGER_H

#include "value.h"

#include <stdbool.h>
#include <stddef.h>

/** A manager seen from a client: its address and key, and the server process if this process started it. */
typedef struct mp_manager mp_manager;

/** A shared object, seen from a client: Python's `BaseProxy`. */
typedef struct mp_proxy mp_proxy;

/** What a call failed with, beyond its code. */
typedef struct mp_remote_error {
	char type[64];     /**< the exception's class, as "KeyError" ("builtins." left out), or "RemoteError" for a server's own failure */
	char message[256]; /**< what Python prints after the class: "'missing'" */
} mp_remote_error;

/**
 * Start a manager: a child process that serves @p address until
 * mp_manager_shutdown() (or SIGTERM), and a connection to it.
 * @param out receives the manager; left untouched on failure.
 * @param address where to serve, as listener.h reads addresses; NULL for a fresh Unix socket path.
 * @param authkey the key every client must prove it holds (never NULL: a manager always authenticates).
 * @param keylen its length, at least 1.
 * @return 0; `-EINVAL`; the listener's errors (`-EADDRINUSE`...); stage 01's (`MP_EDAEMONIC`...); `-ENOMEM`.
 */
int mp_manager_start(mp_manager **out, const char *address, const void *authkey, size_t keylen);

/**
 * Connect to a manager that runs already (a C one, or a CPython one: Python's
 * `BaseManager(address, authkey).connect()`).
 * @return 0; as mp_client(); `-EINVAL`; `-ENOMEM`.
 */
int mp_manager_connect(mp_manager **out, const char *address, const void *authkey, size_t keylen);

/** The address clients connect to, as "/tmp/..." or "127.0.0.1:40123". "" for NULL. */
const char *mp_manager_address(const mp_manager *m);

/** The server's process id, if this process started it (mp_manager_start()); 0 otherwise. */
int mp_manager_pid(const mp_manager *m);

/**
 * How many shared objects the server holds now: Python's `_number_of_objects()`.
 * @return 0 with *@p n set; the errors of a request; `-EINVAL`.
 */
int mp_manager_objects(mp_manager *m, size_t *n);

/**
 * Ask the server to stop, and, if this process started it, wait for it to
 * end. Its objects go with it; every client's next call fails at once.
 * @return 0; the errors of a request (the server may be gone already: then 0 too, for one this process started).
 */
int mp_manager_shutdown(mp_manager *m);

/**
 * Let the manager go: a server this process started is shut down. Proxies
 * made from it stay valid to free. A child made by fork() may go on using
 * its parent's manager and proxies (its calls then go on a connection of its
 * own); freeing its copy never shuts the server down. NULL is fine.
 */
void mp_manager_free(mp_manager *m);

/**
 * Make a shared object in the server: Python's `m.dict()`, `m.list([1, 2])`, `m.Value('i', 0)`.
 * @param m the manager.
 * @param typeid the type's name, as the server registered it ("dict", "list", "Value", "Namespace"...).
 * @param args the constructor's arguments, a tuple; NULL for none.
 * @param kwds its keyword arguments, a dict; NULL for none.
 * @param out receives the proxy; left untouched on failure.
 * @param err receives the remote exception when the return is ::MP_EREMOTE; may be NULL.
 * @return 0; ::MP_EREMOTE (an unknown type, bad arguments: @p err says); the
 *         connection's errors (`MP_EEOF` when the server is gone); `-EINVAL`; `-ENOMEM`.
 */
int mp_manager_create(mp_manager *m, const char *typeid, const mp_value *args, const mp_value *kwds,
		      mp_proxy **out, mp_remote_error *err);

/**
 * Call a method of a shared object: `d['k']` is `__getitem__` with `('k',)`.
 * Calls through one manager handle go one at a time; a thread that wants
 * its own calls to wait for no other's uses a manager handle of its own.
 * @param p the proxy.
 * @param method the method's name.
 * @param args a tuple, or NULL for none.
 * @param kwds a dict, or NULL for none.
 * @param result receives what it returned (None for nothing), to free; may be NULL; left untouched on failure.
 * @param err receives the exception when the return is ::MP_EREMOTE; may be NULL.
 * @return 0; ::MP_EREMOTE (the method raised, or the server refused the
 *         call: @p err says); `MP_EEOF` or `-ECONNRESET` when the server is gone;
 *         `MP_EBADMSG` for a reply that is not one; `-EINVAL`; `-ENOMEM`.
 */
int mp_proxy_call(mp_proxy *p, const char *method, const mp_value *args, const mp_value *kwds, mp_value **result,
		  mp_remote_error *err);

/**
 * Another proxy of an object that exists already, through @p m: what Python
 * makes of a proxy handed to another process. It is a reference of its own
 * (an `incref`), freed with mp_proxy_free().
 * @param m the manager (a handle of any process).
 * @param typeid the object's type, as mp_proxy_typeid() gives it.
 * @param ident the object's ident, as mp_proxy_ident() gives it.
 * @param out receives the proxy; left untouched on failure.
 * @return 0; ::MP_EREMOTE when the server has no such object; the errors of a request; `-EINVAL`; `-ENOMEM`.
 */
int mp_manager_proxy(mp_manager *m, const char *typeid, const char *ident, mp_proxy **out);

/** The object's type, as it was created ("dict"). "" for NULL. */
const char *mp_proxy_typeid(const mp_proxy *p);

/** The object's identity in its server (a string). "" for NULL. */
const char *mp_proxy_ident(const mp_proxy *p);

/** Drop this reference to the object (Python's `decref`): the server frees it with the last one. NULL is fine. */
void mp_proxy_free(mp_proxy *p);

/* ---- The server's side ---------------------------------------------------------------------- */

/** A call in progress, as the server hands it to a method of a shared type. */
typedef struct mp_call mp_call;

/** The call's arguments: a tuple (empty when none were sent). */
const mp_value *mp_call_args(const mp_call *c);

/** The call's keyword arguments: a dict (empty when none were sent). */
const mp_value *mp_call_kwds(const mp_call *c);

/**
 * Answer the call with @p value (taken; NULL is `-ENOMEM`).
 * @return 0, or `-ENOMEM`.
 */
int mp_call_return(mp_call *c, mp_value *value);

/**
 * Answer the call with one of Python's built-in exceptions, whose one
 * argument is the message, as `raise KeyError('missing')`: @p exception is
 * "KeyError", "IndexError", "TypeError", "ValueError", "AttributeError",
 * "RuntimeError", "StopIteration"... (a name of Python's `builtins`).
 * @return 0, or `-ENOMEM`.
 */
int mp_call_raise(mp_call *c, const char *exception, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/** As mp_call_raise(), with the exception's argument a value of your own (taken), as `KeyError(key)`. */
int mp_call_raise_value(mp_call *c, const char *exception, mp_value *arg);

/**
 * Wait, inside a method, for another call to change the object: the
 * object's lock is let go meanwhile and held again on return.
 * @param c the call.
 * @param timeout seconds; ::MP_FOREVER.
 * @return 0 when mp_call_notify_all() was called (or for no reason: check
 *         again); ::MP_ETIMEDOUT; ::MP_ECLOSED when the call must give up (its
 *         client has gone, or the server is shutting down): return at once.
 */
int mp_call_wait(mp_call *c, double timeout);

/** Wake every call waiting on this call's object (mp_call_wait()). */
void mp_call_notify_all(mp_call *c);

/** Who made the call: a number the same for every call of one client connection (for locks that have an owner). */
unsigned long mp_call_client(const mp_call *c);

/** A method of a shared type: 0 once it has answered (mp_call_return() or mp_call_raise()), or a negative code. */
typedef int (*mp_method_fn)(void *object, mp_call *call);

/** One method, by the name Python's proxy sends. */
struct mp_shared_method {
	const char *name; /**< "__getitem__", "append", ... */
	mp_method_fn fn;  /**< runs under the object's lock */
};

/** A type of shared object: Python's `BaseManager.register(typeid, callable)`, in C. */
struct mp_shared_type {
	const char *typeid; /**< the name clients create it by ("dict") */
	/** Make one from the create request's arguments, into *object; 0, or mp_call_raise()'s answer and a negative code. */
	int (*create)(mp_call *call, void **object);
	/** Free one. */
	void (*destroy)(void *object);
	/** Its value as data (for Python's `_getvalue()`, and `repr()`), or NULL when it has none (then NULL here). */
	mp_value *(*value)(void *object);
	const struct mp_shared_method *methods; /**< what proxies may call, in the order the create reply lists them */
	size_t nmethods;                        /**< how many */
	/**
	 * A client has hung up (its process died, say): let go of what it held
	 * (a lock), so that no one waits for it forever. Runs under the object's
	 * lock, and waiters are woken after it. NULL when the type holds nothing
	 * for anyone.
	 */
	void (*client_gone)(void *object, unsigned long client);
};

/**
 * Add a type to those every manager this process serves knows, before serving.
 * The type and its strings must outlive the server.
 * @return 0; `-EEXIST` for a typeid taken; `-EINVAL`; `-ENOSPC` beyond 32 types of your own.
 */
int mp_manager_register(const struct mp_shared_type *type);

/**
 * Serve the shared objects at @p address, in this process, until a client
 * asks for a shutdown or the process gets SIGTERM: what mp_manager_start()'s
 * child runs, and `manager_server` under examples/.
 * @param address as mp_manager_start().
 * @param authkey the key; never NULL.
 * @param keylen its length, at least 1.
 * @param ready called once the server listens, with its address (for a parent to learn it), or NULL.
 * @param arg passed to @p ready.
 * @return 0 after a shutdown; the listener's errors; `-EINVAL`; `-ENOMEM`.
 */
int mp_manager_serve(const char *address, const void *authkey, size_t keylen,
		     void (*ready)(const char *address, void *arg), void *arg);

#endif
