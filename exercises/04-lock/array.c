/* array.c: Value and Array: plain memory shared with child processes. */
#define _POSIX_C_SOURCE 200809L /* process-shared, robust pthread objects */
#include <mp.h>

#include "guard.h"
#include "../01-process/fault.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

struct mp_array {
	void *data;     /* anonymous shared memory */
	size_t bytes;
	size_t length;
	mp_lock *lock;  /* NULL for a raw array */
};

int mp_array_new(mp_array **out, size_t elem_size, size_t count, bool with_lock)
{
	if (!out || elem_size == 0 || count == 0 || count > SIZE_MAX / elem_size)
		return -EINVAL;
	mp_array *a = mp__fault("calloc") ? NULL : calloc(1, sizeof *a);
	if (!a)
		return -ENOMEM;
	a->bytes = elem_size * count;
	a->length = count;
	/* TODO: your code goes here.
	 * Hint: mp__shared_alloc() gives zeroed memory that fork() shares
	 * rather than copies; add an RLock (mp_rlock_new) when asked, as
	 * Python's Array does. Lesson 04, "Sharing memory".
	 */
	free(a); return MP_ETODO;
}

void *mp_array_data(mp_array *a)
{
	return a ? a->data : NULL;
}

size_t mp_array_length(const mp_array *a)
{
	return a ? a->length : 0;
}

mp_lock *mp_array_lock(mp_array *a)
{
	return a ? a->lock : NULL;
}

void mp_array_free(mp_array *a)
{
	if (!a)
		return;
	mp__shared_free(a->data, a->bytes);
	mp_lock_free(a->lock);
	free(a);
}
