/*
 * test_harness.c: the tests of the tests. The checks around every graded test, and the
 * messages they print, are what a learner trusts: each is checked here, by running the
 * planted failures in planted.c and reading what Criterion reports of them.
 * Run by `make test`; not a stage, never graded.
 */
#define _GNU_SOURCE
#include "mp_test.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MP_LESSON "tests/harness"

#ifndef PLANTED
#error "PLANTED: the path of the planted-failures binary (the Makefile passes it)"
#endif

static char report[1 << 16]; /* planted's TAP report */

/* Run planted's tests, each in its own worker, and keep their TAP report. */
static void run_planted(void)
{
	char cmd[512];
	/* BXFI_MAP would make it think it is one of our own workers (Criterion's BoxFort). */
	snprintf(cmd, sizeof cmd, "env -u BXFI_MAP %s --tap=- -j1 2>/dev/null", PLANTED);
	FILE *p = popen(cmd, "r");
	cr_assert(p, "cannot run %s: %s", PLANTED, strerror(errno));
	size_t n = fread(report, 1, sizeof report - 1, p);
	report[n] = '\0';
	pclose(p);
}

/* The TAP block of one planted test: from its "ok"/"not ok" line to the next test's. */
static const char *block_of(const char *name, char *buf, size_t size)
{
	char key[128];
	snprintf(key, sizeof key, "planted::%s", name);
	const char *at = strstr(report, key);
	cr_assert(at, "planted::%s is not in the report:\n%s", name, report);
	while (at > report && at[-1] != '\n')
		at--;
	const char *end = strstr(at + 1, "\nok - ");
	const char *end2 = strstr(at + 1, "\nnot ok - ");
	if (!end || (end2 && end2 < end))
		end = end2;
	size_t len = end ? (size_t)(end - at) : strlen(at);
	snprintf(buf, size, "%.*s", (int)(len < size ? len : size - 1), at);
	return buf;
}

static void expect_failed_with(const char *name, const char *needle)
{
	char block[4096];
	block_of(name, block, sizeof block);
	cr_assert(strncmp(block, "not ok", 6) == 0, "planted::%s should fail, but:\n%s", name, block);
	cr_assert(strstr(block, needle), "planted::%s should fail saying \"%s\", but said:\n%s", name, needle,
		  block);
}

MP_TEST(harness, a_status_message_names_both_codes_rightly, 1, "x")
{
	run_planted();
	expect_failed_with("two_errno_codes", "returned -EFAULT (-14: Bad address), "
			   "expected -EMSGSIZE (-90: Message too long)");
	expect_failed_with("a_library_code_and_an_errno", "returned MP_ETIMEDOUT");
	expect_failed_with("a_library_code_and_an_errno", "expected -EINTR (-4: Interrupted system call)");
	expect_failed_with("an_unknown_code", "returned an unknown code (-4000: ");
	expect_failed_with("an_unknown_code", "expected 0 (0: success)");
}

MP_TEST(harness, leftovers_fail_the_test_that_left_them, 1, "x")
{
	run_planted();
	expect_failed_with("a_leaked_descriptor", "was left open by the test: every descriptor the library opens");
	expect_failed_with("a_running_child", "was still running after the test");
	expect_failed_with("a_zombie_child", "was left a zombie");
	expect_failed_with("a_shared_memory_block", "was left behind");
	char block[4096];
	block_of("a_clean_test_passes", block, sizeof block);
	cr_assert(strncmp(block, "ok", 2) == 0, "a test that leaves nothing behind must pass:\n%s", block);
}

MP_TEST(harness, error_names_stay_valid_after_other_lookups, 1, "x")
{
	const char *fault = mp_err_name(-EFAULT);
	const char *big = mp_err_name(-EMSGSIZE);
	const char *unknown = mp_err_name(-4001);
	cr_assert_str_eq(fault, "-EFAULT");
	cr_assert_str_eq(big, "-EMSGSIZE");
	cr_assert_str_eq(unknown, "an unknown code");
	cr_assert_str_eq(mp_err_name(MP_EBUSY), "MP_EBUSY");
	cr_assert_str_eq(mp_err_name(0), "0");
	cr_assert_str_eq(mp_err_name(7), "0", "a count or descriptor is a success");
}

MP_TEST(harness, the_status_message_fits_or_is_cut_cleanly, 1, "x")
{
	char small[16];
	mp_test_status_message(small, sizeof small, "a_long_expression(with, args)", -EFAULT, -EMSGSIZE);
	cr_assert(strlen(small) == sizeof small - 1, "cut to the buffer, got \"%s\"", small);
	char full[512];
	mp_test_status_message(full, sizeof full, "f()", MP_ETODO, 0);
	cr_assert_str_eq(full, "f() returned MP_ETODO (-5000: not written yet: this is an exercise for you "
			 "to fill in), expected 0 (0: success)");
}

MP_TEST(harness, the_small_helpers_do_what_they_say, 1, "x")
{
	int fds[2];
	mp_test_pipe(fds);
	char c;
	double t0 = mp_test_now();
	cr_assert(!mp_test_read(fds[0], &c, 1, 0.05), "nothing was written: the read must time out");
	cr_assert(mp_test_now() - t0 >= 0.04, "mp_test_read returned before its timeout");
	cr_assert(write(fds[1], "x", 1) == 1);
	cr_assert(mp_test_read(fds[0], &c, 1, 1.0) && c == 'x');
	close(fds[1]);
	cr_assert(!mp_test_read(fds[0], &c, 1, 1.0), "end of file is not a byte read");
	close(fds[0]);

	pid_t pid = fork();
	if (pid == 0)
		_exit(3);
	int status = mp_test_wait_pid(pid, 5.0);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 3);
	cr_assert(!mp_test_pid_running(pid));
	cr_assert(mp_test_pid_running(getpid()));
	cr_assert_eq(mp_test_zombie_children(), 0);
}
