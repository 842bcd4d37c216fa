/*
 * notify.c - Flux's Alerts and Providers, and the ferry.io/notify-url
 * hooks (notify.h): which Alert an event passes, the request each
 * Provider type gets, signatures, and sending with libcurl.  The
 * background sender is in notifier.c.
 *
 * It does not decide which events exist (the daemon and `ferry run
 * --once` do) and keeps no state between requests.
 */
#include "notify.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <yaml.h>

#include "base/json.h"
#include "base/log.h"
#include "base/regex.h"

#define MOD "notify"

void
notify_request_release(struct notify_request *r)
{
	if (r == NULL)
		return;
	if (r->url)
		secret_wipe(r->url, strlen(r->url));
	free(r->url);
	if (r->headers.ptr)
		secret_wipe(r->headers.ptr, r->headers.len);
	buf_release(&r->headers);
	if (r->body.ptr)
		secret_wipe(r->body.ptr, r->body.len);
	buf_release(&r->body);
	if (r->proxy)
		secret_wipe(r->proxy, strlen(r->proxy));
	free(r->proxy);
	secret_release(&r->ca);
	*r = (struct notify_request)NOTIFY_REQUEST_INIT;
}

/* ---- signatures ---- */

static void
hex(char *out, const unsigned char *v, size_t n)
{
	sodium_bin2hex(out, n * 2 + 1, v, n);
}

/* "sha256=<hex of HMAC-SHA256(body, key)>" into out (72 bytes). */
static void
sign_sha256(char out[72], const struct secret *key, const struct buf *body)
{
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	crypto_auth_hmacsha256_state st;

	crypto_auth_hmacsha256_init(&st, key->ptr, key->len);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)body->ptr,
	                              body->len);
	crypto_auth_hmacsha256_final(&st, mac);
	memcpy(out, "sha256=", 7);
	hex(out + 7, mac, sizeof(mac));
	sodium_memzero(&st, sizeof(st));
}

/* "sha1=<hex>", GitHub's older header, which some receivers still read.
 * libsodium has no SHA-1: OpenSSL's one-shot HMAC (thread-safe when given
 * the output buffer). */
static int
sign_sha1(char out[48], const struct secret *key, const struct buf *body)
{
	unsigned char mac[20];
	unsigned int len = sizeof(mac);
	static const unsigned char nokey[1] = { 0 };

	if (HMAC(EVP_sha1(), key->len ? key->ptr : nokey, (int)key->len,
	         (const unsigned char *)body->ptr, body->len, mac,
	         &len) == NULL ||
	    len != sizeof(mac))
		return -ERR_INTERNAL;
	memcpy(out, "sha1=", 5);
	hex(out + 5, mac, sizeof(mac));
	return 0;
}

/* ---- the event ---- */

static void
now_rfc3339(char out[32])
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Adds key: value to obj unless obj has key already. */
static void
meta_put(cJSON *obj, const char *key, const char *value)
{
	if (key == NULL || value == NULL ||
	    cJSON_GetObjectItemCaseSensitive(obj, key) != NULL)
		return;
	cJSON_AddStringToObject(obj, key, value);
}

/*
 * Flux's event JSON (fluxcd/pkg/apis/event): involvedObject, severity,
 * timestamp, message, reason, metadata, reportingController and
 * reportingInstance.  alert (may be NULL) adds its eventMetadata and
 * summary without overriding the event's own keys, as Flux does.
 */
static cJSON *
event_json(const struct notify_event *ev, const struct config_object *alert,
           const char *timestamp)
{
	cJSON *e = cJSON_CreateObject(), *io, *meta;
	char host[256] = "ferry", now[32];

	if (e == NULL)
		return NULL;
	if (timestamp == NULL) {
		now_rfc3339(now);
		timestamp = now;
	}
	if (gethostname(host, sizeof(host)) < 0)
		snprintf(host, sizeof(host), "ferry");
	host[sizeof(host) - 1] = '\0';
	io = cJSON_AddObjectToObject(e, "involvedObject");
	cJSON_AddStringToObject(io, "kind", ev->kind ? ev->kind : "");
	cJSON_AddStringToObject(io, "namespace",
	                        ev->namespace_ ? ev->namespace_ : "");
	cJSON_AddStringToObject(io, "name", ev->name ? ev->name : "");
	if (ev->api_version)
		cJSON_AddStringToObject(io, "apiVersion", ev->api_version);
	cJSON_AddStringToObject(e, "severity", ev->error ? "error" : "info");
	cJSON_AddStringToObject(e, "timestamp", timestamp);
	cJSON_AddStringToObject(e, "message", ev->message ? ev->message : "");
	cJSON_AddStringToObject(e, "reason", ev->reason ? ev->reason : "");
	meta = cJSON_AddObjectToObject(e, "metadata");
	for (const char *const *m = ev->metadata; m && m[0] && m[1]; m += 2)
		meta_put(meta, m[0], m[1]);
	if (alert) {
		const struct config_alert *a = &alert->u.alert;
		for (size_t i = 0; i < a->event_metadata.n; i++)
			meta_put(meta, a->event_metadata.keys[i],
			         a->event_metadata.values[i]);
		meta_put(meta, "summary", a->summary);
	}
	cJSON_AddStringToObject(e, "reportingController", NOTIFY_CONTROLLER);
	cJSON_AddStringToObject(e, "reportingInstance", host);
	return e;
}

/* Appends the JSON text of doc to out and frees doc. */
static int
put_json(struct buf *out, cJSON *doc, struct err *err)
{
	char *text = doc ? cJSON_PrintUnformatted(doc) : NULL;
	int rc = 0;

	cJSON_Delete(doc);
	if (text == NULL)
		return err_set(err, ERR_NOMEM, "out of memory");
	if (buf_puts(out, text) < 0)
		rc = err_set(err, ERR_NOMEM, "out of memory");
	cJSON_free(text);
	return rc;
}

/* ---- Alerts ---- */

/* Does any of patterns match message?  A pattern that cannot be compiled
 * or run counts as no match (config validation compiled it once). */
static bool
any_matches(const struct config_strlist *patterns, const char *message)
{
	bool hit = false;

	for (size_t i = 0; i < patterns->n && !hit; i++) {
		struct regex *re = NULL;
		struct regex_match *m = NULL;
		struct err e = ERR_INIT;
		const char *p = patterns->items[i];
		int rc;

		if (regex_new(&re, p, strlen(p), &e) < 0 ||
		    regex_match_new(&m, re, &e) < 0) {
			log_warn(MOD, "pattern_failed", "pattern", p, "err",
			         e.msg);
		} else {
			rc = regex_exec(re, m, message, strlen(message));
			if (rc < 0)
				log_warn(MOD, "pattern_failed", "pattern", p);
			hit = rc == 1;
		}
		regex_match_free(m);
		regex_free(re);
	}
	return hit;
}

static bool
source_matches(const struct config_event_source *src,
               const struct notify_event *ev)
{
	if (src->kind == NULL || ev->kind == NULL ||
	    strcmp(src->kind, ev->kind) != 0)
		return false;
	if (src->namespace == NULL || ev->namespace_ == NULL ||
	    strcmp(src->namespace, ev->namespace_) != 0)
		return false;
	if (src->name == NULL || ev->name == NULL)
		return false;
	if (strcmp(src->name, "*") != 0)
		return strcmp(src->name, ev->name) == 0;
	/* "*" with matchLabels: the object's labels must hold them all */
	for (size_t i = 0; i < src->match_labels.n; i++) {
		const char *v =
		        ev->labels
		                ? config_strmap_get(ev->labels,
		                                    src->match_labels.keys[i])
		                : NULL;
		if (v == NULL || strcmp(v, src->match_labels.values[i]) != 0)
			return false;
	}
	return true;
}

bool
notify_alert_matches(const struct config *cfg,
                     const struct config_object *alert,
                     const struct notify_event *ev)
{
	const struct config_alert *a;
	const struct config_object *p;
	const char *msg = ev->message ? ev->message : "";
	bool src = false;

	if (alert == NULL || alert->kind != CONFIG_ALERT)
		return false;
	a = &alert->u.alert;
	p = config_alert_provider(cfg, alert);
	if (a->suspend || p == NULL || p->u.provider.suspend)
		return false;
	if (a->event_severity && strcmp(a->event_severity, "error") == 0 &&
	    !ev->error)
		return false;
	for (size_t i = 0; i < a->n_event_sources && !src; i++)
		src = source_matches(&a->event_sources[i], ev);
	if (!src)
		return false;
	if (a->inclusion_list.n > 0 && !any_matches(&a->inclusion_list, msg))
		return false;
	/* exclusion is stronger than inclusion */
	return !any_matches(&a->exclusion_list, msg);
}

/* The Secret value key of the Provider's secretRef, or NULL. */
static const struct secret *
provider_secret(const struct config *cfg, const struct config_object *p,
                const struct config_local_ref *ref, const char *key)
{
	if (ref->name == NULL)
		return NULL;
	return config_secret_value(config_secret_for(cfg, p, ref), key);
}

/*
 * The Secret's 'headers' key: a YAML mapping of header names to values,
 * as Flux reads it, appended as "Name: value\n" lines.
 */
static int
secret_headers(struct buf *out, const struct secret *s, struct err *err)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *root;
	int rc = 0;

	if (s == NULL || s->len == 0)
		return 0;
	if (!yaml_parser_initialize(&parser))
		return err_set(err, ERR_NOMEM, "out of memory");
	yaml_parser_set_input_string(&parser, s->ptr, s->len);
	if (!yaml_parser_load(&parser, &doc)) {
		yaml_parser_delete(&parser);
		/* never quote the value: it holds credentials */
		return err_set(err, ERR_INVALID,
		               "the Secret's 'headers' is not YAML");
	}
	root = yaml_document_get_root_node(&doc);
	if (root && root->type != YAML_MAPPING_NODE) {
		rc = err_set(err, ERR_INVALID,
		             "the Secret's 'headers' is not a YAML mapping of "
		             "header names to values");
	} else if (root) {
		for (yaml_node_pair_t *pr = root->data.mapping.pairs.start;
		     pr < root->data.mapping.pairs.top && rc == 0; pr++) {
			yaml_node_t *k = yaml_document_get_node(&doc, pr->key);
			yaml_node_t *v =
			        yaml_document_get_node(&doc, pr->value);
			if (k == NULL || v == NULL ||
			    k->type != YAML_SCALAR_NODE ||
			    v->type != YAML_SCALAR_NODE ||
			    memchr(k->data.scalar.value, '\n',
			           k->data.scalar.length) ||
			    memchr(v->data.scalar.value, '\n',
			           v->data.scalar.length)) {
				rc = err_set(err, ERR_INVALID,
				             "the Secret's 'headers' must map "
				             "names to one-line values");
				break;
			}
			buf_add(out, k->data.scalar.value,
			        k->data.scalar.length);
			buf_puts(out, ": ");
			buf_add(out, v->data.scalar.value,
			        v->data.scalar.length);
			buf_putc(out, '\n');
		}
	}
	/* libyaml copied the values: wipe its nodes before freeing them */
	for (yaml_node_t *n = doc.nodes.start; n && n < doc.nodes.top; n++)
		if (n->type == YAML_SCALAR_NODE)
			secret_wipe(n->data.scalar.value,
			            n->data.scalar.length);
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	if (rc == 0 && !buf_ok(out))
		rc = err_set(err, ERR_NOMEM, "out of memory");
	return rc;
}

/* "https://github.com/org/app(.git)" -> API base and "org/app". */
static int
github_repo(struct buf *api, struct buf *repo, const char *address,
            struct err *err)
{
	const char *p = strstr(address, "://"), *host, *slash;
	size_t hlen, n;

	if (p == NULL)
		return err_set(err, ERR_INVALID,
		               "githubdispatch: address '%s' is not a "
		               "repository URL (https://github.com/ORG/REPO)",
		               address);
	host = p + 3;
	slash = strchr(host, '/');
	if (slash == NULL || slash[1] == '\0')
		return err_set(err, ERR_INVALID,
		               "githubdispatch: address has no repository "
		               "path (https://github.com/ORG/REPO)");
	hlen = (size_t)(slash - host);
	if (hlen == 10 && memcmp(host, "github.com", 10) == 0)
		buf_puts(api, "https://api.github.com");
	else
		/* GitHub Enterprise Server: the API lives under /api/v3 */
		buf_addf(api, "%.*s/api/v3", (int)(slash - address), address);
	buf_puts(repo, slash + 1);
	n = repo->len;
	while (n > 0 && repo->ptr[n - 1] == '/')
		n--;
	if (n > 4 && memcmp(repo->ptr + n - 4, ".git", 4) == 0)
		n -= 4;
	buf_truncate(repo, n);
	if (strchr(repo->ptr, '/') == NULL)
		return err_set(err, ERR_INVALID,
		               "githubdispatch: address must name ORG/REPO");
	return buf_ok(api) && buf_ok(repo)
	               ? 0
	               : err_set(err, ERR_NOMEM, "out of memory");
}

/* Slack's attachment, as Flux formats it. */
static cJSON *
slack_json(const struct notify_event *ev, const char *channel,
           const char *username, cJSON *event)
{
	cJSON *p = cJSON_CreateObject(), *atts, *a, *fields, *m;
	struct buf author = BUF_INIT;

	if (p == NULL)
		return NULL;
	if (channel && *channel)
		cJSON_AddStringToObject(p, "channel", channel);
	cJSON_AddStringToObject(p, "username",
	                        username && *username ? username
	                                              : NOTIFY_CONTROLLER);
	atts = cJSON_AddArrayToObject(p, "attachments");
	a = cJSON_CreateObject();
	cJSON_AddItemToArray(atts, a);
	cJSON_AddStringToObject(a, "color", ev->error ? "danger" : "good");
	for (const char *k = ev->kind ? ev->kind : ""; *k; k++)
		buf_putc(&author,
		         (char)((*k >= 'A' && *k <= 'Z') ? *k + 32 : *k));
	buf_addf(&author, "/%s.%s", ev->name ? ev->name : "",
	         ev->namespace_ ? ev->namespace_ : "");
	cJSON_AddStringToObject(a, "author_name",
	                        buf_ok(&author) ? author.ptr : "");
	buf_release(&author);
	cJSON_AddStringToObject(a, "text", ev->message ? ev->message : "");
	cJSON_AddItemToObject(
	        a, "mrkdwn_in",
	        cJSON_CreateStringArray((const char *[]){ "text" }, 1));
	fields = cJSON_AddArrayToObject(a, "fields");
	cJSON_ArrayForEach(m,
	                   cJSON_GetObjectItemCaseSensitive(event, "metadata"))
	{
		cJSON *f = cJSON_CreateObject();
		cJSON_AddStringToObject(f, "title", m->string);
		cJSON_AddStringToObject(
		        f, "value", cJSON_IsString(m) ? m->valuestring : "");
		cJSON_AddBoolToObject(f, "short", false);
		cJSON_AddItemToArray(fields, f);
	}
	return p;
}

int
notify_alert_request(struct notify_request *out, const struct config *cfg,
                     const struct config_object *alert,
                     const struct notify_event *ev, const char *timestamp,
                     struct err *err)
{
	const struct config_object *po = config_alert_provider(cfg, alert);
	const struct config_provider *p;
	const struct secret *address, *token, *username, *proxy, *ca;
	const char *type;
	cJSON *event = NULL;
	int rc = 0;

	*out = (struct notify_request)NOTIFY_REQUEST_INIT;
	if (po == NULL)
		return err_set(err, ERR_NOTFOUND, "Alert '%s/%s': no Provider",
		               alert->metadata.namespace, alert->metadata.name);
	p = &po->u.provider;
	type = p->type ? p->type : "generic";
	snprintf(out->type, sizeof(out->type), "%s", type);
	address = provider_secret(cfg, po, &p->secret_ref, "address");
	token = provider_secret(cfg, po, &p->secret_ref, "token");
	username = provider_secret(cfg, po, &p->secret_ref, "username");
	proxy = provider_secret(cfg, po, &p->secret_ref, "proxy");
	ca = provider_secret(cfg, po, &p->cert_secret_ref, "ca.crt");
	out->timeout_ms = p->timeout > 0 ? (long)(p->timeout / 1000000)
	                                 : NOTIFY_DEFAULT_TIMEOUT_MS;
	if (address == NULL && p->address == NULL) {
		rc = err_set(err, ERR_INVALID,
		             "Provider '%s/%s' has no address",
		             po->metadata.namespace, po->metadata.name);
		goto out;
	}
	out->url = strdup(address ? (const char *)address->ptr : p->address);
	if (proxy)
		out->proxy = strdup((const char *)proxy->ptr);
	else if (p->proxy)
		out->proxy = strdup(p->proxy);
	else if (p->proxy_secret_ref.name) {
		const struct secret *pa = provider_secret(
		        cfg, po, &p->proxy_secret_ref, "address");
		if (pa)
			out->proxy = strdup((const char *)pa->ptr);
	}
	if (out->url == NULL ||
	    (ca && secret_set(&out->ca, ca->ptr, ca->len) < 0)) {
		rc = err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	buf_puts(&out->headers, "Content-Type: application/json\n");
	if ((rc = secret_headers(
	             &out->headers,
	             provider_secret(cfg, po, &p->secret_ref, "headers"),
	             err)) < 0) {
		err_prefix(err, "Provider '%s/%s'", po->metadata.namespace,
		           po->metadata.name);
		goto out;
	}
	if ((event = event_json(ev, alert, timestamp)) == NULL) {
		rc = err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	if (strcmp(type, "slack") == 0) {
		cJSON *s = slack_json(ev, p->channel,
		                      username ? (const char *)username->ptr
		                               : p->username,
		                      event);
		if ((rc = put_json(&out->body, s, err)) < 0)
			goto out;
		if (token)
			buf_addf(&out->headers, "Authorization: Bearer %s\n",
			         (const char *)token->ptr);
		out->slack_api =
		        strstr(out->url, "/api/chat.postMessage") != NULL;
	} else if (strcmp(type, "githubdispatch") == 0) {
		struct buf api = BUF_INIT, repo = BUF_INIT, et = BUF_INIT;
		cJSON *d = cJSON_CreateObject();
		if (token == NULL) {
			cJSON_Delete(d);
			rc = err_set(err, ERR_INVALID,
			             "Provider '%s/%s': githubdispatch needs a "
			             "'token' in its Secret",
			             po->metadata.namespace, po->metadata.name);
			goto out;
		}
		rc = github_repo(&api, &repo, out->url, err);
		buf_addf(&et, "%s/%s.%s", ev->kind ? ev->kind : "",
		         ev->name ? ev->name : "",
		         ev->namespace_ ? ev->namespace_ : "");
		if (rc == 0) {
			secret_wipe(out->url, strlen(out->url));
			free(out->url);
			buf_addf(&api, "/repos/%s/dispatches", repo.ptr);
			out->url = buf_detach(&api);
			cJSON_AddStringToObject(d, "event_type",
			                        buf_ok(&et) ? et.ptr : "");
			cJSON_AddItemToObject(d, "client_payload", event);
			event = NULL;
			rc = put_json(&out->body, d, err);
			d = NULL;
			buf_puts(&out->headers,
			         "Accept: application/vnd.github+json\n");
			buf_addf(&out->headers, "Authorization: Bearer %s\n",
			         (const char *)token->ptr);
		}
		cJSON_Delete(d);
		buf_release(&api);
		buf_release(&repo);
		buf_release(&et);
		if (rc < 0)
			goto out;
	} else {
		/* generic, generic-hmac: the event itself */
		buf_addf(&out->headers, "Gotk-Component: %s\n",
		         NOTIFY_CONTROLLER);
		rc = put_json(&out->body, event, err);
		event = NULL;
		if (rc < 0)
			goto out;
		if (strcmp(type, "generic-hmac") == 0) {
			char sig[72];
			if (token == NULL) {
				rc = err_set(err, ERR_INVALID,
				             "Provider '%s/%s': generic-hmac "
				             "needs a 'token' in its Secret",
				             po->metadata.namespace,
				             po->metadata.name);
				goto out;
			}
			sign_sha256(sig, token, &out->body);
			buf_addf(&out->headers, "X-Signature: %s\n", sig);
		}
	}
	if (!buf_ok(&out->headers) || !buf_ok(&out->body))
		rc = err_set(err, ERR_NOMEM, "out of memory");
out:
	cJSON_Delete(event);
	if (rc < 0)
		notify_request_release(out);
	return rc;
}

/* ---- hooks ---- */

int
notify_hook_kind_parse(const char *word, const char *url,
                       enum notify_hook_kind *out)
{
	if (word && *word) {
		if (strcasecmp(word, "flux") == 0)
			*out = NOTIFY_HOOK_FLUX;
		else if (strcasecmp(word, "argocd") == 0 ||
		         strcasecmp(word, "argo-cd") == 0)
			*out = NOTIFY_HOOK_ARGOCD;
		else
			return -1;
		return 0;
	}
	*out = NOTIFY_HOOK_FLUX;
	if (url) {
		size_t n = strcspn(url, "?#");
		while (n > 0 && url[n - 1] == '/')
			n--;
		if (n >= 12 && memcmp(url + n - 12, "/api/webhook", 12) == 0)
			*out = NOTIFY_HOOK_ARGOCD;
	}
	return 0;
}

/* The https URL a Git URL's web page has, as GitHub puts it in
 * repository.html_url: scheme and userinfo dropped, ".git" cut,
 * "git@host:org/repo" turned into "https://host/org/repo".  Argo CD
 * matches Applications by it. */
static void
web_url(struct buf *out, const char *url)
{
	const char *p = strstr(url, "://"), *at;
	size_t n;

	if (p) {
		const char *rest = p + 3;
		at = strchr(rest, '@');
		if (at && at < rest + strcspn(rest, "/"))
			rest = at + 1;
		if (strncmp(url, "file", 4) == 0)
			buf_puts(out, url);
		else
			buf_addf(out, "https://%s", rest);
	} else if ((at = strchr(url, '@')) && strchr(at, ':')) {
		const char *colon = strchr(at, ':');
		buf_addf(out, "https://%.*s/%s", (int)(colon - at - 1), at + 1,
		         colon + 1);
	} else {
		buf_puts(out, url);
	}
	if (!buf_ok(out))
		return;
	n = out->len;
	if (n > 4 && memcmp(out->ptr + n - 4, ".git", 4) == 0)
		buf_truncate(out, n - 4);
}

int
notify_hook_request(struct notify_request *out, const struct notify_hook *h,
                    struct err *err)
{
	cJSON *doc = NULL;
	int rc;

	*out = (struct notify_request)NOTIFY_REQUEST_INIT;
	out->url = strdup(h->url);
	if (h->timeout_ms > 0)
		out->timeout_ms = h->timeout_ms;
	if (out->url == NULL)
		return err_set(err, ERR_NOMEM, "out of memory");
	buf_puts(&out->headers, "Content-Type: application/json\n");
	if (h->kind == NOTIFY_HOOK_ARGOCD) {
		/* GitHub's push event: Argo CD refreshes the Applications
		 * whose repoURL is repository.html_url and whose revision is
		 * the ref's branch. */
		struct buf web = BUF_INIT, ref = BUF_INIT;
		unsigned char id[16];
		char idhex[33];
		cJSON *repo, *head;

		snprintf(out->type, sizeof(out->type), "argocd");
		web_url(&web, h->repo_url ? h->repo_url : "");
		buf_addf(&ref, "refs/heads/%s", h->branch ? h->branch : "");
		doc = cJSON_CreateObject();
		cJSON_AddStringToObject(doc, "ref",
		                        buf_ok(&ref) ? ref.ptr : "");
		cJSON_AddStringToObject(
		        doc, "before",
		        "0000000000000000000000000000000000000000");
		cJSON_AddStringToObject(doc, "after", h->commit);
		repo = cJSON_AddObjectToObject(doc, "repository");
		cJSON_AddStringToObject(repo, "html_url",
		                        buf_ok(&web) ? web.ptr : "");
		cJSON_AddStringToObject(repo, "clone_url",
		                        h->repo_url ? h->repo_url : "");
		cJSON_AddStringToObject(repo, "default_branch",
		                        h->branch ? h->branch : "");
		cJSON_AddArrayToObject(doc, "commits");
		head = cJSON_AddObjectToObject(doc, "head_commit");
		cJSON_AddStringToObject(head, "id", h->commit);
		buf_release(&web);
		buf_release(&ref);
		randombytes_buf(id, sizeof(id));
		hex(idhex, id, sizeof(id));
		buf_puts(&out->headers, "X-GitHub-Event: push\n");
		buf_addf(&out->headers, "X-GitHub-Delivery: %s\n", idhex);
	} else {
		/* A Flux Receiver reads no body (generic, generic-hmac):
		 * the event says what happened for anyone who looks. */
		const char *meta[] = { "revision", h->revision, "commit",
			               h->commit, NULL };
		struct buf msg = BUF_INIT;
		struct notify_event ev = { 0 };

		snprintf(out->type, sizeof(out->type), "flux-receiver");
		buf_addf(&msg, "ferry synced revision %s",
		         h->revision ? h->revision : "");
		ev.kind = "Kustomization";
		ev.api_version = "kustomize.toolkit.fluxcd.io/v1";
		ev.namespace_ = h->namespace_;
		ev.name = h->name;
		ev.reason = "ReconciliationSucceeded";
		ev.message = buf_ok(&msg) ? msg.ptr : "";
		ev.metadata = h->revision ? meta : NULL;
		doc = event_json(&ev, NULL, NULL);
		buf_release(&msg);
		buf_addf(&out->headers, "Gotk-Component: %s\n",
		         NOTIFY_CONTROLLER);
	}
	if ((rc = put_json(&out->body, doc, err)) < 0)
		goto fail;
	if (h->token && h->token->len > 0) {
		char s256[72], s1[48];
		if (h->kind == NOTIFY_HOOK_ARGOCD) {
			sign_sha256(s256, h->token, &out->body);
			buf_addf(&out->headers, "X-Hub-Signature-256: %s\n",
			         s256);
			if (sign_sha1(s1, h->token, &out->body) == 0)
				buf_addf(&out->headers, "X-Hub-Signature: %s\n",
				         s1);
		} else {
			sign_sha256(s256, h->token, &out->body);
			buf_addf(&out->headers, "X-Signature: %s\n", s256);
		}
	}
	if (!buf_ok(&out->headers) || !buf_ok(&out->body)) {
		rc = err_set(err, ERR_NOMEM, "out of memory");
		goto fail;
	}
	return 0;
fail:
	notify_request_release(out);
	return rc;
}

/* ---- sending ---- */

static size_t
on_body(char *p, size_t size, size_t n, void *payload)
{
	struct buf *b = payload;
	size_t len = size * n;

	/* keep the start of the answer for the message; read the rest */
	if (b->len < NOTIFY_MAX_REPLY)
		buf_add(b, p,
		        len < NOTIFY_MAX_REPLY - b->len
		                ? len
		                : NOTIFY_MAX_REPLY - b->len);
	return len;
}

/* The first line of the answer, at most 200 bytes, for a message. */
static void
answer_excerpt(char out[256], const struct buf *b)
{
	size_t n = b->ptr ? strcspn(b->ptr, "\r\n") : 0;

	if (n > 200)
		n = 200;
	snprintf(out, 256, "%.*s", (int)n, b->ptr ? b->ptr : "");
}

int
notify_request_send(const struct notify_request *r, long *status_out,
                    struct err *err)
{
	CURL *h = curl_easy_init();
	struct curl_slist *hdrs = NULL;
	struct buf reply = BUF_INIT;
	char errbuf[CURL_ERROR_SIZE] = "", where[512], excerpt[256];
	long status = 0;
	CURLcode cc;
	int rc = 0;

	if (status_out)
		*status_out = 0;
	log_url(where, sizeof(where), r->url ? r->url : "");
	if (h == NULL)
		return err_set(err, ERR_NOMEM, "out of memory");
	/* one header per line; the lines may hold tokens */
	for (size_t i = 0; r->headers.ptr && i < r->headers.len;) {
		size_t n = strcspn(r->headers.ptr + i, "\n");
		char *line = strndup(r->headers.ptr + i, n);
		struct curl_slist *grown;
		if (line == NULL) {
			rc = err_set(err, ERR_NOMEM, "out of memory");
			goto out;
		}
		grown = curl_slist_append(hdrs, line);
		secret_wipe(line, n);
		free(line);
		if (grown == NULL) {
			rc = err_set(err, ERR_NOMEM, "out of memory");
			goto out;
		}
		hdrs = grown;
		i += n + 1;
	}
	curl_easy_setopt(h, CURLOPT_URL, r->url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS,
	                 r->timeout_ms > 0 ? r->timeout_ms
	                                   : NOTIFY_DEFAULT_TIMEOUT_MS);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &reply);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_USERAGENT, "ferry");
	if (strcmp(r->method, "GET") == 0) {
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	} else {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS,
		                 r->body.ptr ? r->body.ptr : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
		                 (curl_off_t)r->body.len);
	}
	if (r->proxy)
		curl_easy_setopt(h, CURLOPT_PROXY, r->proxy);
	if (r->ca.len > 0) {
		struct curl_blob blob = { r->ca.ptr, r->ca.len,
			                  CURL_BLOB_NOCOPY };
		curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob);
	}
	cc = curl_easy_perform(h);
	if (cc != CURLE_OK) {
		rc = err_set(err, ERR_TRANSIENT, "%s '%s': %s", r->method,
		             where,
		             errbuf[0] ? errbuf : curl_easy_strerror(cc));
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (status_out)
		*status_out = status;
	answer_excerpt(excerpt, &reply);
	if (status < 200 || status > 299) {
		int code = status == 429 || status >= 500   ? ERR_TRANSIENT
		           : status == 401 || status == 403 ? ERR_AUTH
		                                            : ERR_INVALID;
		rc = err_set(err, code, "%s '%s': HTTP %ld%s%s", r->method,
		             where, status, excerpt[0] ? ": " : "", excerpt);
		goto out;
	}
	if (r->slack_api) {
		cJSON *doc = NULL;
		struct err e = ERR_INIT;
		if (json_parse(&doc, reply.ptr, reply.len, "Slack answer", &e) <
		            0 ||
		    !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(doc, "ok")))
			rc = err_set(err, ERR_INVALID,
			             "POST '%s': Slack answered: %s", where,
			             json_get_string(doc, "error")
			                     ? json_get_string(doc, "error")
			                     : excerpt);
		cJSON_Delete(doc);
	}
out:
	for (struct curl_slist *l = hdrs; l; l = l->next)
		secret_wipe(l->data, strlen(l->data));
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	buf_release(&reply);
	return rc;
}
