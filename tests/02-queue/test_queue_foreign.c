/*
 * test_queue_foreign.c: stage 02, a queue that trusts nothing it receives.
 *
 * Any process that holds the queue can write any bytes into it, by mistake or
 * on purpose. These tests play that process: they find the queue's write end
 * among the descriptors mp_queue_new() opened and send, with raw sendmsg(),
 * messages that no put would make. Each must be refused with MP_EBADMSG,
 * with any descriptor that came with it closed, and the queue must go on.
 *
 * Unlike the other tests of this stage, these know the design of today's
 * queue (one SOCK_SEQPACKET socket, a 16-byte header, large payloads in a
 * sealed memfd; lesson 02, "Framing: a header, and a memfd for large
 * messages"). A queue built another way needs its own hostile peer.
 */
#define _GNU_SOURCE
#include "mp_test.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define MP_LESSON "lessons/02-queue.md"

/* The header of lesson 02, "Framing: a header, and a memfd for large messages". */
struct wire {
	uint32_t magic;
	uint8_t kind;      /* 1 inline, 2 in a memfd */
	uint8_t type;      /* 0 bytes, 1 int, 2 double, 3 string */
	uint16_t reserved;
	uint64_t len;
};

#define MAGIC 0x3151504du
#define INLINE 1
#define IN_MEMFD 2
#define INLINE_MAX (64 * 1024)

/* A new queue, and its write end, found as the descriptor it opened that is not its fileno. */
static mp_queue *queue_and_write_end(int *wr)
{
	bool before[1024];
	for (int fd = 0; fd < 1024; fd++)
		before[fd] = fcntl(fd, F_GETFD) >= 0;
	mp_queue *q = NULL;
	mp_expect_status(mp_queue_new(&q, 0), 0);
	*wr = -1;
	for (int fd = 0; fd < 1024; fd++) {
		struct stat st;
		if (!before[fd] && fd != mp_queue_fileno(q) && fcntl(fd, F_GETFD) >= 0 && fstat(fd, &st) == 0 &&
		    S_ISSOCK(st.st_mode))
			*wr = fd;
	}
	cr_assert(*wr >= 0, "cannot find the queue's write end (this test knows the socket design of lesson 02)");
	return q;
}

/* sendmsg() @len bytes, with @nfds descriptors attached (SCM_RIGHTS). */
static void send_raw(int wr, const void *bytes, size_t len, const int *fds, int nfds)
{
	struct iovec iov = { .iov_base = (void *)bytes, .iov_len = len };
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(2 * sizeof(int))];
	} control;
	memset(&control, 0, sizeof control);
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (nfds > 0) {
		msg.msg_control = control.buf;
		msg.msg_controllen = CMSG_SPACE((size_t)nfds * sizeof(int));
		struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN((size_t)nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, (size_t)nfds * sizeof(int));
	}
	cr_assert(sendmsg(wr, &msg, MSG_NOSIGNAL) == (ssize_t)len, "raw sendmsg: %s", strerror(errno));
}

/* A header of @kind and @type announcing @len bytes, followed by @extra payload bytes. */
static void send_header(int wr, uint32_t magic, int kind, int type, int reserved, uint64_t len, size_t extra,
			const int *fds, int nfds)
{
	size_t size = sizeof(struct wire) + extra;
	unsigned char *buf = calloc(1, size);
	cr_assert(buf);
	struct wire h = { .magic = magic, .kind = (uint8_t)kind, .type = (uint8_t)type,
			  .reserved = (uint16_t)reserved, .len = len };
	memcpy(buf, &h, sizeof h);
	for (size_t i = 0; i < extra; i++)
		buf[sizeof h + i] = (unsigned char)i;
	send_raw(wr, buf, size, fds, nfds);
	free(buf);
}

/* A memfd holding @size bytes, sealed with @seals. */
static int memfd_of(size_t size, int seals)
{
	int fd = memfd_create("hostile", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	cr_assert(fd >= 0, "memfd_create: %s", strerror(errno));
	cr_assert(ftruncate(fd, (off_t)size) == 0);
	if (seals)
		cr_assert(fcntl(fd, F_ADD_SEALS, seals) == 0, "F_ADD_SEALS: %s", strerror(errno));
	return fd;
}

static void expect_refused(mp_queue *q, const char *what)
{
	void *m = NULL;
	size_t n = 0;
	int rc = mp_queue_get(q, &m, &n, 1);
	free(m);
	cr_assert(rc == MP_EBADMSG, "a message with %s: get returned %s, expected MP_EBADMSG (and nothing "
		  "allocated, any descriptor closed)", what, mp_err_name(rc));
}

#define ALL_SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

MP_TEST(queue, foreign_inline_messages_are_refused, 3, "Getting: one recvmsg(), then trust nothing")
{
	int wr;
	mp_queue *q = queue_and_write_end(&wr);
	/* A well-formed message made by hand comes through: the refusals below are for their faults. */
	int64_t seven = 7, v = 0;
	{
		unsigned char buf[sizeof(struct wire) + 8];
		struct wire h = { .magic = MAGIC, .kind = INLINE, .type = 1, .len = 8 };
		memcpy(buf, &h, sizeof h);
		memcpy(buf + sizeof h, &seven, 8);
		send_raw(wr, buf, sizeof buf, NULL, 0);
		mp_expect_status(mp_queue_get_int(q, &v, 1), 0);
		cr_assert_eq(v, 7, "a hand-made integer message came out as %lld", (long long)v);
	}
	send_raw(wr, "abc", 3, NULL, 0);
	expect_refused(q, "3 bytes, shorter than a header");
	send_header(wr, MAGIC + 1, INLINE, 0, 0, 4, 4, NULL, 0);
	expect_refused(q, "a wrong magic number");
	send_header(wr, MAGIC, INLINE, 0, 1, 4, 4, NULL, 0);
	expect_refused(q, "a reserved field that is not 0");
	send_header(wr, MAGIC, INLINE, 4, 0, 4, 4, NULL, 0);
	expect_refused(q, "a type that does not exist (4)");
	send_header(wr, MAGIC, 0, 0, 0, 4, 4, NULL, 0);
	expect_refused(q, "a kind that does not exist (0)");
	send_header(wr, MAGIC, 3, 0, 0, 4, 4, NULL, 0);
	expect_refused(q, "a kind that does not exist (3)");
	send_header(wr, MAGIC, INLINE, 0, 0, 5, 4, NULL, 0);
	expect_refused(q, "an inline length of 5 and 4 bytes");
	send_header(wr, MAGIC, INLINE, 0, 0, 3, 4, NULL, 0);
	expect_refused(q, "an inline length of 3 and 4 bytes");
	send_header(wr, MAGIC, INLINE, 0, 0, UINT64_MAX, 4, NULL, 0);
	expect_refused(q, "an inline length of 2^64 - 1");
	int fds[2];
	mp_test_pipe(fds);
	send_header(wr, MAGIC, INLINE, 0, 0, 4, 4, fds, 1);
	close(fds[0]);
	close(fds[1]);
	expect_refused(q, "an inline payload and a descriptor it should not have");
	send_header(wr, MAGIC, INLINE, 0, 0, INLINE_MAX + 1, INLINE_MAX + 1, NULL, 0);
	expect_refused(q, "more bytes than a get's buffer holds (cut short, MSG_TRUNC)");
	mp_expect_status(mp_queue_put_int(q, 42, 0), 0);
	mp_expect_status(mp_queue_get_int(q, &v, 1), 0);
	cr_assert_eq(v, 42, "after refusing foreign messages the queue goes on");
	mp_queue_free(q);
}

MP_TEST(queue, foreign_memfd_messages_are_refused, 3, "Getting: one recvmsg(), then trust nothing")
{
	int wr;
	mp_queue *q = queue_and_write_end(&wr);
	enum { SIZE = 100000 };
	/* A well-formed one, by hand, comes through. */
	int good = memfd_of(SIZE, ALL_SEALS);
	send_header(wr, MAGIC, IN_MEMFD, 0, 0, SIZE, 0, &good, 1);
	close(good);
	void *m = NULL;
	size_t n = 0;
	mp_expect_status(mp_queue_get(q, &m, &n, 1), 0);
	cr_assert_eq(n, SIZE, "a hand-made memfd message came out as %zu bytes", n);
	free(m);

	send_header(wr, MAGIC, IN_MEMFD, 0, 0, SIZE, 0, NULL, 0);
	expect_refused(q, "a memfd kind but no descriptor");
	int fd = memfd_of(SIZE, 0);
	send_header(wr, MAGIC, IN_MEMFD, 0, 0, SIZE, 0, &fd, 1);
	close(fd);
	expect_refused(q, "a memfd that is not sealed (its producer could still change it)");
	fd = memfd_of(SIZE, F_SEAL_SHRINK | F_SEAL_GROW);
	send_header(wr, MAGIC, IN_MEMFD, 0, 0, SIZE, 0, &fd, 1);
	close(fd);
	expect_refused(q, "a memfd still writable (no F_SEAL_WRITE)");
	fd = memfd_of(SIZE, F_SEAL_SHRINK | F_SEAL_WRITE);
	send_header(wr, MAGIC, IN_MEMFD, 0, 0, SIZE, 0, &fd, 1);
	close(fd);
	expect_refused(q, "a memfd that may still grow (no F_SEAL_GROW)");
	fd = memfd_of(SIZE, ALL_SEALS);
	send_header(wr, MAGIC, IN_MEMFD, 0, 0, SIZE + 1, 0, &fd, 1);
	close(fd);
	expect_refused(q, "a memfd shorter than announced");
	fd = memfd_of(SIZE, ALL_SEALS);
	send_header(wr, MAGIC, IN_MEMFD, 0, 0, SIZE - 1, 0, &fd, 1);
	close(fd);
	expect_refused(q, "a memfd longer than announced");
	fd = memfd_of(SIZE, ALL_SEALS);
	send_header(wr, MAGIC, IN_MEMFD, 0, 0, SIZE, 1, &fd, 1);
	close(fd);
	expect_refused(q, "a memfd header followed by inline bytes");
	int pipe_fds[2];
	mp_test_pipe(pipe_fds);
	send_header(wr, MAGIC, IN_MEMFD, 0, 0, 0, 0, pipe_fds, 1);
	close(pipe_fds[0]);
	close(pipe_fds[1]);
	expect_refused(q, "a pipe where a memfd should be (it has no seals)");
	int two[2] = { memfd_of(SIZE, ALL_SEALS), memfd_of(SIZE, ALL_SEALS) };
	send_header(wr, MAGIC, IN_MEMFD, 0, 0, SIZE, 0, two, 2);
	close(two[0]);
	close(two[1]);
	expect_refused(q, "two descriptors (cut short, MSG_CTRUNC)");
	fd = memfd_of(SIZE, ALL_SEALS);
	send_header(wr, MAGIC, IN_MEMFD, 5, 0, SIZE, 0, &fd, 1);
	close(fd);
	expect_refused(q, "a memfd and a type that does not exist (5)");
	/* Every descriptor that came with a refused message was closed: the check after the test counts them. */
	int64_t v = 0;
	mp_expect_status(mp_queue_put_int(q, 42, 0), 0);
	mp_expect_status(mp_queue_get_int(q, &v, 1), 0);
	cr_assert_eq(v, 42, "after refusing foreign messages the queue goes on");
	mp_queue_free(q);
}
