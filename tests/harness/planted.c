/*
 * planted.c: tests that must FAIL, each for one reason, so that the harness's own test
 * (test_harness.c) can check that the checks around every test catch what they promise,
 * with a message that tells the truth. Not a stage: never graded.
 */
#define _GNU_SOURCE
#include "mp_test.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define MP_LESSON "tests/harness"

MP_TEST(planted, two_errno_codes, 1, "x")
{
	mp_expect_status(-EFAULT, -EMSGSIZE);
}

MP_TEST(planted, a_library_code_and_an_errno, 1, "x")
{
	mp_expect_status(MP_ETIMEDOUT, -EINTR);
}

MP_TEST(planted, an_unknown_code, 1, "x")
{
	mp_expect_status(-4000, 0);
}

MP_TEST(planted, a_leaked_descriptor, 1, "x")
{
	int fds[2];
	mp_test_pipe(fds); /* never closed */
}

MP_TEST(planted, a_running_child, 1, "x")
{
	if (fork() == 0) {
		pause();
		_exit(0);
	}
}

MP_TEST(planted, a_zombie_child, 1, "x")
{
	pid_t pid = fork();
	if (pid == 0)
		_exit(0);
	/* Wait until it is a zombie, without reaping it. */
	siginfo_t info;
	waitid(P_PID, pid, &info, WEXITED | WNOWAIT);
}

MP_TEST(planted, a_shared_memory_block, 1, "x")
{
	char name[64];
	snprintf(name, sizeof name, "/mp-%d-planted", (int)getpid());
	int fd = shm_open(name, O_CREAT | O_RDWR, 0600);
	if (fd >= 0)
		close(fd);
}

MP_TEST(planted, a_clean_test_passes, 1, "x")
{
	mp_expect_status(-EINTR, -EINTR);
}
