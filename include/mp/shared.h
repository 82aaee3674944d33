/**
 * @file shared.h
 * @brief Memory shared between processes: Python's `Value`, `Array`,
 *        `RawValue`, `RawArray` and `shared_memory.SharedMemory`.
 *
 * An array lives in anonymous shared memory: processes started after it
 * share it through fork(), and it vanishes with the last of them, so it can
 * never leak. Named shared memory can be found by processes that did not
 * fork from its creator; its name lasts until someone unlinks it, and
 * mp_shm_unlink() refuses while another handle still has it attached.
 */
#ifndef MP_SHARED_H
#define MP_SHARED_H

#include "sync.h"

#include <stddef.h>

/** An array (or a single value) in memory shared with child processes. */
typedef struct mp_array mp_array;

/**
 * Create a zero-filled array of @p count elements of @p elem_size bytes.
 * A value is an array of one: `mp_array_new(&v, sizeof(double), 1, true)`.
 * @param out receives the array.
 * @param elem_size bytes per element.
 * @param count how many elements.
 * @param with_lock whether it comes with a re-entrant lock of its own
 *        (Python's `Array`), or not (`RawArray`).
 * @return 0; `-EINVAL` for a size of 0 or one that overflows; `-ENOMEM`.
 */
int mp_array_new(mp_array **out, size_t elem_size, size_t count, bool with_lock);

/** The elements; the pointer is valid in this process until mp_array_free(). */
void *mp_array_data(mp_array *a);

/** How many elements the array has. */
size_t mp_array_length(const mp_array *a);

/** The array's lock, or NULL for a raw array. */
mp_lock *mp_array_lock(mp_array *a);

/** Release this process's handle; NULL is fine. */
void mp_array_free(mp_array *a);

/** A named block of shared memory. */
typedef struct mp_shm mp_shm;

/**
 * Create a named block of @p size zero bytes, and attach it.
 * @param out receives the handle.
 * @param name the name, without a '/' (see shm_open()); NULL for a fresh one.
 * @param size bytes; at least 1.
 * @return 0; `-EEXIST` if the name is taken; `-EINVAL`; `-ENOMEM`.
 */
int mp_shm_create(mp_shm **out, const char *name, size_t size);

/**
 * Attach a block another process created.
 * @return 0; `-ENOENT` if no block has that name; `-EINVAL`; `-ENOMEM`.
 */
int mp_shm_attach(mp_shm **out, const char *name);

/** The block's name, to give to mp_shm_attach() in another process. */
const char *mp_shm_name(const mp_shm *s);

/** The block's size in bytes. */
size_t mp_shm_size(const mp_shm *s);

/** The block's memory in this process. */
void *mp_shm_data(mp_shm *s);

/**
 * Remove the block's name, so that no one can attach it any more; those
 * attached keep their memory until they detach.
 * @return 0; `MP_EBUSY` while another handle has it attached, in this
 *         process or another (the name stays); a child made by fork() shares
 *         its parent's handle, and so keeps it attached for everyone else
 *         until both let go; `-ENOENT` if it was unlinked already.
 */
int mp_shm_unlink(mp_shm *s);

/** Detach the block from this process and release the handle; NULL is fine. */
void mp_shm_detach(mp_shm *s);

#endif
