/*
 * daemon.c: daemon and non-daemon processes, joined with and without a timeout.
 *
 * The Python it mirrors (daemon.py, after PyMOTW): a daemon sleeps 2 s, join(1)
 * gives up on it, is_alive() says it still runs; at exit the daemon is
 * terminated, so its "Exiting" line never comes, while the other is joined.
 */
#include "../example.h"

#include <unistd.h>

MP_TARGET(daemon_body)(const void *arg, size_t len)
{
	(void)arg, (void)len;
	printf("Starting: %s\n", mp_process_name(mp_current_process()));
	fflush(stdout); /* it will be terminated: what is still buffered would be lost */
	sleep(2);
	printf("Exiting : %s\n", mp_process_name(mp_current_process()));
	return 0;
}

MP_TARGET(non_daemon_body)(const void *arg, size_t len)
{
	(void)arg, (void)len;
	printf("Starting: %s\n", mp_process_name(mp_current_process()));
	printf("Exiting : %s\n", mp_process_name(mp_current_process()));
	return 0;
}

int main(void)
{
	mp_process *d, *n;
	check(mp_process_new(&d, "daemon_body", NULL, 0));
	check(mp_process_set_name(d, "daemon"));
	check(mp_process_set_daemon(d, true));
	check(mp_process_new(&n, "non_daemon_body", NULL, 0));
	check(mp_process_set_name(n, "non-daemon"));

	check(mp_process_start(d));
	check(mp_process_start(n));
	int rc = mp_process_join(d, 1.0);
	if (rc != MP_ETIMEDOUT)
		check(rc);
	printf("d.is_alive() %s\n", mp_process_is_alive(d) ? "True" : "False");
	check(mp_process_join(n, MP_FOREVER));
	/* Returning from main terminates the daemon, as Python does at exit. */
	return 0;
}
