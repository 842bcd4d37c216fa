/*
 * etcd.c - etcd's v3 HTTP/JSON gateway through libcurl: one POST per call
 * (a JSON body, a JSON reply), endpoints tried in turn when unreachable, a
 * token from /v3/auth/authenticate when a user is given, and a watch as
 * one long POST whose reply is a stream of JSON lines.  Connections are
 * kept in a curl share handle, so a daemon's keepalives and reads reuse
 * them.  It knows nothing of the fleet's keys.
 */
#include "etcd.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "base/json.h"
#include "base/log.h"
#include "base/secret.h"
#include "base/util.h"

#define MOD "etcd"

struct etcd {
	char **endpoints;
	size_t n;
	atomic_size_t current; /* the endpoint that answered last */
	char *cacert, *cert, *key, *user;
	struct secret password;
	long timeout_ms;
	CURLSH *share;
	pthread_mutex_t share_mu[CURL_LOCK_DATA_LAST];
	pthread_mutex_t token_mu; /* guards token */
	struct secret token;
	atomic_uint_fast64_t requests;
};

static void
share_lock(CURL *h, curl_lock_data data, curl_lock_access a, void *p)
{
	struct etcd *e = p;

	(void)h;
	(void)a;
	pthread_mutex_lock(&e->share_mu[data]);
}

static void
share_unlock(CURL *h, curl_lock_data data, void *p)
{
	struct etcd *e = p;

	(void)h;
	pthread_mutex_unlock(&e->share_mu[data]);
}

static char *
dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

int
etcd_new(struct etcd **out, const struct etcd_options *o, struct err *err)
{
	struct etcd *e;

	*out = NULL;
	if (o->nendpoints == 0 || o->nendpoints > ETCD_MAX_ENDPOINTS)
		return err_set(err, ERR_INVALID,
		               "give between 1 and %d etcd endpoints",
		               ETCD_MAX_ENDPOINTS);
	e = calloc(1, sizeof(*e));
	if (e == NULL)
		return err_set(err, ERR_NOMEM, "out of memory");
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&e->share_mu[i], NULL);
	pthread_mutex_init(&e->token_mu, NULL);
	e->endpoints = calloc(o->nendpoints, sizeof(*e->endpoints));
	if (e->endpoints == NULL)
		goto nomem;
	for (size_t i = 0; i < o->nendpoints; i++) {
		const char *ep = o->endpoints[i];
		size_t len = strlen(ep);
		if (strncmp(ep, "http://", 7) != 0 &&
		    strncmp(ep, "https://", 8) != 0) {
			etcd_free(e);
			return err_set(err, ERR_INVALID,
			               "etcd endpoint '%s': give a URL such as "
			               "http://127.0.0.1:2379",
			               ep);
		}
		while (len > 0 && ep[len - 1] == '/')
			len--;
		if ((e->endpoints[i] = strndup(ep, len)) == NULL)
			goto nomem;
		e->n++;
	}
	e->cacert = dup_or_null(o->cacert);
	e->cert = dup_or_null(o->cert);
	e->key = dup_or_null(o->key);
	e->user = dup_or_null(o->user);
	if (o->password &&
	    secret_set(&e->password, o->password, strlen(o->password)) < 0)
		goto nomem;
	e->timeout_ms =
	        o->timeout_ms > 0 ? o->timeout_ms : ETCD_DEFAULT_TIMEOUT_MS;
	e->share = curl_share_init();
	if (e->share == NULL)
		goto nomem;
	curl_share_setopt(e->share, CURLSHOPT_LOCKFUNC, share_lock);
	curl_share_setopt(e->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
	curl_share_setopt(e->share, CURLSHOPT_USERDATA, e);
	curl_share_setopt(e->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
	curl_share_setopt(e->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	*out = e;
	return 0;
nomem:
	etcd_free(e);
	return err_set(err, ERR_NOMEM, "out of memory");
}

void
etcd_free(struct etcd *e)
{
	if (e == NULL)
		return;
	for (size_t i = 0; i < e->n; i++)
		free(e->endpoints[i]);
	free(e->endpoints);
	free(e->cacert);
	free(e->cert);
	free(e->key);
	free(e->user);
	secret_release(&e->password);
	secret_release(&e->token);
	if (e->share)
		curl_share_cleanup(e->share);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&e->share_mu[i]);
	pthread_mutex_destroy(&e->token_mu);
	free(e);
}

const char *
etcd_endpoint(struct etcd *e)
{
	return e->endpoints[atomic_load(&e->current) % e->n];
}

uint64_t
etcd_requests(struct etcd *e)
{
	return atomic_load(&e->requests);
}

/* ---- transport ---- */

struct stream {
	struct buf body;
	/* a watch: lines are handed out as they come */
	int (*line)(const char *p, size_t n, void *payload);
	void *payload;
	bool stop_asked;
	atomic_bool *stop;
	/* a watch: the transfer in progress */
	struct etcd *e;
	size_t endpoint;    /* its endpoint */
	int64_t started_ms; /* when it started */
	size_t received;    /* bytes it received */
	bool silent;        /* no answer within the timeout */
	bool moved;         /* other calls moved off its endpoint */
};

static size_t
on_body(char *p, size_t size, size_t n, void *payload)
{
	struct stream *s = payload;
	size_t len = size * n;

	if (buf_add(&s->body, p, len) < 0)
		return 0;
	if (s->line == NULL)
		return len;
	/* The watch is established: its endpoint is the one answering. */
	if (s->received == 0)
		atomic_store(&s->e->current, s->endpoint);
	s->received += len;
	for (;;) {
		char *nl = memchr(s->body.ptr, '\n', s->body.len);
		size_t k;
		if (nl == NULL)
			break;
		k = (size_t)(nl - s->body.ptr);
		if (k > 0 && s->line(s->body.ptr, k, s->payload) != 0) {
			s->stop_asked = true;
			return 0;
		}
		memmove(s->body.ptr, nl + 1, s->body.len - k - 1);
		buf_truncate(&s->body, s->body.len - k - 1);
	}
	return len;
}

static int
on_progress(void *payload, curl_off_t a, curl_off_t b, curl_off_t c,
            curl_off_t d)
{
	struct stream *s = payload;

	(void)a;
	(void)b;
	(void)c;
	(void)d;
	if (s->stop && atomic_load(s->stop)) {
		s->stop_asked = true;
		return 1;
	}
	/* A stream has no timeout, and an endpoint that hangs (a stopped
	 * process, a lost host) holds it open without a byte: give up on
	 * one that never answered, and leave one that other calls found
	 * unreachable (they moved on), so the watch follows them. */
	if (s->received == 0 && mono_ms() - s->started_ms > s->e->timeout_ms) {
		s->silent = true;
		return 1;
	}
	if (s->received > 0 &&
	    atomic_load(&s->e->current) % s->e->n != s->endpoint) {
		s->moved = true;
		return 1;
	}
	return 0;
}

/* Errors where another endpoint may do better. */
static bool
unreachable(CURLcode rc)
{
	return rc == CURLE_COULDNT_CONNECT ||
	       rc == CURLE_COULDNT_RESOLVE_HOST ||
	       rc == CURLE_OPERATION_TIMEDOUT || rc == CURLE_SEND_ERROR ||
	       rc == CURLE_RECV_ERROR || rc == CURLE_GOT_NOTHING ||
	       rc == CURLE_SSL_CONNECT_ERROR || rc == CURLE_PARTIAL_FILE;
}

static int authenticate(struct etcd *e, struct err *err);

/*
 * POSTs body to path on one endpoint after another; *reply_out gets the
 * parsed JSON answer of the first that answered.  With s->line set the
 * reply is a stream (a watch) handed out line by line, no timeout.
 * *status_out gets the HTTP status.
 */
static int
post(struct etcd *e, const char *path, const char *body, struct stream *s,
     long *status_out, struct err *err)
{
	size_t first = atomic_load(&e->current) % e->n;
	char errbuf[CURL_ERROR_SIZE];
	int rc = -ERR_TRANSIENT;

	err_set(err, ERR_TRANSIENT, "no etcd endpoint answered");
	for (size_t t = 0; t < e->n; t++) {
		size_t i = (first + t) % e->n;
		struct curl_slist *hdrs = NULL;
		struct buf url = BUF_INIT, auth = BUF_INIT;
		CURL *h = curl_easy_init();
		CURLcode cc;

		buf_reset(&s->body);
		s->e = e;
		s->endpoint = i;
		s->started_ms = mono_ms();
		s->silent = false;
		buf_addf(&url, "%s%s", e->endpoints[i], path);
		hdrs = curl_slist_append(hdrs,
		                         "Content-Type: application/json");
		pthread_mutex_lock(&e->token_mu);
		if (e->token.len > 0) {
			buf_puts(&auth, "Authorization: ");
			buf_add(&auth, e->token.ptr, e->token.len);
			hdrs = curl_slist_append(hdrs, auth.ptr);
		}
		pthread_mutex_unlock(&e->token_mu);
		secret_wipe(auth.ptr, auth.len);
		buf_release(&auth);
		if (h == NULL || hdrs == NULL || !buf_ok(&url)) {
			curl_slist_free_all(hdrs);
			curl_easy_cleanup(h);
			buf_release(&url);
			return err_set(err, ERR_NOMEM, "out of memory");
		}
		errbuf[0] = '\0';
		curl_easy_setopt(h, CURLOPT_URL, url.ptr);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
		curl_easy_setopt(h, CURLOPT_WRITEDATA, s);
		curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
		curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(h, CURLOPT_SHARE, e->share);
		curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
		                 e->timeout_ms < 2000 ? e->timeout_ms : 2000L);
		curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
		if (s->line == NULL)
			curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, e->timeout_ms);
		else {
			curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
			curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION,
			                 on_progress);
			curl_easy_setopt(h, CURLOPT_XFERINFODATA, s);
		}
		if (e->cacert)
			curl_easy_setopt(h, CURLOPT_CAINFO, e->cacert);
		if (e->cert)
			curl_easy_setopt(h, CURLOPT_SSLCERT, e->cert);
		if (e->key)
			curl_easy_setopt(h, CURLOPT_SSLKEY, e->key);
		atomic_fetch_add(&e->requests, 1);
		cc = curl_easy_perform(h);
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status_out);
		curl_slist_free_all(hdrs);
		curl_easy_cleanup(h);
		if (s->moved) {
			rc = err_set(
			        err, ERR_TRANSIENT,
			        "etcd %s: other calls found it unreachable "
			        "and moved on",
			        url.ptr);
			buf_release(&url);
			return rc;
		}
		if (s->silent)
			cc = CURLE_OPERATION_TIMEDOUT;
		if (cc == CURLE_OK ||
		    (s->line && cc == CURLE_WRITE_ERROR && s->stop_asked) ||
		    (s->line && cc == CURLE_ABORTED_BY_CALLBACK &&
		     s->stop_asked)) {
			atomic_store(&e->current, i);
			buf_release(&url);
			err_clear(err);
			return 0;
		}
		if (!unreachable(cc)) {
			rc = err_set(err, ERR_TRANSIENT, "etcd %s: %s", url.ptr,
			             errbuf[0] ? errbuf
			                       : curl_easy_strerror(cc));
			buf_release(&url);
			return rc;
		}
		err_set(err, ERR_TRANSIENT, "etcd %s: %s", url.ptr,
		        s->silent   ? "no answer in time"
		        : errbuf[0] ? errbuf
		                    : curl_easy_strerror(cc));
		buf_release(&url);
		/* a stream that ran and then broke is the caller's to
		 * restart (from the last revision it saw), not the next
		 * endpoint's: that would replay it from its start */
		if (s->line && s->received > 0)
			return -ERR_TRANSIENT;
	}
	return rc;
}

/*
 * One unary call: body in, JSON out.  Maps the gateway's error replies
 * ({"error", "code", "message"}) to ERR_* and authenticates again once
 * when the token was refused.
 */
static int
call(struct etcd *e, const char *path, cJSON *req, cJSON **reply_out,
     struct err *err)
{
	struct stream s = { BUF_INIT, NULL, NULL, false, NULL };
	char *body = cJSON_PrintUnformatted(req);
	long status = 0;
	int rc;

	*reply_out = NULL;
	if (body == NULL)
		return err_set(err, ERR_NOMEM, "out of memory");
	s.body.max = ETCD_MAX_REPLY;
	for (int round = 0; round < 2; round++) {
		const char *msg;
		cJSON *code;
		if ((rc = post(e, path, body, &s, &status, err)) < 0)
			break;
		rc = json_parse(reply_out, s.body.ptr, s.body.len, "etcd reply",
		                err);
		if (rc < 0)
			break;
		if (status == 200)
			break;
		code = cJSON_GetObjectItemCaseSensitive(*reply_out, "code");
		msg = json_get_string(*reply_out, "message");
		if (msg == NULL)
			msg = json_get_string(*reply_out, "error");
		/* 16 UNAUTHENTICATED, or an expired token */
		if (round == 0 && e->user &&
		    ((cJSON_IsNumber(code) && code->valueint == 16) ||
		     (msg && strstr(msg, "token")))) {
			cJSON_Delete(*reply_out);
			*reply_out = NULL;
			if ((rc = authenticate(e, err)) < 0)
				break;
			continue;
		}
		rc = err_set(err,
		             cJSON_IsNumber(code) && code->valueint == 5
		                     ? ERR_NOTFOUND
		             : cJSON_IsNumber(code) && (code->valueint == 16 ||
		                                        code->valueint == 7)
		                     ? ERR_AUTH
		                     : ERR_TRANSIENT,
		             "etcd %s: HTTP %ld: %s", path, status,
		             msg ? msg : "no message");
		cJSON_Delete(*reply_out);
		*reply_out = NULL;
		break;
	}
	cJSON_free(body);
	buf_release(&s.body);
	return rc;
}

static int
authenticate(struct etcd *e, struct err *err)
{
	struct stream s = { BUF_INIT, NULL, NULL, false, NULL };
	cJSON *req = cJSON_CreateObject(), *reply = NULL;
	struct buf pw = BUF_INIT;
	char *body = NULL;
	const char *tok;
	long status = 0;
	int rc;

	if (req == NULL)
		return err_set(err, ERR_NOMEM, "out of memory");
	buf_add(&pw, e->password.ptr, e->password.len);
	cJSON_AddStringToObject(req, "name", e->user);
	cJSON_AddStringToObject(req, "password", pw.ptr ? pw.ptr : "");
	secret_wipe(pw.ptr, pw.len);
	buf_release(&pw);
	body = cJSON_PrintUnformatted(req);
	cJSON_Delete(req);
	if (body == NULL)
		return err_set(err, ERR_NOMEM, "out of memory");
	pthread_mutex_lock(&e->token_mu);
	secret_release(&e->token);
	pthread_mutex_unlock(&e->token_mu);
	rc = post(e, "/v3/auth/authenticate", body, &s, &status, err);
	secret_wipe(body, strlen(body));
	cJSON_free(body);
	if (rc == 0)
		rc = json_parse(&reply, s.body.ptr, s.body.len, "etcd reply",
		                err);
	if (rc == 0 &&
	    (status != 200 || (tok = json_get_string(reply, "token")) == NULL))
		rc = err_set(err, ERR_AUTH,
		             "etcd refused user '%s' (check --etcd-user)",
		             e->user);
	else if (rc == 0) {
		pthread_mutex_lock(&e->token_mu);
		rc = secret_set(&e->token, tok, strlen(tok));
		pthread_mutex_unlock(&e->token_mu);
	}
	secret_wipe(s.body.ptr, s.body.len);
	buf_release(&s.body);
	cJSON_Delete(reply);
	return rc;
}

/* ---- encoding ---- */

static int
add_b64(cJSON *o, const char *name, const char *data, size_t len)
{
	struct buf b = BUF_INIT;
	int rc = base64_encode(&b, data, len);

	if (rc == 0 && cJSON_AddStringToObject(o, name, b.ptr) == NULL)
		rc = -ERR_NOMEM;
	buf_release(&b);
	return rc;
}

static int
add_int(cJSON *o, const char *name, int64_t v)
{
	char s[32];

	snprintf(s, sizeof(s), "%lld", (long long)v);
	return cJSON_AddStringToObject(o, name, s) ? 0 : -ERR_NOMEM;
}

/* The key just past every key with this prefix (etcd's range_end). */
static int
add_prefix_end(cJSON *o, const char *prefix)
{
	size_t n = strlen(prefix);
	char *end = malloc(n + 1);
	int rc;

	if (end == NULL)
		return -ERR_NOMEM;
	memcpy(end, prefix, n + 1);
	while (n > 0 && (unsigned char)end[n - 1] == 0xff)
		n--;
	if (n == 0) {
		free(end);
		return add_b64(o, "range_end", "\0", 1);
	}
	end[n - 1] = (char)((unsigned char)end[n - 1] + 1);
	rc = add_b64(o, "range_end", end, n);
	free(end);
	return rc;
}

static int64_t
get_int(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	if (cJSON_IsString(v))
		return strtoll(v->valuestring, NULL, 10);
	if (cJSON_IsNumber(v))
		return (int64_t)v->valuedouble;
	return 0;
}

static int
get_b64(char **out, size_t *len_out, const cJSON *o, const char *name)
{
	const char *s = json_get_string(o, name);
	struct buf b = BUF_INIT;
	struct err e = ERR_INIT;

	*out = NULL;
	if (len_out)
		*len_out = 0;
	if (s == NULL)
		s = "";
	if (base64_decode(&b, s, strlen(s), &e) < 0) {
		buf_release(&b);
		return -ERR_INVALID;
	}
	if (len_out)
		*len_out = b.len;
	*out = b.len ? buf_detach(&b) : strdup("");
	buf_release(&b);
	return *out ? 0 : -ERR_NOMEM;
}

static int
kv_from(struct etcd_kv *kv, const cJSON *o)
{
	memset(kv, 0, sizeof(*kv));
	if (get_b64(&kv->key, NULL, o, "key") < 0 ||
	    get_b64(&kv->value, &kv->value_len, o, "value") < 0)
		return -ERR_INVALID;
	kv->create_revision = get_int(o, "create_revision");
	kv->mod_revision = get_int(o, "mod_revision");
	kv->version = get_int(o, "version");
	kv->lease = get_int(o, "lease");
	return 0;
}

void
etcd_kvs_free(struct etcd_kv *kvs, size_t n)
{
	for (size_t i = 0; kvs && i < n; i++) {
		free(kvs[i].key);
		if (kvs[i].value)
			secret_wipe(kvs[i].value, kvs[i].value_len);
		free(kvs[i].value);
	}
	free(kvs);
}

/* ---- calls ---- */

int
etcd_get(struct etcd *e, const char *key, bool prefix, struct etcd_kv **out,
         size_t *n_out, int64_t *revision_out, struct err *err)
{
	cJSON *req = cJSON_CreateObject(), *reply = NULL, *kvs, *it;
	struct etcd_kv *v = NULL;
	size_t n = 0;
	int rc;

	*out = NULL;
	*n_out = 0;
	if (req == NULL || add_b64(req, "key", key, strlen(key)) < 0 ||
	    (prefix && add_prefix_end(req, key) < 0)) {
		cJSON_Delete(req);
		return err_set(err, ERR_NOMEM, "out of memory");
	}
	rc = call(e, "/v3/kv/range", req, &reply, err);
	cJSON_Delete(req);
	if (rc < 0)
		return rc;
	if (revision_out)
		*revision_out = get_int(
		        cJSON_GetObjectItemCaseSensitive(reply, "header"),
		        "revision");
	kvs = cJSON_GetObjectItemCaseSensitive(reply, "kvs");
	if (cJSON_IsArray(kvs) && cJSON_GetArraySize(kvs) > 0) {
		v = calloc((size_t)cJSON_GetArraySize(kvs), sizeof(*v));
		if (v == NULL) {
			cJSON_Delete(reply);
			return err_set(err, ERR_NOMEM, "out of memory");
		}
		cJSON_ArrayForEach(it, kvs)
		{
			if (kv_from(&v[n], it) < 0) {
				etcd_kvs_free(v, n + 1);
				cJSON_Delete(reply);
				return err_set(err, ERR_INVALID,
				               "etcd range: a key or value is "
				               "not base64");
			}
			n++;
		}
	}
	cJSON_Delete(reply);
	*out = v;
	*n_out = n;
	return 0;
}

int
etcd_put(struct etcd *e, const char *key, const char *value, size_t len,
         int64_t lease, struct err *err)
{
	cJSON *req = cJSON_CreateObject(), *reply = NULL;
	int rc;

	if (req == NULL || add_b64(req, "key", key, strlen(key)) < 0 ||
	    add_b64(req, "value", value, len) < 0 ||
	    (lease && add_int(req, "lease", lease) < 0)) {
		cJSON_Delete(req);
		return err_set(err, ERR_NOMEM, "out of memory");
	}
	rc = call(e, "/v3/kv/put", req, &reply, err);
	cJSON_Delete(req);
	cJSON_Delete(reply);
	return rc;
}

int
etcd_delete(struct etcd *e, const char *key, bool prefix, struct err *err)
{
	cJSON *req = cJSON_CreateObject(), *reply = NULL;
	int rc;

	if (req == NULL || add_b64(req, "key", key, strlen(key)) < 0 ||
	    (prefix && add_prefix_end(req, key) < 0)) {
		cJSON_Delete(req);
		return err_set(err, ERR_NOMEM, "out of memory");
	}
	rc = call(e, "/v3/kv/deleterange", req, &reply, err);
	cJSON_Delete(req);
	cJSON_Delete(reply);
	return rc;
}

int
etcd_lease_grant(struct etcd *e, int64_t ttl, int64_t *id_out, struct err *err)
{
	cJSON *req = cJSON_CreateObject(), *reply = NULL;
	int rc;

	*id_out = 0;
	if (req == NULL || add_int(req, "TTL", ttl) < 0) {
		cJSON_Delete(req);
		return err_set(err, ERR_NOMEM, "out of memory");
	}
	rc = call(e, "/v3/lease/grant", req, &reply, err);
	cJSON_Delete(req);
	if (rc == 0 && (*id_out = get_int(reply, "ID")) == 0)
		rc = err_set(err, ERR_INVALID, "etcd lease grant: no ID");
	cJSON_Delete(reply);
	return rc;
}

int
etcd_lease_keepalive(struct etcd *e, int64_t id, int64_t *ttl_out,
                     struct err *err)
{
	cJSON *req = cJSON_CreateObject(), *reply = NULL, *res;
	int64_t ttl;
	int rc;

	if (req == NULL || add_int(req, "ID", id) < 0) {
		cJSON_Delete(req);
		return err_set(err, ERR_NOMEM, "out of memory");
	}
	rc = call(e, "/v3/lease/keepalive", req, &reply, err);
	cJSON_Delete(req);
	if (rc < 0)
		return rc;
	/* a stream of one message: {"result": {"ID", "TTL"}} */
	res = cJSON_GetObjectItemCaseSensitive(reply, "result");
	ttl = get_int(res ? res : reply, "TTL");
	cJSON_Delete(reply);
	if (ttl_out)
		*ttl_out = ttl;
	if (ttl <= 0)
		return err_set(err, ERR_NOTFOUND, "etcd lease %llx has expired",
		               (unsigned long long)id);
	return 0;
}

int
etcd_lease_ttl(struct etcd *e, int64_t id, int64_t *ttl_out, struct err *err)
{
	cJSON *req = cJSON_CreateObject(), *reply = NULL;
	int rc;

	*ttl_out = -1;
	if (req == NULL || add_int(req, "ID", id) < 0) {
		cJSON_Delete(req);
		return err_set(err, ERR_NOMEM, "out of memory");
	}
	rc = call(e, "/v3/lease/timetolive", req, &reply, err);
	cJSON_Delete(req);
	if (rc == 0) {
		*ttl_out = get_int(reply, "TTL");
		if (*ttl_out <= 0)
			rc = err_set(err, ERR_NOTFOUND,
			             "etcd lease %llx has expired",
			             (unsigned long long)id);
	}
	cJSON_Delete(reply);
	return rc;
}

int
etcd_lease_revoke(struct etcd *e, int64_t id, struct err *err)
{
	cJSON *req = cJSON_CreateObject(), *reply = NULL;
	int rc;

	if (req == NULL || add_int(req, "ID", id) < 0) {
		cJSON_Delete(req);
		return err_set(err, ERR_NOMEM, "out of memory");
	}
	rc = call(e, "/v3/lease/revoke", req, &reply, err);
	cJSON_Delete(req);
	cJSON_Delete(reply);
	return rc;
}

static cJSON *
ops_json(const struct etcd_op *ops, size_t n)
{
	cJSON *arr = cJSON_CreateArray();

	for (size_t i = 0; arr && i < n; i++) {
		cJSON *item = cJSON_CreateObject(), *r;
		if (item == NULL || !cJSON_AddItemToArray(arr, item))
			goto fail;
		r = cJSON_AddObjectToObject(item, ops[i].type == ETCD_OP_PUT
		                                          ? "request_put"
		                                          : "request_delete_"
		                                            "range");
		if (r == NULL ||
		    add_b64(r, "key", ops[i].key, strlen(ops[i].key)) < 0)
			goto fail;
		if (ops[i].type == ETCD_OP_PUT &&
		    (add_b64(r, "value", ops[i].value ? ops[i].value : "",
		             ops[i].len) < 0 ||
		     (ops[i].lease && add_int(r, "lease", ops[i].lease) < 0)))
			goto fail;
	}
	return arr;
fail:
	cJSON_Delete(arr);
	return NULL;
}

int
etcd_txn(struct etcd *e, const struct etcd_cmp *cmps, size_t ncmps,
         const struct etcd_op *then, size_t nthen,
         const struct etcd_op *otherwise, size_t notherwise,
         bool *succeeded_out, struct err *err)
{
	static const char *const targets[] = { "CREATE", "MOD", "VERSION",
		                               "LEASE", "VALUE" };
	static const char *const fields[] = { "create_revision", "mod_revision",
		                              "version", "lease", "value" };
	static const char *const results[] = { "EQUAL", "NOT_EQUAL", "GREATER",
		                               "LESS" };
	cJSON *req = cJSON_CreateObject(), *reply = NULL, *arr, *a, *b;
	int rc;

	*succeeded_out = false;
	arr = req ? cJSON_AddArrayToObject(req, "compare") : NULL;
	for (size_t i = 0; arr && i < ncmps; i++) {
		const struct etcd_cmp *c = &cmps[i];
		cJSON *item = cJSON_CreateObject();
		if (item == NULL || !cJSON_AddItemToArray(arr, item) ||
		    add_b64(item, "key", c->key, strlen(c->key)) < 0 ||
		    !cJSON_AddStringToObject(item, "target",
		                             targets[c->target]) ||
		    !cJSON_AddStringToObject(item, "result",
		                             results[c->result]) ||
		    (c->target == ETCD_CMP_VALUE
		             ? add_b64(item, fields[c->target],
		                       c->value ? c->value : "",
		                       c->value ? strlen(c->value) : 0)
		             : add_int(item, fields[c->target], c->number)) <
		            0) {
			arr = NULL;
			break;
		}
	}
	a = ops_json(then, nthen);
	b = ops_json(otherwise, notherwise);
	if (arr == NULL || a == NULL || b == NULL) {
		cJSON_Delete(a);
		cJSON_Delete(b);
		cJSON_Delete(req);
		return err_set(err, ERR_NOMEM, "out of memory");
	}
	cJSON_AddItemToObject(req, "success", a);
	cJSON_AddItemToObject(req, "failure", b);
	rc = call(e, "/v3/kv/txn", req, &reply, err);
	cJSON_Delete(req);
	if (rc == 0)
		*succeeded_out = cJSON_IsTrue(
		        cJSON_GetObjectItemCaseSensitive(reply, "succeeded"));
	cJSON_Delete(reply);
	return rc;
}

/* ---- watch ---- */

struct watch {
	etcd_watch_fn fn;
	void *payload;
	int64_t last;
	bool compacted;
	bool canceled;
};

static int
watch_line(const char *p, size_t n, void *payload)
{
	struct watch *w = payload;
	struct err e = ERR_INIT;
	cJSON *msg = NULL, *res, *evs, *it;
	int stop = 0;

	if (json_parse(&msg, p, n, "etcd watch", &e) < 0)
		return 0; /* not a message: skip it */
	res = cJSON_GetObjectItemCaseSensitive(msg, "result");
	if (res == NULL)
		res = msg;
	if (get_int(res, "compact_revision") > 0) {
		w->compacted = true;
		stop = 1;
	} else if (cJSON_IsTrue(
	                   cJSON_GetObjectItemCaseSensitive(res, "canceled"))) {
		w->canceled = true;
		stop = 1;
	}
	evs = cJSON_GetObjectItemCaseSensitive(res, "events");
	cJSON_ArrayForEach(it, evs)
	{
		struct etcd_event ev;
		const char *type = json_get_string(it, "type");
		if (stop)
			break;
		memset(&ev, 0, sizeof(ev));
		ev.deleted = type && strcmp(type, "DELETE") == 0;
		if (kv_from(&ev.kv,
		            cJSON_GetObjectItemCaseSensitive(it, "kv")) < 0) {
			free(ev.kv.key);
			free(ev.kv.value);
			continue;
		}
		if (ev.kv.mod_revision > w->last)
			w->last = ev.kv.mod_revision;
		stop = w->fn(&ev, w->payload);
		free(ev.kv.key);
		if (ev.kv.value)
			secret_wipe(ev.kv.value, ev.kv.value_len);
		free(ev.kv.value);
	}
	cJSON_Delete(msg);
	return stop;
}

int
etcd_watch(struct etcd *e, const char *prefix, int64_t start, etcd_watch_fn fn,
           void *payload, atomic_bool *stop, int64_t *last_revision_out,
           struct err *err)
{
	struct watch w = { fn, payload, start > 0 ? start - 1 : 0, false,
		           false };
	struct stream s = { BUF_INIT, watch_line, &w, false, stop };
	cJSON *req = cJSON_CreateObject(), *cr;
	char *body = NULL;
	long status = 0;
	int rc;

	cr = req ? cJSON_AddObjectToObject(req, "create_request") : NULL;
	if (cr == NULL || add_b64(cr, "key", prefix, strlen(prefix)) < 0 ||
	    add_prefix_end(cr, prefix) < 0 ||
	    (start > 0 && add_int(cr, "start_revision", start) < 0) ||
	    (body = cJSON_PrintUnformatted(req)) == NULL) {
		cJSON_Delete(req);
		return err_set(err, ERR_NOMEM, "out of memory");
	}
	cJSON_Delete(req);
	s.body.max = ETCD_MAX_REPLY;
	rc = post(e, "/v3/watch", body, &s, &status, err);
	cJSON_free(body);
	buf_release(&s.body);
	if (last_revision_out)
		*last_revision_out = w.last;
	if (w.compacted)
		return err_set(err, ERR_NOTFOUND,
		               "etcd compacted revision %lld away: read again",
		               (long long)start);
	if (s.stop_asked)
		return 0;
	if (rc == 0)
		rc = err_set(err, ERR_TRANSIENT,
		             w.canceled ? "etcd canceled the watch"
		                        : "the etcd watch stream ended");
	return rc;
}
