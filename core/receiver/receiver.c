/*
 * receiver.c - webhook requests in, pushed images out: the dispatch by
 * type, the Flux receiver types and ferry's distribution type, and the
 * helpers every type shares (header lookup, signatures, JSON paths, the
 * grammar checks an event passes before it reaches a result).  The Argo CD
 * Image Updater types are in argo.c, gcr's token check in gcr.c and the
 * duplicate filter in dedup.c.
 *
 * It does not read sockets, look up Receivers, fetch keys or trigger
 * anything: it decides a status and hands back what was pushed.
 */
#include "receiver_int.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>

#include "base/json.h"
#include "base/imageref.h"
#include "scanner/reference.h"

/* ---- type names ---- */

static const char *const type_names[RECEIVER_TYPE_COUNT] = {
	[RECEIVER_GENERIC] = "generic",
	[RECEIVER_GENERIC_HMAC] = "generic-hmac",
	[RECEIVER_GITHUB] = "github",
	[RECEIVER_GITLAB] = "gitlab",
	[RECEIVER_BITBUCKET] = "bitbucket",
	[RECEIVER_HARBOR] = "harbor",
	[RECEIVER_DOCKERHUB] = "dockerhub",
	[RECEIVER_QUAY] = "quay",
	[RECEIVER_GCR] = "gcr",
	[RECEIVER_NEXUS] = "nexus",
	[RECEIVER_ACR] = "acr",
	[RECEIVER_CDEVENTS] = "cdevents",
	[RECEIVER_DISTRIBUTION] = "distribution",
	[RECEIVER_ARGO_DOCKER] = "docker.io",
	[RECEIVER_ARGO_GHCR] = "ghcr.io",
	[RECEIVER_ARGO_HARBOR] = "harbor",
	[RECEIVER_ARGO_QUAY] = "quay.io",
	[RECEIVER_ARGO_ALIYUN_ACR] = "aliyun-acr",
	[RECEIVER_ARGO_ACR] = "acr",
	[RECEIVER_ARGO_CLOUDEVENTS] = "cloudevents",
};

/* Argo CD Image Updater's names for each type's secret (cmd/, config/). */
static const struct receiver_argo_secret_source argo_sources[] = {
	{ "webhook.docker-secret", "DOCKER_WEBHOOK_SECRET",
	  "--docker-webhook-secret" },
	{ "webhook.ghcr-secret", "GHCR_WEBHOOK_SECRET",
	  "--ghcr-webhook-secret" },
	{ "webhook.harbor-secret", "HARBOR_WEBHOOK_SECRET",
	  "--harbor-webhook-secret" },
	{ "webhook.quay-secret", "QUAY_WEBHOOK_SECRET",
	  "--quay-webhook-secret" },
	{ "webhook.aliyun-acr-secret", "ALIYUN_ACR_WEBHOOK_SECRET",
	  "--aliyun-acr-webhook-secret" },
	{ "webhook.acr-secret", "ACR_WEBHOOK_SECRET", "--acr-webhook-secret" },
	{ "webhook.cloudevents-secret", "CLOUDEVENTS_WEBHOOK_SECRET",
	  "--cloudevents-webhook-secret" },
};

const char *
receiver_type_name(enum receiver_type type)
{
	if ((unsigned)type >= RECEIVER_TYPE_COUNT)
		return "unknown";
	return type_names[type];
}

bool
receiver_type_is_argo(enum receiver_type type)
{
	return type >= RECEIVER_ARGO_DOCKER &&
	       type <= RECEIVER_ARGO_CLOUDEVENTS;
}

const struct receiver_argo_secret_source *
receiver_argo_secret_source(enum receiver_type type)
{
	if (!receiver_type_is_argo(type))
		return NULL;
	return &argo_sources[type - RECEIVER_ARGO_DOCKER];
}

int
receiver_type_parse(enum receiver_type *out, const char *flux_type,
                    struct err *err)
{
	char show[80];

	if (flux_type != NULL && strcmp(flux_type, "generic-oidc") == 0)
		return err_set(err, ERR_INVALID,
		               "receiver type 'generic-oidc' is not supported: "
		               "it needs OIDC discovery over the network");
	for (int t = RECEIVER_GENERIC; t <= RECEIVER_DISTRIBUTION; t++) {
		if (flux_type != NULL &&
		    strcmp(flux_type, type_names[t]) == 0) {
			*out = (enum receiver_type)t;
			return 0;
		}
	}
	return err_set(err, ERR_INVALID, "unknown receiver type '%s'",
	               rx_show(show, flux_type ? flux_type : ""));
}

int
receiver_argo_type_parse(enum receiver_type *out, const char *query_type,
                         struct err *err)
{
	char show[80];

	for (int t = RECEIVER_ARGO_DOCKER; t <= RECEIVER_ARGO_CLOUDEVENTS;
	     t++) {
		if (query_type != NULL &&
		    strcmp(query_type, type_names[t]) == 0) {
			*out = (enum receiver_type)t;
			return 0;
		}
	}
	return err_set(err, ERR_INVALID,
	               "unknown webhook type '%s' (want docker.io, ghcr.io, "
	               "harbor, quay.io, aliyun-acr, acr or cloudevents)",
	               rx_show(show, query_type ? query_type : ""));
}

int
receiver_hook_path(struct buf *out, const struct secret *token,
                   const char *name, const char *ns)
{
	crypto_hash_sha256_state st;
	unsigned char h[crypto_hash_sha256_BYTES];
	char hex[crypto_hash_sha256_BYTES * 2 + 1];

	crypto_hash_sha256_init(&st);
	if (token != NULL && token->len > 0)
		crypto_hash_sha256_update(&st, token->ptr, token->len);
	crypto_hash_sha256_update(&st, (const unsigned char *)name,
	                          strlen(name));
	crypto_hash_sha256_update(&st, (const unsigned char *)ns, strlen(ns));
	crypto_hash_sha256_final(&st, h);
	sodium_memzero(&st, sizeof(st));
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
	buf_puts(out, "/hook/");
	buf_puts(out, hex);
	return buf_ok(out) ? 0 : -ERR_NOMEM;
}

/* ---- shared helpers ---- */

const char *
rx_header(const struct receiver_request *req, const char *name)
{
	for (size_t i = 0; i < req->nheaders; i++) {
		const struct receiver_header *h = &req->headers[i];
		if (h->name != NULL && h->value != NULL &&
		    strcasecmp(h->name, name) == 0)
			return h->value;
	}
	return NULL;
}

void
rx_media_type(char out[128], const char *ct)
{
	size_t n = 0, end;
	const char *p = ct;

	out[0] = '\0';
	if (ct == NULL)
		return;
	while (*p == ' ' || *p == '\t')
		p++;
	end = strcspn(p, ";");
	while (end > 0 && (p[end - 1] == ' ' || p[end - 1] == '\t'))
		end--;
	if (end >= 128)
		return;
	for (n = 0; n < end; n++)
		out[n] = (char)tolower((unsigned char)p[n]);
	out[n] = '\0';
}

bool
rx_content_type_contains(const struct receiver_request *req, const char *needle)
{
	const char *ct = rx_header(req, "Content-Type");

	return ct != NULL && strstr(ct, needle) != NULL;
}

int
rx_fail(struct receiver_result *out, int status, int code, const char *fmt, ...)
{
	va_list ap;
	char msg[ERR_MSG_MAX];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	out->status = status;
	err_set(&out->why, code, "%s", msg);
	return 0;
}

const char *
rx_show(char out[80], const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0' && i < 64; i++) {
		unsigned char c = (unsigned char)s[i];
		out[i] = (c >= 0x20 && c < 0x7f && c != '\'') ? (char)c : '?';
	}
	if (s[i] != '\0') {
		memcpy(out + i, "...", 3);
		i += 3;
	}
	out[i] = '\0';
	return out;
}

bool
rx_has_token(const struct receiver_config *cfg)
{
	return cfg->token != NULL && cfg->token->ptr != NULL &&
	       cfg->token->len > 0;
}

bool
rx_token_equal(const struct secret *token, const char *v, size_t vlen)
{
	if (token == NULL || token->ptr == NULL || token->len == 0 || v == NULL)
		return false;
	/* The length is not secret (Go's subtle.ConstantTimeCompare also
	 * answers at once when lengths differ); the bytes are. */
	if (vlen != token->len)
		return false;
	return sodium_memcmp(token->ptr, v, vlen) == 0;
}

int
rx_hmac_sha1(unsigned char mac[20], const unsigned char *key, size_t keylen,
             const void *data, size_t len)
{
	unsigned int maclen = 0;
	static const unsigned char nokey[1] = { 0 };

	if (keylen > (size_t)INT32_MAX)
		return -ERR_INTERNAL;
	/* HMAC() is thread-safe when given the output buffer. */
	if (HMAC(EVP_sha1(), keylen ? key : nokey, (int)keylen,
	         len ? data : (const void *)nokey, len, mac, &maclen) == NULL ||
	    maclen != 20)
		return -ERR_INTERNAL;
	return 0;
}

static void
hmac_sha256(unsigned char mac[32], const struct secret *key, const void *data,
            size_t len)
{
	crypto_auth_hmacsha256_state st;

	crypto_auth_hmacsha256_init(&st, key->ptr, key->len);
	crypto_auth_hmacsha256_update(&st, data, len);
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_memzero(&st, sizeof(st));
}

static void
hmac_sha512(unsigned char mac[64], const struct secret *key, const void *data,
            size_t len)
{
	crypto_auth_hmacsha512_state st;

	crypto_auth_hmacsha512_init(&st, key->ptr, key->len);
	crypto_auth_hmacsha512_update(&st, data, len);
	crypto_auth_hmacsha512_final(&st, mac);
	sodium_memzero(&st, sizeof(st));
}

int
rx_check_hub_signature(struct receiver_result *out,
                       const struct receiver_config *cfg,
                       const char *header_name, const char *sig,
                       const char *body, size_t len, bool only_sha256,
                       bool lower_hex_only)
{
	unsigned char want[64], got[64];
	size_t maclen, alglen, hexlen, binlen = 0;
	const char *eq, *hex, *hex_end = NULL;
	int rc = 1;

	if (!rx_has_token(cfg))
		return rx_fail(out, 401, ERR_AUTH,
		               "receiver has no token to check '%s' against",
		               header_name) +
		       1;
	if (sig == NULL || sig[0] == '\0')
		return rx_fail(out, 401, ERR_AUTH, "header '%s' is missing",
		               header_name) +
		       1;
	eq = strchr(sig, '=');
	if (eq == NULL)
		return rx_fail(out, 401, ERR_AUTH,
		               "header '%s' is not '<algorithm>=<hex>'",
		               header_name) +
		       1;
	alglen = (size_t)(eq - sig);
	if (alglen == 6 && memcmp(sig, "sha256", 6) == 0)
		maclen = 32;
	else if (!only_sha256 && alglen == 4 && memcmp(sig, "sha1", 4) == 0)
		maclen = 20;
	else if (!only_sha256 && alglen == 6 && memcmp(sig, "sha512", 6) == 0)
		maclen = 64;
	else
		return rx_fail(out, 401, ERR_AUTH,
		               "header '%s' names an unsupported algorithm (%s)",
		               header_name,
		               only_sha256 ? "want sha256"
		                           : "want sha1, sha256 or sha512") +
		       1;
	hex = eq + 1;
	hexlen = strlen(hex);
	if (lower_hex_only)
		for (size_t i = 0; i < hexlen; i++)
			if (!((hex[i] >= '0' && hex[i] <= '9') ||
			      (hex[i] >= 'a' && hex[i] <= 'f')))
				return rx_fail(out, 401, ERR_AUTH,
				               "signature in '%s' does not match "
				               "the body",
				               header_name) +
				       1;
	if (hexlen != maclen * 2 ||
	    sodium_hex2bin(got, sizeof(got), hex, hexlen, NULL, &binlen,
	                   &hex_end) != 0 ||
	    binlen != maclen || hex_end != hex + hexlen)
		return rx_fail(out, 401, ERR_AUTH,
		               "signature in '%s' is not %zu hex digits",
		               header_name, maclen * 2) +
		       1;
	if (maclen == 32)
		hmac_sha256(want, cfg->token, body, len);
	else if (maclen == 64)
		hmac_sha512(want, cfg->token, body, len);
	else if (rx_hmac_sha1(want, cfg->token->ptr, cfg->token->len, body,
	                      len) < 0) {
		rx_fail(out, 500, ERR_INTERNAL,
		        "HMAC-SHA1 failed in libcrypto");
		goto out;
	}
	if (sodium_memcmp(want, got, maclen) != 0) {
		rx_fail(out, 401, ERR_AUTH,
		        "signature in '%s' does not match the body",
		        header_name);
		goto out;
	}
	rc = 0;
out:
	sodium_memzero(want, sizeof(want));
	return rc;
}

int
rx_parse_json(struct receiver_result *out, cJSON **root, const char *ptr,
              size_t len, const char *what)
{
	struct err e = ERR_INIT;

	if (json_parse(root, ptr, len, what, &e) < 0) {
		rx_fail(out, 400, ERR_INVALID, "%s", e.msg);
		return 1;
	}
	return 0;
}

/*
 * The item at a dotted path: 1 found (not null), 0 missing or null, -1
 * when a step on the way is not an object (400 set).
 */
static int
json_walk(struct receiver_result *out, const cJSON *obj, const char *path,
          const cJSON **found)
{
	char key[64];
	const char *p = path, *dot;
	const cJSON *cur = obj;

	*found = NULL;
	for (;;) {
		size_t n;
		dot = strchr(p, '.');
		n = dot ? (size_t)(dot - p) : strlen(p);
		if (n >= sizeof(key))
			return 0;
		memcpy(key, p, n);
		key[n] = '\0';
		if (!cJSON_IsObject(cur)) {
			rx_fail(out, 400, ERR_INVALID,
			        "payload: the parent of field '%s' is not an "
			        "object",
			        path);
			return -1;
		}
		cur = cJSON_GetObjectItemCaseSensitive(cur, key);
		if (cur == NULL || cJSON_IsNull(cur))
			return 0;
		if (dot == NULL)
			break;
		p = dot + 1;
	}
	*found = cur;
	return 1;
}

int
rx_json_string(struct receiver_result *out, const cJSON *obj, const char *path,
               const char **found)
{
	const cJSON *it;
	int rc = json_walk(out, obj, path, &it);

	*found = NULL;
	if (rc <= 0)
		return rc;
	if (!cJSON_IsString(it) || it->valuestring == NULL) {
		rx_fail(out, 400, ERR_INVALID,
		        "payload: field '%s' is not a string", path);
		return -1;
	}
	*found = it->valuestring;
	return 1;
}

int
rx_json_object(struct receiver_result *out, const cJSON *obj, const char *path,
               const cJSON **found)
{
	const cJSON *it;
	int rc = json_walk(out, obj, path, &it);

	*found = NULL;
	if (rc <= 0)
		return rc;
	if (!cJSON_IsObject(it)) {
		rx_fail(out, 400, ERR_INVALID,
		        "payload: field '%s' is not an object", path);
		return -1;
	}
	*found = it;
	return 1;
}

int
rx_json_array(struct receiver_result *out, const cJSON *obj, const char *path,
              const cJSON **found)
{
	const cJSON *it;
	int rc = json_walk(out, obj, path, &it);

	*found = NULL;
	if (rc <= 0)
		return rc;
	if (!cJSON_IsArray(it)) {
		rx_fail(out, 400, ERR_INVALID,
		        "payload: field '%s' is not an array", path);
		return -1;
	}
	*found = it;
	return 1;
}

static bool
id_usable(const char *id)
{
	size_t n;

	if (id == NULL)
		return false;
	n = strnlen(id, RECEIVER_MAX_ID + 1);
	if (n == 0 || n > RECEIVER_MAX_ID)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)id[i] <= 0x20 ||
		    (unsigned char)id[i] >= 0x7f)
			return false;
	return true;
}

char *
rx_id_dup(const char *id)
{
	return id_usable(id) ? strdup(id) : NULL;
}

int
rx_set_delivery_id(struct receiver_result *out, const char *id)
{
	char *d;

	if (!id_usable(id))
		return 0;
	d = strdup(id);
	if (d == NULL)
		return -ERR_NOMEM;
	free(out->delivery_id);
	out->delivery_id = d;
	return 0;
}

/* ---- events ---- */

static int reject(struct receiver_result *out, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

static int
reject(struct receiver_result *out, const char *fmt, ...)
{
	va_list ap;
	char msg[ERR_MSG_MAX];

	out->nrejected++;
	if (out->why.code == 0) {
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		err_set(&out->why, ERR_INVALID, "%s", msg);
	}
	return 0;
}

static void
event_release(struct receiver_event *ev)
{
	free(ev->host);
	free(ev->repository);
	free(ev->tag);
	free(ev->digest);
	free(ev->id);
	memset(ev, 0, sizeof(*ev));
}

static bool
is_docker_hub(const char *host)
{
	return strcmp(host, "docker.io") == 0 ||
	       strcmp(host, "index.docker.io") == 0;
}

static char *
dup_or_null(const char *s, bool *nomem)
{
	char *d;

	if (s == NULL)
		return NULL;
	d = strdup(s);
	if (d == NULL)
		*nomem = true;
	return d;
}

int
rx_event_add(struct receiver_result *out, const char *host,
             const char *repository, const char *tag, const char *digest,
             const char *id)
{
	struct reference ref = REFERENCE_INIT;
	struct buf name = BUF_INIT;
	struct receiver_event ev = { 0 };
	struct receiver_event *grown;
	struct err e = ERR_INIT;
	char s1[80], s2[80];
	bool nomem = false;
	int rc = 0;

	if (tag != NULL && tag[0] == '\0')
		tag = NULL;
	if (digest != NULL && digest[0] == '\0')
		digest = NULL;
	if (host != NULL && host[0] == '\0')
		host = NULL;
	if (tag == NULL && digest == NULL)
		return 0; /* a push with nothing to act on */
	if (out->nevents >= RECEIVER_MAX_EVENTS)
		return rx_fail(out, 400, ERR_INVALID,
		               "request carries more than %d events",
		               RECEIVER_MAX_EVENTS);
	if (repository == NULL || repository[0] == '\0')
		return reject(out, "event names no repository");
	if (strlen(repository) > RX_MAX_NAME)
		return reject(out, "repository is longer than %d bytes",
		              RX_MAX_NAME);
	if (tag != NULL && !imageref_tag_valid(tag, strlen(tag)))
		return reject(out, "tag '%s' of '%s' is not a valid tag",
		              rx_show(s1, tag), rx_show(s2, repository));
	if (digest != NULL && (strlen(digest) > RX_MAX_NAME ||
	                       !imageref_digest_valid(digest, strlen(digest))))
		return reject(out, "digest '%s' of '%s' is not a valid digest",
		              rx_show(s1, digest), rx_show(s2, repository));
	if (host != NULL) {
		if (strlen(host) > RX_MAX_NAME)
			return reject(out, "host is longer than %d bytes",
			              RX_MAX_NAME);
		buf_puts(&name, host);
		buf_putc(&name, '/');
		buf_puts(&name, repository);
		if (!buf_ok(&name)) {
			rc = -ERR_NOMEM;
			goto out;
		}
		if (reference_parse(&ref, name.ptr, name.len, &e) < 0) {
			if (e.code == ERR_NOMEM)
				rc = -ERR_NOMEM;
			else
				reject(out,
				       "'%s' on host '%s' is not a valid image "
				       "name",
				       rx_show(s1, repository),
				       rx_show(s2, host));
			goto out;
		}
		/* a ':' or '@' in the repository would read as a tag */
		if (ref.tag != NULL || ref.digest != NULL) {
			reject(out, "repository '%s' is not a valid name",
			       rx_show(s1, repository));
			goto out;
		}
		if (strcmp(ref.domain, host) != 0 &&
		    !(is_docker_hub(host) &&
		      strcmp(ref.domain, IMAGEREF_DOCKER_HUB) == 0)) {
			reject(out, "'%s' is not a registry host",
			       rx_show(s1, host));
			goto out;
		}
		ev.host = dup_or_null(ref.domain, &nomem);
		ev.repository = dup_or_null(ref.path, &nomem);
	} else {
		if (!imageref_path_valid(repository, strlen(repository))) {
			reject(out, "repository '%s' is not a valid name",
			       rx_show(s1, repository));
			goto out;
		}
		ev.repository = dup_or_null(repository, &nomem);
	}
	ev.tag = dup_or_null(tag, &nomem);
	ev.digest = dup_or_null(digest, &nomem);
	ev.id = id_usable(id) ? dup_or_null(id, &nomem) : NULL;
	if (nomem) {
		rc = -ERR_NOMEM;
		goto out;
	}
	grown = reallocarray(out->events, out->nevents + 1, sizeof(*grown));
	if (grown == NULL) {
		rc = -ERR_NOMEM;
		goto out;
	}
	out->events = grown;
	out->events[out->nevents++] = ev;
	memset(&ev, 0, sizeof(ev));
out:
	event_release(&ev);
	reference_release(&ref);
	buf_release(&name);
	return rc;
}

void
rx_url_host(char out[RX_MAX_NAME + 1], const char *url)
{
	const char *p = url, *scheme, *end, *at;
	size_t n;

	out[0] = '\0';
	if (url == NULL)
		return;
	scheme = strstr(p, "://");
	if (scheme != NULL && memchr(p, '/', (size_t)(scheme - p)) == NULL)
		p = scheme + 3;
	n = strcspn(p, "/?#");
	end = p + n;
	at = memchr(p, '@', n);
	while (at != NULL) {
		p = at + 1;
		at = memchr(p, '@', (size_t)(end - p));
	}
	n = (size_t)(end - p);
	if (n == 0 || n > RX_MAX_NAME)
		return;
	memcpy(out, p, n);
	out[n] = '\0';
}

bool
rx_event_allowed(const struct receiver_config *cfg, const char *ev)
{
	if (cfg->nevents == 0)
		return true;
	if (ev == NULL)
		ev = "";
	for (size_t i = 0; i < cfg->nevents; i++)
		if (cfg->events[i] != NULL &&
		    strcasecmp(cfg->events[i], ev) == 0)
			return true;
	return false;
}

/* ---- payload parsers shared with argo.c ---- */

/* A lower-case copy of "a/b" into out; false when too long. */
static bool
join_lower(char out[RX_MAX_NAME + 1], const char *a, const char *b)
{
	int n = snprintf(out, RX_MAX_NAME + 1, "%s/%s", a, b);

	if (n < 0 || n > RX_MAX_NAME)
		return false;
	for (int i = 0; i < n; i++)
		out[i] = (char)tolower((unsigned char)out[i]);
	return true;
}

int
rx_parse_github_package(struct receiver_result *out, const char *event,
                        const char *json, size_t len, bool argo)
{
	cJSON *root = NULL;
	const cJSON *pkg = NULL;
	const char *action = NULL, *ptype = NULL, *name = NULL, *owner = NULL;
	const char *tag = NULL, *digest = NULL, *pv_name = NULL, *url = NULL;
	char repo[RX_MAX_NAME + 1], host[RX_MAX_NAME + 1];
	const char *which;
	int rc = 0;

	if (rx_parse_json(out, &root, json, len, "GitHub package payload"))
		return 0;
	which = strcmp(event, "registry_package") == 0 ? "registry_package"
	                                               : "package";
	if (rx_json_string(out, root, "action", &action) < 0 ||
	    rx_json_object(out, root, which, &pkg) < 0)
		goto out;
	/* published is the push; updated and deleted have nothing new */
	if (action == NULL || strcmp(action, "published") != 0)
		goto out;
	if (pkg == NULL) {
		rx_fail(out, 400, ERR_INVALID, "payload: field '%s' is missing",
		        which);
		goto out;
	}
	if (rx_json_string(out, pkg, "package_type", &ptype) < 0 ||
	    rx_json_string(out, pkg, "name", &name) < 0 ||
	    rx_json_string(out, pkg, "owner.login", &owner) < 0 ||
	    rx_json_string(out, pkg, "registry.url", &url) < 0 ||
	    rx_json_string(out, pkg, "package_version.name", &pv_name) < 0 ||
	    rx_json_string(out, pkg,
	                   "package_version.container_metadata.tag.name",
	                   &tag) < 0 ||
	    rx_json_string(out, pkg,
	                   "package_version.container_metadata.tag.digest",
	                   &digest) < 0)
		goto out;
	/* npm, maven, ... packages are not images */
	if (ptype == NULL || strcasecmp(ptype, "container") != 0)
		goto out;
	if (name == NULL || name[0] == '\0' || owner == NULL ||
	    owner[0] == '\0') {
		rx_fail(out, 400, ERR_INVALID,
		        "payload: package name or owner is missing");
		goto out;
	}
	/* GitHub keeps the owner's case; image names are lower-case */
	if (!join_lower(repo, owner, name)) {
		reject(out, "package name is longer than %d bytes",
		       RX_MAX_NAME);
		goto out;
	}
	/* For a container, package_version.name is the manifest digest. */
	if ((digest == NULL || digest[0] == '\0') && pv_name != NULL &&
	    imageref_digest_valid(pv_name, strlen(pv_name)))
		digest = pv_name;
	host[0] = '\0';
	if (!argo)
		rx_url_host(host, url); /* GitHub Enterprise has its own */
	rc = rx_event_add(out, host[0] ? host : "ghcr.io", repo, tag, digest,
	                  NULL);
out:
	cJSON_Delete(root);
	return rc;
}

static bool
looks_like_digest(const char *s)
{
	return s != NULL && imageref_digest_valid(s, strlen(s));
}

int
rx_parse_harbor(struct receiver_result *out, const char *json, size_t len)
{
	cJSON *root = NULL;
	const cJSON *ed = NULL, *resources = NULL, *r;
	const char *type = NULL, *spec = NULL, *full = NULL, *ns = NULL;
	const char *name = NULL;
	char repo[RX_MAX_NAME + 1];
	int rc = 0, n;

	if (rx_parse_json(out, &root, json, len, "Harbor payload"))
		return 0;
	if (rx_json_string(out, root, "specversion", &spec) < 0 ||
	    rx_json_string(out, root, "type", &type) < 0)
		goto out;
	if (spec != NULL) {
		/* Harbor's CloudEvents format: the same fields under data */
		if (type == NULL || strcmp(type, "harbor.artifact.pushed") != 0)
			goto out;
		if (rx_json_object(out, root, "data", &ed) < 0)
			goto out;
	} else {
		if (type == NULL || strcmp(type, "PUSH_ARTIFACT") != 0)
			goto out;
		if (rx_json_object(out, root, "event_data", &ed) < 0)
			goto out;
	}
	if (ed == NULL)
		goto out;
	if (rx_json_array(out, ed, "resources", &resources) < 0 ||
	    rx_json_string(out, ed, "repository.repo_full_name", &full) < 0 ||
	    rx_json_string(out, ed, "repository.namespace", &ns) < 0 ||
	    rx_json_string(out, ed, "repository.name", &name) < 0)
		goto out;
	if (full != NULL && full[0] != '\0')
		n = snprintf(repo, sizeof(repo), "%s", full);
	else if (ns != NULL && ns[0] != '\0' && name != NULL && name[0] != '\0')
		n = snprintf(repo, sizeof(repo), "%s/%s", ns, name);
	else
		n = snprintf(repo, sizeof(repo), "%s", name ? name : "");
	if (n <= 0) {
		rx_fail(out, 400, ERR_INVALID,
		        "payload: repository name is missing");
		goto out;
	}
	if ((size_t)n >= sizeof(repo)) {
		reject(out, "repository is longer than %d bytes", RX_MAX_NAME);
		goto out;
	}
	cJSON_ArrayForEach(r, resources)
	{
		const char *tag = NULL, *digest = NULL, *url = NULL;
		char host[RX_MAX_NAME + 1];
		if (!cJSON_IsObject(r)) {
			rx_fail(out, 400, ERR_INVALID,
			        "payload: a resource is not an object");
			goto out;
		}
		if (rx_json_string(out, r, "tag", &tag) < 0 ||
		    rx_json_string(out, r, "digest", &digest) < 0 ||
		    rx_json_string(out, r, "resource_url", &url) < 0)
			goto out;
		/* a digest-only push names the digest as its tag
		 * (goharbor/harbor#19982) */
		if (looks_like_digest(tag)) {
			if (digest == NULL || digest[0] == '\0')
				digest = tag;
			tag = NULL;
		}
		rx_url_host(host, url);
		rc = rx_event_add(out, host[0] ? host : NULL, repo, tag, digest,
		                  NULL);
		if (rc < 0 || out->status != 0)
			goto out;
	}
out:
	cJSON_Delete(root);
	return rc;
}

int
rx_parse_quay(struct receiver_result *out, const char *json, size_t len)
{
	cJSON *root = NULL;
	const cJSON *tags, *t;
	const char *repo = NULL, *url = NULL;
	char host[RX_MAX_NAME + 1];
	int rc = 0;

	if (rx_parse_json(out, &root, json, len, "Quay payload"))
		return 0;
	if (rx_json_string(out, root, "repository", &repo) < 0 ||
	    rx_json_string(out, root, "docker_url", &url) < 0)
		goto out;
	tags = cJSON_IsObject(root)
	               ? cJSON_GetObjectItemCaseSensitive(root, "updated_tags")
	               : NULL;
	if (tags != NULL && !cJSON_IsNull(tags) && !cJSON_IsArray(tags) &&
	    !cJSON_IsObject(tags)) {
		rx_fail(out, 400, ERR_INVALID,
		        "payload: field 'updated_tags' is not an array");
		goto out;
	}
	if (tags == NULL || cJSON_GetArraySize(tags) == 0)
		goto out;
	if (repo == NULL || repo[0] == '\0') {
		rx_fail(out, 400, ERR_INVALID,
		        "payload: field 'repository' is missing");
		goto out;
	}
	rx_url_host(host, url);
	cJSON_ArrayForEach(t, tags)
	{
		/* the 2013 form maps each tag to an image id */
		const char *tag = cJSON_IsObject(tags)
		                          ? t->string
		                          : cJSON_GetStringValue(t);
		if (tag == NULL) {
			rx_fail(out, 400, ERR_INVALID,
			        "payload: an entry of 'updated_tags' is not a "
			        "string");
			goto out;
		}
		rc = rx_event_add(out, host[0] ? host : "quay.io", repo, tag,
		                  NULL, NULL);
		if (rc < 0 || out->status != 0)
			goto out;
	}
out:
	cJSON_Delete(root);
	return rc;
}

int
rx_parse_acr(struct receiver_result *out, const char *json, size_t len)
{
	cJSON *root = NULL;
	const char *action = NULL, *repo = NULL, *tag = NULL, *digest = NULL;
	const char *host = NULL, *id = NULL;
	int rc = 0;

	if (rx_parse_json(out, &root, json, len, "ACR payload"))
		return 0;
	if (rx_json_string(out, root, "action", &action) < 0 ||
	    rx_json_string(out, root, "id", &id) < 0 ||
	    rx_json_string(out, root, "target.repository", &repo) < 0 ||
	    rx_json_string(out, root, "target.tag", &tag) < 0 ||
	    rx_json_string(out, root, "target.digest", &digest) < 0 ||
	    rx_json_string(out, root, "request.host", &host) < 0)
		goto out;
	if ((rc = rx_set_delivery_id(out, id)) < 0)
		goto out;
	/* delete, quarantine, chart_push, ...: nothing to scan */
	if (action == NULL || strcmp(action, "push") != 0)
		goto out;
	rc = rx_event_add(out, host, repo, tag, digest, NULL);
out:
	cJSON_Delete(root);
	return rc;
}

int
rx_parse_dockerhub(struct receiver_result *out, const char *json, size_t len)
{
	cJSON *root = NULL;
	const char *full = NULL, *ns = NULL, *name = NULL, *tag = NULL;
	char repo[RX_MAX_NAME + 1];
	int rc = 0, n;

	if (rx_parse_json(out, &root, json, len, "Docker Hub payload"))
		return 0;
	if (rx_json_string(out, root, "repository.repo_name", &full) < 0 ||
	    rx_json_string(out, root, "repository.namespace", &ns) < 0 ||
	    rx_json_string(out, root, "repository.name", &name) < 0 ||
	    rx_json_string(out, root, "push_data.tag", &tag) < 0)
		goto out;
	if (full != NULL && full[0] != '\0')
		n = snprintf(repo, sizeof(repo), "%s", full);
	else if (ns != NULL && ns[0] != '\0' && name != NULL && name[0] != '\0')
		n = snprintf(repo, sizeof(repo), "%s/%s", ns, name);
	else
		n = snprintf(repo, sizeof(repo), "%s", name ? name : "");
	if (n <= 0) {
		rx_fail(out, 400, ERR_INVALID,
		        "payload: repository name is missing");
		goto out;
	}
	if ((size_t)n >= sizeof(repo)) {
		reject(out, "repository is longer than %d bytes", RX_MAX_NAME);
		goto out;
	}
	rc = rx_event_add(out, IMAGEREF_DOCKER_HUB, repo, tag, NULL, NULL);
out:
	cJSON_Delete(root);
	return rc;
}

/* ---- Flux types ---- */

static int
need_token(struct receiver_result *out, const struct receiver_config *cfg)
{
	if (rx_has_token(cfg))
		return 0;
	rx_fail(out, 401, ERR_AUTH,
	        "receiver has no token: every request is refused");
	return 1;
}

/* The value of key in an application/x-www-form-urlencoded body. */
static int
form_value(struct buf *out, const char *body, size_t len, const char *key)
{
	size_t i = 0, klen = strlen(key);

	while (i < len) {
		size_t end = i, eq;
		while (end < len && body[end] != '&')
			end++;
		eq = i;
		while (eq < end && body[eq] != '=')
			eq++;
		if (eq - i == klen && memcmp(body + i, key, klen) == 0) {
			for (size_t j = eq + 1; j < end; j++) {
				char c = body[j];
				if (c == '+') {
					c = ' ';
				} else if (c == '%') {
					unsigned char v;
					size_t got = 0;
					if (j + 2 >= end)
						return -ERR_INVALID;
					if (sodium_hex2bin(&v, 1, body + j + 1,
					                   2, NULL, &got,
					                   NULL) != 0 ||
					    got != 1)
						return -ERR_INVALID;
					c = (char)v;
					j += 2;
				}
				buf_putc(out, c);
			}
			return buf_ok(out) ? 1 : -ERR_NOMEM;
		}
		i = end + 1;
	}
	return 0;
}

static int
handle_github(struct receiver_result *out, const struct receiver_config *cfg,
              const struct receiver_request *req, bool bitbucket)
{
	const char *sig_name = "X-Hub-Signature-256";
	const char *sig = rx_header(req, sig_name);
	const char *event, *payload = req->body;
	size_t plen = req->len;
	struct buf form = BUF_INIT;
	char mt[128], show[80];
	int rc;

	if (sig == NULL || sig[0] == '\0') {
		sig_name = "X-Hub-Signature";
		sig = rx_header(req, sig_name);
	}
	if (need_token(out, cfg))
		return 0;
	rc = rx_check_hub_signature(out, cfg, sig_name, sig, req->body,
	                            req->len, false, false);
	if (rc != 0)
		return rc < 0 ? rc : 0;
	rx_media_type(mt, rx_header(req, "Content-Type"));
	if (strcmp(mt, "application/x-www-form-urlencoded") == 0) {
		rc = form_value(&form, req->body, req->len, "payload");
		if (rc < 0 && rc != -ERR_INVALID)
			goto out;
		if (rc < 0) {
			rc = rx_fail(out, 400, ERR_INVALID,
			             "form body has a bad %%-escape");
			goto out;
		}
		payload = form.ptr;
		plen = form.len;
	} else if (strcmp(mt, "application/json") != 0) {
		rc = rx_fail(out, 400, ERR_INVALID,
		             "unsupported Content-Type '%s' (want "
		             "application/json or "
		             "application/x-www-form-urlencoded)",
		             rx_show(show, mt));
		goto out;
	}
	event = rx_header(req, bitbucket ? "X-Event-Key" : "X-GitHub-Event");
	if (!rx_event_allowed(cfg, event)) {
		rc = rx_fail(out, 400, ERR_INVALID,
		             "event '%s' is not in the receiver's events",
		             rx_show(show, event ? event : ""));
		goto out;
	}
	rc = 0;
	if (bitbucket) {
		out->trigger_all = true;
		goto out;
	}
	if ((rc = rx_set_delivery_id(out,
	                             rx_header(req, "X-GitHub-Delivery"))) < 0)
		goto out;
	if (event != NULL && strcmp(event, "ping") == 0)
		goto out;
	if (event != NULL && (strcmp(event, "package") == 0 ||
	                      strcmp(event, "registry_package") == 0))
		rc = rx_parse_github_package(out, event, payload, plen, false);
	else
		out->trigger_all = true; /* push & co: Flux triggers all */
out:
	buf_release(&form);
	return rc;
}

static int
handle_gitlab(struct receiver_result *out, const struct receiver_config *cfg,
              const struct receiver_request *req)
{
	const char *tok = rx_header(req, "X-Gitlab-Token");
	const char *event = rx_header(req, "X-Gitlab-Event");
	char show[80];

	if (need_token(out, cfg))
		return 0;
	if (!rx_token_equal(cfg->token, tok, tok ? strlen(tok) : 0))
		return rx_fail(out, 401, ERR_AUTH,
		               "header 'X-Gitlab-Token' does not match the "
		               "receiver token");
	if (!rx_event_allowed(cfg, event))
		return rx_fail(out, 400, ERR_INVALID,
		               "event '%s' is not in the receiver's events",
		               rx_show(show, event ? event : ""));
	out->trigger_all = true;
	return 0;
}

static int
handle_generic_hmac(struct receiver_result *out,
                    const struct receiver_config *cfg,
                    const struct receiver_request *req)
{
	int rc;

	if (need_token(out, cfg))
		return 0;
	rc = rx_check_hub_signature(out, cfg, "X-Signature",
	                            rx_header(req, "X-Signature"), req->body,
	                            req->len, false, false);
	if (rc != 0)
		return rc < 0 ? rc : 0;
	out->trigger_all = true;
	return 0;
}

static int
handle_harbor(struct receiver_result *out, const struct receiver_config *cfg,
              const struct receiver_request *req)
{
	const char *auth = rx_header(req, "Authorization");

	if (need_token(out, cfg))
		return 0;
	if (!rx_token_equal(cfg->token, auth, auth ? strlen(auth) : 0))
		return rx_fail(out, 401, ERR_AUTH,
		               "header 'Authorization' does not match the "
		               "receiver token");
	return rx_parse_harbor(out, req->body, req->len);
}

static int
handle_nexus(struct receiver_result *out, const struct receiver_config *cfg,
             const struct receiver_request *req)
{
	const char *sig = rx_header(req, "X-Nexus-Webhook-Signature");
	unsigned char mac[20];
	char hex[41];
	cJSON *root = NULL;
	const char *s;
	bool ok;

	if (need_token(out, cfg))
		return 0;
	if (sig == NULL || sig[0] == '\0')
		return rx_fail(out, 401, ERR_AUTH,
		               "header 'X-Nexus-Webhook-Signature' is missing");
	if (rx_hmac_sha1(mac, cfg->token->ptr, cfg->token->len, req->body,
	                 req->len) < 0)
		return rx_fail(out, 500, ERR_INTERNAL,
		               "HMAC-SHA1 failed in libcrypto");
	sodium_bin2hex(hex, sizeof(hex), mac, sizeof(mac));
	/* Flux compares the lower-case hex strings */
	ok = strlen(sig) == 40 && sodium_memcmp(sig, hex, 40) == 0;
	sodium_memzero(mac, sizeof(mac));
	sodium_memzero(hex, sizeof(hex));
	if (!ok)
		return rx_fail(out, 401, ERR_AUTH,
		               "signature in 'X-Nexus-Webhook-Signature' does "
		               "not match the body");
	if (rx_parse_json(out, &root, req->body, req->len, "Nexus payload"))
		return 0;
	/* Flux decodes it into a struct: an object, or null */
	if (cJSON_IsNull(root))
		out->trigger_all = true;
	else if (!cJSON_IsObject(root))
		rx_fail(out, 400, ERR_INVALID,
		        "Nexus payload is not a JSON object");
	else if (rx_json_string(out, root, "action", &s) >= 0 &&
	         rx_json_string(out, root, "repositoryName", &s) >= 0)
		out->trigger_all = true;
	cJSON_Delete(root);
	return 0;
}

static int
handle_cdevents(struct receiver_result *out, const struct receiver_config *cfg,
                const struct receiver_request *req)
{
	static const char *const need[] = { "context.id", "context.source",
		                            "context.type", "context.version" };
	const char *event = rx_header(req, "Ce-Type");
	const char *v, *id = NULL;
	const cJSON *subject;
	cJSON *root = NULL;
	char show[80];
	int rc = 0;

	if (rx_parse_json(out, &root, req->body, req->len, "CDEvent"))
		return 0;
	if (!cJSON_IsObject(root)) {
		rx_fail(out, 400, ERR_INVALID, "CDEvent is not a JSON object");
		goto out;
	}
	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
		int r = rx_json_string(out, root, need[i], &v);
		if (r < 0)
			goto out;
		if (r == 0 || v[0] == '\0') {
			rx_fail(out, 400, ERR_INVALID,
			        "CDEvent: field '%s' is missing", need[i]);
			goto out;
		}
		if (i == 0)
			id = v;
	}
	if (rx_json_object(out, root, "subject", &subject) < 0)
		goto out;
	if (subject == NULL) {
		rx_fail(out, 400, ERR_INVALID,
		        "CDEvent: field 'subject' is missing");
		goto out;
	}
	if (!rx_event_allowed(cfg, event)) {
		rx_fail(out, 400, ERR_INVALID,
		        "event '%s' is not in the receiver's events",
		        rx_show(show, event ? event : ""));
		goto out;
	}
	if ((rc = rx_set_delivery_id(out, id)) < 0)
		goto out;
	out->trigger_all = true;
out:
	cJSON_Delete(root);
	return rc;
}

/* ---- ferry's distribution type ---- */

static bool
manifest_media_type(const char *mt)
{
	static const char *const types[] = {
		"application/vnd.docker.distribution.manifest.v1+json",
		"application/vnd.docker.distribution.manifest.v1+prettyjws",
		"application/vnd.docker.distribution.manifest.v2+json",
		"application/vnd.docker.distribution.manifest.list.v2+json",
		"application/vnd.oci.image.manifest.v1+json",
		"application/vnd.oci.image.index.v1+json",
	};

	if (mt == NULL)
		return false;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(mt, types[i]) == 0)
			return true;
	return false;
}

static int
handle_distribution(struct receiver_result *out,
                    const struct receiver_config *cfg,
                    const struct receiver_request *req)
{
	const char *auth = rx_header(req, "Authorization");
	const cJSON *events = NULL, *ev;
	cJSON *root = NULL;
	char mt[128], show[80];
	int rc = 0;

	if (need_token(out, cfg))
		return 0;
	if (auth == NULL || strncasecmp(auth, "Bearer ", 7) != 0 ||
	    !rx_token_equal(cfg->token, auth + 7, strlen(auth + 7)))
		return rx_fail(out, 401, ERR_AUTH,
		               "header 'Authorization' is not 'Bearer' with "
		               "the receiver token");
	rx_media_type(mt, rx_header(req, "Content-Type"));
	if (strcmp(mt, "application/vnd.docker.distribution.events.v1+json") !=
	            0 &&
	    strcmp(mt, "application/vnd.docker.distribution.events.v2+json") !=
	            0)
		return rx_fail(out, 400, ERR_INVALID,
		               "unsupported Content-Type '%s' (want "
		               "application/vnd.docker.distribution.events."
		               "v1+json or v2+json)",
		               rx_show(show, mt));
	if (rx_parse_json(out, &root, req->body, req->len,
	                  "distribution notification"))
		return 0;
	if (rx_json_array(out, root, "events", &events) < 0)
		goto out;
	if (events == NULL) {
		rx_fail(out, 400, ERR_INVALID,
		        "distribution notification has no 'events' array");
		goto out;
	}
	cJSON_ArrayForEach(ev, events)
	{
		const char *action = NULL, *mtype = NULL, *repo = NULL;
		const char *tag = NULL, *digest = NULL, *host = NULL;
		const char *id = NULL;
		if (!cJSON_IsObject(ev)) {
			rx_fail(out, 400, ERR_INVALID,
			        "distribution notification: an event is not "
			        "an object");
			goto out;
		}
		if (rx_json_string(out, ev, "id", &id) < 0 ||
		    rx_json_string(out, ev, "action", &action) < 0 ||
		    rx_json_string(out, ev, "target.mediaType", &mtype) < 0 ||
		    rx_json_string(out, ev, "target.repository", &repo) < 0 ||
		    rx_json_string(out, ev, "target.tag", &tag) < 0 ||
		    rx_json_string(out, ev, "target.digest", &digest) < 0 ||
		    rx_json_string(out, ev, "request.host", &host) < 0)
			goto out;
		if (cJSON_GetArraySize(events) == 1 &&
		    (rc = rx_set_delivery_id(out, id)) < 0)
			goto out;
		/* pulls, mounts, deletes and blob pushes: nothing new */
		if (action == NULL || strcmp(action, "push") != 0 ||
		    !manifest_media_type(mtype))
			continue;
		rc = rx_event_add(out, host, repo, tag, digest, id);
		if (rc < 0 || out->status != 0)
			goto out;
	}
out:
	cJSON_Delete(root);
	return rc;
}

/* ---- dispatch ---- */

static int
dispatch(struct receiver_result *out, const struct receiver_config *cfg,
         const struct receiver_request *req)
{
	switch (cfg->type) {
	case RECEIVER_GENERIC:
		out->trigger_all = true;
		return 0;
	case RECEIVER_GENERIC_HMAC:
		return handle_generic_hmac(out, cfg, req);
	case RECEIVER_GITHUB:
		return handle_github(out, cfg, req, false);
	case RECEIVER_BITBUCKET:
		return handle_github(out, cfg, req, true);
	case RECEIVER_GITLAB:
		return handle_gitlab(out, cfg, req);
	case RECEIVER_HARBOR:
		return handle_harbor(out, cfg, req);
	case RECEIVER_DOCKERHUB:
		return rx_parse_dockerhub(out, req->body, req->len);
	case RECEIVER_QUAY:
		return rx_parse_quay(out, req->body, req->len);
	case RECEIVER_ACR:
		return rx_parse_acr(out, req->body, req->len);
	case RECEIVER_NEXUS:
		return handle_nexus(out, cfg, req);
	case RECEIVER_GCR:
		return rx_handle_gcr(out, cfg, req);
	case RECEIVER_CDEVENTS:
		return handle_cdevents(out, cfg, req);
	case RECEIVER_DISTRIBUTION:
		return handle_distribution(out, cfg, req);
	case RECEIVER_ARGO_DOCKER:
	case RECEIVER_ARGO_GHCR:
	case RECEIVER_ARGO_HARBOR:
	case RECEIVER_ARGO_QUAY:
	case RECEIVER_ARGO_ALIYUN_ACR:
	case RECEIVER_ARGO_ACR:
	case RECEIVER_ARGO_CLOUDEVENTS:
		return rx_handle_argo(out, cfg, req);
	case RECEIVER_TYPE_COUNT:
		break;
	}
	return -ERR_INTERNAL;
}

static void
events_release(struct receiver_result *r)
{
	for (size_t i = 0; i < r->nevents; i++)
		event_release(&r->events[i]);
	free(r->events);
	r->events = NULL;
	r->nevents = 0;
}

int
receiver_handle(struct receiver_result *out, const struct receiver_config *cfg,
                const struct receiver_request *req)
{
	char show[80];
	int rc;

	*out = (struct receiver_result)RECEIVER_RESULT_INIT;
	if (req->method == NULL || strcmp(req->method, "POST") != 0)
		return rx_fail(out, 405, ERR_INVALID,
		               "method '%s' is not allowed (want POST)",
		               rx_show(show, req->method ? req->method : ""));
	if (req->len > RECEIVER_MAX_BODY)
		return rx_fail(out, 413, ERR_INVALID,
		               "body of %zu bytes is over the limit of %zu",
		               req->len, RECEIVER_MAX_BODY);
	if (req->body == NULL && req->len > 0)
		return rx_fail(out, 400, ERR_INVALID, "body is missing");
	rc = dispatch(out, cfg, req);
	if (rc < 0) {
		int code = rc == -ERR_NOMEM ? ERR_NOMEM : ERR_INTERNAL;
		events_release(out);
		out->trigger_all = false;
		rx_fail(out, 500, code, "%s",
		        rc == -ERR_NOMEM ? "out of memory"
		                         : "receiver type is not known");
		return rc;
	}
	if (out->status == 0) {
		if (out->nevents == 0 && out->nrejected > 0) {
			char first[ERR_MSG_MAX];
			snprintf(first, sizeof(first), "%s", out->why.msg);
			rx_fail(out, 400, ERR_INVALID,
			        "no event passed validation: %s", first);
		} else {
			out->status = 200;
		}
	}
	if (out->status >= 300) {
		events_release(out);
		out->trigger_all = false;
	}
	return 0;
}

void
receiver_result_release(struct receiver_result *r)
{
	events_release(r);
	free(r->delivery_id);
	*r = (struct receiver_result)RECEIVER_RESULT_INIT;
}

int
receiver_event_key(struct buf *out, const struct receiver_event *ev)
{
	buf_puts(out, ev->host ? ev->host : "");
	buf_putc(out, '/');
	buf_puts(out, ev->repository ? ev->repository : "");
	buf_putc(out, ':');
	buf_puts(out, ev->tag ? ev->tag : "");
	buf_putc(out, '@');
	buf_puts(out, ev->digest ? ev->digest : "");
	return buf_ok(out) ? 0 : -ERR_NOMEM;
}
