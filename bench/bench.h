/* bench.h: the C helpers every stage's bench_*.c shares: clock, median, counts, children and the start line that times them. */
#ifndef MP_BENCH_H
#define MP_BENCH_H

/*
 * Each benchmark is one program built from one .c file (bench/run.sh), so
 * these are static functions in a header rather than a library of their own:
 * every stage compiles its own copy, and the compiler inlines them or not just
 * as it did when each stage had them written out, which keeps the timed code
 * the same. They are not `inline`, which would change those choices; `unused`
 * stops the warning in a stage that needs only some of them.
 *
 * Before including this, a stage defines BENCH_NAME, the prefix of its
 * messages on stderr ("bench_queue"), and its feature-test macro
 * (_POSIX_C_SOURCE or _DEFAULT_SOURCE), which must come before any header.
 */
#ifndef BENCH_NAME
#error "define BENCH_NAME (e.g. \"bench_queue\") before including bench.h"
#endif

#include <mp.h>

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BENCH_API static __attribute__((unused))

/* A child that has not said it is ready, or not reported, after this long is stuck: give up rather than hang. */
#define CHILD_TIMEOUT_MS 60000

BENCH_API void die(const char *what)
{
	perror(what);
	exit(1);
}

BENCH_API void check_mp(int rc, const char *what)
{
	if (rc < 0) {
		fprintf(stderr, BENCH_NAME ": %s: %s\n", what, mp_strerror(rc));
		exit(1);
	}
}

/*
 * CLOCK_MONOTONIC in @per_s units a second: multiplying the seconds and
 * dividing the nanoseconds (rather than scaling a figure in seconds) keeps
 * each stage's arithmetic, and so its figures, exactly as before.
 */
BENCH_API double now_in(double per_s, double ns_per_unit)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
		die("clock_gettime");
	return (double)ts.tv_sec * per_s + (double)ts.tv_nsec / ns_per_unit;
}

BENCH_API double now_s(void)
{
	return now_in(1, 1e9);
}

BENCH_API double now_us(void)
{
	return now_in(1e6, 1e3);
}

BENCH_API int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* The median, not the mean: a few slow samples on a busy machine do not move it. Sorts @v. */
BENCH_API double median(double *v, long n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/*
 * argv[@i] as a count from @min to @max, or @fallback if there is no such
 * argument. Anything else prints @usage, a printf format given @min as a
 * long, and exits with 2: a typo must not run a benchmark of the wrong size.
 */
BENCH_API long parse_count(int argc, char **argv, int i, long fallback, long min, long max,
			   const char *usage)
{
	if (argc <= i)
		return fallback;
	const char *s = argv[i];
	char *end;
	errno = 0;
	long n = strtol(s, &end, 10);
	if (errno || end == s || *end || n < min || n > max) {
		fprintf(stderr, usage, min);
		exit(2);
	}
	return n;
}

/*
 * Copy a child's job out of its target's argument bytes into @job. A size
 * that does not match means parent and child disagree on the struct: stop
 * the child rather than run on garbage.
 */
BENCH_API void take_job(void *job, size_t size, const void *arg, size_t len)
{
	if (len != size) {
		fprintf(stderr, BENCH_NAME ": a child got %zu argument bytes\n", len);
		_exit(1);
	}
	memcpy(job, arg, size);
}

/* Start a child on @target with a copy of @len bytes at @arg (the stage's struct job). */
BENCH_API mp_process *start_child(const char *target, const void *arg, size_t len)
{
	mp_process *p;
	check_mp(mp_process_new(&p, target, arg, len), "mp_process_new");
	check_mp(mp_process_start(p), "mp_process_start");
	return p;
}

/* Join and free @p; returns its exit code, which the caller must check: a failed child makes a fast, meaningless figure. */
BENCH_API int join_child(mp_process *p)
{
	int code;
	check_mp(mp_process_join(p, MP_FOREVER), "mp_process_join");
	check_mp(mp_process_exitcode(p, &code), "mp_process_exitcode");
	mp_process_free(p);
	return code;
}

/*
 * What a sending child sends, made before it says it is ready so that the
 * clock does not time it: @size bytes of 'x' (free() them), or NULL for the
 * 8 bytes of an integer, which the child sends with the *_int calls instead.
 */
BENCH_API unsigned char *payload(size_t size)
{
	if (size == sizeof(int64_t))
		return NULL;
	unsigned char *buf = malloc(size);
	if (!buf)
		die("malloc");
	memset(buf, 'x', size);
	return buf;
}

BENCH_API void write_full(int fd, const void *buf, size_t n)
{
	for (size_t done = 0; done < n;) {
		ssize_t w = write(fd, (const char *)buf + done, n - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			die("write");
		done += (size_t)w;
	}
}

/*
 * Read up to @n bytes, waiting at most @timeout_ms for each piece (0 = no
 * limit, and no poll() either: a timed reader must pay one read() only).
 * Returns how many came before end-of-file (@n if it did not come), or -1 if
 * read() failed: each caller decides what a short read means for it.
 */
BENCH_API ssize_t read_upto(int fd, void *buf, size_t n, int timeout_ms)
{
	size_t done = 0;
	while (done < n) {
		if (timeout_ms > 0) {
			struct pollfd p = { .fd = fd, .events = POLLIN };
			int k = poll(&p, 1, timeout_ms);
			if (k < 0 && errno == EINTR)
				continue;
			if (k < 0)
				die("poll");
			if (k == 0) {
				fprintf(stderr, BENCH_NAME ": no word from a child in %d s\n",
					timeout_ms / 1000);
				exit(1);
			}
		}
		ssize_t r = read(fd, (char *)buf + done, n - done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		done += (size_t)r;
	}
	return (ssize_t)done;
}

/* Read exactly @n bytes from a start-line pipe (below): those never end early, so any shortfall is fatal. */
BENCH_API void read_pipe(int fd, void *buf, size_t n, int timeout_ms)
{
	if (read_upto(fd, buf, n, timeout_ms) != (ssize_t)n) {
		fprintf(stderr, BENCH_NAME ": pipe closed or failed\n");
		exit(1);
	}
}

/*
 * The start line: two pipes, made once by open_start_line() and inherited by
 * every child. On `report` each child says it is ready (1 byte), and may
 * later say how much it did (an int64_t, -1 on failure; writes this small are
 * atomic, so reports never interleave). On `go` the parent writes one byte
 * per child to start them all at once, so that the clock times the work and
 * not the starting of processes.
 */
static int report_rd __attribute__((unused)), report_wr __attribute__((unused));
static int go_rd __attribute__((unused)), go_wr __attribute__((unused));

BENCH_API void open_start_line(void)
{
	int fds[2];
	if (pipe(fds) < 0)
		die("pipe");
	report_rd = fds[0];
	report_wr = fds[1];
	if (pipe(fds) < 0)
		die("pipe");
	go_rd = fds[0];
	go_wr = fds[1];
}

/* A child's side of the start line: say it is ready, then wait for the go. */
BENCH_API void ready_set_go(void)
{
	char c = 'r';
	write_full(report_wr, &c, 1);
	read_pipe(go_rd, &c, 1, 0);
}

/* A child's report at the end: how much it did, or -1 if it failed. */
BENCH_API void report(int64_t done)
{
	write_full(report_wr, &done, sizeof done);
}

/* The parent's side: wait until @n children (8 at most) are ready, then start them; returns the time of the go, in s. */
BENCH_API double ready_go(int n)
{
	char ready[8];
	if (n < 1 || n > (int)sizeof ready) {
		fprintf(stderr, BENCH_NAME ": %d children on the start line\n", n);
		exit(1);
	}
	read_pipe(report_rd, ready, (size_t)n, CHILD_TIMEOUT_MS);
	double t0 = now_s();
	write_full(go_wr, "gggggggg", (size_t)n);
	return t0;
}

/* Add up the reports of @n children into @total; false if any said it failed. */
BENCH_API bool read_reports(int n, int64_t *total)
{
	bool ok = true;
	*total = 0;
	for (int i = 0; i < n; i++) {
		int64_t done;
		read_pipe(report_rd, &done, sizeof done, CHILD_TIMEOUT_MS);
		ok &= done >= 0;
		*total += done;
	}
	return ok;
}

#endif /* MP_BENCH_H */
