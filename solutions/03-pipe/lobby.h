/* lobby.h: where accepted clients wait through their handshakes, side by side (internal). */
#ifndef MP_LOBBY_H
#define MP_LOBBY_H

#include <mp.h>

#include "../01-process/deadline.h"

#include <stdbool.h>
#include <stddef.h>

struct mp__lobby;

/*
 * A lobby for the listening socket @listen_fd (non-blocking): it accepts
 * clients on it and runs their handshakes with @key (NULL: no handshake;
 * the lobby copies nothing, so @key must outlive it). TCP clients get
 * TCP_NODELAY. 0, or a negated errno.
 */
int mp__lobby_open(struct mp__lobby **out, int listen_fd, bool tcp, const unsigned char *key, size_t keylen);

/* Close every waiting client, and the lobby. NULL is fine. */
void mp__lobby_close(struct mp__lobby *lb);

/* A descriptor that is readable when a client arrives or a waiting one has sent something. */
int mp__lobby_fileno(const struct mp__lobby *lb);

/* How long a client may take over its handshake, from its accept (default 10 s). */
void mp__lobby_set_patience(struct mp__lobby *lb, double seconds);

/*
 * Wait until a client has passed its handshake, and hand it over in *out;
 * meanwhile run the step of every client that sent a whole message, and drop
 * every client out of time. Returns 0; MP_ETIMEDOUT at the deadline; a
 * client's handshake error (MP_EAUTH, MP_EBADMSG, a connection error), that
 * client dropped; or an error of accept4(), the client left waiting.
 */
int mp__lobby_next(struct mp__lobby *lb, mp_conn **out, const struct mp__deadline *d);

#endif
