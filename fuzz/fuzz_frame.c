/* fuzz_frame.c: libFuzzer target for stage 03's frame decoder, checked against a model of CPython's framing. */
#define _GNU_SOURCE /* MSG_NOSIGNAL, SOCK_CLOEXEC */
#include <mp.h>

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/*
 * An input is a few control bytes, then the bytes a peer sends:
 *
 *	byte 0		the receiver's cap (mp_conn_set_max_message): 1 + 16 * b for
 *			b < 254, so that messages both fit and do not; 254 keeps the
 *			default (1 GiB); 255 is SIZE_MAX, the largest cap the API allows
 *	byte 1		the size of the buffer given to mp_conn_recv_bytes_into()
 *	bytes 2-3	the receive calls to make, two bits each, repeated:
 *			recv_bytes, recv_bytes_into, recv_int, recv_double
 *	the rest	the stream, then end-of-file
 *
 * Every call's result is compared with a model of the framing written from
 * the protocol (connection.h, and CPython's Connection._recv_bytes), not from
 * connection.c: the same error code, the same bytes, the same length.
 * A mismatch aborts, and libFuzzer keeps the input as a crash.
 */

#define DEFAULT_CAP ((size_t)1 << 30) /* connection.h: "default 1 GiB" */

/*
 * A header may announce any length up to the cap, and the library allocates
 * that much before it reads the body. Under ASan a large allocation costs its
 * shadow memory, milliseconds a time; so while the library runs, malloc()
 * refuses more than BIG bytes, as a machine short of memory would: the
 * library must then answer -ENOMEM, which the model accepts for such a
 * length. tools/fuzz.sh links with -Wl,--wrap=malloc, so that the library's
 * calls come here; libFuzzer's and ASan's own pass through untouched.
 */
#define BIG ((size_t)1 << 20)

static bool refuse_big;

void *__real_malloc(size_t size);
void *__wrap_malloc(size_t size);

void *__wrap_malloc(size_t size)
{
	if (refuse_big && size > BIG)
		return NULL;
	return __real_malloc(size);
}

static void die(const char *what, int want, int got)
{
	fprintf(stderr, "fuzz_frame: %s: expected %s, got %s\n", what, mp_err_name(want), mp_err_name(got));
	abort();
}

#define CHECK(cond, ...) \
	do { \
		if (!(cond)) { \
			fprintf(stderr, "fuzz_frame: " __VA_ARGS__); \
			fputc('\n', stderr); \
			abort(); \
		} \
	} while (0)

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t be64(const uint8_t *p)
{
	return (uint64_t)be32(p) << 32 | be32(p + 4);
}

/* What the receiving end should have consumed and kept, as the protocol says. */
struct model {
	const uint8_t *s; /* the bytes that really went into the socket */
	size_t n, pos;
	size_t cap;
	bool broken;
	bool kept; /* a message that did not fit mp_conn_recv_bytes_into()'s buffer */
	size_t kept_off, kept_len;
};

/* What one call should return. */
struct want {
	int rc;
	size_t off, len;  /* the message, as an offset into the stream */
	bool enomem_ok;   /* a huge allocation was due, and may fail instead */
};

/*
 * The next frame. Returns 0 with *off and *len, or the error; *len is also set
 * when the header was whole and within the cap but the body is missing.
 */
static int model_frame(struct model *m, size_t *off, size_t *len, bool *header_ok)
{
	size_t rem = m->n - m->pos;
	*header_ok = false;
	if (rem == 0)
		return MP_EEOF; /* end-of-file between messages: not broken */
	m->broken = true;       /* every other error below breaks the stream */
	if (rem < 4)
		return MP_EBADMSG;
	int32_t small = (int32_t)be32(m->s + m->pos);
	uint64_t length;
	size_t hdr = 4;
	if (small == -1) {
		if (rem < 12)
			return MP_EBADMSG;
		length = be64(m->s + m->pos + 4);
		hdr = 12;
	} else if (small < 0) {
		return MP_EBADMSG;
	} else {
		length = (uint64_t)small;
	}
	/* Even with no cap (SIZE_MAX), a length of SIZE_MAX is refused: n + 1 bytes could not be had. */
	if (length > m->cap || length >= SIZE_MAX)
		return -EMSGSIZE;
	*header_ok = true;
	*len = (size_t)length;
	if (length > rem - hdr)
		return MP_EBADMSG;
	m->broken = false;
	*off = m->pos + hdr;
	m->pos += hdr + (size_t)length;
	return 0;
}

static struct want model_recv_bytes(struct model *m)
{
	struct want w = { 0 };
	bool header_ok;
	if (m->broken) {
		w.rc = MP_EBROKEN;
	} else if (m->kept) {
		w.off = m->kept_off;
		w.len = m->kept_len;
		m->kept = false;
	} else {
		w.rc = model_frame(m, &w.off, &w.len, &header_ok);
		w.enomem_ok = w.rc == MP_EBADMSG && header_ok && w.len >= BIG;
	}
	return w;
}

static struct want model_recv_into(struct model *m, size_t bufcap)
{
	struct want w = { 0 };
	bool header_ok;
	if (m->broken) {
		w.rc = MP_EBROKEN;
		return w;
	}
	if (!m->kept) {
		w.rc = model_frame(m, &w.off, &w.len, &header_ok);
		if (w.rc < 0) {
			/* only a message too long for the buffer is allocated */
			w.enomem_ok = w.rc == MP_EBADMSG && header_ok && w.len > bufcap && w.len >= BIG;
			return w;
		}
		if (w.len <= bufcap)
			return w;
		m->kept = true;
		m->kept_off = w.off;
		m->kept_len = w.len;
	}
	w.off = m->kept_off;
	w.len = m->kept_len;
	if (m->kept_len > bufcap) {
		w.rc = -ENOBUFS; /* kept for the next call */
		return w;
	}
	m->kept = false;
	w.rc = 0;
	return w;
}

/* recv_int and recv_double: exactly 8 bytes, else MP_ETYPE and the message is dropped. */
static struct want model_recv_eight(struct model *m)
{
	struct want w = model_recv_into(m, 8);
	if (w.rc == -ENOBUFS) {
		m->kept = false;
		w.rc = MP_ETYPE;
	} else if (w.rc == 0 && w.len != 8) {
		w.rc = MP_ETYPE;
	}
	return w;
}

static void check_rc(const char *call, const struct want *w, int got)
{
	if (got == w->rc)
		return;
	if (got == -ENOMEM && w->enomem_ok)
		return;
	die(call, w->rc, got);
}

/* One receive call of kind @op, checked against the model. Returns its code. */
static int one_call(mp_conn *c, struct model *m, unsigned op, size_t bufcap)
{
	struct want w;
	switch (op) {
	case 0: {
		void *buf = NULL;
		size_t len = SIZE_MAX;
		w = model_recv_bytes(m);
		int rc = mp_conn_recv_bytes(c, &buf, &len);
		check_rc("mp_conn_recv_bytes", &w, rc);
		if (rc == 0) {
			CHECK(buf != NULL, "mp_conn_recv_bytes: 0 and no buffer");
			CHECK(len <= m->cap, "mp_conn_recv_bytes: %zu bytes, beyond the cap of %zu", len, m->cap);
			CHECK(len == w.len, "mp_conn_recv_bytes: %zu bytes, expected %zu", len, w.len);
			CHECK(memcmp(buf, m->s + w.off, len) == 0, "mp_conn_recv_bytes: wrong bytes");
			CHECK(((char *)buf)[len] == '\0', "mp_conn_recv_bytes: no NUL after the message");
		} else {
			CHECK(buf == NULL, "mp_conn_recv_bytes: a buffer handed out with error %s", mp_err_name(rc));
		}
		free(buf);
		return rc;
	}
	case 1: {
		/* Exactly @bufcap bytes from malloc(), so that ASan sees one byte too many. */
		unsigned char *buf = malloc(bufcap);
		size_t len = SIZE_MAX;
		CHECK(buf != NULL, "out of memory in the harness");
		w = model_recv_into(m, bufcap);
		int rc = mp_conn_recv_bytes_into(c, buf, bufcap, &len);
		check_rc("mp_conn_recv_bytes_into", &w, rc);
		if (rc == 0 || rc == -ENOBUFS)
			CHECK(len == w.len, "mp_conn_recv_bytes_into: length %zu, expected %zu", len, w.len);
		if (rc == 0) {
			CHECK(len <= bufcap && len <= m->cap, "mp_conn_recv_bytes_into: %zu bytes, beyond a cap", len);
			CHECK(memcmp(buf, m->s + w.off, len) == 0, "mp_conn_recv_bytes_into: wrong bytes");
		}
		free(buf);
		return rc;
	}
	default: {
		int64_t value = 0;
		double d = 0;
		w = model_recv_eight(m);
		int rc = op == 2 ? mp_conn_recv_int(c, &value) : mp_conn_recv_double(c, &d);
		check_rc(op == 2 ? "mp_conn_recv_int" : "mp_conn_recv_double", &w, rc);
		if (rc == 0) {
			uint64_t bits, sent = be64(m->s + w.off);
			if (op == 2)
				bits = (uint64_t)value;
			else
				memcpy(&bits, &d, sizeof bits);
			CHECK(bits == sent, "%s: %016llx, expected %016llx", op == 2 ? "mp_conn_recv_int" : "mp_conn_recv_double",
			      (unsigned long long)bits, (unsigned long long)sent);
		}
		return rc;
	}
	}
}

/* Codes after which the stream goes on: the message was consumed or kept, nothing lost. */
static bool goes_on(int rc)
{
	return rc == 0 || rc == -ENOBUFS || rc == MP_ETYPE;
}

/* Codes that leave the stream out of step (connection.h): every later call is MP_EBROKEN. */
static bool breaks(int rc)
{
	return rc == MP_EBADMSG || rc == -EMSGSIZE || rc == -ENOMEM || rc == MP_EBROKEN;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int first_fd = -1;
	if (size < 4)
		return 0;
	size_t cap = data[0] == 255 ? SIZE_MAX : data[0] == 254 ? DEFAULT_CAP : 1 + 16 * (size_t)data[0];
	size_t bufcap = data[1];
	unsigned ops = (unsigned)data[2] << 8 | data[3];
	const uint8_t *stream = data + 4;
	size_t n = size - 4;

	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0, "socketpair: %s", strerror(errno));
	/* The same descriptors come back every time, unless an earlier run leaked some. */
	if (first_fd < 0)
		first_fd = sv[0];
	CHECK(sv[0] <= first_fd + 4, "descriptor leak: socketpair() gave %d, first %d", sv[0], first_fd);

	/*
	 * Write the stream before anything reads, without ever blocking: whatever
	 * does not fit in the socket's buffer (over 100 KiB, far more than
	 * libFuzzer's inputs) is dropped, and the model sees only what went in.
	 * Then end-of-file, so that no receive can wait.
	 */
	size_t sent = 0;
	while (sent < n) {
		ssize_t w = send(sv[1], stream + sent, n - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		sent += (size_t)w;
	}
	CHECK(shutdown(sv[1], SHUT_WR) == 0, "shutdown: %s", strerror(errno));

	mp_conn *c;
	int rc = mp_conn_from_fd(&c, sv[0], true, false);
	CHECK(rc == 0, "mp_conn_from_fd: %s", mp_err_name(rc));
	/* Nothing can block with end-of-file queued; the timeout is a second line of defence. */
	CHECK(mp_conn_set_timeout(c, 2.0) == 0, "mp_conn_set_timeout");
	if (data[0] != 254)
		CHECK(mp_conn_set_max_message(c, cap) == 0, "mp_conn_set_max_message");

	struct model m = { .s = stream, .n = sent, .cap = cap };
	refuse_big = true;
	/* Every call consumes a frame (4 bytes at least) or ends; only -ENOBUFS repeats. */
	size_t limit = 2 * sent + 16, i = 0;
	for (; i < limit; i++) {
		rc = one_call(c, &m, ops >> (2 * (i % 8)) & 3, bufcap);
		if (!goes_on(rc))
			break;
	}

	if (i < limit) {
		/* The end is for good: end-of-file stays end-of-file, a broken stream stays broken. */
		int last = rc;
		for (unsigned k = 0; k < 8; k++) {
			rc = one_call(c, &m, k % 4, bufcap);
			if (breaks(last))
				CHECK(rc == MP_EBROKEN, "after %s, call %u returned %s, not MP_EBROKEN",
				      mp_err_name(last), k, mp_err_name(rc));
			else
				CHECK(rc == last, "after %s, call %u returned %s", mp_err_name(last), k, mp_err_name(rc));
		}
	}

	refuse_big = false;
	mp_conn_free(c); /* closes sv[0], and frees a kept message: LeakSanitizer checks */
	close(sv[1]);
	return 0;
}
