/**
 * @file connection.h
 * @brief Connections that carry whole messages: Python's `Pipe`,
 *        `Connection` and `multiprocessing.connection.wait`.
 *
 * A connection sends and receives messages over a byte stream (a socket or
 * a pipe), each framed as CPython frames them: a 4-byte big-endian length,
 * or -1 and an 8-byte length for messages of 2 GiB and more. So a C program
 * and a Python program can talk, byte for byte (see listener.h).
 *
 * Bad bytes from a peer get an error, never a crash: a length beyond the cap
 * (mp_conn_set_max_message()) is refused before anything is allocated, and a
 * frame cut short by end-of-file is an error. After such an error, or a
 * timeout in the middle of a message, the stream is out of step and the
 * connection answers `MP_EBROKEN` from then on.
 */
#ifndef MP_CONNECTION_H
#define MP_CONNECTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** One end of a connection. */
typedef struct mp_conn mp_conn;

/**
 * Make a connected pair, like Python's `Pipe(duplex)`.
 * @param a receives one end; with @p duplex false it can only receive.
 * @param b receives the other; with @p duplex false it can only send.
 * @param duplex true for a socket pair both ends of which send and receive,
 *        false for a one-way pipe.
 * @return 0; `-EMFILE`, `-ENOMEM`; `-EINVAL` for a NULL @p a or @p b. On
 *         failure @p a and @p b are left untouched and nothing stays open.
 */
int mp_pipe(mp_conn **a, mp_conn **b, bool duplex);

/**
 * Wrap a connected descriptor (a socket or a pipe end) in a connection, which
 * then owns it and closes it when freed.
 * @param out receives the connection; left untouched on failure.
 * @param fd the descriptor; on failure it stays the caller's, open.
 * @param readable whether this end receives.
 * @param writable whether this end sends.
 * @return 0; `-EINVAL` for a NULL @p out, a negative descriptor or neither
 *         direction; `-ENOMEM`.
 */
int mp_conn_from_fd(mp_conn **out, int fd, bool readable, bool writable);

/**
 * Send one message of @p len bytes (@p buf may be NULL when @p len is 0).
 * @return 0; `-EPIPE` when the peer has closed; `MP_ETIMEDOUT` past the
 *         connection's timeout; any other error of the write, as `-errno`;
 *         `MP_EBROKEN`; `-EBADF` on a receive-only end; `-EINVAL` for a NULL
 *         @p c, or a NULL @p buf with bytes to send. A send that fails after
 *         some of its bytes went out leaves the connection broken; one that
 *         fails before its first byte leaves it in step.
 */
int mp_conn_send_bytes(mp_conn *c, const void *buf, size_t len);

/**
 * Receive one message, waiting for it (within the connection's timeout).
 * @param c the connection.
 * @param buf receives the message, in memory from malloc() with a NUL after
 *        it; free it.
 * @param len receives its length.
 * @return 0; `MP_EEOF` if the peer closed between messages; `MP_EBADMSG` for
 *         a negative length other than -1, or end-of-file inside a frame
 *         (right after the -1 included); `-EMSGSIZE` beyond the size cap;
 *         `MP_ETIMEDOUT`; `MP_EBROKEN`; `-ENOMEM`; any other error of the
 *         read, as `-errno`; `-EBADF` on a send-only end; `-EINVAL` for a
 *         NULL argument. After `MP_EBADMSG`, `-EMSGSIZE`, `-ENOMEM`, or an
 *         error or timeout once part of a frame was read, the connection is
 *         broken: every later send and receive is `MP_EBROKEN`.
 */
int mp_conn_recv_bytes(mp_conn *c, void **buf, size_t *len);

/**
 * Receive one message into the caller's buffer.
 * @param c the connection.
 * @param buf where the message goes.
 * @param cap how many bytes @p buf has room for.
 * @param len receives the message's length, also when it does not fit.
 * @return as mp_conn_recv_bytes(), and `-ENOBUFS` when the message is longer
 *         than @p cap: it is kept, and the next receive returns it (a kept
 *         message that still does not fit is `-ENOBUFS` again, and stays
 *         kept). @p buf may be NULL when @p cap is 0. A message that fits
 *         needs no allocation.
 */
int mp_conn_recv_bytes_into(mp_conn *c, void *buf, size_t cap, size_t *len);

/** Send a 64-bit integer, as 8 bytes. @return as mp_conn_send_bytes(). */
int mp_conn_send_int(mp_conn *c, int64_t value);

/**
 * Receive a message sent with mp_conn_send_int().
 * @return as mp_conn_recv_bytes(); `MP_ETYPE` if it is not 8 bytes (the
 *         message is gone, a longer one too: it is not kept).
 */
int mp_conn_recv_int(mp_conn *c, int64_t *value);

/** Send a double, as 8 bytes. @return as mp_conn_send_bytes(). */
int mp_conn_send_double(mp_conn *c, double value);

/** Receive a message sent with mp_conn_send_double(). @return as mp_conn_recv_int(). */
int mp_conn_recv_double(mp_conn *c, double *value);

/** Send a string, without its NUL. @return as mp_conn_send_bytes(). */
int mp_conn_send_str(mp_conn *c, const char *s);

/** Receive a message as a NUL-terminated string from malloc(). @return as mp_conn_recv_bytes(). */
int mp_conn_recv_str(mp_conn *c, char **s);

/**
 * Whether a message (or end-of-file) can be received without waiting, after
 * waiting up to @p timeout seconds for one. A kept message and a broken
 * connection are ready at once.
 * @return 1 if so, 0 if not; `-EBADF` on a send-only end; `-EINVAL` for a
 *         NULL @p c or a NaN @p timeout.
 */
int mp_conn_poll(mp_conn *c, double timeout);

/**
 * Limit every later send and receive on this connection to @p seconds
 * (::MP_FOREVER, the default, for no limit), so a peer that stalls
 * cannot block us forever.
 * @return 0; `-EINVAL` for NaN.
 */
int mp_conn_set_timeout(mp_conn *c, double seconds);

/**
 * Set the largest message this end accepts (default 1 GiB). A longer one is
 * refused, before anything is allocated, with `-EMSGSIZE`; so is a length of
 * `SIZE_MAX` whatever the cap, since its length + 1 would wrap to 0.
 * @return 0; `-EINVAL` for 0 or a NULL @p c.
 */
int mp_conn_set_max_message(mp_conn *c, size_t bytes);

/** The connection's descriptor, for poll() and the like. It stays the connection's. @return it; `-EINVAL` for NULL. */
int mp_conn_fileno(const mp_conn *c);

/** Close the connection and release it; NULL is fine. The peer then sees end-of-file. */
void mp_conn_free(mp_conn *c);

/** One thing for mp_wait() to watch. */
struct mp_wait_item {
	mp_conn *conn; /**< a connection, or NULL to watch @ref fd */
	int fd;        /**< any descriptor: a process sentinel, a queue's, a socket */
	bool ready;    /**< set by mp_wait(): a message, end-of-file, an event or a broken stream */
};

/**
 * Wait until at least one item is ready, for at most @p timeout seconds:
 * Python's `multiprocessing.connection.wait`. Every item's `ready` is set,
 * false for those not ready. A connection that keeps a message is ready at
 * once, and then there is no wait at all.
 * @return how many items are ready (0 after the timeout); `-EINVAL` for NULL
 *         @p items with @p n above 0, a NaN @p timeout, or more items than
 *         the process may open descriptors (`RLIMIT_NOFILE`, as ppoll() says);
 *         `-ENOMEM`.
 */
int mp_wait(struct mp_wait_item *items, size_t n, double timeout);

#endif
