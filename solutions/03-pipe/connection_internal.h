/* connection_internal.h: what the other files of stage 03 need to know about a connection (internal). */
#ifndef MP_CONNECTION_INTERNAL_H
#define MP_CONNECTION_INTERNAL_H

#include <mp.h>

#include <stdbool.h>

/* The largest message @c accepts now. */
size_t mp__conn_max_message(const mp_conn *c);

/*
 * Whether a receive on @c would not wait for its descriptor: it holds a message
 * that mp_conn_recv_bytes_into() could not hand out, or it is broken (a receive
 * fails at once). Either way @c is ready.
 */
bool mp__conn_ready_now(const mp_conn *c);

#endif
