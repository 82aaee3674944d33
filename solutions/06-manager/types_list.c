/* types_list.c: the shared list, with the methods of Python's ListProxy. */
#include "manager_internal.h"
#include "value_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int create(mp_call *c, void **object)
{
	/* list() or list(a list or tuple): as Python's list(). */
	const mp_value *from = mp__arg(c, 0);
	mp_value_kind k = mp_value_kind_of(from ? from : mp_call_args(c));
	if (mp_value_len(mp_call_args(c)) > 1 || (from && k != MP_VALUE_LIST && k != MP_VALUE_TUPLE)) {
		mp_call_raise(c, "TypeError", "list() takes one list or tuple at most");
		return -EINVAL;
	}
	mp_value *l = mp_value_list_of(0);
	for (size_t i = 0; l && from && i < mp_value_len(from); i++)
		if (mp_value_list_append(l, mp_value_copy(mp_value_item(from, i))) < 0) {
			mp_value_free(l);
			l = NULL;
		}
	if (!l)
		return -ENOMEM;
	*object = l;
	return 0;
}

static void destroy(void *object)
{
	mp_value_free(object);
}

static mp_value *value(void *object)
{
	return mp_value_copy(object);
}

/*
 * Argument @i as an index into @l, Python's way: negative counts from the
 * end. Out of range is IndexError("@what index out of range"); what is not
 * an int, TypeError. @end allows one past the last (insert's).
 */
static int index_arg(mp_call *c, const mp_value *l, size_t i, const char *what, size_t *out)
{
	const mp_value *a = mp__arg(c, i);
	if (!mp__is(a, MP_VALUE_INT) && !mp__is(a, MP_VALUE_BOOL)) {
		mp_call_raise(c, "TypeError", "list indices must be integers, not %s",
			      a ? mp_value_kind_name(mp_value_kind_of(a)) : "nothing");
		return -EINVAL;
	}
	int64_t n = (int64_t)mp_value_len(l), at = mp_value_as_int(a);
	if (at < 0)
		at += n;
	if (at < 0 || at >= n) {
		mp_call_raise(c, "IndexError", "%s index out of range", what);
		return -ERANGE;
	}
	*out = (size_t)at;
	return 0;
}

static int getitem(void *l, mp_call *c)
{
	size_t at;
	int rc = index_arg(c, l, 0, "list", &at);
	return rc < 0 ? rc : mp_call_return(c, mp_value_copy(mp_value_item(l, at)));
}

static int setitem(void *l, mp_call *c)
{
	size_t at;
	int rc = index_arg(c, l, 0, "list assignment", &at);
	return rc < 0 ? rc : mp_value_list_set(l, at, mp_value_copy(mp__arg(c, 1)));
}

static int delitem(void *l, mp_call *c)
{
	size_t at;
	int rc = index_arg(c, l, 0, "list assignment", &at);
	if (rc == 0)
		mp_value_free(mp_value_list_take(l, at));
	return rc;
}

static int len(void *l, mp_call *c)
{
	return mp_call_return(c, mp_value_int((int64_t)mp_value_len(l)));
}

/* How many items equal @x; and the first one's index (SIZE_MAX for none). */
static size_t count_of(const mp_value *l, const mp_value *x, size_t *first)
{
	size_t n = 0;
	*first = SIZE_MAX;
	for (size_t i = 0; i < mp_value_len(l); i++)
		if (mp_value_equal(mp_value_item(l, i), x) && n++ == 0)
			*first = i;
	return n;
}

static int contains(void *l, mp_call *c)
{
	size_t first;
	return mp_call_return(c, mp_value_bool(count_of(l, mp__arg(c, 0), &first) > 0));
}

static int count(void *l, mp_call *c)
{
	size_t first;
	return mp_call_return(c, mp_value_int((int64_t)count_of(l, mp__arg(c, 0), &first)));
}

static int not_in_list(mp_call *c, const char *what)
{
	mp_call_raise(c, "ValueError", "%s", what);
	return -ENOENT;
}

static int index_of(void *l, mp_call *c)
{
	size_t first;
	if (count_of(l, mp__arg(c, 0), &first) == 0)
		return not_in_list(c, "value is not in list");
	return mp_call_return(c, mp_value_int((int64_t)first));
}

static int remove_item(void *l, mp_call *c)
{
	size_t first;
	if (count_of(l, mp__arg(c, 0), &first) == 0)
		return not_in_list(c, "list.remove(x): x not in list");
	mp_value_free(mp_value_list_take(l, first));
	return 0;
}

static int append(void *l, mp_call *c)
{
	if (mp_value_len(mp_call_args(c)) != 1)
		return mp_call_raise(c, "TypeError", "list.append() takes exactly one argument") < 0 ? -ENOMEM : -EINVAL;
	return mp_value_list_append(l, mp_value_copy(mp__arg(c, 0)));
}

/* Append every item of @from (a list or tuple) to @l; @from may be @l itself. */
static int extend_with(mp_call *c, mp_value *l, const mp_value *from)
{
	if (!mp__is(from, MP_VALUE_LIST) && !mp__is(from, MP_VALUE_TUPLE)) {
		mp_call_raise(c, "TypeError", "can only extend a list with a list or tuple, not %s",
			      from ? mp_value_kind_name(mp_value_kind_of(from)) : "nothing");
		return -EINVAL;
	}
	size_t n = mp_value_len(from); /* before it grows, if it is l */
	for (size_t i = 0; i < n; i++) {
		int rc = mp_value_list_append(l, mp_value_copy(mp_value_item(from, i)));
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int extend(void *l, mp_call *c)
{
	return extend_with(c, l, mp__arg(c, 0));
}

static int insert(void *l, mp_call *c)
{
	const mp_value *a = mp__arg(c, 0);
	if (!mp__is(a, MP_VALUE_INT) || mp_value_len(mp_call_args(c)) != 2)
		return mp_call_raise(c, "TypeError", "insert() takes an int and a value") < 0 ? -ENOMEM : -EINVAL;
	int64_t n = (int64_t)mp_value_len(l), at = mp_value_as_int(a);
	if (at < 0)
		at = at + n < 0 ? 0 : at + n; /* Python clamps, never raises */
	return mp_value_list_insert(l, (size_t)(at > n ? n : at), mp_value_copy(mp__arg(c, 1)));
}

static int pop(void *l, mp_call *c)
{
	if (mp_value_len(l) == 0)
		return mp_call_raise(c, "IndexError", "pop from empty list") < 0 ? -ENOMEM : -ERANGE;
	size_t at = mp_value_len(l) - 1;
	if (mp__arg(c, 0)) {
		int rc = index_arg(c, l, 0, "pop", &at);
		if (rc < 0)
			return rc;
	}
	return mp_call_return(c, mp_value_list_take(l, at));
}

static int reverse(void *object, mp_call *c)
{
	(void)c;
	mp_value *l = object;
	for (size_t i = 0, j = l->seq.len; i + 1 < j; i++, j--) {
		mp_value *t = l->seq.items[i];
		l->seq.items[i] = l->seq.items[j - 1];
		l->seq.items[j - 1] = t;
	}
	return 0;
}

/* sort(): numbers among numbers, str among str, bytes among bytes, as Python's < allows. */
enum order { NUMBERS, TEXT, BYTES, NO_ORDER };

static enum order order_of(const mp_value *v)
{
	switch (mp_value_kind_of(v)) {
	case MP_VALUE_BOOL:
	case MP_VALUE_INT:
	case MP_VALUE_FLOAT:
		return NUMBERS;
	case MP_VALUE_STR:
		return TEXT;
	case MP_VALUE_BYTES:
		return BYTES;
	default:
		return NO_ORDER;
	}
}

/* An item and where it stood: equal items keep their order (Python's sort is stable). */
struct place {
	mp_value *v;
	size_t at;
	bool reverse;
};

static int compare(const void *pa, const void *pb)
{
	const struct place *a = pa, *b = pb;
	int c;
	if (order_of(a->v) == NUMBERS) {
		bool ints = mp_value_kind_of(a->v) != MP_VALUE_FLOAT && mp_value_kind_of(b->v) != MP_VALUE_FLOAT;
		if (ints) {
			int64_t x = mp_value_as_int(a->v), y = mp_value_as_int(b->v);
			c = (x > y) - (x < y);
		} else {
			double x = mp_value_as_float(a->v), y = mp_value_as_float(b->v);
			c = (x > y) - (x < y);
		}
	} else {
		size_t la, lb;
		const char *x = mp_value_data(a->v, &la), *y = mp_value_data(b->v, &lb);
		c = memcmp(x, y, la < lb ? la : lb);
		c = c ? c : (la > lb) - (la < lb);
	}
	if (a->reverse)
		c = -c;
	return c ? c : (a->at > b->at) - (a->at < b->at);
}

static int sort(void *object, mp_call *c)
{
	mp_value *l = object;
	bool reverse = false;
	for (size_t i = 0; i < mp_value_len(mp_call_kwds(c)); i++) {
		const mp_value *k, *v;
		mp_value_dict_pair(mp_call_kwds(c), i, &k, &v);
		const char *name = mp_value_data(k, NULL);
		if (name && strcmp(name, "reverse") == 0)
			reverse = mp_value_as_int(v) != 0;
		else if (!(name && strcmp(name, "key") == 0 && mp_value_kind_of(v) == MP_VALUE_NONE))
			return mp_call_raise(c, "TypeError", "sort() takes reverse= only here (a key function cannot travel)") < 0
				? -ENOMEM : -EINVAL;
	}
	size_t n = l->seq.len;
	for (size_t i = 1; i < n; i++) {
		enum order o = order_of(l->seq.items[i]);
		if (o == NO_ORDER || o != order_of(l->seq.items[0]))
			return mp_call_raise(c, "TypeError", "'<' not supported between instances of '%s' and '%s'",
					     mp_value_kind_name(mp_value_kind_of(l->seq.items[i])),
					     mp_value_kind_name(mp_value_kind_of(l->seq.items[0]))) < 0 ? -ENOMEM : -EINVAL;
	}
	struct place *p = malloc((n ? n : 1) * sizeof *p);
	if (!p)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		p[i] = (struct place){ l->seq.items[i], i, reverse };
	qsort(p, n, sizeof *p, compare);
	for (size_t i = 0; i < n; i++)
		l->seq.items[i] = p[i].v;
	free(p);
	return 0;
}

/* l + other, other * n: new lists, handed to the caller; l *= n changes l. */
static int repeat_into(mp_call *c, mp_value *into, const mp_value *l, const mp_value *times)
{
	if (!mp__is(times, MP_VALUE_INT) && !mp__is(times, MP_VALUE_BOOL)) {
		mp_call_raise(c, "TypeError", "can't multiply sequence by non-int");
		return -EINVAL;
	}
	int64_t n = mp_value_as_int(times);
	if (n > 0 && mp_value_len(l) > (MANAGER_MAX_MESSAGE / 16) / (uint64_t)n) {
		mp_call_raise(c, "MemoryError", "the list would be too large");
		return -ENOMEM;
	}
	size_t len = mp_value_len(l);
	for (int64_t k = 1; k < n; k++)
		for (size_t i = 0; i < len; i++) {
			int rc = mp_value_list_append(into, mp_value_copy(mp_value_item(l, i)));
			if (rc < 0)
				return rc;
		}
	return 0;
}

static int add(void *l, mp_call *c)
{
	mp_value *sum = mp_value_copy(l);
	int rc = sum ? extend_with(c, sum, mp__arg(c, 0)) : -ENOMEM;
	if (rc < 0) {
		mp_value_free(sum);
		return rc;
	}
	return mp_call_return(c, sum);
}

static int mul(void *l, mp_call *c)
{
	mp_value *product = mp_value_copy(l);
	int rc = product ? repeat_into(c, product, l, mp__arg(c, 0)) : -ENOMEM;
	if (rc == 0 && mp_value_as_int(mp__arg(c, 0)) <= 0) {
		mp_value_free(product);
		product = mp_value_list_of(0);
	}
	if (rc < 0) {
		mp_value_free(product);
		return rc;
	}
	return mp_call_return(c, product);
}

static int imul(void *object, mp_call *c)
{
	mp_value *l = object, *copy = mp_value_copy(l);
	if (!copy)
		return -ENOMEM;
	int rc = repeat_into(c, l, copy, mp__arg(c, 0));
	mp_value_free(copy);
	while (rc == 0 && mp_value_as_int(mp__arg(c, 0)) <= 0 && mp_value_len(l) > 0)
		mp_value_free(mp_value_list_take(l, mp_value_len(l) - 1));
	return rc;
}

/* In the order CPython's ListProxy lists them (but __reversed__, whose iterator is a shared object of its own). */
static const struct mp_shared_method methods[] = {
	{ "__add__", add },       { "__contains__", contains }, { "__delitem__", delitem }, { "__getitem__", getitem },
	{ "__len__", len },       { "__mul__", mul },           { "__rmul__", mul },        { "__setitem__", setitem },
	{ "append", append },     { "count", count },           { "extend", extend },       { "index", index_of },
	{ "insert", insert },     { "pop", pop },               { "remove", remove_item },  { "reverse", reverse },
	{ "sort", sort },         { "__imul__", imul },
};

const struct mp_shared_type mp__type_list = {
	.typeid = "list", .create = create, .destroy = destroy, .value = value,
	.methods = methods, .nmethods = sizeof methods / sizeof methods[0],
};
