/* pickle_dump.c: a value as the bytes CPython's pickle.dumps(value, protocol=4) writes. */
#include "pickle_internal.h"
#include "value_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/*
 * Protocol 4 cuts its output into frames: FRAME and an 8-byte length, then
 * that many bytes of opcodes, so that a reader can fetch a frame with one
 * read. CPython closes a frame once it holds 64 KiB, before the next value;
 * writes a str or bytes of 64 KiB or more outside any frame; and leaves out
 * the FRAME header of a frame of under 4 bytes. The writer below does the
 * same, so the bytes come out as CPython's do.
 */
#define FRAME_SIZE_TARGET 65536
#define FRAME_SIZE_MIN 4
#define FRAME_HEADER_SIZE 9
#define BATCHSIZE 1000 /* items a list's APPENDS (a dict's SETITEMS) carries at most */
#define MAX_DEPTH 200  /* pickle.h promises -E2BIG beyond this */

struct writer {
	unsigned char *buf;
	size_t len, cap;
	size_t frame_start; /* where the open frame's header goes; NO_FRAME when none is open */
	bool framing;       /* after PROTO: protocol 4 frames what follows */
	bool failed;        /* out of memory: every later write does nothing */
};

#define NO_FRAME SIZE_MAX

static bool reserve(struct writer *w, size_t n)
{
	if (w->failed)
		return false;
	if (w->len + n > w->cap) {
		size_t cap = w->cap ? w->cap : 256;
		while (cap < w->len + n) {
			if (cap > SIZE_MAX / 2)
				return !(w->failed = true);
			cap *= 2;
		}
		unsigned char *p = realloc(w->buf, cap);
		if (!p)
			return !(w->failed = true);
		w->buf = p;
		w->cap = cap;
	}
	return true;
}

/* Appends @n bytes; the first write after a frame closed opens the next one, room left for its header. */
static void write_bytes(struct writer *w, const void *p, size_t n)
{
	if (w->framing && w->frame_start == NO_FRAME) {
		if (!reserve(w, FRAME_HEADER_SIZE))
			return;
		w->frame_start = w->len;
		w->len += FRAME_HEADER_SIZE;
	}
	if (!reserve(w, n))
		return;
	memcpy(w->buf + w->len, p, n);
	w->len += n;
}

static void write_op(struct writer *w, int op)
{
	unsigned char c = (unsigned char)op;
	write_bytes(w, &c, 1);
}

/* An opcode and an argument of @n bytes, little-endian. */
static void write_op_le(struct writer *w, int op, uint64_t x, size_t n)
{
	unsigned char b[9] = { (unsigned char)op };
	for (size_t k = 0; k < n; k++)
		b[1 + k] = (unsigned char)(x >> (8 * k));
	write_bytes(w, b, 1 + n);
}

/* Closes the open frame: writes its header, or takes out the room for it if it holds under 4 bytes. */
static void commit_frame(struct writer *w)
{
	if (w->failed || w->frame_start == NO_FRAME)
		return;
	size_t frame_len = w->len - w->frame_start - FRAME_HEADER_SIZE;
	unsigned char *q = w->buf + w->frame_start;
	if (frame_len >= FRAME_SIZE_MIN) {
		q[0] = OP_FRAME;
		for (int k = 0; k < 8; k++)
			q[1 + k] = (unsigned char)((uint64_t)frame_len >> (8 * k));
	} else {
		memmove(q, q + FRAME_HEADER_SIZE, frame_len);
		w->len -= FRAME_HEADER_SIZE;
	}
	w->frame_start = NO_FRAME;
}

/* Before each value: a frame that has reached 64 KiB is closed. */
static void opcode_boundary(struct writer *w)
{
	if (w->frame_start != NO_FRAME && w->len - w->frame_start - FRAME_HEADER_SIZE >= FRAME_SIZE_TARGET)
		commit_frame(w);
}

/* A str's or bytes' header (opcode and length), then its bytes: 64 KiB and more go outside the frames. */
static void write_payload(struct writer *w, const unsigned char *header, size_t header_len, const void *data,
			  size_t len)
{
	bool outside = len >= FRAME_SIZE_TARGET;
	if (outside) {
		commit_frame(w);
		w->framing = false;
	}
	write_bytes(w, header, header_len);
	write_bytes(w, data, len);
	w->framing = true;
}

/* The header of a str or bytes of @len bytes: the shortest of three lengths. Returns its size. */
static size_t text_header(unsigned char *h, int op1, int op4, int op8, size_t len)
{
	int op = len <= 0xff ? op1 : len <= 0xffffffffu ? op4 : op8;
	size_t n = len <= 0xff ? 1 : len <= 0xffffffffu ? 4 : 8;
	h[0] = (unsigned char)op;
	for (size_t k = 0; k < n; k++)
		h[1 + k] = (unsigned char)((uint64_t)len >> (8 * k));
	return 1 + n;
}

/* An integer: BININT1, BININT2 or BININT when it fits, else LONG1 with the fewest bytes that hold it. */
static void write_int(struct writer *w, int64_t i)
{
	/* TODO: your code goes here.
	 * Hint: 0 to 0xff is BININT1, up to 0xffff BININT2, any other value
	 * of 32 bits (signed) BININT: write_op_le() each. Else LONG1, a length
	 * byte, then the fewest little-endian bytes of two's complement that
	 * hold the value: stop once the bytes left are all sign (0x00 or 0xff)
	 * and the last byte written has the sign's top bit.
	 * Lesson 06, "Integers of every size".
	 */
	w->failed = true;
}

static int write_value(struct writer *w, const mp_value *v, unsigned depth);

/*
 * An object (value.h's description of one) as CPython's pickler writes one:
 * the module and the name, STACK_GLOBAL; then, for a call, the arguments and
 * REDUCE, or NEWOBJ for __new__; then the state, if any, and BUILD. Each
 * object made is memoized, as CPython memoizes it.
 */
static int write_object(struct writer *w, const mp_value *v, unsigned depth)
{
	const mp_value *module = v->seq.items[0], *name = v->seq.items[1];
	const mp_value *args = v->seq.items[2], *state = v->seq.items[3];
	int rc = write_value(w, module, depth + 1);
	if (rc == 0)
		rc = write_value(w, name, depth + 1);
	write_op(w, OP_STACK_GLOBAL);
	write_op(w, OP_MEMOIZE);
	if (rc < 0 || v->form == MP_OBJECT_NAME)
		return rc;
	rc = write_value(w, args, depth + 1);
	write_op(w, v->form == MP_OBJECT_NEW ? OP_NEWOBJ : OP_REDUCE);
	write_op(w, OP_MEMOIZE);
	if (rc == 0 && state->kind != MP_VALUE_NONE) {
		rc = write_value(w, state, depth + 1);
		write_op(w, OP_BUILD);
	}
	return rc;
}

static int write_value(struct writer *w, const mp_value *v, unsigned depth)
{
	if (depth > MAX_DEPTH)
		return -E2BIG;
	opcode_boundary(w);
	if (v->kind == MP_VALUE_OBJECT)
		return write_object(w, v, depth);
	int rc = 0;
	/* TODO: your code goes here.
	 * Hint: a switch on v->kind. None and bools are one opcode; ints go to
	 * write_int(); a float is BINFLOAT with its 8 bytes big-endian. A str
	 * or bytes is text_header() then write_payload(), then MEMOIZE. Tuples:
	 * EMPTY_TUPLE when empty; else the items, then TUPLE1-3, or MARK, the
	 * items and TUPLE; then MEMOIZE. A list is EMPTY_LIST and MEMOIZE, then
	 * one item and APPEND, or batches of up to 1000 between MARK and
	 * APPENDS; a dict the same with key and value, SETITEM and SETITEMS.
	 * Lesson 06, "Writing what CPython writes".
	 */
	return MP_ETODO;
	return w->failed ? -ENOMEM : rc;
}

int mp_pickle_dumps(const mp_value *v, void **out, size_t *len)
{
	if (!v || !out || !len)
		return -EINVAL;
	struct writer w = { .frame_start = NO_FRAME };
	unsigned char proto[2] = { OP_PROTO, 4 };
	write_bytes(&w, proto, sizeof proto);
	w.framing = true; /* PROTO stands before the first frame */
	int rc = write_value(&w, v, 0);
	write_op(&w, OP_STOP);
	commit_frame(&w);
	if (rc == 0 && w.failed)
		rc = -ENOMEM;
	if (rc < 0) {
		free(w.buf);
		return rc;
	}
	*out = w.buf;
	*len = w.len;
	return 0;
}
