/* connection.c: whole messages over a byte stream, framed as CPython frames them. */
#define _GNU_SOURCE /* pipe2(), sigtimedwait() */
#include <mp.h>

#include "../01-process/deadline.h"
#include "../01-process/fault.h"
#include "connection_internal.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

/*
 * A stream has no message boundaries: one write() may arrive as three
 * read()s, and two writes as one. So every message goes out as a length and
 * then its bytes, exactly as CPython sends them:
 *
 *	len < 2^31:	int32 big-endian len, then len bytes
 *	otherwise:	int32 -1, uint64 big-endian len, then len bytes
 *
 * The receiver reads the length first, checks it, and only then reads (and
 * allocates for) the bytes.
 */

#define SMALL_MAX 0x7fffffffu       /* longest message with a 4-byte length */
#define DEFAULT_MAX_MESSAGE (1UL << 30)

struct mp_conn {
	int fd;
	bool readable, writable;
	bool is_socket;        /* send(MSG_NOSIGNAL) works; on a pipe, SIGPIPE must be held off */
	bool broken;           /* a message was cut short: the stream is out of step */
	double timeout;        /* for each send and receive; negative for none */
	size_t max_message;
	unsigned char *kept;   /* NULL, or a message too long for mp_conn_recv_bytes_into()'s buffer */
	size_t kept_len;       /* its length */
};

int mp_conn_from_fd(mp_conn **out, int fd, bool readable, bool writable)
{
	if (!out || fd < 0 || (!readable && !writable))
		return -EINVAL;
	mp_conn *c = mp__fault("calloc") ? NULL : calloc(1, sizeof *c);
	if (!c)
		return -ENOMEM;
	struct stat st;
	c->fd = fd;
	c->readable = readable;
	c->writable = writable;
	c->is_socket = fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
	c->timeout = MP_FOREVER;
	c->max_message = DEFAULT_MAX_MESSAGE;
	*out = c;
	return 0;
}

int mp_pipe(mp_conn **a, mp_conn **b, bool duplex)
{
	if (!a || !b)
		return -EINVAL;
	int fds[2];
	bool failed = duplex ? mp__fault("socketpair") || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0
			     : mp__fault("pipe2") || pipe2(fds, O_CLOEXEC) < 0;
	if (failed)
		return -errno;
	/* A pipe's fds[0] is its read end: Python's Pipe(False) returns (reader, writer) too. */
	mp_conn *first, *second;
	int rc = mp_conn_from_fd(&first, fds[0], true, duplex);
	if (rc < 0) {
		close(fds[0]);
		close(fds[1]);
		return rc;
	}
	if ((rc = mp_conn_from_fd(&second, fds[1], duplex, true)) < 0) {
		mp_conn_free(first); /* which closes fds[0] */
		close(fds[1]);
		return rc;
	}
	*a = first;
	*b = second;
	return 0;
}

void mp_conn_free(mp_conn *c)
{
	if (!c)
		return;
	close(c->fd);
	free(c->kept);
	free(c);
}

int mp_conn_fileno(const mp_conn *c)
{
	return c ? c->fd : -EINVAL;
}

int mp_conn_set_timeout(mp_conn *c, double seconds)
{
	if (!c || isnan(seconds))
		return -EINVAL;
	c->timeout = seconds;
	return 0;
}

int mp_conn_set_max_message(mp_conn *c, size_t bytes)
{
	if (!c || bytes == 0)
		return -EINVAL;
	c->max_message = bytes;
	return 0;
}

/* Sleep until @fd reports @events or the deadline passes: 0, MP_ETIMEDOUT or -errno. */
static int wait_for(int fd, short events, const struct mp__deadline *d)
{
	/* With no deadline the read or write itself blocks: one system call, not two. */
	return d->forever ? MP_OK : mp__deadline_wait_fd(fd, events, d);
}

/*
 * writev() that never raises SIGPIPE: a peer that went away is an error to
 * return (-EPIPE), not a reason to kill the whole program. A socket says so
 * with MSG_NOSIGNAL; for a pipe, block SIGPIPE around the write and take back
 * the signal it left pending.
 */
static ssize_t write_quietly(mp_conn *c, const struct iovec *iov, int n, bool dontwait)
{
	if (c->is_socket) {
		struct msghdr msg = { .msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)n };
		return mp__fault("sendmsg") ? -1 : sendmsg(c->fd, &msg, MSG_NOSIGNAL | (dontwait ? MSG_DONTWAIT : 0));
	}
	/*
	 * A pipe has no per-call MSG_DONTWAIT. But once poll() says it is
	 * writable, it has room for PIPE_BUF bytes: write no more than that, and
	 * the write cannot block past the deadline.
	 */
	struct iovec part[3];
	if (dontwait) {
		size_t room = PIPE_BUF;
		int k = 0;
		for (; k < n && room > 0; k++) { /* n is at most 3: a header of one or two parts, a payload */
			part[k] = iov[k];
			if (part[k].iov_len > room)
				part[k].iov_len = room;
			room -= part[k].iov_len;
		}
		iov = part;
		n = k;
	}
	sigset_t pipe_only, old;
	sigemptyset(&pipe_only);
	sigaddset(&pipe_only, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_only, &old);
	ssize_t done = mp__fault("writev") ? -1 : writev(c->fd, iov, n);
	if (done < 0 && errno == EPIPE) {
		/* The SIGPIPE is pending, so this returns at once: a zero timeout cannot be interrupted. */
		static const struct timespec no_wait; /* zero */
		int err = errno;
		sigtimedwait(&pipe_only, NULL, &no_wait);
		errno = err;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return done;
}

/*
 * Write every byte of @iov (whose entries it advances as they go out), waiting
 * for room until the deadline. Returns 0, MP_ETIMEDOUT or -errno; *sent says
 * how many bytes went out, on failure too.
 */
static int write_all(mp_conn *c, struct iovec *iov, int n, size_t *sent, const struct mp__deadline *d)
{
	*sent = 0;
	while (n > 0) {
		int rc = wait_for(c->fd, POLLOUT, d);
		if (rc < 0)
			return rc;
		ssize_t done = write_quietly(c, iov, n, !d->forever);
		if (done < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (done < 0)
			return -errno;
		*sent += (size_t)done;
		while (n > 0 && (size_t)done >= iov->iov_len) {
			done -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + done;
			iov->iov_len -= (size_t)done;
		}
	}
	return 0;
}

/*
 * Read exactly @len bytes, waiting until the deadline. Returns 0, MP_EEOF if
 * the stream ended before the first byte, MP_EBADMSG if it ended after it,
 * MP_ETIMEDOUT, or -errno; *got says how many bytes arrived.
 */
static int read_all(mp_conn *c, void *buf, size_t len, size_t *got, const struct mp__deadline *d)
{
	*got = 0;
	while (*got < len) {
		int rc = wait_for(c->fd, POLLIN, d);
		if (rc < 0)
			return rc;
		ssize_t n = mp__fault("read") ? -1 : read(c->fd, (char *)buf + *got, len - *got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return *got == 0 ? MP_EEOF : MP_EBADMSG;
		*got += (size_t)n;
	}
	return 0;
}

/*
 * An error once @moved bytes of a frame went through leaves the stream out of
 * step for good (a bad header too: its 4 bytes are gone). Returns @rc.
 */
static int fail(mp_conn *c, int rc, size_t moved)
{
	if (moved > 0)
		c->broken = true;
	return rc;
}

int mp_conn_send_bytes(mp_conn *c, const void *buf, size_t len)
{
	if (!c || (!buf && len > 0))
		return -EINVAL;
	if (!c->writable)
		return -EBADF;
	if (c->broken)
		return MP_EBROKEN;
	struct mp__deadline d;
	mp__deadline_start(&d, c->timeout);

	/* TODO: your code goes here.
	 * Hint: the frame is a 4-byte big-endian length (htobe32), or for a
	 * length above SMALL_MAX the 4 bytes of -1 and then an 8-byte length
	 * (htobe64). Send the header and the bytes with one write_all() of two
	 * or three iovecs (an empty payload is an iovec of length 0): one
	 * system call, and no small packet of its own for the header. If it fails
	 * after some bytes went out (write_all() says how many), the peer is
	 * out of step: fail() marks the connection broken.
	 * Lesson 03, "Framing a stream".
	 */
	return MP_ETODO;
}

/*
 * Read the next frame's header and check its length. Returns 0 with *len
 * set, MP_EEOF between messages, or an error (the stream is then broken).
 */
static int read_header(mp_conn *c, size_t *len, const struct mp__deadline *d)
{
	/* TODO: your code goes here.
	 * Hint: read 4 bytes with read_all(); be32toh() them into a signed
	 * value. -1 means 8 more bytes of length follow (end-of-file among
	 * them is MP_EBADMSG, not MP_EEOF). Any other negative length is
	 * MP_EBADMSG; one above c->max_message is -EMSGSIZE, and so is
	 * SIZE_MAX, for which the caller's len + 1 would wrap to 0. Refuse
	 * before you allocate anything. Return every error through fail(),
	 * with the bytes of the frame read so far.
	 * Lesson 03, "Bad bytes from a peer".
	 */
	return MP_ETODO;
}

/* Read a message's @len bytes, after its header. */
static int read_body(mp_conn *c, void *buf, size_t len, const struct mp__deadline *d)
{
	size_t got;
	int rc = read_all(c, buf, len, &got, d);
	if (rc == MP_EEOF)
		rc = MP_EBADMSG; /* the header promised bytes that never came */
	return rc < 0 ? fail(c, rc, 1) : 0;
}

/*
 * Read a message's @len bytes into memory of its own, with a NUL after them.
 * A header is only a promise: the buffer grows (doubling, from 1 MiB) as the
 * bytes come, so a peer that announces a gigabyte and sends ten bytes costs a
 * megabyte, not a gigabyte of address space.
 */
static int read_body_to_heap(mp_conn *c, size_t len, unsigned char **out, const struct mp__deadline *d)
{
	enum { FIRST_ROOM = 1 << 20 };
	unsigned char *buf = NULL;
	size_t have = 0;
	do {
		size_t room = have ? 2 * have : FIRST_ROOM;
		if (room > len)
			room = len;
		/* Through the seam, so that a test can see -ENOMEM break the connection. */
		unsigned char *bigger = mp__fault(buf ? "realloc" : "malloc") ? NULL : realloc(buf, room + 1);
		if (!bigger) {
			free(buf);
			return fail(c, -ENOMEM, 1);
		}
		buf = bigger;
		int rc = read_body(c, buf + have, room - have, d);
		if (rc < 0) {
			free(buf);
			return rc;
		}
		have = room;
	} while (have < len);
	buf[len] = '\0';
	*out = buf;
	return 0;
}

/*
 * Receive the next message from the stream, the one path every receive takes.
 * A message of at most @cap bytes goes into @into; a longer one (any, when
 * @into is NULL) into memory from malloc() with a NUL after it, which *heap
 * receives (else NULL). *len receives the length.
 */
static int read_message(mp_conn *c, void *into, size_t cap, unsigned char **heap, size_t *len)
{
	struct mp__deadline d;
	mp__deadline_start(&d, c->timeout);
	size_t n;
	int rc = read_header(c, &n, &d);
	if (rc < 0)
		return rc;
	*heap = NULL;
	rc = !into || n > cap ? read_body_to_heap(c, n, heap, &d) : read_body(c, into, n, &d);
	if (rc < 0)
		return rc;
	*len = n;
	return 0;
}

/* Forget the kept message, if any. */
static void drop_kept(mp_conn *c)
{
	free(c->kept);
	c->kept = NULL;
}

static int check_readable(const mp_conn *c)
{
	if (!c)
		return -EINVAL;
	if (!c->readable)
		return -EBADF;
	return c->broken ? MP_EBROKEN : 0;
}

int mp_conn_recv_bytes(mp_conn *c, void **buf, size_t *len)
{
	int rc = check_readable(c);
	if (rc < 0)
		return rc;
	if (!buf || !len)
		return -EINVAL;
	unsigned char *m = c->kept; /* a kept message comes first; the caller now owns it */
	size_t n = c->kept_len;
	c->kept = NULL;
	if (!m && (rc = read_message(c, NULL, 0, &m, &n)) < 0)
		return rc;
	*buf = m;
	*len = n;
	return 0;
}

int mp_conn_recv_bytes_into(mp_conn *c, void *buf, size_t cap, size_t *len)
{
	int rc = check_readable(c);
	if (rc < 0)
		return rc;
	if ((!buf && cap > 0) || !len)
		return -EINVAL;
	/* TODO: your code goes here.
	 * Hint: a message kept from before comes first (c->kept). Else
	 * read_message() puts a message that fits straight into buf; one that
	 * does not comes back from malloc(), and becomes c->kept, so that it
	 * is not lost. A kept message that does not fit (not even now) is
	 * -ENOBUFS, *len telling the size needed, and stays kept; one that fits
	 * is copied out and dropped (drop_kept()).
	 * Lesson 03, "Receiving into your own buffer".
	 */
	return MP_ETODO;
}

/*
 * The typed helpers put numbers on the wire in network byte order, so a
 * Python peer reads them with struct.unpack("!q") and struct.unpack("!d").
 */
int mp_conn_send_int(mp_conn *c, int64_t value)
{
	uint64_t wire = htobe64((uint64_t)value);
	return mp_conn_send_bytes(c, &wire, sizeof wire);
}

int mp_conn_send_double(mp_conn *c, double value)
{
	uint64_t bits;
	memcpy(&bits, &value, sizeof bits);
	bits = htobe64(bits);
	return mp_conn_send_bytes(c, &bits, sizeof bits);
}

int mp_conn_send_str(mp_conn *c, const char *s)
{
	return s ? mp_conn_send_bytes(c, s, strlen(s)) : -EINVAL;
}

/* Receive exactly 8 bytes, in network byte order. @bits is the caller's own variable, never NULL. */
static int recv_eight(mp_conn *c, uint64_t *bits)
{
	unsigned char buf[8];
	size_t len;
	int rc = mp_conn_recv_bytes_into(c, buf, sizeof buf, &len);
	if (rc == -ENOBUFS) {
		drop_kept(c); /* not what was asked for: drop it, as a wrong type is dropped */
		return MP_ETYPE;
	}
	if (rc < 0)
		return rc;
	if (len != sizeof buf)
		return MP_ETYPE;
	memcpy(bits, buf, sizeof buf);
	*bits = be64toh(*bits);
	return 0;
}

int mp_conn_recv_int(mp_conn *c, int64_t *value)
{
	uint64_t bits;
	int rc = value ? recv_eight(c, &bits) : -EINVAL;
	if (rc == 0)
		*value = (int64_t)bits;
	return rc;
}

int mp_conn_recv_double(mp_conn *c, double *value)
{
	uint64_t bits;
	int rc = value ? recv_eight(c, &bits) : -EINVAL;
	if (rc == 0)
		memcpy(value, &bits, sizeof bits);
	return rc;
}

int mp_conn_recv_str(mp_conn *c, char **s)
{
	size_t len;
	return s ? mp_conn_recv_bytes(c, (void **)s, &len) : -EINVAL;
}

size_t mp__conn_max_message(const mp_conn *c)
{
	return c->max_message;
}

bool mp__conn_ready_now(const mp_conn *c)
{
	return c->kept != NULL || c->broken;
}

bool mp__conn_message_waiting(const mp_conn *c, size_t cap)
{
	enum { PEEK_MAX = 1024, LONG_HEADER = 4 + 8 };
	unsigned char buf[LONG_HEADER + PEEK_MAX];
	if (c->broken)
		return true; /* a receive fails at once */
	if (cap > PEEK_MAX)
		cap = PEEK_MAX;
	ssize_t n = recv(c->fd, buf, LONG_HEADER + cap, MSG_PEEK | MSG_DONTWAIT);
	if (n < 0)
		return errno != EAGAIN && errno != EINTR; /* an error: the receive reports it at once */
	if (n == 0)
		return true; /* end-of-file */
	size_t got = (size_t)n, header = 4;
	if (got < header)
		return false;
	uint32_t small;
	memcpy(&small, buf, sizeof small);
	int32_t marker = (int32_t)be32toh(small);
	uint64_t len = (uint64_t)marker;
	if (marker == -1) {
		/* The long form: the length is in the 8 bytes after the -1, which may not all be here yet. */
		header = LONG_HEADER;
		if (got < header)
			return false;
		uint64_t large;
		memcpy(&large, buf + 4, sizeof large);
		len = be64toh(large);
	} else if (marker < 0) {
		return true; /* a bad length: refused at once */
	}
	return len > cap || got >= header + len;
}

int mp_conn_poll(mp_conn *c, double timeout)
{
	int rc = check_readable(c);
	if (rc == MP_EBROKEN)
		return 1; /* a receive will not wait: it fails at once */
	if (rc < 0)
		return rc;
	struct mp_wait_item item = { .conn = c };
	return mp_wait(&item, 1, timeout);
}
