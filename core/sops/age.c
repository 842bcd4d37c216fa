/*
 * age.c - age identities and the decryption of age files
 * (age-encryption.org/v1) with them, as far as sops needs it: X25519
 * recipient stanzas only (scrypt, SSH and plugin recipients are not
 * used by sops' age key type).  The cryptography is libsodium's (X25519,
 * ChaCha20-Poly1305, HMAC-SHA256) and libcrypto's HKDF, which libsodium
 * 1.0.18 lacks; only the file format is parsed here.
 */
#include "sops_int.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

#define AGE_INTRO "age-encryption.org/v1\n"
#define AGE_ARMOR_BEGIN "-----BEGIN AGE ENCRYPTED FILE-----"
#define AGE_ARMOR_END "-----END AGE ENCRYPTED FILE-----"
#define AGE_X25519_INFO "age-encryption.org/v1/X25519"
#define AGE_FILE_KEY 16
#define AGE_STANZA_LINE 64             /* columns of a full body line */
#define AGE_MAX_STANZAS 64             /* recipients in one header */
#define AGE_MAX_BODY 4096              /* bytes of one stanza body */
#define AGE_CHUNK 65536                /* STREAM plaintext chunk */
#define AGE_TAG 16                     /* Poly1305 */
#define AGE_MAX_FILE ((size_t)1 << 20) /* sops' data keys are 32 bytes */

/* ---- HKDF ---- */

int
sops_hkdf_sha256(unsigned char *out, size_t outlen, const unsigned char *ikm,
                 size_t ikmlen, const unsigned char *salt, size_t saltlen,
                 const char *info, struct err *err)
{
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	OSSL_PARAM params[5], *p = params;
	int rc = 0;

	if (ctx == NULL) {
		rc = err_set(err, ERR_INTERNAL, "libcrypto has no HKDF");
		goto out;
	}
	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
	                                        (char *)"SHA256", 0);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
	                                         (void *)ikm, ikmlen);
	/* RFC 5869: no salt is HashLen zero bytes, which HMAC pads an empty
	 * key to anyway */
	if (saltlen > 0)
		*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
		                                         (void *)salt, saltlen);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
	                                         (void *)info, strlen(info));
	*p = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(ctx, out, outlen, params) <= 0)
		rc = err_set(err, ERR_INTERNAL, "HKDF-SHA256 failed");
out:
	EVP_KDF_CTX_free(ctx);
	EVP_KDF_free(kdf);
	return rc;
}

/* ---- identities ---- */

static const char bech32_charset[] = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

static uint32_t
bech32_polymod_step(uint32_t pre)
{
	uint32_t b = pre >> 25;

	return ((pre & 0x1ffffff) << 5) ^ (-((b >> 0) & 1) & 0x3b6a57b2UL) ^
	       (-((b >> 1) & 1) & 0x26508e6dUL) ^
	       (-((b >> 2) & 1) & 0x1ea119faUL) ^
	       (-((b >> 3) & 1) & 0x3d4233ddUL) ^
	       (-((b >> 4) & 1) & 0x2a1462b3UL);
}

/*
 * Decodes a Bech32 string (BIP 173 checksum, without its length limit,
 * as age uses it) of human-readable part hrp into 8-bit data.  s is all
 * upper or all lower case.  false when it is not one.
 */
static bool
bech32_decode(unsigned char *out, size_t outcap, size_t *outlen, const char *s,
              size_t len, const char *hrp)
{
	size_t hlen = strlen(hrp), sep, ndata, bits = 0;
	uint32_t chk = 1, acc = 0;
	bool lower = false, upper = false;
	char c;

	for (size_t i = 0; i < len; i++) {
		if (s[i] < 33 || s[i] > 126)
			return false;
		lower |= s[i] >= 'a' && s[i] <= 'z';
		upper |= s[i] >= 'A' && s[i] <= 'Z';
	}
	if ((lower && upper) || len < hlen + 1 + 6)
		return false;
	sep = hlen;
	if (s[sep] != '1')
		return false;
	for (size_t i = 0; i < hlen; i++) {
		c = s[i] >= 'A' && s[i] <= 'Z' ? (char)(s[i] - 'A' + 'a')
		                               : s[i];
		if (c != hrp[i])
			return false;
		chk = bech32_polymod_step(chk) ^ ((unsigned char)c >> 5);
	}
	chk = bech32_polymod_step(chk);
	for (size_t i = 0; i < hlen; i++)
		chk = bech32_polymod_step(chk) ^ ((unsigned char)hrp[i] & 31);
	ndata = len - sep - 1;
	*outlen = 0;
	for (size_t i = 0; i < ndata; i++) {
		const char *pos;
		uint32_t v;

		c = s[sep + 1 + i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		pos = strchr(bech32_charset, c);
		if (pos == NULL || c == '\0')
			return false;
		v = (uint32_t)(pos - bech32_charset);
		chk = bech32_polymod_step(chk) ^ v;
		if (i >= ndata - 6)
			continue; /* the checksum is not data */
		acc = (acc << 5) | v;
		bits += 5;
		if (bits >= 8) {
			bits -= 8;
			if (*outlen == outcap)
				return false;
			out[(*outlen)++] = (unsigned char)(acc >> bits);
		}
		acc &= (1u << bits) - 1;
	}
	/* padding: fewer than 5 bits, all zero */
	return chk == 1 && bits < 5 && acc == 0;
}

static void
bech32_encode(struct buf *out, const char *hrp, const unsigned char *data,
              size_t len)
{
	unsigned char v[128];
	size_t n = 0, bits = 0;
	uint32_t acc = 0, chk = 1;
	size_t hlen = strlen(hrp);

	for (size_t i = 0; i < len && n < sizeof(v) - 8; i++) {
		acc = (acc << 8) | data[i];
		bits += 8;
		while (bits >= 5) {
			bits -= 5;
			v[n++] = (acc >> bits) & 31;
		}
		acc &= (1u << bits) - 1;
	}
	if (bits > 0)
		v[n++] = (acc << (5 - bits)) & 31;
	for (size_t i = 0; i < hlen; i++)
		chk = bech32_polymod_step(chk) ^ ((unsigned char)hrp[i] >> 5);
	chk = bech32_polymod_step(chk);
	for (size_t i = 0; i < hlen; i++)
		chk = bech32_polymod_step(chk) ^ ((unsigned char)hrp[i] & 31);
	for (size_t i = 0; i < n; i++)
		chk = bech32_polymod_step(chk) ^ v[i];
	for (int i = 0; i < 6; i++)
		chk = bech32_polymod_step(chk);
	chk ^= 1;
	buf_puts(out, hrp);
	buf_putc(out, '1');
	for (size_t i = 0; i < n; i++)
		buf_putc(out, bech32_charset[v[i]]);
	for (int i = 0; i < 6; i++)
		buf_putc(out, bech32_charset[(chk >> (5 * (5 - i))) & 31]);
}

int
sops_keys_new(struct sops_keys **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : -ERR_NOMEM;
}

void
sops_keys_free(struct sops_keys *keys)
{
	if (keys == NULL)
		return;
	if (keys->age)
		sodium_memzero(keys->age, keys->cap_age * sizeof(*keys->age));
	free(keys->age);
	for (size_t i = 0; i < keys->npgp; i++)
		secret_release(&keys->pgp[i]);
	free(keys->pgp);
	free(keys);
}

size_t
sops_keys_age_count(const struct sops_keys *keys)
{
	return keys ? keys->nage : 0;
}

size_t
sops_keys_pgp_count(const struct sops_keys *keys)
{
	return keys ? keys->npgp : 0;
}

int
sops_keys_age_recipient(struct buf *out, const struct sops_keys *keys,
                        size_t index)
{
	if (keys == NULL || index >= keys->nage)
		return -ERR_NOTFOUND;
	bech32_encode(out, "age", keys->age[index].recipient,
	              SOPS_X25519_BYTES);
	return buf_ok(out) ? 0 : -ERR_NOMEM;
}

/* One line of an identity file into keys; the line's text is secret. */
static int
add_identity(struct sops_keys *keys, const char *s, size_t len,
             const char *source, size_t lineno, struct err *err)
{
	struct sops_age_identity id;
	unsigned char raw[64];
	size_t n = 0;
	int rc = 0;

	if (len >= 15 && strncmp(s, "AGE-PLUGIN-", 11) == 0)
		return err_set(err, ERR_INVALID,
		               "%s:%zu: an age plugin identity; only X25519 "
		               "identities, as age-keygen writes them, are "
		               "supported",
		               source, lineno);
	if (len >= 18 && strncmp(s, "AGE-SECRET-KEY-PQ-", 18) == 0)
		return err_set(
		        err, ERR_INVALID,
		        "%s:%zu: a post-quantum age identity; only X25519 "
		        "identities, as age-keygen writes them, are "
		        "supported",
		        source, lineno);
	if (!bech32_decode(raw, sizeof(raw), &n, s, len, "age-secret-key-") ||
	    n != SOPS_X25519_BYTES) {
		rc = err_set(err, ERR_INVALID,
		             "%s:%zu: not an age identity (an X25519 identity, "
		             "as age-keygen writes it)",
		             source, lineno);
		goto out;
	}
	if (keys->nage >= SOPS_MAX_AGE_IDENTITIES) {
		rc = err_set(err, ERR_INVALID,
		             "%s: more than %d age identities", source,
		             SOPS_MAX_AGE_IDENTITIES);
		goto out;
	}
	if (keys->nage == keys->cap_age) {
		size_t cap = keys->cap_age ? keys->cap_age * 2 : 4;
		struct sops_age_identity *v = calloc(cap, sizeof(*v));

		if (v == NULL) {
			rc = err_set(err, ERR_NOMEM, "out of memory");
			goto out;
		}
		if (keys->age) {
			memcpy(v, keys->age, keys->nage * sizeof(*v));
			sodium_memzero(keys->age,
			               keys->cap_age * sizeof(*keys->age));
		}
		free(keys->age);
		keys->age = v;
		keys->cap_age = cap;
	}
	memcpy(id.secret, raw, SOPS_X25519_BYTES);
	crypto_scalarmult_base(id.recipient, id.secret);
	keys->age[keys->nage++] = id;
out:
	sodium_memzero(raw, sizeof(raw));
	sodium_memzero(&id, sizeof(id));
	return rc;
}

int
sops_keys_add_age(struct sops_keys *keys, const char *text, size_t len,
                  const char *source, struct err *err)
{
	size_t lineno = 0, found = 0;
	int rc;

	for (size_t i = 0; i < len;) {
		size_t e = i, a, b;

		while (e < len && text[e] != '\n')
			e++;
		lineno++;
		a = i;
		b = e;
		while (a < b && (text[a] == ' ' || text[a] == '\t'))
			a++;
		while (b > a && (text[b - 1] == ' ' || text[b - 1] == '\t' ||
		                 text[b - 1] == '\r'))
			b--;
		if (b > a && text[a] != '#') {
			if ((rc = add_identity(keys, text + a, b - a, source,
			                       lineno, err)) < 0)
				return rc;
			found++;
		}
		i = e + 1;
	}
	if (found == 0)
		return err_set(
		        err, ERR_INVALID,
		        "%s: no age identity in it (the lines age-keygen "
		        "writes)",
		        source);
	return 0;
}

int
sops_keys_add_pgp(struct sops_keys *keys, const char *armored, size_t len,
                  const char *source, struct err *err)
{
	static const char begin[] = "-----BEGIN PGP PRIVATE KEY BLOCK-----";
	size_t i = 0;

	while (i < len && (armored[i] == ' ' || armored[i] == '\n' ||
	                   armored[i] == '\r' || armored[i] == '\t'))
		i++;
	if (len - i < sizeof(begin) - 1 ||
	    memcmp(armored + i, begin, sizeof(begin) - 1) != 0)
		return err_set(err, ERR_INVALID,
		               "%s: not an armored OpenPGP secret key (%s)",
		               source, begin);
	if (keys->npgp >= SOPS_MAX_PGP_KEYS)
		return err_set(err, ERR_INVALID, "%s: more than %d PGP keys",
		               source, SOPS_MAX_PGP_KEYS);
	if (keys->npgp == keys->cap_pgp) {
		size_t cap = keys->cap_pgp ? keys->cap_pgp * 2 : 4;
		struct secret *v = reallocarray(keys->pgp, cap, sizeof(*v));

		if (v == NULL)
			return err_set(err, ERR_NOMEM, "out of memory");
		keys->pgp = v;
		keys->cap_pgp = cap;
	}
	keys->pgp[keys->npgp] = (struct secret)SECRET_INIT;
	if (secret_set(&keys->pgp[keys->npgp], armored, len) < 0)
		return err_set(err, ERR_NOMEM, "out of memory");
	keys->npgp++;
	return 0;
}

int
sops_keys_add_file(struct sops_keys *keys, const char *path, bool pgp,
                   struct err *err)
{
	struct buf text = BUF_INIT;
	struct err e = ERR_INIT;
	int rc;

	if (file_read(&text, path, &e) < 0) {
		rc = err_set(err,
		             e.code == ERR_NOMEM ? ERR_NOMEM : ERR_NOTFOUND,
		             "%s key file: %s", pgp ? "PGP" : "age", e.msg);
		goto out;
	}
	rc = pgp ? sops_keys_add_pgp(keys, text.ptr, text.len, path, err)
	         : sops_keys_add_age(keys, text.ptr, text.len, path, err);
out:
	if (text.cap)
		sodium_memzero(text.ptr, text.cap);
	buf_release(&text);
	return rc;
}

/* ---- age files ---- */

/* Unpadded base64 (age's encoding) of s[0..len) into out, which must hold
 * len * 3 / 4 bytes.  false unless canonical. */
static bool
b64_raw(unsigned char *out, size_t cap, size_t *outlen, const char *s,
        size_t len)
{
	struct buf in = BUF_INIT, dec = BUF_INIT;
	struct err e = ERR_INIT;
	bool ok = false;

	if (len % 4 == 1 || memchr(s, '=', len))
		return false;
	buf_add(&in, s, len);
	while (in.len % 4)
		buf_putc(&in, '=');
	if (buf_ok(&in) && base64_decode(&dec, in.ptr, in.len, &e) == 0 &&
	    dec.len <= cap) {
		struct buf again = BUF_INIT;

		/* canonical: the unused bits of the last character are 0 */
		base64_encode(&again, dec.ptr, dec.len);
		while (again.len && again.ptr[again.len - 1] == '=')
			again.len--;
		ok = buf_ok(&again) && again.len == len &&
		     memcmp(again.ptr, s, len) == 0;
		buf_release(&again);
		if (ok) {
			memcpy(out, dec.ptr, dec.len);
			*outlen = dec.len;
		}
	}
	if (dec.cap)
		sodium_memzero(dec.ptr, dec.cap);
	buf_release(&dec);
	buf_release(&in);
	return ok;
}

/* The armor's base64 between its lines into out (binary). */
static int
dearmor(struct buf *out, const char *s, size_t len, struct err *err)
{
	const char *p = s, *end = s + len, *stop;
	struct buf b64 = BUF_INIT;
	struct err e = ERR_INIT;
	int rc = 0;

	while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
		p++;
	p += strlen(AGE_ARMOR_BEGIN);
	stop = NULL;
	for (const char *q = p; q + strlen(AGE_ARMOR_END) <= end; q++)
		if (memcmp(q, AGE_ARMOR_END, strlen(AGE_ARMOR_END)) == 0) {
			stop = q;
			break;
		}
	if (stop == NULL)
		return err_set(err, ERR_INVALID, "age armor: no '%s' line",
		               AGE_ARMOR_END);
	for (; p < stop; p++)
		if (*p != '\n' && *p != '\r' && *p != ' ' && *p != '\t')
			buf_putc(&b64, *p);
	if (!buf_ok(&b64))
		rc = err_set(err, ERR_NOMEM, "out of memory");
	else if (base64_decode(out, b64.ptr, b64.len, &e) < 0)
		rc = err_set(err, ERR_INVALID, "age armor: %s", e.msg);
	buf_release(&b64);
	return rc;
}

struct stanza {
	const char *args; /* "X25519 <share>", not NUL-terminated */
	size_t args_len;
	unsigned char body[AGE_MAX_BODY];
	size_t body_len;
};

/* One header line starting at *pos (without its '\n'). */
static bool
next_line(const char *s, size_t len, size_t *pos, const char **line,
          size_t *line_len)
{
	const char *nl;

	if (*pos >= len)
		return false;
	nl = memchr(s + *pos, '\n', len - *pos);
	if (nl == NULL)
		return false;
	*line = s + *pos;
	*line_len = (size_t)(nl - (s + *pos));
	*pos += *line_len + 1;
	return true;
}

/* Tries every identity on one X25519 stanza: 0 with the file key. */
static int
x25519_unwrap(unsigned char file_key[AGE_FILE_KEY], const struct stanza *st,
              const struct sops_keys *keys, struct err *err)
{
	unsigned char share[SOPS_X25519_BYTES + 4], shared[SOPS_X25519_BYTES];
	unsigned char salt[2 * SOPS_X25519_BYTES], wrap[32];
	const char *sp = memchr(st->args, ' ', st->args_len);
	size_t share_len = 0, b64len;
	int rc = -ERR_AUTH;

	if (sp == NULL)
		return err_set(err, ERR_INVALID,
		               "age: X25519 stanza without "
		               "its share");
	b64len = st->args_len - (size_t)(sp + 1 - st->args);
	if (memchr(sp + 1, ' ', b64len) ||
	    !b64_raw(share, sizeof(share), &share_len, sp + 1, b64len) ||
	    share_len != SOPS_X25519_BYTES ||
	    st->body_len != AGE_FILE_KEY + AGE_TAG)
		return err_set(err, ERR_INVALID,
		               "age: malformed X25519 stanza");
	for (size_t i = 0; i < keys->nage && rc == -ERR_AUTH; i++) {
		static const unsigned char zero_nonce[12];
		unsigned long long plen = 0;

		if (crypto_scalarmult(shared, keys->age[i].secret, share) != 0)
			continue; /* a low-order share: not ours */
		memcpy(salt, share, SOPS_X25519_BYTES);
		memcpy(salt + SOPS_X25519_BYTES, keys->age[i].recipient,
		       SOPS_X25519_BYTES);
		if (sops_hkdf_sha256(wrap, sizeof(wrap), shared, sizeof(shared),
		                     salt, sizeof(salt), AGE_X25519_INFO,
		                     err) < 0) {
			rc = -ERR_INTERNAL;
			break;
		}
		if (crypto_aead_chacha20poly1305_ietf_decrypt(
		            file_key, &plen, NULL, st->body, st->body_len, NULL,
		            0, zero_nonce, wrap) == 0 &&
		    plen == AGE_FILE_KEY)
			rc = 0;
	}
	sodium_memzero(shared, sizeof(shared));
	sodium_memzero(wrap, sizeof(wrap));
	return rc;
}

/* The STREAM payload (nonce, chunks) into out. */
static int
payload_decrypt(struct buf *out, const unsigned char *p, size_t len,
                const unsigned char file_key[AGE_FILE_KEY], struct err *err)
{
	unsigned char key[32], nonce[12] = { 0 };
	unsigned char *chunk = NULL;
	uint64_t counter = 0;
	int rc = 0;

	if (len < 16 + AGE_TAG)
		return err_set(err, ERR_INVALID,
		               "age: the payload is cut short");
	if ((rc = sops_hkdf_sha256(key, sizeof(key), file_key, AGE_FILE_KEY, p,
	                           16, "payload", err)) < 0)
		return rc;
	p += 16;
	len -= 16;
	chunk = malloc(AGE_CHUNK);
	if (chunk == NULL) {
		rc = err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	for (;;) {
		size_t n =
		        len > AGE_CHUNK + AGE_TAG ? AGE_CHUNK + AGE_TAG : len;
		bool last = n == len;
		unsigned long long plen = 0;

		if (n < AGE_TAG || (counter > 0 && last && n == AGE_TAG)) {
			/* only an empty file has an empty chunk */
			rc = err_set(err, ERR_INVALID,
			             "age: the payload is cut short");
			break;
		}
		for (int i = 0; i < 8; i++)
			nonce[10 - i] = (unsigned char)(counter >> (8 * i));
		nonce[11] = last ? 1 : 0;
		if (crypto_aead_chacha20poly1305_ietf_decrypt(
		            chunk, &plen, NULL, p, n, NULL, 0, nonce, key) !=
		    0) {
			rc = err_set(
			        err, ERR_INVALID,
			        "age: the payload does not decrypt (tampered "
			        "or cut short)");
			break;
		}
		if (buf_add(out, chunk, (size_t)plen) < 0) {
			rc = err_set(err, ERR_NOMEM, "out of memory");
			break;
		}
		p += n;
		len -= n;
		counter++;
		if (last)
			break;
	}
out:
	if (chunk) {
		sodium_memzero(chunk, AGE_CHUNK);
		free(chunk);
	}
	sodium_memzero(key, sizeof(key));
	return rc;
}

int
sops_age_decrypt(struct buf *out, const char *data, size_t len,
                 const struct sops_keys *keys, struct err *err)
{
	struct buf bin = BUF_INIT;
	struct stanza *st = NULL;
	unsigned char file_key[AGE_FILE_KEY], hkey[32], mac[32], want[32];
	const char *s, *line;
	size_t n, pos, line_len, nst = 0, want_len = 0, hdr_end;
	bool have_key = false, x25519 = false;
	int rc = 0;

	if (len > AGE_MAX_FILE)
		return err_set(err, ERR_INVALID,
		               "age: file larger than %zu "
		               "bytes",
		               AGE_MAX_FILE);
	pos = 0;
	while (pos < len && (data[pos] == ' ' || data[pos] == '\n' ||
	                     data[pos] == '\r' || data[pos] == '\t'))
		pos++;
	if (len - pos >= strlen(AGE_ARMOR_BEGIN) &&
	    memcmp(data + pos, AGE_ARMOR_BEGIN, strlen(AGE_ARMOR_BEGIN)) == 0) {
		if ((rc = dearmor(&bin, data + pos, len - pos, err)) < 0)
			goto out;
	} else if (buf_add(&bin, data, len) < 0) {
		rc = err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	s = bin.ptr;
	n = bin.len;
	if (n < strlen(AGE_INTRO) ||
	    memcmp(s, AGE_INTRO, strlen(AGE_INTRO)) != 0) {
		rc = err_set(err, ERR_INVALID,
		             "not an age file (no age-encryption.org/v1 "
		             "header)");
		goto out;
	}
	st = calloc(AGE_MAX_STANZAS, sizeof(*st));
	if (st == NULL) {
		rc = err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	pos = strlen(AGE_INTRO);
	for (;;) {
		if (!next_line(s, n, &pos, &line, &line_len)) {
			rc = err_set(err, ERR_INVALID,
			             "age: the header is cut short");
			goto out;
		}
		if (line_len >= 3 && memcmp(line, "---", 3) == 0)
			break;
		if (line_len < 4 || memcmp(line, "-> ", 3) != 0 ||
		    nst == AGE_MAX_STANZAS) {
			rc = err_set(err, ERR_INVALID,
			             "age: malformed header (a stanza line or "
			             "more than %d stanzas)",
			             AGE_MAX_STANZAS);
			goto out;
		}
		st[nst].args = line + 3;
		st[nst].args_len = line_len - 3;
		/* the body: full 64-column lines, then a shorter one */
		for (;;) {
			unsigned char part[AGE_STANZA_LINE];
			size_t got = 0;

			if (!next_line(s, n, &pos, &line, &line_len) ||
			    line_len > AGE_STANZA_LINE ||
			    !b64_raw(part, sizeof(part), &got, line,
			             line_len) ||
			    st[nst].body_len + got > AGE_MAX_BODY) {
				rc = err_set(err, ERR_INVALID,
				             "age: malformed stanza body");
				goto out;
			}
			memcpy(st[nst].body + st[nst].body_len, part, got);
			st[nst].body_len += got;
			if (line_len < AGE_STANZA_LINE)
				break;
		}
		nst++;
	}
	/* "--- MAC": the MAC covers the header up to and with "---" */
	hdr_end = (size_t)(line - s) + 3;
	if (line_len < 4 || line[3] != ' ' ||
	    !b64_raw(want, sizeof(want), &want_len, line + 4, line_len - 4) ||
	    want_len != sizeof(want)) {
		rc = err_set(err, ERR_INVALID, "age: malformed header MAC");
		goto out;
	}
	for (size_t i = 0; i < nst && !have_key; i++) {
		if (st[i].args_len < 7 || memcmp(st[i].args, "X25519 ", 7) != 0)
			continue;
		x25519 = true;
		rc = x25519_unwrap(file_key, &st[i], keys, err);
		if (rc == 0)
			have_key = true;
		else if (rc != -ERR_AUTH)
			goto out;
	}
	if (!have_key) {
		rc = err_set(err, ERR_AUTH,
		             x25519 ? "age: no identity given matches a "
		                      "recipient of the file"
		                    : "age: the file has no X25519 recipient");
		goto out;
	}
	if ((rc = sops_hkdf_sha256(hkey, sizeof(hkey), file_key, AGE_FILE_KEY,
	                           NULL, 0, "header", err)) < 0)
		goto out;
	crypto_auth_hmacsha256(mac, (const unsigned char *)s, hdr_end, hkey);
	if (sodium_memcmp(mac, want, sizeof(mac)) != 0) {
		rc = err_set(err, ERR_INVALID,
		             "age: the header MAC does not match (tampered)");
		goto out;
	}
	rc = payload_decrypt(out, (const unsigned char *)s + pos, n - pos,
	                     file_key, err);
out:
	sodium_memzero(file_key, sizeof(file_key));
	sodium_memzero(hkey, sizeof(hkey));
	if (bin.cap)
		sodium_memzero(bin.ptr, bin.cap);
	buf_release(&bin);
	if (st) {
		sodium_memzero(st, AGE_MAX_STANZAS * sizeof(*st));
		free(st);
	}
	return rc;
}
