/* test_objects.c: stage 06, objects a pickle names (exceptions, a manager's Token): described, never made. */
#define _GNU_SOURCE
#include "py.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MP_LESSON "lessons/06-manager.md"

static const mp_pickle_limits describing = { .describe_objects = true };

/*
 * Objects CPython pickles by naming a class: what a manager's replies carry.
 * For each, Python writes its pickle and, as the oracle, the description
 * its own pickler works from (the callable, the arguments, the state), in
 * the notation of mp_value_repr(), after 's' where the pickle holds an
 * object twice (a BINGET), else 'o'.
 */
static const char objects[] =
	"KeyError('missing')\nStopIteration()\nqueue.Empty()\nqueue.Full()\nIndexError('list index out of range')\n"
	"AttributeError('no y')\nImportError('no m', name='m')\nValueError(1, 2.5, None)\n"
	"multiprocessing.managers.Token('dict', ('127.0.0.1', 50000), '7f00deadbeef')\n"
	"datetime.date(2026, 12, 7)\ncomplex(1, 2)\nbytearray(b'ab')\n"
	"[KeyError('a'), {'e': (StopIteration(),)}]\n";

static const char describe_script[] =
	"import copyreg, datetime, multiprocessing.managers, os, pickle, pickletools, queue, sys\n"
	"def args(t):\n"
	"    return '(' + ', '.join(describe(a) for a in t) + ')'\n"
	"def describe(x):\n"
	"    if isinstance(x, (type(None), bool, int, float, str, bytes)):\n"
	"        return repr(x)\n"
	"    if type(x) is tuple:\n"
	"        return '(' + ', '.join(describe(a) for a in x) + (',)' if len(x) == 1 else ')')\n"
	"    if type(x) is list:\n"
	"        return '[' + ', '.join(describe(a) for a in x) + ']'\n"
	"    if type(x) is dict:\n"
	"        return '{' + ', '.join(describe(k) + ': ' + describe(v) for k, v in x.items()) + '}'\n"
	"    r = copyreg.dispatch_table[type(x)](x) if type(x) in copyreg.dispatch_table else x.__reduce_ex__(4)\n"
	"    f, a = r[0], r[1]\n"
	"    if f is copyreg.__newobj__:\n"
	"        s = a[0].__module__ + '.' + a[0].__qualname__ + '.__new__' + args(a[1:])\n"
	"    else:\n"
	"        s = f.__module__ + '.' + f.__qualname__ + args(a)\n"
	"    if len(r) > 2 and r[2] is not None:\n"
	"        s += '.__setstate__(' + describe(r[2]) + ')'\n"
	"    return s\n"
	"for e in os.environ['MP_PY_ARG'].strip().split('\\n'):\n"
	"    x = eval(e)\n"
	"    p = pickle.dumps(x, protocol=4)\n"
	"    shared = any(op.name.endswith('GET') for op, _, _ in pickletools.genops(p))\n"
	"    sys.stdout.write(p.hex() + '\\t' + 'os'[shared] + describe(x) + '\\n')\n";

MP_TEST(objects, python_exceptions_and_tokens_are_described_and_nothing_runs, 3, "Objects: described, never made")
{
	struct pythons py;
	py_find(&py);
	for (int i = 0; i < py.n; i++) {
		char *out = py_run(py.path[i], describe_script, objects);
		char *cursor = out, *hex, *want;
		int n = 0;
		while (py_next_line(&cursor, &hex, &want)) {
			bool shared = *want++ == 's';
			size_t len;
			unsigned char *bytes = py_unhex(hex, &len);
			mp_value *v = NULL;
			mp_pickle_error err = { .message = "" };
			/* By default such a pickle is code, and refused... */
			int rc = mp_pickle_loads(bytes, len, &v, NULL, &err);
			cr_assert(rc == -EPERM && v == NULL, "%s: %s's pickle of %s decoded by default (%s): it names a class, "
				  "and only describe_objects may let it through", py.version[i], py.path[i], want, mp_err_name(rc));
			/* ...asked to, the decoder describes it, exactly as Python's own __reduce_ex__ does. */
			rc = mp_pickle_loads(bytes, len, &v, &describing, &err);
			cr_assert(rc == 0, "Python %s's pickle of %s: describe_objects should describe it, not fail with %s (\"%s\") "
				  "(lesson 06, section \"Objects: described, never made\")", py.version[i], want, mp_err_name(rc),
				  err.message);
			char *got = py_repr(v);
			cr_assert_str_eq(got, want, "Python %s's pickle was described as %s, where Python's own __reduce_ex__ says %s "
					 "(lesson 06, section \"Objects: described, never made\")", py.version[i], got, want);
			/* And it writes back as CPython wrote it (none of these holds an object twice). */
			size_t len2;
			unsigned char *again = py_dumps_ok(v, &len2);
			char *hex2 = py_hex(again, len2);
			if (!shared)
				cr_assert_str_eq(hex2, hex, "our pickle of %s is not CPython %s's bytes (lesson 06, section "
						 "\"Writing what CPython writes\")", want, py.version[i]);
			free(hex2);
			free(again);
			free(got);
			mp_value_free(v);
			free(bytes);
			n++;
		}
		cr_assert(n == 13, "Python %s described %d objects, not 13", py.version[i], n);
		cr_log_info("Python %s: 13 objects described, none made", py.version[i]);
		free(out);
	}
}

/* For each line "hex<TAB>...", Python loads the pickle and prints repr() of what it made and its type's name. */
static const char load_script[] =
	"import pickle, sys\n"
	"for line in open(sys.argv[1] if len(sys.argv) > 1 else __import__('os').environ['MP_PY_ARG']):\n"
	"    x = pickle.loads(bytes.fromhex(line.split('\\t')[0]))\n"
	"    sys.stdout.write(repr(x) + '\\t' + type(x).__module__ + '.' + type(x).__qualname__ + '\\n')\n";

MP_TEST(objects, the_objects_we_write_are_the_ones_python_makes, 3, "Objects: described, never made")
{
	struct {
		mp_value *v;
		const char *repr, *type;
	} m[] = {
		{ mp_value_object(MP_OBJECT_CALL, "builtins", "KeyError", mp_value_tuple_of(1, mp_value_str("missing")), NULL),
		  "KeyError('missing')", "builtins.KeyError" },
		{ mp_value_object(MP_OBJECT_CALL, "builtins", "StopIteration", mp_value_tuple_of(0), NULL), "StopIteration()",
		  "builtins.StopIteration" },
		{ mp_value_object(MP_OBJECT_CALL, "_queue", "Empty", mp_value_tuple_of(0), NULL), "Empty()", "_queue.Empty" },
		{ mp_value_object(MP_OBJECT_CALL, "builtins", "RuntimeError", mp_value_tuple_of(1, mp_value_str("release unlocked lock")),
				  NULL), "RuntimeError('release unlocked lock')", "builtins.RuntimeError" },
		{ mp_value_object(MP_OBJECT_NEW, "multiprocessing.managers", "Token", mp_value_tuple_of(0),
				  mp_value_tuple_of(3, mp_value_str("Iterator"),
						    mp_value_tuple_of(2, mp_value_str("127.0.0.1"), mp_value_int(5)), mp_value_str("c7"))),
		  "Token(typeid='Iterator', address=('127.0.0.1', 5), id='c7')", "multiprocessing.managers.Token" },
		{ mp_value_object(MP_OBJECT_NAME, "builtins", "list", NULL, NULL), "<class 'list'>", "builtins.type" },
		{ mp_value_tuple_of(2, mp_value_str("#ERROR"),
				    mp_value_object(MP_OBJECT_CALL, "builtins", "IndexError", mp_value_tuple_of(1, mp_value_str("i")), NULL)),
		  "('#ERROR', IndexError('i'))", "builtins.tuple" },
	};
	size_t n = sizeof m / sizeof m[0];
	struct pythons py;
	py_find(&py);
	char path[64];
	snprintf(path, sizeof path, "/tmp/mp-test-objects-%d.txt", (int)getpid());
	FILE *f = fopen(path, "w");
	cr_assert(f);
	for (size_t k = 0; k < n; k++) {
		cr_assert(m[k].v, "the value for %s could not be made", m[k].repr);
		size_t len;
		unsigned char *bytes = py_dumps_ok(m[k].v, &len);
		char *hex = py_hex(bytes, len);
		fprintf(f, "%s\t%s\n", hex, m[k].repr);
		free(hex);
		free(bytes);
	}
	fclose(f);
	for (int i = 0; i < py.n; i++) {
		char *out = py_run(py.path[i], load_script, path);
		char *cursor = out, *repr, *type;
		for (size_t k = 0; k < n; k++) {
			cr_assert(py_next_line(&cursor, &repr, &type), "Python %s answered for %zu values of %zu", py.version[i], k, n);
			cr_assert_str_eq(repr, m[k].repr, "Python %s made %s of our pickle, not %s (lesson 06, section "
					 "\"Objects: described, never made\")", py.version[i], repr, m[k].repr);
			cr_assert_str_eq(type, m[k].type, "Python %s made a %s, not a %s", py.version[i], type, m[k].type);
		}
		free(out);
	}
	unlink(path);
	for (size_t k = 0; k < n; k++)
		mp_value_free(m[k].v);
}

/* Decodes @len bytes with describe_objects, expecting @want, and *out untouched on failure. */
static void expect(const void *data, size_t len, int want, const char *what)
{
	mp_value *v = NULL;
	mp_pickle_error err = { .message = "" };
	int rc = mp_pickle_loads(data, len, &v, &describing, &err);
	cr_assert(rc == want, "%s: mp_pickle_loads(describe_objects) returned %s (\"%s\"), expected %s (lesson 06, section "
		  "\"Objects: described, never made\")", what, mp_err_name(rc), err.message, mp_err_name(want));
	cr_assert(want == 0 || v == NULL, "%s: a refused pickle must leave *out untouched", what);
	mp_value_free(v);
}

#define P(s) (const unsigned char *)(s), sizeof(s) - 1

MP_TEST(objects, only_names_calls_of_names_and_their_state_are_described, 3, "Objects: described, never made")
{
	expect(P("\x80\x04\x8c\x08" "builtins\x8c\x04list\x93."), 0, "STACK_GLOBAL of two strs");
	expect(P("\x80\x02" "cbuiltins\nKeyError\n)R."), 0, "GLOBAL, then a call with no arguments");
	expect(P("\x80\x04\x8c\x01m\x8c\x01n\x93)\x81}b."), 0, "NEWOBJ, then BUILD with a dict");
	/* What Python could run but this does not describe: calls of anything but a name, state for anything but a call. */
	expect(P("\x80\x04K\x01)R."), -ENOTSUP, "REDUCE of an int");
	expect(P("\x80\x04\x8c\x01m\x8c\x01n\x93)R)R."), -ENOTSUP, "REDUCE of what a call made");
	expect(P("\x80\x04\x8c\x01m\x8c\x01n\x93}b."), -ENOTSUP, "BUILD on a name");
	expect(P("\x80\x04)}b."), -ENOTSUP, "BUILD on a tuple");
	expect(P("\x80\x04\x8c\x01m\x8c\x01n\x93)R}b}b."), -ENOTSUP, "BUILD twice");
	expect(P("\x80\x04\x8c\x01m\x8c\x01n\x93)R\x94h\x00\x85" "b."), -ENOTSUP, "BUILD of a state that holds the call itself");
	/* Malformed. */
	expect(P("\x80\x04\x8c\x01m\x8c\x01n\x93K\x01R."), MP_EBADMSG, "REDUCE with an int for its arguments");
	expect(P("\x80\x04K\x01\x8c\x01n\x93."), MP_EBADMSG, "STACK_GLOBAL with an int for its module");
	expect(P("\x80\x04\x8c\x00\x8c\x01n\x93."), MP_EBADMSG, "STACK_GLOBAL with an empty module");
	expect(P("\x80\x04\x8c\x03m\x00m\x8c\x01n\x93."), MP_EBADMSG, "STACK_GLOBAL with a NUL in the module");
	expect(P("\x80\x04\x8c\x01n\x93."), MP_EBADMSG, "STACK_GLOBAL with one value on the stack");
	expect(P("\x80\x02" "cbuiltins\nlist"), MP_EBADMSG, "GLOBAL whose name has no end of line");
	expect(P("\x80\x02" "cbuilt\xffins\nlist\n."), MP_EBADMSG, "GLOBAL whose module is not UTF-8");
	expect(P("\x80\x04}\x8c\x01m\x8c\x01n\x93K\x01s."), MP_EBADMSG, "a name as a dict key (unhashable here)");
	expect(P("\x80\x04)R."), MP_EBADMSG, "REDUCE with one value on the stack");
	/* Still code, and still refused, described or not. */
	expect(P("\x80\x02(imod\nname\n."), -EPERM, "INST");
	expect(P("\x80\x04\x8c\x01m\x8c\x01n\x93)}\x92."), -EPERM, "NEWOBJ_EX");
	expect(P("\x80\x02\x82\x01."), -EPERM, "EXT1");
	/* Bounded: 201 names, then calls each taking the one before as its argument, pass the default depth of 200. */
	unsigned char *b = malloc(16 + 201 * 9);
	size_t n = 0;
	b[n++] = 0x80, b[n++] = 4;
	for (int k = 0; k < 201; k++) {
		memcpy(b + n, "\x8c\x01m\x8c\x01n\x93", 7);
		n += 7;
	}
	b[n++] = ')';
	for (int k = 0; k < 201; k++) {
		b[n++] = 'R';
		if (k < 200)
			b[n++] = 0x85; /* TUPLE1: this call is the next one's argument */
	}
	b[n++] = '.';
	expect(b, n, -E2BIG, "calls nested 201 deep");
	expect(b, 2 + 201 * 7 + 1 + 3, MP_EBADMSG, "the same, cut short after its first call");
	free(b);
}

MP_TEST(objects, every_prefix_of_a_described_pickle_fails_cleanly, 2, "Objects: described, never made")
{
	/* ('#ERROR', AttributeError('x')) as Python 3.12 writes it (but for its FRAME): a call, its state a dict, its args fetched from the memo. */
	static const unsigned char p[] =
		"\x80\x04\x8c\x06#ERROR\x94\x8c\x08" "builtins\x94\x8c\x0e"
		"AttributeError\x94\x93\x94\x8c\x01x\x94\x85\x94R\x94}\x94(\x8c\x04name\x94\x8c\x01y\x94\x8c\x04"
		"args\x94h\x05u\x62\x86\x94.";
	size_t len = sizeof p - 1;
	mp_value *v = NULL;
	mp_pickle_error err;
	int rc = mp_pickle_loads(p, len, &v, &describing, &err);
	cr_assert(rc == 0, "the whole pickle should decode: %s (%s)", mp_err_name(rc), rc ? err.message : "");
	char *got = py_repr(v);
	cr_assert_str_eq(got, "('#ERROR', builtins.AttributeError('x').__setstate__({'name': 'y', 'args': ('x',)}))");
	free(got);
	mp_value_free(v);
	for (size_t cut = 0; cut < len; cut++) {
		v = NULL;
		rc = mp_pickle_loads(p, cut, &v, &describing, &err);
		cr_assert(rc == MP_EBADMSG && v == NULL, "the first %zu of %zu bytes: %s, expected MP_EBADMSG (\"%s\")", cut, len,
			  mp_err_name(rc), err.message);
	}
}

MP_TEST(objects, an_object_is_made_checked_and_read_like_a_tuple, 2, "Objects: described, never made")
{
	mp_value *e = mp_value_object(MP_OBJECT_CALL, "builtins", "KeyError", mp_value_tuple_of(1, mp_value_str("k")), NULL);
	cr_assert(e && mp_value_kind_of(e) == MP_VALUE_OBJECT, "a call of builtins.KeyError('k') should be made");
	cr_assert_str_eq(mp_value_kind_name(MP_VALUE_OBJECT), "object");
	cr_assert(mp_value_object_form(e) == MP_OBJECT_CALL && mp_value_len(e) == 4, "an object has a form and 4 items");
	cr_assert_str_eq(mp_value_data(mp_value_item(e, 0), NULL), "builtins");
	cr_assert_str_eq(mp_value_data(mp_value_item(e, 1), NULL), "KeyError");
	cr_assert(mp_value_len(mp_value_item(e, 2)) == 1 && mp_value_kind_of(mp_value_item(e, 3)) == MP_VALUE_NONE,
		  "item 2 is the arguments, item 3 the state (None for none)");
	cr_assert(mp_value_item(e, 4) == NULL, "an object has no fifth item");
	cr_assert(!mp_value_hashable(e), "an object's hash only Python knows: it is no dict key here");
	mp_value *d = mp_value_dict_new();
	cr_assert(mp_value_dict_set(d, mp_value_copy(e), mp_value_none()) < 0, "an object cannot be a dict key");
	mp_value_free(d);
	mp_value *c = mp_value_copy(e);
	cr_assert(mp_value_equal(c, e) && mp_value_object_form(c) == MP_OBJECT_CALL, "a copy is equal, form and all");
	/* Through the codec and back, described: the same object. */
	size_t len;
	unsigned char *bytes = py_dumps_ok(e, &len);
	mp_value *back = NULL;
	mp_pickle_error err;
	cr_assert(mp_pickle_loads(bytes, len, &back, &describing, &err) == 0, "our own pickle of an object: %s", err.message);
	cr_assert(mp_value_equal(back, e), "builtins.KeyError('k') should come back from our own codec equal to itself");
	mp_value_free(back);
	free(bytes);
	mp_value *other = mp_value_object(MP_OBJECT_NEW, "builtins", "KeyError", mp_value_tuple_of(1, mp_value_str("k")), NULL);
	cr_assert(!mp_value_equal(other, e), "made by __new__ or by a call: not the same object");
	mp_value *t = mp_value_tuple_of(4, mp_value_str("builtins"), mp_value_str("KeyError"),
					mp_value_tuple_of(1, mp_value_str("k")), mp_value_none());
	cr_assert(!mp_value_equal(t, e), "a tuple of the same items is not the object");
	mp_value_free(t);
	mp_value_free(other);
	mp_value_free(c);
	mp_value_free(e);

	/* The arguments are taken whatever happens: valgrind sees any of them leak. */
	cr_assert(!mp_value_object(MP_OBJECT_CALL, NULL, "n", mp_value_tuple_of(0), NULL), "no module");
	cr_assert(!mp_value_object(MP_OBJECT_CALL, "m", "", mp_value_tuple_of(0), NULL), "an empty name");
	cr_assert(!mp_value_object(MP_OBJECT_CALL, "m", "n", mp_value_list_of(0), NULL), "a list for the arguments");
	cr_assert(!mp_value_object(MP_OBJECT_CALL, "m", "n", NULL, mp_value_int(1)), "no arguments for a call");
	cr_assert(!mp_value_object(MP_OBJECT_NAME, "m", "n", mp_value_tuple_of(0), NULL), "arguments for a name");
	cr_assert(!mp_value_object(MP_OBJECT_NAME, "m", "n", NULL, mp_value_int(1)), "a state for a name");
	cr_assert(!mp_value_object((mp_object_form)7, "m", "n", mp_value_tuple_of(0), NULL), "no such form");
	cr_assert(!mp_value_object(MP_OBJECT_CALL, "m", "\xff", mp_value_tuple_of(0), NULL), "a name that is not UTF-8");
	cr_assert(mp_value_object_form(NULL) == MP_OBJECT_NAME && mp_value_object_form(mp_value_item(NULL, 0)) == MP_OBJECT_NAME);

	char *r = NULL;
	mp_value *named = mp_value_object(MP_OBJECT_NAME, "builtins", "list", NULL, NULL);
	cr_assert(mp_value_repr(named, &r) == 0);
	cr_assert_str_eq(r, "builtins.list", "a name's repr is its dotted name");
	free(r);
	mp_value_free(named);
}
