/* bench_pool.c: time a pool of processes: tiny-task maps, the apply_async round trip, start + close + join. Run: bench/run.sh 05 (or build/bench/05-pool [TASKS [TRIPS]]). */
#define _DEFAULT_SOURCE /* clock_gettime() */
#define BENCH_NAME "bench_pool"
#include "../bench.h"

/*
 * What it prints, one figure a line, the median over the rounds:
 *      c_map_chunk1_tasks_s    mp_pool_map of TASKS tiny tasks (square an int64),
 *                              chunk size 1: tasks/s
 *      c_map_default_tasks_s   the same with the default chunk size (Python's
 *                              ceil(n / (4 x workers)))
 *      c_apply_rtt_us          one mp_pool_apply_async + mp_result_get at a time,
 *                              TRIPS times: us per call
 *      c_pool_start_join_us    mp_pool_new + mp_pool_close + mp_pool_join +
 *                              mp_pool_free: us per pool
 * bench_pool.py does the same with CPython's Pool, under fork. Every answer is
 * checked, so that a broken pool cannot make a fast figure. WORKERS workers.
 * Lines starting with '#' are for humans.
 */

#define DEFAULT_TASKS 20000
#define DEFAULT_TRIPS 2000
#define POOLS 20
#define WORKERS 2
#define ROUNDS 5

MP_TASK(square)(const void *in, size_t len, mp_task_out *out)
{
	int64_t x;
	if (len != sizeof x)
		return mp_task_fail(out, "square wants 8 bytes");
	memcpy(&x, in, sizeof x);
	x *= x;
	return mp_task_return(out, &x, sizeof x);
}

static double map_rate(mp_pool *pool, const int64_t *in, int64_t *out, long n, size_t chunk)
{
	double t0 = now_s();
	check_mp(mp_pool_map(pool, "square", in, (size_t)n, sizeof in[0], out, sizeof out[0], chunk, NULL), "mp_pool_map");
	double s = now_s() - t0;
	for (long i = 0; i < n; i++)
		if (out[i] != in[i] * in[i]) {
			fprintf(stderr, "bench_pool: map gave a wrong answer at %ld\n", i);
			exit(1);
		}
	return (double)n / s;
}

static double round_trip_us(mp_pool *pool, long trips)
{
	double t0 = now_us();
	for (int64_t i = 0; i < trips; i++) {
		mp_result *r;
		const void *data;
		size_t len;
		check_mp(mp_pool_apply_async(pool, "square", &i, sizeof i, NULL, &r), "mp_pool_apply_async");
		check_mp(mp_result_get(r, MP_FOREVER, &data, &len), "mp_result_get");
		if (len != sizeof i || *(const int64_t *)data != i * i) {
			fprintf(stderr, "bench_pool: apply gave a wrong answer\n");
			exit(1);
		}
		mp_result_free(r);
	}
	return (now_us() - t0) / (double)trips;
}

static double start_join_us(void)
{
	double t0 = now_us();
	for (int i = 0; i < POOLS; i++) {
		mp_pool *pool;
		check_mp(mp_pool_new(&pool, WORKERS, NULL), "mp_pool_new");
		check_mp(mp_pool_close(pool), "mp_pool_close");
		check_mp(mp_pool_join(pool), "mp_pool_join");
		mp_pool_free(pool);
	}
	return (now_us() - t0) / POOLS;
}

int main(int argc, char **argv)
{
	const char *usage = "usage: bench_pool [TASKS [TRIPS]] (counts from %ld up)\n";
	long tasks = parse_count(argc, argv, 1, DEFAULT_TASKS, 10, 100000000, usage);
	long trips = parse_count(argc, argv, 2, DEFAULT_TRIPS, 10, 100000000, usage);
	int64_t *in = malloc((size_t)tasks * sizeof *in), *out = malloc((size_t)tasks * sizeof *out);
	if (!in || !out)
		die("malloc");
	for (long i = 0; i < tasks; i++)
		in[i] = i;

	double chunk1[ROUNDS], deflt[ROUNDS], rtt[ROUNDS], start[ROUNDS];
	mp_pool *pool;
	check_mp(mp_pool_new(&pool, WORKERS, NULL), "mp_pool_new");
	map_rate(pool, in, out, tasks / 10, 1); /* warm up: page faults, first chunks */
	for (int r = 0; r < ROUNDS; r++) {
		chunk1[r] = map_rate(pool, in, out, tasks, 1);
		deflt[r] = map_rate(pool, in, out, tasks, 0);
		rtt[r] = round_trip_us(pool, trips);
	}
	mp_pool_free(pool);
	for (int r = 0; r < ROUNDS; r++)
		start[r] = start_join_us();

	printf("# libmp: %d workers; %ld tiny tasks a map, %ld round trips, %d pools a round; median of %d rounds\n",
	       WORKERS, tasks, trips, POOLS, ROUNDS);
	printf("c_map_chunk1_tasks_s %.1f\n", median(chunk1, ROUNDS));
	printf("c_map_default_tasks_s %.1f\n", median(deflt, ROUNDS));
	printf("c_apply_rtt_us %.1f\n", median(rtt, ROUNDS));
	printf("c_pool_start_join_us %.1f\n", median(start, ROUNDS));
	free(in);
	free(out);
	return 0;
}
