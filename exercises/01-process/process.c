/* process.c: run a target in a child process, and wait for it to end. */
#define _GNU_SOURCE /* fork(), prctl() and the other POSIX and Linux calls under -std=c11 */
#include <mp.h>

#include "deadline.h"
#include "fault.h"
#include "sentinel.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

enum state {
	CREATED, /* made by mp_process_new(), not started */
	RUNNING, /* started and not reaped; always so for the current and parent process */
	ENDED,   /* reaped: exitcode is known, pidfd is closed */
};

struct mp_process {
	char *name;               /* for humans; never NULL */
	char identity[48];        /* place in the tree: "2" is Process-2, "2:1" its first child */
	mp_target_fn target;      /* what the child runs; NULL for current and parent objects */
	void *arg;                /* the bytes the target gets, copied at creation */
	size_t arglen;
	bool daemon;
	int death_signal;         /* sent to the child when its parent dies; 0 for none */
	enum state state;
	pid_t pid;                /* 0 until started */
	pid_t parent;             /* the process that started it: only it may wait for it */
	int sentinel;             /* readable once the process ends; -1 when reaped or not open */
	bool is_pidfd;            /* the sentinel is a pidfd, not the read end of a pipe */
	int exitcode;             /* once ENDED: exit status, or minus the signal number */
	bool detached;            /* freed by its owner while running: free it once reaped */
	struct mp_process *next;  /* link in `children` while RUNNING */
};

/*
 * What every process knows about its own place in the tree. fork() copies all
 * of it into the child, which then rewrites it (see become_child()).
 */
static mp_process *self;      /* the running process; made on first use */
static mp_process *parent;    /* who started us; NULL in the main process */
static mp_process *children;  /* children started here and not reaped yet */
static unsigned created;      /* processes created here, for default names */

static void end_children(void);

/*
 * The allocations go through the fault seam (fault.h), so that the tests can
 * see each -ENOMEM returned, and nothing changed.
 */
static mp_process *object_new(const char *name)
{
	mp_process *p = mp__fault("calloc") ? NULL : calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->name = mp__fault("strdup") ? NULL : strdup(name);
	if (!p->name) {
		free(p);
		return NULL;
	}
	p->sentinel = -1;
	p->death_signal = SIGTERM;
	return p;
}

static void object_free(mp_process *p)
{
	if (p->sentinel >= 0)
		close(p->sentinel);
	free(p->name);
	free(p->arg);
	free(p);
}

mp_process *mp_current_process(void)
{
	if (!self) {
		self = object_new("MainProcess");
		if (self) {
			self->state = RUNNING;
			self->pid = getpid();
		}
	}
	return self;
}

mp_process *mp_parent_process(void)
{
	return parent;
}

int mp_process_new(mp_process **out, const char *target, const void *arg, size_t len)
{
	if (!out || !target || (!arg && len > 0))
		return -EINVAL;
	mp_target_fn fn = mp_target_find(target);
	if (!fn)
		return MP_ENOTARGET;
	mp_process *me = mp_current_process();
	if (!me)
		return -ENOMEM;

	char identity[sizeof me->identity];
	int n = snprintf(identity, sizeof identity, "%s%s%u", me->identity,
			 me->identity[0] ? ":" : "", created + 1);
	if (n < 0 || (size_t)n >= sizeof identity)
		return -ENAMETOOLONG; /* a tree deeper than anyone should build */

	char name[sizeof "Process-" + sizeof identity];
	snprintf(name, sizeof name, "Process-%s", identity);
	mp_process *p = object_new(name);
	if (!p)
		return -ENOMEM;
	if (len > 0) {
		p->arg = mp__fault("malloc") ? NULL : malloc(len);
		if (!p->arg) {
			object_free(p);
			return -ENOMEM;
		}
		memcpy(p->arg, arg, len);
	}
	strcpy(p->identity, identity);
	p->target = fn;
	p->arglen = len;
	created++;
	*out = p;
	return 0;
}

int mp_process_set_name(mp_process *p, const char *name)
{
	if (!p || !name || !*name)
		return -EINVAL;
	char *copy = mp__fault("strdup") ? NULL : strdup(name);
	if (!copy)
		return -ENOMEM;
	free(p->name);
	p->name = copy;
	return 0;
}

int mp_process_set_daemon(mp_process *p, bool daemon)
{
	if (!p)
		return -EINVAL;
	if (p->state != CREATED)
		return MP_ESTARTED;
	p->daemon = daemon;
	return 0;
}

int mp_process_set_parent_death_signal(mp_process *p, int sig)
{
	if (!p || sig < 0 || sig >= NSIG)
		return -EINVAL;
	if (p->state != CREATED)
		return MP_ESTARTED;
	p->death_signal = sig;
	return 0;
}

const char *mp_process_name(const mp_process *p)
{
	return p ? p->name : "";
}

pid_t mp_process_pid(const mp_process *p)
{
	return p ? p->pid : 0;
}

bool mp_process_is_daemon(const mp_process *p)
{
	return p && p->daemon;
}

/* Take a reaped child out of `children`; free it if its owner already let go. */
static void forget_child(mp_process *p)
{
	for (mp_process **link = &children; *link; link = &(*link)->next) {
		if (*link == p) {
			*link = p->next;
			break;
		}
	}
	p->next = NULL;
	if (p->detached)
		object_free(p);
}

/*
 * Collect the status of a RUNNING child. With WNOHANG in @flags it does not
 * wait. Returns 0 once the child is reaped (p->state is ENDED), MP_ERUNNING
 * if it still runs, or a negated errno.
 */
static int reap(mp_process *p, int flags)
{
	/* TODO: your code goes here.
	 * Hint: mp__wait_child(..., WEXITED | flags) fills a siginfo_t (it is
	 * waitid() on the sentinel); retry on EINTR. With WNOHANG, info.si_pid
	 * stays 0 while the child runs. info.si_code says how it ended
	 * (CLD_EXITED, or killed by the signal info.si_status). Then, in this
	 * order: keep the exit code, mark the process ENDED, close the
	 * sentinel, and call forget_child() last (it may free the object).
	 * Lesson 01, "Reaping: wait and zombies".
	 */
	return MP_ETODO;
}

/* The checks that every wait and signal on @p needs. */
static int check_child(const mp_process *p)
{
	if (!p)
		return -EINVAL;
	if (p == self)
		return MP_EJOINSELF;
	if (p->state == CREATED)
		return MP_ENOTSTARTED;
	if (p->parent != getpid())
		return MP_ENOTCHILD; /* a copy inherited through fork(), or our parent */
	return 0;
}

/*
 * The child's side of mp_process_start(). It runs in the new process and
 * never returns: it ends with _exit(), not exit(), because exit() would run
 * the atexit handlers and flush the stdio buffers that the child inherited
 * from its parent, which belong to the parent and will be run by it.
 */
static _Noreturn void become_child(mp_process *p, pid_t parent_pid, int watch[2])
{
	/* TODO: your code goes here.
	 * Hint: four steps. (1) Ask for p->death_signal when the parent dies,
	 * with prctl(PR_SET_PDEATHSIG), then close the race: if getppid() is no
	 * longer parent_pid the parent died before the prctl, so raise() the
	 * signal yourself. (2) Forget the parent's children: close the
	 * sentinels this process inherited, free the detached objects, empty
	 * `children`, and call mp__watch_in_child(watch). (3) The parent's
	 * `self` becomes our `parent`, with mp__watch_parent() as its
	 * sentinel, and p becomes `self`. (4) Run the target, end_children(),
	 * fflush(NULL), then _exit() with the target's return value.
	 * Lesson 01, "The child's side of fork".
	 */
	_exit(127);
}

static void at_exit(void)
{
	end_children();
}

/* fork() through the fault seam (fault.h): the tests make it fail with EAGAIN. */
static pid_t fork_or_fault(void)
{
	return mp__fault("fork") ? -1 : fork();
}

/* atexit() through the seam too: it fails only when memory runs out, which a test cannot arrange. */
static int atexit_or_fault(void (*fn)(void))
{
	return mp__fault("atexit") ? -1 : atexit(fn);
}

int mp_process_start(mp_process *p)
{
	if (!p)
		return -EINVAL;
	if (p->state != CREATED)
		return MP_ESTARTED;
	mp_process *me = mp_current_process();
	if (!me)
		return -ENOMEM;
	if (me->daemon)
		return MP_EDAEMONIC;
	mp_active_children(NULL, 0); /* reap what has ended, as Python's start() does */

	/* TODO: your code goes here.
	 * Hint: register at_exit() with atexit_or_fault() the first time. Then
	 * mp__watch_prepare(), flush stdio, remember getpid(), and fork with
	 * fork_or_fault() (fork() through the seam the tests use to make it
	 * fail). The child calls become_child(). The parent gets the child's
	 * sentinel from mp__watch_child() (write that one in sentinel.c),
	 * records pid, parent and sentinel, marks p RUNNING and pushes it on
	 * `children`.
	 * Lesson 01, "Starting a child".
	 */
	return MP_ETODO;
}

int mp_process_join(mp_process *p, double timeout)
{
	/* TODO: your code goes here.
	 * Hint: check_child() first; a process that already ENDED is joined at
	 * once. Then wait until p->sentinel is readable, with a deadline so
	 * that EINTR does not restart the full timeout (mp__deadline_wait_fd(),
	 * in deadline.c: write it too), and reap() it.
	 * Lesson 01, "Waiting with a timeout".
	 */
	return MP_ETODO;
}

int mp_process_exitcode(mp_process *p, int *exitcode)
{
	if (!exitcode)
		return -EINVAL;
	int rc = check_child(p);
	if (rc == MP_EJOINSELF)
		return MP_ERUNNING; /* we are running, by definition */
	if (rc < 0)
		return rc;
	if (p->state == RUNNING) {
		rc = reap(p, WNOHANG);
		if (rc < 0)
			return rc;
	}
	*exitcode = p->exitcode;
	return 0;
}

bool mp_process_is_alive(mp_process *p)
{
	if (!p || p->state == CREATED)
		return false;
	if (p == self)
		return true;
	if (p->state == ENDED)
		return false;
	if (p == parent)
		return getppid() == p->pid; /* once it dies, we are handed to another parent */
	if (p->parent != getpid())
		return kill(p->pid, 0) == 0; /* not ours to reap: ask whether the pid exists */
	return reap(p, WNOHANG) == MP_ERUNNING;
}

/* Send @sig to a child that has not been reaped; a reaped one is left alone. */
static int send_signal(mp_process *p, int sig)
{
	int rc = check_child(p);
	if (rc < 0)
		return rc;
	if (p->state == ENDED)
		return 0;

	/* TODO: your code goes here.
	 * Hint: mp__signal_child() (write it in sentinel.c). ESRCH means the
	 * child is gone, reaped behind the library's back (SIGCHLD ignored):
	 * nothing is left to stop, so it is not an error. Lesson 01,
	 * "Signals: terminate and kill".
	 */
	return MP_ETODO;
}

int mp_process_terminate(mp_process *p)
{
	return send_signal(p, SIGTERM);
}

int mp_process_kill(mp_process *p)
{
	return send_signal(p, SIGKILL);
}

int mp_process_sentinel(mp_process *p)
{
	if (!p)
		return -EINVAL;
	if (p->state == CREATED)
		return MP_ENOTSTARTED;
	if (p->state == ENDED)
		return -ECHILD;
	if (p == parent && p->sentinel < 0)
		return mp__have_pidfd() ? -EMFILE : -ENOSYS; /* no descriptor, or no pidfds here */
	if (p != self && p->sentinel < 0)
		return MP_ENOTCHILD; /* a copy of another process's child: its sentinel was closed at our fork */
	if (p->sentinel < 0) {
		/* The current process: a pidfd on ourselves, opened on first use. */
		int fd = mp__watch_self();
		if (fd < 0)
			return fd;
		p->sentinel = fd;
		p->is_pidfd = true;
	}
	return p->sentinel;
}

void mp_process_free(mp_process *p)
{
	if (!p || p == self || p == parent)
		return;
	if (p->state == RUNNING && p->parent == getpid()) {
		p->detached = true; /* still in `children`: reaped and freed later */
		return;
	}
	object_free(p);
}

int mp_active_children(mp_process **out, size_t cap)
{
	int running = 0;
	mp_process *next;
	for (mp_process *c = children; c; c = next) {
		next = c->next; /* reap() may take c out of the list, or free it */
		if (reap(c, WNOHANG) != MP_ERUNNING || c->detached)
			continue;
		if ((size_t)running < cap)
			out[running] = c;
		running++;
	}
	return running;
}

/*
 * What a process does before it ends normally, as Python does: terminate
 * its daemonic children, then wait for every child. A child left running
 * would be reparented to init and never joined by anyone who cares.
 */
static void end_children(void)
{
	for (mp_process *c = children; c; c = c->next)
		if (c->daemon)
			send_signal(c, SIGTERM);
	while (children)
		if (reap(children, 0) < 0)
			forget_child(children); /* cannot wait for it: give up on it */
}

int mp_cpu_count(void)
{
	/* TODO: your code goes here.
	 * Hint: sysconf() knows how many processors are online.
	 * Lesson 01, "Names, current and parent process".
	 */
	return MP_ETODO;
}
