/* test_listener_fork.c: a listener inherited by a forked child stays the parent's (lesson 03). */
#include "mp_test.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
