/*
 * squares.c: the first example of Python's multiprocessing documentation, in C
 * (squares.py): a pool of 5 workers maps f(x) = x * x over [1, 2, 3].
 *
 * The task is found by its name and takes and gives back bytes: here one int64_t
 * each way, so the map hands over records of a fixed size, as qsort() does.
 */
#include "../example.h"

#include <stdint.h>
#include <string.h>

MP_TASK(f)(const void *in, size_t len, mp_task_out *out)
{
	(void)len;
	int64_t x;
	memcpy(&x, in, sizeof x); /* the bytes of a record: not always aligned for an int64_t */
	int64_t square = x * x;
	return mp_task_return(out, &square, sizeof square);
}

int main(void)
{
	int64_t xs[] = { 1, 2, 3 }, squares[3];
	mp_pool *p;
	check(mp_pool_new(&p, 5, NULL));
	check(mp_pool_map(p, "f", xs, 3, sizeof xs[0], squares, sizeof squares[0], 0, NULL));
	mp_pool_free(p); /* the end of Python's `with` block: terminate the pool */
	printf("[%lld, %lld, %lld]\n", (long long)squares[0], (long long)squares[1], (long long)squares[2]);
	return 0;
}
