/**
 * @file error.h
 * @brief Error codes shared by every module, and their messages.
 */
#ifndef MP_ERROR_H
#define MP_ERROR_H

/** Pass as a timeout to wait without limit. Any negative timeout means the same. */
#define MP_FOREVER (-1.0)

/**
 * The library's own error codes. They sit far below the negated `errno`
 * values (which are all above -4096), so one `int` can carry either kind.
 */
enum mp_error {
	MP_OK = 0,               /**< Success. */
	MP_ETODO = -5000,        /**< Not written yet: an exercise stub. */
	MP_ETIMEDOUT,            /**< The timeout passed before the wait was over. */
	MP_ESTARTED,             /**< The process has already been started. */
	MP_ENOTSTARTED,          /**< The process has not been started. */
	MP_ERUNNING,             /**< The process is still running. */
	MP_EJOINSELF,            /**< A process cannot join itself. */
	MP_ENOTCHILD,            /**< Only the process that started a child may join or signal it. */
	MP_EDAEMONIC,            /**< A daemonic process may not start children. */
	MP_ENOTARGET,            /**< No target is registered under that name. */
	MP_EEMPTY,               /**< No message came within the timeout. */
	MP_EFULL,                /**< No room came free within the timeout. */
	MP_ECLOSED,              /**< This process has closed the queue for putting. */
	MP_EEOF,                 /**< Every writer is gone and nothing is left to read. */
	MP_ETYPE,                /**< The message is not of the type asked for. */
	MP_EBADMSG,              /**< The bytes received are not a well-formed message. */
	MP_ETASKDONE,            /**< More tasks marked done than were put. */
	MP_EBROKEN,              /**< The connection lost its place in the stream: close it. */
	MP_EAUTH,                /**< Authentication failed: the two sides hold different keys. */
	MP_EOWNERDEAD,           /**< Acquired, but the previous holder died holding it. */
	MP_EUNRECOVERABLE,       /**< The lock's holder died and nobody repaired it. */
	MP_ENOTOWNER,            /**< This process does not hold the lock. */
	MP_EBOUND,               /**< Released more often than acquired. */
	MP_EBROKENBARRIER,       /**< The barrier is broken. */
	MP_EBUSY,                /**< Another handle (of this process or another) still uses it. */
	MP_ETASKFAILED,          /**< Pool: the task failed, with a message of its own. */
	MP_EWORKERDIED,          /**< Pool: the worker running the task died before it answered. */
	MP_ETERMINATED,          /**< Pool: terminated before the task finished. */
	MP_EPOOLCLOSED,          /**< Pool: closed or terminated, it takes no new work. */
	MP_EPOOLRUNNING,         /**< Pool: it still takes work; close or terminate it first. */
	MP_ENOTASK,              /**< Pool: no task is registered under that name. */
	MP_EREMOTE,              /**< Manager: the shared object raised an exception, or the server refused the call. */
};

/**
 * Describe an error code in one sentence.
 * @param code a value returned by any function of the library (0 included).
 * @return a static string; never NULL, even for a code it does not know.
 */
const char *mp_strerror(int code);

/**
 * The name of an error code as written in C, for messages and logs.
 * @param code a value returned by any function of the library.
 * @return a static string such as "MP_ETIMEDOUT", "-ENOMEM" or "0", which no
 *         later call overwrites; "an unknown code" for a code it cannot name;
 *         never NULL.
 */
const char *mp_err_name(int code);

#endif
