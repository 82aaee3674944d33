/* types_dict.c: the shared dict, with the methods of Python's DictProxy. */
#include "manager_internal.h"

#include <errno.h>
#include <stdlib.h>

/* The dict itself is the object's state: a value of value.h, owned by the object. */

/* A key Python could hash, or the TypeError Python raises for one it cannot. */
static int hashable(mp_call *c, const mp_value *key)
{
	if (key && mp_value_hashable(key))
		return 0;
	mp_call_raise(c, "TypeError", "unhashable type: '%s'", key ? mp_value_kind_name(mp_value_kind_of(key)) : "nothing");
	return -EINVAL;
}

/* The arguments count: between @least and @most, or Python's TypeError. */
static int arity(mp_call *c, const char *name, size_t least, size_t most)
{
	size_t n = mp_value_len(mp_call_args(c));
	if (n >= least && n <= most)
		return 0;
	mp_call_raise(c, "TypeError", "%s expected %s%zu argument%s, got %zu", name, least == most ? "" : "at most ", most,
		      most == 1 ? "" : "s", n);
	return -EINVAL;
}

/* d.update(other) and d.update(**kwds): @from is a dict, or a list or tuple of pairs. */
static int merge(mp_call *c, mp_value *d, const mp_value *from)
{
	if (!mp__is(from, MP_VALUE_DICT) && !mp__is(from, MP_VALUE_LIST) && !mp__is(from, MP_VALUE_TUPLE)) {
		mp_call_raise(c, "TypeError", "'%s' object is not iterable", mp_value_kind_name(mp_value_kind_of(from)));
		return -EINVAL;
	}
	mp_value_kind k = mp_value_kind_of(from);
	for (size_t i = 0; i < mp_value_len(from); i++) {
		const mp_value *key, *value;
		if (k == MP_VALUE_DICT) {
			mp_value_dict_pair(from, i, &key, &value);
		} else {
			const mp_value *pair = mp_value_item(from, i);
			if ((!mp__is(pair, MP_VALUE_LIST) && !mp__is(pair, MP_VALUE_TUPLE)) || mp_value_len(pair) != 2) {
				mp_call_raise(c, "TypeError", "cannot convert dictionary update sequence element #%zu to a sequence", i);
				return -EINVAL;
			}
			key = mp_value_item(pair, 0);
			value = mp_value_item(pair, 1);
		}
		if (hashable(c, key) < 0)
			return -EINVAL;
		if (mp_value_dict_set(d, mp_value_copy(key), mp_value_copy(value)) < 0)
			return -ENOMEM;
	}
	return 0;
}

static int create(mp_call *c, void **object)
{
	/* dict(), dict(mapping or pairs), dict(**kwds): as Python's dict(). */
	mp_value *d = mp_value_dict_new();
	if (!d)
		return -ENOMEM;
	int rc = arity(c, "dict", 0, 1);
	if (rc == 0 && mp__arg(c, 0))
		rc = merge(c, d, mp__arg(c, 0));
	if (rc == 0)
		rc = merge(c, d, mp_call_kwds(c));
	if (rc < 0) {
		mp_value_free(d);
		return rc;
	}
	*object = d;
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

static int key_error(mp_call *c, const mp_value *key)
{
	return mp_call_raise_value(c, "KeyError", mp_value_copy(key)) < 0 ? -ENOMEM : -ENOENT;
}

static int getitem(void *d, mp_call *c)
{
	const mp_value *key = mp__arg(c, 0), *v;
	if (arity(c, "__getitem__", 1, 1) < 0 || hashable(c, key) < 0)
		return -EINVAL;
	if (!(v = mp_value_dict_get(d, key)))
		return key_error(c, key);
	return mp_call_return(c, mp_value_copy(v));
}

static int setitem(void *d, mp_call *c)
{
	const mp_value *key = mp__arg(c, 0);
	if (arity(c, "__setitem__", 2, 2) < 0 || hashable(c, key) < 0)
		return -EINVAL;
	return mp_value_dict_set(d, mp_value_copy(key), mp_value_copy(mp__arg(c, 1)));
}

static int delitem(void *d, mp_call *c)
{
	const mp_value *key = mp__arg(c, 0);
	if (arity(c, "__delitem__", 1, 1) < 0 || hashable(c, key) < 0)
		return -EINVAL;
	mp_value *v = mp_value_dict_take(d, key);
	if (!v)
		return key_error(c, key);
	mp_value_free(v);
	return 0;
}

static int contains(void *d, mp_call *c)
{
	const mp_value *key = mp__arg(c, 0);
	if (arity(c, "__contains__", 1, 1) < 0 || hashable(c, key) < 0)
		return -EINVAL;
	return mp_call_return(c, mp_value_bool(mp_value_dict_get(d, key) != NULL));
}

static int len(void *d, mp_call *c)
{
	return mp_call_return(c, mp_value_int((int64_t)mp_value_len(d)));
}

static int clear(void *d, mp_call *c)
{
	(void)c;
	for (const mp_value *key; mp_value_dict_pair(d, 0, &key, NULL) == 0;) {
		mp_value *copy = mp_value_copy(key);
		if (!copy)
			return -ENOMEM;
		mp_value_free(mp_value_dict_take(d, copy));
		mp_value_free(copy);
	}
	return 0;
}

static int copy(void *d, mp_call *c)
{
	return mp_call_return(c, mp_value_copy(d));
}

static int get(void *d, mp_call *c)
{
	const mp_value *key = mp__arg(c, 0);
	if (arity(c, "get", 1, 2) < 0 || hashable(c, key) < 0)
		return -EINVAL;
	const mp_value *v = mp_value_dict_get(d, key);
	return mp_call_return(c, v ? mp_value_copy(v) : mp__arg(c, 1) ? mp_value_copy(mp__arg(c, 1)) : mp_value_none());
}

/* keys(), values(), items(): lists, as CPython's manager sends them (its dict views travel as lists). */
static int listing(void *d, mp_call *c, int which)
{
	mp_value *l = mp_value_list_of(0);
	for (size_t i = 0; l && i < mp_value_len(d); i++) {
		const mp_value *key, *v;
		mp_value_dict_pair(d, i, &key, &v);
		mp_value *item = which == 0 ? mp_value_copy(key) : which == 1 ? mp_value_copy(v)
			       : mp_value_tuple_of(2, mp_value_copy(key), mp_value_copy(v));
		if (mp_value_list_append(l, item) < 0) {
			mp_value_free(l);
			l = NULL;
		}
	}
	return mp_call_return(c, l);
}

static int keys(void *d, mp_call *c)
{
	return listing(d, c, 0);
}

static int values(void *d, mp_call *c)
{
	return listing(d, c, 1);
}

static int items(void *d, mp_call *c)
{
	return listing(d, c, 2);
}

static int pop(void *d, mp_call *c)
{
	const mp_value *key = mp__arg(c, 0);
	if (arity(c, "pop", 1, 2) < 0 || hashable(c, key) < 0)
		return -EINVAL;
	mp_value *v = mp_value_dict_take(d, key);
	if (!v && !mp__arg(c, 1))
		return key_error(c, key);
	return mp_call_return(c, v ? v : mp_value_copy(mp__arg(c, 1)));
}

static int popitem(void *d, mp_call *c)
{
	const mp_value *key;
	if (mp_value_dict_pair(d, mp_value_len(d) - 1, &key, NULL) < 0)
		return mp_call_raise(c, "KeyError", "popitem(): dictionary is empty") < 0 ? -ENOMEM : -ENOENT;
	mp_value *k = mp_value_copy(key);
	if (!k)
		return -ENOMEM;
	mp_value *v = mp_value_dict_take(d, k); /* (the dict frees its own key) */
	return mp_call_return(c, mp_value_tuple_of(2, k, v));
}

static int setdefault(void *d, mp_call *c)
{
	const mp_value *key = mp__arg(c, 0);
	if (arity(c, "setdefault", 1, 2) < 0 || hashable(c, key) < 0)
		return -EINVAL;
	const mp_value *v = mp_value_dict_get(d, key);
	if (!v) {
		const mp_value *fill = mp__arg(c, 1);
		int rc = mp_value_dict_set(d, mp_value_copy(key), fill ? mp_value_copy(fill) : mp_value_none());
		if (rc < 0)
			return rc;
		v = mp_value_dict_get(d, key);
	}
	return mp_call_return(c, mp_value_copy(v));
}

static int update(void *d, mp_call *c)
{
	int rc = arity(c, "update", 0, 1);
	if (rc == 0 && mp__arg(c, 0))
		rc = merge(c, d, mp__arg(c, 0));
	return rc < 0 ? rc : merge(c, d, mp_call_kwds(c));
}

/* In the order CPython's DictProxy lists them (but __iter__, whose iterator is a shared object of its own). */
static const struct mp_shared_method methods[] = {
	{ "__contains__", contains }, { "__delitem__", delitem }, { "__getitem__", getitem }, { "__len__", len },
	{ "__setitem__", setitem },   { "clear", clear },        { "copy", copy },          { "get", get },
	{ "items", items },           { "keys", keys },          { "pop", pop },            { "popitem", popitem },
	{ "setdefault", setdefault }, { "update", update },      { "values", values },
};

const struct mp_shared_type mp__type_dict = {
	.typeid = "dict", .create = create, .destroy = destroy, .value = value,
	.methods = methods, .nmethods = sizeof methods / sizeof methods[0],
};
