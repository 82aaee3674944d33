/* bench_manager.c: time a manager's calls against a bare socket pair's round trip: dict get and set, list append, start + shutdown. Run: bench/run.sh 06 (or build/bench/06-manager [CALLS]). */
#define _DEFAULT_SOURCE /* clock_gettime() */
#define BENCH_NAME "bench_manager"
#include "../bench.h"

#include <sys/socket.h>

/*
 * What it prints, one figure a line, the median over the rounds:
 *      c_sock_rtt_us           8 bytes to a child over a Unix stream socket pair
 *                              and back: us per round trip, the floor of any call
 *      c_dict_get_us           d['k'] through a proxy (__getitem__): us per call
 *      c_dict_set_us           d['k'] = i (__setitem__): us per call
 *      c_list_append_us        l.append(i): us per call
 *      c_manager_start_us      mp_manager_start + mp_manager_shutdown +
 *                              mp_manager_free: us per manager
 * bench_manager.py does the same with CPython's SyncManager, under fork. The
 * answers are checked, so that a broken manager cannot make a fast figure.
 * Lines starting with '#' are for humans.
 */

#define DEFAULT_CALLS 5000
#define STARTS 10
#define ROUNDS 5
#define KEY "bench"

/* The echo child of the bare round trip: every 8 bytes back, until the parent closes its end. */
MP_TARGET(echo)(const void *arg, size_t len)
{
	int sv[2];
	take_job(sv, sizeof sv, arg, len);
	close(sv[0]); /* the parent's end, inherited: held open here, the parent's close would never read as an end */
	int fd = sv[1];
	int64_t v;
	while (read_upto(fd, &v, sizeof v, CHILD_TIMEOUT_MS) == (ssize_t)sizeof v)
		write_full(fd, &v, sizeof v);
	return 0;
}

static double sock_rtt_us(long calls)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		die("socketpair");
	mp_process *child = start_child("echo", sv, sizeof sv);
	close(sv[1]);
	double t0 = now_us();
	for (int64_t i = 0; i < calls; i++) {
		int64_t back;
		write_full(sv[0], &i, sizeof i);
		if (read_upto(sv[0], &back, sizeof back, CHILD_TIMEOUT_MS) != (ssize_t)sizeof back || back != i) {
			fprintf(stderr, "bench_manager: the echo child gave a wrong answer\n");
			exit(1);
		}
	}
	double us = (now_us() - t0) / (double)calls;
	close(sv[0]);
	if (join_child(child) != 0)
		exit(1);
	return us;
}

/* p.method(args), which must succeed; its result, to free. */
static mp_value *call(mp_proxy *p, const char *method, mp_value *args)
{
	mp_value *result = NULL;
	mp_remote_error err;
	int rc = mp_proxy_call(p, method, args, NULL, &result, &err);
	if (rc == MP_EREMOTE)
		fprintf(stderr, "bench_manager: %s raised %s: %s\n", method, err.type, err.message);
	check_mp(rc, method);
	mp_value_free(args);
	return result;
}

static double dict_get_us(mp_proxy *d, long calls)
{
	mp_value *key = mp_value_tuple_of(1, mp_value_str("k"));
	double t0 = now_us();
	for (long i = 0; i < calls; i++) {
		mp_value *v = NULL;
		check_mp(mp_proxy_call(d, "__getitem__", key, NULL, &v, NULL), "__getitem__");
		if (mp_value_as_int(v) != 42) {
			fprintf(stderr, "bench_manager: d['k'] is not 42\n");
			exit(1);
		}
		mp_value_free(v);
	}
	double us = (now_us() - t0) / (double)calls;
	mp_value_free(key);
	return us;
}

static double dict_set_us(mp_proxy *d, long calls)
{
	double t0 = now_us();
	for (long i = 0; i < calls; i++)
		mp_value_free(call(d, "__setitem__", mp_value_tuple_of(2, mp_value_str("s"), mp_value_int(i))));
	double us = (now_us() - t0) / (double)calls;
	mp_value *last = call(d, "__getitem__", mp_value_tuple_of(1, mp_value_str("s")));
	if (mp_value_as_int(last) != calls - 1) {
		fprintf(stderr, "bench_manager: d['s'] is not the last value set\n");
		exit(1);
	}
	mp_value_free(last);
	return us;
}

static double list_append_us(mp_manager *m, long calls)
{
	mp_proxy *l;
	check_mp(mp_manager_create(m, "list", NULL, NULL, &l, NULL), "create list");
	double t0 = now_us();
	for (long i = 0; i < calls; i++)
		mp_value_free(call(l, "append", mp_value_tuple_of(1, mp_value_int(i))));
	double us = (now_us() - t0) / (double)calls;
	mp_value *n = call(l, "__len__", NULL);
	if (mp_value_as_int(n) != calls) {
		fprintf(stderr, "bench_manager: the list holds %lld items, not %ld\n", (long long)mp_value_as_int(n), calls);
		exit(1);
	}
	mp_value_free(n);
	mp_proxy_free(l);
	return us;
}

static double start_us(void)
{
	double t0 = now_us();
	for (int i = 0; i < STARTS; i++) {
		mp_manager *m;
		check_mp(mp_manager_start(&m, NULL, KEY, strlen(KEY)), "mp_manager_start");
		check_mp(mp_manager_shutdown(m), "mp_manager_shutdown");
		mp_manager_free(m);
	}
	return (now_us() - t0) / STARTS;
}

int main(int argc, char **argv)
{
	long calls = parse_count(argc, argv, 1, DEFAULT_CALLS, 100, 10000000, "usage: bench_manager [CALLS >= %ld]\n");

	mp_manager *m;
	mp_proxy *d;
	check_mp(mp_manager_start(&m, NULL, KEY, strlen(KEY)), "mp_manager_start");
	check_mp(mp_manager_create(m, "dict", NULL, NULL, &d, NULL), "create dict");
	mp_value_free(call(d, "__setitem__", mp_value_tuple_of(2, mp_value_str("k"), mp_value_int(42))));

	double sock[ROUNDS], get[ROUNDS], set[ROUNDS], append[ROUNDS], start[ROUNDS];
	for (int r = 0; r < ROUNDS; r++) {
		/* Interleaved, so that a slow moment of the machine falls on every figure alike. */
		sock[r] = sock_rtt_us(calls);
		get[r] = dict_get_us(d, calls);
		set[r] = dict_set_us(d, calls);
		append[r] = list_append_us(m, calls);
		start[r] = start_us();
	}
	mp_proxy_free(d);
	check_mp(mp_manager_shutdown(m), "mp_manager_shutdown");
	mp_manager_free(m);

	printf("# C: %ld calls a round, %d rounds, %d manager starts a round\n", calls, ROUNDS, STARTS);
	printf("c_sock_rtt_us %.3f\n", median(sock, ROUNDS));
	printf("c_dict_get_us %.3f\n", median(get, ROUNDS));
	printf("c_dict_set_us %.3f\n", median(set, ROUNDS));
	printf("c_list_append_us %.3f\n", median(append, ROUNDS));
	printf("c_manager_start_us %.3f\n", median(start, ROUNDS));
	return 0;
}
