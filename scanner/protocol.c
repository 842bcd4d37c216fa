/*
 * protocol.c - small parsers for what registries send back besides the
 * bodies we keep: Link headers (paging), tag lists, manifests, image
 * indexes and config blobs, Retry-After, rate-limit headers and error
 * bodies.  No network I/O here, and no digest checks (registry.c hashes
 * a body before it hands it over).
 */
#include "protocol.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "base/imageref.h"
#include "base/json.h"
#include "base/rfc3339.h"

static bool
is_ows(char c)
{
	return c == ' ' || c == '\t';
}

bool
protocol_tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static char
lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static bool
span_ieq(const char *s, size_t len, const char *word)
{
	size_t i;

	if (strlen(word) != len)
		return false;
	for (i = 0; i < len; i++)
		if (lower(s[i]) != word[i])
			return false;
	return true;
}

/* true when the space-separated relation list v[0..len) holds "next" */
static bool
rel_has_next(const char *v, size_t len)
{
	size_t i = 0, start;

	while (i < len) {
		while (i < len && is_ows(v[i]))
			i++;
		start = i;
		while (i < len && !is_ows(v[i]))
			i++;
		if (span_ieq(v + start, i - start, "next"))
			return true;
	}
	return false;
}

int
protocol_link_next(struct buf *url_out, const char *s, size_t len,
                   struct err *err)
{
	size_t i = 0, ustart, uend, nstart, nlen, vstart, vlen;
	bool next;
	struct buf val = BUF_INIT;
	int rc = 0;

	if (len > PROTOCOL_MAX_LINK)
		return err_set(err, ERR_INVALID,
		               "Link header is longer than %d bytes",
		               PROTOCOL_MAX_LINK);
	for (;;) {
		while (i < len && (is_ows(s[i]) || s[i] == ','))
			i++;
		if (i == len)
			break;
		if (s[i] != '<') {
			rc = err_set(err, ERR_INVALID,
			             "Link header: expected '<' at offset %zu",
			             i);
			goto out;
		}
		ustart = ++i;
		while (i < len && s[i] != '>')
			i++;
		if (i == len) {
			rc = err_set(err, ERR_INVALID,
			             "Link header: unterminated '<'");
			goto out;
		}
		uend = i++;
		next = false;
		for (;;) {
			while (i < len && is_ows(s[i]))
				i++;
			if (i == len || s[i] == ',')
				break;
			if (s[i] != ';') {
				rc = err_set(
				        err, ERR_INVALID,
				        "Link header: expected ';' or ',' at "
				        "offset %zu",
				        i);
				goto out;
			}
			i++;
			while (i < len && is_ows(s[i]))
				i++;
			nstart = i;
			while (i < len && protocol_tchar(s[i]))
				i++;
			nlen = i - nstart;
			if (nlen == 0) {
				rc = err_set(
				        err, ERR_INVALID,
				        "Link header: expected a parameter "
				        "name at offset %zu",
				        i);
				goto out;
			}
			while (i < len && is_ows(s[i]))
				i++;
			buf_reset(&val);
			if (i < len && s[i] == '=') {
				i++;
				while (i < len && is_ows(s[i]))
					i++;
				if (i < len && s[i] == '"') {
					for (i++; i < len && s[i] != '"'; i++) {
						if (s[i] == '\\' && i + 1 < len)
							i++;
						buf_putc(&val, s[i]);
					}
					if (i == len) {
						rc = err_set(
						        err, ERR_INVALID,
						        "Link header: "
						        "unterminated quoted "
						        "string");
						goto out;
					}
					i++;
				} else {
					vstart = i;
					while (i < len && protocol_tchar(s[i]))
						i++;
					vlen = i - vstart;
					buf_add(&val, s + vstart, vlen);
				}
			}
			if (!buf_ok(&val)) {
				rc = err_set(err, ERR_NOMEM, "out of memory");
				goto out;
			}
			if (span_ieq(s + nstart, nlen, "rel") &&
			    rel_has_next(val.ptr, val.len))
				next = true;
		}
		if (next) {
			if (uend == ustart) {
				rc = err_set(err, ERR_INVALID,
				             "Link header: empty next link");
				goto out;
			}
			if (buf_add(url_out, s + ustart, uend - ustart) < 0)
				rc = err_set(err, ERR_NOMEM, "out of memory");
			else
				rc = 1;
			goto out;
		}
	}
out:
	buf_release(&val);
	return rc;
}

int
protocol_tags_parse(const char *body, size_t len, size_t max,
                    int (*add)(const char *tag, size_t len, void *payload),
                    void *payload, struct err *err)
{
	cJSON *root = NULL, *tags, *t;
	size_t n = 0;
	int rc;

	if ((rc = json_parse(&root, body, len, "tag list", err)) < 0)
		return rc;
	if (!cJSON_IsObject(root)) {
		rc = err_set(err, ERR_INVALID, "tag list: not a JSON object");
		goto out;
	}
	tags = cJSON_GetObjectItemCaseSensitive(root, "tags");
	if (tags == NULL) {
		rc = err_set(err, ERR_INVALID, "tag list: no \"tags\" field");
		goto out;
	}
	if (cJSON_IsNull(tags))
		goto out;
	if (!cJSON_IsArray(tags)) {
		rc = err_set(err, ERR_INVALID,
		             "tag list: \"tags\" is not an array");
		goto out;
	}
	cJSON_ArrayForEach(t, tags)
	{
		if (!cJSON_IsString(t) || t->valuestring == NULL) {
			rc = err_set(err, ERR_INVALID,
			             "tag list: entry %zu is not a string", n);
			goto out;
		}
		if (++n > max) {
			rc = err_set(err, ERR_NOMEM,
			             "tag list has more than %zu entries", max);
			goto out;
		}
		if ((rc = add(t->valuestring, strlen(t->valuestring),
		              payload)) < 0)
			goto out;
	}
out:
	cJSON_Delete(root);
	return rc;
}

/* ---- manifests, indexes, config blobs ---- */

static bool
is_index_type(const char *mt)
{
	return strcmp(mt, "application/vnd.oci.image.index.v1+json") == 0 ||
	       strcmp(mt,
	              "application/vnd.docker.distribution.manifest.list.v2+json") ==
	               0;
}

static bool
is_manifest_type(const char *mt)
{
	return strcmp(mt, "application/vnd.oci.image.manifest.v1+json") == 0 ||
	       strcmp(mt,
	              "application/vnd.docker.distribution.manifest.v2+json") ==
	               0;
}

/* Appends "os/arch[/variant]" of a platform object or image config to out
 * (variant only when with_variant and it is not empty); false when os or
 * architecture is missing. */
static bool
platform_of(struct buf *out, const cJSON *obj, bool with_variant)
{
	const char *os = json_get_string(obj, "os");
	const char *arch = json_get_string(obj, "architecture");
	const char *var = json_get_string(obj, "variant");

	if (os == NULL || arch == NULL)
		return false;
	buf_addf(out, "%s/%s", os, arch);
	if (with_variant && var != NULL && var[0] != '\0')
		buf_addf(out, "/%s", var);
	return true;
}

/* "os/arch" or "os/arch/variant" of a descriptor's platform is want */
static bool
platform_matches(const cJSON *plat, const char *want, struct buf *tmp)
{
	buf_reset(tmp);
	if (!platform_of(tmp, plat, false))
		return false;
	if (buf_ok(tmp) && strcmp(tmp->ptr, want) == 0)
		return true;
	buf_reset(tmp);
	platform_of(tmp, plat, true);
	return buf_ok(tmp) && strcmp(tmp->ptr, want) == 0;
}

static int
set_digest(struct protocol_manifest *out, const char *d, const char *what,
           struct err *err)
{
	if (d == NULL || !imageref_digest_valid(d, strlen(d)))
		return err_set(err, ERR_INVALID, "%s", what);
	out->digest = strdup(d);
	return out->digest ? 0 : err_set(err, ERR_NOMEM, "out of memory");
}

void
protocol_manifest_release(struct protocol_manifest *m)
{
	free(m->digest);
	*m = (struct protocol_manifest)PROTOCOL_MANIFEST_INIT;
}

int
protocol_manifest_parse(struct protocol_manifest *out, const char *body,
                        size_t len, const char *ctype, size_t ctype_len,
                        const char *platform, bool index_ok, struct err *err)
{
	cJSON *root = NULL, *m;
	struct buf ct = BUF_INIT, tmp = BUF_INIT;
	const char *mt;
	size_t n = 0;
	int rc;

	*out = (struct protocol_manifest)PROTOCOL_MANIFEST_INIT;
	if ((rc = json_parse(&root, body, len, "manifest", err)) < 0)
		return rc;
	/* the media type without parameters or trailing blanks */
	while (n < ctype_len && ctype[n] != ';' && ctype[n] != ' ')
		n++;
	if (buf_add(&ct, ctype, n) < 0) {
		rc = err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	mt = json_get_string(root, "mediaType");
	if (mt != NULL && ct.len > 0 && strcmp(mt, ct.ptr) != 0) {
		rc = err_set(err, ERR_INVALID,
		             "mediaType '%.100s' differs from Content-Type "
		             "'%.100s'",
		             mt, ct.ptr);
		goto out;
	}
	if (mt == NULL)
		mt = ct.ptr;
	if (index_ok && is_index_type(mt)) {
		out->kind = PROTOCOL_MANIFEST_INDEX;
		cJSON_ArrayForEach(
		        m, cJSON_GetObjectItemCaseSensitive(root, "manifests"))
		{
			const cJSON *ann = cJSON_GetObjectItemCaseSensitive(
			        m, "annotations");
			const char *rt = json_get_string(
			        ann, "vnd.docker.reference.type");

			if (rt != NULL &&
			    strcmp(rt, "attestation-manifest") == 0)
				continue;
			if (platform_matches(cJSON_GetObjectItemCaseSensitive(
			                             m, "platform"),
			                     platform, &tmp)) {
				/* the first match decides; without a digest
				 * the platform has no manifest */
				const char *d = json_get_string(m, "digest");

				if (d != NULL)
					rc = set_digest(out, d,
					                "index: invalid digest "
					                "for the platform",
					                err);
				goto out;
			}
		}
		goto out;
	}
	if (!is_manifest_type(mt)) {
		rc = err_set(err, ERR_INVALID,
		             "unsupported media type '%.100s'", mt);
		goto out;
	}
	out->kind = PROTOCOL_MANIFEST_IMAGE;
	rc = set_digest(out,
	                json_get_string(cJSON_GetObjectItemCaseSensitive(
	                                        root, "config"),
	                                "digest"),
	                "no valid config digest", err);
out:
	buf_release(&ct);
	buf_release(&tmp);
	cJSON_Delete(root);
	if (rc < 0)
		protocol_manifest_release(out);
	return rc;
}

void
protocol_config_release(struct protocol_config *c)
{
	free(c->created);
	free(c->platform);
	*c = (struct protocol_config)PROTOCOL_CONFIG_INIT;
}

int
protocol_config_parse(struct protocol_config *out, const char *body, size_t len,
                      struct err *err)
{
	cJSON *root = NULL;
	struct buf plat = BUF_INIT;
	const char *created;
	int rc;

	*out = (struct protocol_config)PROTOCOL_CONFIG_INIT;
	if ((rc = json_parse(&root, body, len, "image config", err)) < 0)
		return rc;
	/* any JSON will do: what is missing is simply unknown */
	created = json_get_string(root, "created");
	if (created != NULL) {
		if (rfc3339_parse(&out->created_unix, NULL, created,
		                  strlen(created), NULL) < 0)
			out->created_unix = INT64_MIN;
		if ((out->created = strdup(created)) == NULL)
			goto nomem;
	}
	if (platform_of(&plat, root, true)) {
		if (!buf_ok(&plat) ||
		    (out->platform = buf_detach(&plat)) == NULL)
			goto nomem;
	}
	goto out;
nomem:
	rc = err_set(err, ERR_NOMEM, "out of memory");
out:
	buf_release(&plat);
	cJSON_Delete(root);
	if (rc < 0)
		protocol_config_release(out);
	return rc;
}

int
protocol_retry_after(long long *secs_out, const char *s, size_t len, time_t now)
{
	char tmp[128];
	size_t i;
	long long v = 0;
	time_t t;

	while (len > 0 && is_ows(s[len - 1]))
		len--;
	while (len > 0 && is_ows(*s)) {
		s++;
		len--;
	}
	if (len == 0 || len >= sizeof(tmp))
		return -ERR_INVALID;
	for (i = 0; i < len && s[i] >= '0' && s[i] <= '9'; i++)
		;
	if (i == len) {
		if (len > 9)
			v = 999999999;
		else
			for (i = 0; i < len; i++)
				v = v * 10 + (s[i] - '0');
		*secs_out = v;
		return 0;
	}
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	t = curl_getdate(tmp, NULL);
	if (t == -1)
		return -ERR_INVALID;
	*secs_out = t > now ? (long long)(t - now) : 0;
	return 0;
}

int
protocol_ratelimit(long long *out, const char *s, size_t len)
{
	size_t i = 0;
	long long v = 0;

	while (i < len && is_ows(s[i]))
		i++;
	if (i == len || s[i] < '0' || s[i] > '9')
		return -ERR_INVALID;
	for (; i < len && s[i] >= '0' && s[i] <= '9'; i++)
		if (v < 1000000000)
			v = v * 10 + (s[i] - '0');
	*out = v;
	return 0;
}

void
protocol_error_describe(struct buf *out, const char *body, size_t len)
{
	cJSON *root = NULL, *errs, *e;
	const char *code, *msg;
	struct err ignored = ERR_INIT;

	if (len == 0 || json_parse(&root, body, len, "error", &ignored) < 0)
		return;
	errs = cJSON_GetObjectItemCaseSensitive(root, "errors");
	e = cJSON_IsArray(errs) ? cJSON_GetArrayItem(errs, 0) : NULL;
	if (cJSON_IsObject(e)) {
		code = json_get_string(e, "code");
		msg = json_get_string(e, "message");
		if (code != NULL)
			buf_addf(out, "%.64s", code);
		if (msg != NULL)
			buf_addf(out, "%s%.200s", code ? ": " : "", msg);
	}
	cJSON_Delete(root);
}
