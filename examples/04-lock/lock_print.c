/*
 * lock_print.c: the Lock example of Python's documentation (lock_print.py): ten
 * processes print one line each, and a lock keeps their lines from mixing.
 *
 * The lock lives in shared memory made before the children start, so all of them
 * hold the same one. Python joins the ten at exit; so does the library.
 */
#include "../example.h"

static mp_lock *lock;

MP_TARGET(f)(const void *arg, size_t len)
{
	(void)len;
	check(mp_lock_acquire(lock, MP_FOREVER));
	printf("hello world %d\n", *(const int *)arg);
	fflush(stdout); /* while we hold the lock: the line must leave whole */
	check(mp_lock_release(lock));
	return 0;
}

int main(void)
{
	check(mp_lock_new(&lock));
	for (int num = 0; num < 10; num++) {
		mp_process *p;
		check(mp_process_new(&p, "f", &num, sizeof num));
		check(mp_process_start(p));
		mp_process_free(p); /* still joined at exit, as Python's are */
	}
	return 0;
}
