/*
 * types_sync.c: the shared Lock, RLock, Semaphore, BoundedSemaphore and
 * Event, with the methods of Python's threading objects behind the proxies
 * a SyncManager gives (AcquirerProxy, EventProxy).
 *
 * Each object is a monitor already (objects.c), so none needs a lock of its
 * own: a count, an owner and mp_call_wait() are the whole of it. Where
 * Python's manager fails its users, this one does not: a client that dies
 * holding a Lock or an RLock lets go of it (client_gone), where CPython's
 * server keeps it locked for ever and every other client hangs.
 */
#include "manager_internal.h"

#include "../01-process/deadline.h"

#include <errno.h>
#include <stdlib.h>

enum sync_kind { LOCK, RLOCK, SEMAPHORE, BOUNDED };

struct sync {
	enum sync_kind kind;
	int64_t value;       /* what acquire() may take: a lock's 1 when free, 0 when held */
	int64_t bound;       /* a BoundedSemaphore's initial value: release() may not go past it */
	unsigned long owner; /* the client holding a Lock or RLock; 0 for none */
	int64_t depth;       /* how many times the RLock's owner has acquired it */
};

static int raise_error(mp_call *c, const char *exception, const char *message)
{
	return mp_call_raise(c, exception, "%s", message) < 0 ? -ENOMEM : -EINVAL;
}

static int create_sync(mp_call *c, void **object, enum sync_kind kind)
{
	const mp_value *value = kind >= SEMAPHORE ? mp__param(c, 0, "value") : NULL;
	if (kind < SEMAPHORE && mp_value_len(mp_call_args(c)) + mp_value_len(mp_call_kwds(c)) > 0)
		return raise_error(c, "TypeError", "a lock takes no arguments");
	if (value && !mp__is(value, MP_VALUE_INT))
		return raise_error(c, "TypeError", "a semaphore's value must be an int");
	if (mp_value_as_int(value) < 0)
		return raise_error(c, "ValueError", "semaphore initial value must be >= 0");
	struct sync *s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	s->kind = kind;
	s->value = value ? mp_value_as_int(value) : 1;
	s->bound = kind == BOUNDED ? s->value : 0;
	*object = s;
	return 0;
}

static int create_lock(mp_call *c, void **object) { return create_sync(c, object, LOCK); }
static int create_rlock(mp_call *c, void **object) { return create_sync(c, object, RLOCK); }
static int create_semaphore(mp_call *c, void **object) { return create_sync(c, object, SEMAPHORE); }
static int create_bounded(mp_call *c, void **object) { return create_sync(c, object, BOUNDED); }

static void destroy(void *object)
{
	free(object);
}

/*
 * acquire(blocking=True, timeout=...) into a deadline. The two families
 * differ as Python's do: a lock's timeout is -1 for none and refuses other
 * negatives; a semaphore's is None for none, and a negative one only means
 * "do not wait".
 */
static int how_long(mp_call *c, const struct sync *s, struct mp__deadline *d)
{
	const mp_value *block = mp__param(c, 0, "blocking"), *timeout = mp__param(c, 1, "timeout");
	bool blocking = !block || mp_value_as_int(block) != 0 || mp_value_as_float(block) != 0;
	bool given = timeout && !mp__is(timeout, MP_VALUE_NONE);
	double t = given ? mp_value_as_float(timeout) : MP_FOREVER;
	if (given && !mp__is(timeout, MP_VALUE_INT) && !mp__is(timeout, MP_VALUE_FLOAT))
		return raise_error(c, "TypeError", "timeout must be a number");
	if (s->kind < SEMAPHORE) {
		if (given && t == -1)
			t = MP_FOREVER;
		else if (given && !blocking)
			return raise_error(c, "ValueError", "can't specify a timeout for a non-blocking call");
		else if (given && !(t >= 0))
			return raise_error(c, "ValueError", "timeout value must be a non-negative number");
	} else if (given && !blocking) {
		return raise_error(c, "ValueError", "can't specify timeout for non-blocking acquire");
	} else if (given && t < 0) {
		t = 0;
	}
	return mp__deadline_start(d, blocking ? t : 0);
}

static int acquire(void *object, mp_call *c)
{
	struct sync *s = object;
	unsigned long me = mp_call_client(c);
	struct mp__deadline d;
	int rc = how_long(c, s, &d); /* first: an owner's bad arguments are refused too, as Python's */
	if (rc == 0 && s->kind == RLOCK && s->owner == me && s->depth > 0) {
		s->depth++;
		return mp_call_return(c, mp_value_bool(true));
	}
	while (rc == 0 && s->value == 0)
		rc = mp__call_wait_until(c, &d);
	if (rc == MP_ETIMEDOUT)
		return mp_call_return(c, mp_value_bool(false));
	if (rc < 0)
		return rc; /* the client has gone or the server stops: it takes nothing */
	s->value--;
	if (s->kind <= RLOCK) {
		s->owner = me;
		s->depth = 1;
	}
	return mp_call_return(c, mp_value_bool(true));
}

static int release(void *object, mp_call *c)
{
	struct sync *s = object;
	if (s->kind == LOCK && s->value > 0)
		return raise_error(c, "RuntimeError", "release unlocked lock");
	if (s->kind == RLOCK && (s->depth == 0 || s->owner != mp_call_client(c)))
		return raise_error(c, "RuntimeError", "cannot release un-acquired lock");
	if (s->kind == RLOCK && --s->depth > 0)
		return 0;
	/* A semaphore's release(n=1). */
	const mp_value *n = s->kind >= SEMAPHORE ? mp__param(c, 0, "n") : NULL;
	if (n && !mp__is(n, MP_VALUE_INT))
		return raise_error(c, "TypeError", "n must be an int");
	int64_t count = n ? mp_value_as_int(n) : 1;
	if (count < 1)
		return raise_error(c, "ValueError", "n must be one or more");
	if (s->kind == BOUNDED && count > s->bound - s->value)
		return raise_error(c, "ValueError", "Semaphore released too many times");
	s->value += count;
	s->owner = 0;
	mp_call_notify_all(c);
	return 0;
}

/* A Lock or RLock whose holder has hung up is free again; a semaphore has no owner, so keeps its count. */
static void let_go(void *object, unsigned long client)
{
	struct sync *s = object;
	if (s->kind <= RLOCK && s->depth > 0 && s->owner == client) {
		s->value = 1;
		s->depth = 0;
		s->owner = 0;
	}
}

static const struct mp_shared_method acquirer_methods[] = {
	{ "acquire", acquire },
	{ "release", release },
};

#define ACQUIRER(id, make)                                                                                       \
	{ .typeid = id, .create = make, .destroy = destroy, .methods = acquirer_methods,                          \
	  .nmethods = sizeof acquirer_methods / sizeof acquirer_methods[0], .client_gone = let_go }

const struct mp_shared_type mp__type_lock = ACQUIRER("Lock", create_lock);
const struct mp_shared_type mp__type_rlock = ACQUIRER("RLock", create_rlock);
const struct mp_shared_type mp__type_semaphore = ACQUIRER("Semaphore", create_semaphore);
const struct mp_shared_type mp__type_bounded_semaphore = ACQUIRER("BoundedSemaphore", create_bounded);

/* Event(): a flag; wait() sleeps until it is set, and says whether it was. */
static int create_event(mp_call *c, void **object)
{
	if (mp_value_len(mp_call_args(c)) + mp_value_len(mp_call_kwds(c)) > 0)
		return raise_error(c, "TypeError", "Event() takes no arguments");
	bool *flag = calloc(1, sizeof *flag);
	if (!flag)
		return -ENOMEM;
	*object = flag;
	return 0;
}

static int is_set(void *flag, mp_call *c)
{
	return mp_call_return(c, mp_value_bool(*(bool *)flag));
}

static int set(void *flag, mp_call *c)
{
	*(bool *)flag = true;
	mp_call_notify_all(c);
	return 0;
}

static int clear(void *flag, mp_call *c)
{
	(void)c;
	*(bool *)flag = false;
	return 0;
}

static int event_wait(void *flag, mp_call *c)
{
	const mp_value *timeout = mp__param(c, 0, "timeout");
	bool given = timeout && !mp__is(timeout, MP_VALUE_NONE);
	double t = given ? mp_value_as_float(timeout) : MP_FOREVER;
	struct mp__deadline d;
	int rc = mp__deadline_start(&d, given && t < 0 ? 0 : t); /* a negative timeout: Python's wait does not wait */
	while (rc == 0 && !*(bool *)flag)
		rc = mp__call_wait_until(c, &d);
	if (rc < 0 && rc != MP_ETIMEDOUT)
		return rc;
	return mp_call_return(c, mp_value_bool(*(bool *)flag));
}

static const struct mp_shared_method event_methods[] = {
	{ "clear", clear }, { "is_set", is_set }, { "set", set }, { "wait", event_wait },
};

const struct mp_shared_type mp__type_event = {
	.typeid = "Event", .create = create_event, .destroy = destroy, .methods = event_methods,
	.nmethods = sizeof event_methods / sizeof event_methods[0],
};
