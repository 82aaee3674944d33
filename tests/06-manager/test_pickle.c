/* test_pickle.c: stage 06, the pickle codec against CPython: its bytes decode to its values, ours load in it. */
#define _GNU_SOURCE
#include "py.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MP_LESSON "lessons/06-manager.md"

/*
 * Values CPython writes, one Python expression a line (bytes among the
 * scalars only: protocol 2 has no opcode for them). None holds the same
 * object twice, so that CPython's pickle of each has no BINGET, and decoding
 * then encoding it again must give CPython's protocol-4 bytes exactly.
 */
static const char scalars[] =
	"None\nTrue\nFalse\n0\n1\n-1\n255\n256\n65535\n65536\n-256\n-2**31\n2**31-1\n2**31\n-2**31-1\n"
	"2**32\n2**40\n-2**40\n2**55\n2**63-1\n-2**63\n"
	"0.0\n-0.0\n1.5\n0.1\n-2.5e-07\n1e16\n1e15\n123456789.125\n1e-05\n0.0001\n1e300\n5e-324\n"
	"float('inf')\n-float('inf')\nfloat('nan')\n"
	"''\n'a'\n\"it's\"\n'both \\' and \"'\n'tab\\there\\nnew\\\\line\\r'\n'\\x00\\x1f\\x7f\\x80\\x9f\\xa0\\xad'\n"
	"'\\xe9\\u20ac\\U0001f600'\n'x'*255\n'y'*256\n"
	"b''\nb'\\x00\\xff'\nb\"it's\"\nb'\\t\\n\\r\\\\'\nb'z'*300\n"
	"{b'k': b'v', 'k': [b'w']}\nb'v'*65535\nb'u'*65536\n[b'x'*40000, 'y'*40000, b'z'*40000]\n";

static const char containers[] =
	"()\n(1,)\n(1, 2)\n(1, 2, 3)\n(1, 2, 3, 4)\n[]\n[1]\n[1, 2]\n[[]]\n[(), ()]\n{}\n{'a': 1}\n"
	"{(1, 'b'): [None], 2.5: {}}\n{1: 'p', 2.5: 'q', None: 'r', 'k': 's', (): 't', True: 'u'}\n"
	"[[[[[[[[[[1]]]]]]]]]]\n({'d': [(1, 2.0, 'three')]},)\n"
	"list(range(1000))\nlist(range(1001))\nlist(range(2500))\n{i: -i for i in range(999)}\n"
	"{i: -i for i in range(1000)}\n{i: -i for i in range(2001)}\n"
	"'w'*70000\n['y'*40000, 'x'*40000, 'z'*40000]\n"
	/* 3 + 923 * (68 + 3) bytes: the first frame holds exactly 64 KiB before item 924, and closes there. */
	"[f'{i:068d}' for i in range(940)]\n";

/* For each expression of MP_PY_EXPRS, a line: its pickle at protocol MP_PY_ARG, in hex, a tab, its repr. */
static const char dump_script[] =
	"import os, pickle, sys\n"
	"p = int(os.environ['MP_PY_ARG'])\n"
	"for e in os.environ['MP_PY_EXPRS'].strip().split('\\n'):\n"
	"    x = eval(e)\n"
	"    sys.stdout.write(pickle.dumps(x, protocol=p).hex() + '\\t' + repr(x) + '\\n')\n";

static char *python_dumps(const char *python, const char *exprs, int protocol)
{
	char arg[8];
	snprintf(arg, sizeof arg, "%d", protocol);
	setenv("MP_PY_EXPRS", exprs, 1);
	char *out = py_run(python, dump_script, arg);
	unsetenv("MP_PY_EXPRS");
	return out;
}

/* Every line of @out decodes to a value whose repr is Python's; returns how many lines there were. */
static int check_decodes(const char *python, char *out, int protocol)
{
	char *cursor = out, *hex, *want;
	int n = 0;
	while (py_next_line(&cursor, &hex, &want)) {
		size_t len;
		unsigned char *bytes = py_unhex(hex, &len);
		mp_value *v = py_loads_ok(bytes, len, want);
		char *got = py_repr(v);
		cr_assert_str_eq(got, want, "%s's pickle (protocol %d) of %.60s decoded to %.60s "
				 "(lesson 06, section \"The data-only subset\")", python, protocol, want, got);
		free(got);
		mp_value_free(v);
		free(bytes);
		n++;
	}
	return n;
}

MP_TEST(pickle, python_pickles_of_every_protocol_decode_to_the_same_values, 3, "The data-only subset")
{
	struct pythons py;
	py_find(&py);
	for (int protocol = 2; protocol <= 5; protocol++) {
		/* Protocol 2 has no opcode for bytes: CPython writes a call to _codecs.encode (see the next test). */
		char *out = python_dumps(py.path[0], protocol == 2 ? containers : scalars, protocol);
		check_decodes(py.path[0], out, protocol);
		free(out);
		if (protocol > 2) {
			out = python_dumps(py.path[0], containers, protocol);
			check_decodes(py.path[0], out, protocol);
			free(out);
		}
	}
}

MP_TEST(pickle, bytes_at_protocol_2_are_a_call_and_are_refused, 2, "Why pickle is dangerous")
{
	struct pythons py;
	py_find(&py);
	char *out = python_dumps(py.path[0], "b'abc'\n", 2);
	size_t len;
	unsigned char *bytes = py_unhex(out, &len);
	mp_value *v = NULL;
	mp_pickle_error err = { .message = "" };
	int rc = mp_pickle_loads(bytes, len, &v, NULL, &err);
	mp_expect_status(rc, -EPERM);
	cr_assert(v == NULL, "a refused pickle must leave *out untouched");
	cr_assert(err.code == -EPERM && err.opcode == 'c' && strstr(err.message, "GLOBAL") &&
			  strstr(err.message, "_codecs encode"),
		  "the error must name GLOBAL and what it imports ('_codecs encode'), got code %s, opcode %d: \"%s\"",
		  mp_err_name(err.code), err.opcode, err.message);
	free(bytes);
	free(out);
}

MP_TEST(pickle, every_python_on_the_machine_is_understood, 2, "Python beside C")
{
	/* python3 is every other test's peer; this one is for pyenv's 3.12 and 3.13. */
	struct pythons py;
	py_find(&py);
	if (py.n == 1)
		cr_skip_test("no pyenv Python 3.12 or 3.13 under ~/.pyenv/versions: only python3 (%s) is tested, "
			     "by the other tests", py.version[0]);
	for (int i = 1; i < py.n; i++) {
		int checked = 0;
		for (int protocol = 2; protocol <= 5; protocol++) {
			char *out = python_dumps(py.path[i], protocol == 2 || protocol == 4 ? containers : scalars, protocol);
			checked += check_decodes(py.path[i], out, protocol);
			free(out);
		}
		cr_assert(checked > 0, "%s wrote nothing", py.path[i]);
	}
}

MP_TEST(pickle, decoding_then_encoding_gives_cpython_protocol_4_bytes, 3, "Writing what CPython writes")
{
	struct pythons py;
	py_find(&py);
	for (int k = 0; k < 2; k++) {
		char *out = python_dumps(py.path[0], k ? containers : scalars, 4);
		char *cursor = out, *hex, *want;
		while (py_next_line(&cursor, &hex, &want)) {
			size_t len, ours_len;
			unsigned char *bytes = py_unhex(hex, &len);
			mp_value *v = py_loads_ok(bytes, len, want);
			unsigned char *ours = py_dumps_ok(v, &ours_len);
			if (ours_len != len || memcmp(ours, bytes, len) != 0) {
				size_t at = 0;
				while (at < len && at < ours_len && ours[at] == bytes[at])
					at++;
				cr_assert_fail("our pickle of %.60s differs from CPython's protocol 4 at byte %zu of %zu "
					       "(ours is %zu bytes) (lesson 06, section \"Writing what CPython writes\")",
					       want, at, len, ours_len);
			}
			free(ours);
			mp_value_free(v);
			free(bytes);
		}
		free(out);
	}
}

/* For each line "HEX\tEXPR" of the file MP_PY_ARG: "1" if pickle.loads(HEX) == eval(EXPR), a tab, its repr. */
static const char load_script[] =
	"import os, pickle, sys\n"
	"for line in open(os.environ['MP_PY_ARG']):\n"
	"    h, e = line.rstrip('\\n').split('\\t', 1)\n"
	"    x = pickle.loads(bytes.fromhex(h))\n"
	"    want = eval(e)\n"
	"    same = x == want or (x != x and want != want)\n"
	"    sys.stdout.write(('1' if same and type(x) is type(want) else '0') + '\\t' + repr(x) + '\\n')\n";

struct made {
	mp_value *v;
	const char *expr; /* the same value in Python */
};

/* Values made in C, each with the Python expression it must load as. */
static int make_values(struct made *m)
{
	int n = 0;
	m[n++] = (struct made){ mp_value_none(), "None" };
	m[n++] = (struct made){ mp_value_bool(true), "True" };
	m[n++] = (struct made){ mp_value_int(-7), "-7" };
	m[n++] = (struct made){ mp_value_int(INT64_MIN), "-2**63" };
	m[n++] = (struct made){ mp_value_int(INT64_MAX), "2**63-1" };
	m[n++] = (struct made){ mp_value_int((int64_t)1 << 31), "2**31" };
	m[n++] = (struct made){ mp_value_float(0.1), "0.1" };
	m[n++] = (struct made){ mp_value_float(-HUGE_VAL), "-float('inf')" };
	m[n++] = (struct made){ mp_value_float(NAN), "float('nan')" };
	m[n++] = (struct made){ mp_value_str("caf\xc3\xa9 \xf0\x9f\x98\x80"), "'caf\\xe9 \\U0001f600'" };
	m[n++] = (struct made){ mp_value_strn("a\0b", 3), "'a\\x00b'" };
	m[n++] = (struct made){ mp_value_bytes("\x00\xff", 2), "b'\\x00\\xff'" };
	m[n++] = (struct made){ mp_value_tuple_of(0), "()" };
	m[n++] = (struct made){ mp_value_tuple_of(1, mp_value_int(1)), "(1,)" };
	m[n++] = (struct made){ mp_value_tuple_of(4, mp_value_int(1), mp_value_str("b"), mp_value_none(),
						 mp_value_list_of(0)),
				"(1, 'b', None, [])" };
	m[n++] = (struct made){ mp_value_list_of(3, mp_value_float(1.5), mp_value_bytes("", 0),
						mp_value_list_of(1, mp_value_bool(false))),
				"[1.5, b'', [False]]" };
	mp_value *d = mp_value_dict_new();
	mp_value_dict_set(d, mp_value_str("k"), mp_value_int(1));
	mp_value_dict_set(d, mp_value_tuple_of(2, mp_value_int(1), mp_value_int(2)), mp_value_list_of(0));
	mp_value_dict_set(d, mp_value_float(2.0), mp_value_str("two"));
	mp_value_dict_set(d, mp_value_int(2), mp_value_str("still two")); /* 2 == 2.0: the same key */
	m[n++] = (struct made){ d, "{'k': 1, (1, 2): [], 2.0: 'still two'}" };
	mp_value *big = mp_value_list_of(0);
	for (int i = 0; i < 1500; i++)
		mp_value_list_append(big, mp_value_int(i * 1000003));
	m[n++] = (struct made){ big, "[i * 1000003 for i in range(1500)]" };
	return n;
}

MP_TEST(pickle, our_pickles_load_in_python_as_equal_values, 3, "Writing what CPython writes")
{
	struct pythons py;
	py_find(&py);
	struct made m[32];
	int n = make_values(m);
	char path[64];
	snprintf(path, sizeof path, "/tmp/mp-test-pickle-%d.txt", (int)getpid());
	for (int i = 0; i < py.n; i++) {
		FILE *f = fopen(path, "w");
		cr_assert(f);
		for (int k = 0; k < n; k++) {
			cr_assert(m[k].v, "value %d (%s) could not be made", k, m[k].expr);
			size_t len;
			unsigned char *bytes = py_dumps_ok(m[k].v, &len);
			char *hex = py_hex(bytes, len);
			fprintf(f, "%s\t%s\n", hex, m[k].expr);
			free(hex);
			free(bytes);
		}
		fclose(f);
		char *out = py_run(py.path[i], load_script, path);
		char *cursor = out, *same, *repr;
		for (int k = 0; k < n; k++) {
			cr_assert(py_next_line(&cursor, &same, &repr), "%s answered for %d values of %d", py.path[i], k, n);
			char *ours = py_repr(m[k].v);
			cr_assert_str_eq(same, "1", "%s loaded our pickle of %s as %.80s, not equal "
					 "(lesson 06, section \"Writing what CPython writes\")", py.path[i], m[k].expr, repr);
			cr_assert_str_eq(ours, repr, "our repr of %s is %.80s, Python's %.80s (lesson 06, section \"Values in C\")",
					 m[k].expr, ours, repr);
			free(ours);
		}
		free(out);
	}
	unlink(path);
	for (int k = 0; k < n; k++)
		mp_value_free(m[k].v);
}

MP_TEST(pickle, values_round_trip_through_our_own_codec, 2, "Values in C")
{
	struct made m[32];
	int n = make_values(m);
	for (int k = 0; k < n; k++) {
		size_t len;
		unsigned char *bytes = py_dumps_ok(m[k].v, &len);
		mp_value *back = py_loads_ok(bytes, len, m[k].expr);
		char *a = py_repr(m[k].v), *b = py_repr(back);
		cr_assert_str_eq(a, b, "%s came back as %.80s", a, b);
		bool nan = mp_value_kind_of(back) == MP_VALUE_FLOAT && isnan(mp_value_as_float(back));
		cr_assert(nan || mp_value_equal(m[k].v, back), "%s came back unequal", a);
		free(a);
		free(b);
		mp_value_free(back);
		free(bytes);
		mp_value_free(m[k].v);
	}
}

/* Decodes Python's protocol-4 pickle of @expr. */
static mp_value *from_python(const char *python, const char *expr)
{
	char exprs[256];
	snprintf(exprs, sizeof exprs, "%s\n", expr);
	char *out = python_dumps(python, exprs, 4);
	size_t len;
	unsigned char *bytes = py_unhex(out, &len);
	mp_value *v = py_loads_ok(bytes, len, expr);
	free(bytes);
	free(out);
	return v;
}

MP_TEST(pickle, accessors_and_equality_see_what_python_sees, 2, "Values in C")
{
	struct pythons py;
	py_find(&py);
	mp_value *v = from_python(py.path[0], "(1, 1.0, True, 'a', b'a', [1, 2], (1, 2), {'x': [None], 2: 3.5})");
	cr_assert_eq(mp_value_kind_of(v), MP_VALUE_TUPLE);
	cr_assert_eq(mp_value_len(v), 8);
	const mp_value *one = mp_value_item(v, 0), *onef = mp_value_item(v, 1), *t = mp_value_item(v, 2);
	cr_assert(mp_value_kind_of(one) == MP_VALUE_INT && mp_value_as_int(one) == 1);
	cr_assert(mp_value_kind_of(onef) == MP_VALUE_FLOAT && mp_value_as_float(onef) == 1.0);
	cr_assert(mp_value_kind_of(t) == MP_VALUE_BOOL && mp_value_as_bool(t));
	cr_assert(mp_value_equal(one, onef) && mp_value_equal(one, t), "1 == 1.0 == True, as in Python");
	cr_assert(!mp_value_equal(mp_value_item(v, 3), mp_value_item(v, 4)), "'a' != b'a'");
	cr_assert(!mp_value_equal(mp_value_item(v, 5), mp_value_item(v, 6)), "[1, 2] != (1, 2)");
	size_t len;
	const char *s = mp_value_data(mp_value_item(v, 3), &len);
	cr_assert(s && len == 1 && s[0] == 'a' && s[1] == '\0');
	const mp_value *d = mp_value_item(v, 7);
	mp_value *key = mp_value_float(2.0);
	const mp_value *three = mp_value_dict_get(d, key);
	cr_assert(three && mp_value_as_float(three) == 3.5, "d[2.0] finds the key 2");
	const mp_value *k0, *v0;
	cr_assert(mp_value_dict_pair(d, 0, &k0, &v0) == 0 && mp_value_len(k0) == 1 && mp_value_len(v0) == 1);
	cr_assert(mp_value_dict_pair(d, 2, &k0, &v0) == -EINVAL);
	cr_assert(!mp_value_hashable(mp_value_item(v, 5)) && mp_value_hashable(mp_value_item(v, 6)));
	mp_value *copy = mp_value_copy(v);
	cr_assert(mp_value_equal(copy, v));
	cr_assert(mp_value_dict_set(copy, mp_value_list_of(0), mp_value_none()) == -EINVAL,
		  "a list cannot be a key: -EINVAL, and both given values freed");
	mp_value_free(copy);
	mp_value_free(key);
	mp_value_free(v);
}

MP_TEST(pickle, integers_of_every_size_cross_both_ways, 3, "Integers of every size")
{
	struct pythons py;
	py_find(&py);
	static const int64_t ints[] = { 0, 1, 127, 128, 255, 256, 32767, 32768, 65535, 65536, -1, -128, -129, -255,
					-256, -32768, -65536, INT32_MAX, INT32_MIN, (int64_t)INT32_MAX + 1,
					(int64_t)INT32_MIN - 1, (int64_t)1 << 39, -((int64_t)1 << 39),
					((int64_t)1 << 39) - 1, -((int64_t)1 << 39) - 1, (int64_t)1 << 47,
					((int64_t)1 << 55) - 1, (int64_t)1 << 55, -((int64_t)1 << 55) - 1,
					INT64_MAX, INT64_MIN, INT64_MIN + 1 };
	char exprs[2048] = "";
	for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
		snprintf(exprs + strlen(exprs), sizeof exprs - strlen(exprs), "%lld\n", (long long)ints[i]);
	char *out = python_dumps(py.path[0], exprs, 4);
	char *cursor = out, *hex, *want;
	for (size_t i = 0; py_next_line(&cursor, &hex, &want); i++) {
		size_t len, ours_len;
		unsigned char *bytes = py_unhex(hex, &len);
		mp_value *v = py_loads_ok(bytes, len, want);
		cr_assert(mp_value_kind_of(v) == MP_VALUE_INT && mp_value_as_int(v) == ints[i],
			  "CPython's pickle of %s decoded to %lld (lesson 06, section \"Integers of every size\")", want,
			  (long long)mp_value_as_int(v));
		mp_value *mine = mp_value_int(ints[i]);
		unsigned char *ours = py_dumps_ok(mine, &ours_len);
		cr_assert(ours_len == len && memcmp(ours, bytes, len) == 0,
			  "our pickle of %s is not CPython's: %s is the opcode and length to use "
			  "(lesson 06, section \"Integers of every size\")", want,
			  mp_pickle_opcode_name(bytes[2]) ? mp_pickle_opcode_name(bytes[2]) : "?");
		free(ours);
		mp_value_free(mine);
		mp_value_free(v);
		free(bytes);
	}
	free(out);
}

MP_TEST(pickle, integers_beyond_64_bits_are_refused_with_erange, 2, "Integers of every size")
{
	struct pythons py;
	py_find(&py);
	char *out = python_dumps(py.path[0], "2**63\n-2**63-1\n10**30\n-10**400\n[1, 2**64]\n", 4);
	char *cursor = out, *hex, *want;
	while (py_next_line(&cursor, &hex, &want)) {
		size_t len;
		unsigned char *bytes = py_unhex(hex, &len);
		mp_value *v = NULL;
		mp_pickle_error err = { .message = "" };
		int rc = mp_pickle_loads(bytes, len, &v, NULL, &err);
		cr_assert(rc == -ERANGE && v == NULL, "%s decoded with %s (%s): an int beyond 64 bits is -ERANGE "
			  "(lesson 06, section \"Integers of every size\")", want, mp_err_name(rc), err.message);
		cr_assert(strncmp(err.message, "LONG", 4) == 0, "the message names LONG1 or LONG4: \"%s\"", err.message);
		free(bytes);
	}
	free(out);
	/* Longer than needed, but within 64 bits: as int.from_bytes() reads it. */
	static const struct {
		unsigned char bytes[16];
		size_t len;
		int64_t want;
	} wide[] = {
		{ { 0x80, 4, 0x8a, 0 }, 4, 0 },
		{ { 0x80, 4, 0x8a, 9, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, 13, -1 },
		{ { 0x80, 4, 0x8a, 10, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0 }, 14, 1 },
		{ { 0x80, 4, 0x8a, 2, 0xff, 0x7f }, 6, 32767 },
		{ { 0x80, 4, 0x8a, 1, 0x80 }, 5, -128 },
		{ { 0x80, 4, 0x8b, 3, 0, 0, 0, 0x00, 0x00, 0x80 }, 10, -(1 << 23) },
	};
	for (size_t i = 0; i < sizeof wide / sizeof wide[0]; i++) {
		unsigned char buf[20];
		memcpy(buf, wide[i].bytes, wide[i].len);
		buf[wide[i].len] = '.';
		mp_value *v = py_loads_ok(buf, wide[i].len + 1, "a LONG1 or LONG4");
		cr_assert(mp_value_as_int(v) == wide[i].want, "case %zu: %lld, expected %lld", i,
			  (long long)mp_value_as_int(v), (long long)wide[i].want);
		mp_value_free(v);
	}
	/* Nine bytes whose top byte is not the sign of the eighth: 2**63, beyond. */
	static const unsigned char over[] = { 0x80, 4, 0x8a, 9, 0, 0, 0, 0, 0, 0, 0, 0x80, 0, '.' };
	mp_value *v = NULL;
	mp_expect_status(mp_pickle_loads(over, sizeof over, &v, NULL, NULL), -ERANGE);
}

MP_TEST(pickle, repr_is_python_repr, 2, "Values in C")
{
	struct pythons py;
	py_find(&py);
	/* Floats and strings are where a printer goes wrong: Python's repr of each, against ours. */
	static const char tricky[] =
		"[0.1 + 0.2, 1/3, 2.0**60, 2.0**53 + 2, 1e22, 1e-7, 9.999999999999999e15, 1e16 - 2, 0.5e-4, -1e-300]\n"
		"['\\'', '\"', '\\'\"', '\\\\', '\\x07\\x08\\x0b\\x0c\\x1b', '\\u0100\\u0394\\u0800\\u4e2d']\n"
		"[b'\\'', b'\"', b'\\'\"', b'\\x7f\\x80\\xfe']\n"
		"{(): (((),),), '': [[]], b'': {1: {}}}\n";
	char *out = python_dumps(py.path[0], tricky, 4);
	check_decodes(py.path[0], out, 4);
	free(out);
}

MP_TEST(pickle, accessors_answer_plainly_for_the_wrong_kind, 2, "Values in C")
{
	/* (1, 'a', [], {}, None, 2.5, True), decoded: the accessors asked of each kind in turn. */
	static const unsigned char bytes[] = { 0x80, 4, '(', 'K', 1, 0x8c, 1, 'a', ']', '}', 'N', 'G', 0x40, 0x04, 0, 0, 0, 0, 0, 0, 0x88, 't', '.' };
	mp_value *t = py_loads_ok(bytes, sizeof bytes, "(1, 'a', [], {}, None, 2.5, True)");
	const mp_value *one = mp_value_item(t, 0), *a = mp_value_item(t, 1), *list = mp_value_item(t, 2),
		       *dict = mp_value_item(t, 3), *none = mp_value_item(t, 4), *f = mp_value_item(t, 5),
		       *yes = mp_value_item(t, 6);
	cr_assert(mp_value_len(t) == 7 && mp_value_item(t, 7) == NULL, "a 7-tuple has no item 7");
	cr_assert_str_eq(mp_value_kind_name(mp_value_kind_of(t)), "tuple");
	cr_assert_str_eq(mp_value_kind_name(mp_value_kind_of(none)), "NoneType");
	cr_assert_str_eq(mp_value_kind_name(mp_value_kind_of(dict)), "dict");
	cr_assert_str_eq(mp_value_kind_name((mp_value_kind)99), "?");
	cr_assert(!mp_value_as_bool(one) && mp_value_as_bool(yes) && !mp_value_as_bool(NULL));
	cr_assert(mp_value_as_int(a) == 0 && mp_value_as_int(yes) == 1 && mp_value_as_int(f) == 0 && mp_value_as_int(NULL) == 0);
	cr_assert(mp_value_as_float(one) == 1.0 && mp_value_as_float(f) == 2.5 && mp_value_as_float(a) == 0);
	size_t len = 99;
	cr_assert(mp_value_data(one, &len) == NULL && len == 0, "an int has no bytes");
	cr_assert(mp_value_data(NULL, NULL) == NULL);
	cr_assert(mp_value_len(one) == 0 && mp_value_len(none) == 0 && mp_value_len(NULL) == 0 && mp_value_len(a) == 1);
	cr_assert(mp_value_item(a, 0) == NULL && mp_value_item(dict, 0) == NULL && mp_value_item(NULL, 0) == NULL);
	cr_assert(mp_value_dict_pair(list, 0, NULL, NULL) == -EINVAL && mp_value_dict_pair(NULL, 0, NULL, NULL) == -EINVAL);
	cr_assert(mp_value_dict_get(list, one) == NULL && mp_value_dict_get(dict, one) == NULL);
	cr_assert(mp_value_dict_get(dict, list) == NULL, "a list is never a key, so never found");
	cr_assert(mp_value_hashable(one) && mp_value_hashable(t) == false && !mp_value_hashable(NULL));
	cr_assert(mp_value_equal(NULL, NULL) && !mp_value_equal(one, NULL) && !mp_value_equal(NULL, one));
	cr_assert(!mp_value_equal(one, a) && !mp_value_equal(none, one) && mp_value_equal(none, none));
	cr_assert(!mp_value_equal(list, dict) && !mp_value_equal(one, f) && mp_value_equal(one, yes));
	cr_assert(mp_value_copy(NULL) == NULL);

	/* Putting into the wrong container: refused, and what was given is freed (valgrind checks). */
	mp_value *c = mp_value_copy(t);
	cr_assert(mp_value_list_append(c, mp_value_int(1)) == -EINVAL, "a tuple is not a list");
	cr_assert(mp_value_dict_set(c, mp_value_int(1), mp_value_int(2)) == -EINVAL, "a tuple is not a dict");
	mp_value *l = mp_value_list_of(0);
	cr_assert(mp_value_list_append(l, NULL) == -ENOMEM, "NULL stands for a value that could not be made");
	cr_assert(mp_value_list_append(l, l) == -EINVAL && mp_value_len(l) == 0, "a list cannot hold itself");
	mp_value *d = mp_value_dict_new();
	cr_assert(mp_value_dict_set(d, NULL, mp_value_int(1)) == -ENOMEM && mp_value_dict_set(d, mp_value_int(1), NULL) == -ENOMEM);
	cr_assert(mp_value_len(d) == 0);
	cr_assert(mp_value_tuple_of(3, mp_value_int(1), NULL, mp_value_str("x")) == NULL, "a NULL item: no tuple");
	cr_assert(mp_value_list_of(2, mp_value_int(1), NULL) == NULL, "a NULL item: no list");
	cr_assert(mp_value_str(NULL) == NULL && mp_value_str("\xff") == NULL && mp_value_strn("\xc3", 1) == NULL,
		  "not UTF-8: no str");
	mp_value *empty = mp_value_strn(NULL, 0);
	cr_assert(empty && mp_value_len(empty) == 0, "'' from no bytes");
	mp_value_free(empty);
	char *s = (char *)1;
	cr_assert(mp_value_repr(NULL, &s) == -EINVAL && s == (char *)1 && mp_value_repr(t, NULL) == -EINVAL);
	mp_value_free(d);
	mp_value_free(l);
	mp_value_free(c);
	mp_value_free(t);
}

MP_TEST(pickle, the_codec_checks_its_arguments_and_limits, 2, "Bounds: what a small input may cost")
{
	mp_value *v = (mp_value *)1;
	mp_expect_status(mp_pickle_loads("N.", 2, NULL, NULL, NULL), -EINVAL);
	mp_expect_status(mp_pickle_loads(NULL, 2, &v, NULL, NULL), -EINVAL);
	mp_expect_status(mp_pickle_loads(NULL, 0, &v, NULL, NULL), MP_EBADMSG);
	cr_assert(v == (mp_value *)1, "*out untouched on failure");
	cr_assert(mp_pickle_opcode_name(-1) == NULL && mp_pickle_opcode_name(256) == NULL);
	cr_assert_str_eq(mp_pickle_opcode_name(0x95), "FRAME");
	/* MARK and TUPLE with nothing between, the first opcodes of all: (), as in Python (found by fuzz_pickle). */
	v = py_loads_ok("(t.", 3, "MARK TUPLE STOP");
	cr_assert(mp_value_kind_of(v) == MP_VALUE_TUPLE && mp_value_len(v) == 0, "MARK TUPLE is the empty tuple");
	mp_value_free(v);
	/* A memo limit of 2: indices 0 and 1, not 2. */
	mp_pickle_limits memo2 = { .max_memo = 2 };
	static const unsigned char puts[] = { 0x80, 4, 'N', 0x94, 0x94, 0x94, '.' };
	mp_expect_status(mp_pickle_loads(puts, sizeof puts, &v, &memo2, NULL), -E2BIG);
	mp_expect_status(mp_pickle_loads(puts, sizeof puts - 2, &v, &memo2, NULL), MP_EBADMSG); /* no STOP */
	static const unsigned char two[] = { 0x80, 4, 'N', 0x94, 0x94, '.' };
	mp_expect_status(mp_pickle_loads(two, sizeof two, &v, &memo2, NULL), 0);
	mp_value_free(v);

	void *out = (void *)1;
	size_t len = 7;
	mp_value *none = mp_value_none();
	mp_expect_status(mp_pickle_dumps(NULL, &out, &len), -EINVAL);
	mp_expect_status(mp_pickle_dumps(none, NULL, &len), -EINVAL);
	mp_expect_status(mp_pickle_dumps(none, &out, NULL), -EINVAL);
	cr_assert(out == (void *)1 && len == 7, "left untouched on failure");
	/* 200 lists deep is what the decoder accepts by default; 201 the encoder refuses. */
	for (int depth = 200; depth <= 201; depth++) {
		mp_value *deep = mp_value_int(1);
		for (int k = 0; k < depth; k++)
			deep = mp_value_list_of(1, deep);
		int rc = mp_pickle_dumps(deep, &out, &len);
		if (depth == 200) {
			mp_expect_status(rc, 0);
			mp_value *back = py_loads_ok(out, len, "lists 200 deep");
			cr_assert(mp_value_equal(back, deep));
			mp_value_free(back);
			free(out);
			out = (void *)1;
		} else {
			mp_expect_status(rc, -E2BIG);
		}
		mp_value_free(deep);
	}
	mp_value_free(none);
}
