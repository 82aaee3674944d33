/*
 * pipe_speed.c: the Pipe benchmark of many tutorials (pipe_speed.py): a writer sends
 * 10^4, 10^5 and 10^6 integers and a final "DONE" to a reader process, each side
 * closing the end it does not use, and the time of each run is printed.
 *
 * Closing the unused ends matters: the reader would never see end of file while a
 * copy of the writing end stayed open in its own process (lesson 03).
 */
#include "../example.h"

#include <string.h>
#include <time.h>

static mp_conn *p_output, *p_input;

MP_TARGET(reader_proc)(const void *arg, size_t len)
{
	(void)arg, (void)len;
	mp_conn_free(p_input); /* the writer's end: not ours */
	for (;;) {
		char msg[8];
		size_t n;
		check(mp_conn_recv_bytes_into(p_output, msg, sizeof msg, &n));
		if (n == 4 && memcmp(msg, "DONE", 4) == 0)
			return 0;
	}
}

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

int main(void)
{
	for (long count = 10000; count <= 1000000; count *= 10) {
		check(mp_pipe(&p_output, &p_input, true));
		mp_process *reader_p;
		check(mp_process_new(&reader_p, "reader_proc", NULL, 0));
		check(mp_process_set_daemon(reader_p, true));
		check(mp_process_start(reader_p));
		mp_conn_free(p_output); /* the reader's end: not ours */

		double start = now();
		for (long ii = 0; ii < count; ii++)
			check(mp_conn_send_int(p_input, ii));
		check(mp_conn_send_str(p_input, "DONE"));
		mp_conn_free(p_input);
		check(mp_process_join(reader_p, MP_FOREVER));
		mp_process_free(reader_p);
		printf("Sending %ld numbers to Pipe() took %f seconds\n", count, now() - start);
	}
	return 0;
}
