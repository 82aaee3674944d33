/**
 * @file listener.h
 * @brief Connections between processes that did not fork from each other:
 *        Python's `Listener` and `Client`.
 *
 * An address is a Unix socket path ("/tmp/app.sock", or "unix:NAME") or a TCP
 * host and port ("127.0.0.1:6000", "tcp:localhost:0" for any free port).
 * A TCP listener binds to the host it is given; give "127.0.0.1" to stay on
 * this machine, "0.0.0.0" only to accept other hosts.
 *
 * With an auth key, both sides prove they know it before any message flows,
 * by the challenge and HMAC response that CPython's `multiprocessing.connection`
 * uses: HMAC-SHA256 with a "{sha256}" prefix as Python 3.12 and later send it,
 * and plain HMAC-MD5 with a peer that speaks only the older protocol (Python
 * 3.11 and before). A C program and a Python program can be either side.
 */
#ifndef MP_LISTENER_H
#define MP_LISTENER_H

#include "connection.h"

#include <stddef.h>

/** A bound, listening socket. */
typedef struct mp_listener mp_listener;

/**
 * Bind and listen.
 * @param out receives the listener; left untouched on failure.
 * @param address as described in listener.h; NULL for a fresh Unix socket
 *        path in the temporary directory.
 * @param authkey the shared secret, or NULL for no authentication.
 * @param keylen its length in bytes.
 * @return 0; `-EINVAL` for a NULL @p out or an address it cannot parse;
 *         `-EADDRINUSE`, `-EACCES` and the like from bind() (a path in use is
 *         left alone); `-EMFILE` and the like from socket() and listen();
 *         `-ENOMEM`.
 */
int mp_listener_new(mp_listener **out, const char *address, const void *authkey, size_t keylen);

/** The address the listener is bound to, with the port filled in: give it to mp_client(). "" for NULL. */
const char *mp_listener_address(const mp_listener *l);

/**
 * Accept one connection and, with an auth key, run the handshake: challenge
 * the client, then answer its challenge. Clients go through their handshakes
 * side by side, each a step at a time as its messages come, so a client
 * that stalls holds up no other; it is dropped once its handshake has taken
 * longer than the handshake timeout (see mp_listener_set_handshake_timeout()).
 * @param l the listener.
 * @param out receives the connection; left untouched on failure.
 * @param timeout seconds to wait for a client that has passed its handshake;
 *        clients still in theirs at the end wait on for the next call.
 * @return 0; `MP_ETIMEDOUT`; `MP_EAUTH` if a client's answer is wrong
 *         (its key differs, or its answer names a digest Python does not
 *         allow or has the wrong length: the client is told `#FAILURE#`,
 *         then dropped; the listener stays usable); `MP_EBADMSG` for a client
 *         that does not follow the protocol (a message over 256 bytes, a bad
 *         challenge, end-of-file in the middle), dropped too; `-EMFILE` and
 *         the like from accept4(), after which the client still waits to be
 *         accepted; `-EINVAL` for a NULL argument or a NaN @p timeout.
 */
int mp_listener_accept(mp_listener *l, mp_conn **out, double timeout);

/**
 * A descriptor to poll: readable when a client is waiting to be accepted, or
 * a client in its handshake has sent something (mp_listener_accept() then
 * takes a step, which may or may not finish a handshake). `-EINVAL` for NULL.
 */
int mp_listener_fileno(const mp_listener *l);

/**
 * How long a client may take over its handshake, from its accept, before it
 * is dropped (default 10 s; negative: for ever, as in Python). Counted by
 * mp_listener_accept(), which drops the late.
 * @return 0, or `-EINVAL` for NULL or NaN.
 */
int mp_listener_set_handshake_timeout(mp_listener *l, double seconds);

/**
 * Close the listener; NULL is fine. Accepted connections live on. The process
 * that made the listener also removes its Unix socket file; a forked child that
 * frees its inherited copy only closes it, so the parent's clients still find it.
 */
void mp_listener_free(mp_listener *l);

/**
 * Connect to a listener and, with an auth key, answer its challenge, then
 * challenge it in turn.
 * @param out receives the connection; left untouched on failure.
 * @param address where the listener is, as mp_listener_address() gives it.
 * @param authkey the shared secret, or NULL if the listener has none.
 * @param keylen its length in bytes.
 * @param timeout seconds for connecting and the handshake.
 * @return 0; `-ECONNREFUSED`, `-ENOENT` when nothing listens there;
 *         `MP_EAUTH` if the keys differ; `MP_ETIMEDOUT`, also when a listener
 *         without a key never challenges; `MP_EBADMSG` for a listener that
 *         breaks the protocol (a challenge without `#CHALLENGE#`, with fewer
 *         than 20 bytes after it or a digest Python does not allow; a message
 *         over 256 bytes; end-of-file in the middle); `-EINVAL` for a NULL
 *         @p out, an address it cannot parse or a NaN @p timeout; `-EMFILE`
 *         and the like from socket().
 */
int mp_client(mp_conn **out, const char *address, const void *authkey, size_t keylen, double timeout);

#endif
