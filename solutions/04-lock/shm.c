/* shm.c: named shared memory, which processes find by name, and which is not removed while in use. */
#define _GNU_SOURCE /* getentropy() */
#include <mp.h>

#include "../01-process/fault.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * Unlike everything else in this stage, a named block outlives the process
 * that made it: its name stays in /dev/shm until someone unlinks it. Python
 * gets this wrong both ways: its resource tracker unlinks a block when the
 * creating process exits, even while others use it, and leaks it when that
 * process is killed. Here, each attached handle holds a shared read lock on
 * the block's first byte, which the kernel drops when the handle's
 * descriptor is closed in every process that has it, however they end.
 * Unlinking asks for the write lock: it is granted only if no other handle
 * holds the read lock, that is, uses the block.
 *
 * The locks are open file description locks (F_OFD_SETLK), not the classic
 * POSIX record locks (F_SETLK). A record lock belongs to a process: closing
 * any descriptor of the file drops it, a second handle's detach included,
 * and a child made by fork() does not inherit it. An OFD lock belongs to the
 * open file, which a child's inherited descriptor shares.
 */

#define NAME_MAX_LEN 200

struct mp_shm {
	int fd;
	void *data;
	size_t size;
	char name[NAME_MAX_LEN + 2]; /* with the leading '/' that shm_open() wants */
};

/* A lock on byte 0 of the block: F_RDLCK "in use", F_WRLCK "alone", F_UNLCK. */
static int lock_byte(int fd, short type)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1 }; /* l_pid 0, as OFD locks want */
	return fcntl(fd, F_OFD_SETLK, &fl) < 0 ? -errno : 0;
}

/* mmap() the whole block MAP_SHARED; through the fault seam, so that tests can make it fail. */
static void *map_block(int fd, size_t size)
{
	if (mp__fault("mmap"))
		return MAP_FAILED;
	return mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
}

/* Create a block of @size bytes, or with @size 0 attach one. */
static int open_block(mp_shm **out, const char *name, size_t size)
{
	bool create = size > 0;
	if (!out || (name && (!*name || strchr(name, '/') || strlen(name) > NAME_MAX_LEN)))
		return -EINVAL;
	mp_shm *s = mp__fault("calloc") ? NULL : calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	s->fd = -1;
	if (name) {
		snprintf(s->name, sizeof s->name, "/%s", name);
	} else {
		static unsigned counter;
		unsigned salt;
		if (getentropy(&salt, sizeof salt) < 0)
			salt = 0;
		snprintf(s->name, sizeof s->name, "/mp-%d-%u-%08x", (int)getpid(), counter++, salt);
	}

	int rc;
	/* BEGIN SOLUTION stub: free(s); return MP_ETODO;
	 * Hint: shm_open() with O_CREAT | O_EXCL to create (then ftruncate to
	 * the size), or O_RDWR alone to attach (then fstat for the size).
	 * Map it with map_block(), and take the "in use" read lock on byte 0.
	 * If anything fails after creating, unlink the name again.
	 * Lesson 04, "Named shared memory, and who may remove it".
	 */
	s->fd = shm_open(s->name, O_RDWR | O_CLOEXEC | (create ? O_CREAT | O_EXCL : 0), 0600);
	if (s->fd < 0) {
		rc = -errno;
		goto fail;
	}
	if (create && ftruncate(s->fd, (off_t)size) < 0) {
		rc = -errno;
		goto fail;
	}
	if (!create) {
		struct stat st;
		if (fstat(s->fd, &st) < 0) {
			rc = -errno;
			goto fail;
		}
		if (st.st_size == 0) {
			rc = -EINVAL; /* created elsewhere, not sized yet: nothing to map */
			goto fail;
		}
		size = (size_t)st.st_size;
	}
	s->size = size;
	s->data = map_block(s->fd, size);
	if (s->data == MAP_FAILED) {
		s->data = NULL;
		rc = -errno;
		goto fail;
	}
	if ((rc = lock_byte(s->fd, F_RDLCK)) < 0)
		goto fail;
	*out = s;
	return 0;
fail:
	if (create && s->fd >= 0)
		shm_unlink(s->name);
	mp_shm_detach(s);
	return rc;
	/* END SOLUTION */
}

int mp_shm_create(mp_shm **out, const char *name, size_t size)
{
	if (size == 0)
		return -EINVAL;
	return open_block(out, name, size);
}

int mp_shm_attach(mp_shm **out, const char *name)
{
	if (!name)
		return -EINVAL;
	return open_block(out, name, 0);
}

const char *mp_shm_name(const mp_shm *s)
{
	return s ? s->name + 1 : "";
}

size_t mp_shm_size(const mp_shm *s)
{
	return s ? s->size : 0;
}

void *mp_shm_data(mp_shm *s)
{
	return s ? s->data : NULL;
}

int mp_shm_unlink(mp_shm *s)
{
	if (!s)
		return -EINVAL;
	/* BEGIN SOLUTION stub: return MP_ETODO;
	 * Hint: ask for the write lock on byte 0 without waiting (lock_byte()):
	 * EAGAIN or EACCES means another handle holds its read lock, so
	 * MP_EBUSY. Otherwise shm_unlink(), and go back to the read lock.
	 * Lesson 04, "Named shared memory, and who may remove it".
	 */
	int rc = lock_byte(s->fd, F_WRLCK);
	if (rc == -EAGAIN || rc == -EACCES)
		return MP_EBUSY;
	if (rc < 0)
		return rc;
	rc = shm_unlink(s->name) < 0 ? -errno : 0;
	lock_byte(s->fd, F_RDLCK);
	return rc;
	/* END SOLUTION */
}

void mp_shm_detach(mp_shm *s)
{
	if (!s)
		return;
	if (s->data)
		munmap(s->data, s->size);
	if (s->fd >= 0)
		close(s->fd); /* also drops this handle's "in use" lock, once no child shares the descriptor */
	free(s);
}
