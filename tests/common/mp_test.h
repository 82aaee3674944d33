/* mp_test.h: what every stage's tests share: the MP_TEST macro and the checks that nothing leaked. */
#ifndef MP_TEST_H
#define MP_TEST_H

#include <criterion/criterion.h>
#include <mp.h>

#include <stdbool.h>
#include <sys/types.h>

#ifndef MP_TEST_TIMEOUT_SCALE
#define MP_TEST_TIMEOUT_SCALE 1
#endif
/* Seconds a test may take before it fails as hung; valgrind runs scale it up. */
#define MP_TEST_TIMEOUT (10.0 * MP_TEST_TIMEOUT_SCALE)

/*
 * A graded test. Each test file defines MP_LESSON, the lesson that explains
 * its stage; @section names the part of it to read when the test fails. The
 * grader reads @points and @section from this line of the source, so keep
 * each MP_TEST(...) on one line.
 *
 * The test body runs between two checks: before, a note of the open file
 * descriptors; after, a check that the test left no child process (running or
 * zombie) and no new descriptor behind.
 */
#define MP_TEST(suite, name, points, section, ...)                                  \
	static void suite##_##name##_body(void);                                    \
	Test(suite, name, .init = mp_test_setup, .fini = mp_test_teardown,          \
	     .timeout = MP_TEST_TIMEOUT,                                            \
	     .description = "[" #points " pts] " MP_LESSON ": " section, ##__VA_ARGS__) \
	{                                                                           \
		suite##_##name##_body();                                            \
		mp_test_check_clean();                                              \
	}                                                                           \
	static void suite##_##name##_body(void)

/*
 * Assert that @rc is the status @want, naming both codes and what they mean.
 * The message is made before the assertion, in a buffer of its own: the names
 * of two codes are never asked for inside one call (see tests/harness/).
 */
#define mp_expect_status(rc, want)                                                  \
	do {                                                                        \
		int mp_rc_ = (rc), mp_want_ = (want);                               \
		char mp_msg_[512];                                                  \
		mp_test_status_message(mp_msg_, sizeof mp_msg_, #rc, mp_rc_, mp_want_); \
		cr_assert(mp_rc_ == mp_want_, "%s", mp_msg_);                        \
	} while (0)

/*
 * Into @buf: "@what returned NAME (NUMBER: SENTENCE), expected NAME (NUMBER: SENTENCE)".
 * Each half is written before the next one is looked up.
 */
void mp_test_status_message(char *buf, size_t size, const char *what, int rc, int want);

/* Runs before each test: become a subreaper, note the open descriptors. */
void mp_test_setup(void);

/* Runs after each test body: fails the test on a leftover child or descriptor. */
void mp_test_check_clean(void);

/*
 * Runs after every test, even one that failed half-way: kills and reaps what
 * is left, so the test process can exit at once (the library's exit handler
 * would otherwise wait for children that a failed test never released).
 */
void mp_test_teardown(void);

/* Seconds on the monotonic clock, for checking how long a wait took. */
double mp_test_now(void);

/* pipe2(O_CLOEXEC), asserting that it worked. */
void mp_test_pipe(int fds[2]);

/*
 * Wait up to @timeout seconds for @pid (a child or an orphan handed to us as
 * subreaper) and return its wait status; fails the test if it does not end.
 */
int mp_test_wait_pid(pid_t pid, double timeout);

/* Read exactly @len bytes from @fd within @timeout seconds; false on EOF or timeout. */
bool mp_test_read(int fd, void *buf, size_t len, double timeout);

/* Whether @pid names a process that has not ended (a zombie counts as ended). */
bool mp_test_pid_running(pid_t pid);

/* CPU seconds this process has used: a wait that sleeps uses next to none, one that spins uses it all. */
double mp_test_cpu_seconds(void);

/*
 * Run only on CPU @cpu, and at SCHED_IDLE if @idle: a busy process there
 * then keeps this one from running. False if the kernel refused.
 */
bool mp_test_pin(int cpu, bool idle);

/*
 * Take CPU 0 for the calling process, real-time where allowed (as root), so
 * that a SCHED_IDLE process pinned there cannot run until this one sleeps;
 * mp_test_leave_cpu0() gives back the CPUs and the policy it had.
 */
void mp_test_take_cpu0(void);
void mp_test_leave_cpu0(void);

/* Wait up to @timeout seconds until @pid sleeps (state S: blocked in the kernel); false if it never does. */
bool mp_test_wait_asleep(pid_t pid, double timeout);

/* How many children of ours are zombies right now. */
int mp_test_zombie_children(void);

#endif
