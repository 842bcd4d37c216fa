/*
 * gcr.c - Flux's gcr receiver: a Google Pub/Sub push whose Authorization
 * carries a Google-signed OIDC ID token (a JWT), and the Artifact Registry
 * or Container Registry notification inside the push envelope.
 *
 * The token is checked as Flux >= 1.9 does (google.golang.org/api/idtoken
 * plus its own iss/email checks): RS256 signature by the key named in the
 * token's kid, aud, exp, iss, email, email_verified.  Flux fetches
 * Google's keys; ferry has no network here and no cache of its own, so the
 * keys come from the receiver's Secret (key 'jwks', the JSON Web Key Set
 * Google publishes).  ES256 tokens are refused: Google signs Pub/Sub push
 * tokens with RS256.  libsodium has no RSA, so libcrypto (OpenSSL 3)
 * verifies the signature.
 */
#include "receiver_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <sodium.h>

#include "base/json.h"
#include "base/util.h"
#include "scanner/reference.h"

/* A Google ID token is about 1 KB; anything far larger is not one. */
#define GCR_MAX_TOKEN 16384
/* RSA moduli accepted: 2048 (Google's) up to 8192 bits. */
#define GCR_MIN_RSA_BITS 2048
#define GCR_MAX_RSA_BITS 8192

static int
b64url_decode(struct buf *out, const char *s, size_t len)
{
	size_t max = len / 4 * 3 + 3, got = 0;
	const char *end = NULL;

	if (buf_grow(out, max) < 0)
		return -ERR_NOMEM;
	if (sodium_base642bin((unsigned char *)out->ptr + out->len, max, s, len,
	                      NULL, &got, &end,
	                      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    end != s + len)
		return -ERR_INVALID;
	out->len += got;
	out->ptr[out->len] = '\0';
	return 0;
}

/* An RSA public key from a JWK's n and e; NULL when they are unusable. */
static EVP_PKEY *
jwk_rsa_key(const cJSON *jwk, bool *nomem)
{
	const char *n64 = json_get_string(jwk, "n");
	const char *e64 = json_get_string(jwk, "e");
	struct buf n = BUF_INIT, e = BUF_INIT;
	BIGNUM *bn_n = NULL, *bn_e = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;
	int rc, bits;

	if (n64 == NULL || e64 == NULL)
		return NULL;
	rc = b64url_decode(&n, n64, strlen(n64));
	if (rc == 0)
		rc = b64url_decode(&e, e64, strlen(e64));
	if (rc < 0) {
		*nomem = rc == -ERR_NOMEM;
		goto out;
	}
	if (n.len == 0 || e.len == 0 || e.len > 8)
		goto out;
	bn_n = BN_bin2bn((const unsigned char *)n.ptr, (int)n.len, NULL);
	bn_e = BN_bin2bn((const unsigned char *)e.ptr, (int)e.len, NULL);
	if (bn_n == NULL || bn_e == NULL) {
		*nomem = true;
		goto out;
	}
	bits = BN_num_bits(bn_n);
	if (bits < GCR_MIN_RSA_BITS || bits > GCR_MAX_RSA_BITS)
		goto out;
	bld = OSSL_PARAM_BLD_new();
	if (bld == NULL ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL) {
		*nomem = true;
		goto out;
	}
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		pkey = NULL;
out:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn_n);
	BN_free(bn_e);
	buf_release(&n);
	buf_release(&e);
	return pkey;
}

/* 1 when sig is a valid RS256 signature of data under pkey, else 0. */
static int
rs256_verify(EVP_PKEY *pkey, const char *data, size_t dlen,
             const struct buf *sig)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int ok = 0;

	if (md != NULL && sig->len == (size_t)EVP_PKEY_get_size(pkey) &&
	    EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pkey) == 1 &&
	    EVP_DigestVerify(md, (const unsigned char *)sig->ptr, sig->len,
	                     (const unsigned char *)data, dlen) == 1)
		ok = 1;
	EVP_MD_CTX_free(md);
	return ok;
}

/* The JWK in the set whose kid matches, or NULL. */
static const cJSON *
jwks_find(const cJSON *set, const char *kid)
{
	const cJSON *keys = cJSON_GetObjectItemCaseSensitive(set, "keys");
	const cJSON *k;

	cJSON_ArrayForEach(k, keys)
	{
		const char *id = json_get_string(k, "kid");
		const char *kty = json_get_string(k, "kty");
		if (id != NULL && strcmp(id, kid) == 0 &&
		    (kty == NULL || strcmp(kty, "RSA") == 0))
			return k;
	}
	return NULL;
}

/*
 * Checks the bearer token of req.  0 when it is good; 1 after rx_fail
 * (401); -ERR_NOMEM.
 */
static int
check_token(struct receiver_result *out, const struct receiver_config *cfg,
            const struct receiver_request *req)
{
	const char *auth = rx_header(req, "Authorization");
	const char *tok, *dot1, *dot2, *alg, *kid, *aud, *iss, *email;
	struct buf hdr = BUF_INIT, claims = BUF_INIT, sig = BUF_INIT;
	cJSON *h = NULL, *c = NULL, *set = NULL;
	const cJSON *jwk, *exp, *verified;
	struct err e = ERR_INIT;
	EVP_PKEY *pkey = NULL;
	bool nomem = false;
	char s1[80];
	size_t len;
	int rc = 1;

	if (cfg->gcr_email == NULL || cfg->gcr_email[0] == '\0' ||
	    cfg->gcr_audience == NULL || cfg->gcr_audience[0] == '\0' ||
	    cfg->gcr_jwks == NULL || cfg->gcr_jwks_len == 0) {
		rx_fail(out, 401, ERR_AUTH,
		        "gcr receiver needs 'email', 'audience' and 'jwks' in "
		        "its Secret to check Google's token (ferry does not "
		        "fetch Google's keys)");
		return 1;
	}
	if (auth == NULL || strncmp(auth, "Bearer ", 7) != 0) {
		rx_fail(out, 401, ERR_AUTH,
		        "header 'Authorization' is missing or not 'Bearer "
		        "<token>'");
		return 1;
	}
	tok = auth + 7;
	len = strnlen(tok, GCR_MAX_TOKEN + 1);
	dot1 = memchr(tok, '.', len);
	dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - tok))
	            : NULL;
	if (len > GCR_MAX_TOKEN || dot2 == NULL ||
	    memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - tok)) != NULL) {
		rx_fail(out, 401, ERR_AUTH, "bearer token is not a JWT");
		return 1;
	}
	if ((rc = b64url_decode(&hdr, tok, (size_t)(dot1 - tok))) < 0 ||
	    (rc = b64url_decode(&claims, dot1 + 1, (size_t)(dot2 - dot1 - 1))) <
	            0 ||
	    (rc = b64url_decode(&sig, dot2 + 1,
	                        len - (size_t)(dot2 + 1 - tok))) < 0) {
		if (rc == -ERR_NOMEM)
			goto out;
		rc = rx_fail(out, 401, ERR_AUTH,
		             "bearer token is not base64url") +
		     1;
		goto out;
	}
	rc = 1;
	if (json_parse(&h, hdr.ptr, hdr.len, "token header", &e) < 0 ||
	    json_parse(&c, claims.ptr, claims.len, "token claims", &e) < 0 ||
	    !cJSON_IsObject(h) || !cJSON_IsObject(c)) {
		rx_fail(out, 401, ERR_AUTH, "bearer token does not decode");
		goto out;
	}
	alg = json_get_string(h, "alg");
	kid = json_get_string(h, "kid");
	if (alg == NULL || strcmp(alg, "RS256") != 0) {
		rx_fail(out, 401, ERR_AUTH, "token algorithm '%s' is not RS256",
		        rx_show(s1, alg ? alg : ""));
		goto out;
	}
	if (kid == NULL) {
		rx_fail(out, 401, ERR_AUTH, "token names no key (kid)");
		goto out;
	}
	if (json_parse(&set, cfg->gcr_jwks, cfg->gcr_jwks_len, "jwks", &e) <
	    0) {
		rx_fail(out, 401, ERR_AUTH,
		        "the Secret's 'jwks' is not JSON: %s", e.msg);
		goto out;
	}
	jwk = jwks_find(set, kid);
	if (jwk == NULL) {
		rx_fail(out, 401, ERR_AUTH,
		        "no RSA key '%s' in the Secret's 'jwks' (Google "
		        "rotates its keys: update it)",
		        rx_show(s1, kid));
		goto out;
	}
	pkey = jwk_rsa_key(jwk, &nomem);
	if (pkey == NULL) {
		if (nomem) {
			rc = -ERR_NOMEM;
			goto out;
		}
		rx_fail(out, 401, ERR_AUTH,
		        "key '%s' in the Secret's 'jwks' is not a usable RSA "
		        "key (%d to %d bits)",
		        rx_show(s1, kid), GCR_MIN_RSA_BITS, GCR_MAX_RSA_BITS);
		goto out;
	}
	if (!rs256_verify(pkey, tok, (size_t)(dot2 - tok), &sig)) {
		rx_fail(out, 401, ERR_AUTH, "token signature does not verify");
		goto out;
	}
	aud = json_get_string(c, "aud");
	if (aud == NULL || strcmp(aud, cfg->gcr_audience) != 0) {
		rx_fail(out, 401, ERR_AUTH, "token audience is '%s', want '%s'",
		        rx_show(s1, aud ? aud : ""), cfg->gcr_audience);
		goto out;
	}
	exp = cJSON_GetObjectItemCaseSensitive(c, "exp");
	if (!cJSON_IsNumber(exp) || !isfinite(exp->valuedouble) ||
	    (double)req->now > exp->valuedouble) {
		rx_fail(out, 401, ERR_AUTH, "token has expired");
		goto out;
	}
	iss = json_get_string(c, "iss");
	if (iss == NULL || (strcmp(iss, "accounts.google.com") != 0 &&
	                    strcmp(iss, "https://accounts.google.com") != 0)) {
		rx_fail(out, 401, ERR_AUTH,
		        "token issuer is '%s', want 'accounts.google.com' or "
		        "'https://accounts.google.com'",
		        rx_show(s1, iss ? iss : ""));
		goto out;
	}
	email = json_get_string(c, "email");
	if (email == NULL || strcmp(email, cfg->gcr_email) != 0) {
		rx_fail(out, 401, ERR_AUTH, "token email is '%s', want '%s'",
		        rx_show(s1, email ? email : ""), cfg->gcr_email);
		goto out;
	}
	verified = cJSON_GetObjectItemCaseSensitive(c, "email_verified");
	if (!cJSON_IsTrue(verified)) {
		rx_fail(out, 401, ERR_AUTH, "token email is not verified");
		goto out;
	}
	rc = 0;
out:
	/* OpenSSL keeps failures in a per-thread queue; leave it empty */
	ERR_clear_error();
	EVP_PKEY_free(pkey);
	cJSON_Delete(h);
	cJSON_Delete(c);
	cJSON_Delete(set);
	buf_release(&hdr);
	buf_release(&claims);
	buf_release(&sig);
	return rc;
}

/* One notification {"action","digest","tag"} into out. */
static int
parse_notification(struct receiver_result *out, const char *json, size_t len)
{
	struct reference tref = REFERENCE_INIT, dref = REFERENCE_INIT;
	const char *action = NULL, *tag = NULL, *digest = NULL;
	const char *host = NULL, *path = NULL, *t = NULL, *d = NULL;
	struct err e = ERR_INIT;
	cJSON *root = NULL;
	char s1[80];
	int rc = 0;

	if (rx_parse_json(out, &root, json, len, "GCR notification"))
		return 0;
	if (rx_json_string(out, root, "action", &action) < 0 ||
	    rx_json_string(out, root, "tag", &tag) < 0 ||
	    rx_json_string(out, root, "digest", &digest) < 0)
		goto out;
	/* DELETE: nothing new to scan */
	if (action == NULL || strcmp(action, "INSERT") != 0)
		goto out;
	/* "host/path:tag" and "host/path@sha256:..." */
	if (tag != NULL && tag[0] != '\0') {
		if (reference_parse(&tref, tag, strlen(tag), &e) < 0 ||
		    tref.tag == NULL) {
			if (e.code == ERR_NOMEM) {
				rc = -ERR_NOMEM;
				goto out;
			}
			out->nrejected++;
			if (out->why.code == 0)
				err_set(&out->why, ERR_INVALID,
				        "'%s' is not an image reference with a "
				        "tag",
				        rx_show(s1, tag));
			goto out;
		}
		host = tref.domain;
		path = tref.path;
		t = tref.tag;
	}
	if (digest != NULL && digest[0] != '\0') {
		if (reference_parse(&dref, digest, strlen(digest), &e) < 0 ||
		    dref.digest == NULL) {
			if (e.code == ERR_NOMEM) {
				rc = -ERR_NOMEM;
				goto out;
			}
			if (t == NULL) {
				out->nrejected++;
				if (out->why.code == 0)
					err_set(&out->why, ERR_INVALID,
					        "'%s' is not an image "
					        "reference with a digest",
					        rx_show(s1, digest));
				goto out;
			}
		} else if (t == NULL) {
			host = dref.domain;
			path = dref.path;
			d = dref.digest;
		} else if (strcmp(dref.domain, host) == 0 &&
		           strcmp(dref.path, path) == 0) {
			d = dref.digest;
		}
	}
	if (path != NULL)
		rc = rx_event_add(out, host, path, t, d, NULL);
out:
	reference_release(&tref);
	reference_release(&dref);
	cJSON_Delete(root);
	return rc;
}

int
rx_handle_gcr(struct receiver_result *out, const struct receiver_config *cfg,
              const struct receiver_request *req)
{
	const cJSON *msg = NULL;
	const char *data = NULL, *id = NULL;
	struct buf raw = BUF_INIT;
	struct err e = ERR_INIT;
	cJSON *root = NULL;
	int rc;

	rc = check_token(out, cfg, req);
	if (rc != 0)
		return rc < 0 ? rc : 0;
	if (rx_parse_json(out, &root, req->body, req->len,
	                  "Pub/Sub push envelope"))
		return 0;
	rc = 0;
	if (rx_json_object(out, root, "message", &msg) < 0)
		goto out;
	if (msg == NULL) {
		/* a subscription with payload unwrapping sends the data */
		if (cJSON_IsObject(root) &&
		    cJSON_GetObjectItemCaseSensitive(root, "action") != NULL) {
			rc = parse_notification(out, req->body, req->len);
			goto out;
		}
		rx_fail(out, 400, ERR_INVALID,
		        "Pub/Sub push envelope has no 'message'");
		goto out;
	}
	if (rx_json_string(out, msg, "data", &data) < 0 ||
	    rx_json_string(out, msg, "messageId", &id) < 0)
		goto out;
	if ((rc = rx_set_delivery_id(out, id)) < 0)
		goto out;
	if (data == NULL || base64_decode(&raw, data, strlen(data), &e) < 0) {
		if (e.code == ERR_NOMEM) {
			rc = -ERR_NOMEM;
			goto out;
		}
		rx_fail(out, 400, ERR_INVALID,
		        "Pub/Sub message data is missing or not base64");
		goto out;
	}
	rc = parse_notification(out, raw.ptr, raw.len);
out:
	buf_release(&raw);
	cJSON_Delete(root);
	return rc;
}
