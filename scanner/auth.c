/*
 * auth.c - parsing of WWW-Authenticate challenges and token responses, the
 * token cache, and credential lookup in Docker config.json documents and
 * credential helpers.  It never talks to a registry itself (registry.c
 * does) and never logs a secret.
 */
#include "auth.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/proc.h"
#include "base/rfc3339.h"
#include "base/util.h"
#include "protocol.h"

static bool
is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/*
 * An unquoted parameter value: a token, or a token68 (RFC 9110 11.2),
 * which adds '/' and trailing '=' (base64).  Only values take these; a
 * scheme or a parameter name is a plain token.
 */
static bool
is_value_char(char c)
{
	return protocol_tchar(c) || c == '/' || c == '=';
}

static bool
span_ieq(const char *s, size_t len, const char *word)
{
	size_t i;

	if (strlen(word) != len)
		return false;
	for (i = 0; i < len; i++) {
		char c = s[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != word[i])
			return false;
	}
	return true;
}

void
auth_challenge_release(struct auth_challenge *c)
{
	free(c->realm);
	free(c->service);
	free(c->scope);
	free(c->error);
	*c = (struct auth_challenge)AUTH_CHALLENGE_INIT;
}

int
auth_challenge_parse(struct auth_challenge *out, const char *s, size_t len,
                     struct err *err)
{
	size_t i = 0, start, nstart, nlen, nparams = 0;
	struct buf val = BUF_INIT;
	char **slot;
	int rc = 0;

	*out = (struct auth_challenge)AUTH_CHALLENGE_INIT;
	if (len > AUTH_MAX_HEADER)
		return err_set(
		        err, ERR_INVALID,
		        "WWW-Authenticate header is longer than %d bytes",
		        AUTH_MAX_HEADER);
	while (i < len && (is_ows(s[i]) || s[i] == ','))
		i++;
	start = i;
	while (i < len && protocol_tchar(s[i]))
		i++;
	if (i == start)
		return err_set(err, ERR_INVALID,
		               "WWW-Authenticate header has no scheme");
	if (span_ieq(s + start, i - start, "basic"))
		out->scheme = AUTH_SCHEME_BASIC;
	else if (span_ieq(s + start, i - start, "bearer"))
		out->scheme = AUTH_SCHEME_BEARER;
	if (i < len && !is_ows(s[i]) && s[i] != ',') {
		rc = err_set(
		        err, ERR_INVALID,
		        "WWW-Authenticate: unexpected '%c' after the scheme",
		        s[i]);
		goto out;
	}
	for (;;) {
		while (i < len && (is_ows(s[i]) || s[i] == ','))
			i++;
		if (i == len)
			break;
		nstart = i;
		while (i < len && protocol_tchar(s[i]))
			i++;
		nlen = i - nstart;
		if (nlen == 0) {
			rc = err_set(
			        err, ERR_INVALID,
			        "WWW-Authenticate: unexpected '%c' at offset "
			        "%zu",
			        s[i], i);
			goto out;
		}
		while (i < len && is_ows(s[i]))
			i++;
		if (i == len || s[i] != '=') {
			/* token68, or the scheme of a second challenge */
			break;
		}
		i++;
		while (i < len && is_ows(s[i]))
			i++;
		buf_reset(&val);
		if (i < len && s[i] == '"') {
			for (i++; i < len && s[i] != '"'; i++) {
				if (s[i] == '\\' && i + 1 < len)
					i++;
				buf_putc(&val, s[i]);
			}
			if (i == len) {
				rc = err_set(
				        err, ERR_INVALID,
				        "WWW-Authenticate: unterminated quoted "
				        "string");
				goto out;
			}
			i++;
		} else {
			start = i;
			while (i < len && is_value_char(s[i]))
				i++;
			buf_add(&val, s + start, i - start);
		}
		if (!buf_ok(&val)) {
			rc = err_set(err, ERR_NOMEM, "out of memory");
			goto out;
		}
		while (i < len && is_ows(s[i]))
			i++;
		if (i < len && s[i] != ',') {
			rc = err_set(
			        err, ERR_INVALID,
			        "WWW-Authenticate: expected ',' at offset %zu",
			        i);
			goto out;
		}
		if (++nparams > AUTH_MAX_PARAMS) {
			rc = err_set(
			        err, ERR_INVALID,
			        "WWW-Authenticate: more than %d parameters",
			        AUTH_MAX_PARAMS);
			goto out;
		}
		slot = NULL;
		if (span_ieq(s + nstart, nlen, "realm"))
			slot = &out->realm;
		else if (span_ieq(s + nstart, nlen, "service"))
			slot = &out->service;
		else if (span_ieq(s + nstart, nlen, "scope"))
			slot = &out->scope;
		else if (span_ieq(s + nstart, nlen, "error"))
			slot = &out->error;
		if (slot != NULL && *slot == NULL) {
			if (memchr(val.ptr, '\0', val.len) != NULL) {
				rc = err_set(err, ERR_INVALID,
				             "WWW-Authenticate: NUL byte in a "
				             "value");
				goto out;
			}
			*slot = buf_detach(&val);
			if (*slot == NULL) {
				rc = err_set(err, ERR_NOMEM, "out of memory");
				goto out;
			}
		}
	}
out:
	buf_release(&val);
	if (rc < 0)
		auth_challenge_release(out);
	return rc;
}

void
auth_token_release(struct auth_token *t)
{
	secret_release(&t->token);
	secret_release(&t->refresh);
	t->expires_at = 0;
}

int
auth_token_parse(struct auth_token *out, const char *body, size_t len,
                 time_t now, struct err *err)
{
	cJSON *root = NULL, *exp;
	const char *tok, *issued, *refresh;
	long long expires_in = AUTH_MIN_EXPIRES;
	int64_t issued_at = (int64_t)now;
	int rc;

	*out = (struct auth_token)AUTH_TOKEN_INIT;
	if ((rc = json_parse(&root, body, len, "token response", err)) < 0)
		return rc;
	/* distribution prefers access_token when both are present */
	tok = json_get_string(root, "access_token");
	if (tok == NULL || tok[0] == '\0')
		tok = json_get_string(root, "token");
	if (tok == NULL || tok[0] == '\0') {
		rc = err_set(err, ERR_INVALID,
		             "token response has no \"token\" or "
		             "\"access_token\"");
		goto out;
	}
	if (strlen(tok) > AUTH_MAX_TOKEN) {
		rc = err_set(err, ERR_INVALID, "token is longer than %d bytes",
		             AUTH_MAX_TOKEN);
		goto out;
	}
	exp = cJSON_GetObjectItemCaseSensitive(root, "expires_in");
	if (cJSON_IsNumber(exp) && exp->valuedouble > 0 &&
	    exp->valuedouble < 1e9)
		expires_in = (long long)exp->valuedouble;
	if (expires_in < AUTH_MIN_EXPIRES)
		expires_in = AUTH_MIN_EXPIRES;
	issued = json_get_string(root, "issued_at");
	if (issued != NULL &&
	    rfc3339_parse(&issued_at, NULL, issued, strlen(issued), NULL) < 0)
		issued_at = (int64_t)now;
	/* a clock far off on either side should not make tokens immortal */
	if (issued_at > (int64_t)now + 300 || issued_at < (int64_t)now - 86400)
		issued_at = (int64_t)now;
	if ((rc = secret_set(&out->token, tok, strlen(tok))) < 0) {
		rc = err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	refresh = json_get_string(root, "refresh_token");
	if (refresh != NULL && refresh[0] != '\0' &&
	    secret_set(&out->refresh, refresh, strlen(refresh)) < 0) {
		rc = err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	out->expires_at = (time_t)(issued_at + expires_in);
out:
	cJSON_Delete(root);
	if (rc < 0)
		auth_token_release(out);
	return rc;
}

void
auth_cred_release(struct auth_cred *c)
{
	free(c->username);
	secret_release(&c->password);
	secret_release(&c->identity_token);
	secret_release(&c->registry_token);
	*c = (struct auth_cred)AUTH_CRED_INIT;
}

bool
auth_cred_empty(const struct auth_cred *c)
{
	return c->username == NULL && c->password.len == 0 &&
	       c->identity_token.len == 0 && c->registry_token.len == 0;
}

int
auth_cred_copy(struct auth_cred *dst, const struct auth_cred *src,
               struct err *err)
{
	*dst = (struct auth_cred)AUTH_CRED_INIT;
	if ((src->username && !(dst->username = strdup(src->username))) ||
	    (src->password.len && secret_set(&dst->password, src->password.ptr,
	                                     src->password.len) < 0) ||
	    (src->identity_token.len &&
	     secret_set(&dst->identity_token, src->identity_token.ptr,
	                src->identity_token.len) < 0) ||
	    (src->registry_token.len &&
	     secret_set(&dst->registry_token, src->registry_token.ptr,
	                src->registry_token.len) < 0)) {
		auth_cred_release(dst);
		return err_set(err, ERR_NOMEM, "out of memory");
	}
	return 0;
}

static void
hash_part(crypto_generichash_state *st, const void *p, size_t len)
{
	unsigned char n[8];
	size_t i;

	for (i = 0; i < 8; i++)
		n[i] = (unsigned char)(len >> (8 * i));
	crypto_generichash_update(st, n, sizeof(n));
	if (len)
		crypto_generichash_update(st, p, len);
}

void
auth_cred_identity(char out[65], const struct auth_cred *c)
{
	crypto_generichash_state st;
	unsigned char h[16];
	const char *u = c->username ? c->username : "";

	if (auth_cred_empty(c)) {
		memcpy(out, "anon", 5);
		return;
	}
	crypto_generichash_init(&st, NULL, 0, sizeof(h));
	hash_part(&st, u, strlen(u));
	hash_part(&st, c->password.ptr, c->password.len);
	hash_part(&st, c->identity_token.ptr, c->identity_token.len);
	hash_part(&st, c->registry_token.ptr, c->registry_token.len);
	crypto_generichash_final(&st, h, sizeof(h));
	sodium_bin2hex(out, 65, h, sizeof(h));
	sodium_memzero(&st, sizeof(st));
}

const char *
auth_config_key(const char *domain)
{
	if (strcmp(domain, "docker.io") == 0 ||
	    strcmp(domain, "index.docker.io") == 0 ||
	    strcmp(domain, "registry-1.docker.io") == 0)
		return AUTH_DOCKER_HUB_KEY;
	return domain;
}

/* ConvertToHostname: strip the scheme, cut at the first '/'. */
static void
key_hostname(struct buf *out, const char *key)
{
	const char *p = key, *slash;

	if (strncmp(p, "http://", 7) == 0)
		p += 7;
	else if (strncmp(p, "https://", 8) == 0)
		p += 8;
	slash = strchr(p, '/');
	buf_add(out, p, slash ? (size_t)(slash - p) : strlen(p));
}

static bool
is_hub(const char *host)
{
	return strcmp(host, "docker.io") == 0 ||
	       strcmp(host, "index.docker.io") == 0 ||
	       strcmp(host, "registry-1.docker.io") == 0;
}

static int
decode_entry(struct auth_cred *out, const cJSON *e, const char *key,
             struct err *err)
{
	const char *a, *u, *p, *it, *rt;
	struct buf dec = BUF_INIT;
	char *colon;
	size_t plen;
	int rc = 0;

	a = json_get_string(e, "auth");
	u = json_get_string(e, "username");
	p = json_get_string(e, "password");
	it = json_get_string(e, "identitytoken");
	rt = json_get_string(e, "registrytoken");
	if (a != NULL && a[0] != '\0') {
		if (base64_decode(&dec, a, strlen(a), err) < 0) {
			rc = err_prefix(err, "docker config: auths['%s'].auth",
			                key);
			goto out;
		}
		colon = memchr(dec.ptr, ':', dec.len);
		if (colon == NULL || colon == dec.ptr) {
			rc = err_set(err, ERR_INVALID,
			             "docker config: auths['%s'].auth is not "
			             "base64 of 'user:password'",
			             key);
			goto out;
		}
		out->username = strndup(dec.ptr, (size_t)(colon - dec.ptr));
		plen = dec.len - (size_t)(colon + 1 - dec.ptr);
		/* Docker trims NUL characters from the password */
		while (plen > 0 && colon[plen] == '\0')
			plen--;
		if (out->username == NULL ||
		    secret_set(&out->password, colon + 1, plen) < 0)
			goto nomem;
	} else if (u != NULL && u[0] != '\0' && p != NULL) {
		out->username = strdup(u);
		if (out->username == NULL ||
		    secret_set(&out->password, p, strlen(p)) < 0)
			goto nomem;
	}
	if (it != NULL && it[0] != '\0' &&
	    secret_set(&out->identity_token, it, strlen(it)) < 0)
		goto nomem;
	if (rt != NULL && rt[0] != '\0' &&
	    secret_set(&out->registry_token, rt, strlen(rt)) < 0)
		goto nomem;
	goto out;
nomem:
	rc = err_set(err, ERR_NOMEM, "out of memory");
out:
	secret_wipe(dec.ptr, dec.len);
	buf_release(&dec);
	if (rc < 0)
		auth_cred_release(out);
	return rc;
}

int
auth_dockerconfig_lookup(struct auth_cred *out, char **helper_out,
                         const char *json, size_t len, const char *domain,
                         struct err *err)
{
	cJSON *root = NULL, *auths, *helpers, *e, *found = NULL;
	const char *key = auth_config_key(domain), *store, *h;
	struct buf host = BUF_INIT;
	int rc = 0;

	*out = (struct auth_cred)AUTH_CRED_INIT;
	*helper_out = NULL;
	if ((rc = json_parse(&root, json, len, "docker config", err)) < 0)
		return rc;
	if (!cJSON_IsObject(root)) {
		rc = err_set(err, ERR_INVALID,
		             "docker config: not a JSON object");
		goto out;
	}
	helpers = cJSON_GetObjectItemCaseSensitive(root, "credHelpers");
	h = json_get_string(helpers, key);
	if (h == NULL)
		h = json_get_string(helpers, domain);
	if (h != NULL && h[0] != '\0')
		goto helper;
	auths = cJSON_GetObjectItemCaseSensitive(root, "auths");
	found = cJSON_GetObjectItemCaseSensitive(auths, key);
	if (found == NULL && cJSON_IsObject(auths)) {
		cJSON_ArrayForEach(e, auths)
		{
			buf_reset(&host);
			key_hostname(&host, e->string ? e->string : "");
			if (!buf_ok(&host)) {
				rc = err_set(err, ERR_NOMEM, "out of memory");
				goto out;
			}
			if (strcmp(host.ptr, domain) == 0 ||
			    (is_hub(domain) && is_hub(host.ptr))) {
				found = e;
				break;
			}
		}
	}
	if (cJSON_IsObject(found)) {
		if ((rc = decode_entry(out, found, found->string, err)) < 0)
			goto out;
		if (!auth_cred_empty(out))
			goto out;
	}
	store = json_get_string(root, "credsStore");
	if (store != NULL && store[0] != '\0') {
		h = store;
		goto helper;
	}
	rc = -ERR_NOTFOUND;
	goto out;
helper:
	/* the suffix becomes part of a program name: keep it plain */
	for (store = h; *store; store++)
		if (!((*store >= 'a' && *store <= 'z') ||
		      (*store >= 'A' && *store <= 'Z') ||
		      (*store >= '0' && *store <= '9') || *store == '-' ||
		      *store == '_' || *store == '.')) {
			rc = err_set(
			        err, ERR_INVALID,
			        "docker config: credential helper name '%s' "
			        "has characters outside [A-Za-z0-9._-]",
			        h);
			goto out;
		}
	*helper_out = strdup(h);
	if (*helper_out == NULL)
		rc = err_set(err, ERR_NOMEM, "out of memory");
out:
	buf_release(&host);
	cJSON_Delete(root);
	return rc;
}

int
auth_helper_get(struct auth_cred *out, const char *helper, const char *domain,
                struct err *err)
{
	struct proc_io io = PROC_IO_INIT;
	struct buf prog = BUF_INIT, output = BUF_INIT, input = BUF_INIT;
	const char *argv[3];
	cJSON *root = NULL;
	const char *user, *sec;
	int status = 0, rc = 0;

	*out = (struct auth_cred)AUTH_CRED_INIT;
	buf_addf(&prog, "docker-credential-%s", helper);
	buf_addf(&input, "%s\n", auth_config_key(domain));
	if (!buf_ok(&prog) || !buf_ok(&input)) {
		rc = err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	output.max = AUTH_HELPER_MAX_OUTPUT;
	io.in = input.ptr;
	io.in_len = input.len;
	io.out = &output;
	io.timeout_ms = AUTH_HELPER_TIMEOUT_MS;
	argv[0] = prog.ptr;
	argv[1] = "get";
	argv[2] = NULL;
	if ((rc = proc_run(argv, &io, &status, err)) < 0) {
		rc = err_prefix(err, "credential helper '%s'", prog.ptr);
		if (rc == -ERR_NOTFOUND)
			rc = err_set(
			        err, ERR_AUTH,
			        "cannot run credential helper '%s': not found",
			        prog.ptr);
		goto out;
	}
	while (output.len > 0 && (output.ptr[output.len - 1] == '\n' ||
	                          output.ptr[output.len - 1] == '\r'))
		buf_truncate(&output, output.len - 1);
	if (status != 0) {
		if (strstr(output.ptr, "credentials not found") != NULL)
			rc = err_set(
			        err, ERR_NOTFOUND,
			        "credential helper '%s' has no credentials for "
			        "'%s'",
			        prog.ptr, domain);
		else
			rc = err_set(err, ERR_AUTH,
			             "credential helper '%s' failed (exit %d): "
			             "%.200s",
			             prog.ptr, status, output.ptr);
		goto out;
	}
	if ((rc = json_parse(&root, output.ptr, output.len,
	                     "credential helper output", err)) < 0)
		goto out;
	user = json_get_string(root, "Username");
	sec = json_get_string(root, "Secret");
	if (sec == NULL || sec[0] == '\0') {
		rc = err_set(err, ERR_AUTH,
		             "credential helper '%s' returned no Secret",
		             prog.ptr);
		goto out;
	}
	if (user != NULL && strcmp(user, "<token>") == 0)
		rc = secret_set(&out->identity_token, sec, strlen(sec));
	else if (user != NULL && user[0] != '\0') {
		out->username = strdup(user);
		rc = out->username
		             ? secret_set(&out->password, sec, strlen(sec))
		             : -1;
	} else
		rc = secret_set(&out->registry_token, sec, strlen(sec));
	if (rc < 0)
		rc = err_set(err, ERR_NOMEM, "out of memory");
out:
	if (root != NULL) {
		cJSON *s = cJSON_GetObjectItemCaseSensitive(root, "Secret");
		if (cJSON_IsString(s) && s->valuestring)
			secret_wipe(s->valuestring, strlen(s->valuestring));
	}
	cJSON_Delete(root);
	secret_wipe(output.ptr, output.len);
	buf_release(&output);
	buf_release(&prog);
	buf_release(&input);
	if (rc < 0)
		auth_cred_release(out);
	return rc;
}

struct cache_entry {
	char *key;
	struct secret token;
	time_t expires_at;
};

struct auth_cache {
	struct cache_entry *e;
	size_t n, cap;
};

int
auth_cache_new(struct auth_cache **out, struct err *err)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : err_set(err, ERR_NOMEM, "out of memory");
}

static void
entry_release(struct cache_entry *e)
{
	free(e->key);
	secret_release(&e->token);
}

void
auth_cache_free(struct auth_cache *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->n; i++)
		entry_release(&c->e[i]);
	free(c->e);
	free(c);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
auth_cache_key(struct buf *out, const char *realm, const char *service,
               const char *scopes, const struct auth_cred *cred)
{
	char *copy = NULL, *p, *save = NULL, **v = NULL;
	size_t n = 0, i;
	char id[65];

	buf_addf(out, "%s\n%s\n", realm ? realm : "", service ? service : "");
	if (scopes != NULL && (copy = strdup(scopes)) != NULL) {
		v = calloc(strlen(copy) / 2 + 2, sizeof(*v));
		if (v != NULL) {
			for (p = strtok_r(copy, " ", &save); p;
			     p = strtok_r(NULL, " ", &save))
				v[n++] = p;
			qsort(v, n, sizeof(*v), cmp_str);
			for (i = 0; i < n; i++)
				if (i == 0 || strcmp(v[i], v[i - 1]) != 0)
					buf_addf(out, "%s ", v[i]);
		} else
			out->failed = true;
	} else if (scopes != NULL)
		out->failed = true;
	auth_cred_identity(id, cred);
	buf_addf(out, "\n%s", id);
	free(v);
	free(copy);
	return buf_ok(out) ? 0 : -ERR_NOMEM;
}

const struct secret *
auth_cache_get(struct auth_cache *c, const char *key, time_t now)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		if (strcmp(c->e[i].key, key) == 0)
			return c->e[i].expires_at > now ? &c->e[i].token : NULL;
	return NULL;
}

void
auth_cache_drop(struct auth_cache *c, const char *key)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		if (strcmp(c->e[i].key, key) == 0) {
			entry_release(&c->e[i]);
			memmove(&c->e[i], &c->e[i + 1],
			        (c->n - i - 1) * sizeof(*c->e));
			c->n--;
			return;
		}
}

int
auth_cache_put(struct auth_cache *c, const char *key,
               const struct secret *token, time_t expires_at, struct err *err)
{
	struct cache_entry ne = { NULL, SECRET_INIT, 0 };

	auth_cache_drop(c, key);
	if (c->n == AUTH_CACHE_MAX) {
		entry_release(&c->e[0]);
		memmove(&c->e[0], &c->e[1], (c->n - 1) * sizeof(*c->e));
		c->n--;
	}
	if (c->n == c->cap) {
		size_t ncap = c->cap ? c->cap * 2 : 8;
		struct cache_entry *p = reallocarray(c->e, ncap, sizeof(*p));
		if (p == NULL)
			return err_set(err, ERR_NOMEM, "out of memory");
		c->e = p;
		c->cap = ncap;
	}
	ne.key = strdup(key);
	if (ne.key == NULL ||
	    secret_set(&ne.token, token->ptr, token->len) < 0) {
		entry_release(&ne);
		return err_set(err, ERR_NOMEM, "out of memory");
	}
	ne.expires_at = expires_at - AUTH_EXPIRY_MARGIN;
	c->e[c->n++] = ne;
	return 0;
}
