/* auth.h: CPython's challenge-and-response handshake over a connection (internal). */
#ifndef MP_AUTH_H
#define MP_AUTH_H

#include <mp.h>

#include <stddef.h>

/*
 * The side that challenges: send "#CHALLENGE#{sha256}" and 40 random bytes,
 * check the HMAC that comes back, answer "#WELCOME#" or "#FAILURE#".
 * Returns 0, MP_EAUTH for a wrong key, MP_EBADMSG for a peer that breaks the
 * protocol, or a connection error.
 */
int mp__deliver_challenge(mp_conn *c, const void *key, size_t keylen);

/*
 * The side that answers: receive a challenge, send its HMAC (with the digest
 * the challenge names, or plain HMAC-MD5 for an old peer), expect "#WELCOME#".
 * Returns as mp__deliver_challenge().
 */
int mp__answer_challenge(mp_conn *c, const void *key, size_t keylen);

#endif
