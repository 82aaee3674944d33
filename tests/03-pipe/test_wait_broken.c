/* test_wait_broken.c: mp_wait() and mp_conn_poll() agree on a broken connection (lesson 03). */
#include "mp_test.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MP_LESSON "lessons/03-pipe.md"

MP_TEST(pipe, wait_finds_a_broken_connection_ready_at_once, 1, "Waiting on many things at once")
{
	int sv[2];
	cr_assert(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	mp_conn *c = NULL;
	mp_expect_status(mp_conn_from_fd(&c, sv[0], true, true), 0);
	mp_expect_status(mp_conn_set_timeout(c, 0.1), 0);

	/* Half a header, then silence: the receive times out mid-message and the stream is out of step. */
	static const unsigned char half[] = { 0, 0 };
	cr_assert(write(sv[1], half, sizeof half) == (ssize_t)sizeof half, "raw write: %s", strerror(errno));
	char *s;
	mp_expect_status(mp_conn_recv_str(c, &s), MP_ETIMEDOUT);

	/* Nothing more arrives, yet a receive would not wait: it fails at once with MP_EBROKEN. */
	struct mp_wait_item item = { .conn = c, .fd = -1 };
	double t0 = mp_test_now();
	int ready = mp_wait(&item, 1, 2.0);
	double took = mp_test_now() - t0;
	mp_expect_status(ready, 1);
	cr_assert(item.ready, "mp_wait() returned 1 but did not mark the broken connection ready");
	cr_assert(took < 1.0, "mp_wait() slept %.2f s on a broken connection: a receive on it fails at once, "
		  "so it is ready, as mp_conn_poll() says", took);
	mp_expect_status(mp_conn_poll(c, 0), 1);
	mp_expect_status(mp_conn_recv_str(c, &s), MP_EBROKEN);
	mp_conn_free(c);
	close(sv[1]);
}
