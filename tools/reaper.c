/* reaper: runs CMD, then kills all it left running. Usage: reaper [-t SECONDS] -- CMD [ARGS...] */

/*
 * Why the grader needs this
 * -------------------------
 * Criterion runs each test in a worker process. When a test times out,
 * Criterion kills that worker, but not the children the test started: they
 * are orphaned and keep running. Worse, they inherited the test binary's
 * stdout and stderr, so a shell pipeline such as `make grade | less` waits
 * for them to close the pipe and looks hung, long after the tests are over.
 * A learner's half-written fork() code leaks processes like that all the time.
 *
 * On Linux, a process that calls prctl(PR_SET_CHILD_SUBREAPER) becomes the
 * new parent of every orphan among its descendants, in place of init. So
 * this program starts the command as its child, waits for it, and then keeps
 * killing whatever gets reparented to it until it has no children left.
 * Nothing the command started can outlive it, and no root is needed.
 *
 * Exit status, as timeout(1) has it:
 *   the command's own status, or 128+N if signal N killed it;
 *   124 if the time limit passed (the command was killed);
 *   125 if this program itself failed or was misused;
 *   126 if the command could not be run, 127 if it was not found.
 * Interrupted by SIGINT, SIGTERM or SIGHUP, it kills everything it started,
 * then dies of the same signal, so that the shell or make stops as well.
 */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum {
	EXIT_TIMEDOUT = 124,
	EXIT_OURS = 125,      /* the reaper failed, not the command */
	EXIT_CANNOT_RUN = 126,
	EXIT_NOT_FOUND = 127,
	BATCH = 256,          /* children killed per pass over /proc; more wait for the next pass */
};

static const char *prog = "reaper";

static void usage(FILE *to)
{
	fprintf(to, "usage: %s [-t SECONDS] -- CMD [ARGS...]\n"
		    "Runs CMD, kills it after SECONDS if given, then kills every process it left behind.\n",
		prog);
}

/* A system call failed in a way we cannot work around: say which, and give up. */
static void die(const char *what)
{
	fprintf(stderr, "%s: %s: %s\n", prog, what, strerror(errno));
	exit(EXIT_OURS);
}

/*
 * The signals we take synchronously, with sigtimedwait(), rather than in
 * handlers: SIGCHLD, and those that ask us to stop. A signal we were started
 * with ignored stays ignored (a shell does that to SIGINT for `cmd &`).
 */
static void watched_signals(sigset_t *set)
{
	static const int stoppers[] = { SIGINT, SIGTERM, SIGHUP };
	sigemptyset(set);
	sigaddset(set, SIGCHLD);
	for (size_t i = 0; i < sizeof stoppers / sizeof stoppers[0]; i++) {
		struct sigaction current;
		if (sigaction(stoppers[i], NULL, &current) < 0)
			die("sigaction");
		if (current.sa_handler != SIG_IGN)
			sigaddset(set, stoppers[i]);
	}
}

/* Never runs, as SIGCHLD stays blocked: it only keeps SIGCHLD from being ignored (see main()). */
static void on_sigchld(int sig)
{
	(void)sig;
}

static double now(void)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
		die("clock_gettime");
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* In the child: become CMD. Never returns: it ends in exec() or _exit(). */
static void run_command(char **argv, const sigset_t *original_mask)
{
	/*
	 * The signal mask survives exec. Left blocked, SIGINT and SIGCHLD would
	 * stay blocked in CMD and in every test worker it starts.
	 */
	if (sigprocmask(SIG_SETMASK, original_mask, NULL) < 0) {
		fprintf(stderr, "%s: sigprocmask: %s\n", prog, strerror(errno));
		_exit(EXIT_OURS);
	}
	execvp(argv[0], argv);
	int failure = errno;
	fprintf(stderr, "%s: cannot run %s: %s\n", prog, argv[0], strerror(failure));
	/* _exit, not exit: the parent's stdio buffers were copied by fork() and are not ours to flush. */
	_exit(failure == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_RUN);
}

enum outcome { CMD_ENDED, TIME_UP, INTERRUPTED };

/*
 * Waits until CMD ends (its wait status goes to *status), the time limit
 * passes (limit <= 0: no limit), or a signal asks us to stop (*signo).
 *
 * SIGCHLD is blocked, so a child that ends between our waitpid() and
 * sigtimedwait() leaves SIGCHLD pending and the wait returns at once:
 * there is no moment at which an exit can go unnoticed.
 */
static enum outcome wait_for_command(pid_t cmd, const sigset_t *watched, double limit,
				     int *status, int *signo)
{
	double deadline = now() + limit;

	for (;;) {
		/* Reap all that has ended: CMD, or orphans that ended by themselves (so no zombies pile up). */
		for (;;) {
			int st;
			pid_t pid = waitpid(-1, &st, WNOHANG);
			if (pid == cmd) {
				*status = st;
				return CMD_ENDED;
			}
			if (pid > 0)
				continue;
			if (pid == 0)
				break;
			if (errno != EINTR)
				die("waitpid"); /* even ECHILD: CMD is ours until we reap it */
		}

		struct timespec wait_at_most, *timeout = NULL;
		if (limit > 0) {
			double left = deadline - now();
			if (left <= 0)
				return TIME_UP;
			wait_at_most.tv_sec = (time_t)left;
			wait_at_most.tv_nsec = (long)((left - (double)wait_at_most.tv_sec) * 1e9);
			timeout = &wait_at_most;
		}
		int sig = sigtimedwait(watched, NULL, timeout);
		if (sig < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue; /* the top of the loop tells whether time is up */
			die("sigtimedwait");
		}
		if (sig != SIGCHLD) {
			*signo = sig;
			return INTERRUPTED;
		}
	}
}

/*
 * Reads the state letter and parent pid of process `pid` from /proc/PID/stat,
 * which starts "PID (COMM) STATE PPID ...". COMM is the program's name and
 * may itself hold spaces and parentheses, so we look after the last ')'.
 * Returns false if the process is gone, which can happen at any moment.
 */
static bool read_stat(pid_t pid, char *state, pid_t *ppid)
{
	char path[64], line[512];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);

	int fd;
	while ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 && errno == EINTR)
		;
	if (fd < 0) {
		if (errno == ENOENT || errno == ESRCH)
			return false;
		die(path);
	}
	ssize_t n;
	while ((n = read(fd, line, sizeof line - 1)) < 0 && errno == EINTR)
		;
	int read_errno = errno;
	if (close(fd) < 0)
		die("close");
	if (n < 0) {
		if (read_errno == ESRCH)
			return false;
		errno = read_errno;
		die(path);
	}
	line[n] = '\0';

	char *after_name = strrchr(line, ')');
	int parent;
	if (!after_name || sscanf(after_name + 1, " %c %d", state, &parent) != 2)
		return false; /* not a format we know: leave that process alone */
	*ppid = parent;
	return true;
}

/*
 * One pass over /proc: sends SIGKILL to each of our children that is still
 * alive, and stores their pids in `killed` (at most BATCH). Returns how many.
 *
 * Killing by pid is safe here: a child's pid cannot be given to another
 * process until we reap it, and only we reap our children.
 */
static int kill_children(pid_t killed[BATCH])
{
	pid_t me = getpid();
	int count = 0;

	DIR *proc = opendir("/proc");
	if (!proc)
		die("opendir /proc");
	for (;;) {
		errno = 0;
		struct dirent *entry = readdir(proc);
		if (!entry) {
			if (errno != 0)
				die("readdir /proc");
			break;
		}
		char *end;
		long number = strtol(entry->d_name, &end, 10);
		if (*end != '\0' || number <= 0)
			continue; /* not a process: /proc/self, /proc/meminfo, ... */
		pid_t pid = (pid_t)number;

		char state;
		pid_t ppid;
		if (!read_stat(pid, &state, &ppid) || ppid != me)
			continue;
		if (state == 'Z')
			continue; /* already dead: it only waits to be reaped */
		if (kill(pid, SIGKILL) < 0)
			die("kill");
		killed[count++] = pid;
		if (count == BATCH)
			break;
	}
	if (closedir(proc) < 0)
		die("closedir /proc");
	return count;
}

/* Blocks until `pid`, one of our children, has ended and been reaped. */
static void reap(pid_t pid)
{
	while (waitpid(pid, NULL, 0) < 0)
		if (errno != EINTR)
			die("waitpid");
}

/*
 * Kills and reaps every descendant we have left; returns how many it killed.
 *
 * We only ever see our own children, but that is enough: when a child dies,
 * its children become ours (we are their subreaper), and the next pass finds
 * them. So the tree is taken down one generation per pass, until waitpid()
 * says there is no child at all, which means no descendant at all.
 */
static long kill_leftovers(void)
{
	long total = 0;
	for (;;) {
		pid_t killed[BATCH];
		int count = kill_children(killed);
		for (int i = 0; i < count; i++)
			reap(killed[i]);
		total += count;

		/* Anything else to reap? Zombies skipped above, or orphans that just arrived. */
		pid_t pid = waitpid(-1, NULL, WNOHANG);
		if (pid > 0 || count > 0)
			continue;
		if (pid < 0 && errno == ECHILD)
			return total;
		if (pid < 0 && errno != EINTR)
			die("waitpid");
		/*
		 * pid == 0: we have a child that /proc did not show us, because it
		 * was reparented to us just after our pass. Give it a moment.
		 */
		struct timespec moment = { .tv_sec = 0, .tv_nsec = 1000000 };
		nanosleep(&moment, NULL); /* EINTR only makes the moment shorter */
	}
}

/* The exit status a shell would report for a wait status. */
static int shell_status(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return EXIT_OURS; /* stopped or continued: we never ask for those */
}

/* Dies of `sig` like an interrupted program should, once everything is cleaned up. */
static void die_of(int sig)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	sigset_t just_sig;
	sigemptyset(&dfl.sa_mask);
	sigemptyset(&just_sig);
	sigaddset(&just_sig, sig);
	if (sigaction(sig, &dfl, NULL) < 0)
		die("sigaction");
	if (raise(sig) != 0)
		die("raise");
	/* The signal is pending and blocked; unblocking it delivers it, and we die here. */
	if (sigprocmask(SIG_UNBLOCK, &just_sig, NULL) < 0)
		die("sigprocmask");
	exit(128 + sig); /* only if it was not fatal after all */
}

static bool parse_seconds(const char *text, double *seconds)
{
	char *end;
	errno = 0;
	double value = strtod(text, &end);
	if (errno != 0 || end == text || *end != '\0' || !isfinite(value) || value <= 0 || value > 1e9)
		return false;
	*seconds = value;
	return true;
}

int main(int argc, char **argv)
{
	double limit = 0;
	int arg = 1;

	/* Two options only, parsed by hand: getopt() might reorder CMD's own options. */
	if (arg < argc && (!strcmp(argv[arg], "-h") || !strcmp(argv[arg], "--help"))) {
		usage(stdout);
		return 0;
	}
	if (arg < argc && !strcmp(argv[arg], "-t")) {
		if (arg + 1 >= argc || !parse_seconds(argv[arg + 1], &limit)) {
			fprintf(stderr, "%s: -t needs a positive number of seconds\n", prog);
			usage(stderr);
			return EXIT_OURS;
		}
		arg += 2;
	}
	if (arg < argc && !strcmp(argv[arg], "--"))
		arg++;
	if (arg >= argc || argv[arg][0] == '-') {
		usage(stderr);
		return EXIT_OURS;
	}
	char **command = &argv[arg];

	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
		die("prctl(PR_SET_CHILD_SUBREAPER)");

	/*
	 * If we were started with SIGCHLD ignored, the kernel would reap our
	 * children for us and waitpid() could never report CMD's status. A
	 * handler (reset to default by exec in CMD) makes sure it is not.
	 */
	struct sigaction on_child = { .sa_handler = on_sigchld };
	sigemptyset(&on_child.sa_mask);
	if (sigaction(SIGCHLD, &on_child, NULL) < 0)
		die("sigaction(SIGCHLD)");

	/* Block them before fork(), so that none can arrive before we are ready to wait. */
	sigset_t watched, original_mask;
	watched_signals(&watched);
	if (sigprocmask(SIG_BLOCK, &watched, &original_mask) < 0)
		die("sigprocmask");

	/* Whatever we have buffered would be written twice, by us and by the child. */
	if (fflush(NULL) == EOF)
		die("fflush");
	pid_t cmd = fork();
	if (cmd < 0)
		die("fork");
	if (cmd == 0)
		run_command(command, &original_mask);

	int status = 0, signo = 0;
	enum outcome outcome = wait_for_command(cmd, &watched, limit, &status, &signo);
	if (outcome != CMD_ENDED) {
		if (outcome == TIME_UP)
			fprintf(stderr, "%s: %s still running after %g s: killing it and all it started\n",
				prog, command[0], limit);
		if (kill(cmd, SIGKILL) < 0)
			die("kill");
		reap(cmd); /* the rest of its tree is now ours, and kill_leftovers() takes it down */
	}

	long leftovers = kill_leftovers();
	if (leftovers > 0)
		fprintf(stderr, "%s: %ld leftover process(es) killed\n", prog, leftovers);

	switch (outcome) {
	case CMD_ENDED:
		return shell_status(status);
	case TIME_UP:
		return EXIT_TIMEDOUT;
	case INTERRUPTED:
		die_of(signo);
	}
	return EXIT_OURS;
}
