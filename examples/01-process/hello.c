/*
 * hello.c: the first example of Python's multiprocessing documentation, in C.
 *
 *     p = Process(target=f, args=('bob',)); p.start(); p.join()     (hello.py)
 *
 * The target is found by its name, and its argument travels as bytes: a child
 * started by spawn (stage 07) could not use a function pointer of the parent's.
 */
#include "../example.h"

MP_TARGET(f)(const void *name, size_t len)
{
	printf("hello %.*s\n", (int)len, (const char *)name);
	return 0;
}

int main(void)
{
	mp_process *p;
	check(mp_process_new(&p, "f", "bob", 3));
	check(mp_process_start(p));
	check(mp_process_join(p, MP_FOREVER));
	mp_process_free(p);
	return 0;
}
