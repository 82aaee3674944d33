/*
 * shared_rows.c: a named block of shared memory filled row by row by several processes,
 * timed against one process doing it all, and removed at the end (shared_rows.py).
 *
 * Each worker attaches the block by its name, as a process that did not inherit it
 * would, fills its own rows (no two workers touch the same bytes, so no lock is
 * needed), and detaches. The parent unlinks the block: nothing is left in /dev/shm.
 */
#include "../example.h"

#include <time.h>

enum { ROWS = 8, COLS = 100000, WORKERS = 4 };

struct rows {
	char name[64]; /* the block's name, for the worker to attach */
	int first, last; /* the rows it fills, [first, last) */
};

MP_TARGET(fill)(const void *arg, size_t len)
{
	(void)len;
	const struct rows *job = arg;
	mp_shm *shm;
	check(mp_shm_attach(&shm, job->name));
	double *rows = mp_shm_data(shm);
	for (int r = job->first; r < job->last; r++)
		for (int c = 0; c < COLS; c++)
			rows[r * COLS + c] = r * COLS + c;
	mp_shm_detach(shm);
	return 0;
}

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

int main(void)
{
	int counts[] = { 1, WORKERS };
	for (int k = 0; k < 2; k++) {
		int workers = counts[k];
		mp_shm *shm;
		check(mp_shm_create(&shm, NULL, sizeof(double) * ROWS * COLS));
		double start = now();
		mp_process *ps[WORKERS];
		for (int w = 0; w < workers; w++) {
			struct rows job = { .first = w * (ROWS / workers), .last = (w + 1) * (ROWS / workers) };
			snprintf(job.name, sizeof job.name, "%s", mp_shm_name(shm));
			check(mp_process_new(&ps[w], "fill", &job, sizeof job));
			check(mp_process_start(ps[w]));
		}
		for (int w = 0; w < workers; w++) {
			check(mp_process_join(ps[w], MP_FOREVER));
			mp_process_free(ps[w]);
		}
		double took = now() - start, total = 0;
		const double *rows = mp_shm_data(shm);
		for (long i = 0; i < (long)ROWS * COLS; i++)
			total += rows[i];
		printf("%d rows of %d filled by %d process(es): checksum %lld, %.3f s\n", ROWS, COLS, workers,
		       (long long)total, took);
		check(mp_shm_unlink(shm));
		mp_shm_detach(shm);
	}
	printf("shared blocks removed\n");
	return 0;
}
