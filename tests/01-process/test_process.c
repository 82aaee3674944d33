/* test_process.c: stage 01, Process and join: what Python's Process does, and what it should. */
#define _GNU_SOURCE
#include "mp_test.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#define MP_LESSON "lessons/01-process.md"

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
	int rc = mp_process_join(sibling, 0);
	int rc2 = mp_process_terminate(sibling);
	return rc == MP_ENOTCHILD && rc2 == MP_ENOTCHILD ? 0 : 1;
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
	return 0;
}

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
	return mp_process_is_alive(up) ? 3 : 42;
}

MP_TARGET(print_line)(const void *arg, size_t len)
{
	(void)arg;
	(void)len;
	printf("child\n");
	return 0;
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

static void no_op_handler(int sig)
{
	(void)sig;
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

/* ------------------------------------------------------------------------- */
/* Reaping: wait and zombies */

MP_TEST(process, join_gives_the_exit_status, 3, "Reaping: wait and zombies")
{
	for (int code = 0; code < 256; code += 85) {
		mp_process *p = start_exit_with(code);
		int got = join_and_exitcode(p);
		cr_assert_eq(got, code, "the target returned %d, exitcode says %d", code, got);
		mp_process_free(p);
	}
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
	close(e.w);
	double end = mp_test_now() + 5;
	while (mp_test_pid_running(pid) && mp_test_now() < end)
		usleep(1000);
	cr_assert_eq(mp_active_children(NULL, 0), 0, "the freed child has ended: it is not active");
	cr_assert_eq(mp_test_zombie_children(), 0,
		     "a freed child that ended must be reaped by mp_active_children()");
	close(e.r);
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

MP_TEST(process, join_is_not_cut_short_by_signals, 2, "Waiting with a timeout")
{
	/* A timer interrupts every system call 100 times a second, without SA_RESTART. */
	struct sigaction sa = { .sa_handler = no_op_handler };
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval every_10ms = { { 0, 10000 }, { 0, 10000 } };
	setitimer(ITIMER_REAL, &every_10ms, NULL);

	struct ends e = new_pipe();
	mp_process *p = start("block_until_eof", &e, sizeof e);
	double t0 = mp_test_now();
	int rc = mp_process_join(p, 0.3);
	double took = mp_test_now() - t0;
	mp_expect_status(rc, MP_ETIMEDOUT);
	cr_assert(took >= 0.29 && took < 2.0, "with signals arriving, join(p, 0.3) took %.3f s: on EINTR, wait "
		  "again for the time that is left", took);
	close(e.w);
	mp_expect_status(mp_process_join(p, MP_FOREVER), 0);

	struct itimerval off = { 0 };
	setitimer(ITIMER_REAL, &off, NULL);
	mp_process_free(p);
	close(e.r);
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

/* ------------------------------------------------------------------------- */
/* When the parent dies */

/*
 * Fork a middle process that starts a child running @target with @death_signal
 * (or the default when negative) and sends us its pid, then waits to be
 * killed. Returns the middle's pid; the child's is put in @child.
 */
static pid_t start_middle(const char *target, int death_signal, pid_t *child)
{
	int fds[2];
	mp_test_pipe(fds);
	pid_t middle = fork();
	cr_assert(middle >= 0);
	if (middle == 0) {
		mp_process *p = NULL;
		pid_t pid = -1;
		if (mp_process_new(&p, target, NULL, 0) == 0 &&
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
	pid_t middle = start_middle("block_until_eof_forever", -1, &child);
	kill(middle, SIGKILL);
	mp_test_wait_pid(middle, 5);
	/* We are a subreaper (see mp_test.h), so the orphan is now our child. */
	int status = mp_test_wait_pid(child, 5);
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM,
		  "when its parent was killed, the child should get SIGTERM (the parent-death signal); "
		  "its wait status was 0x%x", status);
}

MP_TEST(process, parent_death_signal_can_be_chosen_or_turned_off, 2, "When the parent dies")
{
	pid_t child;
	pid_t middle = start_middle("block_until_eof_forever", SIGUSR1, &child);
	kill(middle, SIGKILL);
	mp_test_wait_pid(middle, 5);
	int status = mp_test_wait_pid(child, 5);
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGUSR1,
		  "with the parent-death signal set to SIGUSR1, the orphan should die of it (status 0x%x)", status);

	middle = start_middle("block_until_eof_forever", 0, &child);
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
	pid_t middle = start_middle("watch_parent", 0, &child);
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

/* A child that waits forever on a pipe nobody will write to. */
MP_TARGET(block_until_eof_forever)(const void *arg, size_t len)
{
	(void)arg;
	(void)len;
	for (;;)
		pause();
	return 0;
}
