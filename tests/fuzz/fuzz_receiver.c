/*
 * Fuzz target: receiver_handle (core/receiver/receiver.h) for every type.
 *
 * Input: byte 0 picks the type, byte 1 holds flags, byte 2 picks the event
 * header's value; the rest is the body.  Flags:
 *   0x01  send the right credentials for the type (an HMAC of the body, the
 *         token in its header or query, a gcr token signed by the key
 *         whose JWKS the receiver holds), so the parsers are reached;
 *   0x02  use GET instead of POST;
 *   0x04  set spec.events to "package" and a CDEvents type;
 *   0x08  no token, and argo_allow_no_secret;
 *   0x30  Content-Type: the type's own, application/json, form, text.
 * Invariants checked (a failure traps): the status is one the header
 * names; a refusal carries no events and a reason; every event of a 200
 * passes the reference, tag and digest grammars; nothing passes a type that
 * authenticates without the credentials; no message holds the token unless
 * the body itself does.
 */
#define _GNU_SOURCE /* memmem */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rsa.h>
#include <sodium.h>

#include "base/buf.h"
#include "base/imageref.h"
#include "receiver/receiver.h"
#include "scanner/reference.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_TOKEN "fuzz-token-0123"
#define FUZZ_NOW 1700000000

/* GLOBAL: the fuzz driver's RSA key and its JWKS, made on the first input
 * and kept for the process (a fuzz target runs in one thread). */
static EVP_PKEY *key;
static char *jwks;

static void
b64url(struct buf *out, const void *p, size_t n)
{
	size_t sz = sodium_base64_encoded_len(
	        n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	char *s = malloc(sz);

	if (s == NULL)
		__builtin_trap();
	sodium_bin2base64(s, sz, p, n,
	                  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	buf_puts(out, s);
	free(s);
}

static void
bn_b64url(struct buf *out, const char *name)
{
	BIGNUM *bn = NULL;
	unsigned char bin[1024];
	int n;

	if (EVP_PKEY_get_bn_param(key, name, &bn) != 1)
		__builtin_trap();
	n = BN_bn2bin(bn, bin);
	b64url(out, bin, (size_t)n);
	BN_free(bn);
}

static void
init_key(void)
{
	struct buf j = BUF_INIT;

	if (key != NULL)
		return;
	if (sodium_init() < 0 || (key = EVP_RSA_gen(2048)) == NULL)
		__builtin_trap();
	buf_puts(&j, "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"f1\",\"n\":\"");
	bn_b64url(&j, OSSL_PKEY_PARAM_RSA_N);
	buf_puts(&j, "\",\"e\":\"");
	bn_b64url(&j, OSSL_PKEY_PARAM_RSA_E);
	buf_puts(&j, "\"}]}");
	jwks = buf_detach(&j);
}

static char *
gcr_bearer(void)
{
	static const char hdr[] = "{\"alg\":\"RS256\",\"kid\":\"f1\"}";
	static const char claims[] =
	        "{\"aud\":\"aud\",\"iss\":\"accounts.google.com\",\"email\":"
	        "\"sa@p.iam.gserviceaccount.com\",\"email_verified\":true,"
	        "\"exp\":1700003600}";
	struct buf tok = BUF_INIT;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char sig[512];
	size_t siglen = sizeof(sig);

	buf_puts(&tok, "Bearer ");
	b64url(&tok, hdr, strlen(hdr));
	buf_putc(&tok, '.');
	b64url(&tok, claims, strlen(claims));
	if (md == NULL ||
	    EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestSign(md, sig, &siglen, (const unsigned char *)tok.ptr + 7,
	                   tok.len - 7) != 1)
		__builtin_trap();
	buf_putc(&tok, '.');
	b64url(&tok, sig, siglen);
	EVP_MD_CTX_free(md);
	return buf_detach(&tok);
}

static void
hmac_hex(char *out, size_t outsz, const char *prefix, const EVP_MD *md,
         const uint8_t *body, size_t len)
{
	unsigned char mac[64];
	unsigned int n = 0;
	size_t p = strlen(prefix);

	if (HMAC(md, FUZZ_TOKEN, (int)strlen(FUZZ_TOKEN), body, len, mac, &n) ==
	            NULL ||
	    p + n * 2 + 1 > outsz)
		__builtin_trap();
	memcpy(out, prefix, p);
	sodium_bin2hex(out + p, outsz - p, mac, n);
}

static bool
authenticates(enum receiver_type t)
{
	switch (t) {
	case RECEIVER_GENERIC:
	case RECEIVER_DOCKERHUB:
	case RECEIVER_QUAY:
	case RECEIVER_ACR:
	case RECEIVER_CDEVENTS:
		return false;
	default:
		return true;
	}
}

static void
check_event(const struct receiver_event *ev)
{
	struct reference ref = REFERENCE_INIT;
	struct buf name = BUF_INIT;
	struct err e = ERR_INIT;

	if (ev->repository == NULL ||
	    !imageref_path_valid(ev->repository, strlen(ev->repository)))
		__builtin_trap();
	if (ev->tag == NULL && ev->digest == NULL)
		__builtin_trap();
	if (ev->tag != NULL && !imageref_tag_valid(ev->tag, strlen(ev->tag)))
		__builtin_trap();
	if (ev->digest != NULL &&
	    !imageref_digest_valid(ev->digest, strlen(ev->digest)))
		__builtin_trap();
	if (ev->host != NULL) {
		buf_puts(&name, ev->host);
		buf_puts(&name, "/x");
		if (reference_parse(&ref, name.ptr, name.len, &e) < 0) {
			if (e.code != ERR_NOMEM)
				__builtin_trap();
		} else if (strcmp(ref.domain, ev->host) != 0) {
			__builtin_trap();
		}
		reference_release(&ref);
		buf_release(&name);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const event_names[] = {
		"package", "registry_package",
		"ping",    "push",
		"",        "dev.cdevents.change.merged.0.2.0",
	};
	static const char *const events[] = {
		"package", "dev.cdevents.change.merged.0.2.0"
	};
	struct receiver_header h[8];
	struct receiver_config cfg = RECEIVER_CONFIG_INIT;
	struct receiver_request req = { 0 };
	struct receiver_result res = RECEIVER_RESULT_INIT;
	struct secret token = SECRET_INIT;
	enum receiver_type type;
	const char *ct, *ev;
	char sig[200];
	char *bearer = NULL;
	size_t nh = 0;
	uint8_t flags;
	int rc;

	if (size < 3)
		return 0;
	init_key();
	type = (enum receiver_type)(data[0] % RECEIVER_TYPE_COUNT);
	flags = data[1];
	ev = event_names[data[2] %
	                 (sizeof(event_names) / sizeof(event_names[0]))];
	data += 3;
	size -= 3;

	secret_set(&token, FUZZ_TOKEN, strlen(FUZZ_TOKEN));
	cfg.type = type;
	cfg.token = (flags & 0x08) ? NULL : &token;
	cfg.argo_allow_no_secret = (flags & 0x08) != 0;
	if (flags & 0x04) {
		cfg.events = events;
		cfg.nevents = 2;
	}
	cfg.gcr_email = "sa@p.iam.gserviceaccount.com";
	cfg.gcr_audience = "aud";
	cfg.gcr_jwks = jwks;
	cfg.gcr_jwks_len = strlen(jwks);

	switch ((flags >> 4) & 3) {
	case 0:
		ct = type == RECEIVER_DISTRIBUTION
		             ? "application/vnd.docker.distribution.events."
		               "v1+json"
		     : type == RECEIVER_ARGO_CLOUDEVENTS
		             ? "application/cloudevents+json"
		             : "application/json";
		break;
	case 1:
		ct = "application/json; charset=utf-8";
		break;
	case 2:
		ct = "application/x-www-form-urlencoded";
		break;
	default:
		ct = "text/plain";
		break;
	}
	h[nh++] = (struct receiver_header){ "Content-Type", ct };
	h[nh++] = (struct receiver_header){
		type == RECEIVER_BITBUCKET  ? "X-Event-Key"
		: type == RECEIVER_GITLAB   ? "X-Gitlab-Event"
		: type == RECEIVER_CDEVENTS ? "Ce-Type"
		                            : "X-GitHub-Event",
		ev
	};
	h[nh++] = (struct receiver_header){ "X-GitHub-Delivery", "d-1" };
	if (flags & 0x01) {
		switch (type) {
		case RECEIVER_GENERIC_HMAC:
			hmac_hex(sig, sizeof(sig), "sha512=", EVP_sha512(),
			         data, size);
			h[nh++] =
			        (struct receiver_header){ "X-Signature", sig };
			break;
		case RECEIVER_GITHUB:
		case RECEIVER_BITBUCKET:
		case RECEIVER_ARGO_GHCR:
			hmac_hex(sig, sizeof(sig), "sha256=", EVP_sha256(),
			         data, size);
			h[nh++] =
			        (struct receiver_header){ "X-Hub-Signature-256",
				                          sig };
			break;
		case RECEIVER_NEXUS:
			hmac_hex(sig, sizeof(sig), "", EVP_sha1(), data, size);
			h[nh++] = (struct receiver_header){
				"X-Nexus-Webhook-Signature", sig
			};
			break;
		case RECEIVER_GITLAB:
			h[nh++] = (struct receiver_header){ "X-Gitlab-Token",
				                            FUZZ_TOKEN };
			break;
		case RECEIVER_HARBOR:
		case RECEIVER_ARGO_HARBOR:
		case RECEIVER_ARGO_ACR:
			h[nh++] = (struct receiver_header){ "Authorization",
				                            FUZZ_TOKEN };
			break;
		case RECEIVER_DISTRIBUTION:
			h[nh++] = (struct receiver_header){
				"Authorization", "Bearer " FUZZ_TOKEN
			};
			break;
		case RECEIVER_GCR:
			bearer = gcr_bearer();
			h[nh++] = (struct receiver_header){ "Authorization",
				                            bearer };
			break;
		case RECEIVER_ARGO_CLOUDEVENTS:
			h[nh++] = (struct receiver_header){ "X-Webhook-Secret",
				                            FUZZ_TOKEN };
			break;
		case RECEIVER_ARGO_DOCKER:
		case RECEIVER_ARGO_QUAY:
		case RECEIVER_ARGO_ALIYUN_ACR:
			req.query_secret = FUZZ_TOKEN;
			break;
		default:
			break;
		}
	}
	req.method = (flags & 0x02) ? "GET" : "POST";
	req.headers = h;
	req.nheaders = nh;
	req.body = (const char *)data;
	req.len = size;
	req.now = FUZZ_NOW;

	rc = receiver_handle(&res, &cfg, &req);
	if (rc < 0 && rc != -ERR_NOMEM)
		__builtin_trap();
	switch (res.status) {
	case 200:
		for (size_t i = 0; i < res.nevents; i++)
			check_event(&res.events[i]);
		if (res.nevents > RECEIVER_MAX_EVENTS)
			__builtin_trap();
		/* nothing passes without the credentials */
		if (!(flags & 0x01) && authenticates(type) &&
		    !(receiver_type_is_argo(type) && (flags & 0x08)))
			__builtin_trap();
		if (flags & 0x02)
			__builtin_trap();
		break;
	case 400:
	case 401:
	case 405:
	case 413:
	case 500:
		if (res.nevents != 0 || res.events != NULL || res.trigger_all ||
		    res.why.msg[0] == '\0')
			__builtin_trap();
		break;
	default:
		__builtin_trap();
	}
	/* a reason may quote the payload, so the token may show only when
	 * the sender put it in the body */
	if (strstr(res.why.msg, FUZZ_TOKEN) != NULL &&
	    memmem(data, size, FUZZ_TOKEN, strlen(FUZZ_TOKEN)) == NULL)
		__builtin_trap();
	if (res.delivery_id != NULL &&
	    strlen(res.delivery_id) > RECEIVER_MAX_ID)
		__builtin_trap();
	receiver_result_release(&res);
	secret_release(&token);
	free(bearer);
	return 0;
}
