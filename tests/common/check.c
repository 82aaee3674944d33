/* check.c: the checks around every test: no child, zombie or descriptor may outlive it. */
#define _GNU_SOURCE
#include "mp_test.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_FDS 1024

static bool open_before[MAX_FDS]; /* descriptors open when the test began */

#define MAX_SHM 256
static char shm_before[MAX_SHM][256]; /* our named shared memory blocks when the test began */
static int n_shm_before;

/* The blocks in /dev/shm with our prefix ("mp-"), up to @cap names. */
static int list_shm(char names[][256], int cap)
{
	int n = 0;
	DIR *d = opendir("/dev/shm");
	if (!d)
		return 0;
	for (struct dirent *e; (e = readdir(d)) && n < cap;)
		if (strncmp(e->d_name, "mp-", 3) == 0)
			snprintf(names[n++], 256, "%s", e->d_name);
	closedir(d);
	return n;
}

static void list_fds(bool open[MAX_FDS])
{
	memset(open, 0, MAX_FDS * sizeof open[0]);
	DIR *d = opendir("/proc/self/fd");
	cr_assert(d, "cannot list /proc/self/fd: %s", strerror(errno));
	int self = dirfd(d);
	for (struct dirent *e; (e = readdir(d));) {
		int fd = atoi(e->d_name);
		if (e->d_name[0] != '.' && fd != self && fd < MAX_FDS)
			open[fd] = true;
	}
	closedir(d);
}

void mp_test_setup(void)
{
	/*
	 * Orphans of the test (a grandchild whose parent died) come to us instead
	 * of init, so the check below sees them, and kills them, too.
	 */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	list_fds(open_before);
	n_shm_before = list_shm(shm_before, MAX_SHM);
}

/* The state letter and parent of a process, from /proc/PID/stat; false if gone. */
static bool proc_stat(pid_t pid, char *state, pid_t *ppid)
{
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* The command name may hold spaces and parentheses: read after the last ')'. */
	char *end = strrchr(buf, ')');
	int parent;
	if (!end || sscanf(end + 1, " %c %d", state, &parent) != 2)
		return false;
	*ppid = parent;
	return true;
}

/* Our children, found in /proc: up to @cap pids and their states. */
static int list_children(pid_t *pids, char *states, int cap)
{
	int n = 0;
	DIR *d = opendir("/proc");
	if (!d)
		return 0;
	for (struct dirent *e; (e = readdir(d)) && n < cap;) {
		pid_t pid = atoi(e->d_name);
		char state;
		pid_t ppid;
		if (pid > 0 && proc_stat(pid, &state, &ppid) && ppid == getpid()) {
			pids[n] = pid;
			states[n] = state;
			n++;
		}
	}
	closedir(d);
	return n;
}

int mp_test_zombie_children(void)
{
	pid_t pids[64];
	char states[64];
	int zombies = 0, n = list_children(pids, states, 64);
	for (int i = 0; i < n; i++)
		zombies += states[i] == 'Z';
	return zombies;
}

/* Kill and reap our children; @pids and @states, when given, list them as they were. */
static int kill_children(pid_t *pids, char *states, int cap)
{
	int n = list_children(pids, states, cap);
	for (int i = 0; i < n; i++) {
		kill(pids[i], SIGKILL);
		waitpid(pids[i], NULL, 0);
	}
	return n;
}

void mp_test_teardown(void)
{
	pid_t pids[64];
	char states[64];
	while (kill_children(pids, states, 64) > 0)
		;
}

/* Stage 05's count of pool results not yet freed; NULL where the stage is not linked. */
size_t mp__pool_results_alive(void) __attribute__((weak));

void mp_test_check_clean(void)
{
	pid_t pids[64];
	char states[64];
	int n = kill_children(pids, states, 64);
	for (int i = 0; i < n; i++)
		cr_assert(states[i] != 'Z',
			  "child %d was left a zombie: the library must reap every child it starts "
			  "(lesson 01, section \"Reaping: wait and zombies\")", (int)pids[i]);
	cr_assert(n == 0,
		  "child %d was still running after the test: every child must be joined, "
		  "or end with its parent (lesson 01, section \"Reaping: wait and zombies\")",
		  (int)pids[0]);

	/* Tests run in parallel: only a block named with our own pid is surely ours. */
	static char shm_after[MAX_SHM][256];
	char mine[32];
	snprintf(mine, sizeof mine, "mp-%d-", (int)getpid());
	int n_after = list_shm(shm_after, MAX_SHM);
	for (int i = 0; i < n_after; i++) {
		bool old = false;
		for (int k = 0; k < n_shm_before && !old; k++)
			old = strcmp(shm_after[i], shm_before[k]) == 0;
		if (!old && strncmp(shm_after[i], mine, strlen(mine)) == 0) {
			char path[300];
			snprintf(path, sizeof path, "/dev/shm/%.255s", shm_after[i]);
			unlink(path);
			cr_assert_fail("the shared memory block %s was left behind: unlink what you create "
				       "(lesson 04, section \"Named shared memory, and who may remove it\")", path);
		}
	}

	if (mp__pool_results_alive) {
		size_t left = mp__pool_results_alive();
		cr_assert(left == 0, "%zu pool result%s (mp_result) left alive after the test: every handle must be freed "
			  "(mp_result_free()), and every job the pool made for itself (imap's) when it is done with it "
			  "(lesson 05, section \"Results: waiting for an outcome\")", left, left == 1 ? "" : "s");
	}

	bool open_after[MAX_FDS];
	list_fds(open_after);
	for (int fd = 0; fd < MAX_FDS; fd++) {
		if (open_after[fd] && !open_before[fd]) {
			char link[64], target[PATH_MAX] = "?";
			snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
			ssize_t len = readlink(link, target, sizeof target - 1);
			if (len >= 0)
				target[len] = '\0';
			/* What the descriptor is says which rule was broken. */
			const char *rule = strstr(target, "pidfd")
				? "a process object must close its pidfd once the child is reaped "
				  "(lesson 01, section \"Reaping: wait and zombies\")"
				: "every descriptor the library opens must be closed on every path, "
				  "the error paths included";
			cr_assert_fail("descriptor %d (%s) was left open by the test: %s", fd, target, rule);
		}
	}
}

void mp_test_status_message(char *buf, size_t size, const char *what, int rc, int want)
{
	int n = snprintf(buf, size, "%s returned %s (%d: %s), ", what, mp_err_name(rc), rc, mp_strerror(rc));
	if (n >= 0 && (size_t)n < size)
		snprintf(buf + n, size - (size_t)n, "expected %s (%d: %s)", mp_err_name(want), want,
			 mp_strerror(want));
}

double mp_test_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

void mp_test_pipe(int fds[2])
{
	cr_assert(pipe2(fds, O_CLOEXEC) == 0, "pipe2: %s", strerror(errno));
}

int mp_test_wait_pid(pid_t pid, double timeout)
{
	double end = mp_test_now() + timeout;
	for (;;) {
		int status;
		pid_t got = waitpid(pid, &status, WNOHANG);
		if (got == pid)
			return status;
		cr_assert(got == 0, "waitpid(%d): %s", (int)pid, strerror(errno));
		cr_assert(mp_test_now() < end, "process %d did not end within %.1f s", (int)pid, timeout);
		usleep(2000); /* the test's own wait for a raw pid: a short poll is fine here */
	}
}

bool mp_test_read(int fd, void *buf, size_t len, double timeout)
{
	double end = mp_test_now() + timeout;
	size_t got = 0;
	while (got < len) {
		int ms = (int)((end - mp_test_now()) * 1000);
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, ms > 0 ? ms : 0) == 0)
			return false;
		ssize_t n = read(fd, (char *)buf + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		got += (size_t)n;
	}
	return true;
}

bool mp_test_pid_running(pid_t pid)
{
	char state;
	pid_t ppid;
	return proc_stat(pid, &state, &ppid) && state != 'Z' && state != 'X';
}

double mp_test_cpu_seconds(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

bool mp_test_pin(int cpu, bool idle)
{
	cpu_set_t one;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	struct sched_param none = { 0 };
	return sched_setaffinity(0, sizeof one, &one) == 0 && (!idle || sched_setscheduler(0, SCHED_IDLE, &none) == 0);
}

/* What mp_test_take_cpu0() changed, for mp_test_leave_cpu0() to give back. */
static cpu_set_t cpus_before;
static int policy_before;
static struct sched_param param_before;
static bool took_real_time;

void mp_test_take_cpu0(void)
{
	cr_assert_eq(sched_getaffinity(0, sizeof cpus_before, &cpus_before), 0);
	cr_assert(mp_test_pin(0, false), "cannot run on CPU 0: %s", strerror(errno));
	policy_before = sched_getscheduler(0);
	sched_getparam(0, &param_before);
	struct sched_param fifo = { .sched_priority = 1 };
	took_real_time = sched_setscheduler(0, SCHED_FIFO, &fifo) == 0;
}

void mp_test_leave_cpu0(void)
{
	if (took_real_time)
		sched_setscheduler(0, policy_before, &param_before);
	sched_setaffinity(0, sizeof cpus_before, &cpus_before);
}

bool mp_test_wait_asleep(pid_t pid, double timeout)
{
	double end = mp_test_now() + timeout;
	char state;
	pid_t ppid;
	do {
		if (proc_stat(pid, &state, &ppid) && state == 'S')
			return true;
		usleep(1000);
	} while (mp_test_now() < end);
	return false;
}
