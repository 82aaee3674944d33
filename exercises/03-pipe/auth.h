/* auth.h: CPython's challenge-and-response handshake over a connection (internal). */
#ifndef MP_AUTH_H
#define MP_AUTH_H

#include <mp.h>

#include <stddef.h>

/* What the challenger keeps between its two steps: the message M it sent. */
struct mp__challenge {
	unsigned char m[8 + 40]; /* "{sha256}" and 40 random bytes */
};

/*
 * The side that challenges, in two steps, so that a listener can run the
 * steps of many clients in turn (lobby.c). mp__send_challenge() sends
 * "#CHALLENGE#{sha256}" and 40 random bytes, and keeps them in @ch: 0, -EIO
 * without random bytes, or a connection error. mp__judge_answer() checks the
 * HMAC that comes back and answers "#WELCOME#" or "#FAILURE#". It returns 0;
 * MP_EAUTH, after "#FAILURE#", for an answer that is wrong in any way
 * (another key, a digest Python does not allow, a wrong length), as CPython
 * treats it; MP_EBADMSG for an answer it cannot receive (over 256 bytes, or
 * cut short by end-of-file); or a connection error.
 */
int mp__send_challenge(mp_conn *c, struct mp__challenge *ch);
int mp__judge_answer(mp_conn *c, const struct mp__challenge *ch, const void *key, size_t keylen);

/*
 * The side that answers, in two steps too. mp__answer() receives a
 * challenge and sends its HMAC (with the digest the challenge names, or plain
 * HMAC-MD5 for an old peer): 0; MP_EBADMSG, without answering, for a
 * challenge that breaks the protocol (no "#CHALLENGE#" prefix, fewer than 20
 * bytes after it, a digest Python does not allow, over 256 bytes,
 * end-of-file); -EIO, sending nothing, if the HMAC cannot be computed (no
 * such digest in libcrypto); or a connection error. mp__hear_verdict() expects
 * "#WELCOME#": 0, MP_EAUTH for any other verdict, or a receive's error.
 */
int mp__answer(mp_conn *c, const void *key, size_t keylen);
int mp__hear_verdict(mp_conn *c);

/* Both steps of each side, one after the other: what a client does, which has one handshake to run. */
int mp__deliver_challenge(mp_conn *c, const void *key, size_t keylen);
int mp__answer_challenge(mp_conn *c, const void *key, size_t keylen);

#endif
