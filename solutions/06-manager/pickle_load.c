/* pickle_load.c: a pickle decoder that builds data and nothing else: no opcode can run code. */
#include "pickle_internal.h"
#include "value_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * A pickle is a little program for a stack machine: each opcode pushes a
 * value, or takes values off the stack and pushes what it makes of them; STOP
 * hands back the top. CPython's machine has opcodes that import a name and
 * call it, so a pickle can do anything Python can. This one has no such
 * opcodes: it can only make the values of value.h, so whatever the bytes,
 * the worst they can do is fail to decode.
 *
 * Every read goes through take(), which checks the length against what is
 * left of the input before anything is allocated; every value made is counted
 * against the limits, the memo's copies included.
 */

#define DEFAULT_DEPTH 200
#define DEFAULT_MEMO ((size_t)1 << 20)
#define DEFAULT_VALUES ((size_t)1 << 20)
#define DEFAULT_BYTES ((size_t)1 << 26) /* beyond the input's own length */
#define HIGHEST_PROTOCOL 5

/* One entry of the memo: kept sorted by index, as a pickle numbers them in order. */
struct memo_entry {
	size_t index;
	mp_value *value; /* not owned: it lives on the stack or inside a value there */
};

struct decoder {
	const unsigned char *start, *pos, *end;
	const unsigned char *op_start; /* where the opcode being run began */
	mp_pickle_limits limits;
	mp_pickle_error *err;

	mp_value **stack; /* owned */
	size_t n, cap;
	size_t *marks; /* stack heights at each open MARK */
	size_t nmarks, marks_cap;

	struct memo_entry *memo;
	size_t nmemo, memo_cap;

	/* Values a dict let go of (a key set twice) while the memo may still point at them. */
	mp_value **dropped;
	size_t ndropped, dropped_cap;

	size_t values_made, bytes_made;
	bool stopped;
};

/* Fails the decode with @code, saying why: "NAME at offset N: ...". Returns @code. */
static int fail(struct decoder *d, int code, const char *fmt, ...)
{
	if (!d->err)
		return code;
	int opcode = d->op_start < d->end ? *d->op_start : -1;
	const char *name = mp_pickle_opcode_name(opcode);
	char why[128];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	d->err->code = code;
	d->err->offset = (size_t)(d->op_start - d->start);
	d->err->opcode = opcode;
	if (opcode < 0)
		snprintf(d->err->message, sizeof d->err->message, "at offset %zu: %s", d->err->offset, why);
	else if (name)
		snprintf(d->err->message, sizeof d->err->message, "%s at offset %zu: %s", name, d->err->offset, why);
	else
		snprintf(d->err->message, sizeof d->err->message, "opcode 0x%02x at offset %zu: %s", opcode,
			 d->err->offset, why);
	return code;
}

/* The next @n bytes of input, or MP_EBADMSG if fewer are left: checked before anything is made of them. */
static int take(struct decoder *d, size_t n, const unsigned char **out)
{
	if (n > (size_t)(d->end - d->pos))
		return fail(d, MP_EBADMSG, "needs %zu bytes, only %zu are left", n, (size_t)(d->end - d->pos));
	*out = d->pos;
	d->pos += n;
	return 0;
}

/* A little-endian unsigned integer of @n bytes (1, 2, 4 or 8) from the input. */
static int take_le(struct decoder *d, size_t n, uint64_t *out)
{
	const unsigned char *p = NULL;
	int rc = take(d, n, &p);
	if (rc < 0)
		return rc;
	*out = 0;
	for (size_t k = n; k-- > 0;)
		*out = *out << 8 | p[k];
	return 0;
}

/* The height of the stack that the next pop may not go below: the last MARK's. */
static size_t fence(const struct decoder *d)
{
	return d->nmarks ? d->marks[d->nmarks - 1] : 0;
}

/* Pushes @v (taken); NULL means memory ran out. Counts it against max_values. */
static int push(struct decoder *d, mp_value *v)
{
	if (!v)
		return fail(d, -ENOMEM, "out of memory");
	if (++d->values_made > d->limits.max_values) {
		mp_value_free(v);
		return fail(d, -E2BIG, "more than %zu values: over the limit", d->limits.max_values);
	}
	if (d->n == d->cap) {
		size_t cap = d->cap ? 2 * d->cap : 16;
		mp_value **p = realloc(d->stack, cap * sizeof *p);
		if (!p) {
			mp_value_free(v);
			return fail(d, -ENOMEM, "out of memory");
		}
		d->stack = p;
		d->cap = cap;
	}
	d->stack[d->n++] = v;
	return 0;
}

/* Whether the stack holds @k values above the last MARK; else the decode fails. */
static int need(struct decoder *d, size_t k)
{
	if (d->n - fence(d) < k)
		return fail(d, MP_EBADMSG, "needs %zu value%s on the stack, has %zu", k, k == 1 ? "" : "s",
			    d->n - fence(d));
	return 0;
}

/* The stack height at the last MARK, which is closed; MP_EBADMSG if there is none. */
static int pop_mark(struct decoder *d, size_t *at)
{
	if (d->nmarks == 0)
		return fail(d, MP_EBADMSG, "no MARK before it");
	*at = d->marks[--d->nmarks];
	return 0;
}

static int push_mark(struct decoder *d)
{
	if (d->nmarks >= d->limits.max_depth)
		return fail(d, -E2BIG, "more than %zu open MARKs: over the depth limit", d->limits.max_depth);
	if (d->nmarks == d->marks_cap) {
		size_t cap = d->marks_cap ? 2 * d->marks_cap : 8;
		size_t *p = realloc(d->marks, cap * sizeof *p);
		if (!p)
			return fail(d, -ENOMEM, "out of memory");
		d->marks = p;
		d->marks_cap = cap;
	}
	d->marks[d->nmarks++] = d->n;
	return 0;
}

/* Pushes a str or bytes of the next @len bytes of input, checked against what is left first. */
static int push_text(struct decoder *d, mp_value_kind kind, uint64_t len)
{
	const unsigned char *p = NULL;
	if (len > (uint64_t)(d->end - d->pos))
		return fail(d, MP_EBADMSG, "a length of %llu, past the end of the input (%zu bytes left)",
			    (unsigned long long)len, (size_t)(d->end - d->pos));
	if (len > d->limits.max_bytes - d->bytes_made)
		return fail(d, -E2BIG, "more than %zu bytes of text: over the limit", d->limits.max_bytes);
	int rc = take(d, (size_t)len, &p);
	if (rc < 0)
		return rc;
	if (kind == MP_VALUE_STR && !mp__utf8_valid(p, (size_t)len))
		return fail(d, MP_EBADMSG, "the string is not UTF-8");
	d->bytes_made += (size_t)len;
	return push(d, kind == MP_VALUE_STR ? mp_value_strn((const char *)p, (size_t)len) : mp_value_bytes(p, (size_t)len));
}

/* Whether a container may grow to @height: max_depth bounds how deep values nest. */
static int check_height(struct decoder *d, const mp_value *v)
{
	if (v->height > d->limits.max_depth)
		return fail(d, -E2BIG, "values nested more than %zu deep: over the depth limit", d->limits.max_depth);
	return 0;
}

/*
 * The memo. MEMOIZE and BINPUT name the value on top of the stack; BINGET
 * pushes it again. In Python both places then hold one object; here a value
 * has one owner, so BINGET pushes a copy. A copy can only tell apart from
 * sharing if the original changes afterwards, which happens in a pickle of a
 * list that holds itself (a cycle): the original is marked when copied, and
 * changing it then is refused (see modify()).
 */
/* Where @index is in the memo, or where it would go: the first entry not below it. */
static size_t memo_find(const struct decoder *d, size_t index)
{
	size_t lo = 0, hi = d->nmemo;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (d->memo[mid].index < index)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int memo_put(struct decoder *d, uint64_t index)
{
	int rc = need(d, 1);
	if (rc < 0)
		return rc;
	if (index >= d->limits.max_memo)
		return fail(d, -E2BIG, "memo index %llu, beyond the limit of %zu", (unsigned long long)index,
			    d->limits.max_memo);
	size_t at = memo_find(d, (size_t)index);
	if (at < d->nmemo && d->memo[at].index == index) {
		d->memo[at].value = d->stack[d->n - 1]; /* a PUT to an index used before: the new value wins */
		return 0;
	}
	if (d->nmemo == d->memo_cap) {
		size_t cap = d->memo_cap ? 2 * d->memo_cap : 16;
		struct memo_entry *p = realloc(d->memo, cap * sizeof *p);
		if (!p)
			return fail(d, -ENOMEM, "out of memory");
		d->memo = p;
		d->memo_cap = cap;
	}
	if (at < d->nmemo)
		memmove(&d->memo[at + 1], &d->memo[at], (d->nmemo - at) * sizeof *d->memo);
	d->memo[at] = (struct memo_entry){ (size_t)index, d->stack[d->n - 1] };
	d->nmemo++;
	return 0;
}

/* How many values and bytes of text a copy of @v makes. */
static void weigh(const mp_value *v, size_t *values, size_t *bytes)
{
	(*values)++;
	if (v->kind == MP_VALUE_STR || v->kind == MP_VALUE_BYTES)
		*bytes += v->s.len;
	else if (v->kind == MP_VALUE_TUPLE || v->kind == MP_VALUE_LIST || v->kind == MP_VALUE_OBJECT)
		for (size_t k = 0; k < v->seq.len; k++)
			weigh(v->seq.items[k], values, bytes);
	else if (v->kind == MP_VALUE_DICT)
		for (size_t k = 0; k < v->map.len; k++) {
			weigh(v->map.keys[k], values, bytes);
			weigh(v->map.values[k], values, bytes);
		}
}

static int memo_get(struct decoder *d, uint64_t index)
{
	size_t at = index < d->limits.max_memo ? memo_find(d, (size_t)index) : d->nmemo;
	if (at == d->nmemo || d->memo[at].index != index)
		return fail(d, MP_EBADMSG, "memo index %llu was never set", (unsigned long long)index);
	struct memo_entry *e = &d->memo[at];
	/* The copy is counted before it is made: a few bytes of BINGET could otherwise ask for a lot. */
	size_t values = 0, bytes = 0;
	weigh(e->value, &values, &bytes);
	if (values > d->limits.max_values - d->values_made + 1 || bytes > d->limits.max_bytes - d->bytes_made)
		return fail(d, -E2BIG, "the memo's copy of %zu values and %zu bytes goes over the limits", values, bytes);
	d->values_made += values - 1; /* push() counts the last one */
	d->bytes_made += bytes;
	e->value->copied = true;
	return push(d, mp_value_copy(e->value));
}

/* @c is about to change: refused if the memo has handed out a copy of it (see above). */
static int modify(struct decoder *d, const mp_value *c)
{
	if (c->copied)
		return fail(d, -ENOTSUP, "a %s changes after the memo copied it: a %s that holds itself?",
			    mp_value_kind_name(c->kind), mp_value_kind_name(c->kind));
	return 0;
}

/* Takes the values from stack[at] to the top into the list at stack[at - 1]. */
static int append_items(struct decoder *d, size_t at)
{
	if (at <= fence(d))
		return fail(d, MP_EBADMSG, "no list below the items");
	mp_value *list = d->stack[at - 1];
	if (list->kind != MP_VALUE_LIST)
		return fail(d, MP_EBADMSG, "appends to a %s, not a list", mp_value_kind_name(list->kind));
	int rc = modify(d, list);
	for (size_t k = at; k < d->n; k++) {
		/* Each item leaves the stack as the list takes it, so a failure frees it once. */
		mp_value *item = d->stack[k];
		d->stack[k] = NULL;
		if (rc == 0 && (rc = mp_value_list_append(list, item)) < 0)
			rc = fail(d, rc, "out of memory");
		else if (rc < 0)
			mp_value_free(item);
	}
	d->n = at;
	return rc < 0 ? rc : check_height(d, list);
}

/* Takes key-value pairs from stack[at] to the top into the dict at stack[at - 1]. */
static int set_items(struct decoder *d, size_t at)
{
	if (at <= fence(d))
		return fail(d, MP_EBADMSG, "no dict below the items");
	mp_value *dict = d->stack[at - 1];
	int rc = 0;
	if (dict->kind != MP_VALUE_DICT)
		rc = fail(d, MP_EBADMSG, "sets items in a %s, not a dict", mp_value_kind_name(dict->kind));
	else if ((d->n - at) % 2)
		rc = fail(d, MP_EBADMSG, "an odd number of values: a key without its value");
	else
		rc = modify(d, dict);
	for (size_t k = at; rc == 0 && k < d->n; k += 2)
		if (!mp_value_hashable(d->stack[k]))
			rc = fail(d, MP_EBADMSG, "a %s cannot be a dict key (unhashable)", mp_value_kind_name(d->stack[k]->kind));
	for (size_t k = at; rc == 0 && k < d->n; k += 2) {
		mp_value *displaced[2];
		mp_value *key = d->stack[k], *value = d->stack[k + 1];
		d->stack[k] = d->stack[k + 1] = NULL;
		if (d->ndropped + 2 > d->dropped_cap) {
			size_t cap = d->dropped_cap ? 2 * d->dropped_cap : 8;
			mp_value **p = realloc(d->dropped, cap * sizeof *p);
			if (!p) {
				d->stack[k] = key, d->stack[k + 1] = value; /* still the stack's, freed with it */
				rc = fail(d, -ENOMEM, "out of memory");
				break;
			}
			d->dropped = p;
			d->dropped_cap = cap;
		}
		rc = mp__value_dict_put(dict, key, value, displaced);
		if (rc < 0) {
			rc = fail(d, rc, "out of memory");
			break;
		}
		for (int j = 0; j < 2; j++)
			if (displaced[j])
				d->dropped[d->ndropped++] = displaced[j];
	}
	for (size_t k = at; k < d->n; k++)
		mp_value_free(d->stack[k]); /* what a failure left behind (NULL where taken) */
	d->n = at;
	return rc < 0 ? rc : check_height(d, dict);
}

/* A tuple of the values from stack[at] to the top, in place of them. */
static int make_tuple(struct decoder *d, size_t at)
{
	/* No items (MARK TUPLE on an empty stack): no pointer into a stack that may not exist yet. */
	mp_value *t = mp_value_tuple_from(d->n > at ? d->stack + at : NULL, d->n - at); /* takes them, even on failure */
	d->n = at;
	int rc = push(d, t);
	return rc < 0 ? rc : check_height(d, t);
}

/*
 * LONG1 and LONG4: @n bytes of a little-endian two's complement integer, as
 * Python's int.from_bytes(b, "little", signed=True). Returns -ERANGE when it
 * does not fit in 64 bits.
 */
static int decode_long(const unsigned char *b, size_t n, int64_t *out)
{
	/* BEGIN SOLUTION stub: return MP_ETODO;
	 * Hint: no bytes is 0. The sign is the top bit of the last byte. Bytes
	 * beyond the eighth must all be 0x00 (or 0xff for a negative number),
	 * and the eighth's top bit must agree with the sign, else -ERANGE.
	 * Build the low 8 bytes into a uint64_t, then fill the bytes above n
	 * with 0xff if negative. Lesson 06, "Integers of every size".
	 */
	if (n == 0) {
		*out = 0;
		return 0;
	}
	bool negative = b[n - 1] & 0x80;
	for (size_t k = 8; k < n; k++)
		if (b[k] != (negative ? 0xff : 0x00))
			return -ERANGE;
	if (n >= 8 && (bool)(b[7] & 0x80) != negative)
		return -ERANGE;
	uint64_t u = 0;
	for (size_t k = 0; k < 8; k++)
		u |= (uint64_t)(k < n ? b[k] : negative ? 0xff : 0x00) << (8 * k);
	*out = (int64_t)u;
	return 0;
	/* END SOLUTION */
}

/* An integer from LONG1 or LONG4, whose length is @len. */
static int push_long(struct decoder *d, uint64_t len)
{
	const unsigned char *p = NULL;
	int64_t i;
	if (len > (uint64_t)(d->end - d->pos))
		return fail(d, MP_EBADMSG, "a length of %llu, past the end of the input", (unsigned long long)len);
	int rc = take(d, (size_t)len, &p);
	if (rc == 0 && (rc = decode_long(p, (size_t)len, &i)) == -ERANGE)
		return fail(d, -ERANGE, "an integer of %llu bytes, beyond 64 bits", (unsigned long long)len);
	return rc < 0 ? rc : push(d, mp_value_int(i));
}

/*
 * Objects, described (limits.describe_objects): a name is two strings, a call
 * is a name and a tuple, and nothing is ever looked up. What an opcode takes
 * off the stack the memo may still point at: a name that a call consumed is
 * kept aside (dropped), like a dict's displaced values, until the end.
 */

/* Keep @v, off the stack, alive until the decode ends: the memo may point at it. */
static int keep_aside(struct decoder *d, mp_value *v)
{
	if (d->ndropped == d->dropped_cap) {
		size_t cap = d->dropped_cap ? 2 * d->dropped_cap : 8;
		mp_value **p = realloc(d->dropped, cap * sizeof *p);
		if (!p) {
			mp_value_free(v); /* the decode fails here: the memo will not be read again */
			return fail(d, -ENOMEM, "out of memory");
		}
		d->dropped = p;
		d->dropped_cap = cap;
	}
	d->dropped[d->ndropped++] = v;
	return 0;
}

/* One line of GLOBAL's argument, "module\nname\n", as a str. */
static int take_line(struct decoder *d, mp_value **out)
{
	const unsigned char *nl = memchr(d->pos, '\n', (size_t)(d->end - d->pos));
	if (!nl)
		return fail(d, MP_EBADMSG, "a name without the end of its line");
	size_t len = (size_t)(nl - d->pos);
	if (len > d->limits.max_bytes - d->bytes_made)
		return fail(d, -E2BIG, "more than %zu bytes of text: over the limit", d->limits.max_bytes);
	if (!mp__utf8_valid(d->pos, len))
		return fail(d, MP_EBADMSG, "the name is not UTF-8");
	d->bytes_made += len;
	*out = mp_value_strn((const char *)d->pos, len);
	d->pos = nl + 1;
	return *out ? 0 : fail(d, -ENOMEM, "out of memory");
}

/* A name of @module and @name (str values, taken): the object of GLOBAL and STACK_GLOBAL. */
static int push_name(struct decoder *d, mp_value *module, mp_value *name)
{
	int rc;
	for (int k = 0; k < 2; k++) {
		const mp_value *s = k ? name : module;
		if (s->kind != MP_VALUE_STR || s->s.len == 0 || memchr(s->s.data, '\0', s->s.len)) {
			rc = fail(d, MP_EBADMSG, "names a class with a %s, not a str of text",
				  s->kind == MP_VALUE_STR ? "str empty or holding NUL" : mp_value_kind_name(s->kind));
			mp_value_free(module); /* after the message, which reads s */
			mp_value_free(name);
			return rc;
		}
	}
	/* The strs become the name's own items (the memo may point at them), under the kind of an object. */
	mp_value *items[4] = { module, name, mp_value_none(), mp_value_none() };
	mp_value *v = mp_value_tuple_from(items, 4);
	if (v) {
		v->kind = MP_VALUE_OBJECT;
		v->form = MP_OBJECT_NAME;
	}
	return push(d, v);
}

/* REDUCE and NEWOBJ: a name and a tuple of arguments on the stack, made into a call of that name. */
static int push_call(struct decoder *d, mp_object_form form)
{
	mp_value *name = d->stack[d->n - 2], *args = d->stack[d->n - 1];
	if (name->kind != MP_VALUE_OBJECT || name->form != MP_OBJECT_NAME)
		return fail(d, -ENOTSUP, "calls a %s: only a class or function named by GLOBAL is described",
			    mp_value_kind_name(name->kind));
	if (args->kind != MP_VALUE_TUPLE)
		return fail(d, MP_EBADMSG, "its arguments are a %s, not a tuple", mp_value_kind_name(args->kind));
	const mp_value *m = name->seq.items[0], *n = name->seq.items[1];
	if (m->s.len + n->s.len > d->limits.max_bytes - d->bytes_made)
		return fail(d, -E2BIG, "more than %zu bytes of text: over the limit", d->limits.max_bytes);
	d->bytes_made += m->s.len + n->s.len;
	d->n -= 2;
	mp_value *call = mp_value_object(form, m->s.data, n->s.data, args, NULL); /* takes args */
	int rc = keep_aside(d, name);
	if (rc < 0) {
		mp_value_free(call);
		return rc;
	}
	return (rc = push(d, call)) < 0 ? rc : check_height(d, call);
}

/* BUILD: the state on top of the stack given to the call below it. */
static int set_state(struct decoder *d)
{
	mp_value *call = d->stack[d->n - 2], *state = d->stack[d->n - 1];
	if (call->kind != MP_VALUE_OBJECT || call->form == MP_OBJECT_NAME)
		return fail(d, -ENOTSUP, "gives a state to a %s: only to an object a call made",
			    call->kind == MP_VALUE_OBJECT ? "class or function" : mp_value_kind_name(call->kind));
	if (call->seq.items[3]->kind != MP_VALUE_NONE)
		return fail(d, -ENOTSUP, "gives a state to an object that has one already");
	int rc = modify(d, call);
	if (rc < 0)
		return rc;
	mp_value_free(call->seq.items[3]); /* the None made with the call: never on the stack, so never in the memo */
	call->seq.items[3] = state;
	d->n--;
	if (state->height + 1 > call->height)
		call->height = state->height + 1;
	return check_height(d, call);
}

static int describe(struct decoder *d, int op)
{
	mp_value *module = NULL, *name = NULL;
	int rc;
	switch (op) {
	case OP_GLOBAL:
		if ((rc = take_line(d, &module)) == 0 && (rc = take_line(d, &name)) < 0)
			mp_value_free(module);
		return rc < 0 ? rc : push_name(d, module, name);
	case OP_STACK_GLOBAL:
		if ((rc = need(d, 2)) < 0)
			return rc;
		module = d->stack[d->n - 2];
		name = d->stack[d->n - 1];
		d->n -= 2;
		return push_name(d, module, name);
	case OP_REDUCE:
	case OP_NEWOBJ:
		return (rc = need(d, 2)) < 0 ? rc : push_call(d, op == OP_NEWOBJ ? MP_OBJECT_NEW : MP_OBJECT_CALL);
	default: /* OP_BUILD */
		return (rc = need(d, 2)) < 0 ? rc : set_state(d);
	}
}

/* A refused opcode: what it is, and for GLOBAL the name it would have imported. */
static int refuse(struct decoder *d, int op)
{
	bool described = op == OP_GLOBAL || op == OP_STACK_GLOBAL || op == OP_REDUCE || op == OP_NEWOBJ || op == OP_BUILD;
	if (d->limits.describe_objects && described)
		return describe(d, op);
	switch (mp__pickle_op_class(op)) {
	case OPC_CODE:
		if (op == OP_GLOBAL) {
			/* Its argument is "module\nname\n": show it, with anything unprintable as '?'. */
			char name[64];
			size_t k = 0;
			int lines = 0;
			for (const unsigned char *p = d->pos; p < d->end && lines < 2 && k + 1 < sizeof name; p++) {
				if (*p == '\n')
					lines++;
				name[k++] = *p == '\n' ? (lines == 2 ? '\0' : ' ') : *p >= 0x20 && *p < 0x7f ? (char)*p : '?';
			}
			name[k < sizeof name ? k : k - 1] = '\0';
			return fail(d, -EPERM, "names '%s', code: refused, this decoder reads data only", name);
		}
		return fail(d, -EPERM, "names or calls code: refused, this decoder reads data only");
	case OPC_OTHER:
		return fail(d, -ENOTSUP, "not data this decoder carries (see pickle.h)");
	default:
		return fail(d, MP_EBADMSG, "no such opcode");
	}
}

/* Runs the opcode @op, which starts at d->op_start; its arguments follow at d->pos. */
static int step(struct decoder *d, int op)
{
	uint64_t u;
	size_t at = 0;
	int rc = 0;
	/* BEGIN SOLUTION stub: return fail(d, MP_ETODO, "not written yet");
	 * Hint: a switch on op. Scalars push a value (push(), with take_le()
	 * for fixed-size arguments: BININT is signed, so cast through
	 * int32_t). Text and bytes: read the length, then push_text(). MARK
	 * is push_mark(); TUPLE, APPENDS and SETITEMS pop_mark(), then
	 * make_tuple(), append_items() or set_items() from there; TUPLE1-3,
	 * APPEND and SETITEM work on the top 1-3 values (check with need()).
	 * MEMOIZE is memo_put(d, d->nmemo). PROTO above 5 is -ENOTSUP; FRAME's
	 * length must not pass the end. STOP pops the result and sets
	 * d->stopped. Anything else: return refuse(d, op).
	 * Lesson 06, "The data-only subset".
	 */
	switch (op) {
	case OP_PROTO:
		if ((rc = take_le(d, 1, &u)) == 0 && u > HIGHEST_PROTOCOL)
			rc = fail(d, -ENOTSUP, "protocol %llu: this decoder reads 2 to %d", (unsigned long long)u,
				  HIGHEST_PROTOCOL);
		return rc;
	case OP_FRAME:
		/* A frame only tells a reader how much to buffer; its length must still be honest. */
		if ((rc = take_le(d, 8, &u)) == 0 && u > (uint64_t)(d->end - d->pos))
			rc = fail(d, MP_EBADMSG, "a frame of %llu bytes, past the end of the input",
				  (unsigned long long)u);
		return rc;
	case OP_STOP:
		if ((rc = need(d, 1)) == 0)
			d->stopped = true;
		return rc;
	case OP_MARK:
		return push_mark(d);
	case OP_NONE:
		return push(d, mp_value_none());
	case OP_NEWTRUE:
	case OP_NEWFALSE:
		return push(d, mp_value_bool(op == OP_NEWTRUE));
	case OP_BININT1:
	case OP_BININT2:
		return (rc = take_le(d, op == OP_BININT1 ? 1 : 2, &u)) < 0 ? rc : push(d, mp_value_int((int64_t)u));
	case OP_BININT:
		return (rc = take_le(d, 4, &u)) < 0 ? rc : push(d, mp_value_int((int32_t)(uint32_t)u));
	case OP_LONG1:
	case OP_LONG4:
		if ((rc = take_le(d, op == OP_LONG1 ? 1 : 4, &u)) < 0)
			return rc;
		if (op == OP_LONG4 && (int32_t)(uint32_t)u < 0)
			return fail(d, MP_EBADMSG, "a negative length");
		return push_long(d, u);
	case OP_BINFLOAT: {
		/* Big-endian, unlike every integer in a pickle. */
		const unsigned char *p = NULL;
		if ((rc = take(d, 8, &p)) < 0)
			return rc;
		uint64_t bits = 0;
		for (int k = 0; k < 8; k++)
			bits = bits << 8 | p[k];
		double x;
		memcpy(&x, &bits, sizeof x);
		return push(d, mp_value_float(x));
	}
	case OP_SHORT_BINUNICODE:
	case OP_BINUNICODE:
	case OP_BINUNICODE8:
		rc = take_le(d, op == OP_SHORT_BINUNICODE ? 1 : op == OP_BINUNICODE ? 4 : 8, &u);
		return rc < 0 ? rc : push_text(d, MP_VALUE_STR, u);
	case OP_SHORT_BINBYTES:
	case OP_BINBYTES:
	case OP_BINBYTES8:
		rc = take_le(d, op == OP_SHORT_BINBYTES ? 1 : op == OP_BINBYTES ? 4 : 8, &u);
		return rc < 0 ? rc : push_text(d, MP_VALUE_BYTES, u);
	case OP_EMPTY_TUPLE:
		return push(d, mp_value_tuple_from(NULL, 0));
	case OP_TUPLE1:
	case OP_TUPLE2:
	case OP_TUPLE3:
		return (rc = need(d, (size_t)(op - OP_TUPLE1 + 1))) < 0 ? rc : make_tuple(d, d->n - (size_t)(op - OP_TUPLE1 + 1));
	case OP_TUPLE:
		return (rc = pop_mark(d, &at)) < 0 ? rc : make_tuple(d, at);
	case OP_EMPTY_LIST:
		return push(d, mp_value_list_of(0));
	case OP_APPEND:
		return (rc = need(d, 2)) < 0 ? rc : append_items(d, d->n - 1);
	case OP_APPENDS:
		return (rc = pop_mark(d, &at)) < 0 ? rc : append_items(d, at);
	case OP_EMPTY_DICT:
		return push(d, mp_value_dict_new());
	case OP_SETITEM:
		return (rc = need(d, 3)) < 0 ? rc : set_items(d, d->n - 2);
	case OP_SETITEMS:
		return (rc = pop_mark(d, &at)) < 0 ? rc : set_items(d, at);
	case OP_MEMOIZE:
		return memo_put(d, d->nmemo);
	case OP_BINPUT:
	case OP_LONG_BINPUT:
		return (rc = take_le(d, op == OP_BINPUT ? 1 : 4, &u)) < 0 ? rc : memo_put(d, u);
	case OP_BINGET:
	case OP_LONG_BINGET:
		return (rc = take_le(d, op == OP_BINGET ? 1 : 4, &u)) < 0 ? rc : memo_get(d, u);
	default:
		return refuse(d, op);
	}
	/* END SOLUTION */
	(void)u, (void)at;
	return rc;
}

int mp_pickle_loads(const void *data, size_t len, mp_value **out, const mp_pickle_limits *limits,
		    mp_pickle_error *err)
{
	if (!out || (!data && len))
		return -EINVAL;
	struct decoder d = { .start = data, .pos = data, .end = (const unsigned char *)data + len, .err = err };
	if (limits)
		d.limits = *limits;
	d.limits.max_depth = d.limits.max_depth ? d.limits.max_depth : DEFAULT_DEPTH;
	d.limits.max_memo = d.limits.max_memo ? d.limits.max_memo : DEFAULT_MEMO;
	d.limits.max_values = d.limits.max_values ? d.limits.max_values : DEFAULT_VALUES;
	if (!d.limits.max_bytes) /* what the input holds is justified by the input; copies get 64 MiB more */
		d.limits.max_bytes = len > SIZE_MAX - DEFAULT_BYTES ? SIZE_MAX : len + DEFAULT_BYTES;
	if (!data)
		d.start = d.pos = d.end = (const unsigned char *)"";

	int rc = 0;
	while (rc == 0 && !d.stopped) {
		d.op_start = d.pos;
		if (d.pos == d.end)
			rc = fail(&d, MP_EBADMSG, "the input ends before STOP");
		else
			rc = step(&d, *d.pos++);
	}
	if (rc == 0) {
		*out = d.stack[--d.n]; /* STOP's value; what else is left on the stack, Python drops too */
	}
	for (size_t k = 0; k < d.n; k++)
		mp_value_free(d.stack[k]);
	for (size_t k = 0; k < d.ndropped; k++)
		mp_value_free(d.dropped[k]);
	free(d.stack);
	free(d.marks);
	free(d.memo);
	free(d.dropped);
	return rc;
}
