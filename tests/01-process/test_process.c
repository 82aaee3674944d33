/* test_process.c: stage 01, Process and join: what Python's Process does, and what it should. */
#define _GNU_SOURCE
#include "mp_test.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <mp/fault.h>

#define MP_LESSON "lessons/01-process.md"

/*
 * "Returns promptly": a bound loose enough for a loaded machine, tight enough
 * to tell a wait in the kernel from a loop that naps half a second. Slower
 * runs (valgrind, sanitizers) scale it with their timeouts.
 */
#define PROMPT (0.2 * MP_TEST_TIMEOUT_SCALE)

/*
 * Targets. They run in the children, where the rule of these tests is: no
 * cr_assert (Criterion would not know the process), and report through a
 * pipe or the exit status instead.
 */

struct ends {
	int r, w; /* a pipe: the child closes the end it does not use */
};

static void write_all(int fd, const void *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			_exit(99);
		buf = (const char *)buf + n;
		len -= (size_t)n;
	}
}

static void no_op_handler(int sig)
{
	(void)sig;
}

/*
 * A SIGALRM every 5 ms, caught by a handler installed without SA_RESTART: each
 * one cuts a blocking system call short with EINTR. Timers are not inherited
 * through fork(), so only the calling process is interrupted.
 */
static void interrupt_often(void)
{
	struct sigaction sa = { .sa_handler = no_op_handler };
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval every_5ms = { { 0, 5000 }, { 0, 5000 } };
	setitimer(ITIMER_REAL, &every_5ms, NULL);
}

static void stop_interrupting(void)
{
	struct itimerval off = { 0 };
	setitimer(ITIMER_REAL, &off, NULL);
}

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

/* Block until every write end of the pipe is closed. */
static void wait_for_eof(int fd)
{
	char c;
	while (read(fd, &c, 1) != 0)
		if (errno != EINTR)
			break;
}

MP_TARGET(exit_with)(const void *arg, size_t len)
{
	return len == sizeof(int) ? *(const int *)arg : 100;
}

MP_TARGET(report_ids)(const void *arg, size_t len)
{
	(void)len;
	pid_t ids[2] = { getpid(), getppid() };
	write_all(*(const int *)arg, ids, sizeof ids);
	return 0;
}

MP_TARGET(block_until_eof)(const void *arg, size_t len)
{
	(void)len;
	const struct ends *e = arg;
	close(e->w); /* or this child would hold open the end it waits to see closed */
	wait_for_eof(e->r);
	return 0;
}

MP_TARGET(raise_signal)(const void *arg, size_t len)
{
	(void)len;
	raise(*(const int *)arg);
	return 0;
}

struct checksum_arg {
	int fd;
	unsigned char bytes[1000];
};

MP_TARGET(checksum)(const void *arg, size_t len)
{
	size_t sum[2] = { len, 0 };
	const struct checksum_arg *a = arg;
	if (len == sizeof *a)
		for (size_t i = 0; i < sizeof a->bytes; i++)
			sum[1] = sum[1] * 31 + a->bytes[i];
	write_all(a->fd, sum, sizeof sum);
	return arg == NULL ? 0 : 1;
}

MP_TARGET(report_nothing)(const void *arg, size_t len)
{
	return arg == NULL && len == 0 ? 0 : 1;
}

MP_TARGET(sleep_seconds)(const void *arg, size_t len)
{
	(void)len;
	double s = *(const double *)arg;
	struct timespec t = { (time_t)s, (long)((s - floor(s)) * 1e9) };
	while (nanosleep(&t, &t) < 0 && errno == EINTR)
		;
	return 3;
}

MP_TARGET(ignore_term_and_block)(const void *arg, size_t len)
{
	(void)len;
	const struct ends *e = arg; /* e[0]: to block on; e[1]: to say "ready" on */
	signal(SIGTERM, SIG_IGN);
	close(e[0].w);
	close(e[1].r);
	write_all(e[1].w, "r", 1);
	wait_for_eof(e[0].r);
	return 0;
}

MP_TARGET(join_a_sibling)(const void *arg, size_t len)
{
	(void)len;
	mp_process *sibling = *(mp_process *const *)arg; /* our copy of the parent's object */
	int code = 12345;
	if (mp_process_join(sibling, 0) != MP_ENOTCHILD)
		return 1;
	if (mp_process_terminate(sibling) != MP_ENOTCHILD || mp_process_kill(sibling) != MP_ENOTCHILD)
		return 2;
	if (mp_process_exitcode(sibling, &code) != MP_ENOTCHILD || code != 12345)
		return 3;
	if (mp_process_sentinel(sibling) != MP_ENOTCHILD)
		return 4;
	if (!mp_process_is_alive(sibling)) /* it runs: ours to ask, not ours to reap */
		return 5;
	return 0;
}

struct names {
	char self[32], parent[32], grandchild[32];
	pid_t self_pid, parent_pid;
	int self_alive, parent_alive;
};

MP_TARGET(report_names)(const void *arg, size_t len)
{
	(void)len;
	struct names n = { 0 };
	mp_process *me = mp_current_process(), *up = mp_parent_process(), *g = NULL;
	snprintf(n.self, sizeof n.self, "%s", me ? mp_process_name(me) : "(null)");
	snprintf(n.parent, sizeof n.parent, "%s", up ? mp_process_name(up) : "(null)");
	n.self_pid = me ? mp_process_pid(me) : -1;
	n.parent_pid = up ? mp_process_pid(up) : -1;
	n.self_alive = me && mp_process_is_alive(me);
	n.parent_alive = up && mp_process_is_alive(up);
	if (mp_process_new(&g, "exit_with", &(int){ 0 }, sizeof(int)) == 0) {
		snprintf(n.grandchild, sizeof n.grandchild, "%s", mp_process_name(g));
		mp_process_free(g);
	}
	write_all(*(const int *)arg, &n, sizeof n);
	return 0;
}

MP_TARGET(try_to_have_children)(const void *arg, size_t len)
{
	(void)arg;
	(void)len;
	mp_process *p;
	if (mp_process_new(&p, "exit_with", &(int){ 0 }, sizeof(int)) != 0)
		return 2;
	int rc = mp_process_start(p);
	if (rc == 0)
		mp_process_join(p, MP_FOREVER);
	mp_process_free(p);
	return rc == MP_EDAEMONIC ? 0 : 1;
}

MP_TARGET(write_after_pause)(const void *arg, size_t len)
{
	(void)len;
	const struct ends *e = arg;
	close(e->r);
	usleep(300 * 1000);
	write_all(e->w, "N", 1);
	return 0;
}

/* Leaves behind a daemonic child that never ends and a child that ends after 0.3 s. */
MP_TARGET(leave_children)(const void *arg, size_t len)
{
	(void)len;
	const struct ends *e = arg; /* e[0]: the daemon blocks on it; e[1]: the worker writes to it */
	mp_process *daemon = NULL, *worker = NULL;
	if (mp_process_new(&daemon, "block_until_eof", &e[0], sizeof e[0]) != 0 ||
	    mp_process_set_daemon(daemon, true) != 0 || mp_process_start(daemon) != 0)
		return 2;
	if (mp_process_new(&worker, "write_after_pause", &e[1], sizeof e[1]) != 0 ||
	    mp_process_start(worker) != 0)
		return 2;
	pid_t pid = mp_process_pid(daemon);
	write_all(e[1].w, &pid, sizeof pid);
	/* Freed but not joined: ending the target must see to both children. */
	mp_process_free(daemon);
	mp_process_free(worker);
	interrupt_often(); /* the wait for the worker must outlast signals */
	return 0;
}

/* What a child must not hold: a pidfd on @pid, or a descriptor on the pipe @fifo (0: none). */
struct not_held {
	pid_t pid;
	ino_t fifo;
};

static int holder_of(const struct not_held *n);

MP_TARGET(watch_parent)(const void *arg, size_t len)
{
	(void)arg;
	(void)len;
	mp_process *up = mp_parent_process();
	int fd = up ? mp_process_sentinel(up) : -1;
	if (fd == -ENOSYS)
		return 4; /* no pidfds on this system (or under valgrind 3.19) */
	if (fd < 0)
		return 2;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	while (poll(&p, 1, -1) < 0)
		;
	if (p.revents & POLLNVAL)
		return 5; /* not an open descriptor */
	if (mp_process_is_alive(up))
		return 3;
	if (arg) { /* the parent is a zombie now: no pidfd on it may be left open but the sentinel */
		struct not_held n = { .pid = mp_process_pid(up) };
		int held = holder_of(&n);
		if (held >= 0 && held != fd)
			return 6;
	}
	return 42;
}

MP_TARGET(stdin_is_open)(const void *arg, size_t len)
{
	(void)arg;
	(void)len;
	return fcntl(STDIN_FILENO, F_GETFD) >= 0 ? 0 : 1;
}

MP_TARGET(print_line)(const void *arg, size_t len)
{
	(void)arg;
	(void)len;
	printf("child\n");
	return 0;
}


/* A child that waits forever, for signals only. */
MP_TARGET(block_until_eof_forever)(const void *arg, size_t len)
{
	(void)arg;
	(void)len;
	for (;;)
		pause();
	return 0;
}

struct timed_end {
	int fd;         /* where to write the time the target ended */
	double seconds; /* how long to sleep first */
};

/* Sleeps, then writes the monotonic time (the same clock in every process) just before it returns. */
MP_TARGET(sleep_then_say_when)(const void *arg, size_t len)
{
	(void)len;
	const struct timed_end *t = arg;
	struct timespec pause = { 0, (long)(t->seconds * 1e9) };
	while (nanosleep(&pause, &pause) < 0 && errno == EINTR)
		;
	double end = now();
	write_all(t->fd, &end, sizeof end);
	return 0;
}


/* The lowest descriptor of this process that is a pidfd on @n->pid or an end of @n->fifo; -1 if none. */
static int holder_of(const struct not_held *n)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return -2;
	int found = -1, self = dirfd(d);
	for (struct dirent *e; found < 0 && (e = readdir(d));) {
		int fd = atoi(e->d_name);
		if (e->d_name[0] == '.' || fd == self)
			continue;
		struct stat st;
		if (n->fifo && fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode) && st.st_ino == n->fifo)
			found = fd;
		char path[64], line[128];
		snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
		FILE *f = fopen(path, "re");
		while (f && found < 0 && fgets(line, sizeof line, f)) {
			int pid;
			if (sscanf(line, "Pid: %d", &pid) == 1 && pid == n->pid)
				found = fd; /* a pidfd's fdinfo names the process it refers to */
		}
		if (f)
			fclose(f);
	}
	closedir(d);
	return found;
}

MP_TARGET(hold_no_handle_on)(const void *arg, size_t len)
{
	(void)len;
	int fd = holder_of(arg);
	return fd == -1 ? 0 : fd == -2 ? 255 : 1 + (fd & 0x7f);
}

/*
 * Reads a struct not_held from the pipe *arg (the test sends it once it knows
 * this child's sentinel), runs hold_no_handle_on with it in a child of its
 * own, and passes on its code.
 */
MP_TARGET(start_a_grandchild_that_checks_its_fds)(const void *arg, size_t len)
{
	(void)len;
	struct not_held n;
	if (read(*(const int *)arg, &n, sizeof n) != sizeof n)
		return 253;
	mp_process *g = NULL;
	int code = 254;
	if (mp_process_new(&g, "hold_no_handle_on", &n, sizeof n) == 0 && mp_process_start(g) == 0 &&
	    mp_process_join(g, 5) == 0)
		mp_process_exitcode(g, &code);
	mp_process_free(g);
	return code;
}

/* The current process's own sentinel, seen from inside a child. */
MP_TARGET(check_own_sentinel)(const void *arg, size_t len)
{
	(void)arg;
	(void)len;
	mp_process *me = mp_current_process(), *up = mp_parent_process();
	int up_fd = mp_process_sentinel(up);
	struct pollfd pu = { .fd = up_fd, .events = POLLIN };
	if (up_fd != -ENOSYS && (up_fd < 0 || poll(&pu, 1, 0) != 0))
		return 6; /* the parent runs: its sentinel must be there, and not readable */
	int fd = mp_process_sentinel(me);
	if (fd == -ENOSYS)
		return 4; /* no pidfds here */
	if (fd < 0)
		return 1;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	if (poll(&p, 1, 0) != 0)
		return 2; /* readable while we run */
	if (mp_process_sentinel(me) != fd)
		return 3; /* opened once, then kept */
	struct not_held mine = { .pid = getpid() };
	if (holder_of(&mine) != fd)
		return 5; /* not a pidfd on this process */
	return 0;
}

/*
 * This test program doubles as a small main program of the library's. Started
 * with MP_TEST_MAIN_PROGRAM set (by the test below), it starts a daemon and a
 * worker on the pipes named there and ends with exit(), before Criterion's
 * main ever runs, so that the library's exit handler is all there is to stop
 * the daemon and wait for the worker: neither has a parent-death signal.
 */
__attribute__((constructor)) static void be_a_main_program_if_asked(void)
{
	const char *fds = getenv("MP_TEST_MAIN_PROGRAM");
	if (!fds)
		return;
	struct ends e[2]; /* e[0]: the daemon blocks on it; e[1]: reports */
	if (sscanf(fds, "%d %d %d %d", &e[0].r, &e[0].w, &e[1].r, &e[1].w) != 4)
		_exit(2);
	/* The MP_TARGET constructors may not have run yet: register the two targets here. */
	mp_target_register("block_until_eof", block_until_eof);
	mp_target_register("write_after_pause", write_after_pause);
	mp_process *daemon = NULL, *worker = NULL;
	if (mp_process_new(&daemon, "block_until_eof", &e[0], sizeof e[0]) != 0 ||
	    mp_process_set_daemon(daemon, true) != 0 || mp_process_set_parent_death_signal(daemon, 0) != 0 ||
	    mp_process_start(daemon) != 0)
		_exit(3);
	if (mp_process_new(&worker, "write_after_pause", &e[1], sizeof e[1]) != 0 ||
	    mp_process_set_parent_death_signal(worker, 0) != 0 || mp_process_start(worker) != 0)
		_exit(4);
	pid_t pids[2] = { mp_process_pid(daemon), mp_process_pid(worker) };
	write_all(e[1].w, pids, sizeof pids);
	mp_process_free(daemon); /* still running: the library reaps and frees them */
	mp_process_free(worker);
	interrupt_often(); /* the exit handler's wait must outlast signals */
	exit(0);
}

/* Starts a child one level deeper, until mp_process_new() refuses: returns the depth that was refused. */
MP_TARGET(nest_until_refused)(const void *arg, size_t len)
{
	(void)len;
	int depth = *(const int *)arg, next = depth + 1;
	if (depth > 40)
		return 200; /* never refused */
	mp_process *p = (mp_process *)&p;
	int rc = mp_process_new(&p, "nest_until_refused", &next, sizeof next);
	if (rc == -ENAMETOOLONG)
		return p == (mp_process *)&p ? depth : 202;
	if (rc != 0)
		return 201;
	int code = 203;
	if (mp_process_start(p) == 0 && mp_process_join(p, MP_FOREVER) == 0)
		mp_process_exitcode(p, &code);
	mp_process_free(p);
	return code;
}

/* ------------------------------------------------------------------------- */
/* Helpers for the test side. */

static mp_process *new_process(const char *target, const void *arg, size_t len)
{
	mp_process *p = NULL;
	mp_expect_status(mp_process_new(&p, target, arg, len), 0);
	cr_assert(p, "mp_process_new returned 0 but gave no object");
	return p;
}

static mp_process *start(const char *target, const void *arg, size_t len)
{
	mp_process *p = new_process(target, arg, len);
	mp_expect_status(mp_process_start(p), 0);
	cr_assert(mp_process_pid(p) > 0, "a started process must have a pid, got %d", (int)mp_process_pid(p));
	return p;
}

static int join_and_exitcode(mp_process *p)
{
	int code = 12345;
	mp_expect_status(mp_process_join(p, 5.0), 0);
	mp_expect_status(mp_process_exitcode(p, &code), 0);
	return code;
}

static mp_process *start_exit_with(int code)
{
	return start("exit_with", &code, sizeof code);
}

/* A pipe as a struct ends; its ends are closed on exec, not on fork. */
static struct ends new_pipe(void)
{
	int fds[2];
	mp_test_pipe(fds);
	return (struct ends){ fds[0], fds[1] };
}

static void close_pipe(struct ends e)
{
	close(e.r);
	close(e.w);
}



static void check_a_grandchild(void);

/* Whether this kernel (or valgrind) knows pidfd_open(). */
static bool have_pidfds(void)
{
	int fd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	if (fd >= 0)
		close(fd);
	return fd >= 0 || errno != ENOSYS;
}

/* True if this process has no child at all, running or zombie (a zombie found is reaped). */
static bool no_child_left(void)
{
	return waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD;
}

/* Wait up to @timeout seconds for @pid to end; false (and @status untouched) if it still runs. */
static bool wait_pid_within(pid_t pid, double timeout, int *status)
{
	double end = mp_test_now() + timeout;
	do {
		if (waitpid(pid, status, WNOHANG) == pid)
			return true;
		usleep(2000); /* the test's own wait for a raw pid: a short poll is fine here */
	} while (mp_test_now() < end);
	return false;
}

/* ------------------------------------------------------------------------- */
/* What you will build: one return convention */

MP_TEST(process, bad_arguments_get_the_codes_the_header_promises, 2, "What you will build")
{
	mp_process *p = new_process("exit_with", NULL, 0);
	mp_process *q = (mp_process *)&q;
	int code = 12345;

	mp_expect_status(mp_process_new(NULL, "exit_with", NULL, 0), -EINVAL);
	mp_expect_status(mp_process_new(&q, NULL, NULL, 0), -EINVAL);
	mp_expect_status(mp_process_new(&q, "exit_with", NULL, sizeof(int)), -EINVAL);
	cr_assert(q == (mp_process *)&q, "a failed mp_process_new must leave *out untouched");

	mp_expect_status(mp_process_set_name(NULL, "x"), -EINVAL);
	mp_expect_status(mp_process_set_name(p, NULL), -EINVAL);
	mp_expect_status(mp_process_set_name(p, ""), -EINVAL);
	cr_assert_str_eq(mp_process_name(p), "Process-1", "a refused name must change nothing");
	mp_expect_status(mp_process_set_daemon(NULL, true), -EINVAL);
	mp_expect_status(mp_process_set_parent_death_signal(NULL, SIGTERM), -EINVAL);
	mp_expect_status(mp_process_set_parent_death_signal(p, -1), -EINVAL);
	mp_expect_status(mp_process_set_parent_death_signal(p, NSIG), -EINVAL);
	mp_expect_status(mp_process_set_parent_death_signal(p, NSIG - 1), 0); /* the last real-time signal */
	mp_expect_status(mp_process_set_parent_death_signal(p, 0), 0);

	mp_expect_status(mp_process_start(NULL), -EINVAL);
	mp_expect_status(mp_process_join(NULL, 0), -EINVAL);
	mp_expect_status(mp_process_exitcode(NULL, &code), -EINVAL);
	mp_expect_status(mp_process_exitcode(p, NULL), -EINVAL);
	mp_expect_status(mp_process_terminate(NULL), -EINVAL);
	mp_expect_status(mp_process_kill(NULL), -EINVAL);
	mp_expect_status(mp_process_kill(p), MP_ENOTSTARTED);
	mp_expect_status(mp_process_sentinel(NULL), -EINVAL);
	cr_assert(!mp_process_is_alive(NULL), "NULL is not alive");
	cr_assert(mp_process_name(NULL) && strcmp(mp_process_name(NULL), "") == 0, "the name of NULL is \"\"");
	cr_assert_eq(mp_process_pid(NULL), 0, "the pid of NULL is 0");
	cr_assert(!mp_process_is_daemon(NULL), "NULL is not daemonic");
	cr_assert(mp_target_find(NULL) == NULL, "mp_target_find(NULL) must be NULL");

	mp_expect_status(mp_process_exitcode(mp_current_process(), &code), MP_ERUNNING);
	cr_assert_eq(code, 12345, "the current process runs: no exit code may be written");
	mp_process_free(NULL);
	mp_process_free(mp_current_process()); /* owned by the library: ignored */
	cr_assert_str_eq(mp_process_name(mp_current_process()), "MainProcess");
	mp_process_free(p);

	/* Only the objects made count toward the default names. */
	p = new_process("exit_with", NULL, 0);
	cr_assert_str_eq(mp_process_name(p), "Process-2", "failed calls of mp_process_new must not use up a number");
	mp_process_free(p);
}

MP_TEST(process, out_of_memory_is_enomem_and_changes_nothing, 1, "What you will build")
{
	/* The test process has no object of its own yet: the first call makes it. */
	mp_process *q = (mp_process *)&q;
	mp_expect_status(mp_fault_inject("calloc", 0, ENOMEM), 0);
	mp_expect_status(mp_process_new(&q, "exit_with", NULL, 0), -ENOMEM); /* no room for MainProcess */
	cr_assert(q == (mp_process *)&q, "a failed mp_process_new must leave *out untouched");
	mp_expect_status(mp_fault_inject("calloc", 0, ENOMEM), 0);
	cr_assert(mp_current_process() == NULL, "with no memory, mp_current_process() must return NULL");
	mp_expect_status(mp_fault_inject("strdup", 0, ENOMEM), 0);
	cr_assert(mp_current_process() == NULL, "with no memory for its name, mp_current_process() must return NULL");
	mp_fault_clear();
	cr_assert(mp_current_process() != NULL, "once memory is back, mp_current_process() must work");

	static const char *const calls[] = { "calloc", "strdup", "malloc" };
	for (size_t i = 0; i < 3; i++) {
		mp_process *q = (mp_process *)&q;
		mp_expect_status(mp_fault_inject(calls[i], 0, ENOMEM), 0);
		int rc = mp_process_new(&q, "exit_with", &(int){ 0 }, sizeof(int));
		mp_fault_clear();
		mp_expect_status(rc, -ENOMEM);
		cr_assert(q == (mp_process *)&q, "a failed mp_process_new must leave *out untouched");
	}
	mp_process *p = new_process("exit_with", &(int){ 0 }, sizeof(int));
	cr_assert_str_eq(mp_process_name(p), "Process-1", "failed calls of mp_process_new must not use up a number");
	mp_expect_status(mp_fault_inject("strdup", 0, ENOMEM), 0);
	int rc = mp_process_set_name(p, "renamed");
	mp_fault_clear();
	mp_expect_status(rc, -ENOMEM);
	cr_assert_str_eq(mp_process_name(p), "Process-1", "a rename that failed must change nothing");
	mp_process_free(p);
}

/* Every code of error.h, its name, and a few words its sentence must hold. */
static const struct {
	int code;
	const char *name, *words;
} codes[] = {
	{ MP_ETODO, "MP_ETODO", "not written yet" },
	{ MP_ETIMEDOUT, "MP_ETIMEDOUT", "timeout passed" },
	{ MP_ESTARTED, "MP_ESTARTED", "already been started" },
	{ MP_ENOTSTARTED, "MP_ENOTSTARTED", "not been started" },
	{ MP_ERUNNING, "MP_ERUNNING", "still running" },
	{ MP_EJOINSELF, "MP_EJOINSELF", "join itself" },
	{ MP_ENOTCHILD, "MP_ENOTCHILD", "started a child" },
	{ MP_EDAEMONIC, "MP_EDAEMONIC", "daemonic" },
	{ MP_ENOTARGET, "MP_ENOTARGET", "no target" },
	{ MP_EEMPTY, "MP_EEMPTY", "no message" },
	{ MP_EFULL, "MP_EFULL", "no room" },
	{ MP_ECLOSED, "MP_ECLOSED", "closed the queue" },
	{ MP_EEOF, "MP_EEOF", "every writer is gone" },
	{ MP_ETYPE, "MP_ETYPE", "type" },
	{ MP_EBADMSG, "MP_EBADMSG", "well-formed" },
	{ MP_ETASKDONE, "MP_ETASKDONE", "task_done" },
	{ MP_EBROKEN, "MP_EBROKEN", "lost its place" },
	{ MP_EAUTH, "MP_EAUTH", "authentication failed" },
	{ MP_EOWNERDEAD, "MP_EOWNERDEAD", "died holding it" },
	{ MP_EUNRECOVERABLE, "MP_EUNRECOVERABLE", "unusable" },
	{ MP_ENOTOWNER, "MP_ENOTOWNER", "does not hold" },
	{ MP_EBOUND, "MP_EBOUND", "released more often" },
	{ MP_EBROKENBARRIER, "MP_EBROKENBARRIER", "barrier" },
	{ MP_EBUSY, "MP_EBUSY", "still uses it" },
	{ MP_ETASKFAILED, "MP_ETASKFAILED", "the task failed" },
	{ MP_EWORKERDIED, "MP_EWORKERDIED", "worker" },
	{ MP_ETERMINATED, "MP_ETERMINATED", "terminated" },
	{ MP_EPOOLCLOSED, "MP_EPOOLCLOSED", "no new work" },
	{ MP_EPOOLRUNNING, "MP_EPOOLRUNNING", "still takes work" },
	{ MP_ENOTASK, "MP_ENOTASK", "no task" },
	{ MP_EREMOTE, "MP_EREMOTE", "raised an exception" },
};

MP_TEST(process, every_code_has_its_own_sentence_and_name, 1, "What you will build")
{
	/* Start from codes that this stage's functions really return. */
	mp_process *p = new_process("exit_with", NULL, 0);
	mp_expect_status(mp_process_join(p, 0), MP_ENOTSTARTED);
	mp_process_free(p);

	size_t n = sizeof codes / sizeof codes[0];
	for (size_t i = 0; i < n; i++) {
		const char *sentence = mp_strerror(codes[i].code), *name = mp_err_name(codes[i].code);
		cr_assert(sentence && strstr(sentence, codes[i].words),
			  "mp_strerror(%s) must say \"...%s...\"; it said \"%s\"", codes[i].name, codes[i].words,
			  sentence ? sentence : "(null)");
		cr_assert(name && strcmp(name, codes[i].name) == 0, "mp_err_name(%d) must be \"%s\", not \"%s\"",
			  codes[i].code, codes[i].name, name ? name : "(null)");
		for (size_t k = 0; k < i; k++)
			cr_assert(strcmp(mp_strerror(codes[k].code), sentence) != 0,
				  "%s and %s must not share a sentence", codes[k].name, codes[i].name);
	}
	cr_assert_str_eq(mp_strerror(0), "success");
	cr_assert_str_eq(mp_err_name(0), "0");
	int errnos[] = { EPERM, ENOMEM, EINVAL, EMFILE, 4095 };
	for (size_t i = 0; i < sizeof errnos / sizeof errnos[0]; i++) {
		/* A copy: strerror() may reuse its buffer, which mp_strerror() may have returned. */
		char sentence[128];
		snprintf(sentence, sizeof sentence, "%s", mp_strerror(-errnos[i]));
		cr_assert_str_eq(sentence, strerror(errnos[i]),
				 "a negated errno must get the C library's sentence (errno %d)", errnos[i]);
	}
	const char *einval = mp_err_name(-EINVAL), *enomem = mp_err_name(-ENOMEM);
	cr_assert(strcmp(einval, "-EINVAL") == 0 && strcmp(enomem, "-ENOMEM") == 0,
		  "two names asked for at once must both stay right: got \"%s\" and \"%s\"", einval, enomem);

	/* Codes that are neither: past both ends of the library's table, and -4096, no errno. */
	int unknown[] = { -4096, MP_EREMOTE + 1, MP_ETODO - 1, INT_MIN };
	for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
		const char *sentence = mp_strerror(unknown[i]);
		cr_assert(sentence, "mp_strerror must never return NULL");
		if (unknown[i] == -4096) {
			char copy[128];
			snprintf(copy, sizeof copy, "%s", sentence);
			cr_assert_str_neq(copy, strerror(4096), "-4096 is no negated errno: they are all above it");
			sentence = mp_strerror(unknown[i]);
		}
		for (size_t k = 0; k < n; k++)
			cr_assert(strcmp(sentence, mp_strerror(codes[k].code)) != 0,
				  "the unknown code %d got the sentence of %s", unknown[i], codes[k].name);
		cr_assert_str_eq(mp_err_name(unknown[i]), "an unknown code");
	}
}

/* ------------------------------------------------------------------------- */
/* Targets have names */

MP_TEST(process, targets_register_by_name, 2, "Targets have names")
{
	static int (*const other)(const void *, size_t) = report_nothing;
	mp_expect_status(mp_target_register("t_exit", exit_with), 0);
	cr_assert(mp_target_find("t_exit") == exit_with, "mp_target_find must return the registered function");
	mp_expect_status(mp_target_register("t_exit", exit_with), 0); /* the same pair again: harmless */
	mp_expect_status(mp_target_register("t_exit", other), -EEXIST);
	cr_assert(mp_target_find("t_exit") == exit_with, "a refused registration must not replace the first");
	cr_assert(mp_target_find("no_such_target") == NULL, "an unknown name must give NULL");
}

MP_TEST(process, target_register_refuses_bad_names, 1, "Targets have names")
{
	char too_long[MP_TARGET_NAME_MAX + 2];
	memset(too_long, 'x', sizeof too_long - 1);
	too_long[sizeof too_long - 1] = '\0';
	mp_expect_status(mp_target_register(NULL, exit_with), -EINVAL);
	mp_expect_status(mp_target_register("", exit_with), -EINVAL);
	mp_expect_status(mp_target_register("t_null", NULL), -EINVAL);
	mp_expect_status(mp_target_register(too_long, exit_with), -ENAMETOOLONG);
	too_long[MP_TARGET_NAME_MAX] = '\0'; /* exactly the longest name allowed */
	mp_expect_status(mp_target_register(too_long, exit_with), 0);
	mp_expect_status(mp_fault_inject("malloc", 0, ENOMEM), 0);
	int rc = mp_target_register("t_no_memory", exit_with);
	mp_fault_clear();
	mp_expect_status(rc, -ENOMEM);
	cr_assert(mp_target_find("t_no_memory") == NULL, "a registration that failed must leave no trace");
}

MP_TEST(process, mp_target_macro_registers_before_main, 1, "Targets have names")
{
	cr_assert(mp_target_find("exit_with") == exit_with,
		  "MP_TARGET(exit_with) must register the function under \"exit_with\" before main runs");
}

MP_TEST(process, new_refuses_an_unknown_target, 1, "Targets have names")
{
	mp_process *p = (mp_process *)&p;
	mp_expect_status(mp_process_new(&p, "no_such_target", NULL, 0), MP_ENOTARGET);
	cr_assert(p == (mp_process *)&p, "a failed mp_process_new must leave *out untouched");
	mp_process_free(new_process("exit_with", NULL, 0)); /* while a known target is found */
}

/* ------------------------------------------------------------------------- */
/* Starting a child */

MP_TEST(process, start_runs_the_target_in_a_child, 3, "Starting a child")
{
	int fds[2];
	mp_test_pipe(fds);
	mp_process *p = start("report_ids", &fds[1], sizeof fds[1]);
	pid_t ids[2];
	cr_assert(mp_test_read(fds[0], ids, sizeof ids, 5), "the child never reported its pid through the pipe");
	cr_assert_neq(ids[0], getpid(), "the target ran in the parent, not in a new process");
	cr_assert_eq(ids[0], mp_process_pid(p), "the child's getpid() %d differs from mp_process_pid() %d",
		     (int)ids[0], (int)mp_process_pid(p));
	cr_assert_eq(ids[1], getpid(), "the child's parent should be the test process");
	cr_assert_eq(join_and_exitcode(p), 0);
	mp_process_free(p);
	close(fds[0]);
	close(fds[1]);
}

MP_TEST(process, target_gets_a_copy_of_the_argument_bytes, 2, "Starting a child")
{
	int fds[2];
	mp_test_pipe(fds);
	struct checksum_arg a = { .fd = fds[1] };
	size_t expect = 0;
	for (size_t i = 0; i < sizeof a.bytes; i++) {
		a.bytes[i] = (unsigned char)(i * 7);
		expect = expect * 31 + a.bytes[i];
	}
	mp_process *p = new_process("checksum", &a, sizeof a);
	memset(a.bytes, 0, sizeof a.bytes); /* the object must hold its own copy */
	mp_expect_status(mp_process_start(p), 0);
	size_t got[2];
	cr_assert(mp_test_read(fds[0], got, sizeof got, 5), "the child never reported");
	cr_assert_eq(got[0], sizeof a, "the target got %zu bytes, expected %zu", got[0], sizeof a);
	cr_assert_eq(got[1], expect, "the bytes changed on the way: the object must copy them at creation");
	cr_assert_eq(join_and_exitcode(p), 1);
	mp_process_free(p);

	p = start("report_nothing", NULL, 0);
	cr_assert_eq(join_and_exitcode(p), 0, "with no argument, the target must get (NULL, 0)");
	mp_process_free(p);
	close(fds[0]);
	close(fds[1]);
}

MP_TEST(process, start_twice_is_an_error, 1, "Starting a child")
{
	mp_process *p = start_exit_with(0);
	mp_expect_status(mp_process_start(p), MP_ESTARTED);
	cr_assert_eq(join_and_exitcode(p), 0);
	mp_expect_status(mp_process_start(p), MP_ESTARTED);
	mp_process_free(p);
}

MP_TEST(process, stdio_buffers_are_not_printed_twice, 2, "Starting a child")
{
	int out[2];
	mp_test_pipe(out);
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		/* Not the test process: no cr_assert here, and _exit() at the end. */
		dup2(out[1], STDOUT_FILENO);
		setvbuf(stdout, NULL, _IOFBF, 4096); /* as when output goes to a pipe or file */
		printf("parent-before-fork\n");
		mp_process *p = NULL;
		int ok = mp_process_new(&p, "print_line", NULL, 0) == 0 && mp_process_start(p) == 0 &&
			 mp_process_join(p, 5) == 0;
		fflush(stdout);
		_exit(ok ? 0 : 1);
	}
	close(out[1]);
	int status = mp_test_wait_pid(pid, 5);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "starting or joining the child failed");
	char buf[256] = { 0 };
	mp_test_read(out[0], buf, sizeof buf - 1, 0.5);
	close(out[0]);
	const char *first = strstr(buf, "parent-before-fork");
	cr_assert(first, "the parent's line is missing; the output was:\n%s", buf);
	cr_assert(!strstr(first + 1, "parent-before-fork"),
		  "a line buffered before fork() was printed twice: flush stdio before forking.\n%s", buf);
	cr_assert(strstr(buf, "child\n"), "the child's line is missing: flush before _exit().\n%s", buf);
}

MP_TEST(process, a_failed_pidfd_open_leaves_no_child_behind, 2, "Starting a child")
{
	if (!have_pidfds())
		cr_skip_test("pidfd_open() is missing here (Linux before 5.3, or valgrind 3.19): "
			     "the sentinel is a pipe, and there is no pidfd_open() to fail");
	/* A first start finds out that pidfds exist (a pidfd_open() of its own), so the fault hits the next. */
	mp_process *first = start_exit_with(0);
	cr_assert_eq(join_and_exitcode(first), 0);
	mp_process_free(first);
	int errs[] = { EMFILE, ENOMEM };
	for (size_t i = 0; i < sizeof errs / sizeof errs[0]; i++) {
		mp_process *p = new_process("block_until_eof_forever", NULL, 0);
		mp_expect_status(mp_fault_inject("pidfd_open", 0, errs[i]), 0);
		int rc = mp_process_start(p);
		mp_fault_clear();
		mp_expect_status(rc, -errs[i]);
		cr_assert(no_child_left(), "when pidfd_open() fails after the fork, the child must be killed "
			  "with SIGKILL and reaped with waitpid() before mp_process_start() returns");
		cr_assert_eq(mp_process_pid(p), 0, "a process whose start failed has no pid");
		cr_assert(!mp_process_is_alive(p), "a process whose start failed is not alive");
		mp_expect_status(mp_process_join(p, 0), MP_ENOTSTARTED);
		mp_process_free(p);
	}
}

MP_TEST(process, a_failed_fork_leaves_nothing_behind, 1, "Starting a child")
{
	mp_process *p = new_process("exit_with", &(int){ 0 }, sizeof(int));
	mp_expect_status(mp_fault_inject("fork", 0, EAGAIN), 0);
	int rc = mp_process_start(p);
	mp_fault_clear();
	mp_expect_status(rc, -EAGAIN);
	cr_assert(no_child_left(), "fork() failed: there can be no child");
	cr_assert_eq(mp_process_pid(p), 0, "a process whose start failed has no pid");
	mp_expect_status(mp_process_join(p, 0), MP_ENOTSTARTED);
	mp_process_free(p);
	/* The harness then checks that what mp__watch_prepare() opened was closed. */
}

MP_TEST(process, a_start_that_cannot_register_its_exit_handler_fails_cleanly, 1, "Starting a child")
{
	/* Each test runs in a fresh process: this is its first start, which registers the exit handler. */
	mp_process *p = new_process("exit_with", &(int){ 0 }, sizeof(int));
	mp_expect_status(mp_fault_inject("atexit", 0, ENOMEM), 0);
	int rc = mp_process_start(p);
	mp_fault_clear();
	mp_expect_status(rc, -ENOMEM);
	cr_assert(no_child_left(), "a start that could not register its exit handler must not fork");
	mp_expect_status(mp_process_join(p, 0), MP_ENOTSTARTED);
	/* Nothing was registered, so the next start tries again, and works. */
	mp_expect_status(mp_process_start(p), 0);
	cr_assert_eq(join_and_exitcode(p), 0);
	mp_process_free(p);
}

MP_TEST(process, without_pidfds_a_pipe_stands_in, 3, "Starting a child")
{
	/*
	 * The library's first pidfd_open() asks whether pidfds exist at all: fail
	 * it with ENOSYS and this process runs as on a kernel without them (as it
	 * does under valgrind 3.19 anyway).
	 */
	mp_expect_status(mp_fault_inject("pidfd_open", 0, ENOSYS), 0);
	struct ends e = new_pipe();
	mp_process *a = start("block_until_eof", &e, sizeof e);
	mp_fault_clear();
	int fd = mp_process_sentinel(a);
	struct stat st;
	cr_assert(fd >= 0 && fstat(fd, &st) == 0, "mp_process_sentinel: %s", mp_strerror(fd));
	cr_assert(S_ISFIFO(st.st_mode), "without pidfds (pidfd_open() failed with ENOSYS), the sentinel must "
		  "be the read end of a pipe");
	struct pollfd pf = { .fd = fd, .events = POLLIN };
	cr_assert_eq(poll(&pf, 1, 0), 0, "the pipe is readable while the child runs: only the child may hold "
		     "its write end");
	int code = 12345;
	mp_expect_status(mp_process_exitcode(a, &code), MP_ERUNNING);
	cr_assert(mp_process_is_alive(a));

	/* A sibling holds no end of that pipe, and a grandchild none of its parent's. */
	struct not_held n = { .pid = mp_process_pid(a), .fifo = st.st_ino };
	mp_process *b = start("hold_no_handle_on", &n, sizeof n);
	code = join_and_exitcode(b);
	cr_assert_eq(code, 0, "a child holds an end of its sibling's sentinel pipe (descriptor %d)", code - 1);
	mp_process_free(b);
	check_a_grandchild();

	/* End-of-file comes a moment before the child can be reaped: the exit code must wait it out. */
	close(e.w);
	cr_assert_eq(poll(&pf, 1, 5000), 1, "the sentinel pipe never reported the child's end");
	code = 12345;
	mp_expect_status(mp_process_exitcode(a, &code), 0);
	cr_assert_eq(code, 0);
	mp_expect_status(mp_process_sentinel(a), -ECHILD);
	mp_process_free(a);
	close(e.r);
	for (int i = 0; i < 20; i++) { /* the gap is short: try it often */
		a = start_exit_with(i);
		pf.fd = mp_process_sentinel(a);
		cr_assert_eq(poll(&pf, 1, 5000), 1, "the sentinel pipe never reported the child's end");
		mp_expect_status(mp_process_exitcode(a, &code), 0);
		cr_assert_eq(code, i);
		mp_process_free(a);
	}

	/* Signals go by pid, and join waits by pid. */
	mp_process *c = start("block_until_eof_forever", NULL, 0);
	mp_expect_status(mp_process_terminate(c), 0);
	cr_assert_eq(join_and_exitcode(c), -SIGTERM);
	mp_process_free(c);
	c = start("block_until_eof_forever", NULL, 0);
	mp_expect_status(mp_process_kill(c), 0);
	mp_expect_status(mp_process_join(c, 0.2 + PROMPT), 0);
	cr_assert_eq(join_and_exitcode(c), -SIGKILL);
	mp_process_free(c);

	/* A start that fails closes the pipe it made (the harness checks for open descriptors). */
	c = new_process("exit_with", &(int){ 0 }, sizeof(int));
	mp_expect_status(mp_fault_inject("pipe2", 0, EMFILE), 0);
	mp_expect_status(mp_process_start(c), -EMFILE);
	mp_expect_status(mp_fault_inject("fork", 0, EAGAIN), 0);
	mp_expect_status(mp_process_start(c), -EAGAIN);
	mp_fault_clear();
	cr_assert(no_child_left(), "a start that failed left a child");
	mp_expect_status(mp_process_sentinel(mp_current_process()), -ENOSYS);
	mp_process_free(c);
	c = start("watch_parent", NULL, 0);
	cr_assert_eq(join_and_exitcode(c), 4, "without pidfds, a child's mp_process_sentinel(mp_parent_process()) "
		     "must be -ENOSYS");
	mp_process_free(c);
	if (fcntl(STDIN_FILENO, F_GETFD) >= 0) {
		c = start("stdin_is_open", NULL, 0);
		cr_assert_eq(join_and_exitcode(c), 0, "a child closed its standard input: a write end it was never "
			     "given is -1, not descriptor 0");
		mp_process_free(c);
	}
}

MP_TEST(process, descriptor_0_is_a_descriptor_like_any_other, 1, "Starting a child")
{
	if (!have_pidfds())
		cr_skip_test("pidfd_open() is missing here (Linux before 5.3, or valgrind 3.19)");
	/* A daemon closes its standard input: then the next descriptor opened is 0. */
	int saved = fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3);
	close(STDIN_FILENO);

	mp_process *p = start("block_until_eof_forever", NULL, 0);
	int fd = mp_process_sentinel(p);
	bool zero = fd == 0;
	mp_expect_status(mp_process_terminate(p), 0);
	int code = join_and_exitcode(p);
	mp_process_free(p);
	mp_process *q = start("check_own_sentinel", NULL, 0);
	int own = join_and_exitcode(q);
	mp_process_free(q);
	bool closed = fcntl(STDIN_FILENO, F_GETFD) < 0;
	if (saved >= 0) {
		dup2(saved, STDIN_FILENO);
		close(saved);
	}
	cr_assert(zero, "with descriptor 0 free, the child's pidfd should be 0, but the sentinel is %d: a "
		  "descriptor 0 is as good as any other (test it with < 0, not <= 0)", fd);
	cr_assert_eq(code, -SIGTERM, "a child whose sentinel is descriptor 0 must be signalled and joined like any other");
	cr_assert(closed, "once the child was reaped, descriptor 0 (its sentinel) must be closed");
	cr_assert_eq(own, 0, "with descriptor 0 free in the child, its own sentinel may be 0 (code %d)", own);
}

MP_TEST(process, the_fault_seam_fails_the_call_it_is_armed_for, 1, "Starting a child")
{
	mp_process *p[4];
	for (int i = 0; i < 4; i++)
		p[i] = new_process("exit_with", &(int){ i }, sizeof(int));

	mp_expect_status(mp_fault_inject(NULL, 0, EAGAIN), -EINVAL);
	mp_expect_status(mp_fault_inject("fork", -1, EAGAIN), -EINVAL);
	mp_expect_status(mp_fault_inject("fork", 0, 0), -EINVAL);
	static const char *const names[] = { "a", "b", "c", "d", "e", "f", "g", "h", "i" };
	int armed = 0;
	while (armed < 9 && mp_fault_inject(names[armed], 0, EIO) == 0)
		armed++;
	cr_assert(armed >= 1 && armed < 9, "arming ever more calls must end in -ENOSPC (armed %d)", armed);
	mp_expect_status(mp_fault_inject(names[armed], 0, EIO), -ENOSPC);
	mp_fault_clear();
	mp_expect_status(mp_fault_inject("a", 0, EIO), 0); /* room again once cleared */
	mp_fault_clear();

	/* One fork lets through, the next fails, the one after works again: a fault fires once. */
	mp_expect_status(mp_fault_inject("fork", 1, EAGAIN), 0);
	mp_expect_status(mp_fault_inject("fork", 1, ENOMEM), 0); /* arming again replaces */
	mp_expect_status(mp_process_start(p[0]), 0);
	mp_expect_status(mp_process_start(p[1]), -ENOMEM);
	mp_expect_status(mp_process_start(p[1]), 0);
	mp_expect_status(mp_fault_inject("fork", 0, EAGAIN), 0);
	mp_fault_clear(); /* disarmed: nothing fails */
	mp_expect_status(mp_process_start(p[2]), 0);
	mp_expect_status(mp_fault_inject("no_such_call", 0, EAGAIN), 0);
	mp_expect_status(mp_process_start(p[3]), 0); /* a fault of another call is not this one's */
	mp_fault_clear();
	for (int i = 0; i < 4; i++) {
		cr_assert_eq(join_and_exitcode(p[i]), i);
		mp_process_free(p[i]);
	}
}

/* ------------------------------------------------------------------------- */
/* The child's side of fork */

MP_TEST(process, a_child_holds_no_sentinel_of_its_siblings, 2, "The child's side of fork")
{
	struct ends e = new_pipe();
	mp_process *first = start("block_until_eof", &e, sizeof e);
	struct not_held n = { .pid = mp_process_pid(first) };
	int fd = mp_process_sentinel(first);
	cr_assert(fd >= 0, "mp_process_sentinel: %s", mp_strerror(fd));
	struct stat st;
	cr_assert(fstat(fd, &st) == 0);
	if (S_ISFIFO(st.st_mode))
		n.fifo = st.st_ino; /* no pidfds: the sentinel is a pipe */
	cr_assert(holder_of(&n) == fd, "the test's check does not see the sentinel it must look for");

	for (int i = 0; i < 2; i++) { /* a second sibling, after the first has come and gone */
		mp_process *second = start("hold_no_handle_on", &n, sizeof n);
		int code = join_and_exitcode(second);
		cr_assert_eq(code, 0, "a child holds its sibling's sentinel (as its descriptor %d): in the child, "
			     "close the sentinels of the parent's other children", code - 1);
		mp_process_free(second);
	}
	close(e.w);
	cr_assert_eq(join_and_exitcode(first), 0);
	mp_process_free(first);
	close(e.r);
}

/*
 * Start a child that starts a grandchild, which checks that it holds no pidfd
 * on the test process (its grandparent) and nothing of the pipe that is the
 * child's sentinel when there are no pidfds (the write end the child holds).
 */
static void check_a_grandchild(void)
{
	int fds[2];
	mp_test_pipe(fds);
	mp_process *p = start("start_a_grandchild_that_checks_its_fds", &fds[0], sizeof fds[0]);
	struct not_held n = { .pid = getpid() };
	struct stat st;
	int fd = mp_process_sentinel(p);
	cr_assert(fd >= 0 && fstat(fd, &st) == 0, "mp_process_sentinel: %s", mp_strerror(fd));
	if (S_ISFIFO(st.st_mode))
		n.fifo = st.st_ino;
	cr_assert(write(fds[1], &n, sizeof n) == sizeof n);
	int code = join_and_exitcode(p);
	cr_assert(code < 253, "the child could not start and join a grandchild (%d)", code);
	cr_assert_eq(code, 0, "a grandchild holds its grandparent's pidfd or its parent's end of the sentinel pipe "
		     "(as its descriptor %d): free the grandparent's object, and close the write end held for "
		     "the grandparent", code - 1);
	mp_process_free(p);
	close(fds[0]);
	close(fds[1]);
}

MP_TEST(process, a_grandchild_holds_no_sentinel_of_its_grandparent, 1, "The child's side of fork")
{
	check_a_grandchild();
}

/* ------------------------------------------------------------------------- */
/* Reaping: wait and zombies */

MP_TEST(process, join_gives_the_exit_status, 3, "Reaping: wait and zombies")
{
	bool stdin_open = fcntl(STDIN_FILENO, F_GETFD) >= 0;
	for (int code = 0; code < 256; code += 85) {
		mp_process *p = start_exit_with(code);
		int got = join_and_exitcode(p);
		cr_assert_eq(got, code, "the target returned %d, exitcode says %d", code, got);
		mp_process_free(p);
	}
	cr_assert(!stdin_open || fcntl(STDIN_FILENO, F_GETFD) >= 0,
		  "descriptor 0 was closed: a reaped process's sentinel must be -1, not a descriptor to close");
}

MP_TEST(process, exitcode_is_minus_the_signal_that_killed_the_child, 2, "Exit status and signals")
{
	int signals[] = { SIGUSR1, SIGKILL, SIGSEGV };
	for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++) {
		mp_process *p = start("raise_signal", &signals[i], sizeof signals[i]);
		int got = join_and_exitcode(p);
		cr_assert_eq(got, -signals[i], "a child killed by signal %d must report exitcode %d, got %d",
			     signals[i], -signals[i], got);
		mp_process_free(p);
	}
}

MP_TEST(process, exitcode_says_running_until_the_child_ends, 2, "Exit status and signals")
{
	struct ends e = new_pipe();
	mp_process *p = start("block_until_eof", &e, sizeof e);
	int code = 12345;
	mp_expect_status(mp_process_exitcode(p, &code), MP_ERUNNING);
	cr_assert_eq(code, 12345, "exitcode must not be written while the child runs");
	close(e.w);
	cr_assert_eq(join_and_exitcode(p), 0);
	mp_process_free(p);
	close(e.r);
}

MP_TEST(process, exitcode_reaps_a_child_that_ended, 2, "Reaping: wait and zombies")
{
	mp_process *p = start_exit_with(5);
	int fd = mp_process_sentinel(p);
	cr_assert(fd >= 0, "mp_process_sentinel: %s", mp_strerror(fd));
	struct pollfd pf = { .fd = fd, .events = POLLIN };
	cr_assert_eq(poll(&pf, 1, 5000), 1, "the sentinel never became readable");
	int code = -1;
	mp_expect_status(mp_process_exitcode(p, &code), 0);
	cr_assert_eq(code, 5);
	cr_assert_eq(mp_test_zombie_children(), 0, "mp_process_exitcode must reap the ended child");
	mp_process_free(p);
}

MP_TEST(process, join_and_friends_before_start_are_errors, 1, "Reaping: wait and zombies")
{
	mp_process *p = new_process("exit_with", NULL, 0);
	int code;
	mp_expect_status(mp_process_join(p, 0), MP_ENOTSTARTED);
	mp_expect_status(mp_process_exitcode(p, &code), MP_ENOTSTARTED);
	mp_expect_status(mp_process_terminate(p), MP_ENOTSTARTED);
	mp_expect_status(mp_process_sentinel(p), MP_ENOTSTARTED);
	cr_assert(!mp_process_is_alive(p), "a process that never started is not alive");
	cr_assert_eq(mp_process_pid(p), 0, "a process that never started has no pid");
	mp_process_free(p);
}

MP_TEST(process, join_twice_returns_at_once, 1, "Reaping: wait and zombies")
{
	mp_process *p = start_exit_with(9);
	cr_assert_eq(join_and_exitcode(p), 9);
	mp_expect_status(mp_process_join(p, 0), 0);
	mp_expect_status(mp_process_join(p, MP_FOREVER), 0);
	cr_assert_eq(join_and_exitcode(p), 9, "the exit code must stay once known");
	mp_process_free(p);
}

MP_TEST(process, a_process_cannot_join_itself, 1, "Reaping: wait and zombies")
{
	mp_process *me = mp_current_process();
	cr_assert(me, "mp_current_process() returned NULL");
	mp_expect_status(mp_process_join(me, 0), MP_EJOINSELF);
}

MP_TEST(process, only_the_parent_may_join_or_signal, 2, "Reaping: wait and zombies")
{
	struct ends e = new_pipe();
	mp_process *a = start("block_until_eof", &e, sizeof e);
	mp_process *b = start("join_a_sibling", &a, sizeof a);
	cr_assert_eq(join_and_exitcode(b), 0,
		     "a child that joins or terminates its sibling (a copy of the object) must get MP_ENOTCHILD");
	close(e.w);
	cr_assert_eq(join_and_exitcode(a), 0);
	mp_process_free(a);
	mp_process_free(b);
	close(e.r);
}

MP_TEST(process, free_of_a_running_child_leaves_no_zombie, 2, "Reaping: wait and zombies")
{
	struct ends e = new_pipe();
	mp_process *p = start("block_until_eof", &e, sizeof e);
	pid_t pid = mp_process_pid(p);
	mp_process_free(p); /* still running: the library must keep watching it */
	mp_process *list[1] = { NULL };
	cr_assert_eq(mp_active_children(list, 1), 0, "a freed child is no longer the caller's: it is not listed");
	close(e.w);
	double end = mp_test_now() + 5;
	while (mp_test_pid_running(pid) && mp_test_now() < end)
		usleep(1000);
	cr_assert_eq(mp_active_children(NULL, 0), 0, "the freed child has ended: it is not active");
	cr_assert_eq(mp_test_zombie_children(), 0,
		     "a freed child that ended must be reaped by mp_active_children()");
	close(e.r);
}

MP_TEST(process, start_reaps_the_children_that_have_ended, 1, "Reaping: wait and zombies")
{
	mp_process *quick = start_exit_with(7);
	double end = mp_test_now() + 5;
	while (mp_test_zombie_children() == 0 && mp_test_now() < end)
		usleep(1000);
	cr_assert_eq(mp_test_zombie_children(), 1, "a child that returns at once never ended");
	mp_process *next = start_exit_with(0);
	cr_assert(waitpid(mp_process_pid(quick), NULL, WNOHANG) < 0 && errno == ECHILD,
		  "mp_process_start() must first reap the children that have ended, as Python's start() does");
	int code = -1;
	mp_expect_status(mp_process_exitcode(quick, &code), 0);
	cr_assert_eq(code, 7, "a child reaped by mp_process_start() keeps its exit code");
	cr_assert_eq(join_and_exitcode(next), 0);
	mp_process_free(quick);
	mp_process_free(next);
}

MP_TEST(process, names_nest_until_they_would_not_fit, 1, "Names, current and parent process")
{
	/* Nine objects made and freed: the chain starts at "Process-10", so every name has an even length. */
	for (int i = 0; i < 9; i++)
		mp_process_free(new_process("exit_with", NULL, 0));
	int first = 1;
	mp_process *p = start("nest_until_refused", &first, sizeof first);
	cr_assert_str_eq(mp_process_name(p), "Process-10");
	int code = 12345;
	mp_expect_status(mp_process_join(p, 8 * MP_TEST_TIMEOUT_SCALE), 0);
	mp_expect_status(mp_process_exitcode(p, &code), 0);
	/* Depth d is named "Process-10:1:...:1", its place 2d characters long; 48 do not fit in 47. */
	cr_assert_eq(code, 23, "the process 23 levels down (its place 46 characters long) must get -ENAMETOOLONG "
		     "from mp_process_new(), with *out untouched (got %d: 200 never refused, 201 another error, "
		     "202 *out written)", code);
	mp_process_free(p);
}

MP_TEST(process, freed_processes_give_their_memory_back, 1, "Reaping: wait and zombies")
{
	/* Warm up, so that the library's first allocations (the current process's object) are made. */
	mp_process *p = start_exit_with(0);
	cr_assert_eq(join_and_exitcode(p), 0);
	mp_process_free(p);
	size_t before = mallinfo2().uordblks; /* bytes in use in the main thread's arena */
	pid_t freed[30];
	for (int i = 0; i < 30; i++) {
		p = start_exit_with(0); /* joined, then freed */
		cr_assert_eq(join_and_exitcode(p), 0);
		mp_process_free(p);
		p = start_exit_with(0); /* freed at once: the library reaps and frees it */
		freed[i] = mp_process_pid(p);
		mp_process_free(p);
	}
	double end = mp_test_now() + 5;
	for (int i = 0; i < 30; i++)
		while (mp_test_pid_running(freed[i]))
			cr_assert(mp_test_now() < end, "a freed child never ended");
	mp_active_children(NULL, 0); /* reaps and frees the last of them */
	cr_assert_eq(mp_test_zombie_children(), 0);
	size_t after = mallinfo2().uordblks;
	cr_assert(after < before + 1024, "after 60 processes were freed, %zu more bytes are in use: a freed "
		  "object (or one freed while running, once reaped) must be released", after - before);
}

MP_TEST(process, active_children_lists_the_running_and_reaps_the_rest, 2, "Reaping: wait and zombies")
{
	struct ends e = new_pipe();
	mp_process *blocked = start("block_until_eof", &e, sizeof e);
	/* Starting the second may already reap the first: mp_process_start() reaps what has ended. */
	mp_process *quick[2] = { start_exit_with(1), start_exit_with(2) };
	for (int i = 0; i < 2; i++) {
		double end = mp_test_now() + 5;
		while (mp_test_pid_running(mp_process_pid(quick[i])) && mp_test_now() < end)
			usleep(1000);
		cr_assert(!mp_test_pid_running(mp_process_pid(quick[i])), "a child that returns at once never ended");
	}
	mp_process *list[4] = { 0 };
	int n = mp_active_children(list, 4);
	cr_assert_eq(n, 1, "one child still runs, mp_active_children said %d", n);
	cr_assert(list[0] == blocked, "mp_active_children must list the running child");
	cr_assert_eq(mp_test_zombie_children(), 0, "mp_active_children must reap the children that ended");
	for (int i = 0; i < 2; i++) {
		int code = -1;
		mp_expect_status(mp_process_exitcode(quick[i], &code), 0);
		cr_assert_eq(code, i + 1, "a child reaped by mp_active_children keeps its exit code");
		mp_process_free(quick[i]);
	}
	cr_assert_eq(mp_active_children(NULL, 0), 1, "with no room for the list it still counts");
	close(e.w);
	cr_assert_eq(join_and_exitcode(blocked), 0);
	cr_assert_eq(mp_active_children(list, 4), 0);
	mp_process_free(blocked);
	close(e.r);
}

MP_TEST(process, active_children_counts_past_the_room_it_was_given, 1, "Reaping: wait and zombies")
{
	struct ends e = new_pipe();
	mp_process *a = start("block_until_eof", &e, sizeof e);
	mp_process *b = start("block_until_eof", &e, sizeof e);
	mp_process *list[2] = { NULL, (mp_process *)&list };
	int n = mp_active_children(list, 1);
	cr_assert_eq(n, 2, "two children run: mp_active_children must say 2 even with room for 1, said %d", n);
	cr_assert(list[0] == a || list[0] == b, "the one place given must hold a running child");
	cr_assert(list[1] == (mp_process *)&list, "mp_active_children wrote past the room it was given");
	close(e.w);
	cr_assert_eq(join_and_exitcode(a), 0);
	cr_assert_eq(join_and_exitcode(b), 0);
	mp_process_free(a);
	mp_process_free(b);
	close(e.r);
}

/* ------------------------------------------------------------------------- */
/* Waiting with a timeout */

MP_TEST(process, join_with_timeout_returns_while_the_child_runs, 3, "Waiting with a timeout")
{
	struct ends e = new_pipe();
	mp_process *p = start("block_until_eof", &e, sizeof e);
	double t0 = mp_test_now();
	mp_expect_status(mp_process_join(p, 0.2), MP_ETIMEDOUT);
	double took = mp_test_now() - t0;
	cr_assert(took >= 0.19 && took < 2.0, "join(p, 0.2) returned after %.3f s, expected about 0.2 s", took);
	cr_assert(mp_process_is_alive(p), "after a timed-out join the child still runs");
	t0 = mp_test_now();
	mp_expect_status(mp_process_join(p, 0), MP_ETIMEDOUT);
	cr_assert(mp_test_now() - t0 < 0.1, "join(p, 0) must only check, not wait");
	close(e.w);
	cr_assert_eq(join_and_exitcode(p), 0);
	mp_process_free(p);
	close(e.r);
}

MP_TEST(process, join_wakes_as_soon_as_the_child_ends, 2, "Waiting with a timeout")
{
	double pause = 0.1;
	mp_process *p = start("sleep_seconds", &pause, sizeof pause);
	double t0 = mp_test_now();
	mp_expect_status(mp_process_join(p, 30), 0);
	double took = mp_test_now() - t0;
	cr_assert(took < 3, "the child slept 0.1 s but join(p, 30) took %.2f s: wait on the kernel, "
		  "do not sleep out the timeout", took);
	cr_assert_eq(join_and_exitcode(p), 3);
	mp_process_free(p);
}

MP_TEST(process, join_returns_promptly_once_the_child_ends, 2, "Waiting with a timeout")
{
	/* Several pauses, so that a loop that naps between checks is caught whatever its phase. */
	double pauses[] = { 0.05, 0.12, 0.2 }, timeouts[] = { MP_FOREVER, 30 };
	int fds[2];
	mp_test_pipe(fds);
	for (size_t i = 0; i < sizeof pauses / sizeof pauses[0]; i++) {
		for (size_t k = 0; k < 2; k++) {
			struct timed_end t = { fds[1], pauses[i] };
			mp_process *p = start("sleep_then_say_when", &t, sizeof t);
			mp_expect_status(mp_process_join(p, timeouts[k]), 0);
			double back = now(), ended;
			cr_assert(mp_test_read(fds[0], &ended, sizeof ended, 0), "the child never said when it ended");
			cr_assert(back - ended < PROMPT, "join(p, %g) returned %.3f s after the child ended: it must "
				  "sleep in the kernel until the sentinel is readable, not nap between checks",
				  timeouts[k], back - ended);
			cr_assert_eq(join_and_exitcode(p), 0);
			mp_process_free(p);
		}
	}
	close(fds[0]);
	close(fds[1]);
}

MP_TEST(process, join_is_not_cut_short_by_signals, 2, "Waiting with a timeout")
{
	struct ends e = new_pipe();
	mp_process *p = start("block_until_eof", &e, sizeof e);
	interrupt_often();
	double t0 = mp_test_now();
	int rc = mp_process_join(p, 0.3);
	double took = mp_test_now() - t0;
	stop_interrupting();
	mp_expect_status(rc, MP_ETIMEDOUT);
	cr_assert(took >= 0.29 && took < 2.0, "with signals arriving, join(p, 0.3) took %.3f s: on EINTR, wait "
		  "again for the time that is left", took);
	close(e.w);
	cr_assert_eq(join_and_exitcode(p), 0);
	mp_process_free(p);
	close(e.r);

	/* A join without limit, with signals all the way until the child ends 0.2 s later. */
	double pause = 0.2;
	p = start("sleep_seconds", &pause, sizeof pause);
	interrupt_often();
	rc = mp_process_join(p, MP_FOREVER);
	stop_interrupting();
	mp_expect_status(rc, 0);
	cr_assert_eq(join_and_exitcode(p), 3, "join(p, MP_FOREVER) returned before the child ended");
	mp_process_free(p);
}

MP_TEST(process, join_passes_on_a_failed_wait_and_retries_an_interrupted_one, 2, "Waiting with a timeout")
{
	struct ends e = new_pipe();
	mp_process *p = start("block_until_eof", &e, sizeof e);

	/* A ppoll() that fails for good is the caller's error, at once; one cut short is retried. */
	mp_expect_status(mp_fault_inject("ppoll", 0, ENOMEM), 0);
	double t0 = mp_test_now();
	int rc = mp_process_join(p, 1.0);
	double took = mp_test_now() - t0;
	mp_fault_clear();
	mp_expect_status(rc, -ENOMEM);
	cr_assert(took < 0.5, "a ppoll() failing with ENOMEM is an error to return at once, not to wait "
		  "through (join took %.2f s)", took);
	cr_assert(mp_process_is_alive(p), "a join that failed leaves the child running");
	mp_expect_status(mp_fault_inject("ppoll", 0, EINTR), 0);
	rc = mp_process_join(p, 0.2);
	mp_fault_clear();
	mp_expect_status(rc, MP_ETIMEDOUT); /* EINTR is no answer: wait again for the time left */

	/* The same for the waitid() that reaps it, once the child has ended. */
	close(e.w);
	mp_expect_status(mp_fault_inject("waitid", 0, EIO), 0);
	rc = mp_process_join(p, 5.0);
	mp_fault_clear();
	mp_expect_status(rc, -EIO);
	mp_expect_status(mp_fault_inject("waitid", 0, EINTR), 0);
	rc = mp_process_join(p, 5.0);
	mp_fault_clear();
	mp_expect_status(rc, 0); /* reap() retries on EINTR */
	int code = 12345;
	mp_expect_status(mp_process_exitcode(p, &code), 0);
	cr_assert_eq(code, 0, "the child exited 0 after its join was interrupted; exitcode says %d", code);
	mp_process_free(p);
	close(e.r);
}

/* Sleep until the monotonic clock is @at (0 to 1) of the way through its current second. */
static void wait_for_the_clock_to_reach(double at)
{
	for (;;) {
		double t = now(), fraction = t - floor(t);
		if (fraction >= at && fraction < at + 0.05)
			return;
		double wait = at - fraction + (fraction > at ? 1 : 0);
		usleep((useconds_t)(wait * 1e6));
	}
}

MP_TEST(process, a_timed_join_lasts_its_timeout_across_a_second_boundary, 1, "Waiting with a timeout")
{
	struct ends e = new_pipe();
	mp_process *p = start("block_until_eof", &e, sizeof e);
	/* 0.9 s into a second, a 0.3 s deadline falls in the next one: its nanoseconds carry over. */
	for (int i = 0; i < 2; i++) {
		wait_for_the_clock_to_reach(0.9);
		interrupt_often(); /* each EINTR computes the time left again, across the boundary */
		double t0 = now();
		int rc = mp_process_join(p, 0.3);
		double took = now() - t0;
		stop_interrupting();
		mp_expect_status(rc, MP_ETIMEDOUT);
		cr_assert(took >= 0.29 && took < 0.3 + 2 * PROMPT,
			  "join(p, 0.3) started 0.9 s into a second took %.3f s: a deadline's nanoseconds must carry "
			  "into its seconds (and borrow from them when the time left is counted)", took);
	}
	close(e.w);
	cr_assert_eq(join_and_exitcode(p), 0);
	mp_process_free(p);
	close(e.r);
}

MP_TEST(process, a_huge_timeout_waits_as_long_as_forever, 1, "Waiting with a timeout")
{
	/* Past what a struct timespec can count, a timeout must still wait, not overflow into the past. */
	double timeouts[] = { 4e9, 1e300, INFINITY };
	for (size_t i = 0; i < sizeof timeouts / sizeof timeouts[0]; i++) {
		double pause = 0.05;
		mp_process *p = start("sleep_seconds", &pause, sizeof pause);
		mp_expect_status(mp_process_join(p, timeouts[i]), 0);
		cr_assert_eq(join_and_exitcode(p), 3, "join(p, %g) returned before the child ended", timeouts[i]);
		mp_process_free(p);
	}
}

MP_TEST(process, join_refuses_a_nan_timeout, 1, "Waiting with a timeout")
{
	mp_process *p = start_exit_with(0);
	mp_expect_status(mp_process_join(p, NAN), -EINVAL);
	cr_assert_eq(join_and_exitcode(p), 0);
	mp_process_free(p);
}

MP_TEST(process, sentinel_becomes_readable_when_the_child_ends, 2, "Waiting with a timeout")
{
	struct ends e = new_pipe();
	mp_process *p = start("block_until_eof", &e, sizeof e);
	int fd = mp_process_sentinel(p);
	cr_assert(fd >= 0, "mp_process_sentinel: %s", mp_strerror(fd));
	struct pollfd pf = { .fd = fd, .events = POLLIN };
	cr_assert_eq(poll(&pf, 1, 100), 0, "the sentinel is readable while the child still runs");
	close(e.w);
	cr_assert_eq(poll(&pf, 1, 5000), 1, "the sentinel did not become readable when the child ended");
	cr_assert_eq(join_and_exitcode(p), 0);
	mp_expect_status(mp_process_sentinel(p), -ECHILD);
	mp_process_free(p);
	close(e.r);
}

/* ------------------------------------------------------------------------- */
/* Signals: terminate and kill */

MP_TEST(process, is_alive_follows_the_child, 2, "Signals: terminate and kill")
{
	struct ends e = new_pipe();
	mp_process *p = new_process("block_until_eof", &e, sizeof e);
	cr_assert(!mp_process_is_alive(p), "not alive before start");
	mp_expect_status(mp_process_start(p), 0);
	cr_assert(mp_process_is_alive(p), "alive once started");
	close(e.w);
	double end = mp_test_now() + 5;
	while (mp_process_is_alive(p) && mp_test_now() < end)
		usleep(1000);
	cr_assert(!mp_process_is_alive(p), "still alive 5 s after its target returned");
	cr_assert_eq(mp_test_zombie_children(), 0, "mp_process_is_alive must reap the child it finds ended");
	cr_assert_eq(join_and_exitcode(p), 0);
	mp_process_free(p);
	close(e.r);
}

MP_TEST(process, terminate_ends_the_child_with_sigterm, 2, "Signals: terminate and kill")
{
	struct ends e = new_pipe();
	mp_process *p = start("block_until_eof", &e, sizeof e);
	mp_expect_status(mp_process_terminate(p), 0);
	cr_assert_eq(join_and_exitcode(p), -SIGTERM, "a terminated child reports -SIGTERM");
	mp_expect_status(mp_process_terminate(p), 0); /* reaped: nothing to do, not an error */
	mp_expect_status(mp_process_kill(p), 0);
	mp_process_free(p);
	close_pipe(e);
}

MP_TEST(process, kill_ends_a_child_that_ignores_sigterm, 2, "Signals: terminate and kill")
{
	struct ends e[2] = { new_pipe(), new_pipe() };
	mp_process *p = start("ignore_term_and_block", e, sizeof e);
	close(e[1].w);
	char ready;
	cr_assert(mp_test_read(e[1].r, &ready, 1, 5), "the child never said it was ready");
	mp_expect_status(mp_process_terminate(p), 0);
	mp_expect_status(mp_process_join(p, 0.2), MP_ETIMEDOUT);
	mp_expect_status(mp_process_kill(p), 0);
	cr_assert_eq(join_and_exitcode(p), -SIGKILL, "SIGKILL cannot be ignored: expected -SIGKILL");
	mp_process_free(p);
	close(e[0].r);
	close(e[0].w);
	close(e[1].r);
}

MP_TEST(process, a_refused_signal_is_an_error_and_a_vanished_child_is_not, 1, "Signals: terminate and kill")
{
	struct ends e = new_pipe();
	mp_process *p = start("block_until_eof", &e, sizeof e);
	/* The library signals through a pidfd where it has one, with kill() otherwise: arm both. */
	mp_expect_status(mp_fault_inject("pidfd_send_signal", 0, EPERM), 0);
	mp_expect_status(mp_fault_inject("kill", 0, EPERM), 0);
	int rc = mp_process_terminate(p);
	mp_fault_clear();
	mp_expect_status(rc, -EPERM);
	cr_assert(mp_process_is_alive(p), "the signal was refused: the child still runs");

	/* ESRCH: reaped behind the library's back (SIGCHLD ignored); nothing is left to stop. */
	mp_expect_status(mp_fault_inject("pidfd_send_signal", 0, ESRCH), 0);
	mp_expect_status(mp_fault_inject("kill", 0, ESRCH), 0);
	rc = mp_process_kill(p);
	mp_fault_clear();
	mp_expect_status(rc, 0);
	close(e.w);
	cr_assert_eq(join_and_exitcode(p), 0, "no signal reached the child, so it exits 0 at end-of-file");
	mp_process_free(p);
	close(e.r);
}

/* ------------------------------------------------------------------------- */
/* Names, the current process and the parent */

MP_TEST(process, default_names_count_up_and_nest, 2, "Names, current and parent process")
{
	int fds[2];
	mp_test_pipe(fds);
	mp_process *first = new_process("exit_with", NULL, 0);
	mp_process *second = new_process("report_names", &fds[1], sizeof fds[1]);
	cr_assert_str_eq(mp_process_name(first), "Process-1");
	cr_assert_str_eq(mp_process_name(second), "Process-2");
	mp_expect_status(mp_process_start(second), 0);
	struct names n;
	cr_assert(mp_test_read(fds[0], &n, sizeof n, 5), "the child never reported");
	cr_assert_str_eq(n.grandchild, "Process-2:1", "a child's children are named after it");
	cr_assert_eq(join_and_exitcode(second), 0);
	mp_expect_status(mp_process_set_name(first, "renamed"), 0);
	cr_assert_str_eq(mp_process_name(first), "renamed");
	mp_expect_status(mp_process_set_name(first, ""), -EINVAL);
	mp_process_free(first);
	mp_process_free(second);
	close(fds[0]);
	close(fds[1]);
}

MP_TEST(process, current_and_parent_process_in_main_and_child, 2, "Names, current and parent process")
{
	mp_process *me = mp_current_process();
	cr_assert(me, "mp_current_process() returned NULL");
	cr_assert_str_eq(mp_process_name(me), "MainProcess");
	cr_assert_eq(mp_process_pid(me), getpid());
	cr_assert(mp_process_is_alive(me), "the current process is alive");
	cr_assert(mp_parent_process() == NULL, "the main process has no parent process");

	int fds[2];
	mp_test_pipe(fds);
	mp_process *p = start("report_names", &fds[1], sizeof fds[1]);
	struct names n;
	cr_assert(mp_test_read(fds[0], &n, sizeof n, 5), "the child never reported");
	cr_assert_str_eq(n.self, mp_process_name(p), "in the child, mp_current_process() is the child's object");
	cr_assert_eq(n.self_pid, mp_process_pid(p), "in the child, the current process has the child's pid");
	cr_assert_str_eq(n.parent, "MainProcess", "the child's parent process is the main process");
	cr_assert_eq(n.parent_pid, getpid(), "the child's parent process has the parent's pid");
	cr_assert(n.self_alive && n.parent_alive, "in the child, both itself and its parent are alive");
	cr_assert_eq(join_and_exitcode(p), 0);
	mp_process_free(p);
	close(fds[0]);
	close(fds[1]);
}

MP_TEST(process, cpu_count_is_the_number_of_online_cpus, 1, "Names, current and parent process")
{
	int n = mp_cpu_count();
	cr_assert_eq(n, (int)sysconf(_SC_NPROCESSORS_ONLN), "mp_cpu_count() gave %d (%s)", n,
		     n < 0 ? mp_strerror(n) : "a wrong count");
}

MP_TEST(process, the_current_process_has_a_sentinel_of_its_own, 1, "Names, current and parent process")
{
	mp_process *p = start("check_own_sentinel", NULL, 0);
	int code = join_and_exitcode(p);
	mp_process_free(p);
	if (code == 4)
		cr_skip_test("pidfd_open() is missing here (Linux before 5.3, or valgrind 3.19): "
			     "the current process has no sentinel");
	cr_assert_eq(code, 0, "in a child, mp_process_sentinel(mp_current_process()) must give one descriptor, "
		     "not readable while the process runs: a pidfd on itself (code %d: 1 none, 2 readable, "
		     "3 not the same twice, 5 not a pidfd on the process, 6 the parent's sentinel missing or "
		     "readable)", code);
}

/* ------------------------------------------------------------------------- */
/* Daemon children */

MP_TEST(process, daemon_flag_is_fixed_once_started, 1, "Daemon children")
{
	mp_process *p = new_process("exit_with", &(int){ 0 }, sizeof(int));
	cr_assert(!mp_process_is_daemon(p), "processes are not daemonic by default");
	mp_expect_status(mp_process_set_daemon(p, true), 0);
	cr_assert(mp_process_is_daemon(p));
	mp_expect_status(mp_process_start(p), 0);
	mp_expect_status(mp_process_set_daemon(p, false), MP_ESTARTED);
	mp_expect_status(mp_process_set_parent_death_signal(p, SIGKILL), MP_ESTARTED);
	cr_assert_eq(join_and_exitcode(p), 0);
	mp_process_free(p);
}

MP_TEST(process, a_daemonic_process_may_not_have_children, 2, "Daemon children")
{
	mp_process *p = new_process("try_to_have_children", NULL, 0);
	mp_expect_status(mp_process_set_daemon(p, true), 0);
	mp_expect_status(mp_process_start(p), 0);
	cr_assert_eq(join_and_exitcode(p), 0, "inside a daemonic child, mp_process_start must return MP_EDAEMONIC");
	mp_process_free(p);
}

MP_TEST(process, an_ending_child_terminates_its_daemons_and_joins_the_rest, 3, "Daemon children")
{
	struct ends e[2] = { new_pipe(), new_pipe() };
	mp_process *p = start("leave_children", e, sizeof e);
	pid_t daemon;
	cr_assert(mp_test_read(e[1].r, &daemon, sizeof daemon, 5), "the child never started its children");
	int rc = mp_process_join(p, 5);
	cr_assert(rc == 0, "the child did not end within 5 s: when a target returns, its daemonic children "
		  "must be terminated before the others are joined (join returned %s)", mp_err_name(rc));
	cr_assert_eq(join_and_exitcode(p), 0);
	char mark = 0;
	cr_assert(mp_test_read(e[1].r, &mark, 1, 0) && mark == 'N',
		  "the child ended before its non-daemonic child had finished: it must join it first");
	cr_assert(!mp_test_pid_running(daemon), "the daemonic grandchild %d still runs", (int)daemon);
	mp_process_free(p);
	close_pipe(e[0]);
	close_pipe(e[1]);
}

MP_TEST(process, the_main_program_stops_its_daemons_and_joins_the_rest_at_exit, 3, "Daemon children")
{
	struct ends e[2] = { new_pipe(), new_pipe() }; /* e[0]: the daemon blocks on it; e[1]: reports */
	pid_t main_program = fork();
	cr_assert(main_program >= 0);
	if (main_program == 0) {
		/* Not the test process: no cr_assert here. The pipes must outlive the exec. */
		char fds[64], self[PATH_MAX];
		snprintf(fds, sizeof fds, "%d %d %d %d", e[0].r, e[0].w, e[1].r, e[1].w);
		for (int i = 0; i < 2; i++) {
			fcntl(e[i].r, F_SETFD, 0);
			fcntl(e[i].w, F_SETFD, 0);
		}
		ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
		if (n < 0)
			_exit(126);
		self[n] = '\0';
		setenv("MP_TEST_MAIN_PROGRAM", fds, 1);
		execl(self, self, (char *)NULL);
		_exit(127);
	}
	pid_t pids[2];
	cr_assert(mp_test_read(e[1].r, pids, sizeof pids, 5), "the main program could not start its children");
	int status;
	cr_assert(wait_pid_within(main_program, 5, &status), "the main program did not end within 5 s of its exit()");
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "the main program's exit status was 0x%x (2 to 4: it could not start its children)", status);
	char mark = 0;
	cr_assert(mp_test_read(e[1].r, &mark, 1, 0) && mark == 'N',
		  "the main program exited before its non-daemonic child had finished: the first "
		  "mp_process_start() must register an exit handler (atexit) that joins every child");
	cr_assert(!mp_test_pid_running(pids[0]),
		  "the daemonic child %d still runs after the main program exited: the exit handler must "
		  "terminate daemonic children", (int)pids[0]);
	for (int i = 0; i < 2; i++)
		cr_assert(waitpid(pids[i], NULL, WNOHANG) < 0 && errno == ECHILD,
			  "child %d was not reaped by the main program before it exited", (int)pids[i]);
	close_pipe(e[0]);
	close_pipe(e[1]);
}

/* ------------------------------------------------------------------------- */
/* When the parent dies */

/*
 * A pthread_atfork() handler: it runs in the new child before fork() returns
 * there, so before become_child() can call prctl() or open a pidfd on its
 * parent. It holds the child there until its parent, the middle, has died, the
 * child has been handed to a new parent (end-of-file on a pipe would come too
 * early: a dying process closes its files before its children are handed on),
 * and the test has reaped the middle. So the races of "When the parent dies"
 * and "Names, current and parent process" go the wrong way every time.
 */
static pid_t the_middle; /* in a middle process: its own pid, noted before it forks */

static void hold_the_child_until_its_parent_dies(void)
{
	while (getppid() == the_middle || kill(the_middle, 0) == 0)
		usleep(1000); /* the test kills and reaps the middle within moments */
}

static void hold_the_child_until_it_is_orphaned(void)
{
	while (getppid() == the_middle)
		usleep(1000); /* the test kills the middle, and reaps it only after the child */
}

enum middle_options {
	DIES_BEFORE_PRCTL = 1,  /* the child reaches prctl() only once the middle is dead and reaped */
	IGNORES_THE_SIGNAL = 2, /* the death signal is ignored (and so in the child too) */
	ORPHANED_FIRST = 4,     /* the child goes on once handed to a new parent, the middle still a zombie */
	NO_PIPE_FOR_CHILD = 8   /* the child inherits an armed fault: its first pipe2() fails */
};

/*
 * Fork a middle process that starts a child running @target with @death_signal
 * (or the default when negative) and sends us its pid, then waits to be
 * killed. Returns the middle's pid; the child's is put in @child.
 */
static pid_t start_middle(const char *target, int death_signal, int options, pid_t *child)
{
	int fds[2];
	mp_test_pipe(fds);
	pid_t middle = fork();
	cr_assert(middle >= 0);
	if (middle == 0) {
		the_middle = getpid();
		if ((options & DIES_BEFORE_PRCTL) && pthread_atfork(NULL, NULL, hold_the_child_until_its_parent_dies) != 0)
			_exit(3);
		if ((options & ORPHANED_FIRST) && pthread_atfork(NULL, NULL, hold_the_child_until_it_is_orphaned) != 0)
			_exit(3);
		if (options & IGNORES_THE_SIGNAL)
			signal(death_signal, SIG_IGN);
		if ((options & NO_PIPE_FOR_CHILD) && mp_fault_inject("pipe2", 0, EMFILE) != 0)
			_exit(3); /* with pidfds the middle's own start makes no pipe: the fault goes to the child */
		mp_process *p = NULL;
		pid_t pid = -1;
		char flag = 1; /* watch_parent: also check that no pidfd on the zombie is left */
		if (mp_process_new(&p, target, (options & ORPHANED_FIRST) ? &flag : NULL, (options & ORPHANED_FIRST) ? 1 : 0) == 0 &&
		    (death_signal < 0 || mp_process_set_parent_death_signal(p, death_signal) == 0) &&
		    mp_process_start(p) == 0)
			pid = mp_process_pid(p);
		write_all(fds[1], &pid, sizeof pid);
		pause();
		_exit(0);
	}
	close(fds[1]);
	bool got = mp_test_read(fds[0], child, sizeof *child, 5);
	close(fds[0]);
	if (!got || *child <= 0) {
		kill(middle, SIGKILL);
		mp_test_wait_pid(middle, 5);
		cr_assert_fail("the middle process could not start its child");
	}
	return middle;
}

MP_TEST(process, a_child_dies_with_its_parent, 3, "When the parent dies")
{
	pid_t child;
	pid_t middle = start_middle("block_until_eof_forever", -1, 0, &child);
	kill(middle, SIGKILL);
	mp_test_wait_pid(middle, 5);
	/* We are a subreaper (see mp_test.h), so the orphan is now our child. */
	int status = mp_test_wait_pid(child, 5);
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM,
		  "when its parent was killed, the child should get SIGTERM (the parent-death signal); "
		  "its wait status was 0x%x", status);
}

MP_TEST(process, a_parent_that_dies_before_the_child_s_prctl_still_ends_it, 2, "When the parent dies")
{
	pid_t child;
	pid_t middle = start_middle("block_until_eof_forever", -1, DIES_BEFORE_PRCTL, &child);
	kill(middle, SIGKILL);
	mp_test_wait_pid(middle, 5);
	int status;
	cr_assert(wait_pid_within(child, 5, &status),
		  "the parent died before the child's prctl(PR_SET_PDEATHSIG), and the child lives on: after the "
		  "prctl, compare getppid() with the parent's pid noted before the fork, and raise the signal");
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM,
		  "the child whose parent died first should die of SIGTERM; its wait status was 0x%x", status);

	/* The same race, with the signal ignored: raise() returns, and the child must end all the same. */
	middle = start_middle("block_until_eof_forever", SIGUSR1, DIES_BEFORE_PRCTL | IGNORES_THE_SIGNAL, &child);
	kill(middle, SIGKILL);
	mp_test_wait_pid(middle, 5);
	cr_assert(wait_pid_within(child, 5, &status),
		  "the parent died first and the child ignores its death signal: when raise() returns, the child "
		  "must _exit(128 + signal)");
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 128 + SIGUSR1,
		  "expected exit status %d (128 + SIGUSR1), the wait status was 0x%x", 128 + SIGUSR1, status);
}

MP_TEST(process, parent_death_signal_can_be_chosen_or_turned_off, 2, "When the parent dies")
{
	pid_t child;
	pid_t middle = start_middle("block_until_eof_forever", SIGUSR1, 0, &child);
	kill(middle, SIGKILL);
	mp_test_wait_pid(middle, 5);
	int status = mp_test_wait_pid(child, 5);
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGUSR1,
		  "with the parent-death signal set to SIGUSR1, the orphan should die of it (status 0x%x)", status);

	middle = start_middle("block_until_eof_forever", 0, 0, &child);
	kill(middle, SIGKILL);
	mp_test_wait_pid(middle, 5);
	usleep(200 * 1000);
	bool survived = mp_test_pid_running(child);
	kill(child, SIGKILL);
	mp_test_wait_pid(child, 5);
	cr_assert(survived, "with the parent-death signal turned off (0), the orphan must live on, as in Python");
}

MP_TEST(process, a_child_can_watch_its_parent_s_sentinel, 2, "When the parent dies")
{
	pid_t child;
	pid_t middle = start_middle("watch_parent", 0, 0, &child);
	kill(middle, SIGKILL);
	mp_test_wait_pid(middle, 5);
	int status = mp_test_wait_pid(child, 5);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 4)
		cr_skip_test("pidfd_open() is missing here (Linux before 5.3, or valgrind 3.19): "
			     "the parent's sentinel cannot be tested");
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 42,
		  "the sentinel of mp_parent_process() must become readable when the parent dies "
		  "(the child exited with status 0x%x; 2 means no sentinel)", status);
}

MP_TEST(process, a_parent_that_died_before_its_child_could_watch_it_has_a_readable_sentinel, 1, "Names, current and parent process")
{
	if (!have_pidfds())
		cr_skip_test("pidfd_open() is missing here (Linux before 5.3, or valgrind 3.19): "
			     "the parent has no sentinel");
	pid_t child;
	pid_t middle = start_middle("watch_parent", 0, DIES_BEFORE_PRCTL, &child);
	kill(middle, SIGKILL);
	mp_test_wait_pid(middle, 5);
	int status;
	cr_assert(wait_pid_within(child, 5, &status), "the child never saw its dead parent's sentinel readable");
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 42,
		  "the parent died before the child opened its sentinel: then mp_parent_process()'s sentinel must be "
		  "readable at once, and the parent not alive (the child exited with status 0x%x; 2 means no "
		  "sentinel, 3 alive)", status);
}

MP_TEST(process, a_parent_that_died_before_its_child_opened_a_pidfd_leaves_none_open, 1, "Names, current and parent process")
{
	if (!have_pidfds())
		cr_skip_test("pidfd_open() is missing here (Linux before 5.3, or valgrind 3.19): "
			     "the parent has no sentinel");
	/* The middle stays a zombie (we reap it last), so the child's pidfd_open() on it succeeds. */
	pid_t child;
	pid_t middle = start_middle("watch_parent", 0, ORPHANED_FIRST, &child);
	kill(middle, SIGKILL);
	int status;
	bool ended = wait_pid_within(child, 5, &status);
	mp_test_wait_pid(middle, 5);
	cr_assert(ended, "the child never saw its dead parent's sentinel readable");
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 42,
		  "the parent died before the child opened a pidfd on it: whatever was opened must be closed, and "
		  "the sentinel readable at once (the child exited with status 0x%x; 2 no sentinel, 3 alive, "
		  "5 not a descriptor, 6 a pidfd on the dead parent left open)", status);
}

MP_TEST(process, a_dead_parent_s_sentinel_that_cannot_be_made_is_an_error, 1, "Names, current and parent process")
{
	if (!have_pidfds())
		cr_skip_test("pidfd_open() is missing here (Linux before 5.3, or valgrind 3.19): "
			     "the parent has no sentinel");
	/* The parent dies first, and the pipe that would stand for it cannot be made. */
	pid_t child;
	pid_t middle = start_middle("watch_parent", 0, DIES_BEFORE_PRCTL | NO_PIPE_FOR_CHILD, &child);
	kill(middle, SIGKILL);
	mp_test_wait_pid(middle, 5);
	int status;
	cr_assert(wait_pid_within(child, 5, &status), "the child waited on a sentinel that can never be readable");
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 2,
		  "with no descriptor to be had, mp_process_sentinel(mp_parent_process()) must be a negative code, "
		  "not some other descriptor (the child exited with status 0x%x)", status);
}

/* Start two children that sleep for 1.5 s, one with the default death signal, one with none, then end. */
static void *start_two_and_end(void *arg)
{
	mp_process **p = arg;
	static const double s = 1.5;
	for (int i = 0; i < 2; i++) {
		if (mp_process_new(&p[i], "sleep_seconds", &s, sizeof s) != 0 ||
		    (i == 1 && mp_process_set_parent_death_signal(p[i], 0) != 0) || mp_process_start(p[i]) != 0)
			return (void *)1;
	}
	/*
	 * Give the children time to ask for their signal: a thread that ends
	 * before its child has called prctl() leaves that child no thread to
	 * watch, and no signal comes (the process, its parent, lives on).
	 */
	struct timespec pause = { 0, 200000000 };
	nanosleep(&pause, NULL);
	return NULL; /* the thread ends: Linux sends the death signal now */
}

MP_TEST(process, the_death_signal_follows_the_thread_that_started_the_child, 1, "When the parent dies")
{
	/*
	 * What process.h promises: the death signal comes when the *thread* that
	 * started the child ends, as Linux has it, although the process lives on;
	 * a child started with the signal turned off runs to its end.
	 */
	mp_process *p[2] = { NULL, NULL };
	pthread_t t;
	void *failed = NULL;
	cr_assert(pthread_create(&t, NULL, start_two_and_end, p) == 0);
	pthread_join(t, &failed);
	cr_assert(failed == NULL && p[0] && p[1], "the thread could not start its two children");
	double t0 = mp_test_now();
	mp_expect_status(mp_process_join(p[0], 5), 0);
	int code = 0;
	mp_expect_status(mp_process_exitcode(p[0], &code), 0);
	cr_assert(code == -SIGTERM && mp_test_now() - t0 < 0.8 * MP_TEST_TIMEOUT_SCALE, "a child whose starting thread "
		  "ended got exit code %d after %.2f s, expected -SIGTERM at once: the death signal watches that "
		  "thread", code, mp_test_now() - t0);
	mp_expect_status(mp_process_join(p[1], 5), 0);
	mp_expect_status(mp_process_exitcode(p[1], &code), 0);
	cr_assert_eq(code, 3, "the child started with no death signal must run to its end (exit 3), not %d", code);
	mp_process_free(p[0]);
	mp_process_free(p[1]);
}
