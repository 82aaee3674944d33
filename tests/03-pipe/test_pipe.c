/* test_pipe.c: stage 03, Pipe, Connection, wait, Listener and Client, down to the bytes CPython sends. */
#define _GNU_SOURCE
#include "mp_test.h"

#include <mp/fault.h>

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MP_LESSON "lessons/03-pipe.md"

static const char key[] = "course-key";

/* ------------------------------------------------------------------------- */
/* Children: they never assert; they report through their exit status. */

struct peer {
	mp_conn *conn;      /* the child's end */
	mp_conn *other;     /* the parent's end, which the child must close */
	char address[256];  /* for a client */
	char key[32];       /* "" for no key */
	int count;
	size_t size;
	double delay;       /* seconds to wait before talking */
	mp_listener *listener; /* for a child that accepts (it must not free it: that would remove the path) */
};

static void nap(double seconds)
{
	struct timespec t = { (time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9) };
	while (nanosleep(&t, &t) < 0 && errno == EINTR)
		;
}

/* Echo every message back until end-of-file, p->delay seconds after each arrives; exit 0 on a clean end. */
MP_TARGET(echo)(const void *arg, size_t len)
{
	(void)len;
	const struct peer *p = arg;
	mp_conn_free(p->other);
	for (;;) {
		void *m;
		size_t n;
		nap(p->delay);
		int rc = mp_conn_recv_bytes(p->conn, &m, &n);
		if (rc == MP_EEOF)
			return 0;
		if (rc < 0)
			return 10;
		rc = mp_conn_send_bytes(p->conn, m, n);
		free(m);
		if (rc < 0)
			return 11;
	}
}

/* Receive until end-of-file and exit with how many messages came (at most 200). */
MP_TARGET(count_until_eof)(const void *arg, size_t len)
{
	(void)len;
	const struct peer *p = arg;
	mp_conn_free(p->other); /* else our copy of the write end keeps end-of-file away */
	int n = 0;
	void *m;
	size_t size;
	while (mp_conn_recv_bytes(p->conn, &m, &size) == 0) {
		free(m);
		n++;
	}
	return n > 200 ? 200 : n;
}

/* Send p->count messages of growing sizes, then close. */
MP_TARGET(send_many)(const void *arg, size_t len)
{
	(void)len;
	const struct peer *p = arg;
	mp_conn_free(p->other);
	unsigned char *buf = malloc(70000);
	if (!buf)
		return 1;
	for (int i = 0; i < p->count; i++) {
		size_t size = (size_t)(i * 997) % 70000;
		memset(buf, i & 0xff, size);
		if (mp_conn_send_bytes(p->conn, buf, size) < 0)
			return 2;
	}
	free(buf);
	return 0;
}

/*
 * Connect to p->address (with p->key if set), wait p->delay seconds, say
 * hello, expect an echo. A TCP connection must have Nagle's algorithm off.
 */
MP_TARGET(client_hello)(const void *arg, size_t len)
{
	(void)len;
	const struct peer *p = arg;
	mp_conn *c;
	int rc = mp_client(&c, p->address, p->key[0] ? p->key : NULL, strlen(p->key), 5);
	if (rc == MP_EAUTH)
		return 20;
	if (rc < 0)
		return 21;
	int nodelay = 0;
	socklen_t optlen = sizeof nodelay;
	bool tcp = strchr(p->address, '/') == NULL && strncmp(p->address, "unix:", 5) != 0;
	if (tcp &&
	    (getsockopt(mp_conn_fileno(c), IPPROTO_TCP, TCP_NODELAY, &nodelay, &optlen) < 0 || !nodelay))
		return 23;
	if (fcntl(mp_conn_fileno(c), F_GETFL) & O_NONBLOCK)
		return 24;
	nap(p->delay);
	char *s = NULL;
	int ok = mp_conn_send_str(c, "hello") == 0 && mp_conn_recv_str(c, &s) == 0 && strcmp(s, "HELLO") == 0;
	free(s);
	/* Then a message longer than any of the handshake, echoed, and we wait for the server to hang up first. */
	void *m = NULL;
	size_t n = 0;
	ok = ok && mp_conn_recv_bytes(c, &m, &n) == 0 && n == 1000 && mp_conn_send_bytes(c, m, n) == 0 &&
	     mp_conn_recv_bytes(c, &m, &n) == MP_EEOF;
	free(m);
	mp_conn_free(c);
	return ok ? 0 : 22;
}

/*
 * Accept one client on p->listener; exit 0 after serving it hello (HELLO
 * going back p->delay seconds later), 20 for MP_EAUTH, 21 for anything else.
 */
MP_TARGET(accept_one)(const void *arg, size_t len)
{
	(void)len;
	const struct peer *p = arg;
	mp_conn *c = NULL;
	int rc = mp_listener_accept(p->listener, &c, 5);
	if (rc == MP_EAUTH)
		return 20;
	char *s = NULL;
	int ok = rc == 0 && mp_conn_recv_str(c, &s) == 0 && strcmp(s, "hello") == 0;
	nap(p->delay);
	ok = ok && mp_conn_send_str(c, "HELLO") == 0;
	free(s);
	mp_conn_free(c);
	return ok ? 0 : 21;
}

/* Connect without a key and then say nothing: a stalled client. */
MP_TARGET(client_stalls)(const void *arg, size_t len)
{
	(void)len;
	const struct peer *p = arg;
	mp_conn *c;
	if (mp_client(&c, p->address, NULL, 0, 5) < 0)
		return 1;
	sleep(3);
	mp_conn_free(c);
	return 0;
}

/* ------------------------------------------------------------------------- */
/* Helpers */

static void make_pipe(mp_conn **a, mp_conn **b, bool duplex)
{
	mp_expect_status(mp_pipe(a, b, duplex), 0);
	cr_assert(*a && *b);
}

/* A connection on one end of a socket pair, and the raw other end to play the peer with. */
static mp_conn *conn_with_raw_peer(int *raw)
{
	int sv[2];
	cr_assert(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	mp_conn *c = NULL;
	mp_expect_status(mp_conn_from_fd(&c, sv[0], true, true), 0);
	*raw = sv[1];
	return c;
}

static void raw_write(int fd, const void *buf, size_t len)
{
	cr_assert(write(fd, buf, len) == (ssize_t)len, "raw write: %s", strerror(errno));
}

static mp_process *start(const char *target, const struct peer *p)
{
	mp_process *proc = NULL;
	mp_expect_status(mp_process_new(&proc, target, p, sizeof *p), 0);
	mp_expect_status(mp_process_start(proc), 0);
	return proc;
}

static int finish(mp_process *p)
{
	int code = -1000;
	int rc = mp_process_join(p, 20);
	cr_assert(rc == 0, "a child did not end within 20 s (%s)", mp_err_name(rc));
	mp_process_exitcode(p, &code);
	mp_process_free(p);
	return code;
}

static void expect_bytes(mp_conn *c, const void *want, size_t len)
{
	void *m = NULL;
	size_t n = 0;
	mp_expect_status(mp_conn_recv_bytes(c, &m, &n), 0);
	cr_assert_eq(n, len, "got %zu bytes, expected %zu", n, len);
	cr_assert(len == 0 || memcmp(m, want, len) == 0, "the bytes changed on the way");
	free(m);
}

/* Answer one client: expect "hello", send "HELLO". */
static void serve_hello(mp_conn *c)
{
	char *s = NULL;
	mp_expect_status(mp_conn_recv_str(c, &s), 0);
	cr_assert_str_eq(s, "hello");
	free(s);
	mp_expect_status(mp_conn_send_str(c, "HELLO"), 0);
}

/*
 * Serve a client_hello child: hello and HELLO, then 1000 bytes echoed (after
 * the handshake, neither side may still cap messages at its 256 bytes).
 */
static void serve_client(mp_conn *c)
{
	serve_hello(c);
	static char thousand[1000];
	memset(thousand, 'b', sizeof thousand);
	mp_expect_status(mp_conn_send_bytes(c, thousand, sizeof thousand), 0);
	expect_bytes(c, thousand, sizeof thousand);
}

/* ------------------------------------------------------------------------- */
/* Framing a stream */

MP_TEST(pipe, a_duplex_pipe_carries_messages_both_ways, 3, "Framing a stream")
{
	mp_conn *a, *b;
	make_pipe(&a, &b, true);
	mp_process *child = start("echo", &(struct peer){ .conn = b, .other = a });
	mp_conn_free(b);
	static unsigned char big[1 << 20];
	for (size_t i = 0; i < sizeof big; i++)
		big[i] = (unsigned char)(i * 13);
	static const size_t sizes[] = { 0, 1, 7, 4096, 65536, 1 << 20 };
	for (int i = 0; i < 6; i++) {
		mp_expect_status(mp_conn_send_bytes(a, big, sizes[i]), 0);
		expect_bytes(a, big, sizes[i]);
	}
	mp_conn_free(a);
	cr_assert_eq(finish(child), 0, "the echoing child should end cleanly at end-of-file");
}

MP_TEST(pipe, a_one_way_pipe_only_sends_from_its_writer, 1, "Duplex and one-way pipes")
{
	mp_conn *r, *w;
	make_pipe(&r, &w, false);
	mp_expect_status(mp_conn_send_str(r, "x"), -EBADF);
	char *s;
	mp_expect_status(mp_conn_recv_str(w, &s), -EBADF);
	mp_expect_status(mp_conn_send_str(w, "one way"), 0);
	mp_expect_status(mp_conn_recv_str(r, &s), 0);
	cr_assert_str_eq(s, "one way");
	free(s);
	mp_conn_free(r);
	mp_conn_free(w);
}

MP_TEST(pipe, messages_keep_their_boundaries, 2, "Framing a stream")
{
	mp_conn *r, *w;
	make_pipe(&r, &w, false);
	mp_process *child = start("send_many", &(struct peer){ .conn = w, .other = r, .count = 120 });
	mp_conn_free(w);
	for (int i = 0; i < 120; i++) {
		void *m;
		size_t n;
		mp_expect_status(mp_conn_recv_bytes(r, &m, &n), 0);
		size_t want = (size_t)(i * 997) % 70000;
		cr_assert_eq(n, want, "message %d: got %zu bytes, expected %zu", i, n, want);
		for (size_t k = 0; k < n; k++)
			cr_assert_eq(((unsigned char *)m)[k], i & 0xff, "message %d holds bytes of another", i);
		free(m);
	}
	mp_conn_free(r);
	cr_assert_eq(finish(child), 0);
}

MP_TEST(pipe, frames_are_the_bytes_cpython_sends, 3, "Framing a stream")
{
	int raw;
	mp_conn *c = conn_with_raw_peer(&raw);
	mp_expect_status(mp_conn_send_bytes(c, "abc", 3), 0);
	unsigned char got[7];
	cr_assert(mp_test_read(raw, got, sizeof got, 2));
	static const unsigned char want[] = { 0, 0, 0, 3, 'a', 'b', 'c' };
	cr_assert(memcmp(got, want, sizeof want) == 0,
		  "a message goes out as a 4-byte big-endian length, then its bytes");

	/* The long form, -1 and an 8-byte length, must be understood at any size. */
	static const unsigned char longform[] = { 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 2, 'h', 'i' };
	raw_write(raw, longform, sizeof longform);
	expect_bytes(c, "hi", 2);
	mp_conn_free(c);
	close(raw);
}

MP_TEST(pipe, typed_helpers_use_network_byte_order, 2, "Framing a stream")
{
	int raw;
	mp_conn *c = conn_with_raw_peer(&raw);
	mp_expect_status(mp_conn_send_int(c, 258), 0);
	unsigned char got[12];
	cr_assert(mp_test_read(raw, got, sizeof got, 2));
	static const unsigned char want[] = { 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 1, 2 };
	cr_assert(memcmp(got, want, sizeof want) == 0, "an int goes out as 8 bytes, big-endian (struct '!q')");

	mp_conn *a, *b;
	make_pipe(&a, &b, true);
	mp_expect_status(mp_conn_send_int(a, -5), 0);
	mp_expect_status(mp_conn_send_double(a, 0.125), 0);
	mp_expect_status(mp_conn_send_str(a, "text"), 0);
	mp_expect_status(mp_conn_send_bytes(a, "abc", 3), 0);
	int64_t i;
	double d;
	char *s;
	mp_expect_status(mp_conn_recv_int(b, &i), 0);
	cr_assert_eq(i, -5);
	mp_expect_status(mp_conn_recv_double(b, &d), 0);
	cr_assert(d == 0.125);
	mp_expect_status(mp_conn_recv_str(b, &s), 0);
	cr_assert_str_eq(s, "text");
	free(s);
	mp_expect_status(mp_conn_recv_int(b, &i), MP_ETYPE);
	mp_conn_free(a);
	mp_conn_free(b);
	mp_conn_free(c);
	close(raw);
}

/* ------------------------------------------------------------------------- */
/* Closing the unused ends: EOF and SIGPIPE */

MP_TEST(pipe, a_closed_peer_gives_end_of_file_after_the_last_message, 2, "Closing the unused ends: EOF and SIGPIPE")
{
	mp_conn *a, *b;
	make_pipe(&a, &b, true);
	mp_expect_status(mp_conn_send_str(a, "last words"), 0);
	mp_conn_free(a);
	char *s;
	mp_expect_status(mp_conn_recv_str(b, &s), 0);
	cr_assert_str_eq(s, "last words");
	free(s);
	mp_expect_status(mp_conn_recv_str(b, &s), MP_EEOF);
	mp_expect_status(mp_conn_poll(b, 0), 1); /* end-of-file is ready: a receive will not wait */
	mp_conn_free(b);
}

MP_TEST(pipe, sending_to_a_closed_peer_is_an_error_not_a_signal, 2, "Closing the unused ends: EOF and SIGPIPE")
{
	signal(SIGPIPE, SIG_DFL); /* so that a SIGPIPE would kill this test, and fail it */
	for (int duplex = 0; duplex < 2; duplex++) {
		mp_conn *r, *w;
		make_pipe(&r, &w, duplex);
		mp_conn_free(r);
		mp_expect_status(mp_conn_send_str(w, "anyone there?"), -EPIPE);
		mp_expect_status(mp_conn_send_str(w, "still?"), -EPIPE); /* nothing went out: not broken */
		sigset_t mask;
		pthread_sigmask(SIG_BLOCK, NULL, &mask);
		cr_assert(!sigismember(&mask, SIGPIPE), "a send must give the thread its signal mask back as it was");
		sigset_t pending;
		sigpending(&pending);
		cr_assert(!sigismember(&pending, SIGPIPE), "no SIGPIPE may be left pending");
		mp_conn_free(w);
	}
}

MP_TEST(pipe, a_child_sees_end_of_file_only_once_every_write_end_is_closed, 2, "Closing the unused ends: EOF and SIGPIPE")
{
	mp_conn *r, *w;
	make_pipe(&r, &w, false);
	mp_process *child = start("count_until_eof", &(struct peer){ .conn = r, .other = w });
	mp_conn_free(r);
	for (int i = 0; i < 3; i++)
		mp_expect_status(mp_conn_send_int(w, i), 0);
	mp_conn_free(w);
	cr_assert_eq(finish(child), 3, "the reader should count 3 messages, then see end-of-file");
}

/* ------------------------------------------------------------------------- */
/* Bad bytes from a peer */

MP_TEST(pipe, a_length_over_the_cap_is_refused_before_anything_is_allocated, 3, "Bad bytes from a peer")
{
	int raw;
	mp_conn *c = conn_with_raw_peer(&raw);
	mp_expect_status(mp_conn_set_max_message(c, 0), -EINVAL);
	mp_expect_status(mp_conn_set_max_message(c, 1000), 0);
	uint32_t header = htobe32(1001);
	raw_write(raw, &header, sizeof header);
	void *m;
	size_t n;
	mp_expect_status(mp_conn_recv_bytes(c, &m, &n), -EMSGSIZE);
	mp_expect_status(mp_conn_recv_bytes(c, &m, &n), MP_EBROKEN);
	mp_expect_status(mp_conn_send_str(c, "x"), MP_EBROKEN);
	mp_conn_free(c);
	close(raw);

	/* The long form with a length no machine has memory for. */
	c = conn_with_raw_peer(&raw);
	static const unsigned char huge[] = { 0xff, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	raw_write(raw, huge, sizeof huge);
	mp_expect_status(mp_conn_recv_bytes(c, &m, &n), -EMSGSIZE);
	mp_conn_free(c);
	close(raw);

	/* With no cap at all, the largest length there is must still be refused, not wrapped. */
	c = conn_with_raw_peer(&raw);
	mp_expect_status(mp_conn_set_max_message(c, SIZE_MAX), 0);
	static const unsigned char all_ones[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
						  0xff, 0xff, 0xff, 0xff, 'x' };
	raw_write(raw, all_ones, sizeof all_ones);
	shutdown(raw, SHUT_WR); /* a receiver that took the length would find end-of-file, not wait */
	mp_expect_status(mp_conn_recv_bytes(c, &m, &n), -EMSGSIZE);
	mp_conn_free(c);
	close(raw);
}

MP_TEST(pipe, a_negative_length_is_a_bad_message, 2, "Bad bytes from a peer")
{
	int raw;
	mp_conn *c = conn_with_raw_peer(&raw);
	uint32_t header = htobe32((uint32_t)-2);
	raw_write(raw, &header, sizeof header);
	char *s;
	mp_expect_status(mp_conn_recv_str(c, &s), MP_EBADMSG);
	mp_expect_status(mp_conn_recv_str(c, &s), MP_EBROKEN);
	mp_conn_free(c);
	close(raw);
}

MP_TEST(pipe, a_frame_cut_short_is_an_error_not_end_of_file, 2, "Bad bytes from a peer")
{
	int raw;
	mp_conn *c = conn_with_raw_peer(&raw);
	static const unsigned char cut[] = { 0, 0, 0, 10, 'o', 'n', 'l', 'y', '5' };
	raw_write(raw, cut, sizeof cut);
	close(raw);
	char *s;
	mp_expect_status(mp_conn_recv_str(c, &s), MP_EBADMSG);
	mp_conn_free(c);

	c = conn_with_raw_peer(&raw);
	raw_write(raw, cut, 2); /* half a header */
	close(raw);
	mp_expect_status(mp_conn_recv_str(c, &s), MP_EBADMSG);
	mp_conn_free(c);
}

MP_TEST(pipe, a_peer_that_stalls_mid_message_times_out, 2, "Bad bytes from a peer")
{
	int raw;
	mp_conn *c = conn_with_raw_peer(&raw);
	mp_expect_status(mp_conn_set_timeout(c, 0.2), 0);
	char *s;
	double t0 = mp_test_now();
	mp_expect_status(mp_conn_recv_str(c, &s), MP_ETIMEDOUT); /* nothing at all: still in step */
	mp_expect_status(mp_conn_send_str(c, "ok"), 0);
	static const unsigned char cut[] = { 0, 0, 0, 10, 'a', 'b' };
	raw_write(raw, cut, sizeof cut);
	mp_expect_status(mp_conn_recv_str(c, &s), MP_ETIMEDOUT);
	double took = mp_test_now() - t0;
	cr_assert(took >= 0.38 && took < 3, "two timeouts of 0.2 s took %.3f s", took);
	mp_expect_status(mp_conn_recv_str(c, &s), MP_EBROKEN); /* it stopped mid-message */
	mp_conn_free(c);
	close(raw);
}

/* ------------------------------------------------------------------------- */
/* Receiving into your own buffer */

MP_TEST(pipe, a_message_too_big_for_the_buffer_is_kept, 2, "Receiving into your own buffer")
{
	mp_conn *a, *b;
	make_pipe(&a, &b, true);
	char text[100];
	memset(text, 'x', sizeof text);
	mp_expect_status(mp_conn_send_bytes(a, text, sizeof text), 0);
	char small[10], large[200];
	size_t len = 0;
	mp_expect_status(mp_conn_recv_bytes_into(b, small, sizeof small, &len), -ENOBUFS);
	cr_assert_eq(len, sizeof text, "the answer must say how much room the message needs");
	mp_expect_status(mp_conn_poll(b, 0), 1);
	struct mp_wait_item item = { .conn = b };
	cr_assert_eq(mp_wait(&item, 1, 0), 1, "a kept message makes the connection ready for wait");
	mp_expect_status(mp_conn_recv_bytes_into(b, large, sizeof large, &len), 0);
	cr_assert(len == sizeof text && memcmp(large, text, len) == 0, "the kept message came out changed");
	mp_expect_status(mp_conn_poll(b, 0), 0);
	mp_conn_free(a);
	mp_conn_free(b);
}

/* ------------------------------------------------------------------------- */
/* Waiting on many things at once */

MP_TEST(pipe, poll_waits_for_a_message_up_to_the_timeout, 2, "Waiting on many things at once")
{
	mp_conn *a, *b;
	make_pipe(&a, &b, true);
	mp_expect_status(mp_conn_poll(b, 0), 0);
	double t0 = mp_test_now();
	mp_expect_status(mp_conn_poll(b, 0.2), 0);
	double took = mp_test_now() - t0;
	cr_assert(took >= 0.19 && took < 2, "poll(0.2) took %.3f s", took);
	mp_expect_status(mp_conn_send_int(a, 1), 0);
	mp_expect_status(mp_conn_poll(b, 5), 1);
	mp_conn_free(a);
	mp_conn_free(b);
}

MP_TEST(pipe, wait_reports_exactly_the_ready_items, 3, "Waiting on many things at once")
{
	mp_conn *a[3], *b[3];
	for (int i = 0; i < 3; i++)
		make_pipe(&a[i], &b[i], true);
	int fds[2];
	mp_test_pipe(fds);
	struct mp_wait_item items[4] = { { .conn = b[0] }, { .conn = b[1] }, { .conn = b[2] }, { .fd = fds[0] } };

	double t0 = mp_test_now();
	cr_assert_eq(mp_wait(items, 4, 0.2), 0, "nothing is ready: wait must time out");
	cr_assert(mp_test_now() - t0 >= 0.19, "wait(0.2) returned early");
	mp_expect_status(mp_conn_send_int(a[1], 7), 0);
	cr_assert_eq(mp_wait(items, 4, 5), 1);
	cr_assert(!items[0].ready && items[1].ready && !items[2].ready && !items[3].ready,
		  "only the connection with a message is ready");
	raw_write(fds[1], "!", 1);
	mp_conn_free(a[2]); /* end-of-file is ready too */
	cr_assert_eq(mp_wait(items, 4, 5), 3);
	cr_assert(!items[0].ready && items[1].ready && items[2].ready && items[3].ready);
	for (int i = 0; i < 3; i++) {
		if (i != 2)
			mp_conn_free(a[i]);
		mp_conn_free(b[i]);
	}
	close(fds[0]);
	close(fds[1]);
}

MP_TEST(pipe, wait_watches_process_sentinels, 1, "Waiting on many things at once")
{
	mp_conn *a, *b;
	make_pipe(&a, &b, true);
	mp_process *child = start("count_until_eof", &(struct peer){ .conn = b, .other = a });
	struct mp_wait_item items[2] = { { .conn = a }, { .fd = mp_process_sentinel(child) } };
	cr_assert_eq(mp_wait(items, 2, 0.1), 0);
	mp_conn_free(b);
	mp_conn_free(a); /* the child sees end-of-file and exits */
	items[0].conn = NULL;
	items[0].fd = -1; /* ignored, as poll() ignores it */
	cr_assert_eq(mp_wait(items, 2, 5), 1, "the child's end must make its sentinel ready");
	cr_assert(items[1].ready);
	cr_assert_eq(finish(child), 0);
}

/* ------------------------------------------------------------------------- */
/* Listeners and clients: paths and ports */

MP_TEST(pipe, a_unix_listener_serves_a_client_and_removes_its_file, 3, "Listeners and clients: paths and ports")
{
	mp_listener *l = NULL;
	mp_expect_status(mp_listener_new(&l, NULL, NULL, 0), 0);
	char path[256];
	snprintf(path, sizeof path, "%s", mp_listener_address(l));
	struct stat st;
	cr_assert(stat(path, &st) == 0 && S_ISSOCK(st.st_mode), "the listener should be a socket at %s", path);
	struct peer p = { 0 };
	snprintf(p.address, sizeof p.address, "%s", path);
	mp_process *child = start("client_hello", &p);
	mp_conn *c = NULL;
	mp_expect_status(mp_listener_accept(l, &c, 5), 0);
	serve_client(c);
	mp_conn_free(c);
	cr_assert_eq(finish(child), 0, "the client did not get its answer");
	mp_listener_free(l);
	cr_assert(stat(path, &st) < 0, "the socket file %s must go with its listener", path);
}

MP_TEST(pipe, a_tcp_listener_on_port_0_gets_a_real_port, 2, "Listeners and clients: paths and ports")
{
	mp_listener *l = NULL;
	mp_expect_status(mp_listener_new(&l, "127.0.0.1:0", NULL, 0), 0);
	const char *address = mp_listener_address(l);
	cr_assert(strncmp(address, "127.0.0.1:", 10) == 0 && atoi(address + 10) > 0,
		  "the address should name the port given by the kernel, got \"%s\"", address);
	struct peer p = { 0 };
	snprintf(p.address, sizeof p.address, "tcp:%s", address);
	mp_process *child = start("client_hello", &p);
	mp_conn *c = NULL;
	mp_expect_status(mp_listener_accept(l, &c, 5), 0);
	serve_client(c);
	mp_conn_free(c); /* before the client: this side's end of the connection waits in TIME_WAIT */
	cr_assert_eq(finish(child), 0);
	char again[64];
	snprintf(again, sizeof again, "%s", address);
	mp_listener_free(l);
	mp_expect_status(mp_listener_new(&l, again, NULL, 0), 0); /* SO_REUSEADDR: a restarted server gets its port */
	mp_listener_free(l);
}

MP_TEST(pipe, addresses_and_absent_listeners_give_clear_errors, 1, "Listeners and clients: paths and ports")
{
	mp_listener *l = NULL;
	mp_conn *c = NULL;
	static const char *const bad[] = { "", "localhost", "localhost:", ":80", "tcp:" };
	for (int i = 0; i < 5; i++)
		mp_expect_status(mp_listener_new(&l, bad[i], NULL, 0), -EINVAL);
	mp_expect_status(mp_client(&c, "/nonexistent/mp.sock", NULL, 0, 1), -ENOENT);
	mp_expect_status(mp_listener_new(&l, "127.0.0.1:0", NULL, 0), 0);
	char address[64];
	snprintf(address, sizeof address, "%s", mp_listener_address(l));
	mp_expect_status(mp_listener_accept(l, &c, 0.1), MP_ETIMEDOUT);
	mp_listener_free(l);
	mp_expect_status(mp_client(&c, address, NULL, 0, 1), -ECONNREFUSED);

	/* And a connection made the usual way still works. */
	mp_conn *a, *b;
	make_pipe(&a, &b, true);
	mp_expect_status(mp_conn_send_str(a, "fine"), 0);
	char *s;
	mp_expect_status(mp_conn_recv_str(b, &s), 0);
	free(s);
	mp_conn_free(a);
	mp_conn_free(b);
}

/* ------------------------------------------------------------------------- */
/* Authentication with a shared key */

MP_TEST(pipe, the_right_key_opens_the_connection_both_ways, 3, "Authentication with a shared key")
{
	mp_listener *l = NULL;
	mp_expect_status(mp_listener_new(&l, NULL, key, strlen(key)), 0);
	struct peer p = { 0 };
	snprintf(p.address, sizeof p.address, "%s", mp_listener_address(l));
	snprintf(p.key, sizeof p.key, "%s", key);
	mp_process *child = start("client_hello", &p);
	mp_conn *c = NULL;
	mp_expect_status(mp_listener_accept(l, &c, 5), 0);
	serve_client(c);
	mp_conn_free(c);
	cr_assert_eq(finish(child), 0, "the client with the right key should be welcomed (20 means MP_EAUTH)");
	mp_listener_free(l);
}

MP_TEST(pipe, a_wrong_key_is_refused_on_both_sides, 3, "Authentication with a shared key")
{
	mp_listener *l = NULL;
	mp_expect_status(mp_listener_new(&l, "127.0.0.1:0", key, strlen(key)), 0);
	struct peer p = { 0 };
	snprintf(p.address, sizeof p.address, "%s", mp_listener_address(l));
	snprintf(p.key, sizeof p.key, "not-the-key");
	mp_process *child = start("client_hello", &p);
	mp_conn *c = NULL;
	mp_expect_status(mp_listener_accept(l, &c, 5), MP_EAUTH);
	cr_assert_eq(finish(child), 20, "the client with a wrong key must get MP_EAUTH (exit 20)");

	snprintf(p.key, sizeof p.key, "%s", key); /* the listener serves on */
	child = start("client_hello", &p);
	mp_expect_status(mp_listener_accept(l, &c, 5), 0);
	serve_client(c);
	mp_conn_free(c);
	cr_assert_eq(finish(child), 0);

	/* The same, with the client here and the listener's accept in a child: both refuse, nothing leaks. */
	struct peer acceptor = { .listener = l };
	child = start("accept_one", &acceptor);
	c = NULL;
	mp_expect_status(mp_client(&c, mp_listener_address(l), "not-the-key", 11, 5), MP_EAUTH);
	cr_assert(c == NULL, "a refused client must leave its result alone");
	cr_assert_eq(finish(child), 20, "the accept in the child must say MP_EAUTH (exit 20)");
	child = start("accept_one", &acceptor);
	mp_expect_status(mp_client(&c, mp_listener_address(l), key, strlen(key), 5), 0);
	mp_expect_status(mp_conn_send_str(c, "hello"), 0);
	expect_bytes(c, "HELLO", 5);
	mp_conn_free(c);
	cr_assert_eq(finish(child), 0);
	mp_listener_free(l);
}

MP_TEST(pipe, a_client_that_stalls_in_the_handshake_is_dropped, 2, "Authentication with a shared key")
{
	mp_listener *l = NULL;
	mp_expect_status(mp_listener_new(&l, NULL, key, strlen(key)), 0);
	struct peer p = { 0 };
	snprintf(p.address, sizeof p.address, "%s", mp_listener_address(l));
	mp_process *staller = start("client_stalls", &p);
	mp_conn *c = NULL;
	double t0 = mp_test_now();
	mp_expect_status(mp_listener_accept(l, &c, 0.3), MP_ETIMEDOUT);
	cr_assert(mp_test_now() - t0 < 2, "a stalled handshake must end with the accept's timeout");
	snprintf(p.key, sizeof p.key, "%s", key);
	mp_process *good = start("client_hello", &p);
	mp_expect_status(mp_listener_accept(l, &c, 5), 0);
	serve_client(c);
	mp_conn_free(c);
	cr_assert_eq(finish(good), 0);
	mp_process_kill(staller);
	finish(staller);
	mp_listener_free(l);
}

/* ------------------------------------------------------------------------- */
/* A silent client holds up no other */

/* A client socket connected to the Unix listener @l, which then says nothing (or what the test writes). */
static int connect_silently(const mp_listener *l)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", mp_listener_address(l));
	cr_assert(fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof sun) == 0, "connect: %s", strerror(errno));
	return fd;
}

MP_TEST(pipe, silent_clients_hold_up_no_honest_one, 3, "A silent client holds up no other")
{
	/*
	 * Five clients connect and say nothing; a sixth sends half a message
	 * and stops. An honest client behind them all is accepted as soon as its
	 * handshake is done, and the accept does not spin meanwhile. (A listener
	 * that runs one handshake at a time waits out each silent one first.)
	 */
	mp_listener *l = NULL;
	mp_expect_status(mp_listener_new(&l, NULL, key, strlen(key)), 0);
	int silent[6];
	for (int i = 0; i < 6; i++)
		silent[i] = connect_silently(l);
	raw_write(silent[5], "\0\0", 2); /* half a length */
	struct peer p = { 0 };
	snprintf(p.address, sizeof p.address, "%s", mp_listener_address(l));
	snprintf(p.key, sizeof p.key, "%s", key);
	mp_conn *c = NULL;
	mp_expect_status(mp_listener_accept(l, &c, 0.3), MP_ETIMEDOUT); /* the silent ones come in */
	double cpu0 = mp_test_cpu_seconds(), t0 = mp_test_now();
	mp_expect_status(mp_listener_accept(l, &c, 0.5), MP_ETIMEDOUT);
	double cpu = mp_test_cpu_seconds() - cpu0;
	cr_assert(cpu < 0.1, "an accept with only silent clients in their handshakes used %.2f s of CPU in %.2f s: it "
		  "must sleep until a client sends more, not poll a half message again and again", cpu, mp_test_now() - t0);
	mp_process *honest = start("client_hello", &p);
	t0 = mp_test_now();
	int rc = mp_listener_accept(l, &c, 3);
	double took = mp_test_now() - t0;
	mp_expect_status(rc, 0);
	cr_assert(took < 0.5 * MP_TEST_TIMEOUT_SCALE, "the honest client was accepted %.2f s after it started: silent "
		  "clients in their handshakes must not hold it up", took);
	serve_client(c);
	mp_conn_free(c);
	cr_assert_eq(finish(honest), 0);
	for (int i = 0; i < 6; i++)
		close(silent[i]);
	mp_listener_free(l);
}

MP_TEST(pipe, a_long_form_header_in_pieces_is_waited_for, 2, "A silent client holds up no other")
{
	/*
	 * A guest that sends the long form's -1 and then pauses has not sent a
	 * whole header yet: the lobby must wait for its 8 bytes of length, not
	 * run a step that then finds nothing (and, with no time to wait, fails).
	 */
	mp_listener *l = NULL;
	mp_expect_status(mp_listener_new(&l, NULL, key, strlen(key)), 0);
	int raw = connect_silently(l);
	raw_write(raw, "\xff\xff\xff\xff", 4);
	mp_conn *c = NULL;
	double t0 = mp_test_now();
	mp_expect_status(mp_listener_accept(l, &c, 0.3), MP_ETIMEDOUT);
	cr_assert(mp_test_now() - t0 >= 0.25, "with a header half sent, accept(0.3) returned after %.2f s: the lobby "
		  "must wait for the rest of the header", mp_test_now() - t0);
	char buf[256];
	struct pollfd pf = { .fd = raw, .events = POLLIN };
	cr_assert(read(raw, buf, sizeof buf) > 0 && poll(&pf, 1, 0) == 0, "the guest must still be in the lobby");
	uint64_t huge = htobe64(1ULL << 30); /* and then: "my answer is 1 GiB long" */
	raw_write(raw, &huge, sizeof huge);
	t0 = mp_test_now();
	mp_expect_status(mp_listener_accept(l, &c, 5), MP_EBADMSG);
	cr_assert(mp_test_now() - t0 < 1, "a whole header announcing 1 GiB must be refused at once");
	close(raw);
	mp_listener_free(l);
}

MP_TEST(pipe, a_flood_of_silent_clients_makes_room_for_the_next, 2, "A silent client holds up no other")
{
	/* More silent clients than the listener keeps: the first to come are dropped, and an honest one gets in. */
	enum { SILENT = 80 };
	mp_listener *l = NULL;
	mp_expect_status(mp_listener_new(&l, NULL, key, strlen(key)), 0);
	int silent[SILENT];
	for (int i = 0; i < SILENT; i++)
		silent[i] = connect_silently(l);
	mp_conn *c = NULL;
	mp_expect_status(mp_listener_accept(l, &c, 0.3), MP_ETIMEDOUT);
	/* The first were shown out: after our challenge, their sockets end. */
	char buf[256];
	ssize_t n = read(silent[0], buf, sizeof buf);
	cr_assert(n > 0, "the first silent client should have been challenged");
	struct pollfd pf = { .fd = silent[0], .events = POLLIN };
	cr_assert(poll(&pf, 1, 1000) == 1 && read(silent[0], buf, sizeof buf) == 0,
		  "with %d silent clients in their handshakes, the first should have been dropped to make room", SILENT);
	struct peer p = { 0 };
	snprintf(p.address, sizeof p.address, "%s", mp_listener_address(l));
	snprintf(p.key, sizeof p.key, "%s", key);
	mp_process *honest = start("client_hello", &p);
	mp_expect_status(mp_listener_accept(l, &c, 3), 0);
	serve_client(c);
	mp_conn_free(c);
	cr_assert_eq(finish(honest), 0);
	for (int i = 0; i < SILENT; i++)
		close(silent[i]);
	mp_listener_free(l);
}

MP_TEST(pipe, a_client_slower_than_the_handshake_timeout_is_dropped, 2, "A silent client holds up no other")
{
	mp_listener *l = NULL;
	mp_expect_status(mp_listener_new(&l, NULL, key, strlen(key)), 0);
	mp_expect_status(mp_listener_set_handshake_timeout(l, 0.3), 0);
	int slow = connect_silently(l);
	mp_conn *c = NULL;
	mp_expect_status(mp_listener_accept(l, &c, 0.1), MP_ETIMEDOUT);
	char buf[256];
	cr_assert(read(slow, buf, sizeof buf) > 0, "the client should have been challenged");
	struct pollfd pf = { .fd = slow, .events = POLLIN };
	cr_assert(poll(&pf, 1, 100) == 0, "the client was dropped before its handshake timeout of 0.3 s");
	mp_expect_status(mp_listener_accept(l, &c, 0.5), MP_ETIMEDOUT);
	cr_assert(poll(&pf, 1, 0) == 1 && read(slow, buf, sizeof buf) == 0,
		  "a client still in its handshake after the handshake timeout (0.3 s) must be dropped by the accept");
	close(slow);

	mp_expect_status(mp_listener_set_handshake_timeout(l, NAN), -EINVAL);
	mp_expect_status(mp_listener_set_handshake_timeout(NULL, 1), -EINVAL);
	mp_expect_status(mp_listener_set_handshake_timeout(l, MP_FOREVER), 0); /* as in Python: never dropped */
	slow = connect_silently(l);
	mp_expect_status(mp_listener_accept(l, &c, 0.5), MP_ETIMEDOUT);
	cr_assert(read(slow, buf, sizeof buf) > 0);
	pf.fd = slow;
	cr_assert(poll(&pf, 1, 0) == 0, "with no handshake timeout, a slow client must stay");
	close(slow);
	mp_listener_free(l);
}

MP_TEST(pipe, an_event_loop_on_the_listener_sees_every_step_of_a_handshake, 2, "A silent client holds up no other")
{
	/*
	 * The pattern of an event loop: wait on the listener's descriptor, then
	 * accept with a timeout of 0. Every message of a client's handshake must
	 * make the descriptor ready, or the loop sleeps while the client waits.
	 */
	mp_listener *l = NULL;
	mp_expect_status(mp_listener_new(&l, NULL, key, strlen(key)), 0);
	struct peer p = { 0 };
	snprintf(p.address, sizeof p.address, "%s", mp_listener_address(l));
	snprintf(p.key, sizeof p.key, "%s", key);
	mp_process *honest = start("client_hello", &p);
	struct mp_wait_item item = { .fd = mp_listener_fileno(l) };
	mp_conn *c = NULL;
	int rc = MP_ETIMEDOUT, rounds = 0;
	while (rc == MP_ETIMEDOUT && rounds++ < 50) {
		if (mp_wait(&item, 1, 2) != 1)
			break;
		rc = mp_listener_accept(l, &c, 0);
	}
	mp_expect_status(rc, 0);
	cr_assert(rounds <= 10, "the handshake took %d rounds of wait and accept", rounds);
	serve_client(c);
	mp_conn_free(c);
	cr_assert_eq(finish(honest), 0);
	mp_listener_free(l);
}

/* ------------------------------------------------------------------------- */
/* Talking to Python */

/* Run `PYTHON -c SCRIPT ARGS...` and return its pid. The script's exit status is its verdict. */
static pid_t run_interpreter(const char *python, const char *script, const char *arg1, const char *arg2,
			     const char *arg3)
{
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		execlp(python, python, "-c", script, arg1, arg2, arg3, (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* As run_interpreter() with the python3 on PATH, or skip the test if there is none. */
static pid_t run_python3(const char *script, const char *arg1, const char *arg2, const char *arg3)
{
	if (system("python3 -c '' >/dev/null 2>&1") != 0)
		cr_skip_test("python3 is not installed: the interoperability tests need it");
	return run_interpreter("python3", script, arg1, arg2, arg3);
}

static pid_t run_python(const char *script, const char *arg1, const char *arg2)
{
	return run_python3(script, arg1, arg2, NULL);
}

static int python_verdict(pid_t pid)
{
	int status = mp_test_wait_pid(pid, 15);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static const char python_client[] =
	"import sys\n"
	"from multiprocessing.connection import Client, AuthenticationError\n"
	"try:\n"
	"    c = Client(sys.argv[1], authkey=sys.argv[2].encode())\n"
	"except AuthenticationError:\n"
	"    sys.exit(3)\n"
	"c.send_bytes(b'hello')\n"
	"sys.exit(0 if c.recv_bytes() == b'HELLO' else 4)\n";

MP_TEST(pipe, a_python_client_talks_to_a_c_listener, 3, "Talking to Python")
{
	mp_listener *l = NULL;
	mp_expect_status(mp_listener_new(&l, NULL, key, strlen(key)), 0);
	pid_t py = run_python(python_client, mp_listener_address(l), key);
	mp_conn *c = NULL;
	mp_expect_status(mp_listener_accept(l, &c, 10), 0);
	serve_hello(c);
	mp_conn_free(c);
	cr_assert_eq(python_verdict(py), 0, "the Python client did not get HELLO back (3: authentication failed)");

	py = run_python(python_client, mp_listener_address(l), "wrong");
	mp_expect_status(mp_listener_accept(l, &c, 10), MP_EAUTH);
	cr_assert_eq(python_verdict(py), 3, "Python must see an AuthenticationError for a wrong key");
	mp_listener_free(l);
}

/*
 * The Pythons here that speak the modern handshake (3.12 and later): the names
 * python3 and python3.12 to python3.15 on PATH, and every version pyenv has
 * installed ($PYENV_ROOT, or ~/.pyenv, under versions/), each asked for its
 * version. A name that does not run (absent, or a pyenv shim for a version not
 * selected) is not one. Returns how many were found, their paths in @names.
 */
#define MAX_PYTHONS 12

static int modern_pythons(const char *names[MAX_PYTHONS])
{
	static char found[MAX_PYTHONS][PATH_MAX];
	const char *candidates[MAX_PYTHONS + 5] = { "python3", "python3.12", "python3.13", "python3.14", "python3.15" };
	int ncand = 5;

	char pattern[PATH_MAX];
	const char *root = getenv("PYENV_ROOT"), *home = getenv("HOME");
	if (root)
		snprintf(pattern, sizeof pattern, "%s/versions/3.1[2-9]*/bin/python3", root);
	else
		snprintf(pattern, sizeof pattern, "%s/.pyenv/versions/3.1[2-9]*/bin/python3", home ? home : "");
	glob_t g;
	if (glob(pattern, 0, NULL, &g) == 0) {
		for (size_t i = 0; i < g.gl_pathc && ncand < MAX_PYTHONS + 5; i++)
			candidates[ncand++] = g.gl_pathv[i];
	}

	int n = 0;
	for (int i = 0; i < ncand && n < MAX_PYTHONS; i++) {
		char cmd[PATH_MAX + 128];
		snprintf(cmd, sizeof cmd, "%s -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' "
			 ">/dev/null 2>&1", candidates[i]);
		if (system(cmd) == 0) {
			snprintf(found[n], sizeof found[n], "%s", candidates[i]);
			names[n] = found[n];
			n++;
		}
	}
	globfree(&g);
	return n;
}

static const char python_listener[] =
	"import sys\n"
	"from multiprocessing.connection import Listener\n"
	"with Listener(sys.argv[1], authkey=sys.argv[2].encode()) as l:\n"
	"    print('ready', flush=True)\n"
	"    with l.accept() as c:\n"
	"        m = c.recv_bytes()\n"
	"        c.send_bytes(m.upper())\n"
	"        sys.exit(0 if m == b'hello' else 4)\n";

MP_TEST(pipe, a_c_client_talks_to_a_python_listener, 3, "Talking to Python")
{
	char path[128];
	snprintf(path, sizeof path, "/tmp/mp-test-py-%d.sock", (int)getpid());
	unlink(path);
	pid_t py = run_python(python_listener, path, key);
	mp_conn *c = NULL;
	int rc = -1;
	/* Until Python has bound its socket: only "not there yet" is worth another try. */
	for (int i = 0; i < 200 && (rc == -1 || rc == -ENOENT || rc == -ECONNREFUSED); i++) {
		rc = mp_client(&c, path, key, strlen(key), 5);
		if (rc == -ENOENT || rc == -ECONNREFUSED)
			usleep(20000);
	}
	mp_expect_status(rc, 0);
	mp_expect_status(mp_conn_send_str(c, "hello"), 0);
	char *s = NULL;
	mp_expect_status(mp_conn_recv_str(c, &s), 0);
	cr_assert_str_eq(s, "HELLO");
	free(s);
	mp_conn_free(c);
	cr_assert_eq(python_verdict(py), 0, "the Python listener did not get hello");
}

MP_TEST(pipe, python_3_12_and_later_talk_to_us_in_the_modern_form, 2, "Talking to Python")
{
	const char *names[MAX_PYTHONS];
	int n = modern_pythons(names);
	if (n == 0)
		cr_skip_test("no Python 3.12 or later here (python3, python3.12 ... python3.15 on PATH, or under pyenv): "
			     "only the hand-written 3.12 client below checked the modern handshake");
	for (int i = 0; i < n; i++) {
		mp_listener *l = NULL;
		mp_expect_status(mp_listener_new(&l, NULL, key, strlen(key)), 0);
		pid_t py = run_interpreter(names[i], python_client, mp_listener_address(l), key, NULL);
		mp_conn *c = NULL;
		mp_expect_status(mp_listener_accept(l, &c, 10), 0);
		serve_hello(c);
		mp_conn_free(c);
		int verdict = python_verdict(py);
		cr_assert_eq(verdict, 0, "%s's Client did not get HELLO back (%d; 3: authentication failed)", names[i], verdict);
		mp_listener_free(l);

		char path[128];
		snprintf(path, sizeof path, "/tmp/mp-test-py-%d-%d.sock", (int)getpid(), i);
		unlink(path);
		py = run_interpreter(names[i], python_listener, path, key, NULL);
		int rc = -1;
		for (int k = 0; k < 250 && rc != 0; k++) { /* until Python has bound its socket */
			rc = mp_client(&c, path, key, strlen(key), 5);
			if (rc != 0)
				usleep(20000);
		}
		cr_assert(rc == 0, "mp_client() to %s's Listener returned %s", names[i], mp_err_name(rc));
		mp_expect_status(mp_conn_send_str(c, "hello"), 0);
		char *s = NULL;
		mp_expect_status(mp_conn_recv_str(c, &s), 0);
		cr_assert_str_eq(s, "HELLO");
		free(s);
		mp_conn_free(c);
		cr_assert_eq(python_verdict(py), 0, "%s's Listener did not get hello", names[i]);
	}
}

/*
 * Python 3.12's side of the handshake, written out by hand with hmac and
 * struct, since the python3 here may be older: a "{sha256}" challenge with 40
 * random bytes, an HMAC over all of it, and "{sha256}" in front of the answer.
 * An optional third argument names the digests this client uses instead:
 * "ANSWER,CHALLENGE", any two of those Python allows.
 */
static const char python_modern_client[] =
	"import sys, socket, struct, hmac, os\n"
	"key = sys.argv[2].encode()\n"
	"mine_d, ours_d = (sys.argv[3] if len(sys.argv) > 3 else 'sha256,sha256').split(',')\n"
	"s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])\n"
	"def recv(n):\n"
	"    b = b''\n"
	"    while len(b) < n:\n"
	"        c = s.recv(n - len(b))\n"
	"        if not c: sys.exit(5)\n"
	"        b += c\n"
	"    return b\n"
	"def get():\n"
	"    return recv(struct.unpack('!i', recv(4))[0])\n"
	"def put(b): s.sendall(struct.pack('!i', len(b)) + b)\n"
	"m = get()\n"
	"if not m.startswith(b'#CHALLENGE#{sha256}') or len(m) != 11 + 8 + 40: sys.exit(6)\n"
	"m = m[11:]\n"
	"put(b'{' + mine_d.encode() + b'}' + hmac.new(key, m, mine_d).digest())\n"
	"if get() != b'#WELCOME#': sys.exit(3)\n"
	"mine = b'{' + ours_d.encode() + b'}' + os.urandom(40)\n"
	"put(b'#CHALLENGE#' + mine)\n"
	"if get() != b'{' + ours_d.encode() + b'}' + hmac.new(key, mine, ours_d).digest(): sys.exit(7)\n"
	"put(b'#WELCOME#')\n"
	"put(b'hello')\n"
	"sys.exit(0 if get() == b'HELLO' else 4)\n";

MP_TEST(pipe, the_handshake_matches_python_3_12_byte_for_byte, 3, "Talking to Python")
{
	mp_listener *l = NULL;
	mp_expect_status(mp_listener_new(&l, NULL, key, strlen(key)), 0);
	pid_t py = run_python(python_modern_client, mp_listener_address(l), key);
	mp_conn *c = NULL;
	mp_expect_status(mp_listener_accept(l, &c, 10), 0);
	serve_hello(c);
	mp_conn_free(c);
	int verdict = python_verdict(py);
	cr_assert_eq(verdict, 0, "the 3.12-style client failed with %d (6: challenge format, 3: our check of its "
		     "answer, 7: our answer to its challenge, 5: we hung up)", verdict);
	mp_listener_free(l);
}

MP_TEST(pipe, the_handshake_speaks_every_digest_python_allows, 1, "Talking to Python")
{
	static const char *const pairs[] = { "sha3_256,sha384", "sha384,sha3_384", "md5,sha3_256" };
	for (int i = 0; i < 3; i++) {
		mp_listener *l = NULL;
		mp_expect_status(mp_listener_new(&l, NULL, key, strlen(key)), 0);
		pid_t py = run_python3(python_modern_client, mp_listener_address(l), key, pairs[i]);
		mp_conn *c = NULL;
		mp_expect_status(mp_listener_accept(l, &c, 10), 0);
		serve_hello(c);
		mp_conn_free(c);
		int verdict = python_verdict(py);
		cr_assert_eq(verdict, 0, "with digests %s the handshake failed (%d: see the test above)", pairs[i], verdict);
		mp_listener_free(l);
	}
}

MP_TEST(pipe, a_client_that_announces_a_huge_handshake_message_is_refused_at_once, 2, "Bad bytes from a peer")
{
	mp_listener *l = NULL;
	mp_expect_status(mp_listener_new(&l, NULL, key, strlen(key)), 0);
	int raw = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", mp_listener_address(l));
	cr_assert(connect(raw, (struct sockaddr *)&sun, sizeof sun) == 0, "connect: %s", strerror(errno));
	uint32_t huge = htobe32(1u << 30); /* "my answer is 1 GiB long": a handshake message is at most 256 */
	raw_write(raw, &huge, sizeof huge);
	mp_conn *c = NULL;
	double t0 = mp_test_now();
	mp_expect_status(mp_listener_accept(l, &c, 5), MP_EBADMSG);
	cr_assert(mp_test_now() - t0 < 1, "the listener must refuse at the length, not wait for a gigabyte");
	close(raw);

	/* A well-behaved pair still works. */
	mp_conn *a, *b;
	make_pipe(&a, &b, true);
	mp_expect_status(mp_conn_send_str(a, "ok"), 0);
	expect_bytes(b, "ok", 2);
	mp_conn_free(a);
	mp_conn_free(b);
	mp_listener_free(l);
}

/* ------------------------------------------------------------------------- */
/* More of framing: the long form, every argument, the typed helpers */

/*
 * Memory that reads as zeros and costs nothing: an untouched private mapping
 * is backed by the kernel's one shared zero page, so a test can send a message
 * of 4 GiB and more without having that memory.
 */
static void *zeros(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	cr_assert(p != MAP_FAILED, "mmap of %zu bytes: %s", size, strerror(errno));
	return p;
}

/*
 * Send @len bytes of zeros with a timeout of 0, which sends what fits in the
 * stream's buffer at once and then times out, and check the header the peer
 * reads from @raw_in. The send stopped part-way: the connection is broken.
 */
static void expect_header_on_the_wire(mp_conn *w, int raw_in, const void *payload, size_t len,
				      const unsigned char *want, size_t want_len)
{
	mp_expect_status(mp_conn_set_timeout(w, 0), 0);
	mp_expect_status(mp_conn_send_bytes(w, payload, len), MP_ETIMEDOUT);
	unsigned char got[16] = { 0 };
	cr_assert(mp_test_read(raw_in, got, want_len + 4, 2), "the header of a %zu-byte message never came", len);
	cr_assert(memcmp(got, want, want_len) == 0,
		  "a message of %zu bytes must go out with the header %02x %02x %02x %02x %02x %02x %02x %02x %02x "
		  "%02x %02x %02x (the first %zu of them); got %02x %02x %02x %02x %02x %02x %02x %02x %02x %02x %02x %02x",
		  len, want[0], want[1], want[2], want[3], want[4], want[5], want[6], want[7], want[8], want[9],
		  want[10], want[11], want_len, got[0], got[1], got[2], got[3], got[4], got[5], got[6], got[7], got[8],
		  got[9], got[10], got[11]);
	static const unsigned char four_zeros[4];
	cr_assert(memcmp(got + want_len, four_zeros, 4) == 0, "the payload must follow the header at once");
	mp_expect_status(mp_conn_send_str(w, "x"), MP_EBROKEN); /* a send stopped part-way breaks the connection */
}

MP_TEST(pipe, messages_of_2_gib_and_more_go_out_in_the_long_form, 3, "Framing a stream")
{
	size_t size = ((size_t)1 << 32) + 5;
	void *payload = zeros(size);
	static const struct {
		size_t len;
		unsigned char header[12];
		size_t header_len;
	} cases[] = {
		{ 0x7fffffff, { 0x7f, 0xff, 0xff, 0xff }, 4 },
		{ 0x80000000, { 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0x80, 0, 0, 0 }, 12 },
		{ ((size_t)1 << 32) + 5, { 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1, 0, 0, 0, 5 }, 12 },
	};
	for (int i = 0; i < 3; i++) {
		int raw;
		mp_conn *c = conn_with_raw_peer(&raw); /* a socket */
		expect_header_on_the_wire(c, raw, payload, cases[i].len, cases[i].header, cases[i].header_len);
		mp_conn_free(c);
		close(raw);

		mp_conn *r, *w;
		make_pipe(&r, &w, false); /* a pipe: written PIPE_BUF bytes at a time */
		expect_header_on_the_wire(w, mp_conn_fileno(r), payload, cases[i].len, cases[i].header,
					  cases[i].header_len);
		mp_conn_free(r);
		mp_conn_free(w);
	}
	munmap(payload, size);
}

MP_TEST(pipe, an_empty_message_is_a_header_alone, 1, "Framing a stream")
{
	int raw;
	mp_conn *c = conn_with_raw_peer(&raw);
	mp_expect_status(mp_conn_send_bytes(c, NULL, 0), 0); /* no bytes: no buffer needed */
	mp_expect_status(mp_conn_send_str(c, ""), 0);
	mp_expect_status(mp_conn_send_str(c, "z"), 0);
	unsigned char got[13];
	cr_assert(mp_test_read(raw, got, sizeof got, 2));
	static const unsigned char want[] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 'z' };
	cr_assert(memcmp(got, want, sizeof want) == 0, "an empty message is 00 00 00 00 and nothing more");

	raw_write(raw, want, sizeof want);
	expect_bytes(c, "", 0);
	size_t len = 99;
	mp_expect_status(mp_conn_recv_bytes_into(c, NULL, 0, &len), 0); /* no room needed */
	cr_assert_eq(len, 0);
	char *s = NULL;
	mp_expect_status(mp_conn_recv_str(c, &s), 0);
	cr_assert_str_eq(s, "z");
	free(s);
	mp_conn_free(c);
	close(raw);
}

MP_TEST(pipe, every_call_refuses_what_it_cannot_use, 2, "Duplex and one-way pipes")
{
	mp_conn *a = NULL, *b = NULL;
	mp_expect_status(mp_pipe(NULL, &b, true), -EINVAL);
	mp_expect_status(mp_pipe(&a, NULL, false), -EINVAL);
	int fds[2];
	mp_test_pipe(fds);
	mp_conn *c = NULL;
	mp_expect_status(mp_conn_from_fd(&c, -1, true, true), -EINVAL);
	mp_expect_status(mp_conn_from_fd(&c, fds[0], false, false), -EINVAL);
	mp_expect_status(mp_conn_from_fd(NULL, fds[0], true, false), -EINVAL);
	cr_assert(c == NULL, "a refused mp_conn_from_fd() must leave its result alone");
	/* Descriptor 0 is a descriptor like any other. */
	int saved_stdin = dup(0);
	cr_assert(saved_stdin >= 0 && dup2(fds[0], 0) == 0);
	mp_expect_status(mp_conn_from_fd(&c, 0, true, false), 0);
	mp_conn_free(c); /* closes 0 */
	cr_assert(dup2(saved_stdin, 0) == 0);
	close(saved_stdin);
	c = NULL;
	mp_expect_status(mp_conn_from_fd(&c, fds[0], true, false), 0);
	cr_assert_eq(mp_conn_fileno(c), fds[0], "the connection's descriptor is the one it was given");
	mp_expect_status(mp_conn_fileno(NULL), -EINVAL);
	mp_conn *w = NULL;
	mp_expect_status(mp_conn_from_fd(&w, fds[1], false, true), 0);

	char buf[8];
	size_t len;
	void *m;
	int64_t i;
	double d;
	char *s;
	mp_expect_status(mp_conn_send_bytes(NULL, "x", 1), -EINVAL);
	mp_expect_status(mp_conn_send_bytes(w, NULL, 1), -EINVAL);
	mp_expect_status(mp_conn_send_str(w, NULL), -EINVAL);
	mp_expect_status(mp_conn_send_int(NULL, 1), -EINVAL);
	mp_expect_status(mp_conn_recv_bytes(NULL, &m, &len), -EINVAL);
	mp_expect_status(mp_conn_recv_bytes(c, NULL, &len), -EINVAL);
	mp_expect_status(mp_conn_recv_bytes(c, &m, NULL), -EINVAL);
	mp_expect_status(mp_conn_recv_bytes_into(NULL, buf, sizeof buf, &len), -EINVAL);
	mp_expect_status(mp_conn_recv_bytes_into(c, NULL, sizeof buf, &len), -EINVAL);
	mp_expect_status(mp_conn_recv_bytes_into(c, buf, sizeof buf, NULL), -EINVAL);
	mp_expect_status(mp_conn_recv_int(c, NULL), -EINVAL);
	mp_expect_status(mp_conn_recv_double(c, NULL), -EINVAL);
	mp_expect_status(mp_conn_recv_str(c, NULL), -EINVAL);
	mp_expect_status(mp_conn_recv_int(w, &i), -EBADF);
	mp_expect_status(mp_conn_recv_double(w, &d), -EBADF);
	mp_expect_status(mp_conn_recv_bytes_into(w, buf, sizeof buf, &len), -EBADF);
	mp_expect_status(mp_conn_recv_bytes(w, &m, &len), -EBADF);
	mp_expect_status(mp_conn_send_int(c, 1), -EBADF);
	mp_expect_status(mp_conn_poll(w, 0), -EBADF);
	mp_expect_status(mp_conn_poll(NULL, 0), -EINVAL);
	mp_expect_status(mp_conn_set_timeout(NULL, 1), -EINVAL);
	mp_expect_status(mp_conn_set_timeout(c, NAN), -EINVAL);
	mp_expect_status(mp_conn_set_max_message(NULL, 10), -EINVAL);
	mp_conn_free(NULL);

	/* None of those refusals touched the stream: it is in step. */
	mp_expect_status(mp_conn_send_int(w, 77), 0);
	mp_expect_status(mp_conn_recv_int(c, &i), 0);
	cr_assert_eq(i, 77);
	mp_expect_status(mp_conn_recv_str(w, &s), -EBADF);
	mp_conn_free(c);
	mp_conn_free(w);
}

MP_TEST(pipe, typed_receives_check_the_length_and_drop_a_longer_message, 2, "Receiving into your own buffer")
{
	int raw;
	mp_conn *c = conn_with_raw_peer(&raw);
	mp_expect_status(mp_conn_send_double(c, 0.125), 0);
	unsigned char got[12];
	cr_assert(mp_test_read(raw, got, sizeof got, 2));
	static const unsigned char eighth[] = { 0, 0, 0, 8, 0x3f, 0xc0, 0, 0, 0, 0, 0, 0 };
	cr_assert(memcmp(got, eighth, sizeof eighth) == 0, "a double goes out as its 8 IEEE bytes, big-endian (struct '!d')");

	mp_conn *a, *b;
	make_pipe(&a, &b, true);
	static const int64_t ints[] = { INT64_MIN, -1, 0, 1, INT64_MAX, 0x0102030405060708 };
	for (int k = 0; k < 6; k++)
		mp_expect_status(mp_conn_send_int(a, ints[k]), 0);
	static const double doubles[] = { -0.0, 1e300, -2.5e-310, INFINITY };
	for (int k = 0; k < 4; k++)
		mp_expect_status(mp_conn_send_double(a, doubles[k]), 0);
	for (int k = 0; k < 6; k++) {
		int64_t v = 12345;
		mp_expect_status(mp_conn_recv_int(b, &v), 0);
		cr_assert_eq(v, ints[k], "integer %d came back as %lld", k, (long long)v);
	}
	for (int k = 0; k < 4; k++) {
		double v = 42;
		mp_expect_status(mp_conn_recv_double(b, &v), 0);
		cr_assert(memcmp(&v, &doubles[k], sizeof v) == 0, "double %d came back as %g", k, v);
	}

	/* Too short, too long: MP_ETYPE, and the message is gone either way. */
	char text[100];
	memset(text, 't', sizeof text);
	int64_t v = 99;
	double dv = 99;
	mp_expect_status(mp_conn_send_bytes(a, text, 7), 0);
	mp_expect_status(mp_conn_send_bytes(a, text, 9), 0);
	mp_expect_status(mp_conn_send_bytes(a, text, sizeof text), 0);
	mp_expect_status(mp_conn_send_bytes(a, text, sizeof text), 0);
	mp_expect_status(mp_conn_recv_int(b, &v), MP_ETYPE);
	mp_expect_status(mp_conn_recv_double(b, &dv), MP_ETYPE);
	mp_expect_status(mp_conn_recv_int(b, &v), MP_ETYPE);
	mp_expect_status(mp_conn_recv_double(b, &dv), MP_ETYPE);
	cr_assert(v == 99 && dv == 99, "a failed typed receive must leave the value alone");
	mp_expect_status(mp_conn_poll(b, 0), 0); /* the 100-byte messages were dropped, not kept */

	/* A message kept by a receive into a small buffer is what the next typed receive reads. */
	mp_expect_status(mp_conn_send_int(a, -77), 0);
	char small[4];
	size_t len = 0;
	mp_expect_status(mp_conn_recv_bytes_into(b, small, sizeof small, &len), -ENOBUFS);
	mp_expect_status(mp_conn_recv_int(b, &v), 0);
	cr_assert_eq(v, -77, "the kept integer came back as %lld", (long long)v);
	mp_expect_status(mp_conn_send_bytes(a, text, sizeof text), 0);
	mp_expect_status(mp_conn_recv_bytes_into(b, small, sizeof small, &len), -ENOBUFS);
	mp_expect_status(mp_conn_recv_double(b, &dv), MP_ETYPE);
	mp_expect_status(mp_conn_poll(b, 0), 0);
	mp_conn_free(a);
	mp_conn_free(b);
	mp_conn_free(c);
	close(raw);
}

/* ------------------------------------------------------------------------- */
/* More bad bytes: the long header cut short, exact caps, failed sends and allocations */

MP_TEST(pipe, end_of_file_or_a_timeout_inside_a_long_header_is_an_error, 3, "Bad bytes from a peer")
{
	static const unsigned char minus_one[] = { 0xff, 0xff, 0xff, 0xff, 0, 0, 0 };
	char *s;
	for (size_t cut = 4; cut <= sizeof minus_one; cut += 3) { /* the -1 alone; -1 and 3 bytes of the length */
		int raw;
		mp_conn *c = conn_with_raw_peer(&raw);
		raw_write(raw, minus_one, cut);
		close(raw);
		mp_expect_status(mp_conn_recv_str(c, &s), MP_EBADMSG); /* not MP_EEOF: the peer promised a length */
		mp_expect_status(mp_conn_recv_str(c, &s), MP_EBROKEN);
		mp_conn_free(c);

		c = conn_with_raw_peer(&raw);
		mp_expect_status(mp_conn_set_timeout(c, 0.1), 0);
		raw_write(raw, minus_one, cut);
		mp_expect_status(mp_conn_recv_str(c, &s), MP_ETIMEDOUT);
		mp_expect_status(mp_conn_recv_str(c, &s), MP_EBROKEN); /* stopped mid-header: out of step */
		mp_expect_status(mp_conn_send_str(c, "x"), MP_EBROKEN);
		mp_expect_status(mp_conn_poll(c, 0), 1); /* a receive will not wait: it fails at once */
		mp_conn_free(c);
		close(raw);
	}

	/* A half header that times out breaks it too; a complete long header with a 0 length is an empty message. */
	int raw;
	mp_conn *c = conn_with_raw_peer(&raw);
	mp_expect_status(mp_conn_set_timeout(c, 0.1), 0);
	raw_write(raw, minus_one, 2);
	mp_expect_status(mp_conn_recv_str(c, &s), MP_ETIMEDOUT);
	mp_expect_status(mp_conn_recv_str(c, &s), MP_EBROKEN);
	mp_conn_free(c);
	close(raw);
	c = conn_with_raw_peer(&raw);
	static const unsigned char empty_long[] = { 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0 };
	raw_write(raw, empty_long, sizeof empty_long);
	expect_bytes(c, "", 0);
	mp_conn_free(c);
	close(raw);
}

MP_TEST(pipe, a_message_exactly_at_the_cap_is_accepted, 2, "Bad bytes from a peer")
{
	int raw;
	mp_conn *c = conn_with_raw_peer(&raw);
	mp_expect_status(mp_conn_set_max_message(c, 5), 0);
	static const unsigned char five[] = { 0, 0, 0, 5, '1', '2', '3', '4', '5' };
	static const unsigned char five_long[] = { 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 5, 'a', 'b', 'c', 'd', 'e' };
	raw_write(raw, five, sizeof five);
	raw_write(raw, five_long, sizeof five_long);
	raw_write(raw, five, sizeof five);
	expect_bytes(c, "12345", 5);
	expect_bytes(c, "abcde", 5);
	char buf[5];
	size_t len = 0;
	mp_expect_status(mp_conn_recv_bytes_into(c, buf, sizeof buf, &len), 0);
	cr_assert(len == 5 && memcmp(buf, "12345", 5) == 0);
	static const unsigned char six_long[] = { 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 6 };
	raw_write(raw, six_long, sizeof six_long);
	mp_expect_status(mp_conn_recv_bytes_into(c, buf, sizeof buf, &len), -EMSGSIZE);
	mp_expect_status(mp_conn_recv_bytes_into(c, buf, sizeof buf, &len), MP_EBROKEN);
	mp_conn_free(c);
	close(raw);
}

/* Fill @c's side of the stream until not one more byte fits; returns how many went in. */
static size_t fill_the_stream(mp_conn *c)
{
	static const char filler[4096];
	size_t total = 0;
	for (;;) {
		ssize_t n = send(mp_conn_fileno(c), filler, sizeof filler, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0) {
			cr_assert(errno == EAGAIN, "filling the stream: %s", strerror(errno));
			return total;
		}
		total += (size_t)n;
	}
}

/* Read and drop @len bytes from @fd. */
static void drain(int fd, size_t len)
{
	static char sink[65536];
	while (len > 0) {
		size_t part = len < sizeof sink ? len : sizeof sink;
		cr_assert(mp_test_read(fd, sink, part, 2), "draining the stream");
		len -= part;
	}
}

MP_TEST(pipe, a_send_that_fails_part_way_breaks_the_connection, 3, "Bad bytes from a peer")
{
	/* A timeout before any byte went out: still in step. */
	int raw;
	mp_conn *c = conn_with_raw_peer(&raw);
	size_t filled = fill_the_stream(c);
	mp_expect_status(mp_conn_set_timeout(c, 0.1), 0);
	mp_expect_status(mp_conn_send_str(c, "lost"), MP_ETIMEDOUT);
	drain(raw, filled);
	mp_expect_status(mp_conn_send_str(c, "ok"), 0);
	unsigned char got[6];
	cr_assert(mp_test_read(raw, got, sizeof got, 2));
	cr_assert(memcmp(got, "\0\0\0\2ok", 6) == 0, "after a send that timed out before its first byte the "
		  "stream must be in step, and the next message arrive whole");

	/* A timeout after some bytes: broken. */
	static char big[1 << 22];
	mp_expect_status(mp_conn_send_bytes(c, big, sizeof big), MP_ETIMEDOUT);
	mp_expect_status(mp_conn_send_str(c, "x"), MP_EBROKEN);
	char *s;
	mp_expect_status(mp_conn_recv_str(c, &s), MP_EBROKEN);
	mp_conn_free(c);
	close(raw);

	/* An error before any byte went out: in step. An error after some: broken. */
	c = conn_with_raw_peer(&raw);
	mp_expect_status(mp_fault_inject("sendmsg", 0, ECONNRESET), 0);
	mp_expect_status(mp_conn_send_str(c, "lost"), -ECONNRESET);
	mp_expect_status(mp_conn_send_str(c, "ok"), 0);
	cr_assert(mp_test_read(raw, got, sizeof got, 2));
	cr_assert(memcmp(got, "\0\0\0\2ok", 6) == 0, "a send that failed before its first byte leaves the stream in step");
	mp_conn_free(c);
	close(raw);

	mp_conn *r, *w;
	make_pipe(&r, &w, false);
	mp_expect_status(mp_conn_set_timeout(w, 5), 0); /* a timed send writes a pipe PIPE_BUF bytes at a time */
	mp_expect_status(mp_fault_inject("writev", 1, EIO), 0);
	mp_expect_status(mp_conn_send_bytes(w, big, 10000), -EIO);
	mp_fault_clear();
	mp_expect_status(mp_conn_send_str(w, "x"), MP_EBROKEN);
	mp_conn_free(r);
	mp_conn_free(w);
}

MP_TEST(pipe, a_failed_allocation_or_read_leaves_the_connection_as_the_table_says, 2, "Bad bytes from a peer")
{
	int raw;
	mp_conn *c = conn_with_raw_peer(&raw);
	static const unsigned char frames[] = { 0, 0, 0, 3, 'o', 'n', 'e', 0, 0, 0, 3, 't', 'w', 'o' };
	raw_write(raw, frames, sizeof frames);
	mp_expect_status(mp_fault_inject("read", 0, ECONNRESET), 0); /* before the first byte */
	void *m;
	size_t len;
	mp_expect_status(mp_conn_recv_bytes(c, &m, &len), -ECONNRESET);
	expect_bytes(c, "one", 3); /* still in step */
	mp_expect_status(mp_fault_inject("malloc", 0, ENOMEM), 0); /* after the header */
	mp_expect_status(mp_conn_recv_bytes(c, &m, &len), -ENOMEM);
	mp_expect_status(mp_conn_recv_bytes(c, &m, &len), MP_EBROKEN);
	mp_conn_free(c);
	close(raw);

	c = conn_with_raw_peer(&raw);
	raw_write(raw, frames, sizeof frames);
	mp_expect_status(mp_fault_inject("read", 1, EIO), 0); /* the header read, then the body's read fails */
	mp_expect_status(mp_conn_recv_bytes(c, &m, &len), -EIO);
	mp_expect_status(mp_conn_recv_bytes(c, &m, &len), MP_EBROKEN);
	mp_conn_free(c);
	close(raw);

	/* A message that fits the caller's buffer needs no allocation at all. */
	c = conn_with_raw_peer(&raw);
	raw_write(raw, frames, sizeof frames);
	char buf[3];
	mp_expect_status(mp_fault_inject("malloc", 0, ENOMEM), 0);
	mp_expect_status(mp_conn_recv_bytes_into(c, buf, sizeof buf, &len), 0);
	cr_assert(len == 3 && memcmp(buf, "one", 3) == 0);
	mp_fault_clear();
	expect_bytes(c, "two", 3);
	mp_conn_free(c);
	close(raw);
}

/* ------------------------------------------------------------------------- */
/* More of receiving into your own buffer */

MP_TEST(pipe, a_kept_message_that_still_does_not_fit_stays_kept, 2, "Receiving into your own buffer")
{
	mp_conn *a, *b;
	make_pipe(&a, &b, true);
	char text[100];
	for (size_t i = 0; i < sizeof text; i++)
		text[i] = (char)('a' + i % 26);
	mp_expect_status(mp_conn_send_bytes(a, text, sizeof text), 0);
	mp_expect_status(mp_conn_send_str(a, "next"), 0);
	char buf[100];
	size_t len = 0;
	mp_expect_status(mp_conn_recv_bytes_into(b, buf, 10, &len), -ENOBUFS);
	cr_assert_eq(len, 100);
	memset(buf, 'z', sizeof buf);
	len = 0;
	mp_expect_status(mp_conn_recv_bytes_into(b, buf, 99, &len), -ENOBUFS); /* one byte short: still no */
	cr_assert_eq(len, 100, "the answer must say again how much room the kept message needs");
	for (size_t i = 0; i < sizeof buf; i++)
		cr_assert_eq(buf[i], 'z', "a message that does not fit must not be handed out cut short");
	mp_expect_status(mp_conn_poll(b, 0), 1);
	mp_expect_status(mp_conn_recv_bytes_into(b, buf, 100, &len), 0); /* exactly its size */
	cr_assert(len == 100 && memcmp(buf, text, 100) == 0, "the kept message came out changed");
	size_t next_len = 0;
	mp_expect_status(mp_conn_recv_bytes_into(b, buf, 4, &next_len), 0);
	cr_assert(next_len == 4 && memcmp(buf, "next", 4) == 0, "the message after the kept one came out wrong");

	/* mp_conn_recv_bytes() hands a kept message out too, whole, with a NUL after it. */
	mp_expect_status(mp_conn_send_bytes(a, text, sizeof text), 0);
	mp_expect_status(mp_conn_recv_bytes_into(b, buf, 10, &len), -ENOBUFS);
	void *m = NULL;
	mp_expect_status(mp_conn_recv_bytes(b, &m, &len), 0);
	cr_assert(len == 100 && memcmp(m, text, 100) == 0 && ((char *)m)[100] == '\0');
	free(m);
	mp_expect_status(mp_conn_poll(b, 0), 0);
	mp_expect_status(mp_conn_send_str(a, "after"), 0);
	char *s = NULL;
	mp_expect_status(mp_conn_recv_str(b, &s), 0);
	cr_assert_str_eq(s, "after", "once handed out, a kept message must not come again");
	free(s);

	/* A kept message outlives mp_conn_free() without a leak (memcheck looks), and a broken stream. */
	mp_expect_status(mp_conn_send_bytes(a, text, sizeof text), 0);
	mp_expect_status(mp_conn_recv_bytes_into(b, buf, 10, &len), -ENOBUFS);
	mp_conn_free(a);
	mp_conn_free(b);
}

/* ------------------------------------------------------------------------- */
/* More of waiting */

MP_TEST(pipe, wait_clears_the_ready_flag_of_every_item_that_is_not_ready, 2, "Waiting on many things at once")
{
	mp_conn *a[2], *b[2];
	for (int i = 0; i < 2; i++)
		make_pipe(&a[i], &b[i], true);
	int fds[2];
	mp_test_pipe(fds);
	struct mp_wait_item items[3] = { { .conn = b[0], .ready = true }, { .conn = b[1], .ready = true },
					 { .fd = fds[0], .ready = true } };
	cr_assert_eq(mp_wait(items, 3, 0), 0, "nothing is ready");
	cr_assert(!items[0].ready && !items[1].ready && !items[2].ready,
		  "mp_wait() must set every item's ready, clearing what an earlier call left set");

	mp_expect_status(mp_conn_send_int(a[0], 1), 0);
	cr_assert_eq(mp_wait(items, 3, 5), 1);
	cr_assert(items[0].ready && !items[1].ready && !items[2].ready);
	int64_t v;
	mp_expect_status(mp_conn_recv_int(b[0], &v), 0);
	raw_write(fds[1], "!", 1);
	cr_assert_eq(mp_wait(items, 3, 5), 1, "the message was taken: only the raw descriptor is ready");
	cr_assert(!items[0].ready && !items[1].ready && items[2].ready);
	items[1].ready = true;
	cr_assert_eq(mp_wait(items, 3, 5), 1, "a ready flag left set by the caller is not a ready item");
	cr_assert(!items[0].ready && !items[1].ready && items[2].ready);

	/* No items: a plain sleep for the timeout. Bad arguments: -EINVAL. */
	double t0 = mp_test_now();
	cr_assert_eq(mp_wait(NULL, 0, 0.1), 0);
	double took = mp_test_now() - t0;
	cr_assert(took >= 0.09 && took < 2, "a wait on nothing for 0.1 s took %.3f s", took);
	mp_expect_status(mp_wait(NULL, 1, 0), -EINVAL);
	mp_expect_status(mp_wait(items, 3, NAN), -EINVAL);
	mp_expect_status(mp_fault_inject("calloc", 0, ENOMEM), 0);
	mp_expect_status(mp_wait(items, 3, 0), -ENOMEM);
	mp_fault_clear();

	/* ppoll() refuses more descriptors than the process may have open: its error is the answer. */
	struct rlimit old, low;
	cr_assert(getrlimit(RLIMIT_NOFILE, &old) == 0);
	low = old;
	low.rlim_cur = 64;
	struct mp_wait_item many[100];
	for (int i = 0; i < 100; i++)
		many[i] = (struct mp_wait_item){ .fd = -1, .ready = true };
	cr_assert(setrlimit(RLIMIT_NOFILE, &low) == 0);
	int rc = mp_wait(many, 100, 0);
	setrlimit(RLIMIT_NOFILE, &old);
	/*
	 * Valgrind keeps the process's real descriptor limit for itself and only
	 * pretends to lower it, so there ppoll() has no reason to refuse.
	 */
	const char *preload = getenv("LD_PRELOAD");
	if (!preload || !strstr(preload, "vgpreload"))
		mp_expect_status(rc, -EINVAL);
	for (int i = 0; i < 2; i++) {
		mp_conn_free(a[i]);
		mp_conn_free(b[i]);
	}
	close(fds[0]);
	close(fds[1]);
}

MP_TEST(pipe, a_kept_message_makes_wait_return_at_once, 3, "Waiting on many things at once")
{
	mp_conn *a[3], *b[3];
	for (int i = 0; i < 3; i++)
		make_pipe(&a[i], &b[i], true);
	char text[50] = { 0 };
	mp_expect_status(mp_conn_send_bytes(a[0], text, sizeof text), 0);
	char small[10];
	size_t len;
	mp_expect_status(mp_conn_recv_bytes_into(b[0], small, sizeof small, &len), -ENOBUFS);
	mp_expect_status(mp_conn_send_int(a[1], 5), 0);
	mp_expect_status(mp_conn_poll(b[1], 5), 1); /* b[1]'s message is there before the waits below */

	/* A kept message is ready now: no wait, whatever the timeout, yet the others are looked at. */
	static const double timeouts[] = { 3, MP_FOREVER };
	for (int k = 0; k < 2; k++) {
		struct mp_wait_item items[3] = { { .conn = b[0] }, { .conn = b[1] }, { .conn = b[2], .ready = true } };
		double t0 = mp_test_now();
		int n = mp_wait(items, 3, timeouts[k]);
		double took = mp_test_now() - t0;
		cr_assert(took < 0.5, "with a kept message waiting, mp_wait(timeout %g) slept %.3f s", timeouts[k], took);
		cr_assert_eq(n, 2, "the kept message and the message on the stream are both ready (got %d)", n);
		cr_assert(items[0].ready && items[1].ready && !items[2].ready);
		t0 = mp_test_now();
		mp_expect_status(mp_conn_poll(b[0], timeouts[k]), 1);
		cr_assert(mp_test_now() - t0 < 0.5, "poll must not wait for a kept message either");
	}
	for (int i = 0; i < 3; i++) {
		mp_conn_free(a[i]);
		mp_conn_free(b[i]);
	}
}

/*
 * A storm of signals: SIGALRM every 5 ms, caught by a handler installed
 * without SA_RESTART, so that every blocking system call it lands in fails
 * with EINTR. The library must retry each, and with the time left. (Under
 * valgrind, which takes longer than 5 ms over a signal, every 50 ms: a storm
 * it cannot keep up with would stop the program.)
 */
static void no_op_handler(int sig)
{
	(void)sig;
}

static void signal_storm(bool on)
{
	struct sigaction sa = { .sa_handler = no_op_handler }; /* sa_flags 0: no SA_RESTART */
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval every_5ms = { { 0, 5000 * MP_TEST_TIMEOUT_SCALE }, { 0, 5000 * MP_TEST_TIMEOUT_SCALE } };
	struct itimerval off = { { 0, 0 }, { 0, 0 } };
	setitimer(ITIMER_REAL, on ? &every_5ms : &off, NULL);
}

MP_TEST(pipe, signals_during_sends_receives_and_waits_are_retried, 3, "Waiting on many things at once")
{
	mp_conn *a, *b;
	make_pipe(&a, &b, true);
	mp_process *child = start("echo", &(struct peer){ .conn = b, .other = a, .delay = 0.1 });
	mp_conn_free(b);
	static unsigned char big[1 << 21];
	for (size_t i = 0; i < sizeof big; i++)
		big[i] = (unsigned char)(i * 7);
	signal_storm(true);
	int sent = mp_conn_send_bytes(a, big, sizeof big); /* blocks until the child reads, 0.1 s from now */
	void *m = NULL;
	size_t n = 0;
	int got = sent == 0 ? mp_conn_recv_bytes(a, &m, &n) : sent;
	signal_storm(false);
	mp_expect_status(sent, 0);
	mp_expect_status(got, 0);
	cr_assert(n == sizeof big && memcmp(m, big, n) == 0, "the 2 MiB message came back changed");
	free(m);

	/* Timed waits under the storm end at their deadline: not early, not never. */
	struct mp_wait_item item = { .conn = a };
	signal_storm(true);
	double t0 = mp_test_now();
	int waited = mp_wait(&item, 1, 0.3);
	double t1 = mp_test_now();
	mp_expect_status(mp_conn_set_timeout(a, 0.3), 0);
	int received = mp_conn_recv_bytes(a, &m, &n);
	double t2 = mp_test_now();
	int polled = mp_conn_poll(a, 0.3);
	double t3 = mp_test_now();
	signal_storm(false);
	mp_expect_status(waited, 0);
	mp_expect_status(received, MP_ETIMEDOUT);
	mp_expect_status(polled, 0);
	cr_assert(t1 - t0 >= 0.29 && t1 - t0 < 2, "mp_wait(0.3) under signals took %.3f s", t1 - t0);
	cr_assert(t2 - t1 >= 0.29 && t2 - t1 < 2, "a receive with a 0.3 s timeout under signals took %.3f s", t2 - t1);
	cr_assert(t3 - t2 >= 0.29 && t3 - t2 < 2, "mp_conn_poll(0.3) under signals took %.3f s", t3 - t2);
	mp_conn_free(a);
	cr_assert_eq(finish(child), 0);
}

MP_TEST(pipe, interrupted_and_would_block_calls_are_retried, 2, "Framing a stream")
{
	static const struct {
		const char *call;
		int err;
		bool duplex;
		double timeout;
	} faults[] = {
		{ "sendmsg", EINTR, true, MP_FOREVER },  { "sendmsg", EAGAIN, true, 5 },
		{ "writev", EINTR, false, MP_FOREVER },  { "writev", EAGAIN, false, 5 },
		{ "read", EINTR, true, MP_FOREVER },     { "read", EINTR, false, 5 },
	};
	for (size_t i = 0; i < sizeof faults / sizeof faults[0]; i++) {
		mp_conn *a, *b;
		make_pipe(&a, &b, faults[i].duplex);
		mp_expect_status(mp_conn_set_timeout(a, faults[i].timeout), 0);
		mp_expect_status(mp_conn_set_timeout(b, faults[i].timeout), 0);
		mp_expect_status(mp_fault_inject(faults[i].call, 0, faults[i].err), 0);
		int sent = mp_conn_send_str(b, "retried");
		char *s = NULL;
		int got = sent == 0 ? mp_conn_recv_str(a, &s) : sent;
		mp_fault_clear();
		cr_assert(sent == 0 && got == 0, "with one %s() failing with %s, the send gave %s and the receive %s: "
			  "both must retry it", faults[i].call, strerror(faults[i].err), mp_err_name(sent), mp_err_name(got));
		cr_assert_str_eq(s, "retried");
		free(s);
		mp_conn_free(a);
		mp_conn_free(b);
	}
}

MP_TEST(pipe, a_pipe_that_cannot_be_made_leaves_nothing_behind, 2, "Duplex and one-way pipes")
{
	static const struct {
		const char *call;
		int skip, err;
	} faults[] = { { "socketpair", 0, EMFILE }, { "pipe2", 0, EMFILE }, { "calloc", 0, ENOMEM }, { "calloc", 1, ENOMEM } };
	mp_conn *untouched = (mp_conn *)&faults; /* any address that is not a connection */
	for (size_t i = 0; i < sizeof faults / sizeof faults[0]; i++) {
		for (int duplex = 0; duplex < 2; duplex++) {
			if ((strcmp(faults[i].call, "socketpair") == 0 && !duplex) ||
			    (strcmp(faults[i].call, "pipe2") == 0 && duplex))
				continue;
			mp_conn *a = untouched, *b = untouched;
			mp_expect_status(mp_fault_inject(faults[i].call, faults[i].skip, faults[i].err), 0);
			int rc = mp_pipe(&a, &b, duplex);
			mp_fault_clear();
			cr_assert(rc == -faults[i].err, "with %s() failing (%s), mp_pipe(duplex %d) returned %s",
				  faults[i].call, strerror(faults[i].err), duplex, mp_err_name(rc));
			cr_assert(a == untouched && b == untouched, "a failed mp_pipe() must leave both results alone");
			/* and the descriptor check after the test finds any end left open */
		}
	}
	int fds[2];
	mp_test_pipe(fds);
	mp_conn *c = untouched;
	mp_expect_status(mp_fault_inject("calloc", 0, ENOMEM), 0);
	mp_expect_status(mp_conn_from_fd(&c, fds[0], true, false), -ENOMEM);
	mp_fault_clear();
	cr_assert(c == untouched && fcntl(fds[0], F_GETFD) >= 0,
		  "a failed mp_conn_from_fd() leaves its result alone and the descriptor open, the caller's");
	close(fds[0]);
	close(fds[1]);

	/* Once the fault is gone, pipes work. */
	mp_conn *a, *b;
	make_pipe(&a, &b, true);
	mp_expect_status(mp_conn_send_str(a, "fine"), 0);
	expect_bytes(b, "fine", 4);
	mp_conn_free(a);
	mp_conn_free(b);
}

/* ------------------------------------------------------------------------- */
/* More of listeners and clients */

/* A client_hello child for @address, and the connection accepted from it. */
static void serve_one_client(mp_listener *l, const char *address, const char *with_key)
{
	struct peer p = { 0 };
	snprintf(p.address, sizeof p.address, "%s", address);
	snprintf(p.key, sizeof p.key, "%s", with_key ? with_key : "");
	mp_process *child = start("client_hello", &p);
	mp_conn *c = NULL;
	mp_expect_status(mp_listener_accept(l, &c, 5), 0);
	serve_client(c);
	mp_conn_free(c);
	int code = finish(child);
	cr_assert_eq(code, 0, "the client at %s was not served (exit %d: 21 it could not connect, 23 Nagle's "
		     "algorithm was on, 24 its socket was left non-blocking)", address, code);
}

MP_TEST(pipe, a_taken_address_is_refused_and_its_listener_serves_on, 2, "Listeners and clients: paths and ports")
{
	char path[108];
	snprintf(path, sizeof path, "/tmp/mp-test-taken-%d.sock", (int)getpid());
	unlink(path);
	mp_listener *l = NULL, *again = NULL;
	mp_expect_status(mp_listener_new(&l, path, NULL, 0), 0);
	cr_assert_str_eq(mp_listener_address(l), path);
	mp_expect_status(mp_listener_new(&again, path, NULL, 0), -EADDRINUSE);
	cr_assert(again == NULL, "a failed mp_listener_new() must leave its result alone");
	struct stat st;
	cr_assert(stat(path, &st) == 0, "a refused second listener must not remove the first one's socket file");
	serve_one_client(l, path, NULL);
	mp_listener_free(l);

	mp_expect_status(mp_listener_new(&l, "127.0.0.1:0", NULL, 0), 0);
	char address[64];
	snprintf(address, sizeof address, "%s", mp_listener_address(l));
	mp_expect_status(mp_listener_new(&again, address, NULL, 0), -EADDRINUSE);
	serve_one_client(l, address, NULL);
	mp_listener_free(l);
}

MP_TEST(pipe, listeners_and_clients_that_cannot_get_a_socket_leave_nothing_behind, 2, "Listeners and clients: paths and ports")
{
	char path[108];
	snprintf(path, sizeof path, "/tmp/mp-test-nolisten-%d.sock", (int)getpid());
	unlink(path);
	mp_listener *l = NULL;
	mp_expect_status(mp_fault_inject("listen", 0, EADDRINUSE), 0);
	mp_expect_status(mp_listener_new(&l, path, NULL, 0), -EADDRINUSE);
	struct stat st;
	cr_assert(stat(path, &st) < 0, "a listener bound but unable to listen must remove its socket file");
	static const char *const addresses[] = { NULL, "127.0.0.1:0" };
	for (int i = 0; i < 2; i++) {
		mp_expect_status(mp_fault_inject("socket", 0, EMFILE), 0);
		mp_expect_status(mp_listener_new(&l, addresses[i], key, strlen(key)), -EMFILE);
	}
	cr_assert(l == NULL);
	int fd0 = fcntl(0, F_GETFD);
	static const char *const allocations[] = { "calloc", "malloc" }; /* the listener, its copy of the key */
	for (int i = 0; i < 2; i++) {
		for (int k = 0; k < 2; k++) {
			mp_expect_status(mp_fault_inject(allocations[i], 0, ENOMEM), 0);
			mp_expect_status(mp_listener_new(&l, addresses[k], key, strlen(key)), -ENOMEM);
		}
	}
	cr_assert(l == NULL);
	cr_assert(fcntl(0, F_GETFD) == fd0, "a listener that failed half-made must close nothing that is not its own");
	mp_expect_status(mp_listener_new(&l, "127.0.0.1:0", NULL, 0), 0);
	mp_conn *c = NULL;
	mp_expect_status(mp_fault_inject("socket", 0, EMFILE), 0);
	mp_expect_status(mp_client(&c, mp_listener_address(l), NULL, 0, 1), -EMFILE);
	mp_expect_status(mp_fault_inject("calloc", 0, ENOMEM), 0); /* connected, then no memory for the connection */
	mp_expect_status(mp_client(&c, mp_listener_address(l), NULL, 0, 1), -ENOMEM);
	mp_expect_status(mp_listener_accept(l, &c, 5), 0); /* the client that gave up */
	mp_expect_status(mp_conn_recv_bytes(c, &(void *){ NULL }, &(size_t){ 0 }), MP_EEOF);
	mp_conn_free(c);
	c = NULL;
	mp_listener_free(l);
	mp_expect_status(mp_listener_new(&l, path, NULL, 0), 0);
	mp_expect_status(mp_fault_inject("socket", 0, EMFILE), 0);
	mp_expect_status(mp_client(&c, path, NULL, 0, 1), -EMFILE);
	mp_fault_clear();
	cr_assert(c == NULL, "a failed mp_client() must leave its result alone");
	serve_one_client(l, path, NULL); /* and without the fault, the same listener serves */
	mp_listener_free(l);
}

MP_TEST(pipe, accept_retries_what_the_waiting_client_survives, 2, "Listeners and clients: paths and ports")
{
	mp_listener *l = NULL;
	mp_expect_status(mp_listener_new(&l, NULL, NULL, 0), 0);
	static const int retried[] = { EINTR, ECONNABORTED, EAGAIN };
	for (int i = 0; i < 3; i++) {
		mp_expect_status(mp_fault_inject("accept4", 0, retried[i]), 0);
		serve_one_client(l, mp_listener_address(l), NULL);
	}
	/* Any other error is the answer, and the client waits for the next accept. */
	struct peer p = { 0 };
	snprintf(p.address, sizeof p.address, "%s", mp_listener_address(l));
	mp_process *child = start("client_hello", &p);
	mp_conn *c = NULL;
	mp_expect_status(mp_fault_inject("accept4", 0, EMFILE), 0);
	mp_expect_status(mp_listener_accept(l, &c, 5), -EMFILE);
	cr_assert(c == NULL, "a failed accept must leave its result alone");
	mp_expect_status(mp_listener_accept(l, &c, 5), 0);
	serve_client(c);
	mp_conn_free(c);
	cr_assert_eq(finish(child), 0);

	/* Accepted, then no memory for the connection: it is closed, and the client sees the end. */
	child = start("client_hello", &p);
	mp_expect_status(mp_fault_inject("calloc", 0, ENOMEM), 0);
	mp_expect_status(mp_listener_accept(l, &c, 5), -ENOMEM);
	mp_fault_clear();
	cr_assert_eq(finish(child), 22, "a client whose connection the listener could not keep must see it closed");
	mp_listener_free(l);
}

MP_TEST(pipe, addresses_in_every_form_and_their_limits, 2, "Listeners and clients: paths and ports")
{
	mp_listener *l = NULL;
	char address[200];
	snprintf(address, sizeof address, "unix:/tmp/mp-test-prefixed-%d.sock", (int)getpid());
	mp_expect_status(mp_listener_new(&l, address, NULL, 0), 0);
	cr_assert_str_eq(mp_listener_address(l), address + 5, "the address of a unix: listener is its path");
	serve_one_client(l, address, NULL); /* the client takes the prefix too */
	mp_listener_free(l);

	/* A path after unix: may be relative, with no '/' at all. */
	char here[4096];
	cr_assert(getcwd(here, sizeof here) && chdir("/tmp") == 0);
	snprintf(address, sizeof address, "unix:mp-test-relative-%d.sock", (int)getpid());
	int rc = mp_listener_new(&l, address, NULL, 0);
	if (rc == 0)
		serve_one_client(l, address, NULL);
	mp_listener_free(l);
	l = NULL;
	cr_assert(chdir(here) == 0);
	cr_assert(rc == 0, "mp_listener_new(\"%s\") returned %s", address, mp_err_name(rc));

	/* sun_path holds 107 bytes and a NUL. */
	char longest[120];
	int n = snprintf(longest, sizeof longest, "/tmp/mp-test-%d-", (int)getpid());
	memset(longest + n, 'x', 107 - (size_t)n);
	longest[107] = '\0';
	unlink(longest);
	mp_expect_status(mp_listener_new(&l, longest, NULL, 0), 0);
	mp_listener_free(l);
	char too_long[sizeof longest + 1];
	snprintf(too_long, sizeof too_long, "%sy", longest);
	mp_expect_status(mp_listener_new(&l, too_long, NULL, 0), -EINVAL);

	static const char *const bad[] = { "unix:", "127.0.0.1:notaport", "127.0.0.1:12345678901234567", "[]:80",
					   "tcp:/tmp/x", ":" };
	for (int i = 0; i < 6; i++) {
		mp_conn *c = NULL;
		int rc = mp_listener_new(&l, bad[i], NULL, 0);
		cr_assert(rc == -EINVAL, "mp_listener_new(\"%s\") returned %s, expected -EINVAL", bad[i], mp_err_name(rc));
		rc = mp_client(&c, bad[i], NULL, 0, 1);
		cr_assert(rc == -EINVAL, "mp_client(\"%s\") returned %s, expected -EINVAL", bad[i], mp_err_name(rc));
	}
	char host[300];
	memset(host, 'h', 290);
	strcpy(host + 290, ":80");
	mp_expect_status(mp_listener_new(&l, host, NULL, 0), -EINVAL);

	/* TCP by name, with the tcp: prefix; and IPv6 in brackets, where this machine has it. */
	mp_expect_status(mp_listener_new(&l, "tcp:localhost:0", NULL, 0), 0);
	snprintf(address, sizeof address, "%s", mp_listener_address(l));
	cr_assert(strncmp(address, "127.0.0.1:", 10) == 0 || strncmp(address, "[::1]:", 6) == 0,
		  "localhost is 127.0.0.1 or ::1, not \"%s\"", address);
	serve_one_client(l, address, NULL);
	mp_listener_free(l);
	rc = mp_listener_new(&l, "[::1]:0", NULL, 0);
	cr_assert(rc == 0 || rc == -EAFNOSUPPORT || rc == -EADDRNOTAVAIL, "mp_listener_new(\"[::1]:0\") returned %s",
		  mp_err_name(rc));
	if (rc == 0) {
		snprintf(address, sizeof address, "%s", mp_listener_address(l));
		cr_assert(strncmp(address, "[::1]:", 6) == 0 && atoi(address + 6) > 0, "an IPv6 address is \"[::1]:PORT\", "
			  "not \"%s\"", address);
		serve_one_client(l, address, NULL);
		mp_listener_free(l);
	} else {
		cr_log_warn("no IPv6 loopback here (%s): the [::1] part of this test did not run", mp_err_name(rc));
	}
}

MP_TEST(pipe, a_fresh_unix_address_lies_in_tmpdir, 1, "Listeners and clients: paths and ports")
{
	char dir[64];
	snprintf(dir, sizeof dir, "/tmp/mp-test-tmpdir-%d", (int)getpid());
	cr_assert(mkdir(dir, 0700) == 0 || errno == EEXIST);
	const char *old = getenv("TMPDIR");
	char saved[256] = "";
	if (old)
		snprintf(saved, sizeof saved, "%s", old);
	setenv("TMPDIR", dir, 1);
	mp_listener *a = NULL, *b = NULL;
	int rc_a = mp_listener_new(&a, NULL, NULL, 0);
	int rc_b = mp_listener_new(&b, NULL, NULL, 0);
	setenv("TMPDIR", "", 1);
	mp_listener *c = NULL;
	int rc_c = mp_listener_new(&c, NULL, NULL, 0);
	if (old)
		setenv("TMPDIR", saved, 1);
	else
		unsetenv("TMPDIR");
	mp_expect_status(rc_a, 0);
	mp_expect_status(rc_b, 0);
	mp_expect_status(rc_c, 0);
	cr_assert(strncmp(mp_listener_address(a), dir, strlen(dir)) == 0 && mp_listener_address(a)[strlen(dir)] == '/',
		  "with TMPDIR=%s the address should be in it, not \"%s\"", dir, mp_listener_address(a));
	cr_assert(strcmp(mp_listener_address(a), mp_listener_address(b)) != 0, "two fresh addresses must differ");
	/*
	 * The counter starts again at 0 in every process and pids come round
	 * again: the random part at the end is what keeps a new process off the
	 * path of a socket file that a dead one left behind.
	 */
	const char *end_a = strrchr(mp_listener_address(a), '-'), *end_b = strrchr(mp_listener_address(b), '-');
	cr_assert(end_a && end_b && strcmp(end_a, end_b) != 0, "two fresh addresses must differ in their random part "
		  "too, not only in the counter: \"%s\" and \"%s\"", mp_listener_address(a), mp_listener_address(b));
	cr_assert(strncmp(mp_listener_address(c), "/tmp/", 5) == 0, "with an empty TMPDIR the address is in /tmp, not \"%s\"",
		  mp_listener_address(c));
	serve_one_client(a, mp_listener_address(a), NULL);
	mp_listener_free(a);
	mp_listener_free(b);
	mp_listener_free(c);
	rmdir(dir);
}

MP_TEST(pipe, a_listener_is_ready_when_a_client_waits, 1, "Waiting on many things at once")
{
	mp_listener *l = NULL;
	mp_expect_status(mp_listener_new(&l, NULL, NULL, 0), 0);
	struct mp_wait_item item = { .fd = mp_listener_fileno(l) };
	cr_assert_eq(mp_wait(&item, 1, 0), 0);
	struct peer p = { 0 };
	snprintf(p.address, sizeof p.address, "%s", mp_listener_address(l));
	mp_process *child = start("client_hello", &p);
	cr_assert_eq(mp_wait(&item, 1, 5), 1, "a client waiting to be accepted makes the listener's descriptor ready");
	mp_conn *c = NULL;
	int saved_stdin = dup(0); /* with 0 free, the accepted connection gets descriptor 0: a descriptor like any */
	cr_assert(saved_stdin >= 0 && close(0) == 0);
	int rc = mp_listener_accept(l, &c, 5);
	int fd = c ? mp_conn_fileno(c) : -1;
	if (rc == 0)
		serve_client(c);
	mp_conn_free(c);
	cr_assert(dup2(saved_stdin, 0) == 0);
	close(saved_stdin);
	mp_expect_status(rc, 0);
	cr_assert_eq(fd, 0, "the accepted connection should have taken the lowest free descriptor, 0");
	cr_assert_eq(finish(child), 0);

	mp_expect_status(mp_listener_fileno(NULL), -EINVAL);
	cr_assert_str_eq(mp_listener_address(NULL), "");
	mp_expect_status(mp_listener_new(NULL, NULL, NULL, 0), -EINVAL);
	mp_expect_status(mp_listener_accept(NULL, &c, 1), -EINVAL);
	mp_expect_status(mp_listener_accept(l, NULL, 1), -EINVAL);
	mp_expect_status(mp_listener_accept(l, &c, NAN), -EINVAL);
	mp_expect_status(mp_client(NULL, mp_listener_address(l), NULL, 0, 1), -EINVAL);
	mp_expect_status(mp_client(&c, NULL, NULL, 0, 1), -EINVAL);
	mp_expect_status(mp_client(&c, mp_listener_address(l), NULL, 0, NAN), -EINVAL);
	mp_listener_free(NULL);
	mp_listener_free(l);
}

MP_TEST(pipe, an_accepted_connection_blocks_without_a_timeout_after_the_handshake, 2, "Authentication with a shared key")
{
	mp_listener *l = NULL;
	mp_expect_status(mp_listener_new(&l, "127.0.0.1:0", key, strlen(key)), 0);
	struct peer p = { .delay = 0.8 * MP_TEST_TIMEOUT_SCALE };
	snprintf(p.address, sizeof p.address, "%s", mp_listener_address(l));
	snprintf(p.key, sizeof p.key, "%s", key);
	mp_process *child = start("client_hello", &p);
	struct mp_wait_item item = { .fd = mp_listener_fileno(l) };
	cr_assert_eq(mp_wait(&item, 1, 5), 1); /* the client is there: the handshake takes milliseconds */
	mp_conn *c = NULL;
	mp_expect_status(mp_listener_accept(l, &c, 0.4 * MP_TEST_TIMEOUT_SCALE), 0);
	int fd = mp_conn_fileno(c), nodelay = 0;
	socklen_t optlen = sizeof nodelay;
	cr_assert(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, &optlen) == 0 && nodelay,
		  "an accepted TCP connection must have Nagle's algorithm off (TCP_NODELAY)");
	cr_assert(!(fcntl(fd, F_GETFL) & O_NONBLOCK), "an accepted connection must be blocking");
	/* The client says hello 0.8 s after the handshake: the accept's 0.4 s must not linger on the connection. */
	serve_client(c);
	mp_conn_free(c);
	cr_assert_eq(finish(child), 0);
	mp_listener_free(l);
}

MP_TEST(pipe, a_client_connection_blocks_without_a_timeout_after_the_handshake, 1, "Authentication with a shared key")
{
	/* The connect's timeout bounds the connect and the handshake, not what the connection does after. */
	mp_listener *l = NULL;
	mp_expect_status(mp_listener_new(&l, NULL, key, strlen(key)), 0);
	mp_process *server = start("accept_one", &(struct peer){ .listener = l, .delay = 0.8 * MP_TEST_TIMEOUT_SCALE });
	mp_conn *c = NULL;
	mp_expect_status(mp_client(&c, mp_listener_address(l), key, strlen(key), 0.4 * MP_TEST_TIMEOUT_SCALE), 0);
	mp_expect_status(mp_conn_send_str(c, "hello"), 0);
	char *s = NULL;
	int rc = mp_conn_recv_str(c, &s);
	cr_assert(rc == 0, "a reply 0.8 s after a connect with a timeout of 0.4 s: the receive returned %s, expected "
		  "0: the connect's timeout must not linger on the connection", mp_err_name(rc));
	cr_assert_str_eq(s, "HELLO");
	free(s);
	mp_conn_free(c);
	cr_assert_eq(finish(server), 0);
	mp_listener_free(l);
}

MP_TEST(pipe, a_client_with_a_key_a_listener_without_one_does_not_have_times_out, 1, "Authentication with a shared key")
{
	mp_listener *l = NULL;
	mp_expect_status(mp_listener_new(&l, NULL, NULL, 0), 0);
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		mp_conn *c = NULL;
		int rc = mp_client(&c, mp_listener_address(l), key, strlen(key), 0.3);
		mp_conn_free(c);
		_exit(rc == MP_ETIMEDOUT ? 0 : 1); /* _exit: never the test's exit handlers */
	}
	mp_conn *c = NULL;
	mp_expect_status(mp_listener_accept(l, &c, 5), 0); /* no key here: accepted at once */
	int status = mp_test_wait_pid(pid, 10);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "a client waiting for a challenge that never comes must give MP_ETIMEDOUT at its timeout");
	mp_conn_free(c);
	mp_listener_free(l);
}

MP_TEST(pipe, a_send_leaves_the_program_s_own_pending_sigpipe_alone, 1, "Closing the unused ends: EOF and SIGPIPE")
{
	/* The program blocks SIGPIPE itself, and one of its own writes to a closed pipe leaves one pending. */
	sigset_t pipe_only, old;
	sigemptyset(&pipe_only);
	sigaddset(&pipe_only, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_only, &old);
	int fds[2];
	mp_test_pipe(fds);
	close(fds[0]);
	ssize_t n = write(fds[1], "x", 1);
	int err = errno;
	close(fds[1]);
	mp_conn *r, *w;
	make_pipe(&r, &w, false);
	errno = err; /* still EPIPE, as the failed write left it: a call that succeeds need not clear errno */
	int rc = mp_conn_send_str(w, "all is well");
	sigset_t pending;
	sigpending(&pending);
	bool still_pending = sigismember(&pending, SIGPIPE);
	static const struct timespec no_wait;
	sigtimedwait(&pipe_only, NULL, &no_wait); /* the program takes its signal back */
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	cr_assert(n < 0 && err == EPIPE, "the test's own write to a closed pipe should have failed with EPIPE");
	mp_expect_status(rc, 0);
	expect_bytes(r, "all is well", 11);
	mp_conn_free(r);
	mp_conn_free(w);
	cr_assert(still_pending, "a send that succeeded took a SIGPIPE that was the program's, not its own: only a "
		  "write that failed with EPIPE (its result, not errno alone, says so) has a signal to collect");
}

MP_TEST(pipe, address_limits_are_exact, 1, "Listeners and clients: paths and ports")
{
	/* A port of 15 characters fits the 16 bytes kept for it, with the NUL; one of 16 does not. */
	char address[64];
	snprintf(address, sizeof address, "127.0.0.1:%015d", 0);
	mp_listener *l = NULL;
	mp_conn *c = NULL;
	int rc = mp_listener_new(&l, address, NULL, 0);
	cr_assert(rc == 0, "mp_listener_new(\"%s\") (a port of 15 digits, which is port 0) returned %s, expected 0",
		  address, mp_err_name(rc));
	cr_assert(strncmp(mp_listener_address(l), "127.0.0.1:", 10) == 0 && atoi(mp_listener_address(l) + 10) > 0,
		  "the listener at \"%s\" should be at 127.0.0.1 and a real port, not \"%s\"", address,
		  mp_listener_address(l));
	/* And it works: a message goes through it (with the framing you wrote). */
	mp_expect_status(mp_client(&c, mp_listener_address(l), NULL, 0, 2.0), 0);
	mp_conn *server = NULL;
	mp_expect_status(mp_listener_accept(l, &server, 5.0), 0);
	mp_expect_status(mp_conn_send_str(c, "ping"), 0);
	char *got = NULL;
	mp_expect_status(mp_conn_recv_str(server, &got), 0);
	cr_assert_str_eq(got, "ping", "a message through the listener at \"%s\" came out as \"%s\"", address, got);
	free(got);
	mp_conn_free(server);
	mp_conn_free(c);
	c = NULL;
	mp_listener_free(l);
	l = NULL;

	char host[4200];
	memset(host, 'h', 4096);
	strcpy(host + 4096, ":80");
	static const char *const bad_forms[] = { "127.0.0.1:0000000000000000", "[::1:0" };
	const char *bad[] = { bad_forms[0], bad_forms[1], host };
	static const char *const why[] = { "a port of 16 digits", "a bracket never closed", "a host of 4096 bytes" };
	for (int i = 0; i < 3; i++) {
		rc = mp_listener_new(&l, bad[i], NULL, 0);
		cr_assert(rc == -EINVAL, "mp_listener_new() with %s returned %s, expected -EINVAL", why[i], mp_err_name(rc));
		rc = mp_client(&c, bad[i], NULL, 0, 1);
		cr_assert(rc == -EINVAL, "mp_client() with %s returned %s, expected -EINVAL", why[i], mp_err_name(rc));
	}

	/* A host of one character is a host: "0" is 0.0.0.0, as inet_aton() reads it. */
	rc = mp_listener_new(&l, "0:0", NULL, 0);
	cr_assert(rc == 0, "mp_listener_new(\"0:0\") returned %s, expected 0 (a host may be one character long)",
		  mp_err_name(rc));
	cr_assert(strncmp(mp_listener_address(l), "0.0.0.0:", 8) == 0, "the listener at \"0:0\" should be at 0.0.0.0, "
		  "not \"%s\"", mp_listener_address(l));
	mp_listener_free(l);
}

MP_TEST(pipe, a_listener_and_a_client_on_descriptor_0_work_and_clean_up, 1, "Listeners and clients: paths and ports")
{
	char path[108];
	snprintf(path, sizeof path, "/tmp/mp-test-stdin-%d.sock", (int)getpid());
	unlink(path);
	int saved_stdin = dup(0); /* with 0 free, the listener's socket is descriptor 0: a descriptor like any */
	cr_assert(saved_stdin >= 0 && close(0) == 0);
	mp_listener *l = NULL;
	int rc = mp_listener_new(&l, path, NULL, 0);
	struct stat st;
	bool took_0 = fstat(0, &st) == 0 && S_ISSOCK(st.st_mode); /* the socket comes first, then the rest */
	if (rc == 0)
		serve_one_client(l, path, NULL);
	mp_listener_free(l);
	bool closed = fcntl(0, F_GETFD) < 0 && errno == EBADF;
	bool removed = access(path, F_OK) < 0 && errno == ENOENT;
	unlink(path);
	cr_assert(dup2(saved_stdin, 0) == 0);
	mp_expect_status(rc, 0);
	cr_assert(took_0, "the listener's socket should have taken the lowest free descriptor, 0");
	cr_assert(closed, "mp_listener_free() must close the listener's socket, descriptor 0 too");
	cr_assert(removed, "mp_listener_free() must remove the socket file of a listener on descriptor 0 too");

	/* And a client whose socket is descriptor 0. */
	mp_expect_status(mp_listener_new(&l, path, NULL, 0), 0);
	cr_assert(close(0) == 0);
	mp_conn *client = NULL;
	rc = mp_client(&client, path, NULL, 0, 5);
	int fd = client ? mp_conn_fileno(client) : -1;
	mp_conn *server = NULL;
	if (rc == 0 && mp_listener_accept(l, &server, 5) == 0) {
		mp_expect_status(mp_conn_send_str(client, "from 0"), 0);
		expect_bytes(server, "from 0", 6);
	}
	mp_conn_free(server);
	mp_conn_free(client);
	mp_listener_free(l);
	cr_assert(dup2(saved_stdin, 0) == 0);
	close(saved_stdin);
	mp_expect_status(rc, 0);
	cr_assert_eq(fd, 0, "the client's socket should have taken the lowest free descriptor, 0");
	cr_assert(server, "the listener did not accept the client on descriptor 0");
}
