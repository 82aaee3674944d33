/* sentinel.c: how a process watches its children and its parent end, with or without pidfds. */
#define _GNU_SOURCE /* pidfd_open(), pidfd_send_signal(), P_PIDFD, pipe2() */
#include <mp.h>

#include "fault.h"
#include "sentinel.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

static int held = -1; /* without pidfds: the write end our own parent watches */

bool mp__have_pidfd(void)
{
	static int known = -1;
	if (known < 0) {
		/* Through the seam: a test fails it with ENOSYS to run as on a kernel without pidfds. */
		int fd = mp__fault("pidfd_open") ? -1 : pidfd_open(getpid(), 0);
		known = fd >= 0 || errno != ENOSYS;
		if (fd >= 0)
			close(fd);
	}
	return known;
}

int mp__watch_prepare(int pipe_fds[2])
{
	pipe_fds[0] = pipe_fds[1] = -1;
	if (!mp__have_pidfd() && (mp__fault("pipe2") || pipe2(pipe_fds, O_CLOEXEC) < 0))
		return -errno;
	return 0;
}

void mp__watch_cancel(int pipe_fds[2])
{
	if (pipe_fds[0] >= 0) {
		close(pipe_fds[0]);
		close(pipe_fds[1]);
	}
}

void mp__watch_in_child(int pipe_fds[2])
{
	if (held >= 0)
		close(held); /* our parent's, held for its own parent: not ours to hold */
	held = pipe_fds[1];
	if (pipe_fds[0] >= 0)
		close(pipe_fds[0]);
}

/*
 * pidfd_open() on a new child, through the fault seam (fault.h): the tests
 * make it fail, to check that the child is then killed and reaped.
 */
static int pidfd_open_or_fault(pid_t pid)
{
	return mp__fault("pidfd_open") ? -1 : pidfd_open(pid, 0);
}

int mp__watch_child(pid_t pid, int pipe_fds[2], bool *is_pidfd)
{
	*is_pidfd = pipe_fds[0] < 0;
	if (!*is_pidfd) {
		close(pipe_fds[1]); /* only the child may hold it, or we would never see EOF */
		return pipe_fds[0];
	}
	/* TODO: your code goes here.
	 * Hint: pidfd_open_or_fault(pid), which is pidfd_open(pid, 0) through
	 * the seam the tests use to make it fail. Can the child exit and its
	 * pid be reused before this call? Not while nobody reaps it. If it
	 * fails, kill the child with SIGKILL, waitpid() for it (retry on
	 * EINTR), and return -errno (save errno first: kill and waitpid may
	 * change it). Lesson 01, "Starting a child".
	 */
	return MP_ETODO;
}

/* A descriptor that is readable at once, for a process that has already ended. */
static int ended(void)
{
	int fds[2];
	if (mp__fault("pipe2") || pipe2(fds, O_CLOEXEC) < 0)
		return -1;
	close(fds[1]); /* no writer left: the read end reports end-of-file from now on */
	return fds[0];
}

int mp__watch_parent(pid_t parent_pid)
{
	if (!mp__have_pidfd())
		return -1;
	/*
	 * Open it now, while the pid surely names our parent: later it might name
	 * a stranger. If getppid() has changed, the parent died (we were handed to
	 * another) and the pid may already be reused: whatever we opened is not it.
	 */
	int fd = pidfd_open(parent_pid, 0);
	if (getppid() == parent_pid)
		return fd;
	if (fd >= 0)
		close(fd);
	return ended();
}

int mp__watch_self(void)
{
	if (!mp__have_pidfd())
		return -ENOSYS;
	int fd = pidfd_open(getpid(), 0);
	return fd >= 0 ? fd : -errno;
}

int mp__wait_child(pid_t pid, int sentinel, bool is_pidfd, siginfo_t *info, int flags)
{
	if (mp__fault("waitid"))
		return -1;
	if (!is_pidfd) {
		/*
		 * End-of-file on the pipe comes as the child closes its files on the
		 * way out, a moment before it can be reaped: from then on, wait.
		 */
		struct pollfd ended = { .fd = sentinel, .events = POLLIN };
		if ((flags & WNOHANG) && poll(&ended, 1, 0) == 1)
			flags &= ~WNOHANG;
		return waitid(P_PID, (id_t)pid, info, flags);
	}
	/* TODO: your code goes here.
	 * Hint: waitid() with P_PIDFD waits for the process the pidfd names.
	 * Lesson 01, "Reaping: wait and zombies".
	 */
	errno = ENOSYS; return -1;
}

int mp__signal_child(pid_t pid, int sentinel, bool is_pidfd, int sig)
{
	if (mp__fault(is_pidfd ? "pidfd_send_signal" : "kill"))
		return -1;
	if (!is_pidfd)
		return kill(pid, sig); /* safe: the unreaped child keeps its pid */
	/* TODO: your code goes here.
	 * Hint: pidfd_send_signal() reaches the very process the pidfd names,
	 * never a stranger that got the same pid. Lesson 01, "Signals:
	 * terminate and kill".
	 */
	errno = ENOSYS; return -1;
}
