/* connection_internal.h: what the other files of stage 03 need to know about a connection (internal). */
#ifndef MP_CONNECTION_INTERNAL_H
#define MP_CONNECTION_INTERNAL_H

#include <mp.h>

#include <stdbool.h>
#include <stddef.h>

/* The largest message @c accepts now. */
size_t mp__conn_max_message(const mp_conn *c);

/*
 * Whether a receive on @c would not wait for its descriptor: it holds a message
 * that mp_conn_recv_bytes_into() could not hand out, or it is broken (a receive
 * fails at once). Either way @c is ready.
 */
bool mp__conn_ready_now(const mp_conn *c);

/*
 * Whether a receive on the socket @c, of a message of at most @cap bytes
 * (cap at most 1024), would not wait: a whole such message is in the
 * socket's buffer, or a receive would fail at once (a longer or bad header,
 * end-of-file, an error). Looks without taking anything (MSG_PEEK).
 */
bool mp__conn_message_waiting(const mp_conn *c, size_t cap);

#endif
