/* repr.c: Python's repr() of a value, written into a growing buffer. */
#include "value_internal.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A growing string; a failed append sets failed and every later one does nothing. */
struct out {
	char *buf;
	size_t len, cap;
	bool failed;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->failed)
		return;
	if (o->len + n + 1 > o->cap) {
		size_t cap = o->cap ? o->cap : 64;
		while (o->len + n + 1 > cap)
			cap *= 2;
		char *p = realloc(o->buf, cap);
		if (!p) {
			o->failed = true;
			return;
		}
		o->buf = p;
		o->cap = cap;
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
	o->buf[o->len] = '\0';
}

static void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

static void printf_(struct out *o, const char *fmt, ...)
{
	char tmp[64];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	put(o, tmp, (size_t)n);
}

/*
 * Python's repr of a float: the fewest digits that read back as the same
 * double, in positional notation for exponents from -4 to 15 and scientific
 * notation beyond ("1e+16", "1e-05"), a whole number ending in ".0".
 */
static void put_float(struct out *o, double d)
{
	if (isnan(d)) {
		puts_(o, "nan");
		return;
	}
	if (isinf(d)) {
		puts_(o, d < 0 ? "-inf" : "inf");
		return;
	}
	char sci[40];
	for (int precision = 1; precision <= 17; precision++) {
		snprintf(sci, sizeof sci, "%.*e", precision - 1, d);
		if (strtod(sci, NULL) == d)
			break;
	}
	/* sci is "-D.DDDDe+XX": split it into sign, digits and exponent. */
	char digits[20];
	size_t n = 0;
	const char *p = sci;
	bool negative = *p == '-';
	if (negative)
		p++;
	for (; *p != 'e'; p++)
		if (*p != '.')
			digits[n++] = *p;
	int exp10 = atoi(p + 1); /* the fewest digits never end in 0: one fewer would have read back too */
	digits[n] = '\0';
	if (negative)
		puts_(o, "-");
	if (exp10 < -4 || exp10 >= 16) {
		put(o, digits, 1);
		if (n > 1) {
			puts_(o, ".");
			put(o, digits + 1, n - 1);
		}
		printf_(o, "e%c%02d", exp10 < 0 ? '-' : '+', abs(exp10));
	} else if (exp10 < 0) {
		puts_(o, "0.");
		for (int k = -1; k > exp10; k--)
			puts_(o, "0");
		put(o, digits, n);
	} else {
		size_t whole = (size_t)exp10 + 1;
		for (size_t k = 0; k < whole; k++)
			put(o, k < n ? &digits[k] : "0", 1);
		puts_(o, ".");
		if (n > whole)
			put(o, digits + whole, n - whole);
		else
			puts_(o, "0");
	}
}

/* The code point at s[*i], of UTF-8 already checked; moves *i past it. */
static uint32_t next_code_point(const unsigned char *s, size_t *i)
{
	unsigned c = s[(*i)++];
	if (c < 0x80)
		return c;
	size_t n = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : 1;
	uint32_t cp = c & (0x3f >> n);
	while (n--)
		cp = cp << 6 | (s[(*i)++] & 0x3f);
	return cp;
}

/*
 * A str or bytes between quotes, as Python writes it: single quotes, unless
 * the text holds a single quote and no double quote.
 */
static void put_text(struct out *o, const mp_value *v)
{
	const unsigned char *s = (const unsigned char *)v->s.data;
	bool bytes = v->kind == MP_VALUE_BYTES;
	bool single = memchr(s, '\'', v->s.len) != NULL, dbl = memchr(s, '"', v->s.len) != NULL;
	char quote = single && !dbl ? '"' : '\'';
	if (bytes)
		puts_(o, "b");
	put(o, &quote, 1);
	for (size_t i = 0; i < v->s.len;) {
		size_t start = i;
		uint32_t c = bytes ? s[i++] : next_code_point(s, &i);
		if (c == (uint32_t)quote || c == '\\')
			printf_(o, "\\%c", (int)c);
		else if (c == '\t')
			puts_(o, "\\t");
		else if (c == '\n')
			puts_(o, "\\n");
		else if (c == '\r')
			puts_(o, "\\r");
		else if (c < 0x20 || c == 0x7f || (bytes && c >= 0x80) || (c >= 0x80 && c <= 0xa0) || c == 0xad)
			printf_(o, "\\x%02x", (unsigned)c);
		else
			put(o, (const char *)s + start, i - start);
	}
	put(o, &quote, 1);
}

static void put_value(struct out *o, const mp_value *v);

/* The items of @v, a tuple, list or object, with commas between: 1, 2, 3. */
static void put_items(struct out *o, const mp_value *v)
{
	for (size_t k = 0; k < v->seq.len; k++) {
		if (k)
			puts_(o, ", ");
		put_value(o, v->seq.items[k]);
	}
}

/* An object as the code that would make it: module.name(args), module.name.__new__(args), then its state. */
static void put_object(struct out *o, const mp_value *v)
{
	const mp_value *module = v->seq.items[0], *name = v->seq.items[1];
	const mp_value *args = v->seq.items[2], *state = v->seq.items[3];
	put(o, module->s.data, module->s.len);
	puts_(o, ".");
	put(o, name->s.data, name->s.len);
	if (v->form == MP_OBJECT_NAME)
		return;
	if (v->form == MP_OBJECT_NEW)
		puts_(o, ".__new__");
	puts_(o, "(");
	put_items(o, args); /* as in a call: (1) for one, not (1,) */
	puts_(o, ")");
	if (state->kind != MP_VALUE_NONE) {
		puts_(o, ".__setstate__(");
		put_value(o, state);
		puts_(o, ")");
	}
}

static void put_value(struct out *o, const mp_value *v)
{
	switch (v->kind) {
	case MP_VALUE_NONE:
		puts_(o, "None");
		break;
	case MP_VALUE_BOOL:
		puts_(o, v->b ? "True" : "False");
		break;
	case MP_VALUE_INT:
		printf_(o, "%lld", (long long)v->i);
		break;
	case MP_VALUE_FLOAT:
		put_float(o, v->d);
		break;
	case MP_VALUE_STR:
	case MP_VALUE_BYTES:
		put_text(o, v);
		break;
	case MP_VALUE_TUPLE:
	case MP_VALUE_LIST:
		puts_(o, v->kind == MP_VALUE_TUPLE ? "(" : "[");
		put_items(o, v);
		if (v->kind == MP_VALUE_TUPLE && v->seq.len == 1)
			puts_(o, ","); /* (1,) is a tuple, (1) is not */
		puts_(o, v->kind == MP_VALUE_TUPLE ? ")" : "]");
		break;
	case MP_VALUE_DICT:
		puts_(o, "{");
		for (size_t k = 0; k < v->map.len; k++) {
			if (k)
				puts_(o, ", ");
			put_value(o, v->map.keys[k]);
			puts_(o, ": ");
			put_value(o, v->map.values[k]);
		}
		puts_(o, "}");
		break;
	case MP_VALUE_OBJECT:
		put_object(o, v);
		break;
	}
}

int mp_value_repr(const mp_value *v, char **out)
{
	if (!v || !out)
		return -EINVAL;
	struct out o = { 0 };
	put_value(&o, v);
	if (o.failed) {
		free(o.buf);
		return -ENOMEM;
	}
	*out = o.buf;
	return 0;
}
