/* test_bounds.c: stage 06, what the decoder refuses: code, data it does not carry, malformed input, bombs. */
#define _GNU_SOURCE
#include "py.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MP_LESSON "lessons/06-manager.md"

/* Decodes @len bytes expecting @want; checks *out is untouched and the error names @opname at @offset. */
static void expect_refused(const void *data, size_t len, int want, const char *opname, long offset, const char *what,
			   const char *section)
{
	mp_value *v = NULL;
	mp_pickle_error err = { .message = "" };
	int rc = mp_pickle_loads(data, len, &v, NULL, &err);
	cr_assert(rc == want, "%s: mp_pickle_loads returned %s (\"%s\"), expected %s (lesson 06, section \"%s\")", what,
		  mp_err_name(rc), err.message, mp_err_name(want), section);
	cr_assert(v == NULL, "%s: a refused pickle must leave *out untouched", what);
	cr_assert(err.code == want, "%s: err.code is %s, the return value %s", what, mp_err_name(err.code),
		  mp_err_name(want));
	if (opname)
		cr_assert(strncmp(err.message, opname, strlen(opname)) == 0 && err.message[strlen(opname)] == ' ',
			  "%s: the message must start with the opcode's name, %s: \"%s\"", what, opname, err.message);
	if (offset >= 0)
		cr_assert(err.offset == (size_t)offset, "%s: the error is at offset %zu, expected %ld (\"%s\")", what,
			  err.offset, offset, err.message);
}

/* A malicious pickle for every protocol, by the recipe every pickle warning shows. */
static const char evil_script[] =
	"import os, pickle, sys\n"
	"class Evil:\n"
	"    def __reduce__(self):\n"
	"        return (os.system, ('touch ' + os.environ['MP_PY_ARG'],))\n"
	"for p in range(6):\n"
	"    sys.stdout.write(pickle.dumps(Evil(), protocol=p).hex() + '\\n')\n";

MP_TEST(bounds, a_pickle_that_calls_os_system_is_refused_and_runs_nothing, 4, "Why pickle is dangerous")
{
	struct pythons py;
	py_find(&py);
	char marker[64];
	snprintf(marker, sizeof marker, "/tmp/mp-test-evil-%d", (int)getpid());
	unlink(marker);
	char *out = py_run(py.path[0], evil_script, marker);
	char *cursor = out, *hex, *rest;
	int protocol = 0;
	while (py_next_line(&cursor, &hex, &rest)) {
		size_t len;
		unsigned char *bytes = py_unhex(hex, &len);
		mp_value *v = NULL;
		mp_pickle_error err = { .message = "" };
		int rc = mp_pickle_loads(bytes, len, &v, NULL, &err);
		/* Protocols 0 and 1 spell os.system with GLOBAL; 2 and 3 too; 4 and 5 with STACK_GLOBAL. */
		const char *name = protocol < 4 ? "GLOBAL" : "STACK_GLOBAL";
		cr_assert(rc == -EPERM && v == NULL, "protocol %d: os.system's pickle decoded with %s (\"%s\"), "
			  "expected -EPERM (lesson 06, section \"Why pickle is dangerous\")", protocol, mp_err_name(rc),
			  err.message);
		cr_assert(strncmp(err.message, name, strlen(name)) == 0 && err.message[strlen(name)] == ' ',
			  "protocol %d: the message must name %s: \"%s\"", protocol, name, err.message);
		if (protocol < 4)
			cr_assert(strstr(err.message, "system"), "GLOBAL's message shows what it imports: \"%s\"", err.message);
		free(bytes);
		protocol++;
	}
	cr_assert_eq(protocol, 6, "Python wrote %d pickles, not 6", protocol);
	struct stat st;
	cr_assert(stat(marker, &st) != 0, "%s exists: the pickle ran a command", marker);
	free(out);
}

MP_TEST(bounds, every_opcode_that_names_or_calls_code_is_refused_by_name, 3, "Why pickle is dangerous")
{
	static const struct {
		unsigned char op;
		const char *name;
	} code[] = {
		{ 'c', "GLOBAL" }, { 0x93, "STACK_GLOBAL" }, { 'R', "REDUCE" }, { 'b', "BUILD" },
		{ 'i', "INST" }, { 'o', "OBJ" }, { 0x81, "NEWOBJ" }, { 0x92, "NEWOBJ_EX" },
		{ 0x82, "EXT1" }, { 0x83, "EXT2" }, { 0x84, "EXT4" }, { 'P', "PERSID" }, { 'Q', "BINPERSID" },
	};
	for (size_t i = 0; i < sizeof code / sizeof code[0]; i++) {
		/* PROTO 4, then a harmless start (an empty list and an int), then the opcode with plausible arguments. */
		unsigned char buf[64] = { 0x80, 4, ']', 'K', 1 };
		size_t n = 5;
		buf[n++] = code[i].op;
		memcpy(buf + n, "os\nsystem\n", 10);
		n += 10;
		buf[n++] = '.';
		char what[64];
		snprintf(what, sizeof what, "%s after an empty list and an int", code[i].name);
		expect_refused(buf, n, -EPERM, code[i].name, 5, what, "Why pickle is dangerous");
		cr_assert_str_eq(mp_pickle_opcode_name(code[i].op), code[i].name);
	}
}

MP_TEST(bounds, data_outside_the_subset_is_refused_with_enotsup, 2, "The data-only subset")
{
	struct pythons py;
	py_find(&py);
	static const char script[] =
		"import pickle, sys\n"
		"for p, x in [(4, {1}), (4, frozenset([2])), (5, bytearray(b'z')), (0, [1]), (1, 'a'), (2, 1.5),\n"
		"             (1, 1.5), (0, None)]:\n"
		"    sys.stdout.write(pickle.dumps(x, protocol=p).hex() + '\\n')\n";
	static const char *const names[] = { "EMPTY_SET", "FROZENSET", "BYTEARRAY8", "LIST", "BINUNICODE", NULL, "BINFLOAT", NULL };
	char *out = py_run(py.path[0], script, NULL);
	char *cursor = out, *hex, *rest;
	for (int i = 0; py_next_line(&cursor, &hex, &rest); i++) {
		size_t len;
		unsigned char *bytes = py_unhex(hex, &len);
		mp_value *v = NULL;
		mp_pickle_error err = { .message = "" };
		int rc = mp_pickle_loads(bytes, len, &v, NULL, &err);
		if (i == 4 || i == 5 || i == 6 || i == 7) {
			/* Protocol 1's binary opcodes and protocol 2's are data: they decode. 0's None is just NONE. */
			cr_assert(rc == 0, "case %d decoded with %s (\"%s\"), expected 0", i, mp_err_name(rc), err.message);
			mp_value_free(v);
		} else {
			cr_assert(rc == -ENOTSUP && v == NULL, "case %d: %s (\"%s\"), expected -ENOTSUP "
				  "(lesson 06, section \"The data-only subset\")", i, mp_err_name(rc), err.message);
			cr_assert(strncmp(err.message, names[i], strlen(names[i])) == 0, "case %d: the message names %s: \"%s\"",
				  i, names[i], err.message);
		}
		free(bytes);
	}
	free(out);
	static const unsigned char proto6[] = { 0x80, 6, 'N', '.' };
	expect_refused(proto6, sizeof proto6, -ENOTSUP, "PROTO", 0, "PROTO 6", "The data-only subset");
}

MP_TEST(bounds, bytes_that_are_no_opcode_are_malformed, 2, "The data-only subset")
{
	int unknown = 0;
	for (int op = 0; op < 256; op++) {
		if (mp_pickle_opcode_name(op))
			continue;
		unsigned char buf[] = { 0x80, 4, 'N', (unsigned char)op, '.' };
		mp_value *v = NULL;
		mp_pickle_error err = { .message = "" };
		int rc = mp_pickle_loads(buf, sizeof buf, &v, NULL, &err);
		char want[32];
		snprintf(want, sizeof want, "opcode 0x%02x at offset 3", op);
		cr_assert(rc == MP_EBADMSG && v == NULL && strncmp(err.message, want, strlen(want)) == 0,
			  "byte 0x%02x: %s (\"%s\"), expected MP_EBADMSG and \"%s...\" (lesson 06, section \"The data-only subset\")",
			  op, mp_err_name(rc), err.message, want);
		cr_assert_eq(err.opcode, op);
		unknown++;
	}
	cr_assert(unknown > 150, "only %d bytes are no opcode: protocol 5 has 68 opcodes", unknown);
}

MP_TEST(bounds, a_pickle_cut_short_anywhere_is_refused, 3, "Bounds: what a small input may cost")
{
	struct pythons py;
	py_find(&py);
	static const char script[] =
		"import pickle, sys\n"
		"x = [None, True, 300, -70000, 2**40, 1.5, 'abc', 'd' * 300, b'ef', (1, 2), (1, 2, 3, 4), {'k': [1, 2]}]\n"
		"x.append(x[6])\n" /* a BINGET */
		"sys.stdout.write(pickle.dumps(x, protocol=4).hex() + '\\n')\n";
	char *out = py_run(py.path[0], script, NULL);
	size_t len;
	unsigned char *bytes = py_unhex(out, &len);
	mp_value *whole = py_loads_ok(bytes, len, "the whole pickle");
	mp_value_free(whole);
	for (size_t cut = 0; cut < len; cut++) {
		mp_value *v = NULL;
		mp_pickle_error err = { .message = "" };
		/* A copy of exactly @cut bytes, so that a read past its end is a fault the sanitizers see. */
		unsigned char *part = malloc(cut ? cut : 1);
		memcpy(part, bytes, cut);
		int rc = mp_pickle_loads(part, cut, &v, NULL, &err);
		cr_assert(rc == MP_EBADMSG && v == NULL, "the first %zu of %zu bytes: %s (\"%s\"), expected MP_EBADMSG "
			  "(lesson 06, section \"Bounds: what a small input may cost\")", cut, len, mp_err_name(rc), err.message);
		free(part);
	}
	free(bytes);
	free(out);
}

MP_TEST(bounds, a_stack_used_wrongly_is_malformed, 3, "The data-only subset")
{
	static const struct {
		const char *what;
		const char *bytes;
		size_t len;
		const char *op;
		long offset;
	} bad[] = {
		{ "STOP on an empty stack", "\x80\x04.", 3, "STOP", 2 },
		{ "APPEND with only a list", "\x80\x04]a.", 5, "APPEND", 3 },
		{ "APPEND to an int", "\x80\x04K\x01K\x02" "a.", 8, "APPEND", 6 },
		{ "APPENDS with no MARK", "\x80\x04]K\x01" "e.", 7, "APPENDS", 5 },
		{ "APPENDS with no list below the MARK", "\x80\x04(K\x01" "e.", 7, "APPENDS", 5 },
		{ "SETITEM with two values", "\x80\x04}K\x01s.", 7, "SETITEM", 5 },
		{ "SETITEMS with a key and no value", "\x80\x04}(K\x01u.", 8, "SETITEMS", 6 },
		{ "SETITEM into a list", "\x80\x04]K\x01K\x02s.", 9, "SETITEM", 7 },
		{ "a list as a key", "\x80\x04}]K\x01s.", 8, "SETITEM", 6 },
		{ "a tuple holding a list as a key", "\x80\x04}]\x85K\x01s.", 9, "SETITEM", 7 },
		{ "TUPLE with no MARK", "\x80\x04K\x01t.", 6, "TUPLE", 4 },
		{ "TUPLE2 with one value", "\x80\x04K\x01\x86.", 6, "TUPLE2", 4 },
		{ "TUPLE1 reaching below a MARK", "\x80\x04K\x01(\x85.", 7, "TUPLE1", 5 },
		{ "BINGET of an index never set", "\x80\x04K\x01\x94h\x01.", 8, "BINGET", 5 },
		{ "MEMOIZE on an empty stack", "\x80\x04\x94N.", 5, "MEMOIZE", 2 },
		{ "a string that is not UTF-8", "\x80\x04\x8c\x02\xc3\x28.", 7, "SHORT_BINUNICODE", 2 },
		{ "a surrogate in UTF-8", "\x80\x04\x8c\x03\xed\xa0\x80.", 8, "SHORT_BINUNICODE", 2 },
		{ "an overlong UTF-8 form", "\x80\x04\x8c\x02\xc0\xaf.", 7, "SHORT_BINUNICODE", 2 },
		{ "a 3-byte overlong UTF-8 form", "\x80\x04\x8c\x03\xe0\x80\xaf.", 8, "SHORT_BINUNICODE", 2 },
		{ "a 4-byte overlong UTF-8 form", "\x80\x04\x8c\x04\xf0\x80\x80\xaf.", 9, "SHORT_BINUNICODE", 2 },
		{ "a code point above U+10FFFF", "\x80\x04\x8c\x04\xf4\x90\x80\x80.", 9, "SHORT_BINUNICODE", 2 },
		{ "UTF-8 cut short, a continuation byte after it", "\x80\x04\x8c\x02\xe2\x82\x85.", 8, "SHORT_BINUNICODE", 2 },
		{ "LONG4 with a negative length", "\x80\x04\x8b\xff\xff\xff\xff.", 8, "LONG4", 2 },
		{ "no STOP", "\x80\x04N", 3, NULL, 3 },
		{ "STOP inside an open MARK", "\x80\x04N(.", 5, "STOP", 4 },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		expect_refused(bad[i].bytes, bad[i].len, MP_EBADMSG, bad[i].op, bad[i].offset, bad[i].what,
			       "The data-only subset");
}

/*
 * Runs the bombs in a child whose address space is capped a little above what
 * it uses now, so that an allocation the input does not justify fails there
 * (-ENOMEM, or a crash) instead of passing unseen. Under valgrind or a
 * sanitizer, which reserve huge address spaces of their own, the cap is left
 * out and only the answers are checked. The child reports each code down a
 * pipe and _exit()s: a child never asserts.
 */
struct bomb {
	const char *what;
	unsigned char *bytes;
	size_t len;
	int want;
	mp_pickle_limits limits;
};

static bool under_a_sanitizer_or_valgrind(void)
{
#if defined(__SANITIZE_ADDRESS__)
	return true;
#else
	const char *preload = getenv("LD_PRELOAD");
	return preload && strstr(preload, "vgpreload");
#endif
}

static long vm_size_kib(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[128];
	long kib = -1;
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "VmSize: %ld", &kib) == 1)
			break;
	if (f)
		fclose(f);
	return kib;
}

static void run_bombs(struct bomb *b, size_t n)
{
	int fds[2];
	mp_test_pipe(fds);
	long kib = vm_size_kib();
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		if (!under_a_sanitizer_or_valgrind() && kib > 0) {
			struct rlimit cap = { .rlim_cur = (rlim_t)(kib + 256 * 1024) * 1024, .rlim_max = RLIM_INFINITY };
			setrlimit(RLIMIT_AS, &cap); /* 256 MiB more than now: the default limits stay well below */
		}
		for (size_t i = 0; i < n; i++) {
			mp_value *v = NULL;
			int rc = mp_pickle_loads(b[i].bytes, b[i].len, &v, &b[i].limits, NULL);
			mp_value_free(v);
			if (write(fds[1], &rc, sizeof rc) != sizeof rc)
				_exit(1);
		}
		_exit(0); /* _exit: the test's exit handlers belong to the test process */
	}
	close(fds[1]);
	for (size_t i = 0; i < n; i++) {
		int rc = 12345;
		bool got = mp_test_read(fds[0], &rc, sizeof rc, 30);
		if (!got) {
			close(fds[0]);
			int status = mp_test_wait_pid(pid, 10);
			cr_assert_fail("%s: the decoder crashed or hung (wait status %d): with its memory capped, "
				       "an allocation the input does not justify fails (lesson 06, section "
				       "\"Bounds: what a small input may cost\")", b[i].what, status);
		}
		cr_assert(rc == b[i].want, "%s: %s, expected %s (lesson 06, section \"Bounds: what a small input may cost\")",
			  b[i].what, mp_err_name(rc), mp_err_name(b[i].want));
	}
	close(fds[0]);
	cr_assert_eq(mp_test_wait_pid(pid, 10), 0);
}

/* PROTO 4, then @body, then STOP: a fresh buffer. */
static unsigned char *wrap(const void *body, size_t n, size_t *len)
{
	unsigned char *b = malloc(n + 3);
	b[0] = 0x80, b[1] = 4;
	memcpy(b + 2, body, n);
	b[n + 2] = '.';
	*len = n + 3;
	return b;
}

/* @count copies of @op, then @count copies of @close. */
static unsigned char *nest(unsigned char open, unsigned char close, size_t count, size_t *len)
{
	unsigned char *body = malloc(2 * count + 1);
	memset(body, open, count);
	memset(body + count, close, count);
	unsigned char *b = wrap(body, 2 * count, len);
	free(body);
	return b;
}

MP_TEST(bounds, deep_nesting_is_refused, 3, "Bounds: what a small input may cost")
{
	struct bomb b[6] = { 0 };
	b[0] = (struct bomb){ "100000 lists, each appended to the one before", NULL, 0, -E2BIG, { 0 } };
	b[0].bytes = nest(']', 'a', 100000, &b[0].len);
	b[0].len -= 1; /* an APPEND too many at the end would underflow: drop one */
	b[0].bytes[b[0].len - 1] = '.';
	b[1] = (struct bomb){ "100000 open MARKs", NULL, 0, -E2BIG, { 0 } };
	b[1].bytes = nest('(', 't', 100000, &b[1].len);
	b[2] = (struct bomb){ "None in 100000 one-item tuples, each in the next", NULL, 0, -E2BIG, { 0 } };
	unsigned char *tuples = malloc(100001);
	tuples[0] = 'N';
	memset(tuples + 1, 0x85, 100000);
	b[2].bytes = wrap(tuples, 100001, &b[2].len);
	free(tuples);
	/* At a limit of 5: lists 4 and 5 deep pass (the innermost holds an int), 6 deep does not. */
	for (int k = 3; k < 6; k++) {
		size_t depth = (size_t)k + 1;
		b[k] = (struct bomb){ k == 5 ? "lists 6 deep with max_depth 5" : "lists 4 or 5 deep with max_depth 5",
				      NULL, 0, k == 5 ? -E2BIG : 0, { .max_depth = 5 } };
		unsigned char body[32];
		size_t n = 0;
		for (size_t j = 0; j < depth; j++)
			body[n++] = ']';
		body[n++] = 'K', body[n++] = 7;
		for (size_t j = 0; j < depth; j++)
			body[n++] = 'a';
		b[k].bytes = wrap(body, n, &b[k].len);
	}
	run_bombs(b, 6);
	for (int k = 0; k < 6; k++)
		free(b[k].bytes);
}

MP_TEST(bounds, huge_lengths_and_memo_indices_are_refused_before_allocating, 4, "Bounds: what a small input may cost")
{
	static const struct {
		const char *what;
		unsigned char body[24];
		size_t n;
		int want;
	} cases[] = {
		{ "BINUNICODE8 of 2^63 bytes", { 0x8d, 0, 0, 0, 0, 0, 0, 0, 0x80, 'a' }, 10, MP_EBADMSG },
		{ "BINBYTES8 of 2^64 - 1 bytes", { 0x8e, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 'a' }, 10, MP_EBADMSG },
		{ "BINBYTES of 2^32 - 1 bytes", { 'B', 0xff, 0xff, 0xff, 0xff, 'a' }, 6, MP_EBADMSG },
		{ "BINUNICODE of 2^31 bytes", { 'X', 0, 0, 0, 0x80, 'a' }, 6, MP_EBADMSG },
		{ "SHORT_BINBYTES of 255 bytes, 3 there", { 'C', 0xff, 'a', 'b', 'c' }, 5, MP_EBADMSG },
		{ "LONG4 of 2^31 - 1 bytes", { 0x8b, 0xff, 0xff, 0xff, 0x7f, 1 }, 6, MP_EBADMSG },
		{ "LONG1 of 255 bytes, 1 there", { 0x8a, 0xff, 1 }, 3, MP_EBADMSG },
		{ "FRAME of 2^63 bytes", { 0x95, 0, 0, 0, 0, 0, 0, 0, 0x80, 'N' }, 10, MP_EBADMSG },
		{ "LONG_BINPUT at index 2^32 - 1", { 'N', 'r', 0xff, 0xff, 0xff, 0xff }, 6, -E2BIG },
		{ "LONG_BINGET at index 2^32 - 1", { 'N', 'j', 0xff, 0xff, 0xff, 0xff }, 6, MP_EBADMSG },
		{ "LONG_BINPUT at the index of the limit, 2^20", { 'N', 'r', 0, 0, 0x10, 0 }, 6, -E2BIG },
		{ "LONG_BINPUT just under the limit, then BINGET", { 'N', 'r', 0xff, 0xff, 0x0f, 0, 'j', 0xff, 0xff, 0x0f, 0, 0x86 }, 12, 0 },
	};
	enum { N = sizeof cases / sizeof cases[0] };
	struct bomb b[N] = { 0 };
	for (size_t i = 0; i < N; i++) {
		b[i] = (struct bomb){ cases[i].what, NULL, 0, cases[i].want, { 0 } };
		b[i].bytes = wrap(cases[i].body, cases[i].n, &b[i].len);
	}
	run_bombs(b, N);
	for (size_t i = 0; i < N; i++) {
		/* The same again here, for the message: each names its opcode. */
		mp_value *v = NULL;
		mp_pickle_error err = { .message = "" };
		if (mp_pickle_loads(b[i].bytes, b[i].len, &v, NULL, &err) == 0) {
			mp_value_free(v);
		} else {
			const char *name = mp_pickle_opcode_name(cases[i].body[cases[i].body[0] == 'N' ? 1 : 0]);
			cr_assert(strncmp(err.message, name, strlen(name)) == 0, "%s: the message names %s: \"%s\"",
				  cases[i].what, name, err.message);
		}
		free(b[i].bytes);
	}
}

MP_TEST(bounds, copies_from_the_memo_count_against_the_limits, 3, "Bounds: what a small input may cost")
{
	/*
	 * A "billion laughs": a list of two copies of the list before, 64 times
	 * over, from the memo. 2^64 values from 400 bytes: refused long before.
	 */
	unsigned char body[1024];
	size_t n = 0;
	body[n++] = 0x8c, body[n++] = 4, memcpy(body + n, "haha", 4), n += 4;
	body[n++] = 0x94; /* memo 0 */
	for (int k = 1; k <= 64; k++) {
		body[n++] = 'j', memcpy(body + n, &(uint32_t){ (uint32_t)(k - 1) }, 4), n += 4; /* a copy of level k-1 */
		body[n++] = 0x86;                                                           /* (it, it) */
		body[n++] = 0x94;                                                           /* memo k */
	}
	struct bomb b[3] = { 0 };
	b[0] = (struct bomb){ "64 levels of (x, x) from the memo", NULL, 0, -E2BIG, { 0 } };
	b[0].bytes = wrap(body, n, &b[0].len);
	/* With small limits, the point where it stops is exact: 2^k - 1 tuples and 2^k strings. */
	b[1] = (struct bomb){ "4 levels with max_values 31", NULL, 0, 0, { .max_values = 31 } };
	b[2] = (struct bomb){ "5 levels with max_values 31", NULL, 0, -E2BIG, { .max_values = 31 } };
	size_t n4 = 7 + 4 * 7, n5 = 7 + 5 * 7;
	b[1].bytes = wrap(body, n4, &b[1].len);
	b[2].bytes = wrap(body, n5, &b[2].len);
	run_bombs(b, 3);
	/* The text counts too: 16 copies of "haha" is 64 bytes. */
	mp_value *v = NULL;
	mp_pickle_limits tight = { .max_bytes = 63 };
	mp_expect_status(mp_pickle_loads(b[1].bytes, b[1].len, &v, &tight, NULL), -E2BIG);
	tight.max_bytes = 64;
	mp_expect_status(mp_pickle_loads(b[1].bytes, b[1].len, &v, &tight, NULL), 0);
	cr_assert_eq(mp_value_len(v), 2);
	mp_value_free(v);
	for (int k = 0; k < 3; k++)
		free(b[k].bytes);
}

MP_TEST(bounds, a_list_that_holds_itself_is_refused, 2, "Bounds: what a small input may cost")
{
	struct pythons py;
	py_find(&py);
	static const char script[] =
		"import pickle, sys\n"
		"l = []; l.append(l)\n"
		"d = {}; d['me'] = d\n"
		"a = [1]; shared = [a, a, (a,)]\n" /* shared, but no cycle: decodes as copies */
		"for x in (l, d, shared):\n"
		"    sys.stdout.write(pickle.dumps(x, protocol=4).hex() + '\\n')\n";
	char *out = py_run(py.path[0], script, NULL);
	char *cursor = out, *hex, *rest;
	for (int i = 0; py_next_line(&cursor, &hex, &rest); i++) {
		size_t len;
		unsigned char *bytes = py_unhex(hex, &len);
		if (i < 2) {
			expect_refused(bytes, len, -ENOTSUP, i == 0 ? "APPEND" : "SETITEM", -1,
				       i == 0 ? "a list that holds itself" : "a dict that holds itself",
				       "Bounds: what a small input may cost");
		} else {
			mp_value *v = py_loads_ok(bytes, len, "[a, a, (a,)]");
			char *r = py_repr(v);
			cr_assert_str_eq(r, "[[1], [1], ([1],)]");
			free(r);
			mp_value_free(v);
		}
		free(bytes);
	}
	free(out);
}

MP_TEST(bounds, a_key_set_twice_keeps_its_first_key_as_python_does, 2, "Values in C")
{
	struct pythons py;
	py_find(&py);
	/*
	 * {1: [7] (memo 1), True: 'x'} and then BINGET 1 of the value the second
	 * SETITEM replaced: Python still has that list in its memo, and so must we.
	 */
	static const unsigned char bytes[] = { 0x80, 4, '}', 0x94, 'K', 1, ']', 0x94, 'K', 7, 'a', 's', 0x88,
					       0x8c, 1, 'x', 's', 'h', 1, 0x86, '.' };
	char *hex = py_hex(bytes, sizeof bytes);
	char *out = py_run(py.path[0], "import os, pickle; print(repr(pickle.loads(bytes.fromhex(os.environ['MP_PY_ARG']))))", hex);
	out[strcspn(out, "\n")] = '\0';
	mp_value *v = py_loads_ok(bytes, sizeof bytes, "a dict with a key set twice");
	char *ours = py_repr(v);
	cr_assert_str_eq(ours, out, "ours %s, Python's %s (lesson 06, section \"Values in C\")", ours, out);
	cr_assert_str_eq(ours, "({1: 'x'}, [7])");
	free(ours);
	mp_value_free(v);
	free(out);
	free(hex);
	/* BINPUT to an index used before: the later value wins, as in Python. */
	static const unsigned char again[] = { 0x80, 4, 'N', 'q', 0, 'K', 1, 'q', 0, 'h', 0, 0x87, '.' };
	v = py_loads_ok(again, sizeof again, "None, 1, BINGET of index 0 put twice");
	ours = py_repr(v);
	cr_assert_str_eq(ours, "(None, 1, 1)", "memo index 0 was set to None, then to 1: BINGET 0 is 1, not %s", ours);
	free(ours);
	mp_value_free(v);
}

MP_TEST(bounds, frames_are_read_and_their_lengths_checked, 2, "Writing what CPython writes")
{
	/* Frames around the opcodes, an empty one, one that is only a hint: all fine. */
	static const unsigned char framed[] = { 0x80, 4, 0x95, 3, 0, 0, 0, 0, 0, 0, 0, 'K', 5, '.', 0x95, 0, 0, 0, 0, 0, 0, 0, 0 };
	mp_value *v = py_loads_ok(framed, sizeof framed, "a framed BININT1");
	cr_assert_eq(mp_value_as_int(v), 5);
	mp_value_free(v);
	/* A frame that claims one byte more than there is. */
	static const unsigned char over[] = { 0x80, 4, 0x95, 4, 0, 0, 0, 0, 0, 0, 0, 'K', 5, '.' };
	expect_refused(over, sizeof over, MP_EBADMSG, "FRAME", 2, "a frame past the end", "Writing what CPython writes");
	/* Our own output: one frame for a small value, the header left out under 4 bytes, as CPython does. */
	mp_value *none = mp_value_none();
	size_t len;
	unsigned char *b = py_dumps_ok(none, &len);
	cr_assert(len == 4 && memcmp(b, "\x80\x04N.", 4) == 0, "pickle.dumps(None, 4) is 80 04 4e 2e: no frame under 4 bytes");
	free(b);
	mp_value_free(none);
	mp_value *s = mp_value_str("abc");
	b = py_dumps_ok(s, &len);
	cr_assert(len == 18 && memcmp(b, "\x80\x04\x95\x07\0\0\0\0\0\0\0\x8c\x03" "abc\x94.", 18) == 0,
		  "pickle.dumps('abc', 4) is PROTO 4, FRAME 7, SHORT_BINUNICODE 3 'abc', MEMOIZE, STOP");
	free(b);
	mp_value_free(s);
}
