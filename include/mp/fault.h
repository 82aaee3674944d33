/**
 * @file fault.h
 * @brief Fault injection: make one of the library's system calls fail, for tests.
 *
 * Some error paths cannot be reached from outside: `pidfd_open()` does not fail
 * on a healthy machine, and a full descriptor table is hard to time. Each system
 * call the library makes on such a path goes through one seam (in the spirit of
 * SQLite's table of system calls), so that a test can say "the next
 * `pidfd_open()` fails with `EMFILE`" and watch what the library does about it.
 *
 * The armed faults belong to the calling process: a child made by `fork()`
 * inherits them, as it inherits the rest of memory. Nothing is armed unless a
 * test arms it, and then the cost is one test of a flag per call.
 */
#ifndef MP_FAULT_H
#define MP_FAULT_H

/**
 * Make a later call of the system call @p call fail with @p err.
 *
 * The first @p skip calls of @p call succeed as usual; the one after them fails
 * with `errno` set to @p err, once. Arming the same @p call again replaces the
 * earlier fault. The names are those of the calls themselves, system calls
 * and the C library's allocators alike: `"pidfd_open"`, `"pipe2"`, `"fork"`,
 * `"socketpair"`, `"memfd_create"`, `"mmap"`, `"malloc"`, `"calloc"`, ... (the
 * lesson of each stage lists the ones its code passes through the seam).
 *
 * A few names are not calls but instants: an armed `"die:commit"`,
 * `"die:bell"` or `"die:silence"` kills the process with `SIGKILL` at that
 * point of the queue's code (just after a commit, just before a doorbell byte
 * is written, just after the doorbell is emptied), so that a test can kill a
 * process exactly where a death matters; `"nap:before-sleep"` or
 * `"nap:before-poll"` makes a waiter pause 0.3 s between letting the
 * queue's guard go and going to sleep, where a wake-up must not be lost; and
 * `"nap:holding-guard"` makes a put or get pause 0.3 s while it holds the
 * guard, as a stalled process would. In stage 04, `"nap:holding-guard"` and
 * `"die:holding-guard"` do the same to whoever takes the guard of a
 * semaphore, an event or a barrier, and `"nap:before-sleep"` makes a waiter
 * on any of them, or on a condition, pause between letting the guard (or the
 * condition's lock) go and going to sleep. In stage 05, `"die:between-chunks"`
 * kills a pool's worker after it has answered a chunk and before it begins
 * the next (armed before the pool is made: the workers inherit it).
 *
 * @param call the system call's name; the string must stay valid while armed.
 * @param skip how many calls succeed before the one that fails (0: the next).
 * @param err the `errno` value the failing call reports (positive, as `EMFILE`).
 * @return 0; `-EINVAL` if @p call is NULL, @p skip is negative or @p err is not
 *         positive; `-ENOSPC` if 8 different calls are armed already.
 */
int mp_fault_inject(const char *call, int skip, int err);

/** Disarm every fault of this process. Cannot fail. */
void mp_fault_clear(void);

#endif
