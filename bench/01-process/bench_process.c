/* bench_process.c: time process start+join, bare and through libmp. Run: bench/run.sh 01 (or build/bench/01-process [FORKS [EXECS]]). */
#define _POSIX_C_SOURCE 200809L /* clock_gettime(), posix_spawn(), readlink() */
#define BENCH_NAME "bench_process"
#include "../bench.h"

#include <limits.h>
#include <spawn.h>
#include <sys/wait.h>

/*
 * What it prints, one figure a line, in microseconds per start+join (the
 * median over all repetitions, so that a few slow outliers on a busy machine
 * do not move it):
 *   c_bare_fork_us     fork(), child _exit(0), parent waitpid()
 *   c_lib_fork_us      mp_process_new/start/join/free with a target returning 0
 *   c_fork_exec_us     fork(), child execs this program with --child, waitpid()
 *   c_posix_spawn_us   posix_spawn() of this program with --child, waitpid()
 * The last two start a fresh program, which is the cost floor of a "spawn"
 * start method; libmp has none until stage 07, so these stand in for it.
 * Lines starting with '#' are for humans.
 */

#define CHILD_FLAG "--child"
#define DEFAULT_FORKS 2000
#define DEFAULT_EXECS 500
/*
 * The methods take turns in this many rounds instead of running one after the
 * other, so that a slow spell of the machine is shared among them rather than
 * landing on one and skewing the ratios that bench/run.sh computes.
 */
#define ROUNDS 10
#define WARMUP 20

extern char **environ;

MP_TARGET(noop)(const void *arg, size_t len)
{
	(void)arg;
	(void)len;
	return 0;
}

/* Reap @pid and insist that it exited with 0: a failed child would make a fast, meaningless figure. */
static void wait_ok(pid_t pid, const char *what)
{
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			die("waitpid");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "bench_process: %s child ended badly (status %#x)\n", what, status);
		exit(1);
	}
}

static void bare_fork(void)
{
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0)
		_exit(0);
	wait_ok(pid, "bare fork");
}

/* mp_process_new/start/join/exitcode/free: the library's whole cost of one process. */
static void lib_fork(void)
{
	int code = join_child(start_child("noop", NULL, 0));
	if (code != 0) {
		fprintf(stderr, "bench_process: library child exited with %d\n", code);
		exit(1);
	}
}

/* Our own executable, resolved once so that each exec does not walk /proc. */
static char self_path[PATH_MAX];
static char *child_argv[] = { self_path, CHILD_FLAG, NULL };

static void fork_exec(void)
{
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		execve(self_path, child_argv, environ);
		_exit(127); /* the parent sees the failure in the exit status */
	}
	wait_ok(pid, "fork+exec");
}

static void spawn_self(void)
{
	pid_t pid;
	/* posix_spawn() returns the error number instead of setting errno. */
	int err = posix_spawn(&pid, self_path, NULL, NULL, child_argv, environ);
	if (err != 0) {
		errno = err;
		die("posix_spawn");
	}
	wait_ok(pid, "posix_spawn");
}

struct method {
	const char *key;   /* the name printed for machine reading */
	void (*run)(void); /* one start+join */
	long count;        /* repetitions in total */
	double *samples;   /* one duration per repetition, in microseconds */
	long done;
};

static void run_batch(struct method *m, long n)
{
	for (long i = 0; i < n; i++) {
		double t0 = now_us();
		m->run();
		m->samples[m->done++] = now_us() - t0;
	}
}

int main(int argc, char **argv)
{
	/* The exec'd child: the whole point is to start a program and end it at once. */
	if (argc > 1 && strcmp(argv[1], CHILD_FLAG) == 0)
		_exit(0);

	const char *usage = "usage: bench_process [FORKS [EXECS]] (counts from %ld up)\n";
	long forks = parse_count(argc, argv, 1, DEFAULT_FORKS, ROUNDS, 10000000, usage);
	long execs = parse_count(argc, argv, 2, DEFAULT_EXECS, ROUNDS, 10000000, usage);

	ssize_t n = readlink("/proc/self/exe", self_path, sizeof self_path - 1);
	if (n < 0)
		die("readlink /proc/self/exe");
	self_path[n] = '\0';

	struct method methods[] = {
		{ "c_bare_fork_us", bare_fork, forks, NULL, 0 },
		{ "c_lib_fork_us", lib_fork, forks, NULL, 0 },
		{ "c_fork_exec_us", fork_exec, execs, NULL, 0 },
		{ "c_posix_spawn_us", spawn_self, execs, NULL, 0 },
	};
	const size_t nmethods = sizeof methods / sizeof methods[0];

	for (size_t i = 0; i < nmethods; i++) {
		struct method *m = &methods[i];
		m->samples = malloc((size_t)m->count * sizeof *m->samples);
		if (!m->samples)
			die("malloc");
		/* The first runs pay for page faults and the library's one-time setup: not timed. */
		for (int w = 0; w < WARMUP; w++)
			m->run();
	}

	for (int r = 0; r < ROUNDS; r++) {
		for (size_t i = 0; i < nmethods; i++) {
			struct method *m = &methods[i];
			/* Spread the remainder so that the last round ends exactly on count. */
			long upto = m->count * (r + 1) / ROUNDS;
			run_batch(m, upto - m->done);
		}
	}

	printf("# C: %ld forks and %ld execs each, in %d interleaved rounds; median us per start+join\n",
	       forks, execs, ROUNDS);
	for (size_t i = 0; i < nmethods; i++) {
		struct method *m = &methods[i];
		printf("%s %.1f\n", m->key, median(m->samples, m->count));
		free(m->samples);
	}
	if (fflush(stdout) == EOF)
		die("stdout");
	return 0;
}
