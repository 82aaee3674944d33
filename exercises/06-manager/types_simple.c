/* types_simple.c: the shared Value and Namespace: a value held, and attributes by name. */
#include "manager_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/*
 * Value(typecode, value, lock=True): Python's managers.Value holds a value
 * and its typecode, and checks neither; nor does this. Its proxy reads and
 * writes `.value` through get() and set().
 */
struct held {
	char typecode[8];
	mp_value *value;
};

static int value_create(mp_call *c, void **object)
{
	const mp_value *code = mp__arg(c, 0);
	size_t n = mp_value_len(mp_call_args(c));
	if (!mp__is(code, MP_VALUE_STR) || mp_value_len(code) >= sizeof ((struct held *)0)->typecode || n < 2 || n > 3) {
		mp_call_raise(c, "TypeError", "Value() takes a typecode (a short str), a value and a lock");
		return -EINVAL;
	}
	struct held *h = calloc(1, sizeof *h);
	if (!h || !(h->value = mp_value_copy(mp__arg(c, 1)))) {
		free(h);
		return -ENOMEM;
	}
	memcpy(h->typecode, mp_value_data(code, NULL), mp_value_len(code));
	*object = h;
	return 0;
}

static void value_destroy(void *object)
{
	struct held *h = object;
	mp_value_free(h->value);
	free(h);
}

static mp_value *value_value(void *object)
{
	return mp_value_copy(((struct held *)object)->value);
}

static int value_get(void *object, mp_call *c)
{
	return mp_call_return(c, mp_value_copy(((struct held *)object)->value));
}

static int value_set(void *object, mp_call *c)
{
	struct held *h = object;
	if (mp_value_len(mp_call_args(c)) != 1)
		return mp_call_raise(c, "TypeError", "set() takes one value") < 0 ? -ENOMEM : -EINVAL;
	mp_value *v = mp_value_copy(mp__arg(c, 0));
	if (!v)
		return -ENOMEM;
	mp_value_free(h->value);
	h->value = v;
	return 0;
}

static const struct mp_shared_method value_methods[] = {
	{ "get", value_get },
	{ "set", value_set },
};

const struct mp_shared_type mp__type_value = {
	.typeid = "Value", .create = value_create, .destroy = value_destroy, .value = value_value,
	.methods = value_methods, .nmethods = sizeof value_methods / sizeof value_methods[0],
};

/* Namespace(**kwds): attributes by name, a dict of str keys. */
static int namespace_create(mp_call *c, void **object)
{
	if (mp_value_len(mp_call_args(c)) > 0) {
		mp_call_raise(c, "TypeError", "Namespace() takes keyword arguments only");
		return -EINVAL;
	}
	mp_value *attrs = mp_value_copy(mp_call_kwds(c));
	if (!attrs)
		return -ENOMEM;
	*object = attrs;
	return 0;
}

static void namespace_destroy(void *object)
{
	mp_value_free(object);
}

static mp_value *namespace_value(void *object)
{
	return mp_value_copy(object);
}

/* The attribute's name, the first argument: a str, else Python's TypeError. */
static const mp_value *name_arg(mp_call *c)
{
	const mp_value *name = mp__arg(c, 0);
	if (mp__is(name, MP_VALUE_STR))
		return name;
	mp_call_raise(c, "TypeError", "attribute name must be string");
	return NULL;
}

static int no_attribute(mp_call *c, const mp_value *name)
{
	mp_call_raise(c, "AttributeError", "'Namespace' object has no attribute '%s'", mp_value_data(name, NULL));
	return -ENOENT;
}

static int namespace_get(void *attrs, mp_call *c)
{
	const mp_value *name = name_arg(c), *v;
	if (!name)
		return -EINVAL;
	if (!(v = mp_value_dict_get(attrs, name)))
		return no_attribute(c, name);
	return mp_call_return(c, mp_value_copy(v));
}

static int namespace_set(void *attrs, mp_call *c)
{
	const mp_value *name = name_arg(c);
	if (!name)
		return -EINVAL;
	return mp_value_dict_set(attrs, mp_value_copy(name), mp_value_copy(mp__arg(c, 1)));
}

static int namespace_del(void *attrs, mp_call *c)
{
	const mp_value *name = name_arg(c);
	if (!name)
		return -EINVAL;
	mp_value *v = mp_value_dict_take(attrs, name);
	if (!v)
		return no_attribute(c, name);
	mp_value_free(v);
	return 0;
}

static const struct mp_shared_method namespace_methods[] = {
	{ "__getattribute__", namespace_get },
	{ "__setattr__", namespace_set },
	{ "__delattr__", namespace_del },
};

const struct mp_shared_type mp__type_namespace = {
	.typeid = "Namespace", .create = namespace_create, .destroy = namespace_destroy, .value = namespace_value,
	.methods = namespace_methods, .nmethods = sizeof namespace_methods / sizeof namespace_methods[0],
};
