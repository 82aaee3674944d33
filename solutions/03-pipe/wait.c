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

	/* BEGIN SOLUTION stub: free(fds); return MP_ETODO;
	 * Hint: one pollfd per item (the connection's descriptor, or the item's
	 * fd), watching POLLIN. A connection for which mp__conn_ready_now() (a
	 * message kept, or broken) is ready without any waiting: then ppoll() with a
	 * zero timeout (a timespec of 0 s, not NULL, which waits forever), just
	 * to collect the others. Set every item's ready, false ones included.
	 * Retry EINTR with the time left. An item is ready if its revents is
	 * anything but 0 (end-of-file and errors count: a receive would not
	 * wait). Lesson 03, "Waiting on many things at once".
	 */
	int ready = 0;
	for (size_t i = 0; i < n; i++) {
		items[i].ready = items[i].conn && mp__conn_ready_now(items[i].conn);
		ready += items[i].ready;
		fds[i].fd = items[i].conn ? mp_conn_fileno(items[i].conn) : items[i].fd;
		fds[i].events = POLLIN;
	}
	int rc;
	for (;;) {
		struct timespec left, zero = { 0, 0 };
		rc = ppoll(fds, n, ready ? &zero : mp__deadline_left(&d, &left), NULL);
		if (rc >= 0 || errno != EINTR)
			break;
	}
	if (rc < 0) {
		rc = -errno;
		free(fds);
		return rc;
	}
	for (size_t i = 0; i < n; i++) {
		if (fds[i].revents && !items[i].ready) {
			items[i].ready = true;
			ready++;
		}
	}
	free(fds);
	return ready;
	/* END SOLUTION */
}
