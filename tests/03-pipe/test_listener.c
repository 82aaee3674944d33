/* test_listener.c: a listener inherited by a forked child stays the parent's; a full backlog keeps the timeout (lesson 03). */
#include "mp_test.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define MP_LESSON "lessons/03-pipe.md"

/* A message each way between a client and the connection its listener accepted: the framing must work too. */
static void exchange_one(mp_listener *l, mp_conn *client)
{
	mp_conn *server = NULL;
	mp_expect_status(mp_listener_accept(l, &server, 5.0), 0);
	mp_expect_status(mp_conn_send_str(client, "ping"), 0);
	char *s = NULL;
	mp_expect_status(mp_conn_recv_str(server, &s), 0);
	cr_assert_str_eq(s, "ping", "the server received \"%s\", expected \"ping\"", s);
	free(s);
	mp_conn_free(server);
}

MP_TEST(pipe, a_child_freeing_an_inherited_listener_leaves_its_socket_file, 1,
	"Listeners and clients: paths and ports")
{
	char path[64];
	snprintf(path, sizeof path, "/tmp/mp-test-inherit-%d.sock", (int)getpid());
	mp_listener *l = NULL;
	mp_expect_status(mp_listener_new(&l, path, NULL, 0), 0);

	pid_t pid = fork();
	cr_assert(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		mp_listener_free(l); /* the child's copy: closing it must not take the parent's file */
		_exit(0);
	}
	int status;
	cr_assert(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);

	struct stat st;
	cr_assert(stat(path, &st) == 0, "a child freed its inherited copy of the listener and %s vanished: only "
		  "the process that made it may unlink it, or no new client can connect", path);
	mp_conn *c = NULL;
	mp_expect_status(mp_client(&c, path, NULL, 0, 2.0), 0);
	exchange_one(l, c);
	mp_conn_free(c);

	mp_listener_free(l);
	cr_assert(stat(path, &st) < 0 && errno == ENOENT, "the creator freed the listener: %s should be gone", path);
}

MP_TEST(pipe, a_unix_client_times_out_at_a_full_backlog, 2, "Listeners and clients: paths and ports")
{
	/* A listener of our own with a backlog of 1 that never accepts, filled by raw clients. */
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	snprintf(sun.sun_path, sizeof sun.sun_path, "/tmp/mp-test-backlog-%d.sock", (int)getpid());
	int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert(lfd >= 0 && bind(lfd, (struct sockaddr *)&sun, sizeof sun) == 0 && listen(lfd, 1) == 0,
		  "a listening socket at %s: %s", sun.sun_path, strerror(errno));
	int pending[8], n = 0;
	for (; n < 8; n++) {
		pending[n] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (connect(pending[n], (struct sockaddr *)&sun, sizeof sun) < 0) {
			cr_assert(errno == EAGAIN, "a raw connect to a full backlog: %s", strerror(errno));
			close(pending[n]);
			break;
		}
	}
	cr_assert(n < 8, "the backlog of 1 never filled");

	mp_conn *c = NULL;
	double t0 = mp_test_now();
	int rc = mp_client(&c, sun.sun_path, NULL, 0, 0.3);
	double took = mp_test_now() - t0;
	mp_expect_status(rc, MP_ETIMEDOUT);
	cr_assert(took >= 0.25 && took < 0.3 + 1.5 * MP_TEST_TIMEOUT_SCALE, "mp_client(..., 0.3) at a full "
		  "backlog returned after %.2f s: the timeout covers the connect() too", took);

	/* Once there is room again, the same client gets in. */
	close(lfd);
	for (int i = 0; i < n; i++)
		close(pending[i]);
	unlink(sun.sun_path);
	mp_listener *l = NULL;
	mp_expect_status(mp_listener_new(&l, sun.sun_path, NULL, 0), 0);
	mp_expect_status(mp_client(&c, sun.sun_path, NULL, 0, 2.0), 0);
	exchange_one(l, c);
	mp_conn_free(c);
	mp_listener_free(l);
}
