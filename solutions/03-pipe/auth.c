/* auth.c: CPython's challenge-and-response handshake, so that only holders of the key may talk. */
#define _GNU_SOURCE /* getrandom() */
#include <mp.h>

#include "auth.h"
#include "connection_internal.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

/*
 * The protocol, as CPython 3.12 speaks it (and 3.11 before it, in its
 * legacy form):
 *
 *	challenger                               answerer
 *	"#CHALLENGE#" + M      ---------->
 *	                       <----------       "{sha256}" + HMAC-SHA256(key, M)
 *	"#WELCOME#" or "#FAILURE#" ------>
 *
 * M is "{sha256}" followed by 40 random bytes, and the HMAC covers all of M,
 * prefix included, so a man in the middle cannot talk the answerer down to a
 * weaker digest. An old peer sends a bare 20-byte M and answers with a bare
 * 16-byte HMAC-MD5: both sides recognise those lengths. Each side of a
 * listener and client challenges the other in turn.
 *
 * The HMAC itself is not the lesson, so OpenSSL's libcrypto computes it.
 */

#define CHALLENGE "#CHALLENGE#"
#define WELCOME "#WELCOME#"
#define FAILURE "#FAILURE#"
#define RANDOM_BYTES 40
#define LEGACY_CHALLENGE 20  /* an old peer's challenge: 20 bytes, no prefix */
#define LEGACY_RESPONSE 16   /* an old peer's answer: a bare HMAC-MD5 */
#define HANDSHAKE_MAX 256    /* no handshake message is longer */

static const char *const digests[] = { "md5", "sha256", "sha384", "sha3_256", "sha3_384" };

/*
 * Receive one handshake message: short ones only. The cap is lowered for the
 * call, so that a peer who has not proved anything yet cannot make us read,
 * let alone allocate, more than that.
 */
static int recv_small(mp_conn *c, unsigned char *buf, size_t *len)
{
	size_t cap = mp__conn_max_message(c);
	mp_conn_set_max_message(c, HANDSHAKE_MAX);
	int rc = mp_conn_recv_bytes_into(c, buf, HANDSHAKE_MAX, len);
	mp_conn_set_max_message(c, cap);
	if (rc == -ENOBUFS || rc == -EMSGSIZE || rc == MP_EEOF)
		return MP_EBADMSG; /* too long for the protocol, or gone in the middle */
	return rc;
}

/*
 * Which digest a challenge or response uses, and where its payload starts.
 * Legacy lengths mean MD5 without a prefix. Returns the digest's name, or
 * NULL for a message that names none we accept.
 */
static const char *digest_of(const unsigned char *msg, size_t len, size_t *payload)
{
	if (len == LEGACY_CHALLENGE || len == LEGACY_RESPONSE) {
		*payload = 0;
		return "md5";
	}
	for (size_t i = 0; i < sizeof digests / sizeof digests[0]; i++) {
		size_t n = strlen(digests[i]);
		if (len > n + 1 && msg[0] == '{' && memcmp(msg + 1, digests[i], n) == 0 && msg[n + 1] == '}') {
			*payload = n + 2;
			return digests[i];
		}
	}
	return NULL;
}

/* HMAC of @msg under @key with the named digest; its length, or 0 on failure. */
static unsigned hmac_of(const char *digest, const void *key, size_t keylen,
			const unsigned char *msg, size_t len, unsigned char *out)
{
	/* Python says "sha3_256" where OpenSSL says "sha3-256". */
	char name[16];
	snprintf(name, sizeof name, "%s", digest);
	for (char *p = name; *p; p++)
		if (*p == '_')
			*p = '-';
	const EVP_MD *md = EVP_get_digestbyname(name);
	unsigned outlen;
	if (!md || !HMAC(md, key, (int)keylen, msg, len, out, &outlen))
		return 0;
	return outlen;
}

int mp__send_challenge(mp_conn *c, struct mp__challenge *ch)
{
	/* BEGIN SOLUTION stub: return MP_ETODO;
	 * Hint: M = "{sha256}" + 40 bytes from getrandom(), kept in ch->m for
	 * mp__judge_answer(). Send CHALLENGE + M as one message.
	 * Lesson 03, "Authentication with a shared key".
	 */
	size_t prefix = sizeof "{sha256}" - 1;
	memcpy(ch->m, "{sha256}", prefix);
	if (getrandom(ch->m + prefix, RANDOM_BYTES, 0) != RANDOM_BYTES)
		return -EIO;
	unsigned char out[sizeof CHALLENGE - 1 + sizeof ch->m];
	memcpy(out, CHALLENGE, strlen(CHALLENGE));
	memcpy(out + strlen(CHALLENGE), ch->m, sizeof ch->m);
	return mp_conn_send_bytes(c, out, sizeof out);
	/* END SOLUTION */
}

int mp__judge_answer(mp_conn *c, const struct mp__challenge *ch, const void *key, size_t keylen)
{
	/* BEGIN SOLUTION stub: return MP_ETODO;
	 * Hint: receive the answer (recv_small); digest_of() it; compute the
	 * HMAC of all of ch->m with that digest; compare lengths, then bytes
	 * with CRYPTO_memcmp(), which takes the same time wherever they differ.
	 * Send WELCOME or FAILURE. Lesson 03, "Authentication with a shared key".
	 */
	unsigned char response[HANDSHAKE_MAX], expected[EVP_MAX_MD_SIZE];
	size_t len, payload;
	int rc = recv_small(c, response, &len);
	if (rc < 0)
		return rc;
	const char *digest = digest_of(response, len, &payload);
	bool good = false; /* an answer naming no digest we allow is wrong, as CPython sees it */
	if (digest) {
		unsigned n = hmac_of(digest, key, keylen, ch->m, sizeof ch->m, expected);
		good = n > 0 && len - payload == n && CRYPTO_memcmp(response + payload, expected, n) == 0;
	}
	const char *verdict = good ? WELCOME : FAILURE;
	if ((rc = mp_conn_send_bytes(c, verdict, strlen(verdict))) < 0)
		return rc;
	return good ? 0 : MP_EAUTH;
	/* END SOLUTION */
}

int mp__answer(mp_conn *c, const void *key, size_t keylen)
{
	/* BEGIN SOLUTION stub: return MP_ETODO;
	 * Hint: receive; it must start with CHALLENGE and leave at least 20
	 * bytes of M (else MP_EBADMSG). digest_of(M) names the digest (NULL:
	 * MP_EBADMSG). Answer the bare HMAC-MD5 of M to a legacy challenge,
	 * else "{name}" followed by the HMAC of all of M. An HMAC that cannot
	 * be computed (hmac_of() says 0) is -EIO, with nothing sent.
	 * Lesson 03, "Authentication with a shared key".
	 */
	unsigned char msg[HANDSHAKE_MAX];
	size_t len, payload, skip = sizeof CHALLENGE - 1;
	int rc = recv_small(c, msg, &len);
	if (rc < 0)
		return rc;
	if (len < skip + LEGACY_CHALLENGE || memcmp(msg, CHALLENGE, skip) != 0)
		return MP_EBADMSG;
	const unsigned char *m = msg + skip;
	size_t mlen = len - skip;
	const char *digest = digest_of(m, mlen, &payload);
	if (!digest)
		return MP_EBADMSG;

	/* The modern form names the digest, as the challenge did; the legacy one (payload 0) does not. */
	unsigned char response[2 + 16 + EVP_MAX_MD_SIZE];
	size_t at = payload;
	memcpy(response, m, at);
	unsigned n = hmac_of(digest, key, keylen, m, mlen, response + at);
	if (n == 0)
		return -EIO;
	return mp_conn_send_bytes(c, response, at + n);
	/* END SOLUTION */
}

int mp__hear_verdict(mp_conn *c)
{
	/* BEGIN SOLUTION stub: return MP_ETODO;
	 * Hint: receive (recv_small); anything but exactly WELCOME is MP_EAUTH.
	 * Lesson 03, "Authentication with a shared key".
	 */
	unsigned char verdict[HANDSHAKE_MAX];
	size_t len;
	int rc = recv_small(c, verdict, &len);
	if (rc < 0)
		return rc;
	if (len != sizeof WELCOME - 1 || memcmp(verdict, WELCOME, len) != 0)
		return MP_EAUTH;
	return 0;
	/* END SOLUTION */
}

int mp__deliver_challenge(mp_conn *c, const void *key, size_t keylen)
{
	struct mp__challenge ch;
	int rc = mp__send_challenge(c, &ch);
	return rc < 0 ? rc : mp__judge_answer(c, &ch, key, keylen);
}

int mp__answer_challenge(mp_conn *c, const void *key, size_t keylen)
{
	int rc = mp__answer(c, key, keylen);
	return rc < 0 ? rc : mp__hear_verdict(c);
}
