/*
 * manager_server.c: a C process that holds shared objects for Python programs.
 *
 *     manager_server ADDRESS AUTHKEY
 *
 * serves, at ADDRESS (a Unix socket path, or HOST:PORT for TCP), every type of
 * Python's SyncManager that stage 06 has: dict, list, Value, Namespace, Queue,
 * Lock, Event... A CPython program reaches it, unchanged, as it would a Python
 * manager:
 *
 *     from multiprocessing.managers import SyncManager
 *     m = SyncManager(address='/tmp/shared.sock', authkey=b'secret')
 *     m.connect()
 *     d = m.dict()
 *
 * It serves until a client asks it to shut down, or it gets SIGTERM. The key is
 * what keeps strangers out; it does not hide the traffic (lesson 06, "Beyond one
 * machine").
 */
#include "../example.h"

#include <string.h>

static void ready(const char *address, void *arg)
{
	(void)arg;
	printf("manager_server: serving at %s\n", address);
	fflush(stdout); /* a script waiting for this line reads it now, not at exit */
}

int main(int argc, char **argv)
{
	if (argc != 3 || !argv[2][0]) {
		fprintf(stderr, "usage: %s ADDRESS AUTHKEY\n"
				"  ADDRESS  a Unix socket path, or HOST:PORT\n"
				"  AUTHKEY  the key clients must hold (Python's authkey=b'...')\n",
			argv[0]);
		return 2;
	}
	check(mp_manager_serve(argv[1], argv[2], strlen(argv[2]), ready, NULL));
	printf("manager_server: shut down\n");
	return 0;
}
