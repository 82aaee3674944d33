/*
 * value_scale.c: a shared value multiplied by 10 three times by one process and divided
 * by 10 three times by another (value_scale.py). Each update reads the value, waits a
 * little, and writes it back: without a lock the two read the same old value and one
 * update is lost; with the lock, the value ends where it began, 1000.
 */
#include "../example.h"

#include <stdint.h>
#include <unistd.h>

struct job {
	bool by_ten; /* multiply by 10, or divide */
	bool locked; /* take the value's lock around each update */
};

static mp_array *value; /* one int64_t in shared memory, with its lock */

MP_TARGET(scale)(const void *arg, size_t len)
{
	(void)len;
	const struct job *job = arg;
	int64_t *v = mp_array_data(value);
	for (int i = 0; i < 3; i++) {
		if (job->locked)
			check(mp_lock_acquire(mp_array_lock(value), MP_FOREVER));
		int64_t x = *v;
		usleep(10 * 1000); /* room for the other process to read the same old value */
		*v = job->by_ten ? x * 10 : x / 10;
		if (job->locked)
			check(mp_lock_release(mp_array_lock(value)));
	}
	return 0;
}

static int64_t run(bool locked)
{
	check(mp_array_new(&value, sizeof(int64_t), 1, true));
	*(int64_t *)mp_array_data(value) = 1000;
	mp_process *ps[2];
	for (int i = 0; i < 2; i++) {
		struct job job = { .by_ten = i == 0, .locked = locked };
		check(mp_process_new(&ps[i], "scale", &job, sizeof job));
		check(mp_process_start(ps[i]));
	}
	for (int i = 0; i < 2; i++) {
		check(mp_process_join(ps[i], MP_FOREVER));
		mp_process_free(ps[i]);
	}
	int64_t got = *(int64_t *)mp_array_data(value);
	mp_array_free(value);
	return got;
}

int main(void)
{
	int64_t got = run(false);
	printf("without a lock: %lld %s\n", (long long)got,
	       got != 1000 ? "(updates were lost)" : "(lucky: nothing was lost this time)");
	printf("with a lock: %lld\n", (long long)run(true));
	return 0;
}
