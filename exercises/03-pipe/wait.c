/* wait.c: wait for any of many connections and descriptors: multiprocessing.connection.wait. */
#define _GNU_SOURCE /* ppoll() */
#include <mp.h>

#include "../01-process/deadline.h"
#include "../01-process/fault.h"
#include "connection_internal.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>

int mp_wait(struct mp_wait_item *items, size_t n, double timeout)
{
	if (!items && n > 0)
		return -EINVAL;
	struct mp__deadline d;
	if (mp__deadline_start(&d, timeout) < 0)
		return -EINVAL;
	struct pollfd *fds = mp__fault("calloc") ? NULL : calloc(n ? n : 1, sizeof *fds);
	if (!fds)
		return -ENOMEM;

	/* TODO: your code goes here.
	 * Hint: one pollfd per item (the connection's descriptor, or the item's
	 * fd), watching POLLIN. A connection for which mp__conn_ready_now() (a
	 * message kept, or broken) is ready without any waiting: then ppoll() with a
	 * zero timeout (a timespec of 0 s, not NULL, which waits forever), just
	 * to collect the others. Set every item's ready, false ones included.
	 * Retry EINTR with the time left. An item is ready if its revents is
	 * anything but 0 (end-of-file and errors count: a receive would not
	 * wait). Lesson 03, "Waiting on many things at once".
	 */
	free(fds); return MP_ETODO;
}
