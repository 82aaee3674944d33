/* test_pipe.c: stage 03, Pipe, Connection, wait, Listener and Client, down to the bytes CPython sends. */
#define _GNU_SOURCE
#include "mp_test.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
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
};

/* Echo every message back until end-of-file; exit 0 on a clean end. */
MP_TARGET(echo)(const void *arg, size_t len)
{
	(void)len;
	const struct peer *p = arg;
	mp_conn_free(p->other);
	for (;;) {
		void *m;
		size_t n;
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

/* Connect to p->address (with p->key if set), say hello, expect an echo. */
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
	char *s = NULL;
	int ok = mp_conn_send_str(c, "hello") == 0 && mp_conn_recv_str(c, &s) == 0 && strcmp(s, "HELLO") == 0;
	free(s);
	mp_conn_free(c);
	return ok ? 0 : 22;
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
	serve_hello(c);
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
	serve_hello(c);
	mp_conn_free(c);
	cr_assert_eq(finish(child), 0);
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
	serve_hello(c);
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
	serve_hello(c);
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
	serve_hello(c);
	mp_conn_free(c);
	cr_assert_eq(finish(good), 0);
	mp_process_kill(staller);
	finish(staller);
	mp_listener_free(l);
}

/* ------------------------------------------------------------------------- */
/* Talking to Python */

/*
 * Run `python3 -c SCRIPT ARGS...` and return its pid, or skip the test if
 * there is no python3 here. The script's exit status is its verdict.
 */
static pid_t run_python3(const char *script, const char *arg1, const char *arg2, const char *arg3)
{
	if (system("command -v python3 >/dev/null 2>&1") != 0)
		cr_skip_test("python3 is not installed: the interoperability tests need it");
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		execlp("python3", "python3", "-c", script, arg1, arg2, arg3, (char *)NULL);
		_exit(127);
	}
	return pid;
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
	for (int i = 0; i < 200 && rc != 0; i++) { /* until Python has bound its socket */
		rc = mp_client(&c, path, key, strlen(key), 5);
		if (rc != 0)
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
