/* sentinel.h: how a process watches its children and its parent end, with or without pidfds (internal). */
#ifndef MP_SENTINEL_H
#define MP_SENTINEL_H

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

/*
 * A sentinel is a descriptor that becomes readable when a process ends. The
 * best one is a pidfd (Linux 5.3): it names one process for good, and can be
 * polled, waited on and signalled. Where pidfd_open() is missing (older
 * kernels, and valgrind 3.19, which does not know the system call) a pipe
 * stands in: the child holds the write end for as long as it lives, so the
 * parent's read end sees end-of-file when it ends. The pid then does the
 * waiting and signalling, which is safe for as long as the child is not
 * reaped: until then its zombie keeps the pid from being reused.
 *
 * Starting a child goes: mp__watch_prepare(), fork(), then
 * mp__watch_in_child() in the child and mp__watch_child() in the parent.
 */

/* Whether this system has pidfds. */
bool mp__have_pidfd(void);

/* Before fork(): make the pipe where pidfds are missing ({-1, -1} otherwise). 0 or -errno. */
int mp__watch_prepare(int pipe_fds[2]);

/* fork() failed: close what mp__watch_prepare() opened. */
void mp__watch_cancel(int pipe_fds[2]);

/* In the new child: hold the pipe's write end (if any) for life, and drop the parent's. */
void mp__watch_in_child(int pipe_fds[2]);

/*
 * In the parent, after fork(): the child's sentinel, and whether it is a
 * pidfd. If none can be had, the child is killed and reaped (it must not run
 * a target its caller will believe never started) and -errno is returned.
 */
int mp__watch_child(pid_t pid, int pipe_fds[2], bool *is_pidfd);

/*
 * In a new child: a sentinel on the parent that started it (pidfds only),
 * readable at once if the parent has already died; -1 where there is none.
 */
int mp__watch_parent(pid_t parent_pid);

/* A pidfd on the current process (readable only once it ends); -errno without pidfds. */
int mp__watch_self(void);

/* waitid() on a child, through its sentinel when that is a pidfd; @flags as waitid's. */
int mp__wait_child(pid_t pid, int sentinel, bool is_pidfd, siginfo_t *info, int flags);

/* Send @sig to a child that is not reaped yet; 0, or -1 with errno set. */
int mp__signal_child(pid_t pid, int sentinel, bool is_pidfd, int sig);

#endif
