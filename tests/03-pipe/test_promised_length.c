/* test_promised_length.c: memory follows the bytes that came, not the length a header promised (lesson 03). */
#include "mp_test.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define MP_LESSON "lessons/03-pipe.md"

/* The most address space this process has held at once, from /proc/self/status, in KiB. */
static long vm_peak_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	cr_assert(f, "/proc/self/status: %s", strerror(errno));
	char line[256];
	long kib = -1;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "VmPeak: %ld kB", &kib) == 1)
			break;
	fclose(f);
	cr_assert(kib > 0, "no VmPeak in /proc/self/status");
	return kib;
}

MP_TEST(pipe, a_header_promising_a_gigabyte_reserves_no_gigabyte, 1, "Bad bytes from a peer")
{
	int sv[2];
	cr_assert(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	mp_conn *c = NULL;
	mp_expect_status(mp_conn_from_fd(&c, sv[0], true, true), 0);
	mp_expect_status(mp_conn_set_timeout(c, 0.2), 0);

	/* 1 GiB - 1 announced (under the default cap of 1 GiB), then ten bytes and silence. */
	static const unsigned char frame[] = { 0x3f, 0xff, 0xff, 0xff, '0', '1', '2', '3', '4', '5', '6', '7', '8', '9' };
	cr_assert(write(sv[1], frame, sizeof frame) == (ssize_t)sizeof frame, "raw write: %s", strerror(errno));
	long before = vm_peak_kib();
	void *msg = NULL;
	size_t len = 0;
	mp_expect_status(mp_conn_recv_bytes(c, &msg, &len), MP_ETIMEDOUT);
	long grew = vm_peak_kib() - before;
	const char *preload = getenv("LD_PRELOAD");
	if (!preload || !strstr(preload, "vgpreload")) /* valgrind's own allocator keeps its own books */
		cr_assert(grew < 64 * 1024, "a header announced 1 GiB and 10 bytes came; the receive reserved "
			  "%ld MiB at once: let the buffer grow with the bytes that arrive", grew / 1024);
	mp_expect_status(mp_conn_recv_bytes(c, &msg, &len), MP_EBROKEN); /* it stopped mid-message */
	mp_conn_free(c);
	close(sv[1]);
}

MP_TEST(pipe, a_message_larger_than_the_first_reservation_arrives_whole, 1, "Bad bytes from a peer")
{
	mp_conn *a = NULL, *b = NULL;
	mp_expect_status(mp_pipe(&a, &b, true), 0);
	size_t n = (3u << 20) + 12345; /* past 1 MiB and 2 MiB: two regrowths, the last one cut to size */
	unsigned char *out = malloc(n);
	cr_assert(out);
	for (size_t i = 0; i < n; i++)
		out[i] = (unsigned char)(i * 131 + (i >> 16));
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		mp_conn_free(b);
		int rc = mp_conn_send_bytes(a, out, n);
		mp_conn_free(a);
		free(out);
		_exit(rc == 0 ? 0 : 1);
	}
	mp_conn_free(a);
	void *msg = NULL;
	size_t len = 0;
	mp_expect_status(mp_conn_recv_bytes(b, &msg, &len), 0);
	cr_assert_eq(len, n, "received %zu bytes of %zu", len, n);
	cr_assert(memcmp(msg, out, n) == 0, "a message of %zu bytes came back changed", n);
	cr_assert_eq(((unsigned char *)msg)[n], 0, "a received message has a NUL after it");
	free(msg);
	free(out);
	mp_conn_free(b);
	int status;
	cr_assert(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "the sender failed");
}
