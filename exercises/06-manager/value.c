/* value.c: Python's data as a C tree: constructors, containers, equality and hashing, copy and free. */
#include "value_internal.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

mp_value *mp__value_new(mp_value_kind kind)
{
	mp_value *v = calloc(1, sizeof *v);
	if (v)
		v->kind = kind;
	return v;
}

mp_value *mp_value_none(void)
{
	return mp__value_new(MP_VALUE_NONE);
}

mp_value *mp_value_bool(bool b)
{
	mp_value *v = mp__value_new(MP_VALUE_BOOL);
	if (v)
		v->b = b;
	return v;
}

mp_value *mp_value_int(int64_t i)
{
	mp_value *v = mp__value_new(MP_VALUE_INT);
	if (v)
		v->i = i;
	return v;
}

mp_value *mp_value_float(double d)
{
	mp_value *v = mp__value_new(MP_VALUE_FLOAT);
	if (v)
		v->d = d;
	return v;
}

/*
 * UTF-8 as Python's strict decoder reads it: no overlong forms, no
 * surrogates (U+D800 to U+DFFF), nothing above U+10FFFF.
 */
bool mp__utf8_valid(const unsigned char *s, size_t len)
{
	size_t i = 0;
	while (i < len) {
		unsigned c = s[i];
		size_t n;
		uint32_t cp, min;
		if (c < 0x80) {
			i++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			n = 1, cp = c & 0x1f, min = 0x80;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2, cp = c & 0x0f, min = 0x800;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3, cp = c & 0x07, min = 0x10000;
		} else {
			return false; /* a continuation byte first, or 0xc0, 0xc1, 0xf5 and up */
		}
		if (len - i - 1 < n)
			return false;
		for (size_t k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n + 1;
	}
	return true;
}

/* A str or bytes holding a copy of @len bytes, NUL-terminated. */
static mp_value *new_text(mp_value_kind kind, const void *data, size_t len)
{
	if (len == SIZE_MAX || (len && !data))
		return NULL;
	mp_value *v = mp__value_new(kind);
	if (!v)
		return NULL;
	v->s.data = malloc(len + 1);
	if (!v->s.data) {
		free(v);
		return NULL;
	}
	if (len)
		memcpy(v->s.data, data, len);
	v->s.data[len] = '\0';
	v->s.len = len;
	return v;
}

mp_value *mp_value_str(const char *s)
{
	return s ? mp_value_strn(s, strlen(s)) : NULL;
}

mp_value *mp_value_strn(const char *s, size_t len)
{
	if (len && (!s || !mp__utf8_valid((const unsigned char *)s, len)))
		return NULL;
	return new_text(MP_VALUE_STR, s, len);
}

mp_value *mp_value_bytes(const void *data, size_t len)
{
	return new_text(MP_VALUE_BYTES, data, len);
}

/* Grows @v's height to cover an item of height @h. */
static void cover(mp_value *v, const mp_value *item)
{
	if (item->height + 1 > v->height)
		v->height = item->height + 1;
}

/* A container's height again, from its items: after one is taken out, it may be lower. */
static void measure(mp_value *v)
{
	v->height = 0;
	if (v->kind == MP_VALUE_DICT) {
		for (size_t k = 0; k < v->map.len; k++) {
			cover(v, v->map.keys[k]);
			cover(v, v->map.values[k]);
		}
	} else {
		for (size_t k = 0; k < v->seq.len; k++)
			cover(v, v->seq.items[k]);
	}
}

mp_value *mp_value_tuple_from(mp_value **items, size_t n)
{
	mp_value *t = mp__value_new(MP_VALUE_TUPLE);
	bool ok = t != NULL;
	for (size_t i = 0; i < n; i++)
		ok = ok && items[i] != NULL;
	if (ok && n) {
		t->seq.items = malloc(n * sizeof *t->seq.items);
		ok = t->seq.items != NULL;
	}
	if (!ok) {
		for (size_t i = 0; i < n; i++)
			mp_value_free(items[i]);
		mp_value_free(t);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		t->seq.items[i] = items[i];
		cover(t, items[i]);
	}
	t->seq.len = t->seq.cap = n;
	return t;
}

/* An object is kept as a tuple of its four items would be, under a kind of its own. */
mp_value *mp_value_object(mp_object_form form, const char *module, const char *name, mp_value *args,
			  mp_value *state)
{
	bool named = form == MP_OBJECT_NAME;
	bool known = named || form == MP_OBJECT_CALL || form == MP_OBJECT_NEW;
	if (!known || !module || !name || !*module || !*name ||
	    (named ? args || state : !args || args->kind != MP_VALUE_TUPLE)) {
		mp_value_free(args);
		mp_value_free(state);
		return NULL;
	}
	mp_value *items[4] = { mp_value_str(module), mp_value_str(name), named ? mp_value_none() : args,
			       state ? state : mp_value_none() };
	mp_value *v = mp_value_tuple_from(items, 4); /* takes them, even on failure */
	if (v) {
		v->kind = MP_VALUE_OBJECT;
		v->form = form;
	}
	return v;
}

mp_object_form mp_value_object_form(const mp_value *v)
{
	return v && v->kind == MP_VALUE_OBJECT ? v->form : MP_OBJECT_NAME;
}

/* The variadic constructors: collect the arguments, then build as from an array. */
static mp_value *of_args(mp_value_kind kind, size_t n, va_list ap)
{
	mp_value *small[8], **items = n <= 8 ? small : malloc(n * sizeof *items);
	bool ok = items != NULL;
	for (size_t i = 0; i < n; i++) {
		mp_value *item = va_arg(ap, mp_value *);
		if (ok)
			items[i] = item;
		else
			mp_value_free(item); /* taken, even now */
	}
	if (!ok)
		return NULL;
	mp_value *v;
	if (kind == MP_VALUE_TUPLE) {
		v = mp_value_tuple_from(items, n);
	} else {
		v = mp__value_new(MP_VALUE_LIST);
		for (size_t i = 0; i < n; i++)
			if (!v || mp_value_list_append(v, items[i]) < 0) {
				for (size_t k = i + 1; k < n; k++)
					mp_value_free(items[k]);
				mp_value_free(v);
				v = NULL;
				break;
			}
	}
	if (items != small)
		free(items);
	return v;
}

mp_value *mp_value_tuple_of(size_t n, ...)
{
	va_list ap;
	va_start(ap, n);
	mp_value *v = of_args(MP_VALUE_TUPLE, n, ap);
	va_end(ap);
	return v;
}

mp_value *mp_value_list_of(size_t n, ...)
{
	va_list ap;
	va_start(ap, n);
	mp_value *v = of_args(MP_VALUE_LIST, n, ap);
	va_end(ap);
	return v;
}

mp_value *mp_value_dict_new(void)
{
	return mp__value_new(MP_VALUE_DICT);
}

/* Room for one more in an array of @cap pointers-or-words of @size bytes: doubles it. */
static int grow(void **array, size_t *cap, size_t size)
{
	size_t want = *cap ? *cap * 2 : 4;
	if (want > SIZE_MAX / size / 2)
		return -ENOMEM;
	void *p = realloc(*array, want * size);
	if (!p)
		return -ENOMEM;
	*array = p;
	*cap = want;
	return 0;
}

int mp_value_list_insert(mp_value *list, size_t i, mp_value *item)
{
	int rc = mp_value_list_append(list, item);
	if (rc < 0)
		return rc;
	size_t at = i < list->seq.len - 1 ? i : list->seq.len - 1;
	memmove(&list->seq.items[at + 1], &list->seq.items[at], (list->seq.len - 1 - at) * sizeof *list->seq.items);
	list->seq.items[at] = item;
	return 0;
}

int mp_value_list_set(mp_value *list, size_t i, mp_value *item)
{
	int rc = !list || list->kind != MP_VALUE_LIST || i >= list->seq.len || list == item ? -EINVAL : item ? 0 : -ENOMEM;
	if (rc < 0) {
		if (item != list)
			mp_value_free(item);
		return rc;
	}
	mp_value_free(list->seq.items[i]);
	list->seq.items[i] = item;
	measure(list);
	return 0;
}

mp_value *mp_value_list_take(mp_value *list, size_t i)
{
	if (!list || list->kind != MP_VALUE_LIST || i >= list->seq.len)
		return NULL;
	mp_value *item = list->seq.items[i];
	memmove(&list->seq.items[i], &list->seq.items[i + 1], (list->seq.len - i - 1) * sizeof *list->seq.items);
	list->seq.len--;
	measure(list);
	return item;
}

int mp_value_list_append(mp_value *list, mp_value *item)
{
	int rc = 0;
	if (!list || list->kind != MP_VALUE_LIST || list == item)
		rc = -EINVAL;
	else if (!item)
		rc = -ENOMEM;
	else if (list->seq.len == list->seq.cap)
		rc = grow((void **)&list->seq.items, &list->seq.cap, sizeof *list->seq.items);
	if (rc < 0) {
		if (item != list)
			mp_value_free(item);
		return rc;
	}
	list->seq.items[list->seq.len++] = item;
	cover(list, item);
	return 0;
}

/* A 64-bit mix (from SplitMix64): spreads nearby integers over the whole table. */
static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15u;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
	return x ^ (x >> 31);
}

/* Whether @d is a whole number that an int64_t holds exactly; then *i is it. */
static bool whole(double d, int64_t *i)
{
	if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0) || d != trunc(d))
		return false;
	*i = (int64_t)d;
	return true;
}

uint64_t mp__value_hash(const mp_value *v)
{
	int64_t i;
	uint64_t h, bits;
	switch (v->kind) {
	case MP_VALUE_NONE:
		return 0x6e6f6e65u;
	case MP_VALUE_BOOL:
		return mix((uint64_t)v->b); /* True == 1: the same hash */
	case MP_VALUE_INT:
		return mix((uint64_t)v->i);
	case MP_VALUE_FLOAT:
		if (whole(v->d, &i))
			return mix((uint64_t)i); /* 2.0 == 2 */
		memcpy(&bits, &v->d, sizeof bits);
		return mix(bits ^ 0x666c6f6174u);
	case MP_VALUE_STR:
	case MP_VALUE_BYTES:
		h = 0xcbf29ce484222325u ^ v->kind; /* FNV-1a; 'a' != b'a' */
		for (size_t k = 0; k < v->s.len; k++)
			h = (h ^ (unsigned char)v->s.data[k]) * 0x100000001b3u;
		return mix(h);
	default: /* a tuple: its items in order */
		h = 0x7475706c65u;
		for (size_t k = 0; k < v->seq.len; k++)
			h = mix(h ^ mp__value_hash(v->seq.items[k]));
		return h;
	}
}

/* The slot of @key (hash @h) in @d: its pair's, or the empty one where it would go. */
static size_t find_slot(const mp_value *d, const mp_value *key, uint64_t h)
{
	size_t mask = d->map.nslots - 1;
	for (size_t s = h & mask;; s = (s + 1) & mask) {
		uint32_t at = d->map.slots[s];
		if (at == 0)
			return s;
		if (d->map.hashes[at - 1] == h && mp_value_equal(d->map.keys[at - 1], key))
			return s;
	}
}

/* A table of twice as many slots, the pairs placed again. Leaves @d as it was on failure. */
static int rehash(mp_value *d)
{
	size_t n = d->map.nslots ? d->map.nslots * 2 : 8;
	if (n > UINT32_MAX)
		return -ENOMEM;
	uint32_t *slots = calloc(n, sizeof *slots);
	if (!slots)
		return -ENOMEM;
	free(d->map.slots);
	d->map.slots = slots;
	d->map.nslots = n;
	for (size_t k = 0; k < d->map.len; k++)
		slots[find_slot(d, d->map.keys[k], d->map.hashes[k])] = (uint32_t)(k + 1);
	return 0;
}

int mp__value_dict_put(mp_value *dict, mp_value *key, mp_value *value, mp_value *displaced[2])
{
	int rc = 0;
	displaced[0] = displaced[1] = NULL;
	if (!dict || dict->kind != MP_VALUE_DICT || (key && !mp_value_hashable(key)))
		rc = -EINVAL;
	else if (!key || !value)
		rc = -ENOMEM;
	else if (2 * (dict->map.len + 1) > dict->map.nslots)
		rc = rehash(dict);
	if (rc == 0 && dict->map.len == dict->map.cap) {
		size_t cap = dict->map.cap;
		/* Three arrays grow together; each realloc that worked is kept, cap moves last. */
		rc = grow((void **)&dict->map.keys, &cap, sizeof *dict->map.keys);
		cap = dict->map.cap;
		if (rc == 0)
			rc = grow((void **)&dict->map.values, &cap, sizeof *dict->map.values);
		cap = dict->map.cap;
		if (rc == 0)
			rc = grow((void **)&dict->map.hashes, &cap, sizeof *dict->map.hashes);
		if (rc == 0)
			dict->map.cap = cap;
	}
	if (rc < 0) {
		mp_value_free(key);
		mp_value_free(value);
		return rc;
	}
	uint64_t h = mp__value_hash(key);
	size_t s = find_slot(dict, key, h);
	if (dict->map.slots[s]) {
		/* Python keeps the first key and its place; only the value changes. */
		size_t at = dict->map.slots[s] - 1;
		displaced[0] = key;
		displaced[1] = dict->map.values[at];
		dict->map.values[at] = value;
	} else {
		size_t at = dict->map.len++;
		dict->map.keys[at] = key;
		dict->map.values[at] = value;
		dict->map.hashes[at] = h;
		dict->map.slots[s] = (uint32_t)(at + 1);
		cover(dict, key);
	}
	cover(dict, value);
	return 0;
}

mp_value *mp_value_dict_take(mp_value *dict, const mp_value *key)
{
	if (!dict || dict->kind != MP_VALUE_DICT || !key || !mp_value_hashable(key) || dict->map.len == 0)
		return NULL;
	size_t s = find_slot(dict, key, mp__value_hash(key));
	if (!dict->map.slots[s])
		return NULL;
	size_t at = dict->map.slots[s] - 1, after = dict->map.len - at - 1;
	mp_value *value = dict->map.values[at];
	mp_value_free(dict->map.keys[at]);
	/* The pairs after it move up one, keeping their order; the table is then filled again. */
	memmove(&dict->map.keys[at], &dict->map.keys[at + 1], after * sizeof *dict->map.keys);
	memmove(&dict->map.values[at], &dict->map.values[at + 1], after * sizeof *dict->map.values);
	memmove(&dict->map.hashes[at], &dict->map.hashes[at + 1], after * sizeof *dict->map.hashes);
	dict->map.len--;
	memset(dict->map.slots, 0, dict->map.nslots * sizeof *dict->map.slots);
	for (size_t k = 0; k < dict->map.len; k++)
		dict->map.slots[find_slot(dict, dict->map.keys[k], dict->map.hashes[k])] = (uint32_t)(k + 1);
	measure(dict);
	return value;
}

int mp_value_dict_set(mp_value *dict, mp_value *key, mp_value *value)
{
	mp_value *displaced[2];
	int rc = mp__value_dict_put(dict, key, value, displaced);
	mp_value_free(displaced[0]);
	mp_value_free(displaced[1]);
	return rc;
}

void mp_value_free(mp_value *v)
{
	if (!v)
		return;
	switch (v->kind) {
	case MP_VALUE_STR:
	case MP_VALUE_BYTES:
		free(v->s.data);
		break;
	case MP_VALUE_TUPLE:
	case MP_VALUE_LIST:
	case MP_VALUE_OBJECT:
		for (size_t k = 0; k < v->seq.len; k++)
			mp_value_free(v->seq.items[k]);
		free(v->seq.items);
		break;
	case MP_VALUE_DICT:
		for (size_t k = 0; k < v->map.len; k++) {
			mp_value_free(v->map.keys[k]);
			mp_value_free(v->map.values[k]);
		}
		free(v->map.keys);
		free(v->map.values);
		free(v->map.hashes);
		free(v->map.slots);
		break;
	default:
		break;
	}
	free(v);
}

mp_value *mp_value_copy(const mp_value *v)
{
	if (!v)
		return NULL;
	mp_value *c = NULL;
	switch (v->kind) {
	case MP_VALUE_STR:
	case MP_VALUE_BYTES:
		return new_text(v->kind, v->s.data, v->s.len);
	case MP_VALUE_TUPLE:
	case MP_VALUE_LIST:
	case MP_VALUE_OBJECT:
		c = mp__value_new(v->kind);
		if (c)
			c->form = v->form;
		if (c && v->seq.len) {
			c->seq.items = malloc(v->seq.len * sizeof *c->seq.items);
			if (!c->seq.items) {
				free(c);
				return NULL;
			}
			c->seq.cap = v->seq.len;
		}
		for (size_t k = 0; c && k < v->seq.len; k++) {
			c->seq.items[k] = mp_value_copy(v->seq.items[k]);
			if (!c->seq.items[k]) {
				mp_value_free(c);
				return NULL;
			}
			c->seq.len++;
		}
		if (c)
			c->height = v->height;
		return c;
	case MP_VALUE_DICT:
		c = mp_value_dict_new();
		for (size_t k = 0; c && k < v->map.len; k++)
			if (mp_value_dict_set(c, mp_value_copy(v->map.keys[k]), mp_value_copy(v->map.values[k])) < 0) {
				mp_value_free(c);
				return NULL;
			}
		return c;
	default:
		c = mp__value_new(v->kind);
		if (c)
			*c = *v;
		if (c)
			c->copied = false;
		return c;
	}
}

mp_value_kind mp_value_kind_of(const mp_value *v)
{
	return v->kind;
}

const char *mp_value_kind_name(mp_value_kind kind)
{
	static const char *const names[] = { "NoneType", "bool", "int", "float", "str", "bytes", "tuple", "list", "dict",
					     "object" };
	return (unsigned)kind < sizeof names / sizeof names[0] ? names[kind] : "?";
}

bool mp_value_as_bool(const mp_value *v)
{
	return v && v->kind == MP_VALUE_BOOL && v->b;
}

int64_t mp_value_as_int(const mp_value *v)
{
	if (v && v->kind == MP_VALUE_BOOL)
		return v->b;
	return v && v->kind == MP_VALUE_INT ? v->i : 0;
}

double mp_value_as_float(const mp_value *v)
{
	if (v && v->kind == MP_VALUE_FLOAT)
		return v->d;
	return (double)mp_value_as_int(v);
}

const char *mp_value_data(const mp_value *v, size_t *len)
{
	bool text = v && (v->kind == MP_VALUE_STR || v->kind == MP_VALUE_BYTES);
	if (len)
		*len = text ? v->s.len : 0;
	return text ? v->s.data : NULL;
}

size_t mp_value_len(const mp_value *v)
{
	if (!v)
		return 0;
	switch (v->kind) {
	case MP_VALUE_STR:
	case MP_VALUE_BYTES:
		return v->s.len;
	case MP_VALUE_TUPLE:
	case MP_VALUE_LIST:
	case MP_VALUE_OBJECT:
		return v->seq.len;
	case MP_VALUE_DICT:
		return v->map.len;
	default:
		return 0;
	}
}

const mp_value *mp_value_item(const mp_value *v, size_t i)
{
	if (!v || (v->kind != MP_VALUE_TUPLE && v->kind != MP_VALUE_LIST && v->kind != MP_VALUE_OBJECT) ||
	    i >= v->seq.len)
		return NULL;
	return v->seq.items[i];
}

int mp_value_dict_pair(const mp_value *v, size_t i, const mp_value **key, const mp_value **value)
{
	if (!v || v->kind != MP_VALUE_DICT || i >= v->map.len)
		return -EINVAL;
	if (key)
		*key = v->map.keys[i];
	if (value)
		*value = v->map.values[i];
	return 0;
}

const mp_value *mp_value_dict_get(const mp_value *dict, const mp_value *key)
{
	if (!dict || dict->kind != MP_VALUE_DICT || !key || !mp_value_hashable(key) || dict->map.len == 0)
		return NULL;
	uint32_t at = dict->map.slots[find_slot(dict, key, mp__value_hash(key))];
	return at ? dict->map.values[at - 1] : NULL;
}

static bool numeric(const mp_value *v)
{
	return v->kind == MP_VALUE_BOOL || v->kind == MP_VALUE_INT || v->kind == MP_VALUE_FLOAT;
}

bool mp_value_equal(const mp_value *a, const mp_value *b)
{
	if (!a || !b)
		return a == b;
	if (numeric(a) && numeric(b)) {
		int64_t i;
		if (a->kind == MP_VALUE_FLOAT && b->kind == MP_VALUE_FLOAT)
			return a->d == b->d;
		if (a->kind == MP_VALUE_FLOAT)
			return whole(a->d, &i) && i == mp_value_as_int(b);
		if (b->kind == MP_VALUE_FLOAT)
			return whole(b->d, &i) && i == mp_value_as_int(a);
		return mp_value_as_int(a) == mp_value_as_int(b);
	}
	if (a->kind != b->kind)
		return false;
	switch (a->kind) {
	case MP_VALUE_NONE:
		return true;
	case MP_VALUE_STR:
	case MP_VALUE_BYTES:
		return a->s.len == b->s.len && memcmp(a->s.data, b->s.data, a->s.len) == 0;
	case MP_VALUE_TUPLE:
	case MP_VALUE_LIST:
	case MP_VALUE_OBJECT:
		if (a->seq.len != b->seq.len || a->form != b->form)
			return false;
		for (size_t k = 0; k < a->seq.len; k++)
			if (!mp_value_equal(a->seq.items[k], b->seq.items[k]))
				return false;
		return true;
	default: /* dicts: the same keys, each with an equal value, in any order */
		if (a->map.len != b->map.len)
			return false;
		for (size_t k = 0; k < a->map.len; k++)
			if (!mp_value_equal(a->map.values[k], mp_value_dict_get(b, a->map.keys[k])))
				return false;
		return true;
	}
}

bool mp_value_hashable(const mp_value *v)
{
	if (!v || v->kind == MP_VALUE_LIST || v->kind == MP_VALUE_DICT || v->kind == MP_VALUE_OBJECT)
		return false;
	if (v->kind == MP_VALUE_TUPLE)
		for (size_t k = 0; k < v->seq.len; k++)
			if (!mp_value_hashable(v->seq.items[k]))
				return false;
	return true;
}
