/*
 * sshsig.c - OpenSSH private key parsing (unencrypted ed25519 only) and the
 * SSHSIG signature envelope, with libsodium for sha512 and ed25519.  It does
 * not verify signatures (git does that) and supports no other key types.
 */
#define _GNU_SOURCE /* memmem */
#include "sshsig.h"

#include "base/secret.h"
#include "base/util.h"

#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SSHSIG_MAX_KEY_TEXT (64 * 1024)
#define KEY_BEGIN "-----BEGIN OPENSSH PRIVATE KEY-----"
#define KEY_END "-----END OPENSSH PRIVATE KEY-----"
#define AUTH_MAGIC "openssh-key-v1"

struct sshsig_key {
	unsigned char pk[crypto_sign_PUBLICKEYBYTES];
	struct secret sk; /* crypto_sign_SECRETKEYBYTES: seed || pk */
	char *comment;
};

/* A cursor over SSH wire data: uint32 lengths, big-endian. */
struct wire {
	const unsigned char *p;
	size_t left;
};

static int
wire_u32(struct wire *w, uint32_t *out)
{
	if (w->left < 4)
		return -1;
	*out = ((uint32_t)w->p[0] << 24) | ((uint32_t)w->p[1] << 16) |
	       ((uint32_t)w->p[2] << 8) | (uint32_t)w->p[3];
	w->p += 4;
	w->left -= 4;
	return 0;
}

static int
wire_string(struct wire *w, const unsigned char **ptr, size_t *len)
{
	uint32_t n;

	if (wire_u32(w, &n) < 0 || n > w->left)
		return -1;
	*ptr = w->p;
	*len = n;
	w->p += n;
	w->left -= n;
	return 0;
}

static int
wire_string_is(struct wire *w, const char *want)
{
	const unsigned char *p;
	size_t n;

	return wire_string(w, &p, &n) == 0 && n == strlen(want) &&
	       memcmp(p, want, n) == 0;
}

static void
put_u32(struct buf *b, uint32_t v)
{
	unsigned char x[4] = { (unsigned char)(v >> 24),
		               (unsigned char)(v >> 16),
		               (unsigned char)(v >> 8), (unsigned char)v };
	buf_add(b, x, 4);
}

static void
put_string(struct buf *b, const void *p, size_t n)
{
	put_u32(b, (uint32_t)n);
	buf_add(b, p, n);
}

static void
put_cstring(struct buf *b, const char *s)
{
	put_string(b, s, strlen(s));
}

static void
put_public_blob(struct buf *b, const unsigned char *pk)
{
	struct buf blob = BUF_INIT;

	put_cstring(&blob, "ssh-ed25519");
	put_string(&blob, pk, crypto_sign_PUBLICKEYBYTES);
	if (buf_ok(&blob))
		put_string(b, blob.ptr, blob.len);
	else
		b->failed = true;
	buf_release(&blob);
}

/* true when the ed25519 seed gives the public key pk */
static bool
seed_gives(const unsigned char *seed, const unsigned char *pk)
{
	unsigned char derived_pk[crypto_sign_PUBLICKEYBYTES];
	unsigned char derived_sk[crypto_sign_SECRETKEYBYTES];
	bool same;

	crypto_sign_seed_keypair(derived_pk, derived_sk, seed);
	same = memcmp(derived_pk, pk, sizeof(derived_pk)) == 0;
	sodium_memzero(derived_sk, sizeof(derived_sk));
	return same;
}

static int
parse_private_section(struct sshsig_key *key, struct wire *w, struct err *err)
{
	uint32_t check1, check2;
	const unsigned char *pk, *sk, *comment;
	size_t pklen, sklen, commentlen;
	int rc = 0;

	if (wire_u32(w, &check1) < 0 || wire_u32(w, &check2) < 0)
		return err_set(err, ERR_INVALID,
		               "ssh key: private section is truncated");
	if (check1 != check2)
		return err_set(
		        err, ERR_INVALID,
		        "ssh key: check bytes differ (wrong passphrase or corrupt key)");
	if (!wire_string_is(w, "ssh-ed25519"))
		return err_set(
		        err, ERR_INVALID,
		        "ssh key: only ed25519 keys can sign commits (make one with 'ssh-keygen -t ed25519')");
	if (wire_string(w, &pk, &pklen) < 0 ||
	    pklen != crypto_sign_PUBLICKEYBYTES ||
	    wire_string(w, &sk, &sklen) < 0 ||
	    sklen != crypto_sign_SECRETKEYBYTES ||
	    wire_string(w, &comment, &commentlen) < 0)
		return err_set(err, ERR_INVALID,
		               "ssh key: malformed ed25519 key");
	/* OpenSSH stores seed || public key; both halves must agree, and
	 * the seed must give that public key, or every signature fails to
	 * verify under the key the user put in allowed_signers. */
	if (memcmp(sk + 32, pk, 32) != 0 || !seed_gives(sk, pk))
		return err_set(
		        err, ERR_INVALID,
		        "ssh key: public and private halves do not match");
	memcpy(key->pk, pk, sizeof(key->pk));
	if ((rc = secret_set(&key->sk, sk, sklen)) < 0)
		return err_set(err, ERR_NOMEM, "ssh key: out of memory");
	key->comment = strndup((const char *)comment, commentlen);
	if (key->comment == NULL)
		return err_set(err, ERR_NOMEM, "ssh key: out of memory");
	return 0;
}

int
sshsig_key_parse(struct sshsig_key **out, const char *text, size_t len,
                 struct err *err)
{
	struct sshsig_key *key = NULL;
	struct buf raw = BUF_INIT;
	const char *begin, *body, *end;
	struct wire w, priv;
	const unsigned char *p;
	size_t n;
	uint32_t nkeys;
	int rc = 0;

	*out = NULL;
	if (len > SSHSIG_MAX_KEY_TEXT)
		return err_set(err, ERR_INVALID,
		               "ssh key: larger than %d bytes",
		               SSHSIG_MAX_KEY_TEXT);
	begin = memmem(text, len, KEY_BEGIN, strlen(KEY_BEGIN));
	if (begin == NULL)
		return err_set(
		        err, ERR_INVALID,
		        "ssh key: no '%s' line (give an OpenSSH private key, as 'ssh-keygen -t ed25519' writes)",
		        KEY_BEGIN);
	body = begin + strlen(KEY_BEGIN);
	end = memmem(body, len - (size_t)(body - text), KEY_END,
	             strlen(KEY_END));
	if (end == NULL)
		return err_set(err, ERR_INVALID, "ssh key: no '%s' line",
		               KEY_END);
	raw.max = SSHSIG_MAX_KEY_TEXT;
	if (base64_decode(&raw, body, (size_t)(end - body), err) < 0) {
		rc = err_set(err, ERR_INVALID, "ssh key: body is not base64");
		goto out;
	}
	key = calloc(1, sizeof(*key));
	if (key == NULL) {
		rc = err_set(err, ERR_NOMEM, "ssh key: out of memory");
		goto out;
	}
	w.p = (const unsigned char *)raw.ptr;
	w.left = raw.len;
	if (w.left < sizeof(AUTH_MAGIC) ||
	    memcmp(w.p, AUTH_MAGIC, sizeof(AUTH_MAGIC)) != 0) {
		rc = err_set(err, ERR_INVALID,
		             "ssh key: not an openssh-key-v1 key");
		goto out;
	}
	w.p += sizeof(AUTH_MAGIC);
	w.left -= sizeof(AUTH_MAGIC);
	if (wire_string(&w, &p, &n) < 0) {
		rc = err_set(err, ERR_INVALID, "ssh key: truncated");
		goto out;
	}
	if (n != 4 || memcmp(p, "none", 4) != 0) {
		rc = err_set(
		        err, ERR_INVALID,
		        "ssh key: the key is encrypted with a passphrase, which ferry cannot open; remove it with 'ssh-keygen -p -N \"\" -f KEY' and keep the key in a Secret");
		goto out;
	}
	if (wire_string(&w, &p, &n) < 0 || wire_string(&w, &p, &n) < 0 ||
	    wire_u32(&w, &nkeys) < 0) {
		rc = err_set(err, ERR_INVALID, "ssh key: truncated");
		goto out;
	}
	if (nkeys != 1) {
		rc = err_set(err, ERR_INVALID,
		             "ssh key: file holds %u keys, expected 1", nkeys);
		goto out;
	}
	if (wire_string(&w, &p, &n) < 0 || wire_string(&w, &p, &n) < 0) {
		rc = err_set(err, ERR_INVALID, "ssh key: truncated");
		goto out;
	}
	priv.p = p;
	priv.left = n;
	if ((rc = parse_private_section(key, &priv, err)) < 0)
		goto out;
	*out = key;
	key = NULL;
out:
	secret_wipe(raw.ptr, raw.len);
	buf_release(&raw);
	sshsig_key_free(key);
	return rc;
}

void
sshsig_key_free(struct sshsig_key *key)
{
	if (key == NULL)
		return;
	secret_release(&key->sk);
	free(key->comment);
	free(key);
}

int
sshsig_key_public(struct buf *out, const struct sshsig_key *key)
{
	struct buf blob = BUF_INIT;
	int rc = 0;

	put_cstring(&blob, "ssh-ed25519");
	put_string(&blob, key->pk, sizeof(key->pk));
	buf_puts(out, "ssh-ed25519 ");
	if (!buf_ok(&blob) || base64_encode(out, blob.ptr, blob.len) < 0)
		rc = -ERR_NOMEM;
	if (key->comment && *key->comment)
		buf_addf(out, " %s", key->comment);
	buf_release(&blob);
	if (!buf_ok(out))
		rc = -ERR_NOMEM;
	return rc;
}

int
sshsig_sign(struct buf *out, const struct sshsig_key *key, const char *ns,
            const void *msg, size_t len, struct err *err)
{
	unsigned char hash[crypto_hash_sha512_BYTES];
	unsigned char sig[crypto_sign_BYTES];
	struct buf tbs = BUF_INIT, env = BUF_INIT, sigblob = BUF_INIT,
	           b64 = BUF_INIT;
	int rc = 0;

	crypto_hash_sha512(hash, msg, len);
	/* The data signed: magic, namespace, reserved, hash name, H(msg). */
	buf_add(&tbs, "SSHSIG", 6);
	put_cstring(&tbs, ns);
	put_cstring(&tbs, "");
	put_cstring(&tbs, "sha512");
	put_string(&tbs, hash, sizeof(hash));
	if (!buf_ok(&tbs)) {
		rc = err_set(err, ERR_NOMEM, "ssh signature: out of memory");
		goto out;
	}
	if (crypto_sign_detached(sig, NULL, (const unsigned char *)tbs.ptr,
	                         tbs.len, key->sk.ptr) != 0) {
		rc = err_set(err, ERR_INTERNAL,
		             "ssh signature: signing failed");
		goto out;
	}
	put_cstring(&sigblob, "ssh-ed25519");
	put_string(&sigblob, sig, sizeof(sig));
	/* The envelope: magic, version 1, public key, namespace, reserved,
	 * hash name, signature. */
	buf_add(&env, "SSHSIG", 6);
	put_u32(&env, 1);
	put_public_blob(&env, key->pk);
	put_cstring(&env, ns);
	put_cstring(&env, "");
	put_cstring(&env, "sha512");
	put_string(&env, sigblob.ptr, sigblob.len);
	if (!buf_ok(&env) || !buf_ok(&sigblob) ||
	    base64_encode(&b64, env.ptr, env.len) < 0) {
		rc = err_set(err, ERR_NOMEM, "ssh signature: out of memory");
		goto out;
	}
	/* OpenSSH wraps the armored body at 70 columns. */
	buf_puts(out, "-----BEGIN SSH SIGNATURE-----\n");
	for (size_t i = 0; i < b64.len; i += 70) {
		size_t n = b64.len - i < 70 ? b64.len - i : 70;
		buf_add(out, b64.ptr + i, n);
		buf_putc(out, '\n');
	}
	buf_puts(out, "-----END SSH SIGNATURE-----\n");
	if (!buf_ok(out))
		rc = err_set(err, ERR_NOMEM, "ssh signature: out of memory");
out:
	secret_wipe(sig, sizeof(sig));
	buf_release(&tbs);
	buf_release(&env);
	buf_release(&sigblob);
	buf_release(&b64);
	return rc;
}
