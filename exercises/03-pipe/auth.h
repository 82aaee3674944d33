/* auth.h: CPython's challenge-and-response handshake over a connection (internal). */
#ifndef MP_AUTH_H
#define MP_AUTH_H

#include <mp.h>

#include <stddef.h>

/*
 * The side that challenges: send "#CHALLENGE#{sha256}" and 40 random bytes,
 * check the HMAC that comes back, answer "#WELCOME#" or "#FAILURE#".
 * Returns 0; MP_EAUTH, after "#FAILURE#", for an answer that is wrong in any
 * way (another key, a digest Python does not allow, a wrong length), as
 * CPython treats it; MP_EBADMSG for an answer it cannot receive (over 256
 * bytes, or cut short by end-of-file); or a connection error.
 */
int mp__deliver_challenge(mp_conn *c, const void *key, size_t keylen);

/*
 * The side that answers: receive a challenge, send its HMAC (with the digest
 * the challenge names, or plain HMAC-MD5 for an old peer), expect "#WELCOME#".
 * Returns 0; MP_EBADMSG, without answering, for a challenge that breaks the
 * protocol (no "#CHALLENGE#" prefix, fewer than 20 bytes after it, a digest
 * Python does not allow, over 256 bytes, end-of-file); MP_EAUTH for any
 * verdict but "#WELCOME#"; or a connection error.
 */
int mp__answer_challenge(mp_conn *c, const void *key, size_t keylen);

#endif
