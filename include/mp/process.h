/**
 * @file process.h
 * @brief Child processes: Python's `Process`, `current_process`,
 *        `parent_process`, `active_children` and `cpu_count`.
 *
 * A process object describes one child: create it with the name of a target
 * (see target.h) and the bytes to pass it, start it, then join it to learn how
 * it ended. Unlike Python, every child learns when its parent dies (it gets
 * SIGTERM by default, see mp_process_set_parent_death_signal()), so a crashed
 * program leaves no orphans behind.
 *
 * Only the process that started a child may join it, signal it or ask for its
 * exit code. None of these functions is safe to call from two threads at once
 * on the same object.
 */
#ifndef MP_PROCESS_H
#define MP_PROCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/** One process: a child this program starts, or the current or parent process. */
typedef struct mp_process mp_process;

/**
 * Create a process object that will run the target registered as @p target.
 * Nothing runs until mp_process_start(). Its default name is "Process-N"
 * (N counts the processes this process created, from 1; a child's children
 * are "Process-N:M").
 * @param out receives the new object; left untouched on failure.
 * @param target the name a target was registered under.
 * @param arg bytes to copy and hand to the target; may be NULL when @p len is 0.
 * @param len how many bytes @p arg holds.
 * @return 0; `MP_ENOTARGET` for an unknown target; `-EINVAL`; `-ENOMEM`;
 *         `-ENAMETOOLONG` for a process too deep in the tree to be named (its
 *         place, such as "2:1" in "Process-2:1", may be 47 characters long).
 */
int mp_process_new(mp_process **out, const char *target, const void *arg, size_t len);

/**
 * Rename a process (a label for humans: it changes nothing else).
 * @return 0; `-EINVAL` for a NULL or empty name; `-ENOMEM`.
 */
int mp_process_set_name(mp_process *p, const char *name);

/**
 * Mark a child daemonic, or not, before it starts. A daemonic child is
 * terminated when its parent exits normally (a non-daemonic one is joined),
 * and may not start children of its own.
 * @return 0; `MP_ESTARTED` once the process has started; `-EINVAL` for a NULL process.
 */
int mp_process_set_daemon(mp_process *p, bool daemon);

/**
 * Choose the signal a child receives when its parent dies, however it dies.
 * The default is SIGTERM; 0 turns it off (Python's behaviour: the child
 * outlives its parent). As Linux has it, the "parent" is the *thread* that
 * started the child: if that thread ends, the child gets the signal though
 * the process lives on (and if it ends within microseconds of the start,
 * before the child asked for the signal, no signal comes at all). Start
 * children from a thread that lasts as long as they should (the main
 * thread), or turn the signal off for those started from a short-lived one.
 * @return 0; `MP_ESTARTED` once the process has started; `-EINVAL` for a bad signal.
 */
int mp_process_set_parent_death_signal(mp_process *p, int sig);

/**
 * Start the child: fork, and run the target in the new process. The child
 * exits with the target's return value once it and its own non-daemonic
 * children are done. Standard I/O buffers are flushed before the fork, so
 * nothing buffered is printed twice.
 * @return 0; `MP_ESTARTED` if it was started before; `MP_EDAEMONIC` when
 *         called from a daemonic process; `-EAGAIN`, `-ENOMEM` or `-EMFILE`
 *         when the system refuses a new process or descriptor (then no child
 *         is left behind, and the object is not started); `-EINVAL` for a
 *         NULL process.
 */
int mp_process_start(mp_process *p);

/**
 * Wait for a child to end, for at most @p timeout seconds, and reap it.
 * Waiting sleeps in the kernel: no polling loop.
 * @param p a child started by this process.
 * @param timeout seconds; ::MP_FOREVER to wait without limit; 0 to only check.
 * @return 0 once the child has ended (also if it was joined before);
 *         `MP_ETIMEDOUT` if it still runs when the timeout passes;
 *         `MP_ENOTSTARTED`; `MP_EJOINSELF`; `MP_ENOTCHILD` from a process
 *         other than its parent; `-EINVAL` for a NULL or NaN argument.
 */
int mp_process_join(mp_process *p, double timeout);

/**
 * How a child ended, like Python's `exitcode`. Reaps the child if it has
 * ended, without waiting.
 * @param p a child started by this process.
 * @param exitcode receives the exit status (0 to 255), or minus the number
 *        of the signal that killed the child (-9 for SIGKILL).
 * @return 0 when @p exitcode was set; `MP_ERUNNING` while the child runs;
 *         `MP_ENOTSTARTED`; `MP_ENOTCHILD`; `-EINVAL`.
 */
int mp_process_exitcode(mp_process *p, int *exitcode);

/**
 * Whether the process runs: true from mp_process_start() until it ends.
 * Reaps a child that has ended. Always true for the current process; false
 * for a NULL process.
 */
bool mp_process_is_alive(mp_process *p);

/**
 * Ask a child to stop: send it SIGTERM. Does nothing once it has been reaped.
 * The signal goes through a pidfd, so it can never hit an unrelated process
 * that reused the child's pid.
 * @return 0; `MP_ENOTSTARTED`; `MP_ENOTCHILD`; `-EINVAL`.
 */
int mp_process_terminate(mp_process *p);

/**
 * Stop a child at once: send it SIGKILL, which it cannot catch.
 * @return as mp_process_terminate().
 */
int mp_process_kill(mp_process *p);

/** The process's name ("" for a NULL process); never NULL. Valid until the name changes or the object is freed. */
const char *mp_process_name(const mp_process *p);

/** The process id, or 0 before the process starts (and for a NULL process). */
pid_t mp_process_pid(const mp_process *p);

/** Whether the process is daemonic (false for a NULL process). */
bool mp_process_is_daemon(const mp_process *p);

/**
 * A descriptor that becomes readable (for poll(), select() or epoll) when the
 * process ends: Python's `sentinel`. It belongs to the object; do not close it.
 * @return the descriptor; `MP_ENOTSTARTED`; `-ECHILD` once the child is reaped;
 *         `MP_ENOTCHILD` for a child of another process (a copy inherited
 *         through fork); or a negated errno if the kernel cannot give one.
 */
int mp_process_sentinel(mp_process *p);

/**
 * Release a process object; NULL is fine. A child that still runs is not
 * stopped: the library keeps watching it and reaps it when it ends (in
 * mp_active_children(), mp_process_start() or at exit), so it never becomes a
 * zombie. Do not free the objects of mp_current_process() or mp_parent_process().
 */
void mp_process_free(mp_process *p);

/**
 * The object describing the running process: "MainProcess" in the program
 * that was started from the shell, the child's own object inside a child.
 * @return the object, owned by the library; NULL only if memory ran out.
 */
mp_process *mp_current_process(void);

/**
 * The parent of the current process, if this library started it.
 * Its sentinel becomes readable when the parent dies.
 * @return the object, owned by the library; NULL in the main process.
 */
mp_process *mp_parent_process(void);

/**
 * List the children of this process that are still running, reaping the ones
 * that have ended (their objects stay valid, with their exit codes).
 * @param out receives up to @p cap objects, still owned by the caller; may be
 *        NULL when @p cap is 0, to only count and reap.
 * @param cap how many objects @p out has room for.
 * @return how many children run (possibly more than @p cap).
 */
int mp_active_children(mp_process **out, size_t cap);

/**
 * How many CPUs are online, like Python's `os.cpu_count()`.
 * @return a count of at least 1, or a negated errno.
 */
int mp_cpu_count(void);

#endif
