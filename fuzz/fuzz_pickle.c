/* fuzz_pickle.c: libFuzzer target for stage 06's pickle decoder: any bytes, and no crash, leak or outsized allocation. */
#include <mp.h>

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * The input is a pickle, as a peer would send it. Each is decoded twice,
 * refusing objects and describing them (describe_objects), and each time:
 *
 *	- a failure is one of the codes pickle.h promises, with *out left
 *	  alone and a message that names where it stopped;
 *	- a success is a value that encodes, decodes again to the same repr,
 *	  and encodes again to the same bytes;
 *	- while the decoder runs, no single allocation may be larger than the
 *	  input can justify (ALLOWED below): tools/fuzz.sh links with
 *	  -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc so that the library's
 *	  calls come here first;
 *	- LeakSanitizer sees anything left behind, ASan and UBSan the rest.
 */

static size_t allowed; /* 0 while the library runs unchecked */

/* A value's worth of bytes for each input byte is generous: a copy from the memo is at most the input's size. */
#define ALLOWED(size) (64 * (size) + 65536)

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t size);

static void check_size(size_t size)
{
	if (allowed && size > allowed) {
		fprintf(stderr, "fuzz_pickle: an allocation of %zu bytes, beyond the %zu this input justifies\n", size,
			allowed);
		abort();
	}
}

void *__wrap_malloc(size_t size)
{
	check_size(size);
	return __real_malloc(size);
}

void *__wrap_calloc(size_t n, size_t size)
{
	check_size(size && n > SIZE_MAX / size ? SIZE_MAX : n * size);
	return __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t size)
{
	check_size(size);
	return __real_realloc(p, size);
}

#define CHECK(cond, ...) \
	do { \
		if (!(cond)) { \
			fprintf(stderr, "fuzz_pickle: " __VA_ARGS__); \
			fputc('\n', stderr); \
			abort(); \
		} \
	} while (0)

static bool promised(int rc)
{
	return rc == -EPERM || rc == -ENOTSUP || rc == -ERANGE || rc == -E2BIG || rc == MP_EBADMSG || rc == -ENOMEM;
}

/* Whether @v holds a NaN anywhere: NaN != NaN, so equality cannot be asked of it. */
static bool has_nan(const mp_value *v)
{
	if (mp_value_kind_of(v) == MP_VALUE_FLOAT)
		return isnan(mp_value_as_float(v));
	for (size_t i = 0; i < mp_value_len(v) && mp_value_kind_of(v) >= MP_VALUE_TUPLE; i++) {
		const mp_value *k = NULL, *x = NULL;
		if (mp_value_kind_of(v) == MP_VALUE_DICT)
			mp_value_dict_pair(v, i, &k, &x);
		else
			x = mp_value_item(v, i);
		if ((k && has_nan(k)) || has_nan(x))
			return true;
	}
	return false;
}

/* Decode @data, refusing objects or describing them (@describe), and check what came of it. */
static void decode_and_check(const unsigned char *data, size_t size, bool describe)
{
	/* Small enough that a memo bomb stays fast, large enough for everything a seed holds. */
	mp_pickle_limits limits = { .max_values = 1 << 16, .max_bytes = size + (1 << 20), .describe_objects = describe };
	mp_value *v = NULL;
	mp_pickle_error err = { .code = 1, .opcode = -2 };

	allowed = ALLOWED(size);
	int rc = mp_pickle_loads(data, size, &v, &limits, &err);
	allowed = 0;

	if (rc < 0) {
		CHECK(promised(rc), "mp_pickle_loads returned %s, which pickle.h does not promise", mp_err_name(rc));
		CHECK(v == NULL, "a value handed out with %s", mp_err_name(rc));
		CHECK(err.code == rc, "err.code %s, returned %s", mp_err_name(err.code), mp_err_name(rc));
		CHECK(err.offset <= size, "err.offset %zu past the input's %zu bytes", err.offset, size);
		CHECK(err.opcode == (err.offset < size ? data[err.offset] : -1), "err.opcode %d does not match offset %zu",
		      err.opcode, err.offset);
		CHECK(err.message[0] != '\0' && memchr(err.message, '\0', sizeof err.message), "no message");
		return;
	}
	CHECK(rc == 0 && v != NULL, "mp_pickle_loads returned %d and value %p", rc, (void *)v);
	CHECK(err.code == 1 && err.opcode == -2, "err written on success");

	char *repr = NULL;
	CHECK(mp_value_repr(v, &repr) == 0, "mp_value_repr failed");
	void *bytes = NULL;
	size_t len = 0;
	rc = mp_pickle_dumps(v, &bytes, &len);
	CHECK(rc == 0, "a decoded value does not encode: %s", mp_err_name(rc));

	mp_value *again = NULL;
	mp_pickle_limits roomy = { .max_values = 1 << 24, .max_bytes = (size_t)1 << 34, .describe_objects = describe };
	rc = mp_pickle_loads(bytes, len, &again, &roomy, &err);
	CHECK(rc == 0, "our own pickle of %.100s does not decode: %s", repr, err.message);
	char *repr2 = NULL;
	CHECK(mp_value_repr(again, &repr2) == 0, "mp_value_repr failed");
	CHECK(strcmp(repr, repr2) == 0, "%.100s came back as %.100s", repr, repr2);
	CHECK(has_nan(v) || mp_value_equal(v, again), "%.100s came back unequal", repr);

	void *bytes2 = NULL;
	size_t len2 = 0;
	CHECK(mp_pickle_dumps(again, &bytes2, &len2) == 0, "encoding again failed");
	CHECK(len2 == len && memcmp(bytes, bytes2, len) == 0, "%.100s encodes to other bytes the second time", repr);

	free(bytes2);
	free(repr2);
	mp_value_free(again);
	free(bytes);
	free(repr);
	mp_value_free(v);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	decode_and_check(data, size, false);
	decode_and_check(data, size, true); /* objects described: still nothing but values */
	return 0;
}
