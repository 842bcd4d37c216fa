/*
 * registry.c - the event loop that scans registries: one libcurl multi
 * handle, a queue of requests with per-host concurrency and rate limits,
 * and a small state machine per image (tags pages, then manifests).
 *
 * It does not decide anything about versions (policy/ does) and keeps no
 * state on disk: the token and metadata caches live as long as the client.
 * Requests are always made with the full manifest Accept list, because
 * distribution 2.8 answers a narrower Accept with 404 or a converted
 * schema1 manifest whose digest differs.
 */
#include "registry.h"

#include <curl/curl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "base/buf.h"
#include "base/imageref.h"
#include "base/log.h"
#include "base/regex.h"
#include "base/util.h"
#include "protocol.h"
#include "reference.h"

#define MOD "registry"
#define USER_AGENT "ferry/0.1 (+libcurl)"
#define MAX_AUTH_ROUNDS 4 /* 401s answered per request */
#define MAX_WARNED_TAGS 10
#define DEFAULT_PLATFORM "linux/amd64"

static const char accept_manifests[] =
        "Accept: application/vnd.oci.image.index.v1+json, "
        "application/vnd.docker.distribution.manifest.list.v2+json, "
        "application/vnd.oci.image.manifest.v1+json, "
        "application/vnd.docker.distribution.manifest.v2+json";

enum req_kind {
	REQ_TAGS,
	REQ_TOKEN,
	REQ_HEAD,
	REQ_MANIFEST, /* manifest (or index) by digest */
	REQ_CHILD,    /* the platform's manifest out of an index */
	REQ_BLOB,     /* config blob */
};

static const char *const kind_names[] = { "tag list",      "token",
	                                  "manifest HEAD", "manifest",
	                                  "manifest",      "config blob" };

struct host {
	char *origin; /* "https://host:port" */
	int inflight;
	uint64_t next_start_ms;
	char *realm; /* last Bearer challenge seen here */
	char *service;
	bool basic;              /* last challenge was Basic */
	long long hub_remaining; /* -1: unknown */
	bool told_foreign_realm; /* logged that credentials go here */
};

struct job;

struct req {
	struct job *job;
	enum req_kind kind;
	size_t tag; /* index into job->meta */
	struct buf url;
	struct buf post; /* form body for a token POST; empty: GET */
	bool foreign;    /* another origin: never send Authorization */
	bool basic_to_realm;
	bool anonymous; /* a token request that must not carry credentials */
	CURL *easy;
	struct curl_slist *hdrs;
	struct buf body;
	size_t body_max;
	bool too_big;
	struct buf challenges; /* WWW-Authenticate values, '\n'-separated */
	struct buf link, ctype, digest, retry_after, ratelimit;
	long status;
	int attempts;
	int auth_rounds;
	unsigned sent_gen;
	uint64_t not_before_ms;
	char errbuf[CURL_ERROR_SIZE];
	struct host *host;
	struct req *next;    /* pending list or token waiters */
	char *expect_digest; /* for digest-addressed GETs */
	char *t_realm, *t_service, *t_scopes; /* token requests */
};

struct meta_entry {
	char *key; /* digest + "|" + platform */
	char *created;
	int64_t created_unix;
	char *platform;
};

/*
 * Several threads may scan through one client at once.  Everything below
 * `mu` is guarded by it.  The multi handle is driven by one thread at a
 * time (`driving`): a caller whose scans are not done either drives a turn
 * of the loop for everyone's requests, or waits on `turned` for the driver
 * to finish its turn.  The driver waits for the network with the lock
 * released; a caller that queues requests meanwhile wakes it with
 * curl_multi_wakeup().
 */
struct registry_client {
	struct registry_options o;
	pthread_mutex_t mu;
	pthread_cond_t turned;
	bool driving;
	CURLM *multi;
	struct auth_cache *tokens;
	struct host **hosts;
	size_t nhosts;
	struct req *pending;
	size_t active_jobs;
	struct meta_entry *meta; /* open addressing, cap a power of two */
	size_t nmeta, capmeta;
	uint64_t now_ms;
};

struct job {
	struct registry_client *c;
	const struct registry_image *img;
	struct registry_scan *out;
	struct reference ref;
	struct auth_cred cred;
	struct regex **excl;
	size_t nexcl;
	struct regex_match *md;
	struct buf origin;
	struct host *host;
	struct secret authz; /* "Authorization: ..." for the registry */
	unsigned authz_gen;
	struct buf token_key;
	bool token_inflight;
	struct req *token_waiters;
	int refreshes;
	char **tags;
	size_t ntags, captags;
	size_t dropped;
	int pages;
	struct buf last_url;
	struct registry_tag *meta;
	size_t nmeta, next_meta, meta_done;
	int meta_inflight;
	const char *platform;
	size_t outstanding;   /* requests alive */
	uint64_t deadline_ms; /* 0: none (scan_timeout_ms) */
	bool failed, succeeded, reported;
	struct err err;
	int rc;
};

static uint64_t
now_ms(void)
{
	return (uint64_t)mono_ms();
}

/* Registry text in error messages: printable ASCII only. */
static void
sanitize(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			*s = '?';
}

static void req_free(struct req *r);

static int job_fail(struct job *j, int code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static int
job_fail(struct job *j, int code, const char *fmt, ...)
{
	va_list ap;
	char msg[ERR_MSG_MAX];

	if (j->failed)
		return -code;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	sanitize(msg);
	j->failed = true;
	j->rc = err_set(&j->err, code, "image '%s': %s", j->img->image, msg);
	/* requests parked on a token fetch will never run now */
	while (j->token_waiters != NULL) {
		struct req *w = j->token_waiters;
		j->token_waiters = w->next;
		req_free(w);
	}
	return j->rc;
}

/* ---- hosts ---- */

static void
origin_of(struct buf *out, const char *url)
{
	const char *p = strstr(url, "://"), *end;

	if (p == NULL) {
		buf_puts(out, url);
		return;
	}
	end = strchr(p + 3, '/');
	buf_add(out, url, end ? (size_t)(end - url) : strlen(url));
	/* lower-case the scheme and host for comparison */
	for (char *q = out->ptr; *q; q++)
		if (*q >= 'A' && *q <= 'Z')
			*q = (char)(*q - 'A' + 'a');
}

static struct host *
host_get(struct registry_client *c, const char *url)
{
	struct buf o = BUF_INIT;
	struct host *h = NULL, **hs;
	size_t i;

	origin_of(&o, url);
	if (!buf_ok(&o))
		goto out;
	for (i = 0; i < c->nhosts; i++)
		if (strcmp(c->hosts[i]->origin, o.ptr) == 0) {
			h = c->hosts[i];
			goto out;
		}
	hs = reallocarray(c->hosts, c->nhosts + 1, sizeof(*hs));
	if (hs == NULL)
		goto out;
	c->hosts = hs;
	h = calloc(1, sizeof(*h));
	if (h == NULL)
		goto out;
	h->origin = buf_detach(&o);
	if (h->origin == NULL) {
		free(h);
		h = NULL;
		goto out;
	}
	h->hub_remaining = -1;
	c->hosts[c->nhosts++] = h;
out:
	buf_release(&o);
	return h;
}

/* ---- metadata cache (by digest and platform) ---- */

static uint64_t
hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static struct meta_entry *
meta_find(struct registry_client *c, const char *key)
{
	size_t i;

	if (c->capmeta == 0)
		return NULL;
	for (i = hash_str(key) & (c->capmeta - 1); c->meta[i].key;
	     i = (i + 1) & (c->capmeta - 1))
		if (strcmp(c->meta[i].key, key) == 0)
			return &c->meta[i];
	return NULL;
}

static int
meta_put(struct registry_client *c, const char *key, const char *created,
         int64_t created_unix, const char *platform)
{
	struct meta_entry *nm, e;
	size_t ncap, i, k;

	if (meta_find(c, key) != NULL)
		return 0;
	if ((c->nmeta + 1) * 2 > c->capmeta) {
		ncap = c->capmeta ? c->capmeta * 2 : 64;
		nm = calloc(ncap, sizeof(*nm));
		if (nm == NULL)
			return -ERR_NOMEM;
		for (k = 0; k < c->capmeta; k++) {
			if (c->meta[k].key == NULL)
				continue;
			for (i = hash_str(c->meta[k].key) & (ncap - 1);
			     nm[i].key; i = (i + 1) & (ncap - 1))
				;
			nm[i] = c->meta[k];
		}
		free(c->meta);
		c->meta = nm;
		c->capmeta = ncap;
	}
	e.key = strdup(key);
	e.created = created ? strdup(created) : NULL;
	e.platform = platform ? strdup(platform) : NULL;
	e.created_unix = created_unix;
	if (e.key == NULL || (created && !e.created) ||
	    (platform && !e.platform)) {
		free(e.key);
		free(e.created);
		free(e.platform);
		return -ERR_NOMEM;
	}
	for (i = hash_str(key) & (c->capmeta - 1); c->meta[i].key;
	     i = (i + 1) & (c->capmeta - 1))
		;
	c->meta[i] = e;
	c->nmeta++;
	return 0;
}

/* ---- requests ---- */

/* Header lists hold Authorization: wipe them before they are freed. */
static void
slist_free_wiped(struct curl_slist *l)
{
	struct curl_slist *p;

	for (p = l; p; p = p->next)
		secret_wipe(p->data, strlen(p->data));
	curl_slist_free_all(l);
}

static void
req_free(struct req *r)
{
	if (r == NULL)
		return;
	if (r->easy)
		curl_easy_cleanup(r->easy);
	slist_free_wiped(r->hdrs);
	buf_release(&r->url);
	secret_wipe(r->post.ptr, r->post.len);
	buf_release(&r->post);
	secret_wipe(r->body.ptr, r->body.len);
	buf_release(&r->body);
	buf_release(&r->challenges);
	buf_release(&r->link);
	buf_release(&r->ctype);
	buf_release(&r->digest);
	buf_release(&r->retry_after);
	buf_release(&r->ratelimit);
	free(r->expect_digest);
	free(r->t_realm);
	free(r->t_service);
	free(r->t_scopes);
	if (r->job)
		r->job->outstanding--;
	free(r);
}

static struct req *
req_new(struct job *j, enum req_kind kind, const char *url)
{
	struct req *r = calloc(1, sizeof(*r));
	struct buf o = BUF_INIT;

	if (r == NULL)
		return NULL;
	r->job = j;
	j->outstanding++;
	r->kind = kind;
	r->url = (struct buf)BUF_INIT;
	r->post = (struct buf)BUF_INIT;
	r->body = (struct buf)BUF_INIT;
	r->challenges = (struct buf)BUF_INIT;
	r->link = (struct buf)BUF_INIT;
	r->ctype = (struct buf)BUF_INIT;
	r->digest = (struct buf)BUF_INIT;
	r->retry_after = (struct buf)BUF_INIT;
	r->ratelimit = (struct buf)BUF_INIT;
	buf_puts(&r->url, url);
	r->body_max = kind == REQ_TAGS    ? REGISTRY_MAX_BODY
	              : kind == REQ_TOKEN ? REGISTRY_MAX_TOKEN_BODY
	                                  : REGISTRY_MAX_MANIFEST;
	origin_of(&o, url);
	if (kind != REQ_TOKEN && buf_ok(&o) &&
	    strcmp(o.ptr, j->origin.ptr) != 0)
		r->foreign = true;
	buf_release(&o);
	r->host = host_get(j->c, url);
	if (!buf_ok(&r->url) || r->host == NULL) {
		req_free(r);
		return NULL;
	}
	return r;
}

static void
enqueue(struct req *r, uint64_t delay_ms)
{
	struct registry_client *c = r->job->c;

	r->not_before_ms = now_ms() + delay_ms;
	r->next = c->pending;
	c->pending = r;
}

static size_t
on_body(char *p, size_t size, size_t n, void *payload)
{
	struct req *r = payload;
	size_t len = size * n;

	/* the limit is enforced while reading, not after */
	if (r->body.len + len > r->body_max) {
		r->too_big = true;
		return 0;
	}
	if (buf_add(&r->body, p, len) < 0)
		return 0;
	return len;
}

static void
header_value(struct buf *dst, const char *p, size_t len, size_t nlen,
             bool append)
{
	size_t s = nlen + 1, e = len;

	while (s < e && (p[s] == ' ' || p[s] == '\t'))
		s++;
	while (e > s && (p[e - 1] == '\r' || p[e - 1] == '\n' ||
	                 p[e - 1] == ' ' || p[e - 1] == '\t'))
		e--;
	if (append) {
		if (dst->len)
			buf_putc(dst, '\n');
	} else
		buf_reset(dst);
	buf_add(dst, p + s, e - s);
}

static bool
is_header(const char *p, size_t len, const char *name)
{
	size_t n = strlen(name);

	return len > n && p[n] == ':' && strncasecmp(p, name, n) == 0;
}

static size_t
on_header(char *p, size_t size, size_t n, void *payload)
{
	struct req *r = payload;
	size_t len = size * n;

	if (len > 5 && memcmp(p, "HTTP/", 5) == 0) {
		/* a new response (after a redirect): forget the last one */
		buf_reset(&r->challenges);
		buf_reset(&r->link);
		buf_reset(&r->ctype);
		buf_reset(&r->digest);
		buf_reset(&r->retry_after);
		buf_reset(&r->ratelimit);
		buf_reset(&r->body);
	} else if (is_header(p, len, "www-authenticate"))
		header_value(&r->challenges, p, len, 16, true);
	else if (is_header(p, len, "link"))
		header_value(&r->link, p, len, 4, r->link.len > 0);
	else if (is_header(p, len, "content-type"))
		header_value(&r->ctype, p, len, 12, false);
	else if (is_header(p, len, "docker-content-digest"))
		header_value(&r->digest, p, len, 21, false);
	else if (is_header(p, len, "retry-after"))
		header_value(&r->retry_after, p, len, 11, false);
	else if (is_header(p, len, "ratelimit-remaining"))
		header_value(&r->ratelimit, p, len, 19, false);
	if (r->link.len > PROTOCOL_MAX_LINK * 2 ||
	    r->challenges.len > AUTH_MAX_HEADER * 4)
		return 0;
	return len;
}

static int
req_setup(struct req *r)
{
	struct job *j = r->job;
	const struct registry_image *img = j->img;
	const struct registry_options *o = &j->c->o;
	CURL *e;
	struct curl_slist *h;

	if (r->easy) {
		curl_easy_cleanup(r->easy);
		r->easy = NULL;
	}
	slist_free_wiped(r->hdrs);
	r->hdrs = NULL;
	buf_reset(&r->body);
	buf_reset(&r->challenges);
	buf_reset(&r->link);
	buf_reset(&r->ctype);
	buf_reset(&r->digest);
	buf_reset(&r->retry_after);
	buf_reset(&r->ratelimit);
	r->too_big = false;
	r->status = 0;
	r->errbuf[0] = '\0';
	e = r->easy = curl_easy_init();
	if (e == NULL)
		return -ERR_NOMEM;
	curl_easy_setopt(e, CURLOPT_URL, r->url.ptr);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PRIVATE, r);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
	{
		/* A request never outlives its scan's deadline. */
		long t = o->timeout_ms;
		uint64_t now = now_ms(), dl = r->job->deadline_ms;
		if (dl && dl > now && (long)(dl - now) < t)
			t = (long)(dl - now);
		else if (dl && dl <= now)
			t = 1;
		curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, t);
	}
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms);
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(e, CURLOPT_MAXREDIRS, (long)REGISTRY_MAX_REDIRECTS);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
	curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(e, CURLOPT_USERAGENT, USER_AGENT);
	if (img->ca_pem != NULL) {
		struct curl_blob b = { (void *)img->ca_pem, img->ca_pem_len,
			               CURL_BLOB_COPY };
		curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &b);
	}
	if (img->cert_pem != NULL && img->key_pem != NULL) {
		struct curl_blob cb = { (void *)img->cert_pem,
			                img->cert_pem_len, CURL_BLOB_COPY };
		struct curl_blob kb = { (void *)img->key_pem, img->key_pem_len,
			                CURL_BLOB_COPY };
		curl_easy_setopt(e, CURLOPT_SSLCERT_BLOB, &cb);
		curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
		curl_easy_setopt(e, CURLOPT_SSLKEY_BLOB, &kb);
		curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM");
	}
	h = NULL;
	if (r->kind == REQ_HEAD || r->kind == REQ_MANIFEST ||
	    r->kind == REQ_CHILD)
		h = curl_slist_append(h, accept_manifests);
	else
		h = curl_slist_append(h, "Accept: application/json");
	if (h == NULL)
		return -ERR_NOMEM;
	r->hdrs = h;
	if (r->kind == REQ_HEAD)
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	if (r->kind == REQ_TOKEN) {
		if (r->basic_to_realm && j->cred.username != NULL) {
			struct buf a = BUF_INIT;
			struct buf raw = BUF_INIT;
			buf_addf(&raw, "%s:", j->cred.username);
			buf_add(&raw, j->cred.password.ptr,
			        j->cred.password.len);
			buf_puts(&a, "Authorization: Basic ");
			base64_encode(&a, raw.ptr, raw.len);
			secret_wipe(raw.ptr, raw.len);
			buf_release(&raw);
			if (!buf_ok(&a))
				return -ERR_NOMEM;
			h = curl_slist_append(r->hdrs, a.ptr);
			secret_wipe(a.ptr, a.len);
			buf_release(&a);
			if (h == NULL)
				return -ERR_NOMEM;
			r->hdrs = h;
		}
		if (r->post.len > 0) {
			curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE,
			                 (long)r->post.len);
			curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS,
			                 r->post.ptr);
		}
	} else if (!r->foreign && j->authz.len > 0) {
		h = curl_slist_append(r->hdrs, (const char *)j->authz.ptr);
		if (h == NULL)
			return -ERR_NOMEM;
		r->hdrs = h;
	}
	r->sent_gen = j->authz_gen;
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->hdrs);
	return 0;
}

/* ---- job helpers ---- */

static int
set_authz(struct job *j, const char *scheme, const void *cred, size_t len)
{
	struct buf a = BUF_INIT;
	int rc = 0;

	buf_addf(&a, "Authorization: %s ", scheme);
	buf_add(&a, cred, len);
	if (!buf_ok(&a) || secret_set(&j->authz, a.ptr, a.len) < 0)
		rc = -ERR_NOMEM;
	j->authz_gen++;
	secret_wipe(a.ptr, a.len);
	buf_release(&a);
	return rc;
}

static int
set_basic(struct job *j)
{
	struct buf raw = BUF_INIT, enc = BUF_INIT;
	int rc;

	buf_addf(&raw, "%s:", j->cred.username);
	buf_add(&raw, j->cred.password.ptr, j->cred.password.len);
	base64_encode(&enc, raw.ptr, raw.len);
	rc = buf_ok(&enc) ? set_authz(j, "Basic", enc.ptr, enc.len)
	                  : -ERR_NOMEM;
	secret_wipe(raw.ptr, raw.len);
	secret_wipe(enc.ptr, enc.len);
	buf_release(&raw);
	buf_release(&enc);
	return rc;
}

static void
default_scope(struct buf *out, struct job *j)
{
	buf_addf(out, "repository:%s:pull", j->ref.path);
}

static int
url_escape_add(struct buf *out, const char *s, size_t len)
{
	char *e = curl_easy_escape(NULL, s, (int)len);

	if (e == NULL)
		return -ERR_NOMEM;
	buf_puts(out, e);
	curl_free(e);
	return 0;
}

/*
 * Fills a token request's URL (GET: service, one scope= per scope, account)
 * or form body (POST: the OAuth2 refresh_token grant, as distribution does
 * when it holds an identity token).
 */
static int
token_prepare(struct req *t, bool post)
{
	struct job *j = t->job;
	const char *p, *sp, *scopes = t->t_scopes;

	buf_reset(&t->url);
	secret_wipe(t->post.ptr, t->post.len);
	buf_reset(&t->post);
	buf_puts(&t->url, t->t_realm);
	if (post) {
		buf_puts(&t->post, "grant_type=refresh_token&client_id=ferry");
		if (t->t_service) {
			buf_puts(&t->post, "&service=");
			url_escape_add(&t->post, t->t_service,
			               strlen(t->t_service));
		}
		buf_puts(&t->post, "&scope=");
		url_escape_add(&t->post, scopes, strlen(scopes));
		buf_puts(&t->post, "&refresh_token=");
		url_escape_add(&t->post,
		               (const char *)j->cred.identity_token.ptr,
		               j->cred.identity_token.len);
		t->basic_to_realm = false;
		return buf_ok(&t->post) && buf_ok(&t->url) ? 0 : -ERR_NOMEM;
	}
	buf_putc(&t->url, strchr(t->t_realm, '?') ? '&' : '?');
	buf_puts(&t->url, "service=");
	if (t->t_service)
		url_escape_add(&t->url, t->t_service, strlen(t->t_service));
	for (p = scopes; *p;) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		sp = strchr(p, ' ');
		if (sp == NULL)
			sp = p + strlen(p);
		buf_puts(&t->url, "&scope=");
		url_escape_add(&t->url, p, (size_t)(sp - p));
		p = sp;
	}
	if (j->cred.username && !t->anonymous) {
		buf_puts(&t->url, "&account=");
		url_escape_add(&t->url, j->cred.username,
		               strlen(j->cred.username));
	}
	t->basic_to_realm = j->cred.username != NULL && !t->anonymous;
	return buf_ok(&t->url) ? 0 : -ERR_NOMEM;
}

/* Starts a token request for realm/service/scopes; r waits for it. */
/*
 * May the registry's credentials go to this token realm?  A realm on the
 * registry's own origin: yes.  Elsewhere: over HTTPS (said in the log
 * once per realm host, since the registry chose to send them there), or
 * over plain HTTP only when the ImageRepository is insecure; else the
 * token is asked for anonymously, and the log says why.  Docker sends
 * them anywhere; a registry that names a plain-HTTP realm elsewhere is
 * how a password leaks on the network.
 */
static void
realm_credentials(struct job *j, struct req *t, const char *realm)
{
	bool https = strncasecmp(realm, "https://", 8) == 0;
	bool have = j->cred.username != NULL || j->cred.identity_token.len > 0;
	struct buf o = BUF_INIT;
	bool same;

	if (!have)
		return;
	origin_of(&o, realm);
	same = buf_ok(&o) && strcmp(o.ptr, j->origin.ptr) == 0;
	buf_release(&o);
	if (same)
		return;
	/* Plain HTTP anywhere but the registry's own (insecure) origin. */
	if (!https && !j->img->insecure) {
		t->anonymous = true;
		if (!t->host->told_foreign_realm) {
			char lu[512];
			t->host->told_foreign_realm = true;
			log_warn(
			        MOD, "realm_credentials_withheld", "image",
			        j->img->image, "realm",
			        log_url(lu, sizeof(lu), realm), "reason",
			        "the token realm is on another host over plain "
			        "HTTP; set spec.insecure: true to allow it");
		}
		return;
	}
	if (!t->host->told_foreign_realm) {
		char lu[512];
		t->host->told_foreign_realm = true;
		log_info(MOD, "realm_credentials_sent", "image", j->img->image,
		         "realm", log_url(lu, sizeof(lu), realm), "transport",
		         https ? "https" : "http (insecure)");
	}
}

static int
token_fetch(struct job *j, struct req *r, const char *realm,
            const char *service, const char *scopes)
{
	struct req *t;

	r->next = j->token_waiters;
	j->token_waiters = r;
	if (j->token_inflight)
		return 0;
	if (strncasecmp(realm, "https://", 8) != 0 &&
	    strncasecmp(realm, "http://", 7) != 0)
		return job_fail(j, ERR_AUTH,
		                "token realm '%.200s' is not an http(s) URL",
		                realm);
	t = req_new(j, REQ_TOKEN, realm);
	if (t == NULL)
		return job_fail(j, ERR_NOMEM, "out of memory");
	realm_credentials(j, t, realm);
	t->t_realm = strdup(realm);
	t->t_service = service ? strdup(service) : NULL;
	t->t_scopes = strdup(scopes);
	if (t->t_realm == NULL || (service && !t->t_service) ||
	    t->t_scopes == NULL ||
	    token_prepare(t, j->cred.identity_token.len > 0 && !t->anonymous) <
	            0) {
		req_free(t);
		return job_fail(j, ERR_NOMEM, "out of memory");
	}
	j->token_inflight = true;
	enqueue(t, 0);
	return 0;
}

static void
resume_waiters(struct job *j)
{
	struct req *w = j->token_waiters, *next;

	j->token_waiters = NULL;
	for (; w; w = next) {
		next = w->next;
		if (j->failed)
			req_free(w);
		else
			enqueue(w, 0);
	}
}

static int
retry(struct req *r, uint64_t min_delay_ms, const char *why)
{
	struct job *j = r->job;
	const struct registry_options *o = &j->c->o;
	uint64_t d;
	char lu[512];

	if (r->attempts >= o->max_retries) {
		log_url(lu, sizeof(lu), r->url.ptr);
		return job_fail(j, ERR_TRANSIENT, "%s %s: %s after %d attempts",
		                kind_names[r->kind], lu, why, r->attempts + 1);
	}
	d = (uint64_t)o->backoff_ms << (r->attempts < 16 ? r->attempts : 16);
	d += d > 1 ? randombytes_uniform((uint32_t)(d / 2 + 1)) : 0;
	if (d < min_delay_ms)
		d = min_delay_ms;
	if (j->deadline_ms && now_ms() + d >= j->deadline_ms) {
		log_url(lu, sizeof(lu), r->url.ptr);
		return job_fail(j, ERR_TRANSIENT,
		                "%s %s: %s; no time left to retry within the "
		                "scan's timeout of %ld ms",
		                kind_names[r->kind], lu, why,
		                j->img->scan_timeout_ms);
	}
	r->attempts++;
	{
		char a[32];
		log_url(lu, sizeof(lu), r->url.ptr);
		log_info(MOD, "retry", "image", j->img->image, "url", lu,
		         "reason", why, "attempt", log_num(a, r->attempts));
	}
	enqueue(r, d);
	return 0;
}

/* ---- tags ---- */

static int
tag_add(const char *tag, size_t len, void *payload)
{
	struct job *j = payload;
	char **nt;

	if (!imageref_tag_valid(tag, len)) {
		if (j->dropped++ < MAX_WARNED_TAGS)
			log_warn(MOD, "tag_dropped", "image", j->img->image,
			         "tag", tag, "reason",
			         "outside the OCI tag grammar");
		return 0;
	}
	if (j->ntags >= REGISTRY_MAX_TAGS)
		return err_set(&j->err, ERR_NOMEM, "more than %d tags",
		               REGISTRY_MAX_TAGS);
	if (j->ntags == j->captags) {
		size_t ncap = j->captags ? j->captags * 2 : 64;
		nt = reallocarray(j->tags, ncap, sizeof(*nt));
		if (nt == NULL)
			return err_set(&j->err, ERR_NOMEM, "out of memory");
		j->tags = nt;
		j->captags = ncap;
	}
	j->tags[j->ntags] = strndup(tag, len);
	if (j->tags[j->ntags] == NULL)
		return err_set(&j->err, ERR_NOMEM, "out of memory");
	j->ntags++;
	return 0;
}

static int
cmp_tag(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool
excluded(struct job *j, const char *tag)
{
	size_t i;

	/* a tag that reaches a match limit counts as excluded: it fails that
	 * tag, not the scan */
	for (i = 0; i < j->nexcl; i++)
		if (regex_exec(j->excl[i], j->md, tag, strlen(tag)) != 0)
			return true;
	return false;
}

static void job_pump(struct job *j);

static void
job_succeed(struct job *j)
{
	struct registry_scan *s = j->out;
	struct buf name = BUF_INIT;

	reference_name(&name, &j->ref);
	if (!buf_ok(&name)) {
		job_fail(j, ERR_NOMEM, "out of memory");
		return;
	}
	if (j->img->only_tags != NULL) {
		/* Confirming: a tag whose HEAD found nothing is not there. */
		size_t k = 0;
		for (size_t i = 0; i < j->nmeta; i++) {
			if (j->meta[i].digest == NULL) {
				free(j->meta[i].name);
				continue;
			}
			j->meta[k++] = j->meta[i];
		}
		j->nmeta = k;
	}
	registry_scan_release(s);
	s->name = buf_detach(&name);
	s->tags = j->meta;
	s->ntags = j->nmeta;
	j->meta = NULL;
	j->nmeta = 0;
	s->rc = 0;
	j->succeeded = true;
}

static void
tags_done(struct job *j)
{
	size_t i, k = 0;

	if (j->dropped > MAX_WARNED_TAGS) {
		char n[32];
		log_warn(MOD, "tags_dropped", "image", j->img->image, "count",
		         log_num(n, (long long)j->dropped), "reason",
		         "outside the OCI tag grammar");
	}
	qsort(j->tags, j->ntags, sizeof(*j->tags), cmp_tag);
	j->meta = calloc(j->ntags ? j->ntags : 1, sizeof(*j->meta));
	if (j->meta == NULL) {
		job_fail(j, ERR_NOMEM, "out of memory");
		return;
	}
	for (i = 0; i < j->ntags; i++) {
		if ((k > 0 && strcmp(j->meta[k - 1].name, j->tags[i]) == 0) ||
		    excluded(j, j->tags[i])) {
			free(j->tags[i]);
		} else {
			j->meta[k].name = j->tags[i];
			j->meta[k].created_unix = INT64_MIN;
			k++;
		}
		j->tags[i] = NULL;
	}
	j->nmeta = k;
	j->ntags = 0;
	if ((j->img->want == 0 && j->img->only_tags == NULL) || j->nmeta == 0) {
		job_succeed(j);
		return;
	}
	job_pump(j);
}

static void
on_tags(struct req *r)
{
	struct job *j = r->job;
	struct buf next = BUF_INIT;
	struct err e = ERR_INIT;
	char *eff = NULL, lu[512];
	CURLU *u = NULL;
	char *abs = NULL;
	int rc;

	log_url(lu, sizeof(lu), r->url.ptr);
	rc = protocol_tags_parse(r->body.ptr, r->body.len, REGISTRY_MAX_TAGS,
	                         tag_add, j, &e);
	if (rc < 0) {
		if (j->err.code)
			job_fail(j, -rc, "tag list %s: %s", lu, j->err.msg);
		else
			job_fail(j, -rc, "%s: %s", lu, e.msg);
		goto out;
	}
	j->pages++;
	if (r->link.len > 0) {
		rc = protocol_link_next(&next, r->link.ptr, r->link.len, &e);
		if (rc < 0) {
			job_fail(j, ERR_INVALID, "%s: %s", lu, e.msg);
			goto out;
		}
	} else
		rc = 0;
	if (rc == 0) {
		tags_done(j);
		goto out;
	}
	if (j->pages >= j->c->o.max_pages) {
		job_fail(j, ERR_INVALID,
		         "tag list has more than %d pages (page cap reached)",
		         j->c->o.max_pages);
		goto out;
	}
	/* resolve the target against the URL that answered (RFC 3986) */
	curl_easy_getinfo(r->easy, CURLINFO_EFFECTIVE_URL, &eff);
	u = curl_url();
	if (u == NULL ||
	    curl_url_set(u, CURLUPART_URL, eff ? eff : r->url.ptr, 0) !=
	            CURLUE_OK ||
	    curl_url_set(u, CURLUPART_URL, next.ptr,
	                 CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_URL, &abs, 0) != CURLUE_OK) {
		job_fail(j, ERR_INVALID, "%s: bad Link target '%.200s'", lu,
		         next.ptr);
		goto out;
	}
	if (strncmp(abs, "http://", 7) != 0 &&
	    strncmp(abs, "https://", 8) != 0) {
		job_fail(j, ERR_INVALID, "%s: Link target is not http(s)", lu);
		goto out;
	}
	if (strcmp(abs, r->url.ptr) == 0 || strcmp(abs, j->last_url.ptr) == 0) {
		job_fail(j, ERR_INVALID, "%s: Link points back at itself", lu);
		goto out;
	}
	buf_reset(&j->last_url);
	buf_puts(&j->last_url, r->url.ptr);
	{
		struct req *n = req_new(j, REQ_TAGS, abs);
		if (n == NULL) {
			job_fail(j, ERR_NOMEM, "out of memory");
			goto out;
		}
		enqueue(n, 0);
	}
out:
	curl_free(abs);
	curl_url_cleanup(u);
	buf_release(&next);
}

/* ---- manifests ---- */

static void
meta_key(struct buf *out, const char *digest, const char *platform)
{
	buf_addf(out, "%s|%s", digest, platform);
}

static void
tag_meta_done(struct job *j, struct req *r)
{
	(void)r;
	j->meta_done++;
	j->meta_inflight--;
	if (j->meta_done == j->nmeta)
		job_succeed(j);
	else
		job_pump(j);
}

static int
queue_get(struct job *j, enum req_kind kind, size_t tag, const char *what,
          const char *digest)
{
	struct buf url = BUF_INIT;
	struct req *n;

	/* Docker Hub counts manifest GETs (not HEADs) against its limit */
	if (kind != REQ_BLOB && j->host->hub_remaining >= 0 &&
	    j->host->hub_remaining <= j->c->o.hub_reserve)
		return job_fail(j, ERR_TRANSIENT,
		                "registry '%s' reports %lld pulls left "
		                "(ratelimit-remaining); keeping %d in reserve",
		                j->ref.api_host, j->host->hub_remaining,
		                j->c->o.hub_reserve);
	buf_addf(&url, "%s/v2/%s/%s/%s", j->origin.ptr, j->ref.path, what,
	         digest);
	n = buf_ok(&url) ? req_new(j, kind, url.ptr) : NULL;
	buf_release(&url);
	if (n == NULL || (n->expect_digest = strdup(digest)) == NULL) {
		req_free(n);
		return job_fail(j, ERR_NOMEM, "out of memory");
	}
	n->tag = tag;
	enqueue(n, 0);
	return 0;
}

static void
job_pump(struct job *j)
{
	struct buf url = BUF_INIT;
	struct req *r;
	struct registry_tag *t;

	while (!j->failed && j->next_meta < j->nmeta &&
	       j->meta_inflight < j->c->o.max_per_host) {
		t = &j->meta[j->next_meta];
		buf_reset(&url);
		buf_addf(&url, "%s/v2/%s/manifests/%s", j->origin.ptr,
		         j->ref.path, t->name);
		r = buf_ok(&url) ? req_new(j, REQ_HEAD, url.ptr) : NULL;
		if (r == NULL) {
			job_fail(j, ERR_NOMEM, "out of memory");
			break;
		}
		r->tag = j->next_meta++;
		j->meta_inflight++;
		enqueue(r, 0);
	}
	buf_release(&url);
}

static bool
digest_matches(const char *digest, const char *body, size_t len)
{
	unsigned char h[crypto_hash_sha256_BYTES];
	char hex[crypto_hash_sha256_BYTES * 2 + 1];

	if (strncmp(digest, "sha256:", 7) != 0)
		return true; /* other algorithms: trust the transport */
	crypto_hash_sha256(h, (const unsigned char *)body, len);
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
	return strcasecmp(hex, digest + 7) == 0;
}

static void
on_head(struct req *r)
{
	struct job *j = r->job;
	struct registry_tag *t = &j->meta[r->tag];
	struct buf key = BUF_INIT;
	struct meta_entry *m;

	if (r->digest.len == 0 ||
	    !imageref_digest_valid(r->digest.ptr, r->digest.len)) {
		job_fail(j, ERR_INVALID,
		         "HEAD manifest '%s': no valid Docker-Content-Digest",
		         t->name);
		return;
	}
	t->digest = strdup(r->digest.ptr);
	if (t->digest == NULL) {
		job_fail(j, ERR_NOMEM, "out of memory");
		return;
	}
	if (!(j->img->want &
	      (REGISTRY_WANT_CREATED | REGISTRY_WANT_PLATFORM))) {
		tag_meta_done(j, r);
		return;
	}
	meta_key(&key, t->digest, j->platform);
	m = buf_ok(&key) ? meta_find(j->c, key.ptr) : NULL;
	buf_release(&key);
	if (m != NULL) {
		/* unchanged digest: one HEAD, nothing more */
		t->created = m->created ? strdup(m->created) : NULL;
		t->platform = m->platform ? strdup(m->platform) : NULL;
		t->created_unix = m->created_unix;
		tag_meta_done(j, r);
		return;
	}
	queue_get(j, REQ_MANIFEST, r->tag, "manifests", t->digest);
}

static void
on_manifest(struct req *r)
{
	struct job *j = r->job;
	struct registry_tag *t = &j->meta[r->tag];
	struct protocol_manifest m = PROTOCOL_MANIFEST_INIT;
	struct err e = ERR_INIT;

	if (!digest_matches(r->expect_digest, r->body.ptr, r->body.len)) {
		job_fail(j, ERR_INVALID,
		         "manifest of '%s' does not match digest %s", t->name,
		         r->expect_digest);
		return;
	}
	if (protocol_manifest_parse(&m, r->body.ptr, r->body.len, r->ctype.ptr,
	                            r->ctype.len, j->platform,
	                            r->kind == REQ_MANIFEST, &e) < 0) {
		job_fail(j, e.code, "manifest of '%s': %s", t->name, e.msg);
		return;
	}
	if (m.kind == PROTOCOL_MANIFEST_INDEX && m.digest == NULL) {
		log_warn(MOD, "platform_missing", "image", j->img->image, "tag",
		         t->name, "platform", j->platform);
		tag_meta_done(j, r);
	} else {
		queue_get(j,
		          m.kind == PROTOCOL_MANIFEST_INDEX ? REQ_CHILD
		                                            : REQ_BLOB,
		          r->tag,
		          m.kind == PROTOCOL_MANIFEST_INDEX ? "manifests"
		                                            : "blobs",
		          m.digest);
	}
	protocol_manifest_release(&m);
}

static void
on_blob(struct req *r)
{
	struct job *j = r->job;
	struct registry_tag *t = &j->meta[r->tag];
	struct protocol_config cfg = PROTOCOL_CONFIG_INIT;
	struct err e = ERR_INIT;
	struct buf key = BUF_INIT;

	if (!digest_matches(r->expect_digest, r->body.ptr, r->body.len)) {
		job_fail(j, ERR_INVALID,
		         "config blob of '%s' does not match digest %s",
		         t->name, r->expect_digest);
		goto out;
	}
	if (protocol_config_parse(&cfg, r->body.ptr, r->body.len, &e) < 0) {
		job_fail(j, e.code, "config of '%s': %s", t->name, e.msg);
		goto out;
	}
	if (cfg.created != NULL && cfg.created_unix == INT64_MIN) {
		log_warn(MOD, "bad_created", "image", j->img->image, "tag",
		         t->name, "created", cfg.created);
		free(cfg.created);
		cfg.created = NULL;
	}
	t->created = cfg.created;
	t->platform = cfg.platform;
	t->created_unix = cfg.created_unix;
	cfg.created = NULL;
	cfg.platform = NULL;
	meta_key(&key, t->digest, j->platform);
	if (!buf_ok(&key) || meta_put(j->c, key.ptr, t->created,
	                              t->created_unix, t->platform) < 0) {
		job_fail(j, ERR_NOMEM, "out of memory");
		goto out;
	}
	tag_meta_done(j, r);
out:
	buf_release(&key);
	protocol_config_release(&cfg);
}

/* ---- responses ---- */

static void
on_token(struct req *r)
{
	struct job *j = r->job;
	struct auth_token tok = AUTH_TOKEN_INIT;
	struct err e = ERR_INIT;

	j->token_inflight = false;
	if (auth_token_parse(&tok, r->body.ptr, r->body.len, time(NULL), &e) <
	    0) {
		char lu[512];
		job_fail(j, ERR_AUTH, "token from %s: %s",
		         log_url(lu, sizeof(lu), r->url.ptr), e.msg);
		goto out;
	}
	if (auth_cache_put(j->c->tokens, j->token_key.ptr, &tok.token,
	                   tok.expires_at, &e) < 0 ||
	    set_authz(j, "Bearer", tok.token.ptr, tok.token.len) < 0) {
		job_fail(j, ERR_NOMEM, "out of memory");
		goto out;
	}
out:
	auth_token_release(&tok);
	resume_waiters(j);
}

/* A 401: answer the challenge once, or fail saying whose 401 it was. */
static void
on_401(struct req *r)
{
	struct job *j = r->job;
	struct auth_challenge ch = AUTH_CHALLENGE_INIT, tmp;
	struct err e = ERR_INIT;
	struct buf scope = BUF_INIT;
	const struct secret *cached;
	const char *p = r->challenges.ptr, *nl;
	char lu[512];
	bool have = false;

	log_url(lu, sizeof(lu), r->url.ptr);
	if (r->kind == REQ_TOKEN) {
		j->token_inflight = false;
		job_fail(j, ERR_AUTH,
		         "token server %s refused the credentials (HTTP 401)",
		         lu);
		resume_waiters(j);
		req_free(r);
		return;
	}
	if (r->foreign) {
		job_fail(j, ERR_AUTH,
		         "HTTP 401 from %s (another origin; credentials are "
		         "not sent there)",
		         lu);
		req_free(r);
		return;
	}
	while (*p) {
		nl = strchr(p, '\n');
		if (nl == NULL)
			nl = p + strlen(p);
		if (auth_challenge_parse(&tmp, p, (size_t)(nl - p), &e) == 0) {
			if (!have || (tmp.scheme == AUTH_SCHEME_BEARER &&
			              ch.scheme != AUTH_SCHEME_BEARER)) {
				auth_challenge_release(&ch);
				ch = tmp;
				have = true;
			} else
				auth_challenge_release(&tmp);
		}
		p = *nl ? nl + 1 : nl;
	}
	if (++r->auth_rounds > MAX_AUTH_ROUNDS) {
		job_fail(j, ERR_AUTH, "HTTP 401 from %s after %d answers", lu,
		         MAX_AUTH_ROUNDS);
		goto drop;
	}
	if (r->sent_gen != j->authz_gen && j->authz.len > 0) {
		/* someone already got newer credentials: use them */
		enqueue(r, 0);
		goto out;
	}
	if (!have || ch.scheme == AUTH_SCHEME_OTHER) {
		job_fail(
		        j, ERR_AUTH,
		        "HTTP 401 from %s without a Basic or Bearer challenge%s%s",
		        lu, e.code ? ": " : "", e.code ? e.msg : "");
		goto drop;
	}
	if (ch.scheme == AUTH_SCHEME_BASIC) {
		j->host->basic = true;
		if (j->cred.username == NULL) {
			job_fail(j, ERR_AUTH,
			         "HTTP 401 from %s (Basic realm '%.100s'): no "
			         "credentials for '%s'",
			         lu, ch.realm ? ch.realm : "", j->ref.domain);
			goto drop;
		}
		if (j->authz.len > 0 &&
		    strncmp((const char *)j->authz.ptr, "Authorization: Basic ",
		            21) == 0) {
			job_fail(j, ERR_AUTH,
			         "HTTP 401 from %s (Basic realm '%.100s'): the "
			         "credentials for '%s' were refused",
			         lu, ch.realm ? ch.realm : "", j->ref.domain);
			goto drop;
		}
		if (set_basic(j) < 0) {
			job_fail(j, ERR_NOMEM, "out of memory");
			goto drop;
		}
		enqueue(r, 0);
		goto out;
	}
	/* Bearer */
	if (ch.realm == NULL) {
		job_fail(j, ERR_AUTH,
		         "HTTP 401 from %s: Bearer challenge "
		         "without a realm",
		         lu);
		goto drop;
	}
	if (j->cred.registry_token.len > 0) {
		if (j->authz_gen > 0) {
			job_fail(j, ERR_AUTH,
			         "HTTP 401 from %s: the registry token for "
			         "'%s' was refused",
			         lu, j->ref.domain);
			goto drop;
		}
		set_authz(j, "Bearer", j->cred.registry_token.ptr,
		          j->cred.registry_token.len);
		enqueue(r, 0);
		goto out;
	}
	free(j->host->realm);
	free(j->host->service);
	j->host->realm = strdup(ch.realm);
	j->host->service = ch.service ? strdup(ch.service) : NULL;
	if (ch.scope)
		buf_puts(&scope, ch.scope);
	else
		default_scope(&scope, j);
	buf_reset(&j->token_key);
	auth_cache_key(&j->token_key, ch.realm, ch.service, scope.ptr,
	               &j->cred);
	if (!buf_ok(&scope) || !buf_ok(&j->token_key)) {
		job_fail(j, ERR_NOMEM, "out of memory");
		goto drop;
	}
	if (ch.error && strcmp(ch.error, "insufficient_scope") == 0 &&
	    j->refreshes > 0) {
		job_fail(
		        j, ERR_AUTH,
		        "HTTP 401 from %s: the token from realm '%.200s' lacks "
		        "scope '%.200s' (insufficient_scope)",
		        lu, ch.realm, scope.ptr);
		goto drop;
	}
	cached = auth_cache_get(j->c->tokens, j->token_key.ptr, time(NULL));
	if (cached != NULL && j->authz_gen == r->sent_gen &&
	    j->refreshes == 0 && j->authz.len == 0) {
		set_authz(j, "Bearer", cached->ptr, cached->len);
		enqueue(r, 0);
		goto out;
	}
	if (j->token_inflight) {
		/* another request of this job is fetching one: wait for it */
		r->next = j->token_waiters;
		j->token_waiters = r;
		goto out;
	}
	if (j->refreshes >= 2) {
		job_fail(j, ERR_AUTH,
		         "HTTP 401 from %s even with a fresh token from realm "
		         "'%.200s'",
		         lu, ch.realm);
		goto drop;
	}
	/* the cached token was refused (or none): refresh once */
	auth_cache_drop(j->c->tokens, j->token_key.ptr);
	j->refreshes++;
	token_fetch(j, r, ch.realm, ch.service, scope.ptr);
	goto out;
drop:
	req_free(r);
out:
	buf_release(&scope);
	auth_challenge_release(&ch);
}

/*
 * The TLS library's word for a reply that is not TLS at all, as a
 * plain-HTTP server sends: OpenSSL's "wrong version number" (and "packet
 * length too long"), GnuTLS's "unexpected TLS packet".
 */
static bool
plain_http_reply(const char *errbuf)
{
	return strstr(errbuf, "wrong version number") != NULL ||
	       strstr(errbuf, "packet length too long") != NULL ||
	       strstr(errbuf, "unexpected TLS packet") != NULL;
}

static bool
transient_curl(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_SSL_CONNECT_ERROR:
		return true;
	default:
		return false;
	}
}

/* Handles one finished transfer; frees r unless it was queued again. */
static void
req_finish(struct req *r, CURLcode res)
{
	struct job *j = r->job;
	struct buf why = BUF_INIT, desc = BUF_INIT;
	long long secs;
	char lu[512];

	r->host->inflight--;
	if (j->failed) {
		if (r->kind == REQ_TOKEN) {
			j->token_inflight = false;
			resume_waiters(j);
		}
		req_free(r);
		return;
	}
	log_url(lu, sizeof(lu), r->url.ptr);
	curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &r->status);
	if (j->c->o.observe) {
		const char *h = strstr(r->host->origin, "://");
		j->c->o.observe(h ? h + 3 : r->host->origin, r->status,
		                j->c->o.observe_payload);
	}
	if (log_enabled(LOG_DEBUG)) {
		char st[32];
		log_debug(MOD, "response", "kind", kind_names[r->kind], "url",
		          lu, "status", log_num(st, r->status), "curl",
		          res == CURLE_OK ? "ok" : curl_easy_strerror(res));
	}
	if (res != CURLE_OK) {
		/* curl refuses a response header over CURL_MAX_HTTP_HEADER
		 * (100 KiB) with CURLE_OUT_OF_MEMORY; it is the registry's
		 * doing (a real allocation failure would end here too, and
		 * would be as fatal to this scan). */
		if (res == CURLE_OUT_OF_MEMORY) {
			job_fail(j, ERR_INVALID,
			         "%s %s: a response header is larger than "
			         "curl accepts (%d bytes)",
			         kind_names[r->kind], lu, CURL_MAX_HTTP_HEADER);
			goto failed;
		}
		if (r->too_big) {
			job_fail(j, ERR_INVALID,
			         "%s %s: response larger than %zu bytes",
			         kind_names[r->kind], lu, r->body_max);
			goto failed;
		}
		buf_addf(&why, "%s",
		         r->errbuf[0] ? r->errbuf : curl_easy_strerror(res));
		if (res == CURLE_SSL_CONNECT_ERROR &&
		    plain_http_reply(r->errbuf) &&
		    strncmp(r->url.ptr, "https://", 8) == 0) {
			/* a plain-HTTP registry: retrying TLS will not help */
			job_fail(
			        j, ERR_INVALID,
			        "%s %s: %s: the registry answers in plain "
			        "HTTP, not TLS (set spec.insecure: true on the "
			        "ImageRepository; ferry scan: --insecure)",
			        kind_names[r->kind], lu, why.ptr);
			goto failed;
		}
		if (transient_curl(res) && buf_ok(&why)) {
			if (retry(r, 0, why.ptr) == 0)
				goto out;
			goto failed;
		}
		job_fail(j, ERR_TRANSIENT, "%s %s: %s", kind_names[r->kind], lu,
		         why.ptr);
		goto failed;
	}
	if (r->ratelimit.len > 0 &&
	    protocol_ratelimit(&secs, r->ratelimit.ptr, r->ratelimit.len) == 0)
		r->host->hub_remaining = secs;
	if (r->status == 401) {
		buf_release(&why);
		on_401(r);
		return;
	}
	if (r->status == 404 && r->kind == REQ_TOKEN && r->post.len > 0) {
		/* oauth.md: no POST endpoint, fall back to GET */
		if (token_prepare(r, false) < 0) {
			job_fail(j, ERR_NOMEM, "out of memory");
			goto failed;
		}
		enqueue(r, 0);
		goto out;
	}
	if (r->status == 429 || r->status == 408 || r->status == 500 ||
	    r->status == 502 || r->status == 503 || r->status == 504) {
		uint64_t min_delay = 0;
		protocol_error_describe(&desc, r->body.ptr, r->body.len);
		buf_addf(&why, "HTTP %ld%s%s", r->status, desc.len ? " " : "",
		         desc.ptr);
		if (r->status == 429 && r->retry_after.len > 0 &&
		    protocol_retry_after(&secs, r->retry_after.ptr,
		                         r->retry_after.len, time(NULL)) == 0) {
			if (secs > REGISTRY_MAX_RETRY_AFTER_S) {
				job_fail(
				        j, ERR_TRANSIENT,
				        "%s %s: HTTP 429 with Retry-After %lld "
				        "s (more than %d s)",
				        kind_names[r->kind], lu, secs,
				        REGISTRY_MAX_RETRY_AFTER_S);
				goto failed;
			}
			min_delay = (uint64_t)secs * 1000;
			buf_addf(&why, " (Retry-After %lld s)", secs);
		}
		if (!buf_ok(&why)) {
			job_fail(j, ERR_NOMEM, "out of memory");
			goto failed;
		}
		if (retry(r, min_delay, why.ptr) == 0)
			goto out;
		goto failed;
	}
	if (r->status == 404 && r->kind == REQ_HEAD &&
	    j->img->only_tags != NULL) {
		/* Confirming a tag that is not (or no longer) there. */
		tag_meta_done(j, r);
		goto failed;
	}
	if (r->status < 200 || r->status > 299) {
		int code = r->status == 404   ? ERR_NOTFOUND
		           : r->status == 403 ? ERR_AUTH
		                              : ERR_INVALID;
		protocol_error_describe(&desc, r->body.ptr, r->body.len);
		if (r->status == 404 && r->kind == REQ_TAGS)
			job_fail(
			        j, code,
			        "repository '%s' not found at '%s' (HTTP 404%s%s)",
			        j->ref.path, j->ref.api_host,
			        desc.len ? " " : "", desc.ptr);
		else
			job_fail(j, code, "%s %s: HTTP %ld%s%s",
			         kind_names[r->kind], lu, r->status,
			         desc.len ? " " : "", desc.ptr);
		goto failed;
	}
	if (r->kind != REQ_TOKEN)
		j->refreshes = 0; /* the credentials work: allow a refresh */
	switch (r->kind) {
	case REQ_TAGS:
		on_tags(r);
		break;
	case REQ_TOKEN:
		on_token(r);
		break;
	case REQ_HEAD:
		on_head(r);
		break;
	case REQ_MANIFEST:
	case REQ_CHILD:
		on_manifest(r);
		break;
	case REQ_BLOB:
		on_blob(r);
		break;
	}
failed:
	if (r->kind == REQ_TOKEN && j->failed) {
		j->token_inflight = false;
		resume_waiters(j);
	}
	req_free(r);
out:
	buf_release(&why);
	buf_release(&desc);
}

/* ---- the loop ---- */

static int
start_due(struct registry_client *c, uint64_t *wait_ms)
{
	struct req **pp = &c->pending, *r;
	uint64_t now = now_ms(), w = 1000;
	int started = 0;

	while ((r = *pp) != NULL) {
		struct host *h = r->host;
		if (r->job->failed) {
			*pp = r->next;
			if (r->kind == REQ_TOKEN) {
				r->job->token_inflight = false;
				resume_waiters(r->job);
			}
			req_free(r);
			continue;
		}
		if (r->not_before_ms > now) {
			if (r->not_before_ms - now < w)
				w = r->not_before_ms - now;
			pp = &r->next;
			continue;
		}
		if (h->inflight >= c->o.max_per_host ||
		    h->next_start_ms > now) {
			if (h->next_start_ms > now &&
			    h->next_start_ms - now < w)
				w = h->next_start_ms - now;
			pp = &r->next;
			continue;
		}
		*pp = r->next;
		r->next = NULL;
		if (req_setup(r) < 0 ||
		    curl_multi_add_handle(c->multi, r->easy) != CURLM_OK) {
			job_fail(r->job, ERR_NOMEM,
			         "cannot start a request (out of memory)");
			req_free(r);
			continue;
		}
		h->inflight++;
		if (log_enabled(LOG_DEBUG)) {
			char lu[512];
			log_debug(MOD, "request", "kind", kind_names[r->kind],
			          "url", log_url(lu, sizeof(lu), r->url.ptr));
		}
		if (c->o.rate_per_host > 0)
			h->next_start_ms =
			        now + 1000 / (uint64_t)c->o.rate_per_host;
		started++;
	}
	*wait_ms = w;
	return started;
}

static void
job_release(struct job *j)
{
	size_t i;

	reference_release(&j->ref);
	auth_cred_release(&j->cred);
	for (i = 0; i < j->nexcl; i++)
		regex_free(j->excl[i]);
	free(j->excl);
	regex_match_free(j->md);
	buf_release(&j->origin);
	secret_release(&j->authz);
	buf_release(&j->token_key);
	buf_release(&j->last_url);
	for (i = 0; i < j->ntags; i++)
		free(j->tags[i]);
	free(j->tags);
	if (j->meta != NULL) {
		struct registry_scan tmp = REGISTRY_SCAN_INIT;
		tmp.tags = j->meta;
		tmp.ntags = j->nmeta;
		registry_scan_release(&tmp);
	}
}

static int
job_credentials(struct job *j)
{
	const struct registry_image *img = j->img;
	char *helper = NULL;
	int rc;

	if (img->username != NULL) {
		j->cred.username = strdup(img->username);
		if (j->cred.username == NULL ||
		    (img->password && img->password->len &&
		     secret_set(&j->cred.password, img->password->ptr,
		                img->password->len) < 0))
			return job_fail(j, ERR_NOMEM, "out of memory");
		return 0;
	}
	if (img->dockerconfig == NULL)
		return 0;
	rc = auth_dockerconfig_lookup(&j->cred, &helper, img->dockerconfig,
	                              img->dockerconfig_len, j->ref.domain,
	                              &j->err);
	if (rc == -ERR_NOTFOUND)
		return 0;
	if (rc < 0) {
		char msg[ERR_MSG_MAX];
		memcpy(msg, j->err.msg, sizeof(msg));
		return job_fail(j, -rc, "%s", msg);
	}
	if (helper != NULL) {
		rc = auth_helper_get(&j->cred, helper, j->ref.domain, &j->err);
		free(helper);
		if (rc == -ERR_NOTFOUND) {
			log_info(MOD, "no_credentials", "image", img->image,
			         "reason", j->err.msg);
			err_clear(&j->err);
			return 0;
		}
		if (rc < 0) {
			char msg[ERR_MSG_MAX];
			memcpy(msg, j->err.msg, sizeof(msg));
			return job_fail(j, -rc, "%s", msg);
		}
	}
	return 0;
}

/*
 * What a job can do without the client: parse the reference, compile the
 * exclusions, find the credentials (a credential helper may run for
 * seconds, so never under the client's lock).
 */
static void
job_prepare(struct job *j)
{
	const struct registry_image *img = j->img;
	static const char *const def[] = { REGISTRY_DEFAULT_EXCLUSION };
	const char *const *ex = img->exclusions ? img->exclusions : def;
	size_t nex = img->exclusions ? img->n_exclusions : 1, i;
	struct err e = ERR_INIT;
	int rc;

	rc = reference_parse(&j->ref, img->image, strlen(img->image), &j->err);
	if (rc < 0) {
		j->failed = true;
		j->rc = rc;
		return;
	}
	if (j->ref.tag != NULL || j->ref.digest != NULL) {
		job_fail(j, ERR_INVALID,
		         "give the repository without a tag or digest");
		return;
	}
	j->platform = img->platform ? img->platform : DEFAULT_PLATFORM;
	j->excl = calloc(nex ? nex : 1, sizeof(*j->excl));
	if (j->excl == NULL) {
		job_fail(j, ERR_NOMEM, "out of memory");
		return;
	}
	for (i = 0; i < nex; i++) {
		rc = regex_new(&j->excl[i], ex[i], strlen(ex[i]), &e);
		if (rc < 0) {
			job_fail(j, -rc, "exclusionList: %s", e.msg);
			return;
		}
		j->nexcl++;
	}
	/* room for the whole match only: enough for every pattern */
	if (regex_match_new(&j->md, NULL, &e) < 0) {
		job_fail(j, ERR_NOMEM, "out of memory");
		return;
	}
	job_credentials(j);
}

/* Queues the job's first request; called with the client's lock held. */
static void
job_start(struct job *j)
{
	const struct registry_image *img = j->img;
	struct registry_client *c = j->c;
	struct buf url = BUF_INIT, scope = BUF_INIT;
	const struct secret *cached;
	struct req *r;

	if (j->failed)
		return;
	buf_addf(&j->origin, "%s://%s", img->insecure ? "http" : "https",
	         j->ref.api_host);
	if (!buf_ok(&j->origin)) {
		job_fail(j, ERR_NOMEM, "out of memory");
		return;
	}
	j->host = host_get(c, j->origin.ptr);
	if (j->host == NULL) {
		job_fail(j, ERR_NOMEM, "out of memory");
		return;
	}
	/* a challenge seen before on this host saves a 401 round trip */
	if (j->cred.registry_token.len > 0 && !j->host->basic)
		set_authz(j, "Bearer", j->cred.registry_token.ptr,
		          j->cred.registry_token.len);
	else if (j->host->basic && j->cred.username != NULL)
		set_basic(j);
	else if (j->host->realm != NULL) {
		default_scope(&scope, j);
		auth_cache_key(&j->token_key, j->host->realm, j->host->service,
		               scope.ptr, &j->cred);
		cached = buf_ok(&j->token_key)
		                 ? auth_cache_get(c->tokens, j->token_key.ptr,
		                                  time(NULL))
		                 : NULL;
		if (cached != NULL)
			set_authz(j, "Bearer", cached->ptr, cached->len);
	}
	if (img->only_tags != NULL) {
		/* No listing: one manifest HEAD per tag asked about. */
		for (size_t i = 0; i < img->n_only_tags && !j->failed; i++)
			if (tag_add(img->only_tags[i],
			            strlen(img->only_tags[i]), j) < 0)
				job_fail(j, ERR_NOMEM, "out of memory");
		if (!j->failed)
			tags_done(j);
		buf_release(&scope);
		return;
	}
	buf_addf(&url, "%s/v2/%s/tags/list", j->origin.ptr, j->ref.path);
	r = buf_ok(&url) ? req_new(j, REQ_TAGS, url.ptr) : NULL;
	if (r == NULL)
		job_fail(j, ERR_NOMEM, "out of memory");
	else
		enqueue(r, 0);
	buf_release(&url);
	buf_release(&scope);
}

int
registry_client_new(struct registry_client **out,
                    const struct registry_options *opts, struct err *err)
{
	struct registry_client *c;
	static const struct registry_options def = REGISTRY_OPTIONS_INIT;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return err_set(err, ERR_NOMEM, "out of memory");
	c->o = opts ? *opts : def;
	if (c->o.timeout_ms <= 0)
		c->o.timeout_ms = def.timeout_ms;
	if (c->o.connect_timeout_ms <= 0)
		c->o.connect_timeout_ms = def.connect_timeout_ms;
	if (c->o.max_per_host <= 0)
		c->o.max_per_host = def.max_per_host;
	if (c->o.max_retries < 0)
		c->o.max_retries = 0;
	if (c->o.max_retries > REGISTRY_MAX_RETRIES)
		c->o.max_retries = REGISTRY_MAX_RETRIES;
	if (c->o.backoff_ms <= 0)
		c->o.backoff_ms = def.backoff_ms;
	if (c->o.max_pages <= 0 || c->o.max_pages > REGISTRY_MAX_PAGES)
		c->o.max_pages = REGISTRY_MAX_PAGES;
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->turned, NULL);
	c->multi = curl_multi_init();
	if (c->multi == NULL || auth_cache_new(&c->tokens, err) < 0) {
		registry_client_free(c);
		return err_set(err, ERR_NOMEM, "out of memory");
	}
	curl_multi_setopt(c->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
	*out = c;
	return 0;
}

void
registry_client_free(struct registry_client *c)
{
	size_t i;

	if (c == NULL)
		return;
	if (c->multi)
		curl_multi_cleanup(c->multi);
	auth_cache_free(c->tokens);
	for (i = 0; i < c->nhosts; i++) {
		free(c->hosts[i]->origin);
		free(c->hosts[i]->realm);
		free(c->hosts[i]->service);
		free(c->hosts[i]);
	}
	free(c->hosts);
	for (i = 0; i < c->capmeta; i++) {
		free(c->meta[i].key);
		free(c->meta[i].created);
		free(c->meta[i].platform);
	}
	free(c->meta);
	pthread_cond_destroy(&c->turned);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

void
registry_scan_release(struct registry_scan *s)
{
	size_t i;

	for (i = 0; i < s->ntags; i++) {
		free(s->tags[i].name);
		free(s->tags[i].digest);
		free(s->tags[i].created);
		free(s->tags[i].platform);
	}
	free(s->tags);
	free(s->name);
	s->tags = NULL;
	s->ntags = 0;
	s->name = NULL;
}

/* Reports jobs that have nothing left in flight. */
static void
report(struct job *jobs, size_t n, size_t *done, registry_progress_fn progress,
       void *payload)
{
	size_t i;

	for (i = 0; i < n; i++) {
		struct job *j = &jobs[i];
		if (j->reported || j->outstanding > 0 ||
		    !(j->failed || j->succeeded))
			continue;
		j->reported = true;
		if (j->failed) {
			j->out->rc = j->rc ? j->rc : -ERR_INTERNAL;
			j->out->err = j->err;
			log_debug(MOD, "scan_failed", "image", j->img->image,
			          "err", j->err.msg);
		} else
			err_clear(&j->out->err);
		(*done)++;
		if (progress)
			progress(*done, n, payload);
	}
}

/*
 * One turn of the loop for every caller's requests: start what is due,
 * let curl work, finish what completed.  Called with the lock held and
 * `driving` set; *wait_ms says how long the driver may sleep.
 */
static void
turn(struct registry_client *c, uint64_t *wait_ms)
{
	int still, nmsg;
	CURLMsg *m;

	start_due(c, wait_ms);
	curl_multi_perform(c->multi, &still);
	while ((m = curl_multi_info_read(c->multi, &nmsg)) != NULL) {
		struct req *r = NULL;
		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE,
		                  (char **)&r);
		curl_multi_remove_handle(c->multi, m->easy_handle);
		req_finish(r, m->data.result);
	}
	start_due(c, wait_ms);
}

int
registry_scan_all(struct registry_client *c,
                  const struct registry_image *images,
                  struct registry_scan *scans, size_t n,
                  registry_progress_fn progress, void *payload)
{
	struct job *jobs;
	size_t i, done = 0;
	int rc = 0;
	uint64_t wait;

	jobs = calloc(n ? n : 1, sizeof(*jobs));
	if (jobs == NULL) {
		for (i = 0; i < n; i++) {
			scans[i].rc = err_set(&scans[i].err, ERR_NOMEM,
			                      "out of memory");
		}
		return -ERR_NOMEM;
	}
	for (i = 0; i < n; i++) {
		jobs[i].c = c;
		if (images[i].scan_timeout_ms > 0)
			jobs[i].deadline_ms =
			        now_ms() + (uint64_t)images[i].scan_timeout_ms;
		jobs[i].img = &images[i];
		jobs[i].out = &scans[i];
		jobs[i].origin = (struct buf)BUF_INIT;
		jobs[i].token_key = (struct buf)BUF_INIT;
		jobs[i].last_url = (struct buf)BUF_INIT;
		job_prepare(&jobs[i]);
	}
	pthread_mutex_lock(&c->mu);
	for (i = 0; i < n; i++)
		job_start(&jobs[i]);
	/* The thread driving the loop sleeps in curl_multi_poll: make it
	 * start these requests now rather than at its next timeout. */
	if (c->driving)
		curl_multi_wakeup(c->multi);
	report(jobs, n, &done, progress, payload);
	while (done < n) {
		if (c->driving) {
			pthread_cond_wait(&c->turned, &c->mu);
			report(jobs, n, &done, progress, payload);
			continue;
		}
		c->driving = true;
		turn(c, &wait);
		report(jobs, n, &done, progress, payload);
		if (done < n) {
			if (wait > 1000)
				wait = 1000;
			pthread_mutex_unlock(&c->mu);
			curl_multi_poll(c->multi, NULL, 0,
			                (int)(wait ? wait : 1), NULL);
			pthread_mutex_lock(&c->mu);
		}
		c->driving = false;
		pthread_cond_broadcast(&c->turned);
	}
	pthread_mutex_unlock(&c->mu);
	for (i = 0; i < n; i++) {
		if (scans[i].rc < 0 && rc == 0)
			rc = scans[i].rc;
		job_release(&jobs[i]);
	}
	free(jobs);
	return rc;
}
