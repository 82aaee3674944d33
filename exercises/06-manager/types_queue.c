/* types_queue.c: the shared Queue (and JoinableQueue), with the methods of Python's queue.Queue. */
#include "manager_internal.h"

#include "../01-process/deadline.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The items, oldest first, in a ring that doubles when full. */
struct queue {
	mp_value **items;
	size_t head, len, cap;
	int64_t maxsize;    /* 0 or less: no bound */
	int64_t unfinished; /* items put and not yet task_done(): join() waits for 0 */
};

static int create(mp_call *c, void **object)
{
	const mp_value *maxsize = mp__param(c, 0, "maxsize");
	if (maxsize && !mp__is(maxsize, MP_VALUE_INT)) {
		mp_call_raise(c, "TypeError", "maxsize must be an int");
		return -EINVAL;
	}
	struct queue *q = calloc(1, sizeof *q);
	if (!q)
		return -ENOMEM;
	q->maxsize = mp_value_as_int(maxsize);
	*object = q;
	return 0;
}

static void destroy(void *object)
{
	struct queue *q = object;
	for (size_t i = 0; i < q->len; i++)
		mp_value_free(q->items[(q->head + i) % q->cap]);
	free(q->items);
	free(q);
}

static bool full(const struct queue *q)
{
	return q->maxsize > 0 && (int64_t)q->len >= q->maxsize;
}

static int push(struct queue *q, mp_value *item)
{
	if (!item)
		return -ENOMEM;
	if (q->len == q->cap) {
		size_t cap = q->cap ? 2 * q->cap : 16;
		mp_value **items = malloc(cap * sizeof *items);
		if (!items) {
			mp_value_free(item);
			return -ENOMEM;
		}
		for (size_t i = 0; i < q->len; i++)
			items[i] = q->items[(q->head + i) % q->cap];
		free(q->items);
		q->items = items;
		q->head = 0;
		q->cap = cap;
	}
	q->items[(q->head + q->len++) % q->cap] = item;
	return 0;
}

static mp_value *pop(struct queue *q)
{
	mp_value *item = q->items[q->head];
	q->head = (q->head + 1) % q->cap;
	q->len--;
	return item;
}

/*
 * What a put() or get() may wait: (block=True, timeout=None), by position
 * or by name, as Python's queue takes them. 0, or the ValueError Python
 * raises for a negative timeout.
 */
static int how_long(mp_call *c, size_t first, struct mp__deadline *d, bool *blocking)
{
	const mp_value *block = mp__param(c, first, "block"), *timeout = mp__param(c, first + 1, "timeout");
	*blocking = !block || mp_value_as_int(block) != 0 || mp_value_as_float(block) != 0;
	double t = MP_FOREVER;
	if (timeout && !mp__is(timeout, MP_VALUE_NONE)) {
		t = mp_value_as_float(timeout);
		if (!(t >= 0)) {
			mp_call_raise(c, "ValueError", "'timeout' must be a non-negative number");
			return -EINVAL;
		}
	}
	return mp__deadline_start(d, *blocking ? t : 0);
}

/* Python's queue.Empty and queue.Full, as CPython's pickle names them: Empty lives in _queue, Full in queue. */
static int raise_empty(mp_call *c)
{
	return mp__call_raise_object(c, "_queue", "Empty", mp_value_tuple_of(0)) < 0 ? -ENOMEM : -EAGAIN;
}

static int raise_full(mp_call *c)
{
	return mp__call_raise_object(c, "queue", "Full", mp_value_tuple_of(0)) < 0 ? -ENOMEM : -EAGAIN;
}

/*
 * Wait while @q is @empty (else: while it is full), until @d. 0 once it is
 * not; MP_ETIMEDOUT; MP_ECLOSED when the call must give up (its client has
 * gone, or the server stops): it then takes nothing from the queue.
 */
static int wait_while(mp_call *c, struct queue *q, bool empty, const struct mp__deadline *d)
{
	int rc = 0;
	while (rc == 0 && (empty ? q->len == 0 : full(q)))
		rc = mp__call_wait_until(c, d);
	return rc;
}

static int get_item(struct queue *q, mp_call *c, bool may_block)
{
	struct mp__deadline d;
	bool blocking = false;
	int rc = may_block ? how_long(c, 0, &d, &blocking) : mp__deadline_start(&d, 0);
	if (rc < 0)
		return rc;
	rc = wait_while(c, q, true, &d);
	if (rc == MP_ETIMEDOUT)
		return raise_empty(c);
	if (rc < 0)
		return rc;
	mp_call_notify_all(c); /* a put that waited for room may go on */
	return mp_call_return(c, pop(q));
}

static int put_item(struct queue *q, mp_call *c, bool may_block)
{
	const mp_value *item = mp__param(c, 0, "item");
	if (!item)
		return mp_call_raise(c, "TypeError", "put() missing its item") < 0 ? -ENOMEM : -EINVAL;
	struct mp__deadline d;
	bool blocking = false;
	int rc = may_block ? how_long(c, 1, &d, &blocking) : mp__deadline_start(&d, 0);
	if (rc < 0)
		return rc;
	rc = wait_while(c, q, false, &d);
	if (rc == MP_ETIMEDOUT)
		return raise_full(c);
	if (rc < 0)
		return rc;
	rc = push(q, mp_value_copy(item));
	if (rc < 0)
		return rc;
	q->unfinished++;
	mp_call_notify_all(c); /* a get that waited for an item may go on */
	return 0;
}

static int get(void *q, mp_call *c)
{
	return get_item(q, c, true);
}

static int get_nowait(void *q, mp_call *c)
{
	return get_item(q, c, false);
}

static int put(void *q, mp_call *c)
{
	return put_item(q, c, true);
}

static int put_nowait(void *q, mp_call *c)
{
	return put_item(q, c, false);
}

static int qsize(void *q, mp_call *c)
{
	return mp_call_return(c, mp_value_int((int64_t)((struct queue *)q)->len));
}

static int empty(void *q, mp_call *c)
{
	return mp_call_return(c, mp_value_bool(((struct queue *)q)->len == 0));
}

static int is_full(void *q, mp_call *c)
{
	return mp_call_return(c, mp_value_bool(full(q)));
}

static int task_done(void *object, mp_call *c)
{
	struct queue *q = object;
	if (q->unfinished <= 0)
		return mp_call_raise(c, "ValueError", "task_done() called too many times") < 0 ? -ENOMEM : -EINVAL;
	if (--q->unfinished == 0)
		mp_call_notify_all(c);
	return 0;
}

static int join(void *object, mp_call *c)
{
	struct queue *q = object;
	while (q->unfinished > 0) {
		int rc = mp_call_wait(c, MP_FOREVER);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* In the order CPython's server lists a queue.Queue's methods (sorted, as its AutoProxy takes them). */
static const struct mp_shared_method methods[] = {
	{ "empty", empty }, { "full", is_full },    { "get", get },     { "get_nowait", get_nowait }, { "join", join },
	{ "put", put },     { "put_nowait", put_nowait }, { "qsize", qsize }, { "task_done", task_done },
};

const struct mp_shared_type mp__type_queue = {
	.typeid = "Queue", .create = create, .destroy = destroy,
	.methods = methods, .nmethods = sizeof methods / sizeof methods[0],
};

const struct mp_shared_type mp__type_joinable_queue = {
	.typeid = "JoinableQueue", .create = create, .destroy = destroy,
	.methods = methods, .nmethods = sizeof methods / sizeof methods[0],
};
