/*
 * Fuzz target: OpenSSH private keys (sshsig_key_parse in
 * writeback/sshsig.h).  Invariant: a key that parses signs, and the
 * signature verifies under the public key the key reports (the one git's
 * allowed-signers file holds): a key whose halves disagree must not parse.
 */
#include <sodium.h>
#include <stdint.h>
#include <string.h>

#include "base/util.h"
#include "writeback/sshsig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MSG "tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n\nfuzz\n"

/* A cursor over SSH wire data, for reading the signature back. */
struct wire {
	const unsigned char *p;
	size_t left;
};

static bool
wire_string(struct wire *w, const unsigned char **p, size_t *n)
{
	uint32_t len;

	if (w->left < 4)
		return false;
	len = ((uint32_t)w->p[0] << 24) | ((uint32_t)w->p[1] << 16) |
	      ((uint32_t)w->p[2] << 8) | w->p[3];
	if (len > w->left - 4)
		return false;
	*p = w->p + 4;
	*n = len;
	w->p += 4 + len;
	w->left -= 4 + len;
	return true;
}

/* The 32-byte key at the end of an "ssh-ed25519" public key blob. */
static bool
blob_key(const unsigned char *blob, size_t len, const unsigned char **pk)
{
	struct wire w = { blob, len };
	const unsigned char *p;
	size_t n;

	return wire_string(&w, &p, &n) && n == 11 &&
	       memcmp(p, "ssh-ed25519", 11) == 0 && wire_string(&w, pk, &n) &&
	       n == crypto_sign_PUBLICKEYBYTES;
}

/* Checks the armored signature sig against the public line pub. */
static void
verify(const struct buf *pub, const struct buf *sig)
{
	const char *begin = "-----BEGIN SSH SIGNATURE-----\n";
	const char *end = "-----END SSH SIGNATURE-----\n";
	struct buf raw = BUF_INIT, env = BUF_INIT, tbs = BUF_INIT;
	const unsigned char *pk, *env_pk, *p, *s;
	const char *b64 = pub->ptr + strlen("ssh-ed25519 ");
	const char *sp = strchr(b64, ' ');
	unsigned char hash[crypto_hash_sha512_BYTES], len4[4];
	struct wire w;
	size_t n, blen = strlen(begin), elen = strlen(end);

	if (strncmp(pub->ptr, "ssh-ed25519 ", 12) != 0 ||
	    base64_decode(&raw, b64, sp ? (size_t)(sp - b64) : strlen(b64),
	                  NULL) < 0 ||
	    !blob_key((const unsigned char *)raw.ptr, raw.len, &pk))
		__builtin_trap();
	if (sig->len < blen + elen || strncmp(sig->ptr, begin, blen) != 0 ||
	    strcmp(sig->ptr + sig->len - elen, end) != 0 ||
	    base64_decode(&env, sig->ptr + blen, sig->len - blen - elen, NULL) <
	            0)
		__builtin_trap();
	/* "SSHSIG", version, public key, namespace, reserved, hash, sig */
	if (env.len < 10 || memcmp(env.ptr, "SSHSIG", 6) != 0)
		__builtin_trap();
	w.p = (const unsigned char *)env.ptr + 10;
	w.left = env.len - 10;
	if (!wire_string(&w, &p, &n) || !blob_key(p, n, &env_pk) ||
	    memcmp(env_pk, pk, crypto_sign_PUBLICKEYBYTES) != 0 ||
	    !wire_string(&w, &p, &n) || !wire_string(&w, &p, &n) ||
	    !wire_string(&w, &p, &n) || !wire_string(&w, &s, &n))
		__builtin_trap();
	w.p = s;
	w.left = n;
	if (!wire_string(&w, &p, &n) || !wire_string(&w, &s, &n) ||
	    n != crypto_sign_BYTES)
		__builtin_trap();
	/* what was signed: magic, namespace, reserved, hash name, H(msg) */
	crypto_hash_sha512(hash, (const unsigned char *)MSG, strlen(MSG));
	buf_add(&tbs, "SSHSIG", 6);
	memcpy(len4, "\0\0\0\3", 4);
	buf_add(&tbs, len4, 4);
	buf_add(&tbs, "git", 3);
	buf_add(&tbs, "\0\0\0\0", 4);
	memcpy(len4, "\0\0\0\6", 4);
	buf_add(&tbs, len4, 4);
	buf_add(&tbs, "sha512", 6);
	memcpy(len4, "\0\0\0\100", 4);
	buf_add(&tbs, len4, 4);
	buf_add(&tbs, hash, sizeof(hash));
	if (!buf_ok(&tbs) ||
	    crypto_sign_verify_detached(s, (const unsigned char *)tbs.ptr,
	                                tbs.len, pk) != 0)
		__builtin_trap();
	buf_release(&raw);
	buf_release(&env);
	buf_release(&tbs);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sshsig_key *key = NULL;
	struct err e = ERR_INIT;
	struct buf pub = BUF_INIT, sig = BUF_INIT;

	if (sodium_init() < 0)
		__builtin_trap();
	if (sshsig_key_parse(&key, (const char *)data, size, &e) < 0) {
		if (key != NULL)
			__builtin_trap();
		return 0;
	}
	if (sshsig_key_public(&pub, key) < 0 ||
	    sshsig_sign(&sig, key, "git", MSG, strlen(MSG), &e) < 0)
		__builtin_trap();
	verify(&pub, &sig);
	buf_release(&pub);
	buf_release(&sig);
	sshsig_key_free(key);
	return 0;
}
